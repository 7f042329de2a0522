//! The feeds a service follows, and the barrier that tells when it has caught up with them.
//!
//! A service that reacts to other agencies' events follows each of their feeds in a task of its
//! own ([`Following::follow`]). A simulation must not race those reactions with its next
//! commands, so between steps it asks each service to settle: [`Following::caught_up`] asks every
//! publisher for its high-water mark — the newest event it has committed — and waits until the
//! service's stored cursor for that feed has reached it. What the service does with an event is
//! then in its own database (or its inbox), and the simulation may go on. How far behind each
//! subscription was when asked is recorded as the feed's lag (`familybridge.feed.lag`).

use std::sync::Arc;
use std::time::Duration;

use familybridge_runtime::{Transport, record_feed_lag};
use tokio::sync::OnceCell;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::cursor::Cursor;
use crate::{AgencyId, EventHandler, Feed, FeedClient, FeedError, spawn_subscription};

/// How often a settling service looks at its stored cursors again.
const SETTLE_POLL: Duration = Duration::from_millis(2);

/// How long a service may take to catch up before settling reports it stuck: far longer than any
/// healthy subscription needs, short enough that a broken one fails the caller instead of hanging.
const SETTLE_LIMIT: Duration = Duration::from_secs(120);

/// One feed a service follows.
#[derive(Debug)]
struct FollowedFeed {
    subscription_name: String,
    publisher_url: String,
    client: OnceCell<FeedClient>,
}

/// The feeds one service follows, as one agency.
#[derive(Debug, Clone)]
pub struct Following {
    own_feed: Feed,
    as_agency: AgencyId,
    transport: Transport,
    feeds: Vec<Arc<FollowedFeed>>,
}

impl Following {
    /// Follows nothing yet; events will be applied in transactions of `own_feed`, and the service
    /// subscribes as `as_agency`.
    pub fn new(own_feed: Feed, as_agency: AgencyId) -> Self {
        Self {
            own_feed,
            as_agency,
            transport: Transport::Plaintext,
            feeds: Vec::new(),
        }
    }

    /// Reaches the publishers over `transport` (plaintext unless told).
    pub fn over(mut self, transport: Transport) -> Self {
        self.transport = transport;
        self
    }

    /// Follows the feed at `publisher_url` in a task of its own (see
    /// [`run_subscription`](crate::run_subscription)), storing its cursor as `subscription_name`,
    /// until `shutdown` is cancelled.
    pub fn follow<H: EventHandler>(
        &mut self,
        subscription_name: &str,
        publisher_url: &str,
        handler: H,
        shutdown: CancellationToken,
    ) -> JoinHandle<Result<(), FeedError>> {
        self.feeds.push(Arc::new(FollowedFeed {
            subscription_name: subscription_name.to_owned(),
            publisher_url: publisher_url.to_owned(),
            client: OnceCell::new(),
        }));
        spawn_subscription(
            self.own_feed.clone(),
            subscription_name,
            publisher_url,
            self.as_agency,
            self.transport.clone(),
            handler,
            shutdown,
        )
    }

    /// Waits until every followed feed's stored cursor has reached the high-water mark its
    /// publisher reports now; returns the subscription names. Fails if a publisher cannot be
    /// asked, or a subscription has not caught up within two minutes.
    pub async fn caught_up(&self) -> Result<Vec<String>, FeedError> {
        for feed in &self.feeds {
            let mark = self.publisher_mark(feed).await?;
            let started = Instant::now();
            let mut lag_recorded = false;
            loop {
                let stored = self
                    .own_feed
                    .subscription_cursor(&feed.subscription_name)
                    .await?
                    .unwrap_or_default();
                // A cursor this service stored came from the same publisher, so it parses.
                let parsed = Cursor::parse(&stored);
                if !lag_recorded {
                    // Positions count events (roughly, on PostgreSQL, where they are handed out
                    // at insert): how many the subscription had yet to take in.
                    let from = parsed.as_ref().map_or(0, |stored| stored.position);
                    let behind = mark.position.saturating_sub(from).max(0);
                    record_feed_lag(
                        self.own_feed.publisher().service_name(),
                        &feed.subscription_name,
                        u64::try_from(behind).unwrap_or_default(),
                    );
                    lag_recorded = true;
                }
                if parsed.is_ok_and(|stored| stored >= mark) {
                    break;
                }
                if started.elapsed() > SETTLE_LIMIT {
                    return Err(FeedError::NotCaughtUp {
                        subscription: feed.subscription_name.clone(),
                        stored,
                        mark: mark.to_string(),
                    });
                }
                tokio::time::sleep(SETTLE_POLL).await;
            }
        }
        Ok(self
            .feeds
            .iter()
            .map(|feed| feed.subscription_name.clone())
            .collect())
    }

    async fn publisher_mark(&self, feed: &FollowedFeed) -> Result<Cursor, FeedError> {
        let client = feed
            .client
            .get_or_try_init(|| {
                FeedClient::connect_over(
                    &self.transport,
                    feed.publisher_url.clone(),
                    self.as_agency,
                )
            })
            .await?;
        let mark = client
            .clone()
            .high_water_mark()
            .await
            .map_err(FeedError::HighWaterMark)?;
        Cursor::parse(&mark).map_err(|_| FeedError::Corrupt {
            what: "high-water mark",
            value: mark,
        })
    }
}
