//! A database of its own for each test.

use std::str::FromStr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use familybridge_storage::{Database, DatabaseUrl, MigrationSet, PostgresServer};
use testcontainers_modules::postgres::Postgres;
use testcontainers_modules::testcontainers::runners::SyncRunner;
use testcontainers_modules::testcontainers::{Container, ImageExt};

/// How to get a PostgreSQL server when none is configured.
const NO_POSTGRES: &str = "no PostgreSQL server for the tests. Either set DATABASE_URL to a \
    server on which the tests may create and drop databases, e.g. \
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres, or start a Docker engine so that the \
    tests can run PostgreSQL in a container";

/// The PostgreSQL image started when there is no `DATABASE_URL` (the module's default tag is old).
const POSTGRES_TAG: &str = "17-alpine";

/// The storage backends a test can run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestBackend {
    /// An SQLite file in a temporary folder.
    Sqlite,
    /// A fresh database on a PostgreSQL server.
    Postgres,
}

/// A database that exists for one test and is removed afterwards.
pub struct TestDatabase {
    url: DatabaseUrl,
    cleanup: Cleanup,
}

enum Cleanup {
    /// The folder holding the SQLite file; deleting it deletes the database.
    Sqlite { _folder: tempfile::TempDir },
    /// The server and name of the PostgreSQL database to drop.
    Postgres {
        server: Box<PostgresServer>,
        name: String,
    },
}

impl TestDatabase {
    /// A fresh, empty database on `backend`. Panics, saying why, if none can be had: a test without
    /// its database must fail, not pass.
    pub async fn new(backend: TestBackend) -> Self {
        match backend {
            TestBackend::Sqlite => Self::sqlite(),
            TestBackend::Postgres => Self::postgres().await,
        }
    }

    /// A fresh SQLite database file in a temporary folder.
    pub fn sqlite() -> Self {
        let folder = tempfile::tempdir().expect("create a temporary folder for SQLite");
        let url = DatabaseUrl::sqlite_file(&folder.path().join("test.db"));
        Self {
            url,
            cleanup: Cleanup::Sqlite { _folder: folder },
        }
    }

    /// A fresh, uniquely named database on the PostgreSQL server of `DATABASE_URL`, or of a container.
    pub async fn postgres() -> Self {
        let server = postgres_server();
        let name = unique_name();
        let url = server
            .fresh_database(&name)
            .await
            .unwrap_or_else(|error| panic!("cannot create the test database {name}: {error}"));
        Self {
            url,
            cleanup: Cleanup::Postgres {
                server: Box::new(server),
                name,
            },
        }
    }

    /// The database's URL, for a service under test to connect to.
    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    /// Connects to the database and applies the shared migrations and every set given.
    pub async fn connect(&self, migrations: &[MigrationSet]) -> Database {
        Database::connect(&self.url, migrations)
            .await
            .unwrap_or_else(|error| panic!("cannot open the test database {}: {error}", self.url))
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Cleanup::Postgres { server, name } = &self.cleanup else {
            return;
        };
        // Drop runs inside the test's runtime, where we may not block on async work: a thread of
        // its own, with a runtime of its own, drops the database (ending any connection a pool
        // still holds open).
        let (server, dropping) = (PostgresServer::clone(server), name.clone());
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(server.drop_database(&dropping))?;
            Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("warning: could not drop the test database {name}");
        }
    }
}

/// The PostgreSQL server tests create their databases on: `DATABASE_URL`, or a container started
/// once for the whole test binary.
fn postgres_server() -> PostgresServer {
    let server = |url: &str| {
        DatabaseUrl::from_str(url)
            .and_then(|url| PostgresServer::new(&url))
            .unwrap_or_else(|error| panic!("{url:?} is not a PostgreSQL server's URL: {error}"))
    };
    if let Ok(url) = std::env::var("DATABASE_URL") {
        return server(&url);
    }
    static CONTAINER: OnceLock<Result<(Container<Postgres>, u16), String>> = OnceLock::new();
    let started = CONTAINER.get_or_init(|| {
        if !docker_available() {
            return Err(NO_POSTGRES.to_owned());
        }
        let container = Postgres::default()
            .with_tag(POSTGRES_TAG)
            .start()
            .map_err(|error| format!("{NO_POSTGRES} (starting the container failed: {error})"))?;
        let port = container
            .get_host_port_ipv4(5432)
            .map_err(|error| format!("{NO_POSTGRES} (the container has no port: {error})"))?;
        Ok((container, port))
    });
    match started {
        Ok((_container, port)) => server(&format!(
            "postgres://postgres:postgres@127.0.0.1:{port}/postgres"
        )),
        Err(message) => panic!("{message}"),
    }
}

/// Whether a Docker engine looks reachable: the client alone (as on a CI machine) is not enough.
fn docker_available() -> bool {
    std::env::var_os("DOCKER_HOST").is_some()
        || std::path::Path::new("/var/run/docker.sock").exists()
}

/// A database name no other test, in this process or another, is using.
fn unique_name() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.subsec_nanos())
        .unwrap_or_default();
    format!(
        "familybridge_test_{}_{}_{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}
