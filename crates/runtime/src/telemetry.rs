//! Logs, traces and metrics: the one set-up every familybridge binary shares.
//!
//! Logs always go to standard error through `tracing`, filtered by `RUST_LOG` (default `info`).
//! Traces and metrics are exported over OTLP/gRPC only when the standard OpenTelemetry variables
//! ask for it ([`TelemetryConfig::from_env`]: `OTEL_EXPORTER_OTLP_ENDPOINT` and its per-signal
//! forms, `OTEL_SERVICE_NAME`, the SDK's own `OTEL_TRACES_SAMPLER`, `OTEL_BSP_*`, …). Without
//! them no OpenTelemetry layer is installed at all: the spans below are `DEBUG` spans of their own
//! target ([`trace_span!`]), disabled at their call site, so a process that exports nothing pays
//! one relaxed load per span and the helpers here return at once.
//!
//! # One trace per family journey
//!
//! A court's final order, the CMS's recalculation and the hub's review are one trace:
//!
//! - every gRPC server is wrapped in one layer ([`GrpcHost`](crate::GrpcHost)) that opens the
//!   call's span with the caller's W3C `traceparent` as its parent, set before the span is
//!   entered, and records the call's count and latency;
//! - every client sends the current span's context through one interceptor ([`traced`]);
//! - every event carries the context of the span that caused it ([`TraceContext`], stored with
//!   the event in the outbox), and whoever acts on an event later opens its span with the event's
//!   context as parent ([`continue_trace`], [`family_span`]).
//!
//! Work done for many families at once — a clock move's due work, a batch of inbox events, and
//! soon batched commands — keeps each family's journey its own trace: the batch has a span of its
//! own ([`batch`]), and each family's part is a span continuing that family's trace with a link to
//! the batch ([`family_span`]). A batched command path calls it once per command:
//!
//! ```no_run
//! # use familybridge_runtime::{TraceContext, batch, family_span, trace_span};
//! # use tracing::Instrument;
//! # async fn execute(commands: Vec<(String, TraceContext)>) {
//! let step = batch("court.commands", "court-registry", commands.len());
//! for (case, caller) in commands {
//!     let span = family_span(trace_span!("court.command", case = %case), &caller, &step);
//!     async {
//!         // … the command's work; its events carry TraceContext::current().
//!     }
//!     .instrument(span)
//!     .await;
//! }
//! # }
//! ```
//!
//! # Several services in one process
//!
//! `familybridge run` and `up` host the three services in one process, and each must still be
//! seen as itself (`service.name` is a property of a tracer provider's resource, not of a span).
//! So there is one tracer provider — and one meter provider — per service the process hosts, each
//! with its own resource and exporter, created when the service's first span or call needs it.
//! Which one a span goes to is decided by the [`opentelemetry::Context`] it starts in: the spans
//! that begin a service's part of a trace ([`continue_trace`], [`batch`]) put the service's name
//! in their context, every span below inherits it, and the one tracer given to
//! `tracing-opentelemetry` hands each span to its service's provider (the process's own when no
//! service is named). A process hosting one service simply has one provider, named by
//! `OTEL_SERVICE_NAME` or else by its binary.

mod context;
mod export;
mod grpc;
mod spans;

pub use context::TraceContext;
pub use export::{Telemetry, TelemetryConfig, TelemetryError, flush_telemetry};
pub(crate) use grpc::ServerTelemetryLayer;
pub use grpc::{CallMetadata, TracedChannel, traced};
pub use spans::{
    SPAN_TARGET, batch, continue_trace, family_span, record_batch_size, record_feed_lag,
};

/// A span of the trace a family's journey makes: a `DEBUG` span of target [`SPAN_TARGET`], which
/// the OpenTelemetry layer exports and the log leaves out (unless `RUST_LOG` asks for it). It
/// takes what [`tracing::debug_span!`] takes after its target; `otel.name` names the exported
/// span, `otel.kind` gives its kind.
#[macro_export]
macro_rules! trace_span {
    ($($arguments:tt)*) => {
        $crate::__tracing::debug_span!(target: "familybridge::trace", $($arguments)*)
    };
}

pub(crate) use export::{announce_start, set_default_log};

/// Installs the process-wide log subscriber and exports nothing. Calling it again (as tests that
/// start several services do) leaves the first subscriber in place.
pub fn init_logging() {
    export::install_logging();
}
