//! Where the CMS keeps its cases: one row each, the rules' whole state as JSON, read and written
//! inside the command's transaction.

use familybridge_casework::CaseFile;
use familybridge_storage::sqlx::{self, AnyConnection};
use familybridge_storage::{Database, MigrationSet, StorageError};
use serde::{Deserialize, Serialize};

/// The CMS's own tables.
pub const MIGRATIONS: MigrationSet = familybridge_storage::embed_migrations!(
    3001 "cms_cases",
    3002 "court_order_inbox",
    3003 "court_order_inbox_trace",
    3004 "court_case_parties",
    3005 "court_events_pending",
);

/// A case as stored: who it is about, and the rules' state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredCase {
    /// The CMS case reference.
    pub case_reference: String,
    /// The paying parent's person reference.
    pub paying_parent_ref: String,
    /// The receiving parent's person reference.
    pub receiving_parent_ref: String,
    /// The qualifying children.
    pub child_refs: Vec<String>,
    /// The case under the CMS's rules.
    pub file: CaseFile,
}

/// A stored case could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A stored record does not parse.
    #[error("the stored record of case {reference} is unreadable")]
    Corrupt {
        /// The case.
        reference: String,
        /// The parser's error.
        source: serde_json::Error,
    },
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        StoreError::Storage(error.into())
    }
}

/// The case with this reference, if there is one.
pub async fn load(
    connection: &mut AnyConnection,
    reference: &str,
) -> Result<Option<StoredCase>, StoreError> {
    let record: Option<String> =
        sqlx::query_scalar("SELECT record FROM cms_cases WHERE case_reference = $1")
            .bind(reference)
            .fetch_optional(&mut *connection)
            .await?;
    record
        .map(|text| {
            serde_json::from_str(&text).map_err(|source| StoreError::Corrupt {
                reference: reference.to_owned(),
                source,
            })
        })
        .transpose()
}

/// Saves `case`, new or changed.
pub async fn save(connection: &mut AnyConnection, case: &StoredCase) -> Result<(), StoreError> {
    let record = serde_json::to_string(case).map_err(|source| StoreError::Corrupt {
        reference: case.case_reference.clone(),
        source,
    })?;
    sqlx::query(
        "INSERT INTO cms_cases (case_reference, paying_parent_ref, receiving_parent_ref, record) \
         VALUES ($1, $2, $3, $4) \
         ON CONFLICT (case_reference) DO UPDATE SET record = excluded.record",
    )
    .bind(&case.case_reference)
    .bind(&case.paying_parent_ref)
    .bind(&case.receiving_parent_ref)
    .bind(record)
    .execute(&mut *connection)
    .await?;
    Ok(())
}

/// Every case reference, in order: the time-driven work visits cases in this order, so a run is
/// the same every time.
pub async fn all_references(database: &Database) -> Result<Vec<String>, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT case_reference FROM cms_cases ORDER BY case_reference")
            .fetch_all(database.pool())
            .await?,
    )
}
