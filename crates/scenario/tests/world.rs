//! The world: plans are deterministic, differ between families, ignore the arms' levers, keep the
//! actions in a drivable order, and land near policy-model.md's caseload figures.

mod common;

use common::{small, small_with};
use familybridge_casework::{Employment, PaymentSource};
use familybridge_scenario::world::night_band;
use familybridge_scenario::{
    Action, Collection, CourtOutcome, FamilyPlan, Payment, PaymentPattern, family, payment_for,
};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

#[test]
fn the_same_inputs_give_the_same_plan() {
    let s = small();
    for i in 0..200 {
        assert_eq!(family(&s, 1, i), family(&s, 1, i));
    }
}

#[test]
fn families_replications_and_seeds_draw_different_streams() {
    let s = small();
    let a = family(&s, 1, 0);
    assert_ne!(a.actions, family(&s, 1, 1).actions);
    assert_ne!(a.actions, family(&s, 2, 0).actions);
    let other_seed = s
        .clone()
        .with_overrides(Some(43), None, None)
        .expect("valid");
    assert_ne!(a.actions, family(&other_seed, 1, 0).actions);
    assert_eq!(a.paying_parent_ref, "person-r1-000000a");
    assert_eq!(a.receiving_parent_ref, "person-r1-000000b");
    assert_eq!(a.cms_case_reference, "CMS-R1-000000");
    assert_eq!(family(&s, 2, 42).paying_parent_ref, "person-r2-000042a");
}

#[test]
fn plans_do_not_depend_on_the_arms() {
    let s = small();
    let other = small_with(
        "acts_on = \"final-order-backdated-to-application\"",
        "acts_on = \"final-order\"",
    )
    .expect("valid");
    let reordered = small_with("base_arm = \"baseline\"", "base_arm = \"reform\"").expect("valid");
    for i in 0..300 {
        let plan = family(&s, 1, i);
        assert_eq!(plan, family(&other, 1, i));
        assert_eq!(plan, family(&reordered, 1, i));
    }
}

#[test]
fn actions_are_in_date_order_inside_the_period_and_causally_ordered() {
    let s = small();
    let end = s.run.end();
    for i in 0..2000 {
        let plan = family(&s, 1, i);
        let dates: Vec<_> = plan.actions.iter().map(|a| a.date).collect();
        assert!(dates.windows(2).all(|w| w[0] <= w[1]), "family {i}");
        assert!(
            dates.iter().all(|d| *d >= s.run.start && *d < end),
            "family {i}"
        );
        let position = |f: &dyn Fn(&Action) -> bool| plan.actions.iter().position(|a| f(&a.action));
        let cms = position(&|a| matches!(a, Action::OpenCmsApplication { .. }))
            .expect("every family applies to the CMS");
        assert_eq!(plan.actions[cms].date, plan.application_date);
        // Contacts, income reports and order reports need a CMS case.
        for (k, a) in plan.actions.iter().enumerate() {
            if matches!(
                a.action,
                Action::Contact { .. }
                    | Action::ReportIncomeChange { .. }
                    | Action::ReportCourtOrderToCms { .. }
            ) {
                assert!(k > cms, "family {i}: {:?} before the application", a.action);
            }
        }
        if let Some(court) = &plan.court {
            let open = position(&|a| matches!(a, Action::OpenCourtCase { .. })).expect("opened");
            assert!(plan.actions.iter().take(open).all(|a| !matches!(
                a.action,
                Action::InterimOrder { .. }
                    | Action::FinalOrder { .. }
                    | Action::CloseCourtCase { .. }
            )));
            assert_eq!(
                court.pending_at_application,
                court.opened_on <= plan.application_date
            );
            assert!(plan.court_case_reference.is_some());
        }
        for a in &plan.actions {
            if let Action::FinalOrder {
                nights_with_paying_parent,
            } = &a.action
            {
                assert_eq!(nights_with_paying_parent.len(), plan.child_refs.len());
            }
        }
    }
}

fn share(count: usize, of: usize) -> Decimal {
    Decimal::from(count) / Decimal::from(of)
}

fn assert_near(name: &str, value: Decimal, target: Decimal, tolerance: Decimal) {
    assert!(
        (value - target).abs() <= tolerance,
        "{name}: {value} is not within {tolerance} of {target}"
    );
}

/// policy-model.md's calibration targets, checked on the world's draws (the services' end-to-end
/// calibration is a separate test).
#[test]
fn the_caseload_matches_the_published_figures() {
    let s = small();
    let plans: Vec<FamilyPlan> = (0..20_000).map(|i| family(&s, 1, i)).collect();
    let n = plans.len();

    let collect_and_pay = plans.iter().filter(|p| p.collect_and_pay).count();
    assert_near(
        "Collect and Pay share",
        share(collect_and_pay, n),
        dec!(0.45),
        dec!(0.02),
    );

    // Behaviour on each service: on Collect and Pay the parents' own payments, calibrated so that
    // with enforcement the published shares come out; on Direct Pay the published figures.
    let count = |pattern: fn(&FamilyPlan) -> bool| plans.iter().filter(|p| pattern(p)).count();
    assert_near(
        "pays nothing on Collect and Pay",
        share(
            count(|p| p.payment.collect_and_pay == PaymentPattern::Never),
            n,
        ),
        dec!(0.68),
        dec!(0.02),
    );
    assert_near(
        "pays in full on Collect and Pay of their own accord",
        share(
            count(|p| p.payment.collect_and_pay == PaymentPattern::Full),
            n,
        ),
        dec!(0.22),
        dec!(0.02),
    );
    assert_near(
        "gets all the money on Direct Pay",
        share(count(|p| p.payment.direct_pay == PaymentPattern::Full), n),
        dec!(0.60),
        dec!(0.02),
    );
    assert_near(
        "always on time on Direct Pay",
        share(
            count(|p| {
                p.payment.direct_pay == PaymentPattern::Full && p.payment.direct_pay_days_late == 0
            }),
            n,
        ),
        dec!(0.40),
        dec!(0.02),
    );
    // One rank places a parent in both: every full payer on Collect and Pay pays in full on
    // Direct Pay too.
    assert_eq!(
        count(|p| p.payment.collect_and_pay == PaymentPattern::Full
            && p.payment.direct_pay != PaymentPattern::Full),
        0
    );

    let with_income: Vec<Decimal> = plans.iter().filter_map(|p| p.gross_weekly_income).collect();
    let low = with_income.iter().filter(|i| **i < dec!(241.73)).count();
    assert_near(
        "under £12,570 a year",
        share(low, with_income.len()),
        dec!(0.43),
        dec!(0.02),
    );
    // Flat rate: Universal Credit with no earned income (29% × 73%) or another prescribed
    // benefit (3% of the rest): 0.2117 + 0.7883 × 0.03 = 0.2353.
    let benefit = plans.iter().filter(|p| p.flat_rate_benefit).count();
    assert_near(
        "on a flat-rate benefit",
        share(benefit, n),
        dec!(0.2353),
        dec!(0.02),
    );
    assert!(
        plans
            .iter()
            .all(|p| !p.flat_rate_benefit || p.employment == Employment::NotWorking)
    );
    let working: Vec<_> = plans.iter().filter(|p| !p.flat_rate_benefit).collect();
    let self_employed = working
        .iter()
        .filter(|p| p.employment == Employment::SelfEmployed)
        .count();
    assert_near(
        "self-employed",
        share(self_employed, working.len()),
        dec!(0.13),
        dec!(0.02),
    );

    let pending = plans
        .iter()
        .filter(|p| p.court.as_ref().is_some_and(|c| c.pending_at_application))
        .count();
    assert_near(
        "proceedings pending",
        share(pending, n),
        dec!(0.20),
        dec!(0.02),
    );

    let finals: Vec<_> = plans
        .iter()
        .filter_map(|p| p.court.as_ref())
        .filter(|c| c.outcome == CourtOutcome::FinalOrder)
        .collect();
    let shared = finals.iter().filter(|c| c.final_order_nights >= 52).count();
    let equal = finals
        .iter()
        .filter(|c| night_band(c.final_order_nights) == 5)
        .count();
    assert_near(
        "any shared care",
        share(shared, finals.len()),
        dec!(0.23),
        dec!(0.03),
    );
    assert_near(
        "equal care",
        share(equal, finals.len()),
        dec!(0.03),
        dec!(0.01),
    );

    let mut days: Vec<i64> = finals
        .iter()
        .map(|c| (c.ends_on - c.opened_on).num_days())
        .collect();
    let mean_weeks =
        Decimal::from(days.iter().sum::<i64>()) / Decimal::from(finals.len()) / dec!(7);
    assert_near("weeks to final order", mean_weeks, dec!(39), dec!(2));
    // Right-skewed: the median, 30 weeks, is well below the mean.
    days.sort_unstable();
    let median_weeks = Decimal::from(days[days.len() / 2]) / dec!(7);
    assert_near("median weeks", median_weeks, dec!(30), dec!(1.5));

    // The CMS's processing: 77% calculated within six weeks of the application.
    let within = plans
        .iter()
        .filter(|p| {
            p.actions.iter().any(|a| {
                a.action == Action::MakeCalculation
                    && (a.date - p.application_date).num_days() <= 42
            })
        })
        .count();
    let calculated = plans
        .iter()
        .filter(|p| {
            p.actions
                .iter()
                .any(|a| a.action == Action::MakeCalculation)
        })
        .count();
    assert_near(
        "calculated within six weeks",
        share(within, calculated),
        dec!(0.77),
        dec!(0.02),
    );
}

#[test]
fn payments_follow_the_behaviour_on_each_service_exactly() {
    let s = small();
    let mut seen = [false; 3];
    for i in 0..500 {
        let plan = family(&s, 1, i);
        let first = plan.payment.first_instalment;
        assert_eq!(
            payment_for(&plan, first, Decimal::ZERO, Collection::CollectAndPay),
            None
        );
        let by_parent = |amount| {
            Some(Payment {
                amount,
                source: PaymentSource::PayingParent,
            })
        };
        for (collection, pattern) in [
            (Collection::CollectAndPay, plan.payment.collect_and_pay),
            (Collection::DirectPay, plan.payment.direct_pay),
        ] {
            let paid = payment_for(&plan, first, dec!(123.45), collection);
            match pattern {
                PaymentPattern::Full => {
                    seen[0] = true;
                    assert_eq!(paid, by_parent(dec!(123.45)));
                }
                PaymentPattern::Partial(fraction) => {
                    seen[1] = true;
                    assert_eq!(fraction, dec!(0.50));
                    // Half of 123.45 is 61.725, rounded half away from zero to the penny.
                    assert_eq!(paid, by_parent(dec!(61.73)));
                }
                PaymentPattern::Never => {
                    seen[2] = true;
                    assert_eq!(paid, None);
                }
            }
            if first == 2 {
                assert_eq!(payment_for(&plan, 1, dec!(50), collection), None);
            }
        }
    }
    assert_eq!(seen, [true; 3]);
}

#[test]
fn a_deduction_that_works_collects_every_instalment_whatever_the_parent_would_pay() {
    let s = small();
    let plans: Vec<FamilyPlan> = (0..4000).map(|i| family(&s, 1, i)).collect();
    for plan in &plans {
        let works = plan.enforcement_luck.earnings_deduction_collects;
        for instalment in 1..=13 {
            let paid = payment_for(
                plan,
                instalment,
                dec!(100.00),
                Collection::DeductionFromEarnings,
            );
            if works {
                assert_eq!(
                    paid,
                    Some(Payment {
                        amount: dec!(100.00),
                        source: PaymentSource::DeductionFromEarnings
                    })
                );
            } else {
                // It fails: the parent pays as they pay on Collect and Pay.
                assert_eq!(
                    paid,
                    payment_for(plan, instalment, dec!(100.00), Collection::CollectAndPay)
                );
            }
        }
    }
    let working = plans
        .iter()
        .filter(|p| p.enforcement_luck.earnings_deduction_collects)
        .count();
    assert_near(
        "deductions from earnings that collect",
        share(working, plans.len()),
        dec!(0.70),
        dec!(0.02),
    );
}

#[test]
fn disputed_claims_of_shared_care_come_only_from_families_without_proceedings() {
    let scenario = common::small();
    let mut claims = 0;
    for index in 0..2_000 {
        let plan = familybridge_scenario::family(&scenario, 1, index);
        let claimed = plan.actions.iter().any(|planned| {
            matches!(
                planned.action,
                familybridge_scenario::Action::ClaimSharedCare { .. }
            )
        });
        if claimed {
            assert!(plan.court.is_none(), "family {index} has proceedings");
            claims += 1;
        }
    }
    assert!(
        claims > 50,
        "some families claim shared care on their word: {claims}"
    );
}
