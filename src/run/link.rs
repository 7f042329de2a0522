//! How a family's calls reach an agency — the court registry or the CMS: each call on its own RPC,
//! or gathered with every other family's of the same round into one `ExecuteBatch` call (the
//! default).
//!
//! Families act concurrently within a phase, each waiting for one answer before its next call. The
//! gatherer holds each call until every family still acting is waiting for one, then sends them
//! all in case reference order — a few hundred to a call — and hands each family its own answer.
//! Each call keeps its client request id and its own answer or refusal, and carries the trace
//! context of the family's action; an agency applies a batch in case reference order, so the outcome is the one the
//! per-command path gives, whatever the batch size. What differs between the agencies — their
//! clients, requests and answers — is an [`Agency`]; the gathering is one mechanism.
//!
//! In the in-process floor ([`floor`](super::floor)), a call goes straight to the agency's rules in
//! this process ([`Direct`]): no gRPC, no database.
//!
//! With an answer journal ([`journal`](super::journal)), a call an earlier runner had answered is
//! answered from the journal and never reaches the gatherer or the agency; every other answer is
//! written to the journal before its family has it — a round's answers in one write.

use std::future::Future;
use std::sync::Arc;

use familybridge_proto::BatchEntry;
use familybridge_proto::cms::v1 as cms;
use familybridge_proto::cms::v1::case_service_client::CaseServiceClient;
use familybridge_proto::common::v1 as common;
use familybridge_proto::court::v1 as court;
use familybridge_proto::court::v1::court_registry_client::CourtRegistryClient;
use familybridge_runtime::{TraceContext, TracedChannel};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tonic::{Code, Status};

use crate::run::journal::{self, Call, Journal, Journaled};

/// How the driver's calls reach the court registry and the CMS. The results do not depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Calls {
    /// Each call on its own RPC, with at most `concurrency` families acting at once.
    PerCommand {
        /// Families acting at once within a phase.
        concurrency: usize,
    },
    /// Every family's calls of a round in `ExecuteBatch` calls of at most `batch_size` entries.
    Batched {
        /// Entries in one `ExecuteBatch` call.
        batch_size: usize,
    },
}

/// An agency the driver calls: its client, the requests its batch entries carry, what it answers.
pub trait Agency: Send + Sync + 'static {
    /// The agency's client.
    type Client: Clone + Send + Sync + 'static;
    /// A command or read, as an entry of the agency's batch carries it.
    type Request: BatchEntry + 'static;
    /// What a command or read answers.
    type Answer: Journaled + Send + 'static;
    /// An entry of the agency's `ExecuteBatch`.
    type Entry: Send;
    /// How one entry of a batch went.
    type Outcome: Send;
    /// Who the agency is, for an error.
    const NAME: &'static str;

    /// Sends one call on its own RPC.
    fn alone(
        client: &mut Self::Client,
        request: Self::Request,
    ) -> impl Future<Output = Result<Self::Answer, Status>> + Send;

    /// A request as an entry of a batch, with the trace context its events continue.
    fn entry(request: Self::Request, trace: common::TraceContext) -> Self::Entry;

    /// Sends one `ExecuteBatch` call: each entry's outcome, in order, or the call's failure.
    fn execute_batch(
        client: &mut Self::Client,
        entries: Vec<Self::Entry>,
    ) -> impl Future<Output = Result<Vec<Self::Outcome>, Status>> + Send;

    /// An entry's answer, or its refusal as the status the RPC alone would have answered; `None`
    /// if the outcome holds neither.
    fn answer(outcome: Self::Outcome) -> Option<Result<Self::Answer, Status>>;
}

/// A refusal as a batch outcome carries it, as the status the RPC alone would have answered.
fn refused(refusal: common::Refusal) -> Status {
    Status::new(Code::from(refusal.code), refusal.message)
}

/// One `ExecuteBatch` call of `requests` (each with its trace context): each entry's answer or
/// refusal, in order (an entry left unanswered is a failure), or the call's failure.
pub async fn batch<A: Agency>(
    client: &mut A::Client,
    requests: Vec<(A::Request, common::TraceContext)>,
) -> Result<Vec<Result<A::Answer, Status>>, Status> {
    let sent = requests.len();
    let entries = requests
        .into_iter()
        .map(|(request, trace)| A::entry(request, trace))
        .collect();
    let mut outcomes = A::execute_batch(client, entries).await?.into_iter();
    Ok((0..sent)
        .map(|_| {
            outcomes.next().and_then(A::answer).unwrap_or_else(|| {
                Err(Status::internal(format!(
                    "{} left an entry of the batch unanswered",
                    A::NAME
                )))
            })
        })
        .collect())
}

/// The CMS.
#[derive(Debug)]
pub struct Cms;

impl Agency for Cms {
    type Client = CaseServiceClient<TracedChannel>;
    type Request = cms::case_batch_entry::Request;
    type Answer = cms::CaseResponse;
    type Entry = cms::CaseBatchEntry;
    type Outcome = cms::CaseBatchOutcome;
    const NAME: &'static str = "the CMS";

    async fn alone(
        client: &mut Self::Client,
        request: Self::Request,
    ) -> Result<cms::CaseResponse, Status> {
        use cms::case_batch_entry::Request;
        let answer = match request {
            Request::OpenApplication(request) => client.open_application(request).await,
            Request::NotifyPayingParent(request) => client.notify_paying_parent(request).await,
            Request::MakeCalculation(request) => client.make_calculation(request).await,
            Request::RecordIncome(request) => client.record_income(request).await,
            Request::RecordSharedCare(request) => client.record_shared_care(request).await,
            Request::ReportCourtOrder(request) => client.report_court_order(request).await,
            Request::ReportProceedingsEnded(request) => {
                client.report_proceedings_ended(request).await
            }
            Request::RecordPayment(request) => client.record_payment(request).await,
            Request::ReportMissedDirectPay(request) => {
                client.report_missed_direct_pay(request).await
            }
            Request::CloseCase(request) => client.close_case(request).await,
            Request::RecordContact(request) => client.record_contact(request).await,
            Request::RequestEnforcementPause(request) => {
                client.request_enforcement_pause(request).await
            }
            Request::LiftEnforcementPause(request) => client.lift_enforcement_pause(request).await,
            Request::GetCase(request) => {
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

    fn entry(request: Self::Request, trace: common::TraceContext) -> cms::CaseBatchEntry {
        cms::CaseBatchEntry {
            request: Some(request),
            trace: Some(trace),
        }
    }

    async fn execute_batch(
        client: &mut Self::Client,
        entries: Vec<cms::CaseBatchEntry>,
    ) -> Result<Vec<cms::CaseBatchOutcome>, Status> {
        let request = cms::CaseBatchRequest { entries };
        Ok(client.execute_batch(request).await?.into_inner().outcomes)
    }

    fn answer(outcome: cms::CaseBatchOutcome) -> Option<Result<cms::CaseResponse, Status>> {
        use cms::case_batch_outcome::Outcome;
        match outcome.outcome? {
            Outcome::Answer(answer) => Some(Ok(answer)),
            Outcome::Refusal(refusal) => Some(Err(refused(refusal))),
        }
    }
}

/// The court registry.
#[derive(Debug)]
pub struct Court;

impl Agency for Court {
    type Client = CourtRegistryClient<TracedChannel>;
    type Request = court::court_batch_entry::Request;
    type Answer = court::CaseResponse;
    type Entry = court::CourtBatchEntry;
    type Outcome = court::CourtBatchOutcome;
    const NAME: &'static str = "the court registry";

    async fn alone(
        client: &mut Self::Client,
        request: Self::Request,
    ) -> Result<court::CaseResponse, Status> {
        use court::court_batch_entry::Request;
        let answer = match request {
            Request::OpenCase(request) => client.open_case(request).await,
            Request::ScheduleHearing(request) => client.schedule_hearing(request).await,
            Request::MakeInterimOrder(request) => client.make_interim_order(request).await,
            Request::MakeFinalOrder(request) => client.make_final_order(request).await,
            Request::ApplyToVary(request) => client.apply_to_vary(request).await,
            Request::MakeVariationOrder(request) => client.make_variation_order(request).await,
            Request::CloseCase(request) => client.close_case(request).await,
            Request::AttachReviewFindings(request) => client.attach_review_findings(request).await,
            Request::GetCase(request) => {
                return client
                    .get_case(request)
                    .await
                    .map(|case| court::CaseResponse {
                        case: Some(case.into_inner()),
                        event_ids: Vec::new(),
                    });
            }
        };
        answer.map(tonic::Response::into_inner)
    }

    fn entry(request: Self::Request, trace: common::TraceContext) -> court::CourtBatchEntry {
        court::CourtBatchEntry {
            request: Some(request),
            trace: Some(trace),
        }
    }

    async fn execute_batch(
        client: &mut Self::Client,
        entries: Vec<court::CourtBatchEntry>,
    ) -> Result<Vec<court::CourtBatchOutcome>, Status> {
        let request = court::CourtBatchRequest { entries };
        Ok(client.execute_batch(request).await?.into_inner().outcomes)
    }

    fn answer(outcome: court::CourtBatchOutcome) -> Option<Result<court::CaseResponse, Status>> {
        use court::court_batch_outcome::Outcome;
        match outcome.outcome? {
            Outcome::Answer(answer) => Some(Ok(answer)),
            Outcome::Refusal(refusal) => Some(Err(refused(refusal))),
        }
    }
}

/// An agency's rules called in this process, without gRPC or a database: the in-process floor's
/// agencies.
pub trait Direct<A: Agency>: Send + Sync {
    /// What the agency answers to `request`, as its RPC would.
    fn answer(&self, request: A::Request) -> Result<A::Answer, Status>;
}

/// A family's way to an agency for one phase.
pub struct Link<A: Agency> {
    way: Way<A>,
    /// The run's answer journal, if it keeps one.
    journal: Option<Arc<Journal>>,
}

impl<A: Agency> Clone for Link<A> {
    fn clone(&self) -> Self {
        Self {
            way: self.way.clone(),
            journal: self.journal.clone(),
        }
    }
}

/// How a call reaches the agency.
enum Way<A: Agency> {
    /// Straight to the RPC of each call.
    PerCommand(A::Client),
    /// Through the phase's gatherer.
    Batched(mpsc::UnboundedSender<ToGatherer<A>>),
    /// Straight to the agency's rules in this process.
    Direct(Arc<dyn Direct<A>>),
}

impl<A: Agency> Clone for Way<A> {
    fn clone(&self) -> Self {
        match self {
            Way::PerCommand(client) => Way::PerCommand(client.clone()),
            Way::Batched(gatherer) => Way::Batched(gatherer.clone()),
            Way::Direct(agency) => Way::Direct(Arc::clone(agency)),
        }
    }
}

/// What the gatherer hands a family: the agency's answer, or why the runner could not keep it (the
/// journal could not be written).
type Reply<A> = Result<Result<<A as Agency>::Answer, Status>, String>;

/// What a family tells the gatherer.
enum ToGatherer<A: Agency> {
    /// A call with its trace context, its key in the journal, and where its answer goes.
    Call(
        A::Request,
        common::TraceContext,
        Call,
        oneshot::Sender<Reply<A>>,
    ),
    /// The family is done for the phase: it will make no more calls.
    Left,
}

/// Held by a family's task for the phase: tells the gatherer the family has left when dropped,
/// however the task ends.
pub struct Membership<A: Agency>(Option<mpsc::UnboundedSender<ToGatherer<A>>>);

impl<A: Agency> Drop for Membership<A> {
    fn drop(&mut self) {
        if let Some(gatherer) = self.0.take() {
            // A gatherer that has gone has nobody left to wait for.
            let _ = gatherer.send(ToGatherer::Left);
        }
    }
}

impl<A: Agency> Link<A> {
    /// Each call on its own RPC, its answer journaled in `journal` if there is one.
    pub fn per_command(client: A::Client, journal: Option<Arc<Journal>>) -> Self {
        Self {
            way: Way::PerCommand(client),
            journal,
        }
    }

    /// Each call straight to the agency's rules in this process (no journal: nothing crosses a
    /// process boundary).
    pub fn direct(agency: Arc<dyn Direct<A>>) -> Self {
        Self {
            way: Way::Direct(agency),
            journal: None,
        }
    }

    /// The membership a family's task holds while it may call through this link.
    pub fn membership(&self) -> Membership<A> {
        match &self.way {
            Way::PerCommand(_) | Way::Direct(_) => Membership(None),
            Way::Batched(gatherer) => Membership(Some(gatherer.clone())),
        }
    }

    /// Sends one command or read, the family's call `call`; answers with what the agency answered
    /// (a read's answer holds the case and no event ids), or had answered an earlier runner of the
    /// run. Fails only if the journal cannot be read or written.
    pub async fn send(
        &self,
        call: Call,
        request: A::Request,
    ) -> anyhow::Result<Result<A::Answer, Status>> {
        match &self.way {
            Way::Direct(agency) => Ok(agency.answer(request)),
            Way::PerCommand(client) => {
                let ask = async { A::alone(&mut client.clone(), request).await };
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
                let trace = TraceContext::current().into();
                if gatherer
                    .send(ToGatherer::Call(request, trace, call, reply))
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

/// Starts the gatherer of a phase in which `members` families act, journaling its answers in
/// `journal` if there is one; returns the link they call through (each family's task holds its
/// [`membership`](Link::membership)) and the gatherer's task, which ends when every family has
/// left.
pub fn gather<A: Agency>(
    client: A::Client,
    members: usize,
    batch_size: usize,
    journal: Option<Arc<Journal>>,
) -> (Link<A>, JoinHandle<()>) {
    let (link, inbox) = mpsc::unbounded_channel();
    let task = tokio::spawn(run_gatherer::<A>(
        client,
        inbox,
        members,
        batch_size.max(1),
        journal.clone(),
    ));
    let link = Link {
        way: Way::Batched(link),
        journal,
    };
    (link, task)
}

/// A call of a round waiting to be sent.
type Waiting<A> = (
    <A as Agency>::Request,
    common::TraceContext,
    Call,
    oneshot::Sender<Reply<A>>,
);

/// A call of a round and, once the agency has answered, its answer.
type Answered<A> = (
    Call,
    oneshot::Sender<Reply<A>>,
    Result<<A as Agency>::Answer, Status>,
);

async fn run_gatherer<A: Agency>(
    mut client: A::Client,
    mut inbox: mpsc::UnboundedReceiver<ToGatherer<A>>,
    mut members: usize,
    batch_size: usize,
    journal: Option<Arc<Journal>>,
) {
    let mut waiting: Vec<Waiting<A>> = Vec::new();
    while members > 0 {
        match inbox.recv().await {
            None => break,
            Some(ToGatherer::Call(request, trace, call, reply)) => {
                waiting.push((request, trace, call, reply));
            }
            Some(ToGatherer::Left) => members -= 1,
        }
        // Every family still acting waits for an answer: nothing more comes until they have one.
        if !waiting.is_empty() && waiting.len() >= members {
            // In case reference order (stable: a family's calls keep theirs), so that each batch
            // is a run of neighbouring cases rather than a sample of all of them: its rows, and
            // the entries of every index keyed by case, then sit on a few pages of the agency's
            // tables instead of on nearly every page, and each transaction writes only those.
            waiting.sort_by(|(a, ..), (b, ..)| a.case_reference().cmp(b.case_reference()));
            let mut round = Vec::new();
            while !waiting.is_empty() {
                let rest = waiting.split_off(batch_size.min(waiting.len()));
                round.extend(
                    send_batch::<A>(&mut client, std::mem::replace(&mut waiting, rest)).await,
                );
                if journal.is_none() {
                    // Nothing to write first: each batch's families go on at once.
                    hand_out::<A>(round.drain(..), &Ok(()));
                }
            }
            if let Some(journal) = &journal {
                let written = journal
                    .write(round.iter().map(|(call, _, answer)| (*call, answer)))
                    .map_err(|error| format!("{error:#}"));
                hand_out::<A>(round, &written);
            }
        }
    }
}

/// Gives each family of `answered` its answer, once `written` says the journal holds it.
fn hand_out<A: Agency>(
    answered: impl IntoIterator<Item = Answered<A>>,
    written: &Result<(), String>,
) {
    for (_, reply, answer) in answered {
        // A family that stopped waiting has no use for its answer.
        let _ = reply.send(written.clone().map(|()| answer));
    }
}

/// One `ExecuteBatch` call; answers each call with its entry's answer (or the call's failure).
async fn send_batch<A: Agency>(client: &mut A::Client, calls: Vec<Waiting<A>>) -> Vec<Answered<A>> {
    let mut entries = Vec::with_capacity(calls.len());
    let mut callers = Vec::with_capacity(calls.len());
    for (request, trace, call, reply) in calls {
        entries.push((request, trace));
        callers.push((call, reply));
    }
    match batch::<A>(client, entries).await {
        Ok(answers) => callers
            .into_iter()
            .zip(answers)
            .map(|((call, reply), answer)| (call, reply, answer))
            .collect(),
        Err(status) => callers
            .into_iter()
            .map(|(call, reply)| (call, reply, Err(status.clone())))
            .collect(),
    }
}
