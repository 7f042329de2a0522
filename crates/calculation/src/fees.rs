//! Collect and Pay fees on a weekly amount (Child Support Fees Regulations 2014, SI 2014/612 reg 7).
//!
//! The paying parent pays a fee on top of the maintenance (20%); the receiving parent has a fee
//! taken off what is collected (4%). Fractions of a penny: half or more goes up, less goes down
//! (NI mirror SR 2014/182 reg 3(5)). Example: £57 due → £11.40 and £2.28, so the paying parent pays
//! £68.40 and the receiving parent gets £54.72.
//!
//! Decision: the fees are worked on the calculation's total weekly amount, which is what the
//! calculation reports. (With several receiving parents the regulations charge per receiving
//! parent, which can differ from this by a penny.)

use serde::Serialize;

use crate::money::Money;
use crate::parameters::CollectionParameters;

/// Weekly Collect and Pay fees.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct CollectionFees {
    /// Paid by the paying parent on top of the maintenance.
    pub paying_parent_fee: Money,
    /// Taken off what is collected for the receiving parent(s).
    pub receiving_parent_fee: Money,
}

/// Whether the paying parent has paid as required: under the announced 2025 model the higher fee
/// is kept for those who have not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PayingParentCompliance {
    /// Paying as required: the standard fee.
    Compliant,
    /// Not paying as required: the non-compliant fee.
    NonCompliant,
}

/// The Collect and Pay fees on a weekly amount, each rounded half up to the penny.
pub fn collection_fees(
    weekly_amount: Money,
    collection: &CollectionParameters,
    compliance: PayingParentCompliance,
) -> CollectionFees {
    let paying_rate = match compliance {
        PayingParentCompliance::Compliant => collection.paying_parent_fee,
        PayingParentCompliance::NonCompliant => collection.non_compliant_paying_parent_fee,
    };
    CollectionFees {
        paying_parent_fee: Money::round_non_negative(paying_rate.of(weekly_amount.as_decimal())),
        receiving_parent_fee: Money::round_non_negative(
            collection
                .receiving_parent_fee
                .of(weekly_amount.as_decimal()),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ratio::Percentage;
    use rust_decimal_macros::dec;

    fn rates(paying: &str, receiving: &str) -> CollectionParameters {
        let p = |t| Percentage::parse_percent(t).unwrap_or_default();
        CollectionParameters {
            direct_pay_available: true,
            paying_parent_fee: p(paying),
            non_compliant_paying_parent_fee: p("20"),
            receiving_parent_fee: p(receiving),
            non_compliant_after_missed_instalments: 1,
        }
    }

    #[test]
    fn fees_on_57_pounds() {
        let fees = collection_fees(
            Money::from_pence(5700),
            &rates("20", "4"),
            PayingParentCompliance::Compliant,
        );
        assert_eq!(fees.paying_parent_fee.to_string(), "11.40");
        assert_eq!(fees.receiving_parent_fee.to_string(), "2.28");
        assert_eq!(
            (Money::from_pence(5700).as_decimal() + fees.paying_parent_fee.as_decimal()),
            dec!(68.40)
        );
        assert_eq!(
            (Money::from_pence(5700).as_decimal() - fees.receiving_parent_fee.as_decimal()),
            dec!(54.72)
        );
    }

    #[test]
    fn half_a_penny_goes_up() {
        // 2% of £11.25 is 22.5p.
        let fees = collection_fees(
            Money::from_pence(1125),
            &rates("2", "2"),
            PayingParentCompliance::Compliant,
        );
        assert_eq!(fees.paying_parent_fee.to_string(), "0.23");
        let fees = collection_fees(
            Money::from_pence(1125),
            &rates("2", "2"),
            PayingParentCompliance::NonCompliant,
        );
        assert_eq!(fees.paying_parent_fee.to_string(), "2.25");
        assert_eq!(fees.receiving_parent_fee.to_string(), "0.23");
    }
}
