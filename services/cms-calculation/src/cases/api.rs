//! `familybridge.cms.v1.CaseService`: the CMS's case commands and query over gRPC.
//!
//! Every command is an entry of a batch carried out by the feed's command executor
//! (`Feed::execute_batch`; a single-command RPC is a batch of one, `ExecuteBatch` many): the request
//! is checked and translated (errors name the request field), the case rules decide, and the
//! changed case, the events to publish and the answer are written together. [`CaseCommands`] is
//! where the CMS says how: the case loaded and brought up to the clock and to the court's events,
//! the rule of the entry's kind, the case saved and its events published.

use std::collections::BTreeMap;

use std::sync::Arc;

use chrono::NaiveDate;
use familybridge_calculation::{Money, Nights, ParameterBook};
use familybridge_casework::{
    Application, CaseError, CaseEvent, CaseFile, CaseSettings, ClosureReason, CollectionMethod,
    ContactKind, CourtOrder, CourtOrderRoute, Deduction, Employment, EvidenceSource, IncomeSource,
    Party, PaymentSource, ProceedingsOutcome, ProposedCare, Stage,
};
use familybridge_feed::{
    CaseCommands, CommandContext, Entry, Feed, FeedTransaction, TraceContext, parse_date,
};
use familybridge_proto::cms::v1 as proto;
use familybridge_proto::cms::v1::case_batch_entry::Request as CaseRequest;
use familybridge_proto::cms::v1::case_service_server::CaseService;
use familybridge_proto::{BatchEntry, validate};
use familybridge_runtime::{Caller, machinery_failure};
use familybridge_storage::SimulatedClock;
use familybridge_storage::sqlx::AnyConnection;
use tonic::{Request, Response, Status};
use tracing::Span;

use crate::calculation::response as calculation_response;
use crate::cases::batch::CaseBatch;
use crate::cases::court_orders::apply_pending_to_case;
use crate::cases::history::{self, iso};
use crate::cases::publish::publish;
use crate::cases::store::{self, StoredCase};

/// The most qualifying children one application may name (a repeated field bounded like every
/// other input).
const MAX_CHILDREN: usize = 20;

/// The CMS's case service.
#[derive(Debug, Clone)]
pub struct Cases {
    feed: Feed,
    settings: CaseSettings,
    book: Arc<ParameterBook>,
}

impl Cases {
    /// The case service over the CMS's feed, applying `settings` (the scenario's policy) and the
    /// parameters in `book` (the statutory ones, or a proposal's).
    pub fn new(feed: Feed, settings: CaseSettings, book: Arc<ParameterBook>) -> Self {
        Self {
            feed,
            settings,
            book,
        }
    }
}

/// The CMS's simulated date, read on `connection`: every case has been dealt with up to it.
async fn today(connection: &mut AnyConnection) -> Result<Option<NaiveDate>, Status> {
    SimulatedClock::current_date_on(connection)
        .await
        .map_err(machinery_failure)
}

/// A refusal by the case rules, as a gRPC status.
pub(crate) fn case_status(error: CaseError) -> Status {
    match error {
        CaseError::Invalid { .. } => Status::invalid_argument(error.to_string()),
        CaseError::NotNow(_) => Status::failed_precondition(error.to_string()),
        // The rules needed are those of a date the request gave.
        CaseError::Parameters { .. } => {
            Status::invalid_argument(format!("effective_date: {error}"))
        }
    }
}

fn invalid(field: &str, problem: impl std::fmt::Display) -> Status {
    Status::invalid_argument(format!("{field}: {problem}"))
}

/// An optional amount: empty means not known.
fn parse_money(field: &str, text: &str) -> Result<Option<Money>, Status> {
    if text.is_empty() {
        return Ok(None);
    }
    Money::parse(text)
        .map(Some)
        .map_err(|error| invalid(field, error))
}

fn parse_nights(field: &str, nights: u32) -> Result<Nights, Status> {
    Nights::new(nights).map_err(|error| invalid(field, error))
}

/// Each child's nights from the list in request field `field`.
fn child_nights(
    field: &str,
    children: &[proto::ChildNights],
) -> Result<BTreeMap<String, Nights>, Status> {
    children
        .iter()
        .enumerate()
        .map(|(index, child)| {
            Ok((
                child.child_ref.clone(),
                parse_nights(&format!("{field}[{index}].nights"), child.nights)?,
            ))
        })
        .collect()
}

fn party(field: &str, party: proto::CaseParty) -> Result<Party, Status> {
    match party {
        proto::CaseParty::Unspecified => Err(invalid(field, "required")),
        proto::CaseParty::PayingParent => Ok(Party::PayingParent),
        proto::CaseParty::ReceivingParent => Ok(Party::ReceivingParent),
    }
}

fn existing(stored: Option<StoredCase>, reference: &str) -> Result<StoredCase, Status> {
    stored.ok_or_else(|| Status::not_found(format!("case_reference: no CMS case {reference:?}")))
}

/// Whether a case view carries the case's whole history: `GetCase` does unless asked not to; a
/// command's answer does not, so that its cost does not grow with the age of the case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum History {
    Included,
    Omitted,
}

/// A case as the API shows it.
fn view(case: &StoredCase, book: &ParameterBook, history: History) -> Result<proto::Case, Status> {
    let file = &case.file;
    let calculation = file
        .current_calculation(book)
        .map_err(case_status)?
        .map(|calculation| calculation_response(&calculation, file.as_of()));
    let account = file.account();
    let history = match history {
        History::Included => file.history(),
        History::Omitted => &[],
    }
    .iter()
    .map(history::entry)
    .collect();
    let (stage, effective_date) = match file.stage() {
        Stage::AwaitingCalculation { effective_date } => ("awaiting_calculation", effective_date),
        Stage::Deferred { effective_date, .. } => ("deferred", effective_date),
        Stage::Live => ("live", file.liability_start()),
        Stage::Closed { .. } => ("closed", file.liability_start()),
    };
    Ok(proto::Case {
        case_reference: case.case_reference.clone(),
        paying_parent_ref: case.paying_parent_ref.clone(),
        receiving_parent_ref: case.receiving_parent_ref.clone(),
        child_refs: case.child_refs.clone(),
        applied_on: iso(file.application().date),
        awaiting_final_order: file.is_deferred(),
        liability_from: file.liability_start().map(iso).unwrap_or_default(),
        calculation,
        next_instalment: file.schedule(book).map_err(case_status)?.map(|instalment| {
            proto::Instalment {
                due: iso(instalment.due),
                amount: instalment.total.to_string(),
                maintenance: instalment.maintenance.to_string(),
                arrears: instalment.arrears.to_string(),
                collection_fee: instalment.collection_fee.to_string(),
                collected: instalment.collected,
                number: instalment.number,
            }
        }),
        account: Some(proto::Account {
            maintenance_due: account.maintenance_due.to_string(),
            maintenance_paid: account.maintenance_paid.to_string(),
            arrears: format!("{:.2}", account.arrears),
            retrospective_adjustments: format!("{:.2}", account.retrospective_adjustments),
            collection_fees_charged: account.collection_fees_charged.to_string(),
            collection_fees_paid: account.collection_fees_paid.to_string(),
            receiving_parent_collection_fees: account.receiving_parent_collection_fees.to_string(),
            enforcement_fees_charged: account.enforcement_fees_charged.to_string(),
            enforcement_fees_paid: account.enforcement_fees_paid.to_string(),
            passed_to_receiving_parent: account.passed_to_receiving_parent.to_string(),
            direct_pay_due: account.direct_pay_due.to_string(),
        }),
        enforcement_stage: file
            .enforcement_stage()
            .map(|step| step.as_str().to_owned())
            .unwrap_or_default(),
        consecutive_missed: file.consecutive_missed(),
        paused_until: file
            .pause_on(file.as_of())
            .map(|pause| iso(pause.until))
            .unwrap_or_default(),
        history,
        as_of: iso(file.as_of()),
        stage: stage.to_owned(),
        effective_date: effective_date.map(iso).unwrap_or_default(),
        collect_and_pay: file.collection_method() == CollectionMethod::CollectAndPay,
        deduction: match file.deduction() {
            None => "",
            Some(Deduction::Earnings) => "earnings",
            Some(Deduction::Account) => "account",
            Some(Deduction::Benefit) => "benefit",
        }
        .to_owned(),
        liability_order_granted: file.liability_order_granted(),
    })
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
    /// its whole history if asked (`stored_history`, if the batch loaded it already; else read on
    /// `connection`), brought up to the clock's date `today`.
    async fn read_on(
        &self,
        connection: &mut AnyConnection,
        stored: Option<StoredCase>,
        stored_history: Option<&[CaseEvent]>,
        reference: &str,
        history: History,
        today: Option<NaiveDate>,
    ) -> Result<StoredCase, Status> {
        let mut case = existing(stored, reference)?;
        if history == History::Included {
            match stored_history {
                Some(earlier) => case.file.restore_history(earlier.to_vec()),
                None => store::load_history(connection, &mut case)
                    .await
                    .map_err(machinery_failure)?,
            }
        }
        store::catch_up(&mut case, today, &self.settings, &self.book).map_err(case_status)?;
        Ok(case)
    }

    /// Reads an existing case, outside any command.
    async fn read(&self, reference: &str, history: History) -> Result<StoredCase, Status> {
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
        self.read_on(&mut connection, stored, None, reference, history, today)
            .await
    }

    /// What the rules decide on a command: the case as it now is, and the events to publish.
    fn decide(
        &self,
        entry: &CaseRequest,
        stored: Option<StoredCase>,
        date: NaiveDate,
    ) -> Result<(StoredCase, Vec<CaseEvent>), Status> {
        let (settings, book) = (&self.settings, &*self.book);
        if let CaseRequest::OpenApplication(request) = entry {
            return self.open_case(request, stored, date);
        }
        let mut case = existing(stored, entry.case_reference())?;
        let file = &mut case.file;
        let events = match entry {
            CaseRequest::OpenApplication(_) | CaseRequest::GetCase(_) => {
                return Err(Status::internal("not a command on an existing case"));
            }
            CaseRequest::NotifyPayingParent(_) => file
                .notify_paying_parent(date, settings, book)
                .map_err(case_status)?,
            CaseRequest::MakeCalculation(_) => file
                .make_calculation(date, settings, book)
                .map_err(case_status)?,
            CaseRequest::RecordIncome(request) => {
                record_income(request, file, date, settings, book)?
            }
            CaseRequest::RecordSharedCare(request) => {
                record_shared_care(request, file, date, settings, book)?
            }
            CaseRequest::ReportCourtOrder(request) => {
                report_court_order(request, file, date, settings, book)?
            }
            CaseRequest::ReportProceedingsEnded(request) => {
                report_proceedings_ended(request, file, date, settings, book)?
            }
            CaseRequest::RecordPayment(request) => {
                record_payment(request, file, date, settings, book)?
            }
            CaseRequest::ReportMissedDirectPay(request) => {
                let unpaid = parse_money("unpaid", &request.unpaid)?
                    .ok_or_else(|| invalid("unpaid", "required"))?;
                file.report_missed_direct_pay(date, unpaid, settings, book)
                    .map_err(case_status)?
            }
            CaseRequest::CloseCase(_) => file
                .close(date, ClosureReason::FamilyBasedArrangement, settings, book)
                .map_err(case_status)?,
            CaseRequest::RecordContact(request) => {
                record_contact(request, file, date, settings, book)?
            }
            CaseRequest::RequestEnforcementPause(request) => file
                .request_pause(date, request.weeks, &request.reason, settings, book)
                .map_err(case_status)?,
            CaseRequest::LiftEnforcementPause(_) => {
                file.lift_pause(date, settings, book).map_err(case_status)?
            }
        };
        Ok((case, events))
    }

    /// A new case on an application, which must not exist yet.
    fn open_case(
        &self,
        request: &proto::OpenApplicationRequest,
        stored: Option<StoredCase>,
        date: NaiveDate,
    ) -> Result<(StoredCase, Vec<CaseEvent>), Status> {
        if stored.is_some() {
            return Err(Status::already_exists(format!(
                "case_reference: CMS case {:?} already exists",
                request.case_reference
            )));
        }
        for (field, value) in [
            ("paying_parent_ref", &request.paying_parent_ref),
            ("receiving_parent_ref", &request.receiving_parent_ref),
        ] {
            if let Some(problem) = validate::reference_problem(value) {
                return Err(invalid(field, problem));
            }
        }
        if request.child_refs.len() > MAX_CHILDREN {
            return Err(invalid(
                "child_refs",
                format!("at most {MAX_CHILDREN} children on one application"),
            ));
        }
        for (index, child) in request.child_refs.iter().enumerate() {
            if let Some(problem) = validate::reference_problem(child) {
                return Err(invalid(&format!("child_refs[{index}]"), problem));
            }
        }
        if request.receiving_parent_ref == request.paying_parent_ref {
            return Err(invalid(
                "receiving_parent_ref",
                "must be a different person from the paying parent",
            ));
        }
        let application = Application {
            date,
            applicant: party("applicant", request.applicant())?,
            children: request.child_refs.clone(),
            proceedings_pending: request.proceedings_pending,
            collection: if request.collect_and_pay {
                CollectionMethod::CollectAndPay
            } else {
                CollectionMethod::DirectPay
            },
            paying_parent_income: parse_money("gross_weekly_income", &request.gross_weekly_income)?,
            relevant_other_children: request.relevant_other_children,
            flat_rate_benefit: request.flat_rate_benefit,
            employment: match request.employment() {
                proto::Employment::Unspecified => {
                    return Err(invalid("employment", "required"));
                }
                proto::Employment::Employed => Employment::Employed,
                proto::Employment::SelfEmployed => Employment::SelfEmployed,
                proto::Employment::NotWorking => Employment::NotWorking,
            },
        };
        let (file, events) =
            CaseFile::open(application, &self.settings, &self.book).map_err(case_status)?;
        Ok((
            StoredCase {
                case_reference: request.case_reference.clone(),
                paying_parent_ref: request.paying_parent_ref.clone(),
                receiving_parent_ref: request.receiving_parent_ref.clone(),
                child_refs: request.child_refs.clone(),
                file,
                history_stored: 0,
            },
            events,
        ))
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
        let automatic = self.settings.court_orders == CourtOrderRoute::Automatic;
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
            let caught_up = store::catch_up(case, context.today, &self.settings, &self.book)
                .map_err(case_status)?;
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
                &self.settings,
                &self.book,
                &Span::current(),
            )
            .await?;
        }
        let (case, events) = self.decide(entry, stored, context.date)?;
        let event_ids = publish(transaction, &case, &events, &context.trace)
            .await
            .map_err(machinery_failure)?;
        let answer = proto::CaseResponse {
            case: Some(view(&case, &self.book, History::Omitted)?),
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
        let history = if request.omit_history {
            History::Omitted
        } else {
            History::Included
        };
        let reference = &request.case_reference;
        let case = self
            .read_on(
                transaction.connection().await?,
                cases.get(reference).cloned(),
                cases.stored_history(reference),
                reference,
                history,
                today,
            )
            .await?;
        Ok(proto::CaseResponse {
            case: Some(view(&case, &self.book, history)?),
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

fn record_income(
    request: &proto::RecordIncomeRequest,
    file: &mut CaseFile,
    date: NaiveDate,
    settings: &CaseSettings,
    book: &ParameterBook,
) -> Result<Vec<CaseEvent>, Status> {
    let income = parse_money("gross_weekly_income", &request.gross_weekly_income)?;
    let source = match request.source() {
        proto::IncomeSource::Unspecified => return Err(invalid("source", "required")),
        proto::IncomeSource::ReportedChange => IncomeSource::ReportedChange,
        proto::IncomeSource::AnnualReview => IncomeSource::AnnualReview,
        proto::IncomeSource::Initial => IncomeSource::Initial,
    };
    file.record_income(date, income, source, settings, book)
        .map_err(case_status)
}

fn record_shared_care(
    request: &proto::RecordSharedCareRequest,
    file: &mut CaseFile,
    date: NaiveDate,
    settings: &CaseSettings,
    book: &ParameterBook,
) -> Result<Vec<CaseEvent>, Status> {
    let nights = parse_nights("nights", request.nights)?;
    let source = match request.source() {
        proto::EvidenceSource::Unspecified => return Err(invalid("source", "required")),
        proto::EvidenceSource::ParentsWord => EvidenceSource::ParentsWord,
        proto::EvidenceSource::Agreement => EvidenceSource::Agreement,
        proto::EvidenceSource::CourtOrder => EvidenceSource::CourtOrder,
    };
    file.record_shared_care(date, &request.child_ref, nights, source, settings, book)
        .map_err(case_status)
}

fn report_court_order(
    request: &proto::ReportCourtOrderRequest,
    file: &mut CaseFile,
    date: NaiveDate,
    settings: &CaseSettings,
    book: &ParameterBook,
) -> Result<Vec<CaseEvent>, Status> {
    if request.order_id.is_empty() {
        return Err(invalid("order_id", "required"));
    }
    let made_on = parse_date("made_on", &request.made_on)?;
    let nights = child_nights("nights", &request.nights)?;
    let order = CourtOrder {
        order_id: request.order_id.clone(),
        made_on,
        is_final: request.is_final,
        nights,
    };
    file.apply_court_order(date, order, settings, book)
        .map_err(case_status)
}

fn report_proceedings_ended(
    request: &proto::ReportProceedingsEndedRequest,
    file: &mut CaseFile,
    date: NaiveDate,
    settings: &CaseSettings,
    book: &ParameterBook,
) -> Result<Vec<CaseEvent>, Status> {
    let outcome = match request.outcome() {
        proto::ProceedingsOutcome::Unspecified => return Err(invalid("outcome", "required")),
        proto::ProceedingsOutcome::Withdrawn => ProceedingsOutcome::Withdrawn,
        proto::ProceedingsOutcome::Dismissed => ProceedingsOutcome::Dismissed,
    };
    file.end_proceedings(date, outcome, settings, book)
        .map_err(case_status)
}

fn record_payment(
    request: &proto::RecordPaymentRequest,
    file: &mut CaseFile,
    date: NaiveDate,
    settings: &CaseSettings,
    book: &ParameterBook,
) -> Result<Vec<CaseEvent>, Status> {
    let amount =
        parse_money("amount", &request.amount)?.ok_or_else(|| invalid("amount", "required"))?;
    let source = match request.source() {
        proto::PaymentSource::Unspecified => return Err(invalid("source", "required")),
        proto::PaymentSource::PayingParent => PaymentSource::PayingParent,
        proto::PaymentSource::DeductionFromEarnings => PaymentSource::DeductionFromEarnings,
        proto::PaymentSource::DeductionFromAccount => PaymentSource::DeductionFromAccount,
        proto::PaymentSource::DeductionFromBenefit => PaymentSource::DeductionFromBenefit,
        proto::PaymentSource::EnforcementAgents => PaymentSource::EnforcementAgents,
    };
    file.record_payment(date, amount, source, settings, book)
        .map_err(case_status)
}

fn record_contact(
    request: &proto::RecordContactRequest,
    file: &mut CaseFile,
    date: NaiveDate,
    settings: &CaseSettings,
    book: &ParameterBook,
) -> Result<Vec<CaseEvent>, Status> {
    let who = party("party", request.party())?;
    let kind = match request.kind() {
        proto::ContactKind::Unspecified => return Err(invalid("kind", "required")),
        proto::ContactKind::Call => ContactKind::Call,
        proto::ContactKind::Complaint => ContactKind::Complaint,
        proto::ContactKind::Written => ContactKind::Written,
    };
    file.record_contact(date, who, kind, request.distressed, settings, book)
        .map_err(case_status)
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
        let history = if request.omit_history {
            History::Omitted
        } else {
            History::Included
        };
        Ok(Response::new(view(
            &self.read(&request.case_reference, history).await?,
            &self.book,
            history,
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
        let case = self.read(&request.case_reference, History::Omitted).await?;
        let projection = case
            .file
            .project_liability(date, &proposal, &self.settings, &self.book)
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
