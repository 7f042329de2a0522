//! The disclosure audit log: what was sent to whom, which fields, why and on what legal basis.
//!
//! Rows are written before the events they record leave (see the feed server), one transaction per
//! batch. A redelivery of an event to the same agency keeps the first record — the log answers
//! "what does this agency know?" — and is itself recorded, in `feed_redeliveries`, so that every
//! sending to a verified recipient is audited: a disclosure is listed with how often it was
//! redelivered.

use chrono::{SecondsFormat, Utc};
use familybridge_proto::common::v1::{
    Agency, CountDisclosuresRequest, Disclosure, ListDisclosuresRequest,
};
use familybridge_storage::{Database, WriteTransaction};
use sqlx::Row;

use crate::{AgencyId, FeedError};
use familybridge_storage::statements::{placeholders, runs, value_rows};
use std::collections::HashSet;

/// The most disclosures one page holds, and how many a request for "the default" gets.
pub(crate) const PAGE_LIMIT: u32 = 1_000;

/// One disclosure about to be made.
#[derive(Debug, Clone)]
pub(crate) struct PendingDisclosure<'a> {
    pub(crate) recipient: AgencyId,
    pub(crate) event_id: &'a str,
    pub(crate) event_type: &'a str,
    pub(crate) stream: &'a str,
    pub(crate) fields: &'a [String],
    pub(crate) purpose: &'a str,
    pub(crate) legal_basis: &'a str,
    pub(crate) effective_date: &'a str,
}

/// The most disclosures one statement records (nine parameters each, within SQLite's 32,766).
const DISCLOSURES_PER_STATEMENT: usize = 512;

/// Records `disclosures` in one transaction, a few hundred rows a statement, stamped with the
/// current wall-clock time; for those already recorded, a redelivery of each.
pub(crate) async fn record(
    database: &Database,
    disclosures: &[PendingDisclosure<'_>],
) -> Result<(), FeedError> {
    if disclosures.is_empty() {
        return Ok(());
    }
    let disclosed_at = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
    let WriteTransaction {
        mut transaction,
        turn: _turn,
    } = database.begin_write().await?;
    for chunk in runs(disclosures, DISCLOSURES_PER_STATEMENT) {
        // Only placeholders are formatted into the statement; every value is bound.
        let statement = format!(
            "INSERT INTO feed_disclosures (recipient, event_id, event_type, stream, fields, \
             purpose, legal_basis, effective_date, disclosed_at) VALUES {} \
             ON CONFLICT (recipient, event_id) DO NOTHING RETURNING event_id",
            value_rows(database.backend(), chunk.len(), 9)
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(statement));
        for disclosure in chunk {
            query = query
                .bind(disclosure.recipient.as_str())
                .bind(disclosure.event_id)
                .bind(disclosure.event_type)
                .bind(disclosure.stream)
                .bind(disclosure.fields.join(","))
                .bind(disclosure.purpose)
                .bind(disclosure.legal_basis)
                .bind(disclosure.effective_date)
                .bind(&disclosed_at);
        }
        let first: HashSet<String> = query
            .fetch_all(&mut *transaction)
            .await?
            .iter()
            .map(|row| row.try_get("event_id"))
            .collect::<Result<_, _>>()?;
        // A batch is one recipient's; what was not new is a redelivery.
        let again: Vec<&str> = chunk
            .iter()
            .map(|disclosure| disclosure.event_id)
            .filter(|event_id| !first.contains(*event_id))
            .collect();
        if let (false, Some(disclosure)) = (again.is_empty(), chunk.first()) {
            let statement = format!(
                "INSERT INTO feed_redeliveries (disclosure_id, redelivered_at) \
                 SELECT id, $1 FROM feed_disclosures WHERE recipient = $2 AND event_id IN ({})",
                placeholders(database.backend(), again.len(), 3)
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(statement))
                .bind(&disclosed_at)
                .bind(disclosure.recipient.as_str());
            for event_id in again {
                query = query.bind(event_id);
            }
            query.execute(&mut *transaction).await?;
        }
    }
    transaction.commit().await?;
    Ok(())
}

/// Why a ListDisclosures or CountDisclosures request cannot be answered as asked.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ListError {
    /// A filter is not valid.
    #[error("{0}")]
    Invalid(String),
    /// The query failed or a row is unreadable.
    #[error(transparent)]
    Feed(#[from] FeedError),
}

/// The most stream prefixes one CountDisclosures request may ask about.
pub(crate) const MAX_COUNTED_PREFIXES: usize = 1_000;

/// The agency a request's `recipient` filter names, as the log records it; empty for all.
fn recipient_filter(recipient: i32) -> Result<String, ListError> {
    match Agency::try_from(recipient) {
        Ok(Agency::Unspecified) => Ok(String::new()),
        Ok(agency) => Ok(AgencyId::try_from(agency)
            .map_err(|error| ListError::Invalid(format!("recipient: {error}")))?
            .as_str()
            .to_owned()),
        Err(_) => Err(ListError::Invalid(format!(
            "recipient: {recipient} is not an Agency value"
        ))),
    }
}

/// A `LIKE` pattern matching every text that begins with `prefix` (its wildcards escaped).
fn begins_with(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len() + 1);
    for character in prefix.chars() {
        if matches!(character, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(character);
    }
    pattern.push('%');
    pattern
}

/// For each of `request`'s stream prefixes, in order, how many disclosures match it and the
/// recipient filter: counted by the database, so that nothing but the counts is read.
pub(crate) async fn count(
    database: &Database,
    request: &CountDisclosuresRequest,
) -> Result<Vec<u64>, ListError> {
    let recipient = recipient_filter(request.recipient)?;
    if request.stream_prefixes.is_empty() || request.stream_prefixes.len() > MAX_COUNTED_PREFIXES {
        return Err(ListError::Invalid(format!(
            "stream_prefixes: {} given; between 1 and {MAX_COUNTED_PREFIXES} are counted",
            request.stream_prefixes.len()
        )));
    }
    let mut counts = Vec::with_capacity(request.stream_prefixes.len());
    for prefix in &request.stream_prefixes {
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM feed_disclosures \
             WHERE ($1 = '' OR recipient = $1) AND stream LIKE $2 ESCAPE '\\'",
        )
        .bind(&recipient)
        .bind(begins_with(prefix))
        .fetch_one(database.pool())
        .await
        .map_err(FeedError::from)?;
        counts.push(u64::try_from(count).unwrap_or_default());
    }
    Ok(counts)
}

/// The disclosures matching `request`'s filters, oldest first.
pub(crate) async fn list(
    database: &Database,
    request: &ListDisclosuresRequest,
) -> Result<Vec<Disclosure>, ListError> {
    let recipient = recipient_filter(request.recipient)?;
    // Ids are positive i64s; a larger `after_id` is after every one of them.
    let after_id = i64::try_from(request.after_id).unwrap_or(i64::MAX);
    let limit = match request.limit {
        0 => PAGE_LIMIT,
        limit => limit.min(PAGE_LIMIT),
    };
    let rows = sqlx::query(
        "SELECT id, recipient, event_id, event_type, stream, fields, purpose, legal_basis, \
         effective_date, disclosed_at, \
         (SELECT COUNT(*) FROM feed_redeliveries r WHERE r.disclosure_id = d.id) AS redeliveries \
         FROM feed_disclosures d \
         WHERE ($1 = '' OR recipient = $1) AND ($2 = '' OR event_id = $2) AND id > $3 \
         ORDER BY id LIMIT $4",
    )
    .bind(recipient)
    .bind(&request.event_id)
    .bind(after_id)
    .bind(i64::from(limit))
    .fetch_all(database.pool())
    .await
    .map_err(FeedError::from)?;
    rows.iter()
        .map(|row| disclosure(row).map_err(ListError::from))
        .collect()
}

/// A Disclosure from a row of [`list`]'s query.
fn disclosure(row: &sqlx::any::AnyRow) -> Result<Disclosure, FeedError> {
    let id: i64 = row.try_get("id")?;
    let recipient: String = row.try_get("recipient")?;
    let fields: String = row.try_get("fields")?;
    Ok(Disclosure {
        id: u64::try_from(id).map_err(|_| FeedError::Corrupt {
            what: "disclosure id",
            value: id.to_string(),
        })?,
        recipient: Agency::from(
            recipient
                .parse::<AgencyId>()
                .map_err(|_| FeedError::Corrupt {
                    what: "recipient",
                    value: recipient.clone(),
                })?,
        )
        .into(),
        event_id: row.try_get("event_id")?,
        event_type: row.try_get("event_type")?,
        stream: row.try_get("stream")?,
        fields: fields
            .split(',')
            .filter(|path| !path.is_empty())
            .map(str::to_owned)
            .collect(),
        purpose: row.try_get("purpose")?,
        legal_basis: row.try_get("legal_basis")?,
        effective_date: row.try_get("effective_date")?,
        disclosed_at: row.try_get("disclosed_at")?,
        redeliveries: u32::try_from(row.try_get::<i64, _>("redeliveries")?).unwrap_or(u32::MAX),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_pattern_escapes_the_wildcards_it_holds() {
        assert_eq!(begins_with("CMS-R2-"), "CMS-R2-%");
        assert_eq!(begins_with("a_b%c\\"), "a\\_b\\%c\\\\%");
        assert_eq!(begins_with(""), "%");
    }
}
