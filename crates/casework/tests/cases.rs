//! Worked cases: real dates and amounts, each figure computed by hand in the comments.
//!
//! The base case throughout: application on Monday 6 January 2025, one qualifying child, paying
//! parent employed on £450 a week, so 12% = £54.00 a week. Unless a test says otherwise the CMS
//! notifies the paying parent and calculates the same day, so liability runs from 6 January and
//! instalments fall due every 28 days and cover the four weeks before: 3 Feb, 3 Mar, 31 Mar,
//! 28 Apr, 26 May, 23 Jun, 21 Jul, 18 Aug, 15 Sep, 13 Oct, 10 Nov, 8 Dec 2025, 5 Jan 2026,
//! 2 Feb 2026 … On Collect and Pay each also carries the 20% collection fee accrued on its
//! liability (£43.20 on £216).

use std::collections::BTreeMap;
use std::error::Error;

use chrono::NaiveDate;
use familybridge_calculation::{Money, Nights, ParameterBook};
use familybridge_casework::{
    ActsOn, Application, ArrearsReason, CaseError, CaseEvent, CaseFile, CaseSettings,
    ClosureReason, CollectionChange, CollectionMethod, Conflict, ContactKind, CourtOrder,
    Deduction, Employment, EnforcementRules, EnforcementStep, EvidenceSource, IncomeDecision,
    IncomeSource, NightsBasis, NightsWithoutEvidence, Party, PaymentSource, ProceedingsOutcome,
    ProposedCare, Stage,
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

/// The base application, on Direct Pay.
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
        employment: Employment::Employed,
    }
}

/// The same application on Collect and Pay.
fn collected(mut app: Application) -> Application {
    app.collection = CollectionMethod::CollectAndPay;
    app
}

/// Opens a case without calculating.
fn open(app: Application, settings: &CaseSettings) -> Result<CaseFile, CaseError> {
    CaseFile::open(app, settings, book()).map(|(case, _)| case)
}

/// Opens a case, notifies the paying parent and calculates, all on the application date.
fn live(app: Application, settings: &CaseSettings) -> Result<CaseFile, CaseError> {
    let date = app.date;
    let mut case = open(app, settings)?;
    case.notify_paying_parent(date, settings, book())?;
    case.make_calculation(date, settings, book())?;
    Ok(case)
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

fn scheduled(events: &[CaseEvent]) -> Vec<(Money, ArrearsReason, Money)> {
    events
        .iter()
        .filter_map(|e| match e {
            CaseEvent::ArrearsScheduled {
                amount,
                reason,
                per_instalment,
                ..
            } => Some((*amount, *reason, *per_instalment)),
            _ => None,
        })
        .collect()
}

/// An instalment as (number, due date, maintenance, arrears part, fee, total).
type InstalmentParts = (u32, NaiveDate, Money, Money, Money, Money);

/// The next instalment's parts.
fn next(case: &CaseFile) -> Result<InstalmentParts, Box<dyn Error>> {
    let i = case.schedule(book())?.ok_or("no schedule")?;
    Ok((
        i.number,
        i.due,
        i.maintenance,
        i.arrears,
        i.collection_fee,
        i.total,
    ))
}

// ---------------------------------------------------------------------------------------------
// The initial effective date (SI 2012/2677 regs 11-12)
// ---------------------------------------------------------------------------------------------

#[test]
fn liability_runs_from_the_notice_to_the_paying_parent_not_from_the_application() -> TestResult {
    let settings = CaseSettings::default();
    let mut case = open(application("450", &["amy"], false), &settings)?;
    assert_eq!(
        case.stage(),
        Stage::AwaitingCalculation {
            effective_date: None
        }
    );
    assert_eq!(
        case.make_calculation(d(2025, 1, 8), &settings, book()),
        Err(CaseError::NotNow(Conflict::NotNotified))
    );
    // Notified on Monday 13 January: the initial effective date.
    let events = case.notify_paying_parent(d(2025, 1, 13), &settings, book())?;
    assert_eq!(kinds(&events), ["paying_parent_notified"]);
    assert_eq!(
        case.notify_paying_parent(d(2025, 1, 14), &settings, book()),
        Err(CaseError::NotNow(Conflict::AlreadyNotified {
            on: d(2025, 1, 13)
        }))
    );
    // The calculation is made on 24 February, six weeks on. Liability runs from 13 January; the
    // period 13 Jan - 9 Feb fell due on 10 Feb, before the calculation: 4 × £54 = £216 of initial
    // arrears, spread over 26 instalments: £216 / 26 = £8.3077 → £8.31 an instalment.
    let events = case.make_calculation(d(2025, 2, 24), &settings, book())?;
    assert_eq!(kinds(&events), ["calculation_made", "arrears_scheduled"]);
    assert!(matches!(&events[0],
        CaseEvent::CalculationMade { date, liability_from, weekly_amount, .. }
            if *date == d(2025, 2, 24) && *liability_from == d(2025, 1, 13)
                && *weekly_amount == gbp("54.00")));
    assert_eq!(
        scheduled(&events),
        [(
            gbp("216.00"),
            ArrearsReason::LiabilityBeforeCalculation,
            gbp("8.31")
        )]
    );
    assert_eq!(case.liability_start(), Some(d(2025, 1, 13)));
    // The next instalment, due 10 March for 10 Feb - 9 Mar: £216 and the £8.31 arrears part (no
    // fee on Direct Pay).
    assert_eq!(
        next(&case)?,
        (
            2,
            d(2025, 3, 10),
            gbp("216.00"),
            gbp("8.31"),
            Money::ZERO,
            gbp("224.31")
        )
    );
    assert_eq!(
        case.make_calculation(d(2025, 2, 25), &settings, book()),
        Err(CaseError::NotNow(Conflict::AlreadyCalculated))
    );
    Ok(())
}

#[test]
fn a_calculation_on_the_day_of_the_notice_has_no_initial_arrears() -> TestResult {
    let settings = CaseSettings::default();
    let mut case = open(application("450", &["amy"], true), &settings)?;
    case.notify_paying_parent(d(2025, 1, 13), &settings, book())?;
    let events = case.make_calculation(d(2025, 1, 13), &settings, book())?;
    assert_eq!(kinds(&events), ["calculation_made"]);
    // Today's rules act while proceedings are pending.
    assert!(case.proceedings_pending());
    assert_eq!(
        next(&case)?,
        (
            1,
            d(2025, 2, 10),
            gbp("216.00"),
            Money::ZERO,
            Money::ZERO,
            gbp("216.00")
        )
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Delayed CMS involvement and its backdating variants
// ---------------------------------------------------------------------------------------------

/// Applied 6 Jan 2025 with proceedings pending; the paying parent is notified on 13 Jan (today's
/// effective date); an interim order of 130 nights (band 2: £54 × 5/7 = £38.5714… → £38.57) is
/// reported on Monday 3 March; the final order (110 nights, band 2 too) is reported on Monday
/// 7 July.
fn delayed_case(
    acts_on: ActsOn,
) -> Result<(CaseFile, CaseSettings, Vec<CaseEvent>), Box<dyn Error>> {
    let settings = CaseSettings {
        acts_on,
        ..CaseSettings::default()
    };
    let mut case = open(application("450", &["amy"], true), &settings)?;
    assert!(case.is_deferred());
    case.notify_paying_parent(d(2025, 1, 13), &settings, book())?;
    assert_eq!(
        case.make_calculation(d(2025, 2, 24), &settings, book()),
        Err(CaseError::NotNow(Conflict::WaitingForProceedings))
    );
    assert_eq!(case.weekly_amount(), None);
    assert_eq!(case.schedule(book())?, None);
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
        order("final", d(2025, 7, 1), true, &[("amy", 110)]),
        &settings,
        book(),
    )?;
    assert!(!case.is_deferred());
    assert!(!case.proceedings_pending());
    Ok((case, settings, events))
}

#[test]
fn delayed_involvement_without_backdating_starts_when_the_cms_is_told() -> TestResult {
    let (mut case, settings, events) = delayed_case(ActsOn::FinalOrder)?;
    assert_eq!(
        kinds(&events),
        [
            "court_order_applied",
            "proceedings_ended",
            "calculation_made"
        ]
    );
    // Liability from the day the CMS learns of the order (7 July), not the order's date.
    assert_eq!(case.liability_start(), Some(d(2025, 7, 7)));
    assert_eq!(case.weekly_amount(), Some(gbp("38.57")));
    // First instalment four weeks on: 4 × £38.57 = £154.28.
    assert_eq!(
        next(&case)?,
        (
            1,
            d(2025, 8, 4),
            gbp("154.28"),
            Money::ZERO,
            Money::ZERO,
            gbp("154.28")
        )
    );
    case.advance_to(d(2025, 8, 4), &settings, book())?;
    assert_eq!(case.account().direct_pay_due, gbp("154.28"));
    Ok(())
}

#[test]
fn backdating_to_todays_effective_date_schedules_the_weeks_since_the_notice() -> TestResult {
    let (case, _, events) = delayed_case(ActsOn::FinalOrderBackdatedToEffectiveDate)?;
    assert_eq!(
        kinds(&events),
        [
            "court_order_applied",
            "proceedings_ended",
            "calculation_made",
            "arrears_scheduled"
        ]
    );
    assert_eq!(case.liability_start(), Some(d(2025, 1, 13)));
    // Six periods from 13 Jan fell due by 6 July (10 Feb … 30 Jun): 24 weeks. Weeks 0-6 (13 Jan
    // to 2 Mar) had no evidence: 7 × £54 = £378.00; from 3 Mar (week 7) the interim order's 130
    // nights: 17 × £38.57 = £655.69. £1,033.69 over 26 instalments: £39.7573 → £39.76.
    assert_eq!(
        scheduled(&events),
        [(
            gbp("1033.69"),
            ArrearsReason::LiabilityBeforeCalculation,
            gbp("39.76")
        )]
    );
    // The period in progress (30 Jun - 27 Jul) falls due on 28 July with its arrears part.
    assert_eq!(
        next(&case)?,
        (
            7,
            d(2025, 7, 28),
            gbp("154.28"),
            gbp("39.76"),
            Money::ZERO,
            gbp("194.04")
        )
    );
    Ok(())
}

#[test]
fn backdating_to_the_application_schedules_the_weeks_since_the_application() -> TestResult {
    let (case, _, events) = delayed_case(ActsOn::FinalOrderBackdatedToApplication)?;
    assert_eq!(case.liability_start(), Some(d(2025, 1, 6)));
    // Six periods from 6 Jan fell due by 6 July (3 Feb … 23 Jun): weeks 0-7 at £54 = £432.00,
    // weeks 8-23 at £38.57 = £617.12: £1,049.12 over 26: £40.3508 → £40.36.
    assert_eq!(
        scheduled(&events),
        [(
            gbp("1049.12"),
            ArrearsReason::LiabilityBeforeCalculation,
            gbp("40.36")
        )]
    );
    assert_eq!(
        next(&case)?,
        (
            7,
            d(2025, 7, 21),
            gbp("154.28"),
            gbp("40.36"),
            Money::ZERO,
            gbp("194.64")
        )
    );
    Ok(())
}

#[test]
fn backdated_arrears_are_collected_with_the_instalments_and_the_last_part_takes_the_rest()
-> TestResult {
    let settings = CaseSettings {
        acts_on: ActsOn::FinalOrderBackdatedToApplication,
        arrears: familybridge_casework::ArrearsRules {
            collect_over_instalments: 3,
        },
        ..CaseSettings::default()
    };
    let mut case = open(collected(application("450", &["amy"], true)), &settings)?;
    // Withdrawn, reported Monday 10 March: backdated to 6 Jan; two periods were due (3 Feb, 3 Mar):
    // 8 × £54 = £432 over 3 instalments: £144 each.
    let events = case.end_proceedings(
        d(2025, 3, 10),
        ProceedingsOutcome::Withdrawn,
        &settings,
        book(),
    )?;
    assert_eq!(
        kinds(&events),
        ["proceedings_ended", "calculation_made", "arrears_scheduled"]
    );
    assert_eq!(case.arrears(), dec("432.00"));
    // Each instalment: £216 + £144 arrears + 20% of £216 = £43.20 (no fee on the backdated weeks):
    // £403.20. The paying parent pays each in full before its due date.
    for due in [d(2025, 3, 31), d(2025, 4, 28), d(2025, 5, 26)] {
        let (_, on, maintenance, arrears, fee, total) = next(&case)?;
        assert_eq!(
            (on, maintenance, arrears, fee, total),
            (
                due,
                gbp("216.00"),
                gbp("144.00"),
                gbp("43.20"),
                gbp("403.20")
            )
        );
        case.record_payment(due, total, PaymentSource::PayingParent, &settings, book())?;
        let events = case.advance_to(due, &settings, book())?;
        assert_eq!(kinds(&events), ["payment_due"]);
    }
    // Collected: nothing owed, and no arrears part left in the schedule.
    assert_eq!(case.arrears(), Decimal::ZERO);
    assert_eq!(next(&case)?.3, Money::ZERO);
    assert_eq!(case.account().collection_fees_paid, gbp("129.60"));
    Ok(())
}

#[test]
fn the_acts_on_policy_changes_nothing_without_proceedings() -> TestResult {
    let settings = CaseSettings {
        acts_on: ActsOn::FinalOrder,
        ..CaseSettings::default()
    };
    let case = live(application("450", &["amy"], false), &settings)?;
    assert!(!case.is_deferred());
    assert_eq!(case.weekly_amount(), Some(gbp("54.00")));
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// No case silently abandoned: proceedings ending without a final order end the wait
// ---------------------------------------------------------------------------------------------

#[test]
fn a_withdrawal_or_dismissal_releases_a_deferred_application() -> TestResult {
    for outcome in [ProceedingsOutcome::Withdrawn, ProceedingsOutcome::Dismissed] {
        let settings = CaseSettings {
            acts_on: ActsOn::FinalOrder,
            ..CaseSettings::default()
        };
        let mut case = open(application("450", &["amy"], true), &settings)?;
        case.notify_paying_parent(d(2025, 1, 13), &settings, book())?;
        let events = case.end_proceedings(d(2025, 5, 12), outcome, &settings, book())?;
        assert_eq!(kinds(&events), ["proceedings_ended", "calculation_made"]);
        assert!(matches!(&events[0],
            CaseEvent::ProceedingsEnded { final_order: None, outcome: Some(o), .. } if *o == outcome));
        assert_eq!(case.liability_start(), Some(d(2025, 5, 12)));
        assert_eq!(
            case.end_proceedings(d(2025, 5, 13), outcome, &settings, book()),
            Err(CaseError::NotNow(Conflict::NoProceedingsPending))
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Supersession: a change applies from the maintenance period in which the CMS is told
// ---------------------------------------------------------------------------------------------

#[test]
fn a_final_order_reported_late_applies_from_the_week_it_is_reported_with_no_adjustment()
-> TestResult {
    let settings = CaseSettings::default();
    let mut case = live(collected(application("450", &["amy"], true)), &settings)?;
    for due in [d(2025, 2, 3), d(2025, 3, 3), d(2025, 3, 31)] {
        case.record_payment(
            due,
            gbp("259.20"),
            PaymentSource::PayingParent,
            &settings,
            book(),
        )?;
    }
    case.advance_to(d(2025, 4, 13), &settings, book())?;
    assert_eq!(case.arrears(), Decimal::ZERO);
    // The final order was made on Wednesday 12 March with 110 nights (band 2, £38.57). It is
    // reported on Wednesday 16 April, in the maintenance week from Monday 14 April: the new amount
    // applies from 14 April, and the weeks since 12 March already charged at £54 stay so.
    let events = case.apply_court_order(
        d(2025, 4, 16),
        order("FO-1", d(2025, 3, 12), true, &[("amy", 110)]),
        &settings,
        book(),
    )?;
    assert_eq!(
        kinds(&events),
        [
            "court_order_applied",
            "proceedings_ended",
            "calculation_revised"
        ]
    );
    assert!(matches!(
        &events[2],
        CaseEvent::CalculationRevised { date, effective_from, previous_weekly_amount, weekly_amount, .. }
            if *date == d(2025, 4, 16) && *effective_from == d(2025, 4, 14)
                && *previous_weekly_amount == gbp("54.00") && *weekly_amount == gbp("38.57")
    ));
    assert_eq!(case.account().retrospective_adjustments, Decimal::ZERO);
    // The instalment due 28 April covers 31 Mar - 27 Apr: two weeks at £54 and two at £38.57 =
    // £185.14, with 20% of it (£37.028 → £37.03) as the fee.
    assert_eq!(
        next(&case)?,
        (
            4,
            d(2025, 4, 28),
            gbp("185.14"),
            Money::ZERO,
            gbp("37.03"),
            gbp("222.17")
        )
    );
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
    let mut case = live(application("450", &["amy"], false), &settings)?;
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
    assert_eq!(next(&case)?.2, gbp("264.60"));

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
    let mut case = live(application("450", &["amy"], false), &settings)?;
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
    let mut case = live(app, &settings)?;
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
    let mut case = live(application("450", &["amy"], false), &settings)?;
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

    // First instalment, 3 Feb: weeks at £54, £46.29, £38.57, £38.57 = £177.43, not collected by
    // the CMS (Direct Pay).
    let due = case.advance_to(d(2025, 2, 3), &settings, book())?;
    assert_eq!(kinds(&due), ["payment_due"]);
    assert!(matches!(&due[0],
        CaseEvent::PaymentDue { amount, collected: false, .. } if *amount == gbp("177.43")));

    // A court order made 27 Jan with 20 nights, reported Monday 10 Feb: it outranks the
    // agreement; 20 nights is below band 1, so £54 again, from 10 Feb — the weeks already charged
    // are not revisited.
    let events = case.apply_court_order(
        d(2025, 2, 10),
        order("CAO-7", d(2025, 1, 27), false, &[("amy", 20)]),
        &settings,
        book(),
    )?;
    assert!(!kinds(&events).contains(&"retrospective_adjustment"));
    assert_eq!(case.weekly_amount(), Some(gbp("54.00")));
    assert_eq!(case.weekly_amount_on(d(2025, 2, 9)), Some(gbp("38.57")));
    assert_eq!(
        case.calculation_basis().map(|b| b.children[0].basis),
        Some(NightsBasis::Evidence(EvidenceSource::CourtOrder))
    );
    assert_eq!(case.account().direct_pay_due, gbp("177.43"));
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
        let mut case = live(application("600", &["amy", "ben"], false), &settings)?;
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
    let mut case = live(collected(application("450", &["amy"], false)), &settings)?;
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
// Direct Pay against Collect and Pay
// ---------------------------------------------------------------------------------------------

#[test]
fn the_cms_never_sees_direct_pay_and_takes_no_enforcement_on_it() -> TestResult {
    let settings = CaseSettings::default();
    let mut case = live(application("450", &["amy"], false), &settings)?;
    // A year of instalments, none of them known to the CMS to be paid or missed.
    let events = case.advance_to(d(2025, 12, 31), &settings, book())?;
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(
                e,
                CaseEvent::PaymentDue {
                    collected: false,
                    ..
                }
            ))
            .count(),
        12
    );
    assert!(kinds(&events).iter().all(|k| *k == "payment_due"));
    assert_eq!(case.consecutive_missed(), 0);
    assert_eq!(case.arrears(), Decimal::ZERO);
    assert_eq!(case.account().direct_pay_due, gbp("2592.00"));
    assert_eq!(
        case.record_payment(
            d(2026, 1, 1),
            gbp("216.00"),
            PaymentSource::PayingParent,
            &settings,
            book()
        ),
        Err(CaseError::NotNow(Conflict::WrongCollectionMethod {
            method: "Direct Pay",
            reason: "the CMS does not see Direct Pay payments",
        }))
    );
    Ok(())
}

#[test]
fn reported_missed_direct_pay_moves_the_case_to_collect_and_pay_with_the_arrears() -> TestResult {
    let settings = CaseSettings::default();
    // £475: 12% = £57.00 a week.
    let mut case = live(application("475", &["amy"], false), &settings)?;
    // The first instalment (£228, due 3 Feb) went unpaid; the receiving parent reports it on
    // Wednesday 12 Feb.
    let events = case.report_missed_direct_pay(d(2025, 2, 12), gbp("228.00"), &settings, book())?;
    assert_eq!(
        kinds(&events),
        ["payment_due", "collection_changed", "arrears_scheduled"]
    );
    assert!(matches!(
        &events[1],
        CaseEvent::CollectionChanged {
            to: CollectionMethod::CollectAndPay,
            reason: CollectionChange::MissedPaymentsReported,
            ..
        }
    ));
    // £228 over 26 instalments: £8.7692 → £8.77.
    assert_eq!(
        scheduled(&events),
        [(gbp("228.00"), ArrearsReason::DirectPayMissed, gbp("8.77"))]
    );
    assert_eq!(case.collection_method(), CollectionMethod::CollectAndPay);
    assert_eq!(case.arrears(), dec("228.00"));
    // Fees run from 12 Feb. The instalment due 3 Mar covers 3 Feb - 2 Mar: nothing in the week of
    // 3 Feb, 5 days of the week from 10 Feb (£57 × 5/7 = £40.714…), then two full weeks (£114):
    // 20% of £154.714… = £30.94. Total £228 + £8.77 + £30.94 = £267.71.
    assert_eq!(
        next(&case)?,
        (
            2,
            d(2025, 3, 3),
            gbp("228.00"),
            gbp("8.77"),
            gbp("30.94"),
            gbp("267.71")
        )
    );
    // Unpaid, it is now a missed payment the CMS acts on.
    let events = case.advance_to(d(2025, 3, 3), &settings, book())?;
    assert_eq!(kinds(&events), ["payment_due", "payment_missed"]);
    assert_eq!(
        case.report_missed_direct_pay(d(2025, 3, 4), gbp("1.00"), &settings, book())
            .err()
            .map(|e| e.to_string().contains("Collect and Pay")),
        Some(true)
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Fees on liability
// ---------------------------------------------------------------------------------------------

#[test]
fn the_paying_parents_fee_accrues_on_liability_and_a_payment_pays_maintenance_first() -> TestResult
{
    let settings = CaseSettings::default();
    let mut case = live(collected(application("475", &["amy"], false)), &settings)?;
    // 12% of £475 = £57.00 a week; an instalment is £228.00 and 20% of it, £45.60: £273.60.
    assert_eq!(
        next(&case)?,
        (
            1,
            d(2025, 2, 3),
            gbp("228.00"),
            Money::ZERO,
            gbp("45.60"),
            gbp("273.60")
        )
    );
    let events = case.record_payment(
        d(2025, 2, 3),
        gbp("273.60"),
        PaymentSource::PayingParent,
        &settings,
        book(),
    )?;
    // £228 to maintenance, £45.60 to the fee; 4% off the maintenance (£9.12) leaves £218.88.
    assert_eq!(
        events,
        [CaseEvent::PaymentReceived {
            date: d(2025, 2, 3),
            amount: gbp("273.60"),
            source: PaymentSource::PayingParent,
            to_maintenance: gbp("228.00"),
            to_collection_fees: gbp("45.60"),
            to_enforcement_fees: Money::ZERO,
            receiving_parent_fee: gbp("9.12"),
            passed_to_receiving_parent: gbp("218.88"),
        }]
    );
    // Paid on the due date, before the day's work: not missed.
    let due = case.advance_to(d(2025, 2, 3), &settings, book())?;
    assert_eq!(kinds(&due), ["payment_due"]);
    // £57 on 10 Feb goes to the next instalment's maintenance; the receiving parent gets £54.72.
    let events = case.record_payment(
        d(2025, 2, 10),
        gbp("57.00"),
        PaymentSource::PayingParent,
        &settings,
        book(),
    )?;
    assert!(matches!(&events[0],
        CaseEvent::PaymentReceived { to_maintenance, to_collection_fees, passed_to_receiving_parent, .. }
            if *to_maintenance == gbp("57.00") && to_collection_fees.is_zero()
                && *passed_to_receiving_parent == gbp("54.72")));
    // Paying the maintenance but not the fee is short: the 3 March instalment is missed.
    case.record_payment(
        d(2025, 3, 3),
        gbp("171.00"),
        PaymentSource::PayingParent,
        &settings,
        book(),
    )?;
    let due = case.advance_to(d(2025, 3, 3), &settings, book())?;
    assert_eq!(kinds(&due), ["payment_due", "payment_missed"]);
    let account = case.account();
    assert_eq!(account.maintenance_paid, gbp("456.00"));
    assert_eq!(account.collection_fees_charged, gbp("91.20"));
    assert_eq!(account.collection_fees_paid, gbp("45.60"));
    assert_eq!(account.receiving_parent_collection_fees, gbp("18.24"));
    assert_eq!(account.passed_to_receiving_parent, gbp("437.76"));
    // Fees are not arrears: £456 due, £456 paid.
    assert_eq!(account.arrears, Decimal::ZERO);
    Ok(())
}

#[test]
fn under_the_2027_model_direct_pay_goes_and_non_compliant_payers_pay_20_percent() -> TestResult {
    let settings = CaseSettings::default();
    let reform = ParameterBook::statutory().with_proposal("fees-2027")?;
    // Monday 5 April 2027, after Direct Pay ends: the case opens on Collect and Pay.
    let mut app = application("475", &["amy"], false);
    app.date = d(2027, 4, 5);
    let (mut case, events) = CaseFile::open(app, &settings, &reform)?;
    assert!(events.iter().any(|e| matches!(
        e,
        CaseEvent::CollectionChanged {
            reason: CollectionChange::DirectPayUnavailable,
            ..
        }
    )));
    case.notify_paying_parent(d(2027, 4, 5), &settings, &reform)?;
    case.make_calculation(d(2027, 4, 5), &settings, &reform)?;
    // A compliant payer's fee: 2% of £228 = £4.56.
    let i = case.schedule(&reform)?.ok_or("no schedule")?;
    assert_eq!((i.collection_fee, i.total), (gbp("4.56"), gbp("232.56")));
    let events = case.record_payment(
        d(2027, 4, 12),
        gbp("57.00"),
        PaymentSource::PayingParent,
        &settings,
        &reform,
    )?;
    assert!(matches!(&events[0],
        CaseEvent::PaymentReceived { receiving_parent_fee, .. } if *receiving_parent_fee == gbp("1.14")));
    // The first instalment (3 May) is short: one miss makes the payer non-compliant
    // (`collect_and_pay.non_compliant_after_missed_instalments` = 1), so the next fee is 20%.
    let events = case.record_payment(
        d(2027, 5, 10),
        gbp("57.00"),
        PaymentSource::PayingParent,
        &settings,
        &reform,
    )?;
    assert_eq!(
        kinds(&events),
        ["payment_due", "payment_missed", "payment_received"]
    );
    let i = case.schedule(&reform)?.ok_or("no schedule")?;
    assert_eq!(i.collection_fee, gbp("45.60"));
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Missed payments and enforcement that changes what is collected
// ---------------------------------------------------------------------------------------------

#[test]
fn the_ladder_climbs_step_by_step_with_the_courts_lag_and_each_steps_precondition() -> TestResult {
    let settings = CaseSettings::default();
    let mut case = live(collected(application("450", &["amy"], false)), &settings)?;
    let events = case.advance_to(d(2026, 2, 2), &settings, book())?;
    // Fourteen instalments of £216 + £43.20, none paid.
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, CaseEvent::PaymentMissed { due, .. } if *due == gbp("259.20")))
            .count(),
        14
    );
    assert_eq!(
        steps_taken(&events),
        [
            // 2 misses: the employer is ordered to deduct.
            (
                d(2025, 3, 3),
                EnforcementStep::DeductionFromEarningsOrder,
                gbp("50.00"),
                false
            ),
            // 4 misses, the deduction not collecting: the bank account.
            (
                d(2025, 4, 28),
                EnforcementStep::RegularDeductionOrder,
                gbp("50.00"),
                false
            ),
            // 6 misses: the CMS applies to the magistrates' court...
            (
                d(2025, 6, 23),
                EnforcementStep::LiabilityOrderApplication,
                Money::ZERO,
                false
            ),
            // ... which grants the order 18 weeks later (enforcement agents, warranted at 10
            // misses on 13 Oct, had to wait for it).
            (
                d(2025, 10, 27),
                EnforcementStep::LiabilityOrder,
                gbp("300.00"),
                false
            ),
            (
                d(2025, 11, 10),
                EnforcementStep::EnforcementAgents,
                gbp("75.00"),
                false
            ),
            // 12 misses, arrears over £1,000: a charging order.
            (
                d(2025, 12, 8),
                EnforcementStep::ChargingOrder,
                gbp("38.00"),
                false
            ),
            // 14 misses, agents having been tried.
            (
                d(2026, 2, 2),
                EnforcementStep::Disqualification,
                Money::ZERO,
                false
            ),
        ]
    );
    assert_eq!(case.deduction(), Some(Deduction::Account));
    assert!(case.liability_order_granted());
    // 14 × £216 of maintenance; the fees are apart.
    assert_eq!(case.arrears(), dec("3024.00"));
    let account = case.account();
    assert_eq!(account.collection_fees_charged, gbp("604.80"));
    assert_eq!(account.enforcement_fees_charged, gbp("513.00"));
    Ok(())
}

#[test]
fn a_deduction_collects_at_source_and_paying_in_full_ends_the_run() -> TestResult {
    let settings = CaseSettings::default();
    let mut case = live(collected(application("450", &["amy"], false)), &settings)?;
    case.advance_to(d(2025, 3, 3), &settings, book())?;
    assert_eq!(case.deduction(), Some(Deduction::Earnings));
    // The employer deducts the next instalment in full (£259.20): it pays the two missed periods'
    // maintenance first, the 3 March one partly; the run of misses ends all the same.
    let events = case.record_payment(
        d(2025, 3, 28),
        gbp("259.20"),
        PaymentSource::DeductionFromEarnings,
        &settings,
        book(),
    )?;
    assert!(matches!(&events[0], CaseEvent::PaymentReceived {
        source: PaymentSource::DeductionFromEarnings, to_maintenance, .. } if *to_maintenance == gbp("259.20")));
    let events = case.advance_to(d(2025, 3, 31), &settings, book())?;
    assert_eq!(kinds(&events), ["payment_due"]);
    assert_eq!(case.consecutive_missed(), 0);
    assert_eq!(case.enforcement_stage(), None);
    // The order stays in force: a later miss does not make another one.
    assert_eq!(case.deduction(), Some(Deduction::Earnings));
    Ok(())
}

#[test]
fn a_self_employed_parent_goes_to_the_bank_account_and_a_benefit_deduction_to_court() -> TestResult
{
    let settings = CaseSettings::default();
    let mut app = collected(application("450", &["amy"], false));
    app.employment = Employment::SelfEmployed;
    let mut case = live(app, &settings)?;
    let events = case.advance_to(d(2025, 6, 23), &settings, book())?;
    assert_eq!(
        steps_taken(&events)
            .iter()
            .map(|(date, step, ..)| (*date, *step))
            .collect::<Vec<_>>(),
        [
            (d(2025, 4, 28), EnforcementStep::RegularDeductionOrder),
            (d(2025, 6, 23), EnforcementStep::LiabilityOrderApplication),
        ]
    );

    // A paying parent on a benefit that gives the flat rate, who asked for Direct Pay: the CMS
    // collects £7 a week by deduction from the benefit, so the case is on Collect and Pay, and
    // neither deduction order applies when the deduction fails.
    let mut app = application("60", &["amy"], false);
    app.flat_rate_benefit = true;
    app.employment = Employment::NotWorking;
    let (mut case, events) = CaseFile::open(app, &settings, book())?;
    assert!(events.iter().any(|e| matches!(
        e,
        CaseEvent::CollectionChanged {
            reason: CollectionChange::DeductionFromBenefit,
            ..
        }
    )));
    case.notify_paying_parent(d(2025, 1, 6), &settings, book())?;
    case.make_calculation(d(2025, 1, 6), &settings, book())?;
    assert_eq!(case.deduction(), Some(Deduction::Benefit));
    // £28 + 20% (£5.60) an instalment.
    assert_eq!(next(&case)?.5, gbp("33.60"));
    case.record_payment(
        d(2025, 2, 3),
        gbp("33.60"),
        PaymentSource::DeductionFromBenefit,
        &settings,
        book(),
    )?;
    let events = case.advance_to(d(2025, 7, 21), &settings, book())?;
    assert_eq!(
        steps_taken(&events)
            .iter()
            .map(|(date, step, ..)| (*date, *step))
            .collect::<Vec<_>>(),
        [(d(2025, 7, 21), EnforcementStep::LiabilityOrderApplication)]
    );
    Ok(())
}

#[test]
fn a_liability_order_applied_for_is_withdrawn_when_the_run_of_misses_ends() -> TestResult {
    let settings = CaseSettings::default();
    let mut case = live(collected(application("450", &["amy"], false)), &settings)?;
    case.advance_to(d(2025, 6, 23), &settings, book())?;
    let mut events = Vec::new();
    for due in [
        d(2025, 7, 21),
        d(2025, 8, 18),
        d(2025, 9, 15),
        d(2025, 10, 13),
    ] {
        events.extend(case.record_payment(
            due,
            gbp("259.20"),
            PaymentSource::PayingParent,
            &settings,
            book(),
        )?);
    }
    events.extend(case.advance_to(d(2025, 10, 27), &settings, book())?);
    // Each instalment paid in full before it fell due: no misses, and at the hearing the run had
    // ended, so the application is withdrawn.
    assert_eq!(
        kinds(&events)
            .into_iter()
            .filter(|k| *k != "payment_received")
            .collect::<Vec<_>>(),
        [
            "payment_due",
            "payment_due",
            "payment_due",
            "payment_due",
            "liability_order_withdrawn"
        ]
    );
    assert!(!case.liability_order_granted());
    // No fee for an order not made (SI 2014/612 reg 12(4)(a)).
    assert_eq!(case.account().enforcement_fees_charged, gbp("100.00"));
    Ok(())
}

#[test]
fn a_pause_holds_escalation_which_resumes_after_it_with_the_distress_flag_recorded() -> TestResult {
    let settings = CaseSettings::default();
    let mut case = live(collected(application("450", &["amy"], false)), &settings)?;
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
    // more than 8 weeks old (28 Apr − 56 days = 3 Mar). Then a rung per due date. The pause cost
    // the receiving parent the employer's deductions from March to May.
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
                EnforcementStep::LiabilityOrderApplication,
                Money::ZERO,
                false
            ),
        ]
    );
    // Dates come out in order.
    assert!(events.windows(2).all(|w| w[0].date() <= w[1].date()));
    Ok(())
}

#[test]
fn a_hearing_falling_in_a_pause_is_put_back_to_its_end() -> TestResult {
    let settings = CaseSettings::default();
    let mut case = live(collected(application("450", &["amy"], false)), &settings)?;
    case.advance_to(d(2025, 10, 19), &settings, book())?;
    // The hearing is due 27 Oct; a four-week pause from 20 Oct runs to 17 Nov.
    case.request_pause(d(2025, 10, 20), 4, "distress screening", &settings, book())?;
    let events = case.advance_to(d(2025, 11, 17), &settings, book())?;
    assert!(
        events
            .iter()
            .any(|e| matches!(e, CaseEvent::EnforcementPaused {
        date, step: EnforcementStep::LiabilityOrder, pause_until, .. }
            if *date == d(2025, 10, 27) && *pause_until == d(2025, 11, 17)))
    );
    assert_eq!(
        steps_taken(&events),
        [(
            d(2025, 11, 17),
            EnforcementStep::LiabilityOrder,
            gbp("300.00"),
            false
        )]
    );
    Ok(())
}

#[test]
fn lifting_a_pause_lets_the_held_step_be_taken_on_the_same_day() -> TestResult {
    let settings = CaseSettings::default();
    let mut case = live(collected(application("450", &["amy"], false)), &settings)?;
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
    let mut case = live(collected(application("450", &["amy"], false)), &settings)?;
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
// Closing, advancing time, projections, errors
// ---------------------------------------------------------------------------------------------

#[test]
fn closing_charges_the_weeks_before_the_closing_week_and_nothing_after() -> TestResult {
    let settings = CaseSettings::default();
    let mut case = live(application("450", &["amy"], false), &settings)?;
    // Closed on Wednesday 12 March for a family-based arrangement: two instalments fell due (3 Feb,
    // 3 Mar); of the third period (from 3 Mar) only the week of 3 Mar comes before the closing
    // week (from 10 Mar): £54.
    let events = case.close(
        d(2025, 3, 12),
        ClosureReason::FamilyBasedArrangement,
        &settings,
        book(),
    )?;
    assert_eq!(
        kinds(&events),
        ["payment_due", "payment_due", "payment_due", "case_closed"]
    );
    assert!(
        matches!(&events[2], CaseEvent::PaymentDue { instalment: 3, amount, .. }
        if *amount == gbp("54.00"))
    );
    assert_eq!(case.account().direct_pay_due, gbp("486.00"));
    assert!(case.is_closed());
    assert_eq!(case.schedule(book())?, None);
    assert!(
        case.advance_to(d(2026, 1, 1), &settings, book())?
            .is_empty()
    );
    assert_eq!(
        case.record_contact(
            d(2026, 1, 2),
            Party::PayingParent,
            ContactKind::Call,
            false,
            &settings,
            book()
        )
        .map(|events| events.len()),
        Ok(1)
    );
    assert_eq!(
        case.report_missed_direct_pay(d(2026, 1, 2), gbp("1.00"), &settings, book()),
        Err(CaseError::NotNow(Conflict::Closed { on: d(2025, 3, 12) }))
    );
    Ok(())
}

#[test]
fn advancing_to_a_date_already_processed_does_nothing() -> TestResult {
    let settings = CaseSettings::default();
    let mut case = live(collected(application("450", &["amy"], false)), &settings)?;
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
    let mut case = live(application("450", &["amy"], false), &settings)?;
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
    let mut case = live(collected(application("450", &["amy"], false)), &settings)?;
    case.advance_to(d(2025, 3, 1), &settings, book())?;
    let snapshot = case.clone();
    let field = |r: Result<Vec<CaseEvent>, CaseError>| r.err().and_then(|e| e.field());
    let paid = PaymentSource::PayingParent;

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
        field(case.record_payment(d(2025, 2, 1), gbp("1"), paid, &settings, book())),
        Some("effective_date")
    );
    assert_eq!(
        field(case.record_payment(d(2025, 3, 2), Money::ZERO, paid, &settings, book())),
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
        enforcement: EnforcementRules {
            liability_order_application_after: 0,
            ..Default::default()
        },
        ..CaseSettings::default()
    };
    assert_eq!(
        field(case.advance_to(d(2025, 4, 1), &bad_settings, book())),
        Some("settings.enforcement")
    );
    let bad_spread = CaseSettings {
        arrears: familybridge_casework::ArrearsRules {
            collect_over_instalments: 0,
        },
        ..CaseSettings::default()
    };
    assert_eq!(
        field(case.advance_to(d(2025, 4, 1), &bad_spread, book())),
        Some("arrears.collect_over_instalments")
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
fn a_refusal_after_the_due_work_leaves_the_case_unchanged() -> TestResult {
    let settings = CaseSettings::default();
    let mut case = live(application("450", &["amy"], false), &settings)?;
    let snapshot = case.clone();
    // The payment is dated after an instalment falls due on this Direct Pay case: the due work
    // would run, then the payment is refused; nothing of either stays.
    assert!(
        case.record_payment(
            d(2025, 2, 10),
            gbp("216.00"),
            PaymentSource::PayingParent,
            &settings,
            book()
        )
        .is_err()
    );
    assert_eq!(case, snapshot);
    Ok(())
}

#[test]
fn the_current_calculation_comes_with_the_engines_explanation() -> TestResult {
    let settings = CaseSettings::default();
    let mut case = live(application("450", &["amy"], false), &settings)?;
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

/// The service stores a case between requests: a stored and reloaded case must be the same case,
/// and carry on exactly as the one kept in memory.
#[test]
fn a_case_survives_being_stored_and_carries_on_identically() -> TestResult {
    let settings = CaseSettings::default();
    let app = collected(application("450.00", &["child-1", "child-2"], true));
    let mut case = live(app, &settings)?;
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
    case.record_payment(
        d(2025, 3, 3),
        gbp("100.00"),
        PaymentSource::PayingParent,
        &settings,
        book(),
    )?;
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
