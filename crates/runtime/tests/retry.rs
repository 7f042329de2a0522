//! Calls through [`familybridge_runtime::TracedChannel`] survive a peer that is briefly not there:
//! a server that starts a moment after the call is made still answers it, and an answer that is not
//! worth retrying comes back as it was.

use std::time::Duration;

use familybridge_runtime::{CancellationToken, GrpcHost, Identity, traced};
use tonic::Code;
use tonic::transport::Endpoint;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_made_before_its_server_is_up_is_answered_once_it_is() {
    // A port that is free now: nothing listens until the server below starts on it.
    let vacant = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let address = vacant.local_addr().expect("its address");
    drop(vacant);
    let stop = CancellationToken::new();
    let server = {
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let listener = tokio::net::TcpListener::bind(address)
                .await
                .expect("bind the port again");
            GrpcHost::new("retry-test")
                .serve(listener, stop.cancelled_owned())
                .await
                .expect("the server runs");
        })
    };
    let channel = Endpoint::from_shared(format!("http://{address}"))
        .expect("a URL")
        .connect_lazy();
    let mut health = HealthClient::new(traced(channel, Identity::Simulation));

    let answer = health
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("answered once the server is up, though the first attempts were refused");
    assert_eq!(answer.into_inner().status, 1, "SERVING");

    // A refusal is an answer, not an outage: it comes back as it is.
    let status = health
        .check(HealthCheckRequest {
            service: "no.such.Service".to_owned(),
        })
        .await
        .expect_err("an unknown service is not served");
    assert_eq!(status.code(), Code::NotFound);

    stop.cancel();
    server.await.expect("the server stops");
}
