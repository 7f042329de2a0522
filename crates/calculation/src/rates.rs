//! Which rate applies, and the weekly amount it gives before shared care (CSA 1991 Sch 1 paras 2–5;
//! 2012 Regs regs 43–45 and 49).
//!
//! The order of the tests is a decision of this project, following the spec:
//! 1. a nil-rate category → nil;
//! 2. a flat-rate benefit → flat, whatever the income (benefit recipients usually have little or no
//!    taxable income, and the legislation puts them on the flat rate by status, not by income);
//! 3. income not provided → the default rate;
//! 4. cap income at £3,000 **first**, then: below £7 → nil; £7 to £100 → flat; above £100 and below
//!    £200 → reduced; £200 or more → basic, or basic plus where income after the relevant-other-children
//!    reduction is above £800.
//!
//! The band (reduced against basic) is chosen on the unreduced (capped) income; relevant other
//! children only choose the reduced-rate column, and reduce income for basic and basic plus.

use rust_decimal::Decimal;
use serde::Serialize;

use crate::explanation::ExplanationStep;
use crate::input::{CalculationInput, IncomeEvidence};
use crate::money::Money;
use crate::parameters::Parameters;

/// The rate a calculation arrived at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rate {
    /// Nothing payable: a nil-rate category, income below £7, or every child in equal care.
    Nil,
    /// The flat rate: a benefit, or income from £7 to £100.
    Flat,
    /// The reduced rate: income above £100 and below £200.
    Reduced,
    /// The basic rate: income of £200 or more, and no more than £800 after the reduction for
    /// relevant other children.
    Basic,
    /// The basic plus rate: income after the reduction above £800.
    BasicPlus,
    /// The default rate: income not known.
    Default,
}

impl Rate {
    /// The stable snake_case name (`basic_plus`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Rate::Nil => "nil",
            Rate::Flat => "flat",
            Rate::Reduced => "reduced",
            Rate::Basic => "basic",
            Rate::BasicPlus => "basic_plus",
            Rate::Default => "default",
        }
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the rate decision leaves the rest of the calculation to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RateDecision {
    /// Nothing payable.
    Nil,
    /// Flat rate because of a benefit: para 8 shared care (nil to a household with shared care).
    FlatBenefit,
    /// Flat rate because of low income: shared care ignored.
    FlatLowIncome,
    /// Default rate of this total amount: shared care not applied.
    Default(Money),
    /// Reduced, basic or basic plus, with the exact weekly amount before shared care.
    Calculated(Rate, Decimal),
}

/// Decides the rate for `qualifying_children` (at least 1, after equal-care removals), recording
/// each rule applied in `steps`.
pub(crate) fn select_rate(
    input: &CalculationInput,
    qualifying_children: u32,
    params: &Parameters,
    steps: &mut Vec<ExplanationStep>,
) -> RateDecision {
    if let Some(category) = input.nil_rate_category() {
        steps.push(ExplanationStep::NilRateCategory { category });
        return RateDecision::Nil;
    }
    if input.flat_rate_benefit() {
        steps.push(ExplanationStep::FlatRateBenefit {
            flat_rate: params.flat_rate,
        });
        return RateDecision::FlatBenefit;
    }
    let given = match input.gross_weekly_income() {
        IncomeEvidence::Known(income) => income,
        IncomeEvidence::NotProvided => {
            // Decision: the default rate is the whole figure for the number of qualifying children
            // (3 or more share one figure), apportioned per child like any other rate.
            let amount = params.default_rate.column(qualifying_children);
            steps.push(ExplanationStep::DefaultRate {
                qualifying_children,
                amount,
            });
            return RateDecision::Default(amount);
        }
    };
    // The cap comes before every other income test (Sch 1 para 10(3)).
    let income = if given > params.income_cap {
        steps.push(ExplanationStep::IncomeCap {
            income: given,
            cap: params.income_cap,
        });
        params.income_cap
    } else {
        given
    };
    if income < params.nil_rate_income_threshold {
        steps.push(ExplanationStep::NilRateLowIncome {
            income,
            threshold: params.nil_rate_income_threshold,
        });
        return RateDecision::Nil;
    }
    if income <= params.flat_rate_income_upper_bound {
        steps.push(ExplanationStep::FlatRateLowIncome {
            income,
            threshold: params.nil_rate_income_threshold,
            upper_bound: params.flat_rate_income_upper_bound,
            flat_rate: params.flat_rate,
        });
        return RateDecision::FlatLowIncome;
    }
    let relevant_other_children = input.relevant_other_children();
    if income < params.reduced_rate_income_upper_bound {
        let amount =
            reduced_rate_amount(income, qualifying_children, relevant_other_children, params);
        steps.push(ExplanationStep::ReducedRate {
            income,
            flat_rate: params.flat_rate,
            lower_bound: params.flat_rate_income_upper_bound,
            percentage: params
                .reduced_rate
                .percentage(qualifying_children, relevant_other_children),
            qualifying_children,
            relevant_other_children,
            amount,
        });
        return RateDecision::Calculated(Rate::Reduced, amount);
    }
    // Basic or basic plus: relevant other children reduce income first, and both the percentages
    // and the £800 split apply to the reduced income (para 2(3) as modified by SI 2012/2678).
    let reduced_income = match params
        .relevant_other_children_reduction
        .for_count(relevant_other_children)
    {
        Some(percentage) => {
            let reduced_income = income.as_decimal() - percentage.of(income.as_decimal());
            steps.push(ExplanationStep::RelevantOtherChildrenReduction {
                relevant_other_children,
                percentage,
                income,
                reduced_income,
            });
            reduced_income
        }
        None => income.as_decimal(),
    };
    let basic_percentage = params.basic_rate.column(qualifying_children);
    let threshold = params.basic_plus_income_threshold;
    if reduced_income > threshold.as_decimal() {
        let plus_percentage = params.basic_plus_rate.column(qualifying_children);
        let amount = basic_percentage.of(threshold.as_decimal())
            + plus_percentage.of(reduced_income - threshold.as_decimal());
        steps.push(ExplanationStep::BasicPlusRate {
            income: reduced_income,
            threshold,
            basic_percentage,
            plus_percentage,
            qualifying_children,
            amount,
        });
        RateDecision::Calculated(Rate::BasicPlus, amount)
    } else {
        let amount = basic_percentage.of(reduced_income);
        steps.push(ExplanationStep::BasicRate {
            income: reduced_income,
            percentage: basic_percentage,
            qualifying_children,
            amount,
        });
        RateDecision::Calculated(Rate::Basic, amount)
    }
}

/// The reduced rate F + A × T (2012 Regs reg 43): F the flat rate, A the income above the flat-rate
/// bound, T from the table for the qualifying and relevant other children. Exact.
pub fn reduced_rate_amount(
    income: Money,
    qualifying_children: u32,
    relevant_other_children: u32,
    params: &Parameters,
) -> Decimal {
    let above =
        (income.as_decimal() - params.flat_rate_income_upper_bound.as_decimal()).max(Decimal::ZERO);
    params.flat_rate.as_decimal()
        + params
            .reduced_rate
            .percentage(qualifying_children, relevant_other_children)
            .of(above)
}
