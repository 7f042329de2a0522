//! The hub's rules for a scenario: distress screening, referral pathways, pause points and joint
//! case reviews, read from a commented TOML file (the service's `hub-settings.toml`, every lever
//! off as shipped) or from a scenario's `[arm.hub]`, which uses the same keys.
//!
//! `Default` is the shipped file: every lever off, the assumptions at their shipped values. Every
//! key may be left out, so a scenario names only what it changes (`screening.enabled = true`).

use familybridge_casework::CourtOrderRoute;
use serde::{Deserialize, Serialize};

/// Everything a scenario sets for the referral hub.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HubSettings {
    /// How court orders reach the CMS — the CMS's lever, which the hub needs to know: on the
    /// manual route it passes on the decision of a reviewed application, so that the CMS is told
    /// of it either way.
    pub court_orders: CourtOrderRoute,
    /// Distress screening of contacts with the CMS.
    pub screening: Screening,
    /// The rules choosing a flagged parent's pathways.
    #[serde(rename = "referral")]
    pub referral_rules: Vec<ReferralRule>,
    /// How long pathways take.
    pub pathways: PathwayTimes,
    /// Pause points in enforcement.
    pub pauses: Pauses,
    /// Joint case reviews of variation applications.
    pub joint_reviews: JointReviews,
}

impl Default for HubSettings {
    fn default() -> Self {
        HubSettings {
            court_orders: CourtOrderRoute::default(),
            screening: Screening::default(),
            referral_rules: vec![
                ReferralRule {
                    pathway: Pathway::MentalHealth,
                    when: ReferralCondition::Always,
                },
                ReferralRule {
                    pathway: Pathway::DebtAdvice,
                    when: ReferralCondition::MissedPayment,
                },
                ReferralRule {
                    pathway: Pathway::Mediation,
                    when: ReferralCondition::CourtProceedings,
                },
                ReferralRule {
                    pathway: Pathway::DomesticAbuseSupport,
                    when: ReferralCondition::DomesticAbuseAlleged,
                },
            ],
            pathways: PathwayTimes::default(),
            pauses: Pauses::default(),
            joint_reviews: JointReviews::default(),
        }
    }
}

/// When screening flags a parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Screening {
    /// Screening is on.
    pub enabled: bool,
    /// Distressed contacts that flag a parent ...
    pub distressed_contacts: u32,
    /// ... within this many weeks.
    pub window_weeks: u32,
    /// How long a flag lasts, in weeks.
    pub flag_weeks: u32,
    /// Receiving parents are screened too.
    pub include_receiving_parents: bool,
}

impl Default for Screening {
    /// Off; two distressed contacts within eight weeks flag a parent for eight weeks, receiving
    /// parents screened too (assumptions: no published screening rule exists).
    fn default() -> Self {
        Screening {
            enabled: false,
            distressed_contacts: 2,
            window_weeks: 8,
            flag_weeks: 8,
            include_receiving_parents: true,
        }
    }
}

/// A support pathway, as settings name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pathway {
    /// Mental-health support.
    MentalHealth,
    /// Debt advice.
    DebtAdvice,
    /// Family mediation.
    Mediation,
    /// Domestic-abuse support.
    DomesticAbuseSupport,
}

impl Pathway {
    /// The stable snake_case name (`debt_advice`).
    pub fn as_str(self) -> &'static str {
        match self {
            Pathway::MentalHealth => "mental_health",
            Pathway::DebtAdvice => "debt_advice",
            Pathway::Mediation => "mediation",
            Pathway::DomesticAbuseSupport => "domestic_abuse_support",
        }
    }

    /// The pathway with this name, if there is one.
    pub fn from_name(name: &str) -> Option<Pathway> {
        [
            Pathway::MentalHealth,
            Pathway::DebtAdvice,
            Pathway::Mediation,
            Pathway::DomesticAbuseSupport,
        ]
        .into_iter()
        .find(|pathway| pathway.as_str() == name)
    }
}

/// What must hold for a referral rule to refer a flagged parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReferralCondition {
    /// Every flagged parent.
    Always,
    /// A payment was missed on the parent's case within the screening window.
    MissedPayment,
    /// The family has child-arrangements proceedings under way.
    CourtProceedings,
    /// Domestic abuse was alleged in the family's court application.
    DomesticAbuseAlleged,
}

/// One rule: refer to `pathway` when `when` holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferralRule {
    /// The pathway.
    pub pathway: Pathway,
    /// The condition.
    pub when: ReferralCondition,
}

/// How long a referral takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PathwayTimes {
    /// Weeks from referral to the pathway taking it up.
    pub accept_after_weeks: u32,
    /// Weeks from then to its close.
    pub close_after_weeks: u32,
}

impl Default for PathwayTimes {
    /// Two weeks to take a referral up, twelve more to close it (assumptions).
    fn default() -> Self {
        PathwayTimes {
            accept_after_weeks: 2,
            close_after_weeks: 12,
        }
    }
}

/// Pause points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Pauses {
    /// A flagged paying parent's escalation pauses.
    pub enabled: bool,
    /// For this many weeks, with a review at the end.
    pub weeks: u32,
}

impl Default for Pauses {
    /// Off; eight weeks when on (an assumption).
    fn default() -> Self {
        Pauses {
            enabled: false,
            weeks: 8,
        }
    }
}

/// Joint case reviews.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JointReviews {
    /// Reviews are convened.
    pub enabled: bool,
}

/// The longest window, flag, pause or pathway time accepted, in weeks (ten years): it keeps every
/// date the hub works out far inside the calendar.
pub const MAX_WEEKS: u32 = 520;

/// Settings that cannot be used, naming the setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// The file is not valid TOML of the expected shape.
    #[error("hub settings: {0}")]
    Parse(String),
    /// A value is out of range.
    #[error("hub settings: {field}: {problem}")]
    Invalid {
        /// The setting, e.g. `screening.window_weeks`.
        field: &'static str,
        /// What is wrong.
        problem: String,
    },
}

impl HubSettings {
    /// Whether the hub passes the decision of a reviewed application on to the CMS: on the manual
    /// route, where the CMS does not follow the court's feed.
    pub fn reports_decisions_to_cms(&self) -> bool {
        self.court_orders == CourtOrderRoute::Manual
    }

    /// Reads settings in the form of `hub-settings.toml` and checks them.
    pub fn from_toml_str(text: &str) -> Result<HubSettings, SettingsError> {
        let settings: HubSettings =
            toml::from_str(text).map_err(|error| SettingsError::Parse(error.to_string()))?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks every count and length is usable: screening needs at least one contact and a
    /// window of at least a week; every length is at most [`MAX_WEEKS`]; pauses need screening.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let weeks = [
            ("screening.window_weeks", self.screening.window_weeks),
            ("screening.flag_weeks", self.screening.flag_weeks),
            ("pauses.weeks", self.pauses.weeks),
            (
                "pathways.accept_after_weeks",
                self.pathways.accept_after_weeks,
            ),
            (
                "pathways.close_after_weeks",
                self.pathways.close_after_weeks,
            ),
        ];
        for (field, value) in weeks {
            if value > MAX_WEEKS {
                return Err(SettingsError::Invalid {
                    field,
                    problem: format!("{value} weeks is more than the {MAX_WEEKS} allowed"),
                });
            }
        }
        for (field, value) in [
            (
                "screening.distressed_contacts",
                self.screening.distressed_contacts,
            ),
            ("screening.window_weeks", self.screening.window_weeks),
            ("screening.flag_weeks", self.screening.flag_weeks),
            ("pauses.weeks", self.pauses.weeks),
        ] {
            if value == 0 {
                return Err(SettingsError::Invalid {
                    field,
                    problem: "must be at least 1".to_owned(),
                });
            }
        }
        if self.pauses.enabled && !self.screening.enabled {
            return Err(SettingsError::Invalid {
                field: "pauses.enabled",
                problem: "pause points act on screening flags: enable screening too".to_owned(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_without_screening_are_refused_naming_the_setting() {
        let error = HubSettings::from_toml_str("[pauses]\nenabled = true").expect_err("refused");
        assert!(error.to_string().contains("pauses.enabled"), "{error}");
    }

    #[test]
    fn an_unknown_pathway_names_the_value() {
        let text = "[[referral]]\npathway = \"debt_counselling\"\nwhen = \"always\"";
        let error = HubSettings::from_toml_str(text).expect_err("refused");
        assert!(error.to_string().contains("debt_counselling"), "{error}");
    }

    #[test]
    fn a_setting_left_out_keeps_its_default() {
        let settings = HubSettings::from_toml_str("[screening]\nenabled = true").expect("parses");
        assert!(settings.screening.enabled);
        assert_eq!(settings.screening.window_weeks, 8);
        assert_eq!(settings.referral_rules.len(), 4);
        assert!(settings.reports_decisions_to_cms());
    }
}
