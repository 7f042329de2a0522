//! The hub's intake: the events of the court registry's and the CMS's feeds, recorded in the hub's
//! inbox in the same transaction as the feed cursor (so each arrives exactly once), to be acted on
//! when the hub's clock reaches their date ([`crate::work`]). Recording only, never acting, keeps
//! the hub's reactions in simulated time whatever the timing of delivery.

use familybridge_feed::{EventHandler, FeedTransaction, Following, HandlerError, Inbox, Received};
use familybridge_proto::common::v1::Event;
use familybridge_runtime::Intake;
use tonic::Status;

/// The table the hub's inbox is kept in.
pub const INBOX: Inbox = Inbox::new("hub_inbox");

/// The subscriptions' handler: records each event in the inbox.
#[derive(Debug, Clone, Copy, Default)]
pub struct HubInbox;

impl EventHandler for HubInbox {
    /// The hub's own feed is not written while recording, so nothing needs locking.
    fn streams(&self, _event: &Event) -> Vec<String> {
        Vec::new()
    }

    async fn handle(&self, tx: &mut FeedTransaction, event: &Event) -> Result<(), HandlerError> {
        INBOX.record(tx, &[event]).await
    }

    /// A delivery is recorded a few hundred events a statement.
    async fn handle_batch(
        &self,
        tx: &mut FeedTransaction,
        received: &[Received],
    ) -> Result<(), HandlerError> {
        let events: Vec<&Event> = received.iter().map(|received| &received.event).collect();
        INBOX.record(tx, &events).await
    }
}

/// Settling the hub: every event its peers have published is in the inbox.
#[derive(Debug, Clone)]
pub struct HubIntake {
    following: Following,
}

impl HubIntake {
    /// The intake of the feeds in `following`.
    pub fn new(following: Following) -> Self {
        Self { following }
    }
}

impl Intake for HubIntake {
    async fn settle(&self) -> Result<Vec<String>, Status> {
        Ok(self.following.caught_up().await?)
    }
}
