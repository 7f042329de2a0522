//! The health probe behind every service's `--probe` flag (the containers' health check), against a
//! real server on port 0: SERVING passes, a stopped server or one that never answers fails, and the
//! failure says what was seen.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use familybridge_runtime::{GrpcHost, PROBE_TIMEOUT, check_serving, probe, probe_address};
use familybridge_testing::TestServer;

fn socket_address(url: &str) -> SocketAddr {
    url.trim_start_matches("http://")
        .parse()
        .expect("a test server's URL is http://IP:PORT")
}

/// Runs the probe as the binary does: on a thread of its own, since it starts its own runtime.
async fn run_probe(address: SocketAddr) -> ExitCode {
    tokio::task::spawn_blocking(move || probe("test-service", address))
        .await
        .expect("the probe does not panic")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_probe_passes_while_the_server_serves_and_fails_once_it_has_stopped() {
    let server = TestServer::start(|listener, shutdown| {
        GrpcHost::new("probe-test").serve(listener, shutdown)
    })
    .await;
    let url = server.url().to_owned();
    let address = socket_address(&url);

    check_serving(&url, PROBE_TIMEOUT)
        .await
        .expect("a running server reports SERVING");
    assert_eq!(run_probe(address).await, ExitCode::SUCCESS);

    server.stop().await;
    let error = check_serving(&url, PROBE_TIMEOUT)
        .await
        .expect_err("a stopped server is not SERVING");
    assert!(
        error.last_seen.contains("refused"),
        "the failure says the connection was refused: {error}"
    );
    assert_eq!(run_probe(address).await, ExitCode::FAILURE);
}

#[tokio::test]
async fn a_listener_that_never_answers_fails_the_check_within_its_timeout() {
    // Accepts connections (the kernel completes the handshake) but never speaks HTTP/2.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let url = format!("http://{}", silent.local_addr().expect("an address"));
    let error = check_serving(&url, Duration::from_millis(300))
        .await
        .expect_err("no answer is not SERVING");
    assert_eq!(error.last_seen, "no answer", "{error}");
    drop(silent);
}

#[test]
fn a_service_listening_on_every_address_is_probed_on_loopback() {
    let cases = [
        ("0.0.0.0:50051", "127.0.0.1:50051"),
        ("[::]:50052", "[::1]:50052"),
        ("127.0.0.1:50053", "127.0.0.1:50053"),
        ("10.1.2.3:4317", "10.1.2.3:4317"),
    ];
    for (listen, probed) in cases {
        let listen: SocketAddr = listen.parse().expect("a test address");
        assert_eq!(
            probe_address(listen).to_string(),
            probed,
            "listening on {listen}"
        );
    }
}
