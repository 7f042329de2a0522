//! How a family's dealings reach the CMS: each call on its own RPC, or gathered with every other
//! family's of the same round into one `ExecuteBatch` call (the default).
//!
//! Families act concurrently within a phase, each waiting for one answer before its next call. The
//! gatherer holds each call until every family still acting is waiting for one, then sends them
//! all — a few hundred to a call — and hands each family its own answer. Each call keeps its
//! client request id and its own answer or refusal, and carries the trace context of the family's
//! action; the CMS applies a batch in case reference order, so the outcome is the one the
//! per-command path gives, whatever the batch size.
//!
//! With an answer journal ([`journal`](super::journal)), a call an earlier runner had answered is
//! answered from the journal and never reaches the gatherer or the CMS; every other answer is
//! written to the journal before its family has it — a round's answers in one write.

use std::sync::Arc;

use familybridge_proto::cms::v1 as cms;
use familybridge_proto::cms::v1::case_batch_entry::Request as CaseRequest;
use familybridge_proto::cms::v1::case_batch_outcome::Outcome;
use familybridge_proto::cms::v1::case_service_client::CaseServiceClient;
use familybridge_runtime::{TraceContext, TracedChannel};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tonic::{Code, Status};

use crate::run::journal::{self, Call, Journal};

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
pub struct CmsLink {
    way: Way,
    /// The run's answer journal, if it keeps one.
    journal: Option<Arc<Journal>>,
}

/// How a call reaches the CMS.
#[derive(Debug, Clone)]
enum Way {
    /// Straight to the RPC of each call.
    PerCommand(CaseServiceClient<TracedChannel>),
    /// Through the phase's gatherer.
    Batched(mpsc::UnboundedSender<ToGatherer>),
}

/// What the gatherer hands a family: the CMS's answer, or why the runner could not keep it (the
/// journal could not be written).
type Reply = Result<Result<cms::CaseResponse, Status>, String>;

/// What a family tells the gatherer.
#[derive(Debug)]
pub enum ToGatherer {
    /// A call, its key in the journal, and where its answer goes.
    Call(Box<cms::CaseBatchEntry>, Call, oneshot::Sender<Reply>),
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
    /// Each call on its own RPC, its answer journaled in `journal` if there is one.
    pub fn per_command(
        client: CaseServiceClient<TracedChannel>,
        journal: Option<Arc<Journal>>,
    ) -> Self {
        Self {
            way: Way::PerCommand(client),
            journal,
        }
    }

    /// The membership a family's task holds while it may call through this link.
    pub fn membership(&self) -> Membership {
        match &self.way {
            Way::PerCommand(_) => Membership(None),
            Way::Batched(gatherer) => Membership(Some(gatherer.clone())),
        }
    }

    /// Sends one command or read, the family's call `call`; answers with what the CMS answered (a
    /// read's answer holds the case and no event ids), or had answered an earlier runner of the
    /// run. Fails only if the journal cannot be read or written.
    pub async fn send(
        &self,
        call: Call,
        request: CaseRequest,
    ) -> anyhow::Result<Result<cms::CaseResponse, Status>> {
        match &self.way {
            Way::PerCommand(client) => {
                let ask = async { alone(&mut client.clone(), request).await };
                journal::answer(self.journal.as_deref(), call, ask).await
            }
            Way::Batched(gatherer) => {
                if let Some(journal) = &self.journal
                    && let Some(earlier) = journal.earlier(call)?
                {
                    return Ok(earlier);
                }
                let stopped = || Ok(Err(Status::cancelled("the driver's gatherer stopped")));
                let (reply, answer) = oneshot::channel();
                let entry = cms::CaseBatchEntry {
                    request: Some(request),
                    trace: Some(TraceContext::current().into()),
                };
                if gatherer
                    .send(ToGatherer::Call(Box::new(entry), call, reply))
                    .is_err()
                {
                    return stopped();
                }
                match answer.await {
                    Ok(reply) => reply.map_err(anyhow::Error::msg),
                    Err(_) => stopped(),
                }
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

/// Starts the gatherer of a phase in which `members` families act, journaling its answers in
/// `journal` if there is one; returns the link they call through (each family's task holds its
/// [`membership`](CmsLink::membership)) and the gatherer's task, which ends when every family has
/// left.
pub fn gather(
    client: CaseServiceClient<TracedChannel>,
    members: usize,
    batch_size: usize,
    journal: Option<Arc<Journal>>,
) -> (CmsLink, JoinHandle<()>) {
    let (link, inbox) = mpsc::unbounded_channel();
    let task = tokio::spawn(run_gatherer(
        client,
        inbox,
        members,
        batch_size.max(1),
        journal.clone(),
    ));
    let link = CmsLink {
        way: Way::Batched(link),
        journal,
    };
    (link, task)
}

/// A call of a round and, once the CMS has answered, its answer.
type Answered = (
    Call,
    oneshot::Sender<Reply>,
    Result<cms::CaseResponse, Status>,
);

async fn run_gatherer(
    mut client: CaseServiceClient<TracedChannel>,
    mut inbox: mpsc::UnboundedReceiver<ToGatherer>,
    mut members: usize,
    batch_size: usize,
    journal: Option<Arc<Journal>>,
) {
    let mut waiting = Vec::new();
    while members > 0 {
        match inbox.recv().await {
            None => break,
            Some(ToGatherer::Call(entry, call, reply)) => waiting.push((*entry, call, reply)),
            Some(ToGatherer::Left) => members -= 1,
        }
        // Every family still acting waits for an answer: nothing more comes until they have one.
        if !waiting.is_empty() && waiting.len() >= members {
            let mut round = Vec::new();
            while !waiting.is_empty() {
                let rest = waiting.split_off(batch_size.min(waiting.len()));
                round.extend(send_batch(&mut client, std::mem::replace(&mut waiting, rest)).await);
                if journal.is_none() {
                    // Nothing to write first: each batch's families go on at once.
                    hand_out(round.drain(..), &Ok(()));
                }
            }
            if let Some(journal) = &journal {
                let written = journal
                    .write(round.iter().map(|(call, _, answer)| (*call, answer)))
                    .map_err(|error| format!("{error:#}"));
                hand_out(round, &written);
            }
        }
    }
}

/// Gives each family of `answered` its answer, once `written` says the journal holds it.
fn hand_out(answered: impl IntoIterator<Item = Answered>, written: &Result<(), String>) {
    for (_, reply, answer) in answered {
        // A family that stopped waiting has no use for its answer.
        let _ = reply.send(written.clone().map(|()| answer));
    }
}

/// One `ExecuteBatch` call; answers each call with its entry's answer (or the call's failure).
async fn send_batch(
    client: &mut CaseServiceClient<TracedChannel>,
    calls: Vec<(cms::CaseBatchEntry, Call, oneshot::Sender<Reply>)>,
) -> Vec<Answered> {
    let mut entries = Vec::with_capacity(calls.len());
    let mut callers = Vec::with_capacity(calls.len());
    for (entry, call, reply) in calls {
        entries.push(entry);
        callers.push((call, reply));
    }
    match client
        .execute_batch(cms::CaseBatchRequest { entries })
        .await
    {
        Ok(response) => {
            let mut outcomes = response.into_inner().outcomes.into_iter();
            callers
                .into_iter()
                .map(|(call, reply)| {
                    let answer = match outcomes.next().and_then(|outcome| outcome.outcome) {
                        Some(Outcome::Answer(answer)) => Ok(answer),
                        Some(Outcome::Refusal(refusal)) => {
                            Err(Status::new(Code::from(refusal.code), refusal.message))
                        }
                        None => Err(Status::internal(
                            "the CMS left an entry of the batch unanswered",
                        )),
                    };
                    (call, reply, answer)
                })
                .collect()
        }
        Err(status) => callers
            .into_iter()
            .map(|(call, reply)| (call, reply, Err(status.clone())))
            .collect(),
    }
}
