//! The inbox every subscriber that acts later records its deliveries in, on both backends: a
//! delivery of several statements' worth keeps the order it came in, and an event delivered again
//! is left as it was first recorded.

mod support;

use familybridge_feed::{AgencyId, Inbox};
use familybridge_proto::common::v1::{Agency, Event, TraceContext};
use familybridge_storage::Backend;
use familybridge_storage::sqlx;
use familybridge_testing::{TestDatabase, on_both_backends};
use support::*;

const INBOX: Inbox = Inbox::new("test_inbox");

/// Event `n` of stream `stream`, as the court registry publishes it.
fn event(stream: &str, n: u64, payload: &[u8]) -> Event {
    Event {
        event_id: format!("court-registry/{stream}/{n}"),
        stream: stream.to_owned(),
        sequence: n,
        event_type: "familybridge.court.v1.CaseOpened".to_owned(),
        effective_date: format!("2026-04-{:02}", 1 + n % 28),
        trace_context: Some(TraceContext {
            traceparent: format!("00-{n:032x}-{n:016x}-01"),
            tracestate: String::new(),
        }),
        payload: Some(prost_types::Any {
            type_url: String::new(),
            value: payload.to_vec(),
        }),
        publisher: Agency::CourtRegistry.into(),
        ..Event::default()
    }
}

async fn a_delivery_is_recorded_in_order_and_a_redelivery_changes_nothing(database: TestDatabase) {
    let feed = feed_of(&database, AgencyId::Cms).await;
    let key = match database.url().backend() {
        Backend::Sqlite => "INTEGER PRIMARY KEY AUTOINCREMENT",
        Backend::Postgres => "BIGSERIAL PRIMARY KEY",
    };
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE TABLE test_inbox (arrival {key}, event_id TEXT NOT NULL UNIQUE, \
         publisher TEXT NOT NULL, event_type TEXT NOT NULL, stream TEXT NOT NULL, \
         sequence BIGINT NOT NULL, effective_date TEXT NOT NULL, traceparent TEXT NOT NULL, \
         tracestate TEXT NOT NULL, payload {} NOT NULL)",
        match database.url().backend() {
            Backend::Sqlite => "BLOB",
            Backend::Postgres => "BYTEA",
        }
    )))
    .execute(feed.database().pool())
    .await
    .expect("the inbox table");

    // More than two statements' worth, streams interleaved.
    let first: Vec<Event> = (1..=450)
        .map(|n| event(if n % 2 == 0 { "A" } else { "B" }, n, b"first"))
        .collect();
    let mut tx = feed.begin(&[]).await.expect("begin");
    INBOX
        .record(&mut tx, &first.iter().collect::<Vec<_>>())
        .await
        .expect("record the delivery");
    tx.commit().await.expect("commit");

    // Delivered again (with a different payload, to tell the copies apart), plus one new event.
    let again = [event("A", 2, b"again"), event("C", 451, b"new")];
    let mut tx = feed.begin(&[]).await.expect("begin");
    INBOX
        .record(&mut tx, &again.iter().collect::<Vec<_>>())
        .await
        .expect("record the redelivery");
    tx.commit().await.expect("commit");

    let rows: Vec<(String, String, String, i64, String, Vec<u8>)> = sqlx::query_as(
        "SELECT event_id, publisher, stream, sequence, traceparent, payload FROM test_inbox \
         ORDER BY arrival",
    )
    .fetch_all(feed.database().pool())
    .await
    .expect("read the inbox");
    assert_eq!(rows.len(), 451, "each event once");
    for (row, expected) in rows.iter().zip(first.iter().chain([&again[1]])) {
        assert_eq!(row.0, expected.event_id, "in the order delivered");
        assert_eq!(row.1, "court-registry");
        assert_eq!(row.2, expected.stream);
        assert_eq!(row.3, i64::try_from(expected.sequence).expect("small"));
        assert_eq!(
            row.4,
            expected
                .trace_context
                .as_ref()
                .map(|trace| trace.traceparent.clone())
                .unwrap_or_default()
        );
    }
    assert_eq!(
        rows[1].5, b"first",
        "a redelivery leaves the entry as it was"
    );
    assert_eq!(rows[450].5, b"new");
}

on_both_backends!(a_delivery_is_recorded_in_order_and_a_redelivery_changes_nothing);
