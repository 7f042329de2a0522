//! `familybridge.court.v1.CourtRegistry`: the registry's commands and query over gRPC.
//!
//! Every command runs as an idempotent command of the registry's event feed, under the case's lock
//! (`Feed::begin_command`): a retry is answered as before and changes nothing; otherwise the case
//! rules decide, and the changed case, the events it causes and the answer are written together. So an event is published if and only if its change happened, and a final order can
//! never be published before the interim order it replaces.

use std::future::Future;

use chrono::NaiveDate;
use familybridge_calculation::ParameterBook;
use familybridge_feed::{
    Begun, CaseCommand, Feed, FeedError, FeedTransaction, TraceContext, internal_error, parse_date,
};
use familybridge_proto::CommandRequest;
use familybridge_proto::court::v1 as proto;
use familybridge_proto::court::v1::court_registry_server::CourtRegistry;
use tonic::{Request, Response, Status};

use crate::case::{Case, CaseError, OrderKind};
use crate::convert::{self, person};
use crate::store;

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

/// One event the registry publishes.
enum CourtEvent {
    CaseOpened(proto::CaseOpened),
    InterimOrderMade(proto::InterimOrderMade),
    FinalOrderMade(proto::FinalOrderMade),
    SharedCareDetermined(proto::SharedCareDetermined),
    VariationAppliedFor(proto::VariationAppliedFor),
    VariationOrderMade(proto::VariationOrderMade),
    CaseClosed(proto::CaseClosed),
}

impl CourtEvent {
    async fn append(
        &self,
        transaction: &mut FeedTransaction,
        stream: &str,
        date: NaiveDate,
        trace: &TraceContext,
    ) -> Result<String, FeedError> {
        let appended = match self {
            CourtEvent::CaseOpened(event) => transaction.append(stream, date, trace, event).await,
            CourtEvent::InterimOrderMade(event) => {
                transaction.append(stream, date, trace, event).await
            }
            CourtEvent::FinalOrderMade(event) => {
                transaction.append(stream, date, trace, event).await
            }
            CourtEvent::SharedCareDetermined(event) => {
                transaction.append(stream, date, trace, event).await
            }
            CourtEvent::VariationAppliedFor(event) => {
                transaction.append(stream, date, trace, event).await
            }
            CourtEvent::VariationOrderMade(event) => {
                transaction.append(stream, date, trace, event).await
            }
            CourtEvent::CaseClosed(event) => transaction.append(stream, date, trace, event).await,
        }?;
        Ok(appended.event_id)
    }
}

/// What a command decided: the case as it now is, and what to publish.
struct Decision {
    case: Case,
    events: Vec<CourtEvent>,
}

fn case_status(error: CaseError) -> Status {
    match error {
        CaseError::Invalid { .. } => Status::invalid_argument(error.to_string()),
        CaseError::NotNow { .. } => Status::failed_precondition(error.to_string()),
    }
}

/// The case a command is about, which must exist.
fn existing(case: Option<Case>, reference: &str) -> Result<Case, Status> {
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
) -> Vec<CourtEvent> {
    let arrangements = convert::arrangements(&order.arrangements);
    let order_kind = convert::order_kind(order.kind);
    let reference = case.reference.clone();
    let narrative = case.safeguarding_narrative.clone();
    let first = match order.kind {
        OrderKind::Interim => CourtEvent::InterimOrderMade(proto::InterimOrderMade {
            case_reference: reference.clone(),
            order_id: order.order_id.clone(),
            order_kind: order_kind.into(),
            arrangements: arrangements.clone(),
            safeguarding_narrative: narrative,
        }),
        OrderKind::Final => CourtEvent::FinalOrderMade(proto::FinalOrderMade {
            case_reference: reference.clone(),
            order_id: order.order_id.clone(),
            order_kind: order_kind.into(),
            arrangements: arrangements.clone(),
            replaces_order_id: replaced.unwrap_or_default(),
            safeguarding_narrative: narrative,
        }),
        OrderKind::Variation => CourtEvent::VariationOrderMade(proto::VariationOrderMade {
            case_reference: reference.clone(),
            order_id: order.order_id.clone(),
            order_kind: order_kind.into(),
            arrangements: arrangements.clone(),
            varies_order_id: replaced.unwrap_or_default(),
            safeguarding_narrative: narrative,
        }),
    };
    let care = CourtEvent::SharedCareDetermined(proto::SharedCareDetermined {
        case_reference: reference,
        order_id: order.order_id.clone(),
        order_kind: order_kind.into(),
        is_final: order.kind != OrderKind::Interim,
        applicant: Some(convert::party(&case.applicant)),
        respondent: Some(convert::party(&case.respondent)),
        arrangements,
    });
    vec![first, care]
}

impl Registry {
    /// Runs one command: see the module documentation for the order of things.
    async fn execute<R, D>(
        &self,
        command: &'static str,
        request: Request<R>,
        decide: D,
    ) -> Result<Response<proto::CaseResponse>, Status>
    where
        R: CommandRequest,
        D: FnOnce(&R, Option<Case>, NaiveDate) -> Result<Decision, Status>,
    {
        let CaseCommand {
            request,
            date,
            trace,
            begun,
            ..
        } = self.feed.begin_case_command(command, request).await?;
        let mut command = match begun {
            Begun::Answered(answer) => return Ok(Response::new(answer)),
            Begun::New(command) => command,
        };
        let reference = request.case_reference();
        let transaction = command.transaction();
        let stored = store::load(transaction.connection(), reference)
            .await
            .map_err(internal_error)?;
        let decision = decide(&request, stored, date)?;
        store::save(transaction.connection(), &decision.case)
            .await
            .map_err(internal_error)?;
        let mut event_ids = Vec::with_capacity(decision.events.len());
        for event in &decision.events {
            event_ids.push(
                event
                    .append(transaction, reference, date, &trace)
                    .await
                    .map_err(internal_error)?,
            );
        }
        let response = proto::CaseResponse {
            case: Some(convert::case(&decision.case)),
            event_ids,
        };
        command.finish(&response).await?;
        Ok(Response::new(response))
    }

    /// Makes an order of `kind` through [`Registry::execute`].
    fn order(
        &self,
        command: &'static str,
        kind: OrderKind,
        request: Request<proto::MakeOrderRequest>,
    ) -> impl Future<Output = Result<Response<proto::CaseResponse>, Status>> + Send + '_ {
        self.execute(command, request, move |request, stored, date| {
            let mut case = existing(stored, &request.case_reference)?;
            let replaced = case.in_force().map(|order| order.order_id.clone());
            let order = case
                .make_order(kind, date, &convert::requested(&request.arrangements))
                .map_err(case_status)?;
            // A final order replaces the interim order in force, if any; a variation order
            // varies the order in force; an interim order replaces nothing.
            let replaced = if kind == OrderKind::Interim {
                None
            } else {
                replaced
            };
            let events = order_events(&case, &order, replaced);
            Ok(Decision { case, events })
        })
    }
}

#[tonic::async_trait]
impl CourtRegistry for Registry {
    async fn open_case(
        &self,
        request: Request<proto::OpenCaseRequest>,
    ) -> Result<Response<proto::CaseResponse>, Status> {
        self.execute("OpenCase", request, |request, stored, date| {
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
            let event = CourtEvent::CaseOpened(proto::CaseOpened {
                case_reference: case.reference.clone(),
                applicant: Some(convert::party(&case.applicant)),
                respondent: Some(convert::party(&case.respondent)),
                child_refs: case.children.clone(),
                welfare_flags: Some(convert::welfare_flags(case.welfare)),
                safeguarding_narrative: case.safeguarding_narrative.clone(),
            });
            Ok(Decision {
                case,
                events: vec![event],
            })
        })
        .await
    }

    async fn schedule_hearing(
        &self,
        request: Request<proto::ScheduleHearingRequest>,
    ) -> Result<Response<proto::CaseResponse>, Status> {
        self.execute("ScheduleHearing", request, |request, stored, date| {
            let mut case = existing(stored, &request.case_reference)?;
            let hearing_date = parse_date("hearing_date", &request.hearing_date)?;
            let kind = convert::hearing_kind(request.kind()).map_err(case_status)?;
            case.schedule_hearing(date, hearing_date, kind)
                .map_err(case_status)?;
            Ok(Decision {
                case,
                events: Vec::new(),
            })
        })
        .await
    }

    async fn make_interim_order(
        &self,
        request: Request<proto::MakeOrderRequest>,
    ) -> Result<Response<proto::CaseResponse>, Status> {
        self.order("MakeInterimOrder", OrderKind::Interim, request)
            .await
    }

    async fn make_final_order(
        &self,
        request: Request<proto::MakeOrderRequest>,
    ) -> Result<Response<proto::CaseResponse>, Status> {
        self.order("MakeFinalOrder", OrderKind::Final, request)
            .await
    }

    async fn apply_to_vary(
        &self,
        request: Request<proto::ApplyToVaryRequest>,
    ) -> Result<Response<proto::CaseResponse>, Status> {
        self.execute("ApplyToVary", request, |request, stored, date| {
            let mut case = existing(stored, &request.case_reference)?;
            // The bands of the CMS calculation in force on the application's date decide
            // whether the proposal changes a child's shared-care band.
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
            let event = CourtEvent::VariationAppliedFor(proto::VariationAppliedFor {
                case_reference: case.reference.clone(),
                application: Some(convert::variation(&case, &application)),
                varies_order_id: varies,
                applicant: Some(convert::party(&case.applicant)),
                respondent: Some(convert::party(&case.respondent)),
            });
            Ok(Decision {
                case,
                events: vec![event],
            })
        })
        .await
    }

    async fn make_variation_order(
        &self,
        request: Request<proto::MakeOrderRequest>,
    ) -> Result<Response<proto::CaseResponse>, Status> {
        self.order("MakeVariationOrder", OrderKind::Variation, request)
            .await
    }

    async fn close_case(
        &self,
        request: Request<proto::CloseCaseRequest>,
    ) -> Result<Response<proto::CaseResponse>, Status> {
        self.execute("CloseCase", request, |request, stored, date| {
            let mut case = existing(stored, &request.case_reference)?;
            let reason = convert::closure_reason(request.reason()).map_err(case_status)?;
            let final_order_stands = case.close(date, reason).map_err(case_status)?;
            let event = CourtEvent::CaseClosed(proto::CaseClosed {
                case_reference: case.reference.clone(),
                reason: request.reason,
                final_order_stands,
            });
            Ok(Decision {
                case,
                events: vec![event],
            })
        })
        .await
    }

    async fn attach_review_findings(
        &self,
        request: Request<proto::AttachReviewFindingsRequest>,
    ) -> Result<Response<proto::CaseResponse>, Status> {
        self.execute("AttachReviewFindings", request, |request, stored, date| {
            let mut case = existing(stored, &request.case_reference)?;
            let findings = convert::requested_findings(request.findings.as_ref(), date)
                .map_err(case_status)?;
            case.attach_review_findings(findings).map_err(case_status)?;
            Ok(Decision {
                case,
                events: Vec::new(),
            })
        })
        .await
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
            .map_err(internal_error)?;
        let case = store::load(&mut connection, reference)
            .await
            .map_err(internal_error)?;
        Ok(Response::new(convert::case(&existing(case, reference)?)))
    }
}
