//! Every familybridge server refuses a request over its size limit as RESOURCE_EXHAUSTED, and goes
//! on serving.

use familybridge_runtime::{GrpcHost, PROBE_TIMEOUT, check_serving};
use familybridge_testing::TestServer;
use tonic::Code;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ten_megabyte_request_is_resource_exhausted_and_the_server_stays_healthy() {
    let server = TestServer::start(|listener, shutdown| {
        GrpcHost::new("limits-test").serve(listener, shutdown)
    })
    .await;
    let channel = Channel::from_shared(server.url().to_owned())
        .expect("a URL")
        .connect()
        .await
        .expect("connect");
    let mut health = HealthClient::new(channel);
    let status = health
        .check(HealthCheckRequest {
            service: "x".repeat(10 * 1024 * 1024),
        })
        .await
        .expect_err("over the limit");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");

    // Other refusals keep their own status.
    let status = health
        .check(HealthCheckRequest {
            service: "no.such.Service".to_owned(),
        })
        .await
        .expect_err("an unknown service is not served");
    assert_eq!(status.code(), Code::NotFound);
    check_serving(server.url(), PROBE_TIMEOUT)
        .await
        .expect("still SERVING after the over-size request");
    server.stop().await;
}
