//! The CMS's case rules as its API takes them: a request decided on a case, and a case as the API
//! shows it. No I/O, no clock: the service's commands run these in its feed's transaction (`api.rs`),
//! its clock moves and the court's events bring cases up to date around them, and the runner's
//! in-process floor calls them directly, so the floor decides exactly as the service does.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::NaiveDate;
use familybridge_calculation::{Money, Nights, ParameterBook};
use familybridge_casework::{
    Application, CaseError, CaseEvent, CaseFile, CaseSettings, ClosureReason, CollectionMethod,
    ContactKind, CourtOrder, Deduction, Employment, EvidenceSource, IncomeSource, Party,
    PaymentSource, ProceedingsOutcome, Stage,
};
use familybridge_feed::parse_date;
use familybridge_proto::cms::v1 as proto;
use familybridge_proto::cms::v1::case_batch_entry::Request as CaseRequest;
use familybridge_proto::{BatchEntry, validate};
use tonic::Status;

use crate::calculation::{amounts as calculation_amounts, response as calculation_response};
use crate::cases::history::{self, iso};
use crate::cases::store::{self, StoredCase};

/// The most qualifying children one application may name (a repeated field bounded like every
/// other input).
const MAX_CHILDREN: usize = 20;

/// The CMS's case rules under one arm's policy: the scenario's settings and the parameters in
/// force.
#[derive(Debug, Clone)]
pub struct CaseRules {
    settings: CaseSettings,
    book: Arc<ParameterBook>,
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

pub(crate) fn invalid(field: &str, problem: impl std::fmt::Display) -> Status {
    Status::invalid_argument(format!("{field}: {problem}"))
}

/// An optional amount: empty means not known.
pub(crate) fn parse_money(field: &str, text: &str) -> Result<Option<Money>, Status> {
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
pub(crate) fn child_nights(
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

/// The case a request is about, which must exist.
pub fn existing(stored: Option<StoredCase>, reference: &str) -> Result<StoredCase, Status> {
    stored.ok_or_else(|| Status::not_found(format!("case_reference: no CMS case {reference:?}")))
}

/// How much of a case a view shows. A command's answer shows where the case stands and nothing
/// more, so that answering it — and keeping the answer for a retry — costs the same however old the
/// case is and however its calculation was reached; `GetCase` shows the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// Everything: the case's whole history and its calculation's explanation (`GetCase`).
    Whole,
    /// Where the case stands, its calculation explained, without its history (`GetCase` asked to
    /// omit it).
    Current,
    /// Where the case stands, its calculation's amounts without their explanation (a command's
    /// answer).
    Answer,
}

impl View {
    /// The view a `GetCase` request asks for.
    pub fn of(request: &proto::GetCaseRequest) -> Self {
        if request.omit_history {
            Self::Current
        } else {
            Self::Whole
        }
    }

    /// Whether the view shows the case's whole history (which must then be loaded).
    pub fn includes_history(self) -> bool {
        self == Self::Whole
    }
}

/// A case as the API shows it, as much of it as `shown` says.
pub(crate) fn view(
    case: &StoredCase,
    book: &ParameterBook,
    shown: View,
) -> Result<proto::Case, Status> {
    let file = &case.file;
    let calculation = file
        .current_calculation(book)
        .map_err(case_status)?
        .map(|calculation| match shown {
            View::Answer => calculation_amounts(&calculation, file.as_of()),
            View::Whole | View::Current => calculation_response(&calculation, file.as_of()),
        });
    let account = file.account();
    let history = if shown.includes_history() {
        file.history()
    } else {
        &[]
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

impl CaseRules {
    /// The rules under `settings` (the scenario's policy) with the parameters in `book` (the
    /// statutory ones, or a proposal's).
    pub fn new(settings: CaseSettings, book: Arc<ParameterBook>) -> Self {
        Self { settings, book }
    }

    /// The policy the rules apply.
    pub fn settings(&self) -> &CaseSettings {
        &self.settings
    }

    /// The parameters the rules apply.
    pub fn book(&self) -> &ParameterBook {
        &self.book
    }

    /// A case as the API shows it, as much of it as `shown` says.
    pub fn view(&self, case: &StoredCase, shown: View) -> Result<proto::Case, Status> {
        view(case, &self.book, shown)
    }

    /// Brings a case up to the CMS's date `today` (`None` before its clock first moves), as the
    /// clock's visits would have; the events that causes.
    pub fn catch_up(
        &self,
        case: &mut StoredCase,
        today: Option<NaiveDate>,
    ) -> Result<Vec<CaseEvent>, Status> {
        store::catch_up(case, today, &self.settings, &self.book).map_err(case_status)
    }

    /// What the rules decide on a command dated `date` about the case `stored` (`None`: no such
    /// case yet): the case as it now is, and the events it records. A refusal names the field at
    /// fault, or says which rule said no.
    pub fn decide(
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
