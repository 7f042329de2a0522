//! Measures on hand-built records: first payment, money, fees, arrears, misaligned days, order
//! lag, enforcement counts, the monthly series and the replication accumulator.

mod common;

use std::collections::BTreeMap;

use chrono::NaiveDate;
use common::small;
use familybridge_calculation::Money;
use familybridge_casework::{
    Adjustment, ArrearsReason, CalculatedRate, CalculationReason, CaseEvent, ClosureReason,
    CollectionChange, CollectionMethod, Employment, EnforcementStep, Party, PaymentSource,
};
use familybridge_scenario::{
    CourtOrderFact, FamilyPlan, FamilyRecord, Metric, ReplicationAccumulator, SystemRecord, family,
    family_measures,
};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

fn day(m: u32, d: u32) -> NaiveDate {
    let y = if m >= 4 { 2025 } else { 2026 };
    NaiveDate::from_ymd_opt(y, m, d).expect("a date")
}

fn money(text: &str) -> Money {
    Money::parse(text).expect("an amount")
}

fn plan() -> FamilyPlan {
    let mut plan = family(&small(), 1, 0);
    plan.application_date = day(5, 1);
    plan.child_refs = vec!["child-1".to_owned(), "child-2".to_owned()];
    plan.distress_episodes = vec![familybridge_scenario::DistressEpisode {
        start: day(8, 1),
        end: day(8, 31),
    }];
    plan
}

fn order(id: &str, made_on: NaiveDate, nights: u32) -> CourtOrderFact {
    CourtOrderFact {
        order_id: id.to_owned(),
        made_on,
        is_final: true,
        nights_with_paying_parent: BTreeMap::from([("child-1".to_owned(), nights)]),
    }
}

fn record() -> FamilyRecord {
    let history = vec![
        CaseEvent::ApplicationOpened {
            date: day(5, 1),
            applicant: Party::ReceivingParent,
            proceedings_pending: false,
            liability_deferred: false,
            collection: CollectionMethod::CollectAndPay,
            employment: Employment::Employed,
        },
        CaseEvent::CalculationMade {
            date: day(5, 1),
            liability_from: day(5, 1),
            weekly_amount: money("25.00"),
            rate: CalculatedRate::Basic,
            reason: CalculationReason::Application,
        },
        CaseEvent::PaymentDue {
            date: day(5, 29),
            instalment: 1,
            period_from: day(5, 1),
            amount: money("100.00"),
            arrears: money("0.00"),
            collection_fee: money("20.00"),
            collected: true,
        },
        CaseEvent::PaymentReceived {
            date: day(6, 10),
            amount: money("120.00"),
            source: PaymentSource::PayingParent,
            to_maintenance: money("100.00"),
            to_collection_fees: money("20.00"),
            to_enforcement_fees: money("0.00"),
            receiving_parent_fee: money("4.00"),
            passed_to_receiving_parent: money("96.00"),
        },
        CaseEvent::CourtOrderApplied {
            date: day(7, 11),
            order_id: "o1".to_owned(),
            made_on: day(7, 1),
            is_final: true,
        },
        CaseEvent::EnforcementStepTaken {
            date: day(8, 1),
            step: EnforcementStep::DeductionFromEarningsOrder,
            fee: money("50.00"),
            parent_flagged_distressed: true,
            consecutive_missed: 1,
            arrears: dec!(0),
        },
        CaseEvent::RetrospectiveAdjustment {
            date: day(10, 1),
            adjustment: Adjustment {
                weeks_from: day(5, 1),
                weeks_to: day(5, 29),
                weeks: 4,
                previously_charged: money("100.00"),
                now_due: money("70.00"),
                amount: dec!(-30.00),
            },
        },
        CaseEvent::PauseStarted {
            date: day(11, 1),
            until: day(12, 27),
            reason: "distress".to_owned(),
        },
    ];
    FamilyRecord {
        cms_history: history,
        direct_payments: Vec::new(),
        arrangement_due: Vec::new(),
        // o1 (band 104–155) applied ten days late; o2 (band 0–51) never applied.
        court_orders: vec![order("o1", day(7, 1), 104), order("o2", day(9, 1), 10)],
        referrals: 2,
        joint_reviews: 1,
    }
}

#[test]
fn a_family_record_gives_its_measures() {
    let s = small();
    let m = family_measures(&s.run, &plan(), &record());
    let total = |metric| m.total(metric);
    assert_eq!(total(Metric::DaysToFirstPayment), dec!(40));
    assert_eq!(total(Metric::ShareNeverPaid), dec!(0));
    assert_eq!(total(Metric::ChildDaysWithoutMoney), dec!(80));
    assert_eq!(total(Metric::MaintenanceDue), dec!(70.00));
    assert_eq!(total(Metric::MaintenancePaid), dec!(100.00));
    assert_eq!(total(Metric::MaintenanceReceived), dec!(96.00));
    assert_eq!(total(Metric::ArrearsEnd), dec!(-30.00));
    // Charged: the £20 collection fee and the £50 enforcement fee; paid: the £20 only.
    assert_eq!(total(Metric::FeesChargedPayingParent), dec!(70.00));
    assert_eq!(total(Metric::FeesPaidPayingParent), dec!(20.00));
    assert_eq!(total(Metric::FeesPaidReceivingParent), dec!(4.00));
    assert_eq!(total(Metric::CollectedByEnforcement), dec!(0));
    assert_eq!(total(Metric::EnforcementActions), dec!(1));
    assert_eq!(total(Metric::EnforcementActionsWhileDistressed), dec!(1));
    assert_eq!(
        total(Metric::EnforcementDeductionFromEarningsOrder),
        dec!(1)
    );
    assert_eq!(total(Metric::EnforcementLiabilityOrder), dec!(0));
    assert_eq!(total(Metric::RetrospectiveAdjustments), dec!(1));
    assert_eq!(total(Metric::RetrospectiveAdjustmentAmount), dec!(30.00));
    assert_eq!(total(Metric::EnforcementPauses), dec!(1));
    assert_eq!(total(Metric::DaysInDistress), dec!(30));
    assert_eq!(total(Metric::Referrals), dec!(2));
    assert_eq!(total(Metric::JointReviews), dec!(1));
    // 1–10 July (o1 in force, the CMS still on none) and 1 September to 5 April (o2 in force,
    // the CMS on o1's band): 10 + 217.
    assert_eq!(total(Metric::MisalignedDays), dec!(227));
    // o1: 10 days; o2: never applied, 217 days to the end of the period.
    assert_eq!(m.tallies[&Metric::OrderToCmsLagDays].total, dec!(227));
    assert_eq!(m.tallies[&Metric::OrderToCmsLagDays].count, dec!(2));
    assert_eq!(total(Metric::OrdersNeverApplied), dec!(1));
    // Monthly: month 2 runs 6 June to 5 July.
    assert_eq!(m.monthly[&(2, Metric::MaintenanceReceived)], dec!(96.00));
    assert_eq!(m.monthly[&(2, Metric::MisalignedDays)], dec!(5));
    assert_eq!(m.monthly[&(3, Metric::MisalignedDays)], dec!(5));
    assert_eq!(m.monthly[&(1, Metric::ArrearsEnd)], dec!(100.00));
    assert_eq!(m.monthly[&(2, Metric::ArrearsEnd)], dec!(0.00));
    assert_eq!(m.monthly[&(11, Metric::ArrearsEnd)], dec!(-30.00));
}

#[test]
fn direct_payments_arrears_scheduled_and_enforcement_collections_count() {
    let s = small();
    let mut r = record();
    // Backdated liability scheduled as arrears is maintenance due; Direct Pay arrears taken on at
    // a move to Collect and Pay are not (they fell due on Direct Pay).
    r.cms_history.push(CaseEvent::ArrearsScheduled {
        date: day(11, 2),
        amount: money("200.00"),
        reason: ArrearsReason::LiabilityBeforeCalculation,
        instalments: 26,
        per_instalment: money("7.70"),
    });
    r.cms_history.push(CaseEvent::CollectionChanged {
        date: day(11, 3),
        to: CollectionMethod::CollectAndPay,
        reason: CollectionChange::MissedPaymentsReported,
    });
    r.cms_history.push(CaseEvent::ArrearsScheduled {
        date: day(11, 3),
        amount: money("50.00"),
        reason: ArrearsReason::DirectPayMissed,
        instalments: 26,
        per_instalment: money("1.93"),
    });
    r.cms_history.push(CaseEvent::PaymentReceived {
        date: day(11, 20),
        amount: money("60.00"),
        source: PaymentSource::DeductionFromEarnings,
        to_maintenance: money("60.00"),
        to_collection_fees: money("0.00"),
        to_enforcement_fees: money("0.00"),
        receiving_parent_fee: money("2.40"),
        passed_to_receiving_parent: money("57.60"),
    });
    r.cms_history.push(CaseEvent::CaseClosed {
        date: day(12, 1),
        reason: ClosureReason::FamilyBasedArrangement,
    });
    // Paid directly, before the CMS's first payment: the first payment day moves earlier.
    r.direct_payments = vec![(day(5, 20), dec!(40.00)), (day(12, 29), dec!(25.00))];
    r.arrangement_due = vec![(day(12, 29), dec!(25.00))];
    let m = family_measures(&s.run, &plan(), &r);
    let total = |metric| m.total(metric);
    // 100 − 30 (adjustment) + 200 (backdated) + 25 (arrangement) = 295.
    assert_eq!(total(Metric::MaintenanceDue), dec!(295.00));
    // 100 + 60 to the CMS, 40 + 25 directly.
    assert_eq!(total(Metric::MaintenancePaid), dec!(225.00));
    assert_eq!(total(Metric::MaintenanceReceived), dec!(218.60));
    assert_eq!(total(Metric::ArrearsEnd), dec!(70.00));
    assert_eq!(total(Metric::CollectedByEnforcement), dec!(60.00));
    assert_eq!(total(Metric::DaysToFirstPayment), dec!(19));
    assert_eq!(total(Metric::MovedToCollectAndPay), dec!(1));
    assert_eq!(total(Metric::FamilyBasedArrangements), dec!(1));
    assert_eq!(total(Metric::ApplicationsWithoutCalculation), dec!(0));
}

#[test]
fn the_independent_calibration_measures_come_from_the_collected_instalments() {
    let s = small();
    let m = family_measures(&s.run, &plan(), &record());
    // One instalment collected in the period, fully paid to maintenance: nothing unpaid; a
    // deduction from earnings order was made; no liability order over 28/365 of a case-year.
    let tally = |metric| m.tallies[&metric];
    assert_eq!(tally(Metric::CollectAndPayUnpaidShare).total, dec!(0.00));
    assert_eq!(tally(Metric::CollectAndPayUnpaidShare).count, dec!(100.00));
    assert_eq!(tally(Metric::DeductionFromEarningsShare).total, dec!(1));
    assert_eq!(tally(Metric::LiabilityOrdersPer100CaseYears).total, dec!(0));
    assert_eq!(
        tally(Metric::LiabilityOrdersPer100CaseYears).count,
        Decimal::from(28) / Decimal::from(365)
    );
    // The quarter of the instalment (months 0-2) had a payment: one quarter, paid.
    assert_eq!(tally(Metric::PayingSomethingShare).total, dec!(1));
    assert_eq!(tally(Metric::PayingSomethingShare).count, dec!(1));
}

#[test]
fn an_application_never_calculated_is_counted() {
    let s = small();
    let mut r = record();
    r.cms_history
        .retain(|e| !matches!(e, CaseEvent::CalculationMade { .. }));
    let m = family_measures(&s.run, &plan(), &r);
    assert_eq!(m.total(Metric::ApplicationsWithoutCalculation), dec!(1));
}

#[test]
fn shared_care_evidence_counts_as_the_cms_basis_until_an_order_is_applied() {
    let s = small();
    let mut r = record();
    // The CMS records 120 nights (same band as o1) before o1 is made: no misalignment in July.
    r.cms_history.insert(
        2,
        CaseEvent::SharedCareRecorded {
            date: day(5, 20),
            child_ref: "child-1".to_owned(),
            nights_claimed: 120,
            source: familybridge_casework::EvidenceSource::Agreement,
            nights_used: 120,
        },
    );
    let m = family_measures(&s.run, &plan(), &r);
    assert_eq!(m.total(Metric::MisalignedDays), dec!(217));
    assert_eq!(
        m.total(Metric::Disputes),
        dec!(0),
        "an agreement is not a dispute"
    );
}

#[test]
fn a_claim_on_a_parents_word_alone_is_a_dispute() {
    let s = small();
    let mut r = record();
    r.cms_history.insert(
        2,
        CaseEvent::SharedCareRecorded {
            date: day(5, 20),
            child_ref: "child-1".to_owned(),
            nights_claimed: 150,
            source: familybridge_casework::EvidenceSource::ParentsWord,
            nights_used: 52,
        },
    );
    let m = family_measures(&s.run, &plan(), &r);
    assert_eq!(m.total(Metric::Disputes), dec!(1));
}

#[test]
fn a_family_never_paid_waits_to_the_end() {
    let s = small();
    let mut r = record();
    r.cms_history
        .retain(|e| !matches!(e, CaseEvent::PaymentReceived { .. }));
    let m = family_measures(&s.run, &plan(), &r);
    assert_eq!(m.tallies.get(&Metric::DaysToFirstPayment), None);
    assert_eq!(m.total(Metric::ShareNeverPaid), dec!(1));
    // 1 May 2025 to 6 April 2026 is 340 days, for two children.
    assert_eq!(m.total(Metric::ChildDaysWithoutMoney), dec!(680));
    assert_eq!(m.total(Metric::ArrearsEnd), dec!(70.00));
}

#[test]
fn a_family_without_a_cms_case_has_no_application_measures() {
    let s = small();
    let m = family_measures(&s.run, &plan(), &FamilyRecord::default());
    assert_eq!(m.tallies.get(&Metric::ShareNeverPaid), None);
    assert_eq!(m.total(Metric::ChildDaysWithoutMoney), Decimal::ZERO);
    assert_eq!(m.total(Metric::MisalignedDays), Decimal::ZERO);
}

#[test]
fn a_replication_sums_and_averages_its_families() {
    let s = small();
    let mut acc = ReplicationAccumulator::new(&s, "reform", 2).expect("a valid arm");
    acc.add_family(&plan(), &record());
    let mut unpaid = record();
    unpaid
        .cms_history
        .retain(|e| !matches!(e, CaseEvent::PaymentReceived { .. }));
    acc.add_family(&plan(), &unpaid);
    let result = acc.finish(SystemRecord { disclosures: 17 });
    assert_eq!(result.arm, "reform");
    assert_eq!(result.replication, 2);
    assert_eq!(result.families, 2);
    assert_eq!(result.metrics.len(), Metric::ALL.len());
    assert_eq!(result.metrics[&Metric::MaintenanceReceived], dec!(96.00));
    assert_eq!(result.metrics[&Metric::DaysToFirstPayment], dec!(40));
    assert_eq!(result.metrics[&Metric::ShareNeverPaid], dec!(50));
    assert_eq!(result.metrics[&Metric::OrderToCmsLagDays], dec!(113.5));
    assert_eq!(result.metrics[&Metric::Disclosures], dec!(17));
    assert_eq!(result.monthly.len(), 12 * Metric::MONTHLY.len());

    assert!(ReplicationAccumulator::new(&s, "nope", 1).is_err());
    assert!(ReplicationAccumulator::new(&s, "baseline", 0).is_err());
    assert!(ReplicationAccumulator::new(&s, "baseline", 4).is_err());
}

#[test]
fn metric_names_are_unique_snake_case() {
    let mut names: Vec<&str> = Metric::ALL.iter().map(|m| m.name()).collect();
    assert!(names.iter().all(|n| {
        n.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    }));
    let count = names.len();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), count);
}
