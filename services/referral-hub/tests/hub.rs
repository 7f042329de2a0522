//! The referral hub across the three real services (each on its own database of the test's
//! backend, each a gRPC server on port 0): distress screening leads to a flag, referrals and —
//! with pause points — a paused escalation that resumes after the review; a variation application
//! leads to a joint review whose projected liability is on the court case, and the CMS recalculates
//! from the week the variation order reaches it; with the levers off, none of this happens.
//!
//! The test drives time as the scenario runner does: commands, then `Settle` (the hub has taken in
//! everything published), then the hub's clock, then the CMS's.

use familybridge_casework::{CaseSettings, CourtOrderRoute};
use familybridge_proto::cms::v1::case_service_client::CaseServiceClient;
use familybridge_proto::cms::v1::history_entry::Event;
use familybridge_proto::cms::v1::{
    self as cms, CaseParty, ContactKind, Employment, EnforcementStepKind, GetCaseRequest,
    HistoryEntry, MakeCalculationRequest, NotifyPayingParentRequest, OpenApplicationRequest,
    RecordContactRequest,
};
use familybridge_proto::court::v1::court_registry_client::CourtRegistryClient;
use familybridge_proto::court::v1::{
    self as court, ApplyToVaryRequest, ChildArrangement, MakeOrderRequest, OpenCaseRequest, Party,
    Residence,
};
use familybridge_proto::referral::v1::referral_hub_client::ReferralHubClient;
use familybridge_proto::referral::v1::{
    JointReview, JointReviewStatus, ListJointReviewsRequest, ListPauseRequestsRequest,
    ListReferralsRequest, Pathway, PauseRequest, Referral,
};
use familybridge_proto::simulation::v1::clock_client::ClockClient;
use familybridge_proto::simulation::v1::{AdvanceToRequest, SettleRequest};
use familybridge_runtime::Identity;
use familybridge_storage::Backend;
use familybridge_testing::CallerChannel;
use familybridge_testing::{TestBackend, TestDatabase, TestServer, on_both_backends};
use referral_hub::{DEFAULT_HUB_SETTINGS, HubSettings};

/// The three agencies, running.
struct Agencies {
    // Kept so that the servers and their databases live as long as the test.
    _servers: Vec<TestServer>,
    _databases: Vec<TestDatabase>,
    hub_server: Option<TestServer>,
    hub_config: referral_hub::Config,
    court: CourtRegistryClient<CallerChannel>,
    cms: CaseServiceClient<CallerChannel>,
    hub: ReferralHubClient<CallerChannel>,
    cms_clock: ClockClient<CallerChannel>,
    hub_clock: ClockClient<CallerChannel>,
}

/// The hub's shipped settings with the named levers switched on, the CMS following the court's
/// feed.
fn hub_settings(screening_and_pauses: bool, joint_reviews: bool) -> HubSettings {
    let mut settings = HubSettings::from_toml_str(DEFAULT_HUB_SETTINGS).expect("shipped settings");
    settings.court_orders = CourtOrderRoute::Automatic;
    settings.screening.enabled = screening_and_pauses;
    settings.pauses.enabled = screening_and_pauses;
    settings.joint_reviews.enabled = joint_reviews;
    settings
}

async fn start(database: TestDatabase, settings: HubSettings) -> Agencies {
    let backend = match database.url().backend() {
        Backend::Sqlite => TestBackend::Sqlite,
        Backend::Postgres => TestBackend::Postgres,
    };
    let court_database = TestDatabase::new(backend).await;
    let cms_database = TestDatabase::new(backend).await;

    let court_config =
        court_registry::Config::with_default_agreements(court_database.url().clone())
            .expect("court defaults");
    let court = TestServer::start(|listener, shutdown| {
        court_registry::serve(court_config, listener, shutdown)
    })
    .await;
    let mut cms_config =
        cms_calculation::Config::with_defaults(cms_database.url().clone(), court.url().to_owned())
            .expect("CMS defaults");
    cms_config.case_settings = CaseSettings {
        court_orders: CourtOrderRoute::Automatic,
        ..CaseSettings::default()
    };
    let cms = TestServer::start(|listener, shutdown| {
        cms_calculation::serve(cms_config, listener, shutdown)
    })
    .await;
    let mut hub_config = referral_hub::Config::with_defaults(
        database.url().clone(),
        court.url().to_owned(),
        cms.url().to_owned(),
    )
    .expect("hub defaults");
    hub_config.settings = settings;
    let hub = start_hub(hub_config.clone()).await;

    let channel = |server: &TestServer| server.channel_as(Identity::Simulation);
    Agencies {
        court: CourtRegistryClient::new(channel(&court)),
        cms: CaseServiceClient::new(channel(&cms)),
        hub: ReferralHubClient::new(channel(&hub)),
        cms_clock: ClockClient::new(channel(&cms)),
        hub_clock: ClockClient::new(channel(&hub)),
        _servers: vec![court, cms],
        _databases: vec![court_database, cms_database, database],
        hub_server: Some(hub),
        hub_config,
    }
}

async fn start_hub(config: referral_hub::Config) -> TestServer {
    TestServer::start(|listener, shutdown| referral_hub::serve(config, listener, shutdown)).await
}

impl Agencies {
    /// Stops the hub and starts it again on its database (on another port).
    async fn restart_hub(&mut self) {
        if let Some(server) = self.hub_server.take() {
            server.stop().await;
        }
        let server = start_hub(self.hub_config.clone()).await;
        let channel = server.channel_as(Identity::Simulation);
        self.hub = ReferralHubClient::new(channel.clone());
        self.hub_clock = ClockClient::new(channel);
        self.hub_server = Some(server);
    }

    /// One simulation step ending on `date`: both services settle, then the hub acts, then the
    /// CMS's time-driven work runs.
    async fn step_to(&mut self, date: &str) {
        self.cms_clock
            .settle(SettleRequest {})
            .await
            .expect("the CMS settles");
        self.hub_clock
            .settle(SettleRequest {})
            .await
            .expect("the hub settles");
        for clock in [&mut self.hub_clock, &mut self.cms_clock] {
            clock
                .advance_to(AdvanceToRequest {
                    date: date.to_owned(),
                })
                .await
                .expect("the clock moves");
        }
    }

    async fn open_cms_case(&mut self) {
        self.cms
            .open_application(OpenApplicationRequest {
                client_request_id: "apply".to_owned(),
                case_reference: "CMS-1".to_owned(),
                effective_date: "2025-01-06".to_owned(),
                paying_parent_ref: "person-p".to_owned(),
                receiving_parent_ref: "person-r".to_owned(),
                applicant: CaseParty::ReceivingParent.into(),
                child_refs: vec!["child-1".to_owned()],
                proceedings_pending: false,
                collect_and_pay: true,
                gross_weekly_income: "600.00".to_owned(),
                relevant_other_children: 0,
                flat_rate_benefit: false,
                employment: Employment::Employed.into(),
            })
            .await
            .expect("the CMS opens the case");
        // The CMS notifies the paying parent and calculates at once.
        self.cms
            .notify_paying_parent(NotifyPayingParentRequest {
                client_request_id: "notify".to_owned(),
                case_reference: "CMS-1".to_owned(),
                effective_date: "2025-01-06".to_owned(),
            })
            .await
            .expect("the CMS notifies the paying parent");
        self.cms
            .make_calculation(MakeCalculationRequest {
                client_request_id: "calculate".to_owned(),
                case_reference: "CMS-1".to_owned(),
                effective_date: "2025-01-06".to_owned(),
            })
            .await
            .expect("the CMS calculates");
    }

    async fn distressed_call(&mut self, id: &str, date: &str) {
        self.cms
            .record_contact(RecordContactRequest {
                client_request_id: id.to_owned(),
                case_reference: "CMS-1".to_owned(),
                effective_date: date.to_owned(),
                party: CaseParty::PayingParent.into(),
                kind: ContactKind::Call.into(),
                distressed: true,
            })
            .await
            .expect("the contact is logged");
    }

    async fn referrals(&mut self, person_ref: &str) -> Vec<Referral> {
        self.hub
            .list_referrals(ListReferralsRequest {
                person_ref: person_ref.to_owned(),
                ..Default::default()
            })
            .await
            .expect("referrals")
            .into_inner()
            .referrals
    }

    async fn pauses(&mut self) -> Vec<PauseRequest> {
        self.hub
            .list_pause_requests(ListPauseRequestsRequest::default())
            .await
            .expect("pauses")
            .into_inner()
            .pauses
    }

    async fn reviews(&mut self) -> Vec<JointReview> {
        self.hub
            .list_joint_reviews(ListJointReviewsRequest::default())
            .await
            .expect("reviews")
            .into_inner()
            .reviews
    }

    async fn cms_history(&mut self) -> Vec<HistoryEntry> {
        self.cms
            .get_case(GetCaseRequest {
                case_reference: "CMS-1".to_owned(),
                omit_history: false,
            })
            .await
            .expect("the CMS case")
            .into_inner()
            .history
    }
}

/// The dates on which the regular deduction order was held by a pause (`held`), or taken.
fn deduction_order_steps(history: &[HistoryEntry], held: bool) -> Vec<String> {
    let regular_deduction = EnforcementStepKind::RegularDeductionOrder as i32;
    history
        .iter()
        .filter(|entry| match &entry.event {
            Some(Event::EnforcementPaused(paused)) => held && paused.step == regular_deduction,
            Some(Event::EnforcementStepTaken(taken)) => !held && taken.step == regular_deduction,
            _ => false,
        })
        .map(|entry| entry.date.clone())
        .collect()
}

/// A paying parent who never pays and twice calls the CMS in distress, through the first half of
/// 2025, stepping the clocks as the runner does.
async fn distress_journey(agencies: &mut Agencies) {
    agencies.open_cms_case().await;
    agencies.step_to("2025-03-09").await;
    agencies.distressed_call("call-1", "2025-03-10").await;
    agencies.distressed_call("call-2", "2025-03-17").await;
    agencies.step_to("2025-03-17").await;
    for date in ["2025-04-14", "2025-05-12", "2025-06-09", "2025-07-07"] {
        agencies.step_to(date).await;
    }
}

async fn distress_leads_to_referrals_and_a_paused_escalation_that_resumes(database: TestDatabase) {
    let mut agencies = start(database, hub_settings(true, false)).await;
    distress_journey(&mut agencies).await;

    let referrals = agencies.referrals("person-p").await;
    let pathways: Vec<Pathway> = referrals
        .iter()
        .map(|referral| referral.pathway())
        .collect();
    // Two distressed calls within the window flag the parent; they had missed payments by then.
    assert_eq!(pathways, [Pathway::MentalHealth, Pathway::DebtAdvice]);
    assert!(
        referrals
            .iter()
            .all(|referral| referral.made_on == "2025-03-17")
    );

    let pauses = agencies.pauses().await;
    assert_eq!(pauses.len(), 1, "{pauses:?}");
    let pause = &pauses[0];
    assert_eq!(
        (pause.starts_on.as_str(), pause.review_on.as_str()),
        ("2025-03-17", "2025-05-12")
    );
    assert!(
        pause.reviewed,
        "the review at the end of the pause was held"
    );

    // The regular deduction order fell due during the pause and was held, then was taken at the
    // first due date after the review.
    let history = agencies.cms_history().await;
    let held = deduction_order_steps(&history, true);
    let taken = deduction_order_steps(&history, false);
    assert!(
        !held.is_empty()
            && held
                .iter()
                .all(|date| date.as_str() >= "2025-03-17" && date.as_str() < "2025-05-12"),
        "held during the pause: {held:?}"
    );
    assert!(
        taken.len() == 1 && taken[0].as_str() >= "2025-05-12",
        "taken after the review: {taken:?}"
    );
}

async fn with_the_levers_off_distress_changes_nothing(database: TestDatabase) {
    let mut agencies = start(database, hub_settings(false, false)).await;
    distress_journey(&mut agencies).await;
    let referrals = agencies.referrals("").await;
    assert!(referrals.is_empty(), "{referrals:?}");
    let pauses = agencies.pauses().await;
    assert!(pauses.is_empty(), "{pauses:?}");
    let history = agencies.cms_history().await;
    assert!(deduction_order_steps(&history, true).is_empty());
    let taken = deduction_order_steps(&history, false);
    assert!(
        taken.len() == 1 && taken[0].as_str() < "2025-05-12",
        "taken on schedule: {taken:?}"
    );
}

fn arrangement(nights_with_paying_parent: u32) -> Vec<ChildArrangement> {
    vec![ChildArrangement {
        child_ref: "child-1".to_owned(),
        lives_with: Residence::Applicant.into(),
        nights_with_applicant: 365 - nights_with_paying_parent,
        nights_with_respondent: nights_with_paying_parent,
    }]
}

fn order(id: &str, date: &str, nights_with_paying_parent: u32) -> MakeOrderRequest {
    MakeOrderRequest {
        client_request_id: id.to_owned(),
        case_reference: "FB1".to_owned(),
        effective_date: date.to_owned(),
        arrangements: arrangement(nights_with_paying_parent),
        safeguarding_narrative: "never shared".to_owned(),
    }
}

/// The receiving parent goes to court and to the CMS; a final order gives the paying parent 65
/// nights; half a year on the paying parent applies for 165 nights (another shared-care band), and
/// the court grants it.
async fn variation_journey(agencies: &mut Agencies) -> court::Case {
    agencies
        .court
        .open_case(OpenCaseRequest {
            client_request_id: "open".to_owned(),
            case_reference: "FB1".to_owned(),
            effective_date: "2025-01-06".to_owned(),
            applicant: Some(Party {
                person_ref: "person-r".to_owned(),
            }),
            respondent: Some(Party {
                person_ref: "person-p".to_owned(),
            }),
            child_refs: vec!["child-1".to_owned()],
            welfare_flags: None,
            safeguarding_narrative: "never shared".to_owned(),
        })
        .await
        .expect("the court opens the case");
    agencies.open_cms_case().await;
    agencies
        .court
        .make_final_order(order("final", "2025-02-03", 65))
        .await
        .expect("the final order");
    agencies.step_to("2025-02-09").await;
    agencies
        .court
        .apply_to_vary(ApplyToVaryRequest {
            client_request_id: "vary".to_owned(),
            case_reference: "FB1".to_owned(),
            effective_date: "2025-06-02".to_owned(),
            applied_by: Some(Party {
                person_ref: "person-p".to_owned(),
            }),
            proposed_arrangements: arrangement(165),
        })
        .await
        .expect("the application to vary");
    agencies.step_to("2025-06-08").await;
    let before_decision = agencies
        .court
        .get_case(court::GetCaseRequest {
            case_reference: "FB1".to_owned(),
        })
        .await
        .expect("the court case")
        .into_inner();
    agencies
        .court
        .make_variation_order(order("varied", "2025-07-07", 165))
        .await
        .expect("the variation order");
    agencies.step_to("2025-07-13").await;
    before_decision
}

async fn a_variation_application_is_reviewed_jointly_and_the_cms_follows_the_decision(
    database: TestDatabase,
) {
    let mut agencies = start(database, hub_settings(false, true)).await;
    let court_case = variation_journey(&mut agencies).await;

    // The court saw the CMS's projection before deciding.
    assert_eq!(court_case.review_findings.len(), 1, "{court_case:?}");
    let findings = &court_case.review_findings[0];
    assert_eq!(findings.cms_case_reference, "CMS-1");
    assert_eq!(findings.projected_payer_ref, "person-p");
    assert_eq!(findings.attached_on, "2025-06-08");
    assert!(!findings.roles_flip);

    let reviews = agencies.reviews().await;
    assert_eq!(reviews.len(), 1, "{reviews:?}");
    let review = &reviews[0];
    assert_eq!(review.status(), JointReviewStatus::ConcludedVaried);
    assert_eq!(review.decided_by_order_id, "FB1/order-2");
    assert_eq!(
        review.projected_weekly_amount,
        findings.projected_weekly_amount
    );
    assert_ne!(review.projected_weekly_amount, review.current_weekly_amount);

    // The CMS applied the variation from the maintenance period in which the court's event reached
    // it (the order's own day, by automatic exchange), and now charges what was projected.
    let history = agencies.cms_history().await;
    assert!(
        history.iter().any(|entry| matches!(&entry.event,
                Some(Event::CourtOrderApplied(applied))
                    if applied.order_id == "FB1/order-2" && applied.made_on == "2025-07-07")),
        "{history:?}"
    );
    let case = agencies
        .cms
        .get_case(cms::GetCaseRequest {
            case_reference: "CMS-1".to_owned(),
            omit_history: true,
        })
        .await
        .expect("the CMS case")
        .into_inner();
    assert!(case.history.is_empty(), "asked without its history");
    let weekly = case
        .calculation
        .map(|calculation| calculation.weekly_amount)
        .unwrap_or_default();
    assert_eq!(weekly, review.projected_weekly_amount);
    assert!(
        history.iter().any(|entry| matches!(&entry.event,
                Some(Event::CalculationRevised(revised))
                    if revised.effective_from.as_str() >= "2025-07-07"
                        && revised.weekly_amount == review.projected_weekly_amount)),
        "the revision charges the projected {}: {history:?}",
        review.projected_weekly_amount
    );
}

async fn without_joint_reviews_the_court_sees_no_findings(database: TestDatabase) {
    let mut agencies = start(database, hub_settings(false, false)).await;
    let court_case = variation_journey(&mut agencies).await;
    assert!(court_case.review_findings.is_empty(), "{court_case:?}");
    let reviews = agencies.reviews().await;
    assert!(reviews.is_empty(), "{reviews:?}");
}

/// The hub stops after taking the distressed contacts into its inbox and before acting on them;
/// started again on its database, it acts on them exactly as if it had never stopped.
async fn a_hub_restarted_between_taking_in_and_acting_loses_nothing(database: TestDatabase) {
    let mut agencies = start(database, hub_settings(true, false)).await;
    agencies.open_cms_case().await;
    agencies.step_to("2025-03-09").await;
    agencies.distressed_call("call-1", "2025-03-10").await;
    agencies.distressed_call("call-2", "2025-03-17").await;
    agencies
        .hub_clock
        .settle(SettleRequest {})
        .await
        .expect("the hub takes the contacts in");
    agencies.restart_hub().await;
    agencies.step_to("2025-03-17").await;
    for date in ["2025-04-14", "2025-05-12", "2025-06-09", "2025-07-07"] {
        agencies.step_to(date).await;
    }
    let pathways: Vec<Pathway> = agencies
        .referrals("person-p")
        .await
        .iter()
        .map(|referral| referral.pathway())
        .collect();
    assert_eq!(pathways, [Pathway::MentalHealth, Pathway::DebtAdvice]);
    let pauses = agencies.pauses().await;
    assert_eq!(pauses.len(), 1, "one pause, not two: {pauses:?}");
    assert!(pauses[0].reviewed);
}

on_both_backends!(
    distress_leads_to_referrals_and_a_paused_escalation_that_resumes,
    a_hub_restarted_between_taking_in_and_acting_loses_nothing,
    with_the_levers_off_distress_changes_nothing,
    a_variation_application_is_reviewed_jointly_and_the_cms_follows_the_decision,
    without_joint_reviews_the_court_sees_no_findings,
);

#[test]
fn every_migration_file_is_embedded() {
    familybridge_testing::assert_embeds_every_migration(
        &referral_hub::MIGRATIONS,
        env!("CARGO_MANIFEST_DIR"),
    );
}
