//! `familybridge bench`: how fast a scenario's arms go through the three services, at each
//! caseload size asked for, on the embedded default or on PostgreSQL — the figures the README's
//! performance table quotes.
//!
//! Each size is one replication of every arm, run exactly as `familybridge run` runs it (a stack
//! per arm, arms side by side), timed from the first family's first call to the last read-back.
//! Printed per size: wall time, family-arm-years a second, the process's peak resident memory so
//! far (Linux's `VmHWM`: sizes run smallest first, so each figure is that size's peak) and, on
//! SQLite, the databases' size on disk. Then the same run through the in-process floor (`run
//! --floor`: the same world and rules, no gRPC, no database): its wall time, the services' time as
//! a multiple of it, and whether the two gave the same results (they must).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use familybridge_runtime::TlsArgs;
use familybridge_storage::DatabaseUrl;
use indicatif::ProgressBar;

use crate::run::{
    Calls, DEFAULT_BATCH_SIZE, DEFAULT_COHORT_SIZE, DEFAULT_COHORTS_AT_ONCE,
    PER_COMMAND_CONCURRENCY, Services, load_scenario, simulate,
};
use crate::stack::Databases;

/// What to measure.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// The scenario whose arms are run.
    #[arg(long, default_value = "scenarios/automatic-exchange.toml")]
    scenario: PathBuf,
    /// Families per arm, one measurement per size (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "1000,10000")]
    families: Vec<u64>,
    /// Months simulated.
    #[arg(long, default_value_t = 12)]
    months: u32,
    /// Keep the databases on this PostgreSQL server instead of SQLite files.
    #[arg(long, value_name = "postgres://…")]
    database: Option<DatabaseUrl>,
    /// Send each call to the court registry and the CMS on its own RPC (16 families at once)
    /// instead of in batches of up to 512 entries.
    #[arg(long)]
    per_command: bool,
    /// Families one stack of services holds at a time (see `familybridge run --cohort-size`).
    #[arg(long, default_value_t = DEFAULT_COHORT_SIZE, value_parser = clap::value_parser!(u64).range(1..))]
    cohort_size: u64,
    /// Cohorts of an arm run side by side (see `familybridge run --cohorts-at-once`).
    #[arg(long, default_value_t = DEFAULT_COHORTS_AT_ONCE, value_parser = clap::value_parser!(u32).range(1..=64))]
    cohorts_at_once: u32,
}

/// Runs every size and prints a row for each.
pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let server = Databases::server(args.database.as_ref())?;
    let backend = if server.is_some() {
        "postgresql"
    } else {
        "sqlite"
    };
    anyhow::ensure!(
        (1..=60).contains(&args.months),
        "months: {} is not between 1 and 60",
        args.months
    );
    let mut sizes = args.families.clone();
    sizes.sort_unstable();
    println!(
        "{:>9} {:>5} {:>6} {:>11} {:>10} {:>9} {:>16} {:>13} {:>8} {:>9} {:>13} {:>8} {:>5}",
        "families",
        "arms",
        "months",
        "backend",
        "wall s",
        "fam-yr",
        "fam-arm-yr/s",
        "peak RSS MiB",
        "db MiB",
        "floor s",
        "floor fay/s",
        "x floor",
        "same"
    );
    for families in sizes {
        let mut scenario = load_scenario(&args.scenario, None, Some(2), Some(families))?;
        scenario.run.months = args.months;
        let arms = scenario.arms.len();
        let scenario = Arc::new(scenario);
        let scratch = tempfile::tempdir().context("cannot make a folder for the databases")?;
        let services = Services {
            floor: false,
            connect: None,
            journal: None,
            server: server.clone(),
            data_root: scratch.path().to_owned(),
            tls: TlsArgs::default(),
            cohort_size: args.cohort_size,
            cohorts_at_once: args.cohorts_at_once as usize,
            calls: if args.per_command {
                Calls::PerCommand {
                    concurrency: PER_COMMAND_CONCURRENCY,
                }
            } else {
                Calls::Batched {
                    batch_size: DEFAULT_BATCH_SIZE as usize,
                }
            },
        };
        // One replication of each arm: the bench measures throughput, not intervals.
        let replications_of = vec![vec![1]; arms];
        let started = Instant::now();
        let results = simulate(
            &scenario,
            replications_of.clone(),
            &services,
            &ProgressBar::hidden(),
            false,
        )
        .await
        .with_context(|| format!("the run of {families} families"))?;
        // Timings, not money: floating point is what they are measured in.
        let wall = started.elapsed().as_secs_f64();
        let peak = peak_resident_mib().map_or_else(|| "-".to_owned(), |mib| mib.to_string());
        let database = if server.is_some() {
            "-".to_owned()
        } else {
            format!("{:.1}", bytes_under(scratch.path()) as f64 / 1_048_576.0)
        };
        let floor = Services {
            floor: true,
            ..services
        };
        let started = Instant::now();
        let floor_results = simulate(
            &scenario,
            replications_of,
            &floor,
            &ProgressBar::hidden(),
            false,
        )
        .await
        .with_context(|| format!("the in-process floor of {families} families"))?;
        let floor_wall = started.elapsed().as_secs_f64();
        let family_years = families as f64 * f64::from(args.months) / 12.0;
        let rate = family_years * arms as f64 / wall;
        let floor_rate = family_years * arms as f64 / floor_wall;
        println!(
            "{families:>9} {arms:>5} {:>6} {backend:>11} {wall:>10.1} {:>9} {:>16} {peak:>13} \
             {database:>8} {floor_wall:>9.2} {:>13} {:>8} {:>5}",
            args.months,
            format!("{family_years:.0}"),
            format!("{rate:.1}"),
            format!("{floor_rate:.0}"),
            format!("{:.0}", wall / floor_wall),
            if results == floor_results {
                "yes"
            } else {
                "NO"
            },
        );
    }
    Ok(())
}

/// The process's peak resident set so far, in MiB (Linux only).
fn peak_resident_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

/// The bytes of every file under `folder`.
fn bytes_under(folder: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.metadata() {
            Ok(metadata) if metadata.is_dir() => bytes_under(&entry.path()),
            Ok(metadata) => metadata.len(),
            Err(_) => 0,
        })
        .sum()
}
