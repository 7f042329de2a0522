//! Killing the CMS between a command and the reading of its event loses nothing: the event was
//! written with the change, and a restarted CMS serves it.

use familybridge_runtime::Identity;
use familybridge_testing::channel_as;
use std::process::Command;
use std::time::Duration;

use familybridge_feed::{AgencyId, FeedClient};
use familybridge_proto::cms::v1::case_service_client::CaseServiceClient;
use familybridge_proto::cms::v1::{
    CaseParty, ContactKind, ContactLogged, Employment, OpenApplicationRequest, RecordContactRequest,
};
use familybridge_proto::common::v1::{Event, feed_message};
use familybridge_runtime::wait_until_serving;
use familybridge_testing::{GuardedProcess, TestDatabase, on_both_backends};
use tokio_stream::StreamExt;

fn spawn_cms(address: &str, database: &TestDatabase) -> GuardedProcess {
    GuardedProcess::spawn(
        Command::new(env!("CARGO_BIN_EXE_cms-calculation"))
            .env("LISTEN_ADDR", address)
            .env("DATABASE_URL", database.url().as_str())
            .env("RUST_LOG", "warn"),
    )
}

fn contact(id: &str, date: &str) -> RecordContactRequest {
    RecordContactRequest {
        client_request_id: id.to_owned(),
        case_reference: "CMS-1".to_owned(),
        effective_date: date.to_owned(),
        party: CaseParty::PayingParent.into(),
        kind: ContactKind::Call.into(),
        distressed: true,
    }
}

/// The CMS's events as the hub receives them, until `expected` have arrived.
async fn hub_events(url: &str, expected: usize) -> Vec<Event> {
    let mut client = FeedClient::connect(url.to_owned(), AgencyId::ReferralHub)
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

async fn a_killed_cms_loses_no_command_and_no_event(database: TestDatabase) {
    let address = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        probe.local_addr().expect("an address").to_string()
    };
    let url = format!("http://{address}");
    let cms = spawn_cms(&address, &database);
    wait_until_serving(&url, Duration::from_secs(30))
        .await
        .expect("ready");
    let mut cases = CaseServiceClient::new(channel_as(&url, Identity::Simulation));
    cases
        .open_application(OpenApplicationRequest {
            client_request_id: "k1".to_owned(),
            case_reference: "CMS-1".to_owned(),
            effective_date: "2025-01-06".to_owned(),
            paying_parent_ref: "person-2".to_owned(),
            receiving_parent_ref: "person-1".to_owned(),
            applicant: CaseParty::ReceivingParent.into(),
            child_refs: vec!["child-1".to_owned()],
            gross_weekly_income: "450.00".to_owned(),
            employment: Employment::Employed.into(),
            ..Default::default()
        })
        .await
        .expect("open");
    let answered = cases
        .record_contact(contact("k2", "2025-01-20"))
        .await
        .expect("a distressed call")
        .into_inner();
    // SIGKILL, before anyone has read the event.
    cms.kill();

    let cms = spawn_cms(&address, &database);
    wait_until_serving(&url, Duration::from_secs(30))
        .await
        .expect("ready again");
    let mut cases = CaseServiceClient::new(channel_as(&url, Identity::Simulation));
    // A retry of the command answered before the kill is answered the same, and adds nothing.
    let retried = cases
        .record_contact(contact("k2", "2025-01-20"))
        .await
        .expect("the retry is answered")
        .into_inner();
    assert_eq!(retried, answered);
    cases
        .record_contact(contact("k3", "2025-01-27"))
        .await
        .expect("another call");

    // The two calls (an application publishes nothing until the CMS calculates): each once, in
    // order.
    let events = hub_events(&url, 2).await;
    let sequences: Vec<u64> = events.iter().map(|event| event.sequence).collect();
    assert_eq!(sequences, [1, 2]);
    let calls: Vec<ContactLogged> = events
        .iter()
        .map(|event| {
            event
                .payload
                .as_ref()
                .expect("a payload")
                .to_msg()
                .expect("a contact")
        })
        .collect();
    assert!(
        calls
            .iter()
            .all(|call| call.distressed && call.party == "paying_parent")
    );
    assert_eq!(answered.event_ids, [events[0].event_id.clone()]);

    cms.kill();
}

on_both_backends!(a_killed_cms_loses_no_command_and_no_event);
