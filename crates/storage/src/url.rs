//! Database URLs: which backend, and where.
//!
//! A URL is checked when it is parsed, before anything tries to connect, so that a typo gives a
//! message about the URL rather than a connection failure. SQLite URLs name a file that is created,
//! with its folder, on first start.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;
use sqlx::{AnyConnection, ConnectOptions};

use crate::StorageError;

/// The database engines familybridge runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// SQLite: a file in a data directory, no server needed.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

impl Backend {
    /// The backend `connection` is to.
    pub fn of(connection: &AnyConnection) -> Backend {
        if connection.backend_name().eq_ignore_ascii_case("sqlite") {
            Backend::Sqlite
        } else {
            Backend::Postgres
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        })
    }
}

/// A database URL that names a supported backend and parses: `sqlite:PATH`, `sqlite://PATH`, or
/// `postgres://…` / `postgresql://…`.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    url: String,
    backend: Backend,
}

impl DatabaseUrl {
    /// The URL of an SQLite database file at `path`.
    pub fn sqlite_file(path: &Path) -> Self {
        Self {
            url: format!("sqlite://{}", path.display()),
            backend: Backend::Sqlite,
        }
    }

    /// Which backend the URL names.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The URL as given.
    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// The URL with any password replaced by `***`, fit for logs and error messages.
    pub fn redacted(&self) -> String {
        match self.backend {
            Backend::Sqlite => self.url.clone(),
            Backend::Postgres => match PgConnectOptions::from_str(&self.url) {
                Ok(options) => {
                    let mut url = options.to_url_lossy();
                    if url.password().is_some() {
                        // Setting a password on a postgres:// URL cannot fail.
                        let _ = url.set_password(Some("***"));
                    }
                    url.to_string()
                }
                Err(_) => "(unparseable PostgreSQL URL)".to_owned(),
            },
        }
    }

    /// For SQLite, the database file the URL names (`None` for in-memory databases and PostgreSQL).
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        if self.backend != Backend::Sqlite {
            return None;
        }
        let rest = self
            .url
            .strip_prefix("sqlite://")
            .or_else(|| self.url.strip_prefix("sqlite:"))?;
        let path = rest.split('?').next().unwrap_or_default();
        if path.is_empty() || path == ":memory:" {
            None
        } else {
            Some(PathBuf::from(path))
        }
    }

    /// The URL handed to the driver. SQLite gets `mode=rwc` so that the file is created on first
    /// start, unless the URL already says how to open it.
    pub(crate) fn connect_url(&self) -> String {
        if self.backend == Backend::Sqlite && !self.url.contains("mode=") {
            let separator = if self.url.contains('?') { '&' } else { '?' };
            format!("{}{separator}mode=rwc", self.url)
        } else {
            self.url.clone()
        }
    }
}

impl FromStr for DatabaseUrl {
    type Err = StorageError;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        let invalid = |reason: String| StorageError::InvalidUrl {
            url: url.to_owned(),
            reason,
        };
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(invalid(
                "expected a URL starting with sqlite: (e.g. sqlite://data/court.db) or \
                 postgres:// (e.g. postgres://postgres@127.0.0.1:5432/familybridge)"
                    .to_owned(),
            ));
        };
        let parsed = Self {
            url: url.to_owned(),
            backend,
        };
        match backend {
            Backend::Sqlite => {
                sqlx::sqlite::SqliteConnectOptions::from_str(&parsed.connect_url())
                    .map_err(|error| invalid(error.to_string()))?;
            }
            Backend::Postgres => {
                let options =
                    PgConnectOptions::from_str(url).map_err(|error| invalid(error.to_string()))?;
                if options.get_database().is_none_or(str::is_empty) {
                    return Err(invalid(
                        "a PostgreSQL URL must name the database, e.g. …:5432/familybridge"
                            .to_owned(),
                    ));
                }
            }
        }
        Ok(parsed)
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_name_their_file() -> Result<(), StorageError> {
        let url: DatabaseUrl = "sqlite://data/court.db".parse()?;
        assert_eq!(url.backend(), Backend::Sqlite);
        assert_eq!(url.sqlite_path(), Some(PathBuf::from("data/court.db")));
        assert_eq!(url.connect_url(), "sqlite://data/court.db?mode=rwc");
        let memory: DatabaseUrl = "sqlite::memory:".parse()?;
        assert_eq!(memory.sqlite_path(), None);
        Ok(())
    }

    #[test]
    fn postgres_urls_hide_their_password() -> Result<(), StorageError> {
        let url: DatabaseUrl = "postgres://app:secret@127.0.0.1:5432/court".parse()?;
        assert_eq!(url.backend(), Backend::Postgres);
        assert!(!url.to_string().contains("secret"), "{url}");
        assert!(!format!("{url:?}").contains("secret"));
        Ok(())
    }

    #[test]
    fn unsupported_and_malformed_urls_are_refused_with_the_reason() {
        for bad in [
            "mysql://root@localhost/db",
            "court.db",
            "",
            "postgres://127.0.0.1:notaport/db",
            "postgres://127.0.0.1:5432",
        ] {
            let error = bad.parse::<DatabaseUrl>().expect_err(bad);
            assert!(
                matches!(error, StorageError::InvalidUrl { .. }),
                "{bad}: {error}"
            );
            assert!(error.to_string().contains("database URL"), "{error}");
        }
    }
}
