//! Following another agency's feed.
//!
//! [`run_subscription`] is the subscriber every agency service uses: it applies each event in the
//! subscriber's own transaction together with the cursor that resumes after it, so that an event is
//! either handled and remembered, or neither. Delivery from the publisher is at least once (a
//! dropped connection resends what was in flight); resuming from the stored cursor makes it exactly
//! once in effect. Events already delivered are taken in together, in one transaction (a batch),
//! so a subscriber under load commits less often. Each event is handled in a span that continues the event's trace, so the
//! subscriber's taking it in shows in the journey it belongs to. [`FeedClient`] is the bare client
//! beneath it.

use std::error::Error;
use std::future::Future;
use std::pin::pin;
use std::time::Duration;

use familybridge_proto::common::v1::event_feed_client::EventFeedClient;
use familybridge_proto::common::v1::feed_message::Message;
use familybridge_proto::common::v1::{
    CountDisclosuresRequest, Event, FeedMessage, HighWaterMarkRequest, ListDisclosuresRequest,
    ListDisclosuresResponse, SubscribeRequest,
};
use familybridge_runtime::{
    TraceContext, TracedChannel, Transport, batch, continue_trace, trace_span,
};
use futures_util::FutureExt;
use tonic::{Code, Request, Status, Streaming};
use tracing::Instrument;

use crate::outbox::store_cursor;
use crate::{AgencyId, Feed, FeedError, FeedTransaction, HandlerError, Identity};

/// The first pause before reconnecting, doubled after each failure up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
/// The longest pause before reconnecting: a publisher back from a restart is found within it.
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// The most events taken in by one transaction.
const MAX_BATCH: usize = 256;

/// A client of one agency's EventFeed, calling as one identity (an agency to follow it; the
/// simulation or an auditor to read its audit log).
#[derive(Debug, Clone)]
pub struct FeedClient {
    client: EventFeedClient<TracedChannel>,
}

impl FeedClient {
    /// Connects to the publisher at `publisher_url` (e.g. `http://127.0.0.1:50061`) as `caller`, in
    /// plaintext.
    pub async fn connect(
        publisher_url: String,
        caller: impl Into<Identity>,
    ) -> Result<Self, FeedError> {
        Self::connect_over(&Transport::Plaintext, publisher_url, caller).await
    }

    /// Connects to the publisher at `publisher_url` as `caller` over `transport`.
    pub async fn connect_over(
        transport: &Transport,
        publisher_url: String,
        caller: impl Into<Identity>,
    ) -> Result<Self, FeedError> {
        let channel = transport
            .channel(&publisher_url, caller.into())
            .await
            .map_err(|source| FeedError::Connect {
                url: publisher_url.clone(),
                source,
            })?;
        Ok(Self {
            client: EventFeedClient::new(channel),
        })
    }

    /// Subscribes to the events after `from_cursor` (empty for the beginning).
    pub async fn subscribe(&mut self, from_cursor: &str) -> Result<Streaming<FeedMessage>, Status> {
        let request = Request::new(SubscribeRequest {
            from_cursor: from_cursor.to_owned(),
        });
        Ok(self.client.subscribe(request).await?.into_inner())
    }

    /// The cursor of the newest event the publisher has committed (empty when it has none).
    pub async fn high_water_mark(&mut self) -> Result<String, Status> {
        let request = Request::new(HighWaterMarkRequest {});
        Ok(self
            .client
            .high_water_mark(request)
            .await?
            .into_inner()
            .cursor)
    }

    /// Lists disclosures from the publisher's audit log.
    pub async fn list_disclosures(
        &mut self,
        request: ListDisclosuresRequest,
    ) -> Result<ListDisclosuresResponse, Status> {
        Ok(self.client.list_disclosures(request).await?.into_inner())
    }

    /// Counts disclosures in the publisher's audit log, for each stream prefix asked about.
    pub async fn count_disclosures(
        &mut self,
        request: CountDisclosuresRequest,
    ) -> Result<Vec<u64>, Status> {
        Ok(self
            .client
            .count_disclosures(request)
            .await?
            .into_inner()
            .counts)
    }
}

/// What a subscriber does with each event it receives.
pub trait EventHandler: Send + Sync + 'static {
    /// The streams of the subscriber's own feed that handling `event` may append to; by default the
    /// event's own stream (the case reference both agencies share). They are all locked when the
    /// transaction begins, before it writes anything (see [`Feed::begin`]).
    fn streams(&self, event: &Event) -> Vec<String> {
        vec![event.stream.clone()]
    }

    /// Applies one event inside the subscriber's own transaction (which may append the subscriber's
    /// own events). An `Err` stops the subscription without saving the cursor; the event is offered
    /// again after a pause.
    fn handle(
        &self,
        tx: &mut FeedTransaction,
        event: &Event,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send;

    /// Applies a delivery of events, in order, inside the subscriber's own transaction: by default
    /// each through [`EventHandler::handle`] in its own span. A handler that can take many events
    /// in a few statements (an [`Inbox`](crate::Inbox)) does so here; the outcome must be the one
    /// handling them one by one gives. An `Err` undoes the whole delivery, which is offered again.
    fn handle_batch(
        &self,
        tx: &mut FeedTransaction,
        received: &[Received],
    ) -> impl Future<Output = Result<(), HandlerError>> + Send {
        async move {
            for Received { event, span } in received {
                self.handle(tx, event)
                    .instrument(span.clone())
                    .await
                    .map_err(|source| {
                        HandlerError::other(HandlingFailed {
                            event_id: event.event_id.clone(),
                            source,
                        })
                    })?;
            }
            Ok(())
        }
    }
}

/// An event taken in, with the span that continues its trace in the subscriber.
#[derive(Debug)]
pub struct Received {
    /// The event as delivered.
    pub event: Event,
    /// The subscriber's span receiving it, a child of the span that caused it.
    pub span: tracing::Span,
}

/// Follows a feed in a task of its own, as a service does for each feed it subscribes to: see
/// [`run_subscription`]. The task ends when `shutdown` is cancelled, with the subscription's
/// outcome.
pub fn spawn_subscription<H: EventHandler>(
    own_feed: Feed,
    subscription_name: impl Into<String>,
    publisher_url: impl Into<String>,
    as_agency: AgencyId,
    transport: Transport,
    handler: H,
    shutdown: tokio_util::sync::CancellationToken,
) -> tokio::task::JoinHandle<Result<(), FeedError>> {
    let (name, url) = (subscription_name.into(), publisher_url.into());
    tokio::spawn(async move {
        run_subscription(
            &own_feed,
            &name,
            url,
            as_agency,
            &transport,
            handler,
            shutdown.cancelled_owned(),
        )
        .await
    })
}

/// Follows the feed at `publisher_url` as `as_agency`, over `transport`, until `shutdown` resolves, handing each
/// event to `handler` in a transaction of `own_feed` that also stores the cursor of subscription
/// `subscription_name`. Starts after the stored cursor (from the beginning the first time); after a
/// transport failure, the publisher going away or a handler error, reconnects with capped
/// exponential backoff and resumes from the stored cursor.
///
/// Returns `Ok` on shutdown, and an error only when the publisher refuses the subscription for a
/// reason retrying cannot mend: no identity or agreement, or a stored cursor it did not issue.
pub async fn run_subscription<H: EventHandler>(
    own_feed: &Feed,
    subscription_name: &str,
    publisher_url: String,
    as_agency: AgencyId,
    transport: &Transport,
    handler: H,
    shutdown: impl Future<Output = ()>,
) -> Result<(), FeedError> {
    let mut shutdown = pin!(shutdown);
    let mut backoff = FIRST_BACKOFF;
    loop {
        let follow = follow(
            own_feed,
            subscription_name,
            &publisher_url,
            as_agency,
            transport,
            &handler,
            &mut backoff,
        );
        let interruption = tokio::select! {
            () = &mut shutdown => return Ok(()),
            interruption = follow => interruption,
        };
        match interruption {
            Interruption::Refused(status) => {
                tracing::error!(subscription = subscription_name, %status, "subscription refused");
                return Err(FeedError::Refused(status));
            }
            Interruption::Ended => {
                tracing::info!(
                    subscription = subscription_name,
                    "the publisher ended the feed"
                );
            }
            Interruption::Failed(error) => {
                tracing::warn!(
                    subscription = subscription_name,
                    error = %familybridge_runtime::error_chain(error.as_ref()),
                    ?backoff,
                    "subscription interrupted"
                );
            }
        }
        tokio::select! {
            () = &mut shutdown => return Ok(()),
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// The handler could not apply an event.
#[derive(Debug, thiserror::Error)]
#[error("the handler failed on event {event_id}")]
struct HandlingFailed {
    event_id: String,
    source: HandlerError,
}

/// Why one connection's worth of following the feed stopped.
enum Interruption {
    /// The publisher ended the stream (it is shutting down): reconnect.
    Ended,
    /// Something that may mend by itself failed: reconnect after a pause.
    Failed(Box<dyn Error + Send + Sync>),
    /// The publisher refused the subscription: retrying will not help.
    Refused(Status),
}

impl From<FeedError> for Interruption {
    fn from(error: FeedError) -> Self {
        Interruption::Failed(error.into())
    }
}

impl From<Status> for Interruption {
    fn from(status: Status) -> Self {
        match status.code() {
            Code::Unauthenticated
            | Code::PermissionDenied
            | Code::InvalidArgument
            | Code::OutOfRange => Interruption::Refused(status),
            _ => Interruption::Failed(status.into()),
        }
    }
}

/// Applies a batch of events, in order, and stores the cursor after the last, in one transaction of
/// the subscriber's feed (locking every stream they may append to): a batch is handled and
/// remembered whole, or not at all. Each event is received in a span that continues its own trace.
async fn take_in<H: EventHandler>(
    own_feed: &Feed,
    name: &str,
    handler: &H,
    events: Vec<Event>,
) -> Result<(), Interruption> {
    let Some(last_cursor) = events.last().map(|last| last.cursor.clone()) else {
        return Ok(());
    };
    let streams: Vec<String> = events
        .iter()
        .flat_map(|event| handler.streams(event))
        .collect();
    let streams: Vec<&str> = streams.iter().map(String::as_str).collect();
    let service = own_feed.publisher().service_name();
    let taking_in = batch("feed.take_in", service, events.len());
    async {
        let received: Vec<Received> = events
            .into_iter()
            .map(|event| {
                let span = trace_span!(
                    "feed.receive",
                    otel.name = %format!("receive {}", event.event_type),
                    otel.kind = "consumer",
                    subscription = name,
                    event_id = %event.event_id,
                );
                continue_trace(&span, service, &TraceContext::from_event(&event));
                Received { event, span }
            })
            .collect();
        let mut transaction = own_feed.begin(&streams).await?;
        handler
            .handle_batch(&mut transaction, &received)
            .await
            .map_err(|error| Interruption::Failed(Box::new(error)))?;
        store_cursor(transaction.connection().await?, name, &last_cursor)
            .await
            .map_err(FeedError::from)?;
        transaction.commit().await?;
        Ok(())
    }
    .instrument(taking_in)
    .await
}

/// Connects once and handles events until the stream stops; every message handled resets
/// `backoff`, so that only consecutive failures slow reconnection down.
async fn follow<H: EventHandler>(
    own_feed: &Feed,
    name: &str,
    publisher_url: &str,
    as_agency: AgencyId,
    transport: &Transport,
    handler: &H,
    backoff: &mut Duration,
) -> Interruption {
    let outcome = async {
        let mut cursor = own_feed
            .subscription_cursor(name)
            .await?
            .unwrap_or_default();
        let mut client =
            FeedClient::connect_over(transport, publisher_url.to_owned(), as_agency).await?;
        let mut stream = client.subscribe(&cursor).await?;
        // A message read ahead while gathering a batch, to be dealt with next.
        let mut read_ahead: Option<Option<FeedMessage>> = None;
        loop {
            let message = match read_ahead.take() {
                Some(message) => message,
                None => stream.message().await?,
            };
            let Some(message) = message else { break };
            match message.message {
                Some(Message::Event(event)) => {
                    // Every event already delivered goes into one transaction: under load the
                    // subscriber keeps up with fewer, larger commits.
                    let mut events = vec![event];
                    while events.len() < MAX_BATCH {
                        match stream.message().now_or_never() {
                            Some(Ok(Some(FeedMessage {
                                message: Some(Message::Event(event)),
                            }))) => events.push(event),
                            Some(other) => {
                                read_ahead = Some(other?);
                                break;
                            }
                            None => break,
                        }
                    }
                    if let Some(last) = events.last() {
                        cursor = last.cursor.clone();
                    }
                    take_in(own_feed, name, handler, events).await?;
                }
                // Nothing to apply, but the subscriber need not rescan what it skipped.
                Some(Message::Heartbeat(heartbeat)) if heartbeat.high_water_mark != cursor => {
                    let mut write = own_feed
                        .database()
                        .begin_write()
                        .await
                        .map_err(FeedError::from)?;
                    store_cursor(&mut *write.transaction, name, &heartbeat.high_water_mark)
                        .await
                        .map_err(FeedError::from)?;
                    write.transaction.commit().await.map_err(FeedError::from)?;
                    cursor = heartbeat.high_water_mark;
                }
                // Nothing new; or a kind of message from a newer publisher, which this subscriber
                // cannot use.
                Some(Message::Heartbeat(_)) | None => {}
            }
            *backoff = FIRST_BACKOFF;
        }
        Ok::<(), Interruption>(())
    };
    match outcome.await {
        Ok(()) => Interruption::Ended,
        Err(interruption) => interruption,
    }
}
