//! Where the registry keeps its cases: one row per case in its own database, read and written
//! inside the command's transaction (which also records the events, see `familybridge-feed`).

use familybridge_storage::sqlx::{self, AnyConnection};
use familybridge_storage::{MigrationSet, StorageError};

use crate::case::{Case, Status};

/// The registry's own tables.
pub const MIGRATIONS: MigrationSet = familybridge_storage::embed_migrations!(3001 "court_cases");

/// A stored case could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A stored record does not parse (it was edited by hand, or a migration is missing).
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

fn status_name(status: Status) -> &'static str {
    match status {
        Status::Proceedings => "proceedings",
        Status::FinalOrder => "final_order",
        Status::VariationPending => "variation_pending",
        Status::Closed => "closed",
    }
}

/// The case with this reference, if there is one.
pub async fn load(
    connection: &mut AnyConnection,
    reference: &str,
) -> Result<Option<Case>, StoreError> {
    let record: Option<String> =
        sqlx::query_scalar("SELECT record FROM court_cases WHERE case_reference = $1")
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
pub async fn save(connection: &mut AnyConnection, case: &Case) -> Result<(), StoreError> {
    let record = serde_json::to_string(case).map_err(|source| StoreError::Corrupt {
        reference: case.reference.clone(),
        source,
    })?;
    sqlx::query(
        "INSERT INTO court_cases (case_reference, status, last_changed_on, record) \
         VALUES ($1, $2, $3, $4) \
         ON CONFLICT (case_reference) DO UPDATE SET status = excluded.status, \
         last_changed_on = excluded.last_changed_on, record = excluded.record",
    )
    .bind(&case.reference)
    .bind(status_name(case.status))
    .bind(case.last_changed_on.format("%Y-%m-%d").to_string())
    .bind(record)
    .execute(&mut *connection)
    .await?;
    Ok(())
}
