//! What the CMS tells other agencies: the events of a case that its data-sharing agreements may
//! pass on — calculations made or revised, retrospective adjustments, missed payments, enforcement
//! steps taken or held by a pause, and contacts with their distress indicator. Everything else stays
//! in the case's own history.

use chrono::NaiveDate;
use familybridge_calculation::Money;
use familybridge_casework::{CalculatedRate, CalculationReason, CaseEvent, ContactKind, Party};
use familybridge_feed::{FeedError, FeedTransaction, OutgoingEvent, TraceContext};
use familybridge_proto::cms::v1 as proto;

use crate::cases::history::rate;
use crate::cases::store::StoredCase;

fn reason(reason: &CalculationReason) -> &'static str {
    match reason {
        CalculationReason::Application => "application",
        CalculationReason::FinalOrder { .. } => "final_order",
        CalculationReason::ProceedingsEnded => "proceedings_ended",
        CalculationReason::Income => "income",
        CalculationReason::SharedCare { .. } => "shared_care",
        CalculationReason::CourtOrder { .. } => "court_order",
        CalculationReason::AnnualReview => "annual_review",
    }
}

/// The published form of a calculation made (`previous` is `None`) or revised.
fn calculation(
    case: Option<proto::CaseParties>,
    liability_from: NaiveDate,
    weekly_amount: Money,
    previous: Option<Money>,
    made: CalculatedRate,
    why: &CalculationReason,
) -> proto::CalculationMade {
    proto::CalculationMade {
        case,
        liability_from: liability_from.to_string(),
        weekly_amount: weekly_amount.to_string(),
        rate: rate(made).into(),
        previous_weekly_amount: previous
            .map(|amount| amount.to_string())
            .unwrap_or_default(),
        reason: reason(why).to_owned(),
    }
}

/// The publishable events among a case's `events`, each with its date, in order: what goes on the
/// case's stream.
pub fn outgoing(
    case: &StoredCase,
    events: &[CaseEvent],
) -> Result<Vec<(NaiveDate, OutgoingEvent)>, FeedError> {
    let parties = || {
        Some(proto::CaseParties {
            case_reference: case.case_reference.clone(),
            paying_parent_ref: case.paying_parent_ref.clone(),
            receiving_parent_ref: case.receiving_parent_ref.clone(),
        })
    };
    let mut published = Vec::new();
    for event in events {
        let outgoing = match event {
            // A first calculation and a revision are one event to other agencies; a revision
            // also says what the amount was.
            CaseEvent::CalculationMade {
                liability_from,
                weekly_amount,
                rate: made,
                reason: why,
                ..
            } => Some(OutgoingEvent::new(&calculation(
                parties(),
                *liability_from,
                *weekly_amount,
                None,
                *made,
                why,
            ))?),
            CaseEvent::CalculationRevised {
                effective_from,
                previous_weekly_amount,
                weekly_amount,
                rate: made,
                reason: why,
                ..
            } => Some(OutgoingEvent::new(&calculation(
                parties(),
                *effective_from,
                *weekly_amount,
                Some(*previous_weekly_amount),
                *made,
                why,
            ))?),
            CaseEvent::RetrospectiveAdjustment { adjustment, .. } => {
                Some(OutgoingEvent::new(&proto::RetrospectiveAdjustment {
                    case: parties(),
                    amount: format!("{:.2}", adjustment.amount),
                })?)
            }
            CaseEvent::PaymentMissed {
                instalment,
                due,
                paid,
                consecutive_missed,
                ..
            } => Some(OutgoingEvent::new(&proto::PaymentMissed {
                case: parties(),
                instalment: *instalment,
                due: due.to_string(),
                paid: paid.to_string(),
                consecutive_missed: *consecutive_missed,
            })?),
            CaseEvent::EnforcementStepTaken {
                step,
                fee,
                parent_flagged_distressed,
                ..
            } => Some(OutgoingEvent::new(&proto::EnforcementStep {
                case: parties(),
                step: step.as_str().to_owned(),
                paused: false,
                fee: fee.to_string(),
                parent_flagged_distressed: *parent_flagged_distressed,
            })?),
            CaseEvent::EnforcementPaused {
                step,
                parent_flagged_distressed,
                ..
            } => Some(OutgoingEvent::new(&proto::EnforcementStep {
                case: parties(),
                step: step.as_str().to_owned(),
                paused: true,
                fee: "0.00".to_owned(),
                parent_flagged_distressed: *parent_flagged_distressed,
            })?),
            CaseEvent::ContactLogged {
                who,
                kind,
                distressed,
                ..
            } => Some(OutgoingEvent::new(&proto::ContactLogged {
                case: parties(),
                party: match who {
                    Party::PayingParent => "paying_parent",
                    Party::ReceivingParent => "receiving_parent",
                }
                .to_owned(),
                kind: match kind {
                    ContactKind::Call => "call",
                    ContactKind::Complaint => "complaint",
                    ContactKind::Written => "written",
                }
                .to_owned(),
                distressed: *distressed,
            })?),
            _ => None,
        };
        published.extend(outgoing.map(|outgoing| (event.date(), outgoing)));
    }
    Ok(published)
}

/// Appends the publishable events among `events` to the case's stream; returns their ids.
pub(crate) async fn publish(
    transaction: &mut FeedTransaction,
    case: &StoredCase,
    events: &[CaseEvent],
    trace: &TraceContext,
) -> Result<Vec<String>, FeedError> {
    let stream = case.case_reference.as_str();
    let mut ids = Vec::new();
    for (date, event) in outgoing(case, events)? {
        let appended = transaction
            .append_outgoing(stream, date, trace, event)
            .await?;
        ids.push(appended.event_id);
    }
    Ok(ids)
}
