//! The cases one batch of work is about — a batch of commands, or a transaction's share of a
//! clock move — as the work leaves them: loaded together with the court events pending on them,
//! changed in memory a case at a time, and the changed ones saved together before the batch
//! commits. A piece of work takes a copy of its case ([`CaseBatch::copy_of`]) and keeps it only
//! if it succeeds ([`CaseBatch::keep`]), so a refused command leaves the batch's cases as they
//! were. A batch's reads of whole histories have them loaded together too
//! ([`CaseBatch::load_histories`]).

use std::collections::BTreeMap;

use familybridge_casework::CaseEvent;
use familybridge_feed::FeedTransaction;
use familybridge_runtime::machinery_failure;
use familybridge_storage::case_table::WorkingSet;
use tonic::Status;

use crate::cases::court_orders::{CasePending, PendingCourtEvents};
use crate::cases::store::{self, StoredCase};

/// The cases of a batch, and the court events pending on them.
#[derive(Debug)]
pub struct CaseBatch {
    cases: WorkingSet<StoredCase>,
    pending: PendingCourtEvents,
    /// The stored history of each case the batch reads with its history, loaded together before
    /// the batch's first entry ([`CaseBatch::load_histories`]).
    histories: BTreeMap<String, Vec<CaseEvent>>,
}

impl CaseBatch {
    /// Loads the cases with these references, and (if court orders come by automatic exchange,
    /// `with_court_events`) the court events pending on them, in the batch's transaction.
    pub(crate) async fn load(
        transaction: &mut FeedTransaction,
        references: &[&str],
        with_court_events: bool,
    ) -> Result<Self, Status> {
        let cases = store::load(transaction.connection().await?, references)
            .await
            .map_err(machinery_failure)?;
        let pending = if with_court_events {
            PendingCourtEvents::load(transaction, references).await?
        } else {
            PendingCourtEvents::default()
        };
        Ok(Self {
            cases,
            pending,
            histories: BTreeMap::new(),
        })
    }

    /// Loads the stored histories of the cases with these references, in one statement or a few.
    pub(crate) async fn load_histories(
        &mut self,
        transaction: &mut FeedTransaction,
        references: &[&str],
    ) -> Result<(), Status> {
        let mut loaded = store::load_histories(transaction.connection().await?, references)
            .await
            .map_err(machinery_failure)?;
        for reference in references {
            let history = loaded.remove(*reference).unwrap_or_default();
            self.histories.insert((*reference).to_owned(), history);
        }
        Ok(())
    }

    /// The stored history of the case with this reference, if the batch loaded it.
    pub(crate) fn stored_history(&self, reference: &str) -> Option<&[CaseEvent]> {
        self.histories.get(reference).map(Vec::as_slice)
    }

    /// The case with this reference as the batch has it, if it exists.
    pub(crate) fn get(&self, reference: &str) -> Option<&StoredCase> {
        self.cases.get(reference)
    }

    /// A copy of the case with this reference (if it exists) and of the court events pending on
    /// it, for a piece of work to change.
    pub(crate) fn copy_of(&self, reference: &str) -> (Option<StoredCase>, CasePending) {
        (
            self.cases.get(reference).cloned(),
            self.pending.of(reference),
        )
    }

    /// Keeps `case` as a piece of work left it, with what is still pending on it.
    pub(crate) fn keep(&mut self, case: StoredCase, pending: CasePending) {
        self.pending.keep(&case.case_reference, pending);
        self.cases.keep(case);
    }

    /// Saves the cases the batch changed, in its transaction.
    pub(crate) async fn save(self, transaction: &mut FeedTransaction) -> Result<(), Status> {
        store::save(transaction.connection().await?, self.cases)
            .await
            .map_err(machinery_failure)
    }
}
