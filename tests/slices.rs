//! A run cut into slices (`familybridge run … --slice K/N`), as a Kubernetes Indexed Job's pods run
//! it, merged with `familybridge merge`: the same outputs, byte for byte, as one whole run with the
//! same seed.

mod support;

use std::process::Command;

use support::{OUTPUTS, assert_same_outputs, run, scenario};

/// Two arms × three replications: six units, cut into four slices (so slices hold one or two
/// units, and one holds units of both arms).
const SMALL: &[&str] = &["--families", "12", "--replications", "3", "--seed", "7"];

fn merge(slices: &[&std::path::Path], out: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_familybridge"))
        .arg("merge")
        .args(slices)
        .arg("--out")
        .arg(out)
        .output()
        .expect("run familybridge merge")
}

#[test]
fn slices_merge_to_the_outputs_of_one_whole_run() {
    let file = scenario("automatic-exchange.toml");
    let whole = tempfile::tempdir().expect("a folder");
    run(&file, whole.path(), SMALL);

    let slices: Vec<tempfile::TempDir> = (0..4)
        .map(|k| {
            let dir = tempfile::tempdir().expect("a folder");
            let slice = format!("{k}/4");
            let mut args = SMALL.to_vec();
            args.extend(["--slice", &slice]);
            let printed = run(&file, dir.path(), &args);
            assert!(printed.contains(&format!("slice {k}/4")), "{printed}");
            assert!(
                !dir.path().join("summary.json").exists(),
                "a slice writes its results for the merge, not a report of part of the run"
            );
            dir
        })
        .collect();
    let merged = tempfile::tempdir().expect("a folder");
    let paths: Vec<&std::path::Path> = slices.iter().map(|dir| dir.path()).collect();
    let output = merge(&paths, merged.path());
    assert!(
        output.status.success(),
        "familybridge merge failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_same_outputs(
        whole.path(),
        merged.path(),
        OUTPUTS,
        "the whole run and its merged slices",
    );

    // A slice missing, or given twice, is refused, naming the unit.
    let output = merge(&paths[..3], tempfile::tempdir().expect("a folder").path());
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("is in no slice"), "{stderr}");
    let twice = [paths[0], paths[0], paths[1], paths[2], paths[3]];
    let output = merge(&twice, tempfile::tempdir().expect("a folder").path());
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("is in two slices"), "{stderr}");
}
