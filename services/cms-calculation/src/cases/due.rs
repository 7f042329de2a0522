//! The CMS's time-driven work: when the simulation moves the clock, every case with something due
//! by the new date advances to it — instalments fall due, missed payments build arrears and climb
//! the enforcement ladder (unless paused), pauses end, annual reviews happen, court events reach
//! their dates — in case reference order so that every run is the same, a batch of cases to a
//! transaction (as the feed's command executor batches commands), so that a week costs a few
//! commits, not one per case. Which cases have something due is an index (the next work day kept with each case,
//! and the pending court events), so a week costs the cases due that week, not the caseload; the
//! others catch up when next loaded (`store::catch_up`), to exactly the state a visit would have
//! left. A case already advanced (say, before a crash) does nothing more, so the work can safely be
//! run again.
//!
//! The clock move is a batch: it has a span of its own, and each case that has something fall due
//! gets a span beginning a trace of its own (a missed payment is the start of that family's next
//! journey, to the hub's reaction), linked to the batch's span.

use std::sync::Arc;

use chrono::NaiveDate;
use familybridge_calculation::ParameterBook;
use familybridge_casework::{CaseSettings, CourtOrderRoute};
use familybridge_feed::{Feed, TraceContext};
use familybridge_runtime::machinery_failure;
use familybridge_runtime::{DueWork, batch, family_span, trace_span};
use tonic::Status;
use tracing::Instrument;

use crate::cases::batch::CaseBatch;
use crate::cases::court_orders::apply_pending_to_case;
use crate::cases::publish::publish;
use crate::cases::rules::case_status;
use crate::cases::store;

/// How many cases one transaction of due work advances: enough that commits are few, few enough
/// that the write lock is never held for long.
const CASES_PER_TRANSACTION: usize = 256;

/// What falls due on CMS cases as time passes.
#[derive(Debug, Clone)]
pub struct CaseDueWork {
    feed: Feed,
    settings: CaseSettings,
    book: Arc<ParameterBook>,
}

impl CaseDueWork {
    /// The due work of the cases in `feed`'s database, under `settings` and the parameters in
    /// `book`.
    pub fn new(feed: Feed, settings: CaseSettings, book: Arc<ParameterBook>) -> Self {
        Self {
            feed,
            settings,
            book,
        }
    }
}

impl DueWork for CaseDueWork {
    async fn run_due(&self, _from: Option<NaiveDate>, to: NaiveDate) -> Result<(), Status> {
        let references = store::due_references(self.feed.database(), to)
            .await
            .map_err(machinery_failure)?;
        let advancing = batch(
            "cms.due_work",
            self.feed.publisher().service_name(),
            references.len(),
        );
        let automatic = self.settings.court_orders == CourtOrderRoute::Automatic;
        for chunk in references.chunks(CASES_PER_TRANSACTION) {
            let streams: Vec<&str> = chunk.iter().map(String::as_str).collect();
            let mut transaction = self.feed.begin(&streams).await.map_err(machinery_failure)?;
            let mut cases = CaseBatch::load(&mut transaction, &streams, automatic).await?;
            for reference in chunk {
                let (Some(mut case), mut pending) = cases.copy_of(reference) else {
                    continue;
                };
                // The court's events dated by then, in date order, before the time-driven work
                // after them (each runs the due work before its own date).
                apply_pending_to_case(
                    &mut transaction,
                    &mut case,
                    &mut pending,
                    to,
                    &self.settings,
                    &self.book,
                    &advancing,
                )
                .await?;
                let events = case
                    .file
                    .advance_to(to, &self.settings, &self.book)
                    .map_err(case_status)?;
                let span = family_span(
                    trace_span!("cms.advance_case", case = %reference, events = events.len()),
                    &TraceContext::default(),
                    &advancing,
                );
                // The events carry the case's own span, which the context is read inside.
                async { publish(&mut transaction, &case, &events, &TraceContext::current()).await }
                    .instrument(span)
                    .await
                    .map_err(machinery_failure)?;
                // Kept even with no events: its next work day has moved on.
                cases.keep(case, pending);
            }
            cases.save(&mut transaction).await?;
            transaction.commit().await.map_err(machinery_failure)?;
        }
        Ok(())
    }
}
