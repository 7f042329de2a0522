//! The `court-registry` binary: the family-court orders registry as a standalone gRPC server.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use court_registry::{Config, DEFAULT_ADDRESS, SERVICE_NAME, default_agreements, serve};
use familybridge_feed::{CommandSettings, DataSharingAgreements};
use familybridge_runtime::{
    AgencyId, ServiceArgs, ServiceError, bind, run_main, termination_signal,
};

/// The family-court orders registry of the familybridge simulator.
#[derive(Debug, Parser)]
#[command(name = SERVICE_NAME, version)]
struct Args {
    #[command(flatten)]
    service: ServiceArgs,
    #[command(flatten)]
    commands: CommandSettings,
    /// Data-sharing agreements (TOML) for the registry's event feed [default: the built-in ones,
    /// services/court-registry/data-sharing.toml].
    #[arg(long, env = "DATA_SHARING_FILE")]
    data_sharing: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(probed) = args.service.probe_if_asked(SERVICE_NAME, DEFAULT_ADDRESS) {
        return probed;
    }
    run_main(SERVICE_NAME, async move {
        let data_sharing = match &args.data_sharing {
            None => default_agreements()?,
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|error| {
                    ServiceError::Configuration(format!("cannot read {}: {error}", path.display()))
                })?;
                DataSharingAgreements::from_toml_str(&text).map_err(|error| {
                    ServiceError::Configuration(format!("{}: {error}", path.display()))
                })?
            }
        };
        let config = Config {
            database_url: args.service.database_url(SERVICE_NAME)?,
            data_sharing,
            commands: args.commands,
            network: args.service.network(AgencyId::CourtRegistry.into())?,
        };
        let listener = bind(args.service.listen_address(DEFAULT_ADDRESS)).await?;
        serve(config, listener, termination_signal()).await?;
        Ok::<(), ServiceError>(())
    })
}
