//! Two hundred subscribers holding their feed streams open leave the registry healthy: it still
//! answers health checks and commands, and a new subscriber still gets the events.

mod support;

use familybridge_feed::{AgencyId, FeedClient};
use familybridge_proto::common::v1::feed_message;
use familybridge_runtime::{PROBE_TIMEOUT, check_serving};
use familybridge_testing::TestDatabase;
use support::{open_case, registry_client, start_registry};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_held_open_streams_leave_the_registry_serving() {
    let database = TestDatabase::sqlite();
    let server = start_registry(&database).await;
    let mut held = Vec::new();
    for _ in 0..200 {
        let mut client = FeedClient::connect(server.url().to_owned(), AgencyId::Cms)
            .await
            .expect("connect a subscriber");
        held.push(client.subscribe("").await.expect("subscribe"));
    }
    check_serving(server.url(), PROBE_TIMEOUT)
        .await
        .expect("SERVING with 200 streams open");
    registry_client(&server)
        .await
        .open_case(open_case("s1", "FB-STREAMS", "2025-01-06"))
        .await
        .expect("a command is carried out");
    let mut late = FeedClient::connect(server.url().to_owned(), AgencyId::Cms)
        .await
        .expect("connect one more");
    let mut stream = late.subscribe("").await.expect("subscribe");
    let first = loop {
        let message = stream
            .message()
            .await
            .expect("the stream carries on")
            .expect("not ended");
        if let Some(feed_message::Message::Event(event)) = message.message {
            break event;
        }
    };
    assert_eq!(first.stream, "FB-STREAMS");
    drop(held);
    server.stop().await;
}
