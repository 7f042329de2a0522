//! Idempotent case commands in a feed transaction: the one way every agency carries out a command.
//!
//! A service says how its commands and reads are carried out ([`CaseCommands`]); the feed carries
//! out a batch of them ([`Feed::execute_batch`]) — or a batch of one, which is what every
//! single-command RPC is ([`Feed::execute_one`]). Each entry's fields are checked first (naming the
//! field at fault); then the batch runs in one transaction of the agency's feed, under the locks
//! of every case it touches, in case reference order (entries about one case in the order given),
//! so the outcome does not depend on the order families happened to be sent in. A command's client
//! request id is looked up first: a retry is answered exactly as the first call was and changes
//! nothing. Otherwise the service does its work in the transaction — reads, writes, appended
//! events — and the answer is recorded beside it, so the change, its events and the record of the
//! answer stand or fall together. A refusal (a rule said no, a field is wrong) undoes that entry
//! only (a savepoint); a failure of the agency's own machinery undoes the whole batch.
//!
//! A batch costs a few statements, not a few per command: the service loads every case the batch
//! is about at once into a working set ([`CaseCommands::load`]), its commands change the cases in
//! memory, and the changed ones are written together at the end ([`CaseCommands::save`]), as the
//! idempotency records and the events are.
//!
//! Errors come back as gRPC statuses, because every caller is a gRPC handler: a missing or reused
//! request id is `INVALID_ARGUMENT` naming `client_request_id`; storage failures are `INTERNAL`; a
//! peer's feed out of reach is `UNAVAILABLE` (`From<FeedError> for Status`).

use std::future::Future;

use chrono::NaiveDate;
use familybridge_proto::common::v1 as proto;
use familybridge_proto::{BatchEntry, validate};
use familybridge_runtime::{Caller, machinery_failure};
use familybridge_storage::SimulatedClock;
use familybridge_storage::idempotency::{CommandKey, IdempotencyError, Ledger};
use prost::Message;
use tonic::{Code, Status};

use crate::{Feed, FeedError, FeedTransaction, TraceContext};

/// The most entries one batch may carry: a simulation step sends a few hundred at a time, and a
/// bound keeps one call's transaction (and answer) a size the services can hold.
pub const MAX_BATCH_ENTRIES: usize = 4096;

/// The longest trace context a batch entry may carry (a W3C `traceparent` is 55 characters, a
/// `tracestate` at most 32 short members): anything longer is not a trace context, and is ignored.
const MAX_TRACE_CONTEXT: usize = 512;

/// An entry's own trace context, if it sent a well-sized one, else the batch call's.
fn entry_trace(sent: Option<proto::TraceContext>, call: &TraceContext) -> TraceContext {
    match sent {
        Some(sent)
            if !sent.traceparent.is_empty()
                && sent.traceparent.len() + sent.tracestate.len() <= MAX_TRACE_CONTEXT =>
        {
            sent.into()
        }
        _ => call.clone(),
    }
}

/// A batch entry's refusal as it goes back over the wire, naming the entry.
fn refusal(index: usize, status: &Status) -> proto::Refusal {
    proto::Refusal {
        code: status.code() as i32,
        message: format!("entries[{index}]: {}", status.message()),
    }
}

/// How an agency carries out its case commands and reads, in the batch's transaction.
pub trait CaseCommands: Send + Sync {
    /// A command or read, as the agency's batch RPC takes it.
    type Entry: BatchEntry;
    /// What a command or read answers.
    type Answer: Message + Default + Send;
    /// The cases a batch is about, as its commands change them in memory.
    type WorkingSet: Send;

    /// Loads the cases with these references (sorted, distinct), as the batch begins.
    fn load(
        &self,
        transaction: &mut FeedTransaction,
        references: &[&str],
    ) -> impl Future<Output = Result<Self::WorkingSet, Status>> + Send;

    /// Carries out a new command (checked, and not a retry) on its case in `cases`: lets the rules
    /// decide, keeps the changed case in `cases`, appends the events it causes, and returns the
    /// answer. A command that fails leaves `cases` as it found them (its writes to the database
    /// and its events are undone by the executor).
    fn carry_out(
        &self,
        transaction: &mut FeedTransaction,
        cases: &mut Self::WorkingSet,
        entry: &Self::Entry,
        context: &CommandContext,
    ) -> impl Future<Output = Result<Self::Answer, Status>> + Send;

    /// Loads, before the batch's first entry is carried out, what its reads (`reads`, in the
    /// batch's order) need beyond their cases, so that they cost a statement or two for the whole
    /// batch rather than one each. By default nothing.
    fn prepare_reads(
        &self,
        transaction: &mut FeedTransaction,
        cases: &mut Self::WorkingSet,
        reads: &[&Self::Entry],
    ) -> impl Future<Output = Result<(), Status>> + Send {
        let _ = (transaction, cases, reads);
        async { Ok(()) }
    }

    /// Answers a read of a case as the batch has it so far, changing nothing; `today` is the
    /// service's simulated date.
    fn read(
        &self,
        transaction: &mut FeedTransaction,
        cases: &Self::WorkingSet,
        entry: &Self::Entry,
        today: Option<NaiveDate>,
    ) -> impl Future<Output = Result<Self::Answer, Status>> + Send;

    /// Writes the cases the batch changed, before it commits.
    fn save(
        &self,
        transaction: &mut FeedTransaction,
        cases: Self::WorkingSet,
    ) -> impl Future<Output = Result<(), Status>> + Send;
}

/// What a new command is carried out with besides its request.
#[derive(Debug, Clone)]
pub struct CommandContext {
    /// Its effective date.
    pub date: NaiveDate,
    /// The service's simulated date, read in the batch's transaction (`None` before the clock
    /// first moves).
    pub today: Option<NaiveDate>,
    /// The W3C trace context for the events the command publishes.
    pub trace: TraceContext,
}

/// One entry of a batch: the request, and the trace context its events continue.
#[derive(Debug, Clone)]
pub struct Entry<E> {
    /// The command or read.
    pub request: E,
    /// The trace its events continue: the family's action that sent it, or the call's.
    pub trace: TraceContext,
}

/// How far from a service's simulated date a command may take effect, either way. By default a year
/// and a day: ample for anything the simulation does, and it stops an application backdated by
/// years (whose first clock move would put it years in arrears) or a date far in the future.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateWindow(u64);

/// A window that is not a number of days from 1 to [`DateWindow::MAX_DAYS`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a date window: expected a number of days from 1 to {max}", max = DateWindow::MAX_DAYS)]
pub struct InvalidDateWindow(pub String);

impl DateWindow {
    /// A year and a day.
    pub const DEFAULT: DateWindow = DateWindow(366);
    /// The widest window: a century.
    pub const MAX_DAYS: u64 = 36_600;

    /// A window of `days` either side of the service's date.
    pub fn days(days: u64) -> Result<Self, InvalidDateWindow> {
        if (1..=Self::MAX_DAYS).contains(&days) {
            Ok(Self(days))
        } else {
            Err(InvalidDateWindow(days.to_string()))
        }
    }

    /// Its width in days, either way.
    pub fn in_days(self) -> u64 {
        self.0
    }

    /// Refuses an effective date outside the window around the service's simulated date `today`
    /// (any date, before its clock first moves), naming the field.
    fn check(self, date: NaiveDate, today: Option<NaiveDate>) -> Result<(), Status> {
        let Some(today) = today else {
            return Ok(());
        };
        let window = chrono::Days::new(self.0);
        let earliest = today.checked_sub_days(window).unwrap_or(NaiveDate::MIN);
        let latest = today.checked_add_days(window).unwrap_or(NaiveDate::MAX);
        if date < earliest || date > latest {
            return Err(Status::invalid_argument(format!(
                "effective_date: {date} is more than {} days from the service's simulated date \
                 {today}",
                self.0
            )));
        }
        Ok(())
    }
}

impl Default for DateWindow {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl std::fmt::Display for DateWindow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl std::str::FromStr for DateWindow {
    type Err = InvalidDateWindow;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let days = text
            .parse::<u64>()
            .map_err(|_| InvalidDateWindow(text.to_owned()))?;
        Self::days(days)
    }
}

/// The command settings of a service that carries out commands, as its binary's flags and
/// environment give them (flattened into the court registry's and the CMS's arguments).
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub struct CommandSettings {
    /// How many days either side of the service's simulated date a command may take effect.
    #[arg(
        long = "date-window-days",
        env = "DATE_WINDOW_DAYS",
        value_name = "DAYS",
        default_value_t = DateWindow::DEFAULT
    )]
    pub date_window: DateWindow,
}

/// Parses a required `YYYY-MM-DD` date from request field `field`, naming the field if it is
/// missing or malformed.
pub fn parse_date(field: &str, text: &str) -> Result<NaiveDate, Status> {
    if text.is_empty() {
        return Err(Status::invalid_argument(format!("{field}: required")));
    }
    let malformed = || {
        Status::invalid_argument(format!(
            "{field}: {} is not a date in the form YYYY-MM-DD",
            validate::quoted(text)
        ))
    };
    if !validate::is_iso_date_form(text) {
        return Err(malformed());
    }
    text.parse().map_err(|_| malformed())
}

/// A feed failure as a gRPC status: a peer that cannot be reached, or a subscription that has not
/// caught up with it, is UNAVAILABLE (a caller may retry: the feeds resume by themselves); a
/// publisher refusing this agency is FAILED_PRECONDITION; anything else is INTERNAL.
impl From<FeedError> for Status {
    fn from(error: FeedError) -> Self {
        let described = familybridge_runtime::error_chain(&error);
        match &error {
            FeedError::Connect { .. } | FeedError::NotCaughtUp { .. } => {
                tracing::warn!(error = %described, "a peer's feed is unavailable");
                Status::unavailable(described)
            }
            FeedError::HighWaterMark(status)
                if matches!(
                    status.code(),
                    Code::Unavailable | Code::Unknown | Code::DeadlineExceeded | Code::Cancelled
                ) =>
            {
                tracing::warn!(error = %described, "a peer's feed is unavailable");
                Status::unavailable(described)
            }
            FeedError::Refused(_) => Status::failed_precondition(described),
            _ => machinery_failure(error),
        }
    }
}

/// A request id that cannot be honoured is the client's error, naming the field; a storage
/// failure is the agency's.
fn idempotency_error(error: IdempotencyError) -> Status {
    match error {
        IdempotencyError::Reused { .. } => Status::invalid_argument(error.to_string()),
        IdempotencyError::Storage(error) => machinery_failure(error),
    }
}

/// Whether a failure is the answer to one entry (a rule's refusal, a bad field), which undoes that
/// entry only, rather than a failure of the agency's machinery, which undoes the batch.
fn is_refusal(status: &Status) -> bool {
    !matches!(
        status.code(),
        Code::Internal
            | Code::Unknown
            | Code::DataLoss
            | Code::Unavailable
            | Code::Cancelled
            | Code::DeadlineExceeded
    )
}

/// Checks an entry's own fields, before any transaction: its case reference, and for a command its
/// client request id and effective date (returned).
fn check_fields(entry: &impl BatchEntry) -> Result<Option<NaiveDate>, Status> {
    if let Some(problem) = validate::reference_problem(entry.case_reference()) {
        return Err(Status::invalid_argument(format!(
            "case_reference: {problem}"
        )));
    }
    if entry.command().is_none() {
        return Ok(None);
    }
    let date = parse_date("effective_date", entry.effective_date())?;
    if let Some(problem) = validate::request_id_problem(entry.client_request_id()) {
        return Err(Status::invalid_argument(format!(
            "client_request_id: {problem}"
        )));
    }
    Ok(Some(date))
}

impl Feed {
    /// Carries out `entries` through `commands`, in one transaction: see the module documentation.
    /// Answers each entry in the order given — its answer, or its refusal — or fails as a whole
    /// (nothing kept) if the agency's machinery does.
    pub async fn execute_batch<C: CaseCommands>(
        &self,
        commands: &C,
        entries: &[Entry<C::Entry>],
    ) -> Result<Vec<Result<C::Answer, Status>>, Status> {
        if entries.len() > MAX_BATCH_ENTRIES {
            return Err(Status::invalid_argument(format!(
                "entries: at most {MAX_BATCH_ENTRIES} in one batch, not {}",
                entries.len()
            )));
        }
        let mut outcomes: Vec<Option<Result<C::Answer, Status>>> =
            entries.iter().map(|_| None).collect();
        let mut accepted: Vec<(usize, Option<NaiveDate>)> = Vec::with_capacity(entries.len());
        for (index, entry) in entries.iter().enumerate() {
            match check_fields(&entry.request) {
                Ok(date) => accepted.push((index, date)),
                Err(refusal) => outcomes[index] = Some(Err(refusal)),
            }
        }
        // Stable: entries about one case keep the order they were given in.
        accepted.sort_by(|(a, _), (b, _)| {
            entries[*a]
                .request
                .case_reference()
                .cmp(entries[*b].request.case_reference())
        });
        if !accepted.is_empty() {
            let streams: Vec<&str> = accepted
                .iter()
                .map(|(index, _)| entries[*index].request.case_reference())
                .collect();
            let mut transaction = self.begin(&streams).await.map_err(machinery_failure)?;
            let today = SimulatedClock::current_date_on(transaction.connection().await?)
                .await
                .map_err(machinery_failure)?;
            // Every command's record, if it has one, in a statement or two for the batch.
            let ids: Vec<&str> = accepted
                .iter()
                .filter(|(_, date)| date.is_some())
                .map(|(index, _)| entries[*index].request.client_request_id())
                .collect();
            let mut ledger = Ledger::read(transaction.connection().await?, &ids)
                .await
                .map_err(idempotency_error)?;
            let mut references = streams;
            references.dedup();
            let mut cases = commands.load(&mut transaction, &references).await?;
            let reads: Vec<&C::Entry> = accepted
                .iter()
                .map(|(index, _)| &entries[*index].request)
                .filter(|request| request.command().is_none())
                .collect();
            if !reads.is_empty() {
                commands
                    .prepare_reads(&mut transaction, &mut cases, &reads)
                    .await?;
            }
            // A batch of one needs no savepoint (its refusal undoes the transaction), nor does a
            // read (it writes nothing).
            let alone = accepted.len() == 1;
            let mut kept = false;
            for (index, date) in accepted {
                let entry = &entries[index];
                let guarded = !alone && entry.request.command().is_some();
                if guarded {
                    transaction.savepoint();
                }
                let outcome = carry_out_entry(
                    &mut transaction,
                    &mut cases,
                    &mut ledger,
                    commands,
                    entry,
                    date,
                    today,
                    self.date_window(),
                )
                .await;
                match outcome {
                    Ok(answer) => {
                        if guarded {
                            transaction.release_savepoint().await?;
                        }
                        kept = true;
                        outcomes[index] = Some(Ok(answer));
                    }
                    Err(refusal) if is_refusal(&refusal) => {
                        if guarded {
                            transaction.rollback_to_savepoint().await?;
                        }
                        outcomes[index] = Some(Err(refusal));
                    }
                    Err(failure) => return Err(failure),
                }
            }
            if kept {
                commands.save(&mut transaction, cases).await?;
                ledger
                    .write(transaction.connection().await?)
                    .await
                    .map_err(machinery_failure)?;
                transaction
                    .commit()
                    .await
                    .map_err(|error: FeedError| machinery_failure(error))?;
            }
        }
        Ok(outcomes
            .into_iter()
            .map(|outcome| {
                outcome.unwrap_or_else(|| Err(Status::internal("a batch entry went unanswered")))
            })
            .collect())
    }

    /// Carries out a batch as it came over the wire — each entry's request (`None` if it named
    /// none) and trace context (`None`, or an empty one: the call's, `call`) — answering each
    /// entry in the order sent, its refusal naming it (`entries[3]: …`). Each entry is refused
    /// (PERMISSION_DENIED, audited) unless `caller` may send it alone: a batch is no way round the
    /// service's access policy.
    pub async fn execute_sent<C: CaseCommands>(
        &self,
        commands: &C,
        sent: Vec<(Option<C::Entry>, Option<proto::TraceContext>)>,
        call: &TraceContext,
        caller: &Caller,
    ) -> Result<Vec<Result<C::Answer, proto::Refusal>>, Status> {
        let mut outcomes: Vec<Option<Result<C::Answer, proto::Refusal>>> =
            sent.iter().map(|_| None).collect();
        let mut positions = Vec::with_capacity(sent.len());
        let mut accepted = Vec::with_capacity(sent.len());
        for (index, (request, trace)) in sent.into_iter().enumerate() {
            match request {
                None => {
                    outcomes[index] = Some(Err(refusal(
                        index,
                        &Status::invalid_argument(
                            "request: required: one of the commands, or a read",
                        ),
                    )));
                }
                Some(request) => {
                    let rpc = format!("{}/{}", C::Entry::SERVICE, request.rpc());
                    if let Err(denied) = caller.require(&rpc).await {
                        outcomes[index] = Some(Err(refusal(index, &denied)));
                        continue;
                    }
                    positions.push(index);
                    accepted.push(Entry {
                        request,
                        trace: entry_trace(trace, call),
                    });
                }
            }
        }
        let answers = self.execute_batch(commands, &accepted).await?;
        for (index, answer) in positions.into_iter().zip(answers) {
            outcomes[index] = Some(answer.map_err(|status| refusal(index, &status)));
        }
        Ok(outcomes
            .into_iter()
            .map(|outcome| {
                outcome.unwrap_or_else(|| {
                    Err(proto::Refusal {
                        code: Code::Internal as i32,
                        message: "a batch entry went unanswered".to_owned(),
                    })
                })
            })
            .collect())
    }

    /// Carries out one command or read: a batch of one, by the same code.
    pub async fn execute_one<C: CaseCommands>(
        &self,
        commands: &C,
        entry: Entry<C::Entry>,
    ) -> Result<C::Answer, Status> {
        self.execute_batch(commands, std::slice::from_ref(&entry))
            .await?
            .pop()
            .unwrap_or_else(|| Err(Status::internal("a command went unanswered")))
    }
}

/// One entry, in the batch's transaction: a read is answered; a command already carried out is
/// answered as it was; a new one is checked against the date window, carried out, and its answer
/// recorded. (Its arguments are the batch's state and the entry's: bundling them would only name
/// the same things twice.)
#[allow(clippy::too_many_arguments)]
async fn carry_out_entry<C: CaseCommands>(
    transaction: &mut FeedTransaction,
    cases: &mut C::WorkingSet,
    ledger: &mut Ledger,
    commands: &C,
    entry: &Entry<C::Entry>,
    date: Option<NaiveDate>,
    today: Option<NaiveDate>,
    window: DateWindow,
) -> Result<C::Answer, Status> {
    let (Some(command), Some(date)) = (entry.request.command(), date) else {
        return commands
            .read(transaction, cases, &entry.request, today)
            .await;
    };
    let encoded = entry.request.encode_request();
    let key = CommandKey {
        client_request_id: entry.request.client_request_id(),
        command,
        request: &encoded,
    };
    if let Some(answer) = ledger.answer(&key).map_err(idempotency_error)? {
        return C::Answer::decode(answer).map_err(machinery_failure);
    }
    window.check(date, today)?;
    let context = CommandContext {
        date,
        today,
        trace: entry.trace.clone(),
    };
    let answer = commands
        .carry_out(transaction, cases, &entry.request, &context)
        .await?;
    ledger.record(&key, answer.encode_to_vec());
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        text.parse().expect("a date")
    }

    #[test]
    fn a_date_window_is_a_number_of_days_from_one_to_a_century() {
        assert_eq!("366".parse(), Ok(DateWindow::DEFAULT));
        assert_eq!(
            "36600".parse::<DateWindow>().map(DateWindow::in_days),
            Ok(36_600)
        );
        for bad in ["0", "36601", "-1", " 30", "30d", ""] {
            assert!(bad.parse::<DateWindow>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_window_takes_dates_up_to_its_width_either_side_and_any_before_the_clock_moves() {
        let window = DateWindow::days(30).expect("a window");
        let today = Some(date("2025-02-06"));
        assert!(window.check(date("2025-01-07"), today).is_ok());
        assert!(window.check(date("2025-03-08"), today).is_ok());
        let refused = window
            .check(date("2025-01-06"), today)
            .expect_err("31 days before");
        assert_eq!(refused.code(), Code::InvalidArgument);
        assert!(window.check(date("2025-03-09"), today).is_err());
        assert!(window.check(date("1900-01-01"), None).is_ok());
    }
}
