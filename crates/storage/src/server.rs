//! Databases made and removed on a PostgreSQL server: the fresh databases of a run on PostgreSQL
//! (`familybridge run --database`), and each test's own.

use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection};

use crate::{Backend, DatabaseUrl, StorageError};

/// A PostgreSQL server on which databases may be created and dropped.
#[derive(Debug, Clone)]
pub struct PostgresServer {
    options: PgConnectOptions,
}

impl PostgresServer {
    /// The server `url` names (its database is only where the administrative connection goes).
    pub fn new(url: &DatabaseUrl) -> Result<Self, StorageError> {
        if url.backend() != Backend::Postgres {
            return Err(StorageError::InvalidUrl {
                url: url.redacted(),
                reason: "names no PostgreSQL server".to_owned(),
            });
        }
        let options =
            PgConnectOptions::from_str(url.as_str()).map_err(|error| StorageError::InvalidUrl {
                url: url.redacted(),
                reason: error.to_string(),
            })?;
        Ok(Self { options })
    }

    /// Creates the database `name`, dropping any database of that name first (and ending its
    /// connections), and returns its URL. `name` is letters, digits and `_` only.
    pub async fn fresh_database(&self, name: &str) -> Result<DatabaseUrl, StorageError> {
        let name = checked_name(name)?;
        let mut admin = self.admin().await?;
        for statement in [
            format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
            format!("CREATE DATABASE \"{name}\""),
        ] {
            sqlx::query(AssertSqlSafe(statement))
                .execute(&mut admin)
                .await?;
        }
        admin.close().await?;
        let url = self
            .options
            .clone()
            .database(name)
            .to_url_lossy()
            .to_string();
        DatabaseUrl::from_str(&url)
    }

    /// Drops the database `name` if it exists, ending its connections.
    pub async fn drop_database(&self, name: &str) -> Result<(), StorageError> {
        let name = checked_name(name)?;
        let mut admin = self.admin().await?;
        sqlx::query(AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
        )))
        .execute(&mut admin)
        .await?;
        admin.close().await?;
        Ok(())
    }

    async fn admin(&self) -> Result<PgConnection, StorageError> {
        // Creating or dropping a database takes as long as the server needs to write or remove
        // its files, often over sqlx's one-second "slow statement" mark: a warning for that would
        // only be noise among a run's output.
        self.options
            .clone()
            .disable_statement_logging()
            .connect()
            .await
            .map_err(|source| StorageError::Connect {
                url: self.options.to_url_lossy().to_string(),
                source,
            })
    }
}

/// `name`, if it is a database name that needs no quoting care: letters, digits and `_`, at most
/// 63 bytes (PostgreSQL's limit).
fn checked_name(name: &str) -> Result<&str, StorageError> {
    let fits = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_');
    if fits {
        Ok(name)
    } else {
        Err(StorageError::InvalidUrl {
            url: name.to_owned(),
            reason: "a database name is 1 to 63 letters, digits or '_'".to_owned(),
        })
    }
}
