//! Property tests: for any sequence of requests, the books balance, the history agrees with the
//! events returned, advancing in one step or many gives the same case, and nothing panics.

use chrono::{Days, NaiveDate};
use familybridge_calculation::{Money, Nights, ParameterBook};
use familybridge_casework::{
    ActsOn, Application, ArrearsReason, ArrearsRules, CaseError, CaseEvent, CaseFile, CaseSettings,
    ClosureReason, CollectionMethod, ContactKind, CourtOrder, Employment, EnforcementRules,
    EvidenceSource, IncomeSource, NightsWithoutEvidence, Party, PaymentSource, ProceedingsOutcome,
};
use proptest::prelude::*;
use rust_decimal::Decimal;

const CHILDREN: [&str; 3] = ["amy", "ben", "cal"];

/// One request from the world, dated a number of days after the case's latest date.
#[derive(Clone, Debug)]
enum Op {
    Advance(u16),
    Notify(u16),
    Calculate(u16),
    Pay(u16, u64, u8),
    MissedDirectPay(u16, u64),
    Close(u16),
    Income(u16, Option<u64>, u8),
    Care(u16, usize, u32, u8),
    Order(u16, u16, usize, u32, bool),
    EndProceedings(u16),
    Contact(u16, bool, bool),
    Flag(u16, bool, bool),
    Pause(u16, u32),
    Lift(u16),
}

fn op() -> impl Strategy<Value = Op> {
    let days = 0_u16..120;
    prop_oneof![
        4 => (0_u16..400).prop_map(Op::Advance),
        2 => days.clone().prop_map(Op::Notify),
        2 => days.clone().prop_map(Op::Calculate),
        4 => (days.clone(), 1_u64..100_000, 0_u8..5).prop_map(|(d, p, s)| Op::Pay(d, p, s)),
        1 => (days.clone(), 0_u64..100_000).prop_map(|(d, p)| Op::MissedDirectPay(d, p)),
        1 => days.clone().prop_map(Op::Close),
        2 => (days.clone(), proptest::option::weighted(0.9, 0_u64..150_000), 0_u8..3)
            .prop_map(|(d, i, s)| Op::Income(d, i, s)),
        2 => (days.clone(), 0_usize..3, 0_u32..=365, 0_u8..3)
            .prop_map(|(d, c, n, s)| Op::Care(d, c, n, s)),
        2 => (days.clone(), 0_u16..200, 0_usize..3, 0_u32..=365, any::<bool>())
            .prop_map(|(d, b, c, n, f)| Op::Order(d, b, c, n, f)),
        1 => days.clone().prop_map(Op::EndProceedings),
        1 => (days.clone(), any::<bool>(), any::<bool>()).prop_map(|(d, w, x)| Op::Contact(d, w, x)),
        1 => (days.clone(), any::<bool>(), any::<bool>()).prop_map(|(d, w, x)| Op::Flag(d, w, x)),
        1 => (days.clone(), 0_u32..30).prop_map(|(d, w)| Op::Pause(d, w)),
        1 => days.prop_map(Op::Lift),
    ]
}

fn settings() -> impl Strategy<Value = CaseSettings> {
    (
        prop_oneof![
            Just(ActsOn::Application),
            Just(ActsOn::FinalOrder),
            Just(ActsOn::FinalOrderBackdatedToEffectiveDate),
            Just(ActsOn::FinalOrderBackdatedToApplication),
        ],
        prop_oneof![
            Just(NightsWithoutEvidence::Assume52),
            Just(NightsWithoutEvidence::EqualCare)
        ],
        (1_u32..6, 1_u32..6, 1_u32..6, 1_u32..6, 0_u32..30),
        (0_u32..12, 1_u32..30),
    )
        .prop_map(
            |(acts_on, nights, (a, b, c, e, lag), (window, spread))| CaseSettings {
                acts_on,
                nights_without_evidence: nights,
                enforcement: EnforcementRules {
                    deduction_from_earnings_order_after: a,
                    regular_deduction_order_after: a + b,
                    liability_order_application_after: a + b + c,
                    liability_order_court_weeks: lag,
                    enforcement_agents_after: a + b + c + e,
                    charging_order_after: a + b + c + e + 1,
                    disqualification_after: a + b + c + e + 2,
                    committal_after: a + b + c + e + 3,
                    ..EnforcementRules::default()
                },
                arrears: ArrearsRules {
                    collect_over_instalments: spread,
                },
                distress_window_weeks: window,
                ..CaseSettings::default()
            },
        )
}

fn application() -> impl Strategy<Value = Application> {
    (
        0_u64..6000,
        1_usize..=3,
        any::<bool>(),
        any::<bool>(),
        proptest::option::weighted(0.8, 0_u64..200_000),
        0_u32..4,
        proptest::bool::weighted(0.1),
        any::<bool>(),
        0_u8..3,
    )
        .prop_map(
            |(offset, children, pending, collect, income, roc, benefit, applicant, work)| {
                Application {
                    date: NaiveDate::from_ymd_opt(2013, 1, 1)
                        .and_then(|d| d.checked_add_days(Days::new(offset)))
                        .unwrap_or_default(),
                    applicant: if applicant {
                        Party::PayingParent
                    } else {
                        Party::ReceivingParent
                    },
                    children: CHILDREN[..children]
                        .iter()
                        .map(|c| (*c).to_owned())
                        .collect(),
                    proceedings_pending: pending,
                    collection: if collect {
                        CollectionMethod::CollectAndPay
                    } else {
                        CollectionMethod::DirectPay
                    },
                    paying_parent_income: income.map(Money::from_pence),
                    relevant_other_children: roc,
                    flat_rate_benefit: benefit,
                    employment: employment(work),
                }
            },
        )
}

fn employment(n: u8) -> Employment {
    match n % 3 {
        0 => Employment::Employed,
        1 => Employment::SelfEmployed,
        _ => Employment::NotWorking,
    }
}

fn payment_source(n: u8) -> PaymentSource {
    match n % 5 {
        0 => PaymentSource::PayingParent,
        1 => PaymentSource::DeductionFromEarnings,
        2 => PaymentSource::DeductionFromAccount,
        3 => PaymentSource::DeductionFromBenefit,
        _ => PaymentSource::EnforcementAgents,
    }
}

fn source(n: u8) -> EvidenceSource {
    match n % 3 {
        0 => EvidenceSource::ParentsWord,
        1 => EvidenceSource::Agreement,
        _ => EvidenceSource::CourtOrder,
    }
}

fn income_source(n: u8) -> IncomeSource {
    match n % 3 {
        0 => IncomeSource::ReportedChange,
        1 => IncomeSource::AnnualReview,
        _ => IncomeSource::Initial,
    }
}

fn party(paying: bool) -> Party {
    if paying {
        Party::PayingParent
    } else {
        Party::ReceivingParent
    }
}

fn after(date: NaiveDate, days: u16) -> NaiveDate {
    date.checked_add_days(Days::new(u64::from(days)))
        .unwrap_or(date)
}

/// Applies one request; `split` advances in several smaller steps (and repeats the last) instead
/// of one. Returns the events, or the error.
fn apply(
    case: &mut CaseFile,
    op: &Op,
    serial: usize,
    settings: &CaseSettings,
    split: bool,
) -> Result<Vec<CaseEvent>, CaseError> {
    let book = ParameterBook::statutory();
    let now = case.as_of();
    let nights = |n: u32| Nights::new(n).unwrap_or(Nights::ZERO);
    match *op {
        Op::Advance(days) if split => {
            let mut events = Vec::new();
            for part in [days / 3, days / 2, days, days] {
                events.extend(case.advance_to(after(now, part), settings, book)?);
            }
            Ok(events)
        }
        Op::Advance(days) => case.advance_to(after(now, days), settings, book),
        Op::Notify(days) => case.notify_paying_parent(after(now, days), settings, book),
        Op::Calculate(days) => case.make_calculation(after(now, days), settings, book),
        Op::Pay(days, pence, from) => case.record_payment(
            after(now, days),
            Money::from_pence(pence),
            payment_source(from),
            settings,
            book,
        ),
        Op::MissedDirectPay(days, pence) => case.report_missed_direct_pay(
            after(now, days),
            Money::from_pence(pence),
            settings,
            book,
        ),
        Op::Close(days) => case.close(
            after(now, days),
            ClosureReason::FamilyBasedArrangement,
            settings,
            book,
        ),
        Op::Income(days, income, s) => case.record_income(
            after(now, days),
            income.map(Money::from_pence),
            income_source(s),
            settings,
            book,
        ),
        Op::Care(days, child, n, s) => case.record_shared_care(
            after(now, days),
            CHILDREN[child],
            nights(n),
            source(s),
            settings,
            book,
        ),
        Op::Order(days, back, child, n, is_final) => {
            let date = after(now, days);
            let made_on = date
                .checked_sub_days(Days::new(u64::from(back)))
                .unwrap_or(date);
            case.apply_court_order(
                date,
                CourtOrder {
                    order_id: format!("order-{serial}"),
                    made_on,
                    is_final,
                    nights: [(CHILDREN[child].to_owned(), nights(n))].into(),
                },
                settings,
                book,
            )
        }
        Op::EndProceedings(days) => case.end_proceedings(
            after(now, days),
            ProceedingsOutcome::Withdrawn,
            settings,
            book,
        ),
        Op::Contact(days, paying, distressed) => case.record_contact(
            after(now, days),
            party(paying),
            ContactKind::Call,
            distressed,
            settings,
            book,
        ),
        Op::Flag(days, paying, flagged) => {
            case.flag_distress(after(now, days), party(paying), flagged, settings, book)
        }
        Op::Pause(days, weeks) => {
            case.request_pause(after(now, days), weeks, "screening", settings, book)
        }
        Op::Lift(days) => case.lift_pause(after(now, days), settings, book),
    }
}

fn total(events: &[CaseEvent], pick: impl Fn(&CaseEvent) -> Option<Decimal>) -> Decimal {
    events.iter().filter_map(pick).sum()
}

/// The books balance, and agree with the history.
fn check_invariants(case: &CaseFile) -> Result<(), TestCaseError> {
    let history = case.history();
    let account = case.account();
    let due = account.maintenance_due.as_decimal();
    let paid = account.maintenance_paid.as_decimal();
    prop_assert_eq!(account.arrears, due - paid);
    prop_assert_eq!(case.arrears(), due - paid);
    // Every charge is in the history: instalments, the liability before the first calculation,
    // retrospective adjustments, and Direct Pay arrears taken on.
    let charged = total(history, |e| match e {
        CaseEvent::PaymentDue { amount, .. } => Some(amount.as_decimal()),
        CaseEvent::RetrospectiveAdjustment { adjustment, .. } => Some(adjustment.amount),
        CaseEvent::ArrearsScheduled { amount, .. } => Some(amount.as_decimal()),
        _ => None,
    });
    prop_assert_eq!(due + account.direct_pay_due.as_decimal(), charged);
    let taken_on = total(history, |e| match e {
        CaseEvent::ArrearsScheduled {
            amount,
            reason: ArrearsReason::DirectPayMissed,
            ..
        } => Some(amount.as_decimal()),
        _ => None,
    });
    prop_assert!(taken_on <= due);
    let received = total(history, |e| match e {
        CaseEvent::PaymentReceived { to_maintenance, .. } => Some(to_maintenance.as_decimal()),
        _ => None,
    });
    prop_assert_eq!(paid, received);
    let collection_fees = total(history, |e| match e {
        CaseEvent::PaymentDue { collection_fee, .. } => Some(collection_fee.as_decimal()),
        _ => None,
    });
    prop_assert_eq!(
        account.collection_fees_charged.as_decimal(),
        collection_fees
    );
    let enforcement_fees = total(history, |e| match e {
        CaseEvent::EnforcementStepTaken { fee, .. } => Some(fee.as_decimal()),
        _ => None,
    });
    prop_assert_eq!(
        account.enforcement_fees_charged.as_decimal(),
        enforcement_fees
    );
    let mut passed = Decimal::ZERO;
    for event in history {
        if let CaseEvent::PaymentReceived {
            amount,
            to_maintenance,
            to_collection_fees,
            to_enforcement_fees,
            receiving_parent_fee,
            passed_to_receiving_parent,
            ..
        } = event
        {
            // A payment is shared out to the penny, and what the receiving parent gets is the
            // maintenance less their fee.
            prop_assert_eq!(
                amount.as_decimal(),
                to_maintenance.as_decimal()
                    + to_collection_fees.as_decimal()
                    + to_enforcement_fees.as_decimal()
            );
            prop_assert_eq!(
                passed_to_receiving_parent.as_decimal(),
                to_maintenance.as_decimal() - receiving_parent_fee.as_decimal()
            );
            passed += passed_to_receiving_parent.as_decimal();
        }
    }
    prop_assert_eq!(account.passed_to_receiving_parent.as_decimal(), passed);
    prop_assert!(history.windows(2).all(|w| w[0].date() <= w[1].date()));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn arrears_are_always_due_less_paid(
        app in application(),
        settings in settings(),
        ops in proptest::collection::vec(op(), 1..40),
    ) {
        let book = ParameterBook::statutory();
        let (mut case, opened) = CaseFile::open(app, &settings, book)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(case.history(), opened.as_slice());
        check_invariants(&case)?;
        for (serial, op) in ops.iter().enumerate() {
            let before = case.clone();
            let len = case.history().len();
            match apply(&mut case, op, serial, &settings, false) {
                Ok(events) => prop_assert_eq!(&case.history()[len..], events.as_slice()),
                // A refused request leaves the case as it was.
                Err(_) => prop_assert_eq!(&case, &before),
            }
            check_invariants(&case)?;
        }
    }

    #[test]
    fn advancing_in_one_step_or_many_gives_the_same_case_and_events(
        app in application(),
        settings in settings(),
        ops in proptest::collection::vec(op(), 1..30),
    ) {
        let book = ParameterBook::statutory();
        let (mut whole, _) = CaseFile::open(app, &settings, book)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut pieces = whole.clone();
        let mut events_whole = Vec::new();
        let mut events_pieces = Vec::new();
        for (serial, op) in ops.iter().enumerate() {
            let a = apply(&mut whole, op, serial, &settings, false);
            let b = apply(&mut pieces, op, serial, &settings, true);
            prop_assert_eq!(a.is_ok(), b.is_ok());
            events_whole.extend(a.unwrap_or_default());
            events_pieces.extend(b.unwrap_or_default());
        }
        prop_assert_eq!(&events_whole, &events_pieces);
        prop_assert_eq!(&whole, &pieces);
    }

    #[test]
    fn no_input_panics(
        date in -400_000_i32..400_000,
        children in proptest::collection::vec(".{0,3}", 0..4),
        income in proptest::option::of(0_u64..=99_999_999_999_999),
        roc in any::<u32>(),
        pending in any::<bool>(),
        settings in (settings(), 0_u32..2000, 0_u32..3).prop_map(|(mut s, w, zero)| {
            s.distress_window_weeks = w;
            if zero == 0 { s.enforcement.liability_order_application_after = 0; }
            s
        }),
        requests in proptest::collection::vec(
            (-400_000_i32..400_000, 0_u64..=99_999_999_999_999, 0_u32..=365, 0_u32..2000, 0_u8..10, ".{0,3}"),
            0..20,
        ),
    ) {
        let book = ParameterBook::statutory();
        let day = |n: i32| {
            NaiveDate::from_num_days_from_ce_opt(n.saturating_add(739_000)).unwrap_or_default()
        };
        let app = Application {
            date: day(date),
            applicant: Party::ReceivingParent,
            children: children.clone(),
            proceedings_pending: pending,
            collection: CollectionMethod::CollectAndPay,
            paying_parent_income: income.map(Money::from_pence),
            relevant_other_children: roc,
            flat_rate_benefit: false,
            employment: Employment::Employed,
        };
        let Ok((mut case, _)) = CaseFile::open(app, &settings, book) else {
            return Ok(());
        };
        let nights = |n: u32| Nights::new(n).unwrap_or(Nights::ZERO);
        for (offset, pence, n, weeks, kind, child) in requests {
            let date = day(offset);
            let money = Money::from_pence(pence);
            let _ = match kind {
                0 => case.advance_to(date, &settings, book),
                1 => case.record_payment(date, money, PaymentSource::PayingParent, &settings, book),
                2 => case.record_income(date, Some(money), IncomeSource::ReportedChange, &settings, book),
                3 => case.record_shared_care(date, &child, nights(n), EvidenceSource::Agreement, &settings, book),
                4 => case.apply_court_order(
                    date,
                    CourtOrder {
                        order_id: child.clone(),
                        made_on: day(offset.saturating_sub(i32::try_from(weeks).unwrap_or(0))),
                        is_final: n % 2 == 0,
                        nights: [(child.clone(), nights(n))].into(),
                    },
                    &settings,
                    book,
                ),
                5 => case.end_proceedings(date, ProceedingsOutcome::Dismissed, &settings, book),
                6 => case.request_pause(date, weeks, &child, &settings, book),
                7 => case.lift_pause(date, &settings, book),
                8 => case.record_contact(date, Party::PayingParent, ContactKind::Complaint, n % 2 == 0, &settings, book),
                _ => case
                    .project_liability(date, &familybridge_casework::ProposedCare {
                        nights: [(child.clone(), nights(n))].into(),
                        flip_residence: n % 3 == 0,
                        receiving_parent_income: Some(money),
                    }, &settings, book)
                    .map(|_| Vec::new()),
            };
            let _ = case.schedule(book);
            let _ = case.notify_paying_parent(date, &settings, book);
            let _ = case.make_calculation(date, &settings, book);
            let _ = case.current_calculation(book);
            check_invariants(&case)?;
        }
    }
}
