//! CMS cases over gRPC, on both backends, with real dates and amounts worked by hand.
//!
//! The base case: an application on Monday 6 January 2025 for one child, the paying parent employed
//! on £450 a week: 12% = £54.00 a week. Unless a test says otherwise the CMS notifies the paying
//! parent and calculates the same day, so instalments fall due every 28 days from 6 January, each
//! for the four weeks before it: 3 Feb, 3 Mar, 31 Mar, 28 Apr, 26 May, 23 Jun, 21 Jul 2025 …

use familybridge_runtime::Identity;
use familybridge_testing::CallerChannel;
use std::time::Duration;

use cms_calculation::{Config, serve};
use familybridge_casework::{ActsOn, CaseSettings};
use familybridge_feed::{AgencyId, DateWindow, FeedClient};
use familybridge_proto::cms::v1 as cms;
use familybridge_proto::cms::v1::case_batch_entry::Request as BatchRequest;
use familybridge_proto::cms::v1::case_batch_outcome::Outcome;
use familybridge_proto::cms::v1::case_service_client::CaseServiceClient;
use familybridge_proto::cms::v1::{
    CalculationMade, CaseParty, CaseResponse, ChildNights, ContactKind, Employment,
    EnforcementStep, EvidenceSource, GetCaseRequest, HistoryEntry, IncomeSource,
    LiftEnforcementPauseRequest, MakeCalculationRequest, NotifyPayingParentRequest,
    OpenApplicationRequest, PaymentSource, ProjectLiabilityRequest, RecordContactRequest,
    RecordIncomeRequest, RecordPaymentRequest, RecordSharedCareRequest, ReportCourtOrderRequest,
    RequestEnforcementPauseRequest,
};
use familybridge_proto::common::v1::{Event, feed_message};
use familybridge_proto::simulation::v1::AdvanceToRequest;
use familybridge_proto::simulation::v1::clock_client::ClockClient;
use familybridge_testing::{TestDatabase, TestServer, on_both_backends};
use prost::Name;
use tokio_stream::StreamExt;
use tonic::Code;

async fn start_cms(database: &TestDatabase, acts_on: ActsOn) -> TestServer {
    let mut config = Config::with_defaults(database.url().clone(), "http://127.0.0.1:1".to_owned())
        .expect("default configuration");
    config.case_settings = CaseSettings {
        acts_on,
        ..CaseSettings::default()
    };
    TestServer::start(|listener, shutdown| serve(config, listener, shutdown)).await
}

async fn clients(
    server: &TestServer,
) -> (CaseServiceClient<CallerChannel>, ClockClient<CallerChannel>) {
    let channel = server.channel_as(Identity::Simulation);
    (
        CaseServiceClient::new(channel.clone()),
        ClockClient::new(channel),
    )
}

fn application(id: &str, income: &str, children: &[&str], pending: bool) -> OpenApplicationRequest {
    OpenApplicationRequest {
        client_request_id: id.to_owned(),
        case_reference: "CMS-1".to_owned(),
        effective_date: "2025-01-06".to_owned(),
        paying_parent_ref: "person-2".to_owned(),
        receiving_parent_ref: "person-1".to_owned(),
        applicant: CaseParty::ReceivingParent.into(),
        child_refs: children.iter().map(|child| (*child).to_owned()).collect(),
        proceedings_pending: pending,
        gross_weekly_income: income.to_owned(),
        employment: Employment::Employed.into(),
        ..Default::default()
    }
}

/// The CMS notifies the paying parent of case CMS-1 and calculates, both on `date`.
async fn notify_and_calculate(
    cases: &mut CaseServiceClient<CallerChannel>,
    id: &str,
    date: &str,
) -> CaseResponse {
    cases
        .notify_paying_parent(NotifyPayingParentRequest {
            client_request_id: format!("{id}/notify"),
            case_reference: "CMS-1".to_owned(),
            effective_date: date.to_owned(),
        })
        .await
        .expect("notify the paying parent");
    cases
        .make_calculation(MakeCalculationRequest {
            client_request_id: format!("{id}/calculate"),
            case_reference: "CMS-1".to_owned(),
            effective_date: date.to_owned(),
        })
        .await
        .expect("calculate")
        .into_inner()
}

fn final_order(
    id: &str,
    reported: &str,
    made_on: &str,
    nights: &[(&str, u32)],
) -> ReportCourtOrderRequest {
    ReportCourtOrderRequest {
        client_request_id: id.to_owned(),
        case_reference: "CMS-1".to_owned(),
        effective_date: reported.to_owned(),
        order_id: "FB1/order-2".to_owned(),
        made_on: made_on.to_owned(),
        is_final: true,
        nights: nights
            .iter()
            .map(|(child, nights)| ChildNights {
                child_ref: (*child).to_owned(),
                nights: *nights,
            })
            .collect(),
    }
}

async fn advance(clock: &mut ClockClient<CallerChannel>, date: &str) {
    clock
        .advance_to(AdvanceToRequest {
            date: date.to_owned(),
        })
        .await
        .expect("advance the clock");
}

/// The CMS's events as the referral hub receives them, until `expected` have arrived.
async fn hub_events(server: &TestServer, expected: usize) -> Vec<Event> {
    let mut client = FeedClient::connect(server.url().to_owned(), AgencyId::ReferralHub)
        .await
        .expect("connect to the feed");
    let mut stream = client.subscribe("").await.expect("subscribe");
    let mut events = Vec::new();
    while events.len() < expected {
        let message = tokio::time::timeout(Duration::from_secs(30), stream.next())
            .await
            .expect("the feed answers")
            .expect("the feed stays open")
            .expect("a feed message");
        if let Some(feed_message::Message::Event(event)) = message.message {
            events.push(event);
        }
    }
    events
}

fn payloads<M: prost::Message + Name + Default>(events: &[Event]) -> Vec<M> {
    events
        .iter()
        .filter(|event| event.event_type == M::full_name())
        .map(|event| {
            event
                .payload
                .as_ref()
                .expect("a payload")
                .to_msg()
                .expect("decodes")
        })
        .collect()
}

async fn liability_runs_from_the_notice_to_the_paying_parent(database: TestDatabase) {
    let server = start_cms(&database, ActsOn::Application).await;
    let (mut cases, _) = clients(&server).await;
    let opened = cases
        .open_application(application("a1", "450.00", &["child-1"], true))
        .await
        .expect("open")
        .into_inner()
        .case
        .expect("the case");
    assert_eq!(opened.stage, "awaiting_calculation");
    assert_eq!(opened.liability_from, "");
    // Notified on Monday 13 January, calculated the same day: liability from the notice.
    let case = notify_and_calculate(&mut cases, "a2", "2025-01-13")
        .await
        .case
        .expect("the case");
    assert_eq!(case.stage, "live");
    assert!(!case.awaiting_final_order);
    assert_eq!(case.liability_from, "2025-01-13");
    assert_eq!(case.effective_date, "2025-01-13");
    let answered = case.calculation.clone().expect("a calculation");
    assert_eq!(answered.weekly_amount, "54.00");
    assert!(
        answered.explanation.is_empty(),
        "a command's answer gives the amounts, not their explanation"
    );
    // GetCase explains the same calculation, with or without the history.
    for omit_history in [false, true] {
        let read = cases
            .get_case(GetCaseRequest {
                case_reference: "CMS-1".to_owned(),
                omit_history,
            })
            .await
            .expect("read the case")
            .into_inner()
            .calculation
            .expect("a calculation");
        assert!(!read.explanation.is_empty(), "GetCase explains it");
        assert_eq!(
            cms::CalculateResponse {
                explanation: Vec::new(),
                ..read
            },
            answered,
            "the same amounts"
        );
    }
    let next = case.next_instalment.expect("an instalment");
    assert_eq!(
        (next.due.as_str(), next.amount.as_str(), next.collected),
        ("2025-02-10", "216.00", false)
    );
    server.stop().await;
}

/// Delayed CMS involvement on Collect and Pay: nothing until the final order is reported on
/// 7 July 2025, then liability from `liability_from`, with `arrears` scheduled over 26
/// instalments, `part` in each.
async fn delayed_involvement(
    database: TestDatabase,
    acts_on: ActsOn,
    liability_from: &str,
    arrears: &str,
    part: &str,
) {
    let server = start_cms(&database, acts_on).await;
    let (mut cases, _) = clients(&server).await;
    let mut collected = application("d1", "450.00", &["child-1"], true);
    collected.collect_and_pay = true;
    let opened = cases
        .open_application(collected)
        .await
        .expect("open")
        .into_inner()
        .case
        .expect("the case");
    assert!(opened.awaiting_final_order);
    assert_eq!(opened.liability_from, "");
    assert_eq!(opened.calculation, None);
    let notified = cases
        .notify_paying_parent(NotifyPayingParentRequest {
            client_request_id: "d2".to_owned(),
            case_reference: "CMS-1".to_owned(),
            effective_date: "2025-01-13".to_owned(),
        })
        .await
        .expect("notify")
        .into_inner()
        .case
        .expect("the case");
    assert_eq!(
        (notified.stage.as_str(), notified.effective_date.as_str()),
        ("deferred", "2025-01-13")
    );
    let refused = cases
        .make_calculation(MakeCalculationRequest {
            client_request_id: "d3".to_owned(),
            case_reference: "CMS-1".to_owned(),
            effective_date: "2025-02-24".to_owned(),
        })
        .await
        .expect_err("the CMS waits for the proceedings");
    assert_eq!(refused.code(), Code::FailedPrecondition);

    let case = cases
        .report_court_order(final_order(
            "d4",
            "2025-07-07",
            "2025-07-01",
            &[("child-1", 0)],
        ))
        .await
        .expect("report the final order")
        .into_inner()
        .case
        .expect("the case");
    assert!(!case.awaiting_final_order);
    assert_eq!(case.liability_from, liability_from);
    assert_eq!(
        case.calculation.expect("a calculation").weekly_amount,
        "54.00"
    );
    assert_eq!(case.account.expect("an account").arrears, arrears);
    assert_eq!(case.next_instalment.expect("an instalment").arrears, part);
    let events = hub_events(&server, 1).await;
    let calculations = payloads::<CalculationMade>(&events);
    assert_eq!(calculations[0].liability_from, liability_from);
    server.stop().await;
}

async fn delayed_involvement_starts_when_the_cms_is_told_of_the_final_order(
    database: TestDatabase,
) {
    delayed_involvement(database, ActsOn::FinalOrder, "2025-07-07", "0.00", "0.00").await;
}

async fn backdating_to_todays_effective_date_schedules_the_weeks_since_the_notice(
    database: TestDatabase,
) {
    // From 13 Jan, six instalments fell due by 6 July (10 Feb … 30 Jun): 24 × £54.00 = £1,296.00,
    // over 26 instalments: £49.846… → £49.85 each.
    delayed_involvement(
        database,
        ActsOn::FinalOrderBackdatedToEffectiveDate,
        "2025-01-13",
        "1296.00",
        "49.85",
    )
    .await;
}

async fn backdating_to_the_application_schedules_the_weeks_since_it(database: TestDatabase) {
    // From 6 Jan, six instalments fell due by 6 July (3 Feb … 23 Jun): 24 × £54.00 again.
    delayed_involvement(
        database,
        ActsOn::FinalOrderBackdatedToApplication,
        "2025-01-06",
        "1296.00",
        "49.85",
    )
    .await;
}

async fn a_final_order_reported_late_applies_from_the_week_it_is_reported(database: TestDatabase) {
    let server = start_cms(&database, ActsOn::Application).await;
    let (mut cases, mut clock) = clients(&server).await;
    // Two children on £600: 16% = £96.00 a week, £384.00 an instalment.
    cases
        .open_application(application("l1", "600.00", &["child-1", "child-2"], false))
        .await
        .expect("open");
    notify_and_calculate(&mut cases, "l1", "2025-01-06").await;
    advance(&mut clock, "2025-03-10").await;
    // The order, made on the day of the application, puts child-1 at 80 nights (band 1: less 1/7)
    // and child-2 at 180 (band 4: half, and £7 more): £48 × 6/7 + (£24 − £7) = £58.14 a week. It
    // is reported on Monday 10 March, so it applies from that week: the weeks already charged stay
    // as they were (supersession, CSA 1991 s.17(4)).
    let case = cases
        .report_court_order(final_order(
            "l2",
            "2025-03-10",
            "2025-01-06",
            &[("child-1", 80), ("child-2", 180)],
        ))
        .await
        .expect("report the order")
        .into_inner()
        .case
        .expect("the case");
    assert_eq!(
        case.calculation.expect("a calculation").weekly_amount,
        "58.14"
    );
    let account = case.account.expect("an account");
    assert_eq!(account.retrospective_adjustments, "0.00");
    // Direct Pay: two instalments of £384.00 charged, unseen by the CMS.
    assert_eq!(account.direct_pay_due, "768.00");
    // The instalment due 31 March covers 3 Mar (£96.00) and three weeks at £58.14: £270.42.
    assert_eq!(
        case.next_instalment.expect("an instalment").maintenance,
        "270.42"
    );
    server.stop().await;
}

async fn escalation_is_held_by_a_pause_and_resumes_after_it(database: TestDatabase) {
    let server = start_cms(&database, ActsOn::Application).await;
    let (mut cases, mut clock) = clients(&server).await;
    let mut collected = application("e1", "450.00", &["child-1"], false);
    collected.collect_and_pay = true;
    cases.open_application(collected).await.expect("open");
    notify_and_calculate(&mut cases, "e1", "2025-01-06").await;
    cases
        .record_contact(RecordContactRequest {
            client_request_id: "e2".to_owned(),
            case_reference: "CMS-1".to_owned(),
            effective_date: "2025-03-20".to_owned(),
            party: CaseParty::PayingParent.into(),
            kind: ContactKind::Call.into(),
            distressed: true,
        })
        .await
        .expect("log a distressed call");
    // Only the referral hub pauses enforcement.
    CaseServiceClient::new(server.channel_as(AgencyId::ReferralHub.into()))
        .request_enforcement_pause(RequestEnforcementPauseRequest {
            client_request_id: "e3".to_owned(),
            case_reference: "CMS-1".to_owned(),
            effective_date: "2025-03-25".to_owned(),
            weeks: 8,
            reason: "distress".to_owned(),
        })
        .await
        .expect("pause until 20 May");
    advance(&mut clock, "2025-07-01").await;

    // Nothing is ever paid. Missed instalments: 3 Feb (1), 3 Mar (2: deduction from earnings
    // order), 31 Mar (3), 28 Apr (4: a regular deduction order, held by the pause, while the
    // distressed call of 20 March is within 8 weeks), 26 May (5: the pause has ended, the held
    // step is taken), 23 Jun (6: the application for a liability order).
    let events = hub_events(&server, 1 + 1 + 6 + 4).await;
    let steps: Vec<(String, bool, bool)> = payloads::<EnforcementStep>(&events)
        .into_iter()
        .map(|step| (step.step, step.paused, step.parent_flagged_distressed))
        .collect();
    assert_eq!(
        steps,
        [
            ("deduction_from_earnings_order".to_owned(), false, false),
            ("regular_deduction_order".to_owned(), true, true),
            ("regular_deduction_order".to_owned(), false, false),
            ("liability_order_application".to_owned(), false, false),
        ]
    );
    let case = cases
        .get_case(GetCaseRequest {
            case_reference: "CMS-1".to_owned(),
            omit_history: false,
        })
        .await
        .expect("read")
        .into_inner();
    assert_eq!(case.enforcement_stage, "liability_order_application");
    assert_eq!(case.consecutive_missed, 6);
    assert_eq!(case.deduction, "account");
    // Six instalments of £216.00; collection fees of 6 × £43.20 on them; enforcement fees of £50
    // + £50 (the liability order's £300 falls due when it is granted).
    let account = case.account.expect("an account");
    assert_eq!(account.arrears, "1296.00");
    assert_eq!(account.collection_fees_charged, "259.20");
    assert_eq!(account.enforcement_fees_charged, "100.00");
    server.stop().await;
}

async fn a_projection_shows_the_liability_under_a_proposal_and_changes_nothing(
    database: TestDatabase,
) {
    let server = start_cms(&database, ActsOn::Application).await;
    let (mut cases, _) = clients(&server).await;
    cases
        .open_application(application("p1", "600.00", &["child-1", "child-2"], false))
        .await
        .expect("open");
    notify_and_calculate(&mut cases, "p1", "2025-01-06").await;
    let reader = cases.clone();
    let read = || {
        let mut cases = reader.clone();
        async move {
            cases
                .get_case(GetCaseRequest {
                    case_reference: "CMS-1".to_owned(),
                    omit_history: false,
                })
                .await
                .expect("read")
                .into_inner()
        }
    };
    let before = read().await;
    let project = |nights: [(&str, u32); 2], flip: bool| ProjectLiabilityRequest {
        case_reference: "CMS-1".to_owned(),
        effective_date: "2025-02-01".to_owned(),
        proposed_nights: nights
            .iter()
            .map(|(child, nights)| ChildNights {
                child_ref: (*child).to_owned(),
                nights: *nights,
            })
            .collect(),
        flip_residence: flip,
        receiving_parent_income: "300.00".to_owned(),
    };
    // £96.00 a week today; with child-1 at 180 nights: £48 + (£24 − £7) = £65.00.
    let shared = cases
        .project_liability(project([("child-1", 180), ("child-2", 0)], false))
        .await
        .expect("project")
        .into_inner();
    assert_eq!(shared.payer_ref, "person-2");
    assert!(!shared.roles_flip);
    assert_eq!(
        (
            shared.weekly_amount.as_str(),
            shared.current_weekly_amount.as_str()
        ),
        ("65.00", "96.00")
    );
    // Both children to live with the paying parent, 115 nights a year with the other: the
    // receiving parent (£300, 16% = £48.00) would pay, less 2/7 for each child: 2 × £24 × 5/7.
    let flipped = cases
        .project_liability(project([("child-1", 250), ("child-2", 250)], true))
        .await
        .expect("project")
        .into_inner();
    assert!(flipped.roles_flip);
    assert_eq!(flipped.payer_ref, "person-1");
    assert_eq!(flipped.weekly_amount, "34.29");

    assert_eq!(read().await, before, "a projection changes nothing");
    server.stop().await;
}

async fn income_evidence_and_payments_follow_the_rules_over_a_year(database: TestDatabase) {
    let server = start_cms(&database, ActsOn::Application).await;
    let (mut cases, mut clock) = clients(&server).await;
    let mut collected = application("y1", "450.00", &["child-1"], false);
    collected.collect_and_pay = true;
    cases.open_application(collected).await.expect("open");
    notify_and_calculate(&mut cases, "y1", "2025-01-06").await;
    let weekly = |response: tonic::Response<CaseResponse>| {
        response
            .into_inner()
            .case
            .and_then(|case| case.calculation)
            .map(|calculation| calculation.weekly_amount)
            .unwrap_or_default()
    };
    let income = |id: &str, date: &str, amount: &str, source: IncomeSource| RecordIncomeRequest {
        client_request_id: id.to_owned(),
        case_reference: "CMS-1".to_owned(),
        effective_date: date.to_owned(),
        gross_weekly_income: amount.to_owned(),
        source: source.into(),
    };
    let care = |id: &str, date: &str, source: EvidenceSource| RecordSharedCareRequest {
        client_request_id: id.to_owned(),
        case_reference: "CMS-1".to_owned(),
        effective_date: date.to_owned(),
        child_ref: "child-1".to_owned(),
        nights: 150,
        source: source.into(),
    };
    // £450 → £500 is 11%: under the 25% rule, ignored between reviews.
    let ignored = cases
        .record_income(income(
            "y2",
            "2025-02-10",
            "500.00",
            IncomeSource::ReportedChange,
        ))
        .await
        .expect("report £500");
    assert_eq!(weekly(ignored), "54.00");
    // £450 → £600 is 33%: applied. 12% of £600 = £72.00.
    let applied = cases
        .record_income(income(
            "y3",
            "2025-03-10",
            "600.00",
            IncomeSource::ReportedChange,
        ))
        .await
        .expect("report £600");
    assert_eq!(weekly(applied), "72.00");
    // The paying parent's word of 150 nights is disputed: the CMS assumes 52 (band 1, less 1/7):
    // £72 × 6/7 = £61.71.
    let word = cases
        .record_shared_care(care("y4", "2025-03-17", EvidenceSource::ParentsWord))
        .await
        .expect("the parent's word");
    assert_eq!(weekly(word), "61.71");
    // An agreement outranks it: 150 nights is band 2, less 2/7: £72 × 5/7 = £51.43.
    let agreed = cases
        .record_shared_care(care("y5", "2025-03-24", EvidenceSource::Agreement))
        .await
        .expect("an agreement");
    assert_eq!(weekly(agreed), "51.43");
    // Collect and Pay on a £100 payment, with two instalments of £216 unpaid: it pays maintenance
    // first, so £4 is taken from the receiving parent's £100 and no collection fee is paid; the
    // fee has accrued on liability, 20% of each £216.
    let paid = cases
        .record_payment(RecordPaymentRequest {
            client_request_id: "y6".to_owned(),
            case_reference: "CMS-1".to_owned(),
            effective_date: "2025-03-31".to_owned(),
            amount: "100.00".to_owned(),
            source: PaymentSource::PayingParent.into(),
        })
        .await
        .expect("a payment")
        .into_inner();
    let account = paid.case.and_then(|case| case.account).expect("an account");
    assert_eq!(account.collection_fees_charged, "86.40");
    assert_eq!(account.collection_fees_paid, "0.00");
    assert_eq!(account.receiving_parent_collection_fees, "4.00");
    assert_eq!(account.passed_to_receiving_parent, "96.00");
    // A figure for the annual review waits for it (the anniversary, 6 January 2026): then £700,
    // 12% = £84.00, less 2/7 = £60.00.
    let held = cases
        .record_income(income(
            "y7",
            "2025-06-02",
            "700.00",
            IncomeSource::AnnualReview,
        ))
        .await
        .expect("a figure for the review");
    assert_eq!(weekly(held), "51.43");
    advance(&mut clock, "2026-01-12").await;
    let reviewed = cases
        .get_case(GetCaseRequest {
            case_reference: "CMS-1".to_owned(),
            omit_history: false,
        })
        .await
        .expect("read")
        .into_inner();
    assert_eq!(
        reviewed.calculation.expect("a calculation").weekly_amount,
        "60.00"
    );
    assert!(
        reviewed
            .history
            .iter()
            .any(|entry| entry.kind == "annual_review")
    );
    server.stop().await;
}

/// Each history entry as the API shows it.
async fn history_of(cases: &mut CaseServiceClient<CallerChannel>) -> Vec<HistoryEntry> {
    cases
        .get_case(GetCaseRequest {
            case_reference: "CMS-1".to_owned(),
            omit_history: false,
        })
        .await
        .expect("read the case")
        .into_inner()
        .history
}

/// Case CMS-1 applied for, calculated on 2025-01-06 and two months on (the CMS's clock at
/// 2025-03-10), with its history as `GetCase` reads it then.
async fn two_months_into_a_case(
    database: &TestDatabase,
) -> (
    TestServer,
    CaseServiceClient<CallerChannel>,
    ClockClient<CallerChannel>,
    Vec<HistoryEntry>,
) {
    let server = start_cms(database, ActsOn::Application).await;
    let (mut cases, mut clock) = clients(&server).await;
    cases
        .open_application(application("h1", "450.00", &["child-1"], false))
        .await
        .expect("apply");
    notify_and_calculate(&mut cases, "h1", "2025-01-06").await;
    advance(&mut clock, "2025-03-10").await;
    let history = history_of(&mut cases).await;
    assert!(
        history.len() >= 4,
        "application, notice, calculation, instalments: {history:?}"
    );
    (server, cases, clock, history)
}

async fn the_history_is_appended_apart_and_an_older_record_moves_its_own_there(
    database: TestDatabase,
) {
    let (server, mut cases, mut clock, history) = two_months_into_a_case(&database).await;

    let db = database
        .connect(&[
            familybridge_feed::MIGRATIONS,
            cms_calculation::cases::store::MIGRATIONS,
        ])
        .await;
    let rows = |db: familybridge_storage::Database| async move {
        familybridge_storage::sqlx::query_scalar::<_, String>(
            "SELECT entry FROM cms_case_history WHERE case_reference = 'CMS-1' ORDER BY position",
        )
        .fetch_all(db.pool())
        .await
        .expect("read the history rows")
    };
    let record = |db: familybridge_storage::Database| async move {
        familybridge_storage::sqlx::query_scalar::<_, String>(
            "SELECT record FROM cms_cases WHERE case_reference = 'CMS-1'",
        )
        .fetch_one(db.pool())
        .await
        .expect("read the record")
    };
    let stored = rows(db.clone()).await;
    assert_eq!(stored.len(), history.len(), "a row per entry");
    let mut json: serde_json::Value =
        serde_json::from_str(&record(db.clone()).await).expect("the record is JSON");
    assert!(
        json["file"].get("history").is_none(),
        "the record does not carry the history"
    );

    // A record saved before the history had a table of its own holds it inline, with no rows.
    let entries: Vec<serde_json::Value> = stored
        .iter()
        .map(|text| serde_json::from_str(text).expect("an entry is JSON"))
        .collect();
    json["file"]["history"] = serde_json::Value::Array(entries);
    json["history_stored"] = serde_json::Value::from(0);
    familybridge_storage::sqlx::query("DELETE FROM cms_case_history")
        .execute(db.pool())
        .await
        .expect("forget the rows");
    familybridge_storage::sqlx::query("UPDATE cms_cases SET record = $1")
        .bind(json.to_string())
        .execute(db.pool())
        .await
        .expect("store the record as it was");
    assert_eq!(
        history_of(&mut cases).await,
        history,
        "read from the record"
    );

    // Its next save (the clock's move to the next instalment) moves the history to the table, and
    // appends what happens after it.
    advance(&mut clock, "2025-04-07").await;
    let after = history_of(&mut cases).await;
    assert_eq!(
        after[..history.len()],
        history[..],
        "nothing lost or reordered"
    );
    assert!(
        after.len() > history.len(),
        "the instalment is in the history"
    );
    assert_eq!(rows(db.clone()).await.len(), after.len());
    let json: serde_json::Value =
        serde_json::from_str(&record(db.clone()).await).expect("the record is JSON");
    assert!(json["file"].get("history").is_none());
    db.close().await;
    server.stop().await;
}

/// A batch's reads of whole histories are loaded together, before its first entry: each still
/// answers what `GetCase` alone would, with what the batch has done by then, and a case the CMS
/// does not have is refused on its own.
async fn a_batch_reads_whole_histories_as_get_case_does(database: TestDatabase) {
    let (server, mut cases, _clock, before) = two_months_into_a_case(&database).await;

    let read = |reference: &str| cms::CaseBatchEntry {
        request: Some(BatchRequest::GetCase(GetCaseRequest {
            case_reference: reference.to_owned(),
            omit_history: false,
        })),
        trace: None,
    };
    let contact = cms::CaseBatchEntry {
        request: Some(BatchRequest::RecordContact(RecordContactRequest {
            client_request_id: "batch/contact".to_owned(),
            case_reference: "CMS-1".to_owned(),
            effective_date: "2025-03-12".to_owned(),
            party: CaseParty::PayingParent.into(),
            kind: ContactKind::Call.into(),
            distressed: false,
        })),
        trace: None,
    };
    let outcomes = cases
        .execute_batch(cms::CaseBatchRequest {
            entries: vec![read("CMS-1"), contact, read("CMS-1"), read("CMS-9")],
        })
        .await
        .expect("a batch")
        .into_inner()
        .outcomes;
    let history = |index: usize| match &outcomes[index].outcome {
        Some(Outcome::Answer(answer)) => answer.case.clone().expect("a case").history,
        other => panic!("entry {index} answered {other:?}"),
    };
    assert_eq!(history(0), before, "the history before the contact");
    let after = history(2);
    assert_eq!(
        after[..before.len()],
        before[..],
        "nothing lost or reordered"
    );
    assert!(
        after[before.len()..]
            .iter()
            .any(|entry| entry.kind == "contact_logged"),
        "the contact the batch recorded before the read: {after:?}"
    );
    match &outcomes[3].outcome {
        Some(Outcome::Refusal(refusal)) => {
            assert_eq!(refusal.code, Code::NotFound as i32, "{refusal:?}");
        }
        other => panic!("no case CMS-9, but {other:?}"),
    }
    assert_eq!(history_of(&mut cases).await, after, "as GetCase reads it");
    server.stop().await;
}

on_both_backends!(
    a_batch_reads_whole_histories_as_get_case_does,
    the_history_is_appended_apart_and_an_older_record_moves_its_own_there,
    income_evidence_and_payments_follow_the_rules_over_a_year,
    a_projection_shows_the_liability_under_a_proposal_and_changes_nothing,
    liability_runs_from_the_notice_to_the_paying_parent,
    delayed_involvement_starts_when_the_cms_is_told_of_the_final_order,
    backdating_to_todays_effective_date_schedules_the_weeks_since_the_notice,
    backdating_to_the_application_schedules_the_weeks_since_it,
    a_final_order_reported_late_applies_from_the_week_it_is_reported,
    escalation_is_held_by_a_pause_and_resumes_after_it,
);

fn expect<T: std::fmt::Debug>(
    result: Result<tonic::Response<T>, tonic::Status>,
    code: Code,
    start: &str,
) {
    let status = result.expect_err("refused");
    assert_eq!(status.code(), code, "{status:?}");
    assert!(status.message().starts_with(start), "{start}: {status:?}");
}

#[tokio::test]
async fn a_command_dated_years_from_the_cms_clock_is_refused() {
    let database = TestDatabase::sqlite();
    let server = start_cms(&database, ActsOn::Application).await;
    let (mut cases, mut clock) = clients(&server).await;
    advance(&mut clock, "2037-01-05").await;
    // Twelve years before the clock: the first clock move would put it years in arrears.
    expect(
        cases
            .open_application(application("w1", "450.00", &["child-1"], false))
            .await,
        Code::InvalidArgument,
        "effective_date: 2025-01-06 is more than 366 days from the service's simulated date",
    );
    let mut far_ahead = application("w2", "450.00", &["child-1"], false);
    far_ahead.effective_date = "2039-01-05".to_owned();
    expect(
        cases.open_application(far_ahead).await,
        Code::InvalidArgument,
        "effective_date:",
    );
    let mut this_week = application("w3", "450.00", &["child-1"], false);
    this_week.effective_date = "2037-01-06".to_owned();
    cases
        .open_application(this_week)
        .await
        .expect("a date near the clock is taken");
    server.stop().await;
}

#[tokio::test]
async fn the_date_window_is_the_one_configured() {
    let database = TestDatabase::sqlite();
    let mut config = Config::with_defaults(database.url().clone(), "http://127.0.0.1:1".to_owned())
        .expect("default configuration");
    config.commands.date_window = DateWindow::days(30).expect("a window");
    let server = TestServer::start(|listener, shutdown| serve(config, listener, shutdown)).await;
    let (mut cases, mut clock) = clients(&server).await;
    advance(&mut clock, "2025-02-06").await;
    // 31 days before the clock: outside a 30-day window, though well inside the default's.
    expect(
        cases
            .open_application(application("d1", "450.00", &["child-1"], false))
            .await,
        Code::InvalidArgument,
        "effective_date: 2025-01-06 is more than 30 days from the service's simulated date",
    );
    let mut within = application("d2", "450.00", &["child-1"], false);
    within.effective_date = "2025-01-07".to_owned();
    cases
        .open_application(within)
        .await
        .expect("30 days before the clock is inside the window");
    server.stop().await;
}

#[tokio::test]
async fn bad_requests_name_the_field_and_retries_change_nothing() {
    let database = TestDatabase::sqlite();
    let server = start_cms(&database, ActsOn::Application).await;
    let (mut cases, _) = clients(&server).await;
    let first = cases
        .open_application(application("b1", "450.00", &["child-1"], false))
        .await
        .expect("open")
        .into_inner();
    let retried = cases
        .open_application(application("b1", "450.00", &["child-1"], false))
        .await
        .expect("a retry is answered")
        .into_inner();
    assert_eq!(retried, first);

    let mut missing_payer = application("b2", "450.00", &["child-1"], false);
    missing_payer.case_reference = "CMS-2".to_owned();
    missing_payer.paying_parent_ref.clear();
    expect(
        cases.open_application(missing_payer).await,
        Code::InvalidArgument,
        "paying_parent_ref:",
    );
    // Input is bounded and strict, as at every agency: references follow the court's rule, ids
    // are short and printable, dates are exactly YYYY-MM-DD, and a refusal quotes only a short
    // prefix of a bad value.
    let huge = "x".repeat(1_000_000);
    let bounded = |what: &str, change: &dyn Fn(&mut OpenApplicationRequest), field: &str| {
        let mut request = application("b-bounded", "450.00", &["child-1"], false);
        request.case_reference = "CMS-9".to_owned();
        change(&mut request);
        (what.to_owned(), request, field.to_owned())
    };
    for (what, request, field) in [
        bounded(
            "a case reference of a megabyte",
            &|r| r.case_reference = huge.clone(),
            "case_reference:",
        ),
        bounded(
            "a case reference with a newline",
            &|r| r.case_reference = "CMS\n9".to_owned(),
            "case_reference:",
        ),
        bounded(
            "a person reference with a NUL",
            &|r| r.paying_parent_ref = "p\u{0}".to_owned(),
            "paying_parent_ref:",
        ),
        bounded(
            "a lone space as a person",
            &|r| r.receiving_parent_ref = " ".to_owned(),
            "receiving_parent_ref:",
        ),
        bounded(
            "a bidi override in a child",
            &|r| r.child_refs = vec!["\u{202e}c".to_owned()],
            "child_refs[0]:",
        ),
        bounded(
            "a request id of a megabyte",
            &|r| r.client_request_id = huge.clone(),
            "client_request_id:",
        ),
        bounded(
            "a date with a sign",
            &|r| r.effective_date = "+2025-01-06".to_owned(),
            "effective_date:",
        ),
        bounded(
            "a one-digit month",
            &|r| r.effective_date = "2025-1-06".to_owned(),
            "effective_date:",
        ),
    ] {
        let status = cases.open_application(request).await.expect_err(&what);
        assert_eq!(status.code(), Code::InvalidArgument, "{what}: {status:?}");
        assert!(status.message().starts_with(&field), "{what}: {status:?}");
        assert!(
            status.message().len() < 300,
            "{what}: a message of {} bytes",
            status.message().len()
        );
    }
    let mut bad_income = application("b3", "4,50", &["child-1"], false);
    bad_income.case_reference = "CMS-3".to_owned();
    expect(
        cases.open_application(bad_income).await,
        Code::InvalidArgument,
        "gross_weekly_income:",
    );
    let mut no_work = application("b3b", "450.00", &["child-1"], false);
    no_work.case_reference = "CMS-4".to_owned();
    no_work.employment = Employment::Unspecified.into();
    expect(
        cases.open_application(no_work).await,
        Code::InvalidArgument,
        "employment:",
    );
    notify_and_calculate(&mut cases, "b1", "2025-01-06").await;
    let payment = |id: &str, source: PaymentSource| RecordPaymentRequest {
        client_request_id: id.to_owned(),
        case_reference: "CMS-1".to_owned(),
        effective_date: "2025-01-20".to_owned(),
        amount: "54.00".to_owned(),
        source: source.into(),
    };
    expect(
        cases
            .record_payment(payment("b3c", PaymentSource::Unspecified))
            .await,
        Code::InvalidArgument,
        "source:",
    );
    // The CMS does not see Direct Pay payments.
    expect(
        cases
            .record_payment(payment("b3d", PaymentSource::PayingParent))
            .await,
        Code::FailedPrecondition,
        "not possible now",
    );
    expect(
        cases
            .report_court_order(final_order(
                "b4",
                "2025-02-01",
                "2025-02-01",
                &[("child-1", 400)],
            ))
            .await,
        Code::InvalidArgument,
        "nights[0].nights:",
    );
    expect(
        cases
            .report_court_order(final_order(
                "b5",
                "2024-12-01",
                "2024-12-01",
                &[("child-1", 10)],
            ))
            .await,
        Code::InvalidArgument,
        "effective_date:",
    );
    expect(
        CaseServiceClient::new(server.channel_as(AgencyId::ReferralHub.into()))
            .lift_enforcement_pause(LiftEnforcementPauseRequest {
                client_request_id: "b6".to_owned(),
                case_reference: "CMS-1".to_owned(),
                effective_date: "2025-02-01".to_owned(),
            })
            .await,
        Code::FailedPrecondition,
        "not possible now",
    );
    expect(
        cases
            .get_case(GetCaseRequest {
                case_reference: "CMS-9".to_owned(),
                omit_history: false,
            })
            .await,
        Code::NotFound,
        "case_reference:",
    );
    server.stop().await;
}

#[test]
fn every_migration_file_is_embedded() {
    familybridge_testing::assert_embeds_every_migration(
        &cms_calculation::cases::store::MIGRATIONS,
        env!("CARGO_MANIFEST_DIR"),
    );
}
