//! The registry's event feed as the other agencies see it, on both backends: each receives exactly
//! the fields its agreement permits, every disclosure is audited once, a final order never arrives
//! before the interim order it replaces, and a subscriber loses nothing when the registry is killed.

mod support;

use familybridge_runtime::Identity;
use familybridge_testing::channel_as;
use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use familybridge_feed::{
    AgencyId, EventHandler, Feed, FeedClient, FeedTransaction, HandlerError, spawn_subscription,
};
use familybridge_proto::common::v1::{Agency, Event, ListDisclosuresRequest, feed_message};
use familybridge_proto::court::v1::court_registry_client::CourtRegistryClient;
use familybridge_proto::court::v1::{
    CaseOpened, FinalOrderMade, InterimOrderMade, Residence, SharedCareDetermined,
    VariationAppliedFor,
};
use familybridge_runtime::{CancellationToken, wait_until_serving};
use familybridge_storage::sqlx;
use familybridge_testing::{GuardedProcess, TestDatabase, on_both_backends};
use prost::Name;
use support::{apply_to_vary, open_case, order, registry_client, start_registry};
use tokio_stream::StreamExt;

/// The feed's events for `agency`, read from the start until `expected` have arrived and then a
/// heartbeat has said nothing more is waiting. (A heartbeat alone does not mean every committed
/// event has arrived: on PostgreSQL the feed holds back events behind any transaction still open
/// on the server, such as another test's.)
async fn read_all(url: &str, agency: AgencyId, expected: usize) -> Vec<Event> {
    let mut client = FeedClient::connect(url.to_owned(), agency)
        .await
        .expect("connect to the feed");
    let mut stream = client.subscribe("").await.expect("subscribe");
    let mut events = Vec::new();
    while let Some(message) = tokio::time::timeout(Duration::from_secs(30), stream.next())
        .await
        .expect("the feed answers")
    {
        match message.expect("a feed message").message {
            Some(feed_message::Message::Event(event)) => events.push(event),
            Some(feed_message::Message::Heartbeat(_)) if events.len() >= expected => break,
            Some(feed_message::Message::Heartbeat(_)) => {}
            None => panic!("an empty feed message"),
        }
    }
    events
}

fn types(events: &[Event]) -> Vec<&str> {
    events
        .iter()
        .map(|event| {
            event
                .event_type
                .trim_start_matches("familybridge.court.v1.")
        })
        .collect()
}

fn payload<M: prost::Message + Name + Default>(events: &[Event]) -> M {
    events
        .iter()
        .find(|event| event.event_type == M::full_name())
        .and_then(|event| event.payload.as_ref())
        .expect("an event of the type")
        .to_msg()
        .expect("the payload decodes")
}

async fn each_agency_receives_only_its_permitted_fields_and_is_audited_once(
    database: TestDatabase,
) {
    let server = start_registry(&database).await;
    let mut registry = registry_client(&server).await;
    registry
        .open_case(open_case("a1", "FB1", "2025-01-06"))
        .await
        .expect("open");
    registry
        .make_interim_order(order("a2", "FB1", "2025-02-03", 60))
        .await
        .expect("interim");
    registry
        .make_final_order(order("a3", "FB1", "2025-10-06", 120))
        .await
        .expect("final");
    registry
        .apply_to_vary(apply_to_vary("a4", "FB1", "2026-01-05", 170))
        .await
        .expect("vary");

    let cms = read_all(server.url(), AgencyId::Cms, 5).await;
    assert_eq!(
        types(&cms),
        [
            "CaseOpened",
            "InterimOrderMade",
            "SharedCareDetermined",
            "FinalOrderMade",
            "SharedCareDetermined"
        ],
        "the CMS is not sent variation applications"
    );
    let opened: CaseOpened = payload(&cms);
    assert_eq!(opened.case_reference, "FB1");
    assert_eq!(opened.child_refs, ["child-1", "child-2"]);
    assert_eq!(
        opened.welfare_flags, None,
        "welfare flags are for the hub only"
    );
    assert_eq!(opened.safeguarding_narrative, "");
    let interim: InterimOrderMade = payload(&cms);
    assert_eq!(interim.arrangements[0].nights_with_respondent, 60);
    assert_eq!(interim.arrangements[0].lives_with(), Residence::Unspecified);
    assert_eq!(interim.safeguarding_narrative, "");
    let final_order: FinalOrderMade = payload(&cms);
    assert_eq!(final_order.replaces_order_id, "FB1/order-1");
    let care: SharedCareDetermined = payload(&cms);
    assert!(
        !care.is_final,
        "the first determination is the interim order's"
    );
    assert_eq!(care.applicant.expect("applicant").person_ref, "person-1");

    let hub = read_all(server.url(), AgencyId::ReferralHub, 6).await;
    assert_eq!(hub.len(), 6);
    let opened: CaseOpened = payload(&hub);
    assert!(
        opened
            .welfare_flags
            .expect("welfare flags")
            .domestic_abuse_alleged
    );
    assert_eq!(opened.safeguarding_narrative, "");
    let interim: InterimOrderMade = payload(&hub);
    assert_eq!(interim.arrangements[0].lives_with(), Residence::Applicant);
    let variation: VariationAppliedFor = payload(&hub);
    let application = variation.application.expect("the application");
    assert!(application.proposes_shared_care_band_change);
    for event in &hub {
        let bytes = &event.payload.as_ref().expect("a payload").value;
        assert!(
            !String::from_utf8_lossy(bytes).contains("SECRET"),
            "a narrative leaked in {}",
            event.event_type
        );
    }

    // Every event sent is in the audit log, once, with its fields, purpose and legal basis —
    // however often it is sent again.
    read_all(server.url(), AgencyId::Cms, 5).await;
    let mut auditor = FeedClient::connect(server.url().to_owned(), AgencyId::Cms)
        .await
        .expect("connect");
    let audit = auditor
        .list_disclosures(ListDisclosuresRequest {
            recipient: Agency::Cms.into(),
            ..Default::default()
        })
        .await
        .expect("list disclosures")
        .disclosures;
    assert_eq!(
        audit
            .iter()
            .map(|d| d.event_id.as_str())
            .collect::<Vec<_>>(),
        cms.iter().map(|e| e.event_id.as_str()).collect::<Vec<_>>()
    );
    let opened_audit = &audit[0];
    assert!(opened_audit.purpose.contains("calculate child maintenance"));
    assert!(
        opened_audit
            .legal_basis
            .contains("Child Support Act 1991 s.14")
    );
    assert!(opened_audit.fields.contains(&"child_refs".to_owned()));
    assert!(
        !opened_audit
            .fields
            .iter()
            .any(|field| field.contains("narrative"))
    );
    assert_eq!(opened_audit.effective_date, "2025-01-06");
    server.stop().await;
}

async fn a_final_order_never_arrives_before_the_interim_order_it_replaces(database: TestDatabase) {
    let server = start_registry(&database).await;
    let registry = registry_client(&server).await;
    // Several cases at once, so that their commands interleave in the outbox.
    let mut cases = tokio::task::JoinSet::new();
    for number in 0..6 {
        let mut registry = registry.clone();
        cases.spawn(async move {
            let case = format!("FB{number}");
            let id = |step: &str| format!("{case}-{step}");
            registry
                .open_case(open_case(&id("open"), &case, "2025-01-06"))
                .await?;
            registry
                .make_interim_order(order(&id("interim"), &case, "2025-02-03", 60))
                .await?;
            registry
                .make_final_order(order(&id("final"), &case, "2025-10-06", 120))
                .await?;
            Ok::<(), tonic::Status>(())
        });
    }
    while let Some(done) = cases.join_next().await {
        done.expect("no panic").expect("commands succeed");
    }

    let events = read_all(server.url(), AgencyId::Cms, 6 * 5).await;
    assert_eq!(events.len(), 6 * 5);
    let mut by_case: BTreeMap<&str, Vec<&Event>> = BTreeMap::new();
    for event in &events {
        by_case
            .entry(event.stream.as_str())
            .or_default()
            .push(event);
    }
    for (case, events) in by_case {
        let sequences: Vec<u64> = events.iter().map(|event| event.sequence).collect();
        assert_eq!(sequences, [1, 2, 3, 4, 5], "{case} in order, none missing");
        let position = |name: &str| {
            events
                .iter()
                .position(|event| event.event_type.ends_with(name))
                .expect("present")
        };
        assert!(
            position("InterimOrderMade") < position("FinalOrderMade"),
            "{case}"
        );
    }
    server.stop().await;
}

on_both_backends!(
    each_agency_receives_only_its_permitted_fields_and_is_audited_once,
    a_final_order_never_arrives_before_the_interim_order_it_replaces,
);

/// Records each event it is given in the subscriber's own database.
struct Recorder;

impl EventHandler for Recorder {
    async fn handle(&self, tx: &mut FeedTransaction, event: &Event) -> Result<(), HandlerError> {
        sqlx::query("INSERT INTO received (event_id, stream, sequence) VALUES ($1, $2, $3)")
            .bind(&event.event_id)
            .bind(&event.stream)
            .bind(i64::try_from(event.sequence).map_err(HandlerError::other)?)
            .execute(tx.connection().await?)
            .await
            .map_err(HandlerError::other)?;
        Ok(())
    }
}

/// The `court-registry` binary on `address` over `database`.
fn spawn_registry(address: &str, database: &TestDatabase) -> GuardedProcess {
    GuardedProcess::spawn(
        Command::new(env!("CARGO_BIN_EXE_court-registry"))
            .env("LISTEN_ADDR", address)
            .env("DATABASE_URL", database.url().as_str())
            .env("RUST_LOG", "warn"),
    )
}

async fn a_subscriber_loses_nothing_when_the_registry_is_killed(database: TestDatabase) {
    let address = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        probe.local_addr().expect("an address").to_string()
    };
    let url = format!("http://{address}");
    let registry_process = spawn_registry(&address, &database);
    wait_until_serving(&url, Duration::from_secs(30))
        .await
        .expect("ready");

    // The subscriber: the CMS's side, with a database of its own.
    let own = TestDatabase::sqlite();
    let own_database = own.connect(&[familybridge_feed::MIGRATIONS]).await;
    sqlx::query("CREATE TABLE received (event_id TEXT NOT NULL, stream TEXT NOT NULL, sequence BIGINT NOT NULL)")
        .execute(own_database.pool())
        .await
        .expect("create the subscriber's table");
    let own_feed = Feed::new(own_database.clone(), AgencyId::Cms);
    let stop = CancellationToken::new();
    let subscription = spawn_subscription(
        own_feed.clone(),
        "court",
        url.clone(),
        AgencyId::Cms,
        familybridge_runtime::Transport::Plaintext,
        Recorder,
        stop.clone(),
    );

    let mut client = CourtRegistryClient::new(channel_as(&url, Identity::Simulation));
    for number in 0..3 {
        let case = format!("K{number}");
        client
            .open_case(open_case(&format!("{case}-o"), &case, "2025-01-06"))
            .await
            .expect("open");
        client
            .make_interim_order(order(&format!("{case}-i"), &case, "2025-02-03", 60))
            .await
            .expect("interim");
    }
    // SIGKILL: no chance to finish anything gracefully.
    registry_process.kill();

    let registry_process = spawn_registry(&address, &database);
    wait_until_serving(&url, Duration::from_secs(30))
        .await
        .expect("ready again");
    let mut client = CourtRegistryClient::new(channel_as(&url, Identity::Simulation));
    for number in 0..3 {
        let case = format!("K{number}");
        client
            .make_final_order(order(&format!("{case}-f"), &case, "2025-10-06", 120))
            .await
            .expect("final");
    }

    // Three cases of five events each: wait (bounded) until all have been handled.
    let count = || async {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM received")
            .fetch_one(own_database.pool())
            .await
            .expect("count")
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while count().await < 15 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.cancel();
    subscription
        .await
        .expect("no panic")
        .expect("the subscription ends cleanly");
    registry_process.kill();

    let rows: Vec<(String, String, i64)> =
        sqlx::query_as("SELECT event_id, stream, sequence FROM received ORDER BY rowid")
            .fetch_all(own_database.pool())
            .await
            .expect("read what was received");
    assert_eq!(rows.len(), 15, "every event handled once: {rows:?}");
    for case in ["K0", "K1", "K2"] {
        let sequences: Vec<i64> = rows
            .iter()
            .filter(|(_, stream, _)| stream == case)
            .map(|(_, _, sequence)| *sequence)
            .collect();
        assert_eq!(
            sequences,
            [1, 2, 3, 4, 5],
            "{case}: no gap, no duplicate, in order"
        );
    }
}

on_both_backends!(a_subscriber_loses_nothing_when_the_registry_is_killed);
