//! The CMS's policy for a scenario: the reform levers that live inside the CMS, and the rules of
//! practice the law leaves to the CMS (the enforcement ladder's pace, how arrears are spread, the
//! distress window).
//!
//! Each lever is one type, spelled one way everywhere: the same words in a scenario file's
//! `[arm.cms]`, in `case-settings.toml`, in the CMS's command-line flags and here (serde and
//! clap derive from these enums, so there is no second list of names to fall out of step).
//! `Default` is today's rules. A scenario passes the same settings for every command on a case;
//! the case itself stores only what was decided under them (for example that its liability was
//! deferred at application), so a case never changes policy halfway through.

use familybridge_calculation::Money;
use familybridge_calculation::parameters::EnforcementFees;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::CaseError;

/// The longest distress window and pause a case accepts, in weeks (ten years).
///
/// Why a limit: it keeps every date the case works out far inside the calendar, so no setting or
/// request can make date arithmetic overflow.
pub const MAX_WEEKS: u32 = 520;

/// The most instalments arrears may be spread over (ten years of instalments), for the same
/// reason.
pub const MAX_ARREARS_INSTALMENTS: u32 = 130;

/// When the CMS acts on an application made while child-arrangements proceedings are pending.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum ActsOn {
    /// Today: the CMS acts on the application, proceedings or not. Liability runs from the
    /// initial effective date, the day the paying parent is notified (SI 2012/2677 regs 11-12).
    #[default]
    Application,
    /// Delayed CMS involvement, no backdating: while proceedings are pending the CMS makes no
    /// calculation; once they end (a final order, a withdrawal or a dismissal) and the CMS is told,
    /// it calculates, with liability from that day.
    FinalOrder,
    /// Delayed CMS involvement, backdated to the effective date that would have applied under
    /// today's rules (the day the paying parent was notified of the application); the weeks
    /// already past are arrears, scheduled and collected with the instalments.
    FinalOrderBackdatedToEffectiveDate,
    /// Delayed CMS involvement, backdated to the application date; the weeks already past are
    /// arrears, scheduled and collected with the instalments.
    FinalOrderBackdatedToApplication,
}

impl ActsOn {
    /// Whether the CMS waits for the proceedings to end before calculating.
    pub fn waits_for_proceedings(self) -> bool {
        self != ActsOn::Application
    }
}

/// How court orders reach the CMS.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum CourtOrderRoute {
    /// Today: only when a parent reports an order (`ReportCourtOrder`), on the day they do.
    #[default]
    Manual,
    /// Automatic exchange: the CMS follows the court registry's feed and is told of each order the
    /// day it is made.
    Automatic,
}

/// The nights the CMS uses for a child whose shared care rests only on a parent's word (a disputed
/// claim, with no agreement or court order).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum,
)]
pub enum NightsWithoutEvidence {
    /// Today: the nights the CMS assumes without evidence, one a week (2012 Regs reg 47; the
    /// parameter `shared_care.nights_assumed_without_evidence`), whatever the claim.
    #[default]
    #[serde(rename = "52")]
    #[value(name = "52")]
    Assume52,
    /// The presumption of equal parenting (a reform proposal): the child is taken to be in equal
    /// care (the parameter `shared_care.equal_care_nights`), so nothing is payable for that child.
    #[serde(rename = "equal-care")]
    #[value(name = "equal-care")]
    EqualCare,
}

/// The collection-fee model: which set of fee parameters the CMS charges under.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum FeeModel {
    /// Today's fees (SI 2014/612): 20% paying and 4% receiving on Collect and Pay; Direct Pay free.
    #[default]
    Current,
    /// The announced 2027 model, the named proposal `fees-2027` of the calculation parameters:
    /// no Direct Pay, 2% and 2%, 20% kept for non-compliant paying parents.
    #[serde(rename = "fees-2027")]
    #[value(name = "fees-2027")]
    Fees2027,
}

impl FeeModel {
    /// The name of the calculation parameters' proposal this model switches on, if any.
    pub fn proposal(self) -> Option<&'static str> {
        match self {
            FeeModel::Current => None,
            FeeModel::Fees2027 => Some("fees-2027"),
        }
    }
}

/// The rungs of the enforcement ladder, in the order they are taken (CSA 1991 ss.31-40B; PQ
/// 82453; CPAG). Each has its own precondition and fee (see [`EnforcementStep::fee`] and the
/// ladder in `advance.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnforcementStep {
    /// A deduction from earnings order (CSA 1991 s.31): the employer deducts the instalments at
    /// source. Only for an employed paying parent with none in force.
    DeductionFromEarningsOrder,
    /// A regular deduction order against a bank account (s.32A). Not where a deduction from
    /// benefits collects the case.
    RegularDeductionOrder,
    /// An application to the magistrates' court for a liability order (s.33); the order follows
    /// after the court's lag.
    LiabilityOrderApplication,
    /// The liability order, granted at the hearing (s.33(3)) if the arrears are still unpaid.
    LiabilityOrder,
    /// Enforcement agents take control of goods (s.35; Taking Control of Goods (Fees) Regulations
    /// 2014, SI 2014/1). Needs a liability order.
    EnforcementAgents,
    /// A charging order on property (s.36). Needs a liability order and arrears of at least the
    /// settings' minimum.
    ChargingOrder,
    /// Disqualification from holding a driving licence or a travel authorisation (ss.39B, 40B).
    /// Needs enforcement agents to have been tried.
    Disqualification,
    /// Committal to prison (s.40), the last resort. Needs a disqualification to have been tried.
    Committal,
}

impl EnforcementStep {
    /// Every step, in ladder order.
    pub const LADDER: [EnforcementStep; 8] = [
        EnforcementStep::DeductionFromEarningsOrder,
        EnforcementStep::RegularDeductionOrder,
        EnforcementStep::LiabilityOrderApplication,
        EnforcementStep::LiabilityOrder,
        EnforcementStep::EnforcementAgents,
        EnforcementStep::ChargingOrder,
        EnforcementStep::Disqualification,
        EnforcementStep::Committal,
    ];

    /// The stable snake_case name (`liability_order`).
    pub const fn as_str(self) -> &'static str {
        match self {
            EnforcementStep::DeductionFromEarningsOrder => "deduction_from_earnings_order",
            EnforcementStep::RegularDeductionOrder => "regular_deduction_order",
            EnforcementStep::LiabilityOrderApplication => "liability_order_application",
            EnforcementStep::LiabilityOrder => "liability_order",
            EnforcementStep::EnforcementAgents => "enforcement_agents",
            EnforcementStep::ChargingOrder => "charging_order",
            EnforcementStep::Disqualification => "disqualification",
            EnforcementStep::Committal => "committal",
        }
    }

    /// The one-off fee charged to the paying parent when the step is taken, from the parameters in
    /// force (SI 2014/612 reg 10 for the CMS's own fees; see `parameters.toml` for the others).
    /// A liability order's fee is charged when it is granted, not on the application.
    pub fn fee(self, fees: &EnforcementFees) -> Money {
        match self {
            EnforcementStep::DeductionFromEarningsOrder => fees.deduction_from_earnings_order,
            EnforcementStep::RegularDeductionOrder => fees.regular_deduction_order,
            EnforcementStep::LiabilityOrderApplication => Money::ZERO,
            EnforcementStep::LiabilityOrder => fees.liability_order,
            EnforcementStep::EnforcementAgents => fees.enforcement_agents,
            EnforcementStep::ChargingOrder => fees.charging_order,
            EnforcementStep::Disqualification => fees.disqualification,
            EnforcementStep::Committal => fees.committal,
        }
    }
}

impl std::fmt::Display for EnforcementStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The pace of the enforcement ladder: after how many consecutive missed instalments each step
/// becomes warranted, and how long the court takes over a liability order.
///
/// There is no statutory timetable (PQ 82453; CPAG): the thresholds are assumptions of this
/// project, each a scenario setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EnforcementRules {
    /// Consecutive missed instalments before a deduction from earnings order (assumption: 2).
    pub deduction_from_earnings_order_after: u32,
    /// Consecutive missed instalments before a regular deduction order (assumption: 4).
    pub regular_deduction_order_after: u32,
    /// Consecutive missed instalments before the CMS applies for a liability order (assumption:
    /// 6).
    pub liability_order_application_after: u32,
    /// Weeks from the application for a liability order to the hearing that grants it (PQ 3505,
    /// 9 Sep 2024: a court liability order "can take up to 22 weeks"; assumption: 18).
    pub liability_order_court_weeks: u32,
    /// Consecutive missed instalments before enforcement agents, with a liability order in force
    /// (assumption: 10).
    pub enforcement_agents_after: u32,
    /// Consecutive missed instalments before a charging order, with a liability order in force
    /// (assumption: 12).
    pub charging_order_after: u32,
    /// The least arrears for which the CMS applies for a charging order (assumption: £1,000, the
    /// threshold for an order for sale under the Charging Orders (Orders for Sale: Financial
    /// Thresholds) Regulations 2013, SI 2013/491).
    pub charging_order_minimum_arrears: Money,
    /// Consecutive missed instalments before disqualification, once enforcement agents have been
    /// tried (assumption: 14).
    pub disqualification_after: u32,
    /// Consecutive missed instalments before committal, once disqualification has been tried
    /// (assumption: 18).
    pub committal_after: u32,
}

impl Default for EnforcementRules {
    fn default() -> Self {
        EnforcementRules {
            deduction_from_earnings_order_after: 2,
            regular_deduction_order_after: 4,
            liability_order_application_after: 6,
            liability_order_court_weeks: 18,
            enforcement_agents_after: 10,
            charging_order_after: 12,
            charging_order_minimum_arrears: Money::from_pence(100_000),
            disqualification_after: 14,
            committal_after: 18,
        }
    }
}

impl EnforcementRules {
    /// Consecutive missed instalments after which `step` is warranted; `None` for the liability
    /// order itself, which the court grants after its lag rather than on a missed instalment.
    pub fn threshold(&self, step: EnforcementStep) -> Option<u32> {
        match step {
            EnforcementStep::DeductionFromEarningsOrder => {
                Some(self.deduction_from_earnings_order_after)
            }
            EnforcementStep::RegularDeductionOrder => Some(self.regular_deduction_order_after),
            EnforcementStep::LiabilityOrderApplication => {
                Some(self.liability_order_application_after)
            }
            EnforcementStep::LiabilityOrder => None,
            EnforcementStep::EnforcementAgents => Some(self.enforcement_agents_after),
            EnforcementStep::ChargingOrder => Some(self.charging_order_after),
            EnforcementStep::Disqualification => Some(self.disqualification_after),
            EnforcementStep::Committal => Some(self.committal_after),
        }
    }
}

/// How the CMS spreads arrears it schedules (the weeks of liability already past when it first
/// calculates, and missed Direct Pay payments taken on at a move to Collect and Pay) over the
/// instalments that follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ArrearsRules {
    /// The number of instalments arrears are spread over, in equal parts (PQ 56331: the CMS's
    /// "debt steer" aims to recover arrears within two years at most; assumption: 26 four-weekly
    /// instalments, two years).
    pub collect_over_instalments: u32,
}

impl Default for ArrearsRules {
    fn default() -> Self {
        ArrearsRules {
            collect_over_instalments: 26,
        }
    }
}

/// Everything a scenario sets for the CMS. `Default` is today's rules, as the shipped
/// `case-settings.toml` spells them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CaseSettings {
    /// When the CMS acts on an application made while proceedings are pending.
    pub acts_on: ActsOn,
    /// How court orders reach the CMS (the service's wiring; the case rules treat an order the
    /// same whichever way it came, dated the day the CMS is told).
    pub court_orders: CourtOrderRoute,
    /// The nights used for a child whose shared care rests only on a parent's word.
    pub nights_without_evidence: NightsWithoutEvidence,
    /// The collection-fee model.
    pub fee_model: FeeModel,
    /// The enforcement ladder's pace.
    pub enforcement: EnforcementRules,
    /// How scheduled arrears are spread.
    pub arrears: ArrearsRules,
    /// How many weeks back a contact logged with the distress indicator flags the paying parent as
    /// distressed when an enforcement step is taken or paused (assumption: 8).
    pub distress_window_weeks: u32,
}

impl Default for CaseSettings {
    fn default() -> Self {
        CaseSettings {
            acts_on: ActsOn::default(),
            court_orders: CourtOrderRoute::default(),
            nights_without_evidence: NightsWithoutEvidence::default(),
            fee_model: FeeModel::default(),
            enforcement: EnforcementRules::default(),
            arrears: ArrearsRules::default(),
            distress_window_weeks: 8,
        }
    }
}

/// One row of a report's assumptions table: a setting, its value and where it comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettingSource {
    /// The setting's name, as the settings file spells it (`enforcement.committal_after`).
    pub name: &'static str,
    /// Its value.
    pub value: String,
    /// Its unit.
    pub unit: &'static str,
    /// Its source, or "assumption".
    pub source: &'static str,
}

impl CaseSettings {
    /// Checks the settings make sense: every enforcement step needs at least one missed
    /// instalment (a step after 0 would be taken against a parent who has paid), the later steps
    /// come no earlier than the ones they depend on, and every length is bounded.
    pub fn validate(&self) -> Result<(), CaseError> {
        let rules = &self.enforcement;
        if let Some(step) = EnforcementStep::LADDER
            .into_iter()
            .find(|&step| rules.threshold(step) == Some(0))
        {
            return Err(CaseError::invalid(
                "settings.enforcement",
                format!("{step} must need at least one missed instalment, not 0"),
            ));
        }
        let order = [
            (
                "enforcement.enforcement_agents_after",
                rules.liability_order_application_after,
                rules.enforcement_agents_after,
            ),
            (
                "enforcement.disqualification_after",
                rules.enforcement_agents_after,
                rules.disqualification_after,
            ),
            (
                "enforcement.committal_after",
                rules.disqualification_after,
                rules.committal_after,
            ),
        ];
        if let Some((field, before, after)) = order.into_iter().find(|(_, b, a)| a <= b) {
            return Err(CaseError::invalid(
                field,
                format!(
                    "{after} missed instalments comes no later than the step it depends on ({before})"
                ),
            ));
        }
        for (field, weeks) in [
            ("distress_window_weeks", self.distress_window_weeks),
            (
                "enforcement.liability_order_court_weeks",
                rules.liability_order_court_weeks,
            ),
        ] {
            if weeks > MAX_WEEKS {
                return Err(CaseError::invalid(
                    field,
                    format!("{weeks} weeks is more than the {MAX_WEEKS} weeks allowed"),
                ));
            }
        }
        let spread = self.arrears.collect_over_instalments;
        if spread == 0 || spread > MAX_ARREARS_INSTALMENTS {
            return Err(CaseError::invalid(
                "arrears.collect_over_instalments",
                format!("must be 1 to {MAX_ARREARS_INSTALMENTS}, not {spread}"),
            ));
        }
        Ok(())
    }

    /// The practice settings with their values and sources, for a report's assumptions table
    /// (the levers are reported as levers, not here).
    pub fn sources(&self) -> Vec<SettingSource> {
        let rules = &self.enforcement;
        let count = |name, value: u32, source| SettingSource {
            name,
            value: value.to_string(),
            unit: "missed instalments",
            source,
        };
        vec![
            count(
                "enforcement.deduction_from_earnings_order_after",
                rules.deduction_from_earnings_order_after,
                "assumption (no statutory timetable: PQ 82453)",
            ),
            count(
                "enforcement.regular_deduction_order_after",
                rules.regular_deduction_order_after,
                "assumption (no statutory timetable: PQ 82453)",
            ),
            count(
                "enforcement.liability_order_application_after",
                rules.liability_order_application_after,
                "assumption (no statutory timetable: PQ 82453)",
            ),
            SettingSource {
                name: "enforcement.liability_order_court_weeks",
                value: rules.liability_order_court_weeks.to_string(),
                unit: "weeks",
                source: "assumption, within PQ 3505 (9 Sep 2024): a court liability order can take up to 22 weeks",
            },
            count(
                "enforcement.enforcement_agents_after",
                rules.enforcement_agents_after,
                "assumption",
            ),
            count(
                "enforcement.charging_order_after",
                rules.charging_order_after,
                "assumption",
            ),
            SettingSource {
                name: "enforcement.charging_order_minimum_arrears",
                value: rules.charging_order_minimum_arrears.to_string(),
                unit: "£",
                source: "assumption: the £1,000 threshold for an order for sale (SI 2013/491)",
            },
            count(
                "enforcement.disqualification_after",
                rules.disqualification_after,
                "assumption",
            ),
            count(
                "enforcement.committal_after",
                rules.committal_after,
                "assumption",
            ),
            SettingSource {
                name: "arrears.collect_over_instalments",
                value: self.arrears.collect_over_instalments.to_string(),
                unit: "instalments",
                source: "assumption, within PQ 56331: arrears recovered within two years at most",
            },
            SettingSource {
                name: "distress_window_weeks",
                value: self.distress_window_weeks.to_string(),
                unit: "weeks",
                source: "assumption",
            },
        ]
    }
}

/// Spreads `amount` over `instalments` equal parts, rounded up to the penny so the parts never
/// fall short (the last part takes what is left).
pub(crate) fn instalment_part(amount: Decimal, instalments: u32) -> Decimal {
    if instalments == 0 {
        return amount;
    }
    (amount / Decimal::from(instalments))
        .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::AwayFromZero)
}
