//! `familybridge run SCENARIO`: a reform scenario through the three services, and its report.
//!
//! For each arm and replication the command starts the services in this process on loopback ports
//! with fresh SQLite databases, set up with the arm's levers ([`levers`]); drives the seeded
//! synthetic caseload through their public gRPC APIs ([`drive`]); reads the outcome back from them
//! ([`readback`]); and measures it family by family, holding nothing per family beyond the
//! caseload itself. The comparison — means with 95% intervals and differences from the base arm —
//! is written to the output folder (`summary.json`, `metrics.csv`, `timeseries.csv`,
//! `report.html`) and printed as a table.

mod drive;
mod levers;
mod readback;

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Context;
use familybridge_scenario::{
    CourtOrderRoute, ReplicationAccumulator, ReplicationResult, Scenario, summarise,
    terminal_table, world, write_outputs,
};
use indicatif::{ProgressBar, ProgressStyle};

use crate::run::drive::{Clients, Family, Reporting, STEP_DAYS};
use crate::stack::{ANY_LOOPBACK_PORTS, Stack};

/// The version recorded in every run record.
const CODE_VERSION: &str = concat!("familybridge ", env!("CARGO_PKG_VERSION"));

/// What to run and where the results go.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The scenario file (TOML), e.g. scenarios/delayed-involvement.toml.
    scenario: PathBuf,
    /// Folder for summary.json, metrics.csv, timeseries.csv and report.html.
    #[arg(long, default_value = "out")]
    out: PathBuf,
    /// The master seed [default: the scenario's].
    #[arg(long)]
    seed: Option<u64>,
    /// Replications per arm [default: the scenario's].
    #[arg(long)]
    replications: Option<u32>,
    /// Synthetic families per replication [default: the scenario's].
    #[arg(long)]
    families: Option<u64>,
    /// Families acting at once within a step (the results do not depend on it).
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Folder for the services' databases [default: a temporary folder, removed afterwards].
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

/// Runs the scenario and writes its outputs.
pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.scenario)
        .with_context(|| format!("cannot read the scenario {}", args.scenario.display()))?;
    let scenario = Scenario::from_toml_str(&text)
        .and_then(|scenario| scenario.with_overrides(args.seed, args.replications, args.families))
        .with_context(|| format!("the scenario {} cannot be run", args.scenario.display()))?;
    let scratch = tempfile::tempdir().context("cannot make a folder for the databases")?;
    let data_root = args
        .data_dir
        .clone()
        .unwrap_or_else(|| scratch.path().to_owned());

    let weeks = scenario_weeks(&scenario);
    let runs = scenario.arms.len() as u64 * u64::from(scenario.run.replications);
    let terminal = std::io::stderr().is_terminal();
    let progress = if terminal {
        let bar = ProgressBar::new(runs * weeks);
        bar.set_style(
            ProgressStyle::with_template("{msg:<40} [{bar:30}] {percent:>3}% {elapsed}")
                .context("the progress bar's template")?
                .progress_chars("=> "),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    eprintln!(
        "{}: {} arms x {} replications x {} families, {} months from {}",
        scenario.title,
        scenario.arms.len(),
        scenario.run.replications,
        scenario.run.families,
        scenario.run.months,
        scenario.run.start
    );

    let mut results: Vec<ReplicationResult> = Vec::new();
    for arm in &scenario.arms {
        for replication in 1..=scenario.run.replications {
            progress.set_message(format!("{} · replication {replication}", arm.name));
            let data_dir = data_root.join(format!("{}-{replication}", arm.name));
            std::fs::create_dir_all(&data_dir)
                .with_context(|| format!("cannot make {}", data_dir.display()))?;
            let result = run_one(
                &scenario,
                &arm.name,
                replication,
                &data_dir,
                args.concurrency,
                || progress.inc(1),
            )
            .await
            .with_context(|| format!("arm {:?}, replication {replication}", arm.name))?;
            if !terminal {
                eprintln!("done: arm {}, replication {replication}", arm.name);
            }
            results.push(result);
        }
    }
    progress.finish_and_clear();

    let summary = summarise(&scenario, &results, CODE_VERSION).context("summarising the runs")?;
    let written = write_outputs(&args.out, &summary, &results).context("writing the outputs")?;
    println!("{}", terminal_table(&summary));
    for path in written {
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// Steps in the period.
fn scenario_weeks(scenario: &Scenario) -> u64 {
    let days = (scenario.run.end() - scenario.run.start).num_days().max(0) as u64;
    days.div_ceil(STEP_DAYS).max(1)
}

/// One replication of one arm on a stack of its own.
async fn run_one(
    scenario: &Scenario,
    arm_name: &str,
    replication: u32,
    data_dir: &std::path::Path,
    concurrency: usize,
    on_step: impl FnMut(),
) -> anyhow::Result<ReplicationResult> {
    let arm = scenario
        .arm(arm_name)
        .with_context(|| format!("no arm {arm_name:?}"))?;
    let stack = Stack::start(data_dir, ANY_LOOPBACK_PORTS, levers::setup(&arm.levers)).await?;
    let clients = Clients::new(stack.urls())?;
    let families: Vec<Family> = (0..scenario.run.families)
        .map(|index| Family::new(world::family(scenario, replication, index)))
        .collect();
    let reporting = match arm.levers.court_orders {
        CourtOrderRoute::Manual => Reporting::ByParents,
        CourtOrderRoute::Automatic => Reporting::Automatic,
    };
    let families = drive::drive(
        scenario,
        &clients,
        families,
        reporting,
        concurrency,
        on_step,
    )
    .await?;
    let hub = readback::HubRecords::read(&stack.urls().referral_hub).await?;
    let mut accumulator = ReplicationAccumulator::new(scenario, arm_name, replication)?;
    for family in &families {
        let record = readback::family_record(family, &clients, &hub).await?;
        accumulator.add_family(&family.plan, &record);
    }
    let system = readback::system_record(stack.urls()).await?;
    stack.stop().await?;
    Ok(accumulator.finish(system))
}
