//! Slices of a run, and the merge of their results: how a large scenario spreads over many
//! machines (a Kubernetes Indexed Job's pods, say) and still gives the summary of one run.
//!
//! A run's units of work are its (arm, replication) pairs, in the scenario's arm order, then by
//! replication. Slice `K/N` (K from 0 to N − 1: a Kubernetes Indexed Job's completion index) takes
//! every unit whose position is K modulo N: each unit's
//! families, stack and results are its own (common random numbers come from the seed, not from
//! what else runs), so any partition gives the results a whole run gives. A slice writes its
//! results with the scenario that made them ([`SliceFile`], `slice.json`); [`merge`] checks that
//! the slices are of one scenario and cover every unit exactly once, and hands back the results in
//! the order of a whole run, for [`crate::summarise`] and [`crate::write_outputs`].

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::{Metric, ReplicationResult, Scenario};

/// The file a slice writes into its output folder.
pub const SLICE_FILE: &str = "slice.json";

/// One slice of a run: number `index` (from 0) of `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Slice {
    index: u32,
    count: u32,
}

/// Why a slice could not be read, or slices could not be merged.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SliceError {
    /// `--slice` is not `K/N` with 0 ≤ K < N.
    #[error("slice: {0:?} is not K/N with 0 <= K < N (e.g. 2/8)")]
    Malformed(String),
    /// The slices are of different scenarios, seeds or sizes.
    #[error("the slices are of different runs: {0}")]
    DifferentRuns(String),
    /// Some unit of the run is in no slice, or in two.
    #[error("the slices do not cover the run exactly once: {0}")]
    Coverage(String),
    /// A slice holds a result the scenario cannot have.
    #[error("a slice's results do not fit its scenario: {0}")]
    Results(String),
}

impl Slice {
    /// The whole run, as one slice.
    pub const WHOLE: Slice = Slice { index: 0, count: 1 };

    /// Whether the unit at `position` (from 0, in run order) is this slice's.
    pub fn takes(self, position: usize) -> bool {
        position % self.count as usize == self.index as usize
    }

    /// How many slices the run is cut into.
    pub fn count(self) -> u32 {
        self.count
    }
}

impl FromStr for Slice {
    type Err = SliceError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let malformed = || SliceError::Malformed(text.to_owned());
        let (index, count) = text.split_once('/').ok_or_else(malformed)?;
        let index: u32 = index.parse().map_err(|_| malformed())?;
        let count: u32 = count.parse().map_err(|_| malformed())?;
        if index >= count {
            return Err(malformed());
        }
        Ok(Slice { index, count })
    }
}

impl fmt::Display for Slice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Every (arm, replication) unit of a run of `scenario`, in run order.
pub fn units(scenario: &Scenario) -> Vec<(String, u32)> {
    scenario
        .arms
        .iter()
        .flat_map(|arm| (1..=scenario.run.replications).map(move |r| (arm.name.clone(), r)))
        .collect()
}

/// What a slice ran and found: enough to check it against the other slices and to summarise.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SliceFile {
    /// The scenario file's text, as the slice read it.
    pub scenario_toml: String,
    /// The master seed used.
    pub seed: u64,
    /// Replications per arm.
    pub replications: u32,
    /// Families per replication.
    pub families: u64,
    /// The one arm run, if the run was cut down to one (`--arm`).
    pub arm: Option<String>,
    /// Which slice this is, `K/N`.
    pub slice: String,
    /// The results of the slice's units.
    pub results: Vec<SlicedResult>,
}

/// One unit's [`ReplicationResult`], with metrics by name so the file reads on its own.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlicedResult {
    /// The arm.
    pub arm: String,
    /// The replication (from 1).
    pub replication: u32,
    /// Families run.
    pub families: u64,
    /// Each metric's value, by metric name.
    pub metrics: BTreeMap<String, Decimal>,
    /// The monthly series: (month index from 0, metric name, value).
    pub monthly: Vec<(u32, String, Decimal)>,
}

impl From<&ReplicationResult> for SlicedResult {
    fn from(result: &ReplicationResult) -> Self {
        Self {
            arm: result.arm.clone(),
            replication: result.replication,
            families: result.families,
            metrics: result
                .metrics
                .iter()
                .map(|(metric, value)| (metric.name().to_owned(), *value))
                .collect(),
            monthly: result
                .monthly
                .iter()
                .map(|((month, metric), value)| (*month, metric.name().to_owned(), *value))
                .collect(),
        }
    }
}

impl TryFrom<&SlicedResult> for ReplicationResult {
    type Error = SliceError;

    fn try_from(sliced: &SlicedResult) -> Result<Self, Self::Error> {
        let metric = |name: &str| {
            Metric::ALL
                .iter()
                .copied()
                .find(|metric| metric.name() == name)
                .ok_or_else(|| SliceError::Results(format!("{name:?} is not a metric")))
        };
        Ok(ReplicationResult {
            arm: sliced.arm.clone(),
            replication: sliced.replication,
            families: sliced.families,
            metrics: sliced
                .metrics
                .iter()
                .map(|(name, value)| Ok((metric(name)?, *value)))
                .collect::<Result<_, SliceError>>()?,
            monthly: sliced
                .monthly
                .iter()
                .map(|(month, name, value)| Ok(((*month, metric(name)?), *value)))
                .collect::<Result<_, SliceError>>()?,
        })
    }
}

/// The results of every slice, checked and put in the order of a whole run of `scenario` (the
/// scenario the first slice names, which the caller has read from it).
pub fn merge(
    scenario: &Scenario,
    slices: &[SliceFile],
) -> Result<Vec<ReplicationResult>, SliceError> {
    let Some(first) = slices.first() else {
        return Err(SliceError::Coverage("no slices given".to_owned()));
    };
    let count = first.slice.parse::<Slice>()?.count();
    for slice in slices {
        let same = slice.scenario_toml == first.scenario_toml
            && slice.seed == first.seed
            && slice.replications == first.replications
            && slice.families == first.families
            && slice.arm == first.arm;
        if !same {
            return Err(SliceError::DifferentRuns(format!(
                "slice {} and slice {} differ in scenario, seed, size or arm",
                first.slice, slice.slice
            )));
        }
        if slice.slice.parse::<Slice>()?.count() != count {
            return Err(SliceError::DifferentRuns(format!(
                "slice {} and slice {} cut the run differently",
                first.slice, slice.slice
            )));
        }
    }
    let mut by_unit: BTreeMap<(String, u32), ReplicationResult> = BTreeMap::new();
    for result in slices.iter().flat_map(|slice| &slice.results) {
        let key = (result.arm.clone(), result.replication);
        if by_unit.insert(key, result.try_into()?).is_some() {
            return Err(SliceError::Coverage(format!(
                "arm {:?} replication {} is in two slices",
                result.arm, result.replication
            )));
        }
    }
    let mut ordered = Vec::new();
    for unit in units(scenario) {
        let result = by_unit.remove(&unit).ok_or_else(|| {
            SliceError::Coverage(format!(
                "arm {:?} replication {} is in no slice",
                unit.0, unit.1
            ))
        })?;
        ordered.push(result);
    }
    if let Some(((arm, replication), _)) = by_unit.into_iter().next() {
        return Err(SliceError::Results(format!(
            "arm {arm:?} replication {replication} is not a unit of the scenario"
        )));
    }
    Ok(ordered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_partition_the_units() {
        let slices: Vec<Slice> = (0..3)
            .map(|k| format!("{k}/3").parse().expect("a slice"))
            .collect();
        for position in 0..10 {
            let takers = slices.iter().filter(|s| s.takes(position)).count();
            assert_eq!(takers, 1, "unit {position} is taken by exactly one slice");
        }
        assert!(Slice::WHOLE.takes(7));
    }

    #[test]
    fn a_malformed_slice_names_the_flag() {
        for text in ["3/3", "4/3", "3", "a/b", "0/0", "-1/2", ""] {
            let error = text.parse::<Slice>().expect_err("refused");
            assert!(error.to_string().starts_with("slice: "), "{error}");
        }
        assert_eq!("2/8".parse::<Slice>().expect("a slice").to_string(), "2/8");
    }
}
