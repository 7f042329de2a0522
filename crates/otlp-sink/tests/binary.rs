//! The `otlp-sink` binary as the compose test uses it: started on a free port, health-checked
//! through `grpc.health.v1`, sent an OTLP export, and read back from its file — one JSON line per
//! span with exactly the agreed fields — then stopped with SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use familybridge_otlp_sink::SpanLine;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

fn span(name: &str, span_id: [u8; 8], parent: &[u8]) -> Span {
    Span {
        trace_id: vec![0x4b; 16],
        span_id: span_id.to_vec(),
        parent_span_id: parent.to_vec(),
        name: name.to_owned(),
        ..Span::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_appends_each_span_as_a_json_line_and_answers_health_checks() {
    let folder = tempfile::tempdir().expect("a folder");
    let out = folder.path().join("spans.jsonl");
    let mut child = Command::new(env!("CARGO_BIN_EXE_otlp-sink"))
        .args(["--listen", "127.0.0.1:0", "--out"])
        .arg(&out)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start otlp-sink");
    let stdout = child.stdout.take().expect("piped stdout");
    let first = BufReader::new(stdout)
        .lines()
        .next()
        .expect("otlp-sink says where it listens")
        .expect("readable output");
    let address = first
        .split_whitespace()
        .find(|word| word.starts_with("127.0.0.1:"))
        .map(|word| word.trim_end_matches(','))
        .unwrap_or_else(|| panic!("no address in {first:?}"));
    let url = format!("http://{address}");

    familybridge_runtime::wait_until_serving(&url, Duration::from_secs(30))
        .await
        .expect("otlp-sink reports SERVING");
    let channel = tonic::transport::Channel::from_shared(url)
        .expect("a URL")
        .connect()
        .await
        .expect("connect");
    let health = HealthClient::new(channel.clone())
        .check(HealthCheckRequest {
            service: "opentelemetry.proto.collector.trace.v1.TraceService".to_owned(),
        })
        .await
        .expect("a health answer for the trace service");
    assert_eq!(health.get_ref().status(), ServingStatus::Serving);

    let request = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![KeyValue {
                    key: "service.name".to_owned(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::StringValue("court-registry".to_owned())),
                    }),
                    ..KeyValue::default()
                }],
                ..Resource::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: vec![
                    span("MakeFinalOrder", [1, 2, 3, 4, 5, 6, 7, 8], &[]),
                    span("append", [9; 8], &[1, 2, 3, 4, 5, 6, 7, 8]),
                ],
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    };
    TraceServiceClient::new(channel)
        .export(request)
        .await
        .expect("the export is accepted");

    // The file is flushed before the export is answered.
    let text = std::fs::read_to_string(&out).expect("the output file");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(
        lines[0],
        r#"{"service_name":"court-registry","trace_id":"4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b","span_id":"0102030405060708","parent_span_id":"","name":"MakeFinalOrder"}"#
    );
    let child_span: SpanLine = serde_json::from_str(lines[1]).expect("a span line");
    assert_eq!(child_span.parent_span_id, "0102030405060708");
    assert_eq!(child_span.span_id, "0909090909090909");

    // The client connections must be gone (or closing) for a graceful stop: their tasks run on
    // the runtime's workers while this thread waits for the child.
    let stopped = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(stopped.success());
    let status = child.wait().expect("otlp-sink exits");
    assert!(
        status.success(),
        "SIGTERM stops otlp-sink cleanly: {status}"
    );
}
