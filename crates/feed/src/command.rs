//! Idempotent commands in a feed transaction: the shape every agency's commands share.
//!
//! A command that changes an agency's records runs in one transaction of the agency's feed, begun
//! under the locks of the streams (cases) it touches. Its client request id is looked up first: a
//! retry is answered exactly as the first call was and changes nothing. Otherwise the caller does
//! its work in the transaction — reads, writes, appended events — and [`NewCommand::finish`]
//! records the answer and commits, so the change, its events and the record of the answer stand or
//! fall together.
//!
//! Errors come back as gRPC statuses, because every caller is a gRPC handler: a missing or reused
//! request id is `INVALID_ARGUMENT` naming `client_request_id`; storage failures are `INTERNAL`; a
//! peer's feed out of reach is `UNAVAILABLE` (`From<FeedError> for Status`).

use chrono::NaiveDate;
use familybridge_proto::{CommandRequest, validate};
use familybridge_storage::SimulatedClock;
use familybridge_storage::idempotency::{self, CommandKey, IdempotencyError};
use prost::Message;
use tonic::{Code, Request, Status};

use crate::{Feed, FeedError, FeedTransaction, TraceContext};

/// How a command began: answered already, or new and ready for its work.
pub enum Begun<R> {
    /// The same command was carried out before; this is the answer it was given.
    Answered(R),
    /// A new command, in its transaction.
    New(NewCommand),
}

/// A command being carried out, in its feed transaction.
pub struct NewCommand {
    transaction: FeedTransaction,
    client_request_id: String,
    command: &'static str,
    request: Vec<u8>,
}

/// A command about one case, begun: the request, its effective date, the trace context it came
/// with, and whether it is new.
pub struct CaseCommand<R, A> {
    /// The request.
    pub request: R,
    /// Its effective date.
    pub date: NaiveDate,
    /// The service's simulated date as the new command began, read in its transaction (`None`
    /// before the clock first moves, and for a command answered before).
    pub today: Option<NaiveDate>,
    /// The W3C trace context for the events the command publishes: the command's span, or the
    /// caller's context where nothing is exported.
    pub trace: TraceContext,
    /// Answered before, or new and ready for its work.
    pub begun: Begun<A>,
}

/// How far from a service's simulated date a command may take effect, either way: a year and a day,
/// ample for anything the simulation does, and it stops an application backdated by years (whose
/// first clock move would put it years in arrears) or a date far in the future.
pub const DATE_WINDOW_DAYS: u64 = 366;

/// Refuses an effective date more than [`DATE_WINDOW_DAYS`] from the service's simulated date
/// (any date, before its clock first moves), naming the field; returns that simulated date.
async fn check_within_window(
    tx: &mut FeedTransaction,
    date: NaiveDate,
) -> Result<Option<NaiveDate>, Status> {
    let Some(today) = SimulatedClock::current_date_on(tx.connection())
        .await
        .map_err(internal_error)?
    else {
        return Ok(None);
    };
    let window = chrono::Days::new(DATE_WINDOW_DAYS);
    let earliest = today.checked_sub_days(window).unwrap_or(NaiveDate::MIN);
    let latest = today.checked_add_days(window).unwrap_or(NaiveDate::MAX);
    if date < earliest || date > latest {
        return Err(Status::invalid_argument(format!(
            "effective_date: {date} is more than {DATE_WINDOW_DAYS} days from the service's \
             simulated date {today}"
        )));
    }
    Ok(Some(today))
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
            _ => internal_error(error),
        }
    }
}

/// Logs a failure of the agency's own machinery and answers `INTERNAL`, naming its chain of causes.
pub fn internal_error(error: impl std::error::Error) -> Status {
    let described = familybridge_runtime::error_chain(&error);
    tracing::error!(error = %described, "command failed");
    Status::internal(described)
}

impl Feed {
    /// Begins command `command` (e.g. "MakeFinalOrder") with its client request id and request,
    /// locking `streams`.
    pub async fn begin_command<Q: Message, R: Message + Default>(
        &self,
        command: &'static str,
        client_request_id: &str,
        request: &Q,
        streams: &[&str],
    ) -> Result<Begun<R>, Status> {
        if let Some(problem) = validate::request_id_problem(client_request_id) {
            return Err(Status::invalid_argument(format!(
                "client_request_id: {problem}"
            )));
        }
        let encoded = request.encode_to_vec();
        let mut transaction = self.begin(streams).await.map_err(internal_error)?;
        let key = CommandKey {
            client_request_id,
            command,
            request: &encoded,
        };
        match idempotency::recall(transaction.connection(), &key).await {
            Ok(Some(answer)) => R::decode(answer.as_slice())
                .map(Begun::Answered)
                .map_err(internal_error),
            Ok(None) => Ok(Begun::New(NewCommand {
                transaction,
                client_request_id: client_request_id.to_owned(),
                command,
                request: encoded,
            })),
            Err(error @ IdempotencyError::Reused { .. }) => {
                Err(Status::invalid_argument(error.to_string()))
            }
            Err(IdempotencyError::Storage(error)) => Err(internal_error(error)),
        }
    }
}

impl Feed {
    /// Begins a gRPC command about one case: checks its case reference and effective date (naming
    /// the field at fault), then [`begin_command`](Feed::begin_command)s it under the case's lock.
    pub async fn begin_case_command<R: CommandRequest, A: Message + Default>(
        &self,
        command: &'static str,
        request: Request<R>,
    ) -> Result<CaseCommand<R, A>, Status> {
        // The events carry the command's own span (a child of the caller's); a process that
        // exports nothing passes on the caller's context as it came.
        let trace = TraceContext::current().or(TraceContext::from_metadata(request.metadata()));
        let request = request.into_inner();
        let reference = request.case_reference();
        if let Some(problem) = validate::reference_problem(reference) {
            return Err(Status::invalid_argument(format!(
                "case_reference: {problem}"
            )));
        }
        let date = parse_date("effective_date", request.effective_date())?;
        let mut begun = self
            .begin_command(command, request.client_request_id(), &request, &[reference])
            .await?;
        let today = match &mut begun {
            Begun::New(new) => check_within_window(new.transaction(), date).await?,
            Begun::Answered(_) => None,
        };
        Ok(CaseCommand {
            request,
            date,
            today,
            trace,
            begun,
        })
    }
}

impl NewCommand {
    /// The transaction to do the command's work in.
    pub fn transaction(&mut self) -> &mut FeedTransaction {
        &mut self.transaction
    }

    /// Records `response` as the command's answer and commits everything.
    pub async fn finish<R: Message>(mut self, response: &R) -> Result<(), Status> {
        let key = CommandKey {
            client_request_id: &self.client_request_id,
            command: self.command,
            request: &self.request,
        };
        idempotency::remember(
            self.transaction.connection(),
            &key,
            &response.encode_to_vec(),
        )
        .await
        .map_err(internal_error)?;
        self.transaction
            .commit()
            .await
            .map_err(|error: FeedError| internal_error(error))
    }
}
