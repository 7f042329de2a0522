//! `court-registry --probe`, the containers' health check, as a container runs it: the binary asks
//! the registry on its LISTEN_ADDR and answers with its exit code. (The probe itself is shared by
//! every service: crates/runtime/tests/probe.rs.)

use std::process::{Command, Output};
use std::time::Duration;

use familybridge_runtime::wait_until_serving;
use familybridge_testing::{GuardedProcess, TestDatabase};

fn probe(address: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_court-registry"))
        .arg("--probe")
        .env("LISTEN_ADDR", address)
        .output()
        .expect("run court-registry --probe")
}

#[tokio::test]
async fn the_probe_exits_zero_while_the_registry_serves_and_one_when_it_is_gone() {
    let address = {
        let free = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        free.local_addr().expect("an address").to_string()
    };
    let database = TestDatabase::sqlite();
    let registry = GuardedProcess::spawn(
        Command::new(env!("CARGO_BIN_EXE_court-registry"))
            .env("LISTEN_ADDR", &address)
            .env("DATABASE_URL", database.url().as_str())
            .env("RUST_LOG", "warn"),
    );
    wait_until_serving(&format!("http://{address}"), Duration::from_secs(30))
        .await
        .expect("the registry starts");

    let serving = probe(&address);
    let printed = String::from_utf8_lossy(&serving.stdout);
    assert!(serving.status.success(), "{serving:?}");
    assert!(
        printed.contains("court-registry at") && printed.contains("SERVING"),
        "{printed}"
    );

    registry.kill();
    let gone = probe(&address);
    let complaint = String::from_utf8_lossy(&gone.stderr);
    assert_eq!(gone.status.code(), Some(1), "{gone:?}");
    assert!(
        complaint.contains("court-registry is not serving"),
        "the failure names the service and why: {complaint}"
    );
}
