//! Where a service's part of a trace begins: a span continuing a caller's or an event's context,
//! the span of a batch, and each family's span within a batch — the few calls the services make,
//! so that every parent link and every service attribution is decided here.

use opentelemetry::KeyValue;
use opentelemetry::trace::TraceContextExt;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::TraceContext;
use crate::telemetry::export::{self, HostedService};

/// The target of every span of a family's journey (see [`trace_span!`](crate::trace_span)).
pub const SPAN_TARGET: &str = "familybridge::trace";

/// Makes `span` — just created, not yet entered — the start of `service`'s part of a journey: its
/// parent is `parent` (the caller's or the event's context), or it begins a trace of its own when
/// `parent` is empty. Its spans, and those below it, are exported as `service`'s.
///
/// The parent must be set before the span starts (tracing-opentelemetry refuses to re-parent a
/// started span), so call this straight after creating the span.
pub fn continue_trace(span: &Span, service: &'static str, parent: &TraceContext) {
    if !export::tracing_enabled() {
        return;
    }
    adopt(span, parent.to_otel().with_value(HostedService(service)));
}

/// The span of a batch named `name` (e.g. "hub.act") of `size` pieces of work in `service` — the
/// cases a clock move visits, the inbox events handled together: a child of the current span, or a
/// trace of its own when there is none (a background task). Records the batch's size, by name, in
/// `familybridge.batch.size`. Pass it to [`family_span`] for each family's part.
pub fn batch(name: &'static str, service: &'static str, size: usize) -> Span {
    record_batch_size(service, name, size);
    let span = crate::trace_span!("batch", otel.name = name, batch.size = size);
    if export::tracing_enabled() {
        adopt(
            &span,
            opentelemetry::Context::current().with_value(HostedService(service)),
        );
    }
    span
}

/// Makes `span` — just created, not yet entered — one family's part of `batch`: it continues the
/// family's own trace from `parent` (the command's caller, the event being acted on), or begins a
/// new trace when `parent` is empty, and links to the batch's span, so that a batched step never
/// merges families' journeys into one trace. It belongs to the batch's service.
pub fn family_span(span: Span, parent: &TraceContext, batch: &Span) -> Span {
    if !export::tracing_enabled() {
        return span;
    }
    let batch_context = batch.context();
    let mut parent_context = parent.to_otel();
    if let Some(service) = batch_context.get::<HostedService>() {
        parent_context = parent_context.with_value(*service);
    }
    adopt(&span, parent_context);
    span.add_link(batch_context.span().span_context().clone());
    span
}

/// Records a batch of `size` pieces of work named `batch` (e.g. "feed.deliver") in `service`, in
/// `familybridge.batch.size`, for batches that have no span of their own.
pub fn record_batch_size(service: &'static str, batch: &'static str, size: usize) {
    export::record_batch_size(service, batch, size);
}

/// Records how many events a subscription of `service` had yet to take in (`events`, by feed
/// position) when a simulation asked it to settle, in `familybridge.feed.lag`.
pub fn record_feed_lag(service: &'static str, subscription: &str, events: u64) {
    export::record(service, |instruments| {
        instruments.feed_lag.record(
            events,
            &[KeyValue::new("subscription", subscription.to_owned())],
        );
    });
}

fn adopt(span: &Span, parent: opentelemetry::Context) {
    // A span disabled by the filter has nothing to re-parent; one already started is a mistake at
    // the call site, which the trace shows as a broken link rather than a failed command.
    if let Err(error) = span.set_parent(parent) {
        tracing::debug!(%error, "span not re-parented");
    }
}
