//! `familybridge.cms.v1.CaseService`: the CMS's case commands and query over gRPC.
//!
//! Every command is an entry of a batch carried out by the feed's command executor
//! (`Feed::execute_batch`; a single-command RPC is a batch of one, `ExecuteBatch` many): the request
//! is checked and translated (errors name the request field), the case rules decide, and the
//! changed case, the events to publish and the answer are written together. [`CaseCommands`] is
//! where the CMS says how: the case loaded and brought up to the clock and to the court's events,
//! the rule of the entry's kind, the case saved and its events published.

use std::sync::Arc;

use chrono::NaiveDate;
use familybridge_calculation::ParameterBook;
use familybridge_casework::{CaseEvent, CaseSettings, CourtOrderRoute, Party, ProposedCare};
use familybridge_feed::{
    CaseCommands, CommandContext, Entry, Feed, FeedTransaction, TraceContext, parse_date,
};
use familybridge_proto::BatchEntry;
use familybridge_proto::cms::v1 as proto;
use familybridge_proto::cms::v1::case_batch_entry::Request as CaseRequest;
use familybridge_proto::cms::v1::case_service_server::CaseService;
use familybridge_runtime::{Caller, machinery_failure};
use familybridge_storage::SimulatedClock;
use familybridge_storage::sqlx::AnyConnection;
use tonic::{Request, Response, Status};
use tracing::Span;

use crate::calculation::response as calculation_response;
use crate::cases::batch::CaseBatch;
use crate::cases::court_orders::apply_pending_to_case;
use crate::cases::publish::publish;
use crate::cases::rules::{
    CaseRules, View, case_status, child_nights, existing, invalid, parse_money,
};
use crate::cases::store::{self, StoredCase};

/// The CMS's case service.
#[derive(Debug, Clone)]
pub struct Cases {
    feed: Feed,
    rules: CaseRules,
}

impl Cases {
    /// The case service over the CMS's feed, applying `settings` (the scenario's policy) and the
    /// parameters in `book` (the statutory ones, or a proposal's).
    pub fn new(feed: Feed, settings: CaseSettings, book: Arc<ParameterBook>) -> Self {
        Self {
            feed,
            rules: CaseRules::new(settings, book),
        }
    }
}

/// The CMS's simulated date, read on `connection`: every case has been dealt with up to it.
async fn today(connection: &mut AnyConnection) -> Result<Option<NaiveDate>, Status> {
    SimulatedClock::current_date_on(connection)
        .await
        .map_err(machinery_failure)
}

impl Cases {
    /// Carries out one request, as a batch of one, with the caller's trace context.
    async fn one<R>(
        &self,
        request: Request<R>,
        entry: fn(R) -> CaseRequest,
    ) -> Result<Response<proto::CaseResponse>, Status> {
        // The events carry the command's own span (a child of the caller's); a process that
        // exports nothing passes on the caller's context as it came.
        let trace = TraceContext::current().or(TraceContext::from_metadata(request.metadata()));
        let entry = Entry {
            request: entry(request.into_inner()),
            trace,
        };
        self.feed.execute_one(self, entry).await.map(Response::new)
    }

    /// Reads an existing case as the next command will see it: `stored` (from `connection`), with
    /// its whole history if the view shows it (`stored_history`, if the batch loaded it already;
    /// else read on `connection`), brought up to the clock's date `today`.
    async fn read_on(
        &self,
        connection: &mut AnyConnection,
        stored: Option<StoredCase>,
        stored_history: Option<&[CaseEvent]>,
        reference: &str,
        shown: View,
        today: Option<NaiveDate>,
    ) -> Result<StoredCase, Status> {
        let mut case = existing(stored, reference)?;
        if shown.includes_history() {
            match stored_history {
                Some(earlier) => case.file.restore_history(earlier.to_vec()),
                None => store::load_history(connection, &mut case)
                    .await
                    .map_err(machinery_failure)?,
            }
        }
        self.rules.catch_up(&mut case, today)?;
        Ok(case)
    }

    /// Reads an existing case, outside any command.
    async fn read(&self, reference: &str, shown: View) -> Result<StoredCase, Status> {
        let mut connection = self
            .feed
            .database()
            .pool()
            .acquire()
            .await
            .map_err(machinery_failure)?;
        let today = today(&mut connection).await?;
        let stored = store::load(&mut connection, &[reference])
            .await
            .map_err(machinery_failure)?
            .get(reference)
            .cloned();
        self.read_on(&mut connection, stored, None, reference, shown, today)
            .await
    }
}

impl CaseCommands for Cases {
    type Entry = CaseRequest;
    type Answer = proto::CaseResponse;
    type WorkingSet = CaseBatch;

    async fn load(
        &self,
        transaction: &mut FeedTransaction,
        references: &[&str],
    ) -> Result<CaseBatch, Status> {
        let automatic = self.rules.settings().court_orders == CourtOrderRoute::Automatic;
        CaseBatch::load(transaction, references, automatic).await
    }

    async fn carry_out(
        &self,
        transaction: &mut FeedTransaction,
        cases: &mut CaseBatch,
        entry: &CaseRequest,
        context: &CommandContext,
    ) -> Result<proto::CaseResponse, Status> {
        let (mut stored, mut pending) = cases.copy_of(entry.case_reference());
        if let Some(case) = stored.as_mut() {
            // A case the clock's moves left alone (nothing was due) comes up to the clock first
            // (the date the batch read as it began).
            let caught_up = self.rules.catch_up(case, context.today)?;
            publish(transaction, case, &caught_up, &context.trace)
                .await
                .map_err(machinery_failure)?;
            // Court events dated up to the command's date come first, so the case decides on what
            // the court did by then (automatic exchange only: there are none on the manual route).
            apply_pending_to_case(
                transaction,
                case,
                &mut pending,
                context.date,
                self.rules.settings(),
                self.rules.book(),
                &Span::current(),
            )
            .await?;
        }
        let (case, events) = self.rules.decide(entry, stored, context.date)?;
        let event_ids = publish(transaction, &case, &events, &context.trace)
            .await
            .map_err(machinery_failure)?;
        let answer = proto::CaseResponse {
            case: Some(self.rules.view(&case, View::Answer)?),
            event_ids,
        };
        cases.keep(case, pending);
        Ok(answer)
    }

    async fn prepare_reads(
        &self,
        transaction: &mut FeedTransaction,
        cases: &mut CaseBatch,
        reads: &[&CaseRequest],
    ) -> Result<(), Status> {
        let mut whole: Vec<&str> = reads
            .iter()
            .filter_map(|read| match read {
                CaseRequest::GetCase(request) if !request.omit_history => {
                    Some(request.case_reference.as_str())
                }
                _ => None,
            })
            .filter(|reference| cases.get(reference).is_some())
            .collect();
        whole.sort_unstable();
        whole.dedup();
        if whole.is_empty() {
            return Ok(());
        }
        cases.load_histories(transaction, &whole).await
    }

    async fn read(
        &self,
        transaction: &mut FeedTransaction,
        cases: &CaseBatch,
        entry: &CaseRequest,
        today: Option<NaiveDate>,
    ) -> Result<proto::CaseResponse, Status> {
        let CaseRequest::GetCase(request) = entry else {
            return Err(Status::internal("not a read"));
        };
        let shown = View::of(request);
        let reference = &request.case_reference;
        let case = self
            .read_on(
                transaction.connection().await?,
                cases.get(reference).cloned(),
                cases.stored_history(reference),
                reference,
                shown,
                today,
            )
            .await?;
        Ok(proto::CaseResponse {
            case: Some(self.rules.view(&case, shown)?),
            event_ids: Vec::new(),
        })
    }

    async fn save(
        &self,
        transaction: &mut FeedTransaction,
        cases: CaseBatch,
    ) -> Result<(), Status> {
        cases.save(transaction).await
    }
}

#[tonic::async_trait]
impl CaseService for Cases {
    async fn open_application(
        &self,
        request: Request<proto::OpenApplicationRequest>,
    ) -> Result<Response<proto::CaseResponse>, Status> {
        self.one(request, CaseRequest::OpenApplication).await
    }

    async fn notify_paying_parent(
        &self,
        request: Request<proto::NotifyPayingParentRequest>,
    ) -> Result<Response<proto::CaseResponse>, Status> {
        self.one(request, CaseRequest::NotifyPayingParent).await
    }

    async fn make_calculation(
        &self,
        request: Request<proto::MakeCalculationRequest>,
    ) -> Result<Response<proto::CaseResponse>, Status> {
        self.one(request, CaseRequest::MakeCalculation).await
    }

    async fn record_income(
        &self,
        request: Request<proto::RecordIncomeRequest>,
    ) -> Result<Response<proto::CaseResponse>, Status> {
        self.one(request, CaseRequest::RecordIncome).await
    }

    async fn record_shared_care(
        &self,
        request: Request<proto::RecordSharedCareRequest>,
    ) -> Result<Response<proto::CaseResponse>, Status> {
        self.one(request, CaseRequest::RecordSharedCare).await
    }

    async fn report_court_order(
        &self,
        request: Request<proto::ReportCourtOrderRequest>,
    ) -> Result<Response<proto::CaseResponse>, Status> {
        self.one(request, CaseRequest::ReportCourtOrder).await
    }

    async fn report_proceedings_ended(
        &self,
        request: Request<proto::ReportProceedingsEndedRequest>,
    ) -> Result<Response<proto::CaseResponse>, Status> {
        self.one(request, CaseRequest::ReportProceedingsEnded).await
    }

    async fn record_payment(
        &self,
        request: Request<proto::RecordPaymentRequest>,
    ) -> Result<Response<proto::CaseResponse>, Status> {
        self.one(request, CaseRequest::RecordPayment).await
    }

    async fn report_missed_direct_pay(
        &self,
        request: Request<proto::ReportMissedDirectPayRequest>,
    ) -> Result<Response<proto::CaseResponse>, Status> {
        self.one(request, CaseRequest::ReportMissedDirectPay).await
    }

    async fn close_case(
        &self,
        request: Request<proto::CloseCaseRequest>,
    ) -> Result<Response<proto::CaseResponse>, Status> {
        self.one(request, CaseRequest::CloseCase).await
    }

    async fn record_contact(
        &self,
        request: Request<proto::RecordContactRequest>,
    ) -> Result<Response<proto::CaseResponse>, Status> {
        self.one(request, CaseRequest::RecordContact).await
    }

    async fn request_enforcement_pause(
        &self,
        request: Request<proto::RequestEnforcementPauseRequest>,
    ) -> Result<Response<proto::CaseResponse>, Status> {
        self.one(request, CaseRequest::RequestEnforcementPause)
            .await
    }

    async fn lift_enforcement_pause(
        &self,
        request: Request<proto::LiftEnforcementPauseRequest>,
    ) -> Result<Response<proto::CaseResponse>, Status> {
        self.one(request, CaseRequest::LiftEnforcementPause).await
    }

    async fn get_case(
        &self,
        request: Request<proto::GetCaseRequest>,
    ) -> Result<Response<proto::Case>, Status> {
        let request = request.into_inner();
        if request.case_reference.is_empty() {
            return Err(invalid("case_reference", "required"));
        }
        let shown = View::of(&request);
        Ok(Response::new(self.rules.view(
            &self.read(&request.case_reference, shown).await?,
            shown,
        )?))
    }

    async fn project_liability(
        &self,
        request: Request<proto::ProjectLiabilityRequest>,
    ) -> Result<Response<proto::ProjectLiabilityResponse>, Status> {
        let request = request.into_inner();
        if request.case_reference.is_empty() {
            return Err(invalid("case_reference", "required"));
        }
        let date = parse_date("effective_date", &request.effective_date)?;
        let nights = child_nights("proposed_nights", &request.proposed_nights)?;
        let proposal = ProposedCare {
            nights,
            flip_residence: request.flip_residence,
            receiving_parent_income: parse_money(
                "receiving_parent_income",
                &request.receiving_parent_income,
            )?,
        };
        let case = self.read(&request.case_reference, View::Current).await?;
        let projection = case
            .file
            .project_liability(date, &proposal, self.rules.settings(), self.rules.book())
            .map_err(case_status)?;
        Ok(Response::new(proto::ProjectLiabilityResponse {
            payer_ref: match projection.payer {
                Party::PayingParent => case.paying_parent_ref.clone(),
                Party::ReceivingParent => case.receiving_parent_ref.clone(),
            },
            roles_flip: projection.roles_flip,
            weekly_amount: projection.weekly_amount.to_string(),
            current_weekly_amount: projection
                .current_weekly_amount
                .map(|amount| amount.to_string())
                .unwrap_or_default(),
            payer_income_known: projection.payer_income_known,
            calculation: Some(calculation_response(&projection.calculation, date)),
            notes: projection.notes,
        }))
    }

    async fn execute_batch(
        &self,
        request: Request<proto::CaseBatchRequest>,
    ) -> Result<Response<proto::CaseBatchResponse>, Status> {
        use proto::case_batch_outcome::Outcome;
        let call = TraceContext::current().or(TraceContext::from_metadata(request.metadata()));
        let caller = Caller::of(&request)?.clone();
        let sent = request
            .into_inner()
            .entries
            .into_iter()
            .map(|entry| (entry.request, entry.trace))
            .collect();
        let outcomes = self.feed.execute_sent(self, sent, &call, &caller).await?;
        Ok(Response::new(proto::CaseBatchResponse {
            outcomes: outcomes
                .into_iter()
                .map(|outcome| proto::CaseBatchOutcome {
                    outcome: Some(outcome.map_or_else(Outcome::Refusal, Outcome::Answer)),
                })
                .collect(),
        }))
    }
}
