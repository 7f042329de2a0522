//! One family's journey is one trace across the three agencies: the three real services in this
//! process (the court registry on PostgreSQL, the CMS on the automatic court-order route and the
//! hub with joint reviews on SQLite), exporting over OTLP to the project's own receiver on port 0,
//! driven as the runner drives them — commands, `Settle`, clocks.
//!
//! A court's final order, the CMS applying it (and recalculating) and the hub's reaction to the
//! recalculation share one trace id, come from the three services by name, with each span's parent
//! the span that caused it; a variation application's joint review calls the CMS and the court in
//! the same trace; batched work links to its batch; and each service's metrics arrive too.
//!
//! This binary installs the process's telemetry, which is global: it holds this one test.

use std::collections::BTreeSet;
use std::time::Duration;

use familybridge_casework::CourtOrderRoute;
use familybridge_otlp_sink::{OtlpSink, ReceivedSpan};
use familybridge_proto::cms::v1::case_service_client::CaseServiceClient;
use familybridge_proto::cms::v1::{self as cms, CaseParty, OpenApplicationRequest};
use familybridge_proto::court::v1::court_registry_client::CourtRegistryClient;
use familybridge_proto::court::v1::{
    ApplyToVaryRequest, ChildArrangement, MakeOrderRequest, OpenCaseRequest, Party, Residence,
};
use familybridge_proto::simulation::v1::clock_client::ClockClient;
use familybridge_proto::simulation::v1::{AdvanceToRequest, SettleRequest};
use familybridge_runtime::{
    Identity, Telemetry, TelemetryConfig, TracedChannel, flush_telemetry, traced,
};
use familybridge_testing::{TestDatabase, TestServer};
use referral_hub::{DEFAULT_HUB_SETTINGS, HubSettings};
use tonic::transport::Channel;

/// How long spans may take to arrive once flushed: far more than they need.
const ARRIVAL: Duration = Duration::from_secs(30);

const COURT: &str = "court-registry";
const CMS: &str = "cms-calculation";
const HUB: &str = "referral-hub";

struct Agencies {
    court: CourtRegistryClient<TracedChannel>,
    cms: CaseServiceClient<TracedChannel>,
    cms_clock: ClockClient<TracedChannel>,
    hub_clock: ClockClient<TracedChannel>,
    servers: Vec<TestServer>,
    _databases: Vec<TestDatabase>,
}

async fn start() -> Agencies {
    let court_database = TestDatabase::postgres().await;
    let cms_database = TestDatabase::sqlite();
    let hub_database = TestDatabase::sqlite();
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
    cms_config.case_settings.court_orders = CourtOrderRoute::Automatic;
    let cms = TestServer::start(|listener, shutdown| {
        cms_calculation::serve(cms_config, listener, shutdown)
    })
    .await;
    let mut hub_config = referral_hub::Config::with_defaults(
        hub_database.url().clone(),
        court.url().to_owned(),
        cms.url().to_owned(),
    )
    .expect("hub defaults");
    let mut settings = HubSettings::from_toml_str(DEFAULT_HUB_SETTINGS).expect("shipped settings");
    settings.joint_reviews.enabled = true;
    settings.court_orders = CourtOrderRoute::Automatic;
    hub_config.settings = settings;
    let hub =
        TestServer::start(|listener, shutdown| referral_hub::serve(hub_config, listener, shutdown))
            .await;
    let channel = |server: &TestServer| {
        traced(
            Channel::from_shared(server.url().to_owned())
                .expect("a URL")
                .connect_lazy(),
            Identity::Simulation,
        )
    };
    Agencies {
        court: CourtRegistryClient::new(channel(&court)),
        cms: CaseServiceClient::new(channel(&cms)),
        cms_clock: ClockClient::new(channel(&cms)),
        hub_clock: ClockClient::new(channel(&hub)),
        servers: vec![court, cms, hub],
        _databases: vec![court_database, cms_database, hub_database],
    }
}

impl Agencies {
    /// One simulation step ending on `date`, as the runner takes it.
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
        safeguarding_narrative: String::new(),
    }
}

/// The receiving parent goes to court and, with proceedings pending, to the CMS; an interim order
/// gives the paying parent 60 nights, the final order 110 (another shared-care band); later the
/// paying parent applies to vary to 165 nights, which the hub reviews jointly.
async fn journey(agencies: &mut Agencies) {
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
            safeguarding_narrative: String::new(),
        })
        .await
        .expect("the court opens the case");
    agencies
        .cms
        .open_application(OpenApplicationRequest {
            client_request_id: "apply".to_owned(),
            case_reference: "CMS-1".to_owned(),
            effective_date: "2025-01-06".to_owned(),
            paying_parent_ref: "person-p".to_owned(),
            receiving_parent_ref: "person-r".to_owned(),
            applicant: CaseParty::ReceivingParent.into(),
            child_refs: vec!["child-1".to_owned()],
            proceedings_pending: true,
            collect_and_pay: true,
            gross_weekly_income: "600.00".to_owned(),
            relevant_other_children: 0,
            flat_rate_benefit: false,
            employment: cms::Employment::Employed.into(),
        })
        .await
        .expect("the CMS opens the case");
    // The CMS notifies the paying parent and calculates at once, so the orders revise a
    // calculation.
    agencies
        .cms
        .notify_paying_parent(cms::NotifyPayingParentRequest {
            client_request_id: "notify".to_owned(),
            case_reference: "CMS-1".to_owned(),
            effective_date: "2025-01-06".to_owned(),
        })
        .await
        .expect("the CMS notifies the paying parent");
    agencies
        .cms
        .make_calculation(cms::MakeCalculationRequest {
            client_request_id: "calculate".to_owned(),
            case_reference: "CMS-1".to_owned(),
            effective_date: "2025-01-06".to_owned(),
        })
        .await
        .expect("the CMS calculates");
    agencies.step_to("2025-01-12").await;
    agencies
        .court
        .make_interim_order(order("interim", "2025-01-20", 60))
        .await
        .expect("the interim order");
    agencies.step_to("2025-01-26").await;
    agencies
        .court
        .make_final_order(order("final", "2025-02-03", 110))
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
}

/// The one span of `service` named `name` in `trace` (any trace when `None`).
fn find<'a>(
    spans: &'a [ReceivedSpan],
    service: &str,
    name: &str,
    trace: Option<&str>,
) -> Option<&'a ReceivedSpan> {
    spans.iter().find(|span| {
        span.service_name == service
            && span.name == name
            && trace.is_none_or(|trace| span.trace_id == trace)
    })
}

/// The span `span_id`, wherever it is.
fn by_id<'a>(spans: &'a [ReceivedSpan], span_id: &str) -> Option<&'a ReceivedSpan> {
    spans.iter().find(|span| span.span_id == span_id)
}

/// Asserts that `child`'s parent is `parent`, naming both when it is not.
fn assert_parent(spans: &[ReceivedSpan], child: &ReceivedSpan, parent: &ReceivedSpan) {
    assert_eq!(
        child.parent_span_id,
        parent.span_id,
        "the parent of {} {:?} is {:?}, not {} {:?}",
        child.service_name,
        child.name,
        by_id(spans, &child.parent_span_id).map(|span| (&span.service_name, &span.name)),
        parent.service_name,
        parent.name
    );
    assert_eq!(child.trace_id, parent.trace_id);
}

/// Asserts that `span` links to a span of `service` named `batch`.
fn assert_linked_to(spans: &[ReceivedSpan], span: &ReceivedSpan, service: &str, batch: &str) {
    let linked: Vec<(&str, &str)> = span
        .links
        .iter()
        .filter_map(|link| by_id(spans, &link.span_id))
        .map(|linked| (linked.service_name.as_str(), linked.name.as_str()))
        .collect();
    assert!(
        linked.contains(&(service, batch)),
        "{} {:?} links to {linked:?}, not to {service} {batch:?}",
        span.service_name,
        span.name
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_final_order_the_cms_recalculation_and_the_hubs_reaction_are_one_trace() {
    let sink = OtlpSink::start().await.expect("the OTLP sink starts");
    let telemetry = Telemetry::install(
        "familybridge-tests",
        Some(TelemetryConfig::otlp(sink.url(), "familybridge-tests")),
    )
    .expect("telemetry installs");
    assert!(telemetry.is_exporting());
    let mut agencies = start().await;
    journey(&mut agencies).await;
    flush_telemetry().await;

    // The court's final order, and in its trace the CMS's application of it and the hub's
    // reaction to the CMS's recalculation.
    const FINAL_ORDER: &str = "familybridge.court.v1.CourtRegistry/MakeFinalOrder";
    const APPLY_CARE: &str = "apply familybridge.court.v1.SharedCareDetermined";
    const ACT_ON_CALCULATION: &str = "act on familybridge.cms.v1.CalculationMade";
    let spans = sink
        .wait_for(
            "final order's trace with the CMS's and the hub's spans",
            ARRIVAL,
            |spans| {
                let order = find(spans, COURT, FINAL_ORDER, None)?;
                let trace = Some(order.trace_id.as_str());
                find(spans, CMS, APPLY_CARE, trace)?;
                find(spans, HUB, ACT_ON_CALCULATION, trace)?;
                Some(spans.to_vec())
            },
        )
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    let order = find(&spans, COURT, FINAL_ORDER, None).expect("found above");
    let trace = Some(order.trace_id.as_str());
    let in_trace: BTreeSet<&str> = spans
        .iter()
        .filter(|span| span.trace_id == order.trace_id)
        .map(|span| span.service_name.as_str())
        .collect();
    assert_eq!(
        in_trace,
        BTreeSet::from([CMS, COURT, HUB]),
        "the services in the final order's trace"
    );
    assert!(
        order.parent_span_id.is_empty(),
        "the test's call was not traced, so the court's span begins the trace"
    );

    // The CMS took the court's event in, then applied it when its clock reached the order's date
    // (part of the clock move's batch of due work), recalculating and publishing in that span.
    let received = find(
        &spans,
        CMS,
        "receive familybridge.court.v1.SharedCareDetermined",
        trace,
    )
    .expect("the CMS's taking in of the order");
    assert_parent(&spans, received, order);
    let applied = find(&spans, CMS, APPLY_CARE, trace).expect("found above");
    assert_parent(&spans, applied, order);
    assert_linked_to(&spans, applied, CMS, "cms.due_work");

    // The hub acted on the recalculation the CMS published, and on the court's final order.
    let reacted = find(&spans, HUB, ACT_ON_CALCULATION, trace).expect("found above");
    assert_parent(&spans, reacted, applied);
    assert_linked_to(&spans, reacted, HUB, "hub.act");
    let ended = find(
        &spans,
        HUB,
        "act on familybridge.court.v1.FinalOrderMade",
        trace,
    )
    .expect("the hub's note that proceedings ended");
    assert_parent(&spans, ended, order);

    // The joint review of the application to vary: the hub's calls to the CMS and the court
    // continue the application's trace, their parent the hub's span.
    const VARY: &str = "familybridge.court.v1.CourtRegistry/ApplyToVary";
    let spans = sink
        .wait_for("the joint review's calls", ARRIVAL, |spans| {
            let vary = find(spans, COURT, VARY, None)?;
            let trace = Some(vary.trace_id.as_str());
            find(
                spans,
                COURT,
                "familybridge.court.v1.CourtRegistry/AttachReviewFindings",
                trace,
            )?;
            Some(spans.to_vec())
        })
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    let vary = find(&spans, COURT, VARY, None).expect("found above");
    let trace = Some(vary.trace_id.as_str());
    assert_ne!(
        vary.trace_id, order.trace_id,
        "each action is a trace of its own"
    );
    let review = find(
        &spans,
        HUB,
        "act on familybridge.court.v1.VariationAppliedFor",
        trace,
    )
    .expect("the hub's review");
    assert_parent(&spans, review, vary);
    let projection = find(
        &spans,
        CMS,
        "familybridge.cms.v1.CaseService/ProjectLiability",
        trace,
    )
    .expect("the CMS's projection");
    assert_parent(&spans, projection, review);
    let findings = find(
        &spans,
        COURT,
        "familybridge.court.v1.CourtRegistry/AttachReviewFindings",
        trace,
    )
    .expect("found above");
    assert_parent(&spans, findings, review);

    // Each service's metrics: calls counted and timed, batches and the feeds' lag.
    let metrics: BTreeSet<(String, String)> = sink
        .metrics()
        .into_iter()
        .map(|metric| (metric.service_name, metric.name))
        .collect();
    for service in [COURT, CMS, HUB] {
        assert!(
            metrics.contains(&(service.to_owned(), "rpc.server.call.duration".to_owned())),
            "{service} exported no call durations: {metrics:?}"
        );
    }
    for service in [CMS, HUB] {
        for metric in ["familybridge.batch.size", "familybridge.feed.lag"] {
            assert!(
                metrics.contains(&(service.to_owned(), metric.to_owned())),
                "{service} exported no {metric}: {metrics:?}"
            );
        }
    }

    for server in agencies.servers {
        server.stop().await;
    }
    tokio::task::spawn_blocking(move || telemetry.shutdown())
        .await
        .expect("telemetry shuts down");
    sink.stop().await.expect("the sink stops cleanly");
}
