//! The referral hub: the agency that joins the court and the CMS up.
//!
//! It will read both feeds, screen the CMS's contact signals for distress, refer parents to support
//! pathways, ask the CMS to pause enforcement, and convene joint case reviews when a variation
//! application would change a family's care. For now it keeps its simulated date, knows where its
//! peers are, and answers health and reflection.

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use familybridge_proto::simulation::v1::clock_server::ClockServer;
use familybridge_runtime::{ClockService, GrpcHost, NothingDue, ServiceError};
use familybridge_storage::{Database, DatabaseUrl, SimulatedClock};
use tokio::net::TcpListener;

/// The service's name: its binary, its default database file, its log target.
pub const SERVICE_NAME: &str = "referral-hub";

/// Where the hub listens unless told otherwise.
pub const DEFAULT_ADDRESS: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 50053));

/// How the hub is set up.
#[derive(Debug, Clone)]
pub struct Config {
    /// Its database.
    pub database_url: DatabaseUrl,
    /// The court registry's gRPC address, e.g. `http://127.0.0.1:50051`.
    pub court_registry_url: String,
    /// The CMS's gRPC address, e.g. `http://127.0.0.1:50052`.
    pub cms_url: String,
}

/// Opens (and migrates) the hub's database, then serves on `listener` until `shutdown`.
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
    let database = Database::connect(&config.database_url, &[]).await?;
    let clock = ClockService::new(SimulatedClock::new(database.clone()), NothingDue);
    GrpcHost::new()
        .add_service(ClockServer::new(clock))
        .serve(listener, shutdown)
        .await?;
    database.close().await;
    Ok(())
}
