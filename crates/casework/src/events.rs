//! What happened on a case: the events each operation returns, which are also the case's history.
//!
//! Every event carries its effective date. An operation returns its events in date order (time-
//! driven work first, then the request itself), and the case keeps every event it has returned, in
//! the same order, as its history ([`crate::CaseFile::history`]), so a service can publish the
//! events and a report can read the history without the two ever disagreeing.
//!
//! Money that can go either way (a retrospective adjustment, arrears) is a signed
//! [`rust_decimal::Decimal`] of whole pence; everything else is a non-negative [`Money`].

use chrono::NaiveDate;
use familybridge_calculation::{Money, Rate};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::request::{
    ClosureReason, CollectionMethod, ContactKind, Employment, EvidenceSource, IncomeSource, Party,
    PaymentSource, ProceedingsOutcome,
};
use crate::settings::EnforcementStep;

/// The rate a calculation arrived at (a serialisable mirror of the engine's [`Rate`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CalculatedRate {
    /// Nothing payable.
    Nil,
    /// The flat rate.
    Flat,
    /// The reduced rate.
    Reduced,
    /// The basic rate.
    Basic,
    /// The basic plus rate.
    BasicPlus,
    /// The default rate (income not known).
    Default,
}

impl From<Rate> for CalculatedRate {
    fn from(rate: Rate) -> Self {
        match rate {
            Rate::Nil => CalculatedRate::Nil,
            Rate::Flat => CalculatedRate::Flat,
            Rate::Reduced => CalculatedRate::Reduced,
            Rate::Basic => CalculatedRate::Basic,
            Rate::BasicPlus => CalculatedRate::BasicPlus,
            Rate::Default => CalculatedRate::Default,
        }
    }
}

/// Why a calculation was made or revised.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum CalculationReason {
    /// The CMS acted on the application.
    Application,
    /// A final court order ended the wait of delayed CMS involvement.
    FinalOrder {
        /// The order.
        order_id: String,
    },
    /// The proceedings ended without a final order, ending the wait of delayed CMS involvement.
    ProceedingsEnded,
    /// An income figure was taken into the calculation.
    Income,
    /// Shared-care evidence for a child.
    SharedCare {
        /// The child.
        child_ref: String,
    },
    /// A court order's nights.
    CourtOrder {
        /// The order.
        order_id: String,
    },
    /// The annual review.
    AnnualReview,
}

/// A change to maintenance already charged: the weeks a change reached back into, what had been
/// charged for them and what is due for them now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Adjustment {
    /// First day of the first week adjusted.
    pub weeks_from: NaiveDate,
    /// Day after the last week adjusted.
    pub weeks_to: NaiveDate,
    /// Weeks adjusted.
    pub weeks: u32,
    /// Maintenance charged for those weeks before the change.
    pub previously_charged: Money,
    /// Maintenance due for those weeks now.
    pub now_due: Money,
    /// `now_due − previously_charged`: positive adds to arrears, negative is an overpayment credit.
    pub amount: Decimal,
}

impl Adjustment {
    /// Whether the adjustment adds to arrears (rather than crediting an overpayment).
    pub fn is_arrears(&self) -> bool {
        self.amount.is_sign_positive() && !self.amount.is_zero()
    }
}

/// What the CMS did with an income figure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum IncomeDecision {
    /// Taken into the calculation from its date.
    Applied,
    /// Recorded but not used: it differs from the income in the current calculation by less than
    /// 25% (2012 Regs reg 34(2)). The next annual review takes the latest figure.
    IgnoredUnder25Percent {
        /// The income the calculation keeps.
        income_in_calculation: Money,
    },
    /// A reported change with no figure ("not provided") between reviews: the calculation keeps
    /// the income it has.
    IgnoredNotProvided,
    /// An annual-review figure: recorded now, taken at the next annual review.
    HeldForReview {
        /// The date of the next review, if the case has a calculation.
        review_on: Option<NaiveDate>,
    },
}

/// Why arrears were put into the collection schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArrearsReason {
    /// Liability ran from a date before the first calculation (the initial effective date, or a
    /// backdated start under delayed involvement): the instalment periods already past when the
    /// CMS calculated.
    LiabilityBeforeCalculation,
    /// Direct Pay payments the receiving parent reported missed, taken on when the case moved to
    /// Collect and Pay.
    DirectPayMissed,
}

/// Why a case's collection method changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CollectionChange {
    /// Direct Pay is not available on the date (a fee model without it).
    DirectPayUnavailable,
    /// The receiving parent reported missed Direct Pay payments.
    MissedPaymentsReported,
    /// The paying parent is on the flat rate because of a benefit, so the CMS collects by
    /// deduction from that benefit.
    DeductionFromBenefit,
}

/// One thing that happened on a case, with its effective date.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "event")]
pub enum CaseEvent {
    /// The application was opened.
    ApplicationOpened {
        /// The application date.
        date: NaiveDate,
        /// Who applied.
        applicant: Party,
        /// Whether proceedings were pending.
        proceedings_pending: bool,
        /// Whether the CMS waits for a final order before calculating (delayed CMS involvement).
        liability_deferred: bool,
        /// The collection method asked for.
        collection: CollectionMethod,
        /// The paying parent's work.
        employment: Employment,
    },
    /// The CMS notified the paying parent of the application: the initial effective date (SI
    /// 2012/2677 regs 11-12), from which liability runs once the CMS calculates.
    PayingParentNotified {
        /// The date of the notice, which is the initial effective date.
        date: NaiveDate,
        /// Whether the CMS is waiting for the proceedings to end before calculating; the date is
        /// then kept as the effective date today's rules would have used.
        liability_deferred: bool,
    },
    /// Arrears were put into the collection schedule, spread over the instalments that follow.
    ArrearsScheduled {
        /// The date.
        date: NaiveDate,
        /// The arrears scheduled.
        amount: Money,
        /// Why.
        reason: ArrearsReason,
        /// Over how many instalments the arrears now scheduled (these and any before) are spread.
        instalments: u32,
        /// The part of each instalment that pays them.
        per_instalment: Money,
    },
    /// The case's collection method changed.
    CollectionChanged {
        /// The date (fees apply from it).
        date: NaiveDate,
        /// The method from now on.
        to: CollectionMethod,
        /// Why.
        reason: CollectionChange,
    },
    /// The first calculation: liability starts.
    CalculationMade {
        /// When the calculation was made.
        date: NaiveDate,
        /// The day liability starts (the first day of the first maintenance period).
        liability_from: NaiveDate,
        /// The weekly amount in force on `date`.
        weekly_amount: Money,
        /// The rate.
        rate: CalculatedRate,
        /// Why it was made.
        reason: CalculationReason,
    },
    /// A change revised the calculation (the weekly amount in force, or weeks already charged).
    CalculationRevised {
        /// When the change was applied.
        date: NaiveDate,
        /// First day of the maintenance period (week) from which the change applies.
        effective_from: NaiveDate,
        /// The weekly amount in force on `date` before the change.
        previous_weekly_amount: Money,
        /// The weekly amount in force on `date` now.
        weekly_amount: Money,
        /// The rate now.
        rate: CalculatedRate,
        /// What changed.
        reason: CalculationReason,
    },
    /// Weeks already charged were charged again at a different amount (a change reaching back
    /// into them, or liability backdated to weeks already past). Charged on `date`.
    RetrospectiveAdjustment {
        /// When the adjustment was charged.
        date: NaiveDate,
        /// The adjustment.
        adjustment: Adjustment,
    },
    /// An income figure was recorded.
    IncomeRecorded {
        /// The date.
        date: NaiveDate,
        /// The figure (`None`: not provided).
        income: Option<Money>,
        /// Where it came from.
        source: IncomeSource,
        /// What the CMS did with it.
        decision: IncomeDecision,
    },
    /// The annual review took the latest recorded income.
    AnnualReview {
        /// The review date (an anniversary of the liability start).
        date: NaiveDate,
        /// The income before the review.
        previous_income: Option<Money>,
        /// The income the review took.
        income: Option<Money>,
    },
    /// Shared-care evidence was recorded for a child.
    SharedCareRecorded {
        /// The date.
        date: NaiveDate,
        /// The child.
        child_ref: String,
        /// The nights the evidence states.
        nights_claimed: u32,
        /// Its source.
        source: EvidenceSource,
        /// The nights the CMS now uses for the child (after precedence and assumptions).
        nights_used: u32,
    },
    /// A court order was applied.
    CourtOrderApplied {
        /// When the CMS applied it.
        date: NaiveDate,
        /// The order.
        order_id: String,
        /// When it was made.
        made_on: NaiveDate,
        /// Whether it is final.
        is_final: bool,
    },
    /// The child-arrangements proceedings ended.
    ProceedingsEnded {
        /// The date.
        date: NaiveDate,
        /// The final order that ended them, if any.
        final_order: Option<String>,
        /// How they ended without a final order, if they did.
        outcome: Option<ProceedingsOutcome>,
    },
    /// An instalment fell due.
    PaymentDue {
        /// The due date.
        date: NaiveDate,
        /// Instalment number, from 1.
        instalment: u32,
        /// First day of the four weeks it covers.
        period_from: NaiveDate,
        /// The maintenance for those four weeks: the sum of the four weekly amounts.
        amount: Money,
        /// The part of scheduled arrears the instalment collects.
        arrears: Money,
        /// The paying parent's collection fee accrued on the period's liability (Collect and Pay).
        collection_fee: Money,
        /// Whether the CMS collects it (Collect and Pay); on Direct Pay the parents settle it
        /// between them and the CMS does not see whether it was paid.
        collected: bool,
    },
    /// An instalment collected by the CMS was not paid in full by its due date.
    PaymentMissed {
        /// The due date.
        date: NaiveDate,
        /// Instalment number.
        instalment: u32,
        /// The instalment: maintenance, arrears part and collection fee.
        due: Money,
        /// What was paid since the previous due date.
        paid: Money,
        /// Consecutive missed instalments, this one included.
        consecutive_missed: u32,
    },
    /// A payment was received by the CMS (Collect and Pay only: Direct Pay payments are never
    /// seen). It pays maintenance first (ongoing, then arrears), then collection fees, then
    /// enforcement fees (PQ 60231); anything more is a maintenance credit.
    PaymentReceived {
        /// The date.
        date: NaiveDate,
        /// The whole payment.
        amount: Money,
        /// Who paid it.
        source: PaymentSource,
        /// The part that paid maintenance (any credit included).
        to_maintenance: Money,
        /// The part that paid the paying parent's collection fees.
        to_collection_fees: Money,
        /// The part that paid enforcement fees.
        to_enforcement_fees: Money,
        /// The receiving parent's fee taken off the maintenance passed on.
        receiving_parent_fee: Money,
        /// What the receiving parent gets: `to_maintenance − receiving_parent_fee`.
        passed_to_receiving_parent: Money,
    },
    /// The application for a liability order was withdrawn before the hearing: the run of missed
    /// instalments had ended (no fee, SI 2014/612 reg 12(4)(a)).
    LiabilityOrderWithdrawn {
        /// The hearing date.
        date: NaiveDate,
    },
    /// The case closed: no liability from the maintenance period containing the date.
    CaseClosed {
        /// The date.
        date: NaiveDate,
        /// Why.
        reason: ClosureReason,
    },
    /// An enforcement step was taken.
    EnforcementStepTaken {
        /// The due date on which it was taken.
        date: NaiveDate,
        /// The step.
        step: EnforcementStep,
        /// Its fee, charged to the paying parent.
        fee: Money,
        /// Whether the paying parent was flagged as distressed at the time.
        parent_flagged_distressed: bool,
        /// Consecutive missed instalments at the time.
        consecutive_missed: u32,
        /// Arrears at the time (negative: in credit).
        arrears: Decimal,
    },
    /// An enforcement step that was warranted was held because a pause was in force.
    EnforcementPaused {
        /// The due date on which it would have been taken.
        date: NaiveDate,
        /// The step held.
        step: EnforcementStep,
        /// Whether the paying parent was flagged as distressed at the time.
        parent_flagged_distressed: bool,
        /// The first day the pause no longer applies.
        pause_until: NaiveDate,
    },
    /// An enforcement pause began.
    PauseStarted {
        /// The first day of the pause.
        date: NaiveDate,
        /// The first day it no longer applies, unless lifted sooner.
        until: NaiveDate,
        /// Why.
        reason: String,
    },
    /// An enforcement pause ended: lifted, or run to its end.
    PauseEnded {
        /// The first day it no longer applies.
        date: NaiveDate,
        /// Whether it was lifted (rather than running its course).
        lifted: bool,
    },
    /// A parent contacted the CMS.
    ContactLogged {
        /// The date.
        date: NaiveDate,
        /// Who.
        who: Party,
        /// About what.
        kind: ContactKind,
        /// Whether the contact showed distress.
        distressed: bool,
    },
    /// A parent was flagged (or no longer flagged) as distressed, for example by the referral
    /// hub's screening.
    DistressFlagged {
        /// The date.
        date: NaiveDate,
        /// Who.
        who: Party,
        /// Flagged from this date (true) or no longer (false).
        flagged: bool,
    },
}

impl CaseEvent {
    /// The event's effective date.
    pub fn date(&self) -> NaiveDate {
        match self {
            CaseEvent::ApplicationOpened { date, .. }
            | CaseEvent::PayingParentNotified { date, .. }
            | CaseEvent::ArrearsScheduled { date, .. }
            | CaseEvent::CollectionChanged { date, .. }
            | CaseEvent::LiabilityOrderWithdrawn { date, .. }
            | CaseEvent::CaseClosed { date, .. }
            | CaseEvent::CalculationMade { date, .. }
            | CaseEvent::CalculationRevised { date, .. }
            | CaseEvent::RetrospectiveAdjustment { date, .. }
            | CaseEvent::IncomeRecorded { date, .. }
            | CaseEvent::AnnualReview { date, .. }
            | CaseEvent::SharedCareRecorded { date, .. }
            | CaseEvent::CourtOrderApplied { date, .. }
            | CaseEvent::ProceedingsEnded { date, .. }
            | CaseEvent::PaymentDue { date, .. }
            | CaseEvent::PaymentMissed { date, .. }
            | CaseEvent::PaymentReceived { date, .. }
            | CaseEvent::EnforcementStepTaken { date, .. }
            | CaseEvent::EnforcementPaused { date, .. }
            | CaseEvent::PauseStarted { date, .. }
            | CaseEvent::PauseEnded { date, .. }
            | CaseEvent::ContactLogged { date, .. }
            | CaseEvent::DistressFlagged { date, .. } => *date,
        }
    }

    /// A stable snake_case name for the kind of event (`payment_missed`).
    pub fn kind(&self) -> &'static str {
        match self {
            CaseEvent::ApplicationOpened { .. } => "application_opened",
            CaseEvent::PayingParentNotified { .. } => "paying_parent_notified",
            CaseEvent::ArrearsScheduled { .. } => "arrears_scheduled",
            CaseEvent::CollectionChanged { .. } => "collection_changed",
            CaseEvent::LiabilityOrderWithdrawn { .. } => "liability_order_withdrawn",
            CaseEvent::CaseClosed { .. } => "case_closed",
            CaseEvent::CalculationMade { .. } => "calculation_made",
            CaseEvent::CalculationRevised { .. } => "calculation_revised",
            CaseEvent::RetrospectiveAdjustment { .. } => "retrospective_adjustment",
            CaseEvent::IncomeRecorded { .. } => "income_recorded",
            CaseEvent::AnnualReview { .. } => "annual_review",
            CaseEvent::SharedCareRecorded { .. } => "shared_care_recorded",
            CaseEvent::CourtOrderApplied { .. } => "court_order_applied",
            CaseEvent::ProceedingsEnded { .. } => "proceedings_ended",
            CaseEvent::PaymentDue { .. } => "payment_due",
            CaseEvent::PaymentMissed { .. } => "payment_missed",
            CaseEvent::PaymentReceived { .. } => "payment_received",
            CaseEvent::EnforcementStepTaken { .. } => "enforcement_step_taken",
            CaseEvent::EnforcementPaused { .. } => "enforcement_paused",
            CaseEvent::PauseStarted { .. } => "pause_started",
            CaseEvent::PauseEnded { .. } => "pause_ended",
            CaseEvent::ContactLogged { .. } => "contact_logged",
            CaseEvent::DistressFlagged { .. } => "distress_flagged",
        }
    }
}
