//! Between the wire (`familybridge.court.v1`) and the case rules: requests become validated domain
//! values, with errors naming the request field; cases and orders become messages.

use chrono::NaiveDate;
use familybridge_proto::court::v1 as proto;

use crate::case::{
    Arrangement, Case, CaseError, ClosureReason, HearingKind, OrderKind, RequestedArrangement,
    Residence, ReviewFindings, Side, Status, Variation, WelfareFlags,
};

/// Formats a date as every familybridge API writes dates.
pub fn iso(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

/// The person reference of a party, or "" when the party is missing (the case rules then refuse it,
/// naming the field).
pub fn person(party: Option<&proto::Party>) -> &str {
    party
        .map(|party| party.person_ref.as_str())
        .unwrap_or_default()
}

/// Arrangements as requested, for the case rules to validate.
pub fn requested(arrangements: &[proto::ChildArrangement]) -> Vec<RequestedArrangement> {
    arrangements
        .iter()
        .map(|arrangement| RequestedArrangement {
            child_ref: arrangement.child_ref.clone(),
            lives_with: match arrangement.lives_with() {
                proto::Residence::Unspecified => None,
                proto::Residence::Applicant => Some(Residence::Applicant),
                proto::Residence::Respondent => Some(Residence::Respondent),
                proto::Residence::Shared => Some(Residence::Shared),
            },
            nights_with_applicant: arrangement.nights_with_applicant,
            nights_with_respondent: arrangement.nights_with_respondent,
        })
        .collect()
}

/// A hearing kind from the wire, required.
pub fn hearing_kind(kind: proto::HearingKind) -> Result<HearingKind, CaseError> {
    match kind {
        proto::HearingKind::Unspecified => Err(CaseError::Invalid {
            field: "kind".to_owned(),
            problem: "required".to_owned(),
        }),
        proto::HearingKind::Fhdra => Ok(HearingKind::Fhdra),
        proto::HearingKind::Dra => Ok(HearingKind::Dra),
        proto::HearingKind::Final => Ok(HearingKind::Final),
    }
}

/// A closure reason from the wire, required.
pub fn closure_reason(reason: proto::ClosureReason) -> Result<ClosureReason, CaseError> {
    match reason {
        proto::ClosureReason::Unspecified => Err(CaseError::Invalid {
            field: "reason".to_owned(),
            problem: "required".to_owned(),
        }),
        proto::ClosureReason::Withdrawn => Ok(ClosureReason::Withdrawn),
        proto::ClosureReason::Dismissed => Ok(ClosureReason::Dismissed),
    }
}

/// Welfare flags from the wire.
pub fn welfare(flags: Option<&proto::WelfareFlags>) -> WelfareFlags {
    flags
        .map(|flags| WelfareFlags {
            domestic_abuse_alleged: flags.domestic_abuse_alleged,
            child_protection_concerns: flags.child_protection_concerns,
        })
        .unwrap_or_default()
}

/// Welfare flags for the wire.
pub fn welfare_flags(flags: WelfareFlags) -> proto::WelfareFlags {
    proto::WelfareFlags {
        domestic_abuse_alleged: flags.domestic_abuse_alleged,
        child_protection_concerns: flags.child_protection_concerns,
    }
}

/// A party for the wire.
pub fn party(person_ref: &str) -> proto::Party {
    proto::Party {
        person_ref: person_ref.to_owned(),
    }
}

/// An order kind for the wire.
pub fn order_kind(kind: OrderKind) -> proto::OrderKind {
    match kind {
        OrderKind::Interim => proto::OrderKind::Interim,
        OrderKind::Final => proto::OrderKind::Final,
        OrderKind::Variation => proto::OrderKind::Variation,
    }
}

/// Arrangements for the wire.
pub fn arrangements(arrangements: &[Arrangement]) -> Vec<proto::ChildArrangement> {
    arrangements
        .iter()
        .map(|arrangement| proto::ChildArrangement {
            child_ref: arrangement.child_ref.clone(),
            lives_with: match arrangement.lives_with {
                Residence::Applicant => proto::Residence::Applicant,
                Residence::Respondent => proto::Residence::Respondent,
                Residence::Shared => proto::Residence::Shared,
            }
            .into(),
            nights_with_applicant: arrangement.nights_with_applicant,
            nights_with_respondent: arrangement.nights_with_respondent,
        })
        .collect()
}

/// A variation application for the wire.
pub fn variation(case: &Case, variation: &Variation) -> proto::VariationApplication {
    proto::VariationApplication {
        applied_on: iso(variation.applied_on),
        applied_by: Some(party(match variation.applied_by {
            Side::Applicant => &case.applicant,
            Side::Respondent => &case.respondent,
        })),
        proposed_arrangements: arrangements(&variation.proposed),
        proposes_residence_change: variation.proposes_residence_change,
        proposes_shared_care_band_change: variation.proposes_shared_care_band_change,
    }
}

/// A case for the wire.
pub fn case(case: &Case) -> proto::Case {
    proto::Case {
        case_reference: case.reference.clone(),
        status: match case.status {
            Status::Proceedings => proto::CaseStatus::Proceedings,
            Status::FinalOrder => proto::CaseStatus::FinalOrder,
            Status::VariationPending => proto::CaseStatus::VariationPending,
            Status::Closed => proto::CaseStatus::Closed,
        }
        .into(),
        applicant: Some(party(&case.applicant)),
        respondent: Some(party(&case.respondent)),
        child_refs: case.children.clone(),
        opened_on: iso(case.opened_on),
        welfare_flags: Some(welfare_flags(case.welfare)),
        orders: case
            .orders
            .iter()
            .map(|order| proto::Order {
                order_id: order.order_id.clone(),
                kind: order_kind(order.kind).into(),
                made_on: iso(order.made_on),
                arrangements: arrangements(&order.arrangements),
            })
            .collect(),
        hearings: case
            .hearings
            .iter()
            .map(|hearing| proto::Hearing {
                hearing_date: iso(hearing.hearing_date),
                kind: match hearing.kind {
                    HearingKind::Fhdra => proto::HearingKind::Fhdra,
                    HearingKind::Dra => proto::HearingKind::Dra,
                    HearingKind::Final => proto::HearingKind::Final,
                }
                .into(),
                listed_on: iso(hearing.listed_on),
            })
            .collect(),
        pending_variation: case
            .pending_variation
            .as_ref()
            .map(|pending| variation(case, pending)),
        safeguarding_narrative: case.safeguarding_narrative.clone(),
        last_changed_on: iso(case.last_changed_on),
        review_findings: case.review_findings.iter().map(review_findings).collect(),
    }
}

/// A joint case review's findings as the API shows them.
fn review_findings(findings: &ReviewFindings) -> proto::ReviewFindings {
    proto::ReviewFindings {
        review_id: findings.review_id.clone(),
        cms_case_reference: findings.cms_case_reference.clone(),
        current_weekly_amount: findings.current_weekly_amount.clone(),
        projected_weekly_amount: findings.projected_weekly_amount.clone(),
        projected_payer_ref: findings.projected_payer_ref.clone(),
        roles_flip: findings.roles_flip,
        notes: findings.notes.clone(),
        attached_on: iso(findings.attached_on),
    }
}

/// Validates the findings of request field `findings`, attached on `date`: the ids and the
/// projected payer are required, and amounts must be pounds and pence.
pub fn requested_findings(
    findings: Option<&proto::ReviewFindings>,
    date: NaiveDate,
) -> Result<ReviewFindings, CaseError> {
    let missing = |field: &str| CaseError::Invalid {
        field: format!("findings.{field}"),
        problem: "required".to_owned(),
    };
    let findings = findings.ok_or_else(|| CaseError::Invalid {
        field: "findings".to_owned(),
        problem: "required".to_owned(),
    })?;
    for (field, value) in [
        ("review_id", &findings.review_id),
        ("cms_case_reference", &findings.cms_case_reference),
        ("projected_weekly_amount", &findings.projected_weekly_amount),
        ("projected_payer_ref", &findings.projected_payer_ref),
    ] {
        if value.is_empty() {
            return Err(missing(field));
        }
    }
    for (field, value) in [
        ("current_weekly_amount", &findings.current_weekly_amount),
        ("projected_weekly_amount", &findings.projected_weekly_amount),
    ] {
        if !value.is_empty() {
            familybridge_calculation::Money::parse(value).map_err(|error| CaseError::Invalid {
                field: format!("findings.{field}"),
                problem: error.to_string(),
            })?;
        }
    }
    Ok(ReviewFindings {
        review_id: findings.review_id.clone(),
        cms_case_reference: findings.cms_case_reference.clone(),
        attached_on: date,
        current_weekly_amount: findings.current_weekly_amount.clone(),
        projected_weekly_amount: findings.projected_weekly_amount.clone(),
        projected_payer_ref: findings.projected_payer_ref.clone(),
        roles_flip: findings.roles_flip,
        notes: findings.notes.clone(),
    })
}
