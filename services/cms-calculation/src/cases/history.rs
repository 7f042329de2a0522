//! A case's history as the API shows it (`familybridge.cms.v1.HistoryEntry`): each of the case
//! rules' events translated into the typed entry of the same name, so that a reader depends on
//! the proto contract and never on how the rules keep their events.

use chrono::NaiveDate;
use familybridge_calculation::Money;
use familybridge_casework::{
    ArrearsReason, CalculatedRate, CalculationReason, CaseEvent, ClosureReason, CollectionChange,
    CollectionMethod, ContactKind, Employment, EnforcementStep, EvidenceSource, IncomeDecision,
    IncomeSource, Party, PaymentSource, ProceedingsOutcome,
};
use familybridge_proto::cms::v1 as proto;
use familybridge_proto::cms::v1::history_entry::{self, Event};
use rust_decimal::Decimal;

/// One event of a case's history, as `GetCase` answers it.
pub(crate) fn entry(event: &CaseEvent) -> proto::HistoryEntry {
    proto::HistoryEntry {
        date: iso(event.date()),
        kind: event.kind().to_owned(),
        event: Some(typed(event)),
    }
}

/// A date as the API writes it, "2025-01-06".
pub(crate) fn iso(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

fn iso_or_empty(date: Option<NaiveDate>) -> String {
    date.map(iso).unwrap_or_default()
}

fn money(amount: Money) -> String {
    amount.to_string()
}

fn money_or_empty(amount: Option<Money>) -> String {
    amount.map(money).unwrap_or_default()
}

/// A signed amount of whole pence, "-46.29".
fn signed(amount: Decimal) -> String {
    format!("{amount:.2}")
}

fn typed(event: &CaseEvent) -> Event {
    match event.clone() {
        CaseEvent::ApplicationOpened {
            applicant,
            proceedings_pending,
            liability_deferred,
            collection,
            employment,
            ..
        } => Event::ApplicationOpened(history_entry::ApplicationOpened {
            applicant: party(applicant).into(),
            proceedings_pending,
            liability_deferred,
            collection: collection_method(collection).into(),
            employment: employment_proto(employment).into(),
        }),
        CaseEvent::PayingParentNotified {
            liability_deferred, ..
        } => {
            Event::PayingParentNotified(history_entry::PayingParentNotified { liability_deferred })
        }
        CaseEvent::ArrearsScheduled {
            amount,
            reason,
            instalments,
            per_instalment,
            ..
        } => Event::ArrearsScheduled(history_entry::ArrearsScheduled {
            amount: money(amount),
            reason: arrears_reason(reason).into(),
            instalments,
            per_instalment: money(per_instalment),
        }),
        CaseEvent::CollectionChanged { to, reason, .. } => {
            Event::CollectionChanged(history_entry::CollectionChanged {
                to: collection_method(to).into(),
                reason: collection_change(reason).into(),
            })
        }
        CaseEvent::CalculationMade {
            liability_from,
            weekly_amount,
            rate,
            reason,
            ..
        } => Event::CalculationMade(history_entry::CalculationMade {
            liability_from: iso(liability_from),
            weekly_amount: money(weekly_amount),
            rate: self::rate(rate).into(),
            reason: Some(calculation_reason(reason)),
        }),
        CaseEvent::CalculationRevised {
            effective_from,
            previous_weekly_amount,
            weekly_amount,
            rate,
            reason,
            ..
        } => Event::CalculationRevised(history_entry::CalculationRevised {
            effective_from: iso(effective_from),
            previous_weekly_amount: money(previous_weekly_amount),
            weekly_amount: money(weekly_amount),
            rate: self::rate(rate).into(),
            reason: Some(calculation_reason(reason)),
        }),
        CaseEvent::RetrospectiveAdjustment { adjustment, .. } => {
            Event::RetrospectiveAdjustment(history_entry::RetrospectiveAdjustment {
                weeks_from: iso(adjustment.weeks_from),
                weeks_to: iso(adjustment.weeks_to),
                weeks: adjustment.weeks,
                previously_charged: money(adjustment.previously_charged),
                now_due: money(adjustment.now_due),
                amount: signed(adjustment.amount),
            })
        }
        CaseEvent::IncomeRecorded {
            income,
            source,
            decision,
            ..
        } => Event::IncomeRecorded(history_entry::IncomeRecorded {
            income: money_or_empty(income),
            source: income_source(source).into(),
            decision: Some(income_decision(decision)),
        }),
        CaseEvent::AnnualReview {
            previous_income,
            income,
            ..
        } => Event::AnnualReview(history_entry::AnnualReview {
            previous_income: money_or_empty(previous_income),
            income: money_or_empty(income),
        }),
        CaseEvent::SharedCareRecorded {
            child_ref,
            nights_claimed,
            source,
            nights_used,
            ..
        } => Event::SharedCareRecorded(history_entry::SharedCareRecorded {
            child_ref,
            nights_claimed,
            source: evidence_source(source).into(),
            nights_used,
        }),
        CaseEvent::CourtOrderApplied {
            order_id,
            made_on,
            is_final,
            ..
        } => Event::CourtOrderApplied(history_entry::CourtOrderApplied {
            order_id,
            made_on: iso(made_on),
            is_final,
        }),
        CaseEvent::ProceedingsEnded {
            final_order,
            outcome,
            ..
        } => Event::ProceedingsEnded(history_entry::ProceedingsEnded {
            final_order: final_order.unwrap_or_default(),
            outcome: outcome.map_or(proto::ProceedingsOutcome::Unspecified, proceedings_outcome)
                as i32,
        }),
        CaseEvent::PaymentDue {
            instalment,
            period_from,
            amount,
            arrears,
            collection_fee,
            collected,
            ..
        } => Event::PaymentDue(history_entry::PaymentDue {
            instalment,
            period_from: iso(period_from),
            amount: money(amount),
            arrears: money(arrears),
            collection_fee: money(collection_fee),
            collected,
        }),
        CaseEvent::PaymentMissed {
            instalment,
            due,
            paid,
            consecutive_missed,
            ..
        } => Event::PaymentMissed(history_entry::PaymentMissed {
            instalment,
            due: money(due),
            paid: money(paid),
            consecutive_missed,
        }),
        CaseEvent::PaymentReceived {
            amount,
            source,
            to_maintenance,
            to_collection_fees,
            to_enforcement_fees,
            receiving_parent_fee,
            passed_to_receiving_parent,
            ..
        } => Event::PaymentReceived(history_entry::PaymentReceived {
            amount: money(amount),
            source: payment_source(source).into(),
            to_maintenance: money(to_maintenance),
            to_collection_fees: money(to_collection_fees),
            to_enforcement_fees: money(to_enforcement_fees),
            receiving_parent_fee: money(receiving_parent_fee),
            passed_to_receiving_parent: money(passed_to_receiving_parent),
        }),
        CaseEvent::LiabilityOrderWithdrawn { .. } => {
            Event::LiabilityOrderWithdrawn(history_entry::LiabilityOrderWithdrawn {})
        }
        CaseEvent::CaseClosed { reason, .. } => Event::CaseClosed(history_entry::CaseClosed {
            reason: closure_reason(reason).into(),
        }),
        CaseEvent::EnforcementStepTaken {
            step,
            fee,
            parent_flagged_distressed,
            consecutive_missed,
            arrears,
            ..
        } => Event::EnforcementStepTaken(history_entry::EnforcementStepTaken {
            step: enforcement_step(step).into(),
            fee: money(fee),
            parent_flagged_distressed,
            consecutive_missed,
            arrears: signed(arrears),
        }),
        CaseEvent::EnforcementPaused {
            step,
            parent_flagged_distressed,
            pause_until,
            ..
        } => Event::EnforcementPaused(history_entry::EnforcementPaused {
            step: enforcement_step(step).into(),
            parent_flagged_distressed,
            pause_until: iso(pause_until),
        }),
        CaseEvent::PauseStarted { until, reason, .. } => {
            Event::PauseStarted(history_entry::PauseStarted {
                until: iso(until),
                reason,
            })
        }
        CaseEvent::PauseEnded { lifted, .. } => {
            Event::PauseEnded(history_entry::PauseEnded { lifted })
        }
        CaseEvent::ContactLogged {
            who,
            kind,
            distressed,
            ..
        } => Event::ContactLogged(history_entry::ContactLogged {
            party: party(who).into(),
            kind: contact_kind(kind).into(),
            distressed,
        }),
        CaseEvent::DistressFlagged { who, flagged, .. } => {
            Event::DistressFlagged(history_entry::DistressFlagged {
                party: party(who).into(),
                flagged,
            })
        }
    }
}

fn party(party: Party) -> proto::CaseParty {
    match party {
        Party::PayingParent => proto::CaseParty::PayingParent,
        Party::ReceivingParent => proto::CaseParty::ReceivingParent,
    }
}

fn collection_method(method: CollectionMethod) -> proto::CollectionMethod {
    match method {
        CollectionMethod::DirectPay => proto::CollectionMethod::DirectPay,
        CollectionMethod::CollectAndPay => proto::CollectionMethod::CollectAndPay,
    }
}

fn employment_proto(employment: Employment) -> proto::Employment {
    match employment {
        Employment::Employed => proto::Employment::Employed,
        Employment::SelfEmployed => proto::Employment::SelfEmployed,
        Employment::NotWorking => proto::Employment::NotWorking,
    }
}

fn arrears_reason(reason: ArrearsReason) -> proto::ArrearsReason {
    match reason {
        ArrearsReason::LiabilityBeforeCalculation => {
            proto::ArrearsReason::LiabilityBeforeCalculation
        }
        ArrearsReason::DirectPayMissed => proto::ArrearsReason::DirectPayMissed,
    }
}

fn collection_change(change: CollectionChange) -> proto::CollectionChange {
    match change {
        CollectionChange::DirectPayUnavailable => proto::CollectionChange::DirectPayUnavailable,
        CollectionChange::MissedPaymentsReported => proto::CollectionChange::MissedPaymentsReported,
        CollectionChange::DeductionFromBenefit => proto::CollectionChange::DeductionFromBenefit,
    }
}

/// The rate a calculation arrived at, as the API names it.
pub(crate) fn rate(rate: CalculatedRate) -> proto::Rate {
    match rate {
        CalculatedRate::Nil => proto::Rate::Nil,
        CalculatedRate::Flat => proto::Rate::Flat,
        CalculatedRate::Reduced => proto::Rate::Reduced,
        CalculatedRate::Basic => proto::Rate::Basic,
        CalculatedRate::BasicPlus => proto::Rate::BasicPlus,
        CalculatedRate::Default => proto::Rate::Default,
    }
}

fn calculation_reason(reason: CalculationReason) -> proto::CalculationReason {
    use proto::calculation_reason::Kind;
    let (kind, order_id, child_ref) = match reason {
        CalculationReason::Application => (Kind::Application, String::new(), String::new()),
        CalculationReason::FinalOrder { order_id } => (Kind::FinalOrder, order_id, String::new()),
        CalculationReason::ProceedingsEnded => {
            (Kind::ProceedingsEnded, String::new(), String::new())
        }
        CalculationReason::Income => (Kind::Income, String::new(), String::new()),
        CalculationReason::SharedCare { child_ref } => (Kind::SharedCare, String::new(), child_ref),
        CalculationReason::CourtOrder { order_id } => (Kind::CourtOrder, order_id, String::new()),
        CalculationReason::AnnualReview => (Kind::AnnualReview, String::new(), String::new()),
    };
    proto::CalculationReason {
        kind: kind.into(),
        order_id,
        child_ref,
    }
}

fn income_source(source: IncomeSource) -> proto::IncomeSource {
    match source {
        IncomeSource::Initial => proto::IncomeSource::Initial,
        IncomeSource::ReportedChange => proto::IncomeSource::ReportedChange,
        IncomeSource::AnnualReview => proto::IncomeSource::AnnualReview,
    }
}

fn income_decision(decision: IncomeDecision) -> proto::IncomeDecision {
    use proto::income_decision::Kind;
    let (kind, income_in_calculation, review_on) = match decision {
        IncomeDecision::Applied => (Kind::Applied, String::new(), String::new()),
        IncomeDecision::IgnoredUnder25Percent {
            income_in_calculation,
        } => (
            Kind::IgnoredUnder25Percent,
            money(income_in_calculation),
            String::new(),
        ),
        IncomeDecision::IgnoredNotProvided => {
            (Kind::IgnoredNotProvided, String::new(), String::new())
        }
        IncomeDecision::HeldForReview { review_on } => {
            (Kind::HeldForReview, String::new(), iso_or_empty(review_on))
        }
    };
    proto::IncomeDecision {
        kind: kind.into(),
        income_in_calculation,
        review_on,
    }
}

fn evidence_source(source: EvidenceSource) -> proto::EvidenceSource {
    match source {
        EvidenceSource::ParentsWord => proto::EvidenceSource::ParentsWord,
        EvidenceSource::Agreement => proto::EvidenceSource::Agreement,
        EvidenceSource::CourtOrder => proto::EvidenceSource::CourtOrder,
    }
}

fn proceedings_outcome(outcome: ProceedingsOutcome) -> proto::ProceedingsOutcome {
    match outcome {
        ProceedingsOutcome::Withdrawn => proto::ProceedingsOutcome::Withdrawn,
        ProceedingsOutcome::Dismissed => proto::ProceedingsOutcome::Dismissed,
    }
}

fn payment_source(source: PaymentSource) -> proto::PaymentSource {
    match source {
        PaymentSource::PayingParent => proto::PaymentSource::PayingParent,
        PaymentSource::DeductionFromEarnings => proto::PaymentSource::DeductionFromEarnings,
        PaymentSource::DeductionFromAccount => proto::PaymentSource::DeductionFromAccount,
        PaymentSource::DeductionFromBenefit => proto::PaymentSource::DeductionFromBenefit,
        PaymentSource::EnforcementAgents => proto::PaymentSource::EnforcementAgents,
    }
}

fn closure_reason(reason: ClosureReason) -> proto::ClosureReason {
    match reason {
        ClosureReason::FamilyBasedArrangement => proto::ClosureReason::FamilyBasedArrangement,
        ClosureReason::Withdrawn => proto::ClosureReason::Withdrawn,
    }
}

fn enforcement_step(step: EnforcementStep) -> proto::EnforcementStepKind {
    match step {
        EnforcementStep::DeductionFromEarningsOrder => {
            proto::EnforcementStepKind::DeductionFromEarningsOrder
        }
        EnforcementStep::RegularDeductionOrder => proto::EnforcementStepKind::RegularDeductionOrder,
        EnforcementStep::LiabilityOrderApplication => {
            proto::EnforcementStepKind::LiabilityOrderApplication
        }
        EnforcementStep::LiabilityOrder => proto::EnforcementStepKind::LiabilityOrder,
        EnforcementStep::EnforcementAgents => proto::EnforcementStepKind::EnforcementAgents,
        EnforcementStep::ChargingOrder => proto::EnforcementStepKind::ChargingOrder,
        EnforcementStep::Disqualification => proto::EnforcementStepKind::Disqualification,
        EnforcementStep::Committal => proto::EnforcementStepKind::Committal,
    }
}

fn contact_kind(kind: ContactKind) -> proto::ContactKind {
    match kind {
        ContactKind::Call => proto::ContactKind::Call,
        ContactKind::Complaint => proto::ContactKind::Complaint,
        ContactKind::Written => proto::ContactKind::Written,
    }
}
