//! `familybridge run` as a developer runs it, with and without the OpenTelemetry variables: the
//! real binary on a small run of a shipped scenario, the services in its process.
//!
//! With `OTEL_EXPORTER_OTLP_ENDPOINT` set, the runner and each service it hosts export under their
//! own names, and what is still buffered is exported before the process exits. Without any OTEL_
//! variable nothing is exported — not even to the standard OTLP port — and the results are
//! byte-identical. A protocol other than gRPC is refused at start, saying why.

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

use familybridge_otlp_sink::OtlpSink;
use support::{read, scenario};

/// A small run of one arm with automatic exchange and joint reviews.
const SMALL: &[&str] = &[
    "--arm",
    "automatic-with-reviews",
    "--families",
    "4",
    "--replications",
    "2",
];

/// `familybridge run` into `out` with every OTEL_ variable of this environment removed and then
/// `variables` set; waits for it on the blocking pool (the test's runtime serves the sink).
async fn run_with(out: &Path, variables: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_familybridge"));
    command
        .arg("run")
        .arg(scenario("joint-reviews.toml"))
        .arg("--out")
        .arg(out)
        .args(SMALL);
    for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("OTEL_")) {
        command.env_remove(name);
    }
    command.envs(variables.iter().copied());
    tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("the runner's wait")
        .expect("run familybridge run")
}

fn assert_succeeded(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "{what} failed: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runner_exports_every_service_it_hosts_only_when_asked_and_the_results_are_the_same() {
    let sink = OtlpSink::start().await.expect("the OTLP sink starts");
    // Where an SDK that exported by default would send: the standard port, when it is free here.
    let default_port = OtlpSink::start_on("127.0.0.1:4317").await.ok();

    let traced = tempfile::tempdir().expect("a folder");
    let output = run_with(
        traced.path(),
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", sink.url())],
    )
    .await;
    assert_succeeded(&output, "the traced run");
    // No waiting: the runner exported what it still held before it exited.
    let spans = sink.spans();
    let services: BTreeSet<&str> = spans
        .iter()
        .map(|span| span.service_name.as_str())
        .collect();
    for service in [
        "familybridge",
        "court-registry",
        "cms-calculation",
        "referral-hub",
    ] {
        assert!(
            services.contains(service),
            "no spans from {service}; from {services:?}"
        );
    }
    // The process announces its start, so that its exporter connects before any work.
    assert!(
        spans
            .iter()
            .any(|span| span.service_name == "familybridge" && span.name == "process.start"),
        "the runner's process.start span was exported"
    );
    let actions: BTreeSet<&str> = spans
        .iter()
        .filter(|span| span.service_name == "familybridge")
        .map(|span| span.span_id.as_str())
        .collect();
    assert!(
        spans
            .iter()
            .any(|span| span.service_name == "court-registry"
                && actions.contains(span.parent_span_id.as_str())),
        "no court call is the child of a family's action in the runner"
    );
    let metrics = sink.metrics();
    assert!(
        metrics
            .iter()
            .any(|metric| metric.service_name == "cms-calculation"
                && metric.name == "rpc.server.call.duration"),
        "the last metrics were exported too: {metrics:?}"
    );

    let received = (sink.spans().len(), sink.metrics().len());
    let plain = tempfile::tempdir().expect("a folder");
    let output = run_with(plain.path(), &[]).await;
    assert_succeeded(&output, "the run without OTEL variables");
    assert_eq!(
        read(traced.path(), "summary.json"),
        read(plain.path(), "summary.json"),
        "telemetry changes no result"
    );
    assert_eq!(
        (sink.spans().len(), sink.metrics().len()),
        received,
        "nothing more arrived"
    );
    match default_port {
        Some(default_port) => {
            assert!(
                default_port.spans().is_empty() && default_port.metrics().is_empty(),
                "without OTEL variables, something was exported to the standard OTLP port"
            );
            default_port.stop().await.expect("the sink stops");
        }
        None => {
            eprintln!("127.0.0.1:4317 is in use here: the absence of exports there was not checked")
        }
    }

    let refused = tempfile::tempdir().expect("a folder");
    let output = run_with(
        refused.path(),
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", sink.url()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ],
    )
    .await;
    assert!(!output.status.success(), "http/protobuf is refused");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("OTEL_EXPORTER_OTLP_PROTOCOL") && stderr.contains("gRPC only"),
        "the refusal says why: {stderr}"
    );
    sink.stop().await.expect("the sink stops");
}
