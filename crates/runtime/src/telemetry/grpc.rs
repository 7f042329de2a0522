//! Trace context across gRPC calls: the layer every server is wrapped in, which opens each call's
//! span under the caller's `traceparent` and records the call's count and latency, and the
//! interceptor every client sends its identity and the current span's context through.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use opentelemetry::KeyValue;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tracing::Instrument;

use crate::TraceContext;
use crate::access::{IDENTITY_HEADER, Identity};
use crate::retry::Retrying;
use crate::telemetry::export;
use crate::telemetry::spans::continue_trace;

/// A channel whose calls say who is calling and carry the current span's W3C trace context, and
/// are tried again while the peer is briefly unavailable ([`crate::retry`]): what every
/// familybridge client is built on.
pub type TracedChannel = Retrying<InterceptedService<Channel, CallMetadata>>;

/// Makes `channel` call as `identity` ([`crate::access`]) and send the current span's trace context
/// with every call, retrying calls that meet an unavailable peer.
pub fn traced(channel: Channel, identity: Identity) -> TracedChannel {
    Retrying::new(InterceptedService::new(
        channel,
        CallMetadata::new(identity),
    ))
}

/// The client interceptor that puts the caller's identity on each call ([`IDENTITY_HEADER`]), and
/// the current span's context as `traceparent` and `tracestate` (nothing when nothing is
/// exported).
#[derive(Debug, Clone)]
pub struct CallMetadata {
    identity: MetadataValue<Ascii>,
}

impl CallMetadata {
    /// The interceptor of calls made as `identity`.
    pub fn new(identity: Identity) -> Self {
        Self {
            identity: MetadataValue::from_static(identity.as_str()),
        }
    }
}

impl Interceptor for CallMetadata {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        request
            .metadata_mut()
            .insert(IDENTITY_HEADER, self.identity.clone());
        TraceContext::current().inject(request.metadata_mut());
        Ok(request)
    }
}

/// gRPC services whose calls are not traced: health probes and reflection (a probe every few
/// seconds would bury the journeys), and the OTLP collector's own services, whose calls are
/// telemetry being exported and would feed themselves.
const UNTRACED: [&str; 3] = [
    "/grpc.health.",
    "/grpc.reflection.",
    "/opentelemetry.proto.collector.",
];

/// Wraps every call a server of `service` answers (see [`ServerTelemetry`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ServerTelemetryLayer {
    service: &'static str,
}

impl ServerTelemetryLayer {
    /// The layer for the server of `service`.
    pub(crate) fn new(service: &'static str) -> Self {
        Self { service }
    }
}

impl<S> tower_layer::Layer<S> for ServerTelemetryLayer {
    type Service = ServerTelemetry<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ServerTelemetry {
            inner,
            service: self.service,
        }
    }
}

/// A server's calls, each in a span whose parent is the caller's context (extracted from the
/// request's headers and set before the span is first entered), timed into
/// `rpc.server.call.duration`.
#[derive(Debug, Clone)]
pub(crate) struct ServerTelemetry<S> {
    inner: S,
    service: &'static str,
}

impl<S, B, R> tower_service::Service<http::Request<B>> for ServerTelemetry<S>
where
    S: tower_service::Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if !export::exporting() {
            // Nothing to trace or count: the call as it is.
            return Box::pin(self.inner.call(request));
        }
        let path = request.uri().path().to_owned();
        let (rpc_service, rpc_method) = path
            .trim_start_matches('/')
            .split_once('/')
            .map(|(service, method)| (service.to_owned(), method.to_owned()))
            .unwrap_or_else(|| (path.clone(), String::new()));
        let span = if UNTRACED.iter().any(|prefix| path.starts_with(prefix)) {
            tracing::Span::none()
        } else {
            let span = crate::trace_span!(
                "grpc.server",
                otel.name = %path.trim_start_matches('/'),
                otel.kind = "server",
                otel.status_code = tracing::field::Empty,
                rpc.system = "grpc",
                rpc.service = %rpc_service,
                rpc.method = %rpc_method,
                rpc.grpc.status_code = tracing::field::Empty,
            );
            continue_trace(
                &span,
                self.service,
                &TraceContext::from_headers(request.headers()),
            );
            span
        };
        let started = Instant::now();
        let call = span.in_scope(|| self.inner.call(request));
        let service = self.service;
        Box::pin(async move {
            let outcome = call.instrument(span.clone()).await;
            // A failed unary call answers with its status in the headers ("trailers only"); a
            // call that succeeds, or a stream, sends it in trailers, after this: counted as OK.
            let code = match &outcome {
                Ok(response) => response
                    .headers()
                    .get("grpc-status")
                    .and_then(|value| value.to_str().ok())
                    .and_then(|value| value.parse::<i64>().ok())
                    .unwrap_or(0),
                Err(_) => i64::from(tonic::Code::Unknown as i32),
            };
            span.record("rpc.grpc.status_code", code);
            if is_server_fault(code) {
                span.record("otel.status_code", "ERROR");
            }
            let elapsed = started.elapsed().as_secs_f64();
            export::record(service, |instruments| {
                instruments.rpc_duration.record(
                    elapsed,
                    &[
                        KeyValue::new("rpc.system", "grpc"),
                        KeyValue::new("rpc.service", rpc_service),
                        KeyValue::new("rpc.method", rpc_method),
                        KeyValue::new("rpc.grpc.status_code", code),
                    ],
                );
            });
            outcome
        })
    }
}

/// Whether a status code means the server failed, rather than answering the caller's request with
/// a refusal (OpenTelemetry's convention for gRPC server spans).
fn is_server_fault(code: i64) -> bool {
    use tonic::Code;
    [
        Code::Unknown,
        Code::DeadlineExceeded,
        Code::Unimplemented,
        Code::Internal,
        Code::Unavailable,
        Code::DataLoss,
    ]
    .iter()
    .any(|fault| i64::from(*fault as i32) == code)
}
