//! The `familybridge` command: one entry point to the simulator.
//!
//! `familybridge up` runs the three agency services in one process on their usual addresses, with
//! embedded SQLite databases, for demonstrations and for clients exploring the APIs.
//! `familybridge calc` works out child maintenance for one case, with its explanation.
//! `familybridge certs` makes a certificate authority and certificates for mutual TLS.
//! `familybridge run SCENARIO` runs a reform scenario through the services and reports it (or one
//! slice of it, `--slice K/N`); `familybridge merge DIR…` merges slices into the whole run's report;
//! `familybridge bench` measures a run's speed and memory at several caseload sizes.
//! With the OpenTelemetry variables set, each exports its traces and metrics (see the README's
//! "Tracing").

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use familybridge_runtime::MainOptions;

/// The binary's name: the `service.name` of the runner's own telemetry (the services it hosts
/// are exported under theirs).
const BINARY: &str = "familybridge";

mod bench;
mod calc;
mod certs;
mod load;
mod merge;
mod run;
mod stack;
mod up;

/// familybridge: how the Child Maintenance Service and the Family Courts would work if they
/// exchanged data and acted together.
#[derive(Debug, Parser)]
#[command(name = "familybridge", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the court registry, the CMS and the referral hub in one process until Ctrl-C.
    Up(up::UpArgs),
    /// Work out child maintenance under the 2012 statutory scheme, with the explanation.
    Calc(calc::CalcArgs),
    /// Make a certificate authority and a certificate for every identity, for mutual TLS.
    Certs(certs::CertsArgs),
    /// Run a reform scenario through the three services and report the comparison.
    Run(run::RunArgs),
    /// Merge the slices of a run (`run … --slice K/N`) into the outputs of the whole run.
    Merge(merge::MergeArgs),
    /// Measure how fast a scenario's arms go through the services, at each caseload size.
    Bench(bench::BenchArgs),
    /// Hold each service under many concurrent clients for a while: calls a second, p50 and p99
    /// latency, errors.
    Load(load::LoadArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // A run's own output is its progress bar and table: the services it hosts log warnings only,
    // unless RUST_LOG asks for more.
    let options = match &cli.command {
        Command::Run(args) => MainOptions {
            worker_threads: args.threads(),
            default_log: "warn",
        },
        Command::Merge(_) | Command::Bench(_) | Command::Load(_) => MainOptions {
            worker_threads: None,
            default_log: "warn",
        },
        Command::Up(_) | Command::Calc(_) | Command::Certs(_) => MainOptions::default(),
    };
    familybridge_runtime::run_main_on(BINARY, options, async {
        match cli.command {
            Command::Up(args) => up::run(args).await,
            Command::Calc(args) => calc::run(args),
            Command::Certs(args) => certs::run(args),
            Command::Run(args) => run::run(args).await,
            Command::Merge(args) => merge::run(args),
            Command::Bench(args) => bench::run(args).await,
            Command::Load(args) => load::run(args).await,
        }
    })
}
