//! The registry's commands over gRPC, on both backends: a case's course from application to
//! variation, retries answered as the first call was, and refusals that name the field or say why.

mod support;

use familybridge_proto::court::v1::court_registry_client::CourtRegistryClient;
use familybridge_proto::court::v1::{
    AttachReviewFindingsRequest, CaseStatus, CloseCaseRequest, ClosureReason, GetCaseRequest,
    ReviewFindings,
};
use familybridge_runtime::AgencyId;
use familybridge_testing::{TestDatabase, on_both_backends};
use support::{apply_to_vary, open_case, order, registry_client, start_registry};
use tonic::Code;

async fn a_case_runs_its_course_and_retries_change_nothing(database: TestDatabase) {
    let server = start_registry(&database).await;
    let mut registry = registry_client(&server).await;

    let opened = registry
        .open_case(open_case("r1", "FB25P00001", "2025-01-06"))
        .await
        .expect("open")
        .into_inner();
    assert_eq!(opened.event_ids, ["court-registry/FB25P00001/1"]);
    let interim = registry
        .make_interim_order(order("r2", "FB25P00001", "2025-02-03", 60))
        .await
        .expect("interim")
        .into_inner();
    assert_eq!(
        interim.event_ids,
        ["court-registry/FB25P00001/2", "court-registry/FB25P00001/3"]
    );
    let final_order = registry
        .make_final_order(order("r3", "FB25P00001", "2025-10-06", 120))
        .await
        .expect("final")
        .into_inner();
    let case = final_order.case.clone().expect("the case");
    assert_eq!(case.status(), CaseStatus::FinalOrder);
    assert_eq!(case.orders.len(), 2);

    // The same command again, with the same id: the same answer, and nothing new recorded.
    let retried = registry
        .make_final_order(order("r3", "FB25P00001", "2025-10-06", 120))
        .await
        .expect("a retry is answered")
        .into_inner();
    assert_eq!(retried, final_order);
    // The same id for a different request is a client mistake, not a retry.
    let reused = registry
        .make_final_order(order("r3", "FB25P00001", "2025-10-07", 130))
        .await
        .expect_err("a reused id");
    assert_eq!(reused.code(), Code::InvalidArgument);
    assert!(
        reused.message().starts_with("client_request_id:"),
        "{reused:?}"
    );

    // 120 → 170 nights away moves band 2 (104–155) to band 3 (156–174).
    let varied = registry
        .apply_to_vary(apply_to_vary("r4", "FB25P00001", "2026-01-05", 170))
        .await
        .expect("apply to vary")
        .into_inner();
    let pending = varied
        .case
        .and_then(|case| case.pending_variation)
        .expect("a pending variation");
    assert!(pending.proposes_shared_care_band_change);
    assert!(!pending.proposes_residence_change);
    registry
        .make_variation_order(order("r5", "FB25P00001", "2026-03-02", 170))
        .await
        .expect("variation order");

    let stored = registry
        .get_case(GetCaseRequest {
            case_reference: "FB25P00001".to_owned(),
        })
        .await
        .expect("read the case")
        .into_inner();
    assert_eq!(stored.status(), CaseStatus::FinalOrder);
    assert_eq!(
        stored
            .orders
            .iter()
            .map(|order| order.order_id.as_str())
            .collect::<Vec<_>>(),
        [
            "FB25P00001/order-1",
            "FB25P00001/order-2",
            "FB25P00001/order-3"
        ]
    );
    assert_eq!(stored.last_changed_on, "2026-03-02");
    server.stop().await;
}

fn findings_request(
    id: &str,
    date: &str,
    findings: Option<ReviewFindings>,
) -> AttachReviewFindingsRequest {
    AttachReviewFindingsRequest {
        client_request_id: id.to_owned(),
        case_reference: "FB25P00003".to_owned(),
        effective_date: date.to_owned(),
        findings,
    }
}

fn findings(projected: &str) -> ReviewFindings {
    ReviewFindings {
        review_id: "review-1".to_owned(),
        cms_case_reference: "CMS-1".to_owned(),
        current_weekly_amount: "57.00".to_owned(),
        projected_weekly_amount: projected.to_owned(),
        projected_payer_ref: "person-2".to_owned(),
        roles_flip: false,
        notes: Vec::new(),
        attached_on: String::new(),
    }
}

async fn review_findings_attach_only_to_a_pending_variation_and_name_a_bad_field(
    database: TestDatabase,
) {
    let server = start_registry(&database).await;
    let mut registry = registry_client(&server).await;
    registry
        .open_case(open_case("f1", "FB25P00003", "2025-01-06"))
        .await
        .expect("open");
    registry
        .make_final_order(order("f2", "FB25P00003", "2025-03-03", 60))
        .await
        .expect("final");

    // Findings come from the joint review the referral hub convenes.
    let mut hub = CourtRegistryClient::new(server.channel_as(AgencyId::ReferralHub.into()));
    let too_soon = hub
        .attach_review_findings(findings_request(
            "f3",
            "2025-04-07",
            Some(findings("31.50")),
        ))
        .await
        .expect_err("nothing pending");
    assert_eq!(too_soon.code(), Code::FailedPrecondition, "{too_soon:?}");

    registry
        .apply_to_vary(apply_to_vary("f4", "FB25P00003", "2025-05-05", 170))
        .await
        .expect("apply to vary");
    let missing = hub
        .attach_review_findings(findings_request("f5", "2025-05-12", None))
        .await
        .expect_err("no findings");
    assert_eq!(missing.code(), Code::InvalidArgument);
    assert!(
        missing.message().starts_with("findings: required"),
        "{missing:?}"
    );
    let malformed = hub
        .attach_review_findings(findings_request(
            "f6",
            "2025-05-12",
            Some(findings("£31.50")),
        ))
        .await
        .expect_err("not an amount");
    assert_eq!(malformed.code(), Code::InvalidArgument);
    assert!(
        malformed
            .message()
            .starts_with("findings.projected_weekly_amount:"),
        "{malformed:?}"
    );

    let attached = hub
        .attach_review_findings(findings_request(
            "f7",
            "2025-05-12",
            Some(findings("31.50")),
        ))
        .await
        .expect("attached")
        .into_inner();
    assert!(
        attached.event_ids.is_empty(),
        "findings are the court's to read"
    );
    let case = attached.case.expect("the case");
    assert_eq!(case.review_findings.len(), 1);
    assert_eq!(case.review_findings[0].attached_on, "2025-05-12");
    assert_eq!(case.review_findings[0].projected_weekly_amount, "31.50");
}

on_both_backends!(
    review_findings_attach_only_to_a_pending_variation_and_name_a_bad_field,
    a_case_runs_its_course_and_retries_change_nothing
);

#[tokio::test]
async fn bad_commands_name_the_field_or_say_why_not() {
    let database = TestDatabase::sqlite();
    let server = start_registry(&database).await;
    let mut registry = registry_client(&server).await;
    registry
        .open_case(open_case("o1", "FB1", "2025-01-06"))
        .await
        .expect("open");

    let expect = |result: Result<tonic::Response<_>, tonic::Status>, code: Code, start: &str| {
        let status = result.expect_err("refused");
        assert_eq!(status.code(), code, "{status:?}");
        assert!(status.message().starts_with(start), "{start}: {status:?}");
    };
    expect(
        registry.open_case(open_case("", "FB2", "2025-01-06")).await,
        Code::InvalidArgument,
        "client_request_id:",
    );
    expect(
        registry
            .open_case(open_case("o2", "FB2", "06/01/2025"))
            .await,
        Code::InvalidArgument,
        "effective_date:",
    );
    expect(
        registry
            .open_case(open_case("o3", "FB1", "2025-01-07"))
            .await,
        Code::AlreadyExists,
        "case_reference:",
    );
    expect(
        registry.open_case(open_case("o4", "", "2025-01-07")).await,
        Code::InvalidArgument,
        "case_reference:",
    );
    expect(
        registry
            .make_interim_order(order("i1", "FB9", "2025-02-01", 60))
            .await,
        Code::NotFound,
        "case_reference:",
    );
    let mut short = order("i2", "FB1", "2025-02-01", 60);
    short.arrangements[1].nights_with_respondent = 10;
    expect(
        registry.make_interim_order(short).await,
        Code::InvalidArgument,
        "arrangements[1].nights_with_applicant:",
    );
    expect(
        registry
            .make_interim_order(order("i3", "FB1", "2024-12-01", 60))
            .await,
        Code::InvalidArgument,
        "effective_date:",
    );
    expect(
        registry
            .apply_to_vary(apply_to_vary("v1", "FB1", "2025-03-01", 60))
            .await,
        Code::FailedPrecondition,
        "case FB1 is in proceedings",
    );
    expect(
        registry
            .close_case(CloseCaseRequest {
                client_request_id: "c1".to_owned(),
                case_reference: "FB1".to_owned(),
                effective_date: "2025-03-01".to_owned(),
                reason: ClosureReason::Unspecified.into(),
            })
            .await,
        Code::InvalidArgument,
        "reason:",
    );
    // Nothing refused was recorded: the case is as it was opened.
    let case = registry
        .get_case(GetCaseRequest {
            case_reference: "FB1".to_owned(),
        })
        .await
        .expect("read")
        .into_inner();
    assert!(case.orders.is_empty());
    assert_eq!(case.status(), CaseStatus::Proceedings);
    server.stop().await;
}

#[test]
fn every_migration_file_is_embedded() {
    familybridge_testing::assert_embeds_every_migration(
        &court_registry::store::MIGRATIONS,
        env!("CARGO_MANIFEST_DIR"),
    );
}
