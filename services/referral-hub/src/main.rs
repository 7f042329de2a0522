//! The `referral-hub` binary: the referral hub as a standalone gRPC server.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use familybridge_casework::CourtOrderRoute;
use familybridge_feed::DataSharingAgreements;
use familybridge_runtime::{
    AgencyId, ServiceArgs, ServiceError, bind, run_main, termination_signal,
};
use referral_hub::{
    Config, DEFAULT_ADDRESS, DEFAULT_HUB_SETTINGS, SERVICE_NAME, default_agreements, serve,
    settings_from_toml,
};

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
    /// The hub's rules for the scenario (TOML, as services/referral-hub/hub-settings.toml)
    /// [default: every lever off].
    #[arg(long, env = "HUB_SETTINGS")]
    hub_settings: Option<PathBuf>,
    /// How court orders reach the CMS, as the CMS is set up: on the manual route the hub passes on
    /// the decision of a reviewed application [default: manual, or the settings file's].
    #[arg(long, env = "HUB_COURT_ORDERS", value_enum)]
    court_orders: Option<CourtOrderRoute>,
    /// Data-sharing agreements (TOML) for the hub's event feed [default: the built-in ones,
    /// services/referral-hub/data-sharing.toml].
    #[arg(long, env = "DATA_SHARING_FILE")]
    data_sharing: Option<PathBuf>,
}

fn read(path: &PathBuf) -> Result<String, ServiceError> {
    std::fs::read_to_string(path).map_err(|error| {
        ServiceError::Configuration(format!("cannot read {}: {error}", path.display()))
    })
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(probed) = args.service.probe_if_asked(SERVICE_NAME, DEFAULT_ADDRESS) {
        return probed;
    }
    run_main(SERVICE_NAME, async move {
        let mut settings = match &args.hub_settings {
            None => settings_from_toml(DEFAULT_HUB_SETTINGS)?,
            Some(path) => settings_from_toml(&read(path)?)?,
        };
        if let Some(route) = args.court_orders {
            settings.court_orders = route;
        }
        let data_sharing = match &args.data_sharing {
            None => default_agreements()?,
            Some(path) => DataSharingAgreements::from_toml_file(path)
                .map_err(|error| ServiceError::Configuration(error.to_string()))?,
        };
        let config = Config {
            database_url: args.service.database_url(SERVICE_NAME)?,
            court_registry_url: args.court_registry_url,
            cms_url: args.cms_url,
            settings,
            data_sharing,
            network: args.service.network(AgencyId::ReferralHub.into())?,
        };
        let listener = bind(args.service.listen_address(DEFAULT_ADDRESS)).await?;
        serve(config, listener, termination_signal()).await?;
        Ok::<(), ServiceError>(())
    })
}
