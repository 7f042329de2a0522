//! Storage against real databases: every test runs on SQLite and on PostgreSQL.

use chrono::NaiveDate;
use familybridge_storage::{
    Backend, ClockError, Database, DatabaseUrl, SimulatedClock, StorageError,
};
use familybridge_testing::{TestDatabase, on_both_backends};

fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("a test date")
}

async fn a_fresh_clock_has_no_date_and_moves_only_forward(database: TestDatabase) {
    let clock = SimulatedClock::new(database.connect(&[]).await);
    assert_eq!(clock.current_date().await.expect("read"), None);

    clock.set(date("2025-04-01")).await.expect("first date");
    clock
        .set(date("2025-04-01"))
        .await
        .expect("the same date again");
    clock.set(date("2025-05-01")).await.expect("a later date");
    assert_eq!(
        clock.current_date().await.expect("read"),
        Some(date("2025-05-01"))
    );

    let refused = clock.set(date("2025-04-30")).await;
    assert!(
        matches!(refused, Err(ClockError::Backwards { requested, current })
            if requested == date("2025-04-30") && current == date("2025-05-01")),
        "{refused:?}"
    );
    assert!(matches!(
        clock.check_forward(date("2025-01-01")).await,
        Err(ClockError::Backwards { .. })
    ));
    assert_eq!(
        clock
            .check_forward(date("2025-06-01"))
            .await
            .expect("forward"),
        Some(date("2025-05-01"))
    );
}

async fn the_date_survives_reconnecting_and_migrating_again(database: TestDatabase) {
    let first = database.connect(&[]).await;
    SimulatedClock::new(first.clone())
        .set(date("2026-01-31"))
        .await
        .expect("set");
    first.close().await;

    let reopened = database.connect(&[]).await;
    assert_eq!(
        SimulatedClock::new(reopened)
            .current_date()
            .await
            .expect("read"),
        Some(date("2026-01-31"))
    );
}

async fn the_backend_follows_the_url(database: TestDatabase) {
    let connected = database.connect(&[]).await;
    assert_eq!(connected.backend(), database.url().backend());
}

on_both_backends!(
    a_fresh_clock_has_no_date_and_moves_only_forward,
    the_date_survives_reconnecting_and_migrating_again,
    the_backend_follows_the_url,
);

#[tokio::test]
async fn sqlite_creates_its_folder_and_file_on_first_start() {
    let folder = tempfile::tempdir().expect("a temporary folder");
    let file = folder
        .path()
        .join("nested")
        .join("deeper")
        .join("service.db");
    let url = DatabaseUrl::sqlite_file(&file);
    assert_eq!(url.backend(), Backend::Sqlite);
    Database::connect(&url, &[]).await.expect("connect");
    assert!(file.exists());
}

#[tokio::test]
async fn an_unreachable_server_is_reported_with_its_address() {
    // Port 1 on loopback: nothing listens there, so the connection is refused at once.
    let url: DatabaseUrl = "postgres://postgres:hunter2@127.0.0.1:1/familybridge"
        .parse()
        .expect("a well-formed URL");
    let error = Database::connect(&url, &[])
        .await
        .expect_err("nothing listens on port 1");
    assert!(matches!(error, StorageError::Connect { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("127.0.0.1:1"), "{message}");
    assert!(
        !message.contains("hunter2"),
        "the password leaked: {message}"
    );
    assert!(std::error::Error::source(&error).is_some());
}

#[test]
fn every_shared_migration_file_is_embedded() {
    familybridge_testing::assert_embeds_every_migration(
        &familybridge_storage::SHARED_MIGRATIONS,
        env!("CARGO_MANIFEST_DIR"),
    );
}
