//! Asking a server whether it is ready, through `grpc.health.v1` as any client would: once
//! ([`check_serving`]), until it is ([`wait_until_serving`]), or as a container health check does,
//! from the service's own binary ([`probe`], behind every service's `--probe` flag).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use tonic::transport::Endpoint;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::Transport;

/// How long `--probe` waits for an answer: well inside the timeouts of docker-compose.yml's and the
/// Kubernetes manifests' health checks, so that a hung server is reported by the probe itself.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// The server did not report SERVING in time.
#[derive(Debug, thiserror::Error)]
#[error("{address} did not report SERVING within {waited:?} (last seen: {last_seen})")]
pub struct NotReady {
    /// The address asked.
    pub address: String,
    /// How long we waited.
    pub waited: Duration,
    /// The last answer or error.
    pub last_seen: String,
}

/// Asks the gRPC server at `address` (e.g. `http://127.0.0.1:50051`) once for its overall health,
/// waiting at most `timeout` for the connection and the answer; `Ok` only for SERVING.
pub async fn check_serving(address: &str, timeout: Duration) -> Result<(), NotReady> {
    let endpoint = endpoint(&Transport::Plaintext, address)?;
    ask(&endpoint, timeout).await.map_err(|last_seen| NotReady {
        address: address.to_owned(),
        waited: timeout,
        last_seen,
    })
}

/// Polls the overall health of the gRPC server at `address` (e.g. `http://127.0.0.1:50051`) until it
/// reports SERVING, or `timeout` passes.
pub async fn wait_until_serving(address: &str, timeout: Duration) -> Result<(), NotReady> {
    wait_until_serving_over(&Transport::Plaintext, address, timeout).await
}

/// [`wait_until_serving`] over `transport`: under mutual TLS, as its credentials' holder.
pub async fn wait_until_serving_over(
    transport: &Transport,
    address: &str,
    timeout: Duration,
) -> Result<(), NotReady> {
    let endpoint = endpoint(transport, address)?;
    let started = tokio::time::Instant::now();
    let mut last_seen = String::from("no answer");
    while let Some(left) = timeout
        .checked_sub(started.elapsed())
        .filter(|left| !left.is_zero())
    {
        match ask(&endpoint, left).await {
            Ok(()) => return Ok(()),
            Err(seen) => last_seen = seen,
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(NotReady {
        address: address.to_owned(),
        waited: timeout,
        last_seen,
    })
}

/// The endpoint for `address`, or why it is not one.
fn endpoint(transport: &Transport, address: &str) -> Result<Endpoint, NotReady> {
    transport.endpoint(address).map_err(|error| NotReady {
        address: address.to_owned(),
        waited: Duration::ZERO,
        last_seen: format!("not a valid address: {error}"),
    })
}

/// One health check within `timeout`: `Err` says what was seen instead of SERVING.
async fn ask(endpoint: &Endpoint, timeout: Duration) -> Result<(), String> {
    let asked = async {
        let mut client = endpoint
            .clone()
            .connect_timeout(timeout)
            .connect()
            .await
            .map(HealthClient::new)
            .map_err(|error| crate::error_chain(&error))?;
        let response = client
            .check(HealthCheckRequest::default())
            .await
            .map_err(|status| status.to_string())?;
        match response.get_ref().status() {
            ServingStatus::Serving => Ok(()),
            other => Err(format!("{other:?}")),
        }
    };
    tokio::time::timeout(timeout, asked)
        .await
        .unwrap_or_else(|_| Err("no answer".to_owned()))
}

/// The health check a container runs, from the service's own binary (`SERVICE --probe`): asks the
/// service listening on `listen` — on loopback when it listens on every address — once, prints
/// the answer and returns success only for SERVING. Needs nothing in the image but the binary.
pub fn probe(service: &str, listen: SocketAddr) -> ExitCode {
    let address = format!("http://{}", probe_address(listen));
    let checked = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| format!("cannot start the probe's runtime: {error}"))
        .and_then(|runtime| {
            runtime
                .block_on(check_serving(&address, PROBE_TIMEOUT))
                .map_err(|error| error.to_string())
        });
    match checked {
        Ok(()) => {
            println!("{service} at {address}: SERVING");
            ExitCode::SUCCESS
        }
        Err(reason) => {
            eprintln!("{service} is not serving: {reason}");
            ExitCode::FAILURE
        }
    }
}

/// Where to reach a server listening on `listen` from the same host: an unspecified address
/// (`0.0.0.0`, `::`) accepts connections on loopback.
pub fn probe_address(listen: SocketAddr) -> SocketAddr {
    match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), listen.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), listen.port())
        }
        _ => listen,
    }
}
