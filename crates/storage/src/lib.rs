//! Storage shared by every familybridge service.
//!
//! Each service keeps its own database, reached through one [`Database`] handle whatever the
//! backend: SQLite, the embedded default that needs no server, or PostgreSQL, the production store.
//! The backend is chosen by the URL ([`DatabaseUrl`]). Queries are written once, in SQL both
//! backends accept (numbered `$1` parameters, `ON CONFLICT` upserts, dates as ISO-8601 text); the
//! few places where the backends must differ ask [`Database::backend`].
//!
//! Migrations are embedded in the binaries and run at start-up: those every service needs (such as
//! the simulated clock) live here, and each library or service adds its own [`MigrationSet`], embedded
//! with [`embed_migrations!`].

pub mod case_table;
mod clock;
mod database;
mod error;
pub mod idempotency;
mod server;
pub mod statements;
mod url;

pub use clock::{ClockError, SimulatedClock};
pub use database::{
    Database, EmbeddedMigration, MigrationSet, SHARED_MIGRATIONS, WriteTransaction, WriteTurn,
};
pub use error::{StorageError, is_transient};
pub use server::PostgresServer;
pub use url::{Backend, DatabaseUrl};

/// Re-exported so that code that only queries needs no sqlx dependency of its own.
pub use sqlx;
