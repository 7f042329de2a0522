//! docker-compose.yml really run, as the README's "Demo with docker compose" runs it, on a machine
//! that reaches no image registry: the base images are made locally (debootstrap, then Debian's
//! packages), the project's images are built from its Dockerfile with podman, and the stack comes
//! up with podman-compose and the offline override (deploy/offline/docker-compose.offline.yml), which
//! replaces only the third-party images. Every call between the parties is mutual TLS, with the
//! credentials the compose file's `certs` service makes. The runner's report must equal, byte for byte, an
//! in-process run of the same arm and seed; stopped as `docker compose stop` stops them, the three
//! services must shut down by themselves, and each must have sent the OTLP receiver standing in
//! for the collector spans in the traces the runner began.
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
const STOP_GRACE: Duration = Duration::from_secs(30);

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
    let spans_file = spans.join("spans.jsonl");
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
    // Each service's exporter has connected to the collector (its `process.start` span arrived)
    // before the runner's container starts: podman's aardvark-dns drops lookups while it reloads
    // for a new container (containers/aardvark-dns#389), so a first connection made then could
    // lose a whole run's spans.
    wait_for_spans(&compose, &spans_file, |seen| {
        SERVICES
            .iter()
            .all(|service| seen.iter().any(|span| span.service == *service))
    });

    let runner = compose.run_once("runner", SIZE, RUN_WITHIN);
    if runner.exit_code != 0 {
        panic!(
            "the runner failed (exit code {}):\n{}\n{}",
            runner.exit_code,
            runner.logs,
            compose.logs_of(&[
                "postgres",
                "court-registry",
                "cms-calculation",
                "referral-hub"
            ])
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

    // Every service sends its spans to the collector (the otlp-sink image, writing JSON lines):
    // in batches every few seconds while it runs, and what is still buffered when it stops.
    // Stopping each service as `docker compose stop` does makes the check independent of the
    // batch timer and also checks the shutdown: a service exits 0 on SIGTERM, having exported.
    for service in SERVICES.iter().rev() {
        let exit_code = compose.stop(service, STOP_GRACE);
        assert_eq!(
            exit_code,
            0,
            "{service} should shut down by itself on SIGTERM within {STOP_GRACE:?}\n--- its log\n{}",
            compose.logs(&compose.container(service))
        );
    }
    // A family's journey is one trace across the parties: each service has spans in the traces
    // the runner began.
    wait_for_spans(&compose, &spans_file, |seen| {
        let runner_traces: BTreeSet<&str> = seen
            .iter()
            .filter(|span| span.service == "familybridge")
            .map(|span| span.trace_id.as_str())
            .collect();
        SERVICES.iter().all(|service| {
            seen.iter().any(|span| {
                span.service == *service && runner_traces.contains(span.trace_id.as_str())
            })
        })
    });
}

/// A span as the sink wrote it: the service that sent it and its trace.
#[derive(Debug)]
struct SeenSpan {
    service: String,
    trace_id: String,
}

/// Waits, at most [`SPANS_WITHIN`], until the spans in the sink's `file` satisfy `enough`; fails
/// the test with what arrived and every party's log if they never do.
fn wait_for_spans(compose: &ComposeProject, file: &Path, enough: impl Fn(&[SeenSpan]) -> bool) {
    let started = Instant::now();
    loop {
        let seen = spans_in(file);
        if enough(&seen) {
            return;
        }
        if started.elapsed() > SPANS_WITHIN {
            let services: BTreeSet<&str> = seen.iter().map(|span| span.service.as_str()).collect();
            panic!(
                "the spans the sink received within {SPANS_WITHIN:?} ({} of them, from \
                 {services:?}) are not what the test waits for\n{}",
                seen.len(),
                compose.logs_of(&[
                    "court-registry",
                    "cms-calculation",
                    "referral-hub",
                    "otel-collector"
                ])
            );
        }
        // The services export in batches, every few seconds.
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The spans in the sink's file (one JSON object per span), so far.
fn spans_in(file: &Path) -> Vec<SeenSpan> {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    text.lines()
        // The sink may be writing the last line as we read.
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter_map(|span| {
            Some(SeenSpan {
                service: span["service_name"].as_str()?.to_owned(),
                trace_id: span["trace_id"].as_str()?.to_owned(),
            })
        })
        .collect()
}
