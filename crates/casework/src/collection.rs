//! The collection schedule: what each instalment asks of the paying parent, the paying parent's
//! collection fee on liability, and how a payment is shared between maintenance and fees.
//!
//! An instalment falls due every four weeks from the liability start and covers the four weeks
//! before its due date. It asks for the maintenance of those weeks, the part of any scheduled
//! arrears it collects ([`crate::ArrearsRules`]), and — on Collect and Pay — the paying parent's
//! collection fee. That fee accrues on liability, each day, at the fee rate of the daily amount
//! (the weekly amount divided by 7) while the case is on Collect and Pay (SI 2014/612 reg 7; the
//! Northern Ireland mirror SR 2014/182 reg 3(2),(4) words it so); this project sums the days of
//! the period and rounds once, half up to the penny (SR 2014/182 reg 3(5)). The receiving
//! parent's fee is 4% of what is collected for them, taken off as it is passed on.

use chrono::{Days, NaiveDate};
use familybridge_calculation::{Money, Parameters};
use rust_decimal::Decimal;

use crate::case::{CaseFile, Instalment};
use crate::error::CaseError;
use crate::events::CaseEvent;
use crate::request::{CollectionMethod, PaymentSource};
use crate::timeline::{DAYS_PER_WEEK, WEEKS_PER_INSTALMENT, money, week_index, week_start};

/// What one instalment period comes to.
pub(crate) struct PeriodCharge {
    pub number: u32,
    pub period_from: NaiveDate,
    pub maintenance: Decimal,
    pub arrears: Decimal,
    pub collection_fee: Decimal,
    pub collected: bool,
}

impl PeriodCharge {
    pub(crate) fn total(&self) -> Decimal {
        self.maintenance + self.arrears + self.collection_fee
    }
}

impl CaseFile {
    /// The fee rate for the paying parent on an instalment due now: the non-compliant rate once
    /// the configured number of instalments in a row has been missed.
    fn paying_parent_fee_rate(&self, params: &Parameters) -> familybridge_calculation::Percentage {
        let collection = &params.collection;
        let missed = self.enforcement.consecutive_missed;
        if missed > 0 && missed >= collection.non_compliant_after_missed_instalments {
            collection.non_compliant_paying_parent_fee
        } else {
            collection.paying_parent_fee
        }
    }

    /// The collection fee accrued on weeks `first_week..first_week + weeks`: the fee rate of each
    /// day's liability on Collect and Pay (the days before the case moved to it carry none).
    fn collection_fee_on(&self, first_week: u32, weeks: u32, params: &Parameters) -> Decimal {
        let Some(liability) = &self.liability else {
            return Decimal::ZERO;
        };
        if self.collection.method != CollectionMethod::CollectAndPay {
            return Decimal::ZERO;
        }
        let since_week = week_index(liability.start, self.collection.since);
        let mut liability_on_collection = Decimal::ZERO;
        for week in first_week..first_week + weeks {
            let days = if week < since_week {
                0
            } else if week == since_week {
                let week_began = week_start(liability.start, week).unwrap_or(self.collection.since);
                let before = (self.collection.since - week_began).num_days().clamp(0, 7);
                7 - before
            } else {
                7
            };
            liability_on_collection +=
                self.weekly_for_week(week).as_decimal() * Decimal::from(days) / Decimal::from(7);
        }
        let fee = self
            .paying_parent_fee_rate(params)
            .of(liability_on_collection);
        Money::round_half_up_to_penny(fee.max(Decimal::ZERO))
            .map_or(Decimal::ZERO, Money::as_decimal)
    }

    /// What the next instalment period comes to as the facts now stand, without charging it.
    pub(crate) fn next_charge(&self, params: &Parameters) -> Option<PeriodCharge> {
        let liability = self.liability.as_ref()?;
        let first_week = liability
            .periods_charged
            .checked_mul(WEEKS_PER_INSTALMENT)?;
        let maintenance = (first_week..first_week + WEEKS_PER_INSTALMENT)
            .map(|w| self.weekly_for_week(w).as_decimal())
            .sum();
        let plan = &self.arrears_plan;
        Some(PeriodCharge {
            number: liability.periods_charged.checked_add(1)?,
            period_from: week_start(liability.start, first_week).ok()?,
            maintenance,
            arrears: plan.remaining.min(plan.per_instalment).max(Decimal::ZERO),
            collection_fee: self.collection_fee_on(first_week, WEEKS_PER_INSTALMENT, params),
            collected: self.collection.method == CollectionMethod::CollectAndPay,
        })
    }

    /// The next instalment as the paying parent is asked for it.
    pub(crate) fn next_instalment(&self, params: &Parameters) -> Option<Instalment> {
        let charge = self.next_charge(params)?;
        Some(Instalment {
            number: charge.number,
            due: self.next_due_date()?,
            period_from: charge.period_from,
            maintenance: money(charge.maintenance),
            arrears: money(charge.arrears),
            collection_fee: money(charge.collection_fee),
            total: money(charge.total()),
            collected: charge.collected,
        })
    }

    /// Charges the next instalment period: its weeks, its arrears part and its fee. Returns what
    /// was charged.
    pub(crate) fn charge_next_period(&mut self, params: &Parameters) -> Option<PeriodCharge> {
        let charge = self.next_charge(params)?;
        let first_week = (charge.number - 1) * WEEKS_PER_INSTALMENT;
        for week in first_week..first_week + WEEKS_PER_INSTALMENT {
            let weekly = self.weekly_for_week(week);
            self.charged.push(weekly);
        }
        if let Some(liability) = self.liability.as_mut() {
            liability.periods_charged = charge.number;
        }
        self.arrears_plan.remaining -= charge.arrears;
        if self.arrears_plan.remaining <= Decimal::ZERO {
            self.arrears_plan = Default::default();
        }
        self.book_charge(&charge);
        Some(charge)
    }

    /// Books a period's charge in the ledger: collected maintenance and fees, or Direct Pay
    /// liability.
    fn book_charge(&mut self, charge: &PeriodCharge) {
        if charge.collected {
            self.ledger.maintenance_due += charge.maintenance;
            self.ledger.collection_fees_charged += charge.collection_fee;
        } else {
            self.ledger.direct_pay_due += charge.maintenance;
        }
    }

    /// On closing: charges the weeks of the period in progress before the week containing `date`,
    /// as a last, shorter instalment (not checked for a miss: nothing more falls due).
    pub(crate) fn charge_final_period(
        &mut self,
        date: NaiveDate,
        params: &Parameters,
        events: &mut Vec<CaseEvent>,
    ) -> Result<(), CaseError> {
        let Some(liability) = self.liability.as_ref() else {
            return Ok(());
        };
        let start = liability.start;
        let number = liability.periods_charged + 1;
        let first_week = liability.periods_charged * WEEKS_PER_INSTALMENT;
        let last_week = week_index(start, date).max(first_week);
        let weeks = last_week - first_week;
        if weeks == 0 {
            return Ok(());
        }
        let mut maintenance = Decimal::ZERO;
        for week in first_week..last_week {
            let weekly = self.weekly_for_week(week);
            maintenance += weekly.as_decimal();
            self.charged.push(weekly);
        }
        let charge = PeriodCharge {
            number,
            period_from: week_start(start, first_week)?,
            maintenance,
            arrears: Decimal::ZERO,
            collection_fee: self.collection_fee_on(first_week, weeks, params),
            collected: self.collection.method == CollectionMethod::CollectAndPay,
        };
        if let Some(liability) = self.liability.as_mut() {
            liability.periods_charged = number;
        }
        self.book_charge(&charge);
        events.push(CaseEvent::PaymentDue {
            date,
            instalment: number,
            period_from: charge.period_from,
            amount: money(charge.maintenance),
            arrears: Money::ZERO,
            collection_fee: money(charge.collection_fee),
            collected: charge.collected,
        });
        Ok(())
    }

    /// Takes a payment on Collect and Pay. It pays, in order: the maintenance owed now and the
    /// next instalment's maintenance and arrears part (scheduled arrears are owed only as the
    /// schedule asks for them); collection fees owed and the next instalment's; enforcement fees;
    /// then the scheduled arrears ahead of the schedule, which shortens it; anything more is a
    /// maintenance credit.
    pub(crate) fn take_payment(
        &mut self,
        date: NaiveDate,
        amount: Money,
        source: PaymentSource,
        next: Option<&Instalment>,
        params: &Parameters,
        events: &mut Vec<CaseEvent>,
    ) {
        let ledger = &self.ledger;
        let owed = |charged: Decimal, paid: Decimal| (charged - paid).max(Decimal::ZERO);
        let scheduled = self.arrears_plan.remaining;
        let next_arrears = next.map_or(Decimal::ZERO, |i| i.arrears.as_decimal());
        let next_maintenance = next.map_or(Decimal::ZERO, |i| i.maintenance.as_decimal());
        let next_fee = next.map_or(Decimal::ZERO, |i| i.collection_fee.as_decimal());
        let maintenance_owed = owed(
            ledger.maintenance_due - scheduled + next_arrears + next_maintenance,
            ledger.maintenance_paid,
        );
        let fees_owed = owed(
            ledger.collection_fees_charged + next_fee,
            ledger.collection_fees_paid,
        );
        let enforcement_owed = owed(
            ledger.enforcement_fees_charged,
            ledger.enforcement_fees_paid,
        );
        let mut left = amount.as_decimal();
        let mut take = |owed: Decimal| {
            let part = left.min(owed);
            left -= part;
            part
        };
        let to_maintenance = take(maintenance_owed);
        let to_fees = take(fees_owed);
        let to_enforcement = take(enforcement_owed);
        let ahead = take((scheduled - next_arrears).max(Decimal::ZERO));
        let to_maintenance = to_maintenance + ahead + left;
        if ahead > Decimal::ZERO {
            self.arrears_plan.remaining -= ahead;
        }
        let receiving_fee = money(params.collection.receiving_parent_fee.of(to_maintenance));
        let passed = money(to_maintenance - receiving_fee.as_decimal());
        let ledger = &mut self.ledger;
        ledger.maintenance_paid += to_maintenance;
        ledger.collection_fees_paid += to_fees;
        ledger.enforcement_fees_paid += to_enforcement;
        ledger.receiving_parent_collection_fees += receiving_fee.as_decimal();
        ledger.passed_to_receiving_parent += passed.as_decimal();
        ledger.paid_since_last_due += amount.as_decimal();
        events.push(CaseEvent::PaymentReceived {
            date,
            amount,
            source,
            to_maintenance: money(to_maintenance),
            to_collection_fees: money(to_fees),
            to_enforcement_fees: money(to_enforcement),
            receiving_parent_fee: receiving_fee,
            passed_to_receiving_parent: passed,
        });
    }
}

/// `date` plus `weeks` weeks, if it stays in the calendar.
pub(crate) fn weeks_after(date: NaiveDate, weeks: u32) -> Option<NaiveDate> {
    date.checked_add_days(Days::new(u64::from(weeks) * DAYS_PER_WEEK))
}
