//! Command-line tools a test needs from the machine (podman, kubectl, …): found on the PATH, or the
//! test fails saying what to install. It never skips: a test that cannot run must not pass.

use std::path::PathBuf;
use std::process::{Command, Output};

/// The program `name` on the PATH. Panics, naming what it is needed for and how to install it, if it
/// is not there.
pub fn require_tool(name: &str, needed_for: &str, install: &str) -> PathBuf {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|folder| folder.join(name))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`{name}` is not installed, and {needed_for} needs it. Install it: {install} \
                 (.ci/run installs everything the tests need)"
            )
        })
}

/// Runs `command` to completion, failing the test with its exit status and output if it fails;
/// returns its standard output.
pub fn run_checked(command: &mut Command, doing: &str) -> String {
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("{doing}: cannot run {command:?}: {error}"));
    if !output.status.success() {
        panic!("{doing} failed ({}):\n{}", output.status, tail(&output, 80));
    }
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The last `lines` lines of a command's standard output and error, for failure messages.
pub fn tail(output: &Output, lines: usize) -> String {
    let last = |bytes: &[u8]| {
        let text = String::from_utf8_lossy(bytes);
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    };
    format!(
        "--- stdout (last {lines} lines)\n{}\n--- stderr (last {lines} lines)\n{}",
        last(&output.stdout),
        last(&output.stderr)
    )
}
