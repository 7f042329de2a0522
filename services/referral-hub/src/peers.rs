//! The hub's calls to the other agencies: the CMS (pauses, projections, reported decisions) and
//! the court registry (review findings). Every call is an idempotent command whose client request
//! id is derived from the inbox event that caused it, so a hub that crashes after calling and
//! before recording calls again and is answered as the first time. Each call carries the trace
//! context of the span it is made in (the handling of the event), through the shared traced
//! channel.

use familybridge_proto::cms::v1 as cms;
use familybridge_proto::cms::v1::case_service_client::CaseServiceClient;
use familybridge_proto::court::v1 as court;
use familybridge_proto::court::v1::court_registry_client::CourtRegistryClient;
use familybridge_runtime::{AgencyId, TracedChannel, Transport};
use tonic::Status;

/// The agencies the hub calls.
#[derive(Debug, Clone)]
pub struct Peers {
    cms: CaseServiceClient<TracedChannel>,
    court: CourtRegistryClient<TracedChannel>,
}

/// A peer's address is not a URL.
#[derive(Debug, thiserror::Error)]
#[error("{setting}: {url:?} is not a gRPC address")]
pub struct BadPeerUrl {
    /// The setting.
    pub setting: &'static str,
    /// The value given.
    pub url: String,
    source: tonic::transport::Error,
}

fn lazy(
    transport: &Transport,
    setting: &'static str,
    url: &str,
) -> Result<TracedChannel, BadPeerUrl> {
    // Lazily: the hub may start before its peers, and reconnects by itself if one restarts.
    transport
        .lazy_channel(url, AgencyId::ReferralHub.into())
        .map_err(|source| BadPeerUrl {
            setting,
            url: url.to_owned(),
            source,
        })
}

impl Peers {
    /// Clients of the CMS at `cms_url` and the court registry at `court_registry_url`, over
    /// `transport`.
    pub fn new(
        transport: &Transport,
        cms_url: &str,
        court_registry_url: &str,
    ) -> Result<Self, BadPeerUrl> {
        Ok(Self {
            cms: CaseServiceClient::new(lazy(transport, "cms_url", cms_url)?),
            court: CourtRegistryClient::new(lazy(
                transport,
                "court_registry_url",
                court_registry_url,
            )?),
        })
    }

    /// Asks the CMS to pause enforcement escalation.
    pub async fn request_pause(
        &self,
        request: cms::RequestEnforcementPauseRequest,
    ) -> Result<(), Status> {
        self.cms
            .clone()
            .request_enforcement_pause(request)
            .await
            .map(|_| ())
    }

    /// Asks the CMS for the liability under a proposed arrangement.
    pub async fn project_liability(
        &self,
        request: cms::ProjectLiabilityRequest,
    ) -> Result<cms::ProjectLiabilityResponse, Status> {
        Ok(self
            .cms
            .clone()
            .project_liability(request)
            .await?
            .into_inner())
    }

    /// Reports the court's decision to the CMS.
    pub async fn report_court_order(
        &self,
        request: cms::ReportCourtOrderRequest,
    ) -> Result<(), Status> {
        self.cms
            .clone()
            .report_court_order(request)
            .await
            .map(|_| ())
    }

    /// Attaches a review's findings to the court case.
    pub async fn attach_review_findings(
        &self,
        request: court::AttachReviewFindingsRequest,
    ) -> Result<(), Status> {
        self.court
            .clone()
            .attach_review_findings(request)
            .await
            .map(|_| ())
    }
}
