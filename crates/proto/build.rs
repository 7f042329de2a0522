//! Compiles `proto/` at the workspace root into Rust without `protoc`: protox parses the files into
//! a descriptor set, which tonic-prost-build turns into message types, clients and servers. The
//! encoded descriptor set is also written out, because reflection and the JSON mapping need it and
//! `compile_fds` does not write it for us.

use std::path::{Path, PathBuf};

use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Read at run time, not baked in with env!: a cached build script may run for another checkout.
    let proto_root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let files = proto_files(&proto_root)?;
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
    }
    println!("cargo:rerun-if-changed={}", proto_root.display());

    let descriptors = protox::compile(&files, [&proto_root])?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out_dir.join("familybridge_descriptor.bin"),
        descriptors.encode_to_vec(),
    )?;

    // Type names let the JSON mapping find each message's descriptor by its full name.
    let mut config = tonic_prost_build::Config::new();
    config.enable_type_names();
    // Every request's bounds are checked as it is decoded (src/codec.rs).
    tonic_prost_build::configure()
        .codec_path("crate::codec::BoundedCodec")
        .build_client(true)
        .build_server(true)
        .compile_fds_with_config(descriptors, config)?;
    Ok(())
}

/// Every `.proto` file under `dir`, sorted so that builds are reproducible.
fn proto_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current)? {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|ext| ext == "proto") {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}
