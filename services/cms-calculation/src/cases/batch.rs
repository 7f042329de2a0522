//! The cases one batch of work is about — a batch of commands, or a transaction's share of a
//! clock move — as the work leaves them: loaded together with the court events pending on them,
//! changed in memory a case at a time, and the changed ones saved together before the batch
//! commits. A piece of work takes a copy of its case ([`CaseBatch::copy_of`]) and keeps it only
//! if it succeeds ([`CaseBatch::keep`]), so a refused command leaves the batch's cases as they
//! were.

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
        Ok(Self { cases, pending })
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
