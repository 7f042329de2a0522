//! `familybridge.court.v1.CourtRegistry`: the registry's commands and query over gRPC.
//!
//! Every command is an entry of a batch carried out by the feed's command executor
//! (`Feed::execute_batch`; a single-command RPC is a batch of one, `ExecuteBatch` many), under the
//! case's lock: a retry is answered as before and changes nothing; otherwise the case rules decide
//! ([`Registry::decide`]), and the changed case, the events it causes and the answer are written
//! together. So an event is published if and only if its change happened, and a final order can
//! never be published before the interim order it replaces.

use chrono::NaiveDate;
use familybridge_calculation::ParameterBook;
use familybridge_feed::{
    CaseCommands, CommandContext, Entry, Feed, FeedError, FeedTransaction, OutgoingEvent,
    TraceContext, parse_date,
};
use familybridge_proto::BatchEntry;
use familybridge_proto::court::v1 as proto;
use familybridge_proto::court::v1::court_batch_entry::Request as CourtRequest;
use familybridge_proto::court::v1::court_registry_server::CourtRegistry;
use familybridge_runtime::{Caller, machinery_failure};
use familybridge_storage::case_table::WorkingSet;
use tonic::{Request, Response, Status};

use crate::case::{Case, CaseError, OrderKind};
use crate::convert::{self, person};

/// The registry's gRPC service.
#[derive(Debug, Clone)]
pub struct Registry {
    feed: Feed,
}

impl Registry {
    /// The registry over its event feed (and the feed's database).
    pub fn new(feed: Feed) -> Self {
        Self { feed }
    }
}

/// What a command decided: the case as it now is, and what to publish.
#[derive(Debug)]
pub struct Decision {
    /// The case after the command.
    pub case: Case,
    /// The events it publishes, in order.
    pub events: Vec<OutgoingEvent>,
}

fn case_status(error: CaseError) -> Status {
    match error {
        CaseError::Invalid { .. } => Status::invalid_argument(error.to_string()),
        CaseError::NotNow { .. } => Status::failed_precondition(error.to_string()),
    }
}

/// The case a command is about, which must exist.
pub fn existing(case: Option<Case>, reference: &str) -> Result<Case, Status> {
    case.ok_or_else(|| {
        Status::not_found(format!(
            "case_reference: no case {reference:?} in the registry"
        ))
    })
}

/// The events an order publishes: the order itself, then the care pattern it fixed.
fn order_events(
    case: &Case,
    order: &crate::case::Order,
    replaced: Option<String>,
) -> Result<Vec<OutgoingEvent>, FeedError> {
    let arrangements = convert::arrangements(&order.arrangements);
    let order_kind = convert::order_kind(order.kind);
    let reference = case.reference.clone();
    let narrative = case.safeguarding_narrative.clone();
    let first = match order.kind {
        OrderKind::Interim => OutgoingEvent::new(&proto::InterimOrderMade {
            case_reference: reference.clone(),
            order_id: order.order_id.clone(),
            order_kind: order_kind.into(),
            arrangements: arrangements.clone(),
            safeguarding_narrative: narrative,
        }),
        OrderKind::Final => OutgoingEvent::new(&proto::FinalOrderMade {
            case_reference: reference.clone(),
            order_id: order.order_id.clone(),
            order_kind: order_kind.into(),
            arrangements: arrangements.clone(),
            replaces_order_id: replaced.unwrap_or_default(),
            safeguarding_narrative: narrative,
        }),
        OrderKind::Variation => OutgoingEvent::new(&proto::VariationOrderMade {
            case_reference: reference.clone(),
            order_id: order.order_id.clone(),
            order_kind: order_kind.into(),
            arrangements: arrangements.clone(),
            varies_order_id: replaced.unwrap_or_default(),
            safeguarding_narrative: narrative,
        }),
    };
    let care = OutgoingEvent::new(&proto::SharedCareDetermined {
        case_reference: reference,
        order_id: order.order_id.clone(),
        order_kind: order_kind.into(),
        is_final: order.kind != OrderKind::Interim,
        applicant: Some(convert::party(&case.applicant)),
        respondent: Some(convert::party(&case.respondent)),
        arrangements,
    })?;
    Ok(vec![first?, care])
}

/// An event for the outbox, or the internal failure of encoding it.
fn outgoing<M: prost::Message + prost::Name>(event: &M) -> Result<OutgoingEvent, Status> {
    OutgoingEvent::new(event).map_err(machinery_failure)
}

impl Registry {
    /// Carries out one request, as a batch of one, with the caller's trace context.
    async fn one<R>(
        &self,
        request: Request<R>,
        entry: fn(R) -> CourtRequest,
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
}

/// What the court's rules decide on a command dated `date` about the case `stored` (`None`: no
/// such case yet): the case as it now is, and the events to publish. No I/O: the registry's
/// commands run it in its feed's transaction, and the runner's in-process floor calls it directly.
pub fn decide(
    entry: &CourtRequest,
    stored: Option<Case>,
    date: NaiveDate,
) -> Result<Decision, Status> {
    match entry {
        CourtRequest::OpenCase(request) => open_case(request, stored, date),
        CourtRequest::ScheduleHearing(request) => {
            let mut case = existing(stored, &request.case_reference)?;
            let hearing_date = parse_date("hearing_date", &request.hearing_date)?;
            let kind = convert::hearing_kind(request.kind()).map_err(case_status)?;
            case.schedule_hearing(date, hearing_date, kind)
                .map_err(case_status)?;
            Ok(Decision {
                case,
                events: Vec::new(),
            })
        }
        CourtRequest::MakeInterimOrder(request) => {
            make_order(OrderKind::Interim, request, stored, date)
        }
        CourtRequest::MakeFinalOrder(request) => {
            make_order(OrderKind::Final, request, stored, date)
        }
        CourtRequest::MakeVariationOrder(request) => {
            make_order(OrderKind::Variation, request, stored, date)
        }
        CourtRequest::ApplyToVary(request) => apply_to_vary(request, stored, date),
        CourtRequest::CloseCase(request) => {
            let mut case = existing(stored, &request.case_reference)?;
            let reason = convert::closure_reason(request.reason()).map_err(case_status)?;
            let final_order_stands = case.close(date, reason).map_err(case_status)?;
            let event = outgoing(&proto::CaseClosed {
                case_reference: case.reference.clone(),
                reason: request.reason,
                final_order_stands,
            })?;
            Ok(Decision {
                case,
                events: vec![event],
            })
        }
        CourtRequest::AttachReviewFindings(request) => {
            let mut case = existing(stored, &request.case_reference)?;
            let findings = convert::requested_findings(request.findings.as_ref(), date)
                .map_err(case_status)?;
            case.attach_review_findings(findings).map_err(case_status)?;
            Ok(Decision {
                case,
                events: Vec::new(),
            })
        }
        CourtRequest::GetCase(_) => Err(Status::internal("not a command")),
    }
}

/// A case as the API shows it.
pub fn view(case: &Case) -> proto::CaseResponse {
    proto::CaseResponse {
        case: Some(convert::case(case)),
        event_ids: Vec::new(),
    }
}

/// A new case on an application, which must not exist yet.
fn open_case(
    request: &proto::OpenCaseRequest,
    stored: Option<Case>,
    date: NaiveDate,
) -> Result<Decision, Status> {
    if stored.is_some() {
        return Err(Status::already_exists(format!(
            "case_reference: case {:?} already exists",
            request.case_reference
        )));
    }
    let case = Case::open(
        &request.case_reference,
        person(request.applicant.as_ref()),
        person(request.respondent.as_ref()),
        &request.child_refs,
        date,
        convert::welfare(request.welfare_flags.as_ref()),
        &request.safeguarding_narrative,
    )
    .map_err(case_status)?;
    let event = outgoing(&proto::CaseOpened {
        case_reference: case.reference.clone(),
        applicant: Some(convert::party(&case.applicant)),
        respondent: Some(convert::party(&case.respondent)),
        child_refs: case.children.clone(),
        welfare_flags: Some(convert::welfare_flags(case.welfare)),
        safeguarding_narrative: case.safeguarding_narrative.clone(),
    })?;
    Ok(Decision {
        case,
        events: vec![event],
    })
}

/// An order of `kind`.
fn make_order(
    kind: OrderKind,
    request: &proto::MakeOrderRequest,
    stored: Option<Case>,
    date: NaiveDate,
) -> Result<Decision, Status> {
    let mut case = existing(stored, &request.case_reference)?;
    let replaced = case.in_force().map(|order| order.order_id.clone());
    let order = case
        .make_order(kind, date, &convert::requested(&request.arrangements))
        .map_err(case_status)?;
    // A final order replaces the interim order in force, if any; a variation order varies the
    // order in force; an interim order replaces nothing.
    let replaced = if kind == OrderKind::Interim {
        None
    } else {
        replaced
    };
    let events = order_events(&case, &order, replaced).map_err(machinery_failure)?;
    Ok(Decision { case, events })
}

/// An application to vary the final order.
fn apply_to_vary(
    request: &proto::ApplyToVaryRequest,
    stored: Option<Case>,
    date: NaiveDate,
) -> Result<Decision, Status> {
    let mut case = existing(stored, &request.case_reference)?;
    // The bands of the CMS calculation in force on the application's date decide whether the
    // proposal changes a child's shared-care band.
    let parameters = ParameterBook::statutory()
        .in_force_on(date)
        .map_err(|error| Status::invalid_argument(format!("effective_date: {error}")))?;
    let varies = case
        .final_order_in_force()
        .map(|order| order.order_id.clone())
        .unwrap_or_default();
    let application = case
        .apply_to_vary(
            date,
            person(request.applied_by.as_ref()),
            &convert::requested(&request.proposed_arrangements),
            &parameters.shared_care,
        )
        .map_err(case_status)?
        .clone();
    let event = outgoing(&proto::VariationAppliedFor {
        case_reference: case.reference.clone(),
        application: Some(convert::variation(&case, &application)),
        varies_order_id: varies,
        applicant: Some(convert::party(&case.applicant)),
        respondent: Some(convert::party(&case.respondent)),
    })?;
    Ok(Decision {
        case,
        events: vec![event],
    })
}

impl CaseCommands for Registry {
    type Entry = CourtRequest;
    type Answer = proto::CaseResponse;
    type WorkingSet = WorkingSet<Case>;

    async fn load(
        &self,
        transaction: &mut FeedTransaction,
        references: &[&str],
    ) -> Result<WorkingSet<Case>, Status> {
        WorkingSet::load(transaction.connection().await?, references)
            .await
            .map_err(machinery_failure)
    }

    async fn carry_out(
        &self,
        transaction: &mut FeedTransaction,
        cases: &mut WorkingSet<Case>,
        entry: &CourtRequest,
        context: &CommandContext,
    ) -> Result<proto::CaseResponse, Status> {
        let reference = entry.case_reference();
        let stored = cases.get(reference).cloned();
        let Decision { case, events } = decide(entry, stored, context.date)?;
        let mut event_ids = Vec::with_capacity(events.len());
        for event in events {
            let appended = transaction
                .append_outgoing(reference, context.date, &context.trace, event)
                .await
                .map_err(machinery_failure)?;
            event_ids.push(appended.event_id);
        }
        let answer = proto::CaseResponse {
            case: Some(convert::case(&case)),
            event_ids,
        };
        cases.keep(case);
        Ok(answer)
    }

    async fn read(
        &self,
        _transaction: &mut FeedTransaction,
        cases: &WorkingSet<Case>,
        entry: &CourtRequest,
        _today: Option<NaiveDate>,
    ) -> Result<proto::CaseResponse, Status> {
        let reference = entry.case_reference();
        Ok(view(&existing(cases.get(reference).cloned(), reference)?))
    }

    async fn save(
        &self,
        transaction: &mut FeedTransaction,
        cases: WorkingSet<Case>,
    ) -> Result<(), Status> {
        cases
            .save(transaction.connection().await?)
            .await
            .map_err(machinery_failure)
    }
}

#[tonic::async_trait]
impl CourtRegistry for Registry {
    async fn open_case(
        &self,
        request: Request<proto::OpenCaseRequest>,
    ) -> Result<Response<proto::CaseResponse>, Status> {
        self.one(request, CourtRequest::OpenCase).await
    }

    async fn schedule_hearing(
        &self,
        request: Request<proto::ScheduleHearingRequest>,
    ) -> Result<Response<proto::CaseResponse>, Status> {
        self.one(request, CourtRequest::ScheduleHearing).await
    }

    async fn make_interim_order(
        &self,
        request: Request<proto::MakeOrderRequest>,
    ) -> Result<Response<proto::CaseResponse>, Status> {
        self.one(request, CourtRequest::MakeInterimOrder).await
    }

    async fn make_final_order(
        &self,
        request: Request<proto::MakeOrderRequest>,
    ) -> Result<Response<proto::CaseResponse>, Status> {
        self.one(request, CourtRequest::MakeFinalOrder).await
    }

    async fn apply_to_vary(
        &self,
        request: Request<proto::ApplyToVaryRequest>,
    ) -> Result<Response<proto::CaseResponse>, Status> {
        self.one(request, CourtRequest::ApplyToVary).await
    }

    async fn make_variation_order(
        &self,
        request: Request<proto::MakeOrderRequest>,
    ) -> Result<Response<proto::CaseResponse>, Status> {
        self.one(request, CourtRequest::MakeVariationOrder).await
    }

    async fn close_case(
        &self,
        request: Request<proto::CloseCaseRequest>,
    ) -> Result<Response<proto::CaseResponse>, Status> {
        self.one(request, CourtRequest::CloseCase).await
    }

    async fn attach_review_findings(
        &self,
        request: Request<proto::AttachReviewFindingsRequest>,
    ) -> Result<Response<proto::CaseResponse>, Status> {
        self.one(request, CourtRequest::AttachReviewFindings).await
    }

    async fn get_case(
        &self,
        request: Request<proto::GetCaseRequest>,
    ) -> Result<Response<proto::Case>, Status> {
        let reference = &request.get_ref().case_reference;
        if reference.is_empty() {
            return Err(Status::invalid_argument("case_reference: required"));
        }
        let mut connection = self
            .feed
            .database()
            .pool()
            .acquire()
            .await
            .map_err(machinery_failure)?;
        let cases = WorkingSet::<Case>::load(&mut connection, &[reference.as_str()])
            .await
            .map_err(machinery_failure)?;
        Ok(Response::new(convert::case(&existing(
            cases.get(reference).cloned(),
            reference,
        )?)))
    }

    async fn execute_batch(
        &self,
        request: Request<proto::CourtBatchRequest>,
    ) -> Result<Response<proto::CourtBatchResponse>, Status> {
        use proto::court_batch_outcome::Outcome;
        let call = TraceContext::current().or(TraceContext::from_metadata(request.metadata()));
        let caller = Caller::of(&request)?.clone();
        let sent = request
            .into_inner()
            .entries
            .into_iter()
            .map(|entry| (entry.request, entry.trace))
            .collect();
        let outcomes = self.feed.execute_sent(self, sent, &call, &caller).await?;
        Ok(Response::new(proto::CourtBatchResponse {
            outcomes: outcomes
                .into_iter()
                .map(|outcome| proto::CourtBatchOutcome {
                    outcome: Some(outcome.map_or_else(Outcome::Refusal, Outcome::Answer)),
                })
                .collect(),
        }))
    }
}
