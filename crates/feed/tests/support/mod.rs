//! What the feed's integration tests share: a publisher's feed on a test database, the test
//! agreements, a real server on port 0, and bounded waits for messages.
//!
//! Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use chrono::NaiveDate;
use familybridge_feed::{
    ACCESS_POLICY, AgencyId, Appended, DataSharingAgreements, Feed, FeedOptions, MIGRATIONS,
    TraceContext,
};
use familybridge_proto::cms::v1::{CalculateRequest, ReceivingParent};
use familybridge_proto::common::v1::feed_message::Message;
use familybridge_proto::common::v1::{Event, FeedMessage, Heartbeat};
use familybridge_runtime::{AccessControl, CancellationToken, GrpcHost, wait_until_serving};
use familybridge_storage::Backend;
use familybridge_testing::{TestBackend, TestDatabase, TestServer};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tonic::Streaming;

/// How long any wait in these tests may last before the test fails: generous, so that only a real
/// hang fails, never a slow machine.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// What the test publisher (the court registry) shares: the CMS gets part of each
/// `CalculateRequest`, the hub part of each `AdvanceToResponse`.
pub const AGREEMENTS: &str = r#"
# The court registry's data-sharing agreements, as the tests use them.
[[agreement]]
recipient = "cms"
purpose = "Calculate child maintenance"
legal_basis = "Child Support Act 1991 s.14"

  [[agreement.share]]
  event = "familybridge.cms.v1.CalculateRequest"
  fields = ["gross_weekly_income", "receiving_parents.child_nights", "as_of"]

[[agreement]]
recipient = "referral-hub"
purpose = "Refer parents to support"
legal_basis = "UK GDPR Art. 6(1)(e)"

  [[agreement.share]]
  event = "familybridge.simulation.v1.AdvanceToResponse"
  fields = ["current_date"]
"#;

/// The test agreements.
pub fn agreements() -> DataSharingAgreements {
    DataSharingAgreements::from_toml_str(AGREEMENTS).expect("the test agreements are valid")
}

/// Small batches, so that every test also pages through the outbox.
pub fn options() -> FeedOptions {
    FeedOptions {
        batch_size: 7,
        poll_interval: Duration::from_millis(50),
        heartbeat_interval: Duration::from_millis(200),
        ..FeedOptions::default()
    }
}

/// A fresh database on the same backend as `database`.
pub async fn another_database(database: &TestDatabase) -> TestDatabase {
    TestDatabase::new(match database.url().backend() {
        Backend::Sqlite => TestBackend::Sqlite,
        Backend::Postgres => TestBackend::Postgres,
    })
    .await
}

/// `agency`'s feed in `database`, migrated.
pub async fn feed_of(database: &TestDatabase, agency: AgencyId) -> Feed {
    Feed::new(database.connect(&[MIGRATIONS]).await, agency)
}

/// Serves `feed` on a free port until the server is stopped, ending its subscriptions then.
pub async fn serve(
    feed: &Feed,
    agreements: DataSharingAgreements,
    options: FeedOptions,
) -> TestServer {
    let feed = feed.clone();
    TestServer::start(move |listener, shutdown| {
        host(feed.clone(), agreements, options, listener, shutdown)
    })
    .await
}

/// The feed's gRPC server on `listener`, stopping (and ending every subscription) when `shutdown`
/// resolves.
fn host(
    feed: Feed,
    agreements: DataSharingAgreements,
    options: FeedOptions,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> impl Future<Output = Result<(), familybridge_runtime::HostError>> + Send + 'static {
    let shutdown = options.end_subscriptions_on(shutdown);
    // The feed's own access rules, as every publishing service includes them.
    let access = AccessControl::from_policies(&[ACCESS_POLICY], feed.database().clone())
        .expect("the feed's access policy is valid");
    GrpcHost::new("feed-test")
        .with_access(access)
        .add_service(feed.service(agreements, options))
        .serve(listener, shutdown)
}

/// A feed server on a fixed address: a publisher restarted where its subscribers expect it.
pub struct FixedServer {
    shutdown: CancellationToken,
    task: JoinHandle<()>,
}

impl FixedServer {
    /// Serves `feed` at `address` (the address of a server that has just stopped).
    pub async fn start(
        address: SocketAddr,
        feed: &Feed,
        agreements: DataSharingAgreements,
        options: FeedOptions,
    ) -> Self {
        let listener = within("the old port to be free again", async {
            loop {
                match TcpListener::bind(address).await {
                    Ok(listener) => break listener,
                    Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                }
            }
        })
        .await;
        let shutdown = CancellationToken::new();
        let serving = host(
            feed.clone(),
            agreements,
            options,
            listener,
            shutdown.clone().cancelled_owned(),
        );
        let task = tokio::spawn(async move {
            serving.await.expect("the restarted server runs");
        });
        wait_until_serving(&format!("http://{address}"), PATIENCE)
            .await
            .expect("the restarted server gets ready");
        Self { shutdown, task }
    }

    /// Stops the server and waits until it has finished.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.task
            .await
            .expect("the restarted server stopped cleanly");
    }
}

/// The socket address of a test server.
pub fn address(server: &TestServer) -> SocketAddr {
    server
        .url()
        .trim_start_matches("http://")
        .parse()
        .expect("a test server's URL holds its address")
}

/// Awaits `future`, failing the test (naming `what`) if it takes longer than [`PATIENCE`].
pub async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(PATIENCE, future)
        .await
        .unwrap_or_else(|_| panic!("gave up waiting for {what}"))
}

/// Waits until `check` holds, asking again every few milliseconds, for at most [`PATIENCE`].
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    within(what, async {
        while !check().await {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

/// The next message of a subscription.
pub async fn next_message(stream: &mut Streaming<FeedMessage>) -> Message {
    within("the next feed message", stream.message())
        .await
        .expect("the feed stays healthy")
        .expect("the feed stays open")
        .message
        .expect("a message holds an event or a heartbeat")
}

/// The next `count` events of a subscription, skipping heartbeats.
pub async fn events(stream: &mut Streaming<FeedMessage>, count: usize) -> Vec<Event> {
    let mut events = Vec::new();
    while events.len() < count {
        if let Message::Event(event) = next_message(stream).await {
            events.push(event);
        }
    }
    events
}

/// The events of a subscription up to its next heartbeat, and the heartbeat.
pub async fn until_heartbeat(stream: &mut Streaming<FeedMessage>) -> (Vec<Event>, Heartbeat) {
    let mut events = Vec::new();
    loop {
        match next_message(stream).await {
            Message::Event(event) => events.push(event),
            Message::Heartbeat(heartbeat) => return (events, heartbeat),
        }
    }
}

/// The events of a subscription until a heartbeat says it has everything up to `cursor`.
pub async fn until_caught_up(stream: &mut Streaming<FeedMessage>, cursor: &str) -> Vec<Event> {
    let mut events = Vec::new();
    loop {
        match next_message(stream).await {
            Message::Event(event) => events.push(event),
            Message::Heartbeat(heartbeat) if heartbeat.high_water_mark == cursor => return events,
            Message::Heartbeat(_) => {}
        }
    }
}

/// A date in April 2025.
pub fn april(day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 4, day).expect("a date in April")
}

/// A calculation request telling its number `n` in the income, so events are told apart.
pub fn calculation(n: u32) -> CalculateRequest {
    CalculateRequest {
        gross_weekly_income: format!("{n}.00"),
        relevant_other_children: 1,
        receiving_parents: vec![ReceivingParent {
            child_nights: vec![n % 365],
        }],
        proposal: "fees-2027".to_owned(),
        ..CalculateRequest::default()
    }
}

/// Records one event on `stream` in a transaction of its own.
pub async fn publish<M: prost::Message + prost::Name>(
    feed: &Feed,
    stream: &str,
    trace: &TraceContext,
    payload: &M,
) -> Appended {
    let mut transaction = feed.begin(&[stream]).await.expect("begin");
    let appended = transaction
        .append(stream, april(1), trace, payload)
        .await
        .expect("append");
    transaction.commit().await.expect("commit");
    appended
}
