//! Inboxes: where a subscriber that acts on another agency's events later — when its simulated
//! clock reaches their date, not when they happen to arrive — records them as they arrive, in the
//! same transaction as its feed cursor. An [`Inbox`] is the subscription's [`EventHandler`]: the
//! CMS's court-order inbox and the referral hub's inbox are both one; what each service does with
//! its entries afterwards is its own.
//!
//! A delivery of many events is recorded a few hundred rows a statement, in the order they
//! arrived, so each entry's `arrival` number is the one recording them one by one would give. An
//! event recorded before (a redelivery) is left as it was.

use std::sync::Arc;

use familybridge_proto::common::v1::{Agency, Event};
use familybridge_storage::Backend;
use familybridge_storage::sqlx;
use familybridge_storage::statements::{runs, value_rows};
use tokio::sync::Notify;

use crate::{EventHandler, FeedTransaction, HandlerError, Received};

/// Rows one statement records: nine values each, well under every backend's limit on bound values.
const ROWS_PER_STATEMENT: usize = 256;

/// An inbox table, with the columns every inbox keeps: `event_id` (unique), `publisher`,
/// `event_type`, `stream`, `sequence`, `effective_date`, `traceparent`, `tracestate` and
/// `payload`, numbered by an `arrival` key the database assigns; and the subscription handler that
/// records into it.
#[derive(Debug, Clone)]
pub struct Inbox {
    table: &'static str,
    /// Which event types it records (the others are taken in and left).
    keeps: fn(&str) -> bool,
    /// Woken when a delivery has been recorded, if anyone waits for entries.
    wake: Option<Arc<Notify>>,
}

impl Inbox {
    /// The inbox kept in `table` (a name from the service's own migrations, never user input),
    /// recording every event delivered.
    pub const fn new(table: &'static str) -> Self {
        Self {
            table,
            keeps: every_type,
            wake: None,
        }
    }

    /// The same inbox recording only the events whose type `keeps` accepts.
    #[must_use]
    pub fn keeping(self, keeps: fn(&str) -> bool) -> Self {
        Self { keeps, ..self }
    }

    /// The same inbox waking `wake` whenever it records a delivery. The transaction commits after
    /// the wake-up, so whoever is woken must also look again from time to time.
    #[must_use]
    pub fn waking(self, wake: Arc<Notify>) -> Self {
        Self {
            wake: Some(wake),
            ..self
        }
    }

    /// Records the kept ones of `events` in the order given, in `tx`; any already recorded is left
    /// as it was.
    pub async fn record(
        &self,
        tx: &mut FeedTransaction,
        events: &[&Event],
    ) -> Result<(), HandlerError> {
        let kept: Vec<&Event> = events
            .iter()
            .copied()
            .filter(|event| (self.keeps)(&event.event_type))
            .collect();
        if kept.is_empty() {
            return Ok(());
        }
        let backend = Backend::of(tx.connection().await?);
        for chunk in runs(&kept, ROWS_PER_STATEMENT) {
            // Only the table's own name and placeholders are formatted into the statement; every
            // value is bound. Runs have power-of-two lengths, so the few texts stay prepared.
            let statement = format!(
                "INSERT INTO {} (event_id, publisher, event_type, stream, sequence, \
                 effective_date, traceparent, tracestate, payload) VALUES {} \
                 ON CONFLICT (event_id) DO NOTHING",
                self.table,
                value_rows(backend, chunk.len(), 9)
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(statement));
            for event in chunk {
                let trace = event.trace_context.clone().unwrap_or_default();
                let payload = event
                    .payload
                    .as_ref()
                    .map(|payload| payload.value.clone())
                    .unwrap_or_default();
                query = query
                    .bind(event.event_id.clone())
                    .bind(publisher_name(event.publisher()))
                    .bind(event.event_type.clone())
                    .bind(event.stream.clone())
                    .bind(i64::try_from(event.sequence).map_err(HandlerError::other)?)
                    .bind(event.effective_date.clone())
                    .bind(trace.traceparent)
                    .bind(trace.tracestate)
                    .bind(payload);
            }
            query.execute(tx.connection().await?).await?;
        }
        if let Some(wake) = &self.wake {
            wake.notify_one();
        }
        Ok(())
    }
}

/// Keeps every event type: an inbox's default.
fn every_type(_event_type: &str) -> bool {
    true
}

impl EventHandler for Inbox {
    /// Recording appends nothing to the subscriber's own feed, so nothing needs locking.
    fn streams(&self, _event: &Event) -> Vec<String> {
        Vec::new()
    }

    async fn handle(&self, tx: &mut FeedTransaction, event: &Event) -> Result<(), HandlerError> {
        self.record(tx, &[event]).await
    }

    /// A delivery is recorded a few hundred events a statement.
    async fn handle_batch(
        &self,
        tx: &mut FeedTransaction,
        received: &[Received],
    ) -> Result<(), HandlerError> {
        let events: Vec<&Event> = received.iter().map(|received| &received.event).collect();
        self.record(tx, &events).await
    }
}

/// How an inbox names the agency that published an event (its entries are acted on in date,
/// publisher, stream and sequence order).
fn publisher_name(agency: Agency) -> &'static str {
    match agency {
        Agency::CourtRegistry => "court-registry",
        Agency::Cms => "cms",
        Agency::ReferralHub | Agency::Unspecified => "other",
    }
}
