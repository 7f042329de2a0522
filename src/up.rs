//! `familybridge up`: the three agency services in one process.
//!
//! Each service gets its own SQLite database under the data directory, exactly as it would running
//! alone, and they reach each other over loopback gRPC, so what a client sees here is what it would
//! see with the services deployed separately. The command reports ready only once every service
//! answers SERVING through `grpc.health.v1`, and stops them all cleanly on Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use familybridge_runtime::{CancellationToken, bind, termination_signal, wait_until_serving};
use familybridge_storage::DatabaseUrl;
use tokio::task::JoinSet;

/// How long the services may take to report SERVING.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Where `familybridge up` puts its services and their data.
#[derive(Debug, clap::Args)]
pub struct UpArgs {
    /// Folder for the services' SQLite databases, created on first start.
    #[arg(long, env = "FAMILYBRIDGE_DATA_DIR", default_value = "data")]
    data_dir: PathBuf,
    /// Address of the court registry.
    #[arg(long, default_value_t = court_registry::DEFAULT_ADDRESS)]
    court_registry_addr: SocketAddr,
    /// Address of the CMS.
    #[arg(long, default_value_t = cms_calculation::DEFAULT_ADDRESS)]
    cms_addr: SocketAddr,
    /// Address of the referral hub.
    #[arg(long, default_value_t = referral_hub::DEFAULT_ADDRESS)]
    referral_hub_addr: SocketAddr,
}

/// Runs the three services until the process is asked to stop.
pub async fn run(args: UpArgs) -> anyhow::Result<()> {
    let database =
        |service: &str| DatabaseUrl::sqlite_file(&args.data_dir.join(format!("{service}.db")));

    // Bind every address before starting anything, so that a port in use fails the whole command
    // at once; binding port 0 picks a free port, and what was picked is what peers are told.
    let court_listener = bind(args.court_registry_addr).await?;
    let cms_listener = bind(args.cms_addr).await?;
    let hub_listener = bind(args.referral_hub_addr).await?;
    let court_url = format!("http://{}", court_listener.local_addr()?);
    let cms_url = format!("http://{}", cms_listener.local_addr()?);
    let hub_url = format!("http://{}", hub_listener.local_addr()?);

    let shutdown = CancellationToken::new();
    let mut services: JoinSet<anyhow::Result<()>> = JoinSet::new();
    let court =
        court_registry::Config::with_default_agreements(database(court_registry::SERVICE_NAME))?;
    let stop = shutdown.clone().cancelled_owned();
    services.spawn(async move { Ok(court_registry::serve(court, court_listener, stop).await?) });
    let cms = cms_calculation::Config::with_defaults(
        database(cms_calculation::SERVICE_NAME),
        court_url.clone(),
    )?;
    let stop = shutdown.clone().cancelled_owned();
    services.spawn(async move { Ok(cms_calculation::serve(cms, cms_listener, stop).await?) });
    let hub = referral_hub::Config::with_defaults(
        database(referral_hub::SERVICE_NAME),
        court_url.clone(),
        cms_url.clone(),
    )?;
    let stop = shutdown.clone().cancelled_owned();
    services.spawn(async move { Ok(referral_hub::serve(hub, hub_listener, stop).await?) });

    let ready = async {
        for url in [&court_url, &cms_url, &hub_url] {
            wait_until_serving(url, READY_TIMEOUT).await?;
        }
        anyhow::Ok(())
    };
    tokio::select! {
        ready = ready => ready?,
        Some(stopped) = services.join_next() => {
            shutdown.cancel();
            stopped.context("a service panicked")?.context("a service failed to start")?;
            anyhow::bail!("a service stopped before it was ready");
        }
    }
    println!("familybridge is up (data in {}):", args.data_dir.display());
    println!("  court registry  {court_url}");
    println!("  CMS             {cms_url}");
    println!("  referral hub    {hub_url}");
    println!("Press Ctrl-C to stop.");

    let outcome = tokio::select! {
        () = termination_signal() => Ok(()),
        Some(stopped) = services.join_next() => match stopped {
            Ok(Ok(())) => Err(anyhow::anyhow!("a service stopped unexpectedly")),
            Ok(Err(error)) => Err(error.context("a service failed")),
            Err(panic) => Err(anyhow::Error::new(panic).context("a service panicked")),
        },
    };
    shutdown.cancel();
    while let Some(stopped) = services.join_next().await {
        stopped
            .context("a service panicked")?
            .context("a service failed while stopping")?;
    }
    if outcome.is_ok() {
        println!("familybridge stopped.");
    }
    outcome
}
