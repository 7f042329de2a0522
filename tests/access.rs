//! Every access rule of every service, against the three services `familybridge up` starts, on
//! both transports: each RPC called by every identity and by a caller with none. An identity the
//! rule names gets past the policy (whatever the request's fate after that); every other identity
//! is refused PERMISSION_DENIED, a caller without one UNAUTHENTICATED, and each refusal is recorded
//! in the service's audit of denials. A batch is no way round the rules: each entry is judged as
//! its own RPC would be.
//!
//! In plaintext the identity is the header a caller sends. Under mutual TLS it is the caller's
//! certificate: every call also sends the header of another identity, which must change nothing; a
//! plaintext client and a client whose certificate comes from another authority are refused before
//! any RPC; and health stays reachable in plaintext on a port of its own.

mod support;

use std::collections::BTreeMap;

use familybridge_proto::cms::v1 as cms;
use familybridge_proto::cms::v1::case_service_client::CaseServiceClient;
use familybridge_proto::json::descriptor_pool;
use std::path::Path;
use std::time::Duration;

use familybridge_proto::simulation::v1::CurrentDateRequest;
use familybridge_proto::simulation::v1::clock_client::ClockClient;
use familybridge_runtime::tls::certificates;
use familybridge_runtime::{
    AgencyId, CallMetadata, Identity, Transport, check_serving, wait_until_serving,
};
use familybridge_storage::sqlx;
use familybridge_testing::{CallerChannel, GuardedProcess};
use tonic::Code;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use support::{interrupt, raw, start_up};

/// Whether `answer` is the access policy's refusal of the call to `identity`.
fn refused_by_policy(answer: &Result<(), tonic::Status>, identity: Identity, rpc: &str) -> bool {
    answer.as_ref().is_err_and(|status| {
        status.code() == Code::PermissionDenied
            && status.message() == format!("{identity} may not call {rpc}")
    })
}

/// How the test reaches the services.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Over {
    /// Plaintext: the identity header says who calls.
    Plaintext,
    /// Mutual TLS with the credentials in the folder: the certificate says who calls.
    MutualTls,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_plaintext_every_rpc_answers_exactly_the_callers_its_service_allows() {
    every_rule(Over::Plaintext).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_mutual_tls_every_rpc_answers_exactly_the_callers_its_certificate_proves() {
    every_rule(Over::MutualTls).await;
}

/// The channel to the service at `address` a test caller uses: in plaintext one for everyone; under
/// mutual TLS one presenting `identity`'s certificate (`None`: plaintext, no certificate).
fn channel(over: Over, credentials: &Path, address: &str, identity: Option<Identity>) -> Channel {
    let transport = match (over, identity) {
        (Over::MutualTls, Some(identity)) => {
            Transport::from_folder(Some(credentials), identity).expect("the test's credentials")
        }
        _ => Transport::Plaintext,
    };
    let url = match transport {
        Transport::Plaintext => format!("http://{address}"),
        Transport::MutualTls(_) => format!("https://{address}"),
    };
    transport.endpoint(&url).expect("a URL").connect_lazy()
}

/// The header a caller sends with `identity`'s certificate: another identity's, which mutual TLS
/// must ignore.
fn spoofed(identity: Identity) -> Identity {
    match identity {
        Identity::Simulation => Identity::Auditor,
        _ => Identity::Simulation,
    }
}

async fn every_rule(over: Over) {
    let data = tempfile::tempdir().expect("a folder");
    let credentials = data.path().join("certs");
    certificates::write_folder(&credentials, &[], false).expect("credentials");
    let tls_dir = credentials.to_str().expect("a UTF-8 path");
    let extra: &[&str] = match over {
        Over::Plaintext => &[],
        Over::MutualTls => &["--tls-dir", tls_dir],
    };
    let (child, addresses) = start_up(data.path(), extra);
    // familybridge up reports the court registry's, the CMS's and the hub's addresses, in order.
    let mut served: BTreeMap<String, &str> = BTreeMap::new();
    for agency in AgencyId::ALL {
        served.extend(
            served_services(agency)
                .into_iter()
                .map(|service| (format!("{agency}:{service}"), agency.as_str())),
        );
    }
    let address_of = |agency: AgencyId| -> &str {
        &addresses[AgencyId::ALL
            .iter()
            .position(|a| *a == agency)
            .expect("an agency")]
    };
    // Each caller's channel to each agency, and one with no identity (plaintext, no certificate).
    let mut channels: BTreeMap<(AgencyId, Option<Identity>), Channel> = BTreeMap::new();
    for agency in AgencyId::ALL {
        for identity in Identity::ALL.map(Some).into_iter().chain([None]) {
            channels.insert(
                (agency, identity),
                channel(over, &credentials, address_of(agency), identity),
            );
        }
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
                let body = prost::Message::encode_to_vec(&prost_reflect::DynamicMessage::new(
                    method.input(),
                ));
                let anonymous =
                    raw::call(&channels[&(agency, None)], &method, body.clone(), None).await;
                match over {
                    Over::Plaintext => {
                        assert_eq!(
                            anonymous.as_ref().map_err(tonic::Status::code),
                            Err(Code::Unauthenticated),
                            "{rpc} at the {agency} without an identity: {anonymous:?}"
                        );
                        *expected_denials.entry(agency.as_str()).or_default() += 1;
                    }
                    // Refused at the handshake, before any RPC: nothing to record.
                    Over::MutualTls => assert!(
                        anonymous.is_err(),
                        "{rpc} at the {agency} in plaintext under mutual TLS: {anonymous:?}"
                    ),
                }
                for identity in Identity::ALL {
                    let header = match over {
                        Over::Plaintext => identity,
                        Over::MutualTls => spoofed(identity),
                    };
                    let answer = raw::call(
                        &channels[&(agency, Some(identity))],
                        &method,
                        body.clone(),
                        Some(header),
                    )
                    .await;
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
    let cms_channel = |identity: Identity| {
        channel(
            over,
            &credentials,
            address_of(AgencyId::Cms),
            Some(identity),
        )
    };
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
    let as_simulation = CaseServiceClient::new(caller(
        cms_channel(Identity::Simulation),
        Identity::Simulation,
    ))
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
    let hub: Identity = AgencyId::ReferralHub.into();
    let as_hub = CaseServiceClient::new(caller(cms_channel(hub), hub))
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

/// `channel`, its calls saying they come from `identity` (which mutual TLS ignores).
fn caller(channel: Channel, identity: Identity) -> CallerChannel {
    InterceptedService::new(channel, CallMetadata::new(identity))
}

/// Under mutual TLS a service takes no client without a certificate from its own authority — not a
/// plaintext one, not one whose certificate another authority issued, whatever identity either
/// claims — and answers health in plaintext on a port of its own, for probes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_mutual_tls_only_the_deployments_own_certificates_get_in_and_health_has_its_own_port()
{
    let data = tempfile::tempdir().expect("a folder");
    let ours = data.path().join("ours");
    let theirs = data.path().join("theirs");
    certificates::write_folder(&ours, &[], false).expect("our credentials");
    certificates::write_folder(&theirs, &[], false).expect("another authority's credentials");
    let free = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .to_string()
    };
    let (address, health) = (free(), free());
    let binary = Path::new(env!("CARGO_BIN_EXE_familybridge")).with_file_name("court-registry");
    let process = GuardedProcess::spawn(
        std::process::Command::new(binary)
            .env("LISTEN_ADDR", &address)
            .env("HEALTH_LISTEN_ADDR", &health)
            .env("FAMILYBRIDGE_TLS_DIR", &ours)
            .env("FAMILYBRIDGE_DATA_DIR", data.path())
            .env("RUST_LOG", "error"),
    );
    // Probes hold no certificate: health answers them in plaintext on its own port.
    wait_until_serving(&format!("http://{health}"), Duration::from_secs(60))
        .await
        .expect("health in plaintext on its own port");
    let url = format!("https://{address}");
    let date = |transport: Transport, claimed: Identity| {
        let url = url.clone();
        async move {
            let channel = transport.endpoint(&url).expect("a URL").connect_lazy();
            ClockClient::new(caller(channel, claimed))
                .current_date(CurrentDateRequest {})
                .await
        }
    };
    let simulation = |folder: &Path| {
        Transport::from_folder(Some(folder), Identity::Simulation).expect("credentials")
    };
    date(simulation(&ours), Identity::Simulation)
        .await
        .expect("the deployment's own simulation reads the clock");
    let foreign = date(simulation(&theirs), Identity::Simulation).await;
    assert!(
        foreign.is_err(),
        "a certificate from another authority: {foreign:?}"
    );
    let plaintext = ClockClient::new(familybridge_testing::channel_as(
        &format!("http://{address}"),
        Identity::Simulation,
    ))
    .current_date(CurrentDateRequest {})
    .await;
    assert!(plaintext.is_err(), "a plaintext client: {plaintext:?}");
    assert!(
        check_serving(&format!("http://{address}"), Duration::from_secs(5))
            .await
            .is_err(),
        "the service's own port takes no plaintext, health included"
    );
    process.kill();
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
