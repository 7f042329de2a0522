//! One CMS case: its state ([`CaseFile`]), the requests that change it and the queries that read it.
//!
//! Order of things. Every request carries its effective date, which must not be before the latest
//! date the case has already seen ([`CaseFile::as_of`]; field `effective_date`). A request dated
//! `d` first runs the time-driven work due **before** `d` (instalments, reviews, pause ends, as
//! [`CaseFile::advance_to`] would up to the day before), then applies itself; the time-driven work
//! of day `d` itself runs at the next advance through `d`. So what a parent does on a due date
//! (pay, call, ask for a pause) counts for that day's instalment and escalation, and the events
//! and the history always come out in date order, however often the caller advances.
//!
//! Errors leave the case unchanged. The only exception is a [`CaseError::Parameters`] error in
//! the time-driven work (the parameter book has no rules for a date: possible only with a broken
//! book, since the application date is checked against the book), after which the work done for
//! the days before the failing one stands.

use chrono::{Days, Months, NaiveDate};
use familybridge_calculation::{
    Calculation, Money, Nights, ParameterBook, PayingParentCompliance, collection_fees,
    input::MAX_CHILDREN,
};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::{CaseError, Conflict};
use crate::events::{Adjustment, CalculationReason, CaseEvent, IncomeDecision};
use crate::request::{
    Application, CollectionMethod, ContactKind, CourtOrder, EvidenceSource, IncomeSource, Party,
};
use crate::settings::{CaseSettings, EnforcementStep, MAX_WEEKS};
use crate::timeline::{
    CalculationBasis, ChargedWeeks, DAYS_PER_WEEK, EvidenceRecord, IncomeRecord, Rules, Segment,
    WEEKS_PER_INSTALMENT, money, week_index, week_start,
};

/// How far after the application a case accepts dates, in years.
///
/// Why a limit: a CMS case ends when the youngest child turns 20; a bound keeps every loop over
/// weeks and instalments short and every date far inside the calendar, whatever a caller sends.
pub const MAX_CASE_YEARS: u32 = 100;

/// Share of the income in the calculation by which a reported change must differ to be taken
/// between annual reviews: 25% (2012 Regs reg 34(2)).
const INCOME_CHANGE_THRESHOLD_PERCENT: u32 = 25;

/// When liability runs from and how far it has been charged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Liability {
    /// The first day of the first maintenance period.
    pub start: NaiveDate,
    /// When the first calculation was made (later than `start` when liability was backdated).
    pub determined_on: NaiveDate,
    /// Instalment periods charged so far (including any charged at once when liability started
    /// on a date already past).
    pub periods_charged: u32,
    /// Which anniversary of `start` is the next annual review (1 = the first).
    pub next_review: u32,
}

/// The money on a case, kept as exact signed decimals of whole pence.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Ledger {
    pub maintenance_due: Decimal,
    pub maintenance_paid: Decimal,
    pub retrospective_adjustments: Decimal,
    pub paying_parent_collection_fees: Decimal,
    pub receiving_parent_collection_fees: Decimal,
    pub enforcement_fees: Decimal,
    pub passed_to_receiving_parent: Decimal,
    /// Maintenance paid since the previous due date (what the next instalment is checked against).
    pub paid_since_last_due: Decimal,
}

/// A step held by a pause: which step, under which pause (so each pause records a held step once).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Held {
    pub step: EnforcementStep,
    pub pause_start: NaiveDate,
}

/// Where the paying parent stands on the enforcement ladder.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct EnforcementState {
    pub consecutive_missed: u32,
    /// Steps taken in the current run of missed instalments, in ladder order.
    pub taken_in_run: Vec<EnforcementStep>,
    pub held: Option<Held>,
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
    /// The maintenance due for those weeks as the facts now stand (a change before the due date
    /// can still alter it).
    pub amount: Money,
}

/// The money on a case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Maintenance due so far: instalments fallen due plus retrospective adjustments.
    pub maintenance_due: Money,
    /// Maintenance paid so far.
    pub maintenance_paid: Money,
    /// `maintenance_due − maintenance_paid`: negative is an overpayment (a credit). Fees are not
    /// in it.
    pub arrears: Decimal,
    /// The net of every retrospective adjustment (included in `maintenance_due`).
    pub retrospective_adjustments: Decimal,
    /// Collect and Pay fees the paying parent paid on top of payments.
    pub paying_parent_collection_fees: Money,
    /// Collect and Pay fees taken off what the receiving parent got.
    pub receiving_parent_collection_fees: Money,
    /// Enforcement fees charged to the paying parent.
    pub enforcement_fees: Money,
    /// What the receiving parent has received (payments less their collection fee).
    pub passed_to_receiving_parent: Money,
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
    /// `Some(backdate)` while the CMS waits for a final order (delayed CMS involvement).
    pub(crate) deferred: Option<bool>,
    pub(crate) proceedings_pending: bool,
    pub(crate) liability: Option<Liability>,
    pub(crate) incomes: Vec<IncomeRecord>,
    pub(crate) evidence: Vec<EvidenceRecord>,
    pub(crate) orders_applied: Vec<String>,
    pub(crate) segments: Vec<Segment>,
    pub(crate) charged: ChargedWeeks,
    pub(crate) ledger: Ledger,
    pub(crate) enforcement: EnforcementState,
    pub(crate) pauses: Vec<Pause>,
    pub(crate) contacts: Vec<Contact>,
    pub(crate) distress_flags: Vec<DistressFlag>,
    pub(crate) history: Vec<CaseEvent>,
}

impl CaseFile {
    /// Opens a case on an application.
    ///
    /// Under [`crate::ActsOn::Application`], or with no proceedings pending, the CMS calculates at
    /// once and liability starts on the application date. Under [`crate::ActsOn::FinalOrder`] with
    /// proceedings pending, it waits for a final order (or the end of the proceedings).
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
        let deferred = match settings.acts_on {
            crate::ActsOn::FinalOrder { backdate } if application.proceedings_pending => {
                Some(backdate)
            }
            _ => None,
        };
        let mut rules = Rules::new(book);
        rules.on(date)?;
        let mut case = CaseFile {
            incomes: vec![IncomeRecord {
                date,
                income: application.paying_parent_income,
                source: IncomeSource::Initial,
                applied: true,
            }],
            as_of: date,
            // Nothing is due on the application date itself: the first instalment falls four
            // weeks later.
            processed_through: date.pred_opt().unwrap_or(date),
            deferred,
            proceedings_pending: application.proceedings_pending,
            liability: None,
            evidence: Vec::new(),
            orders_applied: Vec::new(),
            segments: Vec::new(),
            charged: ChargedWeeks::default(),
            ledger: Ledger::default(),
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
            liability_deferred: deferred.is_some(),
        }];
        if deferred.is_none() {
            case.start_liability(
                date,
                date,
                CalculationReason::Application,
                settings,
                &mut rules,
                &mut events,
            )?;
        }
        case.history.extend(events.iter().cloned());
        Ok((case, events))
    }

    /// Records an income figure for the paying parent.
    ///
    /// - `Initial`: taken whatever the difference (a correction of the first figure), until the
    ///   first annual review (then [`Conflict::InitialIncomeAfterReview`]).
    /// - `ReportedChange`: taken from its date only if it differs from the income in the current
    ///   calculation by 25% or more (2012 Regs reg 34(2)); otherwise recorded and ignored, which
    ///   the history says. A change reported as not provided (`None`) is ignored. Decision: before
    ///   the CMS has made its first calculation (delayed involvement), every figure is taken, since
    ///   the first calculation will use the latest income anyway.
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
        self.check_request(date, settings)?;
        if source == IncomeSource::Initial && self.review_held_before(date)? {
            return Err(Conflict::InitialIncomeAfterReview.into());
        }
        let mut rules = Rules::new(book);
        rules.on(date)?;
        let mut events = Vec::new();
        self.run_due_work_before(date, settings, &mut rules, &mut events)?;

        let in_calculation = self.income_in_calculation_on(date);
        let decision = match (source, &self.liability) {
            (IncomeSource::Initial, _) => IncomeDecision::Applied,
            (IncomeSource::AnnualReview, _) => IncomeDecision::HeldForReview {
                review_on: self.next_review_date(),
            },
            (IncomeSource::ReportedChange, None) => IncomeDecision::Applied,
            (IncomeSource::ReportedChange, Some(_)) => match (income, in_calculation) {
                (None, _) => IncomeDecision::IgnoredNotProvided,
                (Some(_), None) => IncomeDecision::Applied,
                (Some(new), Some(current)) if differs_by_threshold(new, current) => {
                    IncomeDecision::Applied
                }
                (Some(_), Some(current)) => IncomeDecision::IgnoredUnder25Percent {
                    income_in_calculation: current,
                },
            },
        };
        let applied = decision == IncomeDecision::Applied;
        self.incomes.push(IncomeRecord {
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
            self.recalculate(
                date,
                date,
                CalculationReason::Income,
                settings,
                &mut rules,
                &mut events,
            )?;
        }
        Ok(self.finish(date, events))
    }

    /// Records shared-care evidence for a child, in force from `date`.
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
        self.check_request(date, settings)?;
        self.check_child("child_ref", child_ref)?;
        let mut rules = Rules::new(book);
        let params = rules.on(date)?;
        let mut events = Vec::new();
        self.run_due_work_before(date, settings, &mut rules, &mut events)?;

        self.evidence.push(EvidenceRecord {
            child_ref: child_ref.to_owned(),
            date,
            nights: nights.get(),
            source,
            order_id: None,
        });
        let (nights_used, _) = self.nights_for(child_ref, date, settings, &params);
        events.push(CaseEvent::SharedCareRecorded {
            date,
            child_ref: child_ref.to_owned(),
            nights_claimed: nights.get(),
            source,
            nights_used,
        });
        self.recalculate(
            date,
            date,
            CalculationReason::SharedCare {
                child_ref: child_ref.to_owned(),
            },
            settings,
            &mut rules,
            &mut events,
        )?;
        Ok(self.finish(date, events))
    }

    /// Applies a court order on `date` (the day the CMS receives it).
    ///
    /// The order's nights become court-order evidence for each child it names, in force from the
    /// day it was made; if that is in weeks already charged, the difference is a retrospective
    /// adjustment charged on `date`. A final order ends pending proceedings; under delayed CMS
    /// involvement it starts liability (from the order's date, or backdated to the application).
    ///
    /// Errors: a blank or already applied `order.order_id`, `order.made_on` after `date`, a child
    /// in `order.nights` that the case does not have.
    pub fn apply_court_order(
        &mut self,
        date: NaiveDate,
        order: CourtOrder,
        settings: &CaseSettings,
        book: &ParameterBook,
    ) -> Result<Vec<CaseEvent>, CaseError> {
        self.check_request(date, settings)?;
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
        let mut rules = Rules::new(book);
        rules.on(date)?;
        rules.on(order.made_on.max(self.application.date))?;
        let mut events = Vec::new();
        self.run_due_work_before(date, settings, &mut rules, &mut events)?;

        for (child, nights) in &order.nights {
            self.evidence.push(EvidenceRecord {
                child_ref: child.clone(),
                date: order.made_on,
                nights: nights.get(),
                source: EvidenceSource::CourtOrder,
                order_id: Some(order.order_id.clone()),
            });
        }
        self.orders_applied.push(order.order_id.clone());
        events.push(CaseEvent::CourtOrderApplied {
            date,
            order_id: order.order_id.clone(),
            made_on: order.made_on,
            is_final: order.is_final,
        });
        if order.is_final && self.proceedings_pending {
            self.proceedings_pending = false;
            events.push(CaseEvent::ProceedingsEnded {
                date,
                final_order: Some(order.order_id.clone()),
            });
        }
        match self.deferred {
            Some(backdate) if order.is_final => {
                let start = if backdate {
                    self.application.date
                } else {
                    order.made_on
                };
                self.start_liability(
                    start,
                    date,
                    CalculationReason::FinalOrder {
                        order_id: order.order_id.clone(),
                    },
                    settings,
                    &mut rules,
                    &mut events,
                )?;
            }
            _ => self.recalculate(
                order.made_on,
                date,
                CalculationReason::CourtOrder {
                    order_id: order.order_id.clone(),
                },
                settings,
                &mut rules,
                &mut events,
            )?,
        }
        Ok(self.finish(date, events))
    }

    /// The child-arrangements proceedings ended without a final order (withdrawn, or dismissed).
    ///
    /// Under delayed CMS involvement this starts liability: from `date`, or backdated to the
    /// application date. Error: no proceedings pending ([`Conflict::NoProceedingsPending`]).
    pub fn end_proceedings(
        &mut self,
        date: NaiveDate,
        settings: &CaseSettings,
        book: &ParameterBook,
    ) -> Result<Vec<CaseEvent>, CaseError> {
        self.check_request(date, settings)?;
        if !self.proceedings_pending {
            return Err(Conflict::NoProceedingsPending.into());
        }
        let mut rules = Rules::new(book);
        rules.on(date)?;
        let mut events = Vec::new();
        self.run_due_work_before(date, settings, &mut rules, &mut events)?;
        self.proceedings_pending = false;
        events.push(CaseEvent::ProceedingsEnded {
            date,
            final_order: None,
        });
        if let Some(backdate) = self.deferred {
            let start = if backdate {
                self.application.date
            } else {
                date
            };
            self.start_liability(
                start,
                date,
                CalculationReason::ProceedingsEnded,
                settings,
                &mut rules,
                &mut events,
            )?;
        }
        Ok(self.finish(date, events))
    }

    /// Records a payment of maintenance (`amount`, not counting any collection fee).
    ///
    /// Payments go to maintenance. On Collect and Pay the fees are worked on each payment, not on
    /// what is due (SI 2014/612 reg 7): the paying parent pays the paying-parent fee on top, and
    /// the receiving parent gets the payment less the receiving-parent fee, at the rates in force
    /// on the payment date. On Direct Pay there are no fees, unless Direct Pay is no longer
    /// available on that date, when the case is on Collect and Pay (as the engine treats it).
    /// Decision: the non-compliant paying-parent rate applies while the paying parent has missed
    /// the latest instalment (today both rates are 20%).
    ///
    /// Errors: a zero `amount`; no calculation yet ([`Conflict::NoLiabilityYet`]).
    pub fn record_payment(
        &mut self,
        date: NaiveDate,
        amount: Money,
        settings: &CaseSettings,
        book: &ParameterBook,
    ) -> Result<Vec<CaseEvent>, CaseError> {
        self.check_request(date, settings)?;
        if amount.is_zero() {
            return Err(CaseError::invalid(
                "amount",
                "a payment must be more than £0",
            ));
        }
        if self.liability.is_none() {
            return Err(Conflict::NoLiabilityYet.into());
        }
        let mut rules = Rules::new(book);
        let params = rules.on(date)?;
        let mut events = Vec::new();
        self.run_due_work_before(date, settings, &mut rules, &mut events)?;

        let on_collection = match self.application.collection {
            CollectionMethod::CollectAndPay => true,
            CollectionMethod::DirectPay => !params.collection.direct_pay_available,
        };
        let (paying_fee, receiving_fee) = if on_collection {
            let compliance = if self.enforcement.consecutive_missed > 0 {
                PayingParentCompliance::NonCompliant
            } else {
                PayingParentCompliance::Compliant
            };
            let fees = collection_fees(amount, &params.collection, compliance);
            (fees.paying_parent_fee, fees.receiving_parent_fee)
        } else {
            (Money::ZERO, Money::ZERO)
        };
        let passed = money(amount.as_decimal() - receiving_fee.as_decimal());
        let ledger = &mut self.ledger;
        ledger.maintenance_paid += amount.as_decimal();
        ledger.paid_since_last_due += amount.as_decimal();
        ledger.paying_parent_collection_fees += paying_fee.as_decimal();
        ledger.receiving_parent_collection_fees += receiving_fee.as_decimal();
        ledger.passed_to_receiving_parent += passed.as_decimal();
        events.push(CaseEvent::PaymentReceived {
            date,
            amount,
            paying_parent_fee: paying_fee,
            receiving_parent_fee: receiving_fee,
            passed_to_receiving_parent: passed,
        });
        Ok(self.finish(date, events))
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
    /// instead, and taken at the first due date after the pause ends if still warranted.
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
    /// order: pause ends, annual reviews, instalments falling due (with missed payments and
    /// enforcement). Advancing to a date already processed does nothing and returns no events.
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
        let mut rules = Rules::new(book);
        let mut events = Vec::new();
        let result = self.run_due_work_through(date, settings, &mut rules, &mut events);
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

    /// Whether the CMS is waiting for a final court order before calculating.
    pub fn is_deferred(&self) -> bool {
        self.deferred.is_some()
    }

    /// Whether child-arrangements proceedings are pending.
    pub fn proceedings_pending(&self) -> bool {
        self.proceedings_pending
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
        let mut rules = Rules::new(book);
        let params = rules.on(segment.basis.rules_date)?;
        self.calculate_basis(&segment.basis, &params).map(Some)
    }

    /// The next instalment; `None` before liability starts.
    pub fn schedule(&self) -> Option<Instalment> {
        let liability = self.liability.as_ref()?;
        let number = liability.periods_charged.checked_add(1)?;
        let first_week = liability
            .periods_charged
            .checked_mul(WEEKS_PER_INSTALMENT)?;
        let due = week_start(liability.start, first_week + WEEKS_PER_INSTALMENT).ok()?;
        let period_from = week_start(liability.start, first_week).ok()?;
        let amount = (first_week..first_week + WEEKS_PER_INSTALMENT)
            .map(|w| self.weekly_for_week(w).as_decimal())
            .sum();
        Some(Instalment {
            number,
            due,
            period_from,
            amount: money(amount),
        })
    }

    /// The money on the case.
    pub fn account(&self) -> Account {
        let l = &self.ledger;
        Account {
            maintenance_due: money(l.maintenance_due),
            maintenance_paid: money(l.maintenance_paid),
            arrears: l.maintenance_due - l.maintenance_paid,
            retrospective_adjustments: l.retrospective_adjustments,
            paying_parent_collection_fees: money(l.paying_parent_collection_fees),
            receiving_parent_collection_fees: money(l.receiving_parent_collection_fees),
            enforcement_fees: money(l.enforcement_fees),
            passed_to_receiving_parent: money(l.passed_to_receiving_parent),
        }
    }

    /// Arrears: maintenance due so far less maintenance paid. Negative is an overpayment credit.
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

    /// Everything that has happened on the case, in date order.
    pub fn history(&self) -> &[CaseEvent] {
        &self.history
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

    /// Records the request's events in the history and moves the case's date on.
    /// Carries out a request that has passed its checks: the work due before `date` first (so the
    /// history stays in date order), then the request's own change, then the record of both.
    fn carry_out(
        &mut self,
        date: NaiveDate,
        settings: &CaseSettings,
        book: &ParameterBook,
        change: impl FnOnce(&mut Self, &mut Rules<'_>, &mut Vec<CaseEvent>) -> Result<(), CaseError>,
    ) -> Result<Vec<CaseEvent>, CaseError> {
        let mut rules = Rules::new(book);
        let mut events = Vec::new();
        self.run_due_work_before(date, settings, &mut rules, &mut events)?;
        change(self, &mut rules, &mut events)?;
        Ok(self.finish(date, events))
    }

    fn finish(&mut self, date: NaiveDate, events: Vec<CaseEvent>) -> Vec<CaseEvent> {
        self.as_of = date;
        self.history.extend(events.iter().cloned());
        events
    }

    /// Starts liability from `start` (not before the application), as decided on `date`.
    ///
    /// If `start` is in the past, every instalment period already due by the last processed day
    /// is charged at once, as a retrospective adjustment on `date` (the backdated weeks of delayed
    /// CMS involvement); the period in progress is charged on its due date as usual.
    pub(crate) fn start_liability(
        &mut self,
        start: NaiveDate,
        date: NaiveDate,
        reason: CalculationReason,
        settings: &CaseSettings,
        rules: &mut Rules<'_>,
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
        self.deferred = None;
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
        if let Some(adjustment) = self.reprice_charged_weeks(start, 0)? {
            events.push(CaseEvent::RetrospectiveAdjustment { date, adjustment });
        }
        Ok(())
    }

    /// Recalculates from the week containing `from` after a change applied on `date`: the weekly
    /// amount from then on, and any weeks already charged since then (a retrospective adjustment).
    pub(crate) fn recalculate(
        &mut self,
        from: NaiveDate,
        date: NaiveDate,
        reason: CalculationReason,
        settings: &CaseSettings,
        rules: &mut Rules<'_>,
        events: &mut Vec<CaseEvent>,
    ) -> Result<(), CaseError> {
        let Some(start) = self.liability.as_ref().map(|l| l.start) else {
            // No calculation yet (delayed involvement): the fact waits for the first one.
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
    /// already charged (or due to be, per `periods_charged`). Returns the adjustment if the total
    /// changed; the ledger is updated.
    fn reprice_charged_weeks(
        &mut self,
        start: NaiveDate,
        from_week: u32,
    ) -> Result<Option<Adjustment>, CaseError> {
        let periods = self.liability.as_ref().map_or(0, |l| l.periods_charged);
        let charged_to = periods.saturating_mul(WEEKS_PER_INSTALMENT);
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
        self.ledger.maintenance_due += amount;
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

/// Whether `new` differs from `current` by at least the threshold share of `current`.
fn differs_by_threshold(new: Money, current: Money) -> bool {
    let difference = (new.as_decimal() - current.as_decimal()).abs();
    difference * Decimal::ONE_HUNDRED
        >= current.as_decimal() * Decimal::from(INCOME_CHANGE_THRESHOLD_PERCENT)
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
