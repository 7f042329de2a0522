//! Any RPC called by its path with the request's encoded bytes, as a reflection-driven client
//! would, and as any identity (or none) — how the tests reach every RPC the descriptors list — and
//! every service's access rules together, to know whom each RPC allows.

use familybridge_runtime::{IDENTITY_HEADER, Identity};
use prost::bytes::{Buf, BufMut, Bytes};
use prost_reflect::MethodDescriptor;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Channel;

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

/// Calls `method` over `channel` with the encoded request `body`, as `caller` (`None`: without an
/// identity). A server-streaming call counts as answered once its stream opens.
pub async fn call(
    channel: &Channel,
    method: &MethodDescriptor,
    body: Vec<u8>,
    caller: Option<Identity>,
) -> Result<(), tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready().await.expect("ready");
    let path = format!("/{}/{}", method.parent_service().full_name(), method.name())
        .parse()
        .expect("a path");
    let mut request = tonic::Request::new(Bytes::from(body));
    if let Some(caller) = caller {
        request.metadata_mut().insert(
            IDENTITY_HEADER,
            caller.as_str().parse().expect("an identity is ASCII"),
        );
    }
    if method.is_server_streaming() {
        grpc.server_streaming(request, path, RawCodec)
            .await
            .map(|_| ())
    } else {
        grpc.unary(request, path, RawCodec).await.map(|_| ())
    }
}

/// Every service's access rules together: who may call each RPC of any of them.
pub fn every_policy() -> familybridge_runtime::AccessPolicy {
    use familybridge_runtime::AccessPolicy;
    AccessPolicy::combine(
        [
            familybridge_runtime::access::CLOCK_ACCESS_POLICY,
            familybridge_feed::ACCESS_POLICY,
            court_registry::ACCESS_POLICY,
            cms_calculation::ACCESS_POLICY,
            referral_hub::ACCESS_POLICY,
        ]
        .map(|text| AccessPolicy::from_toml_str(text).expect("a valid policy")),
    )
}
