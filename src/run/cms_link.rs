//! How a family's dealings reach the CMS: each call on its own RPC, or gathered with every other
//! family's of the same round into one `ExecuteBatch` call (the default).
//!
//! Families act concurrently within a phase, each waiting for one answer before its next call. The
//! gatherer holds each call until every family still acting is waiting for one, then sends them
//! all — a few hundred to a call — and hands each family its own answer. Each call keeps its
//! client request id and its own answer or refusal, and carries the trace context of the family's
//! action; the CMS applies a batch in case reference order, so the outcome is the one the
//! per-command path gives, whatever the batch size.

use familybridge_proto::cms::v1 as cms;
use familybridge_proto::cms::v1::case_batch_entry::Request as CaseRequest;
use familybridge_proto::cms::v1::case_batch_outcome::Outcome;
use familybridge_proto::cms::v1::case_service_client::CaseServiceClient;
use familybridge_runtime::{TraceContext, TracedChannel};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tonic::{Code, Status};

/// How the driver's calls reach the CMS. The results do not depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmsCalls {
    /// Each call on its own RPC, with at most `concurrency` families acting at once.
    PerCommand {
        /// Families acting at once within a step.
        concurrency: usize,
    },
    /// Every family's calls of a round in `ExecuteBatch` calls of at most `batch_size` entries.
    Batched {
        /// Entries in one `ExecuteBatch` call.
        batch_size: usize,
    },
}

/// A family's way to the CMS for one phase.
#[derive(Debug, Clone)]
pub enum CmsLink {
    /// Straight to the RPC of each call.
    PerCommand(CaseServiceClient<TracedChannel>),
    /// Through the phase's gatherer.
    Batched(mpsc::UnboundedSender<ToGatherer>),
}

/// What a family tells the gatherer.
#[derive(Debug)]
pub enum ToGatherer {
    /// A call, and where its answer goes.
    Call(
        Box<cms::CaseBatchEntry>,
        oneshot::Sender<Result<cms::CaseResponse, Status>>,
    ),
    /// The family is done for the phase: it will make no more calls.
    Left,
}

/// Held by a family's task for the phase: tells the gatherer the family has left when dropped,
/// however the task ends.
#[derive(Debug)]
pub struct Membership(Option<mpsc::UnboundedSender<ToGatherer>>);

impl Drop for Membership {
    fn drop(&mut self) {
        if let Some(gatherer) = self.0.take() {
            // A gatherer that has gone has nobody left to wait for.
            let _ = gatherer.send(ToGatherer::Left);
        }
    }
}

impl CmsLink {
    /// The membership a family's task holds while it may call through this link.
    pub fn membership(&self) -> Membership {
        match self {
            CmsLink::PerCommand(_) => Membership(None),
            CmsLink::Batched(gatherer) => Membership(Some(gatherer.clone())),
        }
    }

    /// Sends one command or read; answers with what the CMS answered (a read's answer holds the
    /// case and no event ids).
    pub async fn send(&self, request: CaseRequest) -> Result<cms::CaseResponse, Status> {
        match self {
            CmsLink::PerCommand(client) => alone(&mut client.clone(), request).await,
            CmsLink::Batched(gatherer) => {
                let (reply, answer) = oneshot::channel();
                let entry = cms::CaseBatchEntry {
                    request: Some(request),
                    trace: Some(TraceContext::current().into()),
                };
                gatherer
                    .send(ToGatherer::Call(Box::new(entry), reply))
                    .map_err(|_| Status::cancelled("the driver's gatherer stopped"))?;
                answer
                    .await
                    .map_err(|_| Status::cancelled("the driver's gatherer stopped"))?
            }
        }
    }
}

/// One call on its own RPC.
async fn alone(
    client: &mut CaseServiceClient<TracedChannel>,
    request: CaseRequest,
) -> Result<cms::CaseResponse, Status> {
    let answer = match request {
        CaseRequest::OpenApplication(request) => client.open_application(request).await,
        CaseRequest::NotifyPayingParent(request) => client.notify_paying_parent(request).await,
        CaseRequest::MakeCalculation(request) => client.make_calculation(request).await,
        CaseRequest::RecordIncome(request) => client.record_income(request).await,
        CaseRequest::RecordSharedCare(request) => client.record_shared_care(request).await,
        CaseRequest::ReportCourtOrder(request) => client.report_court_order(request).await,
        CaseRequest::ReportProceedingsEnded(request) => {
            client.report_proceedings_ended(request).await
        }
        CaseRequest::RecordPayment(request) => client.record_payment(request).await,
        CaseRequest::ReportMissedDirectPay(request) => {
            client.report_missed_direct_pay(request).await
        }
        CaseRequest::CloseCase(request) => client.close_case(request).await,
        CaseRequest::RecordContact(request) => client.record_contact(request).await,
        CaseRequest::RequestEnforcementPause(request) => {
            client.request_enforcement_pause(request).await
        }
        CaseRequest::LiftEnforcementPause(request) => client.lift_enforcement_pause(request).await,
        CaseRequest::GetCase(request) => {
            return client
                .get_case(request)
                .await
                .map(|case| cms::CaseResponse {
                    case: Some(case.into_inner()),
                    event_ids: Vec::new(),
                });
        }
    };
    answer.map(tonic::Response::into_inner)
}

/// Starts the gatherer of a phase in which `members` families act; returns the link they call
/// through (each family's task holds its [`membership`](CmsLink::membership)) and the gatherer's
/// task, which ends when every family has left.
pub fn gather(
    client: CaseServiceClient<TracedChannel>,
    members: usize,
    batch_size: usize,
) -> (CmsLink, JoinHandle<()>) {
    let (link, inbox) = mpsc::unbounded_channel();
    let task = tokio::spawn(run_gatherer(client, inbox, members, batch_size.max(1)));
    (CmsLink::Batched(link), task)
}

async fn run_gatherer(
    mut client: CaseServiceClient<TracedChannel>,
    mut inbox: mpsc::UnboundedReceiver<ToGatherer>,
    mut members: usize,
    batch_size: usize,
) {
    let mut waiting = Vec::new();
    while members > 0 {
        match inbox.recv().await {
            None => break,
            Some(ToGatherer::Call(entry, reply)) => waiting.push((*entry, reply)),
            Some(ToGatherer::Left) => members -= 1,
        }
        // Every family still acting waits for an answer: nothing more comes until they have one.
        if !waiting.is_empty() && waiting.len() >= members {
            while !waiting.is_empty() {
                let rest = waiting.split_off(batch_size.min(waiting.len()));
                send_batch(&mut client, std::mem::replace(&mut waiting, rest)).await;
            }
        }
    }
}

/// One `ExecuteBatch` call; each caller gets its entry's answer (or the call's failure).
async fn send_batch(
    client: &mut CaseServiceClient<TracedChannel>,
    calls: Vec<(
        cms::CaseBatchEntry,
        oneshot::Sender<Result<cms::CaseResponse, Status>>,
    )>,
) {
    let (entries, replies): (Vec<_>, Vec<_>) = calls.into_iter().unzip();
    match client
        .execute_batch(cms::CaseBatchRequest { entries })
        .await
    {
        Ok(response) => {
            let mut outcomes = response.into_inner().outcomes.into_iter();
            for reply in replies {
                let answer = match outcomes.next().and_then(|outcome| outcome.outcome) {
                    Some(Outcome::Answer(answer)) => Ok(answer),
                    Some(Outcome::Refusal(refusal)) => {
                        Err(Status::new(Code::from(refusal.code), refusal.message))
                    }
                    None => Err(Status::internal(
                        "the CMS left an entry of the batch unanswered",
                    )),
                };
                // A family that stopped waiting has no use for its answer.
                let _ = reply.send(answer);
            }
        }
        Err(status) => {
            for reply in replies {
                let _ = reply.send(Err(status.clone()));
            }
        }
    }
}
