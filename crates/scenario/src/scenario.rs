//! The scenario file: what a policy analyst writes — the question, the run settings, the caseload
//! and one or more arms, each a setting of the reform levers.
//!
//! The file is TOML. Parsing goes through a raw serde form (`deny_unknown_fields`, so a misspelt
//! key is an error, not a silently ignored line) and then a validating step that turns the words
//! an analyst writes (`final-order`, `equal-care`) into enums, naming the field at fault when a
//! value is wrong (`arms[2].levers.acts_on`). No I/O: the caller reads the file and passes its text.

use std::collections::BTreeSet;

use chrono::{Months, NaiveDate};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use familybridge_casework::CaseSettings;
use familybridge_referral::HubSettings;

use crate::population::{Population, RawPopulation};

/// The default sentence on how the number of replications was chosen, used when the file gives
/// none.
const DEFAULT_REPLICATIONS_REASON: &str = "The number of replications is the scenario's default: \
enough for t intervals to be usable on a small run. Where an interval in the comparison is too wide \
to answer the question, run more replications (--replications).";

/// A scenario: the question, the run settings, the caseload and the arms compared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scenario {
    /// A short title for the report.
    pub title: String,
    /// The policy question the scenario answers, in plain words.
    pub question: String,
    /// The arm every other arm is compared with.
    pub base_arm: String,
    /// Seed, size and period.
    pub run: RunSettings,
    /// The synthetic caseload's parameters.
    pub population: Population,
    /// The arms, in file order (at least one).
    pub arms: Vec<Arm>,
    /// How long proceedings last, drawn from the population's figures once, when the file is
    /// read.
    pub court_durations: crate::world::CourtDurations,
    /// SHA-256 of the file text, lower-case hex: the run record's proof of which file was run.
    pub source_hash: String,
}

/// Seed, size and period of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunSettings {
    /// The master seed: every random draw derives from it.
    pub seed: u64,
    /// Synthetic families per replication.
    pub families: u64,
    /// Replications (independent caseloads drawn from the same population), at least 2.
    pub replications: u32,
    /// The first simulated day.
    pub start: NaiveDate,
    /// Length of the period, in calendar months (1 to 60).
    pub months: u32,
    /// How the number of replications was chosen, printed in the report.
    pub replications_reason: String,
}

impl RunSettings {
    /// The first day after the period (the period is `start..end`).
    pub fn end(&self) -> NaiveDate {
        // Validation bounds `months` to 1..=60, so this stays far inside chrono's range; the
        // fallback is never taken but keeps the function total.
        self.start
            .checked_add_months(Months::new(self.months))
            .unwrap_or(NaiveDate::MAX)
    }

    /// The first day of month `index` of the period (index 0 is the start).
    pub fn month_start(&self, index: u32) -> NaiveDate {
        self.start
            .checked_add_months(Months::new(index))
            .unwrap_or(NaiveDate::MAX)
    }
}

/// One arm: a named setting of the levers.
///
/// The levers are the agencies' own settings types — the CMS's [`CaseSettings`] (`[arm.cms]`, the
/// keys of `case-settings.toml`) and the referral hub's [`HubSettings`] (`[arm.hub]`, the keys of
/// `hub-settings.toml`) — so a lever is spelled the same in a scenario, a settings file, a flag
/// and the code. A key an arm leaves out keeps today's value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Arm {
    /// A short unique name (`baseline`).
    pub name: String,
    /// What the arm represents, in plain words.
    pub description: String,
    /// The CMS's policy.
    pub cms: CaseSettings,
    /// The referral hub's policy. Its `court_orders` is always the CMS's: the hub must know how
    /// the CMS learns of orders.
    pub hub: HubSettings,
}

/// A scenario file that cannot be used, naming the field at fault.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ScenarioError {
    /// The text is not TOML of the scenario's shape (a misspelt key, a missing field, a wrong type).
    #[error("scenario file: {message}")]
    Toml {
        /// The TOML parser's message, which names the key and line.
        message: String,
    },
    /// A value outside its allowed range or inconsistent with another.
    #[error("{field}: {reason}")]
    Invalid {
        /// The field.
        field: String,
        /// Why.
        reason: String,
    },
}

impl ScenarioError {
    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        ScenarioError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    scenario: RawHeader,
    run: RawRun,
    #[serde(default)]
    population: RawPopulation,
    #[serde(default)]
    arm: Vec<RawArm>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeader {
    title: String,
    question: String,
    base_arm: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRun {
    seed: u64,
    families: u64,
    replications: u32,
    start: NaiveDate,
    months: u32,
    replications_reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawArm {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    cms: CaseSettings,
    #[serde(default)]
    hub: HubSettings,
}

impl Scenario {
    /// Parses and validates a scenario file's text.
    pub fn from_toml_str(text: &str) -> Result<Scenario, ScenarioError> {
        let raw: RawFile = toml::from_str(text).map_err(|e| ScenarioError::Toml {
            message: e.to_string().trim_end().to_owned(),
        })?;
        let population = Population::from_raw(raw.population)?;
        let run = RunSettings {
            seed: raw.run.seed,
            families: raw.run.families,
            replications: raw.run.replications,
            start: raw.run.start,
            months: raw.run.months,
            replications_reason: raw
                .run
                .replications_reason
                .unwrap_or_else(|| DEFAULT_REPLICATIONS_REASON.to_owned()),
        };
        let arms = raw
            .arm
            .into_iter()
            .enumerate()
            .map(|(i, arm)| arm_from_raw(i, arm))
            .collect::<Result<Vec<_>, _>>()?;
        let court_durations = crate::world::CourtDurations::new(&population);
        let scenario = Scenario {
            court_durations,
            title: raw.scenario.title,
            question: raw.scenario.question,
            base_arm: raw.scenario.base_arm,
            run,
            population,
            arms,
            source_hash: sha256_hex(text.as_bytes()),
        };
        scenario.validate()?;
        Ok(scenario)
    }

    /// The scenario with the command line's overrides applied (each `None` keeps the file's
    /// value), validated again.
    pub fn with_overrides(
        mut self,
        seed: Option<u64>,
        replications: Option<u32>,
        families: Option<u64>,
    ) -> Result<Scenario, ScenarioError> {
        if let Some(seed) = seed {
            self.run.seed = seed;
        }
        if let Some(replications) = replications {
            self.run.replications = replications;
            self.run.replications_reason = format!(
                "{replications} replications, set on the command line for this run; the interval \
                 half-widths in the comparison show whether they are enough to answer the question."
            );
        }
        if let Some(families) = families {
            self.run.families = families;
        }
        self.validate()?;
        Ok(self)
    }

    /// The arm called `name`.
    pub fn arm(&self, name: &str) -> Option<&Arm> {
        self.arms.iter().find(|arm| arm.name == name)
    }

    fn validate(&self) -> Result<(), ScenarioError> {
        if self.title.trim().is_empty() {
            return Err(ScenarioError::invalid(
                "scenario.title",
                "must not be empty",
            ));
        }
        if self.question.trim().is_empty() {
            return Err(ScenarioError::invalid(
                "scenario.question",
                "must not be empty",
            ));
        }
        if self.run.families < 1 {
            return Err(ScenarioError::invalid("run.families", "must be at least 1"));
        }
        if self.run.replications < 2 {
            return Err(ScenarioError::invalid(
                "run.replications",
                format!(
                    "must be at least 2 (a 95% interval needs two replications); got {}",
                    self.run.replications
                ),
            ));
        }
        if !(1..=60).contains(&self.run.months) {
            return Err(ScenarioError::invalid(
                "run.months",
                format!("must be 1 to 60; got {}", self.run.months),
            ));
        }
        if self.arms.is_empty() {
            return Err(ScenarioError::invalid(
                "arm",
                "the scenario needs at least one [[arm]]",
            ));
        }
        let mut names = BTreeSet::new();
        for (i, arm) in self.arms.iter().enumerate() {
            if !names.insert(arm.name.as_str()) {
                return Err(ScenarioError::invalid(
                    format!("arms[{i}].name"),
                    format!(
                        "{:?} is the name of an earlier arm; names must be unique",
                        arm.name
                    ),
                ));
            }
        }
        if self.arm(&self.base_arm).is_none() {
            return Err(ScenarioError::invalid(
                "scenario.base_arm",
                format!(
                    "{:?} is not the name of an arm; the arms are {}",
                    self.base_arm,
                    self.arms
                        .iter()
                        .map(|a| a.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        Ok(())
    }
}

fn arm_from_raw(i: usize, raw: RawArm) -> Result<Arm, ScenarioError> {
    let field = |name: &str| format!("arms[{i}].{name}");
    if raw.name.trim().is_empty() {
        return Err(ScenarioError::invalid(field("name"), "must not be empty"));
    }
    raw.cms.validate().map_err(|error| match error {
        familybridge_casework::CaseError::Invalid {
            field: name,
            reason,
        } => ScenarioError::invalid(
            field(&format!("cms.{}", name.trim_start_matches("settings."))),
            reason,
        ),
        other => ScenarioError::invalid(field("cms"), other.to_string()),
    })?;
    let mut hub = raw.hub;
    hub.court_orders = raw.cms.court_orders;
    hub.validate().map_err(|error| match error {
        familybridge_referral::SettingsError::Invalid {
            field: name,
            problem,
        } => ScenarioError::invalid(field(&format!("hub.{name}")), problem),
        familybridge_referral::SettingsError::Parse(message) => {
            ScenarioError::invalid(field("hub"), message)
        }
    })?;
    Ok(Arm {
        name: raw.name,
        description: raw.description,
        cms: raw.cms,
        hub,
    })
}

/// Lower-case hex SHA-256 of `bytes`.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
