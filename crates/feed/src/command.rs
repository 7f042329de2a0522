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
//! request id is `INVALID_ARGUMENT` naming `client_request_id`; storage failures are `INTERNAL`.

use familybridge_storage::idempotency::{self, CommandKey, IdempotencyError};
use prost::Message;
use tonic::Status;

use crate::{Feed, FeedError, FeedTransaction};

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

/// Logs a failure of the agency's own machinery and hides its detail behind `INTERNAL`.
pub fn internal_error(error: impl std::error::Error) -> Status {
    tracing::error!(error = %error, "command failed");
    Status::internal(error.to_string())
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
        if client_request_id.is_empty() {
            return Err(Status::invalid_argument("client_request_id: required"));
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
