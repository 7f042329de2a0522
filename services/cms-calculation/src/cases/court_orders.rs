//! Court orders by automatic exchange: the CMS follows the court registry's feed and applies each
//! event to the family's CMS cases when the case reaches the event's date — the maintenance period
//! in which the CMS is told, as for an order a parent reports (CSA 1991 s.17(4); SI 1999/991
//! Sch 3D).
//!
//! A court event names a court case and its parties, not a CMS case, and the CMS's feed locks a
//! case's stream before its transaction begins. So events are taken in three steps:
//!
//! 1. The subscription ([`court_order_inbox`]) records each event in an inbox, in the same
//!    transaction as its feed cursor: it arrives exactly once.
//! 2. The [`CourtOrderRouter`] routes inbox entries, in order of arrival, to the CMS cases of the
//!    court case's two parents (remembered from the first event that names them, so that a closure,
//!    which names none, still reaches CMS cases opened after the court case), as pending rows.
//! 3. Each case applies its pending events in date order with its other work, in its own locked
//!    transaction ([`apply_pending_to_case`]): before a command dated on or after them, and when
//!    the clock reaches them (the due work). Applying an event deletes its row there too, so a
//!    restart never applies one twice.
//!
//! Why not apply on arrival: within a simulated week the court acts first, and a court event dated
//! Saturday applied at once would make a payment the family made to the CMS on Thursday "too late"
//! for the case, and lost. Applied in date order, every action counts, and nothing depends on how
//! fast an event travelled.
//!
//! Each entry keeps the trace context its event came with, and is applied in a span continuing it,
//! linked to the span of the work it is part of (a command, a clock move); the CMS's own events
//! carry that span's context. So the court's final order, the CMS's recalculation and the hub's
//! reaction to it are one trace.
//!
//! What the CMS does with them: `SharedCareDetermined` becomes court-order evidence of each child's
//! nights with the paying parent (interim or final, as the court said); `CaseClosed` without a final
//! order ends the proceedings a delayed case was waiting for; `CaseOpened` records the court case's
//! parties.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use familybridge_calculation::{Nights, ParameterBook};
use familybridge_casework::{CaseError, CaseEvent, CaseSettings, CourtOrder, ProceedingsOutcome};
use familybridge_feed::{Feed, FeedError, FeedTransaction, Following, Inbox, TraceContext};
use familybridge_proto::court::v1 as court;
use familybridge_runtime::machinery_failure;
use familybridge_runtime::{CancellationToken, Intake, batch, family_span, trace_span};
use familybridge_storage::Backend;
use familybridge_storage::sqlx;
use familybridge_storage::statements::{in_lists, placeholders};
use prost::{Message, Name};
use tokio::sync::{Mutex, Notify};
use tonic::Status;
use tracing::{Instrument, Span};

use crate::cases::publish::publish;
use crate::cases::store::StoredCase;

/// How often the router looks at the inbox without being woken (a wake-up can be missed when it
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

/// The subscription's handler: records each wanted court event in the `court_order_inbox` table,
/// waking the router through `wake`.
pub fn court_order_inbox(wake: Arc<Notify>) -> Inbox {
    Inbox::new("court_order_inbox").keeping(wanted).waking(wake)
}

/// Why an inbox entry could not be routed (it is tried again).
#[derive(Debug, thiserror::Error)]
enum RouteError {
    #[error("the court-order inbox could not be read or routed")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Feed(#[from] familybridge_feed::FeedError),
}

/// A court event as the inbox keeps it.
#[derive(Debug, Clone)]
struct Entry {
    /// Its place in the order of arrival.
    arrival: i64,
    event_id: String,
    event_type: String,
    effective_date: String,
    payload: Vec<u8>,
    traceparent: String,
    tracestate: String,
}

/// An inbox row: arrival, event id, type, effective date, payload, traceparent, tracestate.
type EntryRow = (i64, String, String, String, Vec<u8>, String, String);

impl From<EntryRow> for Entry {
    fn from(
        (arrival, event_id, event_type, effective_date, payload, traceparent, tracestate): EntryRow,
    ) -> Self {
        Self {
            arrival,
            event_id,
            event_type,
            effective_date,
            payload,
            traceparent,
            tracestate,
        }
    }
}

impl Entry {
    /// The trace context the court's event came with.
    fn trace(&self) -> TraceContext {
        TraceContext {
            traceparent: self.traceparent.clone(),
            tracestate: self.tracestate.clone(),
        }
    }
}

/// A court event the CMS acts on, decoded: what routing and applying need of it.
#[derive(Debug)]
pub enum CourtEvent {
    /// A court case opened: it names the parents.
    Opened(court::CaseOpened),
    /// The nights of care an order fixed.
    Care(court::SharedCareDetermined),
    /// A court case closed.
    Closed(court::CaseClosed),
}

/// Where a court event goes: its court case, the parents it names (applicant, respondent), if it
/// names them, and whether it changes the CMS cases it reaches.
#[derive(Debug)]
pub struct Route<'a> {
    /// The court case reference.
    pub court_case: &'a str,
    /// The applicant and the respondent, if the event names them.
    pub parties: Option<(&'a court::Party, &'a court::Party)>,
    /// Whether the CMS cases of those parents are to apply it.
    pub acts: bool,
}

impl CourtEvent {
    /// Decodes an event of type `event_type`; `None` for a type the CMS does not act on.
    pub fn decode(event_type: &str, payload: &[u8]) -> Result<Option<Self>, prost::DecodeError> {
        Ok(if event_type == court::CaseOpened::full_name() {
            Some(Self::Opened(court::CaseOpened::decode(payload)?))
        } else if event_type == court::SharedCareDetermined::full_name() {
            Some(Self::Care(court::SharedCareDetermined::decode(payload)?))
        } else if event_type == court::CaseClosed::full_name() {
            Some(Self::Closed(court::CaseClosed::decode(payload)?))
        } else {
            None
        })
    }

    /// Where the event goes.
    pub fn route(&self) -> Route<'_> {
        let (court_case, parties, acts) = match self {
            CourtEvent::Opened(opened) => (
                &opened.case_reference,
                opened.applicant.as_ref().zip(opened.respondent.as_ref()),
                false,
            ),
            CourtEvent::Care(care) => (
                &care.case_reference,
                care.applicant.as_ref().zip(care.respondent.as_ref()),
                true,
            ),
            CourtEvent::Closed(closed) => {
                (&closed.case_reference, None, !closed.final_order_stands)
            }
        };
        Route {
            court_case,
            parties,
            acts,
        }
    }

    /// What the event, made on `date`, changes on `case` (applied on that day, or on the case's
    /// own date if a command moved it past): the events that records. A refusal by the case rules
    /// changes nothing.
    pub fn apply(
        &self,
        case: &mut StoredCase,
        date: NaiveDate,
        settings: &CaseSettings,
        book: &ParameterBook,
    ) -> Result<Vec<CaseEvent>, CaseError> {
        // A command dated earlier in the same day may have moved the case on: the event applies then.
        let on = date.max(case.file.as_of());
        match self {
            CourtEvent::Opened(_) => Ok(Vec::new()),
            CourtEvent::Care(care) => apply_care(case, care, date, on, settings, book),
            CourtEvent::Closed(closed) => {
                let outcome = match closed.reason() {
                    court::ClosureReason::Dismissed => ProceedingsOutcome::Dismissed,
                    court::ClosureReason::Withdrawn | court::ClosureReason::Unspecified => {
                        ProceedingsOutcome::Withdrawn
                    }
                };
                if case.file.proceedings_pending() {
                    case.file.end_proceedings(on, outcome, settings, book)
                } else {
                    Ok(Vec::new())
                }
            }
        }
    }
}

/// Routes inbox entries to the CMS cases they concern.
#[derive(Debug, Clone)]
pub struct CourtOrderRouter {
    feed: Feed,
    wake: Arc<Notify>,
    /// Held while routing, so that the router's own loop and a settling simulation never route the
    /// inbox side by side.
    routing: Arc<Mutex<()>>,
}

impl CourtOrderRouter {
    /// The router for the CMS cases in `feed`'s database, woken by `wake`.
    pub fn new(feed: Feed, wake: Arc<Notify>) -> Self {
        Self {
            feed,
            wake,
            routing: Arc::new(Mutex::new(())),
        }
    }

    /// Routes entries as they arrive until `stop` is cancelled.
    pub async fn run(self, stop: CancellationToken) {
        loop {
            if let Err(error) = self.route_pending().await {
                tracing::error!(
                    error = %familybridge_runtime::error_chain(&error),
                    "routing court orders failed; trying again"
                );
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(POLL_INTERVAL) => {}
            }
        }
    }

    /// Routes every entry not yet routed, oldest first. Routing changes no case: it only decides
    /// which cases an event waits on.
    async fn route_pending(&self) -> Result<(), RouteError> {
        let _routing = self.routing.lock().await;
        loop {
            let entries: Vec<Entry> = sqlx::query_as::<_, EntryRow>(
                "SELECT inbox.arrival, inbox.event_id, inbox.event_type, inbox.effective_date, \
                 inbox.payload, inbox.traceparent, inbox.tracestate \
                 FROM court_order_inbox inbox WHERE inbox.routed = 0 \
                 ORDER BY inbox.arrival LIMIT 500",
            )
            .fetch_all(self.feed.database().pool())
            .await?
            .into_iter()
            .map(Entry::from)
            .collect();
            if entries.is_empty() {
                return Ok(());
            }
            let routing = batch(
                "cms.route_court_orders",
                self.feed.publisher().service_name(),
                entries.len(),
            );
            async {
                for entry in entries {
                    // A writing transaction that locks no case: routing changes none.
                    let mut tx = self.feed.begin(&[]).await?;
                    route(&mut tx, &entry).await?;
                    sqlx::query("UPDATE court_order_inbox SET routed = 1 WHERE arrival = $1")
                        .bind(entry.arrival)
                        .execute(tx.connection().await?)
                        .await?;
                    tx.commit().await?;
                }
                Ok::<(), RouteError>(())
            }
            .instrument(routing)
            .await?;
        }
    }
}

/// Routes one entry: records the court case's parties, links the court case to every CMS case of
/// those parents, and leaves the event pending on each linked case it changes. An entry that does
/// not decode, or whose date is not a date, is logged and left unrouted to any case: retrying
/// cannot mend it.
async fn route(tx: &mut FeedTransaction, entry: &Entry) -> Result<(), FeedError> {
    let event = match CourtEvent::decode(&entry.event_type, &entry.payload) {
        Ok(Some(event)) => event,
        Ok(None) => return Ok(()),
        Err(error) => {
            tracing::error!(event_id = %entry.event_id, %error, "court event does not decode");
            return Ok(());
        }
    };
    if entry.effective_date.parse::<NaiveDate>().is_err() {
        tracing::error!(
            event_id = %entry.event_id,
            date = %entry.effective_date,
            "court event's effective date is not YYYY-MM-DD"
        );
        return Ok(());
    }
    let Route {
        court_case,
        parties,
        acts,
    } = event.route();
    if let Some((applicant, respondent)) = parties {
        sqlx::query(
            "INSERT INTO court_case_parties (court_case_reference, applicant_ref, \
             respondent_ref) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(court_case)
        .bind(&applicant.person_ref)
        .bind(&respondent.person_ref)
        .execute(tx.connection().await?)
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
    .execute(tx.connection().await?)
    .await?;
    if acts {
        sqlx::query(
            "INSERT INTO court_events_pending (cms_case_reference, event_id, effective_date) \
             SELECT cms_case_reference, $2, $3 FROM court_case_links \
             WHERE court_case_reference = $1 \
             ON CONFLICT DO NOTHING",
        )
        .bind(court_case)
        .bind(&entry.event_id)
        .bind(&entry.effective_date)
        .execute(tx.connection().await?)
        .await?;
    }
    Ok(())
}

/// Why a case's pending court events could not be applied (the case's transaction fails, and
/// they are tried again).
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The pending events could not be read or cleared.
    #[error("the case's pending court events could not be read or cleared")]
    Database(#[from] sqlx::Error),
    /// The case's events could not be published.
    #[error(transparent)]
    Feed(#[from] familybridge_feed::FeedError),
}

impl From<ApplyError> for Status {
    fn from(error: ApplyError) -> Self {
        machinery_failure(error)
    }
}

/// The court events pending on a batch's cases, loaded with them (in one statement for every few
/// hundred cases): each case's in the order they apply, by date and then by arrival.
#[derive(Debug, Clone, Default)]
pub(crate) struct PendingCourtEvents {
    by_case: BTreeMap<String, CasePending>,
}

/// The court events pending on one case, in the order they apply.
#[derive(Debug, Clone, Default)]
pub(crate) struct CasePending(Vec<Entry>);

/// The most cases one statement reads the pending events of.
const CASES_PER_STATEMENT: usize = 512;

impl PendingCourtEvents {
    /// The events pending on the cases with these references, read in their transaction `tx`.
    pub(crate) async fn load(
        tx: &mut FeedTransaction,
        references: &[&str],
    ) -> Result<Self, ApplyError> {
        let mut by_case: BTreeMap<String, CasePending> = BTreeMap::new();
        let backend = Backend::of(tx.connection().await?);
        for chunk in in_lists(references, CASES_PER_STATEMENT) {
            // Only placeholders are formatted into the statement; every reference is bound.
            let statement = format!(
                "SELECT pending.cms_case_reference, inbox.arrival, inbox.event_id, \
                 inbox.event_type, inbox.effective_date, inbox.payload, inbox.traceparent, \
                 inbox.tracestate \
                 FROM court_events_pending pending \
                 JOIN court_order_inbox inbox ON inbox.event_id = pending.event_id \
                 WHERE pending.cms_case_reference IN ({}) \
                 ORDER BY pending.cms_case_reference, pending.effective_date, inbox.arrival",
                placeholders(backend, chunk.len(), 1)
            );
            let mut query = sqlx::query_as::<_, PendingRow>(sqlx::AssertSqlSafe(statement));
            for reference in chunk {
                query = query.bind(*reference);
            }
            for row in query.fetch_all(tx.connection().await?).await? {
                let (reference, arrival, event_id, event_type, date, payload, parent, state) = row;
                let entry =
                    Entry::from((arrival, event_id, event_type, date, payload, parent, state));
                by_case.entry(reference).or_default().0.push(entry);
            }
        }
        Ok(Self { by_case })
    }

    /// The events pending on the case, to apply.
    pub(crate) fn of(&self, reference: &str) -> CasePending {
        self.by_case.get(reference).cloned().unwrap_or_default()
    }

    /// Keeps what is still pending on the case, after applying some.
    pub(crate) fn keep(&mut self, reference: &str, pending: CasePending) {
        self.by_case.insert(reference.to_owned(), pending);
    }
}

/// A pending row: the CMS case, then the inbox row ([`EntryRow`]).
type PendingRow = (String, i64, String, String, String, Vec<u8>, String, String);

/// Applies to `case`, in its locked transaction `tx`, every court event in `pending` dated up to
/// `through`, in date order (and order of arrival within a day), each in a span continuing the
/// court's trace and linked to `work`; publishes what each changes, and takes it out of `pending`
/// (and of the pending table). A refusal by the case rules is logged and the event cleared:
/// retrying cannot change the rules' answer. Returns whether the case changed.
pub(crate) async fn apply_pending_to_case(
    tx: &mut FeedTransaction,
    case: &mut StoredCase,
    pending: &mut CasePending,
    through: NaiveDate,
    settings: &CaseSettings,
    book: &ParameterBook,
    work: &Span,
) -> Result<bool, ApplyError> {
    let through = through.format("%Y-%m-%d").to_string();
    let due = pending
        .0
        .iter()
        .take_while(|entry| entry.effective_date <= through)
        .count();
    let mut changed = false;
    for entry in pending.0.drain(..due) {
        let span = family_span(
            trace_span!(
                "cms.apply_court_event",
                otel.name = %format!("apply {}", entry.event_type),
                event_id = %entry.event_id,
                case = %case.case_reference,
            ),
            &entry.trace(),
            work,
        );
        changed |= apply_one(tx, case, &entry, settings, book)
            .instrument(span)
            .await?;
        sqlx::query(
            "DELETE FROM court_events_pending WHERE cms_case_reference = $1 AND event_id = $2",
        )
        .bind(&case.case_reference)
        .bind(&entry.event_id)
        .execute(tx.connection().await?)
        .await?;
    }
    Ok(changed)
}

/// Applies one pending event to the case and publishes what it changed; whether it did.
async fn apply_one(
    tx: &mut FeedTransaction,
    case: &mut StoredCase,
    entry: &Entry,
    settings: &CaseSettings,
    book: &ParameterBook,
) -> Result<bool, ApplyError> {
    // Both were checked when the entry was routed.
    let (Ok(Some(event)), Ok(date)) = (
        CourtEvent::decode(&entry.event_type, &entry.payload),
        entry.effective_date.parse::<NaiveDate>(),
    ) else {
        return Ok(false);
    };
    let events = match event.apply(case, date, settings, book) {
        Ok(events) => events,
        Err(error) => {
            tracing::warn!(
                %error,
                event_id = %entry.event_id,
                case = %case.case_reference,
                "court event not applied"
            );
            return Ok(false);
        }
    };
    if events.is_empty() {
        return Ok(false);
    }
    let trace = TraceContext::current().or(entry.trace());
    publish(tx, case, &events, &trace).await?;
    Ok(true)
}

/// A shared-care determination as court-order evidence of each of the case's children's nights
/// with its paying parent.
fn apply_care(
    case: &mut StoredCase,
    care: &court::SharedCareDetermined,
    made_on: NaiveDate,
    on: NaiveDate,
    settings: &CaseSettings,
    book: &ParameterBook,
) -> Result<Vec<CaseEvent>, CaseError> {
    let paying_is_applicant = care
        .applicant
        .as_ref()
        .is_some_and(|party| party.person_ref == case.paying_parent_ref);
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
                .map(|nights| (child.child_ref.clone(), nights))
        })
        .collect();
    if nights.is_empty() {
        return Ok(Vec::new());
    }
    let order = CourtOrder {
        order_id: care.order_id.clone(),
        made_on,
        is_final: care.is_final,
        nights,
    };
    case.file.apply_court_order(on, order, settings, book)
}

/// What the CMS takes in from other agencies: with automatic exchange, the court registry's
/// orders. Settling waits until the subscription has caught up with the registry's feed, then
/// routes whatever the inbox still holds; the cases apply them when they reach their dates.
#[derive(Debug, Clone)]
pub struct CmsIntake {
    following: Following,
    router: Option<CourtOrderRouter>,
}

impl CmsIntake {
    /// The intake of the feeds in `following`, with `router` for the court-order inbox if the
    /// exchange is automatic.
    pub fn new(following: Following, router: Option<CourtOrderRouter>) -> Self {
        Self { following, router }
    }
}

impl Intake for CmsIntake {
    async fn settle(&self) -> Result<Vec<String>, Status> {
        let subscriptions = self.following.caught_up().await?;
        if let Some(router) = &self.router {
            router.route_pending().await.map_err(machinery_failure)?;
        }
        Ok(subscriptions)
    }
}
