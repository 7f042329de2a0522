//! What can go wrong with storage, with the cause kept for the chain of `source()`s.

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The database URL is malformed or names an unsupported backend.
    #[error("invalid database URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The SQLite file's folder could not be created.
    #[error("cannot create the data directory {path}")]
    DataDirectory {
        /// The folder.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The database could not be reached or opened.
    #[error("cannot connect to the database at {url}")]
    Connect {
        /// The URL, without its password.
        url: String,
        /// The driver's error.
        source: sqlx::Error,
    },
    /// The embedded migrations could not be applied.
    #[error("cannot migrate the database at {url}")]
    Migrate {
        /// The URL, without its password.
        url: String,
        /// The migrator's error.
        source: sqlx::migrate::MigrateError,
    },
    /// A query failed.
    #[error("database query failed")]
    Query(#[from] sqlx::Error),
}
