//! Time-driven work: what happens on a case as simulated days pass, with no request from anyone.
//!
//! On each day, in this order:
//! 1. a pause reaching its end stops applying (so a due date on that day is not paused);
//! 2. an annual review falls on each anniversary of the liability start (anniversaries on or
//!    before the day the first calculation was made are not held: that calculation already took
//!    the latest income);
//! 3. an instalment falls due every four weeks from the liability start, covering the four weeks
//!    before its due date; it is missed if the maintenance paid since the previous due date is
//!    less than the instalment; then the enforcement ladder is climbed (or held by a pause).
//!
//! Only days with something due are visited, so advancing a year costs about twenty steps.

use chrono::NaiveDate;
use familybridge_calculation::Money;
use rust_decimal::Decimal;

use crate::case::{CaseFile, Held};
use crate::error::CaseError;
use crate::events::{CalculationReason, CaseEvent};
use crate::request::{IncomeSource, Party};
use crate::settings::{CaseSettings, EnforcementStep};
use crate::timeline::{IncomeRecord, Rules, WEEKS_PER_INSTALMENT, money, week_start};

impl CaseFile {
    /// Runs the work due on every day before `date` (a request dated `date` applies after it).
    pub(crate) fn run_due_work_before(
        &mut self,
        date: NaiveDate,
        settings: &CaseSettings,
        rules: &mut Rules<'_>,
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
        rules: &mut Rules<'_>,
        events: &mut Vec<CaseEvent>,
    ) -> Result<(), CaseError> {
        while let Some(day) = self.next_work_day().filter(|&day| day <= target) {
            self.run_day(day, settings, rules, events)?;
            self.processed_through = day;
        }
        self.processed_through = self.processed_through.max(target);
        Ok(())
    }

    /// The next day after the last processed one with something due, if any.
    fn next_work_day(&self) -> Option<NaiveDate> {
        let after = self.processed_through;
        let pause_end = self
            .pauses
            .iter()
            .filter(|p| !p.lifted && p.until > after)
            .map(|p| p.until)
            .min();
        let review = self.next_review_date().filter(|&d| d > after);
        let due = self.next_due_date().filter(|&d| d > after);
        [pause_end, review, due].into_iter().flatten().min()
    }

    /// The due date of the next instalment.
    fn next_due_date(&self) -> Option<NaiveDate> {
        let liability = self.liability.as_ref()?;
        let weeks = liability
            .periods_charged
            .checked_add(1)?
            .checked_mul(WEEKS_PER_INSTALMENT)?;
        week_start(liability.start, weeks).ok()
    }

    fn run_day(
        &mut self,
        day: NaiveDate,
        settings: &CaseSettings,
        rules: &mut Rules<'_>,
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
        if self.next_review_date() == Some(day) {
            self.annual_review(day, settings, rules, events)?;
        }
        if self.next_due_date() == Some(day) {
            self.instalment_due(day, settings, &params.enforcement_fees, events)?;
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
        rules: &mut Rules<'_>,
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

    /// An instalment falls due: charge its four weeks, decide whether it was missed, and climb
    /// (or hold) the enforcement ladder.
    fn instalment_due(
        &mut self,
        day: NaiveDate,
        settings: &CaseSettings,
        fees: &familybridge_calculation::parameters::EnforcementFees,
        events: &mut Vec<CaseEvent>,
    ) -> Result<(), CaseError> {
        let Some(liability) = self.liability.as_ref() else {
            return Ok(());
        };
        let start = liability.start;
        let instalment = liability.periods_charged + 1;
        let first_week = liability.periods_charged * WEEKS_PER_INSTALMENT;
        let period_from = week_start(start, first_week)?;
        let mut total = Decimal::ZERO;
        for week in first_week..first_week + WEEKS_PER_INSTALMENT {
            let weekly = self.weekly_for_week(week);
            total += weekly.as_decimal();
            self.charged.push(weekly);
        }
        if let Some(liability) = self.liability.as_mut() {
            liability.periods_charged = instalment;
        }
        let amount = money(total);
        self.ledger.maintenance_due += total;
        events.push(CaseEvent::PaymentDue {
            date: day,
            instalment,
            period_from,
            amount,
        });

        let paid = self.ledger.paid_since_last_due;
        self.ledger.paid_since_last_due = Decimal::ZERO;
        if paid < total {
            let state = &mut self.enforcement;
            state.consecutive_missed = state.consecutive_missed.saturating_add(1);
            events.push(CaseEvent::PaymentMissed {
                date: day,
                instalment,
                due: amount,
                paid: money(paid),
                consecutive_missed: state.consecutive_missed,
            });
            self.escalate(day, settings, fees, events);
        } else {
            // Paid in full: the run of misses is over, and with it the ladder.
            self.enforcement.consecutive_missed = 0;
            self.enforcement.taken_in_run.clear();
            self.enforcement.held = None;
        }
        Ok(())
    }

    /// Takes the next enforcement step if it is warranted, or records it as paused.
    ///
    /// Decisions: steps are taken in ladder order, at most one per due date (a ladder is climbed a
    /// rung at a time, also after a pause), and each at most once per run of missed instalments. A
    /// step held by a pause is recorded once per pause.
    fn escalate(
        &mut self,
        day: NaiveDate,
        settings: &CaseSettings,
        fees: &familybridge_calculation::parameters::EnforcementFees,
        events: &mut Vec<CaseEvent>,
    ) {
        let Some(step) = EnforcementStep::LADDER
            .into_iter()
            .find(|s| !self.enforcement.taken_in_run.contains(s))
        else {
            return;
        };
        if self.enforcement.consecutive_missed < settings.enforcement.threshold(step) {
            return;
        }
        let distressed = self.flagged_distressed(Party::PayingParent, day, settings);
        if let Some(pause) = self.pause_on(day) {
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
                    parent_flagged_distressed: distressed,
                    pause_until,
                });
            }
            return;
        }
        let fee: Money = step.fee(fees);
        self.ledger.enforcement_fees += fee.as_decimal();
        self.enforcement.taken_in_run.push(step);
        self.enforcement.held = None;
        events.push(CaseEvent::EnforcementStepTaken {
            date: day,
            step,
            fee,
            parent_flagged_distressed: distressed,
            consecutive_missed: self.enforcement.consecutive_missed,
            arrears: self.arrears(),
        });
    }
}
