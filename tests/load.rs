//! `familybridge load` holds each service under concurrent clients and every call is answered: a
//! row per service, each with calls made and no errors. (Its figures are the README's, measured
//! with the release build; here only that the measurement works and sees no errors.)

use std::process::Command;

#[test]
fn each_service_answers_every_call_under_concurrent_clients() {
    let output = Command::new(env!("CARGO_BIN_EXE_familybridge"))
        .args(["load", "--clients", "4", "--seconds", "1"])
        .output()
        .expect("run familybridge load");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "familybridge load failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for service in ["court-registry", "cms-calculation", "referral-hub"] {
        let row = stdout
            .lines()
            .find(|line| line.starts_with(service))
            .unwrap_or_else(|| panic!("no row for {service}:\n{stdout}"));
        let columns: Vec<&str> = row.split_whitespace().collect();
        let calls: u64 = columns[columns.len() - 5]
            .parse()
            .expect("a count of calls");
        let errors = columns[columns.len() - 1];
        assert!(calls > 0, "{service} answered no calls: {row}");
        assert_eq!(errors, "0", "{service} had errors: {row}");
    }
}
