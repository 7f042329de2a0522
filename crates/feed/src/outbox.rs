//! The transactional outbox: recording events in the same transaction as the change that causes
//! them, and reading them back in an order no subscriber can overtake.
//!
//! A command begins its transaction with [`Feed::begin`], naming the streams (case references) it
//! touches; makes its own writes on [`FeedTransaction::connection`]; records its events with
//! [`FeedTransaction::append`]; and [`commits`](FeedTransaction::commit), which wakes every
//! subscriber served from this process. Either the change and its events are both saved or neither.
//!
//! Appended events are numbered at once but written at commit, a few hundred rows a statement,
//! and each stream's newest number is read once per transaction (for every locked stream in one
//! statement): a batch of commands costs a few statements for its events, not two per event. A
//! [`savepoint`](FeedTransaction::savepoint) covers those buffered events as it covers the
//! database's own writes. Nothing reads the outbox inside a command's transaction, which is what
//! makes writing late safe.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::NaiveDate;
use familybridge_storage::statements::{in_lists, placeholders, runs, value_rows};
use familybridge_storage::{Backend, Database, WriteTransaction, WriteTurn};
use sqlx::{Any, AnyConnection, Row, Transaction};
use tokio::sync::watch;

use crate::command::DateWindow;
use crate::cursor::Cursor;
use crate::{AgencyId, FeedError, TraceContext};

/// One agency's event feed: its outbox in its own database.
///
/// Cloning is cheap and shares the database and the wake-up signal.
#[derive(Debug, Clone)]
pub struct Feed {
    database: Database,
    publisher: AgencyId,
    /// How far from the service's date its commands may take effect.
    date_window: DateWindow,
    /// Ticks whenever a transaction that may have appended events commits, so that subscriptions
    /// served by this process read at once instead of at their next poll.
    committed: Arc<watch::Sender<()>>,
}

/// A transaction of the feed's database, holding the locks of the streams it may append to.
///
/// Dropping it without [`commit`](FeedTransaction::commit) rolls everything back.
#[derive(Debug)]
pub struct FeedTransaction {
    transaction: Transaction<'static, Any>,
    /// The turn to write (SQLite), passed on once the transaction has ended: declared after it.
    _turn: WriteTurn,
    feed: Feed,
    /// The streams locked in [`Feed::begin`], sorted: the only ones [`FeedTransaction::append`]
    /// may write to.
    streams: Vec<String>,
    /// Each locked stream's newest sequence number, this transaction's appends included: read
    /// from the outbox at the first append (`None` until then).
    newest: Option<HashMap<String, i64>>,
    /// Events appended but not yet written, in the order appended.
    unwritten: Vec<UnwrittenEvent>,
    /// The open savepoints, innermost last.
    savepoints: Vec<Savepoint>,
}

/// A savepoint: how many events were unwritten when it was taken, and whether it has been taken
/// in the database yet — only when the work inside it first uses the connection, so that work
/// that changes only memory and buffered events costs no statements to undo.
#[derive(Debug, Clone, Copy)]
struct Savepoint {
    unwritten: usize,
    in_database: bool,
}

/// An appended event waiting for the transaction's commit to be written.
#[derive(Debug)]
struct UnwrittenEvent {
    event_id: String,
    stream: String,
    sequence: i64,
    event_type: String,
    effective_date: String,
    trace: TraceContext,
    payload: prost_types::Any,
}

/// The most events one statement writes (nine parameters each, within SQLite's 32,766).
const EVENTS_PER_STATEMENT: usize = 512;

/// The most streams one statement reads the newest sequence numbers of.
const STREAMS_PER_STATEMENT: usize = 1024;

/// The event just appended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    /// The event's id, `"{publisher}/{stream}/{sequence}"`: the same event always gets the same id.
    pub event_id: String,
    /// The event's number within its stream, from 1.
    pub sequence: u64,
}

/// An event to publish, of any of the agency's event types: its type's full name and its encoded
/// payload. A command decides a list of them, whatever their types.
#[derive(Debug, Clone)]
pub struct OutgoingEvent {
    event_type: String,
    payload: prost_types::Any,
}

impl OutgoingEvent {
    /// `event`, encoded for the outbox.
    pub fn new<M: prost::Message + prost::Name>(event: &M) -> Result<Self, FeedError> {
        Ok(Self {
            event_type: M::full_name(),
            payload: prost_types::Any::from_msg(event)?,
        })
    }

    /// Its type's full name (`familybridge.court.v1.FinalOrderMade`).
    pub fn event_type(&self) -> &str {
        &self.event_type
    }

    /// Its encoded payload.
    pub fn payload(&self) -> &[u8] {
        &self.payload.value
    }
}

/// An event as stored in the outbox, with the cursor that resumes after it.
#[derive(Debug, Clone)]
pub(crate) struct StoredEvent {
    pub(crate) cursor: Cursor,
    pub(crate) event_id: String,
    pub(crate) stream: String,
    pub(crate) sequence: u64,
    pub(crate) event_type: String,
    pub(crate) effective_date: String,
    pub(crate) trace: TraceContext,
    pub(crate) payload_type_url: String,
    pub(crate) payload: Vec<u8>,
}

/// The columns every read of the outbox returns, in the order [`StoredEvent`] is built from.
macro_rules! event_columns {
    () => {
        "event_id, stream, sequence, event_type, effective_date, traceparent, tracestate, \
         payload_type_url, payload"
    };
}

/// SQLite admits one writer at a time, so positions are handed out in commit order: everything
/// after the cursor's position is everything not yet read. Both queries take the same parameters
/// (transaction id, position, limit); this one has no use for the first.
const READ_SQLITE: &str = concat!(
    "SELECT position, '0' AS transaction_text, ",
    event_columns!(),
    " FROM feed_events WHERE position > $2 ORDER BY position LIMIT $3"
);

/// PostgreSQL: positions are handed out at insert, not at commit, so a smaller position can become
/// visible after a larger one. Reading in (transaction id, position) order, and only transactions
/// older than every one still running (the snapshot's xmin), means that every event that may yet
/// commit sorts after the cursor: none is skipped. Transaction ids are cluster-wide, so a long
/// transaction anywhere on the server delays delivery (never loses an event) until it ends. The
/// Any driver has no xid8 type, so transaction ids travel as text, under another name than the
/// column's (`transaction_text`, in every query of the outbox): PostgreSQL resolves a bare name in
/// `ORDER BY` to an output column first, so an alias `transaction_id` would sort the ids as text
/// ("10000" before "9999"), skipping events and reporting a stale high-water mark.
const READ_POSTGRES: &str = concat!(
    "SELECT position, transaction_id::text AS transaction_text, ",
    event_columns!(),
    " FROM feed_events \
     WHERE (transaction_id, position) > ($1::text::xid8, $2) \
       AND transaction_id < pg_snapshot_xmin(pg_current_snapshot()) \
     ORDER BY transaction_id, position LIMIT $3"
);

impl Feed {
    /// The feed of events `publisher` records in `database` (which must have [`crate::MIGRATIONS`]
    /// applied).
    pub fn new(database: Database, publisher: AgencyId) -> Feed {
        let (committed, _) = watch::channel(());
        Feed {
            database,
            publisher,
            date_window: DateWindow::DEFAULT,
            committed: Arc::new(committed),
        }
    }

    /// The same feed, its commands taking effect only within `window` of the service's date
    /// (by default [`DateWindow::DEFAULT`]).
    pub fn with_date_window(mut self, window: DateWindow) -> Feed {
        self.date_window = window;
        self
    }

    /// How far from the service's date its commands may take effect.
    pub fn date_window(&self) -> DateWindow {
        self.date_window
    }

    /// The feed's database.
    pub fn database(&self) -> &Database {
        &self.database
    }

    /// The agency that publishes this feed.
    pub fn publisher(&self) -> AgencyId {
        self.publisher
    }

    /// Begins a transaction for a command touching `streams` (case references): the only streams
    /// it may append events to.
    ///
    /// On PostgreSQL the transaction first takes a transaction-scoped advisory lock on each stream,
    /// before any write. PostgreSQL gives a transaction its id (the `xid8` each event records) at
    /// its first write, so a later command on the same stream, which must wait for the lock until
    /// the earlier one has committed, is given a greater id. The feed is read in (transaction id,
    /// position) order, so the events of one stream are delivered in the order they were recorded.
    /// Locks are taken in sorted order so that two commands touching the same streams cannot
    /// deadlock. On SQLite the transaction begins IMMEDIATE, taking the database's single write lock
    /// at once, after its turn among the process's writers (`Database::begin_write`): commands are
    /// serialised, so positions are in commit order.
    pub async fn begin(&self, streams: &[&str]) -> Result<FeedTransaction, FeedError> {
        let mut streams: Vec<String> = streams.iter().map(|&stream| stream.to_owned()).collect();
        streams.sort();
        streams.dedup();
        if streams.iter().any(String::is_empty) {
            return Err(FeedError::EmptyStream);
        }
        let WriteTransaction {
            mut transaction,
            turn,
        } = self.database.begin_write().await?;
        if self.database.backend() == Backend::Postgres {
            // One round trip for all the locks, taken one statement after another in the order
            // given. Only the keys, integers computed here, are formatted into the text.
            let locks: String = streams
                .iter()
                .map(|stream| format!("SELECT pg_advisory_xact_lock({});", stream_lock_key(stream)))
                .collect();
            sqlx::raw_sql(sqlx::AssertSqlSafe(locks))
                .execute(&mut *transaction)
                .await?;
        }
        Ok(FeedTransaction {
            transaction,
            _turn: turn,
            feed: self.clone(),
            streams,
            newest: None,
            unwritten: Vec::new(),
            savepoints: Vec::new(),
        })
    }

    /// The stored cursor of this agency's subscription `name`, if it has ever stored one.
    pub async fn subscription_cursor(&self, name: &str) -> Result<Option<String>, FeedError> {
        Ok(
            sqlx::query_scalar("SELECT last_cursor FROM feed_subscriptions WHERE name = $1")
                .bind(name)
                .fetch_optional(self.database.pool())
                .await?,
        )
    }

    /// A receiver that is marked changed whenever a transaction of this feed commits.
    pub(crate) fn commits(&self) -> watch::Receiver<()> {
        self.committed.subscribe()
    }

    /// At most `limit` events after `after`, in feed order.
    pub(crate) async fn read_after(
        &self,
        after: Cursor,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, FeedError> {
        let query = match self.database.backend() {
            Backend::Sqlite => READ_SQLITE,
            Backend::Postgres => READ_POSTGRES,
        };
        let rows = sqlx::query(query)
            .bind(after.transaction_id.to_string())
            .bind(after.position)
            .bind(i64::from(limit))
            .fetch_all(self.database.pool())
            .await?;
        rows.iter().map(stored_event).collect()
    }

    /// The cursor of the newest committed event ([`Cursor::START`] if there is none), whether or not
    /// it can be read yet: on PostgreSQL an older transaction still running holds it back from
    /// readers, and a subscriber that has reached this cursor has seen everything committed now.
    pub(crate) async fn high_water_mark(&self) -> Result<Cursor, FeedError> {
        let query = match self.database.backend() {
            Backend::Sqlite => {
                "SELECT '0' AS transaction_text, position FROM feed_events \
                 ORDER BY position DESC LIMIT 1"
            }
            Backend::Postgres => {
                "SELECT transaction_id::text AS transaction_text, position FROM feed_events \
                 ORDER BY transaction_id DESC, position DESC LIMIT 1"
            }
        };
        let row = sqlx::query(query)
            .fetch_optional(self.database.pool())
            .await?;
        let Some(row) = row else {
            return Ok(Cursor::START);
        };
        let transaction: String = row.try_get("transaction_text")?;
        Ok(Cursor {
            transaction_id: transaction.parse().map_err(|_| FeedError::Corrupt {
                what: "transaction id",
                value: transaction.clone(),
            })?,
            position: row.try_get("position")?,
        })
    }

    /// The position of the newest event, 0 if there is none.
    pub(crate) async fn newest_position(&self) -> Result<i64, FeedError> {
        Ok(
            sqlx::query_scalar("SELECT COALESCE(MAX(position), 0) FROM feed_events")
                .fetch_one(self.database.pool())
                .await?,
        )
    }
}

/// Stores `cursor` as where subscription `name` has got to.
pub(crate) async fn store_cursor<'c, E>(
    executor: E,
    name: &str,
    cursor: &str,
) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'c, Database = Any>,
{
    sqlx::query(
        "INSERT INTO feed_subscriptions (name, last_cursor) VALUES ($1, $2) \
         ON CONFLICT (name) DO UPDATE SET last_cursor = excluded.last_cursor",
    )
    .bind(name)
    .bind(cursor)
    .execute(executor)
    .await
    .map(|_| ())
}

/// Builds a stored event from a row of [`READ_SQLITE`] or [`READ_POSTGRES`].
fn stored_event(row: &sqlx::any::AnyRow) -> Result<StoredEvent, FeedError> {
    let transaction: String = row.try_get("transaction_text")?;
    let sequence: i64 = row.try_get("sequence")?;
    Ok(StoredEvent {
        cursor: Cursor {
            transaction_id: transaction.parse().map_err(|_| FeedError::Corrupt {
                what: "transaction id",
                value: transaction.clone(),
            })?,
            position: row.try_get("position")?,
        },
        event_id: row.try_get("event_id")?,
        stream: row.try_get("stream")?,
        sequence: u64::try_from(sequence).map_err(|_| FeedError::Corrupt {
            what: "sequence",
            value: sequence.to_string(),
        })?,
        event_type: row.try_get("event_type")?,
        effective_date: row.try_get("effective_date")?,
        trace: TraceContext {
            traceparent: row.try_get("traceparent")?,
            tracestate: row.try_get("tracestate")?,
        },
        payload_type_url: row.try_get("payload_type_url")?,
        payload: row.try_get("payload")?,
    })
}

/// The advisory-lock key of a stream: a 64-bit FNV-1a hash, the same in every process and every
/// release (unlike Rust's `DefaultHasher`). A prefix keeps the keys apart from other users of
/// advisory locks in the same database (sqlx's migrator takes one). Two streams that happen to
/// share a key merely wait for each other.
fn stream_lock_key(stream: &str) -> i64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let hash = "familybridge-feed-stream:"
        .bytes()
        .chain(stream.bytes())
        .fold(OFFSET_BASIS, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(PRIME)
        });
    i64::from_be_bytes(hash.to_be_bytes())
}

impl FeedTransaction {
    /// The connection for the service's own reads and writes in the same transaction (inside a
    /// savepoint, its first use takes the savepoint in the database).
    pub async fn connection(&mut self) -> Result<&mut AnyConnection, FeedError> {
        for savepoint in &mut self.savepoints {
            if !savepoint.in_database {
                sqlx::query("SAVEPOINT feed_savepoint")
                    .execute(&mut *self.transaction)
                    .await?;
                savepoint.in_database = true;
            }
        }
        Ok(&mut self.transaction)
    }

    /// Appends an event to `stream`, which must be one of those named in [`Feed::begin`].
    ///
    /// The event is numbered one after the stream's newest: safe because the stream is locked
    /// (PostgreSQL) or the database is (SQLite), and a unique index turns any mistake into an
    /// error rather than a duplicate. Its id, `"{publisher}/{stream}/{sequence}"`, follows from
    /// that number, so a command that is retried after a rollback records the same ids.
    pub async fn append<M: prost::Message + prost::Name>(
        &mut self,
        stream: &str,
        effective_date: NaiveDate,
        trace: &TraceContext,
        payload: &M,
    ) -> Result<Appended, FeedError> {
        self.append_outgoing(stream, effective_date, trace, OutgoingEvent::new(payload)?)
            .await
    }

    /// Appends an event already encoded ([`OutgoingEvent`]) to `stream`, as
    /// [`append`](FeedTransaction::append) does.
    pub async fn append_outgoing(
        &mut self,
        stream: &str,
        effective_date: NaiveDate,
        trace: &TraceContext,
        event: OutgoingEvent,
    ) -> Result<Appended, FeedError> {
        if self
            .streams
            .binary_search_by(|locked| locked.as_str().cmp(stream))
            .is_err()
        {
            return Err(FeedError::StreamNotLocked {
                stream: stream.to_owned(),
            });
        }
        let newest = match &mut self.newest {
            Some(newest) => newest,
            empty => empty.insert(newest_sequences(&mut self.transaction, &self.streams).await?),
        };
        let number = newest.entry(stream.to_owned()).or_insert(0);
        *number += 1;
        let sequence = *number;
        let event_id = format!("{}/{stream}/{sequence}", self.feed.publisher);
        self.unwritten.push(UnwrittenEvent {
            event_id: event_id.clone(),
            stream: stream.to_owned(),
            sequence,
            event_type: event.event_type,
            effective_date: effective_date.format("%Y-%m-%d").to_string(),
            trace: trace.clone(),
            payload: event.payload,
        });
        Ok(Appended {
            event_id,
            sequence: u64::try_from(sequence).map_err(|_| FeedError::Corrupt {
                what: "sequence",
                value: sequence.to_string(),
            })?,
        })
    }

    /// Takes a savepoint: [`rollback_to_savepoint`](FeedTransaction::rollback_to_savepoint)
    /// undoes everything since — the database's writes and the events appended — and
    /// [`release_savepoint`](FeedTransaction::release_savepoint) keeps it. It costs a statement
    /// only if the work inside it uses the [`connection`](FeedTransaction::connection).
    pub fn savepoint(&mut self) {
        self.savepoints.push(Savepoint {
            unwritten: self.unwritten.len(),
            in_database: false,
        });
    }

    /// Undoes everything since the innermost savepoint, and ends it.
    pub async fn rollback_to_savepoint(&mut self) -> Result<(), FeedError> {
        let Some(savepoint) = self.savepoints.pop() else {
            return Ok(());
        };
        if savepoint.in_database {
            sqlx::raw_sql("ROLLBACK TO SAVEPOINT feed_savepoint; RELEASE SAVEPOINT feed_savepoint")
                .execute(&mut *self.transaction)
                .await?;
        }
        // Newest first, so that each stream's number ends at the one before its first undone
        // event: sequence numbers within a stream are consecutive.
        for undone in self.unwritten.drain(savepoint.unwritten..).rev() {
            if let Some(newest) = &mut self.newest {
                newest.insert(undone.stream, undone.sequence - 1);
            }
        }
        Ok(())
    }

    /// Keeps everything since the innermost savepoint, and ends it.
    pub async fn release_savepoint(&mut self) -> Result<(), FeedError> {
        if let Some(Savepoint {
            in_database: true, ..
        }) = self.savepoints.pop()
        {
            sqlx::query("RELEASE SAVEPOINT feed_savepoint")
                .execute(&mut *self.transaction)
                .await?;
        }
        Ok(())
    }

    /// Writes the events appended, then commits the transaction, then wakes the feed's
    /// subscribers.
    pub async fn commit(mut self) -> Result<(), FeedError> {
        write_events(&mut self.transaction, &self.unwritten).await?;
        self.transaction.commit().await?;
        self.feed.committed.send_replace(());
        Ok(())
    }
}

/// The newest sequence number of each of `streams` that has events, in a statement or two.
async fn newest_sequences(
    connection: &mut AnyConnection,
    streams: &[String],
) -> Result<HashMap<String, i64>, FeedError> {
    let mut newest = HashMap::with_capacity(streams.len());
    for chunk in in_lists(streams, STREAMS_PER_STATEMENT) {
        let placeholders = placeholders(Backend::of(connection), chunk.len(), 1);
        // Only placeholders are formatted into the statement; every stream is bound.
        let statement = format!(
            "SELECT stream, MAX(sequence) FROM feed_events WHERE stream IN ({placeholders}) \
             GROUP BY stream"
        );
        let mut query = sqlx::query_as::<_, (String, i64)>(sqlx::AssertSqlSafe(statement));
        for stream in chunk {
            query = query.bind(stream);
        }
        newest.extend(query.fetch_all(&mut *connection).await?);
    }
    Ok(newest)
}

/// Writes `events` to the outbox, in order, a few hundred rows a statement. A unique index on
/// (stream, sequence) turns any numbering mistake into an error rather than a duplicate.
async fn write_events(
    connection: &mut AnyConnection,
    events: &[UnwrittenEvent],
) -> Result<(), FeedError> {
    for chunk in runs(events, EVENTS_PER_STATEMENT) {
        // Only placeholders are formatted into the statement; every value is bound.
        let statement = format!(
            "INSERT INTO feed_events (event_id, stream, sequence, event_type, effective_date, \
             traceparent, tracestate, payload_type_url, payload) VALUES {}",
            value_rows(Backend::of(connection), chunk.len(), 9)
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(statement));
        for event in chunk {
            query = query
                .bind(&event.event_id)
                .bind(&event.stream)
                .bind(event.sequence)
                .bind(&event.event_type)
                .bind(&event.effective_date)
                .bind(&event.trace.traceparent)
                .bind(&event.trace.tracestate)
                .bind(&event.payload.type_url)
                .bind(&event.payload.value);
        }
        query.execute(&mut *connection).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_lock_keys_are_stable_and_distinct() {
        // Pinned: another process (or release) must compute the same key for the same stream.
        assert_eq!(stream_lock_key("FB-0001"), stream_lock_key("FB-0001"));
        assert_ne!(stream_lock_key("FB-0001"), stream_lock_key("FB-0002"));
        assert_eq!(stream_lock_key("FB-0001"), PINNED_FB_0001);
    }

    /// The key of "FB-0001", computed independently (FNV-1a 64 of the prefixed name, in Python).
    const PINNED_FB_0001: i64 = 5_559_799_878_049_981_696;
}
