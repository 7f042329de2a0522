//! Real servers on port 0 for tests.

use std::future::Future;

use familybridge_runtime::WaitForCancellationFutureOwned;
use familybridge_runtime::{CallMetadata, CancellationToken, Identity, wait_until_serving};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// A channel whose calls say who is calling, without the retries of the services' own clients: a
/// test sees each answer as the server gave it.
pub type CallerChannel = InterceptedService<Channel, CallMetadata>;

/// A channel to `url` (connecting lazily) calling as `identity`.
pub fn channel_as(url: &str, identity: Identity) -> CallerChannel {
    let channel = Channel::from_shared(url.to_owned())
        .unwrap_or_else(|error| panic!("{url:?} is not a gRPC address: {error}"))
        .connect_lazy();
    InterceptedService::new(channel, CallMetadata::new(identity))
}

/// A gRPC server running in the test's runtime on a free loopback port.
pub struct TestServer {
    url: String,
    shutdown: CancellationToken,
    task: JoinHandle<()>,
}

impl TestServer {
    /// Binds a free loopback port, starts `serve` on it with a shutdown future, and waits until the
    /// server reports SERVING. `serve` is a service's own `serve` function, given its config.
    pub async fn start<F, Fut, E>(serve: F) -> Self
    where
        F: FnOnce(TcpListener, WaitForCancellationFutureOwned) -> Fut,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: std::fmt::Display + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let url = format!(
            "http://{}",
            listener
                .local_addr()
                .expect("a bound socket has an address")
        );
        let shutdown = CancellationToken::new();
        let serving = serve(listener, shutdown.clone().cancelled_owned());
        let task = tokio::spawn(async move {
            if let Err(error) = serving.await {
                panic!("the server under test failed: {error}");
            }
        });
        wait_until_serving(&url, std::time::Duration::from_secs(30))
            .await
            .unwrap_or_else(|error| panic!("the server under test never got ready: {error}"));
        Self {
            url,
            shutdown,
            task,
        }
    }

    /// The server's address, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A channel to the server calling as `identity`.
    pub fn channel_as(&self, identity: Identity) -> CallerChannel {
        channel_as(&self.url, identity)
    }

    /// Stops the server as a signal would, and waits until it has finished.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.task
            .await
            .expect("the server under test stopped cleanly");
    }
}
