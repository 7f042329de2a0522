//! Every RPC of every service, as server reflection's descriptors list them, sent hostile values
//! — every string field over-long, then every string field holding a control character, then
//! every repeated field over-long — answers a client error naming a field, never a server error;
//! and every service is still serving afterwards.

mod support;

use familybridge_proto::json::descriptor_pool;
use prost::Message;
use prost::bytes::{Buf, BufMut, Bytes};
use prost_reflect::{DynamicMessage, Kind, MessageDescriptor, Value};
use tonic::Code;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Channel;

use support::{interrupt, start_up};

/// Sends and receives messages as the bytes they are, so that any RPC can be called.
#[derive(Debug, Clone, Copy, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawCodec;
    type Decoder = RawCodec;
    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }
    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Bytes;
    type Error = tonic::Status;
    fn encode(&mut self, item: Bytes, buf: &mut EncodeBuf<'_>) -> Result<(), Self::Error> {
        buf.put(item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Bytes;
    type Error = tonic::Status;
    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Self::Error> {
        Ok(Some(buf.copy_to_bytes(buf.remaining())))
    }
}

/// The ways a request is made hostile.
#[derive(Debug, Clone, Copy)]
enum Hostile {
    /// Every string field 5,000 characters long.
    LongStrings,
    /// Every string field holding a NUL and a bidirectional override.
    ControlCharacters,
    /// Every repeated field holding 5,000 values.
    LongLists,
}

/// A message of type `descriptor` with every field made hostile, nested messages one level down
/// included.
fn hostile(descriptor: &MessageDescriptor, how: Hostile, depth: usize) -> DynamicMessage {
    let mut message = DynamicMessage::new(descriptor.clone());
    for field in descriptor.fields() {
        let one = match field.kind() {
            Kind::String => Some(Value::String(match how {
                Hostile::LongStrings => "x".repeat(5_000),
                Hostile::ControlCharacters => "CMS-1\0\u{202e}".to_owned(),
                Hostile::LongLists => "CMS-1".to_owned(),
            })),
            Kind::Message(inner) if depth < 2 => {
                Some(Value::Message(hostile(&inner, how, depth + 1)))
            }
            _ => None,
        };
        let Some(one) = one else { continue };
        if field.is_list() {
            let count = match how {
                Hostile::LongLists => 5_000,
                _ => 1,
            };
            message.set_field(&field, Value::List(vec![one; count]));
        } else if !field.is_map() && !matches!(how, Hostile::LongLists) {
            message.set_field(&field, one);
        }
    }
    message
}

/// The codes a server answers with that are its own failures, not the client's.
fn is_server_error(code: Code) -> bool {
    matches!(
        code,
        Code::Internal | Code::Unknown | Code::DataLoss | Code::Unavailable | Code::Unimplemented
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rpc_refuses_over_long_and_malformed_values_as_the_clients_error() {
    let data = tempfile::tempdir().expect("a folder");
    let (child, addresses) = start_up(data.path(), &[]);
    let mut channels = Vec::new();
    for address in &addresses {
        let channel = Channel::from_shared(format!("http://{address}"))
            .expect("a URL")
            .connect()
            .await
            .expect("connect");
        channels.push(channel);
    }
    let mut checked = 0;
    for service in descriptor_pool().services() {
        for method in service.methods() {
            for how in [
                Hostile::LongStrings,
                Hostile::ControlCharacters,
                Hostile::LongLists,
            ] {
                let request = hostile(&method.input(), how, 0);
                let path = format!("/{}/{}", service.full_name(), method.name());
                let mut answers = Vec::new();
                for channel in &channels {
                    let mut grpc = tonic::client::Grpc::new(channel.clone());
                    grpc.ready().await.expect("ready");
                    let body = Bytes::from(request.encode_to_vec());
                    let path = path.parse().expect("a path");
                    let answer = if method.is_server_streaming() {
                        grpc.server_streaming(tonic::Request::new(body), path, RawCodec)
                            .await
                            .map(|_| ())
                    } else {
                        grpc.unary(tonic::Request::new(body), path, RawCodec)
                            .await
                            .map(|_| ())
                    };
                    answers.push(answer);
                }
                // Each service is served by one of the three (the shared ones by all): there, the
                // request is refused as the client's error, naming what is wrong.
                let refusals: Vec<&tonic::Status> = answers
                    .iter()
                    .filter_map(|answer| answer.as_ref().err())
                    .filter(|status| status.code() != Code::Unimplemented)
                    .collect();
                // (A request with no field to make hostile, such as a clock's read, is answered.)
                let has_hostile_field = request.fields().next().is_some();
                assert!(
                    !refusals.is_empty() || !has_hostile_field,
                    "{path} ({how:?}) was accepted by the server that serves it: {answers:?}"
                );
                for status in refusals {
                    assert!(
                        !is_server_error(status.code()),
                        "{path} ({how:?}) answered a server error: {status:?}"
                    );
                    assert!(
                        status.message().len() < 400,
                        "{path} ({how:?}) echoed the value: {} characters",
                        status.message().len()
                    );
                }
                checked += usize::from(has_hostile_field);
            }
        }
    }
    assert!(checked > 60, "only {checked} RPCs checked");
    for address in &addresses {
        familybridge_runtime::check_serving(
            &format!("http://{address}"),
            familybridge_runtime::PROBE_TIMEOUT,
        )
        .await
        .expect("still serving");
    }
    interrupt(&child);
}
