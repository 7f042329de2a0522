//! Idempotent commands: a command retried with the same client request id is answered as the first
//! time and changes nothing.
//!
//! A service looks the id up at the start of the command's transaction and, if the command is new,
//! records its answer before committing, so the change and the record of it stand or fall together.
//! A digest of the request is kept too (SHA-256, not the request: the record stays small whatever
//! the request held): the same id sent with a different request is a client error, not a retry,
//! and is refused rather than silently answered with someone else's result.

use sha2::{Digest, Sha256};
use sqlx::AnyConnection;

use crate::StorageError;

/// A command as its client identified it.
#[derive(Debug, Clone, Copy)]
pub struct CommandKey<'a> {
    /// The client's id for this command.
    pub client_request_id: &'a str,
    /// The command's name, e.g. "MakeFinalOrder".
    pub command: &'static str,
    /// The encoded request.
    pub request: &'a [u8],
}

/// Why a command's id could not be honoured.
#[derive(Debug, thiserror::Error)]
pub enum IdempotencyError {
    /// The id was already used for another command or another request.
    #[error(
        "client_request_id: {client_request_id:?} was already used for a different {command} request"
    )]
    Reused {
        /// The id.
        client_request_id: String,
        /// The command it was first used for.
        command: String,
    },
    /// The database failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// What is kept of a request: its SHA-256.
fn digest(request: &[u8]) -> Vec<u8> {
    Sha256::digest(request).to_vec()
}

/// The answer already given to this command, if it was carried out before.
pub async fn recall(
    connection: &mut AnyConnection,
    key: &CommandKey<'_>,
) -> Result<Option<Vec<u8>>, IdempotencyError> {
    let stored: Option<(String, Vec<u8>, Vec<u8>)> = sqlx::query_as(
        "SELECT command, request, response FROM idempotent_commands WHERE client_request_id = $1",
    )
    .bind(key.client_request_id)
    .fetch_optional(&mut *connection)
    .await
    .map_err(StorageError::from)?;
    match stored {
        None => Ok(None),
        // A record made before digests were kept holds the request itself.
        Some((command, request, response))
            if command == key.command
                && (request == digest(key.request) || request == key.request) =>
        {
            Ok(Some(response))
        }
        Some((command, _, _)) => Err(IdempotencyError::Reused {
            client_request_id: key.client_request_id.to_owned(),
            command,
        }),
    }
}

/// Records the answer to a command carried out now, in the command's transaction.
pub async fn remember(
    connection: &mut AnyConnection,
    key: &CommandKey<'_>,
    response: &[u8],
) -> Result<(), StorageError> {
    sqlx::query(
        "INSERT INTO idempotent_commands (client_request_id, command, request, response) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(key.client_request_id)
    .bind(key.command)
    .bind(digest(key.request))
    .bind(response)
    .execute(&mut *connection)
    .await?;
    Ok(())
}
