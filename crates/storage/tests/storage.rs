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

async fn an_idempotency_record_keeps_a_digest_of_its_request(database: TestDatabase) {
    use familybridge_storage::idempotency::{CommandKey, IdempotencyError, recall, remember};
    use familybridge_storage::sqlx;
    let db = database.connect(&[]).await;
    let mut connection = db.pool().acquire().await.expect("a connection");
    let request = vec![7u8; 10_000];
    let key = CommandKey {
        client_request_id: "r1",
        command: "MakeFinalOrder",
        request: &request,
    };
    remember(&mut connection, &key, b"answer")
        .await
        .expect("remember");
    let kept: Vec<u8> = sqlx::query_scalar(
        "SELECT request FROM idempotent_commands WHERE client_request_id = 'r1'",
    )
    .fetch_one(&mut *connection)
    .await
    .expect("the record");
    assert_eq!(kept.len(), 32, "a SHA-256, not the 10 kB request");
    assert_eq!(
        recall(&mut connection, &key).await.expect("recall"),
        Some(b"answer".to_vec()),
        "a retry gets the first answer"
    );
    let other = vec![8u8; 10_000];
    let reused = CommandKey {
        request: &other,
        ..key
    };
    assert!(matches!(
        recall(&mut connection, &reused).await,
        Err(IdempotencyError::Reused { .. })
    ));
    // A record from before digests holds the request itself, and still answers its retry.
    sqlx::query(
        "INSERT INTO idempotent_commands (client_request_id, command, request, response) \
         VALUES ('r0', 'MakeFinalOrder', $1, $2)",
    )
    .bind(request.clone())
    .bind(b"older".to_vec())
    .execute(&mut *connection)
    .await
    .expect("an older record");
    let older = CommandKey {
        client_request_id: "r0",
        ..key
    };
    assert_eq!(
        recall(&mut connection, &older).await.expect("recall"),
        Some(b"older".to_vec())
    );
    drop(connection);
    db.close().await;
}

/// A case record for the case-table test: a party it keeps for life, and a stage that moves.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct TestCase {
    reference: String,
    party: String,
    stage: String,
}

impl familybridge_storage::case_table::CaseRecord for TestCase {
    const TABLE: &'static str = "test_cases";
    const COLUMNS: &'static [&'static str] = &["party", "stage"];
    const FIXED_COLUMNS: usize = 1;

    fn reference(&self) -> &str {
        &self.reference
    }

    fn column_values(&self) -> Vec<String> {
        vec![self.party.clone(), self.stage.clone()]
    }
}

async fn a_case_table_saves_what_changed_and_leaves_what_is_fixed(database: TestDatabase) {
    use familybridge_storage::case_table::WorkingSet;
    use familybridge_storage::sqlx;
    /// Loads case c1 (checking it is `before`), keeps `record` in its place, saves it, and reads
    /// back its columns.
    async fn save(
        connection: &mut sqlx::AnyConnection,
        before: Option<&TestCase>,
        record: &TestCase,
    ) -> (String, String) {
        let mut cases = WorkingSet::<TestCase>::load(&mut *connection, &["c1"])
            .await
            .expect("load");
        assert_eq!(cases.get("c1"), before, "the record as last saved");
        cases.keep(record.clone());
        cases.save(&mut *connection).await.expect("save");
        sqlx::query_as("SELECT party, stage FROM test_cases WHERE case_reference = 'c1'")
            .fetch_one(connection)
            .await
            .expect("the row")
    }
    let db = database.connect(&[]).await;
    let mut connection = db.pool().acquire().await.expect("a connection");
    sqlx::query(
        "CREATE TABLE test_cases (case_reference TEXT PRIMARY KEY, record TEXT NOT NULL, \
         party TEXT NOT NULL, stage TEXT NOT NULL)",
    )
    .execute(&mut *connection)
    .await
    .expect("the table");
    let opened = TestCase {
        reference: "c1".to_owned(),
        party: "p1".to_owned(),
        stage: "open".to_owned(),
    };
    assert_eq!(
        save(&mut connection, None, &opened).await,
        ("p1".to_owned(), "open".to_owned()),
        "the first save writes every column"
    );
    let moved = TestCase {
        party: "p2".to_owned(),
        stage: "closed".to_owned(),
        ..opened.clone()
    };
    assert_eq!(
        save(&mut connection, Some(&opened), &moved).await,
        ("p1".to_owned(), "closed".to_owned()),
        "a later save sets the columns that move and leaves the fixed one"
    );
    let cases = WorkingSet::<TestCase>::load(&mut connection, &["c1"])
        .await
        .expect("load once more");
    assert_eq!(
        cases.get("c1"),
        Some(&moved),
        "the record itself is rewritten"
    );
    drop(connection);
    db.close().await;
}

on_both_backends!(
    a_case_table_saves_what_changed_and_leaves_what_is_fixed,
    an_idempotency_record_keeps_a_digest_of_its_request,
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
async fn an_in_memory_database_reads_what_its_writes_wrote() {
    // Writes go through a connection of their own: an in-memory database must still be one
    // database, not one for the writer and another for the readers.
    let url: DatabaseUrl = "sqlite::memory:".parse().expect("an in-memory URL");
    let clock = SimulatedClock::new(Database::connect(&url, &[]).await.expect("connect"));
    clock.set(date("2025-07-01")).await.expect("set");
    assert_eq!(
        clock.current_date().await.expect("read"),
        Some(date("2025-07-01"))
    );
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
