//! `familybridge.referral.v1.ReferralHub`: what the hub has done, read back page by page —
//! referrals (with their status on the hub's current date), joint case reviews and pause requests.

use chrono::NaiveDate;
use familybridge_feed::Feed;
use familybridge_proto::referral::v1 as proto;
use familybridge_proto::referral::v1::referral_hub_server::ReferralHub;
use familybridge_runtime::machinery_failure;
use familybridge_storage::SimulatedClock;
use familybridge_storage::sqlx;
use tonic::{Request, Response, Status};

use familybridge_referral::Pathway;

/// The most rows a page holds, and the size of a page that asks for none in particular.
const PAGE: u32 = 1_000;

/// The hub's query service.
#[derive(Debug, Clone)]
pub struct HubQueries {
    feed: Feed,
    clock: SimulatedClock,
}

impl HubQueries {
    /// Queries over the hub's records, with referral statuses as of `clock`'s date.
    pub fn new(feed: Feed, clock: SimulatedClock) -> Self {
        Self { feed, clock }
    }
}

/// The page size a request asks for, within bounds.
fn page(limit: u32) -> i64 {
    i64::from(if limit == 0 { PAGE } else { limit.min(PAGE) })
}

/// The id to continue after, as the database stores ids.
fn after(after_id: u64) -> Result<i64, Status> {
    i64::try_from(after_id)
        .map_err(|_| Status::invalid_argument(format!("after_id: {after_id} is too large")))
}

fn id(value: i64) -> u64 {
    u64::try_from(value).unwrap_or_default()
}

/// A referral's status on `today` (`None`: the hub's clock has never moved).
fn referral_status(
    today: Option<NaiveDate>,
    accepted_on: &str,
    closes_on: &str,
) -> proto::ReferralStatus {
    let Some(today) = today.map(|date| date.format("%Y-%m-%d").to_string()) else {
        return proto::ReferralStatus::Made;
    };
    if today.as_str() >= closes_on {
        proto::ReferralStatus::Closed
    } else if today.as_str() >= accepted_on {
        proto::ReferralStatus::Accepted
    } else {
        proto::ReferralStatus::Made
    }
}

fn pathway(name: &str) -> proto::Pathway {
    match Pathway::from_name(name) {
        Some(Pathway::MentalHealth) => proto::Pathway::MentalHealth,
        Some(Pathway::DebtAdvice) => proto::Pathway::DebtAdvice,
        Some(Pathway::Mediation) => proto::Pathway::Mediation,
        Some(Pathway::DomesticAbuseSupport) => proto::Pathway::DomesticAbuseSupport,
        None => proto::Pathway::Unspecified,
    }
}

fn review_status(name: &str) -> proto::JointReviewStatus {
    match name {
        "open" => proto::JointReviewStatus::Open,
        "concluded_varied" => proto::JointReviewStatus::ConcludedVaried,
        "concluded_unchanged" => proto::JointReviewStatus::ConcludedUnchanged,
        _ => proto::JointReviewStatus::Unspecified,
    }
}

#[tonic::async_trait]
impl ReferralHub for HubQueries {
    async fn list_referrals(
        &self,
        request: Request<proto::ListReferralsRequest>,
    ) -> Result<Response<proto::ListReferralsResponse>, Status> {
        let request = request.into_inner();
        let today = self.clock.current_date().await.map_err(machinery_failure)?;
        type Row = (i64, String, String, String, String, String, String, String);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, person_ref, cms_case_reference, pathway, made_on, accepted_on, closes_on, \
             reason FROM hub_referrals WHERE id > $1 AND ($2 = '' OR person_ref = $2) \
             ORDER BY id LIMIT $3",
        )
        .bind(after(request.after_id)?)
        .bind(&request.person_ref)
        .bind(page(request.limit))
        .fetch_all(self.feed.database().pool())
        .await
        .map_err(machinery_failure)?;
        let referrals = rows
            .into_iter()
            .map(
                |(row_id, person_ref, case, name, made_on, accepted_on, closes_on, reason)| {
                    proto::Referral {
                        id: id(row_id),
                        status: referral_status(today, &accepted_on, &closes_on).into(),
                        person_ref,
                        cms_case_reference: case,
                        pathway: pathway(&name).into(),
                        made_on,
                        accepted_on,
                        closes_on,
                        reason,
                    }
                },
            )
            .collect();
        Ok(Response::new(proto::ListReferralsResponse { referrals }))
    }

    async fn list_joint_reviews(
        &self,
        request: Request<proto::ListJointReviewsRequest>,
    ) -> Result<Response<proto::ListJointReviewsResponse>, Status> {
        let request = request.into_inner();
        type Row = (
            i64,
            String,
            String,
            String,
            String,
            String,
            String,
            String,
            String,
            i64,
            String,
        );
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, court_case_reference, cms_case_reference, status, opened_on, \
             concluded_on, current_weekly_amount, projected_weekly_amount, projected_payer_ref, \
             roles_flip, decided_by_order_id FROM hub_reviews \
             WHERE id > $1 AND ($2 = '' OR cms_case_reference = $2) ORDER BY id LIMIT $3",
        )
        .bind(after(request.after_id)?)
        .bind(&request.cms_case_reference)
        .bind(page(request.limit))
        .fetch_all(self.feed.database().pool())
        .await
        .map_err(machinery_failure)?;
        let reviews = rows
            .into_iter()
            .map(
                |(
                    row_id,
                    court_case_reference,
                    cms_case_reference,
                    status,
                    opened_on,
                    concluded_on,
                    current_weekly_amount,
                    projected_weekly_amount,
                    projected_payer_ref,
                    roles_flip,
                    decided_by_order_id,
                )| proto::JointReview {
                    id: id(row_id),
                    court_case_reference,
                    cms_case_reference,
                    status: review_status(&status).into(),
                    opened_on,
                    concluded_on,
                    current_weekly_amount,
                    projected_weekly_amount,
                    projected_payer_ref,
                    roles_flip: roles_flip != 0,
                    decided_by_order_id,
                },
            )
            .collect();
        Ok(Response::new(proto::ListJointReviewsResponse { reviews }))
    }

    async fn list_pause_requests(
        &self,
        request: Request<proto::ListPauseRequestsRequest>,
    ) -> Result<Response<proto::ListPauseRequestsResponse>, Status> {
        let request = request.into_inner();
        type Row = (i64, String, String, String, String, i64, i64);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, cms_case_reference, person_ref, starts_on, review_on, reviewed, \
             still_distressed FROM hub_pauses \
             WHERE id > $1 AND ($2 = '' OR cms_case_reference = $2) ORDER BY id LIMIT $3",
        )
        .bind(after(request.after_id)?)
        .bind(&request.cms_case_reference)
        .bind(page(request.limit))
        .fetch_all(self.feed.database().pool())
        .await
        .map_err(machinery_failure)?;
        let pauses = rows
            .into_iter()
            .map(
                |(
                    row_id,
                    cms_case_reference,
                    person_ref,
                    starts_on,
                    review_on,
                    reviewed,
                    still,
                )| {
                    proto::PauseRequest {
                        id: id(row_id),
                        cms_case_reference,
                        person_ref,
                        starts_on,
                        review_on,
                        reviewed: reviewed != 0,
                        still_distressed_at_review: still != 0,
                    }
                },
            )
            .collect();
        Ok(Response::new(proto::ListPauseRequestsResponse { pauses }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_referral_is_made_then_accepted_then_closed() {
        let on = |text: &str| Some(text.parse::<NaiveDate>().expect("a date"));
        let status = |today| referral_status(today, "2025-05-15", "2025-08-07");
        assert_eq!(status(None), proto::ReferralStatus::Made);
        assert_eq!(status(on("2025-05-14")), proto::ReferralStatus::Made);
        assert_eq!(status(on("2025-05-15")), proto::ReferralStatus::Accepted);
        assert_eq!(status(on("2025-08-07")), proto::ReferralStatus::Closed);
    }
}
