//! The familybridge gRPC APIs as Rust types, clients and servers.
//!
//! `proto/` at the workspace root is the single source of truth; this crate compiles it at build
//! time with protox (no `protoc` needed). Each proto package becomes a module of the same path, so
//! `familybridge.cms.v1.CalculateRequest` is [`cms::v1::CalculateRequest`]. The encoded descriptor
//! set is exported for server reflection and for the proto3 JSON mapping in [`json`].
//!
//! Generated modules allow `missing_docs` (prost copies the proto comments, which document every
//! item, but not in a form the lint sees on every generated helper) and `large_enum_variant` (a
//! oneof's variants are whatever the proto says).

pub mod codec;
mod command;
pub mod json;
pub mod validate;

pub use command::{BatchEntry, CommandRequest};

/// The encoded `FileDescriptorSet` of every familybridge proto file, with source comments.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/familybridge_descriptor.bin"));

/// Types shared by every agency API (`familybridge.common.v1`).
pub mod common {
    /// Version 1.
    pub mod v1 {
        #![allow(missing_docs, clippy::large_enum_variant)]
        tonic::include_proto!("familybridge.common.v1");
    }
}

/// The family-court orders registry (`familybridge.court.v1`).
pub mod court {
    /// Version 1.
    pub mod v1 {
        #![allow(missing_docs, clippy::large_enum_variant)]
        tonic::include_proto!("familybridge.court.v1");
    }
}

/// The Child Maintenance Service (`familybridge.cms.v1`).
pub mod cms {
    /// Version 1.
    pub mod v1 {
        #![allow(missing_docs, clippy::large_enum_variant)]
        tonic::include_proto!("familybridge.cms.v1");
    }
}

/// The referral hub (`familybridge.referral.v1`).
pub mod referral {
    /// Version 1.
    pub mod v1 {
        #![allow(missing_docs, clippy::large_enum_variant)]
        tonic::include_proto!("familybridge.referral.v1");
    }
}

/// Simulated time, served by every service (`familybridge.simulation.v1`).
pub mod simulation {
    /// Version 1.
    pub mod v1 {
        #![allow(missing_docs, clippy::large_enum_variant)]
        tonic::include_proto!("familybridge.simulation.v1");
    }
}
