//! The W3C trace context a call or an event carries, so that one family's journey (a court order,
//! the CMS recalculation it causes, the hub's referral) is one trace even across the asynchronous
//! feed: its `traceparent`/`tracestate` text, as stored with each event in the outbox, and its
//! conversions to and from the OpenTelemetry context of a span.

use std::collections::HashMap;

use familybridge_proto::common::v1 as proto;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tonic::metadata::MetadataMap;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The W3C Trace Context of the command that caused an event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TraceContext {
    /// The `traceparent` header value; empty when the command was not traced.
    pub traceparent: String,
    /// The `tracestate` header value; often empty.
    pub tracestate: String,
}

impl TraceContext {
    /// The context an event carries, to continue its trace in the events handling it causes.
    pub fn from_event(event: &proto::Event) -> Self {
        event
            .trace_context
            .clone()
            .map(Self::from)
            .unwrap_or_default()
    }

    /// The context of a gRPC call, from its `traceparent` and `tracestate` headers; empty when the
    /// call carries none. A malformed `traceparent` is dropped with its `tracestate`, as the W3C
    /// recommendation asks: a broken parent must not be passed on to other agencies.
    pub fn from_metadata(metadata: &MetadataMap) -> Self {
        Self::from_header_values(|name| metadata.get(name).and_then(|value| value.to_str().ok()))
    }

    /// The context of an HTTP/2 request, from its headers, as [`TraceContext::from_metadata`].
    pub fn from_headers(headers: &http::HeaderMap) -> Self {
        Self::from_header_values(|name| headers.get(name).and_then(|value| value.to_str().ok()))
    }

    fn from_header_values<'a>(header: impl Fn(&str) -> Option<&'a str>) -> Self {
        let value = |name: &str| header(name).map(str::trim).unwrap_or_default().to_owned();
        let traceparent = value("traceparent");
        if !is_valid_traceparent(&traceparent) {
            return Self::default();
        }
        Self {
            traceparent,
            tracestate: value("tracestate"),
        }
    }

    /// The context of the current span: what an event appended now, or a call made now, should
    /// carry. Empty when nothing is exported (no span then has a context).
    pub fn current() -> Self {
        Self::of(&tracing::Span::current())
    }

    /// The context of `span`; empty when nothing is exported or the span is disabled.
    pub fn of(span: &tracing::Span) -> Self {
        if !crate::telemetry::export::tracing_enabled() {
            return Self::default();
        }
        Self::from_otel(&span.context())
    }

    /// This context, or `other` when this one is empty. An event caused by handling another takes
    /// `TraceContext::current().or(cause)`: the handling span's context, or — in a process that
    /// exports nothing, where there is none — the context the cause came with, so that a journey
    /// through an agency that does not trace is still one trace wherever the others export.
    pub fn or(self, other: TraceContext) -> Self {
        if self.is_empty() { other } else { self }
    }

    /// Whether there is no context (the cause was not traced).
    pub fn is_empty(&self) -> bool {
        self.traceparent.is_empty()
    }

    /// The OpenTelemetry context with this one as its remote parent; the empty context when this
    /// one is empty.
    pub(crate) fn to_otel(&self) -> opentelemetry::Context {
        if self.is_empty() {
            return opentelemetry::Context::new();
        }
        let mut carrier = HashMap::with_capacity(2);
        carrier.insert("traceparent".to_owned(), self.traceparent.clone());
        if !self.tracestate.is_empty() {
            carrier.insert("tracestate".to_owned(), self.tracestate.clone());
        }
        TraceContextPropagator::new().extract(&carrier)
    }

    /// The W3C form of an OpenTelemetry context's span; empty when it has no valid span.
    pub(crate) fn from_otel(context: &opentelemetry::Context) -> Self {
        if !context.span().span_context().is_valid() {
            return Self::default();
        }
        let mut carrier: HashMap<String, String> = HashMap::with_capacity(2);
        TraceContextPropagator::new().inject_context(context, &mut carrier);
        Self {
            traceparent: carrier.remove("traceparent").unwrap_or_default(),
            tracestate: carrier.remove("tracestate").unwrap_or_default(),
        }
    }
}

impl TraceContext {
    /// Puts the context on an outgoing gRPC call as its `traceparent` and `tracestate` headers,
    /// so that a call made in reaction to an event continues the event's trace. An empty context
    /// adds nothing.
    pub fn inject(&self, metadata: &mut MetadataMap) {
        if self.traceparent.is_empty() {
            return;
        }
        // Both were valid header values when they arrived; one that is not is simply not passed on.
        if let Ok(value) = self.traceparent.parse() {
            metadata.insert("traceparent", value);
        }
        if !self.tracestate.is_empty()
            && let Ok(value) = self.tracestate.parse()
        {
            metadata.insert("tracestate", value);
        }
    }
}

/// Whether `value` has the shape of a version-00 `traceparent`:
/// `00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`, with neither id all zeros.
fn is_valid_traceparent(value: &str) -> bool {
    let parts: Vec<&str> = value.split('-').collect();
    let hex = |part: &str, length: usize| {
        part.len() == length
            && part
                .bytes()
                .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte))
    };
    let not_zero = |part: &str| part.bytes().any(|byte| byte != b'0');
    matches!(
        parts.as_slice(),
        [version, trace_id, parent_id, flags]
            if *version == "00"
                && hex(trace_id, 32)
                && hex(parent_id, 16)
                && hex(flags, 2)
                && not_zero(trace_id)
                && not_zero(parent_id)
    )
}

impl From<proto::TraceContext> for TraceContext {
    fn from(context: proto::TraceContext) -> Self {
        Self {
            traceparent: context.traceparent,
            tracestate: context.tracestate,
        }
    }
}

impl From<TraceContext> for proto::TraceContext {
    fn from(context: TraceContext) -> Self {
        Self {
            traceparent: context.traceparent,
            tracestate: context.tracestate,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn metadata(headers: &[(&'static str, &'static str)]) -> MetadataMap {
        let mut map = MetadataMap::new();
        for (name, value) in headers {
            map.insert(*name, value.parse().expect("an ASCII header value"));
        }
        map
    }

    #[test]
    fn reads_the_w3c_headers() {
        let context = TraceContext::from_metadata(&metadata(&[
            ("traceparent", PARENT),
            ("tracestate", "a=1"),
        ]));
        assert_eq!(context.traceparent, PARENT);
        assert_eq!(context.tracestate, "a=1");
        assert_eq!(
            TraceContext::from_metadata(&metadata(&[])),
            TraceContext::default()
        );
    }

    #[test]
    fn converts_to_an_opentelemetry_parent_and_back() {
        let context = TraceContext {
            traceparent: PARENT.to_owned(),
            tracestate: "a=1".to_owned(),
        };
        let otel = context.to_otel();
        let span = otel.span();
        let parent = span.span_context();
        assert!(parent.is_remote() && parent.is_sampled());
        assert_eq!(
            parent.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(TraceContext::from_otel(&otel), context);
        assert_eq!(
            TraceContext::from_otel(&TraceContext::default().to_otel()),
            TraceContext::default()
        );
    }

    #[test]
    fn an_empty_context_gives_way() {
        let given = TraceContext {
            traceparent: PARENT.to_owned(),
            tracestate: String::new(),
        };
        assert_eq!(TraceContext::default().or(given.clone()), given);
        assert_eq!(given.clone().or(TraceContext::default()), given);
        // Nothing is exported in unit tests, so no span has a context.
        assert!(TraceContext::current().is_empty());
    }

    #[test]
    fn drops_a_malformed_parent_and_its_state() {
        for bad in [
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "garbage",
        ] {
            let context = TraceContext::from_metadata(&metadata(&[
                ("traceparent", bad),
                ("tracestate", "a=1"),
            ]));
            assert_eq!(context, TraceContext::default(), "{bad}");
        }
    }
}
