//! The `cms-calculation` binary: the Child Maintenance Service as a standalone gRPC server.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use cms_calculation::{
    CmsError, Config, CourtOrderRoute, DEFAULT_ADDRESS, SERVICE_NAME, case_settings_from_toml,
    default_agreements, parameters_with_proposals, serve,
};
use familybridge_casework::{ActsOn, CaseSettings, NightsWithoutEvidence};
use familybridge_feed::DataSharingAgreements;
use familybridge_runtime::{ServiceArgs, ServiceError, bind, run_main, termination_signal};
use std::sync::Arc;

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
    /// The CMS's case rules for the scenario (TOML, as services/cms-calculation/case-settings.toml)
    /// [default: today's rules].
    #[arg(long, env = "CMS_CASE_SETTINGS")]
    case_settings: Option<PathBuf>,
    /// When the CMS acts while child-arrangements proceedings are pending [default: application,
    /// or the case settings file's].
    #[arg(long, env = "CMS_ACTS_ON", value_enum)]
    acts_on: Option<ActsOnArg>,
    /// The nights a year the CMS assumes when a parent's claim of shared care has no evidence
    /// [default: 52, or the case settings file's].
    #[arg(long, env = "CMS_NIGHTS_WITHOUT_EVIDENCE", value_enum)]
    nights_without_evidence: Option<NightsArg>,
    /// How court orders reach the CMS: reported by a parent, or by the court registry's feed.
    #[arg(long, env = "CMS_COURT_ORDERS", value_enum, default_value_t = RouteArg::Manual)]
    court_orders: RouteArg,
    /// A named proposal of the calculation's parameters to switch on, e.g. `fees-2027` (repeat for
    /// several) [default: none, the statutory parameters].
    #[arg(long = "proposal", env = "CMS_PROPOSALS", value_delimiter = ',')]
    proposals: Vec<String>,
    /// Data-sharing agreements (TOML) for the CMS's event feed [default: the built-in ones,
    /// services/cms-calculation/data-sharing.toml].
    #[arg(long, env = "DATA_SHARING_FILE")]
    data_sharing: Option<PathBuf>,
}

/// When the CMS acts.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ActsOnArg {
    /// On the application, as today.
    Application,
    /// Only once a final court order exists (delayed CMS involvement).
    FinalOrder,
    /// Only once a final court order exists, backdating liability to the application.
    FinalOrderBackdated,
}

/// How court orders reach the CMS.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum RouteArg {
    /// A parent reports the order, on the day they do.
    Manual,
    /// Automatic exchange: the CMS follows the court registry's feed.
    Automatic,
}

/// The nights assumed without evidence.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum NightsArg {
    /// 52 nights a year (2012 Regs reg 47), as today.
    #[value(name = "52")]
    Assume52,
    /// The presumption of equal parenting: equal care, nothing payable for the child.
    EqualCare,
}

fn main() -> ExitCode {
    run_main(SERVICE_NAME, async {
        let args = Args::parse();
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
            case_settings.acts_on = match acts_on {
                ActsOnArg::Application => ActsOn::Application,
                ActsOnArg::FinalOrder => ActsOn::FinalOrder { backdate: false },
                ActsOnArg::FinalOrderBackdated => ActsOn::FinalOrder { backdate: true },
            };
        }
        if let Some(nights) = args.nights_without_evidence {
            case_settings.nights_without_evidence = match nights {
                NightsArg::Assume52 => NightsWithoutEvidence::Assume52,
                NightsArg::EqualCare => NightsWithoutEvidence::EqualCare,
            };
        }
        let config = Config {
            database_url: args.service.database_url(SERVICE_NAME)?,
            court_registry_url: args.court_registry_url,
            case_settings,
            data_sharing,
            court_orders: match args.court_orders {
                RouteArg::Manual => CourtOrderRoute::Manual,
                RouteArg::Automatic => CourtOrderRoute::Automatic,
            },
            parameters: Arc::new(parameters_with_proposals(&args.proposals)?),
        };
        let listener = bind(args.service.listen_address(DEFAULT_ADDRESS)).await?;
        serve(config, listener, termination_signal()).await?;
        Ok::<(), CmsError>(())
    })
}
