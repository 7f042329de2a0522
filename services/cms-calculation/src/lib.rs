//! The Child Maintenance Service: the CMS side of the exchange.
//!
//! It works out child maintenance under the 2012 statutory scheme (the stateless
//! `familybridge.cms.v1.CalculationService`, in [`calculation`]), and keeps cases — liability over
//! simulated time, collection, arrears and enforcement — through `familybridge.cms.v1.CaseService`
//! ([`cases`]), publishing their events on its event feed under its data-sharing agreements
//! (`data-sharing.toml`).

pub mod calculation;
pub mod cases;

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use familybridge_calculation::ParameterBook;
use familybridge_casework::{CaseSettings, CourtOrderRoute, FeeModel};
use std::sync::Arc;

use familybridge_feed::{
    AgencyId, CommandSettings, DataSharingAgreements, Feed, FeedOptions, Following,
};
use familybridge_proto::cms::v1::calculation_service_server::CalculationServiceServer;
use familybridge_proto::cms::v1::case_service_server::CaseServiceServer;
use familybridge_proto::simulation::v1::clock_server::ClockServer;
use familybridge_runtime::{
    AccessControl, CancellationToken, ClockService, GrpcHost, Network, ServiceError,
};
use familybridge_storage::{Database, DatabaseUrl, SimulatedClock};
use tokio::net::TcpListener;
use tokio::sync::Notify;

use crate::calculation::{CalculateError, Calculator};
use crate::cases::api::Cases;
use crate::cases::court_orders::{CmsIntake, CourtOrderRouter, court_order_inbox};
use crate::cases::due::CaseDueWork;

/// The service's name: its binary, its default database file, its log target, and the
/// `service.name` of its telemetry.
pub const SERVICE_NAME: &str = AgencyId::Cms.service_name();

/// Where the CMS listens unless told otherwise.
pub const DEFAULT_ADDRESS: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 50052));

/// Today's case rules, as a commented file a scenario can copy and change.
pub const DEFAULT_CASE_SETTINGS: &str = include_str!("../case-settings.toml");

/// Reads case settings (the scenario's policy) from TOML in the form of `case-settings.toml`.
pub fn case_settings_from_toml(text: &str) -> Result<CaseSettings, ServiceError> {
    let settings: CaseSettings = toml::from_str(text)
        .map_err(|error| ServiceError::Configuration(format!("case settings: {error}")))?;
    settings
        .validate()
        .map_err(|error| ServiceError::Configuration(format!("case settings: {error}")))?;
    Ok(settings)
}

/// The data-sharing agreements the CMS publishes under unless given others.
pub const DEFAULT_DATA_SHARING: &str = include_str!("../data-sharing.toml");

/// Who may call the CMS's RPCs, and why (`access.toml`); the clock's and the event feed's rules
/// are added to these.
pub const ACCESS_POLICY: &str = include_str!("../access.toml");

/// How the CMS is set up.
#[derive(Debug, Clone)]
pub struct Config {
    /// Its database.
    pub database_url: DatabaseUrl,
    /// The court registry's gRPC address, e.g. `http://127.0.0.1:50051`.
    pub court_registry_url: String,
    /// The scenario's policy for the CMS: when it acts, how court orders reach it, the nights it
    /// assumes without evidence, the fee model, the enforcement ladder.
    pub case_settings: CaseSettings,
    /// What each agency may receive from its feed.
    pub data_sharing: DataSharingAgreements,
    /// How its commands are carried out: how far from its date they may take effect.
    pub commands: CommandSettings,
    /// How it is reached and reaches its peers: plaintext or mutual TLS, and a health-only port.
    pub network: Network,
}

impl Config {
    /// The CMS on `database_url` with today's rules and the default data-sharing agreements.
    pub fn with_defaults(
        database_url: DatabaseUrl,
        court_registry_url: String,
    ) -> Result<Self, ServiceError> {
        Ok(Self {
            database_url,
            court_registry_url,
            case_settings: CaseSettings::default(),
            data_sharing: default_agreements()?,
            commands: CommandSettings::default(),
            network: Network::default(),
        })
    }
}

/// The calculation's parameters under a fee model: the statutory ones, with the model's named
/// proposal switched on (`fees-2027`).
pub fn parameters_for(fee_model: FeeModel) -> Result<ParameterBook, ServiceError> {
    let book = ParameterBook::statutory().clone();
    match fee_model.proposal() {
        None => Ok(book),
        Some(name) => book
            .with_proposal(name)
            .map_err(|error| ServiceError::Configuration(format!("fee_model: {error}"))),
    }
}

/// The default data-sharing agreements, parsed.
pub fn default_agreements() -> Result<DataSharingAgreements, ServiceError> {
    DataSharingAgreements::from_toml_str(DEFAULT_DATA_SHARING)
        .map_err(|error| ServiceError::Configuration(error.to_string()))
}

/// Why the CMS could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum CmsError {
    /// The calculation parameters could not be loaded.
    #[error(transparent)]
    Calculation(#[from] CalculateError),
    /// Hosting or storage failed.
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl From<familybridge_storage::StorageError> for CmsError {
    fn from(error: familybridge_storage::StorageError) -> Self {
        CmsError::Service(error.into())
    }
}

impl From<familybridge_runtime::HostError> for CmsError {
    fn from(error: familybridge_runtime::HostError) -> Self {
        CmsError::Service(error.into())
    }
}

/// Opens (and migrates) the CMS's database, then serves on `listener` until `shutdown`.
pub async fn serve(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), CmsError> {
    tracing::info!(court_registry = %config.court_registry_url, "peers");
    let calculator = Calculator::new()?;
    config
        .case_settings
        .validate()
        .map_err(|error| ServiceError::Configuration(format!("case settings: {error}")))?;
    let parameters = Arc::new(parameters_for(config.case_settings.fee_model)?);
    let database = Database::connect(
        &config.database_url,
        &[familybridge_feed::MIGRATIONS, cases::store::MIGRATIONS],
    )
    .await?;
    let feed =
        Feed::new(database.clone(), AgencyId::Cms).with_date_window(config.commands.date_window);
    let due = CaseDueWork::new(feed.clone(), config.case_settings, parameters.clone());
    // Background work (following the court's feed) stops when shutdown begins; subscriptions to
    // our own feed never end by themselves, so the feed ends them then too.
    let background = CancellationToken::new();
    let mut following =
        Following::new(feed.clone(), AgencyId::Cms).over(config.network.transport.clone());
    let court_orders =
        (config.case_settings.court_orders == CourtOrderRoute::Automatic).then(|| {
            let wake = Arc::new(Notify::new());
            let subscription = following.follow(
                "court-registry",
                &config.court_registry_url,
                court_order_inbox(wake.clone()),
                background.clone(),
            );
            let router = CourtOrderRouter::new(feed.clone(), wake);
            let running = tokio::spawn(router.clone().run(background.clone()));
            (subscription, running, router)
        });
    let intake = CmsIntake::new(
        following,
        court_orders.as_ref().map(|(_, _, router)| router.clone()),
    );
    let clock = ClockService::new(SimulatedClock::new(database.clone()), due).with_intake(intake);
    let options = FeedOptions::default();
    let shutdown = {
        let background = background.clone();
        options.end_subscriptions_on(async move {
            shutdown.await;
            background.cancel();
        })
    };
    let access = AccessControl::from_policies(
        &[ACCESS_POLICY, familybridge_feed::ACCESS_POLICY],
        database.clone(),
    )
    .map_err(ServiceError::from)?;
    GrpcHost::new(SERVICE_NAME)
        .with_access(access)
        .with_transport(config.network.transport.clone())
        .with_health_listener(config.network.health_listener().await?)
        .add_service(CalculationServiceServer::new(calculator))
        .add_service(CaseServiceServer::new(Cases::new(
            feed.clone(),
            config.case_settings,
            parameters.clone(),
        )))
        .add_service(feed.service(config.data_sharing, options))
        .add_service(ClockServer::new(clock))
        .serve(listener, shutdown)
        .await?;
    background.cancel();
    if let Some((subscription, router, _)) = court_orders {
        match subscription.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                tracing::error!(error = %familybridge_runtime::error_chain(&error), "the court registry's feed refused the CMS")
            }
            Err(error) => tracing::error!(%error, "following the court registry's feed panicked"),
        }
        if let Err(error) = router.await {
            tracing::error!(%error, "applying court orders panicked");
        }
    }
    database.close().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_case_settings_are_todays_rules() {
        assert_eq!(
            case_settings_from_toml(DEFAULT_CASE_SETTINGS).expect("the shipped file parses"),
            CaseSettings::default()
        );
    }

    #[test]
    fn the_levers_are_spelled_as_a_scenario_spells_them() {
        let settings = case_settings_from_toml(
            "acts_on = \"final-order-backdated-to-application\"\nnights_without_evidence = \"equal-care\"\ncourt_orders = \"automatic\"\nfee_model = \"fees-2027\"",
        )
        .expect("the scenario's words parse");
        assert_eq!(
            settings.acts_on,
            familybridge_casework::ActsOn::FinalOrderBackdatedToApplication
        );
        assert_eq!(settings.court_orders, CourtOrderRoute::Automatic);
        assert_eq!(settings.fee_model, FeeModel::Fees2027);
    }

    #[test]
    fn a_bad_case_settings_file_names_the_problem() {
        let error =
            case_settings_from_toml("distress_window_weeks = \"eight\"").expect_err("refused");
        assert!(
            error.to_string().contains("distress_window_weeks"),
            "{error}"
        );
    }
}
