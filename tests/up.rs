//! `familybridge up` as a user runs it: the real binary, three services, a client in another
//! language, and Ctrl-C.

mod support;

use std::process::Command;

use support::{interrupt, start_up};

#[test]
fn a_python_client_lists_each_api_and_finds_every_service_serving() {
    let data = tempfile::tempdir().expect("a temporary data directory");
    let (mut child, addresses) = start_up(data.path(), &[]);

    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/interop/check_services.py"
    );
    let output = Command::new("python3")
        .arg(script)
        .args(&addresses)
        .output();
    interrupt(&child);
    let status = child.wait().expect("familybridge up exits");

    let output = output.expect("run python3");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the Python client failed (install its packages with \
         `pip install -r tests/interop/requirements.txt`):\n{stderr}"
    );
    let reports: Vec<&str> = std::str::from_utf8(&output.stdout)
        .expect("UTF-8")
        .lines()
        .collect();
    assert_eq!(reports.len(), 3, "{reports:?}");
    for report in &reports {
        assert!(report.contains(r#""health": "SERVING""#), "{report}");
        assert!(
            report.contains("familybridge.simulation.v1.Clock"),
            "{report}"
        );
        assert!(report.contains("grpc.health.v1.Health"), "{report}");
        assert!(
            report.contains("grpc.reflection.v1alpha.ServerReflection"),
            "{report}"
        );
    }

    assert!(
        status.success(),
        "Ctrl-C stops familybridge up cleanly: {status}"
    );
    for service in ["court-registry", "cms-calculation", "referral-hub"] {
        assert!(
            data.path().join(format!("{service}.db")).exists(),
            "{service}.db"
        );
    }
}

#[test]
fn a_port_in_use_stops_up_with_a_message_naming_it() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a port");
    let address = taken.local_addr().expect("an address").to_string();
    let data = tempfile::tempdir().expect("a temporary data directory");
    let output = Command::new(env!("CARGO_BIN_EXE_familybridge"))
        .args(["up", "--data-dir"])
        .arg(data.path())
        .args(["--court-registry-addr", &address])
        .args([
            "--cms-addr",
            "127.0.0.1:0",
            "--referral-hub-addr",
            "127.0.0.1:0",
        ])
        .output()
        .expect("run familybridge up");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("cannot listen on {address}")),
        "{stderr}"
    );
}
