//! Statistics across replications: each arm's mean and 95% interval for every metric, and each
//! arm's difference from the base arm with its own interval — pure and exact.
//!
//! Intervals are Student t intervals on n − 1 degrees of freedom. A difference is computed on the
//! paired per-replication differences: replication r of every arm ran the same families with the
//! same luck (common random numbers), so pairing removes the families' variation from the
//! comparison. Arithmetic is in [`Decimal`] (square roots by Newton's method), and every statistic
//! is rounded to [`DECIMALS`] places half away from zero, so summaries are identical everywhere.

use std::collections::BTreeMap;

use rust_decimal::{Decimal, RoundingStrategy};
use rust_decimal_macros::dec;

use familybridge_calculation::ParameterBook;
use familybridge_calculation::parameters::ValueStatus;

use crate::measures::{Metric, ReplicationResult};
use crate::population::Assumption;
use crate::scenario::Scenario;

/// Decimal places of every statistic.
pub const DECIMALS: u32 = 2;

/// A mean with its 95% interval.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interval {
    /// The mean.
    pub mean: Decimal,
    /// Lower end of the 95% interval.
    pub ci_low: Decimal,
    /// Upper end of the 95% interval.
    pub ci_high: Decimal,
}

impl Interval {
    /// Whether the interval excludes zero (a difference the run can tell apart from none).
    pub fn excludes_zero(&self) -> bool {
        self.ci_low > Decimal::ZERO || self.ci_high < Decimal::ZERO
    }
}

/// A summary that cannot be made.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StatsError {
    /// Fewer than two values.
    #[error("values: an interval needs at least 2 replications; got {0}")]
    TooFewValues(usize),
    /// A replication missing, repeated or unexpected.
    #[error("results[{arm}]: {reason}")]
    Results {
        /// The arm.
        arm: String,
        /// What is wrong.
        reason: String,
    },
}

/// Two-sided 95% critical values of Student's t for 1 to 30 degrees of freedom.
const T_975: [Decimal; 30] = [
    dec!(12.706),
    dec!(4.303),
    dec!(3.182),
    dec!(2.776),
    dec!(2.571),
    dec!(2.447),
    dec!(2.365),
    dec!(2.306),
    dec!(2.262),
    dec!(2.228),
    dec!(2.201),
    dec!(2.179),
    dec!(2.160),
    dec!(2.145),
    dec!(2.131),
    dec!(2.120),
    dec!(2.110),
    dec!(2.101),
    dec!(2.093),
    dec!(2.086),
    dec!(2.080),
    dec!(2.074),
    dec!(2.069),
    dec!(2.064),
    dec!(2.060),
    dec!(2.056),
    dec!(2.052),
    dec!(2.048),
    dec!(2.045),
    dec!(2.042),
];

/// The two-sided 95% critical value of t on `df` degrees of freedom (`df ≥ 1`): the table to 30,
/// then the Cornish–Fisher expansion about z = 1.959964 (Abramowitz & Stegun 26.7.5), which agrees
/// with the table to 3 decimals at 30.
pub fn t_critical(df: u64) -> Decimal {
    if df == 0 {
        return T_975[0];
    }
    if let Some(value) = usize::try_from(df).ok().and_then(|i| T_975.get(i - 1)) {
        return *value;
    }
    let z = dec!(1.959964);
    let v = Decimal::from(df);
    let z3 = z * z * z;
    let z5 = z3 * z * z;
    let z7 = z5 * z * z;
    let t = z
        + (z3 + z) / (dec!(4) * v)
        + (dec!(5) * z5 + dec!(16) * z3 + dec!(3) * z) / (dec!(96) * v * v)
        + (dec!(3) * z7 + dec!(19) * z5 + dec!(17) * z3 - dec!(15) * z) / (dec!(384) * v * v * v);
    t.round_dp_with_strategy(3, RoundingStrategy::MidpointAwayFromZero)
}

/// The square root of a non-negative decimal, by Newton's method to the type's precision.
fn sqrt(x: Decimal) -> Decimal {
    if x <= Decimal::ZERO {
        return Decimal::ZERO;
    }
    let mut guess = if x > Decimal::ONE {
        x / Decimal::TWO
    } else {
        Decimal::ONE
    };
    for _ in 0..200 {
        let next = (guess + x / guess) / Decimal::TWO;
        if next == guess {
            break;
        }
        guess = next;
    }
    guess
}

fn round(value: Decimal) -> Decimal {
    value.round_dp_with_strategy(DECIMALS, RoundingStrategy::MidpointAwayFromZero)
}

/// The mean and 95% t interval of `values`, each rounded to [`DECIMALS`] places.
pub fn interval(values: &[Decimal]) -> Result<Interval, StatsError> {
    if values.len() < 2 {
        return Err(StatsError::TooFewValues(values.len()));
    }
    let n = Decimal::from(values.len());
    let mean = values.iter().copied().sum::<Decimal>() / n;
    let squares: Decimal = values.iter().map(|v| (*v - mean) * (*v - mean)).sum();
    let sd = sqrt(squares / (n - Decimal::ONE));
    let half = t_critical(values.len() as u64 - 1) * sd / sqrt(n);
    Ok(Interval {
        mean: round(mean),
        ci_low: round(mean - half),
        ci_high: round(mean + half),
    })
}

/// What a run was: enough to reproduce a published figure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunRecord {
    /// The scenario's title.
    pub title: String,
    /// Its question.
    pub question: String,
    /// SHA-256 of the scenario file.
    pub source_hash: String,
    /// The code version (the caller's, e.g. the crate version and commit).
    pub code_version: String,
    /// The master seed.
    pub seed: u64,
    /// Replications per arm.
    pub replications: u32,
    /// How the number of replications was chosen.
    pub replications_reason: String,
    /// Families per replication.
    pub families: u64,
    /// The first simulated day (ISO).
    pub start: String,
    /// The first day after the period (ISO).
    pub end: String,
    /// The period in months.
    pub months: u32,
    /// The base arm.
    pub base_arm: String,
}

/// One metric of one arm.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricSummary {
    /// The metric.
    pub metric: Metric,
    /// Its mean over replications with the 95% interval.
    pub estimate: Interval,
    /// The difference from the base arm with its paired 95% interval (`None` for the base arm).
    pub difference: Option<Interval>,
}

/// One arm's results.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArmSummary {
    /// The arm's name.
    pub name: String,
    /// Its description.
    pub description: String,
    /// Whether it is the base arm.
    pub is_base: bool,
    /// Every metric, in [`Metric::ALL`] order.
    pub metrics: Vec<MetricSummary>,
    /// Monthly series, mean over replications, for [`Metric::MONTHLY`]: metric → one value a month.
    pub monthly: BTreeMap<Metric, Vec<Decimal>>,
}

impl ArmSummary {
    /// The summary of `metric`.
    pub fn metric(&self, metric: Metric) -> Option<&MetricSummary> {
        self.metrics.iter().find(|m| m.metric == metric)
    }
}

/// Everything a report needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// The run record.
    pub run: RunRecord,
    /// Each arm, in scenario order.
    pub arms: Vec<ArmSummary>,
    /// The assumptions table.
    pub assumptions: Vec<Assumption>,
}

impl Summary {
    /// The base arm.
    pub fn base(&self) -> Option<&ArmSummary> {
        self.arms.iter().find(|a| a.is_base)
    }
}

/// Summarises a run: `results` must hold replications 1..=R of every arm exactly once (in any
/// order). `code_version` goes into the run record.
pub fn summarise(
    scenario: &Scenario,
    results: &[ReplicationResult],
    code_version: &str,
) -> Result<Summary, StatsError> {
    let replications = scenario.run.replications;
    let mut by_arm: BTreeMap<&str, BTreeMap<u32, &ReplicationResult>> = BTreeMap::new();
    for result in results {
        if scenario.arm(&result.arm).is_none() {
            return Err(StatsError::Results {
                arm: result.arm.clone(),
                reason: "not an arm of the scenario".to_owned(),
            });
        }
        if by_arm
            .entry(result.arm.as_str())
            .or_default()
            .insert(result.replication, result)
            .is_some()
        {
            return Err(StatsError::Results {
                arm: result.arm.clone(),
                reason: format!("replication {} appears twice", result.replication),
            });
        }
    }
    let mut per_arm: BTreeMap<&str, Vec<&ReplicationResult>> = BTreeMap::new();
    for arm in &scenario.arms {
        let reps = by_arm.remove(arm.name.as_str()).unwrap_or_default();
        let expected: Vec<u32> = (1..=replications).collect();
        if reps.keys().copied().collect::<Vec<_>>() != expected {
            return Err(StatsError::Results {
                arm: arm.name.clone(),
                reason: format!(
                    "expected replications 1 to {replications}, got {:?}",
                    reps.keys().collect::<Vec<_>>()
                ),
            });
        }
        per_arm.insert(arm.name.as_str(), reps.into_values().collect());
    }
    let value =
        |r: &ReplicationResult, metric: Metric| r.metrics.get(&metric).copied().unwrap_or_default();
    let empty = Vec::new();
    let base = per_arm.get(scenario.base_arm.as_str()).unwrap_or(&empty);
    let mut arms = Vec::new();
    for arm in &scenario.arms {
        let reps = per_arm.get(arm.name.as_str()).unwrap_or(&empty);
        let is_base = arm.name == scenario.base_arm;
        let mut metrics = Vec::new();
        for metric in Metric::ALL {
            let values: Vec<Decimal> = reps.iter().map(|r| value(r, *metric)).collect();
            let difference = if is_base {
                None
            } else {
                let differences: Vec<Decimal> = reps
                    .iter()
                    .zip(base.iter())
                    .map(|(r, b)| value(r, *metric) - value(b, *metric))
                    .collect();
                Some(interval(&differences)?)
            };
            metrics.push(MetricSummary {
                metric: *metric,
                estimate: interval(&values)?,
                difference,
            });
        }
        let mut monthly = BTreeMap::new();
        let n = Decimal::from(reps.len().max(1));
        for metric in Metric::MONTHLY {
            let series = (0..scenario.run.months)
                .map(|month| {
                    let total: Decimal = reps
                        .iter()
                        .map(|r| {
                            r.monthly
                                .get(&(month, *metric))
                                .copied()
                                .unwrap_or_default()
                        })
                        .sum();
                    round(total / n)
                })
                .collect();
            monthly.insert(*metric, series);
        }
        arms.push(ArmSummary {
            name: arm.name.clone(),
            description: arm.description.clone(),
            is_base,
            metrics,
            monthly,
        });
    }
    Ok(Summary {
        run: RunRecord {
            title: scenario.title.clone(),
            question: scenario.question.clone(),
            source_hash: scenario.source_hash.clone(),
            code_version: code_version.to_owned(),
            seed: scenario.run.seed,
            replications,
            replications_reason: scenario.run.replications_reason.clone(),
            families: scenario.run.families,
            start: scenario.run.start.to_string(),
            end: scenario.run.end().to_string(),
            months: scenario.run.months,
            base_arm: scenario.base_arm.clone(),
        },
        arms,
        assumptions: assumptions(scenario),
    })
}

/// The parameters of the statutory rules the CMS's case rules turn on (the rest of the
/// parameter file is the calculation's own, reported with each calculation).
const CASE_RULE_PARAMETERS: &[&str] = &[
    "income_change.",
    "shared_care.nights_assumed_without_evidence",
    "shared_care.equal_care_nights",
    "collect_and_pay.",
    "enforcement_fees.",
];

/// The assumptions table: the caseload's parameters, then the CMS's practice settings and the
/// case-rule parameters as the base arm has them, in force at the start of the period.
fn assumptions(scenario: &Scenario) -> Vec<Assumption> {
    let mut rows = scenario.population.assumptions();
    let Some(base) = scenario.arm(&scenario.base_arm) else {
        return rows;
    };
    rows.extend(base.cms.sources().into_iter().map(|setting| Assumption {
        name: format!("cms.{}", setting.name),
        value: setting.value,
        unit: setting.unit.to_owned(),
        source: setting.source.to_owned(),
    }));
    let book = match base.cms.fee_model.proposal() {
        None => Ok(ParameterBook::statutory().clone()),
        Some(name) => ParameterBook::statutory().with_proposal(name),
    };
    if let Ok(book) = book {
        for entry in book.listing_on(scenario.run.start) {
            let name = entry.parameter.name();
            if !CASE_RULE_PARAMETERS
                .iter()
                .any(|prefix| name.starts_with(prefix))
            {
                continue;
            }
            let status = match entry.value.status {
                ValueStatus::Settled => String::new(),
                other => format!(" ({other})"),
            };
            rows.push(Assumption {
                name: format!("parameters.{name}"),
                value: entry.value.value.to_string(),
                unit: entry.parameter.unit().to_string(),
                source: format!("{}{status}", entry.value.source),
            });
        }
    }
    rows
}
