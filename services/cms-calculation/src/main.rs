//! The `cms-calculation` binary: the Child Maintenance Service as a standalone gRPC server.

use std::process::ExitCode;

use clap::Parser;
use cms_calculation::CmsError;
use cms_calculation::{Config, DEFAULT_ADDRESS, SERVICE_NAME, serve};
use familybridge_runtime::{ServiceArgs, bind, run_main, termination_signal};

/// The Child Maintenance Service of the familybridge simulator.
#[derive(Debug, Parser)]
#[command(name = SERVICE_NAME, version)]
struct Args {
    #[command(flatten)]
    service: ServiceArgs,
    /// The court registry's gRPC address.
    #[arg(
        long,
        env = "COURT_REGISTRY_URL",
        default_value = "http://127.0.0.1:50051"
    )]
    court_registry_url: String,
}

fn main() -> ExitCode {
    run_main(async {
        let args = Args::parse();
        let config = Config {
            database_url: args.service.database_url(SERVICE_NAME)?,
            court_registry_url: args.court_registry_url,
        };
        let listener = bind(args.service.listen_address(DEFAULT_ADDRESS)).await?;
        serve(config, listener, termination_signal()).await?;
        Ok::<(), CmsError>(())
    })
}
