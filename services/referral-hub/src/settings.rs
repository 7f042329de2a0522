//! The hub's rules for a scenario: distress screening, referral pathways, pause points and joint
//! case reviews, read from a commented TOML file (`hub-settings.toml`, every lever off as shipped).

use serde::Deserialize;

/// Everything a scenario sets for the referral hub. The shipped file, [`DEFAULT_HUB_SETTINGS`], has
/// every lever off.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubSettings {
    /// Distress screening of contacts with the CMS.
    pub screening: Screening,
    /// The rules choosing a flagged parent's pathways.
    #[serde(rename = "referral", default)]
    pub referral_rules: Vec<ReferralRule>,
    /// How long pathways take.
    pub pathways: PathwayTimes,
    /// Pause points in enforcement.
    pub pauses: Pauses,
    /// Joint case reviews of variation applications.
    pub joint_reviews: JointReviews,
}

/// When screening flags a parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
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

/// A support pathway, as settings name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferralRule {
    /// The pathway.
    pub pathway: Pathway,
    /// The condition.
    pub when: ReferralCondition,
}

/// How long a referral takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathwayTimes {
    /// Weeks from referral to the pathway taking it up.
    pub accept_after_weeks: u32,
    /// Weeks from then to its close.
    pub close_after_weeks: u32,
}

/// Pause points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pauses {
    /// A flagged paying parent's escalation pauses.
    pub enabled: bool,
    /// For this many weeks, with a review at the end.
    pub weeks: u32,
}

/// Joint case reviews.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JointReviews {
    /// Reviews are convened.
    pub enabled: bool,
    /// The court's decision is reported to the CMS when a review closes.
    pub report_decisions_to_cms: bool,
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

/// The shipped settings file: every lever off.
pub const DEFAULT_HUB_SETTINGS: &str = include_str!("../hub-settings.toml");

impl HubSettings {
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
    fn the_shipped_settings_parse_with_every_lever_off() {
        let settings = HubSettings::from_toml_str(DEFAULT_HUB_SETTINGS).expect("parses");
        assert!(!settings.screening.enabled);
        assert!(!settings.pauses.enabled);
        assert!(!settings.joint_reviews.enabled);
        assert_eq!(settings.referral_rules.len(), 4);
    }

    #[test]
    fn pauses_without_screening_are_refused_naming_the_setting() {
        let text = DEFAULT_HUB_SETTINGS.replace(
            "[pauses]\n# Pause points: a flagged paying parent's enforcement escalation pauses for `weeks` weeks, with a\n# review at the end, after which escalation resumes.\nenabled = false",
            "[pauses]\nenabled = true",
        );
        let error = HubSettings::from_toml_str(&text).expect_err("refused");
        assert!(error.to_string().contains("pauses.enabled"), "{error}");
    }

    #[test]
    fn an_unknown_pathway_names_the_value() {
        let text = DEFAULT_HUB_SETTINGS.replace("\"debt_advice\"", "\"debt_counselling\"");
        let error = HubSettings::from_toml_str(&text).expect_err("refused");
        assert!(error.to_string().contains("debt_counselling"), "{error}");
    }
}
