//! The calculation itself: from a validated input and the parameters in force to the weekly amount
//! for each receiving parent, the total, the collection fees and the explanation.
//!
//! Order of work:
//! 1. equal care: children at or above the equal-care threshold are not qualifying children
//!    (2012 Regs reg 50); if none is left, nothing is payable;
//! 2. the rate ([`crate::rates`]), on the total number of qualifying children across all receiving
//!    parents (para 6);
//! 3. shared care and the floor (the `shared_care` module) for the reduced, basic and basic plus
//!    rates; para 8 for the flat rate (the `apportion` module);
//! 4. one rounding step per receiving parent; the total is the sum of the rounded amounts;
//! 5. Collect and Pay fees ([`crate::fees`]).
//!
//! Performance: a calculation formats no strings and makes two allocations (the explanation and
//! the receiving parents); sentences are written only when a step is displayed.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;

use crate::apportion;
use crate::explanation::ExplanationStep;
use crate::fees::{CollectionFees, PayingParentCompliance, collection_fees};
use crate::input::{
    CalculationInput, CalculationRequest, Collection, InputError, InputField, InputProblem,
};
use crate::money::Money;
use crate::parameters::{CareBand, ParameterBook, ParameterError, Parameters};
use crate::rates::{Rate, RateDecision, select_rate};
use crate::shared_care;

/// One receiving parent's weekly amount, in the order of the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ReceivingParentAmount {
    /// What the paying parent pays this receiving parent each week (before any collection fee).
    pub weekly_amount: Money,
}

/// The result of a calculation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Calculation {
    /// The rate applied.
    pub rate: Rate,
    /// The qualifying children the calculation covers (equal-care children excluded).
    pub qualifying_children: u32,
    /// The total weekly amount: the sum of the receiving parents' rounded amounts.
    pub weekly_amount: Money,
    /// Each receiving parent's weekly amount, in the order of the input.
    pub receiving_parents: Vec<ReceivingParentAmount>,
    /// Weekly Collect and Pay fees; `None` on Direct Pay.
    pub collection_fees: Option<CollectionFees>,
    /// The rules applied, in order.
    pub explanation: Vec<ExplanationStep>,
}

impl Calculation {
    /// Whether the explanation applied the rule with this identifier (see [`ExplanationStep::rule`]).
    pub fn applied(&self, rule: &str) -> bool {
        self.explanation.iter().any(|step| step.rule() == rule)
    }
}

/// Calculates the weekly child maintenance for a validated input under the parameters in force.
///
/// Infallible: the input was validated when it was built, and every amount stays far inside the
/// range of exact decimals (see [`crate::money::MAX_POUND_DIGITS`] and [`crate::input::MAX_CHILDREN`]).
pub fn calculate(input: &CalculationInput, params: &Parameters) -> Calculation {
    let receiving_parents = input.receiving_parents();
    // Enough for a typical case without growing; larger cases grow once or twice.
    let mut steps = Vec::with_capacity(8 + 3 * receiving_parents.len());
    let mut amounts = Vec::with_capacity(receiving_parents.len());

    // 1. Equal care. Decision: a child at or above `shared_care.equal_care_nights` (182, a project
    // assumption) is not a qualifying child: the paying parent is not a non-resident parent for
    // them (2012 Regs reg 50). Their receiving parent gets nothing for them.
    let shared_care = &params.shared_care;
    let mut qualifying_children: u32 = 0;
    for (i, rp) in receiving_parents.iter().enumerate() {
        for (j, &nights) in rp.child_nights().iter().enumerate() {
            if shared_care.band(nights) == CareBand::EqualCare {
                steps.push(ExplanationStep::EqualCare {
                    receiving_parent: i,
                    child: j,
                    nights,
                    threshold: shared_care.equal_care_nights(),
                });
            } else {
                qualifying_children += 1;
            }
        }
    }
    let relevant_other_children = input.relevant_other_children();

    let rate = if qualifying_children == 0 {
        steps.push(ExplanationStep::NoQualifyingChildren);
        nil(receiving_parents.len(), &mut amounts);
        Rate::Nil
    } else {
        steps.push(ExplanationStep::QualifyingChildren {
            qualifying_children,
            relevant_other_children,
        });
        // 2. The rate, then 3. shared care and apportionment.
        match select_rate(input, qualifying_children, params, &mut steps) {
            RateDecision::Nil => {
                nil(receiving_parents.len(), &mut amounts);
                Rate::Nil
            }
            RateDecision::FlatBenefit => {
                apportion::flat_rate_benefit(
                    qualifying_children,
                    receiving_parents,
                    params,
                    &mut steps,
                    &mut amounts,
                );
                Rate::Flat
            }
            RateDecision::FlatLowIncome => {
                // Para 8: shared care does not change a flat rate paid because of low income.
                if apportion::any_shared_care(receiving_parents, params) {
                    steps.push(ExplanationStep::FlatRateSharedCareIgnored);
                }
                let flat = params.flat_rate.as_decimal();
                apportion::evenly(
                    flat,
                    qualifying_children,
                    receiving_parents,
                    params,
                    &mut steps,
                    &mut amounts,
                );
                Rate::Flat
            }
            RateDecision::Default(amount) => {
                // Decision: the default rate is an interim figure while income is unknown; shared
                // care is not applied to it.
                if apportion::any_shared_care(receiving_parents, params) {
                    steps.push(ExplanationStep::DefaultRateSharedCareIgnored);
                }
                let amount = amount.as_decimal();
                apportion::evenly(
                    amount,
                    qualifying_children,
                    receiving_parents,
                    params,
                    &mut steps,
                    &mut amounts,
                );
                Rate::Default
            }
            RateDecision::Calculated(rate, amount) => {
                shared_care::apply(
                    amount,
                    qualifying_children,
                    receiving_parents,
                    params,
                    &mut steps,
                    &mut amounts,
                );
                rate
            }
        }
    };

    // 4. The total is the sum of the rounded shares, so the shares always add up to it.
    let total = amounts
        .iter()
        .fold(Decimal::ZERO, |sum, rp| sum + rp.weekly_amount.as_decimal());
    let weekly_amount = Money::round_non_negative(total);
    steps.push(ExplanationStep::Total {
        total: weekly_amount,
        receiving_parents: receiving_parents.len(),
    });

    // 5. Collection fees.
    let on_collection = match input.collection() {
        Collection::CollectAndPay => true,
        Collection::DirectPay if params.collection.direct_pay_available => {
            steps.push(ExplanationStep::DirectPay);
            false
        }
        Collection::DirectPay => {
            steps.push(ExplanationStep::DirectPayUnavailable);
            true
        }
    };
    let fees = on_collection.then(|| {
        let fees = collection_fees(
            weekly_amount,
            &params.collection,
            PayingParentCompliance::Compliant,
        );
        steps.push(ExplanationStep::CollectionFees {
            total: weekly_amount,
            paying_percentage: params.collection.paying_parent_fee,
            paying_parent_fee: fees.paying_parent_fee,
            receiving_percentage: params.collection.receiving_parent_fee,
            receiving_parent_fee: fees.receiving_parent_fee,
        });
        fees
    });

    Calculation {
        rate,
        qualifying_children,
        weekly_amount,
        receiving_parents: amounts,
        collection_fees: fees,
        explanation: steps,
    }
}

fn nil(receiving_parents: usize, amounts: &mut Vec<ReceivingParentAmount>) {
    amounts.extend(std::iter::repeat_n(
        ReceivingParentAmount {
            weekly_amount: Money::ZERO,
        },
        receiving_parents,
    ));
}

/// Why a request could not be calculated.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// Something the caller sent is wrong (including an `as_of` before the rules start).
    #[error(transparent)]
    Input(#[from] InputError),
    /// The parameter book could not be resolved for the date (a broken override, say).
    #[error(transparent)]
    Parameters(#[from] ParameterError),
}

impl ParameterBook {
    /// Resolves the book on the request's date and calculates: the one-call path for a transport.
    ///
    /// A date before the first rules is reported as an error in the `as_of` field; for many
    /// calculations on one date, resolve once with [`ParameterBook::in_force_on`] and call
    /// [`calculate`] directly.
    pub fn calculate(&self, request: &CalculationRequest) -> Result<Calculation, RequestError> {
        let params = self.in_force_on(request.as_of).map_err(|e| match e {
            ParameterError::BeforeFirstValue { first, .. } => RequestError::Input(InputError::new(
                InputField::AsOf,
                InputProblem::BeforeRules {
                    first: self.earliest_date().unwrap_or(first),
                },
            )),
            other => RequestError::Parameters(other),
        })?;
        Ok(calculate(&request.input, &params))
    }
}

/// The date the 2012 scheme started (10 December 2012): the earliest date the statutory
/// parameters cover.
pub const SCHEME_START: NaiveDate = match NaiveDate::from_ymd_opt(2012, 12, 10) {
    Some(date) => date,
    // Evaluated at compile time: a bad date here fails the build, never a run.
    None => panic!("10 December 2012 is a valid date"),
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::RawCalculationRequest;

    #[test]
    fn the_statutory_book_starts_with_the_scheme() {
        assert_eq!(
            ParameterBook::statutory().earliest_date(),
            Some(SCHEME_START)
        );
    }

    #[test]
    fn a_calculation_serialises_with_explained_steps() {
        let request = CalculationRequest::from_raw(&RawCalculationRequest {
            gross_weekly_income: Some("475.00"),
            receiving_parents: vec![vec![0]],
            as_of: "2025-01-01",
            collect_and_pay: true,
            ..Default::default()
        });
        let result = request
            .map_err(RequestError::from)
            .and_then(|r| ParameterBook::statutory().calculate(&r));
        let Ok(calculation) = result else {
            panic!("{result:?}")
        };
        let text = toml::to_string(&calculation).unwrap_or_else(|e| panic!("{e}"));
        assert!(text.contains("rate = \"basic\""), "{text}");
        assert!(text.contains("weekly_amount = \"57.00\""), "{text}");
        assert!(text.contains("paying_parent_fee = \"11.40\""), "{text}");
        assert!(text.contains("rule = \"collection_fees\""), "{text}");
        assert!(text.contains("legal_source = "), "{text}");
    }

    #[test]
    fn dates_before_the_scheme_are_an_as_of_error() {
        let request = CalculationRequest::from_raw(&RawCalculationRequest {
            gross_weekly_income: Some("475.00"),
            receiving_parents: vec![vec![0]],
            as_of: "2012-12-09",
            ..Default::default()
        });
        let Ok(request) = request else {
            panic!("{request:?}")
        };
        let err = ParameterBook::statutory().calculate(&request).err();
        assert!(
            matches!(
                &err,
                Some(RequestError::Input(InputError {
                    field: InputField::AsOf,
                    ..
                }))
            ),
            "{err:?}"
        );
    }
}
