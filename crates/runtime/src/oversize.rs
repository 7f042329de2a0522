//! An over-size request answered as what it is: `RESOURCE_EXHAUSTED`.
//!
//! tonic refuses a message longer than the server's limit (4 MiB) before any handler sees it, but
//! answers `OUT_OF_RANGE`, which says "a value outside its range" — a client would look for a bad
//! field. This layer, around every familybridge server, rewrites exactly that refusal (a
//! trailers-only answer whose message is tonic's "decoded message length too large") to
//! `RESOURCE_EXHAUSTED`, the status gRPC defines for a request too large to take; every other
//! answer passes untouched.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::HeaderValue;

/// tonic's message for a request over the size limit, as it appears in `grpc-message` (with
/// spaces percent-encoded, or not).
const TOO_LARGE: [&str; 2] = [
    "decoded message length too large",
    "decoded%20message%20length%20too%20large",
];

/// The layer: see the module's documentation.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct OversizeLayer;

impl<S> tower_layer::Layer<S> for OversizeLayer {
    type Service = Oversize<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Oversize { inner }
    }
}

/// A server whose over-size refusals say `RESOURCE_EXHAUSTED`.
#[derive(Debug, Clone)]
pub(crate) struct Oversize<S> {
    inner: S,
}

impl<S, B, R> tower_service::Service<http::Request<B>> for Oversize<S>
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
        let call = self.inner.call(request);
        Box::pin(async move {
            let mut response = call.await?;
            let headers = response.headers();
            let out_of_range = headers
                .get("grpc-status")
                .is_some_and(|status| status.as_bytes() == b"11");
            let too_large = headers
                .get("grpc-message")
                .and_then(|message| message.to_str().ok())
                .is_some_and(|message| TOO_LARGE.iter().any(|text| message.contains(text)));
            if out_of_range && too_large {
                response
                    .headers_mut()
                    .insert("grpc-status", HeaderValue::from_static("8"));
            }
            Ok(response)
        })
    }
}
