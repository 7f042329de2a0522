//! `familybridge up` as a user runs it: the real binary, three services, a client in another
//! language, and Ctrl-C.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// Starts `familybridge up` on free ports with its data in `data_dir`, and returns the process with
/// the three addresses it reports once every service says SERVING.
fn start_up(data_dir: &std::path::Path) -> (Child, Vec<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_familybridge"))
        .args(["up", "--data-dir"])
        .arg(data_dir)
        .args([
            "--court-registry-addr",
            "127.0.0.1:0",
            "--cms-addr",
            "127.0.0.1:0",
            "--referral-hub-addr",
            "127.0.0.1:0",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start familybridge up");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut addresses = Vec::new();
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref() {
        let line = line.expect("read familybridge's output");
        if let Some(url) = line
            .split_whitespace()
            .find(|word| word.starts_with("http://"))
        {
            addresses.push(url.trim_start_matches("http://").to_owned());
        }
        if line.starts_with("Press Ctrl-C") {
            break;
        }
    }
    assert_eq!(
        addresses.len(),
        3,
        "familybridge up did not report three addresses"
    );
    // Keep reading, as a terminal would, so that what it prints on the way out has somewhere to go.
    std::thread::spawn(move || lines.for_each(drop));
    (child, addresses)
}

fn interrupt(child: &Child) {
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
}

#[test]
fn a_python_client_lists_each_api_and_finds_every_service_serving() {
    let data = tempfile::tempdir().expect("a temporary data directory");
    let (mut child, addresses) = start_up(data.path());

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
