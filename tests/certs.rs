//! `familybridge certs` as a deployment uses it: a folder of credentials for every identity, made
//! anew when asked, kept as they are with `--keep-existing` (what the compose file's one-shot
//! service does on every `up`, while running services hold the first set).

use std::path::Path;
use std::process::Command;

use familybridge_runtime::{Credentials, Identity};

fn certs(out: &Path, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_familybridge"))
        .arg("certs")
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .expect("run familybridge certs")
}

fn authority(out: &Path) -> Vec<u8> {
    std::fs::read(out.join("ca.pem")).expect("the authority's certificate")
}

#[test]
fn certs_makes_every_identity_anew_unless_told_to_keep_what_is_there() {
    let folder = tempfile::tempdir().expect("a folder");
    let out = folder.path().join("certs");
    assert!(certs(&out, &[]).status.success());
    for identity in Identity::ALL {
        let credentials = Credentials::from_folder(&out, identity).expect("readable credentials");
        assert_eq!(credentials.identity(), identity);
    }
    let first = authority(&out);

    let kept = certs(&out, &["--keep-existing"]);
    assert!(kept.status.success());
    assert_eq!(
        authority(&out),
        first,
        "--keep-existing keeps the authority"
    );

    assert!(certs(&out, &[]).status.success());
    assert_ne!(authority(&out), first, "without it, a new authority");

    // An incomplete set is not kept silently: it is refused, saying what is missing.
    std::fs::remove_file(out.join("auditor.key")).expect("remove a key");
    let refused = certs(&out, &["--keep-existing"]);
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("auditor.key"), "{said}");
}
