//! The measures: what each family's run produced, computed from what the driver reads back from
//! the services (a [`FamilyRecord`]) and the family's plan, then summed over a replication — pure.
//!
//! Every measure is a [`Metric`] with a fixed snake_case name used in every output, and a
//! [`MetricDefinition`] (unit, who it concerns, how it aggregates) printed in the report. A family
//! contributes a [`Tally`] to each metric (a total and, for averages, a count), so a replication
//! streams families through a [`ReplicationAccumulator`] and keeps nothing per family. Only events
//! dated inside the period count. Money stays exact.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use familybridge_casework::{
    ArrearsReason, CaseEvent, ClosureReason, CollectionChange, EnforcementStep, EvidenceSource,
};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use crate::scenario::{RunSettings, Scenario};
use crate::world::{FamilyPlan, night_band};

/// A court order as the court registry made it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CourtOrderFact {
    /// The registry's order id (as the CMS's `CourtOrderApplied.order_id` names it).
    pub order_id: String,
    /// When it was made.
    pub made_on: NaiveDate,
    /// Whether it is final.
    pub is_final: bool,
    /// Nights a year each child is to spend with the paying parent, by child reference.
    pub nights_with_paying_parent: BTreeMap<String, u32>,
}

/// What the driver read back from the services about one family at the end of the period, and
/// what the family paid outside the CMS (which no agency sees).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FamilyRecord {
    /// The CMS case's full history, in order (empty if the family has no CMS case).
    pub cms_history: Vec<CaseEvent>,
    /// Payments the paying parent made straight to the receiving parent — on Direct Pay, or under a
    /// family-based arrangement after leaving the CMS — by date.
    pub direct_payments: Vec<(NaiveDate, Decimal)>,
    /// What fell due under a family-based arrangement after the family left the CMS, by date.
    pub arrangement_due: Vec<(NaiveDate, Decimal)>,
    /// Every order the court made in the family's case, in the order made.
    pub court_orders: Vec<CourtOrderFact>,
    /// Referrals the hub made for the family (either parent).
    pub referrals: u32,
    /// Joint case reviews the hub convened for the family.
    pub joint_reviews: u32,
}

/// Figures for a whole replication, not per family, that the driver supplies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SystemRecord {
    /// Cross-agency disclosures in the audit logs (every agency's `ListDisclosures`).
    pub disclosures: u64,
}

/// Whom a measure concerns, for grouping in tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Who {
    /// Receiving parents and children.
    ReceivingParents,
    /// Paying parents.
    PayingParents,
    /// Both, or the agencies.
    System,
    /// Figures a baseline run is checked against, from published statistics (see
    /// [`crate::calibration`]).
    Calibration,
}

impl Who {
    /// A heading for the group.
    pub fn heading(self) -> &'static str {
        match self {
            Who::ReceivingParents => "Receiving parents and children",
            Who::PayingParents => "Paying parents",
            Who::System => "Both sides and the system",
            Who::Calibration => "Calibration against published figures",
        }
    }

    /// Every group, in the order tables show them.
    pub const ALL: [Who; 4] = [
        Who::ReceivingParents,
        Who::PayingParents,
        Who::System,
        Who::Calibration,
    ];
}

/// How a replication's value of a metric is made from its families.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Aggregation {
    /// The sum over families.
    Sum,
    /// The mean over the items counted (families paid, orders made), to 4 decimal places.
    MeanPerItem,
    /// The percentage of the items counted, to 4 decimal places.
    PercentOfItems,
    /// A figure for the whole replication from [`SystemRecord`].
    SystemTotal,
}

impl Aggregation {
    /// In words, for the definitions table.
    pub fn describe(self) -> &'static str {
        match self {
            Aggregation::Sum => "sum over families",
            Aggregation::MeanPerItem => "mean over the items counted",
            Aggregation::PercentOfItems => "percentage of the items counted",
            Aggregation::SystemTotal => "whole-system total",
        }
    }
}

/// One measure's definition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetricDefinition {
    /// The snake_case name used in every output.
    pub name: &'static str,
    /// Its unit.
    pub unit: &'static str,
    /// What it counts, in plain words.
    pub description: &'static str,
    /// Whom it concerns.
    pub who: Who,
    /// How a replication's value is made.
    pub aggregation: Aggregation,
}

macro_rules! metrics {
    ($( $(#[doc = $doc:literal])+ $variant:ident = $name:literal, $unit:literal, $who:ident, $agg:ident, $description:literal; )+) => {
        /// A measure. Declaration order is the order of every table and file.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Metric {
            $( $(#[doc = $doc])+ $variant, )+
        }

        impl Metric {
            /// Every metric, in output order.
            pub const ALL: &'static [Metric] = &[ $( Metric::$variant, )+ ];

            /// The metric's definition.
            pub fn definition(self) -> MetricDefinition {
                match self {
                    $( Metric::$variant => MetricDefinition {
                        name: $name,
                        unit: $unit,
                        description: $description,
                        who: Who::$who,
                        aggregation: Aggregation::$agg,
                    }, )+
                }
            }
        }
    };
}

metrics! {
    /// Days from application to the first payment received.
    DaysToFirstPayment = "days_to_first_payment", "days", ReceivingParents, MeanPerItem,
        "Days from the CMS application to the first payment received, over families paid within the period (see share_never_paid for the rest).";
    /// Percentage of families with an application never paid in the period.
    ShareNeverPaid = "share_never_paid", "% of families", ReceivingParents, PercentOfItems,
        "Families with a CMS application who received no payment by the end of the period.";
    /// Maintenance charged.
    MaintenanceDue = "maintenance_due", "£", ReceivingParents, Sum,
        "Maintenance charged in the period: instalments fallen due plus retrospective adjustments (which may be negative).";
    /// Maintenance paid.
    MaintenancePaid = "maintenance_paid", "£", ReceivingParents, Sum,
        "Maintenance paid by paying parents in the period (before fees).";
    /// Maintenance received after fees.
    MaintenanceReceived = "maintenance_received", "£", ReceivingParents, Sum,
        "What receiving parents got, after the Collect and Pay fee taken off their side.";
    /// Arrears at the end.
    ArrearsEnd = "arrears_end", "£", ReceivingParents, Sum,
        "Maintenance charged less maintenance paid, at the end of the period (negative: credit).";
    /// Child-days with an open application and no money yet.
    ChildDaysWithoutMoney = "child_days_without_money", "child-days", ReceivingParents, Sum,
        "For each child, the days from the CMS application to the first payment, or to the end of the period if none.";
    /// Collection fees paid by receiving parents.
    FeesPaidReceivingParent = "fees_paid_receiving_parent", "£", ReceivingParents, Sum,
        "Collect and Pay fees taken off what receiving parents got.";
    /// Maintenance collected by enforcement.
    CollectedByEnforcement = "collected_by_enforcement", "£", ReceivingParents, Sum,
        "Maintenance collected by deduction orders (from earnings or a bank account) and enforcement agents: what enforcement, and so a pause in it, changes.";
    /// Enforcement actions, all kinds.
    EnforcementActions = "enforcement_actions", "actions", PayingParents, Sum,
        "Enforcement steps the CMS took.";
    /// Enforcement actions against a paying parent flagged as distressed.
    EnforcementActionsWhileDistressed = "enforcement_actions_while_distressed", "actions", PayingParents, Sum,
        "Enforcement steps taken while the paying parent was flagged as distressed.";
    /// Deduction from earnings orders.
    EnforcementDeductionFromEarningsOrder = "enforcement_deduction_from_earnings_order", "actions", PayingParents, Sum,
        "Deduction from earnings orders (CSA 1991 s.31).";
    /// Regular deduction orders.
    EnforcementRegularDeductionOrder = "enforcement_regular_deduction_order", "actions", PayingParents, Sum,
        "Regular deduction orders against a bank account (s.32A).";
    /// Applications for a liability order.
    EnforcementLiabilityOrderApplication = "enforcement_liability_order_application", "actions", PayingParents, Sum,
        "Applications to a magistrates' court for a liability order (s.33).";
    /// Liability orders.
    EnforcementLiabilityOrder = "enforcement_liability_order", "actions", PayingParents, Sum,
        "Liability orders granted by a magistrates' court (s.33), after the court's lag.";
    /// Enforcement agents.
    EnforcementEnforcementAgents = "enforcement_enforcement_agents", "actions", PayingParents, Sum,
        "Enforcement agents instructed after a liability order (s.35).";
    /// Charging orders.
    EnforcementChargingOrder = "enforcement_charging_order", "actions", PayingParents, Sum,
        "Charging orders on property (s.36).";
    /// Disqualifications.
    EnforcementDisqualification = "enforcement_disqualification", "actions", PayingParents, Sum,
        "Disqualifications from driving or travel (ss.39B, 40B).";
    /// Committals.
    EnforcementCommittal = "enforcement_committal", "actions", PayingParents, Sum,
        "Committals to prison (s.40).";
    /// Recalculations.
    Recalculations = "recalculations", "revisions", PayingParents, Sum,
        "Revisions of a calculation already made.";
    /// Retrospective adjustments.
    RetrospectiveAdjustments = "retrospective_adjustments", "adjustments", PayingParents, Sum,
        "Times weeks already charged were charged again at a different amount.";
    /// Money moved by retrospective adjustments.
    RetrospectiveAdjustmentAmount = "retrospective_adjustment_amount", "£", PayingParents, Sum,
        "Sum of the absolute amounts of retrospective adjustments (arrears added or credit given).";
    /// Fees charged to paying parents.
    FeesChargedPayingParent = "fees_charged_paying_parent", "£", PayingParents, Sum,
        "Collection fees accrued on liability (Collect and Pay) plus enforcement fees charged.";
    /// Fees paid by paying parents.
    FeesPaidPayingParent = "fees_paid_paying_parent", "£", PayingParents, Sum,
        "Collection and enforcement fees actually paid (a payment pays maintenance first).";
    /// Days paying parents spent in distress.
    DaysInDistress = "days_in_distress", "days", PayingParents, Sum,
        "Days paying parents spent in an episode of distress (from the world; no lever shortens them in this model).";
    /// Referrals to support.
    Referrals = "referrals", "referrals", PayingParents, Sum,
        "Referrals the hub made to support pathways.";
    /// Days the CMS's shared-care basis differed from the court order in force.
    MisalignedDays = "misaligned_days", "days", System, Sum,
        "Days on which the CMS had a calculation and a court order was in force, and for some child the CMS's shared-care band (from the latest order it had applied, or else its recorded evidence, or else none) differed from the order's.";
    /// Days from a court order to the CMS applying it.
    OrderToCmsLagDays = "order_to_cms_lag_days", "days", System, MeanPerItem,
        "For each court order made in the period, days from the later of its date and the CMS application to the CMS applying it; an order never applied counts to the end of the period.";
    /// Court orders the CMS never applied.
    OrdersNeverApplied = "orders_never_applied", "orders", System, Sum,
        "Court orders made in the period that the CMS had not applied by its end.";
    /// Disputed claims of shared care.
    Disputes = "disputes", "claims", System, Sum,
        "Claims of shared care for a child resting on a parent's word alone, disputed by the other parent (the CMS applies its assumption instead).";
    /// Joint case reviews.
    JointReviews = "joint_reviews", "reviews", System, Sum,
        "Joint case reviews the hub convened.";
    /// Enforcement pauses begun.
    EnforcementPauses = "enforcement_pauses", "pauses", System, Sum,
        "Enforcement pauses begun.";
    /// Cross-agency disclosures.
    Disclosures = "disclosures", "disclosures", System, SystemTotal,
        "Cross-agency disclosures recorded in the agencies' audit logs in the replication.";
    /// Cases moved from Direct Pay to Collect and Pay.
    MovedToCollectAndPay = "moved_to_collect_and_pay", "cases", System, Sum,
        "Direct Pay cases moved to Collect and Pay: missed payments reported by the receiving parent, or Direct Pay no longer available.";
    /// Families who left the CMS for a family-based arrangement.
    FamilyBasedArrangements = "family_based_arrangements", "families", System, Sum,
        "Families who left the CMS for a family-based arrangement (when Direct Pay was not available to them).";
    /// Deferred applications still waiting although the proceedings ended.
    DeferredLeftWaiting = "deferred_left_waiting", "applications", System, Sum,
        "Applications the CMS deferred under delayed involvement that still had no calculation at the end of the period although the proceedings had ended in it: cases the CMS was never told of, or not yet.";
    /// Applications with no calculation by the end of the period.
    ApplicationsWithoutCalculation = "applications_without_calculation", "applications", System, Sum,
        "CMS applications with no calculation by the end of the period (still being processed, or waiting for proceedings to end).";
    /// Percentage of CMS cases on Collect and Pay.
    CollectAndPayShare = "collect_and_pay_share", "% of CMS cases", Calibration, PercentOfItems,
        "Families with a CMS case (an application opened) who use Collect and Pay rather than Direct Pay. Published: about 45% of paying parents (written answer, Sept 2025).";
    /// Percentage of Collect and Pay cases, quarter by quarter, paid something.
    PayingSomethingShare = "paying_something_share", "% of case-quarters", Calibration, PercentOfItems,
        "Quarters (of the period, from its start) in which a case had an instalment collected by the CMS fall due and the CMS received something for it, by the parent or through enforcement. Published: 68% of Collect and Pay paying parents paid something in the quarter to Sept 2024 (CMS statistics).";
    /// Percentage of families with a court order whose latest order gives shared care.
    SharedCareShare = "shared_care_share", "% of families with an order", Calibration, PercentOfItems,
        "Families with a court order made in the period whose latest such order gives some child at least 52 nights a year with the paying parent (any shared care). Published: 23% of statutory arrangements (unconfirmed secondary source).";
    /// Percentage of Collect and Pay cases with a deduction from earnings order.
    DeductionFromEarningsShare = "deduction_from_earnings_share", "% of Collect and Pay cases", Calibration, PercentOfItems,
        "Cases with an instalment collected by the CMS in the period on which a deduction from earnings order was made in it. Published: 27% of the 180,000 paying parents due to pay through Collect and Pay had one, Sept 2023 (PQ 7414), a stock where ours counts new cases over the period.";
    /// Liability orders granted per 100 years of Collect and Pay cases.
    LiabilityOrdersPer100CaseYears = "liability_orders_per_100_case_years", "orders", Calibration, PercentOfItems,
        "Liability orders granted in the period per 100 years of cases collected by the CMS (an instalment period is 28 days). Published: about 11,000 secured in 2023 against about 180,000 Collect and Pay cases, some 6 a year per 100 (PQ 7414; HL7808).";
    /// Percentage of Collect and Pay maintenance due in the period left unpaid.
    CollectAndPayUnpaidShare = "collect_and_pay_unpaid_share", "% of maintenance due", Calibration, PercentOfItems,
        "Of the maintenance collected by the CMS that fell due in the period, the share not paid by its end. Published: £91.9m of £316.8m arranged through Collect and Pay unpaid, Apr 2023 to Mar 2024 (29%; written answer, 17 Jul 2024).";
    /// Mean weeks from the court application to the final order.
    WeeksToFinalOrder = "weeks_to_final_order", "weeks", Calibration, MeanPerItem,
        "Weeks (to 2 decimal places per family) from the court application to the first final order, over families whose final order was made within the period (so proceedings too long to end within it are not seen, and a short period reads low). Published: mean 39 weeks from application to final order, private law children cases (Family Court Statistics Quarterly, Apr-Jun 2025).";
}

impl Metric {
    /// The snake_case name.
    pub fn name(self) -> &'static str {
        self.definition().name
    }

    /// The metrics with a monthly series.
    pub const MONTHLY: &'static [Metric] = &[
        Metric::MaintenanceReceived,
        Metric::ArrearsEnd,
        Metric::EnforcementActions,
        Metric::MisalignedDays,
    ];

    fn for_step(step: EnforcementStep) -> Metric {
        match step {
            EnforcementStep::DeductionFromEarningsOrder => {
                Metric::EnforcementDeductionFromEarningsOrder
            }
            EnforcementStep::RegularDeductionOrder => Metric::EnforcementRegularDeductionOrder,
            EnforcementStep::LiabilityOrderApplication => {
                Metric::EnforcementLiabilityOrderApplication
            }
            EnforcementStep::LiabilityOrder => Metric::EnforcementLiabilityOrder,
            EnforcementStep::EnforcementAgents => Metric::EnforcementEnforcementAgents,
            EnforcementStep::ChargingOrder => Metric::EnforcementChargingOrder,
            EnforcementStep::Disqualification => Metric::EnforcementDisqualification,
            EnforcementStep::Committal => Metric::EnforcementCommittal,
        }
    }
}

/// A family's contribution to a metric: a total, and the number of items it is over (for means).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// The total.
    pub total: Decimal,
    /// Items counted (families paid, orders made…); unused by sums.
    pub count: Decimal,
}

/// One family's measures.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FamilyMeasures {
    /// By metric (absent: nothing to add).
    pub tallies: BTreeMap<Metric, Tally>,
    /// Monthly series: (month index, metric) → value.
    pub monthly: BTreeMap<(u32, Metric), Decimal>,
}

impl FamilyMeasures {
    fn add(&mut self, metric: Metric, total: Decimal, count: Decimal) {
        let tally = self.tallies.entry(metric).or_default();
        tally.total += total;
        tally.count += count;
    }

    fn count(&mut self, metric: Metric) {
        self.add(metric, Decimal::ONE, Decimal::ZERO);
    }

    fn add_monthly(&mut self, month: u32, metric: Metric, value: Decimal) {
        *self.monthly.entry((month, metric)).or_default() += value;
    }

    /// The total of a metric (zero if absent).
    pub fn total(&self, metric: Metric) -> Decimal {
        self.tallies.get(&metric).map_or(Decimal::ZERO, |t| t.total)
    }
}

/// Which month of the period `date` falls in.
fn month_of(run: &RunSettings, date: NaiveDate) -> Option<u32> {
    (0..run.months).find(|m| date >= run.month_start(*m) && date < run.month_start(m + 1))
}

fn days_between(from: NaiveDate, to: NaiveDate) -> Decimal {
    Decimal::from((to - from).num_days().max(0))
}

/// One family's measures from its plan and what the services recorded.
pub fn family_measures(
    run: &RunSettings,
    plan: &FamilyPlan,
    record: &FamilyRecord,
) -> FamilyMeasures {
    let start = run.start;
    let end = run.end();
    let mut m = FamilyMeasures::default();
    let in_period = |date: NaiveDate| date >= start && date < end;
    let children = Decimal::from(plan.child_refs.len());

    let application = record.cms_history.iter().find_map(|e| match e {
        CaseEvent::ApplicationOpened { date, .. } => Some(*date),
        _ => None,
    });

    let mut first_payment: Option<NaiveDate> = None;
    let note_payment = |date: NaiveDate, first: &mut Option<NaiveDate>| {
        if first.is_none_or(|seen| date < seen) {
            *first = Some(date);
        }
    };
    let mut calculated = false;
    // Arrears change per event, for the month-end series.
    let mut arrears_changes: Vec<(NaiveDate, Decimal)> = Vec::new();
    for event in &record.cms_history {
        let date = event.date();
        if let CaseEvent::CalculationMade { date, .. } = event
            && *date < end
        {
            calculated = true;
        }
        if !in_period(date) {
            continue;
        }
        match event {
            CaseEvent::PaymentDue {
                amount,
                collection_fee,
                ..
            } => {
                m.add(Metric::MaintenanceDue, amount.as_decimal(), Decimal::ZERO);
                m.add(
                    Metric::FeesChargedPayingParent,
                    collection_fee.as_decimal(),
                    Decimal::ZERO,
                );
                arrears_changes.push((date, amount.as_decimal()));
            }
            CaseEvent::ArrearsScheduled {
                amount,
                reason: ArrearsReason::LiabilityBeforeCalculation,
                ..
            } => {
                m.add(Metric::MaintenanceDue, amount.as_decimal(), Decimal::ZERO);
                arrears_changes.push((date, amount.as_decimal()));
            }
            CaseEvent::RetrospectiveAdjustment { adjustment, .. } => {
                m.add(Metric::MaintenanceDue, adjustment.amount, Decimal::ZERO);
                m.count(Metric::RetrospectiveAdjustments);
                m.add(
                    Metric::RetrospectiveAdjustmentAmount,
                    adjustment.amount.abs(),
                    Decimal::ZERO,
                );
                arrears_changes.push((date, adjustment.amount));
            }
            CaseEvent::PaymentReceived {
                source,
                to_maintenance,
                to_collection_fees,
                to_enforcement_fees,
                receiving_parent_fee,
                passed_to_receiving_parent,
                ..
            } => {
                if !to_maintenance.is_zero() {
                    note_payment(date, &mut first_payment);
                }
                m.add(
                    Metric::MaintenancePaid,
                    to_maintenance.as_decimal(),
                    Decimal::ZERO,
                );
                m.add(
                    Metric::MaintenanceReceived,
                    passed_to_receiving_parent.as_decimal(),
                    Decimal::ZERO,
                );
                m.add(
                    Metric::FeesPaidPayingParent,
                    to_collection_fees.as_decimal() + to_enforcement_fees.as_decimal(),
                    Decimal::ZERO,
                );
                m.add(
                    Metric::FeesPaidReceivingParent,
                    receiving_parent_fee.as_decimal(),
                    Decimal::ZERO,
                );
                if source.is_enforcement() {
                    m.add(
                        Metric::CollectedByEnforcement,
                        to_maintenance.as_decimal(),
                        Decimal::ZERO,
                    );
                }
                arrears_changes.push((date, -to_maintenance.as_decimal()));
                if let Some(month) = month_of(run, date) {
                    m.add_monthly(
                        month,
                        Metric::MaintenanceReceived,
                        passed_to_receiving_parent.as_decimal(),
                    );
                }
            }
            CaseEvent::EnforcementStepTaken {
                step,
                fee,
                parent_flagged_distressed,
                ..
            } => {
                m.count(Metric::EnforcementActions);
                m.count(Metric::for_step(*step));
                if *parent_flagged_distressed {
                    m.count(Metric::EnforcementActionsWhileDistressed);
                }
                m.add(
                    Metric::FeesChargedPayingParent,
                    fee.as_decimal(),
                    Decimal::ZERO,
                );
                if let Some(month) = month_of(run, date) {
                    m.add_monthly(month, Metric::EnforcementActions, Decimal::ONE);
                }
            }
            CaseEvent::CollectionChanged {
                reason:
                    CollectionChange::MissedPaymentsReported | CollectionChange::DirectPayUnavailable,
                ..
            } => m.count(Metric::MovedToCollectAndPay),
            CaseEvent::CaseClosed {
                reason: ClosureReason::FamilyBasedArrangement,
                ..
            } => m.count(Metric::FamilyBasedArrangements),
            CaseEvent::CalculationRevised { .. } => m.count(Metric::Recalculations),
            CaseEvent::PauseStarted { .. } => m.count(Metric::EnforcementPauses),
            CaseEvent::SharedCareRecorded {
                source: EvidenceSource::ParentsWord,
                ..
            } => m.count(Metric::Disputes),
            _ => {}
        }
    }
    for (date, amount) in record.direct_payments.iter().filter(|(d, _)| in_period(*d)) {
        note_payment(*date, &mut first_payment);
        m.add(Metric::MaintenancePaid, *amount, Decimal::ZERO);
        m.add(Metric::MaintenanceReceived, *amount, Decimal::ZERO);
        arrears_changes.push((*date, -*amount));
        if let Some(month) = month_of(run, *date) {
            m.add_monthly(month, Metric::MaintenanceReceived, *amount);
        }
    }
    for (date, amount) in record.arrangement_due.iter().filter(|(d, _)| in_period(*d)) {
        m.add(Metric::MaintenanceDue, *amount, Decimal::ZERO);
        arrears_changes.push((*date, *amount));
    }
    if application.is_some_and(|applied| applied < end) && !calculated {
        m.count(Metric::ApplicationsWithoutCalculation);
        let deferred = record.cms_history.iter().any(|e| {
            matches!(
                e,
                CaseEvent::ApplicationOpened {
                    liability_deferred: true,
                    ..
                }
            )
        });
        if deferred && plan.court.as_ref().is_some_and(|c| c.ends_on < end) {
            m.count(Metric::DeferredLeftWaiting);
        }
    }

    if let Some(applied_on) = application {
        let paid_on = first_payment.unwrap_or(end);
        let waited_from = applied_on.max(start);
        m.add(
            Metric::ChildDaysWithoutMoney,
            children * days_between(waited_from, paid_on),
            Decimal::ZERO,
        );
        match first_payment {
            Some(paid_on) => {
                m.add(
                    Metric::DaysToFirstPayment,
                    days_between(applied_on, paid_on),
                    Decimal::ONE,
                );
                m.add(Metric::ShareNeverPaid, Decimal::ZERO, Decimal::ONE);
            }
            None => m.add(Metric::ShareNeverPaid, Decimal::ONE, Decimal::ONE),
        }
    }
    let arrears: Decimal = arrears_changes.iter().map(|(_, change)| *change).sum();
    m.add(Metric::ArrearsEnd, arrears, Decimal::ZERO);
    for month in 0..run.months {
        let month_end = run.month_start(month + 1);
        let at_end: Decimal = arrears_changes
            .iter()
            .filter(|(date, _)| *date < month_end)
            .map(|(_, change)| *change)
            .sum();
        m.add_monthly(month, Metric::ArrearsEnd, at_end);
    }

    calibration(&mut m, run, plan, record, application.is_some());
    order_lags(
        &mut m,
        record,
        application.unwrap_or(plan.application_date),
        end,
    );
    misaligned_days(&mut m, run, record);

    let distress: i64 = plan.distress_episodes.iter().map(|e| e.days()).sum();
    m.add(
        Metric::DaysInDistress,
        Decimal::from(distress),
        Decimal::ZERO,
    );
    m.add(
        Metric::Referrals,
        Decimal::from(record.referrals),
        Decimal::ZERO,
    );
    m.add(
        Metric::JointReviews,
        Decimal::from(record.joint_reviews),
        Decimal::ZERO,
    );
    m
}

/// The calibration measures: `collect_and_pay_share`, `paying_something_share`,
/// `shared_care_share` and `weeks_to_final_order`.
fn calibration(
    m: &mut FamilyMeasures,
    run: &RunSettings,
    plan: &FamilyPlan,
    record: &FamilyRecord,
    has_cms_case: bool,
) {
    let start = run.start;
    let end = run.end();
    let in_period = |date: NaiveDate| date >= start && date < end;
    let yes_or_no = |yes: bool| if yes { Decimal::ONE } else { Decimal::ZERO };

    if has_cms_case {
        m.add(
            Metric::CollectAndPayShare,
            yes_or_no(plan.collect_and_pay),
            Decimal::ONE,
        );
    }

    // Quarter by quarter, as the CMS publishes it: whether an instalment it collects fell due,
    // and whether anything was paid to it.
    let mut quarters: BTreeMap<u32, (bool, bool)> = BTreeMap::new();
    let mut collected_due = Decimal::ZERO;
    let mut collected_paid = Decimal::ZERO;
    let mut collected_periods = 0u32;
    let mut deduction_from_earnings = false;
    let mut liability_orders = 0u32;
    for event in record.cms_history.iter().filter(|e| in_period(e.date())) {
        let quarter = month_of(run, event.date()).map_or(0, |month| month / 3);
        match event {
            CaseEvent::PaymentDue {
                amount,
                collected: true,
                ..
            } => {
                quarters.entry(quarter).or_default().0 = true;
                collected_due += amount.as_decimal();
                collected_periods += 1;
            }
            CaseEvent::PaymentReceived { to_maintenance, .. } if !to_maintenance.is_zero() => {
                quarters.entry(quarter).or_default().1 = true;
                collected_paid += to_maintenance.as_decimal();
            }
            CaseEvent::EnforcementStepTaken { step, .. } => match step {
                EnforcementStep::DeductionFromEarningsOrder => deduction_from_earnings = true,
                EnforcementStep::LiabilityOrder => liability_orders += 1,
                _ => {}
            },
            _ => {}
        }
    }
    for (due, paid) in quarters.values() {
        if *due {
            m.add(Metric::PayingSomethingShare, yes_or_no(*paid), Decimal::ONE);
        }
    }
    if collected_periods > 0 {
        m.add(
            Metric::DeductionFromEarningsShare,
            yes_or_no(deduction_from_earnings),
            Decimal::ONE,
        );
        // An instalment period is 28 days: years = periods × 28 / 365.
        let case_years = Decimal::from(collected_periods * 28) / Decimal::from(365);
        m.add(
            Metric::LiabilityOrdersPer100CaseYears,
            Decimal::from(liability_orders),
            case_years,
        );
    }
    if collected_due > Decimal::ZERO {
        m.add(
            Metric::CollectAndPayUnpaidShare,
            (collected_due - collected_paid).max(Decimal::ZERO),
            collected_due,
        );
    }

    // The latest order made in the period: orders made the same day stay in the order the court
    // made them, the later winning.
    let latest = record
        .court_orders
        .iter()
        .filter(|o| in_period(o.made_on))
        .max_by_key(|o| o.made_on);
    if let Some(order) = latest {
        let shared = order
            .nights_with_paying_parent
            .values()
            .any(|nights| *nights >= SHARED_CARE_NIGHTS);
        m.add(Metric::SharedCareShare, yes_or_no(shared), Decimal::ONE);
    }

    // The first final order is the one that ended the proceedings; later ones vary it.
    let first_final = record
        .court_orders
        .iter()
        .filter(|o| o.is_final)
        .min_by_key(|o| o.made_on);
    if let (Some(court), Some(order)) = (&plan.court, first_final)
        && in_period(order.made_on)
    {
        let days = Decimal::from((order.made_on - court.opened_on).num_days().max(0));
        let weeks = (days / Decimal::from(7))
            .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
        m.add(Metric::WeeksToFinalOrder, weeks, Decimal::ONE);
    }
}

/// The fewest nights a year with the paying parent that make shared care (the first shared-care
/// band of [`crate::world::NIGHT_BANDS`]).
pub const SHARED_CARE_NIGHTS: u32 = 52;

/// `order_to_cms_lag_days` and `orders_never_applied`.
fn order_lags(
    m: &mut FamilyMeasures,
    record: &FamilyRecord,
    applied_on: NaiveDate,
    end: NaiveDate,
) {
    for order in record.court_orders.iter().filter(|o| o.made_on < end) {
        // The CMS cannot use an order before the family has a CMS case.
        let from = order.made_on.max(applied_on);
        let applied = record.cms_history.iter().find_map(|e| match e {
            CaseEvent::CourtOrderApplied { date, order_id, .. }
                if *order_id == order.order_id && *date < end =>
            {
                Some(*date)
            }
            _ => None,
        });
        match applied {
            Some(date) => m.add(
                Metric::OrderToCmsLagDays,
                days_between(from, date),
                Decimal::ONE,
            ),
            None => {
                m.add(
                    Metric::OrderToCmsLagDays,
                    days_between(from, end),
                    Decimal::ONE,
                );
                m.count(Metric::OrdersNeverApplied);
            }
        }
    }
}

/// `misaligned_days`, overall and by month: walks the period a day at a time, advancing through
/// the CMS history (what the CMS knew by that day) and the orders (which order was in force).
fn misaligned_days(m: &mut FamilyMeasures, run: &RunSettings, record: &FamilyRecord) {
    let end = run.end();
    let Some(first_calculation) = record.cms_history.iter().find_map(|e| match e {
        CaseEvent::CalculationMade { date, .. } => Some(*date),
        _ => None,
    }) else {
        return;
    };
    let mut orders: Vec<&CourtOrderFact> = record.court_orders.iter().collect();
    // Stable: orders made the same day stay in the order the court made them, the later winning.
    orders.sort_by_key(|o| o.made_on);
    let by_id: BTreeMap<&str, &CourtOrderFact> =
        orders.iter().map(|o| (o.order_id.as_str(), *o)).collect();

    let mut cms_nights: BTreeMap<String, u32> = BTreeMap::new();
    let mut next_event = 0;
    let mut in_force: Option<&CourtOrderFact> = None;
    let mut next_order = 0;
    let mut day = run.start;
    let mut month = 0;
    while day < end {
        while next_event < record.cms_history.len() && record.cms_history[next_event].date() <= day
        {
            match &record.cms_history[next_event] {
                CaseEvent::SharedCareRecorded {
                    child_ref,
                    nights_used,
                    ..
                } => {
                    cms_nights.insert(child_ref.clone(), *nights_used);
                }
                CaseEvent::CourtOrderApplied { order_id, .. } => {
                    if let Some(order) = by_id.get(order_id.as_str()) {
                        for (child, nights) in &order.nights_with_paying_parent {
                            cms_nights.insert(child.clone(), *nights);
                        }
                    }
                }
                _ => {}
            }
            next_event += 1;
        }
        while next_order < orders.len() && orders[next_order].made_on <= day {
            in_force = Some(orders[next_order]);
            next_order += 1;
        }
        while month + 1 < run.months && day >= run.month_start(month + 1) {
            month += 1;
        }
        if day >= first_calculation
            && let Some(order) = in_force
        {
            let differs = order
                .nights_with_paying_parent
                .iter()
                .any(|(child, nights)| {
                    night_band(cms_nights.get(child).copied().unwrap_or(0)) != night_band(*nights)
                });
            if differs {
                m.add(Metric::MisalignedDays, Decimal::ONE, Decimal::ZERO);
                m.add_monthly(month, Metric::MisalignedDays, Decimal::ONE);
            }
        }
        day = day.succ_opt().unwrap_or(end);
    }
}

/// An arm's replication result: each metric's value, and the monthly series.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplicationResult {
    /// The arm.
    pub arm: String,
    /// The replication (from 1).
    pub replication: u32,
    /// Families run.
    pub families: u64,
    /// Each metric's value (every metric present).
    pub metrics: BTreeMap<Metric, Decimal>,
    /// Monthly series: (month index, metric) → value, for [`Metric::MONTHLY`].
    pub monthly: BTreeMap<(u32, Metric), Decimal>,
}

/// A replication in progress: families are added one at a time and forgotten.
#[derive(Clone, Debug)]
pub struct ReplicationAccumulator {
    arm: String,
    replication: u32,
    run: RunSettings,
    families: u64,
    tallies: BTreeMap<Metric, Tally>,
    monthly: BTreeMap<(u32, Metric), Decimal>,
}

/// A replication that cannot be accumulated.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MeasureError {
    /// The arm is not in the scenario.
    #[error("arm: {0:?} is not an arm of the scenario")]
    UnknownArm(String),
    /// The replication is outside 1..=replications.
    #[error("replication: {replication} is outside 1 to {replications}")]
    ReplicationOutOfRange {
        /// The replication given.
        replication: u32,
        /// The scenario's number of replications.
        replications: u32,
    },
}

impl ReplicationAccumulator {
    /// Starts replication `replication` (from 1) of `arm`.
    pub fn new(scenario: &Scenario, arm: &str, replication: u32) -> Result<Self, MeasureError> {
        if scenario.arm(arm).is_none() {
            return Err(MeasureError::UnknownArm(arm.to_owned()));
        }
        if replication < 1 || replication > scenario.run.replications {
            return Err(MeasureError::ReplicationOutOfRange {
                replication,
                replications: scenario.run.replications,
            });
        }
        Ok(ReplicationAccumulator {
            arm: arm.to_owned(),
            replication,
            run: scenario.run.clone(),
            families: 0,
            tallies: BTreeMap::new(),
            monthly: BTreeMap::new(),
        })
    }

    /// Adds one family.
    pub fn add_family(&mut self, plan: &FamilyPlan, record: &FamilyRecord) {
        let measures = family_measures(&self.run, plan, record);
        for (metric, tally) in measures.tallies {
            let total = self.tallies.entry(metric).or_default();
            total.total += tally.total;
            total.count += tally.count;
        }
        for (key, value) in measures.monthly {
            *self.monthly.entry(key).or_default() += value;
        }
        self.families += 1;
    }

    /// The replication's result.
    pub fn finish(self, system: SystemRecord) -> ReplicationResult {
        let metrics = Metric::ALL
            .iter()
            .map(|metric| {
                let tally = self.tallies.get(metric).copied().unwrap_or_default();
                let value = match metric.definition().aggregation {
                    Aggregation::Sum => tally.total,
                    Aggregation::MeanPerItem => ratio(tally.total, tally.count),
                    Aggregation::PercentOfItems => {
                        ratio(tally.total * Decimal::ONE_HUNDRED, tally.count)
                    }
                    Aggregation::SystemTotal => Decimal::from(system.disclosures),
                };
                (*metric, value)
            })
            .collect();
        let mut monthly = BTreeMap::new();
        for month in 0..self.run.months {
            for metric in Metric::MONTHLY {
                let value = self
                    .monthly
                    .get(&(month, *metric))
                    .copied()
                    .unwrap_or_default();
                monthly.insert((month, *metric), value);
            }
        }
        ReplicationResult {
            arm: self.arm,
            replication: self.replication,
            families: self.families,
            metrics,
            monthly,
        }
    }
}

/// `total / count` to 4 decimal places (half away from zero); 0 when nothing was counted.
fn ratio(total: Decimal, count: Decimal) -> Decimal {
    if count.is_zero() {
        Decimal::ZERO
    } else {
        (total / count).round_dp_with_strategy(4, RoundingStrategy::MidpointAwayFromZero)
    }
}
