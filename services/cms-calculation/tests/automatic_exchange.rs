//! Court orders by automatic exchange, across two real services: the CMS follows the court
//! registry's feed and applies the final order's care pattern from the maintenance period in which
//! the order reaches it (its own date, once the CMS's clock gets there), with no parent reporting
//! anything.

use cms_calculation::{Config, serve};
use familybridge_casework::{ActsOn, CaseSettings, CourtOrderRoute};
use familybridge_proto::cms::v1::case_service_client::CaseServiceClient;
use familybridge_proto::cms::v1::history_entry::Event;
use familybridge_proto::cms::v1::{CaseParty, Employment, GetCaseRequest, OpenApplicationRequest};
use familybridge_proto::court::v1::court_registry_client::CourtRegistryClient;
use familybridge_proto::court::v1::{
    ChildArrangement, MakeOrderRequest, OpenCaseRequest, Party, Residence,
};
use familybridge_proto::simulation::v1::clock_client::ClockClient;
use familybridge_proto::simulation::v1::{AdvanceToRequest, SettleRequest};
use familybridge_runtime::Identity;
use familybridge_testing::channel_as;
use familybridge_testing::{TestDatabase, TestServer, on_both_backends};

fn order(id: &str, date: &str, nights_with_respondent: u32) -> MakeOrderRequest {
    MakeOrderRequest {
        client_request_id: id.to_owned(),
        case_reference: "FB1".to_owned(),
        effective_date: date.to_owned(),
        arrangements: vec![ChildArrangement {
            child_ref: "child-1".to_owned(),
            lives_with: Residence::Applicant.into(),
            nights_with_applicant: 365 - nights_with_respondent,
            nights_with_respondent,
        }],
        safeguarding_narrative: String::new(),
    }
}

async fn the_cms_applies_the_final_order_from_the_courts_feed(database: TestDatabase) {
    let court_database = TestDatabase::sqlite();
    let court_config =
        court_registry::Config::with_default_agreements(court_database.url().clone())
            .expect("default agreements");
    let court = TestServer::start(|listener, shutdown| {
        court_registry::serve(court_config, listener, shutdown)
    })
    .await;

    let mut cms_config = Config::with_defaults(database.url().clone(), court.url().to_owned())
        .expect("default configuration");
    cms_config.case_settings = CaseSettings {
        acts_on: ActsOn::FinalOrder,
        court_orders: CourtOrderRoute::Automatic,
        ..CaseSettings::default()
    };
    let cms = TestServer::start(|listener, shutdown| serve(cms_config, listener, shutdown)).await;

    // The receiving parent applies to the court, and to the CMS while proceedings are pending.
    let mut registry = CourtRegistryClient::new(channel_as(court.url(), Identity::Simulation));
    registry
        .open_case(OpenCaseRequest {
            client_request_id: "c1".to_owned(),
            case_reference: "FB1".to_owned(),
            effective_date: "2025-01-06".to_owned(),
            applicant: Some(Party {
                person_ref: "person-1".to_owned(),
            }),
            respondent: Some(Party {
                person_ref: "person-2".to_owned(),
            }),
            child_refs: vec!["child-1".to_owned()],
            ..Default::default()
        })
        .await
        .expect("open the court case");
    let mut cases = CaseServiceClient::new(channel_as(cms.url(), Identity::Simulation));
    cases
        .open_application(OpenApplicationRequest {
            client_request_id: "a1".to_owned(),
            case_reference: "CMS-1".to_owned(),
            effective_date: "2025-01-13".to_owned(),
            paying_parent_ref: "person-2".to_owned(),
            receiving_parent_ref: "person-1".to_owned(),
            applicant: CaseParty::ReceivingParent.into(),
            child_refs: vec!["child-1".to_owned()],
            proceedings_pending: true,
            gross_weekly_income: "450.00".to_owned(),
            employment: Employment::Employed.into(),
            ..Default::default()
        })
        .await
        .expect("apply to the CMS");

    registry
        .make_interim_order(order("c2", "2025-02-03", 60))
        .await
        .expect("interim order");
    registry
        .make_final_order(order("c3", "2025-07-07", 120))
        .await
        .expect("final order");

    // The CMS learns of the final order through the feed alone: once it has taken in the court's
    // feed (Settle), it applies the order when the case reaches the order's date.
    let mut clock = ClockClient::new(channel_as(cms.url(), Identity::Simulation));
    clock.settle(SettleRequest {}).await.expect("settle");
    let read = || {
        let mut cases = cases.clone();
        async move {
            cases
                .get_case(GetCaseRequest {
                    case_reference: "CMS-1".to_owned(),
                    omit_history: false,
                })
                .await
                .expect("read the case")
                .into_inner()
        }
    };
    clock
        .advance_to(AdvanceToRequest {
            date: "2025-07-06".to_owned(),
        })
        .await
        .expect("advance to the day before the order");
    assert!(
        read().await.awaiting_final_order,
        "an order is not applied before its date"
    );
    clock
        .advance_to(AdvanceToRequest {
            date: "2025-07-07".to_owned(),
        })
        .await
        .expect("advance to the order's day");
    let case = read().await;
    assert!(
        !case.awaiting_final_order,
        "the final order reached the CMS"
    );
    // Liability from the day the order reached the CMS, the order's own day under automatic
    // exchange; the child spends 120 nights with the paying parent
    // (band 2: less 2/7): £54.00 × 5/7 = £38.57 a week.
    assert_eq!(case.liability_from, "2025-07-07");
    assert_eq!(
        case.calculation.expect("a calculation").weekly_amount,
        "38.57"
    );
    assert!(
        case.history.iter().any(|entry| matches!(&entry.event,
                Some(Event::CourtOrderApplied(applied)) if applied.order_id == "FB1/order-2")),
        "the history records the order applied"
    );

    cms.stop().await;
    court.stop().await;
}

on_both_backends!(the_cms_applies_the_final_order_from_the_courts_feed);

async fn settling_while_the_court_is_down_is_unavailable_not_internal(database: TestDatabase) {
    // Nothing listens on the court's address: bind a port, then let it go.
    let vacant = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let court_url = format!("http://{}", vacant.local_addr().expect("its address"));
    drop(vacant);
    let mut cms_config =
        Config::with_defaults(database.url().clone(), court_url).expect("default configuration");
    cms_config.case_settings = CaseSettings {
        court_orders: CourtOrderRoute::Automatic,
        ..CaseSettings::default()
    };
    let cms = TestServer::start(|listener, shutdown| serve(cms_config, listener, shutdown)).await;
    let mut clock = ClockClient::new(channel_as(cms.url(), Identity::Simulation));
    let status = clock
        .settle(SettleRequest {})
        .await
        .expect_err("the court cannot be asked how far its feed goes");
    assert_eq!(
        status.code(),
        tonic::Code::Unavailable,
        "a peer that is down is worth retrying: {status:?}"
    );
    cms.stop().await;
}

on_both_backends!(settling_while_the_court_is_down_is_unavailable_not_internal);
