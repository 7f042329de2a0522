//! `familybridge.common.v1.EventFeed`: an agency's outbox served to the agencies entitled to it.
//!
//! Each subscription is a task that reads the outbox in batches after the subscriber's cursor,
//! strips each event to what the subscriber's agreement permits, records the batch's disclosures,
//! and only then sends the events down an mpsc channel whose receiver is the response stream (the
//! shape of tonic's streaming examples: the task learns the client left when a send fails). Caught
//! up, it sends a heartbeat carrying the cursor of the last event it scanned, whether or not the
//! subscriber was entitled to it, so that a subscriber entitled to little does not rescan the feed
//! from far back; then it waits for a commit in this process, or the poll interval, since other
//! processes may write to the same database. The size of each batch sent is recorded
//! (`familybridge.batch.size`, batch `feed.deliver`).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use familybridge_proto::common::v1::event_feed_server::{EventFeed, EventFeedServer};
use familybridge_proto::common::v1::feed_message::Message;
use familybridge_proto::common::v1::{
    Agency, CountDisclosuresRequest, CountDisclosuresResponse, Event, FeedMessage, Heartbeat,
    HighWaterMarkRequest, HighWaterMarkResponse, ListDisclosuresRequest, ListDisclosuresResponse,
    SubscribeRequest,
};
use familybridge_runtime::{Caller, record_batch_size};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use crate::cursor::Cursor;
use crate::disclosures::{self, ListError, PendingDisclosure};
use crate::outbox::StoredEvent;
use crate::{AgencyId, DataSharingAgreements, Feed, FeedError};

/// The RPCs of the feed, as access rules and refusals name them.
const SUBSCRIBE: &str = "familybridge.common.v1.EventFeed/Subscribe";
const HIGH_WATER_MARK: &str = "familybridge.common.v1.EventFeed/HighWaterMark";
const LIST_DISCLOSURES: &str = "familybridge.common.v1.EventFeed/ListDisclosures";
const COUNT_DISCLOSURES: &str = "familybridge.common.v1.EventFeed/CountDisclosures";

/// How many messages a subscription may have produced that the client has not yet taken.
const CHANNEL_CAPACITY: usize = 64;

/// How a feed is served.
#[derive(Debug, Clone)]
pub struct FeedOptions {
    /// The most events read from the outbox at once (and audited in one transaction).
    pub batch_size: u32,
    /// How often an idle subscription looks for events written by other processes; commits made
    /// through this process's [`Feed`] wake it at once.
    pub poll_interval: Duration,
    /// The least time between two heartbeats while the feed is idle.
    pub heartbeat_interval: Duration,
    /// Ends every subscription when cancelled. It must be cancelled when the server shuts down
    /// (see [`FeedOptions::end_subscriptions_on`]): a graceful shutdown waits for every open call
    /// to finish, and a subscription never finishes by itself.
    pub shutdown: CancellationToken,
}

impl FeedOptions {
    /// Wraps a server's `shutdown` future so that, when it resolves, every subscription served with
    /// these options ends, letting the graceful shutdown complete. Pass the returned future to the
    /// server in place of `shutdown`:
    ///
    /// ```no_run
    /// # use familybridge_feed::{DataSharingAgreements, Feed, FeedOptions};
    /// # use familybridge_runtime::{GrpcHost, HostError};
    /// # async fn serve(
    /// #     feed: Feed,
    /// #     agreements: DataSharingAgreements,
    /// #     listener: tokio::net::TcpListener,
    /// #     shutdown: impl Future<Output = ()> + Send + 'static,
    /// # ) -> Result<(), HostError> {
    /// let options = FeedOptions::default();
    /// let shutdown = options.end_subscriptions_on(shutdown);
    /// GrpcHost::new("court-registry")
    ///     .add_service(feed.service(agreements, options))
    ///     .serve(listener, shutdown)
    ///     .await
    /// # }
    /// ```
    pub fn end_subscriptions_on<F>(&self, shutdown: F) -> impl Future<Output = ()> + Send + use<F>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let subscriptions = self.shutdown.clone();
        async move {
            shutdown.await;
            subscriptions.cancel();
        }
    }
}

impl Default for FeedOptions {
    /// 500 events a batch, a poll every 250 ms, a heartbeat at most every second, and a shutdown
    /// token of its own, to be tied to the server's with [`FeedOptions::end_subscriptions_on`].
    fn default() -> Self {
        Self {
            batch_size: 500,
            poll_interval: Duration::from_millis(250),
            heartbeat_interval: Duration::from_secs(1),
            shutdown: CancellationToken::new(),
        }
    }
}

/// The EventFeed service over one agency's outbox.
#[derive(Debug, Clone)]
pub struct FeedService {
    feed: Feed,
    agreements: Arc<DataSharingAgreements>,
    options: FeedOptions,
}

impl Feed {
    /// The gRPC service serving this feed to the agencies `agreements` entitle.
    pub fn service(
        &self,
        agreements: DataSharingAgreements,
        options: FeedOptions,
    ) -> EventFeedServer<FeedService> {
        EventFeedServer::new(FeedService {
            feed: self.clone(),
            agreements: Arc::new(agreements),
            options: FeedOptions {
                // A batch of none would never make progress.
                batch_size: options.batch_size.max(1),
                ..options
            },
        })
    }
}

impl FeedService {
    /// The agency making the call to `rpc`, if it has an agreement with this publisher: the
    /// caller as the access layer verified it, never a name the request gives.
    async fn recipient<T>(&self, request: &Request<T>, rpc: &str) -> Result<AgencyId, Status> {
        let caller = Caller::of(request)?;
        let Some(agency) = caller.identity().agency() else {
            let reason = format!(
                "{} is not an agency: only agencies follow feeds",
                caller.identity()
            );
            return Err(caller.refuse(rpc, reason).await);
        };
        if self.agreements.agreement(agency).is_none() {
            let reason = format!(
                "{agency} has no data-sharing agreement with {}",
                self.feed.publisher()
            );
            return Err(caller.refuse(rpc, reason).await);
        }
        Ok(agency)
    }
}

/// An agency reads only what was disclosed to it (`recipient` must name it); the simulation and
/// auditors read all. A refusal is recorded and counted as every access refusal is.
async fn only_its_own<T>(request: &Request<T>, recipient: i32, rpc: &str) -> Result<(), Status> {
    let caller = Caller::of(request)?;
    if let Some(agency) = caller.identity().agency()
        && recipient != Agency::from(agency) as i32
    {
        let reason = format!(
            "recipient: {agency} may read only the disclosures made to it: set recipient to {}",
            Agency::from(agency).as_str_name()
        );
        return Err(caller.refuse(rpc, reason).await);
    }
    Ok(())
}

impl From<ListError> for Status {
    fn from(error: ListError) -> Self {
        match error {
            ListError::Invalid(message) => Status::invalid_argument(message),
            ListError::Feed(error) => unavailable(error),
        }
    }
}

/// A failure of the feed's database, as the subscriber sees it: worth retrying.
fn unavailable(error: FeedError) -> Status {
    let described = familybridge_runtime::error_chain(&error);
    tracing::error!(error = %described, "event feed failed");
    Status::unavailable(format!("the event feed is unavailable: {described}"))
}

#[tonic::async_trait]
impl EventFeed for FeedService {
    type SubscribeStream = ReceiverStream<Result<FeedMessage, Status>>;

    async fn subscribe(
        &self,
        request: Request<SubscribeRequest>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        let recipient = self.recipient(&request, SUBSCRIBE).await?;
        let from = &request.get_ref().from_cursor;
        let cursor = Cursor::parse(from)
            .map_err(|error| Status::invalid_argument(format!("from_cursor: {error}")))?;
        let newest = self.feed.newest_position().await.map_err(unavailable)?;
        if cursor.position > newest {
            return Err(Status::out_of_range(format!(
                "from_cursor: {from:?} is beyond the end of the feed (the newest event is at \
                 position {newest}); it is not a cursor this feed issued"
            )));
        }
        let (sender, receiver) = mpsc::channel(CHANNEL_CAPACITY);
        let subscription = Subscription {
            feed: self.feed.clone(),
            agreements: Arc::clone(&self.agreements),
            recipient,
            options: self.options.clone(),
            cursor,
            sender,
        };
        tracing::info!(%recipient, from = %cursor, "subscription started");
        tokio::spawn(subscription.run());
        Ok(Response::new(ReceiverStream::new(receiver)))
    }

    async fn list_disclosures(
        &self,
        request: Request<ListDisclosuresRequest>,
    ) -> Result<Response<ListDisclosuresResponse>, Status> {
        only_its_own(&request, request.get_ref().recipient, LIST_DISCLOSURES).await?;
        match disclosures::list(self.feed.database(), request.get_ref()).await {
            Ok(disclosures) => Ok(Response::new(ListDisclosuresResponse { disclosures })),
            Err(error) => Err(error.into()),
        }
    }

    async fn count_disclosures(
        &self,
        request: Request<CountDisclosuresRequest>,
    ) -> Result<Response<CountDisclosuresResponse>, Status> {
        only_its_own(&request, request.get_ref().recipient, COUNT_DISCLOSURES).await?;
        match disclosures::count(self.feed.database(), request.get_ref()).await {
            Ok(counts) => Ok(Response::new(CountDisclosuresResponse { counts })),
            Err(error) => Err(error.into()),
        }
    }

    async fn high_water_mark(
        &self,
        request: Request<HighWaterMarkRequest>,
    ) -> Result<Response<HighWaterMarkResponse>, Status> {
        self.recipient(&request, HIGH_WATER_MARK).await?;
        let mark = self.feed.high_water_mark().await.map_err(unavailable)?;
        Ok(Response::new(HighWaterMarkResponse {
            cursor: mark.to_string(),
        }))
    }
}

/// One subscriber's reading of the feed.
struct Subscription {
    feed: Feed,
    agreements: Arc<DataSharingAgreements>,
    recipient: AgencyId,
    options: FeedOptions,
    /// The last event scanned, whether sent or not.
    cursor: Cursor,
    sender: mpsc::Sender<Result<FeedMessage, Status>>,
}

/// Why a subscription ended.
enum End {
    /// The client left or the server is shutting down: nobody to tell.
    Quietly,
    /// The subscription failed; the client is told why.
    Failed(Status),
}

impl Subscription {
    async fn run(mut self) {
        match self.follow().await {
            End::Quietly => {}
            End::Failed(status) => {
                // The client may already be gone; there is nobody else to tell.
                let _ = self.sender.send(Err(status)).await;
            }
        }
        tracing::info!(recipient = %self.recipient, at = %self.cursor, "subscription ended");
    }

    /// Sends batches and heartbeats until the client leaves, the server shuts down, or the feed
    /// fails.
    async fn follow(&mut self) -> End {
        let mut commits = self.feed.commits();
        // The cursor and time of the last heartbeat sent.
        let mut last_heartbeat: Option<(Cursor, Instant)> = None;
        loop {
            // Marked seen before reading: a commit from here on wakes the wait below, so none is
            // missed between the read and the wait.
            commits.borrow_and_update();
            let batch = match self
                .feed
                .read_after(self.cursor, self.options.batch_size)
                .await
            {
                Ok(batch) => batch,
                Err(error) => return End::Failed(unavailable(error)),
            };
            let full = batch.len() >= self.options.batch_size as usize;
            if let Err(end) = self.deliver(batch).await {
                return end;
            }
            if full {
                continue;
            }

            let heartbeat_due = last_heartbeat.is_none_or(|(mark, sent)| {
                mark != self.cursor || sent.elapsed() >= self.options.heartbeat_interval
            });
            if heartbeat_due {
                let heartbeat = Message::Heartbeat(Heartbeat {
                    high_water_mark: self.cursor.to_string(),
                });
                if !self.send(heartbeat).await {
                    return End::Quietly;
                }
                last_heartbeat = Some((self.cursor, Instant::now()));
            }
            let next_heartbeat = last_heartbeat
                .map(|(_, sent)| sent + self.options.heartbeat_interval)
                .unwrap_or_else(Instant::now);
            let wake = (Instant::now() + self.options.poll_interval).min(next_heartbeat);
            tokio::select! {
                // The sender lives as long as the feed this task holds: this never fails.
                _ = commits.changed() => {}
                () = tokio::time::sleep_until(wake) => {}
                () = self.sender.closed() => return End::Quietly,
                () = self.options.shutdown.cancelled() => return End::Quietly,
            }
        }
    }

    /// Strips, audits and sends the events of `batch` the subscriber is entitled to, and moves
    /// the cursor past all of them. The audit records are committed before the first event is
    /// sent: nothing leaves without one.
    async fn deliver(&mut self, batch: Vec<StoredEvent>) -> Result<(), End> {
        let Some(last) = batch.last().map(|event| event.cursor) else {
            return Ok(());
        };
        let Some(agreement) = self.agreements.agreement(self.recipient) else {
            // Checked when the subscription began, and agreements do not change while served.
            return Err(End::Failed(Status::permission_denied(format!(
                "{} has no data-sharing agreement with {}",
                self.recipient,
                self.feed.publisher()
            ))));
        };
        let mut outgoing = Vec::new();
        for event in &batch {
            let minimised = agreement
                .minimise(&event.event_type, &event.payload)
                .map_err(|error| {
                    tracing::error!(event_id = %event.event_id, %error, "stored event does not decode");
                    End::Failed(Status::internal(format!(
                        "event {} is not a valid {}: {error}",
                        event.event_id, event.event_type
                    )))
                })?;
            if let Some(minimised) = minimised {
                outgoing.push((event, minimised));
            }
        }
        let pending: Vec<PendingDisclosure<'_>> = outgoing
            .iter()
            .map(|(event, minimised)| PendingDisclosure {
                recipient: self.recipient,
                event_id: &event.event_id,
                event_type: &event.event_type,
                stream: &event.stream,
                fields: &minimised.fields,
                purpose: agreement.purpose(),
                legal_basis: agreement.legal_basis(),
                effective_date: &event.effective_date,
            })
            .collect();
        disclosures::record(self.feed.database(), &pending)
            .await
            .map_err(|error| End::Failed(unavailable(error)))?;
        if !outgoing.is_empty() {
            record_batch_size(
                self.feed.publisher().service_name(),
                "feed.deliver",
                outgoing.len(),
            );
        }

        let publisher: i32 = Agency::from(self.feed.publisher()).into();
        for (event, minimised) in outgoing {
            let event = Event {
                event_id: event.event_id.clone(),
                cursor: event.cursor.to_string(),
                stream: event.stream.clone(),
                sequence: event.sequence,
                event_type: event.event_type.clone(),
                effective_date: event.effective_date.clone(),
                trace_context: Some(event.trace.clone().into()),
                payload: Some(prost_types::Any {
                    type_url: event.payload_type_url.clone(),
                    value: minimised.payload,
                }),
                publisher,
            };
            if !self.send(Message::Event(event)).await {
                return Err(End::Quietly);
            }
        }
        self.cursor = last;
        Ok(())
    }

    /// Sends one message; false if the client has left or the server is shutting down.
    async fn send(&self, message: Message) -> bool {
        let message = Ok(FeedMessage {
            message: Some(message),
        });
        tokio::select! {
            sent = self.sender.send(message) => sent.is_ok(),
            () = self.options.shutdown.cancelled() => false,
        }
    }
}
