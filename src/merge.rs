//! `familybridge merge DIR…`: the slices of a run (`familybridge run … --slice K/N`, one folder
//! each) merged into the outputs one whole run with the same seed writes, byte for byte.

use std::path::PathBuf;

use anyhow::Context;
use familybridge_scenario::{SLICE_FILE, SliceFile, merge};

use crate::run::{finish, only_arm, scenario_from_text};

/// Which slices to merge and where the outputs go.
#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// The slices' output folders, each holding a slice.json.
    #[arg(required = true)]
    slices: Vec<PathBuf>,
    /// Folder for summary.json, metrics.csv, timeseries.csv and report.html.
    #[arg(long, default_value = "out")]
    out: PathBuf,
}

/// Reads every slice, checks they make one whole run, and writes its outputs.
pub fn run(args: MergeArgs) -> anyhow::Result<()> {
    let slices = args
        .slices
        .iter()
        .map(|dir| {
            let path = dir.join(SLICE_FILE);
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            serde_json::from_str::<SliceFile>(&text)
                .with_context(|| format!("{} is not a slice's results", path.display()))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let first = slices.first().context("no slices given")?;
    let mut scenario = scenario_from_text(
        &first.scenario_toml,
        Some(first.seed),
        Some(first.replications),
        Some(first.families),
    )
    .context("the slices' scenario cannot be read")?;
    if let Some(arm) = &first.arm {
        scenario = only_arm(scenario, arm)?;
    }
    let results = merge(&scenario, &slices)?;
    finish(&scenario, &results, &args.out)
}
