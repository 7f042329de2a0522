//! What can go wrong with publishing, serving and following a feed, with the cause kept for the
//! chain of `source()`s.

use std::error::Error;

/// A failure of the event feed.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// A query on the feed's tables failed.
    #[error("event feed database query failed")]
    Database(#[from] sqlx::Error),
    /// An event was appended to a stream the transaction had not locked (a defect in the caller:
    /// name every stream a command touches in [`Feed::begin`](crate::Feed::begin)).
    #[error("cannot append to stream {stream:?}: the transaction did not name it when it began")]
    StreamNotLocked {
        /// The stream appended to.
        stream: String,
    },
    /// The event payload could not be encoded.
    #[error("cannot encode the event payload")]
    Encode(#[from] prost::EncodeError),
    /// A stored event or cursor cannot be read back (the table was edited by hand).
    #[error("stored {what} {value:?} is unreadable")]
    Corrupt {
        /// What was being read.
        what: &'static str,
        /// The stored value.
        value: String,
    },
    /// A stream name is empty: every event belongs to a named stream.
    #[error("a stream name must not be empty")]
    EmptyStream,
    /// The publisher could not be reached, or its address is not a valid URL.
    #[error("cannot connect to the publisher at {url}")]
    Connect {
        /// The address given.
        url: String,
        /// The transport's reason.
        source: tonic::transport::Error,
    },
    /// The publisher refused the subscription for a reason retrying cannot mend: no identity, no
    /// data-sharing agreement, or a cursor it did not issue.
    #[error("the publisher refused the subscription: {0}")]
    Refused(tonic::Status),
    /// The publisher did not say how far its feed goes.
    #[error("the publisher did not report its high-water mark: {0}")]
    HighWaterMark(tonic::Status),
    /// A subscription did not reach its publisher's high-water mark in time: it is refused or
    /// its handler keeps failing (the log says which).
    #[error(
        "subscription {subscription:?} has not caught up: stored cursor {stored:?}, publisher's \
         high-water mark {mark:?}"
    )]
    NotCaughtUp {
        /// The subscription.
        subscription: String,
        /// The cursor it has stored.
        stored: String,
        /// The mark it should reach.
        mark: String,
    },
}

/// Why an [`EventHandler`](crate::EventHandler) could not apply an event. The event is offered
/// again after a pause; nothing of the failed attempt is kept.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The handler's own events could not be appended.
    #[error(transparent)]
    Feed(#[from] FeedError),
    /// The handler's own writes failed.
    #[error("the event handler's database query failed")]
    Database(#[from] sqlx::Error),
    /// The event's payload is not the message its type names.
    #[error("the event payload does not decode")]
    Decode(#[from] prost::DecodeError),
    /// Any other reason.
    #[error(transparent)]
    Other(Box<dyn Error + Send + Sync>),
}

impl HandlerError {
    /// Wraps any other error.
    pub fn other(error: impl Into<Box<dyn Error + Send + Sync>>) -> Self {
        HandlerError::Other(error.into())
    }
}
