//! What the registry's tests share: a registry on port 0 and requests built tersely.

#![allow(dead_code)] // Each test file uses its own part of this module.

use court_registry::{Config, serve};
use familybridge_proto::court::v1::court_registry_client::CourtRegistryClient;
use familybridge_proto::court::v1::{
    ApplyToVaryRequest, ChildArrangement, MakeOrderRequest, OpenCaseRequest, Party, Residence,
    WelfareFlags,
};
use familybridge_runtime::Identity;
use familybridge_testing::{CallerChannel, channel_as};
use familybridge_testing::{TestDatabase, TestServer};

/// A registry on a free port over `database`, under the default data-sharing agreements.
pub async fn start_registry(database: &TestDatabase) -> TestServer {
    let config =
        Config::with_default_agreements(database.url().clone()).expect("default agreements");
    TestServer::start(|listener, shutdown| serve(config, listener, shutdown)).await
}

/// A client of the registry at `server`.
pub async fn registry_client(server: &TestServer) -> CourtRegistryClient<CallerChannel> {
    CourtRegistryClient::new(channel_as(server.url(), Identity::Simulation))
}

/// An application by person-1 against person-2 about child-1 and child-2.
pub fn open_case(request_id: &str, case: &str, date: &str) -> OpenCaseRequest {
    OpenCaseRequest {
        client_request_id: request_id.to_owned(),
        case_reference: case.to_owned(),
        effective_date: date.to_owned(),
        applicant: Some(Party {
            person_ref: "person-1".to_owned(),
        }),
        respondent: Some(Party {
            person_ref: "person-2".to_owned(),
        }),
        child_refs: vec!["child-1".to_owned(), "child-2".to_owned()],
        welfare_flags: Some(WelfareFlags {
            domestic_abuse_alleged: true,
            child_protection_concerns: false,
        }),
        safeguarding_narrative: "SECRET safeguarding narrative".to_owned(),
    }
}

/// Both children living with the applicant, spending `nights_away` nights a year with the
/// respondent.
pub fn arrangements(nights_away: u32) -> Vec<ChildArrangement> {
    ["child-1", "child-2"]
        .into_iter()
        .map(|child| ChildArrangement {
            child_ref: child.to_owned(),
            lives_with: Residence::Applicant.into(),
            nights_with_applicant: 365 - nights_away,
            nights_with_respondent: nights_away,
        })
        .collect()
}

/// An order in `case` made on `date` with both children spending `nights_away` nights with the
/// respondent.
pub fn order(request_id: &str, case: &str, date: &str, nights_away: u32) -> MakeOrderRequest {
    MakeOrderRequest {
        client_request_id: request_id.to_owned(),
        case_reference: case.to_owned(),
        effective_date: date.to_owned(),
        arrangements: arrangements(nights_away),
        safeguarding_narrative: "SECRET order narrative".to_owned(),
    }
}

/// The respondent's application to vary `case` to `nights_away` nights.
pub fn apply_to_vary(
    request_id: &str,
    case: &str,
    date: &str,
    nights_away: u32,
) -> ApplyToVaryRequest {
    ApplyToVaryRequest {
        client_request_id: request_id.to_owned(),
        case_reference: case.to_owned(),
        effective_date: date.to_owned(),
        applied_by: Some(Party {
            person_ref: "person-2".to_owned(),
        }),
        proposed_arrangements: arrangements(nights_away),
    }
}
