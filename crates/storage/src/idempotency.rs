//! Idempotent commands: a command retried with the same client request id is answered as the first
//! time and changes nothing.
//!
//! A service looks the id up at the start of the command's transaction and, if the command is new,
//! records its answer before committing, so the change and the record of it stand or fall together.
//! A digest of the request is kept too (SHA-256, not the request: the record stays small whatever
//! the request held): the same id sent with a different request is a client error, not a retry,
//! and is refused rather than silently answered with someone else's result.

use std::collections::HashMap;

use sha2::{Digest, Sha256};
use sqlx::AnyConnection;

use crate::statements::{in_lists, placeholders, runs, value_rows};
use crate::{Backend, StorageError};

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

/// A command's record as stored: its name, its request's digest (or, made before digests were
/// kept, the request itself) and its answer.
#[derive(Debug, Clone)]
struct Record {
    command: String,
    request: Vec<u8>,
    response: Vec<u8>,
}

/// The most records one statement reads or writes (four parameters a row written, within both
/// backends' limits on parameters).
const RECORDS_PER_STATEMENT: usize = 512;

/// The records of a batch of commands: those stored, read in a statement or two for the whole
/// batch, and those the batch adds, written together before it commits. A command recorded earlier
/// in the batch answers a repeat of it later in the same batch.
#[derive(Debug, Default)]
pub struct Ledger {
    known: HashMap<String, Record>,
    added: Vec<(String, Record)>,
}

impl Ledger {
    /// The stored records of the commands with these client request ids.
    pub async fn read(
        connection: &mut AnyConnection,
        client_request_ids: &[&str],
    ) -> Result<Self, IdempotencyError> {
        let mut ids: Vec<&str> = client_request_ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        let mut known = HashMap::with_capacity(ids.len());
        for chunk in in_lists(&ids, RECORDS_PER_STATEMENT) {
            // Only placeholders are formatted into the statement; every value is bound.
            let statement = format!(
                "SELECT client_request_id, command, request, response FROM idempotent_commands \
                 WHERE client_request_id IN ({})",
                placeholders(Backend::of(connection), chunk.len(), 1)
            );
            let mut query = sqlx::query_as::<_, (String, String, Vec<u8>, Vec<u8>)>(
                sqlx::AssertSqlSafe(statement),
            );
            for id in chunk {
                query = query.bind(*id);
            }
            let rows = query
                .fetch_all(&mut *connection)
                .await
                .map_err(StorageError::from)?;
            for (id, command, request, response) in rows {
                known.insert(
                    id,
                    Record {
                        command,
                        request,
                        response,
                    },
                );
            }
        }
        Ok(Self {
            known,
            added: Vec::new(),
        })
    }

    /// The answer already given to this command, if it was carried out before (in this batch or
    /// an earlier one).
    pub fn answer(&self, key: &CommandKey<'_>) -> Result<Option<&[u8]>, IdempotencyError> {
        match self.known.get(key.client_request_id) {
            None => Ok(None),
            // A record made before digests were kept holds the request itself.
            Some(record)
                if record.command == key.command
                    && (record.request == digest(key.request) || record.request == key.request) =>
            {
                Ok(Some(&record.response))
            }
            Some(record) => Err(IdempotencyError::Reused {
                client_request_id: key.client_request_id.to_owned(),
                command: record.command.clone(),
            }),
        }
    }

    /// Records the answer to a command carried out now, to be written with the batch.
    pub fn record(&mut self, key: &CommandKey<'_>, response: Vec<u8>) {
        let record = Record {
            command: key.command.to_owned(),
            request: digest(key.request),
            response,
        };
        self.known
            .insert(key.client_request_id.to_owned(), record.clone());
        self.added.push((key.client_request_id.to_owned(), record));
    }

    /// Writes the records the batch added, in the batch's transaction.
    pub async fn write(self, connection: &mut AnyConnection) -> Result<(), StorageError> {
        for chunk in runs(&self.added, RECORDS_PER_STATEMENT) {
            // Only placeholders are formatted into the statement; every value is bound.
            let statement = format!(
                "INSERT INTO idempotent_commands (client_request_id, command, request, response) \
                 VALUES {}",
                value_rows(Backend::of(connection), chunk.len(), 4)
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(statement));
            for (id, record) in chunk {
                query = query
                    .bind(id.as_str())
                    .bind(record.command.as_str())
                    .bind(record.request.as_slice())
                    .bind(record.response.as_slice());
            }
            query.execute(&mut *connection).await?;
        }
        Ok(())
    }
}

/// The answer already given to this command, if it was carried out before.
pub async fn recall(
    connection: &mut AnyConnection,
    key: &CommandKey<'_>,
) -> Result<Option<Vec<u8>>, IdempotencyError> {
    let ledger = Ledger::read(connection, &[key.client_request_id]).await?;
    Ok(ledger.answer(key)?.map(<[u8]>::to_vec))
}

/// Records the answer to a command carried out now, in the command's transaction.
pub async fn remember(
    connection: &mut AnyConnection,
    key: &CommandKey<'_>,
    response: &[u8],
) -> Result<(), StorageError> {
    let mut ledger = Ledger::default();
    ledger.record(key, response.to_vec());
    ledger.write(connection).await
}
