//! The event feed every familybridge agency publishes through, and the subscriber every agency
//! reads the others' feeds with.
//!
//! Each agency service owns one database. A command that changes it records the events it causes
//! in the same transaction ([`Feed::begin`], [`FeedTransaction::append`], [`FeedTransaction::commit`]):
//! the transactional outbox, so that an event exists exactly when its change does. The outbox is
//! served as `familybridge.common.v1.EventFeed` ([`Feed::service`]): to each agency only the event
//! types, and within them only the fields, that its data-sharing agreement
//! ([`DataSharingAgreements`]) allows, each disclosure written to an audit log before it leaves.
//! Subscriptions never end by themselves, so a server must end them when it shuts down
//! ([`FeedOptions::end_subscriptions_on`]), or its graceful shutdown waits for ever.
//!
//! On the other side, [`run_subscription`] follows another agency's feed and applies each event in
//! the subscriber's own transaction together with the cursor that resumes after it, so that
//! at-least-once delivery becomes exactly-once in effect. [`FeedClient`] is the bare client beneath
//! it, for tests and tools.
//!
//! A subscriber that acts on events later, in simulated time, records them in an [`Inbox`] first.
//!
//! A service follows other agencies' feeds through [`Following`], which also tells a simulation
//! when the service has caught up with them (the `Settle` barrier between simulation steps).
//!
//! Each event carries the trace context of the span that caused it ([`TraceContext`]), and the
//! subscriber opens a span continuing it for each event it takes in, so a family's journey stays
//! one trace across the feed.
//!
//! The outbox tables come with [`MIGRATIONS`] (versions 2001 onwards), which every service using
//! the feed adds to its own.

mod agreements;
mod client;
mod command;
mod cursor;
mod disclosures;
mod error;
mod following;
mod inbox;
mod outbox;
mod server;

pub use agreements::{Agreement, AgreementError, DataSharingAgreements};
pub use client::{EventHandler, FeedClient, Received, run_subscription, spawn_subscription};
pub use command::{
    CaseCommands, CommandContext, CommandSettings, DateWindow, Entry, InvalidDateWindow,
    MAX_BATCH_ENTRIES, parse_date,
};
pub use error::{FeedError, HandlerError};
/// The W3C trace context each event carries, from the shared telemetry.
pub use familybridge_runtime::TraceContext;
/// Who takes part, from the shared access control.
pub use familybridge_runtime::{AgencyId, Identity, UnknownAgency};
pub use following::Following;
pub use inbox::Inbox;
pub use outbox::{Appended, Feed, FeedTransaction, OutgoingEvent};
pub use server::{FeedOptions, FeedService};

use familybridge_storage::MigrationSet;

/// Who may call the feed's RPCs (`access.toml`): part of every publishing service's policy.
pub const ACCESS_POLICY: &str = include_str!("../access.toml");

/// The feed's tables: the outbox, the disclosure audit log and the subscription cursors. Add them to
/// the service's own migrations when connecting its database.
pub const MIGRATIONS: MigrationSet = familybridge_storage::embed_migrations!(
    2001 "feed_events",
    2002 "feed_disclosures",
    2003 "feed_subscriptions",
    2004 "feed_redeliveries",
);
