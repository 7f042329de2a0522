//! Where the CMS keeps its cases: one row each, the rules' state as JSON (a [`CaseRecord`] table),
//! read and written a batch at a time inside the batch's transaction, with the case's next work
//! day beside it so that a clock move visits only the cases with something due; and each case's
//! history, appended a row per event rather than rewritten with the case.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use familybridge_calculation::ParameterBook;
use familybridge_casework::{CaseError, CaseEvent, CaseFile, CaseSettings};
use familybridge_storage::case_table::{CaseRecord, RecordError, WorkingSet};
use familybridge_storage::sqlx::{self, AnyConnection, AssertSqlSafe};
use familybridge_storage::statements::{in_lists, placeholders, runs, value_rows};
use familybridge_storage::{Backend, Database, MigrationSet};
use serde::{Deserialize, Serialize};

/// The CMS's own tables.
pub const MIGRATIONS: MigrationSet = familybridge_storage::embed_migrations!(
    3001 "cms_cases",
    3002 "court_order_inbox",
    3003 "court_order_inbox_trace",
    3004 "court_case_parties",
    3005 "court_events_pending",
    3006 "cms_cases_next_work_day",
    3007 "cms_case_history",
    3008 "court_order_inbox_shared_columns",
    3009 "cms_cases_due_index_covering",
    3010 "cms_cases_room_to_update",
);

/// The most history rows one statement appends (SQLite allows 32,766 parameters; three a row).
const HISTORY_ROWS_PER_STATEMENT: usize = 512;

/// The most cases whose histories one statement reads.
const HISTORIES_PER_STATEMENT: usize = 512;

/// `next_work_day` of a case with nothing due, ever (until something changes it).
const NOTHING_DUE: &str = "9999-12-31";

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
    /// The case under the CMS's rules, its history kept apart (`cms_case_history`): loaded, the
    /// file holds only what happened since; [`load_history`] puts the rest back for a full view.
    pub file: CaseFile,
    /// How many history entries the history table holds for the case.
    #[serde(default)]
    pub history_stored: u64,
}

impl CaseRecord for StoredCase {
    const TABLE: &'static str = "cms_cases";
    const COLUMNS: &'static [&'static str] =
        &["paying_parent_ref", "receiving_parent_ref", "next_work_day"];
    const FIXED_COLUMNS: usize = 2;

    fn reference(&self) -> &str {
        &self.case_reference
    }

    fn column_values(&self) -> Vec<String> {
        vec![
            self.paying_parent_ref.clone(),
            self.receiving_parent_ref.clone(),
            self.file.next_work_day().map_or_else(
                || NOTHING_DUE.to_owned(),
                |day| day.format("%Y-%m-%d").to_string(),
            ),
        ]
    }
}

/// The cases with these references, loaded for a batch.
pub async fn load(
    connection: &mut AnyConnection,
    references: &[&str],
) -> Result<WorkingSet<StoredCase>, RecordError> {
    WorkingSet::load(connection, references).await
}

/// Saves the cases a batch changed: the history each recorded since it was loaded appended (and
/// taken out of its file, which keeps only what the rules need), then the records rewritten.
pub async fn save(
    connection: &mut AnyConnection,
    mut cases: WorkingSet<StoredCase>,
) -> Result<(), RecordError> {
    let mut history = Vec::new();
    for case in cases.changed_mut() {
        for entry in case.file.take_history() {
            let text = serde_json::to_string(&entry).map_err(|source| RecordError::Corrupt {
                table: "cms_case_history",
                reference: case.case_reference.clone(),
                source,
            })?;
            case.history_stored += 1;
            let position = i64::try_from(case.history_stored).unwrap_or(i64::MAX);
            history.push((case.case_reference.clone(), position, text));
        }
    }
    append_history(connection, &history).await?;
    cases.save(connection).await
}

/// Appends rows (case, position, entry) to the history table, a few hundred a statement.
async fn append_history(
    connection: &mut AnyConnection,
    rows: &[(String, i64, String)],
) -> Result<(), RecordError> {
    for chunk in runs(rows, HISTORY_ROWS_PER_STATEMENT) {
        // Only placeholders are formatted into the statement; every value is bound.
        let statement = format!(
            "INSERT INTO cms_case_history (case_reference, position, entry) VALUES {}",
            value_rows(Backend::of(connection), chunk.len(), 3)
        );
        let mut query = sqlx::query(AssertSqlSafe(statement));
        for (reference, position, entry) in chunk {
            query = query.bind(reference).bind(*position).bind(entry);
        }
        query.execute(&mut *connection).await?;
    }
    Ok(())
}

/// Puts the stored history back into a loaded case, before what it has recorded since: for a
/// view of everything that happened.
pub async fn load_history(
    connection: &mut AnyConnection,
    case: &mut StoredCase,
) -> Result<(), RecordError> {
    let mut histories = load_histories(connection, &[case.case_reference.as_str()]).await?;
    let earlier = histories.remove(&case.case_reference).unwrap_or_default();
    case.file.restore_history(earlier);
    Ok(())
}

/// The stored histories of the cases with these references, in order, a few hundred cases a
/// statement (a case with none stored is absent).
pub async fn load_histories(
    connection: &mut AnyConnection,
    references: &[&str],
) -> Result<BTreeMap<String, Vec<CaseEvent>>, RecordError> {
    let mut histories: BTreeMap<String, Vec<CaseEvent>> = BTreeMap::new();
    for chunk in in_lists(references, HISTORIES_PER_STATEMENT) {
        // Only placeholders are formatted into the statement; every reference is bound.
        let statement = format!(
            "SELECT case_reference, entry FROM cms_case_history \
             WHERE case_reference IN ({}) ORDER BY case_reference, position",
            placeholders(Backend::of(connection), chunk.len(), 1)
        );
        let mut query = sqlx::query_as::<_, (String, String)>(AssertSqlSafe(statement));
        for reference in chunk {
            query = query.bind(*reference);
        }
        for (reference, text) in query.fetch_all(&mut *connection).await? {
            let entry = serde_json::from_str(&text).map_err(|source| RecordError::Corrupt {
                table: "cms_case_history",
                reference: reference.clone(),
                source,
            })?;
            histories.entry(reference).or_default().push(entry);
        }
    }
    Ok(histories)
}

/// The references of the cases with something due by `$1`, unordered and perhaps repeated.
const DUE_REFERENCES: &str = "SELECT case_reference FROM cms_cases WHERE next_work_day <= $1 \
     UNION ALL SELECT case_reference FROM cms_cases WHERE next_work_day IS NULL \
     UNION ALL SELECT cms_case_reference FROM court_events_pending WHERE effective_date <= $1";

/// The cases with something due by `through`, in reference order (so a run is the same every
/// time): time-driven work on or before it, or a court event dated on or before it waiting to be
/// applied. The others would only count the days: they are left alone, and catch up when next
/// loaded ([`catch_up`]).
///
/// Each part of the statement reads only an index that holds the references (a search of the
/// cases' by next work day; the pending events', a table of a few rows a case, whole), and the
/// order is made here: asked to order the union
/// itself, SQLite walks the cases' table in key order instead, reading every case's row each week.
pub async fn due_references(
    database: &Database,
    through: NaiveDate,
) -> Result<Vec<String>, RecordError> {
    let mut references: Vec<String> = sqlx::query_scalar(DUE_REFERENCES)
        .bind(through.format("%Y-%m-%d").to_string())
        .fetch_all(database.pool())
        .await?;
    references.sort_unstable();
    references.dedup();
    Ok(references)
}

/// Brings a case the clock's moves left alone up to the clock's date `today`, as a visit would
/// have: with nothing due in between, only the days processed change, so a case loaded later is
/// the case every visit would have made it. Returns any events (none, unless the case was stored
/// before its next work day was kept).
pub fn catch_up(
    case: &mut StoredCase,
    today: Option<NaiveDate>,
    settings: &CaseSettings,
    book: &ParameterBook,
) -> Result<Vec<CaseEvent>, CaseError> {
    match today {
        Some(today) => case.file.advance_to(today, settings, book),
        None => Ok(Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use familybridge_testing::{TestDatabase, on_both_backends};

    fn date(text: &str) -> NaiveDate {
        text.parse().expect("a date")
    }

    async fn add_case(database: &Database, reference: &str, next_work_day: Option<&str>) {
        sqlx::query(
            "INSERT INTO cms_cases (case_reference, paying_parent_ref, receiving_parent_ref, \
             record, next_work_day) VALUES ($1, 'P', 'R', '{}', $2)",
        )
        .bind(reference)
        .bind(next_work_day)
        .execute(database.pool())
        .await
        .expect("a case row");
    }

    async fn cases_due_are_found_in_order_once_each(database: TestDatabase) {
        let database = database.connect(&[MIGRATIONS]).await;
        add_case(&database, "C-4", Some("2025-03-03")).await;
        add_case(&database, "C-1", Some("2025-03-04")).await;
        add_case(&database, "C-3", Some(NOTHING_DUE)).await;
        add_case(&database, "C-2", None).await;
        add_case(&database, "C-5", Some("2025-02-01")).await;
        for (case, event, effective) in [
            ("C-3", "E-1", "2025-03-01"),
            ("C-5", "E-2", "2025-02-20"),
            ("C-1", "E-3", "2025-05-01"),
        ] {
            sqlx::query(
                "INSERT INTO court_events_pending (cms_case_reference, event_id, effective_date) \
                 VALUES ($1, $2, $3)",
            )
            .bind(case)
            .bind(event)
            .bind(effective)
            .execute(database.pool())
            .await
            .expect("a pending event");
        }
        let due = due_references(&database, date("2025-03-03"))
            .await
            .expect("the due cases");
        assert_eq!(due, ["C-2", "C-3", "C-4", "C-5"]);
        if database.backend() == Backend::Sqlite {
            // The search reads indexes only: a scan of the cases' table would read every record.
            let plan: Vec<(i64, i64, i64, String)> = sqlx::query_as(AssertSqlSafe(format!(
                "EXPLAIN QUERY PLAN {DUE_REFERENCES}"
            )))
            .bind("2025-03-03")
            .fetch_all(database.pool())
            .await
            .expect("the query plan");
            let steps: Vec<&str> = plan.iter().map(|(.., step)| step.as_str()).collect();
            assert!(
                steps
                    .iter()
                    .filter(|step| step.contains("cms_cases"))
                    .all(|step| step.contains("USING COVERING INDEX cms_cases_by_next_work_day")),
                "{steps:?}"
            );
        }
    }

    on_both_backends!(cases_due_are_found_in_order_once_each);
}
