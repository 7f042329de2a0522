//! Court orders by automatic exchange: the CMS follows the court registry's feed and applies each
//! order's care pattern to the family's CMS case on the day the event reaches it (the maintenance
//! period in which the CMS is told, as for an order a parent reports).
//!
//! A court event names a court case and its parties, not a CMS case, and the CMS's feed locks a
//! case's stream before its transaction begins. So events are taken in two steps. The subscription
//! ([`CourtOrderInbox`]) only records each event in an inbox, in the same transaction as its feed
//! cursor: it arrives exactly once. The [`CourtOrderApplier`] then applies inbox entries in order of
//! arrival, each to every CMS case of the same two parents, in that case's own locked transaction,
//! recording the application there too, so that a restart never applies an event twice.
//!
//! Each entry keeps the trace context its event came with, and is applied in a span continuing it,
//! linked to the span of the batch of entries applied together; the CMS's own events carry that
//! span's context. So the court's final order, the CMS's recalculation and the hub's reaction to it
//! are one trace.
//!
//! What the CMS does with them: `SharedCareDetermined` becomes court-order evidence of each child's
//! nights with the paying parent (interim or final, as the court said); `CaseClosed` without a final
//! order ends the proceedings a delayed case was waiting for; `CaseOpened` records the court case's
//! parties, by which every event of that court case reaches the family's CMS cases, including CMS
//! cases opened after the court case.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use familybridge_calculation::{Nights, ParameterBook};
use familybridge_casework::{CaseSettings, CourtOrder, ProceedingsOutcome};
use familybridge_feed::{
    EventHandler, Feed, FeedTransaction, Following, HandlerError, TraceContext, internal_error,
};
use familybridge_proto::common::v1::Event;
use familybridge_proto::court::v1 as court;
use familybridge_runtime::{CancellationToken, Intake, batch, family_span, trace_span};
use familybridge_storage::sqlx;
use prost::{Message, Name};
use tokio::sync::{Mutex, Notify};
use tonic::Status;
use tracing::Instrument;

use crate::cases::publish::publish;
use crate::cases::store::{self, StoredCase};

/// How often the applier looks at the inbox without being woken (a wake-up can be missed when it
/// comes before the event's transaction commits).
const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// The court events the CMS acts on.
fn wanted(event_type: &str) -> bool {
    [
        court::CaseOpened::full_name(),
        court::SharedCareDetermined::full_name(),
        court::CaseClosed::full_name(),
    ]
    .iter()
    .any(|name| name == event_type)
}

/// The subscription's handler: records each wanted court event in the inbox.
#[derive(Debug, Clone)]
pub struct CourtOrderInbox {
    wake: Arc<Notify>,
}

impl CourtOrderInbox {
    /// An inbox that wakes `wake` when an event arrives.
    pub fn new(wake: Arc<Notify>) -> Self {
        Self { wake }
    }
}

impl EventHandler for CourtOrderInbox {
    async fn handle(&self, tx: &mut FeedTransaction, event: &Event) -> Result<(), HandlerError> {
        if !wanted(&event.event_type) {
            return Ok(());
        }
        let payload = event
            .payload
            .as_ref()
            .map(|payload| payload.value.clone())
            .unwrap_or_default();
        let trace = TraceContext::from_event(event);
        sqlx::query(
            "INSERT INTO court_order_inbox (event_id, event_type, effective_date, payload, \
             traceparent, tracestate) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (event_id) DO NOTHING",
        )
        .bind(&event.event_id)
        .bind(&event.event_type)
        .bind(&event.effective_date)
        .bind(payload)
        .bind(trace.traceparent)
        .bind(trace.tracestate)
        .execute(tx.connection())
        .await
        .map_err(HandlerError::other)?;
        self.wake.notify_one();
        Ok(())
    }
}

/// One inbox entry.
#[derive(Debug)]
struct Entry {
    arrival: i64,
    event_id: String,
    event_type: String,
    effective_date: String,
    payload: Vec<u8>,
    /// The trace context the court's event came with.
    trace: TraceContext,
}

/// Applies inbox entries to CMS cases.
#[derive(Debug, Clone)]
pub struct CourtOrderApplier {
    feed: Feed,
    settings: CaseSettings,
    book: Arc<ParameterBook>,
    wake: Arc<Notify>,
    /// Held while applying, so that the applier's own loop and a settling simulation never apply
    /// the inbox side by side.
    applying: Arc<Mutex<()>>,
}

/// Why an inbox entry could not be applied (it is tried again).
#[derive(Debug, thiserror::Error)]
enum ApplyError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error(transparent)]
    Feed(#[from] familybridge_feed::FeedError),
    #[error("court event {0} does not decode")]
    Decode(String, #[source] prost::DecodeError),
    #[error("court event {event_id} has the effective date {date:?}, not YYYY-MM-DD")]
    Date { event_id: String, date: String },
}

impl CourtOrderApplier {
    /// The applier for the CMS cases in `feed`'s database, under `settings` and the parameters in
    /// `book`, woken by `wake`.
    pub fn new(
        feed: Feed,
        settings: CaseSettings,
        book: Arc<ParameterBook>,
        wake: Arc<Notify>,
    ) -> Self {
        Self {
            feed,
            settings,
            book,
            wake,
            applying: Arc::new(Mutex::new(())),
        }
    }

    /// Applies entries as they arrive until `stop` is cancelled.
    pub async fn run(self, stop: CancellationToken) {
        loop {
            if let Err(error) = self.apply_pending().await {
                tracing::error!(%error, "applying court orders failed; trying again");
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(POLL_INTERVAL) => {}
            }
        }
    }

    /// Applies every pending entry, oldest first.
    async fn apply_pending(&self) -> Result<(), ApplyError> {
        let _applying = self.applying.lock().await;
        type Row = (i64, String, String, String, Vec<u8>, String, String);
        let pending: Vec<Row> = sqlx::query_as(
            "SELECT arrival, event_id, event_type, effective_date, payload, traceparent, \
             tracestate FROM court_order_inbox WHERE applied = 0 ORDER BY arrival LIMIT 500",
        )
        .fetch_all(self.feed.database().pool())
        .await?;
        if pending.is_empty() {
            return Ok(());
        }
        let applying = batch(
            "cms.apply_court_orders",
            self.feed.publisher().service_name(),
            pending.len(),
        );
        let pending = pending.into_iter().map(
            |(arrival, event_id, event_type, effective_date, payload, traceparent, tracestate)| {
                Entry {
                    arrival,
                    event_id,
                    event_type,
                    effective_date,
                    payload,
                    trace: TraceContext {
                        traceparent,
                        tracestate,
                    },
                }
            },
        );
        for entry in pending {
            let span = family_span(
                trace_span!(
                    "cms.apply_court_event",
                    otel.name = %format!("apply {}", entry.event_type),
                    event_id = %entry.event_id,
                ),
                &entry.trace,
                &applying,
            );
            self.apply(&entry).instrument(span).await?;
            sqlx::query("UPDATE court_order_inbox SET applied = 1 WHERE arrival = $1")
                .bind(entry.arrival)
                .execute(self.feed.database().pool())
                .await?;
        }
        Ok(())
    }

    async fn apply(&self, entry: &Entry) -> Result<(), ApplyError> {
        let date: NaiveDate = entry.effective_date.parse().map_err(|_| ApplyError::Date {
            event_id: entry.event_id.clone(),
            date: entry.effective_date.clone(),
        })?;
        let decode_error = |error| ApplyError::Decode(entry.event_id.clone(), error);
        if entry.event_type == court::CaseOpened::full_name() {
            let opened =
                court::CaseOpened::decode(entry.payload.as_slice()).map_err(decode_error)?;
            self.link(
                &opened.case_reference,
                opened.applicant.as_ref(),
                opened.respondent.as_ref(),
            )
            .await?;
        } else if entry.event_type == court::SharedCareDetermined::full_name() {
            let care = court::SharedCareDetermined::decode(entry.payload.as_slice())
                .map_err(decode_error)?;
            let applicant = care
                .applicant
                .as_ref()
                .map(|party| party.person_ref.clone());
            for reference in self
                .link(
                    &care.case_reference,
                    care.applicant.as_ref(),
                    care.respondent.as_ref(),
                )
                .await?
            {
                self.on_case(entry, &reference, date, |case, on, settings, book| {
                    let paying_is_applicant =
                        applicant.as_deref() == Some(case.paying_parent_ref.as_str());
                    let nights: BTreeMap<String, Nights> = care
                        .arrangements
                        .iter()
                        .filter(|child| case.child_refs.contains(&child.child_ref))
                        .filter_map(|child| {
                            let nights = if paying_is_applicant {
                                child.nights_with_applicant
                            } else {
                                child.nights_with_respondent
                            };
                            Nights::new(nights)
                                .ok()
                                .map(|n| (child.child_ref.clone(), n))
                        })
                        .collect();
                    if nights.is_empty() {
                        return Ok(Vec::new());
                    }
                    let order = CourtOrder {
                        order_id: care.order_id.clone(),
                        made_on: date,
                        is_final: care.is_final,
                        nights,
                    };
                    case.file.apply_court_order(on, order, settings, book)
                })
                .await?;
            }
        } else if entry.event_type == court::CaseClosed::full_name() {
            let closed =
                court::CaseClosed::decode(entry.payload.as_slice()).map_err(decode_error)?;
            if closed.final_order_stands {
                return Ok(());
            }
            let outcome = match closed.reason() {
                court::ClosureReason::Dismissed => ProceedingsOutcome::Dismissed,
                court::ClosureReason::Withdrawn | court::ClosureReason::Unspecified => {
                    ProceedingsOutcome::Withdrawn
                }
            };
            for reference in self.link(&closed.case_reference, None, None).await? {
                self.on_case(entry, &reference, date, |case, on, settings, book| {
                    if case.file.proceedings_pending() {
                        case.file.end_proceedings(on, outcome, settings, book)
                    } else {
                        Ok(Vec::new())
                    }
                })
                .await?;
            }
        }
        Ok(())
    }

    /// Links the court case to every CMS case of its two parents, and returns all CMS cases linked
    /// to it. The parties are remembered from the first event that names them, so an event that
    /// names none (a closure) still reaches CMS cases opened after the court case.
    async fn link(
        &self,
        court_case: &str,
        applicant: Option<&court::Party>,
        respondent: Option<&court::Party>,
    ) -> Result<Vec<String>, ApplyError> {
        let pool = self.feed.database().pool();
        if let (Some(applicant), Some(respondent)) = (applicant, respondent) {
            sqlx::query(
                "INSERT INTO court_case_parties (court_case_reference, applicant_ref, \
                 respondent_ref) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            )
            .bind(court_case)
            .bind(&applicant.person_ref)
            .bind(&respondent.person_ref)
            .execute(pool)
            .await?;
        }
        sqlx::query(
            "INSERT INTO court_case_links (court_case_reference, cms_case_reference) \
             SELECT parties.court_case_reference, cases.case_reference \
             FROM court_case_parties parties JOIN cms_cases cases \
               ON (cases.paying_parent_ref = parties.applicant_ref \
                   AND cases.receiving_parent_ref = parties.respondent_ref) \
               OR (cases.paying_parent_ref = parties.respondent_ref \
                   AND cases.receiving_parent_ref = parties.applicant_ref) \
             WHERE parties.court_case_reference = $1 \
             ON CONFLICT DO NOTHING",
        )
        .bind(court_case)
        .execute(pool)
        .await?;
        self.linked(court_case).await
    }

    /// The CMS cases linked to a court case, in order.
    async fn linked(&self, court_case: &str) -> Result<Vec<String>, ApplyError> {
        Ok(sqlx::query_scalar(
            "SELECT cms_case_reference FROM court_case_links WHERE court_case_reference = $1 \
             ORDER BY cms_case_reference",
        )
        .bind(court_case)
        .fetch_all(self.feed.database().pool())
        .await?)
    }

    /// Applies the entry's event to CMS case `reference` with `rule`, once: in the case's locked
    /// transaction, recording the application, in a span of its own (the recalculation). The rule
    /// runs on the later of the event's date and the latest date the case has dealt with. A refusal
    /// by the case rules is logged and the event counted as applied: retrying cannot change the
    /// rules' answer.
    async fn on_case<F>(
        &self,
        entry: &Entry,
        reference: &str,
        date: NaiveDate,
        rule: F,
    ) -> Result<(), ApplyError>
    where
        F: FnOnce(
            &mut StoredCase,
            NaiveDate,
            &CaseSettings,
            &ParameterBook,
        ) -> Result<
            Vec<familybridge_casework::CaseEvent>,
            familybridge_casework::CaseError,
        >,
    {
        let span = trace_span!("cms.apply_to_case", case = reference);
        async {
            let event_id = entry.event_id.as_str();
            let mut tx = self.feed.begin(&[reference]).await?;
            let recorded = sqlx::query(
                "INSERT INTO court_order_applications (event_id, cms_case_reference) \
                 VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(event_id)
            .bind(reference)
            .execute(tx.connection())
            .await?;
            if recorded.rows_affected() == 0 {
                return Ok(());
            }
            let Some(mut case) = store::load(tx.connection(), reference).await? else {
                return Ok(());
            };
            let on = date.max(case.file.as_of());
            match rule(&mut case, on, &self.settings, &self.book) {
                Ok(events) => {
                    store::save(tx.connection(), &case).await?;
                    let trace = TraceContext::current().or(entry.trace.clone());
                    publish(&mut tx, &case, &events, &trace).await?;
                }
                Err(error) => {
                    tracing::warn!(%error, event_id, case = reference, "court event not applied");
                }
            }
            tx.commit().await?;
            Ok(())
        }
        .instrument(span)
        .await
    }
}

/// What the CMS takes in from other agencies: with automatic exchange, the court registry's
/// orders. Settling waits until the subscription has caught up with the registry's feed, then
/// applies whatever the inbox still holds.
#[derive(Debug, Clone)]
pub struct CmsIntake {
    following: Following,
    applier: Option<CourtOrderApplier>,
}

impl CmsIntake {
    /// The intake of the feeds in `following`, with `applier` for the court-order inbox if the
    /// exchange is automatic.
    pub fn new(following: Following, applier: Option<CourtOrderApplier>) -> Self {
        Self { following, applier }
    }
}

impl Intake for CmsIntake {
    async fn settle(&self) -> Result<Vec<String>, Status> {
        let subscriptions = self.following.caught_up().await.map_err(internal_error)?;
        if let Some(applier) = &self.applier {
            applier.apply_pending().await.map_err(internal_error)?;
        }
        Ok(subscriptions)
    }
}
