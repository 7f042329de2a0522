//! An OTLP/gRPC receiver of the project's own, to prove that spans really leave the services.
//!
//! It answers the collector's `TraceService/Export` and `MetricsService/Export` (and
//! `grpc.health.v1`, through the same [`GrpcHost`] every service uses) and keeps what it is sent:
//! each span with its service name, ids, parent and links, and the name of each metric. A test
//! starts it in process on port 0 ([`OtlpSink::start`]), points the exporters at
//! [`OtlpSink::url`], and reads the spans back ([`OtlpSink::wait_for`]). The `otlp-sink` binary
//! serves the same on a fixed address and appends every span to a file as one JSON line
//! ([`SpanLine`]), flushed after each export, for a test that cannot share memory with the
//! services (the compose demo's).
//!
//! Its own calls are never traced: the services' telemetry layer leaves the collector's services
//! alone, or a sink in a traced process would feed itself.

use std::fs::File;
use std::future::Future;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use familybridge_runtime::{CancellationToken, GrpcHost, HostError};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::resource::v1::Resource;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tonic::{Request, Response, Status};

/// How often [`OtlpSink::wait_for`] looks at what has arrived.
const POLL: Duration = Duration::from_millis(50);

/// The name the sink's own server is known by.
pub const SERVICE_NAME: &str = "otlp-sink";

/// A span as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedSpan {
    /// The `service.name` of the resource that sent it (empty if it named none).
    pub service_name: String,
    /// The trace id, as 32 lower-case hex digits.
    pub trace_id: String,
    /// The span id, as 16 lower-case hex digits.
    pub span_id: String,
    /// The parent span's id, or empty for a trace's root.
    pub parent_span_id: String,
    /// The span's name.
    pub name: String,
    /// The spans it links to (a family's command to the batch it was part of).
    pub links: Vec<SpanLink>,
}

/// A link from one span to another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpanLink {
    /// The linked span's trace id, in hex.
    pub trace_id: String,
    /// The linked span's id, in hex.
    pub span_id: String,
}

/// A metric as received: who sent it and its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMetric {
    /// The `service.name` of the resource that sent it.
    pub service_name: String,
    /// The metric's name, e.g. `rpc.server.call.duration`.
    pub name: String,
}

/// One line of the binary's output file: a span, as JSON.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SpanLine {
    /// The sender's `service.name`.
    pub service_name: String,
    /// The trace id, in hex.
    pub trace_id: String,
    /// The span id, in hex.
    pub span_id: String,
    /// The parent's span id in hex, or empty.
    pub parent_span_id: String,
    /// The span's name.
    pub name: String,
}

/// Why the sink could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The listening address could not be bound.
    #[error("cannot listen on {address}")]
    Bind {
        /// The address.
        address: String,
        /// Why.
        source: std::io::Error,
    },
    /// The output file could not be opened.
    #[error("cannot open {} to append spans to", path.display())]
    Output {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The gRPC server failed.
    #[error(transparent)]
    Host(#[from] HostError),
    /// The in-process sink's server panicked.
    #[error("the OTLP sink's server panicked")]
    Panicked(#[source] tokio::task::JoinError),
}

/// What the sink has received so far, and where it also writes spans.
#[derive(Debug, Default)]
struct Received {
    spans: Mutex<Vec<ReceivedSpan>>,
    metrics: Mutex<Vec<ReceivedMetric>>,
    out: Option<Mutex<BufWriter<File>>>,
}

/// A lock on what has been received. Every holder only pushes whole entries, so a panic elsewhere
/// cannot leave one half-written: a poisoned lock is still sound to use.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// Bytes as lower-case hex (ids in OTLP are raw bytes; everyone reads them in hex).
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The `service.name` attribute of a resource, or empty.
fn service_name(resource: Option<&Resource>) -> String {
    resource
        .into_iter()
        .flat_map(|resource| &resource.attributes)
        .find(|attribute| attribute.key == "service.name")
        .and_then(|attribute| attribute.value.as_ref()?.value.as_ref())
        .and_then(|value| match value {
            Value::StringValue(name) => Some(name.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

/// The collector services over what has been received.
#[derive(Debug, Clone)]
struct Collector {
    received: Arc<Received>,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let mut spans = Vec::new();
        for resource_spans in request.into_inner().resource_spans {
            let service = service_name(resource_spans.resource.as_ref());
            for span in resource_spans
                .scope_spans
                .into_iter()
                .flat_map(|scope| scope.spans)
            {
                spans.push(ReceivedSpan {
                    service_name: service.clone(),
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent_span_id: hex(&span.parent_span_id),
                    name: span.name,
                    links: span
                        .links
                        .iter()
                        .map(|link| SpanLink {
                            trace_id: hex(&link.trace_id),
                            span_id: hex(&link.span_id),
                        })
                        .collect(),
                });
            }
        }
        if let Some(out) = &self.received.out {
            write_lines(&mut lock(out), &spans).map_err(|error| {
                tracing::error!(%error, "cannot append the spans to the output file");
                Status::unavailable(format!("cannot write the spans: {error}"))
            })?;
        }
        lock(&self.received.spans).extend(spans);
        Ok(Response::new(ExportTraceServiceResponse::default()))
    }
}

/// Appends each span as a JSON line and flushes, so a reader sees every export whole.
fn write_lines(out: &mut BufWriter<File>, spans: &[ReceivedSpan]) -> std::io::Result<()> {
    for span in spans {
        let line = SpanLine {
            service_name: span.service_name.clone(),
            trace_id: span.trace_id.clone(),
            span_id: span.span_id.clone(),
            parent_span_id: span.parent_span_id.clone(),
            name: span.name.clone(),
        };
        serde_json::to_writer(&mut *out, &line)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

#[tonic::async_trait]
impl MetricsService for Collector {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        let mut metrics = Vec::new();
        for resource_metrics in request.into_inner().resource_metrics {
            let service = service_name(resource_metrics.resource.as_ref());
            for metric in resource_metrics
                .scope_metrics
                .into_iter()
                .flat_map(|scope| scope.metrics)
            {
                metrics.push(ReceivedMetric {
                    service_name: service.clone(),
                    name: metric.name,
                });
            }
        }
        lock(&self.received.metrics).extend(metrics);
        Ok(Response::new(ExportMetricsServiceResponse::default()))
    }
}

/// The sink's server over `received`, on `listener`, until `shutdown`.
fn host(
    received: Arc<Received>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> impl Future<Output = Result<(), HostError>> + Send + 'static {
    let collector = Collector { received };
    GrpcHost::new(SERVICE_NAME)
        .with_descriptors(opentelemetry_proto::DESCRIPTORS)
        .add_service(TraceServiceServer::new(collector.clone()))
        .add_service(MetricsServiceServer::new(collector))
        .serve(listener, shutdown)
}

/// Serves the sink on `listener` until `shutdown`, appending every span received to `out` (created
/// if missing) as a [`SpanLine`]: what the `otlp-sink` binary runs.
pub async fn serve(
    listener: TcpListener,
    out: &Path,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), SinkError> {
    let file = File::options()
        .create(true)
        .append(true)
        .open(out)
        .map_err(|source| SinkError::Output {
            path: out.to_owned(),
            source,
        })?;
    let received = Arc::new(Received {
        out: Some(Mutex::new(BufWriter::new(file))),
        ..Received::default()
    });
    host(received, listener, shutdown).await?;
    Ok(())
}

/// A sink running in this process, keeping what it receives in memory.
#[derive(Debug)]
pub struct OtlpSink {
    url: String,
    received: Arc<Received>,
    shutdown: CancellationToken,
    task: JoinHandle<Result<(), HostError>>,
}

/// What a test waited for did not arrive in time.
#[derive(Debug, thiserror::Error)]
#[error(
    "no {what} arrived at the OTLP sink within {waited:?}; it received {span_count} spans: {spans}"
)]
pub struct NotReceived {
    /// What was waited for.
    pub what: String,
    /// How long.
    pub waited: Duration,
    /// How many spans had arrived.
    pub span_count: usize,
    /// The spans that did arrive, one per line (service, name, trace, span, parent).
    pub spans: String,
}

impl OtlpSink {
    /// Starts a sink on a free loopback port.
    pub async fn start() -> Result<Self, SinkError> {
        Self::start_on("127.0.0.1:0").await
    }

    /// Starts a sink on `address` (e.g. `127.0.0.1:4317`, the standard OTLP/gRPC port).
    pub async fn start_on(address: &str) -> Result<Self, SinkError> {
        let listener = TcpListener::bind(address)
            .await
            .map_err(|source| SinkError::Bind {
                address: address.to_owned(),
                source,
            })?;
        let local = listener.local_addr().map_err(|source| SinkError::Bind {
            address: address.to_owned(),
            source,
        })?;
        let received = Arc::new(Received::default());
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(host(
            Arc::clone(&received),
            listener,
            shutdown.clone().cancelled_owned(),
        ));
        Ok(Self {
            url: format!("http://{local}"),
            received,
            shutdown,
            task,
        })
    }

    /// The address to export to, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Every span received so far, in order of arrival.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        lock(&self.received.spans).clone()
    }

    /// Every metric received so far (one entry per metric per export).
    pub fn metrics(&self) -> Vec<ReceivedMetric> {
        lock(&self.received.metrics).clone()
    }

    /// Waits until `found` finds what it looks for in the spans received so far, looking again
    /// every 50 ms for at most `timeout`; fails naming `what` and listing what did arrive.
    pub async fn wait_for<T>(
        &self,
        what: &str,
        timeout: Duration,
        found: impl Fn(&[ReceivedSpan]) -> Option<T>,
    ) -> Result<T, NotReceived> {
        let started = tokio::time::Instant::now();
        loop {
            let spans = self.spans();
            if let Some(found) = found(&spans) {
                return Ok(found);
            }
            if started.elapsed() >= timeout {
                return Err(NotReceived {
                    what: what.to_owned(),
                    waited: timeout,
                    span_count: spans.len(),
                    spans: spans
                        .iter()
                        .map(|span| {
                            format!(
                                "\n  {} {:?} trace {} span {} parent {:?}",
                                span.service_name,
                                span.name,
                                span.trace_id,
                                span.span_id,
                                span.parent_span_id
                            )
                        })
                        .collect(),
                });
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Stops the sink and waits for it.
    pub async fn stop(self) -> Result<(), SinkError> {
        self.shutdown.cancel();
        Ok(self.task.await.map_err(SinkError::Panicked)??)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_written_in_lower_case_hex() {
        assert_eq!(hex(&[0x4b, 0xf9, 0x00, 0x0a]), "4bf9000a");
        assert_eq!(hex(&[]), "");
    }
}
