//! `familybridge up`: the three agency services in one process ([`crate::stack`]) on their usual
//! addresses, until Ctrl-C or SIGTERM stops them all cleanly.

use std::net::SocketAddr;
use std::path::PathBuf;

use familybridge_runtime::{TlsArgs, termination_signal};

use crate::run::{levers, load_scenario, only_arm};
use crate::stack::{Addresses, Databases, Setup, Stack};

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
    /// Set the services up with the levers of an arm of this scenario file (see --arm), for
    /// `familybridge run --connect` [default: today's rules].
    #[arg(long)]
    scenario: Option<PathBuf>,
    /// The arm of --scenario [default: the scenario's only arm].
    #[arg(long, requires = "scenario")]
    arm: Option<String>,
    #[command(flatten)]
    tls: TlsArgs,
}

/// Runs the three services until the process is asked to stop.
pub async fn run(args: UpArgs) -> anyhow::Result<()> {
    let addresses = Addresses {
        court_registry: args.court_registry_addr,
        cms: args.cms_addr,
        referral_hub: args.referral_hub_addr,
    };
    let setup = match &args.scenario {
        None => Setup::default(),
        Some(path) => {
            let scenario = load_scenario(path, None, None, None)?;
            let arm = match &args.arm {
                Some(name) => name.clone(),
                None if scenario.arms.len() == 1 => scenario.arms[0].name.clone(),
                None => anyhow::bail!(
                    "--arm: the scenario has {} arms; name the one to set the services up for",
                    scenario.arms.len()
                ),
            };
            let scenario = only_arm(scenario, &arm)?;
            println!("levers: arm {arm:?} of {}", path.display());
            levers::setup(&scenario.arms[0])
        }
    };
    let databases = Databases::Files(args.data_dir.clone());
    let mut stack = Stack::start(&databases, addresses, setup, &args.tls).await?;
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
