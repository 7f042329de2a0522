//! `familybridge bench`: how fast a scenario's arms go through the three services, at each
//! caseload size asked for, on the embedded default or on PostgreSQL — the figures the README's
//! performance table quotes.
//!
//! Each size is one replication of every arm, run exactly as `familybridge run` runs it (a stack
//! per arm, arms side by side), timed from the first family's first call to the last read-back.
//! Printed per size: wall time, family-arm-years a second, the process's peak resident memory so
//! far (Linux's `VmHWM`: sizes run smallest first, so each figure is that size's peak) and, on
//! SQLite, the size the cohorts' databases came to (each cohort's are removed once it has been
//! measured, so the disk a run needs is a cohort's). Then the same run through the in-process floor (`run
//! --floor`: the same world and rules, no gRPC, no database): its wall time, the services' time as
//! a multiple of it, and whether the two gave the same results (they must).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use anyhow::Context;
use familybridge_runtime::TlsArgs;
use familybridge_scenario::{ReplicationResult, Scenario};
use familybridge_storage::DatabaseUrl;
use indicatif::ProgressBar;
use rust_decimal::Decimal;

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
            keep_databases: false,
            database_bytes: Arc::default(),
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
        let (results, wall) = timed(&scenario, &replications_of, &services)
            .await
            .with_context(|| format!("the run of {families} families"))?;
        let peak = peak_resident_mib().map_or_else(|| "-".to_owned(), |mib| mib.to_string());
        let database = if server.is_some() {
            "-".to_owned()
        } else {
            let written = services.database_bytes.load(Ordering::Relaxed);
            format!("{:.1}", written as f64 / 1_048_576.0)
        };
        let floor = Services {
            floor: true,
            ..services
        };
        let (floor_results, floor_wall) = timed(&scenario, &replications_of, &floor)
            .await
            .with_context(|| format!("the in-process floor of {families} families"))?;
        for difference in differences(&results, &floor_results) {
            eprintln!("{families} families: the floor and the services differ: {difference}");
        }
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

/// Runs `replications_of` each arm of `scenario` through `services`: the results, and the wall
/// time in seconds (timings, not money: floating point is what they are measured in).
async fn timed(
    scenario: &Arc<Scenario>,
    replications_of: &[Vec<u32>],
    services: &Services,
) -> anyhow::Result<(Vec<ReplicationResult>, f64)> {
    let started = Instant::now();
    let results = simulate(
        scenario,
        replications_of.to_vec(),
        services,
        &ProgressBar::hidden(),
        false,
    )
    .await?;
    Ok((results, started.elapsed().as_secs_f64()))
}

/// Where two runs' results differ, metric by metric (the services' value, then the floor's).
fn differences(services: &[ReplicationResult], floor: &[ReplicationResult]) -> Vec<String> {
    if services.len() != floor.len() {
        return vec![format!(
            "{} results against {}",
            services.len(),
            floor.len()
        )];
    }
    let shown =
        |value: Option<&Decimal>| value.map_or_else(|| "nothing".to_owned(), Decimal::to_string);
    let mut found = Vec::new();
    for (ours, theirs) in services.iter().zip(floor) {
        let unit = format!("arm {} replication {}", ours.arm, ours.replication);
        for (metric, value) in &ours.metrics {
            let other = theirs.metrics.get(metric);
            if other != Some(value) {
                found.push(format!(
                    "{unit}: {} {value} against {}",
                    metric.name(),
                    shown(other)
                ));
            }
        }
        for (key, value) in &ours.monthly {
            let other = theirs.monthly.get(key);
            if other != Some(value) {
                found.push(format!(
                    "{unit}: month {} {} {value} against {}",
                    key.0,
                    key.1.name(),
                    shown(other)
                ));
            }
        }
    }
    found
}

/// The process's peak resident set so far, in MiB (Linux only).
fn peak_resident_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use familybridge_scenario::{Metric, ReplicationResult};
    use rust_decimal::Decimal;

    use super::differences;

    fn result(disclosures: i64) -> ReplicationResult {
        ReplicationResult {
            arm: "automatic".to_owned(),
            replication: 1,
            families: 3,
            metrics: BTreeMap::from([(Metric::Disclosures, Decimal::from(disclosures))]),
            monthly: BTreeMap::new(),
        }
    }

    #[test]
    fn differences_name_the_unit_the_metric_and_both_values() {
        assert!(differences(&[result(7)], &[result(7)]).is_empty());
        assert_eq!(
            differences(&[result(7)], &[result(8)]),
            ["arm automatic replication 1: disclosures 7 against 8"]
        );
        assert_eq!(differences(&[result(7)], &[]), ["1 results against 0"]);
    }
}
