//! The W3C trace context an event carries, so that one family's journey (a court order, the CMS
//! recalculation it causes, the hub's referral) is one trace even across the asynchronous feed.

use familybridge_proto::common::v1 as proto;
use tonic::metadata::MetadataMap;

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
        let header = |name: &str| {
            metadata
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::trim)
                .unwrap_or_default()
                .to_owned()
        };
        let traceparent = header("traceparent");
        if !is_valid_traceparent(&traceparent) {
            return Self::default();
        }
        Self {
            traceparent,
            tracestate: header("tracestate"),
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
