//! `familybridge run SCENARIO`: a reform scenario through the three services, and its report.
//!
//! For each arm the command starts the services in this process on loopback ports with fresh SQLite
//! databases, set up with the arm's levers ([`levers`]) — or drives services already running, with
//! `--connect` — and drives every replication's seeded synthetic caseload through their public
//! gRPC APIs at once ([`drive`]; each replication's cases have references of their own); reads the
//! outcome back from them ([`readback`]); and measures it family by family, holding nothing per
//! family beyond the caseload itself. The comparison — means with 95% intervals and differences from the base arm —
//! is written to the output folder (`summary.json`, `metrics.csv`, `timeseries.csv`,
//! `report.html`) and printed as a table. With `--connect`, `--journal FILE` keeps every answer
//! the runner acts on ([`journal`]), so that a runner that dies can be started again and resume.

mod drive;
mod floor;
mod history;
mod journal;
pub mod levers;
mod link;
mod readback;

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context;
use familybridge_casework::CourtOrderRoute;
use familybridge_runtime::{Identity, TlsArgs, Transport};
use familybridge_scenario::{
    Arm, ReplicationAccumulator, ReplicationResult, SLICE_FILE, Scenario, Slice, SliceFile,
    SlicedResult, SystemRecord, summarise, terminal_table, units, world, write_outputs,
};
use familybridge_storage::{DatabaseUrl, PostgresServer};
use indicatif::{ProgressBar, ProgressStyle};
use tokio::task::JoinSet;

pub use crate::run::drive::PER_COMMAND_CONCURRENCY;
use crate::run::drive::{Agencies, Clients, Family, Reporting, Resume, STEP_DAYS};
use crate::run::floor::Floor;
use crate::run::journal::{Header, Journal};
pub use crate::run::link::Calls;
use crate::stack::{ANY_LOOPBACK_PORTS, Databases, Stack, Urls};

/// Families a replication one in-process stack of services holds, unless told otherwise: a cohort.
pub const DEFAULT_COHORT_SIZE: u64 = 5_000;

/// Cohorts of an arm driven side by side in process, unless told otherwise.
pub const DEFAULT_COHORTS_AT_ONCE: u32 = 2;

/// Entries in one ExecuteBatch call, unless told otherwise.
pub const DEFAULT_BATCH_SIZE: u32 = 512;

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
    /// Drive services that are already running, set up with one arm's levers (`familybridge up
    /// --scenario FILE --arm NAME`, or under docker compose), instead of starting them here:
    /// `court=URL,cms=URL,hub=URL`. Runs only that arm (see --arm).
    #[arg(long, value_parser = parse_connect)]
    connect: Option<Urls>,
    /// With --connect: write every answer the runner acts on to FILE. If FILE already holds the
    /// journal of this run (the same scenario file, arm, seed and size), the runner resumes it:
    /// it replays the run from the start with the journaled answers and carries on where the
    /// runner that wrote them stopped, with the same results as a run that never stopped.
    #[arg(long, value_name = "FILE")]
    journal: Option<PathBuf>,
    /// The one arm to run [default: every arm; with --connect, the scenario must then have one].
    #[arg(long)]
    arm: Option<String>,
    /// Worker threads [default: one per core]. The results do not depend on it.
    #[arg(long)]
    threads: Option<usize>,
    /// Families acting at once within a step, when each call goes alone (--per-command). The
    /// results do not depend on it.
    #[arg(long, default_value_t = drive::PER_COMMAND_CONCURRENCY)]
    concurrency: usize,
    /// The most entries in one ExecuteBatch call to the court registry or the CMS: each round of a
    /// phase, every family's call goes to the agency together, this many to a call. The results do
    /// not depend on it.
    #[arg(long, default_value_t = DEFAULT_BATCH_SIZE, value_parser = clap::value_parser!(u32).range(1..=4096))]
    batch_size: u32,
    /// Send each call to the court registry and the CMS on its own RPC instead of in batches (the
    /// per-command path, for comparison: the results are the same).
    #[arg(long)]
    per_command: bool,
    /// Folder for the services' databases, kept there afterwards [default: a temporary folder, each
    /// cohort's databases removed as soon as it has been measured].
    #[arg(long, conflicts_with = "database")]
    data_dir: Option<PathBuf>,
    /// Keep the services' databases on this PostgreSQL server instead of SQLite files: each arm
    /// gets fresh databases of its own there (`familybridge_run_<pid>_<arm>_<service>`, dropped
    /// afterwards). The user must be allowed to create databases.
    #[arg(long, value_name = "postgres://…")]
    database: Option<DatabaseUrl>,
    /// Run only slice K of N (K from 0, as a Kubernetes Indexed Job numbers its pods) of the
    /// run's (arm, replication) units, writing `slice.json` for `familybridge merge` rather than a
    /// report: e.g. `--slice 2/8`.
    #[arg(long)]
    slice: Option<Slice>,
    /// Run each arm's caseload in cohorts of at most this many families a replication, one after
    /// another, each on services of its own with fresh databases, so that memory and the databases
    /// grow with the cohort rather than the caseload. The results do not depend on it.
    #[arg(long, default_value_t = DEFAULT_COHORT_SIZE, value_parser = clap::value_parser!(u64).range(1..))]
    cohort_size: u64,
    /// How many of an arm's cohorts run side by side, each on services of its own. The results do
    /// not depend on it.
    #[arg(long, default_value_t = DEFAULT_COHORTS_AT_ONCE, value_parser = clap::value_parser!(u32).range(1..=64))]
    cohorts_at_once: u32,
    /// Run the arms' rules in this process, without the services: no gRPC, no database (the
    /// in-process floor `familybridge bench` measures a run through the services against). The
    /// results are the services'. Only for arms whose referral hub levers are all off.
    #[arg(long, conflicts_with_all = ["connect", "journal", "database", "data_dir", "per_command"])]
    floor: bool,
    #[command(flatten)]
    tls: TlsArgs,
}

impl RunArgs {
    /// The worker threads asked for.
    pub fn threads(&self) -> Option<usize> {
        self.threads
    }
}

/// Parses `court=URL,cms=URL,hub=URL`.
fn parse_connect(text: &str) -> Result<Urls, String> {
    let mut court = None;
    let mut cms = None;
    let mut hub = None;
    for part in text.split(',') {
        let (name, url) = part
            .split_once('=')
            .ok_or_else(|| format!("{part:?} is not NAME=URL"))?;
        let slot = match name.trim() {
            "court" => &mut court,
            "cms" => &mut cms,
            "hub" => &mut hub,
            other => return Err(format!("{other:?} is not one of court, cms, hub")),
        };
        *slot = Some(url.trim().to_owned());
    }
    match (court, cms, hub) {
        (Some(court_registry), Some(cms), Some(referral_hub)) => Ok(Urls {
            court_registry,
            cms,
            referral_hub,
        }),
        _ => Err("name all three: court=URL,cms=URL,hub=URL".to_owned()),
    }
}

/// Reads a scenario file with the command line's overrides.
pub fn load_scenario(
    path: &std::path::Path,
    seed: Option<u64>,
    replications: Option<u32>,
    families: Option<u64>,
) -> anyhow::Result<Scenario> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the scenario {}", path.display()))?;
    scenario_from_text(&text, seed, replications, families)
        .with_context(|| format!("the scenario {} cannot be run", path.display()))
}

/// A scenario from its file's text with the command line's overrides.
pub fn scenario_from_text(
    text: &str,
    seed: Option<u64>,
    replications: Option<u32>,
    families: Option<u64>,
) -> anyhow::Result<Scenario> {
    Ok(Scenario::from_toml_str(text)
        .and_then(|scenario| scenario.with_overrides(seed, replications, families))?)
}

/// The scenario cut down to the one arm `name`, which becomes its base.
pub fn only_arm(mut scenario: Scenario, name: &str) -> anyhow::Result<Scenario> {
    let known: Vec<String> = scenario.arms.iter().map(|arm| arm.name.clone()).collect();
    scenario.arms.retain(|arm| arm.name == name);
    if scenario.arms.is_empty() {
        anyhow::bail!(
            "arm: {name:?} is not an arm of the scenario (its arms: {})",
            known.join(", ")
        );
    }
    scenario.base_arm = name.to_owned();
    Ok(scenario)
}

/// Runs the scenario and writes its outputs.
pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    let path = &args.scenario;
    let scenario_text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the scenario {}", path.display()))?;
    let mut scenario =
        scenario_from_text(&scenario_text, args.seed, args.replications, args.families)
            .with_context(|| format!("the scenario {} cannot be run", path.display()))?;
    if let Some(arm) = &args.arm {
        scenario = only_arm(scenario, arm)?;
    }
    if args.journal.is_some() && args.connect.is_none() {
        anyhow::bail!(
            "--journal needs --connect: it lets a runner resume against services that kept running \
             (a run without --connect starts services of its own afresh)"
        );
    }
    if args.connect.is_some() && scenario.arms.len() != 1 {
        anyhow::bail!(
            "--connect drives services set up for one arm: name it with --arm (the scenario has {})",
            scenario.arms.len()
        );
    }
    let server = Databases::server(args.database.as_ref())?;
    let scratch = tempfile::tempdir().context("cannot make a folder for the databases")?;
    let data_root = args
        .data_dir
        .clone()
        .unwrap_or_else(|| scratch.path().to_owned());

    let weeks = scenario_weeks(&scenario);
    let terminal = std::io::stderr().is_terminal();
    let progress = if terminal {
        let bar = ProgressBar::new(scenario.arms.len() as u64 * weeks);
        bar.set_style(
            ProgressStyle::with_template(
                "simulating [{bar:40}] {percent:>3}% {elapsed} (eta {eta})",
            )
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

    // The slice's replications of each arm (every one, without --slice).
    let slice = args.slice.unwrap_or(Slice::WHOLE);
    let mut replications_of: Vec<Vec<u32>> = vec![Vec::new(); scenario.arms.len()];
    for (position, (arm, replication)) in units(&scenario).into_iter().enumerate() {
        if slice.takes(position)
            && let Some(index) = scenario.arms.iter().position(|a| a.name == arm)
        {
            replications_of[index].push(replication);
        }
    }

    // In process, every cohort of an arm steps through the period.
    let cohorts_of_an_arm = match args.connect {
        Some(_) => 1,
        None => cohorts(scenario.run.families, args.cohort_size).len() as u64,
    };
    progress.set_length(
        replications_of.iter().filter(|r| !r.is_empty()).count() as u64 * weeks * cohorts_of_an_arm,
    );

    let services = Services {
        floor: args.floor,
        connect: args.connect.clone(),
        journal: args.journal.clone(),
        server,
        data_root,
        keep_databases: args.data_dir.is_some(),
        database_bytes: Arc::default(),
        tls: args.tls.clone(),
        cohort_size: args.cohort_size,
        cohorts_at_once: args.cohorts_at_once as usize,
        calls: if args.per_command {
            Calls::PerCommand {
                concurrency: args.concurrency,
            }
        } else {
            Calls::Batched {
                batch_size: args.batch_size as usize,
            }
        },
    };
    let scenario = Arc::new(scenario);
    let results = simulate(&scenario, replications_of, &services, &progress, !terminal).await?;
    progress.finish_and_clear();

    if let Some(slice) = args.slice {
        let file = SliceFile {
            scenario_toml: scenario_text,
            seed: scenario.run.seed,
            replications: scenario.run.replications,
            families: scenario.run.families,
            arm: args.arm.clone(),
            slice: slice.to_string(),
            results: results.iter().map(SlicedResult::from).collect(),
        };
        let path = args.out.join(SLICE_FILE);
        std::fs::create_dir_all(&args.out)
            .with_context(|| format!("cannot make {}", args.out.display()))?;
        let json = serde_json::to_string_pretty(&file).context("the slice's results as JSON")?;
        std::fs::write(&path, json + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!(
            "slice {slice}: wrote {} (merge every slice's folder with `familybridge merge`)",
            path.display()
        );
        return Ok(());
    }
    finish(&scenario, &results, &args.out)
}

/// Where a run's arms find their services.
#[derive(Debug, Clone)]
pub struct Services {
    /// No services: their rules in this process (the in-process floor).
    pub floor: bool,
    /// Services already running (one arm); `None`: a stack of the arm's own in this process.
    pub connect: Option<Urls>,
    /// With `connect`: the answer journal to write, or to resume from.
    pub journal: Option<PathBuf>,
    /// The PostgreSQL server an in-process stack keeps its databases on; `None`: SQLite files.
    pub server: Option<PostgresServer>,
    /// The folder the arms' SQLite files go in (a subfolder per arm).
    pub data_root: PathBuf,
    /// In process on SQLite: keep each cohort's database files once it has been measured (the
    /// user named the folder); otherwise they are removed then, so that the disk a run needs
    /// grows with a cohort, not the caseload.
    pub keep_databases: bool,
    /// In process on SQLite: the bytes of every cohort's database files, added as each cohort
    /// has been measured (what a run wrote, whether or not it keeps it).
    pub database_bytes: Arc<AtomicU64>,
    /// How the families' calls reach the CMS.
    pub calls: Calls,
    /// Mutual TLS, or plaintext: how the runner reaches the services, and (in this process) they
    /// each other.
    pub tls: TlsArgs,
    /// In process: the most families a replication one stack of services holds (see
    /// [`cohorts`]).
    pub cohort_size: u64,
    /// In process: how many of an arm's cohorts run side by side, each on its own stack.
    pub cohorts_at_once: usize,
}

/// One arm's caseload in process, in cohorts: each on services of its own with fresh databases, so
/// that memory and the databases grow with the cohort, not the caseload. Families never share a
/// case, so the outcome is a single cohort's. Up to `cohorts_at_once` cohorts are driven side by
/// side (the services' single-writer databases leave a core idle otherwise); each is measured only
/// once the cohort before it has been, so the measures add up in the order of one cohort.
#[derive(Debug, Clone)]
struct InProcess {
    scenario: Arc<Scenario>,
    arm: familybridge_scenario::Arm,
    replications: Vec<u32>,
    server: Option<PostgresServer>,
    data_dir: PathBuf,
    keep_databases: bool,
    database_bytes: Arc<AtomicU64>,
    tls: TlsArgs,
    transport: Transport,
    calls: Calls,
}

impl InProcess {
    /// Runs every cohort of at most `cohort_size` families, `cohorts_at_once` side by side,
    /// measuring them into `measures`, and returns it.
    async fn run(
        self,
        cohort_size: u64,
        cohorts_at_once: usize,
        measures: ArmMeasures,
        progress: &ProgressBar,
    ) -> anyhow::Result<ArmMeasures> {
        let measures = Arc::new(tokio::sync::Mutex::new(measures));
        let room = Arc::new(tokio::sync::Semaphore::new(cohorts_at_once.max(1)));
        let this = Arc::new(self);
        let mut running = JoinSet::new();
        // The signal each cohort gives when it has been measured, which the next waits for.
        let mut measured_before: Option<tokio::sync::oneshot::Receiver<()>> = None;
        for (number, cohort) in cohorts(this.scenario.run.families, cohort_size)
            .into_iter()
            .enumerate()
        {
            let place = Arc::clone(&room)
                .acquire_owned()
                .await
                .context("the cohorts' room closed")?;
            let (measured, next_may_measure) = tokio::sync::oneshot::channel();
            let turn = measured_before.replace(next_may_measure);
            let (this, measures, progress) =
                (Arc::clone(&this), Arc::clone(&measures), progress.clone());
            running.spawn(async move {
                let _place = place;
                this.cohort(number, cohort, turn, measured, &measures, &progress)
                    .await
            });
            // A cohort that failed fails the arm at once, without waiting for the rest.
            while let Some(done) = running.try_join_next() {
                done.context("a cohort's run panicked")??;
            }
        }
        while let Some(done) = running.join_next().await {
            done.context("a cohort's run panicked")??;
        }
        let measures = Arc::try_unwrap(measures)
            .map_err(|_| anyhow::anyhow!("a cohort still holds the arm's measures"))?;
        Ok(measures.into_inner())
    }

    /// Cohort `number` (families `cohort`) on services of its own: driven, then measured once
    /// `turn` says the cohort before has been, which it then tells the next through `measured`.
    async fn cohort(
        &self,
        number: usize,
        cohort: Range<u64>,
        turn: Option<tokio::sync::oneshot::Receiver<()>>,
        measured: tokio::sync::oneshot::Sender<()>,
        measures: &tokio::sync::Mutex<ArmMeasures>,
        progress: &ProgressBar,
    ) -> anyhow::Result<()> {
        let databases = match &self.server {
            Some(server) => Databases::Postgres {
                server: Box::new(server.clone()),
                prefix: format!(
                    "familybridge_run_{}_{}_c{number}",
                    std::process::id(),
                    self.arm
                        .name
                        .replace(|c: char| !c.is_ascii_alphanumeric(), "_")
                ),
            },
            None => {
                let folder = self.data_dir.join(format!("cohort-{number}"));
                std::fs::create_dir_all(&folder)
                    .with_context(|| format!("cannot make {}", folder.display()))?;
                Databases::Files(folder)
            }
        };
        let stack = Stack::start(
            &databases,
            ANY_LOOPBACK_PORTS,
            levers::setup(&self.arm),
            &self.tls,
        )
        .await?;
        let outcome = async {
            let (clients, families) = drive_cohort(
                &self.scenario,
                &self.arm.name,
                &self.replications,
                cohort,
                stack.urls(),
                &self.transport,
                self.calls,
                None,
                || progress.inc(1),
            )
            .await?;
            if let Some(turn) = turn {
                turn.await
                    .map_err(|_| anyhow::anyhow!("an earlier cohort was not measured"))?;
            }
            let mut measures = measures.lock().await;
            measure_services_cohort(
                &families,
                &clients,
                stack.urls(),
                &self.transport,
                &mut measures,
            )
            .await?;
            // The next cohort may be measured: nobody waits for a cohort after the last.
            let _ = measured.send(());
            anyhow::Ok(())
        }
        .await;
        stack.stop().await?;
        if let Databases::Files(folder) = &databases {
            self.database_bytes
                .fetch_add(bytes_under(folder), Ordering::Relaxed);
            if !self.keep_databases {
                std::fs::remove_dir_all(folder)
                    .with_context(|| format!("cannot remove {}", folder.display()))?;
            }
        }
        databases.remove().await?;
        outcome
    }
}

/// Runs `replications_of[i]` of the scenario's arm `i` through `services`, arms side by side, and
/// returns their results in the scenario's order (arm, then replication).
pub async fn simulate(
    scenario: &Arc<Scenario>,
    mut replications_of: Vec<Vec<u32>>,
    services: &Services,
    progress: &ProgressBar,
    announce: bool,
) -> anyhow::Result<Vec<ReplicationResult>> {
    // Arms run side by side, each on services of its own; their results are put back in the
    // scenario's order, so the outputs do not depend on which finished first.
    let mut arms = JoinSet::new();
    for (position, arm) in scenario.arms.iter().enumerate() {
        let replications = std::mem::take(&mut replications_of[position]);
        if replications.is_empty() {
            continue;
        }
        let (scenario, progress) = (Arc::clone(scenario), progress.clone());
        let (arm, connect, journal, server) = (
            arm.clone(),
            services.connect.clone(),
            services.journal.clone(),
            services.server.clone(),
        );
        let data_dir = services.data_root.join(&arm.name);
        let (keep_databases, database_bytes) = (
            services.keep_databases,
            Arc::clone(&services.database_bytes),
        );
        let calls = services.calls;
        let tls = services.tls.clone();
        let cohort_size = services.cohort_size;
        let cohorts_at_once = services.cohorts_at_once;
        let floor = services.floor;
        arms.spawn(async move {
            let mut measures = ArmMeasures::new(&scenario, &arm.name, &replications)?;
            let transport = tls.transport(Identity::Simulation)?;
            let everyone = 0..scenario.run.families;
            match &connect {
                None if floor => {
                    for cohort in cohorts(scenario.run.families, cohort_size) {
                        floor_cohort(
                            &scenario,
                            &arm,
                            &replications,
                            cohort,
                            &mut measures,
                            || progress.inc(1),
                        )
                        .await?;
                    }
                    Ok(())
                }
                Some(urls) => {
                    let (clients, families) = drive_cohort(
                        &scenario,
                        &arm.name,
                        &replications,
                        everyone,
                        urls,
                        &transport,
                        calls,
                        journal.as_deref(),
                        || progress.inc(1),
                    )
                    .await?;
                    measure_services_cohort(&families, &clients, urls, &transport, &mut measures)
                        .await
                }
                None => {
                    let cohorts = InProcess {
                        scenario: Arc::clone(&scenario),
                        arm: arm.clone(),
                        replications: replications.clone(),
                        server: server.clone(),
                        data_dir: data_dir.clone(),
                        keep_databases,
                        database_bytes: Arc::clone(&database_bytes),
                        tls: tls.clone(),
                        transport: transport.clone(),
                        calls,
                    };
                    measures = cohorts
                        .run(cohort_size, cohorts_at_once, measures, &progress)
                        .await?;
                    Ok(())
                }
            }
            .with_context(|| format!("arm {:?}", arm.name))?;
            let outcome = measures.finish();
            if announce {
                eprintln!("done: arm {}", arm.name);
            }
            anyhow::Ok((position, outcome))
        });
    }
    let mut by_arm = Vec::new();
    while let Some(done) = arms.join_next().await {
        by_arm.push(done.context("an arm's run panicked")??);
    }
    by_arm.sort_by_key(|(position, _)| *position);
    let results: Vec<ReplicationResult> = by_arm
        .into_iter()
        .flat_map(|(_, results)| results)
        .collect();
    Ok(results)
}

/// Summarises a whole run's results, writes its outputs into `out` and prints the comparison.
pub fn finish(
    scenario: &Scenario,
    results: &[ReplicationResult],
    out: &Path,
) -> anyhow::Result<()> {
    let summary = summarise(scenario, results, CODE_VERSION).context("summarising the runs")?;
    let written = write_outputs(out, &summary, results).context("writing the outputs")?;
    println!("{}", terminal_table(&summary));
    for path in written {
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// Steps in the period.
fn scenario_weeks(scenario: &Scenario) -> u64 {
    let days = u64::try_from((scenario.run.end() - scenario.run.start).num_days()).unwrap_or(0);
    days.div_ceil(STEP_DAYS).max(1)
}

/// One arm's measures as its cohorts are run: an accumulator per replication, and the disclosures
/// counted so far.
struct ArmMeasures {
    accumulators: BTreeMap<u32, ReplicationAccumulator>,
    disclosures: BTreeMap<u32, u64>,
}

impl ArmMeasures {
    /// Nothing measured yet of `replications` of arm `arm_name`.
    fn new(scenario: &Scenario, arm_name: &str, replications: &[u32]) -> anyhow::Result<Self> {
        Ok(Self {
            accumulators: replications
                .iter()
                .map(|&replication| {
                    Ok((
                        replication,
                        ReplicationAccumulator::new(scenario, arm_name, replication)?,
                    ))
                })
                .collect::<anyhow::Result<_>>()?,
            disclosures: BTreeMap::new(),
        })
    }

    /// The replications measured.
    fn replications(&self) -> Vec<u32> {
        self.accumulators.keys().copied().collect()
    }

    /// Each replication's results, in replication order.
    fn finish(self) -> Vec<ReplicationResult> {
        let disclosures = self.disclosures;
        self.accumulators
            .into_iter()
            .map(|(replication, accumulator)| {
                accumulator.finish(SystemRecord {
                    disclosures: disclosures.get(&replication).copied().unwrap_or_default(),
                })
            })
            .collect()
    }
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

/// The cohorts of a caseload of `families` families a replication, at most `size` of them each:
/// ranges of family indices, in order.
fn cohorts(families: u64, size: u64) -> Vec<Range<u64>> {
    let size = size.max(1);
    (0..families.div_ceil(size))
        .map(|cohort| cohort * size..((cohort + 1) * size).min(families))
        .collect()
}

/// The families `cohort` (indices) of one arm's `replications`, together, through the services at
/// `urls` (whose clocks must not have moved yet, unless `journal_file` holds the journal of an
/// earlier runner of this run, which is then resumed): the families as the period left them, and
/// the clients that reached the services. Replications never share a case: every reference
/// carries its replication.
#[allow(clippy::too_many_arguments)]
async fn drive_cohort(
    scenario: &Scenario,
    arm_name: &str,
    replications: &[u32],
    cohort: Range<u64>,
    urls: &Urls,
    transport: &Transport,
    calls: Calls,
    journal_file: Option<&Path>,
    on_step: impl FnMut(),
) -> anyhow::Result<(Clients, Vec<Family>)> {
    let arm = scenario
        .arm(arm_name)
        .with_context(|| format!("no arm {arm_name:?}"))?;
    let clients = Clients::new(urls, transport)?;
    let start = scenario.run.start;
    let resume = match journal_file {
        None => {
            clients.clock_dates().await?.check_fresh(start)?;
            Resume::default()
        }
        Some(path) => {
            let header = Header::new(scenario, arm_name, replications);
            let earlier = journal::read(path, &header)?;
            // Read once: the clocks a resumed runner need not move again.
            let clocks = clients.clock_dates().await?;
            let journal = match earlier {
                None => {
                    clocks.check_fresh(start)?;
                    Journal::create(path, &header)?
                }
                Some(earlier) => {
                    eprintln!(
                        "resuming: {} answers from {}",
                        earlier.count(),
                        path.display()
                    );
                    Journal::resume(path, earlier)?
                }
            };
            Resume {
                clocks,
                journal: Some(Arc::new(journal)),
            }
        }
    };
    let agencies = Agencies::Services(Box::new(clients.clone()));
    let families = drive::drive(
        scenario,
        &agencies,
        cohort_families(scenario, replications, cohort),
        reporting(arm),
        calls,
        &resume,
        on_step,
    )
    .await?;
    Ok((clients, families))
}

/// The families `cohort` (indices) of each of `replications`, as the world plans them.
fn cohort_families(scenario: &Scenario, replications: &[u32], cohort: Range<u64>) -> Vec<Family> {
    replications
        .iter()
        .flat_map(|&replication| {
            cohort
                .clone()
                .map(move |index| Family::new(world::family(scenario, replication, index)))
        })
        .collect()
}

/// How the CMS learns of court orders under `arm`'s levers.
fn reporting(arm: &Arm) -> Reporting {
    match arm.cms.court_orders {
        CourtOrderRoute::Manual => Reporting::ByParents,
        CourtOrderRoute::Automatic => Reporting::Automatic,
    }
}

/// The families `cohort` of `arm`'s `replications` through the agencies' rules in this process
/// (the in-process floor), measured into `measures` as a cohort through the services is.
async fn floor_cohort(
    scenario: &Scenario,
    arm: &Arm,
    replications: &[u32],
    cohort: Range<u64>,
    measures: &mut ArmMeasures,
    on_step: impl FnMut(),
) -> anyhow::Result<()> {
    let floor = Arc::new(Floor::new(arm)?);
    let agencies = Agencies::Floor(Arc::clone(&floor));
    let families = drive::drive(
        scenario,
        &agencies,
        cohort_families(scenario, replications, cohort),
        reporting(arm),
        // In process, every call goes straight to the rules: how calls are grouped is moot.
        Calls::PerCommand {
            concurrency: PER_COMMAND_CONCURRENCY,
        },
        &Resume::default(),
        on_step,
    )
    .await?;
    let disclosures = floor.disclosures_by_replication(&measures.replications());
    measure_cohort(
        &families,
        &agencies,
        readback::HubRecords::default(),
        disclosures,
        measures,
    )
    .await
}

/// Families whose CMS histories are held at once while a cohort is measured.
const READ_BACK_AT_ONCE: usize = 256;

/// Reads a driven cohort's outcome back from the services at `urls` and measures it into
/// `measures`.
async fn measure_services_cohort(
    families: &[Family],
    clients: &Clients,
    urls: &Urls,
    transport: &Transport,
    measures: &mut ArmMeasures,
) -> anyhow::Result<()> {
    let hub = readback::HubRecords::read(&urls.referral_hub, transport).await?;
    let disclosures =
        readback::disclosures_by_replication(urls, transport, &measures.replications()).await?;
    let agencies = Agencies::Services(Box::new(clients.clone()));
    measure_cohort(families, &agencies, hub, disclosures, measures).await
}

/// Measures a driven cohort into `measures`, given what the hub did (`hub`) and the disclosures
/// of each replication's cases, its CMS histories read back from `agencies`: each replication's
/// families in index order, after the cohorts before it — the order a run in one cohort adds them
/// in.
async fn measure_cohort(
    families: &[Family],
    agencies: &Agencies,
    hub: readback::HubRecords,
    disclosures: BTreeMap<u32, u64>,
    measures: &mut ArmMeasures,
) -> anyhow::Result<()> {
    for (replication, count) in disclosures {
        *measures.disclosures.entry(replication).or_default() += count;
    }
    for (&replication, accumulator) in &mut measures.accumulators {
        let replicated: Vec<&Family> = families
            .iter()
            .filter(|family| family.plan.replication == replication)
            .collect();
        // Read back a few hundred families at a time, so that what is held stays small.
        for part in replicated.chunks(READ_BACK_AT_ONCE) {
            let histories = readback::cms_histories(part, agencies).await?;
            for (family, history) in part.iter().zip(&histories) {
                let record = readback::family_record(family, history, &hub)?;
                accumulator.add_family(&family.plan, &record);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::cohorts;

    #[test]
    fn cohorts_cover_every_family_once_in_order_at_most_size_each() {
        assert_eq!(cohorts(10, 4), vec![0..4, 4..8, 8..10]);
        assert_eq!(cohorts(8, 4), vec![0..4, 4..8]);
        assert_eq!(cohorts(3, 5_000), vec![0..3]);
        assert_eq!(cohorts(0, 4), Vec::<std::ops::Range<u64>>::new());
    }
}
