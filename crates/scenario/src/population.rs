//! The synthetic caseload's parameters: every number the world draws families from, each with a
//! default, a unit and a source (or the word "assumption"), listed in the report's assumptions
//! table by [`Population::assumptions`].
//!
//! One macro declares each parameter once — its field, unit, default and source — so the struct,
//! the defaults, the scenario file's `[population]` table and the assumptions table can never
//! disagree. Values are exact [`Decimal`]s: a share written `0.45` in the file is 45/100 exactly,
//! so the world draws against the same integer thresholds on every machine.

use std::str::FromStr;

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde::Deserialize;

use crate::scenario::ScenarioError;

/// The weekly equivalent of £12,570 a year (the threshold of PQ 23596), £12,570 ÷ 52 to the penny.
pub const LOW_INCOME_THRESHOLD_WEEKLY: Decimal = dec!(241.73);

/// One row of the report's assumptions table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assumption {
    /// The parameter's name (as written in a scenario's `[population]` table).
    pub name: String,
    /// Its value, as displayed (`45%`, `39`, `£50.00`).
    pub value: String,
    /// Its unit.
    pub unit: String,
    /// Where the value comes from, or "assumption".
    pub source: String,
}

/// The unit of a population parameter: how it is checked and displayed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Unit {
    /// A share in [0, 1], shown as a percentage.
    Share,
    /// Weeks, non-negative.
    Weeks,
    /// Days, a whole non-negative number.
    Days,
    /// Calendar months, a whole number of at least 1.
    Months,
    /// Pounds a week, non-negative, at most 2 decimal places.
    PoundsAWeek,
    /// A whole non-negative number.
    Count,
}

impl Unit {
    fn name(self) -> &'static str {
        match self {
            Unit::Share => "share",
            Unit::Weeks => "weeks",
            Unit::Days => "days",
            Unit::Months => "months",
            Unit::PoundsAWeek => "£ a week",
            Unit::Count => "count",
        }
    }

    fn display(self, value: Decimal) -> String {
        match self {
            Unit::Share => format!("{}%", (value * dec!(100)).normalize()),
            Unit::PoundsAWeek => format!("£{:.2}", value),
            _ => value.normalize().to_string(),
        }
    }

    fn check(self, field: &str, value: Decimal) -> Result<(), ScenarioError> {
        let whole = value.fract().is_zero();
        let problem = match self {
            Unit::Share if value < Decimal::ZERO || value > Decimal::ONE => {
                Some("must be a share between 0 and 1")
            }
            Unit::Weeks if value < Decimal::ZERO => Some("must not be negative"),
            Unit::PoundsAWeek if value < Decimal::ZERO || value.round_dp(2) != value => {
                Some("must be a non-negative amount in pounds and pence")
            }
            Unit::Days | Unit::Count if value < Decimal::ZERO || !whole => {
                Some("must be a whole number, not negative")
            }
            Unit::Months if value < Decimal::ONE || !whole => {
                Some("must be a whole number of at least 1")
            }
            _ => None,
        };
        match problem {
            Some(reason) => Err(ScenarioError::invalid(
                field,
                format!("{reason}; got {value}"),
            )),
            None => Ok(()),
        }
    }
}

/// A number as TOML may write it: an integer, a float, or a string such as `"0.45"`.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum NumberText {
    Integer(i64),
    Float(f64),
    Text(String),
}

impl NumberText {
    fn to_decimal(&self, field: &str) -> Result<Decimal, ScenarioError> {
        // A float is read through its shortest round-trip text, so 0.45 becomes exactly 0.45.
        let text = match self {
            NumberText::Integer(i) => i.to_string(),
            NumberText::Float(f) => f.to_string(),
            NumberText::Text(t) => t.trim().to_owned(),
        };
        Decimal::from_str(&text)
            .map_err(|_| ScenarioError::invalid(field, format!("{text:?} is not a number")))
    }
}

macro_rules! population {
    ($( $(#[doc = $doc:literal])+ $name:ident : $unit:ident = $default:expr, $source:literal; )+) => {
        /// The synthetic caseload's parameters (policy-model.md, "The synthetic caseload").
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub struct Population {
            $( $(#[doc = $doc])+ pub $name: Decimal, )+
        }

        impl Default for Population {
            fn default() -> Self {
                Population { $( $name: $default, )+ }
            }
        }

        /// The scenario file's `[population]` table: every field optional.
        #[derive(Debug, Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub(crate) struct RawPopulation {
            $( #[serde(default)] $name: Option<NumberText>, )+
        }

        impl Population {
            pub(crate) fn from_raw(raw: RawPopulation) -> Result<Population, ScenarioError> {
                let mut population = Population::default();
                $(
                    if let Some(value) = &raw.$name {
                        let field = concat!("population.", stringify!($name));
                        let value = value.to_decimal(field)?;
                        Unit::$unit.check(field, value)?;
                        population.$name = value;
                    }
                )+
                population.check_consistency()?;
                Ok(population)
            }

            /// The assumptions table: every parameter with its value, unit and source, then the
            /// context figures the model cites but does not use.
            pub fn assumptions(&self) -> Vec<Assumption> {
                let mut rows = vec![ $( Assumption {
                    name: stringify!($name).to_owned(),
                    value: Unit::$unit.display(self.$name),
                    unit: Unit::$unit.name().to_owned(),
                    source: $source.to_owned(),
                }, )+ ];
                rows.extend(context_rows());
                rows
            }
        }
    };
}

population! {
    /// Share of paying parents on Collect and Pay, all told (the rest on Direct Pay). Paying
    /// parents on a flat-rate benefit are collected by deduction from it, so are on Collect and
    /// Pay; the others choose it so that the whole comes to this share.
    collect_and_pay_share: Share = dec!(0.45),
        "Written answer, Sept 2025: 303,800 paying parents on Collect and Pay, about 45%";
    /// Share of families with one qualifying child.
    one_child_share: Share = dec!(0.55), "assumption";
    /// Share of families with two qualifying children (the rest have three).
    two_children_share: Share = dec!(0.30), "assumption";
    /// Share of paying parents with one relevant other child.
    relevant_other_children_share: Share = dec!(0.15), "assumption";
    /// Share of paying parents on Universal Credit.
    universal_credit_share: Share = dec!(0.29), "PQ 23596: 199,000 of 675,000 paying parents (29%) on Universal Credit, Jun 2024";
    /// Share of Universal Credit claimants with no earned income: only they get the flat rate
    /// because of Universal Credit (2012 Regs reg 44(2)).
    universal_credit_no_earnings_share: Share = dec!(0.73), "DWP Universal Credit statistics: 2.2m of 8.0m claimants in employment, Jul 2025 (about 27%); applied to paying parents on Universal Credit (assumption)";
    /// Share of the other paying parents on a prescribed benefit that gives the flat rate (State
    /// Pension, contribution-based JSA or ESA, Carer's Allowance…: 2012 Regs reg 44(1)).
    other_flat_rate_benefit_share: Share = dec!(0.03), "assumption";
    /// Share of working paying parents who are self-employed (no employer for a deduction from
    /// earnings order).
    self_employed_share: Share = dec!(0.13), "ONS Labour Force Survey (via Statista), Q2 2025: about 4.4m of 34.2m in work self-employed (13%)";
    /// Share of paying parents, of those with income data, earning under £12,570 a year (£241.73 a
    /// week); those on a flat-rate benefit count towards it.
    low_income_share: Share = dec!(0.43), "PQ 23596: 43% of paying parents with income data earn under £12,570 a year";
    /// Share of paying parents whose income the CMS does not have (the default rate applies).
    income_unknown_share: Share = dec!(0.05), "assumption";
    /// Lowest weekly income drawn for a low earner (incomes below £241.73 are uniform from here).
    low_income_floor: PoundsAWeek = dec!(50.00), "assumption";
    /// Share of higher earners (£241.73 a week or more) earning £500 to £1,000 a week.
    higher_income_500_share: Share = dec!(0.30), "assumption";
    /// Share of higher earners earning £1,000 a week up to the maximum.
    higher_income_1000_share: Share = dec!(0.10), "assumption";
    /// Highest weekly income drawn.
    income_max: PoundsAWeek = dec!(2500.00), "assumption";
    /// Share of paying parents who report a change of income during the period.
    income_change_share: Share = dec!(0.10), "assumption";
    /// Largest change of income reported, as a share of the old income, up or down.
    income_change_max: Share = dec!(0.30), "assumption";
    /// Most weeks from the application to the CMS notifying the paying parent, the initial
    /// effective date (drawn 0 to this).
    notice_weeks_max: Weeks = dec!(2), "assumption (SI 2012/2677 reg 11: notice as soon as reasonably practicable)";
    /// Share of applications on which the CMS calculates within six weeks.
    calculated_within_6_weeks_share: Share = dec!(0.77), "PQ 6825 (19 Dec 2023): 75-80% of applications cleared within 6 weeks, 77% on average over four quarters";
    /// Most weeks from the application to the calculation (the rest are spread from six weeks to
    /// this).
    calculation_weeks_max: Weeks = dec!(26), "gov.uk 'Child maintenance: how to apply': usually within 6 weeks, up to 26";
    /// Share of paying parents on Collect and Pay who pay in full of their own accord, before any
    /// deduction or enforcement.
    collect_and_pay_pays_in_full_share: Share = dec!(0.22), "calibrated: with deductions and enforcement the share of Collect and Pay parents paying something in a quarter comes near the published 68% (CMS statistics, quarter to Sept 2024: 68% paid something, 45% over 90%, outcomes that include enforcement); the parents' own payments are not published";
    /// Share of paying parents on Collect and Pay who pay part of their own accord (the rest pay
    /// nothing until a deduction or enforcement collects).
    collect_and_pay_pays_partly_share: Share = dec!(0.10), "calibrated, as collect_and_pay_pays_in_full_share";
    /// Share of paying parents on Direct Pay who pay in full.
    direct_pay_pays_in_full_share: Share = dec!(0.60), "PQ 82228: 60% of receiving parents on Direct Pay reported getting all their money (DWP Direct Pay research, report 1098, June 2025)";
    /// Share of paying parents on Direct Pay who always pay on time (of those who pay in full).
    direct_pay_on_time_share: Share = dec!(0.40), "PQ 82228: 40% of receiving parents on Direct Pay reported always getting it on time";
    /// Share of paying parents on Direct Pay who pay part (the rest pay nothing).
    direct_pay_pays_partly_share: Share = dec!(0.25), "assumption";
    /// Most days after a due date a late Direct Pay payer pays (drawn per family, 1 to this).
    direct_pay_late_days_max: Days = dec!(14), "assumption";
    /// Chance that a receiving parent reports a missed Direct Pay instalment to the CMS (which then
    /// moves the case to Collect and Pay), per instalment missed.
    direct_pay_missed_report_share: Share = dec!(0.25), "assumption";
    /// Share of each instalment a partial payer pays.
    partial_payment_fraction: Share = dec!(0.50), "assumption";
    /// Share of payers who miss the first instalment and pay from the second.
    late_start_share: Share = dec!(0.20), "assumption";
    /// Most days before a due date a payer pays (drawn per family, 0 to this).
    days_before_due_max: Days = dec!(3), "assumption";
    /// Share of deduction from earnings orders that collect (the employer deducts every
    /// instalment; otherwise the parent has left the job, say, and it collects nothing).
    earnings_deduction_collects_share: Share = dec!(0.70), "calibrated, within the proxy of at most 83% (about 17% of Collect and Pay parents with a deduction from earnings order paid nothing in a quarter: 8,410 in Q4 2024, HL7808, against about 49,000 with an order or request in Sept 2023, PQ 7414)";
    /// Share of regular deduction orders that collect (the account has the funds).
    account_deduction_collects_share: Share = dec!(0.30), "assumption";
    /// Share of deductions from benefit that collect.
    benefit_deduction_collects_share: Share = dec!(0.60), "calibrated, as collect_and_pay_pays_in_full_share (assumption)";
    /// Chance that enforcement agents, once instructed, collect the arrears.
    enforcement_agents_collect_share: Share = dec!(0.30), "assumption";
    /// Chance that a paying parent disqualified from driving or travel then pays the arrears.
    pays_after_disqualification_share: Share = dec!(0.30), "assumption";
    /// Months over which CMS applications are spread from the start of the period.
    application_window: Months = dec!(3), "assumption";
    /// Share of CMS applications made while child-arrangements proceedings are pending.
    proceedings_pending_share: Share = dec!(0.20), "assumption (none published)";
    /// Share of families whose child-arrangements proceedings begin after the CMS application.
    later_proceedings_share: Share = dec!(0.05), "assumption";
    /// Most weeks from a court application to the CMS application, when proceedings are pending.
    weeks_court_to_cms_max: Weeks = dec!(8), "assumption";
    /// Most weeks from the CMS application to a later court application.
    weeks_cms_to_later_court_max: Weeks = dec!(26), "assumption";
    /// Mean weeks from a court application to its end (a lognormal spread, right-skewed, fitted
    /// to this mean and the median below).
    weeks_to_final_order_mean: Weeks = dec!(39), "Family Court Statistics Quarterly, Apr-Jun 2025: mean 39 weeks (private law children cases)";
    /// Median weeks from a court application to its end.
    weeks_to_final_order_median: Weeks = dec!(30), "assumption: FCSQ publishes a median, not found for this table; with the mean it makes the spread right-skewed";
    /// Share of proceedings with an interim order.
    interim_order_share: Share = dec!(0.50), "assumption (none published)";
    /// Fewest weeks from the court application to an interim order.
    weeks_to_interim_order_min: Weeks = dec!(4), "assumption";
    /// Most weeks from the court application to an interim order.
    weeks_to_interim_order_max: Weeks = dec!(16), "assumption";
    /// Share of proceedings withdrawn (no final order).
    proceedings_withdrawn_share: Share = dec!(0.10), "assumption (FCSQ disposal types not found)";
    /// Share of proceedings dismissed (no final order).
    proceedings_dismissed_share: Share = dec!(0.05), "assumption (FCSQ disposal types not found)";
    /// Chance that a receiving parent waiting for the CMS (delayed involvement, manual route)
    /// tells it the proceedings ended.
    proceedings_end_reported_share: Share = dec!(0.98), "assumption: the receiving parent is waiting for money, so reports near-certainly";
    /// Most weeks from the end of proceedings to that report (drawn 0 to this).
    proceedings_end_report_weeks_max: Weeks = dec!(4), "assumption";
    /// Share of court applications alleging domestic abuse.
    domestic_abuse_alleged_share: Share = dec!(0.40), "assumption";
    /// Share of court applications made by the receiving parent.
    court_applicant_receiving_parent_share: Share = dec!(0.50), "assumption";
    /// Share of orders giving the paying parent 52 to 103 nights a year.
    order_nights_52_103_share: Share = dec!(0.10), "assumption (split of the unconfirmed 23% any shared care)";
    /// Share of orders giving 104 to 155 nights.
    order_nights_104_155_share: Share = dec!(0.06), "assumption (split of the unconfirmed 23% any shared care)";
    /// Share of orders giving 156 to 174 nights.
    order_nights_156_174_share: Share = dec!(0.02), "assumption (split of the unconfirmed 23% any shared care)";
    /// Share of orders giving 175 to 181 nights.
    order_nights_175_181_share: Share = dec!(0.02), "assumption (split of the unconfirmed 23% any shared care)";
    /// Share of orders giving equal care (182 nights or more, the calculation's proxy for
    /// day-to-day care shared equally, 2012 Regs reg 50(2)).
    order_equal_care_share: Share = dec!(0.03), "unconfirmed secondary source: 23% any shared care, 3% equal";
    /// Mean weeks before a parent reports a court order to the CMS (manual route; uniform from 0
    /// to twice this).
    report_delay_weeks_mean: Weeks = dec!(6), "assumption";
    /// Share of court orders never reported to the CMS (manual route).
    order_never_reported_share: Share = dec!(0.25), "assumption";
    /// Share of families with a final order who apply to vary it within the period.
    variation_share: Share = dec!(0.06), "assumption";
    /// Share of variation applications proposing a different shared-care band.
    variation_band_change_share: Share = dec!(0.60), "assumption";
    /// Most weeks from a final order to an application to vary it.
    weeks_to_variation_application_max: Weeks = dec!(26), "assumption";
    /// Fewest weeks from an application to vary to the court's decision.
    weeks_to_variation_decision_min: Weeks = dec!(8), "assumption";
    /// Most weeks from an application to vary to the court's decision.
    weeks_to_variation_decision_max: Weeks = dec!(24), "assumption";
    /// Share of variation applications the court grants as proposed (otherwise it keeps the
    /// nights of the order it varies).
    variation_granted_share: Share = dec!(0.50), "assumption";
    /// Share of Direct Pay families who leave the CMS for a family-based arrangement when Direct
    /// Pay is not available (they go on paying as they did on Direct Pay, at the last amount).
    leaves_when_direct_pay_ends_share: Share = dec!(0.20), "assumption";
    /// Share of paying parents who go through an episode of distress in the period.
    distress_share: Share = dec!(0.15), "assumption";
    /// Fewest weeks an episode of distress lasts.
    distress_weeks_min: Weeks = dec!(4), "assumption";
    /// Most weeks an episode of distress lasts.
    distress_weeks_max: Weeks = dec!(20), "assumption";
    /// Days between a distressed paying parent's contacts with the CMS during an episode.
    distressed_contact_interval: Days = dec!(14), "assumption";
    /// Most ordinary (undistressed) contacts a family makes in the period (drawn 0 to this).
    ordinary_contacts_max: Count = dec!(4), "assumption";
    /// Share of families with no court proceedings in which the paying parent tells the CMS they
    /// share the children's care, on their word alone, disputed by the receiving parent (the CMS
    /// then applies its assumption: 52 nights today, or equal care under the equal-parenting lever).
    disputed_claim_share: Share = dec!(0.12), "assumption";
    /// The fewest nights a year such a claim states for each child.
    disputed_claim_nights_min: Count = dec!(104), "assumption";
    /// The most nights a year such a claim states for each child.
    disputed_claim_nights_max: Count = dec!(182), "assumption";
}

/// Figures the model cites for context but does not draw from.
fn context_rows() -> Vec<Assumption> {
    vec![Assumption {
        name: "context: CMS users reporting mental-health decline".to_owned(),
        value: "72%".to_owned(),
        unit: "share".to_owned(),
        source: "Mumsnet/Gingerbread survey 2020, as cited by campaigners (unconfirmed); context \
                 only: distress_share is the model's parameter"
            .to_owned(),
    }]
}

impl Population {
    /// Share of paying parents on a benefit that gives the flat rate: Universal Credit with no
    /// earned income, or another prescribed benefit.
    pub fn flat_rate_benefit_share(&self) -> Decimal {
        let universal_credit =
            self.universal_credit_share * self.universal_credit_no_earnings_share;
        universal_credit + (Decimal::ONE - universal_credit) * self.other_flat_rate_benefit_share
    }

    /// Share of orders in each band of nights with the paying parent, from none to equal care, in
    /// the order of [`crate::world::NIGHT_BANDS`]; the first is what the others leave.
    pub fn order_night_band_shares(&self) -> [Decimal; 6] {
        let shared = self.order_nights_52_103_share
            + self.order_nights_104_155_share
            + self.order_nights_156_174_share
            + self.order_nights_175_181_share
            + self.order_equal_care_share;
        [
            Decimal::ONE - shared,
            self.order_nights_52_103_share,
            self.order_nights_104_155_share,
            self.order_nights_156_174_share,
            self.order_nights_175_181_share,
            self.order_equal_care_share,
        ]
    }

    fn check_consistency(&self) -> Result<(), ScenarioError> {
        let at_most_one = |field: &str, total: Decimal| {
            if total > Decimal::ONE {
                Err(ScenarioError::invalid(
                    field,
                    format!("with the shares it adds to, makes {total}, more than 1"),
                ))
            } else {
                Ok(())
            }
        };
        at_most_one(
            "population.two_children_share",
            self.one_child_share + self.two_children_share,
        )?;
        at_most_one(
            "population.collect_and_pay_pays_partly_share",
            self.collect_and_pay_pays_in_full_share + self.collect_and_pay_pays_partly_share,
        )?;
        at_most_one(
            "population.direct_pay_pays_partly_share",
            self.direct_pay_pays_in_full_share + self.direct_pay_pays_partly_share,
        )?;
        if self.direct_pay_on_time_share > self.direct_pay_pays_in_full_share {
            return Err(ScenarioError::invalid(
                "population.direct_pay_on_time_share",
                "must be at most direct_pay_pays_in_full_share (only full payers are on time)",
            ));
        }
        at_most_one(
            "population.higher_income_1000_share",
            self.higher_income_500_share + self.higher_income_1000_share,
        )?;
        at_most_one(
            "population.later_proceedings_share",
            self.proceedings_pending_share + self.later_proceedings_share,
        )?;
        at_most_one(
            "population.proceedings_dismissed_share",
            self.proceedings_withdrawn_share + self.proceedings_dismissed_share,
        )?;
        at_most_one(
            "population.order_equal_care_share",
            Decimal::ONE - self.order_night_band_shares()[0],
        )?;
        if self.disputed_claim_nights_min > self.disputed_claim_nights_max
            || self.disputed_claim_nights_max > dec!(365)
        {
            return Err(ScenarioError::invalid(
                "population.disputed_claim_nights_max",
                "must be at least disputed_claim_nights_min and at most 365",
            ));
        }
        if self.low_income_share < self.flat_rate_benefit_share() {
            return Err(ScenarioError::invalid(
                "population.low_income_share",
                "must be at least the flat-rate benefit share it implies (benefit recipients are low earners)",
            ));
        }
        if self.collect_and_pay_share < self.flat_rate_benefit_share() {
            return Err(ScenarioError::invalid(
                "population.collect_and_pay_share",
                "must be at least the flat-rate benefit share (those parents are collected by deduction from benefit)",
            ));
        }
        if self.low_income_floor >= LOW_INCOME_THRESHOLD_WEEKLY {
            return Err(ScenarioError::invalid(
                "population.low_income_floor",
                "must be under £241.73 a week",
            ));
        }
        if self.income_max < dec!(1000) {
            return Err(ScenarioError::invalid(
                "population.income_max",
                "must be at least £1,000 a week",
            ));
        }
        let ordered = [
            (
                "population.weeks_to_final_order_median",
                self.weeks_to_final_order_median,
                self.weeks_to_final_order_mean,
            ),
            (
                "population.notice_weeks_max",
                self.notice_weeks_max,
                dec!(6),
            ),
            (
                "population.calculation_weeks_max",
                dec!(6),
                self.calculation_weeks_max,
            ),
            (
                "population.weeks_to_interim_order_min",
                self.weeks_to_interim_order_min,
                self.weeks_to_interim_order_max,
            ),
            (
                "population.weeks_to_variation_decision_min",
                self.weeks_to_variation_decision_min,
                self.weeks_to_variation_decision_max,
            ),
            (
                "population.distress_weeks_min",
                self.distress_weeks_min,
                self.distress_weeks_max,
            ),
        ];
        for (field, low, high) in ordered {
            if low > high {
                return Err(ScenarioError::invalid(
                    field,
                    format!("{low} is more than its upper counterpart {high}"),
                ));
            }
        }
        if self.weeks_to_final_order_median < Decimal::ONE {
            return Err(ScenarioError::invalid(
                "population.weeks_to_final_order_median",
                "must be at least 1 week",
            ));
        }
        if self.direct_pay_late_days_max < Decimal::ONE {
            return Err(ScenarioError::invalid(
                "population.direct_pay_late_days_max",
                "must be at least 1 day",
            ));
        }
        if self.distressed_contact_interval < Decimal::ONE {
            return Err(ScenarioError::invalid(
                "population.distressed_contact_interval",
                "must be at least 1 day",
            ));
        }
        Ok(())
    }
}
