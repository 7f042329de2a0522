//! The memory allocator of every familybridge binary: each service, the `familybridge` command
//! and the tests link this crate, so declaring it here declares it once for all of them.
//!
//! Why not the system's: a service answers a batch by decoding it, loading and saving hundreds of
//! cases and encoding the answers — many short-lived buffers, freed on other threads than the
//! ones that made them. Profiled through a national-caseload bench, glibc's malloc (its bin
//! consolidation and chunk unlinking above all) took about a sixth of the process's CPU;
//! mimalloc's thread-local free lists are made for that pattern. SQLite's own allocations still go
//! through the C library's malloc.

/// The allocator Rust allocations use.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
