//! Waiting for a server to be ready, by asking it through `grpc.health.v1` as any client would.

use std::time::Duration;

use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

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

/// Polls the overall health of the gRPC server at `address` (e.g. `http://127.0.0.1:50051`) until it
/// reports SERVING, or `timeout` passes.
pub async fn wait_until_serving(address: &str, timeout: Duration) -> Result<(), NotReady> {
    let started = tokio::time::Instant::now();
    let mut last_seen = String::from("no answer");
    while started.elapsed() < timeout {
        let endpoint =
            tonic::transport::Endpoint::from_shared(address.to_owned()).map_err(|error| {
                NotReady {
                    address: address.to_owned(),
                    waited: Duration::ZERO,
                    last_seen: format!("not a valid address: {error}"),
                }
            })?;
        match endpoint.connect().await.map(HealthClient::new) {
            Ok(mut client) => match client.check(HealthCheckRequest::default()).await {
                Ok(response) if response.get_ref().status() == ServingStatus::Serving => {
                    return Ok(());
                }
                Ok(response) => last_seen = format!("{:?}", response.get_ref().status()),
                Err(status) => last_seen = status.to_string(),
            },
            Err(error) => last_seen = error.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(NotReady {
        address: address.to_owned(),
        waited: timeout,
        last_seen,
    })
}
