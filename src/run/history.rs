//! A CMS case's history as `GetCase` answers it (`familybridge.cms.v1.HistoryEntry`, typed entries)
//! read into the case rules' vocabulary ([`CaseEvent`]), which the measures are written in.
//!
//! The runner depends on the CMS's API here and nowhere else: every entry is checked as it is read
//! — its dates, its amounts (exact decimals), its enumerations — and an entry that is not what the
//! contract says stops the run with the field at fault named (`history[12].payment_due.amount`),
//! rather than counting a wrong figure.

use std::fmt::Display;
use std::str::FromStr;

use chrono::NaiveDate;
use familybridge_calculation::Money;
use familybridge_casework::{
    Adjustment, ArrearsReason, CalculatedRate, CalculationReason, CaseEvent, ClosureReason,
    CollectionChange, CollectionMethod, ContactKind, Employment, EnforcementStep, EvidenceSource,
    IncomeDecision, IncomeSource, Party, PaymentSource, ProceedingsOutcome,
};
use familybridge_proto::cms::v1 as cms;
use familybridge_proto::cms::v1::history_entry::Event;
use rust_decimal::Decimal;

/// The events of a case's history, in order.
pub fn case_events(entries: &[cms::HistoryEntry]) -> anyhow::Result<Vec<CaseEvent>> {
    entries
        .iter()
        .enumerate()
        .map(|(index, entry)| event(index, entry))
        .collect()
}

/// Where in the history a field is, for an error that names it.
struct At<'a> {
    index: usize,
    kind: &'a str,
}

impl At<'_> {
    fn wrong(&self, field: &str, problem: impl Display) -> anyhow::Error {
        anyhow::anyhow!("history[{}].{}.{field}: {problem}", self.index, self.kind)
    }

    fn date(&self, field: &str, text: &str) -> anyhow::Result<NaiveDate> {
        NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map_err(|_| self.wrong(field, format_args!("{text:?} is not a YYYY-MM-DD date")))
    }

    fn optional_date(&self, field: &str, text: &str) -> anyhow::Result<Option<NaiveDate>> {
        if text.is_empty() {
            return Ok(None);
        }
        self.date(field, text).map(Some)
    }

    fn money(&self, field: &str, text: &str) -> anyhow::Result<Money> {
        Money::parse(text).map_err(|error| self.wrong(field, error))
    }

    fn optional_money(&self, field: &str, text: &str) -> anyhow::Result<Option<Money>> {
        if text.is_empty() {
            return Ok(None);
        }
        self.money(field, text).map(Some)
    }

    fn signed(&self, field: &str, text: &str) -> anyhow::Result<Decimal> {
        Decimal::from_str(text)
            .map_err(|_| self.wrong(field, format_args!("{text:?} is not an amount")))
    }

    /// An enumeration's value: one the contract names, and not its unspecified zero.
    fn choice<E, T>(
        &self,
        field: &str,
        value: i32,
        translate: impl FnOnce(E) -> Option<T>,
    ) -> anyhow::Result<T>
    where
        E: TryFrom<i32>,
    {
        E::try_from(value)
            .ok()
            .and_then(translate)
            .ok_or_else(|| self.wrong(field, format_args!("{value} is not one of its values")))
    }
}

fn event(index: usize, entry: &cms::HistoryEntry) -> anyhow::Result<CaseEvent> {
    let at = At {
        index,
        kind: &entry.kind,
    };
    let date = at.date("date", &entry.date)?;
    let Some(event) = &entry.event else {
        return Err(anyhow::anyhow!("history[{index}].event: missing"));
    };
    Ok(match event {
        Event::ApplicationOpened(e) => CaseEvent::ApplicationOpened {
            date,
            applicant: at.choice("applicant", e.applicant, party)?,
            proceedings_pending: e.proceedings_pending,
            liability_deferred: e.liability_deferred,
            collection: at.choice("collection", e.collection, collection_method)?,
            employment: at.choice("employment", e.employment, employment)?,
        },
        Event::PayingParentNotified(e) => CaseEvent::PayingParentNotified {
            date,
            liability_deferred: e.liability_deferred,
        },
        Event::ArrearsScheduled(e) => CaseEvent::ArrearsScheduled {
            date,
            amount: at.money("amount", &e.amount)?,
            reason: at.choice("reason", e.reason, arrears_reason)?,
            instalments: e.instalments,
            per_instalment: at.money("per_instalment", &e.per_instalment)?,
        },
        Event::CollectionChanged(e) => CaseEvent::CollectionChanged {
            date,
            to: at.choice("to", e.to, collection_method)?,
            reason: at.choice("reason", e.reason, collection_change)?,
        },
        Event::CalculationMade(e) => CaseEvent::CalculationMade {
            date,
            liability_from: at.date("liability_from", &e.liability_from)?,
            weekly_amount: at.money("weekly_amount", &e.weekly_amount)?,
            rate: at.choice("rate", e.rate, rate)?,
            reason: calculation_reason(&at, e.reason.as_ref())?,
        },
        Event::CalculationRevised(e) => CaseEvent::CalculationRevised {
            date,
            effective_from: at.date("effective_from", &e.effective_from)?,
            previous_weekly_amount: at
                .money("previous_weekly_amount", &e.previous_weekly_amount)?,
            weekly_amount: at.money("weekly_amount", &e.weekly_amount)?,
            rate: at.choice("rate", e.rate, rate)?,
            reason: calculation_reason(&at, e.reason.as_ref())?,
        },
        Event::RetrospectiveAdjustment(e) => CaseEvent::RetrospectiveAdjustment {
            date,
            adjustment: Adjustment {
                weeks_from: at.date("weeks_from", &e.weeks_from)?,
                weeks_to: at.date("weeks_to", &e.weeks_to)?,
                weeks: e.weeks,
                previously_charged: at.money("previously_charged", &e.previously_charged)?,
                now_due: at.money("now_due", &e.now_due)?,
                amount: at.signed("amount", &e.amount)?,
            },
        },
        Event::IncomeRecorded(e) => CaseEvent::IncomeRecorded {
            date,
            income: at.optional_money("income", &e.income)?,
            source: at.choice("source", e.source, income_source)?,
            decision: income_decision(&at, e.decision.as_ref())?,
        },
        Event::AnnualReview(e) => CaseEvent::AnnualReview {
            date,
            previous_income: at.optional_money("previous_income", &e.previous_income)?,
            income: at.optional_money("income", &e.income)?,
        },
        Event::SharedCareRecorded(e) => CaseEvent::SharedCareRecorded {
            date,
            child_ref: e.child_ref.clone(),
            nights_claimed: e.nights_claimed,
            source: at.choice("source", e.source, evidence_source)?,
            nights_used: e.nights_used,
        },
        Event::CourtOrderApplied(e) => CaseEvent::CourtOrderApplied {
            date,
            order_id: e.order_id.clone(),
            made_on: at.date("made_on", &e.made_on)?,
            is_final: e.is_final,
        },
        Event::ProceedingsEnded(e) => CaseEvent::ProceedingsEnded {
            date,
            final_order: (!e.final_order.is_empty()).then(|| e.final_order.clone()),
            outcome: match cms::ProceedingsOutcome::try_from(e.outcome) {
                Ok(cms::ProceedingsOutcome::Unspecified) => None,
                _ => Some(at.choice("outcome", e.outcome, proceedings_outcome)?),
            },
        },
        Event::PaymentDue(e) => CaseEvent::PaymentDue {
            date,
            instalment: e.instalment,
            period_from: at.date("period_from", &e.period_from)?,
            amount: at.money("amount", &e.amount)?,
            arrears: at.money("arrears", &e.arrears)?,
            collection_fee: at.money("collection_fee", &e.collection_fee)?,
            collected: e.collected,
        },
        Event::PaymentMissed(e) => CaseEvent::PaymentMissed {
            date,
            instalment: e.instalment,
            due: at.money("due", &e.due)?,
            paid: at.money("paid", &e.paid)?,
            consecutive_missed: e.consecutive_missed,
        },
        Event::PaymentReceived(e) => CaseEvent::PaymentReceived {
            date,
            amount: at.money("amount", &e.amount)?,
            source: at.choice("source", e.source, payment_source)?,
            to_maintenance: at.money("to_maintenance", &e.to_maintenance)?,
            to_collection_fees: at.money("to_collection_fees", &e.to_collection_fees)?,
            to_enforcement_fees: at.money("to_enforcement_fees", &e.to_enforcement_fees)?,
            receiving_parent_fee: at.money("receiving_parent_fee", &e.receiving_parent_fee)?,
            passed_to_receiving_parent: at
                .money("passed_to_receiving_parent", &e.passed_to_receiving_parent)?,
        },
        Event::LiabilityOrderWithdrawn(_) => CaseEvent::LiabilityOrderWithdrawn { date },
        Event::CaseClosed(e) => CaseEvent::CaseClosed {
            date,
            reason: at.choice("reason", e.reason, closure_reason)?,
        },
        Event::EnforcementStepTaken(e) => CaseEvent::EnforcementStepTaken {
            date,
            step: at.choice("step", e.step, enforcement_step)?,
            fee: at.money("fee", &e.fee)?,
            parent_flagged_distressed: e.parent_flagged_distressed,
            consecutive_missed: e.consecutive_missed,
            arrears: at.signed("arrears", &e.arrears)?,
        },
        Event::EnforcementPaused(e) => CaseEvent::EnforcementPaused {
            date,
            step: at.choice("step", e.step, enforcement_step)?,
            parent_flagged_distressed: e.parent_flagged_distressed,
            pause_until: at.date("pause_until", &e.pause_until)?,
        },
        Event::PauseStarted(e) => CaseEvent::PauseStarted {
            date,
            until: at.date("until", &e.until)?,
            reason: e.reason.clone(),
        },
        Event::PauseEnded(e) => CaseEvent::PauseEnded {
            date,
            lifted: e.lifted,
        },
        Event::ContactLogged(e) => CaseEvent::ContactLogged {
            date,
            who: at.choice("party", e.party, party)?,
            kind: at.choice("kind", e.kind, contact_kind)?,
            distressed: e.distressed,
        },
        Event::DistressFlagged(e) => CaseEvent::DistressFlagged {
            date,
            who: at.choice("party", e.party, party)?,
            flagged: e.flagged,
        },
    })
}

fn calculation_reason(
    at: &At<'_>,
    reason: Option<&cms::CalculationReason>,
) -> anyhow::Result<CalculationReason> {
    use cms::calculation_reason::Kind;
    let reason = reason.ok_or_else(|| at.wrong("reason", "missing"))?;
    let kind = at.choice("reason.kind", reason.kind, |kind: Kind| Some(kind))?;
    Ok(match kind {
        Kind::Unspecified => return Err(at.wrong("reason.kind", "unspecified")),
        Kind::Application => CalculationReason::Application,
        Kind::FinalOrder => CalculationReason::FinalOrder {
            order_id: reason.order_id.clone(),
        },
        Kind::ProceedingsEnded => CalculationReason::ProceedingsEnded,
        Kind::Income => CalculationReason::Income,
        Kind::SharedCare => CalculationReason::SharedCare {
            child_ref: reason.child_ref.clone(),
        },
        Kind::CourtOrder => CalculationReason::CourtOrder {
            order_id: reason.order_id.clone(),
        },
        Kind::AnnualReview => CalculationReason::AnnualReview,
    })
}

fn income_decision(
    at: &At<'_>,
    decision: Option<&cms::IncomeDecision>,
) -> anyhow::Result<IncomeDecision> {
    use cms::income_decision::Kind;
    let decision = decision.ok_or_else(|| at.wrong("decision", "missing"))?;
    let kind = at.choice("decision.kind", decision.kind, |kind: Kind| Some(kind))?;
    Ok(match kind {
        Kind::Unspecified => return Err(at.wrong("decision.kind", "unspecified")),
        Kind::Applied => IncomeDecision::Applied,
        Kind::IgnoredUnder25Percent => IncomeDecision::IgnoredUnder25Percent {
            income_in_calculation: at.money(
                "decision.income_in_calculation",
                &decision.income_in_calculation,
            )?,
        },
        Kind::IgnoredNotProvided => IncomeDecision::IgnoredNotProvided,
        Kind::HeldForReview => IncomeDecision::HeldForReview {
            review_on: at.optional_date("decision.review_on", &decision.review_on)?,
        },
    })
}

fn party(party: cms::CaseParty) -> Option<Party> {
    match party {
        cms::CaseParty::Unspecified => None,
        cms::CaseParty::PayingParent => Some(Party::PayingParent),
        cms::CaseParty::ReceivingParent => Some(Party::ReceivingParent),
    }
}

fn collection_method(method: cms::CollectionMethod) -> Option<CollectionMethod> {
    match method {
        cms::CollectionMethod::Unspecified => None,
        cms::CollectionMethod::DirectPay => Some(CollectionMethod::DirectPay),
        cms::CollectionMethod::CollectAndPay => Some(CollectionMethod::CollectAndPay),
    }
}

fn employment(employment: cms::Employment) -> Option<Employment> {
    match employment {
        cms::Employment::Unspecified => None,
        cms::Employment::Employed => Some(Employment::Employed),
        cms::Employment::SelfEmployed => Some(Employment::SelfEmployed),
        cms::Employment::NotWorking => Some(Employment::NotWorking),
    }
}

fn arrears_reason(reason: cms::ArrearsReason) -> Option<ArrearsReason> {
    match reason {
        cms::ArrearsReason::Unspecified => None,
        cms::ArrearsReason::LiabilityBeforeCalculation => {
            Some(ArrearsReason::LiabilityBeforeCalculation)
        }
        cms::ArrearsReason::DirectPayMissed => Some(ArrearsReason::DirectPayMissed),
    }
}

fn collection_change(change: cms::CollectionChange) -> Option<CollectionChange> {
    match change {
        cms::CollectionChange::Unspecified => None,
        cms::CollectionChange::DirectPayUnavailable => Some(CollectionChange::DirectPayUnavailable),
        cms::CollectionChange::MissedPaymentsReported => {
            Some(CollectionChange::MissedPaymentsReported)
        }
        cms::CollectionChange::DeductionFromBenefit => Some(CollectionChange::DeductionFromBenefit),
    }
}

fn rate(rate: cms::Rate) -> Option<CalculatedRate> {
    match rate {
        cms::Rate::Unspecified => None,
        cms::Rate::Nil => Some(CalculatedRate::Nil),
        cms::Rate::Flat => Some(CalculatedRate::Flat),
        cms::Rate::Reduced => Some(CalculatedRate::Reduced),
        cms::Rate::Basic => Some(CalculatedRate::Basic),
        cms::Rate::BasicPlus => Some(CalculatedRate::BasicPlus),
        cms::Rate::Default => Some(CalculatedRate::Default),
    }
}

fn income_source(source: cms::IncomeSource) -> Option<IncomeSource> {
    match source {
        cms::IncomeSource::Unspecified => None,
        cms::IncomeSource::Initial => Some(IncomeSource::Initial),
        cms::IncomeSource::ReportedChange => Some(IncomeSource::ReportedChange),
        cms::IncomeSource::AnnualReview => Some(IncomeSource::AnnualReview),
    }
}

fn evidence_source(source: cms::EvidenceSource) -> Option<EvidenceSource> {
    match source {
        cms::EvidenceSource::Unspecified => None,
        cms::EvidenceSource::ParentsWord => Some(EvidenceSource::ParentsWord),
        cms::EvidenceSource::Agreement => Some(EvidenceSource::Agreement),
        cms::EvidenceSource::CourtOrder => Some(EvidenceSource::CourtOrder),
    }
}

fn proceedings_outcome(outcome: cms::ProceedingsOutcome) -> Option<ProceedingsOutcome> {
    match outcome {
        cms::ProceedingsOutcome::Unspecified => None,
        cms::ProceedingsOutcome::Withdrawn => Some(ProceedingsOutcome::Withdrawn),
        cms::ProceedingsOutcome::Dismissed => Some(ProceedingsOutcome::Dismissed),
    }
}

fn payment_source(source: cms::PaymentSource) -> Option<PaymentSource> {
    match source {
        cms::PaymentSource::Unspecified => None,
        cms::PaymentSource::PayingParent => Some(PaymentSource::PayingParent),
        cms::PaymentSource::DeductionFromEarnings => Some(PaymentSource::DeductionFromEarnings),
        cms::PaymentSource::DeductionFromAccount => Some(PaymentSource::DeductionFromAccount),
        cms::PaymentSource::DeductionFromBenefit => Some(PaymentSource::DeductionFromBenefit),
        cms::PaymentSource::EnforcementAgents => Some(PaymentSource::EnforcementAgents),
    }
}

fn closure_reason(reason: cms::ClosureReason) -> Option<ClosureReason> {
    match reason {
        cms::ClosureReason::Unspecified => None,
        cms::ClosureReason::FamilyBasedArrangement => Some(ClosureReason::FamilyBasedArrangement),
        cms::ClosureReason::Withdrawn => Some(ClosureReason::Withdrawn),
    }
}

fn enforcement_step(step: cms::EnforcementStepKind) -> Option<EnforcementStep> {
    use cms::EnforcementStepKind as Kind;
    match step {
        Kind::Unspecified => None,
        Kind::DeductionFromEarningsOrder => Some(EnforcementStep::DeductionFromEarningsOrder),
        Kind::RegularDeductionOrder => Some(EnforcementStep::RegularDeductionOrder),
        Kind::LiabilityOrderApplication => Some(EnforcementStep::LiabilityOrderApplication),
        Kind::LiabilityOrder => Some(EnforcementStep::LiabilityOrder),
        Kind::EnforcementAgents => Some(EnforcementStep::EnforcementAgents),
        Kind::ChargingOrder => Some(EnforcementStep::ChargingOrder),
        Kind::Disqualification => Some(EnforcementStep::Disqualification),
        Kind::Committal => Some(EnforcementStep::Committal),
    }
}

fn contact_kind(kind: cms::ContactKind) -> Option<ContactKind> {
    match kind {
        cms::ContactKind::Unspecified => None,
        cms::ContactKind::Call => Some(ContactKind::Call),
        cms::ContactKind::Complaint => Some(ContactKind::Complaint),
        cms::ContactKind::Written => Some(ContactKind::Written),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(event: Event) -> cms::HistoryEntry {
        cms::HistoryEntry {
            date: "2025-05-06".to_owned(),
            kind: "payment_due".to_owned(),
            event: Some(event),
        }
    }

    fn due(amount: &str) -> Event {
        Event::PaymentDue(cms::history_entry::PaymentDue {
            instalment: 2,
            period_from: "2025-04-08".to_owned(),
            amount: amount.to_owned(),
            arrears: "0.00".to_owned(),
            collection_fee: "8.64".to_owned(),
            collected: true,
        })
    }

    #[test]
    fn a_typed_entry_reads_as_the_rules_event_with_exact_amounts() {
        let events = case_events(&[entry(due("216.00"))]).expect("a well-formed entry");
        let CaseEvent::PaymentDue {
            date,
            instalment,
            amount,
            collection_fee,
            collected,
            ..
        } = &events[0]
        else {
            panic!("a payment due, not {:?}", events[0]);
        };
        assert_eq!(*date, NaiveDate::from_ymd_opt(2025, 5, 6).expect("a date"));
        assert_eq!(*instalment, 2);
        assert_eq!(amount.to_string(), "216.00");
        assert_eq!(collection_fee.to_string(), "8.64");
        assert!(*collected);
    }

    #[test]
    fn a_malformed_entry_is_refused_naming_its_place_and_field() {
        let good = entry(due("216.00"));
        let error = case_events(&[good, entry(due("lots"))])
            .expect_err("an amount that is not one")
            .to_string();
        assert!(
            error.starts_with("history[1].payment_due.amount:"),
            "{error}"
        );
    }

    #[test]
    fn an_unspecified_enumeration_is_refused_naming_the_field() {
        let closed = cms::HistoryEntry {
            date: "2025-05-06".to_owned(),
            kind: "case_closed".to_owned(),
            event: Some(Event::CaseClosed(cms::history_entry::CaseClosed {
                reason: 0,
            })),
        };
        let error = case_events(&[closed])
            .expect_err("a closure without a reason")
            .to_string();
        assert!(
            error.starts_with("history[0].case_closed.reason:"),
            "{error}"
        );
    }
}
