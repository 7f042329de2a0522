//! Where the registry keeps its cases: one row per case in its own database (a
//! [`CaseRecord`] table, with the case's status and the day it last changed beside the record),
//! read and written inside the command's transaction (which also records the events, see
//! `familybridge-feed`).

use familybridge_storage::MigrationSet;
use familybridge_storage::case_table::CaseRecord;

use crate::case::{Case, Status};

/// The registry's own tables.
pub const MIGRATIONS: MigrationSet = familybridge_storage::embed_migrations!(3001 "court_cases");

fn status_name(status: Status) -> &'static str {
    match status {
        Status::Proceedings => "proceedings",
        Status::FinalOrder => "final_order",
        Status::VariationPending => "variation_pending",
        Status::Closed => "closed",
    }
}

impl CaseRecord for Case {
    const TABLE: &'static str = "court_cases";
    const COLUMNS: &'static [&'static str] = &["status", "last_changed_on"];

    fn reference(&self) -> &str {
        &self.reference
    }

    fn column_values(&self) -> Vec<String> {
        vec![
            status_name(self.status).to_owned(),
            self.last_changed_on.format("%Y-%m-%d").to_string(),
        ]
    }
}
