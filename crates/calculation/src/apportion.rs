//! Dividing a weekly amount between several receiving parents (CSA 1991 Sch 1 para 1(2), para 6),
//! and the one rounding step.
//!
//! One rate is worked out for all qualifying children together; each receiving parent gets the
//! per-child amount times the qualifying children they care for. This module handles the flat and
//! default rates (which have no per-child shared-care decrease, except para 8 for benefits) and the
//! final step every rate shares: round each receiving parent's exact amount once, to the penny,
//! half up.

use rust_decimal::Decimal;

use crate::calculate::ReceivingParentAmount;
use crate::explanation::ExplanationStep;
use crate::input::ReceivingParent;
use crate::money::Money;
use crate::parameters::Parameters;
use crate::shared_care::tally;

/// `amount × children / qualifying_children`, multiplying first so the result is exact whenever it
/// can be (7 × 3 / 3 is exactly 7, where 7 / 3 × 3 is not).
pub(crate) fn per_child(amount: Decimal, children: u32, qualifying_children: u32) -> Decimal {
    if children == qualifying_children {
        return amount;
    }
    if children == 0 || qualifying_children == 0 {
        return Decimal::ZERO;
    }
    amount * Decimal::from(children) / Decimal::from(qualifying_children)
}

/// Records a receiving parent's exact amount, rounds it once (half up, to the penny) and adds it to
/// the result.
///
/// Decision (2012 Regs reg 6 could not be read): one rounding step per receiving parent. The total
/// is then the sum of the rounded amounts, so the shares always add up to the total exactly; the
/// price is that the total can differ by a penny or so from rounding the unrounded total (three
/// receiving parents with £95 ÷ 3 each get £31.67, total £95.01).
pub(crate) fn push_receiving_parent(
    index: usize,
    children: u32,
    qualifying_children: u32,
    exact: Decimal,
    steps: &mut Vec<ExplanationStep>,
    out: &mut Vec<ReceivingParentAmount>,
) {
    steps.push(ExplanationStep::Apportionment {
        receiving_parent: index,
        children,
        qualifying_children,
        amount: exact,
    });
    let rounded = Money::round_non_negative(exact);
    steps.push(ExplanationStep::Rounding {
        receiving_parent: index,
        exact,
        rounded,
    });
    out.push(ReceivingParentAmount {
        weekly_amount: rounded,
    });
}

/// Apportions a whole-case amount per child, ignoring shared care (flat rate for low income, and the
/// default rate).
pub(crate) fn evenly(
    amount: Decimal,
    qualifying_children: u32,
    receiving_parents: &[ReceivingParent],
    params: &Parameters,
    steps: &mut Vec<ExplanationStep>,
    out: &mut Vec<ReceivingParentAmount>,
) {
    for (i, rp) in receiving_parents.iter().enumerate() {
        let children = tally(rp, &params.shared_care).children;
        push_receiving_parent(
            i,
            children,
            qualifying_children,
            per_child(amount, children, qualifying_children),
            steps,
            out,
        );
    }
}

/// Whether any qualifying child is in a shared-care band (band 1 or above, below equal care).
pub(crate) fn any_shared_care(receiving_parents: &[ReceivingParent], params: &Parameters) -> bool {
    receiving_parents
        .iter()
        .any(|rp| tally(rp, &params.shared_care).first_shared.is_some())
}

/// The flat rate paid because of a benefit, with para 8: a receiving parent with any qualifying
/// child in a shared-care band (52 nights or more) gets nothing, for all their children; the others
/// get the flat rate per child as usual (so the total can be less than the flat rate: in the spec's
/// example, £0 and £2.33).
pub(crate) fn flat_rate_benefit(
    qualifying_children: u32,
    receiving_parents: &[ReceivingParent],
    params: &Parameters,
    steps: &mut Vec<ExplanationStep>,
    out: &mut Vec<ReceivingParentAmount>,
) {
    let flat_rate = params.flat_rate.as_decimal();
    for (i, rp) in receiving_parents.iter().enumerate() {
        let t = tally(rp, &params.shared_care);
        let exact = match t.first_shared {
            Some(child) => {
                let nights = rp.child_nights().get(child).copied().unwrap_or_default();
                steps.push(ExplanationStep::FlatRateSharedCareNil {
                    receiving_parent: i,
                    child,
                    nights,
                });
                Decimal::ZERO
            }
            None => per_child(flat_rate, t.children, qualifying_children),
        };
        push_receiving_parent(i, t.children, qualifying_children, exact, steps, out);
    }
}
