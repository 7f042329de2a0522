//! The `otlp-sink` binary: an OTLP/gRPC receiver that appends every span it is sent to a file,
//! one JSON line each (`{"service_name":…,"trace_id":…,"span_id":…,"parent_span_id":…,"name":…}`),
//! flushed after each export, and answers `grpc.health.v1` on the same port. It stands in for a
//! collector where none can be had (the compose demo's offline test), and prints the address it
//! listens on once it does.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use familybridge_otlp_sink::{SERVICE_NAME, SinkError, serve};
use familybridge_runtime::{run_main, termination_signal};
use tokio::net::TcpListener;

/// An OTLP/gRPC receiver that writes the spans it receives as JSON lines.
#[derive(Debug, Parser)]
#[command(name = SERVICE_NAME, version)]
struct Args {
    /// Address to receive OTLP/gRPC exports (and health checks) on.
    #[arg(long, default_value = "0.0.0.0:4317")]
    listen: SocketAddr,
    /// File to append each span to, as one JSON line (created if missing).
    #[arg(long)]
    out: PathBuf,
}

fn main() -> ExitCode {
    run_main(SERVICE_NAME, async {
        let args = Args::parse();
        let bind_error = |source| SinkError::Bind {
            address: args.listen.to_string(),
            source,
        };
        let listener = TcpListener::bind(args.listen).await.map_err(bind_error)?;
        let address = listener.local_addr().map_err(bind_error)?;
        println!(
            "otlp-sink listening on {address}, writing spans to {}",
            args.out.display()
        );
        serve(listener, &args.out, termination_signal()).await
    })
}
