//! docker-compose.yml really run, as the README's "Demo with docker compose" runs it, on a machine
//! that reaches no image registry: the base images are made locally (debootstrap, then Debian's
//! packages), the project's images are built from its Dockerfile with podman, and the stack comes
//! up with podman-compose and the offline override (deploy/offline/docker-compose.offline.yml), which
//! replaces only the third-party images. Every call between the parties is mutual TLS, with the
//! credentials the compose file's `certs` service makes. The runner's report must equal, byte for byte, an
//! in-process run of the same arm and seed, and spans from all three services must reach the OTLP
//! receiver standing in for the collector.
//!
//! Without podman, podman-compose or debootstrap the test fails saying what to install. The first
//! run makes the base images and compiles the workspace in a container (minutes); later runs reuse
//! both (see familybridge_testing::podman).

mod support;

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use familybridge_testing::podman::{ComposeProject, Podman};
use support::{RESULTS, assert_same_outputs, read, run, scenario};

/// A run small enough for a test, the same on both sides.
const SIZE: &[&str] = &["--families", "8", "--replications", "2"];

/// The Dockerfile's targets the compose files use, with their tags there; `otlp-sink` is the
/// project's OTLP receiver, which the offline override puts in the collector's place.
const IMAGES: &[(&str, &str)] = &[
    ("court-registry", "familybridge/court-registry"),
    ("cms-calculation", "familybridge/cms-calculation"),
    ("referral-hub", "familybridge/referral-hub"),
    ("familybridge", "familybridge/familybridge"),
    ("otlp-sink", "familybridge/otlp-sink"),
];

/// The services, in the order their `depends_on … service_healthy` starts them.
const SERVICES: &[&str] = &["court-registry", "cms-calculation", "referral-hub"];

/// Bounds on waiting, generous for a loaded 2-core machine; none is asserted on.
const HEALTHY_WITHIN: Duration = Duration::from_secs(120);
const RUN_WITHIN: Duration = Duration::from_secs(600);
const SPANS_WITHIN: Duration = Duration::from_secs(60);

#[test]
fn the_compose_demo_runs_the_scenario_as_in_process_and_every_service_sends_spans() {
    let podman = Podman::require("the compose test (tests/compose.rs)");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    podman.offline_base_images(&repo.join("deploy/offline"));
    podman.build_project_images(repo, "quick", IMAGES);

    // The compose files in a folder of the test's own, so that ./out is the test's.
    let project = tempfile::tempdir().expect("a project folder");
    for file in [
        "docker-compose.yml",
        "deploy/compose/postgres-init.sql",
        "deploy/compose/otel-collector.yaml",
        "deploy/offline/docker-compose.offline.yml",
    ] {
        let to = project.path().join(file);
        std::fs::create_dir_all(to.parent().expect("a file is in a folder")).expect("a folder");
        std::fs::copy(repo.join(file), &to).unwrap_or_else(|error| panic!("copy {file}: {error}"));
    }
    let reports = project.path().join("out/compose");
    let spans = project.path().join("out/spans");
    for folder in [&reports, &spans] {
        std::fs::create_dir_all(folder).expect("an output folder");
        // Writable by the images' unprivileged user, whichever uid it maps to.
        std::fs::set_permissions(folder, std::fs::Permissions::from_mode(0o777))
            .expect("open the output folder to the containers");
    }

    let compose = ComposeProject::new(
        project.path(),
        &[
            "docker-compose.yml",
            "deploy/offline/docker-compose.offline.yml",
        ],
    );
    // What `depends_on: condition: service_healthy` does under docker compose, step by step.
    compose.up(&["postgres"]);
    compose.wait_healthy("postgres", HEALTHY_WITHIN);
    compose.up(&["otel-collector"]);
    // The deployment's credentials first: every service serves mutual TLS with them.
    let certs = compose.run_once("certs", &[], HEALTHY_WITHIN);
    assert_eq!(
        certs.exit_code, 0,
        "the certs service failed:\n{}",
        certs.logs
    );
    for service in SERVICES {
        compose.up(&[service]);
        compose.wait_healthy(service, HEALTHY_WITHIN);
    }

    let runner = compose.run_once("runner", SIZE, RUN_WITHIN);
    if runner.exit_code != 0 {
        let logs: Vec<String> = [
            "postgres",
            "court-registry",
            "cms-calculation",
            "referral-hub",
        ]
        .iter()
        .map(|service| {
            format!(
                "--- {service}'s log\n{}",
                compose.logs(&compose.container(service))
            )
        })
        .collect();
        panic!(
            "the runner failed (exit code {}):\n{}\n{}",
            runner.exit_code,
            runner.logs,
            logs.join("\n")
        );
    }
    for name in [
        "report.html",
        "summary.json",
        "metrics.csv",
        "timeseries.csv",
    ] {
        let written = reports.join(name);
        assert!(
            std::fs::metadata(&written).is_ok_and(|file| file.len() > 0),
            "the runner wrote {name} to ./out/compose:\n{}",
            runner.logs
        );
    }

    // The same arm and seed in this process, on SQLite.
    let in_process = tempfile::tempdir().expect("a folder");
    let mut args = vec!["--arm", "automatic"];
    args.extend(SIZE);
    run(
        &scenario("automatic-exchange.toml"),
        in_process.path(),
        &args,
    );
    assert_same_outputs(
        &reports,
        in_process.path(),
        RESULTS,
        "the compose stack and an in-process run of the same arm and seed",
    );
    let summary: serde_json::Value =
        serde_json::from_str(&read(&reports, "summary.json")).expect("summary.json is JSON");
    assert_eq!(
        summary["arms"][0]["name"], "automatic",
        "the runner ran the automatic arm: {summary}"
    );

    // Every service sent its spans to the collector (the otlp-sink image, writing JSON lines).
    let expected: BTreeSet<&str> = SERVICES.iter().copied().collect();
    let started = Instant::now();
    loop {
        // The services export in batches, every few seconds: wait for the last to arrive.
        let seen = services_with_spans(&spans.join("spans.jsonl"));
        if expected.iter().all(|service| seen.contains(*service)) {
            break;
        }
        assert!(
            started.elapsed() < SPANS_WITHIN,
            "spans from {expected:?} should reach the sink; within {SPANS_WITHIN:?} only {seen:?} \
             did\n--- the sink's log\n{}",
            compose.logs(&compose.container("otel-collector"))
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The services named in the sink's file (one JSON object per span), so far.
fn services_with_spans(file: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    text.lines()
        // The sink may be writing the last line as we read.
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter_map(|span| span["service_name"].as_str().map(str::to_owned))
        .collect()
}
