//! Retrying calls that met a peer that was briefly not there: the layer under every familybridge
//! client ([`crate::TracedChannel`]).
//!
//! A call is tried again, after a capped exponential backoff with jitter, when it could not
//! be carried (a transport error: connection refused or reset, a service restarting) or when the
//! peer answered `UNAVAILABLE`. That is safe because every call a familybridge client makes can be
//! repeated: commands carry their idempotent `client_request_id`, reads and clock moves change
//! nothing twice. Every other answer — a refusal by a rule included — comes back at once. The
//! request's body (one message: no client streams anywhere) is held so it can be sent again.
//!
//! A peer can also die after its answer has begun: the headers arrived, the message or the
//! trailers never will. For a familybridge RPC that answers one message (every one but the feed's
//! `Subscribe`, as the protos say), the layer reads the whole answer before handing it on, so such
//! a call is tried again like any other that met a missing peer. A stream is handed on as it comes:
//! its reader resumes it from its cursor.

use std::collections::HashSet;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::OnceLock;
use std::task::{Context, Poll};
use std::time::Duration;

use http_body_util::BodyExt;
use tonic::body::Body;

/// Attempts in all, the first included.
const ATTEMPTS: u32 = 10;
/// The first pause's ceiling; each later one doubles, up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(50);
/// The longest pause: with [`ATTEMPTS`], pauses of between about seven and fifteen seconds in all
/// (the jitter draws each from the upper half of its ceiling) — time for a service to restart, or
/// for its database to come back.
const MAX_PAUSE: Duration = Duration::from_secs(4);

/// A failure the caller sees once the attempts are spent (or at once, if not worth retrying).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A client service that tries a call again while its peer is unavailable.
#[derive(Debug, Clone)]
pub struct Retrying<S> {
    inner: S,
}

impl<S> Retrying<S> {
    /// Retries the calls made through `inner`.
    pub fn new(inner: S) -> Self {
        Self { inner }
    }
}

impl<S, B> tower_service::Service<http::Request<Body>> for Retrying<S>
where
    S: tower_service::Service<http::Request<Body>, Response = http::Response<B>>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
    S::Error: Into<BoxError> + Send,
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = http::Response<Body>;
    type Error = BoxError;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>,
    >;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        // The service made ready is the one to call first; a fresh clone for any later attempt.
        let ready = self.inner.clone();
        let mut first = std::mem::replace(&mut self.inner, ready);
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let bytes = body.collect().await?.to_bytes();
            let again = |parts: &http::request::Parts| {
                let mut request = http::Request::new(Body::new(
                    http_body_util::Full::new(bytes.clone()).map_err(|never| match never {}),
                ));
                *request.method_mut() = parts.method.clone();
                *request.uri_mut() = parts.uri.clone();
                *request.version_mut() = parts.version;
                *request.headers_mut() = parts.headers.clone();
                *request.extensions_mut() = parts.extensions.clone();
                request
            };
            let whole = answers_one_message(parts.uri.path());
            let mut pause = FIRST_PAUSE;
            let mut attempt = 1;
            let mut outcome = answer(first.call(again(&parts)).await, whole).await;
            loop {
                let worth_retrying = match &outcome {
                    Ok(response) => unavailable(response),
                    Err(_) => true,
                };
                if !worth_retrying || attempt == ATTEMPTS {
                    return outcome;
                }
                tracing::debug!(attempt, uri = %parts.uri, "peer unavailable; trying again");
                tokio::time::sleep(jittered(pause)).await;
                pause = (pause * 2).min(MAX_PAUSE);
                attempt += 1;
                let mut service = first.clone();
                std::future::poll_fn(|cx| service.poll_ready(cx))
                    .await
                    .map_err(Into::into)?;
                outcome = answer(service.call(again(&parts)).await, whole).await;
            }
        })
    }
}

/// The answer to hand on: read whole first if `whole` (a one-message RPC), so that an answer cut
/// off by a dying peer is an error here, where the call can be tried again.
async fn answer<B, E>(
    outcome: Result<http::Response<B>, E>,
    whole: bool,
) -> Result<http::Response<Body>, BoxError>
where
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
    E: Into<BoxError>,
{
    let response = outcome.map_err(Into::into)?;
    if !whole {
        return Ok(response.map(Body::new));
    }
    let (parts, body) = response.into_parts();
    let collected = body.collect().await.map_err(Into::into)?;
    let trailers = collected.trailers().cloned();
    let body = http_body_util::Full::new(collected.to_bytes())
        .map_err(|never| match never {})
        .with_trailers(async move { trailers.map(Ok) });
    Ok(http::Response::from_parts(parts, Body::new(body)))
}

/// Whether the familybridge RPC at `path` (`/package.Service/Method`) answers one message. Other
/// paths (health, reflection) are not looked into: they are handed on as they come.
fn answers_one_message(path: &str) -> bool {
    static ONE_MESSAGE: OnceLock<HashSet<String>> = OnceLock::new();
    ONE_MESSAGE
        .get_or_init(|| {
            familybridge_proto::json::descriptor_pool()
                .services()
                .flat_map(|service| service.methods().collect::<Vec<_>>())
                .filter(|method| !method.is_server_streaming())
                .map(|method| format!("/{}/{}", method.parent_service().full_name(), method.name()))
                .collect()
        })
        .contains(path)
}

/// Whether the peer answered UNAVAILABLE (a trailers-only answer: the status is in the headers).
fn unavailable<B>(response: &http::Response<B>) -> bool {
    response
        .headers()
        .get("grpc-status")
        .is_some_and(|status| status.as_bytes() == b"14")
}

/// A pause between half of `ceiling` and all of it. The jitter spreads callers that failed together
/// over the upper half, so they do not retry together; the fixed half keeps the attempts' pauses
/// adding up to at least half of their ceilings (about seven seconds), however the draws fall.
/// (With full jitter, from zero to the ceiling, ten unlucky draws could spend every attempt inside
/// a two-second outage: a run whose database connections were cut now and then failed that way.)
fn jittered(ceiling: Duration) -> Duration {
    // Timing only, never a result: the standard library's per-process random hash keys suffice.
    let random = RandomState::new().hash_one(std::time::Instant::now());
    let fraction = (random % 1_000) as f64 / 1_000.0;
    ceiling.mul_f64(0.5 + fraction / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pause_is_between_half_its_ceiling_and_all_of_it() {
        let ceiling = Duration::from_millis(800);
        for _ in 0..1_000 {
            let pause = jittered(ceiling);
            assert!(
                pause >= ceiling / 2 && pause <= ceiling,
                "{pause:?} of {ceiling:?}"
            );
        }
    }

    #[test]
    fn the_attempts_pause_for_at_least_seven_seconds_in_all() {
        let mut ceiling = FIRST_PAUSE;
        let mut least = Duration::ZERO;
        for _ in 1..ATTEMPTS {
            least += ceiling / 2;
            ceiling = (ceiling * 2).min(MAX_PAUSE);
        }
        assert!(least >= Duration::from_secs(7), "{least:?}");
    }
}
