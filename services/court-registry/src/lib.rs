//! The family-court orders registry: the court side of the exchange.
//!
//! It records private-law children cases — applications, hearings, interim and final child
//! arrangements orders, applications to vary and variation orders, withdrawals and dismissals
//! ([`case`] holds the rules, [`store`] the records, [`api`] the gRPC service) — and publishes
//! their events on its event feed to the agencies entitled to them, cut down to the fields its
//! data-sharing agreements permit (`data-sharing.toml`).

pub mod api;
pub mod case;
mod convert;
pub mod store;

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use familybridge_feed::{AgencyId, CommandSettings, DataSharingAgreements, Feed, FeedOptions};
use familybridge_proto::court::v1::court_registry_server::CourtRegistryServer;
use familybridge_proto::simulation::v1::clock_server::ClockServer;
use familybridge_runtime::{
    AccessControl, ClockService, GrpcHost, Network, NothingDue, ServiceError,
};
use familybridge_storage::{Database, DatabaseUrl, SimulatedClock};
use tokio::net::TcpListener;

use crate::api::Registry;

/// The service's name: its binary, its default database file, its log target, and the
/// `service.name` of its telemetry.
pub const SERVICE_NAME: &str = AgencyId::CourtRegistry.service_name();

/// Where the registry listens unless told otherwise.
pub const DEFAULT_ADDRESS: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 50051));

/// The data-sharing agreements the registry publishes under unless given others: what the CMS and
/// the referral hub may receive, for what purpose and on what legal basis.
pub const DEFAULT_DATA_SHARING: &str = include_str!("../data-sharing.toml");

/// Who may call the registry's RPCs, and why (`access.toml`); the clock's and the event feed's
/// rules are added to these.
pub const ACCESS_POLICY: &str = include_str!("../access.toml");

/// How the registry is set up.
#[derive(Debug, Clone)]
pub struct Config {
    /// Its database.
    pub database_url: DatabaseUrl,
    /// What each agency may receive from its feed.
    pub data_sharing: DataSharingAgreements,
    /// How its commands are carried out: how far from its date they may take effect.
    pub commands: CommandSettings,
    /// How it is reached and reaches its peers: plaintext or mutual TLS, and a health-only port.
    pub network: Network,
}

impl Config {
    /// The registry on `database_url` under the default data-sharing agreements.
    pub fn with_default_agreements(database_url: DatabaseUrl) -> Result<Self, ServiceError> {
        Ok(Self {
            database_url,
            data_sharing: default_agreements()?,
            commands: CommandSettings::default(),
            network: Network::default(),
        })
    }
}

/// The default data-sharing agreements, parsed.
pub fn default_agreements() -> Result<DataSharingAgreements, ServiceError> {
    DataSharingAgreements::from_toml_str(DEFAULT_DATA_SHARING)
        .map_err(|error| ServiceError::Configuration(error.to_string()))
}

/// Opens (and migrates) the registry's database, then serves on `listener` until `shutdown`.
pub async fn serve(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServiceError> {
    let database = Database::connect(
        &config.database_url,
        &[familybridge_feed::MIGRATIONS, store::MIGRATIONS],
    )
    .await?;
    let feed = Feed::new(database.clone(), AgencyId::CourtRegistry)
        .with_date_window(config.commands.date_window);
    let clock = ClockService::new(SimulatedClock::new(database.clone()), NothingDue);
    // Subscriptions never end by themselves, and a graceful stop waits for every call: the feed
    // must end them when shutdown begins.
    let options = FeedOptions::default();
    let shutdown = options.end_subscriptions_on(shutdown);
    let access = AccessControl::from_policies(
        &[ACCESS_POLICY, familybridge_feed::ACCESS_POLICY],
        database.clone(),
    )?;
    GrpcHost::new(SERVICE_NAME)
        .with_access(access)
        .with_transport(config.network.transport.clone())
        .with_health_listener(config.network.health_listener().await?)
        .add_service(CourtRegistryServer::new(Registry::new(feed.clone())))
        .add_service(feed.service(config.data_sharing, options))
        .add_service(ClockServer::new(clock))
        .serve(listener, shutdown)
        .await?;
    database.close().await;
    Ok(())
}
