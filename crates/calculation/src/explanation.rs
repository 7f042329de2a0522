//! The step-by-step explanation of a calculation, for a caseworker or a parent.
//!
//! Why structured steps rather than sentences: a simulation runs millions of calculations and reads
//! few explanations. Each step records the rule applied and the figures it used (plain numbers, no
//! strings); the sentence is only written when someone displays the step. Every step also has a
//! stable identifier ([`ExplanationStep::rule`]) that tests and reports can rely on, and the legal
//! source of the rule ([`ExplanationStep::legal_source`]).
//!
//! Receiving parents and children are numbered from 0 in the data (as in the input) and from 1 in
//! the sentences (as a person counts).

use std::fmt;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

use crate::input::NilRateCategory;
use crate::money::Money;
use crate::nights::Nights;
use crate::ratio::{Fraction, Percentage};

/// One rule applied in a calculation, with the figures it used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExplanationStep {
    /// A child at or above the equal-care threshold is not a qualifying child (2012 Regs reg 50).
    EqualCare {
        /// Receiving parent index, from 0.
        receiving_parent: usize,
        /// Child index within that receiving parent, from 0.
        child: usize,
        /// The child's nights a year with the paying parent.
        nights: Nights,
        /// The equal-care threshold in force.
        threshold: Nights,
    },
    /// Every child is in equal care: nothing is payable.
    NoQualifyingChildren,
    /// The qualifying children counted (across all receiving parents) and relevant other children.
    QualifyingChildren {
        /// Qualifying children.
        qualifying_children: u32,
        /// Relevant other children.
        relevant_other_children: u32,
    },
    /// The paying parent is in a nil-rate category.
    NilRateCategory {
        /// The category.
        category: NilRateCategory,
    },
    /// The flat rate applies because the paying parent (or partner) gets a prescribed benefit.
    FlatRateBenefit {
        /// The flat rate.
        flat_rate: Money,
    },
    /// Income not known: the default rate applies.
    DefaultRate {
        /// Qualifying children.
        qualifying_children: u32,
        /// The default rate for that many children.
        amount: Money,
    },
    /// Income above the cap is ignored.
    IncomeCap {
        /// Gross weekly income given.
        income: Money,
        /// The cap.
        cap: Money,
    },
    /// Income below the nil-rate threshold.
    NilRateLowIncome {
        /// Gross weekly income (capped).
        income: Money,
        /// The threshold.
        threshold: Money,
    },
    /// Income at or below the flat-rate bound.
    FlatRateLowIncome {
        /// Gross weekly income (capped).
        income: Money,
        /// The nil-rate threshold it is at or above.
        threshold: Money,
        /// The flat-rate bound it is at or below.
        upper_bound: Money,
        /// The flat rate.
        flat_rate: Money,
    },
    /// The reduced rate F + A × T.
    ReducedRate {
        /// Gross weekly income.
        income: Money,
        /// F, the flat rate.
        flat_rate: Money,
        /// Income above this is A.
        lower_bound: Money,
        /// T.
        percentage: Percentage,
        /// Qualifying children (row of the table).
        qualifying_children: u32,
        /// Relevant other children (column of the table).
        relevant_other_children: u32,
        /// The result, exactly.
        amount: Decimal,
    },
    /// Income reduced for relevant other children (basic and basic plus rates only).
    RelevantOtherChildrenReduction {
        /// Relevant other children.
        relevant_other_children: u32,
        /// The reduction.
        percentage: Percentage,
        /// Income before the reduction (capped).
        income: Money,
        /// Income after it, exactly.
        reduced_income: Decimal,
    },
    /// The basic rate.
    BasicRate {
        /// Income the percentage applies to.
        income: Decimal,
        /// The basic percentage.
        percentage: Percentage,
        /// Qualifying children.
        qualifying_children: u32,
        /// The result, exactly.
        amount: Decimal,
    },
    /// The basic plus rate: basic percentage up to the threshold, basic plus percentage above.
    BasicPlusRate {
        /// Income the percentages apply to.
        income: Decimal,
        /// The threshold between the two percentages.
        threshold: Money,
        /// The basic percentage.
        basic_percentage: Percentage,
        /// The basic plus percentage.
        plus_percentage: Percentage,
        /// Qualifying children.
        qualifying_children: u32,
        /// The result, exactly.
        amount: Decimal,
    },
    /// The weekly amount divided equally between the qualifying children.
    PerChildShare {
        /// The weekly amount before shared care.
        amount: Decimal,
        /// Qualifying children.
        qualifying_children: u32,
        /// Each child's share, exactly (to 28 significant digits).
        share: Decimal,
    },
    /// A child's share decreased for shared care.
    SharedCareDecrease {
        /// Receiving parent index, from 0.
        receiving_parent: usize,
        /// Child index within that receiving parent, from 0.
        child: usize,
        /// The child's nights a year with the paying parent.
        nights: Nights,
        /// The band, 1 to 4.
        band: u8,
        /// The decrease.
        decrease: Fraction,
        /// The child's share before the decrease.
        share: Decimal,
    },
    /// The further decrease for a child in the top shared-care band (175 nights or more).
    SharedCareFurtherDecrease {
        /// Receiving parent index, from 0.
        receiving_parent: usize,
        /// Child index within that receiving parent, from 0.
        child: usize,
        /// The further decrease (£7).
        amount: Money,
    },
    /// Shared care would take a receiving parent's amount below zero: it is zero.
    NotBelowZero {
        /// Receiving parent index, from 0.
        receiving_parent: usize,
        /// The amount shared care arrived at, below zero.
        amount: Decimal,
    },
    /// Shared care took the total below the flat rate: the total is the flat rate.
    SharedCareFloor {
        /// The total after shared care.
        aggregate: Decimal,
        /// The flat rate.
        flat_rate: Money,
    },
    /// Flat rate because of a benefit, and this receiving parent has a child with the paying parent
    /// for at least the band-1 nights: nothing is payable to them (para 8).
    FlatRateSharedCareNil {
        /// Receiving parent index, from 0.
        receiving_parent: usize,
        /// The first such child, from 0.
        child: usize,
        /// Its nights a year with the paying parent.
        nights: Nights,
    },
    /// Flat rate because of low income: shared care does not change it (para 8).
    FlatRateSharedCareIgnored,
    /// Default rate: shared care is not applied.
    DefaultRateSharedCareIgnored,
    /// A receiving parent's exact weekly amount, apportioned by the children they care for.
    Apportionment {
        /// Receiving parent index, from 0.
        receiving_parent: usize,
        /// Qualifying children this receiving parent cares for.
        children: u32,
        /// Qualifying children in all.
        qualifying_children: u32,
        /// Their weekly amount, exactly.
        amount: Decimal,
    },
    /// The one rounding step: a receiving parent's amount to the penny, half up.
    Rounding {
        /// Receiving parent index, from 0.
        receiving_parent: usize,
        /// Before rounding.
        exact: Decimal,
        /// After rounding.
        rounded: Money,
    },
    /// The total: the sum of the rounded receiving-parent amounts.
    Total {
        /// The total weekly amount.
        total: Money,
        /// How many receiving parents it covers.
        receiving_parents: usize,
    },
    /// Direct Pay: no collection fees.
    DirectPay,
    /// Direct Pay was asked for but is not available on this date: Collect and Pay applies.
    DirectPayUnavailable,
    /// Collect and Pay fees on the weekly amount.
    CollectionFees {
        /// The weekly amount the fees are worked on.
        total: Money,
        /// The paying parent's fee percentage.
        paying_percentage: Percentage,
        /// The paying parent's fee, rounded.
        paying_parent_fee: Money,
        /// The receiving parent's fee percentage.
        receiving_percentage: Percentage,
        /// The receiving parent's fee, rounded.
        receiving_parent_fee: Money,
    },
}

impl ExplanationStep {
    /// A stable snake_case identifier for the rule, for tests and reports.
    pub const fn rule(&self) -> &'static str {
        match self {
            ExplanationStep::EqualCare { .. } => "equal_care",
            ExplanationStep::NoQualifyingChildren => "no_qualifying_children",
            ExplanationStep::QualifyingChildren { .. } => "qualifying_children",
            ExplanationStep::NilRateCategory { .. } => "nil_rate_category",
            ExplanationStep::FlatRateBenefit { .. } => "flat_rate_benefit",
            ExplanationStep::DefaultRate { .. } => "default_rate",
            ExplanationStep::IncomeCap { .. } => "income_cap",
            ExplanationStep::NilRateLowIncome { .. } => "nil_rate_low_income",
            ExplanationStep::FlatRateLowIncome { .. } => "flat_rate_low_income",
            ExplanationStep::ReducedRate { .. } => "reduced_rate",
            ExplanationStep::RelevantOtherChildrenReduction { .. } => {
                "relevant_other_children_reduction"
            }
            ExplanationStep::BasicRate { .. } => "basic_rate",
            ExplanationStep::BasicPlusRate { .. } => "basic_plus_rate",
            ExplanationStep::PerChildShare { .. } => "per_child_share",
            ExplanationStep::SharedCareDecrease { .. } => "shared_care_decrease",
            ExplanationStep::SharedCareFurtherDecrease { .. } => "shared_care_further_decrease",
            ExplanationStep::NotBelowZero { .. } => "not_below_zero",
            ExplanationStep::SharedCareFloor { .. } => "shared_care_floor",
            ExplanationStep::FlatRateSharedCareNil { .. } => "flat_rate_shared_care_nil",
            ExplanationStep::FlatRateSharedCareIgnored => "flat_rate_shared_care_ignored",
            ExplanationStep::DefaultRateSharedCareIgnored => "default_rate_shared_care_ignored",
            ExplanationStep::Apportionment { .. } => "apportionment",
            ExplanationStep::Rounding { .. } => "rounding",
            ExplanationStep::Total { .. } => "total",
            ExplanationStep::DirectPay => "direct_pay",
            ExplanationStep::DirectPayUnavailable => "direct_pay_unavailable",
            ExplanationStep::CollectionFees { .. } => "collection_fees",
        }
    }

    /// Where the rule comes from. "Project rule" marks a choice this project made where the law
    /// is silent or could not be read.
    pub const fn legal_source(&self) -> &'static str {
        match self {
            ExplanationStep::EqualCare { .. } | ExplanationStep::NoQualifyingChildren => {
                "2012 Regs reg 50; JS v SSWP [2017] UKUT 296 (AAC); threshold of 182 nights is a project assumption"
            }
            ExplanationStep::QualifyingChildren { .. } => {
                "CSA 1991 Sch 1 para 6 (one calculation for all qualifying children); para 2(3) (relevant other children)"
            }
            ExplanationStep::NilRateCategory { .. } => "CSA 1991 Sch 1 para 5; 2012 Regs reg 45",
            ExplanationStep::FlatRateBenefit { .. } => {
                "CSA 1991 Sch 1 para 4(1)(b),(c); 2012 Regs reg 44"
            }
            ExplanationStep::DefaultRate { .. } => "2012 Regs reg 49 (as made)",
            ExplanationStep::IncomeCap { .. } => "CSA 1991 Sch 1 para 10(3); 2012 Regs reg 2",
            ExplanationStep::NilRateLowIncome { .. } => {
                "CSA 1991 Sch 1 para 5; gov.uk 'How child maintenance is worked out', step 3"
            }
            ExplanationStep::FlatRateLowIncome { .. } => "CSA 1991 Sch 1 para 4(1)(a)",
            ExplanationStep::ReducedRate { .. } => {
                "CSA 1991 Sch 1 para 3; 2012 Regs reg 43 (table substituted by SI 2013/1654 from 25 Nov 2013)"
            }
            ExplanationStep::RelevantOtherChildrenReduction { .. } => {
                "CSA 1991 Sch 1 para 2(3) as modified by SI 2012/2678 reg 2"
            }
            ExplanationStep::BasicRate { .. } => "CSA 1991 Sch 1 para 2(1)",
            ExplanationStep::BasicPlusRate { .. } => "CSA 1991 Sch 1 para 2(2)",
            ExplanationStep::PerChildShare { .. } => "CSA 1991 Sch 1 paras 6 and 7",
            ExplanationStep::SharedCareDecrease { .. } => {
                "CSA 1991 Sch 1 para 7(4); strict band edges: JH v SSWP [2016] UKUT 440 (AAC)"
            }
            ExplanationStep::SharedCareFurtherDecrease { .. } => "CSA 1991 Sch 1 para 7(6)",
            ExplanationStep::NotBelowZero { .. } => {
                "CSA 1991 Sch 1 para 7; project rule: an amount payable is never below zero"
            }
            ExplanationStep::SharedCareFloor { .. } => "CSA 1991 Sch 1 para 7(7)",
            ExplanationStep::FlatRateSharedCareNil { .. }
            | ExplanationStep::FlatRateSharedCareIgnored => "CSA 1991 Sch 1 para 8",
            ExplanationStep::DefaultRateSharedCareIgnored => {
                "2012 Regs reg 49; project rule: no shared-care decrease on the default rate"
            }
            ExplanationStep::Apportionment { .. } => "CSA 1991 Sch 1 para 6",
            ExplanationStep::Rounding { .. } => {
                "2012 Regs reg 6 (unsettled); project rule: one rounding per receiving parent, to the penny, half up"
            }
            ExplanationStep::Total { .. } => {
                "project rule: the total is the sum of the rounded receiving-parent amounts, so the shares always add up"
            }
            ExplanationStep::DirectPay => {
                "Direct Pay: collection fees apply only to Collect and Pay (SI 2014/612 reg 7)"
            }
            ExplanationStep::DirectPayUnavailable => {
                "parameter collect_and_pay.direct_pay_available"
            }
            ExplanationStep::CollectionFees { .. } => {
                "Child Support Fees Regulations 2014 (SI 2014/612) reg 7; fractions of a penny: SR 2014/182 reg 3(5)"
            }
        }
    }
}

/// Shows an exact amount with at least 2 and at most 4 decimal places ("…" marks a shortened one), for sentences (the figures themselves stay
/// exact in the step).
struct Approx(Decimal);

impl fmt::Display for Approx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut shown = self
            .0
            .round_dp_with_strategy(4, RoundingStrategy::MidpointAwayFromZero)
            .normalize();
        if shown.scale() < 2 {
            // Money reads best with pence: £600.00, not £600.
            shown.rescale(2);
        }
        if shown == self.0 {
            write!(f, "{shown}")
        } else {
            write!(f, "{shown}…")
        }
    }
}

fn children(count: u32) -> &'static str {
    if count == 1 { "child" } else { "children" }
}

impl fmt::Display for ExplanationStep {
    /// The step as a sentence a caseworker can follow.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ExplanationStep::EqualCare { receiving_parent, child, nights, threshold } => write!(
                f,
                "Child {} of receiving parent {} stays {nights} nights a year with the paying parent, at or above the \
                 equal-care threshold of {threshold}: care is shared equally, so this child is not a qualifying child \
                 in this calculation and nothing is payable for them.",
                child + 1,
                receiving_parent + 1
            ),
            ExplanationStep::NoQualifyingChildren => f.write_str(
                "Every child is in equal care, so the paying parent is not treated as a non-resident parent: \
                 nothing is payable (nil rate).",
            ),
            ExplanationStep::QualifyingChildren { qualifying_children, relevant_other_children } => write!(
                f,
                "One calculation covers {qualifying_children} qualifying {} across all receiving parents; the paying \
                 parent has {relevant_other_children} relevant other {}.",
                children(qualifying_children),
                children(relevant_other_children)
            ),
            ExplanationStep::NilRateCategory { category } => write!(
                f,
                "The paying parent {}, a nil-rate category: nothing is payable (nil rate).",
                category.description()
            ),
            ExplanationStep::FlatRateBenefit { flat_rate } => write!(
                f,
                "The paying parent (or partner) gets a benefit that puts them on the flat rate of £{flat_rate} a week, \
                 whatever their income."
            ),
            ExplanationStep::DefaultRate { qualifying_children, amount } => write!(
                f,
                "The paying parent's income is not known, so the default rate applies: £{amount} a week for \
                 {qualifying_children} qualifying {}.",
                children(qualifying_children)
            ),
            ExplanationStep::IncomeCap { income, cap } => write!(
                f,
                "Gross weekly income of £{income} is above the cap of £{cap}: only £{cap} is used (the receiving parent \
                 may ask a court for a top-up order)."
            ),
            ExplanationStep::NilRateLowIncome { income, threshold } => write!(
                f,
                "Gross weekly income of £{income} is below £{threshold}: nothing is payable (nil rate)."
            ),
            ExplanationStep::FlatRateLowIncome { income, threshold, upper_bound, flat_rate } => write!(
                f,
                "Gross weekly income of £{income} is at least £{threshold} and no more than £{upper_bound}: the flat \
                 rate of £{flat_rate} a week applies."
            ),
            ExplanationStep::ReducedRate {
                income,
                flat_rate,
                lower_bound,
                percentage,
                qualifying_children,
                relevant_other_children,
                amount,
            } => write!(
                f,
                "Gross weekly income of £{income} is above £{lower_bound} and below the basic-rate threshold: reduced \
                 rate. £{flat_rate} + {percentage} of the £{} above £{lower_bound} (the percentage for \
                 {qualifying_children} qualifying and {relevant_other_children} relevant other {}) = £{}.",
                Approx(income.as_decimal() - lower_bound.as_decimal()),
                children(relevant_other_children),
                Approx(amount)
            ),
            ExplanationStep::RelevantOtherChildrenReduction {
                relevant_other_children,
                percentage,
                income,
                reduced_income,
            } => write!(
                f,
                "The paying parent has {relevant_other_children} relevant other {}: income of £{income} is reduced by \
                 {percentage} to £{}.",
                children(relevant_other_children),
                Approx(reduced_income)
            ),
            ExplanationStep::BasicRate { income, percentage, qualifying_children, amount } => write!(
                f,
                "Basic rate: {percentage} (for {qualifying_children} qualifying {}) of £{} = £{}.",
                children(qualifying_children),
                Approx(income),
                Approx(amount)
            ),
            ExplanationStep::BasicPlusRate {
                income,
                threshold,
                basic_percentage,
                plus_percentage,
                qualifying_children,
                amount,
            } => write!(
                f,
                "Basic plus rate (income of £{} is above £{threshold}): {basic_percentage} of the first £{threshold} \
                 plus {plus_percentage} of the £{} above it (for {qualifying_children} qualifying {}) = £{}.",
                Approx(income),
                Approx(income - threshold.as_decimal()),
                children(qualifying_children),
                Approx(amount)
            ),
            ExplanationStep::PerChildShare { amount, qualifying_children, share } => write!(
                f,
                "£{} divided equally between {qualifying_children} qualifying {} is £{} a child.",
                Approx(amount),
                children(qualifying_children),
                Approx(share)
            ),
            ExplanationStep::SharedCareDecrease { receiving_parent, child, nights, band, decrease, share } => write!(
                f,
                "Child {} of receiving parent {} stays {nights} nights a year with the paying parent (shared-care band \
                 {band}): their share of £{} is decreased by {decrease}, £{}.",
                child + 1,
                receiving_parent + 1,
                Approx(share),
                Approx(decrease.of(share))
            ),
            ExplanationStep::SharedCareFurtherDecrease { receiving_parent, child, amount } => write!(
                f,
                "Child {} of receiving parent {} is in the top shared-care band: a further £{amount} a week comes off.",
                child + 1,
                receiving_parent + 1
            ),
            ExplanationStep::NotBelowZero { receiving_parent, amount } => write!(
                f,
                "Shared care would take the amount for receiving parent {} to minus £{}, below zero: it is £0.00.",
                receiving_parent + 1,
                Approx(amount.abs())
            ),
            ExplanationStep::SharedCareFloor { aggregate, flat_rate } => write!(
                f,
                "Shared care would take the paying parent's total to £{}, below the flat rate: the total is instead \
                 the flat rate of £{flat_rate}, divided between the qualifying children.",
                Approx(aggregate)
            ),
            ExplanationStep::FlatRateSharedCareNil { receiving_parent, child, nights } => write!(
                f,
                "The flat rate applies because of a benefit, and child {} of receiving parent {} stays {nights} nights \
                 a year with the paying parent: nothing is payable to receiving parent {} for any of their children.",
                child + 1,
                receiving_parent + 1,
                receiving_parent + 1
            ),
            ExplanationStep::FlatRateSharedCareIgnored => f.write_str(
                "The flat rate applies because of low income, so shared care does not change it.",
            ),
            ExplanationStep::DefaultRateSharedCareIgnored => {
                f.write_str("Shared care is not applied to the default rate.")
            }
            ExplanationStep::Apportionment { receiving_parent, children: own, qualifying_children, amount } => {
                let rp = receiving_parent + 1;
                let amount = Approx(amount);
                if own == qualifying_children && own == 1 {
                    write!(f, "Receiving parent {rp} cares for the qualifying child: £{amount} a week.")
                } else if own == qualifying_children && own == 2 {
                    write!(f, "Receiving parent {rp} cares for both qualifying children: £{amount} a week.")
                } else if own == qualifying_children {
                    write!(f, "Receiving parent {rp} cares for all {own} qualifying children: £{amount} a week.")
                } else {
                    write!(
                        f,
                        "Receiving parent {rp} cares for {own} of the {qualifying_children} qualifying {}: £{amount} a \
                         week.",
                        children(qualifying_children)
                    )
                }
            }
            ExplanationStep::Rounding { receiving_parent, exact, rounded } => write!(
                f,
                "Receiving parent {}'s £{} is rounded to the penny, half a penny going up: £{rounded}.",
                receiving_parent + 1,
                Approx(exact)
            ),
            ExplanationStep::Total { total, receiving_parents } => {
                if receiving_parents == 1 {
                    write!(f, "The paying parent pays £{total} a week.")
                } else {
                    write!(
                        f,
                        "The paying parent pays £{total} a week in all: the sum of the {receiving_parents} receiving \
                         parents' rounded amounts."
                    )
                }
            }
            ExplanationStep::DirectPay => f.write_str("Direct Pay: the parents pay each other, with no collection fees."),
            ExplanationStep::DirectPayUnavailable => f.write_str(
                "Direct Pay was asked for but is not available on this date: the case is on Collect and Pay.",
            ),
            ExplanationStep::CollectionFees {
                total,
                paying_percentage,
                paying_parent_fee,
                receiving_percentage,
                receiving_parent_fee,
            } => write!(
                f,
                "Collect and Pay: the paying parent pays a {paying_percentage} fee of £{paying_parent_fee} on top of \
                 £{total}; the receiving parent's {receiving_percentage} fee of £{receiving_parent_fee} is taken off \
                 what is collected (fractions of a penny: half or more up)."
            ),
        }
    }
}

impl Serialize for ExplanationStep {
    /// `{ "rule": ..., "legal_source": ..., "text": ... }`: what a report or API client shows.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("ExplanationStep", 3)?;
        s.serialize_field("rule", self.rule())?;
        s.serialize_field("legal_source", self.legal_source())?;
        s.serialize_field("text", &self.to_string())?;
        s.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn sentences_render_lazily_with_figures() {
        let Some(seventh) = Fraction::new(1, 7) else {
            panic!("1/7 is a fraction")
        };
        let step = ExplanationStep::SharedCareDecrease {
            receiving_parent: 0,
            child: 0,
            nights: Nights::new(60).unwrap_or_default(),
            band: 1,
            decrease: seventh,
            share: dec!(48),
        };
        assert_eq!(step.rule(), "shared_care_decrease");
        assert_eq!(
            step.to_string(),
            "Child 1 of receiving parent 1 stays 60 nights a year with the paying parent (shared-care band 1): \
             their share of £48.00 is decreased by 1/7, £6.8571…."
        );
        let cap = ExplanationStep::IncomeCap {
            income: Money::from_pence(350_000),
            cap: Money::from_pence(300_000),
        };
        assert!(
            cap.to_string()
                .contains("£3500.00 is above the cap of £3000.00")
        );
        assert_eq!(
            cap.legal_source(),
            "CSA 1991 Sch 1 para 10(3); 2012 Regs reg 2"
        );
    }

    #[test]
    fn steps_are_small() {
        // Steps are stored by value in one Vec per calculation; keep them compact.
        assert!(
            std::mem::size_of::<ExplanationStep>() <= 128,
            "{}",
            std::mem::size_of::<ExplanationStep>()
        );
    }
}
