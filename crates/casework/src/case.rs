//! One CMS case: its state ([`CaseFile`]), the requests that change it and the queries that read it.
//!
//! The life of a case. An application opens it. The CMS notifies the paying parent, which sets the
//! initial effective date (SI 2012/2677 regs 11-12), and later makes the calculation: liability runs
//! from the effective date, and the instalment periods already past by then are arrears, put into
//! the collection schedule. Under delayed CMS involvement the CMS waits instead while proceedings
//! are pending, and calculates once it is told they ended (see [`crate::ActsOn`] for where liability
//! then starts). A change of circumstances takes effect from the start of the maintenance period in
//! which the CMS is told of it (CSA 1991 s.17(4); SI 1999/991 Sch 3D), so a change reported late
//! is not applied retrospectively.
//!
//! Order of things. Every request carries its effective date, which must not be before the latest
//! date the case has already seen ([`CaseFile::as_of`]; field `effective_date`). A request dated
//! `d` first runs the time-driven work due **before** `d` (instalments, reviews, hearings, pause
//! ends, as [`CaseFile::advance_to`] would up to the day before), then applies itself; the
//! time-driven work of day `d` itself runs at the next advance through `d`. So what a parent does
//! on a due date (pay, call, ask for a pause) counts for that day's instalment and escalation, and
//! the events and the history always come out in date order, however often the caller advances.
//!
//! Errors leave the case unchanged. The only exception is a [`CaseError::Parameters`] error in
//! the time-driven work (the parameter book has no rules for a date: possible only with a broken
//! book, since the application date is checked against the book), after which the work done for
//! the days before the failing one stands.

use chrono::{Days, Months, NaiveDate};
use familybridge_calculation::{Calculation, Money, Nights, ParameterBook, input::MAX_CHILDREN};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::{CaseError, Conflict};
use crate::events::{
    Adjustment, ArrearsReason, CalculationReason, CaseEvent, CollectionChange, IncomeDecision,
};
use crate::request::{
    Application, ClosureReason, CollectionMethod, ContactKind, CourtOrder, EvidenceSource,
    IncomeSource, Party, PaymentSource, ProceedingsOutcome,
};
use crate::settings::{ActsOn, CaseSettings, EnforcementStep, MAX_WEEKS, instalment_part};
use crate::timeline::{
    CalculationBasis, ChargedWeeks, DAYS_PER_WEEK, EvidenceRecord, IncomeRecord, Rules, Segment,
    WEEKS_PER_INSTALMENT, money, week_index, week_start,
};

/// How far after the application a case accepts dates, in years.
///
/// Why a limit: a CMS case ends when the youngest child turns 20; a bound keeps every loop over
/// weeks and instalments short and every date far inside the calendar, whatever a caller sends.
pub const MAX_CASE_YEARS: u32 = 100;

/// Where a case is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "stage")]
pub enum Stage {
    /// Waiting for the initial calculation. `effective_date` is set once the paying parent has
    /// been notified: liability will run from it.
    AwaitingCalculation {
        /// The initial effective date, once the paying parent has been notified.
        effective_date: Option<NaiveDate>,
    },
    /// Delayed CMS involvement: waiting for the proceedings to end, under the variant decided at
    /// application. `effective_date` is the one today's rules would have used, once the paying
    /// parent has been notified.
    Deferred {
        /// Where liability starts when the wait ends.
        acts_on: ActsOn,
        /// Today's initial effective date, once the paying parent has been notified.
        effective_date: Option<NaiveDate>,
    },
    /// A calculation is in force: liability runs.
    Live,
    /// Closed: no liability from the maintenance period containing `on`.
    Closed {
        /// The closing date.
        on: NaiveDate,
    },
}

/// When liability runs from and how far it has been charged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Liability {
    /// The first day of the first maintenance period.
    pub start: NaiveDate,
    /// When the first calculation was made (later than `start` when liability ran from the
    /// initial effective date or was backdated).
    pub determined_on: NaiveDate,
    /// Instalment periods charged so far (including any charged at once when liability started
    /// on a date already past).
    pub periods_charged: u32,
    /// Which anniversary of `start` is the next annual review (1 = the first).
    pub next_review: u32,
}

/// How the case is collected now, and since when (fees run from that day).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Collection {
    pub method: CollectionMethod,
    pub since: NaiveDate,
}

/// The money on a case, kept as exact signed decimals of whole pence.
///
/// What the CMS collects (Collect and Pay) is booked here in full; on Direct Pay the CMS knows the
/// liability but never sees the payments, so that liability is kept apart (`direct_pay_due`) and
/// builds no arrears the CMS could act on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Ledger {
    pub maintenance_due: Decimal,
    pub maintenance_paid: Decimal,
    pub retrospective_adjustments: Decimal,
    pub collection_fees_charged: Decimal,
    pub collection_fees_paid: Decimal,
    pub enforcement_fees_charged: Decimal,
    pub enforcement_fees_paid: Decimal,
    pub receiving_parent_collection_fees: Decimal,
    pub passed_to_receiving_parent: Decimal,
    /// What was paid since the previous due date (what the next instalment is checked against).
    pub paid_since_last_due: Decimal,
    /// Liability charged while the case was on Direct Pay.
    pub direct_pay_due: Decimal,
}

/// Arrears in the collection schedule still to be collected, and the part of each instalment
/// that collects them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ArrearsPlan {
    pub remaining: Decimal,
    pub per_instalment: Decimal,
}

/// A step held by a pause: which step, under which pause (so each pause records a held step once).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Held {
    pub step: EnforcementStep,
    pub pause_start: NaiveDate,
}

/// A deduction collecting the case at source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Deduction {
    /// From earnings, by the employer (a deduction from earnings order).
    Earnings,
    /// From a bank account (a regular deduction order).
    Account,
    /// From the paying parent's benefit, by DWP (the flat rate because of a benefit).
    Benefit,
}

/// A liability order applied for, and whether the court has granted it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LiabilityOrder {
    pub applied_on: NaiveDate,
    pub hearing_on: NaiveDate,
    pub granted: bool,
}

/// Where the paying parent stands on the enforcement ladder.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct EnforcementState {
    pub consecutive_missed: u32,
    /// Steps taken in the current run of missed instalments, in ladder order.
    pub taken_in_run: Vec<EnforcementStep>,
    /// Every step ever taken on the case (the later steps need earlier ones to have been tried).
    pub ever_taken: Vec<EnforcementStep>,
    pub held: Option<Held>,
    /// The deduction order (or benefit deduction) collecting the case, if any.
    pub deduction: Option<Deduction>,
    pub liability_order: Option<LiabilityOrder>,
}

/// An enforcement pause.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pause {
    /// The first day of the pause.
    pub start: NaiveDate,
    /// The first day it no longer applies (the day it was lifted, if it was).
    pub until: NaiveDate,
    /// Why it was requested.
    pub reason: String,
    /// Whether it was lifted before running its course.
    pub lifted: bool,
}

impl Pause {
    /// Whether the pause is in force on `date`.
    pub fn in_force_on(&self, date: NaiveDate) -> bool {
        self.start <= date && date < self.until
    }
}

/// A contact logged on the case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Contact {
    pub date: NaiveDate,
    pub who: Party,
    pub kind: ContactKind,
    pub distressed: bool,
}

/// An explicit distress flag set or cleared.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DistressFlag {
    pub date: NaiveDate,
    pub who: Party,
    pub flagged: bool,
}

/// The next instalment, as the case now stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instalment {
    /// Instalment number, from 1.
    pub number: u32,
    /// Its due date.
    pub due: NaiveDate,
    /// First day of the four weeks it covers.
    pub period_from: NaiveDate,
    /// The maintenance for those weeks as the facts now stand (a change before the due date can
    /// still alter it).
    pub maintenance: Money,
    /// The part of scheduled arrears it collects.
    pub arrears: Money,
    /// The paying parent's collection fee on the period (Collect and Pay), at the rate that would
    /// apply now.
    pub collection_fee: Money,
    /// What the paying parent is to pay: the three together.
    pub total: Money,
    /// Whether the CMS collects it (Collect and Pay) or the parents settle it between them (Direct
    /// Pay).
    pub collected: bool,
}

/// The money on a case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Maintenance the CMS collects that has fallen due so far (instalments, scheduled arrears and
    /// retrospective adjustments).
    pub maintenance_due: Money,
    /// Maintenance paid to the CMS so far.
    pub maintenance_paid: Money,
    /// `maintenance_due − maintenance_paid`: negative is an overpayment (a credit). Fees are not
    /// in it.
    pub arrears: Decimal,
    /// The net of every retrospective adjustment (included in `maintenance_due`).
    pub retrospective_adjustments: Decimal,
    /// The paying parent's collection fees charged on liability.
    pub collection_fees_charged: Money,
    /// The paying parent's collection fees paid.
    pub collection_fees_paid: Money,
    /// Enforcement fees charged to the paying parent.
    pub enforcement_fees_charged: Money,
    /// Enforcement fees paid.
    pub enforcement_fees_paid: Money,
    /// Collect and Pay fees taken off what the receiving parent got.
    pub receiving_parent_collection_fees: Money,
    /// What the receiving parent has received through the CMS (maintenance less their fee).
    pub passed_to_receiving_parent: Money,
    /// Liability while on Direct Pay (settled between the parents, unseen by the CMS).
    pub direct_pay_due: Money,
}

/// The whole state of one CMS case. Serialise it to store it; every rule that reads it filters by
/// date, and every collection in it is a `Vec` kept in date order, so the same requests always
/// give the same state, byte for byte.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseFile {
    pub(crate) application: Application,
    /// The latest date the case has seen.
    pub(crate) as_of: NaiveDate,
    /// Time-driven work is done for every day up to and including this one.
    pub(crate) processed_through: NaiveDate,
    pub(crate) stage: Stage,
    pub(crate) proceedings_pending: bool,
    pub(crate) collection: Collection,
    pub(crate) liability: Option<Liability>,
    pub(crate) incomes: Vec<IncomeRecord>,
    pub(crate) evidence: Vec<EvidenceRecord>,
    pub(crate) orders_applied: Vec<String>,
    pub(crate) segments: Vec<Segment>,
    pub(crate) charged: ChargedWeeks,
    pub(crate) ledger: Ledger,
    pub(crate) arrears_plan: ArrearsPlan,
    pub(crate) enforcement: EnforcementState,
    pub(crate) pauses: Vec<Pause>,
    pub(crate) contacts: Vec<Contact>,
    pub(crate) distress_flags: Vec<DistressFlag>,
    /// What has happened on the case — or, in a file whose store keeps the history apart, what has
    /// happened since it was loaded ([`CaseFile::take_history`]). No rule reads it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) history: Vec<CaseEvent>,
}

impl CaseFile {
    /// Opens a case on an application.
    ///
    /// The CMS does not calculate yet: it first notifies the paying parent
    /// ([`CaseFile::notify_paying_parent`]), which sets the initial effective date, and then
    /// calculates ([`CaseFile::make_calculation`]). When the paying parent applies, the effective
    /// date is the application date. Under delayed CMS involvement with proceedings pending, the
    /// CMS waits for them to end instead. A flat-rate paying parent on a benefit is collected by
    /// deduction from that benefit, so the case is on Collect and Pay; a request for Direct Pay
    /// when it is not available is Collect and Pay too.
    ///
    /// Errors: no children, a blank or repeated child reference (`application.children`), an
    /// application date before the parameter book's rules (`application.date`), bad settings.
    pub fn open(
        application: Application,
        settings: &CaseSettings,
        book: &ParameterBook,
    ) -> Result<(CaseFile, Vec<CaseEvent>), CaseError> {
        settings.validate()?;
        validate_application(&application, book)?;
        let date = application.date;
        let rules = Rules::new(book);
        let params = rules.on(date)?;
        let effective_date = (application.applicant == Party::PayingParent).then_some(date);
        let stage = if settings.acts_on.waits_for_proceedings() && application.proceedings_pending {
            Stage::Deferred {
                acts_on: settings.acts_on,
                effective_date,
            }
        } else {
            Stage::AwaitingCalculation { effective_date }
        };
        let mut case = CaseFile {
            incomes: vec![IncomeRecord {
                date,
                income: application.paying_parent_income,
                source: IncomeSource::Initial,
                applied: true,
            }],
            as_of: date,
            // Nothing is due on the application date itself.
            processed_through: date.pred_opt().unwrap_or(date),
            stage,
            proceedings_pending: application.proceedings_pending,
            collection: Collection {
                method: application.collection,
                since: date,
            },
            liability: None,
            evidence: Vec::new(),
            orders_applied: Vec::new(),
            segments: Vec::new(),
            charged: ChargedWeeks::default(),
            ledger: Ledger::default(),
            arrears_plan: ArrearsPlan::default(),
            enforcement: EnforcementState::default(),
            pauses: Vec::new(),
            contacts: Vec::new(),
            distress_flags: Vec::new(),
            history: Vec::new(),
            application,
        };
        let mut events = vec![CaseEvent::ApplicationOpened {
            date,
            applicant: case.application.applicant,
            proceedings_pending: case.application.proceedings_pending,
            liability_deferred: matches!(case.stage, Stage::Deferred { .. }),
            collection: case.application.collection,
            employment: case.application.employment,
        }];
        if case.application.flat_rate_benefit {
            case.enforcement.deduction = Some(Deduction::Benefit);
            case.move_to_collect_and_pay(date, CollectionChange::DeductionFromBenefit, &mut events);
        } else if !params.collection.direct_pay_available {
            case.move_to_collect_and_pay(date, CollectionChange::DirectPayUnavailable, &mut events);
        }
        case.history.extend(events.iter().cloned());
        Ok((case, events))
    }

    /// The CMS notifies the paying parent of the application on `date`: the initial effective date
    /// (SI 2012/2677 regs 11-12). Under delayed involvement the date is kept as the effective date
    /// today's rules would have used.
    ///
    /// Errors: already notified ([`Conflict::AlreadyNotified`]); a calculation already made
    /// ([`Conflict::AlreadyCalculated`]); a closed case.
    pub fn notify_paying_parent(
        &mut self,
        date: NaiveDate,
        settings: &CaseSettings,
        book: &ParameterBook,
    ) -> Result<Vec<CaseEvent>, CaseError> {
        self.check_request(date, settings)?;
        let deferred = match self.stage {
            Stage::AwaitingCalculation {
                effective_date: Some(on),
            }
            | Stage::Deferred {
                effective_date: Some(on),
                ..
            } => return Err(Conflict::AlreadyNotified { on }.into()),
            Stage::AwaitingCalculation {
                effective_date: None,
            } => false,
            Stage::Deferred { .. } => true,
            Stage::Live => return Err(Conflict::AlreadyCalculated.into()),
            Stage::Closed { on } => return Err(Conflict::Closed { on }.into()),
        };
        self.carry_out(date, settings, book, |case, _, events| {
            match &mut case.stage {
                Stage::AwaitingCalculation { effective_date }
                | Stage::Deferred { effective_date, .. } => *effective_date = Some(date),
                Stage::Live | Stage::Closed { .. } => {}
            }
            events.push(CaseEvent::PayingParentNotified {
                date,
                liability_deferred: deferred,
            });
            Ok(())
        })
    }

    /// The CMS makes the initial calculation on `date`: liability runs from the initial effective
    /// date, and the instalment periods already past are arrears, put into the collection schedule
    /// ([`crate::ArrearsRules`]).
    ///
    /// Errors: the paying parent not yet notified ([`Conflict::NotNotified`]); waiting for the
    /// proceedings ([`Conflict::WaitingForProceedings`]); already calculated; closed.
    pub fn make_calculation(
        &mut self,
        date: NaiveDate,
        settings: &CaseSettings,
        book: &ParameterBook,
    ) -> Result<Vec<CaseEvent>, CaseError> {
        self.check_request(date, settings)?;
        let start = match self.stage {
            Stage::AwaitingCalculation {
                effective_date: Some(start),
            } => start,
            Stage::AwaitingCalculation {
                effective_date: None,
            } => return Err(Conflict::NotNotified.into()),
            Stage::Deferred { .. } => return Err(Conflict::WaitingForProceedings.into()),
            Stage::Live => return Err(Conflict::AlreadyCalculated.into()),
            Stage::Closed { on } => return Err(Conflict::Closed { on }.into()),
        };
        self.carry_out(date, settings, book, |case, rules, events| {
            case.start_liability(
                start,
                date,
                CalculationReason::Application,
                settings,
                rules,
                events,
            )
        })
    }

    /// Records an income figure for the paying parent.
    ///
    /// - `Initial`: taken whatever the difference (a correction of the first figure), until the
    ///   first annual review (then [`Conflict::InitialIncomeAfterReview`]).
    /// - `ReportedChange`: taken from the maintenance period in which it is reported only if it
    ///   differs from the income in the current calculation by the threshold share or more (25%:
    ///   2012 Regs reg 34(2), the parameter `income_change.threshold`); otherwise recorded and
    ///   ignored, which the history says. A change reported as not provided (`None`) is ignored.
    ///   Decision: before the CMS has made its first calculation, every figure is taken, since the
    ///   first calculation will use the latest income anyway.
    /// - `AnnualReview`: recorded now, taken at the next annual review.
    ///
    /// `income` is gross weekly income; `None` means not provided (the default rate).
    pub fn record_income(
        &mut self,
        date: NaiveDate,
        income: Option<Money>,
        source: IncomeSource,
        settings: &CaseSettings,
        book: &ParameterBook,
    ) -> Result<Vec<CaseEvent>, CaseError> {
        self.check_open_request(date, settings)?;
        if source == IncomeSource::Initial && self.review_held_before(date)? {
            return Err(Conflict::InitialIncomeAfterReview.into());
        }
        let rules = Rules::new(book);
        let threshold = rules.on(date)?.income_change_threshold;
        self.carry_out_with(date, settings, rules, |case, rules, events| {
            let in_calculation = case.income_in_calculation_on(date);
            let decision = match (source, &case.liability) {
                (IncomeSource::Initial, _) => IncomeDecision::Applied,
                (IncomeSource::AnnualReview, _) => IncomeDecision::HeldForReview {
                    review_on: case.next_review_date(),
                },
                (IncomeSource::ReportedChange, None) => IncomeDecision::Applied,
                (IncomeSource::ReportedChange, Some(_)) => match (income, in_calculation) {
                    (None, _) => IncomeDecision::IgnoredNotProvided,
                    (Some(_), None) => IncomeDecision::Applied,
                    (Some(new), Some(current)) => {
                        let difference = (new.as_decimal() - current.as_decimal()).abs();
                        if difference >= threshold.of(current.as_decimal()) {
                            IncomeDecision::Applied
                        } else {
                            IncomeDecision::IgnoredUnder25Percent {
                                income_in_calculation: current,
                            }
                        }
                    }
                },
            };
            let applied = decision == IncomeDecision::Applied;
            case.incomes.push(IncomeRecord {
                date,
                income,
                source,
                applied,
            });
            events.push(CaseEvent::IncomeRecorded {
                date,
                income,
                source,
                decision,
            });
            if applied {
                case.recalculate(
                    date,
                    date,
                    CalculationReason::Income,
                    settings,
                    rules,
                    events,
                )?;
            }
            Ok(())
        })
    }

    /// Records shared-care evidence for a child, in force from the maintenance period containing
    /// `date` (the day the CMS is told).
    ///
    /// The nights used for the child are then the latest evidence of the highest rank (court
    /// order, agreement, parent's word); a parent's word alone gives the configured assumption.
    pub fn record_shared_care(
        &mut self,
        date: NaiveDate,
        child_ref: &str,
        nights: Nights,
        source: EvidenceSource,
        settings: &CaseSettings,
        book: &ParameterBook,
    ) -> Result<Vec<CaseEvent>, CaseError> {
        self.check_open_request(date, settings)?;
        self.check_child("child_ref", child_ref)?;
        let rules = Rules::new(book);
        let params = rules.on(date)?;
        self.carry_out_with(date, settings, rules, |case, rules, events| {
            case.evidence.push(EvidenceRecord {
                child_ref: child_ref.to_owned(),
                date,
                nights: nights.get(),
                source,
                order_id: None,
            });
            let (nights_used, _) = case.nights_for(child_ref, date, settings, &params);
            events.push(CaseEvent::SharedCareRecorded {
                date,
                child_ref: child_ref.to_owned(),
                nights_claimed: nights.get(),
                source,
                nights_used,
            });
            case.recalculate(
                date,
                date,
                CalculationReason::SharedCare {
                    child_ref: child_ref.to_owned(),
                },
                settings,
                rules,
                events,
            )
        })
    }

    /// Applies a court order on `date`, the day the CMS is told of it (a parent's report, or the
    /// court registry's event).
    ///
    /// The order's nights become court-order evidence for each child it names, in force from the
    /// start of the maintenance period containing `date` (supersession: CSA 1991 s.17(4), SI
    /// 1999/991 Sch 3D), whenever the order was made: no retrospective adjustment. A final order
    /// ends pending proceedings; under delayed CMS involvement that ends the wait (see
    /// [`crate::ActsOn`]).
    ///
    /// Errors: a blank or already applied `order.order_id`, `order.made_on` after `date`, a child
    /// in `order.nights` that the case does not have; a closed case.
    pub fn apply_court_order(
        &mut self,
        date: NaiveDate,
        order: CourtOrder,
        settings: &CaseSettings,
        book: &ParameterBook,
    ) -> Result<Vec<CaseEvent>, CaseError> {
        self.check_open_request(date, settings)?;
        if order.order_id.trim().is_empty() {
            return Err(CaseError::invalid("order.order_id", "must not be blank"));
        }
        if self.orders_applied.contains(&order.order_id) {
            return Err(CaseError::invalid(
                "order.order_id",
                format!("order {:?} has already been applied", order.order_id),
            ));
        }
        if order.made_on > date {
            return Err(CaseError::invalid(
                "order.made_on",
                format!(
                    "the order was made on {}, after the date it is applied ({date})",
                    order.made_on
                ),
            ));
        }
        for child in order.nights.keys() {
            self.check_child("order.nights", child)?;
        }
        self.carry_out(date, settings, book, |case, rules, events| {
            for (child, nights) in &order.nights {
                case.evidence.push(EvidenceRecord {
                    child_ref: child.clone(),
                    date,
                    nights: nights.get(),
                    source: EvidenceSource::CourtOrder,
                    order_id: Some(order.order_id.clone()),
                });
            }
            case.orders_applied.push(order.order_id.clone());
            events.push(CaseEvent::CourtOrderApplied {
                date,
                order_id: order.order_id.clone(),
                made_on: order.made_on,
                is_final: order.is_final,
            });
            let ends_proceedings = order.is_final && case.proceedings_pending;
            if ends_proceedings {
                case.proceedings_pending = false;
                events.push(CaseEvent::ProceedingsEnded {
                    date,
                    final_order: Some(order.order_id.clone()),
                    outcome: None,
                });
            }
            let reason = CalculationReason::FinalOrder {
                order_id: order.order_id.clone(),
            };
            if ends_proceedings && case.end_wait(date, reason, settings, rules, events)? {
                return Ok(());
            }
            case.recalculate(
                date,
                date,
                CalculationReason::CourtOrder {
                    order_id: order.order_id.clone(),
                },
                settings,
                rules,
                events,
            )
        })
    }

    /// The child-arrangements proceedings ended without a final order (withdrawn, or dismissed),
    /// as the CMS is told on `date` (a parent's report, or the court registry's event).
    ///
    /// Under delayed CMS involvement this ends the wait. Error: no proceedings pending
    /// ([`Conflict::NoProceedingsPending`]); a closed case.
    pub fn end_proceedings(
        &mut self,
        date: NaiveDate,
        outcome: ProceedingsOutcome,
        settings: &CaseSettings,
        book: &ParameterBook,
    ) -> Result<Vec<CaseEvent>, CaseError> {
        self.check_open_request(date, settings)?;
        if !self.proceedings_pending {
            return Err(Conflict::NoProceedingsPending.into());
        }
        self.carry_out(date, settings, book, |case, rules, events| {
            case.proceedings_pending = false;
            events.push(CaseEvent::ProceedingsEnded {
                date,
                final_order: None,
                outcome: Some(outcome),
            });
            case.end_wait(
                date,
                CalculationReason::ProceedingsEnded,
                settings,
                rules,
                events,
            )
            .map(|_| ())
        })
    }

    /// Records a payment received by the CMS from `source` (Collect and Pay only).
    ///
    /// The payment pays maintenance first — what is owed and the next instalment's maintenance —
    /// then collection fees (owed and the next instalment's), then enforcement fees (PQ 60231:
    /// enforcement fees only once ongoing maintenance and arrears are paid; where the collection
    /// fee comes is this project's decision); anything more is a maintenance credit. The receiving
    /// parent's fee is taken off the maintenance passed on (SI 2014/612 reg 7), at the rate in
    /// force on the payment date.
    ///
    /// Errors: a zero `amount`; no calculation yet ([`Conflict::NoLiabilityYet`]); a Direct Pay
    /// case, whose payments the CMS does not see ([`Conflict::WrongCollectionMethod`]); closed.
    pub fn record_payment(
        &mut self,
        date: NaiveDate,
        amount: Money,
        source: PaymentSource,
        settings: &CaseSettings,
        book: &ParameterBook,
    ) -> Result<Vec<CaseEvent>, CaseError> {
        self.check_open_request(date, settings)?;
        if amount.is_zero() {
            return Err(CaseError::invalid(
                "amount",
                "a payment must be more than £0",
            ));
        }
        if self.liability.is_none() {
            return Err(Conflict::NoLiabilityYet.into());
        }
        let rules = Rules::new(book);
        rules.on(date)?;
        self.carry_out_with(date, settings, rules, |case, rules, events| {
            // The work due before the payment may have moved the case to Collect and Pay.
            if case.collection.method == CollectionMethod::DirectPay {
                return Err(Conflict::WrongCollectionMethod {
                    method: "Direct Pay",
                    reason: "the CMS does not see Direct Pay payments",
                }
                .into());
            }
            let params = rules.on(date)?;
            let next = case.next_instalment(&params);
            case.take_payment(date, amount, source, next.as_ref(), &params, events);
            Ok(())
        })
    }

    /// The receiving parent reports that Direct Pay payments were missed: the case moves to
    /// Collect and Pay from `date` (fees apply from then, and enforcement can follow), and the
    /// `unpaid` amount they report is taken on as arrears, scheduled with the instalments.
    ///
    /// Errors: no calculation yet; a case not on Direct Pay ([`Conflict::WrongCollectionMethod`]);
    /// closed.
    pub fn report_missed_direct_pay(
        &mut self,
        date: NaiveDate,
        unpaid: Money,
        settings: &CaseSettings,
        book: &ParameterBook,
    ) -> Result<Vec<CaseEvent>, CaseError> {
        self.check_open_request(date, settings)?;
        if self.liability.is_none() {
            return Err(Conflict::NoLiabilityYet.into());
        }
        self.carry_out(date, settings, book, |case, _, events| {
            if case.collection.method != CollectionMethod::DirectPay {
                return Err(Conflict::WrongCollectionMethod {
                    method: "Collect and Pay",
                    reason: "only missed Direct Pay payments move a case to Collect and Pay",
                }
                .into());
            }
            case.move_to_collect_and_pay(date, CollectionChange::MissedPaymentsReported, events);
            if !unpaid.is_zero() {
                case.ledger.maintenance_due += unpaid.as_decimal();
                case.schedule_arrears(
                    date,
                    unpaid.as_decimal(),
                    ArrearsReason::DirectPayMissed,
                    settings,
                    events,
                );
            }
            Ok(())
        })
    }

    /// Closes the case on `date` (the receiving parent leaves for a family-based arrangement, say):
    /// the weeks before the maintenance period containing `date` not yet charged are charged now,
    /// and nothing after; a liability order still to be heard is withdrawn.
    ///
    /// Error: already closed.
    pub fn close(
        &mut self,
        date: NaiveDate,
        reason: ClosureReason,
        settings: &CaseSettings,
        book: &ParameterBook,
    ) -> Result<Vec<CaseEvent>, CaseError> {
        self.check_open_request(date, settings)?;
        let rules = Rules::new(book);
        let params = rules.on(date)?;
        self.carry_out_with(date, settings, rules, |case, _, events| {
            if case.liability.is_some() {
                case.charge_final_period(date, &params, events)?;
            }
            if let Some(order) = case.enforcement.liability_order.take()
                && !order.granted
            {
                events.push(CaseEvent::LiabilityOrderWithdrawn { date });
            }
            case.stage = Stage::Closed { on: date };
            events.push(CaseEvent::CaseClosed { date, reason });
            Ok(())
        })
    }

    /// Logs a contact (call, complaint, letter) from a parent, with whether it showed distress.
    ///
    /// A distressed contact from the paying parent flags them as distressed for the configured
    /// window when an enforcement step is taken or paused.
    pub fn record_contact(
        &mut self,
        date: NaiveDate,
        who: Party,
        kind: ContactKind,
        distressed: bool,
        settings: &CaseSettings,
        book: &ParameterBook,
    ) -> Result<Vec<CaseEvent>, CaseError> {
        self.check_request(date, settings)?;
        self.carry_out(date, settings, book, |case, _, events| {
            case.contacts.push(Contact {
                date,
                who,
                kind,
                distressed,
            });
            events.push(CaseEvent::ContactLogged {
                date,
                who,
                kind,
                distressed,
            });
            Ok(())
        })
    }

    /// Flags a parent as distressed from `date` (`flagged = true`), or clears the flag — for
    /// example on the referral hub's screening. The flag lasts until cleared.
    pub fn flag_distress(
        &mut self,
        date: NaiveDate,
        who: Party,
        flagged: bool,
        settings: &CaseSettings,
        book: &ParameterBook,
    ) -> Result<Vec<CaseEvent>, CaseError> {
        self.check_request(date, settings)?;
        self.carry_out(date, settings, book, |case, _, events| {
            case.distress_flags
                .push(DistressFlag { date, who, flagged });
            events.push(CaseEvent::DistressFlagged { date, who, flagged });
            Ok(())
        })
    }

    /// Pauses enforcement escalation for `weeks` weeks from `date`.
    ///
    /// While a pause is in force on a due date, a step that would be taken is recorded as paused
    /// instead, and taken at the first due date after the pause ends if still warranted; a
    /// liability order hearing falling in the pause is put back to its end.
    ///
    /// Errors: `weeks` 0 or more than [`MAX_WEEKS`]; a pause already in force on `date`
    /// ([`Conflict::PauseAlreadyInForce`]).
    pub fn request_pause(
        &mut self,
        date: NaiveDate,
        weeks: u32,
        reason: &str,
        settings: &CaseSettings,
        book: &ParameterBook,
    ) -> Result<Vec<CaseEvent>, CaseError> {
        self.check_request(date, settings)?;
        if weeks == 0 || weeks > MAX_WEEKS {
            return Err(CaseError::invalid(
                "weeks",
                format!("a pause lasts 1 to {MAX_WEEKS} weeks, not {weeks}"),
            ));
        }
        if let Some(pause) = self.pause_on(date) {
            return Err(Conflict::PauseAlreadyInForce {
                date,
                until: pause.until,
            }
            .into());
        }
        let until = date
            .checked_add_days(Days::new(u64::from(weeks) * DAYS_PER_WEEK))
            .ok_or_else(|| CaseError::invalid("weeks", "the pause would end out of range"))?;
        self.carry_out(date, settings, book, |case, _, events| {
            case.pauses.push(Pause {
                start: date,
                until,
                reason: reason.to_owned(),
                lifted: false,
            });
            events.push(CaseEvent::PauseStarted {
                date,
                until,
                reason: reason.to_owned(),
            });
            Ok(())
        })
    }

    /// Lifts the pause in force on `date`: escalation resumes from that day.
    ///
    /// Error: no pause in force on `date` ([`Conflict::NoPauseInForce`]).
    pub fn lift_pause(
        &mut self,
        date: NaiveDate,
        settings: &CaseSettings,
        book: &ParameterBook,
    ) -> Result<Vec<CaseEvent>, CaseError> {
        self.check_request(date, settings)?;
        if self.pause_on(date).is_none() {
            return Err(Conflict::NoPauseInForce { date }.into());
        }
        self.carry_out(date, settings, book, |case, _, events| {
            if let Some(pause) = case.pauses.iter_mut().rev().find(|p| p.in_force_on(date)) {
                pause.until = date;
                pause.lifted = true;
            }
            events.push(CaseEvent::PauseEnded { date, lifted: true });
            Ok(())
        })
    }

    /// Runs everything due after the last processed day up to and including `date`, in date
    /// order: pause ends, liability order hearings, annual reviews, instalments falling due (with
    /// missed payments and enforcement). Advancing to a date already processed does nothing and
    /// returns no events.
    pub fn advance_to(
        &mut self,
        date: NaiveDate,
        settings: &CaseSettings,
        book: &ParameterBook,
    ) -> Result<Vec<CaseEvent>, CaseError> {
        if date <= self.processed_through {
            return Ok(Vec::new());
        }
        settings.validate()?;
        self.check_in_range(date)?;
        let rules = Rules::new(book);
        let mut events = Vec::new();
        let result = self.run_due_work_through(date, settings, &rules, &mut events);
        self.as_of = self.as_of.max(self.processed_through);
        self.history.extend(events.iter().cloned());
        result.map(|()| events)
    }

    // ---------------------------------------------------------------------------------------
    // Queries
    // ---------------------------------------------------------------------------------------

    /// The application the case was opened on.
    pub fn application(&self) -> &Application {
        &self.application
    }

    /// The latest date the case has seen: requests may not be dated before it.
    pub fn as_of(&self) -> NaiveDate {
        self.as_of
    }

    /// Time-driven work has been done for every day up to and including this one.
    pub fn processed_through(&self) -> NaiveDate {
        self.processed_through
    }

    /// Where the case is in its life.
    pub fn stage(&self) -> Stage {
        self.stage
    }

    /// Whether the CMS is waiting for the proceedings to end before calculating.
    pub fn is_deferred(&self) -> bool {
        matches!(self.stage, Stage::Deferred { .. })
    }

    /// Whether the case has closed.
    pub fn is_closed(&self) -> bool {
        matches!(self.stage, Stage::Closed { .. })
    }

    /// Whether child-arrangements proceedings are pending.
    pub fn proceedings_pending(&self) -> bool {
        self.proceedings_pending
    }

    /// How the case is collected now.
    pub fn collection_method(&self) -> CollectionMethod {
        self.collection.method
    }

    /// The deduction collecting the case at source, if any.
    pub fn deduction(&self) -> Option<Deduction> {
        self.enforcement.deduction
    }

    /// Whether a liability order has been granted on the case.
    pub fn liability_order_granted(&self) -> bool {
        self.enforcement
            .liability_order
            .is_some_and(|order| order.granted)
    }

    /// The first day of liability, once the CMS has calculated.
    pub fn liability_start(&self) -> Option<NaiveDate> {
        self.liability.as_ref().map(|l| l.start)
    }

    /// The weekly amount in force on [`CaseFile::as_of`]; `None` before the first calculation.
    pub fn weekly_amount(&self) -> Option<Money> {
        self.weekly_amount_on(self.as_of)
    }

    /// The weekly amount for the maintenance week containing `date`, as the facts now stand;
    /// `None` before liability starts.
    pub fn weekly_amount_on(&self, date: NaiveDate) -> Option<Money> {
        self.segment_on(date).map(|s| s.weekly_amount)
    }

    /// What the calculation in force on [`CaseFile::as_of`] was made on (income, each child's
    /// nights and where they came from, the rules' date).
    pub fn calculation_basis(&self) -> Option<&CalculationBasis> {
        self.segment_on(self.as_of).map(|s| &s.basis)
    }

    /// The liability timeline: each weekly amount and the week it applies from.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The engine's calculation in force on [`CaseFile::as_of`], with its step-by-step
    /// explanation; `None` before the first calculation.
    pub fn current_calculation(
        &self,
        book: &ParameterBook,
    ) -> Result<Option<Calculation>, CaseError> {
        let Some(segment) = self.segment_on(self.as_of) else {
            return Ok(None);
        };
        let rules = Rules::new(book);
        let params = rules.on(segment.basis.rules_date)?;
        self.calculate_basis(&segment.basis, &params).map(Some)
    }

    /// The next instalment, as the case now stands; `None` before liability starts and once the
    /// case has closed.
    pub fn schedule(&self, book: &ParameterBook) -> Result<Option<Instalment>, CaseError> {
        if self.is_closed() {
            return Ok(None);
        }
        let Some(due) = self.next_due_date() else {
            return Ok(None);
        };
        let rules = Rules::new(book);
        let params = rules.on(due.max(self.as_of))?;
        Ok(self.next_instalment(&params))
    }

    /// The money on the case.
    pub fn account(&self) -> Account {
        let l = &self.ledger;
        Account {
            maintenance_due: money(l.maintenance_due),
            maintenance_paid: money(l.maintenance_paid),
            arrears: l.maintenance_due - l.maintenance_paid,
            retrospective_adjustments: l.retrospective_adjustments,
            collection_fees_charged: money(l.collection_fees_charged),
            collection_fees_paid: money(l.collection_fees_paid),
            enforcement_fees_charged: money(l.enforcement_fees_charged),
            enforcement_fees_paid: money(l.enforcement_fees_paid),
            receiving_parent_collection_fees: money(l.receiving_parent_collection_fees),
            passed_to_receiving_parent: money(l.passed_to_receiving_parent),
            direct_pay_due: money(l.direct_pay_due),
        }
    }

    /// Arrears the CMS can act on: maintenance it collects that has fallen due, less what was
    /// paid. Negative is an overpayment credit.
    pub fn arrears(&self) -> Decimal {
        self.ledger.maintenance_due - self.ledger.maintenance_paid
    }

    /// The highest enforcement step taken in the current run of missed instalments.
    pub fn enforcement_stage(&self) -> Option<EnforcementStep> {
        self.enforcement.taken_in_run.iter().copied().max()
    }

    /// Consecutive missed instalments (0 once an instalment is paid in full).
    pub fn consecutive_missed(&self) -> u32 {
        self.enforcement.consecutive_missed
    }

    /// The pause in force on [`CaseFile::as_of`], if any.
    pub fn pause(&self) -> Option<&Pause> {
        self.pause_on(self.as_of)
    }

    /// The pause in force on `date`, if any.
    pub fn pause_on(&self, date: NaiveDate) -> Option<&Pause> {
        self.pauses.iter().rev().find(|p| p.in_force_on(date))
    }

    /// Every pause requested, in date order.
    pub fn pauses(&self) -> &[Pause] {
        &self.pauses
    }

    /// The income in the calculation on [`CaseFile::as_of`] (`None`: not known, default rate).
    pub fn income_in_calculation(&self) -> Option<Money> {
        self.income_in_calculation_on(self.as_of)
    }

    /// Whether `who` counts as distressed on `date`: a contact logged with the distress indicator
    /// within the distress window before it (inclusive), or an explicit flag in force.
    pub fn flagged_distressed(&self, who: Party, date: NaiveDate, settings: &CaseSettings) -> bool {
        let window = u64::from(settings.distress_window_weeks) * DAYS_PER_WEEK;
        let from = date
            .checked_sub_days(Days::new(window))
            .unwrap_or(NaiveDate::MIN);
        let by_contact = self
            .contacts
            .iter()
            .any(|c| c.who == who && c.distressed && from <= c.date && c.date <= date);
        let by_flag = self
            .distress_flags
            .iter()
            .rev()
            .find(|f| f.who == who && f.date <= date)
            .is_some_and(|f| f.flagged);
        by_contact || by_flag
    }

    /// Everything that has happened on the case, in date order (as far as the file holds it: see
    /// [`CaseFile::take_history`]).
    pub fn history(&self) -> &[CaseEvent] {
        &self.history
    }

    /// Takes the history out of the file, for a store that appends it to a record of its own
    /// rather than rewriting it with the case: what remains is what the rules need. Events recorded
    /// afterwards start a new history, to be taken in turn.
    pub fn take_history(&mut self) -> Vec<CaseEvent> {
        std::mem::take(&mut self.history)
    }

    /// Puts back the history a store kept apart, before whatever the file has recorded since.
    pub fn restore_history(&mut self, earlier: Vec<CaseEvent>) {
        let since = std::mem::replace(&mut self.history, earlier);
        self.history.extend(since);
    }

    // ---------------------------------------------------------------------------------------
    // Internals shared by the requests
    // ---------------------------------------------------------------------------------------

    /// The segment for the maintenance week containing `date`.
    fn segment_on(&self, date: NaiveDate) -> Option<&Segment> {
        let liability = self.liability.as_ref()?;
        self.segment_for_week(week_index(liability.start, date))
    }

    /// Checks a request's date and the settings.
    fn check_request(&self, date: NaiveDate, settings: &CaseSettings) -> Result<(), CaseError> {
        settings.validate()?;
        if date < self.as_of {
            return Err(CaseError::invalid(
                "effective_date",
                format!(
                    "{date} is before {}, the latest date this case has already dealt with",
                    self.as_of
                ),
            ));
        }
        self.check_in_range(date)
    }

    /// [`CaseFile::check_request`] for a request a closed case refuses.
    fn check_open_request(
        &self,
        date: NaiveDate,
        settings: &CaseSettings,
    ) -> Result<(), CaseError> {
        self.check_request(date, settings)?;
        match self.stage {
            Stage::Closed { on } => Err(Conflict::Closed { on }.into()),
            _ => Ok(()),
        }
    }

    /// Checks a date is within [`MAX_CASE_YEARS`] of the application.
    fn check_in_range(&self, date: NaiveDate) -> Result<(), CaseError> {
        let limit = self
            .application
            .date
            .checked_add_months(Months::new(MAX_CASE_YEARS * 12))
            .unwrap_or(NaiveDate::MAX);
        if date > limit {
            return Err(CaseError::invalid(
                "effective_date",
                format!("{date} is more than {MAX_CASE_YEARS} years after the application"),
            ));
        }
        Ok(())
    }

    fn check_child(&self, field: &'static str, child_ref: &str) -> Result<(), CaseError> {
        if self.application.children.iter().any(|c| c == child_ref) {
            Ok(())
        } else {
            Err(CaseError::invalid(
                field,
                format!("{child_ref:?} is not a child on this case"),
            ))
        }
    }

    /// Whether an annual review has been (or will have been, once the work due before `date` is
    /// run) held.
    fn review_held_before(&self, date: NaiveDate) -> Result<bool, CaseError> {
        let Some(liability) = &self.liability else {
            return Ok(false);
        };
        if liability.next_review > self.first_review_after(liability.start, liability.determined_on)
        {
            return Ok(true);
        }
        Ok(self.next_review_date().is_some_and(|review| review < date))
    }

    /// The date of the `n`th anniversary of `start`.
    pub(crate) fn anniversary(start: NaiveDate, n: u32) -> Option<NaiveDate> {
        start.checked_add_months(Months::new(n.checked_mul(12)?))
    }

    /// The first anniversary of `start` strictly after `after`.
    pub(crate) fn first_review_after(&self, start: NaiveDate, after: NaiveDate) -> u32 {
        let mut n = 1;
        while n <= MAX_CASE_YEARS + 1 && Self::anniversary(start, n).is_some_and(|d| d <= after) {
            n += 1;
        }
        n
    }

    /// The date of the next annual review.
    pub(crate) fn next_review_date(&self) -> Option<NaiveDate> {
        let liability = self.liability.as_ref()?;
        Self::anniversary(liability.start, liability.next_review)
    }

    /// The due date of the next instalment.
    pub(crate) fn next_due_date(&self) -> Option<NaiveDate> {
        let liability = self.liability.as_ref()?;
        let weeks = liability
            .periods_charged
            .checked_add(1)?
            .checked_mul(WEEKS_PER_INSTALMENT)?;
        week_start(liability.start, weeks).ok()
    }

    /// Carries out a request that has passed its checks: the work due before `date` first (so the
    /// history stays in date order), then the request's own change, then the record of both.
    fn carry_out(
        &mut self,
        date: NaiveDate,
        settings: &CaseSettings,
        book: &ParameterBook,
        change: impl FnOnce(&mut Self, &Rules<'_>, &mut Vec<CaseEvent>) -> Result<(), CaseError>,
    ) -> Result<Vec<CaseEvent>, CaseError> {
        let rules = Rules::new(book);
        rules.on(date)?;
        self.carry_out_with(date, settings, rules, change)
    }

    /// [`CaseFile::carry_out`] with rules already resolved for the request. The change runs on a
    /// copy, so that a refusal after the due work leaves the case exactly as it was.
    fn carry_out_with(
        &mut self,
        date: NaiveDate,
        settings: &CaseSettings,
        rules: Rules<'_>,
        change: impl FnOnce(&mut Self, &Rules<'_>, &mut Vec<CaseEvent>) -> Result<(), CaseError>,
    ) -> Result<Vec<CaseEvent>, CaseError> {
        let mut next = self.clone();
        let mut events = Vec::new();
        next.run_due_work_before(date, settings, &rules, &mut events)?;
        change(&mut next, &rules, &mut events)?;
        next.as_of = date;
        next.history.extend(events.iter().cloned());
        *self = next;
        Ok(events)
    }

    /// Ends the wait of delayed CMS involvement, if the case was waiting, on `date`; says whether
    /// it was. Where liability then starts is the variant decided at application: the day the CMS
    /// acts, today's initial effective date (the day the CMS acts if the paying parent had not yet
    /// been notified), or the application date.
    fn end_wait(
        &mut self,
        date: NaiveDate,
        reason: CalculationReason,
        settings: &CaseSettings,
        rules: &Rules<'_>,
        events: &mut Vec<CaseEvent>,
    ) -> Result<bool, CaseError> {
        let Stage::Deferred {
            acts_on,
            effective_date,
        } = self.stage
        else {
            return Ok(false);
        };
        let start = match acts_on {
            ActsOn::Application | ActsOn::FinalOrder => date,
            ActsOn::FinalOrderBackdatedToEffectiveDate => effective_date.unwrap_or(date),
            ActsOn::FinalOrderBackdatedToApplication => self.application.date,
        };
        self.start_liability(start, date, reason, settings, rules, events)?;
        Ok(true)
    }

    /// Starts liability from `start` (not before the application), as decided on `date`.
    ///
    /// If `start` is in the past, every instalment period already due by the last processed day
    /// is charged at once and the total scheduled as arrears with the instalments that follow;
    /// the period in progress is charged on its due date as usual.
    pub(crate) fn start_liability(
        &mut self,
        start: NaiveDate,
        date: NaiveDate,
        reason: CalculationReason,
        settings: &CaseSettings,
        rules: &Rules<'_>,
        events: &mut Vec<CaseEvent>,
    ) -> Result<(), CaseError> {
        let start = start.max(self.application.date);
        let segments = self.compute_segments(start, 0, settings, rules)?;
        let periods_due = if self.processed_through >= start {
            let days = (self.processed_through - start).num_days();
            u32::try_from(days / (i64::from(WEEKS_PER_INSTALMENT) * 7)).unwrap_or(0)
        } else {
            0
        };
        let next_review = self.first_review_after(start, date);
        self.segments = segments;
        self.liability = Some(Liability {
            start,
            determined_on: date,
            periods_charged: periods_due,
            next_review,
        });
        self.stage = Stage::Live;
        let (weekly_amount, rate) = self
            .segment_on(date)
            .map_or((Money::ZERO, crate::CalculatedRate::Nil), |s| {
                (s.weekly_amount, s.rate)
            });
        events.push(CaseEvent::CalculationMade {
            date,
            liability_from: start,
            weekly_amount,
            rate,
            reason,
        });
        let mut past = Decimal::ZERO;
        for week in 0..periods_due * WEEKS_PER_INSTALMENT {
            let weekly = self.weekly_for_week(week);
            past += weekly.as_decimal();
            self.charged.push(weekly);
        }
        if past > Decimal::ZERO {
            match self.collection.method {
                CollectionMethod::CollectAndPay => self.ledger.maintenance_due += past,
                CollectionMethod::DirectPay => self.ledger.direct_pay_due += past,
            }
            self.schedule_arrears(
                date,
                past,
                ArrearsReason::LiabilityBeforeCalculation,
                settings,
                events,
            );
        }
        Ok(())
    }

    /// Adds `amount` to the arrears in the collection schedule, spread with what remains over the
    /// configured number of instalments.
    pub(crate) fn schedule_arrears(
        &mut self,
        date: NaiveDate,
        amount: Decimal,
        reason: ArrearsReason,
        settings: &CaseSettings,
        events: &mut Vec<CaseEvent>,
    ) {
        let instalments = settings.arrears.collect_over_instalments;
        let plan = &mut self.arrears_plan;
        plan.remaining += amount;
        plan.per_instalment = instalment_part(plan.remaining, instalments);
        events.push(CaseEvent::ArrearsScheduled {
            date,
            amount: money(amount),
            reason,
            instalments,
            per_instalment: money(plan.per_instalment),
        });
    }

    /// Moves the case to Collect and Pay from `date`.
    pub(crate) fn move_to_collect_and_pay(
        &mut self,
        date: NaiveDate,
        reason: CollectionChange,
        events: &mut Vec<CaseEvent>,
    ) {
        if self.collection.method == CollectionMethod::CollectAndPay {
            return;
        }
        self.collection = Collection {
            method: CollectionMethod::CollectAndPay,
            since: date,
        };
        events.push(CaseEvent::CollectionChanged {
            date,
            to: CollectionMethod::CollectAndPay,
            reason,
        });
    }

    /// Recalculates from the week containing `from` after a change applied on `date`: the weekly
    /// amount from then on, and any weeks already charged since then (a retrospective adjustment,
    /// which supersession makes rare: only a change dated in weeks already charged has one).
    pub(crate) fn recalculate(
        &mut self,
        from: NaiveDate,
        date: NaiveDate,
        reason: CalculationReason,
        settings: &CaseSettings,
        rules: &Rules<'_>,
        events: &mut Vec<CaseEvent>,
    ) -> Result<(), CaseError> {
        let Some(start) = self.liability.as_ref().map(|l| l.start) else {
            // No calculation yet: the fact waits for the first one.
            return Ok(());
        };
        let from_week = week_index(start, from);
        let before = self.segment_on(date).map(|s| s.weekly_amount);
        let new_segments = self.compute_segments(start, from_week, settings, rules)?;
        self.segments.retain(|s| s.from_week < from_week);
        self.segments.extend(new_segments);
        let adjustment = self.reprice_charged_weeks(start, from_week)?;
        let (after, rate) = self
            .segment_on(date)
            .map_or((Money::ZERO, crate::CalculatedRate::Nil), |s| {
                (s.weekly_amount, s.rate)
            });
        if before != Some(after) || adjustment.is_some() {
            events.push(CaseEvent::CalculationRevised {
                date,
                effective_from: week_start(start, from_week)?,
                previous_weekly_amount: before.unwrap_or(Money::ZERO),
                weekly_amount: after,
                rate,
                reason,
            });
        }
        if let Some(adjustment) = adjustment {
            events.push(CaseEvent::RetrospectiveAdjustment { date, adjustment });
        }
        Ok(())
    }

    /// Charges again, at the amounts the facts now give, every week from `from_week` that is
    /// already charged. Returns the adjustment if the total changed; the ledger is updated.
    fn reprice_charged_weeks(
        &mut self,
        start: NaiveDate,
        from_week: u32,
    ) -> Result<Option<Adjustment>, CaseError> {
        let charged_to = self.charged.len();
        if from_week >= charged_to {
            return Ok(None);
        }
        let mut previously = Decimal::ZERO;
        let mut now = Decimal::ZERO;
        let mut new_amounts = Vec::new();
        for week in from_week..charged_to {
            previously += self
                .charged
                .get(week)
                .map_or(Decimal::ZERO, |m| m.as_decimal());
            let weekly = self.weekly_for_week(week);
            now += weekly.as_decimal();
            new_amounts.push(weekly);
        }
        self.charged.truncate(from_week);
        for weekly in new_amounts {
            self.charged.push(weekly);
        }
        let amount = now - previously;
        if amount.is_zero() {
            return Ok(None);
        }
        match self.collection.method {
            CollectionMethod::CollectAndPay => self.ledger.maintenance_due += amount,
            CollectionMethod::DirectPay => self.ledger.direct_pay_due += amount,
        }
        self.ledger.retrospective_adjustments += amount;
        Ok(Some(Adjustment {
            weeks_from: week_start(start, from_week)?,
            weeks_to: week_start(start, charged_to)?,
            weeks: charged_to - from_week,
            previously_charged: money(previously),
            now_due: money(now),
            amount,
        }))
    }
}

fn validate_application(application: &Application, book: &ParameterBook) -> Result<(), CaseError> {
    let children = &application.children;
    if children.is_empty() {
        return Err(CaseError::invalid(
            "application.children",
            "an application needs at least one qualifying child",
        ));
    }
    if children.len() > MAX_CHILDREN {
        return Err(CaseError::invalid(
            "application.children",
            format!("at most {MAX_CHILDREN} children"),
        ));
    }
    if let Some(blank) = children.iter().position(|c| c.trim().is_empty()) {
        return Err(CaseError::invalid(
            "application.children",
            format!("child {} has a blank reference", blank + 1),
        ));
    }
    let mut sorted: Vec<&String> = children.iter().collect();
    sorted.sort();
    if let Some(pair) = sorted.windows(2).find(|w| w[0] == w[1]) {
        return Err(CaseError::invalid(
            "application.children",
            format!("child {:?} is listed twice", pair[0]),
        ));
    }
    match book.earliest_date() {
        Some(first) if application.date >= first => Ok(()),
        Some(first) => Err(CaseError::invalid(
            "application.date",
            format!("{} is before the rules start ({first})", application.date),
        )),
        None => Err(CaseError::invalid(
            "application.date",
            "the parameter book has no rules",
        )),
    }
}
