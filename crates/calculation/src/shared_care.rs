//! Shared care: decreasing the reduced, basic and basic plus rates for nights a child spends with
//! the paying parent (CSA 1991 Sch 1 para 7), and the flat-rate floor under the result (para 7(7)).
//!
//! How it is worked, per receiving parent:
//! - the weekly amount is divided equally between all qualifying children (across every receiving
//!   parent; equal-care children were already removed);
//! - each child's share is decreased by its band's fraction (none, 1/7, 2/7, 3/7, 1/2), and a further
//!   £7 comes off for each child in the top band;
//! - a receiving parent's amount never goes below zero (project rule: the legislation decreases
//!   "the amount payable", which cannot be negative);
//! - if the total over all receiving parents ends up below the flat rate, the total is the flat
//!   rate instead, apportioned per child across receiving parents as in para 6.
//!
//! Exactness: the band fractions share a common denominator D (14 for sevenths and a half), so a
//! receiving parent's amount is `amount × (sum of kept D-ths over their children) / (QC × D)`: one
//! multiplication and one division, exact whenever the result has a finite decimal form, and so
//! never pushed to the wrong side of a half penny by intermediate rounding.

use rust_decimal::Decimal;

use crate::apportion::{self, push_receiving_parent};
use crate::calculate::ReceivingParentAmount;
use crate::explanation::ExplanationStep;
use crate::input::ReceivingParent;
use crate::parameters::{CareBand, Parameters, SharedCareParameters};

/// A receiving parent's qualifying children, counted by what shared care does to them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    /// Qualifying children (not in equal care).
    pub children: u32,
    /// Sum over those children of the common-denominator-ths of their share that is kept.
    pub kept: u64,
    /// Children in the top band, each with the further decrease.
    pub top_band: u32,
    /// Index of the first child in a shared-care band (band 1 or above).
    pub first_shared: Option<usize>,
}

/// Counts a receiving parent's qualifying children by shared-care band.
pub(crate) fn tally(
    receiving_parent: &ReceivingParent,
    shared_care: &SharedCareParameters,
) -> Tally {
    let mut t = Tally::default();
    for (j, &nights) in receiving_parent.child_nights().iter().enumerate() {
        let band = shared_care.band(nights);
        if band == CareBand::EqualCare {
            continue;
        }
        t.children += 1;
        t.kept += shared_care.kept_numerator(band);
        if band == CareBand::Band4 {
            t.top_band += 1;
        }
        if band != CareBand::Below && t.first_shared.is_none() {
            t.first_shared = Some(j);
        }
    }
    t
}

/// Explains each child's decrease for one receiving parent.
fn explain_decreases(
    index: usize,
    receiving_parent: &ReceivingParent,
    shared_care: &SharedCareParameters,
    share: Decimal,
    steps: &mut Vec<ExplanationStep>,
) {
    for (j, &nights) in receiving_parent.child_nights().iter().enumerate() {
        let band = shared_care.band(nights);
        let (Some(number), Some(decrease)) = (band.number(), shared_care.decrease(band)) else {
            continue;
        };
        steps.push(ExplanationStep::SharedCareDecrease {
            receiving_parent: index,
            child: j,
            nights,
            // Band numbers are 1 to 4.
            band: number as u8,
            decrease,
            share,
        });
        if band == CareBand::Band4 {
            steps.push(ExplanationStep::SharedCareFurtherDecrease {
                receiving_parent: index,
                child: j,
                amount: shared_care.further_decrease_per_child(),
            });
        }
    }
}

/// A receiving parent's exact amount after shared care, before the "not below zero" rule.
fn amount_after_shared_care(
    amount: Decimal,
    t: Tally,
    all_kept: u64,
    denominator: Decimal,
    further: Decimal,
) -> Decimal {
    if t.kept == all_kept && t.top_band == 0 {
        // This receiving parent has every qualifying child and none is in shared care.
        return amount;
    }
    amount * Decimal::from(t.kept) / denominator - further * Decimal::from(t.top_band)
}

/// Applies shared care and the floor to the weekly `amount` of a reduced, basic or basic plus
/// calculation, pushing one [`ReceivingParentAmount`] per receiving parent.
pub(crate) fn apply(
    amount: Decimal,
    qualifying_children: u32,
    receiving_parents: &[ReceivingParent],
    params: &Parameters,
    steps: &mut Vec<ExplanationStep>,
    out: &mut Vec<ReceivingParentAmount>,
) {
    let shared_care = &params.shared_care;
    let d = shared_care.common_denominator();
    // At most MAX_CHILDREN × 10^12: far inside u64 and Decimal.
    let all_kept = u64::from(qualifying_children) * d;
    let denominator = Decimal::from(all_kept);
    let further = shared_care.further_decrease_per_child().as_decimal();

    let share = if qualifying_children == 1 {
        amount
    } else {
        amount / Decimal::from(qualifying_children)
    };
    if qualifying_children > 1 {
        steps.push(ExplanationStep::PerChildShare {
            amount,
            qualifying_children,
            share,
        });
    }

    // Pass 1: explain the decreases and find the total, to test the floor.
    let mut aggregate = Decimal::ZERO;
    let mut any_shared_care = false;
    for (i, rp) in receiving_parents.iter().enumerate() {
        let t = tally(rp, shared_care);
        if t.first_shared.is_some() {
            any_shared_care = true;
            explain_decreases(i, rp, shared_care, share, steps);
        }
        let exact = amount_after_shared_care(amount, t, all_kept, denominator, further);
        if exact.is_sign_negative() && !exact.is_zero() {
            steps.push(ExplanationStep::NotBelowZero {
                receiving_parent: i,
                amount: exact,
            });
        } else {
            aggregate += exact;
        }
    }

    // The floor only guards against shared care taking the total below the flat rate.
    let floor = any_shared_care && aggregate < params.flat_rate.as_decimal();
    if floor {
        steps.push(ExplanationStep::SharedCareFloor {
            aggregate,
            flat_rate: params.flat_rate,
        });
    }

    // Pass 2: each receiving parent's amount, rounded once.
    for (i, rp) in receiving_parents.iter().enumerate() {
        let t = tally(rp, shared_care);
        let exact = if floor {
            apportion::per_child(
                params.flat_rate.as_decimal(),
                t.children,
                qualifying_children,
            )
        } else {
            amount_after_shared_care(amount, t, all_kept, denominator, further).max(Decimal::ZERO)
        };
        push_receiving_parent(i, t.children, qualifying_children, exact, steps, out);
    }
}
