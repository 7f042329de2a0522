//! The hub's intake: the events of the court registry's and the CMS's feeds, recorded in the hub's
//! inbox in the same transaction as the feed cursor (so each arrives exactly once), to be acted on
//! when the hub's clock reaches their date ([`crate::work`]). Recording only, never acting, keeps
//! the hub's reactions in simulated time whatever the timing of delivery.

use familybridge_feed::{EventHandler, FeedTransaction, Following, HandlerError};
use familybridge_proto::common::v1::{Agency, Event};
use familybridge_runtime::Intake;
use familybridge_storage::sqlx;
use tonic::Status;

/// The subscriptions' handler: records each event in the inbox.
#[derive(Debug, Clone, Copy, Default)]
pub struct HubInbox;

impl EventHandler for HubInbox {
    /// The hub's own feed is not written while recording, so nothing needs locking.
    fn streams(&self, _event: &Event) -> Vec<String> {
        Vec::new()
    }

    async fn handle(&self, tx: &mut FeedTransaction, event: &Event) -> Result<(), HandlerError> {
        let publisher = match event.publisher() {
            Agency::CourtRegistry => "court-registry",
            Agency::Cms => "cms",
            Agency::ReferralHub | Agency::Unspecified => "other",
        };
        let trace = event.trace_context.clone().unwrap_or_default();
        let payload = event
            .payload
            .as_ref()
            .map(|payload| payload.value.clone())
            .unwrap_or_default();
        sqlx::query(
            "INSERT INTO hub_inbox (event_id, publisher, event_type, stream, sequence, \
             effective_date, traceparent, tracestate, payload) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (event_id) DO NOTHING",
        )
        .bind(&event.event_id)
        .bind(publisher)
        .bind(&event.event_type)
        .bind(&event.stream)
        .bind(i64::try_from(event.sequence).map_err(HandlerError::other)?)
        .bind(&event.effective_date)
        .bind(trace.traceparent)
        .bind(trace.tracestate)
        .bind(payload)
        .execute(tx.connection().await?)
        .await?;
        Ok(())
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
