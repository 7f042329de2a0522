//! Time-driven work: what happens on a case as simulated days pass, with no request from anyone.
//!
//! On each day, in this order:
//! 1. a pause reaching its end stops applying (so a due date on that day is not paused);
//! 2. a liability order hearing: the court grants the order if the run of missed instalments goes
//!    on (its fee is charged then), or the application is withdrawn; a hearing falling in a pause
//!    is put back to the pause's end;
//! 3. an annual review falls on each anniversary of the liability start (anniversaries on or
//!    before the day the first calculation was made are not held: that calculation already took
//!    the latest income);
//! 4. an instalment falls due every four weeks from the liability start, covering the four weeks
//!    before its due date. On Direct Pay the CMS charges it but never sees whether it was paid, so
//!    it is never missed and never enforced; a case whose Direct Pay is no longer available moves
//!    to Collect and Pay first. On Collect and Pay it is missed if what was paid since the previous
//!    due date is less than the instalment, and then the enforcement ladder is climbed (or held by
//!    a pause).
//!
//! The ladder ([`crate::EnforcementStep`]): steps are taken in ladder order, at most one per due
//! date, each at most once per run of missed instalments and only where its precondition holds — a
//! deduction from earnings order needs an employed parent with none in force; a regular deduction
//! order is not made where a deduction from benefit collects the case or one is already in force; a
//! liability order needs an application and the court's lag; enforcement agents and a charging
//! order need a liability order (a charging order also the minimum arrears); disqualification needs
//! agents to have been tried, committal a disqualification. A step whose precondition fails is
//! passed over for the next. Deduction orders and a granted liability order stay in force after
//! the run ends.
//!
//! Only days with something due are visited, so advancing a year costs about twenty steps.

use chrono::NaiveDate;
use familybridge_calculation::{Money, Parameters};
use rust_decimal::Decimal;

use crate::case::{CaseFile, Deduction, Held, LiabilityOrder};
use crate::collection::weeks_after;
use crate::error::CaseError;
use crate::events::{CalculationReason, CaseEvent, CollectionChange};
use crate::request::{CollectionMethod, Employment, IncomeSource, Party};
use crate::settings::{CaseSettings, EnforcementStep};
use crate::timeline::{IncomeRecord, Rules, money};

impl CaseFile {
    /// Runs the work due on every day before `date` (a request dated `date` applies after it).
    pub(crate) fn run_due_work_before(
        &mut self,
        date: NaiveDate,
        settings: &CaseSettings,
        rules: &Rules<'_>,
        events: &mut Vec<CaseEvent>,
    ) -> Result<(), CaseError> {
        match date.pred_opt() {
            Some(day_before) => self.run_due_work_through(day_before, settings, rules, events),
            None => Ok(()),
        }
    }

    /// Runs the work due on every day after the last processed one up to and including `target`.
    pub(crate) fn run_due_work_through(
        &mut self,
        target: NaiveDate,
        settings: &CaseSettings,
        rules: &Rules<'_>,
        events: &mut Vec<CaseEvent>,
    ) -> Result<(), CaseError> {
        while let Some(day) = self.next_work_day().filter(|&day| day <= target) {
            self.run_day(day, settings, rules, events)?;
            self.processed_through = day;
        }
        self.processed_through = self.processed_through.max(target);
        Ok(())
    }

    /// The next day after the last processed one with something due, if any. A closed case has
    /// nothing due but the end of a pause. Until that day, [`CaseFile::advance_to`] changes
    /// nothing but the days processed: a store may leave the case alone until then.
    pub fn next_work_day(&self) -> Option<NaiveDate> {
        let after = self.processed_through;
        let pause_end = self
            .pauses
            .iter()
            .filter(|p| !p.lifted && p.until > after)
            .map(|p| p.until)
            .min();
        if self.is_closed() {
            return pause_end;
        }
        let hearing = self
            .enforcement
            .liability_order
            .filter(|order| !order.granted && order.hearing_on > after)
            .map(|order| order.hearing_on);
        let review = self.next_review_date().filter(|&d| d > after);
        let due = self.next_due_date().filter(|&d| d > after);
        [pause_end, hearing, review, due]
            .into_iter()
            .flatten()
            .min()
    }

    fn run_day(
        &mut self,
        day: NaiveDate,
        settings: &CaseSettings,
        rules: &Rules<'_>,
        events: &mut Vec<CaseEvent>,
    ) -> Result<(), CaseError> {
        // Resolve the day's rules first, so a broken book fails before anything changes.
        let params = rules.on(day)?;
        for pause in &self.pauses {
            if !pause.lifted && pause.until == day {
                events.push(CaseEvent::PauseEnded {
                    date: day,
                    lifted: false,
                });
            }
        }
        if self.is_closed() {
            return Ok(());
        }
        if let Some(order) = self.enforcement.liability_order
            && !order.granted
            && order.hearing_on == day
        {
            self.hearing(day, order, settings, &params, events);
        }
        if self.next_review_date() == Some(day) {
            self.annual_review(day, settings, rules, events)?;
        }
        if self.next_due_date() == Some(day) {
            self.instalment_due(day, settings, &params, events)?;
        }
        Ok(())
    }

    /// The annual review: the latest recorded income is taken whatever the difference, and the
    /// calculation is made again under the rules in force on the review date.
    ///
    /// "Latest recorded" counts every figure, taken into the calculation or not (a change ignored
    /// under the 25% rule, a figure held for the review). Decision: if the latest is a report of
    /// income not provided, the review puts the case on the default rate (2012 Regs reg 49), as
    /// the CMS does when a paying parent gives it nothing to calculate on.
    fn annual_review(
        &mut self,
        day: NaiveDate,
        settings: &CaseSettings,
        rules: &Rules<'_>,
        events: &mut Vec<CaseEvent>,
    ) -> Result<(), CaseError> {
        let previous_income = self.income_in_calculation_on(day);
        let income = self.latest_recorded_income(day);
        self.incomes.push(IncomeRecord {
            date: day,
            income,
            source: IncomeSource::AnnualReview,
            applied: true,
        });
        if let Some(liability) = self.liability.as_mut() {
            liability.next_review += 1;
        }
        events.push(CaseEvent::AnnualReview {
            date: day,
            previous_income,
            income,
        });
        self.recalculate(
            day,
            day,
            CalculationReason::AnnualReview,
            settings,
            rules,
            events,
        )
    }

    /// An instalment falls due: charge it, and on Collect and Pay decide whether it was missed and
    /// climb (or hold) the enforcement ladder.
    fn instalment_due(
        &mut self,
        day: NaiveDate,
        settings: &CaseSettings,
        params: &Parameters,
        events: &mut Vec<CaseEvent>,
    ) -> Result<(), CaseError> {
        if self.collection.method == CollectionMethod::DirectPay
            && !params.collection.direct_pay_available
        {
            self.move_to_collect_and_pay(day, CollectionChange::DirectPayUnavailable, events);
        }
        let Some(charge) = self.charge_next_period(params) else {
            return Ok(());
        };
        events.push(CaseEvent::PaymentDue {
            date: day,
            instalment: charge.number,
            period_from: charge.period_from,
            amount: money(charge.maintenance),
            arrears: money(charge.arrears),
            collection_fee: money(charge.collection_fee),
            collected: charge.collected,
        });
        if !charge.collected {
            return Ok(());
        }
        let paid = std::mem::take(&mut self.ledger.paid_since_last_due);
        let due = charge.total();
        if paid < due {
            let state = &mut self.enforcement;
            state.consecutive_missed = state.consecutive_missed.saturating_add(1);
            events.push(CaseEvent::PaymentMissed {
                date: day,
                instalment: charge.number,
                due: money(due),
                paid: money(paid),
                consecutive_missed: state.consecutive_missed,
            });
            self.escalate(day, settings, params, events);
        } else {
            // Paid in full: the run of misses is over, and with it the ladder (the orders in
            // force stay in force).
            self.enforcement.consecutive_missed = 0;
            self.enforcement.taken_in_run.clear();
            self.enforcement.held = None;
        }
        Ok(())
    }

    /// Whether `step`'s precondition holds now (see the module documentation).
    fn step_possible(&self, step: EnforcementStep, settings: &CaseSettings) -> bool {
        let state = &self.enforcement;
        let granted = self.liability_order_granted();
        let tried = |s: EnforcementStep| state.ever_taken.contains(&s);
        match step {
            EnforcementStep::DeductionFromEarningsOrder => {
                self.application.employment == Employment::Employed
                    && state.deduction != Some(Deduction::Earnings)
            }
            EnforcementStep::RegularDeductionOrder => !matches!(
                state.deduction,
                Some(Deduction::Benefit | Deduction::Account)
            ),
            EnforcementStep::LiabilityOrderApplication => state.liability_order.is_none(),
            EnforcementStep::LiabilityOrder => false,
            EnforcementStep::EnforcementAgents => granted,
            EnforcementStep::ChargingOrder => {
                granted
                    && self.arrears()
                        >= settings
                            .enforcement
                            .charging_order_minimum_arrears
                            .as_decimal()
            }
            EnforcementStep::Disqualification => {
                granted && tried(EnforcementStep::EnforcementAgents)
            }
            EnforcementStep::Committal => granted && tried(EnforcementStep::Disqualification),
        }
    }

    /// Takes the next enforcement step if one is warranted, or records it as paused.
    fn escalate(
        &mut self,
        day: NaiveDate,
        settings: &CaseSettings,
        params: &Parameters,
        events: &mut Vec<CaseEvent>,
    ) {
        let rules = &settings.enforcement;
        let Some((step, threshold)) = EnforcementStep::LADDER
            .into_iter()
            .filter(|s| !self.enforcement.taken_in_run.contains(s))
            .filter_map(|s| rules.threshold(s).map(|t| (s, t)))
            .find(|(s, _)| self.step_possible(*s, settings))
        else {
            return;
        };
        if self.enforcement.consecutive_missed < threshold {
            return;
        }
        if self.hold_for_pause(day, step, settings, events) {
            return;
        }
        if step == EnforcementStep::LiabilityOrderApplication {
            let hearing_on = weeks_after(day, rules.liability_order_court_weeks).unwrap_or(day);
            self.enforcement.liability_order = Some(LiabilityOrder {
                applied_on: day,
                hearing_on,
                granted: false,
            });
        }
        match step {
            EnforcementStep::DeductionFromEarningsOrder => {
                self.enforcement.deduction = Some(Deduction::Earnings);
            }
            EnforcementStep::RegularDeductionOrder => {
                self.enforcement.deduction = Some(Deduction::Account);
            }
            _ => {}
        }
        self.take_step(day, step, settings, params, events);
    }

    /// If a pause is in force on `day`, records `step` as held (once per pause) and says so.
    fn hold_for_pause(
        &mut self,
        day: NaiveDate,
        step: EnforcementStep,
        settings: &CaseSettings,
        events: &mut Vec<CaseEvent>,
    ) -> bool {
        let Some(pause) = self.pause_on(day) else {
            return false;
        };
        let held = Held {
            step,
            pause_start: pause.start,
        };
        let pause_until = pause.until;
        if self.enforcement.held != Some(held) {
            self.enforcement.held = Some(held);
            events.push(CaseEvent::EnforcementPaused {
                date: day,
                step,
                parent_flagged_distressed: self.flagged_distressed(
                    Party::PayingParent,
                    day,
                    settings,
                ),
                pause_until,
            });
        }
        true
    }

    /// Records `step` as taken on `day`, charging its fee.
    fn take_step(
        &mut self,
        day: NaiveDate,
        step: EnforcementStep,
        settings: &CaseSettings,
        params: &Parameters,
        events: &mut Vec<CaseEvent>,
    ) {
        let fee: Money = step.fee(&params.enforcement_fees);
        self.ledger.enforcement_fees_charged += fee.as_decimal();
        self.enforcement.taken_in_run.push(step);
        if !self.enforcement.ever_taken.contains(&step) {
            self.enforcement.ever_taken.push(step);
        }
        self.enforcement.held = None;
        events.push(CaseEvent::EnforcementStepTaken {
            date: day,
            step,
            fee,
            parent_flagged_distressed: self.flagged_distressed(Party::PayingParent, day, settings),
            consecutive_missed: self.enforcement.consecutive_missed,
            arrears: self.arrears(),
        });
    }

    /// The liability order hearing: granted if the run of missed instalments goes on, withdrawn if
    /// it ended; put back to the end of a pause in force.
    fn hearing(
        &mut self,
        day: NaiveDate,
        order: LiabilityOrder,
        settings: &CaseSettings,
        params: &Parameters,
        events: &mut Vec<CaseEvent>,
    ) {
        if let Some(until) = self.pause_on(day).map(|pause| pause.until) {
            self.hold_for_pause(day, EnforcementStep::LiabilityOrder, settings, events);
            self.enforcement.liability_order = Some(LiabilityOrder {
                hearing_on: until,
                ..order
            });
            return;
        }
        if self.enforcement.consecutive_missed == 0 || self.arrears() <= Decimal::ZERO {
            self.enforcement.liability_order = None;
            events.push(CaseEvent::LiabilityOrderWithdrawn { date: day });
            return;
        }
        self.enforcement.liability_order = Some(LiabilityOrder {
            granted: true,
            ..order
        });
        self.take_step(
            day,
            EnforcementStep::LiabilityOrder,
            settings,
            params,
            events,
        );
    }
}
