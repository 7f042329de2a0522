//! What the end-to-end tests share: `familybridge up` started on free ports and stopped as Ctrl-C
//! would, and `familybridge run` into a folder of its own.

#![allow(dead_code)] // Each test binary uses the helpers it needs.

pub mod raw;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// Starts `familybridge up` on free ports with its data in `data_dir` and `extra_args`, and returns the process with
/// the three addresses it reports once every service says SERVING.
pub fn start_up(data_dir: &std::path::Path, extra_args: &[&str]) -> (Child, Vec<String>) {
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
        .args(extra_args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start familybridge up");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut addresses = Vec::new();
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref() {
        let line = line.expect("read familybridge's output");
        // Plaintext or, with --tls-dir, mutual TLS.
        if let Some(address) = line.split_whitespace().find_map(|word| {
            word.strip_prefix("http://")
                .or_else(|| word.strip_prefix("https://"))
        }) {
            addresses.push(address.to_owned());
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

/// Stops a running `familybridge up` as Ctrl-C would.
pub fn interrupt(child: &Child) {
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
}

/// Every file a run writes.
pub const OUTPUTS: &[&str] = &[
    "summary.json",
    "metrics.csv",
    "timeseries.csv",
    "report.html",
];

/// The files whose bytes are the run's results (the report renders them).
pub const RESULTS: &[&str] = &["summary.json", "metrics.csv", "timeseries.csv"];

/// Asserts that each file `names` is byte-identical in the output folders `a` and `b`, saying which
/// differs `between` what.
pub fn assert_same_outputs(a: &Path, b: &Path, names: &[&str], between: &str) {
    for name in names {
        assert!(
            read(a, name) == read(b, name),
            "{name} differs between {between}"
        );
    }
}

/// The shipped scenario file `name` (e.g. "delayed-involvement.toml").
pub fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name)
}

/// Runs `familybridge run SCENARIO --out OUT ARGS…`, failing the test with its output if it fails;
/// returns what it printed.
pub fn run(scenario: &Path, out: &Path, args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_familybridge"))
        .arg("run")
        .arg(scenario)
        .arg("--out")
        .arg(out)
        .args(args)
        .output()
        .expect("run familybridge run");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "familybridge run {} failed:\n{stdout}\n{}",
        scenario.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// A file of a run's outputs.
pub fn read(out: &Path, name: &str) -> String {
    std::fs::read_to_string(out.join(name)).unwrap_or_else(|error| panic!("{name}: {error}"))
}
