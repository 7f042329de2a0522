//! The three agency services in this process: what `familybridge up` runs for a demonstration and
//! `familybridge run` starts for each arm of a scenario.
//!
//! Each service gets its own database — an SQLite file in the data directory, or a fresh database
//! on a PostgreSQL server ([`Databases`]) — exactly as it would running alone, and they reach each other over loopback gRPC, so what a client sees here is what it would
//! see with the services deployed separately — and each exports its telemetry under its own
//! service name. [`Stack::start`] returns once every service answers SERVING through
//! `grpc.health.v1`; [`Stack::stop`] stops them all, exports their last spans and reports any
//! failure. With a folder of credentials ([`TlsArgs`]), they serve and call each other over mutual
//! TLS, each as its own identity, exactly as deployed apart.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use familybridge_runtime::{
    AgencyId, CancellationToken, Identity, Network, TlsArgs, bind, flush_telemetry,
    wait_until_serving_over,
};
use familybridge_storage::{DatabaseUrl, PostgresServer};
use tokio::task::JoinSet;

/// How long the services may take to report SERVING.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Where each service listens; port 0 picks a free port.
#[derive(Debug, Clone, Copy)]
pub struct Addresses {
    /// The court registry's.
    pub court_registry: SocketAddr,
    /// The CMS's.
    pub cms: SocketAddr,
    /// The referral hub's.
    pub referral_hub: SocketAddr,
}

/// Free loopback ports for all three.
pub const ANY_LOOPBACK_PORTS: Addresses = Addresses {
    court_registry: SocketAddr::V4(std::net::SocketAddrV4::new(
        std::net::Ipv4Addr::LOCALHOST,
        0,
    )),
    cms: SocketAddr::V4(std::net::SocketAddrV4::new(
        std::net::Ipv4Addr::LOCALHOST,
        0,
    )),
    referral_hub: SocketAddr::V4(std::net::SocketAddrV4::new(
        std::net::Ipv4Addr::LOCALHOST,
        0,
    )),
};

/// The gRPC addresses of the three services, e.g. `http://127.0.0.1:50051`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Urls {
    /// The court registry.
    pub court_registry: String,
    /// The CMS.
    pub cms: String,
    /// The referral hub.
    pub referral_hub: String,
}

/// Where the three services keep their databases.
#[derive(Debug, Clone)]
pub enum Databases {
    /// An SQLite file per service in this folder (the embedded default).
    Files(PathBuf),
    /// A fresh database per service on this PostgreSQL server, named `{prefix}_{service}`, made
    /// when the stack starts (replacing any of that name) and dropped by [`Databases::remove`].
    Postgres {
        /// The server.
        server: Box<PostgresServer>,
        /// What the databases' names begin with: letters, digits and `_`.
        prefix: String,
    },
}

impl Databases {
    /// The PostgreSQL server a `--database` flag names, if given.
    pub fn server(database: Option<&DatabaseUrl>) -> anyhow::Result<Option<PostgresServer>> {
        database
            .map(PostgresServer::new)
            .transpose()
            .context("database: not a PostgreSQL server")
    }

    /// The database of `service` (e.g. "court-registry"), made fresh on PostgreSQL.
    async fn for_service(&self, service: &str) -> anyhow::Result<DatabaseUrl> {
        match self {
            Databases::Files(folder) => Ok(DatabaseUrl::sqlite_file(
                &folder.join(format!("{service}.db")),
            )),
            Databases::Postgres { server, prefix } => {
                let name = Self::postgres_name(prefix, service);
                Ok(server
                    .fresh_database(&name)
                    .await
                    .with_context(|| format!("cannot make the database {name}"))?)
            }
        }
    }

    fn postgres_name(prefix: &str, service: &str) -> String {
        format!("{prefix}_{}", service.replace('-', "_"))
    }

    /// Drops the PostgreSQL databases (the caller removes a folder of files itself).
    pub async fn remove(&self) -> anyhow::Result<()> {
        if let Databases::Postgres { server, prefix } = self {
            for service in [
                court_registry::SERVICE_NAME,
                cms_calculation::SERVICE_NAME,
                referral_hub::SERVICE_NAME,
            ] {
                let name = Self::postgres_name(prefix, service);
                server
                    .drop_database(&name)
                    .await
                    .with_context(|| format!("cannot drop the database {name}"))?;
            }
        }
        Ok(())
    }
}

/// How each service is set up, given the others' addresses and its database.
pub struct Setup {
    /// The CMS's configuration from its database and the registry's URL.
    pub cms: Box<dyn FnOnce(DatabaseUrl, String) -> anyhow::Result<cms_calculation::Config> + Send>,
    /// The hub's configuration from its database and the registry's and CMS's URLs.
    pub hub:
        Box<dyn FnOnce(DatabaseUrl, String, String) -> anyhow::Result<referral_hub::Config> + Send>,
}

impl Default for Setup {
    /// Today's rules everywhere: every lever off.
    fn default() -> Self {
        Self {
            cms: Box::new(|database, court| {
                Ok(cms_calculation::Config::with_defaults(database, court)?)
            }),
            hub: Box::new(|database, court, cms| {
                Ok(referral_hub::Config::with_defaults(database, court, cms)?)
            }),
        }
    }
}

/// The three services, running.
pub struct Stack {
    urls: Urls,
    shutdown: CancellationToken,
    services: JoinSet<anyhow::Result<()>>,
}

impl Stack {
    /// Starts the three services on `addresses` with their databases in `databases`, set up by
    /// `setup`, over the transport `tls` says, and waits until each reports SERVING.
    pub async fn start(
        databases: &Databases,
        addresses: Addresses,
        setup: Setup,
        tls: &TlsArgs,
    ) -> anyhow::Result<Self> {
        let network = |agency: AgencyId| -> anyhow::Result<Network> {
            Ok(Network {
                transport: tls.transport(agency.into())?,
                health_listen: None,
            })
        };
        // Whoever asks whether the services are ready presents the simulation's credentials.
        let asker = tls.transport(Identity::Simulation)?;
        let court_database = databases.for_service(court_registry::SERVICE_NAME).await?;
        let cms_database = databases.for_service(cms_calculation::SERVICE_NAME).await?;
        let hub_database = databases.for_service(referral_hub::SERVICE_NAME).await?;
        // Bind every address before starting anything, so that a port in use fails at once;
        // binding port 0 picks a free port, and what was picked is what peers are told.
        let court_listener = bind(addresses.court_registry).await?;
        let cms_listener = bind(addresses.cms).await?;
        let hub_listener = bind(addresses.referral_hub).await?;
        let urls = Urls {
            court_registry: asker.url(court_listener.local_addr()?),
            cms: asker.url(cms_listener.local_addr()?),
            referral_hub: asker.url(hub_listener.local_addr()?),
        };

        let shutdown = CancellationToken::new();
        let mut services: JoinSet<anyhow::Result<()>> = JoinSet::new();
        let court = court_registry::Config {
            network: network(AgencyId::CourtRegistry)?,
            ..court_registry::Config::with_default_agreements(court_database)?
        };
        let stop = shutdown.clone().cancelled_owned();
        services
            .spawn(async move { Ok(court_registry::serve(court, court_listener, stop).await?) });
        let cms = cms_calculation::Config {
            network: network(AgencyId::Cms)?,
            ..(setup.cms)(cms_database, urls.court_registry.clone())?
        };
        let stop = shutdown.clone().cancelled_owned();
        services.spawn(async move { Ok(cms_calculation::serve(cms, cms_listener, stop).await?) });
        let hub = referral_hub::Config {
            network: network(AgencyId::ReferralHub)?,
            ..(setup.hub)(hub_database, urls.court_registry.clone(), urls.cms.clone())?
        };
        let stop = shutdown.clone().cancelled_owned();
        services.spawn(async move { Ok(referral_hub::serve(hub, hub_listener, stop).await?) });

        let mut stack = Stack {
            urls,
            shutdown,
            services,
        };
        let ready = async {
            for url in [
                &stack.urls.court_registry,
                &stack.urls.cms,
                &stack.urls.referral_hub,
            ] {
                wait_until_serving_over(&asker, url, READY_TIMEOUT).await?;
            }
            anyhow::Ok(())
        };
        tokio::select! {
            ready = ready => ready?,
            Some(stopped) = stack.services.join_next() => {
                stack.shutdown.cancel();
                stopped.context("a service panicked")?.context("a service failed to start")?;
                anyhow::bail!("a service stopped before it was ready");
            }
        }
        Ok(stack)
    }

    /// Where the services are.
    pub fn urls(&self) -> &Urls {
        &self.urls
    }

    /// Resolves when a service stops by itself, with why: they only stop when told to, so this is
    /// always a failure.
    pub async fn stopped(&mut self) -> anyhow::Error {
        match self.services.join_next().await {
            Some(Ok(Ok(()))) | None => anyhow::anyhow!("a service stopped unexpectedly"),
            Some(Ok(Err(error))) => error.context("a service failed"),
            Some(Err(panic)) => anyhow::Error::new(panic).context("a service panicked"),
        }
    }

    /// Stops every service, waits for them, and exports what telemetry they still buffer.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        let mut outcome = Ok(());
        while let Some(stopped) = self.services.join_next().await {
            if outcome.is_ok() {
                outcome = stopped
                    .context("a service panicked")
                    .and_then(|stopped| stopped.context("a service failed while stopping"));
            }
        }
        flush_telemetry().await;
        outcome
    }
}
