//! Reading a replication's outcome back from the services once the period is over: each family's
//! CMS case history (a few dozen cases a call), the hub's referrals and joint reviews (page by
//! page, grouped by family), and the disclosures in every agency's audit log (counted by each
//! agency, by the replication of the case disclosed).

use std::collections::BTreeMap;
use std::future::Future;

use anyhow::Context;
use familybridge_proto::cms::v1 as cms;
use familybridge_proto::cms::v1::case_batch_entry::Request as CaseRequest;
use familybridge_proto::common::v1::CountDisclosuresRequest;
use familybridge_proto::common::v1::event_feed_client::EventFeedClient;
use familybridge_proto::referral::v1 as hub;
use familybridge_proto::referral::v1::referral_hub_client::ReferralHubClient;
use familybridge_runtime::{Identity, Transport};
use familybridge_scenario::FamilyRecord;
use familybridge_scenario::world::{cms_case_prefix, court_case_prefix};
use tonic::Code;

use crate::run::drive::{Agencies, Family};
use crate::run::history;
use crate::stack::Urls;

/// The page size asked of list calls.
const PAGE: u32 = 1_000;

/// What the hub did, by family.
#[derive(Debug, Default)]
pub struct HubRecords {
    /// Referrals by person.
    referrals: BTreeMap<String, u32>,
    /// Joint reviews by CMS case.
    reviews: BTreeMap<String, u32>,
}

/// Every item of a paged list, oldest first: `page(after_id)` fetches the page after an id, and
/// `id` names an item's id.
async fn every_page<T, F, Fut>(mut page: F, id: fn(&T) -> u64) -> anyhow::Result<Vec<T>>
where
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = anyhow::Result<Vec<T>>>,
{
    let mut items = Vec::new();
    let mut after_id = 0;
    loop {
        let next = page(after_id).await?;
        let Some(last) = next.last() else {
            return Ok(items);
        };
        after_id = id(last);
        items.extend(next);
    }
}

impl HubRecords {
    /// Reads every referral and review from the hub at `url`, reached over `transport`.
    pub async fn read(url: &str, transport: &Transport) -> anyhow::Result<Self> {
        let client = ReferralHubClient::new(transport.lazy_channel(url, Identity::Simulation)?);
        let referrals = every_page(
            |after_id| {
                let mut client = client.clone();
                async move {
                    let request = hub::ListReferralsRequest {
                        person_ref: String::new(),
                        limit: PAGE,
                        after_id,
                    };
                    Ok(client
                        .list_referrals(request)
                        .await
                        .context("the referral hub could not list its referrals")?
                        .into_inner()
                        .referrals)
                }
            },
            |referral| referral.id,
        )
        .await?;
        let reviews = every_page(
            |after_id| {
                let mut client = client.clone();
                async move {
                    let request = hub::ListJointReviewsRequest {
                        cms_case_reference: String::new(),
                        limit: PAGE,
                        after_id,
                    };
                    Ok(client
                        .list_joint_reviews(request)
                        .await
                        .context("the referral hub could not list its reviews")?
                        .into_inner()
                        .reviews)
                }
            },
            |review| review.id,
        )
        .await?;
        let mut records = HubRecords::default();
        for referral in referrals {
            *records.referrals.entry(referral.person_ref).or_default() += 1;
        }
        for review in reviews {
            *records
                .reviews
                .entry(review.cms_case_reference)
                .or_default() += 1;
        }
        Ok(records)
    }
}

/// How many CMS cases one `ExecuteBatch` call reads back whole: a year's history is a few
/// kilobytes, so a call's answer stays well inside a message's bounds even for runs of years.
const HISTORIES_PER_CALL: usize = 32;

/// The CMS's whole history of each of `families`' cases, in order (empty for a family without a
/// case), read a few dozen cases a call with `ExecuteBatch`'s `GetCase` entries.
pub async fn cms_histories(
    families: &[&Family],
    agencies: &Agencies,
) -> anyhow::Result<Vec<Vec<cms::HistoryEntry>>> {
    let mut histories = Vec::with_capacity(families.len());
    for chunk in families.chunks(HISTORIES_PER_CALL) {
        let reads = chunk
            .iter()
            .map(|family| {
                CaseRequest::GetCase(cms::GetCaseRequest {
                    case_reference: family.plan.cms_case_reference.clone(),
                    omit_history: false,
                })
            })
            .collect();
        let answers = agencies
            .cms_reads(reads)
            .await
            .context("the CMS could not read its cases back")?;
        for (family, answer) in chunk.iter().zip(answers) {
            let history = match answer {
                Ok(answer) => answer.case.map(|case| case.history),
                // A family whose application was refused, or who never applied, has no case.
                Err(status) if status.code() == Code::NotFound => None,
                Err(status) => {
                    return Err(anyhow::Error::new(status).context(format!(
                        "the CMS could not read {}",
                        family.plan.cms_case_reference
                    )));
                }
            };
            histories.push(history.unwrap_or_default());
        }
    }
    Ok(histories)
}

/// One family's record: its CMS case history (as the CMS's API gave it), the orders the court
/// made, and what the hub did.
pub fn family_record(
    family: &Family,
    history: &[cms::HistoryEntry],
    hub: &HubRecords,
) -> anyhow::Result<FamilyRecord> {
    let plan = &family.plan;
    let cms_history = history::case_events(history).with_context(|| {
        format!(
            "the CMS's history of {} is not what its API says",
            plan.cms_case_reference
        )
    })?;
    let referrals = [&plan.paying_parent_ref, &plan.receiving_parent_ref]
        .iter()
        .map(|person| hub.referrals.get(*person).copied().unwrap_or_default())
        .sum();
    Ok(FamilyRecord {
        cms_history,
        direct_payments: family.direct_payments.clone(),
        arrangement_due: family.arrangement_due.clone(),
        court_orders: family.court_orders(),
        referrals,
        joint_reviews: hub
            .reviews
            .get(&plan.cms_case_reference)
            .copied()
            .unwrap_or_default(),
    })
}

/// The disclosures in the three agencies' audit logs of the cases of each of `replications`,
/// counted by each agency (CountDisclosures): the audit logs grow with the caseload, what crosses
/// the wire does not.
pub async fn disclosures_by_replication(
    urls: &Urls,
    transport: &Transport,
    replications: &[u32],
) -> anyhow::Result<BTreeMap<u32, u64>> {
    // A case's events are on the stream of its reference: its court case's or its CMS case's.
    let prefixes: Vec<(u32, String)> = replications
        .iter()
        .flat_map(|&replication| {
            [
                (replication, court_case_prefix(replication)),
                (replication, cms_case_prefix(replication)),
            ]
        })
        .collect();
    let mut counts: BTreeMap<u32, u64> = replications.iter().map(|&r| (r, 0)).collect();
    if prefixes.is_empty() {
        return Ok(counts);
    }
    for url in [&urls.court_registry, &urls.cms, &urls.referral_hub] {
        let mut client = EventFeedClient::new(transport.lazy_channel(url, Identity::Simulation)?);
        let counted = client
            .count_disclosures(CountDisclosuresRequest {
                recipient: 0,
                stream_prefixes: prefixes.iter().map(|(_, prefix)| prefix.clone()).collect(),
            })
            .await
            .with_context(|| format!("{url} could not count its disclosures"))?
            .into_inner()
            .counts;
        anyhow::ensure!(
            counted.len() == prefixes.len(),
            "{url} counted {} groups of disclosures; {} were asked for",
            counted.len(),
            prefixes.len()
        );
        for ((replication, _), count) in prefixes.iter().zip(counted) {
            *counts.entry(*replication).or_default() += count;
        }
    }
    Ok(counts)
}
