//! Calls through [`familybridge_runtime::TracedChannel`] survive a peer that is briefly not there:
//! a server that starts a moment after the call is made still answers it, and an answer that is not
//! worth retrying comes back as it was; an answer cut off after its headers (a peer dying
//! mid-answer) is asked for again.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use familybridge_proto::simulation::v1::clock_client::ClockClient;
use familybridge_proto::simulation::v1::{CurrentDateRequest, CurrentDateResponse};
use http_body::Frame;
use http_body_util::StreamBody;
use prost::Message;

use familybridge_runtime::{CancellationToken, GrpcHost, Identity, traced};
use tonic::Code;
use tonic::transport::Endpoint;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_made_before_its_server_is_up_is_answered_once_it_is() {
    // A port that is free now: nothing listens until the server below starts on it.
    let vacant = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let address = vacant.local_addr().expect("its address");
    drop(vacant);
    let stop = CancellationToken::new();
    let server = {
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let listener = tokio::net::TcpListener::bind(address)
                .await
                .expect("bind the port again");
            GrpcHost::new("retry-test")
                .serve(listener, stop.cancelled_owned())
                .await
                .expect("the server runs");
        })
    };
    let channel = Endpoint::from_shared(format!("http://{address}"))
        .expect("a URL")
        .connect_lazy();
    let mut health = HealthClient::new(traced(channel, Identity::Simulation));

    let answer = health
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("answered once the server is up, though the first attempts were refused");
    assert_eq!(answer.into_inner().status, 1, "SERVING");

    // A refusal is an answer, not an outage: it comes back as it is.
    let status = health
        .check(HealthCheckRequest {
            service: "no.such.Service".to_owned(),
        })
        .await
        .expect_err("an unknown service is not served");
    assert_eq!(status.code(), Code::NotFound);

    stop.cancel();
    server.await.expect("the server stops");
}

/// A Clock server whose first answer is cut off after its headers, as a peer killed mid-answer
/// cuts it off; every later call is answered whole.
#[derive(Clone)]
struct CutOffOnce {
    calls: Arc<AtomicUsize>,
}

impl tonic::server::NamedService for CutOffOnce {
    const NAME: &'static str = "familybridge.simulation.v1.Clock";
}

impl tower_service::Service<http::Request<tonic::body::Body>> for CutOffOnce {
    type Response = http::Response<tonic::body::Body>;
    type Error = std::convert::Infallible;
    type Future = std::future::Ready<Result<Self::Response, Self::Error>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: http::Request<tonic::body::Body>) -> Self::Future {
        let first = self.calls.fetch_add(1, Ordering::SeqCst) == 0;
        let message = CurrentDateResponse {
            current_date: "2025-04-06".to_owned(),
        }
        .encode_to_vec();
        let mut framed = vec![0];
        framed.extend_from_slice(&u32::try_from(message.len()).expect("small").to_be_bytes());
        framed.extend_from_slice(&message);
        let frames: Vec<Result<Frame<Bytes>, tonic::Status>> = if first {
            // The headers and the start of the message go out, and have arrived by the time the
            // stream breaks.
            let (send, frames) = tokio::sync::mpsc::channel(2);
            let start = Bytes::copy_from_slice(&framed[..3]);
            tokio::spawn(async move {
                let _ = send.send(Ok(Frame::data(start))).await;
                tokio::time::sleep(Duration::from_millis(200)).await;
                let _ = send
                    .send(Err(tonic::Status::internal("the peer died mid-answer")))
                    .await;
            });
            let body = tonic::body::Body::new(StreamBody::new(
                tokio_stream::wrappers::ReceiverStream::new(frames),
            ));
            return std::future::ready(Ok(grpc_response(body)));
        } else {
            let mut trailers = http::HeaderMap::new();
            trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
            vec![
                Ok(Frame::data(Bytes::from(framed))),
                Ok(Frame::trailers(trailers)),
            ]
        };
        let body = tonic::body::Body::new(StreamBody::new(tokio_stream::iter(frames)));
        std::future::ready(Ok(grpc_response(body)))
    }
}

/// A gRPC answer with `body`.
fn grpc_response(body: tonic::body::Body) -> http::Response<tonic::body::Body> {
    http::Response::builder()
        .header("content-type", "application/grpc")
        .body(body)
        .expect("a response")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_cut_off_after_its_headers_is_asked_for_again() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let address = listener.local_addr().expect("its address");
    let calls = Arc::new(AtomicUsize::new(0));
    let stop = CancellationToken::new();
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(CutOffOnce {
                calls: calls.clone(),
            })
            .serve_with_incoming_shutdown(
                tonic::transport::server::TcpIncoming::from(listener),
                stop.clone().cancelled_owned(),
            ),
    );
    let channel = Endpoint::from_shared(format!("http://{address}"))
        .expect("a URL")
        .connect_lazy();
    let answer = ClockClient::new(traced(channel, Identity::Simulation))
        .current_date(CurrentDateRequest {})
        .await
        .expect("answered whole on the second attempt");
    assert_eq!(answer.into_inner().current_date, "2025-04-06");
    assert_eq!(calls.load(Ordering::SeqCst), 2, "asked twice");
    stop.cancel();
    server
        .await
        .expect("the server task")
        .expect("the server stops");
}
