//! Property tests: invariants that must hold for any input, on any date the rules cover.

use chrono::{Days, NaiveDate};
use familybridge_calculation::{
    CalculationInput, Collection, IncomeEvidence, Money, Nights, NilRateCategory, ParameterBook,
    Parameters, Rate, ReceivingParent, calculate,
};
use proptest::prelude::*;
use rust_decimal::Decimal;

/// Days from 10 Dec 2012 to 31 Dec 2035.
const DAYS_COVERED: u64 = 8421;

fn start() -> NaiveDate {
    NaiveDate::from_ymd_opt(2012, 12, 10).unwrap_or_default()
}

fn params_on(offset: u64, proposal: bool) -> Parameters {
    let date = start()
        .checked_add_days(Days::new(offset))
        .unwrap_or_default();
    let book = if proposal {
        ParameterBook::statutory()
            .with_proposal("fees-2027")
            .unwrap_or_else(|e| panic!("{e}"))
    } else {
        ParameterBook::statutory().clone()
    };
    book.in_force_on(date)
        .unwrap_or_else(|e| panic!("{date}: {e}"))
}

fn income() -> impl Strategy<Value = IncomeEvidence> {
    prop_oneof![
        1 => Just(IncomeEvidence::NotProvided),
        // Everyday incomes, pence precision.
        6 => (0_u64..=400_000).prop_map(|p| IncomeEvidence::Known(Money::from_pence(p))),
        // Anything up to the largest amount Money::parse accepts.
        1 => (0_u64..=99_999_999_999_999).prop_map(|p| IncomeEvidence::Known(Money::from_pence(p))),
    ]
}

fn nights() -> impl Strategy<Value = Nights> {
    prop_oneof![
        3 => Just(0_u32),
        5 => 0_u32..=365,
        2 => prop::sample::select(vec![51, 52, 103, 104, 155, 156, 174, 175, 181, 182]),
    ]
    .prop_map(|n| Nights::new(n).unwrap_or_default())
}

fn receiving_parents(
    max_parents: usize,
    max_children: usize,
) -> impl Strategy<Value = Vec<ReceivingParent>> {
    prop::collection::vec(
        prop::collection::vec(nights(), 1..=max_children).prop_map(ReceivingParent::new),
        1..=max_parents,
    )
}

fn category() -> impl Strategy<Value = Option<NilRateCategory>> {
    prop_oneof![8 => Just(None), 1 => prop::sample::select(NilRateCategory::ALL.to_vec()).prop_map(Some)]
}

prop_compose! {
    fn input()(
        income in income(),
        roc in prop_oneof![4 => 0_u32..=4, 1 => any::<u32>()],
        benefit in prop::bool::weighted(0.15),
        category in category(),
        rps in receiving_parents(6, 8),
        collect in any::<bool>(),
    ) -> CalculationInput {
        let collection = if collect { Collection::CollectAndPay } else { Collection::DirectPay };
        CalculationInput::new(income, roc, benefit, category, rps, collection).unwrap_or_else(|e| panic!("{e}"))
    }
}

fn sum(calculation: &familybridge_calculation::Calculation) -> Decimal {
    calculation
        .receiving_parents
        .iter()
        .map(|rp| rp.weekly_amount.as_decimal())
        .sum()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn shares_add_up_to_the_total(input in input(), day in 0..DAYS_COVERED, proposal in any::<bool>()) {
        let params = params_on(day, proposal);
        let c = calculate(&input, &params);
        prop_assert_eq!(sum(&c), c.weekly_amount.as_decimal());
        prop_assert_eq!(c.receiving_parents.len(), input.receiving_parents().len());
        // Whole pence, never negative.
        for rp in &c.receiving_parents {
            prop_assert!(rp.weekly_amount.as_decimal() >= Decimal::ZERO);
            prop_assert_eq!(rp.weekly_amount.as_decimal().round_dp(2), rp.weekly_amount.as_decimal());
        }
        if c.rate == Rate::Nil {
            prop_assert!(c.weekly_amount.is_zero());
        }
    }

    #[test]
    fn no_input_panics_and_every_step_renders(
        input in input(),
        day in 0..DAYS_COVERED,
        proposal in any::<bool>(),
    ) {
        let params = params_on(day, proposal);
        let c = calculate(&input, &params);
        for step in &c.explanation {
            prop_assert!(!step.to_string().is_empty());
            prop_assert!(!step.rule().is_empty());
            prop_assert!(!step.legal_source().is_empty());
        }
        prop_assert!(c.applied("total"));
    }

    #[test]
    fn many_children_and_receiving_parents_do_not_panic(
        income in income(),
        rps in receiving_parents(40, 25),
        day in 0..DAYS_COVERED,
    ) {
        let input = CalculationInput::new(income, 1, false, None, rps, Collection::CollectAndPay);
        // More than MAX_CHILDREN is refused with an error, never a panic.
        if let Ok(input) = input {
            let c = calculate(&input, &params_on(day, false));
            prop_assert_eq!(sum(&c), c.weekly_amount.as_decimal());
        }
    }

    #[test]
    fn within_a_band_more_income_never_means_less(
        low in 0_u64..=400_000,
        extra in 0_u64..=100_000,
        roc in 0_u32..=4,
        nights in prop::collection::vec(prop::collection::vec(0_u32..=51, 1..=4), 1..=3),
        day in 0..DAYS_COVERED,
    ) {
        let params = params_on(day, false);
        let rps: Vec<ReceivingParent> = nights
            .iter()
            .map(|n| ReceivingParent::new(n.iter().map(|&n| Nights::new(n).unwrap_or_default()).collect()))
            .collect();
        let make = |pence| {
            CalculationInput::new(
                IncomeEvidence::Known(Money::from_pence(pence)),
                roc,
                false,
                None,
                rps.clone(),
                Collection::DirectPay,
            )
            .unwrap_or_else(|e| panic!("{e}"))
        };
        let a = calculate(&make(low), &params);
        let b = calculate(&make(low + extra), &params);
        if a.rate == b.rate {
            prop_assert!(a.weekly_amount <= b.weekly_amount, "{} then {}", a.weekly_amount, b.weekly_amount);
            for (x, y) in a.receiving_parents.iter().zip(&b.receiving_parents) {
                prop_assert!(x.weekly_amount <= y.weekly_amount);
            }
        }
    }

    #[test]
    fn fees_are_the_rounded_percentage_of_the_total(input in input(), day in 0..DAYS_COVERED, proposal in any::<bool>()) {
        let params = params_on(day, proposal);
        let c = calculate(&input, &params);
        let half_penny = Decimal::new(5, 3);
        match c.collection_fees {
            None => prop_assert_eq!(input.collection(), Collection::DirectPay),
            Some(fees) => {
                let total = c.weekly_amount.as_decimal();
                let paying = params.collection.paying_parent_fee.of(total);
                let receiving = params.collection.receiving_parent_fee.of(total);
                prop_assert!((fees.paying_parent_fee.as_decimal() - paying).abs() <= half_penny);
                prop_assert!((fees.receiving_parent_fee.as_decimal() - receiving).abs() <= half_penny);
                // Never more than the percentage allows once rounded half up, and never more than
                // the maintenance itself (the fee percentages are at most 100%).
                prop_assert!(fees.paying_parent_fee.as_decimal() <= paying + half_penny);
                prop_assert!(fees.receiving_parent_fee.as_decimal() <= receiving + half_penny);
                prop_assert!(fees.paying_parent_fee <= c.weekly_amount);
                prop_assert!(fees.receiving_parent_fee <= c.weekly_amount);
            }
        }
    }

    #[test]
    fn shared_care_never_raises_an_amount(
        pence in 0_u64..=400_000,
        roc in 0_u32..=4,
        nights in prop::collection::vec(nights(), 1..=5),
        day in 0..DAYS_COVERED,
    ) {
        // One receiving parent: the amount with shared care is at most the amount without, unless
        // the floor lifts it to the flat rate.
        let params = params_on(day, false);
        let with = CalculationInput::new(
            IncomeEvidence::Known(Money::from_pence(pence)), roc, false, None,
            vec![ReceivingParent::new(nights.clone())], Collection::DirectPay,
        ).unwrap_or_else(|e| panic!("{e}"));
        let c = calculate(&with, &params);
        let qualifying: Vec<Nights> = nights.iter().copied()
            .filter(|n| n.get() < params.shared_care.equal_care_nights().get())
            .map(|_| Nights::ZERO)
            .collect();
        if !qualifying.is_empty() {
            let without = CalculationInput::new(
                IncomeEvidence::Known(Money::from_pence(pence)), roc, false, None,
                vec![ReceivingParent::new(qualifying)], Collection::DirectPay,
            ).unwrap_or_else(|e| panic!("{e}"));
            let w = calculate(&without, &params);
            prop_assert!(c.weekly_amount <= w.weekly_amount.max(params.flat_rate));
        }
    }

    #[test]
    fn money_parse_never_panics(text in "\\PC{0,20}") {
        let _ = Money::parse(&text);
    }

    #[test]
    fn money_parse_round_trips(pence in 0_u64..=99_999_999_999_999) {
        let money = Money::from_pence(pence);
        prop_assert_eq!(Money::parse(&money.to_string()), Ok(money));
    }

    #[test]
    fn raw_requests_never_panic(
        income in proptest::option::of("[0-9.\\-e,]{0,16}"),
        roc in any::<u32>(),
        category in proptest::option::of("[a-z_]{0,12}"),
        rps in prop::collection::vec(prop::collection::vec(any::<u32>(), 0..5), 0..4),
        as_of in "[0-9\\-]{0,12}",
    ) {
        let raw = familybridge_calculation::RawCalculationRequest {
            gross_weekly_income: income.as_deref(),
            relevant_other_children: roc,
            flat_rate_benefit: false,
            nil_rate_category: category.as_deref(),
            receiving_parents: rps,
            as_of: &as_of,
            collect_and_pay: true,
        };
        if let Ok(request) = familybridge_calculation::CalculationRequest::from_raw(&raw) {
            let _ = ParameterBook::statutory().calculate(&request);
        }
    }
}
