//! The family-court orders registry: the court side of the exchange.
//!
//! It records private-law children cases — applications, hearings, interim and final child
//! arrangements orders, variations — and publishes what the other agencies are entitled to see.
//! For now it keeps its simulated date and answers health and reflection; the case records and the
//! event feed build on this.

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use familybridge_proto::simulation::v1::clock_server::ClockServer;
use familybridge_runtime::{ClockService, GrpcHost, NothingDue, ServiceError};
use familybridge_storage::{Database, DatabaseUrl, SimulatedClock};
use tokio::net::TcpListener;

/// The service's name: its binary, its default database file, its log target.
pub const SERVICE_NAME: &str = "court-registry";

/// Where the registry listens unless told otherwise.
pub const DEFAULT_ADDRESS: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 50051));

/// How the registry is set up.
#[derive(Debug, Clone)]
pub struct Config {
    /// Its database.
    pub database_url: DatabaseUrl,
}

/// Opens (and migrates) the registry's database, then serves on `listener` until `shutdown`.
pub async fn serve(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServiceError> {
    let database = Database::connect(&config.database_url, &[]).await?;
    let clock = ClockService::new(SimulatedClock::new(database.clone()), NothingDue);
    GrpcHost::new()
        .add_service(ClockServer::new(clock))
        .serve(listener, shutdown)
        .await?;
    database.close().await;
    Ok(())
}
