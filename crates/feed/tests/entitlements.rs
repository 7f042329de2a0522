//! Data-sharing agreements enforced by a real EventFeed server on both backends: who may subscribe,
//! which events and fields each agency receives, and the disclosure audit log (listed and counted).

mod support;

use familybridge_feed::{AgencyId, FeedClient, TraceContext};
use familybridge_proto::cms::v1::{CalculateRequest, ReceivingParent};
use familybridge_proto::common::v1::event_feed_client::EventFeedClient;
use familybridge_proto::common::v1::{
    Agency, CountDisclosuresRequest, Disclosure, Event, ListDisclosuresRequest, SubscribeRequest,
};
use familybridge_proto::simulation::v1::AdvanceToResponse;
use familybridge_runtime::{IDENTITY_HEADER, Identity};
use familybridge_storage::sqlx;
use familybridge_testing::channel_as;
use familybridge_testing::{TestDatabase, on_both_backends};
use support::*;
use tonic::Code;

fn full_calculation() -> CalculateRequest {
    CalculateRequest {
        gross_weekly_income: "517.81".to_owned(),
        relevant_other_children: 2,
        flat_rate_benefit: false,
        receiving_parents: vec![
            ReceivingParent {
                child_nights: vec![52, 104],
            },
            ReceivingParent {
                child_nights: vec![0],
            },
        ],
        as_of: String::new(),
        collect_and_pay: true,
        income_not_provided: false,
        nil_rate_category: 0,
        proposal: "fees-2027".to_owned(),
    }
}

fn payload<M: prost::Message + prost::Name + Default>(event: &Event) -> M {
    event
        .payload
        .as_ref()
        .expect("a payload")
        .to_msg()
        .expect("the payload is the event's type")
}

async fn list(client: &mut FeedClient, request: ListDisclosuresRequest) -> Vec<Disclosure> {
    client
        .list_disclosures(request)
        .await
        .expect("list disclosures")
        .disclosures
}

async fn each_agency_receives_only_its_permitted_fields_and_each_disclosure_is_audited_once(
    database: TestDatabase,
) {
    let court = feed_of(&database, AgencyId::CourtRegistry).await;
    let trace = TraceContext::default();
    let first = publish(&court, "FB-1", &trace, &full_calculation()).await;
    let advanced = publish(
        &court,
        "FB-1",
        &trace,
        &AdvanceToResponse {
            previous_date: "2025-03-01".to_owned(),
            current_date: "2025-04-01".to_owned(),
        },
    )
    .await;
    let no_income = CalculateRequest {
        income_not_provided: true,
        as_of: "2025-04-01".to_owned(),
        receiving_parents: vec![ReceivingParent {
            child_nights: vec![7],
        }],
        ..CalculateRequest::default()
    };
    let second = publish(&court, "FB-2", &trace, &no_income).await;
    let server = serve(&court, agreements(), options()).await;

    // The CMS gets the calculation requests, stripped to income, nights and date...
    let mut cms = FeedClient::connect(server.url().to_owned(), AgencyId::Cms)
        .await
        .expect("connect");
    let mut stream = cms.subscribe("").await.expect("subscribe");
    let received = events(&mut stream, 2).await;
    let ids: Vec<&str> = received
        .iter()
        .map(|event| event.event_id.as_str())
        .collect();
    assert_eq!(ids, [first.event_id.as_str(), second.event_id.as_str()]);
    assert_eq!(
        payload::<CalculateRequest>(&received[0]),
        CalculateRequest {
            gross_weekly_income: "517.81".to_owned(),
            receiving_parents: full_calculation().receiving_parents,
            ..CalculateRequest::default()
        }
    );
    assert_eq!(
        payload::<CalculateRequest>(&received[1]),
        CalculateRequest {
            as_of: "2025-04-01".to_owned(),
            receiving_parents: no_income.receiving_parents.clone(),
            ..CalculateRequest::default()
        },
        "income_not_provided is not the CMS's to see here"
    );
    // Recorded before they were sent: they are in the log the moment they have arrived.
    let recorded = list(
        &mut cms,
        ListDisclosuresRequest {
            recipient: Agency::Cms.into(),
            ..ListDisclosuresRequest::default()
        },
    )
    .await;
    assert_eq!(recorded.len(), 2, "{recorded:?}");
    assert_eq!(
        received[0].event_type,
        "familybridge.cms.v1.CalculateRequest"
    );
    assert_eq!(received[0].sequence, 1);
    // ...and is told, once caught up, that the clock event it may not see is behind it too.
    let last = received[1].cursor.clone();
    assert!(until_caught_up(&mut stream, &last).await.is_empty());

    // The hub gets the clock event alone, stripped to the new date.
    let mut hub = FeedClient::connect(server.url().to_owned(), AgencyId::ReferralHub)
        .await
        .expect("connect");
    let mut stream = hub.subscribe("").await.expect("subscribe");
    let received = until_caught_up(&mut stream, &last).await;
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(received[0].event_id, advanced.event_id);
    assert_eq!(received[0].sequence, 2);
    assert_eq!(
        payload::<AdvanceToResponse>(&received[0]),
        AdvanceToResponse {
            previous_date: String::new(),
            current_date: "2025-04-01".to_owned(),
        }
    );

    // Every delivery is in the audit log, with the fields actually sent and the agreement's terms.
    // The audit log, as an auditor reads it: every disclosure to every agency.
    let mut auditor = FeedClient::connect(server.url().to_owned(), Identity::Auditor)
        .await
        .expect("connect");
    let disclosures = list(&mut auditor, ListDisclosuresRequest::default()).await;
    let summary: Vec<(i32, &str, Vec<&str>)> = disclosures
        .iter()
        .map(|disclosure| {
            (
                disclosure.recipient,
                disclosure.event_id.as_str(),
                disclosure.fields.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                i32::from(Agency::Cms),
                first.event_id.as_str(),
                vec!["gross_weekly_income", "receiving_parents.child_nights"]
            ),
            (
                i32::from(Agency::Cms),
                second.event_id.as_str(),
                vec!["as_of", "receiving_parents.child_nights"]
            ),
            (
                i32::from(Agency::ReferralHub),
                advanced.event_id.as_str(),
                vec!["current_date"]
            ),
        ]
    );
    let to_cms = &disclosures[0];
    assert_eq!(to_cms.purpose, "Calculate child maintenance");
    assert_eq!(to_cms.legal_basis, "Child Support Act 1991 s.14");
    assert_eq!(to_cms.event_type, "familybridge.cms.v1.CalculateRequest");
    assert_eq!(to_cms.stream, "FB-1");
    assert_eq!(to_cms.effective_date, "2025-04-01");
    assert!(
        chrono::DateTime::parse_from_rfc3339(&to_cms.disclosed_at).is_ok(),
        "{}",
        to_cms.disclosed_at
    );
    assert_eq!(disclosures[2].purpose, "Refer parents to support");

    // A redelivery is not a second disclosure, but it is recorded against the first.
    assert!(
        disclosures
            .iter()
            .all(|disclosure| disclosure.redeliveries == 0)
    );
    let mut stream = cms.subscribe("").await.expect("subscribe again");
    assert_eq!(events(&mut stream, 2).await.len(), 2);
    assert!(until_caught_up(&mut stream, &last).await.is_empty());
    let after_redelivery = list(&mut auditor, ListDisclosuresRequest::default()).await;
    let redelivered: Vec<(i32, u32)> = after_redelivery
        .iter()
        .map(|disclosure| (disclosure.recipient, disclosure.redeliveries))
        .collect();
    assert_eq!(
        redelivered,
        [
            (Agency::Cms.into(), 1),
            (Agency::Cms.into(), 1),
            (Agency::ReferralHub.into(), 0),
        ]
    );
    let disclosures = after_redelivery;

    // An agency reads only the disclosures made to it.
    let own = list(
        &mut cms,
        ListDisclosuresRequest {
            recipient: Agency::Cms.into(),
            ..ListDisclosuresRequest::default()
        },
    )
    .await;
    assert_eq!(own, disclosures[..2]);
    for others in [Agency::Unspecified, Agency::ReferralHub] {
        let refused = cms
            .list_disclosures(ListDisclosuresRequest {
                recipient: others.into(),
                ..ListDisclosuresRequest::default()
            })
            .await
            .expect_err("not the CMS's own disclosures");
        assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
        assert!(refused.message().starts_with("recipient:"), "{refused:?}");
    }

    // Filters and paging.
    let only_hub = list(
        &mut auditor,
        ListDisclosuresRequest {
            recipient: Agency::ReferralHub.into(),
            ..ListDisclosuresRequest::default()
        },
    )
    .await;
    assert_eq!(only_hub, disclosures[2..]);
    let only_second = list(
        &mut auditor,
        ListDisclosuresRequest {
            event_id: second.event_id.clone(),
            ..ListDisclosuresRequest::default()
        },
    )
    .await;
    assert_eq!(only_second, disclosures[1..2]);
    let page = list(
        &mut auditor,
        ListDisclosuresRequest {
            limit: 1,
            after_id: disclosures[0].id,
            ..ListDisclosuresRequest::default()
        },
    )
    .await;
    assert_eq!(page, disclosures[1..2]);
    let refused = auditor
        .list_disclosures(ListDisclosuresRequest {
            recipient: 99,
            ..ListDisclosuresRequest::default()
        })
        .await
        .expect_err("not an agency");
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");

    // Counted by stream prefix, without listing: "FB-1" carried the first calculation (to the CMS)
    // and the clock event (to the hub), "FB-2" the second calculation; an `_` in a prefix is a
    // character, not a wildcard.
    let count = |recipient: Agency, prefixes: &[&str]| CountDisclosuresRequest {
        recipient: recipient.into(),
        stream_prefixes: prefixes.iter().map(|prefix| (*prefix).to_owned()).collect(),
    };
    let counted = auditor
        .count_disclosures(count(
            Agency::Unspecified,
            &["FB-1", "FB-2", "FB-", "", "FB_"],
        ))
        .await
        .expect("an auditor counts them all");
    assert_eq!(counted, [2, 1, 3, 3, 0]);
    let own = cms
        .count_disclosures(count(Agency::Cms, &["FB-1", "FB-"]))
        .await
        .expect("the CMS counts its own");
    assert_eq!(own, [1, 2]);
    let refused = cms
        .count_disclosures(count(Agency::ReferralHub, &["FB-"]))
        .await
        .expect_err("not the CMS's own disclosures");
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    assert!(refused.message().starts_with("recipient:"), "{refused:?}");
    let refused = auditor
        .count_disclosures(count(Agency::Unspecified, &[]))
        .await
        .expect_err("nothing to count");
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    assert!(
        refused.message().starts_with("stream_prefixes:"),
        "{refused:?}"
    );
    server.stop().await;
}

async fn agencies_without_an_identity_or_an_agreement_are_refused(database: TestDatabase) {
    let court = feed_of(&database, AgencyId::CourtRegistry).await;
    let server = serve(&court, agreements(), options()).await;

    let mut anonymous = EventFeedClient::connect(server.url().to_owned())
        .await
        .expect("connect");
    let refused = anonymous
        .subscribe(SubscribeRequest::default())
        .await
        .expect_err("no identity");
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");
    assert!(refused.message().contains(IDENTITY_HEADER), "{refused:?}");

    let mut request = tonic::Request::new(SubscribeRequest::default());
    request
        .metadata_mut()
        .insert(IDENTITY_HEADER, "dwp".parse().expect("ASCII"));
    let refused = anonymous
        .subscribe(request)
        .await
        .expect_err("not an identity");
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");
    assert!(refused.message().contains("dwp"), "{refused:?}");

    // The simulation is no agency: it follows nobody's feed.
    let mut simulation = EventFeedClient::new(channel_as(server.url(), Identity::Simulation));
    let refused = simulation
        .subscribe(SubscribeRequest::default())
        .await
        .expect_err("not an agency");
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");

    // A refused caller calling again is counted again, not given a row of its own.
    let again = anonymous
        .subscribe(SubscribeRequest::default())
        .await
        .expect_err("still no identity");
    assert_eq!(again.code(), Code::Unauthenticated, "{again:?}");

    // Every refusal is counted in the publisher's audit of denials, by caller (named where it gave
    // one) and reason — never a value the caller sent.
    let denials: Vec<(String, String, String, String, i64)> = sqlx::query_as(
        "SELECT rpc, caller, code, reason, times FROM access_denials ORDER BY caller, reason",
    )
    .fetch_all(court.database().pool())
    .await
    .expect("read the denials");
    let subscribe = "familybridge.common.v1.EventFeed/Subscribe";
    let row = |caller: &str, code: &str, reason: &str, times: i64| {
        (
            subscribe.to_owned(),
            caller.to_owned(),
            code.to_owned(),
            reason.to_owned(),
            times,
        )
    };
    assert_eq!(
        denials,
        [
            row("", "UNAUTHENTICATED", "no identity", 2),
            row("", "UNAUTHENTICATED", "not an identity", 1),
            row(
                "simulation",
                "PERMISSION_DENIED",
                "simulation may not call familybridge.common.v1.EventFeed/Subscribe",
                1
            ),
        ]
    );

    // The court registry has no agreement with itself: an agency is not entitled to its own feed
    // by default.
    let mut court_client = FeedClient::connect(server.url().to_owned(), AgencyId::CourtRegistry)
        .await
        .expect("connect");
    let refused = court_client.subscribe("").await.expect_err("no agreement");
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    assert!(
        refused.message().contains("no data-sharing agreement"),
        "{refused:?}"
    );
    server.stop().await;
}

on_both_backends!(
    each_agency_receives_only_its_permitted_fields_and_each_disclosure_is_audited_once,
    agencies_without_an_identity_or_an_agreement_are_refused,
);

#[test]
fn every_migration_file_is_embedded() {
    familybridge_testing::assert_embeds_every_migration(
        &familybridge_feed::MIGRATIONS,
        env!("CARGO_MANIFEST_DIR"),
    );
}
