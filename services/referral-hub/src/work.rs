//! What the hub does when its clock moves to a date: it acts on every inbox event dated up to that
//! day, oldest first (and, within a day, by publisher, stream and sequence, so that the order of
//! delivery never matters), then holds the reviews of pauses that end by then. Everything it asks
//! of the CMS or the court carries the day it acts on.
//!
//! Each inbox event is handled in one transaction of the hub's feed, locked on the CMS case it
//! concerns, which records the hub's own records, its published events and the event's handling
//! together: a hub killed mid-way handles the rest on the next move of its clock, and its calls to
//! other agencies are idempotent commands named after the event, so a repeated call changes
//! nothing.
//!
//! A clock move is a batch with a span of its own; each event is acted on in a span continuing the
//! event's trace (the court's order, the CMS's recalculation), linked to the batch's span, and what
//! the hub publishes or asks of the others carries that span's context: the hub's reaction is part
//! of the family's journey. The reviews of pauses are time-driven and begin traces of their own.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use familybridge_feed::{Feed, FeedError, FeedTransaction, TraceContext};
use familybridge_proto::cms::v1 as cms;
use familybridge_proto::court::v1 as court;
use familybridge_proto::referral::v1 as proto;
use familybridge_runtime::machinery_failure;
use familybridge_runtime::{DueWork, batch, family_span, trace_span};
use familybridge_storage::Backend;
use familybridge_storage::sqlx::{self, AnyConnection};
use familybridge_storage::statements::{in_lists, placeholders, runs, value_rows};
use prost::{Message, Name};
use tonic::{Code, Status};
use tracing::Instrument;

use crate::peers::Peers;
use familybridge_referral::rules::{self, Circumstances};
use familybridge_referral::{HubSettings, Pathway};

/// The hub's service name, under which its work is traced.
const SERVICE: &str = crate::SERVICE_NAME;

/// How many inbox events are read at a time.
const BATCH: i64 = 500;

/// How many inbox events one statement marks handled.
const MARKED_PER_STATEMENT: usize = 512;

/// The hub's time-driven work.
#[derive(Debug, Clone)]
pub struct HubWork {
    feed: Feed,
    settings: HubSettings,
    peers: Peers,
}

/// One inbox event.
#[derive(Debug)]
struct Entry {
    arrival: i64,
    event_id: String,
    event_type: String,
    stream: String,
    effective_date: String,
    /// The context what the hub does about the event carries: the event's own as it arrived, then
    /// the span acting on it ([`Entry::acted_on_in`]).
    trace: TraceContext,
    payload: Vec<u8>,
}

impl Entry {
    /// The entry as acted on in `span`: what it causes carries the span's context (or, when
    /// nothing is exported, the event's own).
    fn acted_on_in(self, span: &tracing::Span) -> Self {
        Self {
            trace: TraceContext::of(span).or(self.trace),
            ..self
        }
    }
}

/// Why the hub could not act on an event (the clock move fails, and is retried by the caller).
#[derive(Debug, thiserror::Error)]
enum WorkError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Feed(#[from] FeedError),
    #[error("inbox event {event_id} does not decode as {event_type}")]
    Decode {
        event_id: String,
        event_type: String,
        source: prost::DecodeError,
    },
    #[error("inbox event {event_id} has the effective date {date:?}, not YYYY-MM-DD")]
    Date { event_id: String, date: String },
    #[error("{agency} refused the hub's {call} for event {event_id}: {status}")]
    Peer {
        agency: &'static str,
        call: &'static str,
        event_id: String,
        status: Status,
    },
}

fn iso(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

/// A CMS case as the hub knows it.
#[derive(Debug, Clone)]
struct CmsCase {
    case_reference: String,
    paying_parent_ref: String,
}

impl From<(String, String)> for CmsCase {
    fn from((case_reference, paying_parent_ref): (String, String)) -> Self {
        Self {
            case_reference,
            paying_parent_ref,
        }
    }
}

impl HubWork {
    /// The hub's work over its feed, under `settings`, calling `peers`.
    pub fn new(feed: Feed, settings: HubSettings, peers: Peers) -> Self {
        Self {
            feed,
            settings,
            peers,
        }
    }

    async fn pending(&self, on: NaiveDate) -> Result<Vec<Entry>, WorkError> {
        type Row = (i64, String, String, String, String, String, String, Vec<u8>);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT arrival, event_id, event_type, stream, effective_date, traceparent, \
                 tracestate, payload FROM hub_inbox \
                 WHERE handled = 0 AND effective_date <= $1 \
                 ORDER BY effective_date, publisher, stream, sequence LIMIT $2",
        )
        .bind(iso(on))
        .bind(BATCH)
        .fetch_all(self.feed.database().pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(
                    arrival,
                    event_id,
                    event_type,
                    stream,
                    effective_date,
                    traceparent,
                    tracestate,
                    payload,
                )| {
                    Entry {
                        arrival,
                        event_id,
                        event_type,
                        stream,
                        effective_date,
                        trace: TraceContext {
                            traceparent,
                            tracestate,
                        },
                        payload,
                    }
                },
            )
            .collect())
    }

    /// The CMS case the hub's own events about `entry` go on (the stream locked before writing),
    /// when the entry alone says: `None` when it depends on what the hub knows — a variation, or a
    /// court case closing, under joint reviews — and so on every event acted on before it.
    fn case_from_entry(&self, entry: &Entry) -> Option<Option<String>> {
        let kind = entry.event_type.as_str();
        if kind == court::VariationAppliedFor::full_name()
            || kind == court::VariationOrderMade::full_name()
            || kind == court::CaseClosed::full_name()
        {
            (!self.settings.joint_reviews.enabled).then_some(None)
        } else if entry_is_from_cms(kind) {
            Some(Some(entry.stream.clone()))
        } else {
            Some(None)
        }
    }

    /// Acts on `entries` (each with the CMS case its events go on), in order, on day `on`, in one
    /// transaction: the run's statements are the events' own, and the inbox is marked once. The
    /// outcome is the one acting on each in a transaction of its own would give, since everything
    /// an entry reads, it reads in this transaction, after the entries before it.
    async fn act_together(
        &self,
        entries: Vec<(Entry, Option<String>)>,
        on: NaiveDate,
        acting: &tracing::Span,
    ) -> Result<(), WorkError> {
        if entries.is_empty() {
            return Ok(());
        }
        let streams: Vec<&str> = entries
            .iter()
            .filter_map(|(_, case)| case.as_deref())
            .collect();
        let mut tx = self.feed.begin(&streams).await?;
        let mut writes = BatchWrites::default();
        let mut arrivals = Vec::with_capacity(entries.len());
        for (entry, cms_case) in entries {
            let span = family_span(
                trace_span!(
                    "hub.handle_event",
                    otel.name = %format!("act on {}", entry.event_type),
                    event_id = %entry.event_id,
                ),
                &entry.trace,
                acting,
            );
            let entry = entry.acted_on_in(&span);
            self.act(&mut tx, &mut writes, &entry, cms_case.as_deref(), on)
                .instrument(span)
                .await?;
            arrivals.push(entry.arrival);
        }
        writes.flush(tx.connection().await?).await?;
        let backend = Backend::of(tx.connection().await?);
        for chunk in in_lists(&arrivals, MARKED_PER_STATEMENT) {
            let statement = format!(
                "UPDATE hub_inbox SET handled = 1 WHERE arrival IN ({})",
                placeholders(backend, chunk.len(), 1)
            );
            chunk
                .iter()
                .fold(
                    sqlx::query(sqlx::AssertSqlSafe(statement)),
                    |query, arrival| query.bind(*arrival),
                )
                .execute(tx.connection().await?)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Acts on one inbox event on day `on`, in `tx` (with the batch's `writes` not yet written);
    /// its own events go on `cms_case`.
    async fn act(
        &self,
        tx: &mut FeedTransaction,
        writes: &mut BatchWrites,
        entry: &Entry,
        cms_case: Option<&str>,
        on: NaiveDate,
    ) -> Result<(), WorkError> {
        let event_date: NaiveDate = entry.effective_date.parse().map_err(|_| WorkError::Date {
            event_id: entry.event_id.clone(),
            date: entry.effective_date.clone(),
        })?;
        let kind = entry.event_type.as_str();
        if kind == cms::CalculationMade::full_name() {
            let made: cms::CalculationMade = decode(entry)?;
            writes.remember(made.case.as_ref(), true);
        } else if kind == cms::PaymentMissed::full_name() {
            let missed: cms::PaymentMissed = decode(entry)?;
            writes.remember(missed.case.as_ref(), false);
            writes.missed(&entry.stream, &entry.effective_date);
        } else if kind == cms::ContactLogged::full_name() {
            let contact: cms::ContactLogged = decode(entry)?;
            self.on_contact(tx, writes, entry, &contact, event_date, on)
                .await?;
        } else if kind == court::CaseOpened::full_name() {
            let opened: court::CaseOpened = decode(entry)?;
            sqlx::query(
                "INSERT INTO hub_court_cases (court_case_reference, applicant_ref, \
                 respondent_ref, domestic_abuse_alleged, in_proceedings) \
                 VALUES ($1, $2, $3, $4, 1) ON CONFLICT (court_case_reference) DO NOTHING",
            )
            .bind(&opened.case_reference)
            .bind(person(opened.applicant.as_ref()))
            .bind(person(opened.respondent.as_ref()))
            .bind(i32::from(
                opened
                    .welfare_flags
                    .is_some_and(|flags| flags.domestic_abuse_alleged),
            ))
            .execute(tx.connection().await?)
            .await?;
        } else if kind == court::FinalOrderMade::full_name() {
            end_proceedings(tx.connection().await?, &entry.stream).await?;
        } else if kind == court::CaseClosed::full_name() {
            let closed: court::CaseClosed = decode(entry)?;
            if closed.final_order_stands {
                if let Some(case) = cms_case {
                    writes.flush(tx.connection().await?).await?;
                    self.conclude_review(tx, entry, case, None, on).await?;
                }
            } else {
                end_proceedings(tx.connection().await?, &entry.stream).await?;
            }
        } else if kind == court::VariationAppliedFor::full_name() {
            let applied: court::VariationAppliedFor = decode(entry)?;
            if let Some(case) = cms_case {
                writes.flush(tx.connection().await?).await?;
                self.open_review(tx, entry, &applied, case, on).await?;
            }
        } else if kind == court::VariationOrderMade::full_name() {
            let order: court::VariationOrderMade = decode(entry)?;
            if let Some(case) = cms_case {
                writes.flush(tx.connection().await?).await?;
                self.conclude_review(tx, entry, case, Some((&order, event_date)), on)
                    .await?;
            }
        }
        Ok(())
    }

    /// The CMS case a court event about a variation concerns: for an application, the live CMS
    /// case of the same two parents (when reviews are on and the application calls for one); for
    /// a decision, the case of the review open on the court case.
    async fn reviewed_case(&self, entry: &Entry) -> Result<Option<String>, WorkError> {
        if !self.settings.joint_reviews.enabled {
            return Ok(None);
        }
        let pool = self.feed.database().pool();
        if entry.event_type == court::VariationAppliedFor::full_name() {
            let applied: court::VariationAppliedFor = decode(entry)?;
            if !applied
                .application
                .as_ref()
                .is_some_and(rules::calls_for_review)
            {
                return Ok(None);
            }
            let case = live_case_of(
                pool,
                person(applied.applicant.as_ref()),
                person(applied.respondent.as_ref()),
            )
            .await?;
            return Ok(case.map(|case| case.case_reference));
        }
        Ok(sqlx::query_scalar(
            "SELECT cms_case_reference FROM hub_reviews \
             WHERE court_case_reference = $1 AND status = 'open' ORDER BY id LIMIT 1",
        )
        .bind(&entry.stream)
        .fetch_optional(pool)
        .await?)
    }

    /// Records a contact and, with screening on, flags a parent whose distressed contacts reach
    /// the threshold: referrals by rule, and a pause for a paying parent where pauses are on.
    async fn on_contact(
        &self,
        tx: &mut FeedTransaction,
        writes: &mut BatchWrites,
        entry: &Entry,
        contact: &cms::ContactLogged,
        contact_date: NaiveDate,
        on: NaiveDate,
    ) -> Result<(), WorkError> {
        let Some(parties) = contact.case.as_ref() else {
            return Ok(());
        };
        writes.remember(Some(parties), false);
        let paying = contact.party == "paying_parent";
        let person_ref = if paying {
            &parties.paying_parent_ref
        } else {
            &parties.receiving_parent_ref
        };
        writes.contact(ContactRow {
            case_reference: parties.case_reference.clone(),
            person_ref: person_ref.clone(),
            contact_date: entry.effective_date.clone(),
            distressed: contact.distressed,
        });
        let screening = self.settings.screening;
        if !screening.enabled
            || !contact.distressed
            || (!paying && !screening.include_receiving_parents)
        {
            return Ok(());
        }
        // Screening reads the contacts and cases recorded so far, this batch's included.
        writes.flush(tx.connection().await?).await?;
        let flagged: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM hub_flags WHERE person_ref = $1 AND flagged_until > $2 LIMIT 1",
        )
        .bind(person_ref)
        .bind(iso(on))
        .fetch_optional(tx.connection().await?)
        .await?;
        if flagged.is_some() {
            return Ok(());
        }
        let dates = distressed_contacts(
            tx.connection().await?,
            person_ref,
            rules::window_start(contact_date, screening.window_weeks),
            contact_date,
        )
        .await?;
        let Some(count) = rules::screen(&screening, &dates, contact_date) else {
            return Ok(());
        };
        let case = &parties.case_reference;
        sqlx::query(
            "INSERT INTO hub_flags (person_ref, cms_case_reference, flagged_on, flagged_until) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(person_ref)
        .bind(case)
        .bind(iso(on))
        .bind(iso(rules::weeks_after(on, screening.flag_weeks)))
        .execute(tx.connection().await?)
        .await?;
        tx.append(
            case,
            on,
            &entry.trace,
            &proto::ParentFlagged {
                cms_case_reference: case.clone(),
                person_ref: person_ref.clone(),
                paying_parent: paying,
                distressed_contacts: count,
                window_weeks: screening.window_weeks,
            },
        )
        .await?;
        let circumstances = self
            .circumstances(tx.connection().await?, parties, on)
            .await?;
        let times = self.settings.pathways;
        for (pathway, reason) in rules::pathways(&self.settings.referral_rules, circumstances) {
            let accepted = rules::weeks_after(on, times.accept_after_weeks);
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO hub_referrals (person_ref, cms_case_reference, pathway, made_on, \
                 accepted_on, closes_on, reason) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            )
            .bind(person_ref)
            .bind(case)
            .bind(pathway.as_str())
            .bind(iso(on))
            .bind(iso(accepted))
            .bind(iso(rules::weeks_after(accepted, times.close_after_weeks)))
            .bind(reason)
            .fetch_one(tx.connection().await?)
            .await?;
            tx.append(
                case,
                on,
                &entry.trace,
                &proto::ReferralMade {
                    referral_id: u64::try_from(id).unwrap_or_default(),
                    cms_case_reference: case.clone(),
                    person_ref: person_ref.clone(),
                    pathway: pathway_proto(pathway).into(),
                    reason: reason.to_owned(),
                },
            )
            .await?;
        }
        if paying && self.settings.pauses.enabled {
            self.pause(tx, entry, case, person_ref, on).await?;
        }
        Ok(())
    }

    async fn circumstances(
        &self,
        connection: &mut AnyConnection,
        parties: &cms::CaseParties,
        on: NaiveDate,
    ) -> Result<Circumstances, WorkError> {
        let last_missed: String = sqlx::query_scalar(
            "SELECT last_missed_on FROM hub_cms_cases WHERE case_reference = $1",
        )
        .bind(&parties.case_reference)
        .fetch_optional(&mut *connection)
        .await?
        .unwrap_or_default();
        let window_from = iso(rules::window_start(
            on,
            self.settings.screening.window_weeks,
        ));
        let (proceedings, abuse): (i64, i64) = sqlx::query_as(
            "SELECT COALESCE(MAX(in_proceedings), 0), COALESCE(MAX(domestic_abuse_alleged), 0) \
             FROM hub_court_cases \
             WHERE (applicant_ref = $1 AND respondent_ref = $2) \
                OR (applicant_ref = $2 AND respondent_ref = $1)",
        )
        .bind(&parties.paying_parent_ref)
        .bind(&parties.receiving_parent_ref)
        .fetch_one(&mut *connection)
        .await?;
        Ok(Circumstances {
            missed_payment: !last_missed.is_empty() && last_missed >= window_from,
            court_proceedings: proceedings != 0,
            domestic_abuse_alleged: abuse != 0,
        })
    }

    /// Asks the CMS to pause the case's escalation, and schedules the review at the end.
    async fn pause(
        &self,
        tx: &mut FeedTransaction,
        entry: &Entry,
        case: &str,
        person_ref: &str,
        on: NaiveDate,
    ) -> Result<(), WorkError> {
        let weeks = self.settings.pauses.weeks;
        let request = cms::RequestEnforcementPauseRequest {
            client_request_id: format!("referral-hub/pause/{}", entry.event_id),
            case_reference: case.to_owned(),
            effective_date: iso(on),
            weeks,
            reason: "referral hub: distress screening flagged the paying parent".to_owned(),
        };
        match self.peers.request_pause(request).await {
            Ok(()) => {}
            // A pause already in force: escalation is held anyway.
            Err(status) if status.code() == Code::FailedPrecondition => {
                tracing::info!(case, %status, "no pause requested");
                return Ok(());
            }
            Err(status) => {
                return Err(WorkError::Peer {
                    agency: "the CMS",
                    call: "pause request",
                    event_id: entry.event_id.clone(),
                    status,
                });
            }
        }
        let review_on = rules::weeks_after(on, weeks);
        sqlx::query(
            "INSERT INTO hub_pauses (cms_case_reference, person_ref, starts_on, review_on) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(case)
        .bind(person_ref)
        .bind(iso(on))
        .bind(iso(review_on))
        .execute(tx.connection().await?)
        .await?;
        tx.append(
            case,
            on,
            &entry.trace,
            &proto::EnforcementPauseRequested {
                cms_case_reference: case.to_owned(),
                person_ref: person_ref.to_owned(),
                weeks,
                review_on: iso(review_on),
            },
        )
        .await?;
        Ok(())
    }

    /// Opens a joint case review of a variation application: the CMS projects the liability under
    /// the proposal, and the findings go to the court case.
    async fn open_review(
        &self,
        tx: &mut FeedTransaction,
        entry: &Entry,
        applied: &court::VariationAppliedFor,
        cms_case: &str,
        on: NaiveDate,
    ) -> Result<(), WorkError> {
        let Some(case) = case_by_reference(tx.connection().await?, cms_case).await? else {
            return Ok(());
        };
        let Some(application) = applied.application.as_ref() else {
            return Ok(());
        };
        let paying_is_applicant = person(applied.applicant.as_ref()) == case.paying_parent_ref;
        let arrangements = &application.proposed_arrangements;
        let projection = self
            .peers
            .project_liability(cms::ProjectLiabilityRequest {
                case_reference: case.case_reference.clone(),
                effective_date: iso(on),
                proposed_nights: rules::nights_with_paying_parent(
                    arrangements,
                    paying_is_applicant,
                )
                .into_iter()
                .map(|(child_ref, nights)| cms::ChildNights { child_ref, nights })
                .collect(),
                flip_residence: rules::moves_children_to_paying_parent(
                    arrangements,
                    paying_is_applicant,
                ),
                receiving_parent_income: String::new(),
            })
            .await
            .map_err(|status| WorkError::Peer {
                agency: "the CMS",
                call: "liability projection",
                event_id: entry.event_id.clone(),
                status,
            })?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO hub_reviews (court_case_reference, cms_case_reference, status, opened_on, \
             current_weekly_amount, projected_weekly_amount, projected_payer_ref, roles_flip) \
             VALUES ($1, $2, 'open', $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(&applied.case_reference)
        .bind(&case.case_reference)
        .bind(iso(on))
        .bind(&projection.current_weekly_amount)
        .bind(&projection.weekly_amount)
        .bind(&projection.payer_ref)
        .bind(i32::from(projection.roles_flip))
        .fetch_one(tx.connection().await?)
        .await?;
        let review_id = u64::try_from(id).unwrap_or_default();
        self.peers
            .attach_review_findings(court::AttachReviewFindingsRequest {
                client_request_id: format!("referral-hub/review/{}", entry.event_id),
                case_reference: applied.case_reference.clone(),
                effective_date: iso(on),
                findings: Some(court::ReviewFindings {
                    review_id: format!("review-{review_id}"),
                    cms_case_reference: case.case_reference.clone(),
                    current_weekly_amount: projection.current_weekly_amount.clone(),
                    projected_weekly_amount: projection.weekly_amount.clone(),
                    projected_payer_ref: projection.payer_ref.clone(),
                    roles_flip: projection.roles_flip,
                    notes: projection.notes.clone(),
                    attached_on: String::new(),
                }),
            })
            .await
            .map_err(|status| WorkError::Peer {
                agency: "the court registry",
                call: "review findings",
                event_id: entry.event_id.clone(),
                status,
            })?;
        tx.append(
            &case.case_reference,
            on,
            &entry.trace,
            &proto::JointReviewOpened {
                review_id,
                cms_case_reference: case.case_reference.clone(),
                court_case_reference: applied.case_reference.clone(),
                current_weekly_amount: projection.current_weekly_amount,
                projected_weekly_amount: projection.weekly_amount,
                roles_flip: projection.roles_flip,
            },
        )
        .await?;
        Ok(())
    }

    /// Concludes the open review of the court case: varied by `order` (made on its date), or the
    /// final order stands. Passes a variation to the CMS when set to.
    async fn conclude_review(
        &self,
        tx: &mut FeedTransaction,
        entry: &Entry,
        cms_case: &str,
        order: Option<(&court::VariationOrderMade, NaiveDate)>,
        on: NaiveDate,
    ) -> Result<(), WorkError> {
        let review: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM hub_reviews WHERE court_case_reference = $1 AND status = 'open' \
             ORDER BY id LIMIT 1",
        )
        .bind(&entry.stream)
        .fetch_optional(tx.connection().await?)
        .await?;
        let Some(review) = review else {
            return Ok(());
        };
        let Some(case) = case_by_reference(tx.connection().await?, cms_case).await? else {
            return Ok(());
        };
        if let Some((order, made_on)) = order
            && self.settings.reports_decisions_to_cms()
        {
            let applicant: Option<String> = sqlx::query_scalar(
                "SELECT applicant_ref FROM hub_court_cases WHERE court_case_reference = $1",
            )
            .bind(&entry.stream)
            .fetch_optional(tx.connection().await?)
            .await?;
            let paying_is_applicant = applicant.as_deref() == Some(case.paying_parent_ref.as_str());
            self.peers
                .report_court_order(cms::ReportCourtOrderRequest {
                    client_request_id: format!("referral-hub/decision/{}", entry.event_id),
                    case_reference: case.case_reference.clone(),
                    effective_date: iso(on),
                    order_id: order.order_id.clone(),
                    made_on: iso(made_on),
                    is_final: true,
                    nights: rules::nights_with_paying_parent(
                        &order.arrangements,
                        paying_is_applicant,
                    )
                    .into_iter()
                    .map(|(child_ref, nights)| cms::ChildNights { child_ref, nights })
                    .collect(),
                })
                .await
                .map_err(|status| WorkError::Peer {
                    agency: "the CMS",
                    call: "reported decision",
                    event_id: entry.event_id.clone(),
                    status,
                })?;
        }
        let (status, order_id) = match order {
            Some((order, _)) => ("concluded_varied", order.order_id.clone()),
            None => ("concluded_unchanged", String::new()),
        };
        sqlx::query(
            "UPDATE hub_reviews SET status = $1, concluded_on = $2, decided_by_order_id = $3 \
             WHERE id = $4",
        )
        .bind(status)
        .bind(iso(on))
        .bind(&order_id)
        .bind(review)
        .execute(tx.connection().await?)
        .await?;
        tx.append(
            &case.case_reference,
            on,
            &entry.trace,
            &proto::JointReviewConcluded {
                review_id: u64::try_from(review).unwrap_or_default(),
                cms_case_reference: case.case_reference.clone(),
                court_case_reference: entry.stream.clone(),
                varied: order.is_some(),
                order_id,
            },
        )
        .await?;
        Ok(())
    }

    /// Holds the review of every pause that ends by `on`: escalation resumes.
    async fn review_pauses(&self, on: NaiveDate) -> Result<(), WorkError> {
        let due: Vec<(i64, String, String, String)> = sqlx::query_as(
            "SELECT id, cms_case_reference, person_ref, review_on FROM hub_pauses \
             WHERE reviewed = 0 AND review_on <= $1 ORDER BY review_on, id",
        )
        .bind(iso(on))
        .fetch_all(self.feed.database().pool())
        .await?;
        if due.is_empty() {
            return Ok(());
        }
        let reviewing = batch("hub.review_pauses", SERVICE, due.len());
        for (id, case, person_ref, review_on) in due {
            let span = family_span(
                trace_span!("hub.review_pause", case = %case),
                &TraceContext::default(),
                &reviewing,
            );
            self.review_pause(id, &case, &person_ref, &review_on)
                .instrument(span)
                .await?;
        }
        Ok(())
    }

    /// Holds the review of one pause, in one transaction.
    async fn review_pause(
        &self,
        id: i64,
        case: &str,
        person_ref: &str,
        review_on: &str,
    ) -> Result<(), WorkError> {
        let review_date: NaiveDate = review_on.parse().map_err(|_| WorkError::Date {
            event_id: format!("pause {id}"),
            date: review_on.to_owned(),
        })?;
        let mut tx = self.feed.begin(&[case]).await?;
        let window_from = rules::window_start(review_date, self.settings.screening.window_weeks);
        let still_distressed =
            !distressed_contacts(tx.connection().await?, person_ref, window_from, review_date)
                .await?
                .is_empty();
        sqlx::query("UPDATE hub_pauses SET reviewed = 1, still_distressed = $1 WHERE id = $2")
            .bind(i32::from(still_distressed))
            .bind(id)
            .execute(tx.connection().await?)
            .await?;
        tx.append(
            case,
            review_date,
            &TraceContext::current(),
            &proto::PauseReviewed {
                cms_case_reference: case.to_owned(),
                person_ref: person_ref.to_owned(),
                still_distressed,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

impl DueWork for HubWork {
    async fn run_due(&self, _from: Option<NaiveDate>, to: NaiveDate) -> Result<(), Status> {
        loop {
            let entries = self.pending(to).await.map_err(machinery_failure)?;
            if entries.is_empty() {
                break;
            }
            let acting = batch("hub.act", SERVICE, entries.len());
            // Runs of events whose CMS case each says are acted on together; one whose case
            // depends on what the hub knows waits until everything before it has committed, and
            // is acted on alone.
            let mut together = Vec::new();
            for entry in entries {
                match self.case_from_entry(&entry) {
                    Some(case) => together.push((entry, case)),
                    None => {
                        self.act_together(std::mem::take(&mut together), to, &acting)
                            .await
                            .map_err(machinery_failure)?;
                        let case = self
                            .reviewed_case(&entry)
                            .await
                            .map_err(machinery_failure)?;
                        self.act_together(vec![(entry, case)], to, &acting)
                            .await
                            .map_err(machinery_failure)?;
                    }
                }
            }
            self.act_together(together, to, &acting)
                .await
                .map_err(machinery_failure)?;
        }
        self.review_pauses(to).await.map_err(machinery_failure)
    }
}

fn entry_is_from_cms(event_type: &str) -> bool {
    event_type.starts_with("familybridge.cms.")
}

fn decode<M: Message + Default + Name>(entry: &Entry) -> Result<M, WorkError> {
    M::decode(entry.payload.as_slice()).map_err(|source| WorkError::Decode {
        event_id: entry.event_id.clone(),
        event_type: entry.event_type.clone(),
        source,
    })
}

fn person(party: Option<&court::Party>) -> &str {
    party
        .map(|party| party.person_ref.as_str())
        .unwrap_or_default()
}

fn pathway_proto(pathway: Pathway) -> proto::Pathway {
    match pathway {
        Pathway::MentalHealth => proto::Pathway::MentalHealth,
        Pathway::DebtAdvice => proto::Pathway::DebtAdvice,
        Pathway::Mediation => proto::Pathway::Mediation,
        Pathway::DomesticAbuseSupport => proto::Pathway::DomesticAbuseSupport,
    }
}

/// What a batch has recorded of the CMS cases and contacts, held until the batch next reads them
/// or ends, then written a few hundred rows a statement. A CMS case's row holds its parents, whether
/// the CMS has made a calculation (once live, always live) and the latest missed payment; a
/// contact's rows go in the order the contacts came, as writing each at once would have numbered
/// them.
#[derive(Debug, Default)]
struct BatchWrites {
    cases: BTreeMap<String, CaseRow>,
    contacts: Vec<ContactRow>,
}

/// A CMS case as a batch has recorded it.
#[derive(Debug)]
struct CaseRow {
    /// Its paying and receiving parents; `None` when the batch only recorded a missed payment on a
    /// case it has no parents for (the row, if any, is updated, never made).
    parents: Option<(String, String)>,
    live: bool,
    /// The date of the latest missed payment the batch recorded.
    last_missed_on: Option<String>,
}

/// A contact with the CMS, to be recorded.
#[derive(Debug)]
struct ContactRow {
    case_reference: String,
    person_ref: String,
    contact_date: String,
    distressed: bool,
}

/// Rows one statement writes: five values each.
const ROWS_PER_STATEMENT: usize = 256;

impl BatchWrites {
    /// Records the CMS case of `parties` (live once calculated).
    fn remember(&mut self, parties: Option<&cms::CaseParties>, live: bool) {
        let Some(parties) = parties else {
            return;
        };
        let row = self
            .cases
            .entry(parties.case_reference.clone())
            .or_insert(CaseRow {
                parents: None,
                live: false,
                last_missed_on: None,
            });
        row.parents.get_or_insert_with(|| {
            (
                parties.paying_parent_ref.clone(),
                parties.receiving_parent_ref.clone(),
            )
        });
        // A case recorded live stays live, whatever this batch records after.
        row.live |= live;
    }

    /// Records a missed payment on `case_reference`, on `date`.
    fn missed(&mut self, case_reference: &str, date: &str) {
        self.cases
            .entry(case_reference.to_owned())
            .or_insert(CaseRow {
                parents: None,
                live: false,
                last_missed_on: None,
            })
            .last_missed_on = Some(date.to_owned());
    }

    /// Records a contact.
    fn contact(&mut self, contact: ContactRow) {
        self.contacts.push(contact);
    }

    /// Writes everything recorded so far, in `connection`: what the batch reads next sees it.
    async fn flush(&mut self, connection: &mut AnyConnection) -> Result<(), WorkError> {
        let cases = std::mem::take(&mut self.cases);
        let (known, bare): (Vec<_>, Vec<_>) = cases
            .into_iter()
            .partition(|(_, row)| row.parents.is_some());
        for chunk in runs(&known, ROWS_PER_STATEMENT) {
            // Only placeholders are formatted into the statement; every value is bound. A case's
            // row turns live, or takes a newer missed payment, but never goes back.
            let statement = format!(
                "INSERT INTO hub_cms_cases (case_reference, paying_parent_ref, \
                 receiving_parent_ref, live, last_missed_on) VALUES {} \
                 ON CONFLICT (case_reference) DO UPDATE SET \
                 live = CASE WHEN excluded.live = 1 THEN 1 ELSE hub_cms_cases.live END, \
                 last_missed_on = CASE WHEN excluded.last_missed_on = '' \
                 THEN hub_cms_cases.last_missed_on ELSE excluded.last_missed_on END",
                value_rows(Backend::of(connection), chunk.len(), 5)
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(statement));
            for (reference, row) in chunk {
                let (paying, receiving) = row.parents.clone().unwrap_or_default();
                query = query
                    .bind(reference.clone())
                    .bind(paying)
                    .bind(receiving)
                    .bind(i32::from(row.live))
                    .bind(row.last_missed_on.clone().unwrap_or_default());
            }
            query.execute(&mut *connection).await?;
        }
        for (reference, row) in bare {
            if let Some(date) = row.last_missed_on {
                sqlx::query(
                    "UPDATE hub_cms_cases SET last_missed_on = $1 WHERE case_reference = $2",
                )
                .bind(date)
                .bind(reference)
                .execute(&mut *connection)
                .await?;
            }
        }
        let contacts = std::mem::take(&mut self.contacts);
        for chunk in runs(&contacts, ROWS_PER_STATEMENT) {
            // Only placeholders are formatted into the statement; every value is bound.
            let statement = format!(
                "INSERT INTO hub_contacts (cms_case_reference, person_ref, contact_date, \
                 distressed) VALUES {}",
                value_rows(Backend::of(connection), chunk.len(), 4)
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(statement));
            for contact in chunk {
                query = query
                    .bind(contact.case_reference.clone())
                    .bind(contact.person_ref.clone())
                    .bind(contact.contact_date.clone())
                    .bind(i32::from(contact.distressed));
            }
            query.execute(&mut *connection).await?;
        }
        Ok(())
    }
}

async fn end_proceedings(
    connection: &mut AnyConnection,
    court_case: &str,
) -> Result<(), WorkError> {
    sqlx::query("UPDATE hub_court_cases SET in_proceedings = 0 WHERE court_case_reference = $1")
        .bind(court_case)
        .execute(connection)
        .await?;
    Ok(())
}

async fn case_by_reference(
    connection: &mut AnyConnection,
    reference: &str,
) -> Result<Option<CmsCase>, WorkError> {
    let row: Option<(String, String)> = sqlx::query_as(
        "SELECT case_reference, paying_parent_ref FROM hub_cms_cases WHERE case_reference = $1",
    )
    .bind(reference)
    .fetch_optional(connection)
    .await?;
    Ok(row.map(CmsCase::from))
}

/// The first live CMS case (by reference) between two people, either way round.
async fn live_case_of(
    pool: &sqlx::AnyPool,
    one: &str,
    other: &str,
) -> Result<Option<CmsCase>, WorkError> {
    let row: Option<(String, String)> = sqlx::query_as(
        "SELECT case_reference, paying_parent_ref FROM hub_cms_cases \
         WHERE live = 1 AND ((paying_parent_ref = $1 AND receiving_parent_ref = $2) \
            OR (paying_parent_ref = $2 AND receiving_parent_ref = $1)) \
         ORDER BY case_reference LIMIT 1",
    )
    .bind(one)
    .bind(other)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(CmsCase::from))
}

/// The dates of a person's distressed contacts from `from` to `to`, both included.
async fn distressed_contacts(
    connection: &mut AnyConnection,
    person_ref: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<NaiveDate>, WorkError> {
    let dates: Vec<String> = sqlx::query_scalar(
        "SELECT contact_date FROM hub_contacts \
         WHERE person_ref = $1 AND distressed = 1 AND contact_date >= $2 AND contact_date <= $3 \
         ORDER BY contact_date",
    )
    .bind(person_ref)
    .bind(iso(from))
    .bind(iso(to))
    .fetch_all(connection)
    .await?;
    dates
        .into_iter()
        .map(|date| {
            date.parse().map_err(|_| WorkError::Date {
                event_id: format!("contact of {person_ref}"),
                date,
            })
        })
        .collect()
}
