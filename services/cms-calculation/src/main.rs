//! The `cms-calculation` binary: the Child Maintenance Service as a standalone gRPC server.
//!
//! Its levers are the domain's own types (`familybridge_casework::ActsOn` and the rest), so a flag
//! takes exactly the words a scenario file and `case-settings.toml` use.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use cms_calculation::{
    CmsError, Config, DEFAULT_ADDRESS, SERVICE_NAME, case_settings_from_toml, default_agreements,
    serve,
};
use familybridge_casework::{
    ActsOn, CaseSettings, CourtOrderRoute, FeeModel, NightsWithoutEvidence,
};
use familybridge_feed::{CommandSettings, DataSharingAgreements};
use familybridge_runtime::{
    AgencyId, ServiceArgs, ServiceError, bind, run_main, termination_signal,
};

/// The Child Maintenance Service of the familybridge simulator.
#[derive(Debug, Parser)]
#[command(name = SERVICE_NAME, version)]
struct Args {
    #[command(flatten)]
    service: ServiceArgs,
    #[command(flatten)]
    commands: CommandSettings,
    /// The court registry's gRPC address.
    #[arg(
        long,
        env = "COURT_REGISTRY_URL",
        default_value = "http://127.0.0.1:50051"
    )]
    court_registry_url: String,
    /// The CMS's policy for the scenario (TOML, as services/cms-calculation/case-settings.toml)
    /// [default: today's rules]. The lever flags below, when given, take precedence over it.
    #[arg(long, env = "CMS_CASE_SETTINGS")]
    case_settings: Option<PathBuf>,
    /// When the CMS acts while child-arrangements proceedings are pending [default: application,
    /// or the case settings file's].
    #[arg(long, env = "CMS_ACTS_ON", value_enum)]
    acts_on: Option<ActsOn>,
    /// How court orders reach the CMS: reported by a parent, or by the court registry's feed
    /// [default: manual, or the case settings file's].
    #[arg(long, env = "CMS_COURT_ORDERS", value_enum)]
    court_orders: Option<CourtOrderRoute>,
    /// The nights a year the CMS assumes when a parent's claim of shared care has no evidence
    /// [default: 52, or the case settings file's].
    #[arg(long, env = "CMS_NIGHTS_WITHOUT_EVIDENCE", value_enum)]
    nights_without_evidence: Option<NightsWithoutEvidence>,
    /// The collection-fee model [default: current, or the case settings file's].
    #[arg(long, env = "CMS_FEE_MODEL", value_enum)]
    fee_model: Option<FeeModel>,
    /// Data-sharing agreements (TOML) for the CMS's event feed [default: the built-in ones,
    /// services/cms-calculation/data-sharing.toml].
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
            Some(path) => DataSharingAgreements::from_toml_file(path)
                .map_err(|error| ServiceError::Configuration(error.to_string()))?,
        };
        let mut case_settings = match &args.case_settings {
            None => CaseSettings::default(),
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|error| {
                    ServiceError::Configuration(format!("cannot read {}: {error}", path.display()))
                })?;
                case_settings_from_toml(&text)?
            }
        };
        if let Some(acts_on) = args.acts_on {
            case_settings.acts_on = acts_on;
        }
        if let Some(route) = args.court_orders {
            case_settings.court_orders = route;
        }
        if let Some(nights) = args.nights_without_evidence {
            case_settings.nights_without_evidence = nights;
        }
        if let Some(fee_model) = args.fee_model {
            case_settings.fee_model = fee_model;
        }
        let config = Config {
            database_url: args.service.database_url(SERVICE_NAME)?,
            court_registry_url: args.court_registry_url,
            case_settings,
            data_sharing,
            commands: args.commands,
            network: args.service.network(AgencyId::Cms.into())?,
        };
        let listener = bind(args.service.listen_address(DEFAULT_ADDRESS)).await?;
        serve(config, listener, termination_signal()).await?;
        Ok::<(), CmsError>(())
    })
}
