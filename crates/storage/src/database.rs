//! The database handle every service holds: a connection pool over either backend, migrated at
//! connection time.

use std::borrow::Cow;
use std::sync::{Arc, Once};
use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{Any, AnyPool, SqlSafeStr, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::{Backend, DatabaseUrl, StorageError};

/// Migrations every service runs, whatever else it stores; [`Database::connect`] always applies
/// them first.
pub const SHARED_MIGRATIONS: MigrationSet = crate::embed_migrations!(
    1001 "simulation_clock",
    1002 "idempotent_commands",
    1003 "access_denials",
);

/// How long to wait for a connection before reporting the database unreachable. Long enough for a
/// PostgreSQL container that is still starting, short enough that a wrong address fails promptly.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// One migration, embedded in the binary: its version, its name and its SQL.
#[derive(Debug, Clone, Copy)]
pub struct EmbeddedMigration {
    /// The version, which orders migrations and must be unique in a database.
    pub version: i64,
    /// The name, e.g. `simulation_clock`.
    pub description: &'static str,
    /// The SQL to run.
    pub sql: &'static str,
}

/// One library's or service's migrations, one list per backend, usually built with
/// [`embed_migrations!`](crate::embed_migrations). Versions must not collide across sets: this
/// crate's shared ones are numbered from 1001, the event feed's from 2001, and each service's own
/// from 3001.
#[derive(Debug, Clone, Copy)]
pub struct MigrationSet {
    /// The migrations for SQLite.
    pub sqlite: &'static [EmbeddedMigration],
    /// The migrations for PostgreSQL.
    pub postgres: &'static [EmbeddedMigration],
}

impl MigrationSet {
    /// The migrations for `backend`.
    pub fn for_backend(&self, backend: Backend) -> &'static [EmbeddedMigration] {
        match backend {
            Backend::Sqlite => self.sqlite,
            Backend::Postgres => self.postgres,
        }
    }
}

/// Embeds a crate's migrations: `embed_migrations!(2001 "feed_events", 2002 "feed_disclosures")`
/// reads `migrations/sqlite/2001_feed_events.sql` and `migrations/postgres/2001_feed_events.sql`
/// (and so on) from the calling crate at compile time.
///
/// This stands in for `sqlx::migrate!`, whose proc-macro would compile both database drivers a
/// second time for the build host; the checksums sqlx records are the same.
#[macro_export]
macro_rules! embed_migrations {
    ($($version:literal $name:literal),+ $(,)?) => {
        $crate::MigrationSet {
            sqlite: &[$($crate::EmbeddedMigration {
                version: $version,
                description: $name,
                sql: include_str!(concat!(
                    env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite/", stringify!($version), "_", $name, ".sql"
                )),
            }),+],
            postgres: &[$($crate::EmbeddedMigration {
                version: $version,
                description: $name,
                sql: include_str!(concat!(
                    env!("CARGO_MANIFEST_DIR"), "/migrations/postgres/", stringify!($version), "_", $name, ".sql"
                )),
            }),+],
        }
    };
}

/// The shared migrations followed by every set given, in version order, for `backend`.
fn migrator(backend: Backend, sets: &[MigrationSet]) -> Migrator {
    let migrations = std::iter::once(&SHARED_MIGRATIONS)
        .chain(sets)
        .flat_map(|set| set.for_backend(backend))
        .map(|migration| {
            Migration::new(
                migration.version,
                Cow::Borrowed(migration.description),
                MigrationType::Simple,
                migration.sql.into_sql_str(),
                false,
            )
        })
        .collect();
    Migrator::with_migrations(migrations)
}

/// A pool of SQLite connections, each set up as every connection to a service's database is. A
/// connection in this process cannot have gone away, so none is pinged before it is handed out
/// (a statement's worth of work on the connection's thread, every transaction).
fn sqlite_options() -> AnyPoolOptions {
    AnyPoolOptions::new()
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .test_before_acquire(false)
        .after_connect(|connection, _| {
            Box::pin(async move {
                // WAL lets readers run beside the writer, and survives the process being killed
                // at any point: a committed transaction is in the log before COMMIT returns.
                //
                // The rest is speed, measured on a national-caseload bench, where SQLite's page
                // writes, checkpoints and reads were a fifth of the CPU: the log is copied back
                // into the database every 10,000 pages instead of every 1,000, so a page that
                // many batches rewrite in between is written back once; each connection caches
                // 16 MiB of pages instead of 2; sorts and temporary indexes stay in memory.
                // (Reading pages through a memory map was measured too: no faster here, and
                // 260 MiB more resident.)
                sqlx::raw_sql(
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                     PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; \
                     PRAGMA wal_autocheckpoint = 10000; PRAGMA cache_size = -16384; \
                     PRAGMA temp_store = MEMORY;",
                )
                .execute(connection)
                .await
                .map(|_| ())
            })
        })
}

/// A pool of connections to one service's database, on either backend.
///
/// Cloning is cheap and shares the pool.
#[derive(Debug, Clone)]
pub struct Database {
    pool: AnyPool,
    backend: Backend,
    /// On SQLite, the one connection every write goes through, and the turn to use it: see
    /// [`Database::begin_write`]. `None` on PostgreSQL, whose writers run side by side.
    writer: Option<Writer>,
}

/// SQLite's writing connection and the turn to write on it.
#[derive(Debug, Clone)]
struct Writer {
    /// A pool of one connection, kept apart from the readers' so that its page cache stays warm.
    pool: AnyPool,
    /// Held by one writer of the process at a time. The pool of one would queue writers too, but
    /// would fail one that waited longer than its acquire timeout; a turn has no deadline, so a
    /// long queue of writers (a batch behind a clock move, say) waits instead of failing.
    turn: Arc<Mutex<()>>,
}

/// A transaction that writes, begun by [`Database::begin_write`], and its turn to write.
#[derive(Debug)]
pub struct WriteTransaction {
    /// The transaction. Declared first, so that it ends (or its rollback is queued) before the
    /// turn passes on.
    pub transaction: Transaction<'static, Any>,
    /// The turn to write, held until this is dropped (on SQLite).
    pub turn: WriteTurn,
}

/// The turn to write to an SQLite database, held by one writer of the process at a time; nothing
/// on PostgreSQL.
#[derive(Debug)]
pub struct WriteTurn(
    #[allow(dead_code, reason = "held for its drop, which passes the turn on")]
    Option<OwnedMutexGuard<()>>,
);

impl Database {
    /// Connects to the database at `url`, creating an SQLite file (and its folder) if it does not
    /// exist, and applies the shared migrations and every set in `migrations`.
    pub async fn connect(
        url: &DatabaseUrl,
        migrations: &[MigrationSet],
    ) -> Result<Self, StorageError> {
        static INSTALL_DRIVERS: Once = Once::new();
        INSTALL_DRIVERS.call_once(sqlx::any::install_default_drivers);

        if let Some(folder) = url
            .sqlite_path()
            .as_deref()
            .and_then(std::path::Path::parent)
            && !folder.as_os_str().is_empty()
        {
            std::fs::create_dir_all(folder).map_err(|source| StorageError::DataDirectory {
                path: folder.to_path_buf(),
                source,
            })?;
        }

        let backend = url.backend();
        let connect = |options: AnyPoolOptions| async move {
            options
                .connect(&url.connect_url())
                .await
                .map_err(|source| StorageError::Connect {
                    url: url.redacted(),
                    source,
                })
        };
        let (pool, writer) = match backend {
            // An in-memory database is private to its connection and ends with it: readers and
            // the writer share the one connection, which is never closed while the pool lives.
            Backend::Sqlite if url.sqlite_path().is_none() => {
                let pool = connect(
                    sqlite_options()
                        .max_connections(1)
                        .min_connections(1)
                        .idle_timeout(None)
                        .max_lifetime(None),
                )
                .await?;
                (pool.clone(), Some(pool))
            }
            // Readers share a small pool; every write goes through one connection of its own
            // (`begin_write`). SQLite allows one writer at a time anyway, and a connection's page
            // cache is only good while no other connection has written: with writes spread over
            // a pool, each transaction began on a cache another connection had made stale, and
            // read its pages again.
            Backend::Sqlite => (
                connect(sqlite_options().max_connections(3)).await?,
                Some(connect(sqlite_options().max_connections(1)).await?),
            ),
            Backend::Postgres => (
                connect(
                    AnyPoolOptions::new()
                        .acquire_timeout(ACQUIRE_TIMEOUT)
                        .max_connections(16),
                )
                .await?,
                None,
            ),
        };

        migrator(backend, migrations)
            .run(&pool)
            .await
            .map_err(|source| StorageError::Migrate {
                url: url.redacted(),
                source,
            })?;
        tracing::debug!(%url, %backend, "database ready");
        Ok(Self {
            pool,
            backend,
            writer: writer.map(|writer| Writer {
                pool: writer,
                turn: Arc::new(Mutex::new(())),
            }),
        })
    }

    /// Begins a transaction that will write. On SQLite it first waits its turn among the process's
    /// writers for the one connection that writes, then begins IMMEDIATE, taking the database's
    /// single write lock at once: writers queue in the process, woken as soon as the one before
    /// them ends, rather than in SQLite's busy handler, which sleeps for milliseconds between
    /// tries. (A deferred transaction that reads and then writes would fail outright with
    /// SQLITE_BUSY if another writer got in between.) Another process writing still waits up to
    /// the busy timeout.
    pub async fn begin_write(&self) -> Result<WriteTransaction, sqlx::Error> {
        match &self.writer {
            Some(writer) => {
                let turn = WriteTurn(Some(Arc::clone(&writer.turn).lock_owned().await));
                let transaction = writer.pool.begin_with("BEGIN IMMEDIATE").await?;
                Ok(WriteTransaction { transaction, turn })
            }
            None => Ok(WriteTransaction {
                transaction: self.pool.begin().await?,
                turn: WriteTurn(None),
            }),
        }
    }

    /// The connection pool, for queries.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Which backend this database is on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes every connection, waiting for those in use to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
        if let Some(writer) = &self.writer {
            writer.pool.close().await;
        }
    }
}
