//! Worked cases: real dates and amounts, each figure computed by hand in the comments.
//!
//! The base case throughout: application on Monday 6 January 2025, one qualifying child, paying
//! parent on £450 a week, so 12% = £54.00 a week. Instalments fall due every 28 days from the
//! liability start and cover the four weeks before: 3 Feb, 3 Mar, 31 Mar, 28 Apr, 26 May, 23 Jun,
//! 21 Jul, 18 Aug, 15 Sep, 13 Oct, 10 Nov, 8 Dec 2025, 5 Jan 2026, 2 Feb 2026 …

use std::collections::BTreeMap;
use std::error::Error;

use chrono::NaiveDate;
use familybridge_calculation::{Money, Nights, ParameterBook};
use familybridge_casework::{
    ActsOn, Application, CaseError, CaseEvent, CaseFile, CaseSettings, CollectionMethod, Conflict,
    ContactKind, CourtOrder, EnforcementStep, EvidenceSource, IncomeDecision, IncomeSource,
    NightsBasis, NightsWithoutEvidence, Party, ProposedCare,
};
use rust_decimal::Decimal;

type TestResult = Result<(), Box<dyn Error>>;

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap_or_else(|| panic!("bad date {y}-{m}-{day}"))
}

fn gbp(text: &str) -> Money {
    Money::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn dec(text: &str) -> Decimal {
    text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn nights(n: u32) -> Nights {
    Nights::new(n).unwrap_or_else(|e| panic!("{e}"))
}

fn book() -> &'static ParameterBook {
    ParameterBook::statutory()
}

fn application(income: &str, children: &[&str], proceedings_pending: bool) -> Application {
    Application {
        date: d(2025, 1, 6),
        applicant: Party::ReceivingParent,
        children: children.iter().map(|c| (*c).to_owned()).collect(),
        proceedings_pending,
        collection: CollectionMethod::DirectPay,
        paying_parent_income: Some(gbp(income)),
        relevant_other_children: 0,
        flat_rate_benefit: false,
    }
}

fn open(app: Application, settings: &CaseSettings) -> Result<CaseFile, CaseError> {
    CaseFile::open(app, settings, book()).map(|(case, _)| case)
}

fn order(id: &str, made_on: NaiveDate, is_final: bool, child_nights: &[(&str, u32)]) -> CourtOrder {
    CourtOrder {
        order_id: id.to_owned(),
        made_on,
        is_final,
        nights: child_nights
            .iter()
            .map(|(c, n)| ((*c).to_owned(), nights(*n)))
            .collect(),
    }
}

fn kinds(events: &[CaseEvent]) -> Vec<&'static str> {
    events.iter().map(CaseEvent::kind).collect()
}

fn steps_taken(events: &[CaseEvent]) -> Vec<(NaiveDate, EnforcementStep, Money, bool)> {
    events
        .iter()
        .filter_map(|e| match e {
            CaseEvent::EnforcementStepTaken {
                date,
                step,
                fee,
                parent_flagged_distressed,
                ..
            } => Some((*date, *step, *fee, *parent_flagged_distressed)),
            _ => None,
        })
        .collect()
}

fn adjustments(events: &[CaseEvent]) -> Vec<Decimal> {
    events
        .iter()
        .filter_map(|e| match e {
            CaseEvent::RetrospectiveAdjustment { adjustment, .. } => Some(adjustment.amount),
            _ => None,
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// When the CMS acts
// ---------------------------------------------------------------------------------------------

#[test]
fn acting_on_the_application_starts_liability_while_proceedings_are_pending() -> TestResult {
    let settings = CaseSettings::default();
    let (case, events) = CaseFile::open(application("450", &["amy"], true), &settings, book())?;
    assert_eq!(kinds(&events), ["application_opened", "calculation_made"]);
    assert!(matches!(
        &events[1],
        CaseEvent::CalculationMade { date, liability_from, weekly_amount, .. }
            if *date == d(2025, 1, 6) && *liability_from == d(2025, 1, 6) && *weekly_amount == gbp("54.00")
    ));
    assert!(case.proceedings_pending());
    assert_eq!(case.liability_start(), Some(d(2025, 1, 6)));
    let next = case.schedule().ok_or("no schedule")?;
    assert_eq!(
        (next.number, next.due, next.amount),
        (1, d(2025, 2, 3), gbp("216.00"))
    );
    assert_eq!(case.history(), events.as_slice());
    Ok(())
}

/// The interim order (made 3 Mar, 130 nights) and the final order (made 7 Jul, 110 nights) are
/// both band 2: £54 × 5/7 = £38.5714… → £38.57.
fn delayed_case(
    backdate: bool,
) -> Result<(CaseFile, CaseSettings, Vec<CaseEvent>), Box<dyn Error>> {
    let settings = CaseSettings {
        acts_on: ActsOn::FinalOrder { backdate },
        ..CaseSettings::default()
    };
    let mut case = open(application("450", &["amy"], true), &settings)?;
    assert!(case.is_deferred());
    assert_eq!(case.weekly_amount(), None);
    assert_eq!(case.schedule(), None);
    assert_eq!(
        case.record_payment(d(2025, 2, 3), gbp("54.00"), &settings, book()),
        Err(CaseError::NotNow(Conflict::NoLiabilityYet))
    );
    let interim = case.apply_court_order(
        d(2025, 3, 3),
        order("interim", d(2025, 3, 3), false, &[("amy", 130)]),
        &settings,
        book(),
    )?;
    assert_eq!(kinds(&interim), ["court_order_applied"]);
    assert!(
        case.advance_to(d(2025, 6, 30), &settings, book())?
            .is_empty()
    );
    assert!(case.is_deferred());
    let events = case.apply_court_order(
        d(2025, 7, 7),
        order("final", d(2025, 7, 7), true, &[("amy", 110)]),
        &settings,
        book(),
    )?;
    assert!(!case.is_deferred());
    assert!(!case.proceedings_pending());
    Ok((case, settings, events))
}

#[test]
fn delayed_involvement_waits_for_the_final_order() -> TestResult {
    let (mut case, settings, events) = delayed_case(false)?;
    assert_eq!(
        kinds(&events),
        [
            "court_order_applied",
            "proceedings_ended",
            "calculation_made"
        ]
    );
    assert_eq!(case.liability_start(), Some(d(2025, 7, 7)));
    assert_eq!(case.weekly_amount(), Some(gbp("38.57")));
    assert_eq!(case.arrears(), Decimal::ZERO);
    // First instalment four weeks after the order: 4 × £38.57 = £154.28.
    let next = case.schedule().ok_or("no schedule")?;
    assert_eq!((next.due, next.amount), (d(2025, 8, 4), gbp("154.28")));
    case.advance_to(d(2025, 8, 4), &settings, book())?;
    assert_eq!(case.arrears(), dec("154.28"));
    Ok(())
}

#[test]
fn delayed_involvement_with_backdating_charges_the_past_weeks_at_once() -> TestResult {
    let (mut case, settings, events) = delayed_case(true)?;
    assert_eq!(
        kinds(&events),
        [
            "court_order_applied",
            "proceedings_ended",
            "calculation_made",
            "retrospective_adjustment"
        ]
    );
    assert_eq!(case.liability_start(), Some(d(2025, 1, 6)));
    // Six instalment periods were due by 6 July (3 Feb … 23 Jun): 24 weeks. Weeks 0–7 (6 Jan to
    // 2 Mar) had no evidence: 8 × £54 = £432.00. From 3 Mar (week 8) the interim order's 130
    // nights: 16 × £38.57 = £617.12. Total £1,049.12, all arrears, charged on 7 July.
    let CaseEvent::RetrospectiveAdjustment { date, adjustment } = &events[3] else {
        panic!("{events:?}")
    };
    assert_eq!(*date, d(2025, 7, 7));
    assert_eq!(adjustment.weeks_from, d(2025, 1, 6));
    assert_eq!(adjustment.weeks_to, d(2025, 6, 23));
    assert_eq!(adjustment.weeks, 24);
    assert_eq!(adjustment.previously_charged, Money::ZERO);
    assert_eq!(adjustment.now_due, gbp("1049.12"));
    assert_eq!(adjustment.amount, dec("1049.12"));
    assert!(adjustment.is_arrears());
    assert_eq!(case.arrears(), dec("1049.12"));
    // The period in progress (23 Jun to 20 Jul) is charged on its due date as usual.
    let next = case.schedule().ok_or("no schedule")?;
    assert_eq!(
        (next.number, next.due, next.amount),
        (7, d(2025, 7, 21), gbp("154.28"))
    );
    let due = case.advance_to(d(2025, 7, 21), &settings, book())?;
    assert_eq!(kinds(&due), ["payment_due", "payment_missed"]);
    assert_eq!(case.arrears(), dec("1203.40"));
    Ok(())
}

#[test]
fn delayed_involvement_ends_when_proceedings_end_without_an_order() -> TestResult {
    let settings = CaseSettings {
        acts_on: ActsOn::FinalOrder { backdate: true },
        ..CaseSettings::default()
    };
    let mut case = open(application("450", &["amy"], true), &settings)?;
    // Withdrawn on 10 Mar 2025: backdated to 6 Jan; two periods were due (3 Feb, 3 Mar): 8 × £54.
    let events = case.end_proceedings(d(2025, 3, 10), &settings, book())?;
    assert_eq!(
        kinds(&events),
        [
            "proceedings_ended",
            "calculation_made",
            "retrospective_adjustment"
        ]
    );
    assert_eq!(adjustments(&events), [dec("432.00")]);
    assert_eq!(
        case.end_proceedings(d(2025, 3, 11), &settings, book()),
        Err(CaseError::NotNow(Conflict::NoProceedingsPending))
    );
    Ok(())
}

#[test]
fn the_acts_on_policy_changes_nothing_without_proceedings() -> TestResult {
    let settings = CaseSettings {
        acts_on: ActsOn::FinalOrder { backdate: false },
        ..CaseSettings::default()
    };
    let case = open(application("450", &["amy"], false), &settings)?;
    assert!(!case.is_deferred());
    assert_eq!(case.weekly_amount(), Some(gbp("54.00")));
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Retrospective adjustments from a court order
// ---------------------------------------------------------------------------------------------

#[test]
fn a_final_order_reported_late_changes_the_band_and_credits_the_weeks_charged() -> TestResult {
    let settings = CaseSettings::default();
    let mut case = open(application("450", &["amy"], true), &settings)?;
    for due in [d(2025, 2, 3), d(2025, 3, 3), d(2025, 3, 31)] {
        case.record_payment(due, gbp("216.00"), &settings, book())?;
    }
    case.advance_to(d(2025, 4, 13), &settings, book())?;
    assert_eq!(case.arrears(), Decimal::ZERO);
    // The final order was made on Wednesday 12 March (in the week from Monday 10 March, week 9)
    // with 110 nights: band 2, £38.57 from 10 March. Reported on 14 April, when weeks 0–11 were
    // charged at £54. Weeks 9–11: charged 3 × £54 = £162.00, now 3 × £38.57 = £115.71: a credit of
    // £46.29.
    let events = case.apply_court_order(
        d(2025, 4, 14),
        order("FO-1", d(2025, 3, 12), true, &[("amy", 110)]),
        &settings,
        book(),
    )?;
    assert_eq!(
        kinds(&events),
        [
            "court_order_applied",
            "proceedings_ended",
            "calculation_revised",
            "retrospective_adjustment"
        ]
    );
    assert!(matches!(
        &events[2],
        CaseEvent::CalculationRevised { date, effective_from, previous_weekly_amount, weekly_amount, .. }
            if *date == d(2025, 4, 14) && *effective_from == d(2025, 3, 10)
                && *previous_weekly_amount == gbp("54.00") && *weekly_amount == gbp("38.57")
    ));
    let CaseEvent::RetrospectiveAdjustment { adjustment, .. } = &events[3] else {
        panic!("{events:?}")
    };
    assert_eq!(
        (adjustment.weeks_from, adjustment.weeks_to, adjustment.weeks),
        (d(2025, 3, 10), d(2025, 3, 31), 3)
    );
    assert_eq!(adjustment.previously_charged, gbp("162.00"));
    assert_eq!(adjustment.now_due, gbp("115.71"));
    assert_eq!(adjustment.amount, dec("-46.29"));
    assert!(!adjustment.is_arrears());
    // An overpayment, reported as a credit.
    assert_eq!(case.arrears(), dec("-46.29"));
    assert_eq!(case.account().retrospective_adjustments, dec("-46.29"));
    assert_eq!(case.account().maintenance_due, gbp("601.71"));
    let next = case.schedule().ok_or("no schedule")?;
    assert_eq!((next.due, next.amount), (d(2025, 4, 28), gbp("154.28")));
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Income: the 25% rule and the annual review
// ---------------------------------------------------------------------------------------------

fn income_decision(events: &[CaseEvent]) -> Option<IncomeDecision> {
    events.iter().find_map(|e| match e {
        CaseEvent::IncomeRecorded { decision, .. } => Some(*decision),
        _ => None,
    })
}

#[test]
fn a_20_percent_change_is_ignored_a_30_percent_change_applied_and_the_review_takes_the_latest()
-> TestResult {
    let settings = CaseSettings::default();
    let mut case = open(application("450", &["amy"], false), &settings)?;
    let report = IncomeSource::ReportedChange;

    // £540 is 20% above £450: recorded and ignored.
    let events = case.record_income(d(2025, 2, 10), Some(gbp("540")), report, &settings, book())?;
    assert_eq!(
        income_decision(&events),
        Some(IncomeDecision::IgnoredUnder25Percent {
            income_in_calculation: gbp("450.00")
        })
    );
    assert!(!kinds(&events).contains(&"calculation_revised"));
    assert_eq!(case.weekly_amount(), Some(gbp("54.00")));

    // £585 is 30% above £450: taken from the week of 10 March. 12% of £585 = £70.20.
    let events = case.record_income(d(2025, 3, 10), Some(gbp("585")), report, &settings, book())?;
    assert_eq!(income_decision(&events), Some(IncomeDecision::Applied));
    assert!(events.iter().any(|e| matches!(e,
        CaseEvent::CalculationRevised { effective_from, previous_weekly_amount, weekly_amount, .. }
            if *effective_from == d(2025, 3, 10) && *previous_weekly_amount == gbp("54.00")
                && *weekly_amount == gbp("70.20"))));
    // The instalment due 31 March covers 3–9 March at £54 and three weeks at £70.20: £264.60.
    let next = case.schedule().ok_or("no schedule")?;
    assert_eq!((next.due, next.amount), (d(2025, 3, 31), gbp("264.60")));

    // £500 is 14.5% below £585: ignored, but it is the latest figure at the review.
    let events = case.record_income(d(2025, 6, 2), Some(gbp("500")), report, &settings, book())?;
    assert!(matches!(
        income_decision(&events),
        Some(IncomeDecision::IgnoredUnder25Percent { .. })
    ));
    assert_eq!(case.income_in_calculation(), Some(gbp("585.00")));

    // The review on 6 Jan 2026 takes £500: £60.00 from the week starting 5 Jan 2026 (week 52).
    let events = case.advance_to(d(2026, 1, 6), &settings, book())?;
    let review = events
        .iter()
        .position(|e| matches!(e, CaseEvent::AnnualReview { .. }))
        .ok_or("no review")?;
    assert_eq!(
        events[review],
        CaseEvent::AnnualReview {
            date: d(2026, 1, 6),
            previous_income: Some(gbp("585.00")),
            income: Some(gbp("500.00")),
        }
    );
    assert!(matches!(&events[review + 1],
        CaseEvent::CalculationRevised { effective_from, weekly_amount, .. }
            if *effective_from == d(2026, 1, 5) && *weekly_amount == gbp("60.00")));
    // The instalment of 5 Jan 2026 (weeks 48–51, at £70.20) was charged before the review.
    assert!(events.iter().any(|e| matches!(e,
        CaseEvent::PaymentDue { date, amount, .. } if *date == d(2026, 1, 5) && *amount == gbp("280.80"))));
    assert_eq!(case.weekly_amount(), Some(gbp("60.00")));
    assert_eq!(
        case.record_income(
            d(2026, 1, 7),
            Some(gbp("400")),
            IncomeSource::Initial,
            &settings,
            book()
        ),
        Err(CaseError::NotNow(Conflict::InitialIncomeAfterReview))
    );
    Ok(())
}

#[test]
fn a_change_of_exactly_25_percent_is_taken() -> TestResult {
    let settings = CaseSettings::default();
    let mut case = open(application("450", &["amy"], false), &settings)?;
    // £562.50 is exactly 25% above £450; 12% of it is £67.50.
    case.record_income(
        d(2025, 1, 20),
        Some(gbp("562.50")),
        IncomeSource::ReportedChange,
        &settings,
        book(),
    )?;
    assert_eq!(case.weekly_amount(), Some(gbp("67.50")));
    // £421.88 is £140.62 below £562.50, just under 25% of it (£140.625): ignored.
    case.record_income(
        d(2025, 1, 27),
        Some(gbp("421.88")),
        IncomeSource::ReportedChange,
        &settings,
        book(),
    )?;
    assert_eq!(case.weekly_amount(), Some(gbp("67.50")));
    Ok(())
}

#[test]
fn a_review_figure_is_held_until_the_review_and_an_unknown_income_gives_the_default_rate()
-> TestResult {
    let settings = CaseSettings::default();
    let mut app = application("450", &["amy"], false);
    app.paying_parent_income = None;
    let mut case = open(app, &settings)?;
    // Income not provided: the default rate for one child, £39.
    assert_eq!(case.weekly_amount(), Some(gbp("39.00")));
    // The first figure reported replaces the default rate whatever the difference.
    case.record_income(
        d(2025, 2, 3),
        Some(gbp("450")),
        IncomeSource::ReportedChange,
        &settings,
        book(),
    )?;
    assert_eq!(case.weekly_amount(), Some(gbp("54.00")));
    let events = case.record_income(
        d(2025, 12, 1),
        Some(gbp("475")),
        IncomeSource::AnnualReview,
        &settings,
        book(),
    )?;
    assert_eq!(
        income_decision(&events),
        Some(IncomeDecision::HeldForReview {
            review_on: Some(d(2026, 1, 6))
        })
    );
    assert_eq!(case.weekly_amount(), Some(gbp("54.00")));
    case.advance_to(d(2026, 1, 6), &settings, book())?;
    // 12% of £475 = £57.00.
    assert_eq!(case.weekly_amount(), Some(gbp("57.00")));
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Shared care: sources and assumptions
// ---------------------------------------------------------------------------------------------

fn nights_used(events: &[CaseEvent]) -> Option<u32> {
    events.iter().find_map(|e| match e {
        CaseEvent::SharedCareRecorded { nights_used, .. } => Some(*nights_used),
        _ => None,
    })
}

#[test]
fn a_court_order_outranks_an_agreement_which_outranks_a_parents_word() -> TestResult {
    let settings = CaseSettings::default();
    let mut case = open(application("450", &["amy"], false), &settings)?;
    let basis = case.calculation_basis().ok_or("no basis")?;
    assert_eq!(basis.children[0].basis, NightsBasis::NoEvidence);
    assert_eq!(basis.children[0].nights_used, 0);

    // The paying parent says 150 nights; disputed, so the CMS assumes 52: band 1, £54 × 6/7 =
    // £46.29, from the week of 13 Jan.
    let events = case.record_shared_care(
        d(2025, 1, 13),
        "amy",
        nights(150),
        EvidenceSource::ParentsWord,
        &settings,
        book(),
    )?;
    assert_eq!(nights_used(&events), Some(52));
    assert_eq!(case.weekly_amount(), Some(gbp("46.29")));
    assert_eq!(
        case.calculation_basis().map(|b| b.children[0].basis),
        Some(NightsBasis::Assumed(NightsWithoutEvidence::Assume52))
    );

    // An agreement of 110 nights: band 2, £38.57 from 20 Jan.
    let events = case.record_shared_care(
        d(2025, 1, 20),
        "amy",
        nights(110),
        EvidenceSource::Agreement,
        &settings,
        book(),
    )?;
    assert_eq!(nights_used(&events), Some(110));
    assert_eq!(case.weekly_amount(), Some(gbp("38.57")));

    // A later parent's word does not displace the agreement.
    let events = case.record_shared_care(
        d(2025, 1, 27),
        "amy",
        nights(200),
        EvidenceSource::ParentsWord,
        &settings,
        book(),
    )?;
    assert_eq!(nights_used(&events), Some(110));
    assert!(!kinds(&events).contains(&"calculation_revised"));

    // First instalment, 3 Feb: weeks at £54, £46.29, £38.57, £38.57 = £177.43.
    let due = case.advance_to(d(2025, 2, 3), &settings, book())?;
    assert!(matches!(&due[0], CaseEvent::PaymentDue { amount, .. } if *amount == gbp("177.43")));

    // A court order made 27 Jan (week 3) with 20 nights, applied 10 Feb: it outranks the
    // agreement; 20 nights is below band 1, so £54 again. Week 3 was charged £38.57 and now
    // comes to £54: £15.43 more arrears.
    let events = case.apply_court_order(
        d(2025, 2, 10),
        order("CAO-7", d(2025, 1, 27), false, &[("amy", 20)]),
        &settings,
        book(),
    )?;
    assert_eq!(adjustments(&events), [dec("15.43")]);
    assert_eq!(case.weekly_amount(), Some(gbp("54.00")));
    assert_eq!(
        case.calculation_basis().map(|b| b.children[0].basis),
        Some(NightsBasis::Evidence(EvidenceSource::CourtOrder))
    );
    // Arrears: £177.43 charged + £15.43, nothing paid.
    assert_eq!(case.arrears(), dec("192.86"));
    // An agreement recorded after the order does not displace it either.
    case.record_shared_care(
        d(2025, 2, 17),
        "amy",
        nights(150),
        EvidenceSource::Agreement,
        &settings,
        book(),
    )?;
    assert_eq!(case.weekly_amount(), Some(gbp("54.00")));
    Ok(())
}

#[test]
fn a_parents_word_gives_52_nights_today_and_equal_care_under_the_presumption() -> TestResult {
    // Two children on £600: 16% = £96, £48 a child.
    let mut results = Vec::new();
    for assumption in [
        NightsWithoutEvidence::Assume52,
        NightsWithoutEvidence::EqualCare,
    ] {
        let settings = CaseSettings {
            nights_without_evidence: assumption,
            ..CaseSettings::default()
        };
        let mut case = open(application("600", &["amy", "ben"], false), &settings)?;
        assert_eq!(case.weekly_amount(), Some(gbp("96.00")));
        case.record_shared_care(
            d(2025, 1, 13),
            "amy",
            nights(100),
            EvidenceSource::ParentsWord,
            &settings,
            book(),
        )?;
        results.push(case.weekly_amount());
    }
    // 52 nights: Amy's £48 less 1/7 = £41.142857…, plus Ben's £48 = £89.14.
    // Equal care: Amy is not a qualifying child; one child on £600 = 12% = £72.00.
    assert_eq!(results, [Some(gbp("89.14")), Some(gbp("72.00"))]);
    Ok(())
}

#[test]
fn equal_care_for_every_child_means_nothing_is_payable() -> TestResult {
    let settings = CaseSettings {
        nights_without_evidence: NightsWithoutEvidence::EqualCare,
        ..CaseSettings::default()
    };
    let mut case = open(application("450", &["amy"], false), &settings)?;
    case.record_shared_care(
        d(2025, 1, 6),
        "amy",
        nights(10),
        EvidenceSource::ParentsWord,
        &settings,
        book(),
    )?;
    assert_eq!(case.weekly_amount(), Some(Money::ZERO));
    // Nothing due, so nothing missed.
    let events = case.advance_to(d(2025, 2, 3), &settings, book())?;
    assert_eq!(kinds(&events), ["payment_due"]);
    assert_eq!(case.consecutive_missed(), 0);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Collection and fees
// ---------------------------------------------------------------------------------------------

#[test]
fn collect_and_pay_fees_are_worked_on_each_payment() -> TestResult {
    let settings = CaseSettings::default();
    let mut app = application("475", &["amy"], false);
    app.collection = CollectionMethod::CollectAndPay;
    let mut case = open(app, &settings)?;
    // 12% of £475 = £57.00 a week; an instalment is £228.00.
    assert_eq!(case.weekly_amount(), Some(gbp("57.00")));
    let events = case.record_payment(d(2025, 2, 3), gbp("228.00"), &settings, book())?;
    // 20% on top: £45.60; 4% off: £9.12, so the receiving parent gets £218.88.
    assert_eq!(
        events,
        [CaseEvent::PaymentReceived {
            date: d(2025, 2, 3),
            amount: gbp("228.00"),
            paying_parent_fee: gbp("45.60"),
            receiving_parent_fee: gbp("9.12"),
            passed_to_receiving_parent: gbp("218.88"),
        }]
    );
    // Paid on the due date, before the day's work: not missed.
    let due = case.advance_to(d(2025, 2, 3), &settings, book())?;
    assert_eq!(kinds(&due), ["payment_due"]);
    // A single £57 payment: £68.40 from the paying parent, £54.72 to the receiving parent.
    let events = case.record_payment(d(2025, 2, 10), gbp("57.00"), &settings, book())?;
    assert!(matches!(&events[0],
        CaseEvent::PaymentReceived { paying_parent_fee, passed_to_receiving_parent, .. }
            if *paying_parent_fee == gbp("11.40") && *passed_to_receiving_parent == gbp("54.72")));
    let account = case.account();
    assert_eq!(account.maintenance_paid, gbp("285.00"));
    assert_eq!(account.paying_parent_collection_fees, gbp("57.00"));
    assert_eq!(account.receiving_parent_collection_fees, gbp("11.40"));
    assert_eq!(account.passed_to_receiving_parent, gbp("273.60"));
    // Fees are not arrears: £228 due, £285 paid.
    assert_eq!(account.arrears, dec("-57.00"));
    Ok(())
}

#[test]
fn direct_pay_has_no_fees_until_it_is_withdrawn() -> TestResult {
    let settings = CaseSettings::default();
    let mut case = open(application("475", &["amy"], false), &settings)?;
    let events = case.record_payment(d(2025, 2, 3), gbp("228.00"), &settings, book())?;
    assert!(matches!(&events[0],
        CaseEvent::PaymentReceived { paying_parent_fee, receiving_parent_fee, .. }
            if paying_parent_fee.is_zero() && receiving_parent_fee.is_zero()));

    // Under the announced 2027 reform Direct Pay goes on 1 April 2027: the case is on Collect and
    // Pay, at 2% and 2% for a compliant payer, 20% for one who has missed an instalment.
    let reform = ParameterBook::statutory().with_proposal("fees-2027")?;
    let mut app = application("475", &["amy"], false);
    app.date = d(2027, 4, 5);
    let (mut case, _) = CaseFile::open(app, &settings, &reform)?;
    let events = case.record_payment(d(2027, 4, 12), gbp("57.00"), &settings, &reform)?;
    assert!(matches!(&events[0],
        CaseEvent::PaymentReceived { paying_parent_fee, receiving_parent_fee, .. }
            if *paying_parent_fee == gbp("1.14") && *receiving_parent_fee == gbp("1.14")));
    // The first instalment (3 May, £228) is short: non-compliant from then on.
    let events = case.record_payment(d(2027, 5, 10), gbp("57.00"), &settings, &reform)?;
    assert_eq!(
        kinds(&events),
        ["payment_due", "payment_missed", "payment_received"]
    );
    assert!(matches!(&events[2],
        CaseEvent::PaymentReceived { paying_parent_fee, receiving_parent_fee, .. }
            if *paying_parent_fee == gbp("11.40") && *receiving_parent_fee == gbp("1.14")));
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Missed payments and enforcement
// ---------------------------------------------------------------------------------------------

#[test]
fn missed_instalments_build_arrears_and_climb_the_ladder_with_fees() -> TestResult {
    let settings = CaseSettings::default();
    let mut case = open(application("450", &["amy"], false), &settings)?;
    let events = case.advance_to(d(2025, 9, 15), &settings, book())?;
    // Nine instalments of £216, none paid.
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, CaseEvent::PaymentMissed { .. }))
            .count(),
        9
    );
    assert_eq!(
        steps_taken(&events),
        [
            (
                d(2025, 3, 3),
                EnforcementStep::DeductionFromEarningsOrder,
                gbp("50.00"),
                false
            ),
            (
                d(2025, 4, 28),
                EnforcementStep::RegularDeductionOrder,
                gbp("50.00"),
                false
            ),
            (
                d(2025, 6, 23),
                EnforcementStep::LiabilityOrder,
                gbp("300.00"),
                false
            ),
            (
                d(2025, 9, 15),
                EnforcementStep::FurtherAction,
                Money::ZERO,
                false
            ),
        ]
    );
    assert!(events.iter().any(|e| matches!(e,
        CaseEvent::EnforcementStepTaken { step: EnforcementStep::DeductionFromEarningsOrder, arrears, consecutive_missed: 2, .. }
            if *arrears == dec("432.00"))));
    assert_eq!(case.arrears(), dec("1944.00"));
    assert_eq!(case.account().enforcement_fees, gbp("400.00"));
    assert_eq!(
        case.enforcement_stage(),
        Some(EnforcementStep::FurtherAction)
    );
    assert_eq!(case.consecutive_missed(), 9);

    // A part payment is still a miss; the ladder has no more rungs.
    case.record_payment(d(2025, 10, 1), gbp("100.00"), &settings, book())?;
    let events = case.advance_to(d(2025, 10, 13), &settings, book())?;
    assert_eq!(kinds(&events), ["payment_due", "payment_missed"]);
    assert_eq!(case.consecutive_missed(), 10);
    // Paying an instalment in full ends the run of misses, and the ladder with it.
    case.record_payment(d(2025, 11, 1), gbp("216.00"), &settings, book())?;
    let events = case.advance_to(d(2025, 11, 10), &settings, book())?;
    assert_eq!(kinds(&events), ["payment_due"]);
    assert_eq!(case.consecutive_missed(), 0);
    assert_eq!(case.enforcement_stage(), None);
    // 11 × £216 due, £316 paid.
    assert_eq!(case.arrears(), dec("2060.00"));
    Ok(())
}

#[test]
fn a_pause_holds_escalation_which_resumes_after_it_with_the_distress_flag_recorded() -> TestResult {
    let settings = CaseSettings::default();
    let mut case = open(application("450", &["amy"], false), &settings)?;
    case.record_contact(
        d(2025, 2, 20),
        Party::PayingParent,
        ContactKind::Call,
        true,
        &settings,
        book(),
    )?;
    let events = case.request_pause(d(2025, 2, 20), 8, "distress screening", &settings, book())?;
    assert_eq!(
        events,
        [CaseEvent::PauseStarted {
            date: d(2025, 2, 20),
            until: d(2025, 4, 17),
            reason: "distress screening".to_owned()
        }]
    );
    assert_eq!(
        case.request_pause(d(2025, 3, 1), 4, "again", &settings, book()),
        Err(CaseError::NotNow(Conflict::PauseAlreadyInForce {
            date: d(2025, 3, 1),
            until: d(2025, 4, 17)
        }))
    );
    let events = case.advance_to(d(2025, 6, 23), &settings, book())?;
    // 3 Mar: the deduction from earnings order is warranted (2 misses) but held, and the call of
    // 20 Feb (within 8 weeks) flags the parent. 31 Mar: still held, not recorded again.
    let paused: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            CaseEvent::EnforcementPaused {
                date,
                step,
                parent_flagged_distressed,
                pause_until,
            } => Some((*date, *step, *parent_flagged_distressed, *pause_until)),
            _ => None,
        })
        .collect();
    assert_eq!(
        paused,
        [(
            d(2025, 3, 3),
            EnforcementStep::DeductionFromEarningsOrder,
            true,
            d(2025, 4, 17)
        )]
    );
    assert!(events.contains(&CaseEvent::PauseEnded {
        date: d(2025, 4, 17),
        lifted: false
    }));
    // The first due date after the pause (28 Apr, 4 misses) takes the held step: the call is now
    // more than 8 weeks old (28 Apr − 56 days = 3 Mar). Then a rung per due date.
    assert_eq!(
        steps_taken(&events),
        [
            (
                d(2025, 4, 28),
                EnforcementStep::DeductionFromEarningsOrder,
                gbp("50.00"),
                false
            ),
            (
                d(2025, 5, 26),
                EnforcementStep::RegularDeductionOrder,
                gbp("50.00"),
                false
            ),
            (
                d(2025, 6, 23),
                EnforcementStep::LiabilityOrder,
                gbp("300.00"),
                false
            ),
        ]
    );
    // Dates come out in order.
    assert!(events.windows(2).all(|w| w[0].date() <= w[1].date()));
    Ok(())
}

#[test]
fn lifting_a_pause_lets_the_held_step_be_taken_on_the_same_day() -> TestResult {
    let settings = CaseSettings::default();
    let mut case = open(application("450", &["amy"], false), &settings)?;
    case.request_pause(d(2025, 3, 1), 12, "caseworker review", &settings, book())?;
    case.advance_to(d(2025, 3, 30), &settings, book())?;
    assert!(case.pause().is_some());
    let events = case.lift_pause(d(2025, 3, 31), &settings, book())?;
    assert_eq!(
        events,
        [CaseEvent::PauseEnded {
            date: d(2025, 3, 31),
            lifted: true
        }]
    );
    assert_eq!(
        case.lift_pause(d(2025, 3, 31), &settings, book()),
        Err(CaseError::NotNow(Conflict::NoPauseInForce {
            date: d(2025, 3, 31)
        }))
    );
    let events = case.advance_to(d(2025, 3, 31), &settings, book())?;
    assert_eq!(
        steps_taken(&events),
        [(
            d(2025, 3, 31),
            EnforcementStep::DeductionFromEarningsOrder,
            gbp("50.00"),
            false
        )]
    );
    // The pause ended by lifting: no second "ended" when its original end date passes.
    let later = case.advance_to(d(2025, 6, 1), &settings, book())?;
    assert!(!kinds(&later).contains(&"pause_ended"));
    Ok(())
}

#[test]
fn an_explicit_distress_flag_is_recorded_on_each_step_until_cleared() -> TestResult {
    let settings = CaseSettings::default();
    let mut case = open(application("450", &["amy"], false), &settings)?;
    case.flag_distress(d(2025, 1, 20), Party::PayingParent, true, &settings, book())?;
    // A distressed call from the receiving parent does not flag the paying parent.
    case.record_contact(
        d(2025, 4, 1),
        Party::ReceivingParent,
        ContactKind::Complaint,
        true,
        &settings,
        book(),
    )?;
    case.flag_distress(d(2025, 4, 2), Party::PayingParent, false, &settings, book())?;
    case.advance_to(d(2025, 4, 28), &settings, book())?;
    assert_eq!(
        steps_taken(case.history()),
        [
            (
                d(2025, 3, 3),
                EnforcementStep::DeductionFromEarningsOrder,
                gbp("50.00"),
                true
            ),
            (
                d(2025, 4, 28),
                EnforcementStep::RegularDeductionOrder,
                gbp("50.00"),
                false
            ),
        ]
    );
    assert!(case.flagged_distressed(Party::PayingParent, d(2025, 3, 3), &settings));
    assert!(!case.flagged_distressed(Party::PayingParent, d(2025, 4, 2), &settings));
    assert!(case.flagged_distressed(Party::ReceivingParent, d(2025, 4, 2), &settings));
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Advancing time, projections, errors
// ---------------------------------------------------------------------------------------------

#[test]
fn advancing_to_a_date_already_processed_does_nothing() -> TestResult {
    let settings = CaseSettings::default();
    let mut case = open(application("450", &["amy"], false), &settings)?;
    let first = case.advance_to(d(2025, 5, 1), &settings, book())?;
    assert!(!first.is_empty());
    let snapshot = case.clone();
    assert!(
        case.advance_to(d(2025, 5, 1), &settings, book())?
            .is_empty()
    );
    assert!(
        case.advance_to(d(2025, 2, 1), &settings, book())?
            .is_empty()
    );
    assert_eq!(case, snapshot);
    Ok(())
}

#[test]
fn projecting_a_care_arrangement_changes_nothing() -> TestResult {
    let settings = CaseSettings::default();
    let mut case = open(application("450", &["amy"], false), &settings)?;
    case.advance_to(d(2025, 6, 1), &settings, book())?;
    let before = case.clone();

    // 110 nights with the paying parent: band 2, £38.57, same payer.
    let proposal = ProposedCare {
        nights: BTreeMap::from([("amy".to_owned(), nights(110))]),
        ..ProposedCare::default()
    };
    let p = case.project_liability(d(2025, 6, 1), &proposal, &settings, book())?;
    assert_eq!(
        (
            p.payer,
            p.roles_flip,
            p.weekly_amount,
            p.current_weekly_amount
        ),
        (Party::PayingParent, false, gbp("38.57"), Some(gbp("54.00")))
    );
    assert!(p.calculation.applied("shared_care_decrease"));

    // 300 nights with the paying parent: Amy would live with them, so the receiving parent would
    // pay. Their income is unknown: the default rate, £39.
    let proposal = ProposedCare {
        nights: BTreeMap::from([("amy".to_owned(), nights(300))]),
        ..ProposedCare::default()
    };
    let p = case.project_liability(d(2025, 6, 1), &proposal, &settings, book())?;
    assert_eq!(
        (p.payer, p.roles_flip, p.weekly_amount, p.payer_income_known),
        (Party::ReceivingParent, true, gbp("39.00"), false)
    );
    assert!(p.notes.iter().any(|n| n.contains("default rate")));
    assert_eq!(p.children[0].nights_with_payer, 65);

    // With their income (£300): 12% = £36, and 65 nights with them is band 1: £36 × 6/7 = £30.86.
    let proposal = ProposedCare {
        receiving_parent_income: Some(gbp("300")),
        ..proposal
    };
    let p = case.project_liability(d(2025, 6, 1), &proposal, &settings, book())?;
    assert_eq!(
        (p.payer, p.weekly_amount),
        (Party::ReceivingParent, gbp("30.86"))
    );

    assert_eq!(case, before);
    let unknown = ProposedCare {
        nights: BTreeMap::from([("zed".to_owned(), nights(1))]),
        ..ProposedCare::default()
    };
    assert_eq!(
        case.project_liability(d(2025, 6, 1), &unknown, &settings, book())
            .err()
            .and_then(|e| e.field()),
        Some("proposal.nights")
    );
    Ok(())
}

#[test]
fn errors_name_the_field_and_leave_the_case_unchanged() -> TestResult {
    let settings = CaseSettings::default();
    let mut case = open(application("450", &["amy"], false), &settings)?;
    case.advance_to(d(2025, 3, 1), &settings, book())?;
    let snapshot = case.clone();
    let field = |r: Result<Vec<CaseEvent>, CaseError>| r.err().and_then(|e| e.field());

    assert_eq!(
        field(case.record_shared_care(
            d(2025, 3, 2),
            "zed",
            nights(100),
            EvidenceSource::Agreement,
            &settings,
            book()
        )),
        Some("child_ref")
    );
    assert_eq!(
        field(case.record_payment(d(2025, 2, 1), gbp("1"), &settings, book())),
        Some("effective_date")
    );
    assert_eq!(
        field(case.record_payment(d(2025, 3, 2), Money::ZERO, &settings, book())),
        Some("amount")
    );
    assert_eq!(
        field(case.apply_court_order(
            d(2025, 3, 2),
            order("X", d(2025, 3, 9), true, &[("amy", 100)]),
            &settings,
            book()
        )),
        Some("order.made_on")
    );
    assert_eq!(
        field(case.apply_court_order(
            d(2025, 3, 2),
            order("X", d(2025, 3, 1), true, &[("zed", 100)]),
            &settings,
            book()
        )),
        Some("order.nights")
    );
    assert_eq!(
        field(case.request_pause(d(2025, 3, 2), 0, "", &settings, book())),
        Some("weeks")
    );
    assert_eq!(
        field(case.advance_to(d(2200, 1, 1), &settings, book())),
        Some("effective_date")
    );
    let bad_settings = CaseSettings {
        enforcement: familybridge_casework::EnforcementRules {
            liability_order_after: 0,
            ..Default::default()
        },
        ..CaseSettings::default()
    };
    assert_eq!(
        field(case.advance_to(d(2025, 4, 1), &bad_settings, book())),
        Some("settings.enforcement")
    );
    assert_eq!(case, snapshot);

    // Applying the same order twice.
    case.apply_court_order(
        d(2025, 3, 2),
        order("X", d(2025, 3, 1), false, &[("amy", 100)]),
        &settings,
        book(),
    )?;
    assert_eq!(
        field(case.apply_court_order(
            d(2025, 3, 3),
            order("X", d(2025, 3, 1), false, &[("amy", 100)]),
            &settings,
            book()
        )),
        Some("order.order_id")
    );

    for (children, expected) in [
        (vec![], "application.children"),
        (vec!["amy", "amy"], "application.children"),
        (vec![" "], "application.children"),
    ] {
        let err = CaseFile::open(application("450", &children, false), &settings, book()).err();
        assert_eq!(err.and_then(|e| e.field()), Some(expected));
    }
    let mut early = application("450", &["amy"], false);
    early.date = d(2012, 12, 9);
    let err = CaseFile::open(early, &settings, book()).err();
    assert_eq!(err.and_then(|e| e.field()), Some("application.date"));
    Ok(())
}

#[test]
fn the_current_calculation_comes_with_the_engines_explanation() -> TestResult {
    let settings = CaseSettings::default();
    let mut case = open(application("450", &["amy"], false), &settings)?;
    case.record_shared_care(
        d(2025, 1, 20),
        "amy",
        nights(110),
        EvidenceSource::Agreement,
        &settings,
        book(),
    )?;
    let calculation = case.current_calculation(book())?.ok_or("no calculation")?;
    assert_eq!(calculation.weekly_amount, gbp("38.57"));
    assert!(calculation.applied("basic_rate"));
    assert!(calculation.applied("shared_care_decrease"));
    // The liability timeline: £54 from week 0, £38.57 from week 2.
    let timeline: Vec<_> = case
        .segments()
        .iter()
        .map(|s| (s.from_week, s.weekly_amount))
        .collect();
    assert_eq!(timeline, [(0, gbp("54.00")), (2, gbp("38.57"))]);
    assert_eq!(case.weekly_amount_on(d(2025, 1, 19)), Some(gbp("54.00")));
    Ok(())
}

/// The service stores a case as JSON between requests: a stored and reloaded case must be the same
/// case, and carry on exactly as the one kept in memory.
#[test]
fn a_case_survives_being_stored_as_json_and_carries_on_identically() -> TestResult {
    let settings = CaseSettings::default();
    let mut app = application("450.00", &["child-1", "child-2"], true);
    app.collection = CollectionMethod::CollectAndPay;
    let mut case = open(app, &settings)?;
    case.record_shared_care(
        d(2025, 2, 10),
        "child-1",
        nights(60),
        EvidenceSource::ParentsWord,
        &settings,
        book(),
    )?;
    case.apply_court_order(
        d(2025, 3, 3),
        order(
            "FB1/order-1",
            d(2025, 3, 3),
            false,
            &[("child-1", 120), ("child-2", 0)],
        ),
        &settings,
        book(),
    )?;
    case.record_payment(d(2025, 3, 3), gbp("100.00"), &settings, book())?;
    case.record_contact(
        d(2025, 4, 1),
        Party::PayingParent,
        ContactKind::Call,
        true,
        &settings,
        book(),
    )?;
    case.request_pause(d(2025, 4, 2), 6, "distress", &settings, book())?;
    case.advance_to(d(2025, 6, 30), &settings, book())?;

    let stored = serde_json::to_string(&case)?;
    let mut reloaded: CaseFile = serde_json::from_str(&stored)?;
    assert_eq!(reloaded, case);

    let later = d(2025, 12, 31);
    let expected = case.advance_to(later, &settings, book())?;
    assert_eq!(reloaded.advance_to(later, &settings, book())?, expected);
    assert_eq!(reloaded, case);
    assert!(!expected.is_empty(), "the test advances through real work");
    Ok(())
}
