//! The `court-registry` binary: the family-court orders registry as a standalone gRPC server.

use std::process::ExitCode;

use clap::Parser;
use court_registry::{Config, DEFAULT_ADDRESS, SERVICE_NAME, serve};
use familybridge_runtime::{ServiceArgs, ServiceError, bind, run_main, termination_signal};

/// The family-court orders registry of the familybridge simulator.
#[derive(Debug, Parser)]
#[command(name = SERVICE_NAME, version)]
struct Args {
    #[command(flatten)]
    service: ServiceArgs,
}

fn main() -> ExitCode {
    run_main(async {
        let args = Args::parse();
        let config = Config {
            database_url: args.service.database_url(SERVICE_NAME)?,
        };
        let listener = bind(args.service.listen_address(DEFAULT_ADDRESS)).await?;
        serve(config, listener, termination_signal()).await?;
        Ok::<(), ServiceError>(())
    })
}
