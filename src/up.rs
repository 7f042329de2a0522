//! `familybridge up`: the three agency services in one process ([`crate::stack`]) on their usual
//! addresses, until Ctrl-C or SIGTERM stops them all cleanly.

use std::net::SocketAddr;
use std::path::PathBuf;

use familybridge_runtime::termination_signal;

use crate::stack::{Addresses, Setup, Stack};

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
    let addresses = Addresses {
        court_registry: args.court_registry_addr,
        cms: args.cms_addr,
        referral_hub: args.referral_hub_addr,
    };
    let mut stack = Stack::start(&args.data_dir, addresses, Setup::default()).await?;
    let urls = stack.urls().clone();
    println!("familybridge is up (data in {}):", args.data_dir.display());
    println!("  court registry  {}", urls.court_registry);
    println!("  CMS             {}", urls.cms);
    println!("  referral hub    {}", urls.referral_hub);
    println!("Press Ctrl-C to stop.");
    let outcome = tokio::select! {
        () = termination_signal() => Ok(()),
        error = stack.stopped() => Err(error),
    };
    let stopped = stack.stop().await;
    outcome?;
    stopped?;
    println!("familybridge stopped.");
    Ok(())
}
