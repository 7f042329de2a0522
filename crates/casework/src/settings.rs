//! The rules a scenario chooses for the CMS case service: when the CMS acts, the nights it assumes
//! without evidence, the enforcement ladder and the distress window.
//!
//! These are the policy levers of `policy-model.md` that live inside the CMS. `Default` is today's
//! rules. A scenario passes the same settings on every call for a case; the case itself stores only
//! what was decided under them (for example whether its liability was deferred at application), so
//! a case never changes policy halfway through.

use familybridge_calculation::Money;
use familybridge_calculation::parameters::EnforcementFees;
use serde::{Deserialize, Serialize};

use crate::error::CaseError;

/// Nights a year the CMS assumes when the parents dispute shared care and there is no agreement or
/// court order: one night a week (2012 Regs reg 47).
pub const ASSUMED_NIGHTS_WITHOUT_EVIDENCE: u32 = 52;

/// The longest distress window and pause a case accepts, in weeks (ten years).
///
/// Why a limit: it keeps every date the case works out far inside the calendar, so no setting or
/// request can make date arithmetic overflow.
pub const MAX_WEEKS: u32 = 520;

/// When the CMS acts on an application made while child-arrangements proceedings are pending.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ActsOn {
    /// Today: the CMS acts on the application, proceedings or not; liability starts on the
    /// application's effective date.
    #[default]
    Application,
    /// Delayed CMS involvement: while proceedings are pending the CMS makes no calculation until a
    /// final court order exists (or the proceedings end without one). With `backdate`, liability
    /// then runs from the application date, the weeks already past being charged at once as a
    /// retrospective adjustment; without it, from the order's date (or the date the proceedings
    /// ended). With no proceedings pending at application this changes nothing.
    FinalOrder {
        /// Whether liability is backdated to the application date.
        backdate: bool,
    },
}

/// The nights the CMS uses for a child whose shared care rests only on a parent's word (a disputed
/// claim, with no agreement or court order).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NightsWithoutEvidence {
    /// Today: 52 nights a year, one a week (2012 Regs reg 47), whatever the claim.
    #[default]
    Assume52,
    /// The presumption of equal parenting (a reform proposal): the child is taken to be in equal
    /// care (the engine's equal-care threshold), so nothing is payable for that child.
    EqualCare,
}

/// The rungs of the enforcement ladder, in the order they are taken (CSA 1991 s.31, s.32A, s.33,
/// then enforcement agents, charging orders, disqualification or committal; PQ 82453, CPAG).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnforcementStep {
    /// A deduction from earnings order or request (s.31).
    DeductionFromEarningsOrder,
    /// A regular deduction order against a bank account (s.32A).
    RegularDeductionOrder,
    /// A liability order from a magistrates' court (s.33).
    LiabilityOrder,
    /// Further action after a liability order: enforcement agents, charging order, third-party
    /// debt order, licence or passport disqualification, committal. No fee in the parameters.
    FurtherAction,
}

impl EnforcementStep {
    /// Every step, in ladder order.
    pub const LADDER: [EnforcementStep; 4] = [
        EnforcementStep::DeductionFromEarningsOrder,
        EnforcementStep::RegularDeductionOrder,
        EnforcementStep::LiabilityOrder,
        EnforcementStep::FurtherAction,
    ];

    /// The stable snake_case name (`liability_order`).
    pub const fn as_str(self) -> &'static str {
        match self {
            EnforcementStep::DeductionFromEarningsOrder => "deduction_from_earnings_order",
            EnforcementStep::RegularDeductionOrder => "regular_deduction_order",
            EnforcementStep::LiabilityOrder => "liability_order",
            EnforcementStep::FurtherAction => "further_action",
        }
    }

    /// The one-off fee charged to the paying parent for this step (SI 2014/612 reg 10).
    ///
    /// Further action has no fee of its own in the parameters (the costs of enforcement agents
    /// and courts are outside the CMS's fee regulations), so it is £0.
    pub fn fee(self, fees: &EnforcementFees) -> Money {
        match self {
            EnforcementStep::DeductionFromEarningsOrder => fees.deduction_from_earnings_order,
            EnforcementStep::RegularDeductionOrder => fees.regular_deduction_order,
            EnforcementStep::LiabilityOrder => fees.liability_order,
            EnforcementStep::FurtherAction => Money::ZERO,
        }
    }
}

impl std::fmt::Display for EnforcementStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// When each enforcement step becomes warranted: after how many consecutive missed instalments.
///
/// There is no statutory timetable (cms-2012-calculation.md §7): these are assumptions of the
/// simulator, each a scenario parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EnforcementRules {
    /// Consecutive missed instalments before a deduction from earnings order (default 2).
    pub deduction_from_earnings_order_after: u32,
    /// Consecutive missed instalments before a regular deduction order (default 4).
    pub regular_deduction_order_after: u32,
    /// Consecutive missed instalments before a liability order (default 6).
    pub liability_order_after: u32,
    /// Consecutive missed instalments before further action (default 9).
    pub further_action_after: u32,
}

impl Default for EnforcementRules {
    fn default() -> Self {
        EnforcementRules {
            deduction_from_earnings_order_after: 2,
            regular_deduction_order_after: 4,
            liability_order_after: 6,
            further_action_after: 9,
        }
    }
}

impl EnforcementRules {
    /// Consecutive missed instalments after which `step` is warranted.
    pub fn threshold(&self, step: EnforcementStep) -> u32 {
        match step {
            EnforcementStep::DeductionFromEarningsOrder => self.deduction_from_earnings_order_after,
            EnforcementStep::RegularDeductionOrder => self.regular_deduction_order_after,
            EnforcementStep::LiabilityOrder => self.liability_order_after,
            EnforcementStep::FurtherAction => self.further_action_after,
        }
    }
}

/// Everything a scenario sets for the CMS case rules. `Default` is today's rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CaseSettings {
    /// When the CMS acts on an application made while proceedings are pending.
    pub acts_on: ActsOn,
    /// The nights used for a child whose shared care rests only on a parent's word.
    pub nights_without_evidence: NightsWithoutEvidence,
    /// The enforcement ladder.
    pub enforcement: EnforcementRules,
    /// How many weeks back a contact logged with the distress indicator flags the paying parent as
    /// distressed when an enforcement step is taken or paused (default 8, an assumption).
    pub distress_window_weeks: u32,
}

impl Default for CaseSettings {
    fn default() -> Self {
        CaseSettings {
            acts_on: ActsOn::Application,
            nights_without_evidence: NightsWithoutEvidence::Assume52,
            enforcement: EnforcementRules::default(),
            distress_window_weeks: 8,
        }
    }
}

impl CaseSettings {
    /// Checks the settings make sense: every enforcement step needs at least one missed
    /// instalment (a step after 0 would be taken against a parent who has paid), and the distress
    /// window is at most [`MAX_WEEKS`].
    pub fn validate(&self) -> Result<(), CaseError> {
        if let Some(step) = EnforcementStep::LADDER
            .into_iter()
            .find(|&step| self.enforcement.threshold(step) == 0)
        {
            return Err(CaseError::invalid(
                "settings.enforcement",
                format!("{step} must need at least one missed instalment, not 0"),
            ));
        }
        if self.distress_window_weeks > MAX_WEEKS {
            return Err(CaseError::invalid(
                "settings.distress_window_weeks",
                format!(
                    "{} weeks is more than the {MAX_WEEKS} weeks allowed",
                    self.distress_window_weeks
                ),
            ));
        }
        Ok(())
    }
}
