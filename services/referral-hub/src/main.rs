//! The `referral-hub` binary: the referral hub as a standalone gRPC server.

use std::process::ExitCode;

use clap::Parser;
use familybridge_runtime::{ServiceArgs, ServiceError, bind, run_main, termination_signal};
use referral_hub::{Config, DEFAULT_ADDRESS, SERVICE_NAME, serve};

/// The referral hub of the familybridge simulator.
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
    /// The CMS's gRPC address.
    #[arg(long, env = "CMS_URL", default_value = "http://127.0.0.1:50052")]
    cms_url: String,
}

fn main() -> ExitCode {
    run_main(async {
        let args = Args::parse();
        let config = Config {
            database_url: args.service.database_url(SERVICE_NAME)?,
            court_registry_url: args.court_registry_url,
            cms_url: args.cms_url,
        };
        let listener = bind(args.service.listen_address(DEFAULT_ADDRESS)).await?;
        serve(config, listener, termination_signal()).await?;
        Ok::<(), ServiceError>(())
    })
}
