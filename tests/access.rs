//! Every access rule of every service, against the three services `familybridge up` starts: each
//! RPC called by every identity and by a caller with none. An identity the rule names gets past
//! the policy (whatever the request's fate after that); every other identity is refused
//! PERMISSION_DENIED, a caller without one UNAUTHENTICATED, and each refusal is recorded in the
//! service's audit of denials. A batch is no way round the rules: each entry is judged as its own
//! RPC would be.

mod support;

use std::collections::BTreeMap;

use familybridge_proto::cms::v1 as cms;
use familybridge_proto::cms::v1::case_service_client::CaseServiceClient;
use familybridge_proto::json::descriptor_pool;
use familybridge_runtime::{AgencyId, Identity};
use familybridge_storage::sqlx;
use familybridge_testing::channel_as;
use tonic::Code;
use tonic::transport::Channel;

use support::{interrupt, raw, start_up};

/// Whether `answer` is the access policy's refusal of the call to `identity`.
fn refused_by_policy(answer: &Result<(), tonic::Status>, identity: Identity, rpc: &str) -> bool {
    answer.as_ref().is_err_and(|status| {
        status.code() == Code::PermissionDenied
            && status.message() == format!("{identity} may not call {rpc}")
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rpc_answers_exactly_the_callers_its_service_allows() {
    let data = tempfile::tempdir().expect("a folder");
    let (child, addresses) = start_up(data.path(), &[]);
    // familybridge up reports the court registry's, the CMS's and the hub's addresses, in order.
    let mut channels: BTreeMap<&str, Channel> = BTreeMap::new();
    let mut served: BTreeMap<String, &str> = BTreeMap::new();
    for (address, agency) in addresses.iter().zip(AgencyId::ALL) {
        let url = format!("http://{address}");
        channels.insert(
            agency.as_str(),
            Channel::from_shared(url).expect("a URL").connect_lazy(),
        );
        served.extend(
            served_services(agency)
                .into_iter()
                .map(|service| (format!("{agency}:{service}"), agency.as_str())),
        );
    }
    let policy = raw::every_policy();
    let mut expected_denials: BTreeMap<&str, usize> = BTreeMap::new();
    let mut rules_checked = 0;
    for service in descriptor_pool().services() {
        for method in service.methods() {
            let rpc = format!("{}/{}", service.full_name(), method.name());
            for agency in AgencyId::ALL {
                if !served.contains_key(&format!("{agency}:{}", service.full_name())) {
                    continue;
                }
                let channel = &channels[agency.as_str()];
                let body = prost::Message::encode_to_vec(&prost_reflect::DynamicMessage::new(
                    method.input(),
                ));
                let anonymous = raw::call(channel, &method, body.clone(), None).await;
                assert_eq!(
                    anonymous.as_ref().map_err(tonic::Status::code),
                    Err(Code::Unauthenticated),
                    "{rpc} at the {agency} without an identity: {anonymous:?}"
                );
                *expected_denials.entry(agency.as_str()).or_default() += 1;
                for identity in Identity::ALL {
                    let answer = raw::call(channel, &method, body.clone(), Some(identity)).await;
                    if policy.allows(identity, &rpc) {
                        assert!(
                            !refused_by_policy(&answer, identity, &rpc)
                                && answer.as_ref().err().map(tonic::Status::code)
                                    != Some(Code::Unauthenticated),
                            "{rpc} at the {agency}: {identity} is allowed, but: {answer:?}"
                        );
                    } else {
                        assert!(
                            refused_by_policy(&answer, identity, &rpc),
                            "{rpc} at the {agency}: {identity} is not allowed, but: {answer:?}"
                        );
                        *expected_denials.entry(agency.as_str()).or_default() += 1;
                    }
                    rules_checked += 1;
                }
            }
        }
    }
    assert!(rules_checked > 150, "only {rules_checked} checked");

    // A batch entry is judged as its own RPC: the simulation may record a contact but not pause
    // enforcement, which only the referral hub may.
    let cms_url = format!("http://{}", addresses[1]);
    let pause = cms::CaseBatchEntry {
        request: Some(cms::case_batch_entry::Request::RequestEnforcementPause(
            cms::RequestEnforcementPauseRequest {
                client_request_id: "access-pause".to_owned(),
                case_reference: "CMS-ACCESS-1".to_owned(),
                effective_date: "2025-04-07".to_owned(),
                weeks: 4,
                reason: "distress".to_owned(),
            },
        )),
        trace: None,
    };
    let outcomes = |response: cms::CaseBatchResponse| -> Vec<Option<i32>> {
        response
            .outcomes
            .into_iter()
            .map(|outcome| match outcome.outcome {
                Some(cms::case_batch_outcome::Outcome::Refusal(refusal)) => Some(refusal.code),
                _ => None,
            })
            .collect()
    };
    let as_simulation = CaseServiceClient::new(channel_as(&cms_url, Identity::Simulation))
        .execute_batch(cms::CaseBatchRequest {
            entries: vec![pause.clone()],
        })
        .await
        .expect("the batch is answered");
    assert_eq!(
        outcomes(as_simulation.into_inner()),
        [Some(Code::PermissionDenied as i32)]
    );
    *expected_denials.entry("cms").or_default() += 1;
    let as_hub = CaseServiceClient::new(channel_as(&cms_url, AgencyId::ReferralHub.into()))
        .execute_batch(cms::CaseBatchRequest {
            entries: vec![pause],
        })
        .await
        .expect("the batch is answered");
    let hub_outcome = outcomes(as_hub.into_inner());
    assert_ne!(
        hub_outcome,
        [Some(Code::PermissionDenied as i32)],
        "the hub may pause enforcement"
    );

    interrupt(&child);
    // Every refusal is in the audit of the service that refused it.
    for agency in AgencyId::ALL {
        let file = data.path().join(format!("{}.db", agency.service_name()));
        let url = format!("sqlite://{}", file.display());
        let pool = sqlx::SqlitePool::connect(&url)
            .await
            .unwrap_or_else(|error| panic!("open {url}: {error}"));
        // (Refusals by the finer rules behind the policy — a feed without an agreement, another
        // agency's disclosures — are recorded too, and not counted here.)
        let recorded: i64 = sqlx::query_scalar(
            "SELECT COALESCE(SUM(times), 0) FROM access_denials \
             WHERE code = 'UNAUTHENTICATED' OR reason LIKE '% may not call %'",
        )
        .fetch_one(&pool)
        .await
        .expect("count the denials");
        assert_eq!(
            recorded as usize,
            expected_denials[agency.as_str()],
            "denials recorded by the {agency}"
        );
    }
}

/// The familybridge services each agency's server answers.
fn served_services(agency: AgencyId) -> Vec<&'static str> {
    let own: &[&str] = match agency {
        AgencyId::CourtRegistry => &["familybridge.court.v1.CourtRegistry"],
        AgencyId::Cms => &[
            "familybridge.cms.v1.CalculationService",
            "familybridge.cms.v1.CaseService",
        ],
        AgencyId::ReferralHub => &["familybridge.referral.v1.ReferralHub"],
    };
    own.iter()
        .copied()
        .chain([
            "familybridge.common.v1.EventFeed",
            "familybridge.simulation.v1.Clock",
        ])
        .collect()
}
