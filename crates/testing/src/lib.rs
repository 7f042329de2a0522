//! Test helpers shared by every familybridge crate, so that each mechanism exists once.
//!
//! - [`TestDatabase`]: a database of its own for each test. SQLite lives in a temporary folder.
//!   PostgreSQL is a uniquely named database created on the server `DATABASE_URL` points at (this
//!   machine and CI: `postgres://postgres@127.0.0.1:5432/postgres`), or, with no `DATABASE_URL` but a
//!   Docker engine, on a PostgreSQL container started for the test binary; it is dropped when the
//!   test ends. With neither, the test fails and says how to provide one: it never skips silently.
//! - [`on_both_backends!`]: runs one test body against SQLite and against PostgreSQL.
//! - [`assert_embeds_every_migration`]: no migration file is forgotten by `embed_migrations!`.
//! - [`GuardedProcess`]: a service binary in its own process, killed when the test ends.
//! - [`TestServer`]: a real gRPC server on a free loopback port, stopped through its shutdown
//!   future as production stops it; [`channel_as`] a client channel calling as one identity.
//! - [`require_tool`]: a command-line tool from the machine, or a failure naming what to install.
//! - [`podman`]: the project's images built and its compose file run with podman, offline, and
//!   everything removed afterwards.
//! - [`check_page`]: a generated page opened in Debian's headless Chromium, as a person would see
//!   it — its DOM, its console messages and a screenshot.

mod browser;
mod database;
mod migrations;
pub mod podman;
mod process;
mod server;
mod tools;

pub use browser::{BrowserError, PageCheck, check_page};
pub use database::{TestBackend, TestDatabase};
pub use migrations::assert_embeds_every_migration;
pub use process::GuardedProcess;
pub use server::{CallerChannel, TestServer, channel_as};
pub use tools::{require_tool, run_checked, tail};

/// Declares, for each named `async fn NAME(database: TestDatabase)`, a module `NAME` with two tests,
/// `sqlite` and `postgres`, that run it on a fresh database of each backend.
///
/// ```ignore
/// async fn clock_survives_a_restart(database: TestDatabase) { /* … */ }
/// familybridge_testing::on_both_backends!(clock_survives_a_restart);
/// ```
#[macro_export]
macro_rules! on_both_backends {
    ($($test:ident),+ $(,)?) => {$(
        mod $test {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$test($crate::TestDatabase::new($crate::TestBackend::Sqlite).await).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$test($crate::TestDatabase::new($crate::TestBackend::Postgres).await).await
            }
        }
    )+};
}
