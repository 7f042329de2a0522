//! The codec every generated client and server uses: prost's, with the bounds every request keeps
//! checked as it is decoded (`validate::bounds_problem`). So each RPC of every service — commands,
//! batches, reads, subscriptions, clock moves — refuses an over-long string, a control character
//! or an over-long list with `INVALID_ARGUMENT` naming the field, before any handler runs, in one
//! place rather than in each handler. Requests are the messages named `…Request` (the APIs'
//! naming rule); answers and events, which the services write themselves, are decoded as prost
//! decodes them.

use std::marker::PhantomData;

use prost::bytes::Buf;
use prost::{Message, Name};
use tonic::Status;
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder};
use tonic_prost::{ProstDecoder, ProstEncoder};

use crate::validate;

/// prost's codec, with every request's bounds checked as it is decoded.
#[derive(Debug, Clone, Copy)]
pub struct BoundedCodec<T, U>(PhantomData<(T, U)>);

impl<T, U> Default for BoundedCodec<T, U> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<T, U> Codec for BoundedCodec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Name + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = BoundedDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstEncoder::new(BufferSettings::default())
    }

    fn decoder(&mut self) -> Self::Decoder {
        BoundedDecoder(PhantomData)
    }
}

/// Decodes a message as prost does, then (for a request) checks its bounds.
#[derive(Debug)]
pub struct BoundedDecoder<U>(PhantomData<U>);

impl<U: Message + Name + Default> Decoder for BoundedDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        if !U::NAME.ends_with("Request") {
            return ProstDecoder::<U>::new(BufferSettings::default()).decode(buf);
        }
        let encoded = buf.copy_to_bytes(buf.remaining());
        if let Some(problem) = validate::bounds_problem(&U::full_name(), &encoded) {
            return Err(Status::invalid_argument(problem));
        }
        U::decode(encoded).map(Some).map_err(|error| {
            Status::invalid_argument(format!("the request does not decode: {error}"))
        })
    }

    fn buffer_settings(&self) -> BufferSettings {
        BufferSettings::default()
    }
}
