//! The hub's intake: the events of the court registry's and the CMS's feeds, recorded in the hub's
//! inbox in the same transaction as the feed cursor (so each arrives exactly once), to be acted on
//! when the hub's clock reaches their date ([`crate::work`]). Recording only, never acting, keeps
//! the hub's reactions in simulated time whatever the timing of delivery.

use familybridge_feed::{Following, Inbox};
use familybridge_runtime::Intake;
use tonic::Status;

/// The subscriptions' handler: records every event in the `hub_inbox` table.
pub const INBOX: Inbox = Inbox::new("hub_inbox");

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
