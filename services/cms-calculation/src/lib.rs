//! The Child Maintenance Service: the CMS side of the exchange.
//!
//! It works out child maintenance under the 2012 statutory scheme (the stateless
//! `familybridge.cms.v1.CalculationService`, in [`calculation`]), and will keep cases, liabilities, collection and
//! enforcement over simulated time. It keeps its simulated date, knows where the court registry is,
//! and answers health and reflection.

pub mod calculation;

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use familybridge_proto::cms::v1::calculation_service_server::CalculationServiceServer;
use familybridge_proto::simulation::v1::clock_server::ClockServer;
use familybridge_runtime::{ClockService, GrpcHost, NothingDue, ServiceError};
use familybridge_storage::{Database, DatabaseUrl, SimulatedClock};
use tokio::net::TcpListener;

use crate::calculation::{CalculateError, Calculator};

/// The service's name: its binary, its default database file, its log target.
pub const SERVICE_NAME: &str = "cms-calculation";

/// Where the CMS listens unless told otherwise.
pub const DEFAULT_ADDRESS: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 50052));

/// How the CMS is set up.
#[derive(Debug, Clone)]
pub struct Config {
    /// Its database.
    pub database_url: DatabaseUrl,
    /// The court registry's gRPC address, e.g. `http://127.0.0.1:50051`.
    pub court_registry_url: String,
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
    let database = Database::connect(&config.database_url, &[]).await?;
    let clock = ClockService::new(SimulatedClock::new(database.clone()), NothingDue);
    GrpcHost::new()
        .add_service(CalculationServiceServer::new(calculator))
        .add_service(ClockServer::new(clock))
        .serve(listener, shutdown)
        .await?;
    database.close().await;
    Ok(())
}
