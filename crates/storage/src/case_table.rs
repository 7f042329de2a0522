//! A table of case records, one row a case: the record as JSON beside a few columns the agency
//! queries by, read a batch's worth at a time into a [`WorkingSet`] and written back together.
//!
//! This is how every agency's command executor keeps its cases: a batch loads all the cases its
//! commands are about in a statement or two, the commands change them in memory, and the changed
//! ones are written back a few hundred rows a statement — so the cost of a batch does not grow by
//! a statement or two for every command.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::AnyConnection;

use crate::statements::{in_lists, placeholders, runs, value_rows};
use crate::{Backend, StorageError};

/// The most cases one statement reads or writes (SQLite allows 32,766 parameters).
const CASES_PER_STATEMENT: usize = 512;

/// A kind of case record and the table that holds it: `case_reference` (the key), `record` (the
/// JSON) and the [`COLUMNS`](CaseRecord::COLUMNS) kept beside them.
pub trait CaseRecord: Serialize + DeserializeOwned + Clone + Send + Sync {
    /// The table.
    const TABLE: &'static str;
    /// The columns beside the key and the record, written when the case is first saved.
    const COLUMNS: &'static [&'static str];
    /// How many of the first [`COLUMNS`](CaseRecord::COLUMNS) hold what a case keeps for life (its
    /// parties, say): a later save leaves them alone, so that it does not rewrite their index
    /// entries (a database updates an index whenever a statement sets one of its columns, to the
    /// same value or not). The rest are set on every save.
    const FIXED_COLUMNS: usize = 0;
    /// The case's reference, its key.
    fn reference(&self) -> &str;
    /// The values of [`COLUMNS`](CaseRecord::COLUMNS), in their order.
    fn column_values(&self) -> Vec<String>;
}

/// A stored case record could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The database failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A stored record does not parse (it was edited by hand, or a migration is missing), or a
    /// record cannot be written as JSON.
    #[error("the record of case {reference} in {table} is unreadable")]
    Corrupt {
        /// The table.
        table: &'static str,
        /// The case.
        reference: String,
        /// The parser's error.
        source: serde_json::Error,
    },
}

impl From<sqlx::Error> for RecordError {
    fn from(error: sqlx::Error) -> Self {
        RecordError::Storage(error.into())
    }
}

/// The cases a batch is about, as its commands leave them: loaded together, changed in memory,
/// and the changed ones saved together.
#[derive(Debug, Clone)]
pub struct WorkingSet<R> {
    /// Every case asked for: its record, or `None` if there is none (yet).
    cases: BTreeMap<String, Option<R>>,
    /// The cases changed since they were loaded.
    changed: BTreeSet<String>,
}

impl<R: CaseRecord> WorkingSet<R> {
    /// Loads the cases with these references, in a statement for every few hundred.
    pub async fn load(
        connection: &mut AnyConnection,
        references: &[&str],
    ) -> Result<Self, RecordError> {
        let mut cases: BTreeMap<String, Option<R>> = references
            .iter()
            .map(|reference| ((*reference).to_owned(), None))
            .collect();
        let wanted: Vec<&String> = cases.keys().collect();
        let mut found = Vec::new();
        for chunk in in_lists(&wanted, CASES_PER_STATEMENT) {
            // Only placeholders are formatted into the statement; every reference is bound.
            let statement = format!(
                "SELECT case_reference, record FROM {} WHERE case_reference IN ({})",
                R::TABLE,
                placeholders(Backend::of(connection), chunk.len(), 1)
            );
            let mut query = sqlx::query_as::<_, (String, String)>(sqlx::AssertSqlSafe(statement));
            for reference in chunk {
                query = query.bind(reference.as_str());
            }
            found.extend(query.fetch_all(&mut *connection).await?);
        }
        for (reference, text) in found {
            let record = serde_json::from_str(&text).map_err(|source| RecordError::Corrupt {
                table: R::TABLE,
                reference: reference.clone(),
                source,
            })?;
            cases.insert(reference, Some(record));
        }
        Ok(Self {
            cases,
            changed: BTreeSet::new(),
        })
    }

    /// The case with this reference, if it exists (loaded, or kept since).
    pub fn get(&self, reference: &str) -> Option<&R> {
        self.cases.get(reference).and_then(Option::as_ref)
    }

    /// Keeps `record` as its case now is, to be saved with the batch.
    pub fn keep(&mut self, record: R) {
        let reference = record.reference().to_owned();
        self.changed.insert(reference.clone());
        self.cases.insert(reference, Some(record));
    }

    /// The cases changed since they were loaded, in reference order.
    pub fn changed_mut(&mut self) -> impl Iterator<Item = &mut R> {
        let changed = &self.changed;
        self.cases
            .iter_mut()
            .filter(move |(reference, _)| changed.contains(*reference))
            .filter_map(|(_, record)| record.as_mut())
    }

    /// Writes the changed cases, new or updated, a few hundred rows a statement.
    pub async fn save(mut self, connection: &mut AnyConnection) -> Result<(), RecordError> {
        let changed: Vec<&R> = self.changed_mut().map(|record| &*record).collect();
        let columns = R::COLUMNS.len() + 2;
        let names = R::COLUMNS.join(", ");
        let updates: String = R::COLUMNS[R::FIXED_COLUMNS.min(R::COLUMNS.len())..]
            .iter()
            .map(|column| format!(", {column} = excluded.{column}"))
            .collect();
        for chunk in runs(&changed, CASES_PER_STATEMENT) {
            // Only the table's own names and placeholders are formatted into the statement; every
            // value is bound.
            let statement = format!(
                "INSERT INTO {table} (case_reference, record, {names}) VALUES {rows} \
                 ON CONFLICT (case_reference) DO UPDATE SET record = excluded.record{updates}",
                table = R::TABLE,
                rows = value_rows(Backend::of(connection), chunk.len(), columns),
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(statement));
            for record in chunk {
                let text =
                    serde_json::to_string(record).map_err(|source| RecordError::Corrupt {
                        table: R::TABLE,
                        reference: record.reference().to_owned(),
                        source,
                    })?;
                query = query.bind(record.reference().to_owned()).bind(text);
                for value in record.column_values() {
                    query = query.bind(value);
                }
            }
            query.execute(&mut *connection).await?;
        }
        Ok(())
    }
}
