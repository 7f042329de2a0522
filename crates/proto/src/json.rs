//! The proto3 JSON mapping for familybridge messages.
//!
//! Clients outside Rust (and the `familybridge calc --request` command) speak the canonical proto3
//! JSON form of our messages. Rather than hand-write serde impls that could drift from the protos, we
//! read the descriptor set the build produced and let prost-reflect apply the standard mapping.

use std::sync::OnceLock;

use prost_reflect::{DescriptorPool, DynamicMessage, SerializeOptions};

/// Why a JSON document could not be turned into a message, or a message into JSON.
#[derive(Debug, thiserror::Error)]
pub enum JsonError {
    /// The document is not valid proto3 JSON for the message.
    #[error("not a valid {message} in proto3 JSON: {source}")]
    Invalid {
        /// The full name of the expected message.
        message: String,
        /// What the parser found wrong.
        source: serde_json::Error,
    },
    /// The message type is not in the familybridge descriptor set (a build defect).
    #[error("message type {0} is not in the familybridge descriptor set")]
    UnknownMessage(String),
    /// The parsed message could not be converted to the generated Rust type.
    #[error("could not convert {message}: {source}")]
    Convert {
        /// The full name of the message.
        message: String,
        /// The decoding error.
        source: prost::DecodeError,
    },
}

/// The descriptor pool of every familybridge proto, decoded once.
pub fn descriptor_pool() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        // The bytes were produced by our own build script from protox's output; failing to decode
        // them is a broken build, not a runtime condition.
        #[allow(clippy::expect_used)]
        DescriptorPool::decode(crate::FILE_DESCRIPTOR_SET)
            .expect("the embedded descriptor set decodes")
    })
}

/// Parses the proto3 JSON form of message `T`.
pub fn from_json<T>(json: &str) -> Result<T, JsonError>
where
    T: prost::Message + prost::Name + Default,
{
    let name = T::full_name();
    let descriptor = descriptor_pool()
        .get_message_by_name(&name)
        .ok_or_else(|| JsonError::UnknownMessage(name.clone()))?;
    let mut deserializer = serde_json::Deserializer::from_str(json);
    let dynamic = DynamicMessage::deserialize(descriptor, &mut deserializer)
        .and_then(|message| deserializer.end().map(|()| message))
        .map_err(|source| JsonError::Invalid {
            message: name.clone(),
            source,
        })?;
    dynamic
        .transcode_to::<T>()
        .map_err(|source| JsonError::Convert {
            message: name,
            source,
        })
}

/// Writes message `T` in proto3 JSON, pretty-printed, with every field shown (including those
/// holding their default value) so that a reader sees the whole shape.
pub fn to_json<T>(message: &T) -> Result<String, JsonError>
where
    T: prost::Message + prost::Name,
{
    let name = T::full_name();
    let descriptor = descriptor_pool()
        .get_message_by_name(&name)
        .ok_or_else(|| JsonError::UnknownMessage(name.clone()))?;
    let mut dynamic = DynamicMessage::new(descriptor);
    dynamic
        .transcode_from(message)
        .map_err(|source| JsonError::Convert {
            message: name.clone(),
            source,
        })?;
    let options = SerializeOptions::new().skip_default_fields(false);
    let mut out = Vec::new();
    let mut serializer = serde_json::Serializer::pretty(&mut out);
    dynamic
        .serialize_with_options(&mut serializer, &options)
        .map_err(|source| JsonError::Invalid {
            message: name,
            source,
        })?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}
