//! The three agency services in this process: what `familybridge up` runs for a demonstration and
//! `familybridge run` starts for each arm of a scenario.
//!
//! Each service gets its own SQLite database in the data directory, exactly as it would running
//! alone, and they reach each other over loopback gRPC, so what a client sees here is what it would
//! see with the services deployed separately — and each exports its telemetry under its own
//! service name. [`Stack::start`] returns once every service answers SERVING through
//! `grpc.health.v1`; [`Stack::stop`] stops them all, exports their last spans and reports any
//! failure.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use familybridge_runtime::{CancellationToken, bind, flush_telemetry, wait_until_serving};
use familybridge_storage::DatabaseUrl;
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
    /// Starts the three services on `addresses` with their databases in `data_dir`, set up by
    /// `setup`, and waits until each reports SERVING.
    pub async fn start(
        data_dir: &Path,
        addresses: Addresses,
        setup: Setup,
    ) -> anyhow::Result<Self> {
        let database =
            |service: &str| DatabaseUrl::sqlite_file(&data_dir.join(format!("{service}.db")));
        // Bind every address before starting anything, so that a port in use fails at once;
        // binding port 0 picks a free port, and what was picked is what peers are told.
        let court_listener = bind(addresses.court_registry).await?;
        let cms_listener = bind(addresses.cms).await?;
        let hub_listener = bind(addresses.referral_hub).await?;
        let urls = Urls {
            court_registry: format!("http://{}", court_listener.local_addr()?),
            cms: format!("http://{}", cms_listener.local_addr()?),
            referral_hub: format!("http://{}", hub_listener.local_addr()?),
        };

        let shutdown = CancellationToken::new();
        let mut services: JoinSet<anyhow::Result<()>> = JoinSet::new();
        let court = court_registry::Config::with_default_agreements(database(
            court_registry::SERVICE_NAME,
        ))?;
        let stop = shutdown.clone().cancelled_owned();
        services
            .spawn(async move { Ok(court_registry::serve(court, court_listener, stop).await?) });
        let cms = (setup.cms)(
            database(cms_calculation::SERVICE_NAME),
            urls.court_registry.clone(),
        )?;
        let stop = shutdown.clone().cancelled_owned();
        services.spawn(async move { Ok(cms_calculation::serve(cms, cms_listener, stop).await?) });
        let hub = (setup.hub)(
            database(referral_hub::SERVICE_NAME),
            urls.court_registry.clone(),
            urls.cms.clone(),
        )?;
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
                wait_until_serving(url, READY_TIMEOUT).await?;
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
