//! Delivery through a real EventFeed server on both backends: order within each stream, every event
//! once, resuming after a disconnection or a publisher restart, the PostgreSQL commit-order trap,
//! bad cursors, and heartbeats.

mod support;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use familybridge_feed::{
    AgencyId, EventHandler, FeedClient, FeedTransaction, HandlerError, TraceContext,
    spawn_subscription,
};
use familybridge_proto::cms::v1::CalculateRequest;
use familybridge_proto::common::v1::{Agency, Event};
use familybridge_proto::simulation::v1::AdvanceToResponse;
use familybridge_runtime::CancellationToken;
use familybridge_storage::sqlx::{self, Row};
use familybridge_testing::{TestDatabase, on_both_backends};
use prost::Name;
use support::*;
use tokio::sync::Semaphore;
use tonic::Code;

const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// A cursor's parts, to check that cursors only ever move forward. (Subscribers treat cursors as
/// opaque; the tests may look inside.)
fn cursor_order(cursor: &str) -> (u64, i64) {
    let mut parts = cursor.split('.');
    assert_eq!(parts.next(), Some("v1"), "{cursor}");
    let transaction = parts.next().and_then(|part| part.parse().ok());
    let position = parts.next().and_then(|part| part.parse().ok());
    match (transaction, position, parts.next()) {
        (Some(transaction), Some(position), None) => (transaction, position),
        _ => panic!("{cursor} is not a v1 cursor"),
    }
}

fn ids(events: &[Event]) -> Vec<&str> {
    events.iter().map(|event| event.event_id.as_str()).collect()
}

/// Checks that `events` hold each event once, each stream numbered 1, 2, 3, … in order, with
/// cursors that only move forward.
fn assert_complete_and_in_order(events: &[Event]) {
    let unique: HashSet<&str> = ids(events).into_iter().collect();
    assert_eq!(unique.len(), events.len(), "an event arrived twice");
    let mut next_in_stream: BTreeMap<&str, u64> = BTreeMap::new();
    for event in events {
        let expected = next_in_stream.entry(&event.stream).or_insert(1);
        assert_eq!(event.sequence, *expected, "{} out of order", event.event_id);
        *expected += 1;
        assert_eq!(
            event.event_id,
            format!("court-registry/{}/{}", event.stream, event.sequence)
        );
    }
    for pair in events.windows(2) {
        assert!(
            cursor_order(&pair[0].cursor) < cursor_order(&pair[1].cursor),
            "cursor went backwards: {} then {}",
            pair[0].cursor,
            pair[1].cursor
        );
    }
}

async fn every_event_arrives_once_and_in_stream_order(database: TestDatabase) {
    let feed = feed_of(&database, AgencyId::CourtRegistry).await;
    let server = serve(&feed, agreements(), options()).await;
    let mut client = FeedClient::connect(server.url().to_owned(), AgencyId::Cms)
        .await
        .expect("connect");
    // One subscriber follows while the events are written...
    let mut live = client.subscribe("").await.expect("subscribe");
    let (nothing, heartbeat) = until_heartbeat(&mut live).await;
    assert!(nothing.is_empty());
    assert_eq!(
        heartbeat.high_water_mark, "",
        "an empty feed is at its start"
    );

    // Four writers at once on three shared streams; every third command records two events.
    let trace = TraceContext {
        traceparent: PARENT.to_owned(),
        tracestate: "fb=1".to_owned(),
    };
    let writers: Vec<_> = (0..4u32)
        .map(|writer| {
            let feed = feed.clone();
            let trace = trace.clone();
            tokio::spawn(async move {
                for command in 0..10u32 {
                    let n = writer * 100 + command;
                    let first = format!("FB-{}", n % 3);
                    let second = format!("FB-{}", (n + 1) % 3);
                    let streams: Vec<&str> = if command % 3 == 0 {
                        vec![&first, &second]
                    } else {
                        vec![&first]
                    };
                    let mut transaction = feed.begin(&streams).await.expect("begin");
                    for stream in &streams {
                        transaction
                            .append(stream, april(2), &trace, &calculation(n))
                            .await
                            .expect("append");
                    }
                    transaction.commit().await.expect("commit");
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.expect("the writer finished");
    }
    // Per writer, commands 0, 3, 6 and 9 record two events and the other six one: 14 each.
    let written = 4 * 14;

    let received = events(&mut live, written).await;
    assert_complete_and_in_order(&received);
    let last = received.last().expect("events").cursor.clone();
    assert!(
        until_caught_up(&mut live, &last).await.is_empty(),
        "more events than were written"
    );
    let first = &received[0];
    assert_eq!(first.event_type, "familybridge.cms.v1.CalculateRequest");
    assert_eq!(first.effective_date, "2025-04-02");
    assert_eq!(first.publisher, i32::from(Agency::CourtRegistry));
    assert_eq!(
        first.trace_context.clone().map(TraceContext::from),
        Some(trace)
    );
    let payload: CalculateRequest = first
        .payload
        .as_ref()
        .expect("a payload")
        .to_msg()
        .expect("a CalculateRequest");
    assert_eq!(
        payload.relevant_other_children, 0,
        "not permitted to the CMS"
    );
    assert!(!payload.gross_weekly_income.is_empty());

    // ...and one that starts afterwards, from the beginning, sees the same feed in the same order.
    let mut late = client.subscribe("").await.expect("subscribe");
    let replayed = until_caught_up(&mut late, &last).await;
    assert_eq!(ids(&replayed), ids(&received));
    server.stop().await;
}

async fn a_subscriber_resuming_from_its_last_cursor_sees_no_gap_and_no_duplicate(
    database: TestDatabase,
) {
    let feed = feed_of(&database, AgencyId::CourtRegistry).await;
    for n in 0..30u32 {
        publish(
            &feed,
            &format!("FB-{}", n % 3),
            &TraceContext::default(),
            &calculation(n),
        )
        .await;
    }
    let server = serve(&feed, agreements(), options()).await;
    let mut client = FeedClient::connect(server.url().to_owned(), AgencyId::Cms)
        .await
        .expect("connect");
    let mut whole = client.subscribe("").await.expect("subscribe");
    let everything = events(&mut whole, 30).await;

    // Ten events in (mid-batch: batches are of seven), the subscriber goes away.
    let mut first = client.subscribe("").await.expect("subscribe");
    let head = events(&mut first, 10).await;
    drop(first);
    let mut second = client.subscribe(&head[9].cursor).await.expect("resume");
    let tail = events(&mut second, 20).await;
    let last = tail.last().expect("events").cursor.clone();
    assert!(until_caught_up(&mut second, &last).await.is_empty());

    let resumed: Vec<Event> = head.into_iter().chain(tail).collect();
    assert_eq!(ids(&resumed), ids(&everything));
    assert_complete_and_in_order(&resumed);
    server.stop().await;
}

/// Applies court events in the CMS's database: a row per event (unique by event id, numbered in
/// the order handled) and an event of the CMS's own on its own stream, in the same transaction. Lets through only as
/// many events as the gate has permits.
#[derive(Clone)]
struct Recorder {
    gate: Arc<Semaphore>,
    /// Events let through the gate (taken in, though not yet committed: a batch commits whole).
    taken: Arc<AtomicUsize>,
    duplicates: Arc<AtomicUsize>,
}

impl EventHandler for Recorder {
    /// The CMS keeps its own case numbers: its events go to a stream of its own.
    fn streams(&self, event: &Event) -> Vec<String> {
        vec![format!("cms-{}", event.stream)]
    }

    async fn handle(&self, tx: &mut FeedTransaction, event: &Event) -> Result<(), HandlerError> {
        self.gate
            .acquire()
            .await
            .map_err(HandlerError::other)?
            .forget();
        self.taken.fetch_add(1, Ordering::SeqCst);
        let inserted = sqlx::query(
            "INSERT INTO handled (event_id, stream, sequence, handled_order) \
             SELECT $1, $2, $3, COALESCE(MAX(handled_order), 0) + 1 FROM handled WHERE true \
             ON CONFLICT (event_id) DO NOTHING",
        )
        .bind(&event.event_id)
        .bind(&event.stream)
        .bind(i64::try_from(event.sequence).map_err(HandlerError::other)?)
        .execute(tx.connection().await?)
        .await?;
        if inserted.rows_affected() == 0 {
            self.duplicates.fetch_add(1, Ordering::SeqCst);
        }
        let trace = TraceContext::from_event(event);
        let recalculated = AdvanceToResponse {
            previous_date: String::new(),
            current_date: event.effective_date.clone(),
        };
        tx.append(
            &format!("cms-{}", event.stream),
            april(3),
            &trace,
            &recalculated,
        )
        .await?;
        Ok(())
    }
}

async fn handled_count(database: &familybridge_storage::Database) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM handled")
        .fetch_one(database.pool())
        .await
        .expect("count")
}

async fn run_subscription_survives_a_publisher_restart_with_no_gap_and_no_duplicate_effect(
    database: TestDatabase,
) {
    let court = feed_of(&database, AgencyId::CourtRegistry).await;
    let cms_database = another_database(&database).await;
    let cms = feed_of(&cms_database, AgencyId::Cms).await;
    sqlx::query(
        "CREATE TABLE handled (event_id TEXT PRIMARY KEY, stream TEXT NOT NULL, \
         sequence BIGINT NOT NULL, handled_order BIGINT NOT NULL)",
    )
    .execute(cms.database().pool())
    .await
    .expect("create the handler's table");
    let trace = TraceContext {
        traceparent: PARENT.to_owned(),
        tracestate: String::new(),
    };
    for n in 0..30u32 {
        publish(&court, &format!("FB-{}", n % 3), &trace, &calculation(n)).await;
    }
    let server = serve(&court, agreements(), options()).await;
    let address = address(&server);

    let recorder = Recorder {
        gate: Arc::new(Semaphore::new(5)),
        taken: Arc::default(),
        duplicates: Arc::new(AtomicUsize::new(0)),
    };
    let stop = CancellationToken::new();
    let subscription = spawn_subscription(
        cms.clone(),
        "court",
        server.url(),
        AgencyId::Cms,
        familybridge_runtime::Transport::Plaintext,
        recorder.clone(),
        stop.clone(),
    );

    // Five events in, with the sixth being handled, the publisher stops...
    eventually("five events taken in", || async {
        recorder.taken.load(Ordering::SeqCst) == 5
    })
    .await;
    server.stop().await;
    // ...records twenty more while it is down, and comes back where it was.
    for n in 30..50u32 {
        publish(&court, &format!("FB-{}", n % 3), &trace, &calculation(n)).await;
    }
    recorder.gate.add_permits(1_000);
    let restarted = FixedServer::start(address, &court, agreements(), options()).await;
    eventually("all fifty events handled", || async {
        handled_count(cms.database()).await == 50
    })
    .await;
    let last_court_cursor = {
        let mut client = FeedClient::connect(format!("http://{address}"), AgencyId::Cms)
            .await
            .expect("connect");
        let mut stream = client.subscribe("").await.expect("subscribe");
        events(&mut stream, 50).await.pop().expect("events").cursor
    };
    eventually("the subscription's cursor to reach the end", || async {
        cms.subscription_cursor("court")
            .await
            .expect("read the cursor")
            == Some(last_court_cursor.clone())
    })
    .await;
    stop.cancel();
    within("the subscription to stop", subscription)
        .await
        .expect("the subscription task")
        .expect("the subscription ends cleanly on shutdown");
    restarted.stop().await;

    assert_eq!(
        recorder.duplicates.load(Ordering::SeqCst),
        0,
        "an event was applied twice"
    );
    let rows = sqlx::query("SELECT stream, sequence FROM handled ORDER BY handled_order")
        .fetch_all(cms.database().pool())
        .await
        .expect("read what was handled");
    let mut next_in_stream: BTreeMap<String, i64> = BTreeMap::new();
    for row in &rows {
        let stream: String = row.get("stream");
        let sequence: i64 = row.get("sequence");
        let expected = next_in_stream.entry(stream.clone()).or_insert(1);
        assert_eq!(
            sequence, *expected,
            "{stream} handled out of order or with a gap"
        );
        *expected += 1;
    }
    assert_eq!(rows.len(), 50);
    // The CMS's own events, appended by the handler, exactly once each.
    let own: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM feed_events")
        .fetch_one(cms.database().pool())
        .await
        .expect("count the CMS's events");
    assert_eq!(own, 50);
}

async fn only_the_streams_a_transaction_locked_can_be_appended_to(database: TestDatabase) {
    let feed = feed_of(&database, AgencyId::CourtRegistry).await;
    let mut transaction = feed.begin(&["FB-1", "FB-1"]).await.expect("begin");
    let appended = transaction
        .append("FB-1", april(1), &TraceContext::default(), &calculation(1))
        .await
        .expect("append to a locked stream");
    assert_eq!(appended.event_id, "court-registry/FB-1/1");
    let refused = transaction
        .append("FB-2", april(1), &TraceContext::default(), &calculation(2))
        .await
        .expect_err("FB-2 was not locked");
    assert!(refused.to_string().contains("FB-2"), "{refused}");
    // Dropped without committing: nothing was recorded, and the stream starts again at 1.
    drop(transaction);
    let again = publish(&feed, "FB-1", &TraceContext::default(), &calculation(3)).await;
    assert_eq!(again.sequence, 1);
    assert!(feed.begin(&[""]).await.is_err(), "an unnamed stream");
}

/// Records each event in the `handled` table, but fails (after writing) the first `failures`
/// times it is given event 3.
#[derive(Clone)]
struct Flaky {
    failures: Arc<AtomicUsize>,
    attempts: Arc<std::sync::Mutex<Vec<u64>>>,
}

impl EventHandler for Flaky {
    async fn handle(&self, tx: &mut FeedTransaction, event: &Event) -> Result<(), HandlerError> {
        self.attempts
            .lock()
            .map_err(|_| HandlerError::other("poisoned"))?
            .push(event.sequence);
        sqlx::query("INSERT INTO handled (event_id, stream, sequence, handled_order) VALUES ($1, $2, $3, $3)")
            .bind(&event.event_id)
            .bind(&event.stream)
            .bind(i64::try_from(event.sequence).map_err(HandlerError::other)?)
            .execute(tx.connection().await?)
            .await?;
        let fail = event.sequence == 3
            && self
                .failures
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                    left.checked_sub(1)
                })
                .is_ok();
        if fail {
            return Err(HandlerError::other("the handler's dependency is down"));
        }
        Ok(())
    }
}

async fn a_failing_handler_saves_nothing_and_is_offered_the_event_again(database: TestDatabase) {
    let court = feed_of(&database, AgencyId::CourtRegistry).await;
    let cms_database = another_database(&database).await;
    let cms = feed_of(&cms_database, AgencyId::Cms).await;
    sqlx::query(
        "CREATE TABLE handled (event_id TEXT PRIMARY KEY, stream TEXT NOT NULL, \
         sequence BIGINT NOT NULL, handled_order BIGINT NOT NULL)",
    )
    .execute(cms.database().pool())
    .await
    .expect("create the handler's table");
    for n in 0..5u32 {
        publish(&court, "FB-1", &TraceContext::default(), &calculation(n)).await;
    }
    let server = serve(&court, agreements(), options()).await;
    let handler = Flaky {
        failures: Arc::new(AtomicUsize::new(2)),
        attempts: Arc::default(),
    };
    let stop = CancellationToken::new();
    let subscription = spawn_subscription(
        cms.clone(),
        "court",
        server.url(),
        AgencyId::Cms,
        familybridge_runtime::Transport::Plaintext,
        handler.clone(),
        stop.clone(),
    );
    eventually("all five events handled", || async {
        cms.subscription_cursor("court")
            .await
            .expect("read the cursor")
            .is_some_and(|cursor| cursor_order(&cursor).1 == 5)
    })
    .await;
    stop.cancel();
    within("the subscription to stop", subscription)
        .await
        .expect("the subscription task")
        .expect("a clean stop");
    server.stop().await;

    // Events are taken in in batches of whatever had been delivered, so which events shared event
    // 3's transaction varies; what does not: event 3 is offered again after each failure, and
    // nothing after it is offered until it has been handled.
    let attempts = handler.attempts.lock().expect("not poisoned").clone();
    assert_eq!(
        attempts.iter().filter(|&&sequence| sequence == 3).count(),
        3,
        "event 3 is offered again after each failure: {attempts:?}"
    );
    assert!(
        attempts.ends_with(&[3, 4, 5]),
        "events 4 and 5 wait for event 3: {attempts:?}"
    );
    let handled: Vec<i64> = sqlx::query_scalar("SELECT sequence FROM handled ORDER BY sequence")
        .fetch_all(cms.database().pool())
        .await
        .expect("read what was handled");
    assert_eq!(
        handled,
        [1, 2, 3, 4, 5],
        "the failed attempts' writes were rolled back"
    );
}

async fn malformed_and_unknown_cursors_are_refused(database: TestDatabase) {
    let feed = feed_of(&database, AgencyId::CourtRegistry).await;
    let server = serve(&feed, agreements(), options()).await;
    let mut client = FeedClient::connect(server.url().to_owned(), AgencyId::Cms)
        .await
        .expect("connect");
    for malformed in ["garbage", "v1.0", "v2.0.1", "v1.x.1", "v1.0.-1", "v1.0.0"] {
        let refused = client.subscribe(malformed).await.expect_err(malformed);
        assert_eq!(
            refused.code(),
            Code::InvalidArgument,
            "{malformed}: {refused:?}"
        );
        assert!(refused.message().starts_with("from_cursor:"), "{refused:?}");
    }
    let refused = client.subscribe("v1.0.1").await.expect_err("an empty feed");
    assert_eq!(refused.code(), Code::OutOfRange, "{refused:?}");
    assert!(refused.message().starts_with("from_cursor:"), "{refused:?}");
    assert!(
        refused.message().contains("beyond the end of the feed"),
        "{refused:?}"
    );

    publish(&feed, "FB-1", &TraceContext::default(), &calculation(1)).await;
    let mut stream = client.subscribe("").await.expect("subscribe");
    let newest = events(&mut stream, 1).await.remove(0).cursor;
    let (transaction, position) = cursor_order(&newest);
    client
        .subscribe(&newest)
        .await
        .expect("the newest event's cursor is the end of the feed");
    let beyond = format!("v1.{transaction}.{}", position + 1);
    let refused = client.subscribe(&beyond).await.expect_err("beyond the end");
    assert_eq!(refused.code(), Code::OutOfRange, "{refused:?}");
    server.stop().await;
}

/// Counts the events it is given.
#[derive(Clone, Default)]
struct Counter(Arc<AtomicUsize>);

impl EventHandler for Counter {
    async fn handle(&self, _tx: &mut FeedTransaction, _event: &Event) -> Result<(), HandlerError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

async fn heartbeats_carry_the_high_water_mark_past_events_a_subscriber_may_not_see(
    database: TestDatabase,
) {
    let court = feed_of(&database, AgencyId::CourtRegistry).await;
    for n in 0..10u32 {
        publish(&court, "FB-1", &TraceContext::default(), &calculation(n)).await;
    }
    let server = serve(&court, agreements(), options()).await;
    let mut cms = FeedClient::connect(server.url().to_owned(), AgencyId::Cms)
        .await
        .expect("connect");
    let mut stream = cms.subscribe("").await.expect("subscribe");
    let newest = events(&mut stream, 10).await.pop().expect("events").cursor;
    // (On PostgreSQL a heartbeat can come before the events: they are held back while any older
    // transaction in the cluster is still open. Each heartbeat's mark is then an earlier one.)
    let (more, heartbeat) = until_heartbeat(&mut stream).await;
    assert!(more.is_empty(), "{more:?}");
    assert_eq!(heartbeat.high_water_mark, newest);

    // The hub may see none of those events, but learns it has nothing to come before the newest.
    let mut hub = FeedClient::connect(server.url().to_owned(), AgencyId::ReferralHub)
        .await
        .expect("connect");
    let mut stream = hub.subscribe("").await.expect("subscribe");
    let received = until_caught_up(&mut stream, &newest).await;
    assert!(received.is_empty(), "{received:?}");

    // A hub subscription stores that mark though it handled nothing...
    let hub_database = another_database(&database).await;
    let hub_feed = feed_of(&hub_database, AgencyId::ReferralHub).await;
    let counter = Counter::default();
    let stop = CancellationToken::new();
    let subscription = spawn_subscription(
        hub_feed.clone(),
        "court",
        server.url(),
        AgencyId::ReferralHub,
        familybridge_runtime::Transport::Plaintext,
        counter.clone(),
        stop.clone(),
    );
    eventually("the hub's cursor to reach the newest event", || async {
        hub_feed.subscription_cursor("court").await.expect("read") == Some(newest.clone())
    })
    .await;
    assert_eq!(counter.0.load(Ordering::SeqCst), 0);

    // ...and handles the first event it may see, after them.
    let shared = publish(
        &court,
        "FB-1",
        &TraceContext::default(),
        &AdvanceToResponse {
            previous_date: "2025-04-01".to_owned(),
            current_date: "2025-04-08".to_owned(),
        },
    )
    .await;
    assert_eq!(shared.sequence, 11);
    eventually("the hub to handle the shared event", || async {
        counter.0.load(Ordering::SeqCst) == 1
    })
    .await;
    stop.cancel();
    within("the subscription to stop", subscription)
        .await
        .expect("the subscription task")
        .expect("a clean stop");
    assert_eq!(counter.0.load(Ordering::SeqCst), 1);
    server.stop().await;
}

on_both_backends!(
    every_event_arrives_once_and_in_stream_order,
    a_subscriber_resuming_from_its_last_cursor_sees_no_gap_and_no_duplicate,
    run_subscription_survives_a_publisher_restart_with_no_gap_and_no_duplicate_effect,
    a_failing_handler_saves_nothing_and_is_offered_the_event_again,
    only_the_streams_a_transaction_locked_can_be_appended_to,
    malformed_and_unknown_cursors_are_refused,
    heartbeats_carry_the_high_water_mark_past_events_a_subscriber_may_not_see,
);

/// The offset trap: on PostgreSQL a transaction can take a position, stay open, and commit after a
/// later position has committed. A subscriber reading by position alone would pass the earlier
/// event's position before it became visible and never see it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_out_of_order_commits_never_make_a_subscriber_skip_an_event() {
    let database = TestDatabase::postgres().await;
    let feed = feed_of(&database, AgencyId::CourtRegistry).await;
    let server = serve(&feed, agreements(), options()).await;
    let mut client = FeedClient::connect(server.url().to_owned(), AgencyId::Cms)
        .await
        .expect("connect");
    let mut early = client.subscribe("").await.expect("subscribe");
    let (nothing, _) = until_heartbeat(&mut early).await;
    assert!(nothing.is_empty());

    // A takes the first position and stays open; B takes the second and commits. (A feed
    // transaction writes its events as it commits, so A's row is written here as that would
    // write it: what matters is a position taken by a transaction still open.)
    let mut a = feed.begin(&["a"]).await.expect("begin A");
    let payload = prost_types::Any::from_msg(&calculation(1)).expect("encode A");
    sqlx::query(
        "INSERT INTO feed_events (event_id, stream, sequence, event_type, effective_date, \
         traceparent, tracestate, payload_type_url, payload) \
         VALUES ('court-registry/a/1', 'a', 1, $1, '2025-04-01', '', '', $2, $3)",
    )
    .bind(CalculateRequest::full_name())
    .bind(&payload.type_url)
    .bind(&payload.value)
    .execute(a.connection().await.expect("A's connection"))
    .await
    .expect("A takes a position");
    let b_appended = publish(&feed, "b", &TraceContext::default(), &calculation(2)).await;
    assert_eq!(b_appended.event_id, "court-registry/b/1");
    let visible: Vec<i64> =
        sqlx::query_scalar("SELECT position FROM feed_events ORDER BY position")
            .fetch_all(feed.database().pool())
            .await
            .expect("read positions");
    assert_eq!(
        visible,
        [2],
        "B is committed with a later position than A, which is not"
    );

    // A subscriber that starts now, with A still open, must not be given B: its cursor would then
    // be past A's position.
    let mut late = client.subscribe("").await.expect("subscribe");
    let (nothing, heartbeat) = until_heartbeat(&mut late).await;
    assert!(
        nothing.is_empty(),
        "B was delivered while A was open: {nothing:?}"
    );
    assert_eq!(heartbeat.high_water_mark, "");

    a.commit().await.expect("commit A");
    for stream in [&mut early, &mut late] {
        let received = events(stream, 2).await;
        let streams: Vec<&str> = received.iter().map(|event| event.stream.as_str()).collect();
        assert_eq!(streams, ["a", "b"]);
        let last = received[1].cursor.clone();
        assert!(until_caught_up(stream, &last).await.is_empty());
    }
    // And a subscriber resuming after B has nothing left to see: A is behind it in feed order.
    let mut resumed = client.subscribe("").await.expect("subscribe");
    let both = events(&mut resumed, 2).await;
    let mut after_b = client.subscribe(&both[1].cursor).await.expect("resume");
    let (nothing, _) = until_heartbeat(&mut after_b).await;
    assert!(nothing.is_empty(), "{nothing:?}");
    server.stop().await;
}

/// On PostgreSQL the feed is ordered by transaction id, a number: events of transactions 9 to 20
/// come in that order and none is skipped, however the pages fall, and the high-water mark is
/// transaction 20's. (Ordered as text, "10" … "20" would come before "9": with pages of 7, the
/// second page would start after "16" and never deliver transaction 9, and the high-water mark
/// would be "9"'s, so a service would settle before it had taken in the rest.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_orders_the_feed_by_transaction_id_as_a_number_not_as_text() {
    let database = TestDatabase::postgres().await;
    let feed = feed_of(&database, AgencyId::CourtRegistry).await;
    let payload = prost_types::Any::from_msg(&calculation(1)).expect("encode");
    // Transaction ids this old are long finished on any server, so every row is visible to
    // readers; they stand for transactions whose ids cross from one digit to two.
    for (sequence, transaction) in (1_i64..).zip(9_u64..=20) {
        sqlx::query(
            "INSERT INTO feed_events (transaction_id, event_id, stream, sequence, event_type, \
             effective_date, traceparent, tracestate, payload_type_url, payload) \
             VALUES ($1::text::xid8, $2, 's', $3, $4, '2025-04-01', '', '', $5, $6)",
        )
        .bind(transaction.to_string())
        .bind(format!("court-registry/s/{sequence}"))
        .bind(sequence)
        .bind(CalculateRequest::full_name())
        .bind(&payload.type_url)
        .bind(&payload.value)
        .execute(feed.database().pool())
        .await
        .expect("insert an event of an old transaction");
    }
    let server = serve(&feed, agreements(), options()).await;
    let mut client = FeedClient::connect(server.url().to_owned(), AgencyId::Cms)
        .await
        .expect("connect");

    assert_eq!(
        client.high_water_mark().await.expect("high-water mark"),
        "v1.20.12",
        "the newest event is transaction 20's"
    );
    let mut stream = client.subscribe("").await.expect("subscribe");
    let received = until_caught_up(&mut stream, "v1.20.12").await;
    let transactions: Vec<u64> = received
        .iter()
        .map(|event| cursor_order(&event.cursor).0)
        .collect();
    assert_eq!(transactions, (9..=20).collect::<Vec<u64>>());
    assert_complete_and_in_order(&received);
    server.stop().await;
}
