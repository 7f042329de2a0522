//! The referral hub: the agency that joins the court and the CMS up.
//!
//! It follows the court registry's and the CMS's feeds into an inbox ([`inbox`]) and acts when its
//! clock moves ([`work`]), under a scenario's rules (the pure `familybridge_referral` crate):
//! distress screening of parents' contacts with the CMS, referrals to support pathways, pauses in
//! enforcement with a review at the end, and joint case reviews of variation applications that
//! would change a child's home or shared-care band — the CMS's projected liability is put before
//! the court ([`peers`]), and the review closes when the court decides. What it did is served by
//! `familybridge.referral.v1.ReferralHub` ([`api`]) and published on its own event feed under its
//! data-sharing agreements (`data-sharing.toml`).

pub mod api;
pub mod inbox;
pub mod peers;
pub mod work;

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use familybridge_feed::{AgencyId, DataSharingAgreements, Feed, FeedOptions, Following};
use familybridge_proto::referral::v1::referral_hub_server::ReferralHubServer;
use familybridge_proto::simulation::v1::clock_server::ClockServer;
use familybridge_runtime::{
    AccessControl, CancellationToken, ClockService, GrpcHost, Network, ServiceError,
};
use familybridge_storage::{Database, DatabaseUrl, MigrationSet, SimulatedClock};
use tokio::net::TcpListener;

use crate::api::HubQueries;
use crate::inbox::{HubIntake, INBOX};
use crate::peers::Peers;
use crate::work::HubWork;
pub use familybridge_referral::HubSettings;

/// The service's name: its binary, its default database file, its log target, and the
/// `service.name` of its telemetry.
pub const SERVICE_NAME: &str = AgencyId::ReferralHub.service_name();

/// Where the hub listens unless told otherwise.
pub const DEFAULT_ADDRESS: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 50053));

/// The shipped settings file: every lever off (the same as `HubSettings::default()`).
pub const DEFAULT_HUB_SETTINGS: &str = include_str!("../hub-settings.toml");

/// The data-sharing agreements the hub publishes under unless given others.
pub const DEFAULT_DATA_SHARING: &str = include_str!("../data-sharing.toml");

/// Who may call the hub's RPCs, and why (`access.toml`); the clock's and the event feed's rules
/// are added to these.
pub const ACCESS_POLICY: &str = include_str!("../access.toml");

/// The hub's own tables.
pub const MIGRATIONS: MigrationSet = familybridge_storage::embed_migrations!(3001 "referral_hub");

/// How the hub is set up.
#[derive(Debug, Clone)]
pub struct Config {
    /// Its database.
    pub database_url: DatabaseUrl,
    /// The court registry's gRPC address, e.g. `http://127.0.0.1:50051`.
    pub court_registry_url: String,
    /// The CMS's gRPC address, e.g. `http://127.0.0.1:50052`.
    pub cms_url: String,
    /// The scenario's rules for the hub.
    pub settings: HubSettings,
    /// What each agency may receive from its feed.
    pub data_sharing: DataSharingAgreements,
    /// How it is reached and reaches its peers: plaintext or mutual TLS, and a health-only port.
    pub network: Network,
}

impl Config {
    /// The hub on `database_url` with the shipped settings (every lever off) and agreements.
    pub fn with_defaults(
        database_url: DatabaseUrl,
        court_registry_url: String,
        cms_url: String,
    ) -> Result<Self, ServiceError> {
        Ok(Self {
            database_url,
            court_registry_url,
            cms_url,
            settings: settings_from_toml(DEFAULT_HUB_SETTINGS)?,
            data_sharing: default_agreements()?,
            network: Network::default(),
        })
    }
}

/// Reads hub settings (the scenario's rules) from TOML in the form of `hub-settings.toml`.
pub fn settings_from_toml(text: &str) -> Result<HubSettings, ServiceError> {
    HubSettings::from_toml_str(text).map_err(|error| ServiceError::Configuration(error.to_string()))
}

/// The default data-sharing agreements, parsed.
pub fn default_agreements() -> Result<DataSharingAgreements, ServiceError> {
    DataSharingAgreements::from_toml_str(DEFAULT_DATA_SHARING)
        .map_err(|error| ServiceError::Configuration(error.to_string()))
}

/// Opens (and migrates) the hub's database, follows its peers' feeds, then serves on `listener`
/// until `shutdown`.
pub async fn serve(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServiceError> {
    tracing::info!(
        court_registry = %config.court_registry_url,
        cms = %config.cms_url,
        "peers"
    );
    config
        .settings
        .validate()
        .map_err(|error| ServiceError::Configuration(error.to_string()))?;
    let peers = Peers::new(
        &config.network.transport,
        &config.cms_url,
        &config.court_registry_url,
    )
    .map_err(|error| ServiceError::Configuration(error.to_string()))?;
    let database = Database::connect(
        &config.database_url,
        &[familybridge_feed::MIGRATIONS, MIGRATIONS],
    )
    .await?;
    let feed = Feed::new(database.clone(), AgencyId::ReferralHub);
    let background = CancellationToken::new();
    let mut following =
        Following::new(feed.clone(), AgencyId::ReferralHub).over(config.network.transport.clone());
    let subscriptions = [
        following.follow(
            "court-registry",
            &config.court_registry_url,
            INBOX,
            background.clone(),
        ),
        following.follow("cms", &config.cms_url, INBOX, background.clone()),
    ];
    let simulated = SimulatedClock::new(database.clone());
    let clock = ClockService::new(
        simulated.clone(),
        HubWork::new(feed.clone(), config.settings.clone(), peers),
    )
    .with_intake(HubIntake::new(following));
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
        .add_service(ReferralHubServer::new(HubQueries::new(
            feed.clone(),
            simulated,
        )))
        .add_service(feed.service(config.data_sharing, options))
        .add_service(ClockServer::new(clock))
        .serve(listener, shutdown)
        .await?;
    background.cancel();
    for subscription in subscriptions {
        match subscription.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                tracing::error!(error = %familybridge_runtime::error_chain(&error), "a peer's feed refused the hub")
            }
            Err(error) => tracing::error!(%error, "following a peer's feed panicked"),
        }
    }
    database.close().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_agreements_parse() {
        default_agreements().expect("the shipped data-sharing.toml parses against the protos");
    }

    #[test]
    fn the_shipped_settings_are_the_defaults_with_every_lever_off() {
        let settings = HubSettings::from_toml_str(DEFAULT_HUB_SETTINGS).expect("parses");
        assert_eq!(settings, HubSettings::default());
        assert!(!settings.screening.enabled);
        assert!(!settings.pauses.enabled);
        assert!(!settings.joint_reviews.enabled);
    }
}
