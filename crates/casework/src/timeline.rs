//! Liability over time: the facts a case has recorded, the weekly amount they give in each
//! maintenance period, and the weeks already charged.
//!
//! How liability is worked out (decisions of this project, following the 2012 Regs):
//! - **Maintenance periods are weeks** starting on the liability start date's weekday. A change
//!   takes effect from the first day of the maintenance period in which it falls, so the liability
//!   for a week is the weekly amount given by every fact dated on or before the **last** day of that
//!   week (a change dated mid-week applies to the whole week).
//! - A **change point** is the date of any fact that can move the amount: the liability start, an
//!   income taken into the calculation (including at an annual review), and shared-care evidence
//!   (including a court order's nights, dated when the CMS was told of the order). Points before the
//!   liability start count from the start. Each point is calculated by the engine with the facts
//!   dated on or before it and **the rules in force on that date**; the rules are therefore fixed
//!   for a calculation until the next change or annual review, as a calculation decision is.
//! - A **segment** is the weekly amount from the week of a change point until the next one. When
//!   several points fall in one week, the latest wins for that week.
//! - Weeks are **charged** when the instalment covering them falls due (or all at once when a
//!   liability starts on a date already past). If a later change reaches back into charged weeks,
//!   the difference between what they were charged and what they now come to is a retrospective
//!   adjustment.

use chrono::{Days, NaiveDate};
use familybridge_calculation::{
    Calculation, CalculationInput, IncomeEvidence, Money, Nights, ParameterBook, Parameters,
    ReceivingParent, calculate,
};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::case::CaseFile;
use crate::error::CaseError;
use crate::events::CalculatedRate;
use crate::request::{EvidenceSource, IncomeSource};
use crate::settings::{CaseSettings, NightsWithoutEvidence};

/// Days in a maintenance period.
pub(crate) const DAYS_PER_WEEK: u64 = 7;
/// Weeks covered by one instalment (13 instalments a year).
pub(crate) const WEEKS_PER_INSTALMENT: u32 = 4;

/// The parameter book an operation reads the rules in force from.
///
/// The book resolves each period between changes of value once (`ParameterBook::in_force_on`), so
/// a date costs a binary search however often an operation asks for it (every week of a reprice
/// looks up its segment's rules).
pub(crate) struct Rules<'a> {
    book: &'a ParameterBook,
}

impl<'a> Rules<'a> {
    pub(crate) fn new(book: &'a ParameterBook) -> Rules<'a> {
        Rules { book }
    }

    /// The parameters in force on `date`.
    pub(crate) fn on(&self, date: NaiveDate) -> Result<Parameters, CaseError> {
        self.book
            .in_force_on(date)
            .map_err(|source| CaseError::Parameters { date, source })
    }
}

/// An income figure the case has recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct IncomeRecord {
    pub date: NaiveDate,
    pub income: Option<Money>,
    pub source: IncomeSource,
    /// Whether the figure was taken into the calculation from its date.
    pub applied: bool,
}

/// Shared-care evidence for one child.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct EvidenceRecord {
    pub child_ref: String,
    /// From when it applies: the day the CMS was told (for a court order too).
    pub date: NaiveDate,
    pub nights: u32,
    pub source: EvidenceSource,
    pub order_id: Option<String>,
}

/// How the nights used for a child were arrived at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NightsBasis {
    /// No shared-care evidence: 0 nights (no shared care claimed).
    NoEvidence,
    /// The nights stated by an agreement or a court order.
    Evidence(EvidenceSource),
    /// Only a parent's (disputed) word: the configured assumption.
    Assumed(NightsWithoutEvidence),
}

/// One child in a calculation: the nights used and how they were arrived at.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChildBasis {
    /// The child.
    pub child_ref: String,
    /// Nights a year with the paying parent used in the calculation.
    pub nights_used: u32,
    /// Where they came from.
    pub basis: NightsBasis,
}

/// What a calculation was made on: enough to make it again, with its explanation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalculationBasis {
    /// The date whose rules were used (the change point).
    pub rules_date: NaiveDate,
    /// The paying parent's gross weekly income used (`None`: the default rate).
    pub income: Option<Money>,
    /// Each child, in the application's order.
    pub children: Vec<ChildBasis>,
}

/// The weekly amount from one maintenance week until the next segment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    /// The first week it applies to, counted from 0 at the liability start.
    pub from_week: u32,
    /// The weekly amount.
    pub weekly_amount: Money,
    /// The rate.
    pub rate: CalculatedRate,
    /// What it was calculated on.
    pub basis: CalculationBasis,
}

/// Consecutive weeks charged at the same weekly amount.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ChargedRun {
    pub from_week: u32,
    pub weeks: u32,
    pub weekly: Money,
}

/// The weeks already charged, as runs (a case of years holds a handful of runs, not a row a week).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ChargedWeeks {
    runs: Vec<ChargedRun>,
}

impl ChargedWeeks {
    /// What week `week` was charged, if it has been.
    pub(crate) fn get(&self, week: u32) -> Option<Money> {
        self.runs
            .iter()
            .rev()
            .find(|r| r.from_week <= week)
            .filter(|r| week - r.from_week < r.weeks)
            .map(|r| r.weekly)
    }

    /// How many weeks are charged (always weeks 0 to this, exclusive).
    pub(crate) fn len(&self) -> u32 {
        self.runs.last().map_or(0, |r| r.from_week + r.weeks)
    }

    /// Forgets the charges for week `week` and after (to charge them again).
    pub(crate) fn truncate(&mut self, week: u32) {
        self.runs.retain(|r| r.from_week < week);
        if let Some(last) = self.runs.last_mut() {
            last.weeks = last.weeks.min(week - last.from_week);
        }
    }

    /// Charges the next week.
    pub(crate) fn push(&mut self, weekly: Money) {
        match self.runs.last_mut() {
            Some(last) if last.weekly == weekly => last.weeks += 1,
            _ => {
                let from_week = self.len();
                self.runs.push(ChargedRun {
                    from_week,
                    weeks: 1,
                    weekly,
                });
            }
        }
    }
}

/// The maintenance week a date falls in, counted from 0 at `start`; dates before `start` count as
/// week 0 (facts dated before the liability start apply from it).
pub(crate) fn week_index(start: NaiveDate, date: NaiveDate) -> u32 {
    let days = (date - start).num_days();
    if days <= 0 {
        0
    } else {
        // Case dates are bounded (crate::case::MAX_CASE_YEARS), so this is far below u32::MAX.
        u32::try_from(days / 7).unwrap_or(u32::MAX)
    }
}

/// The first day of week `week` counted from `start`.
pub(crate) fn week_start(start: NaiveDate, week: u32) -> Result<NaiveDate, CaseError> {
    start
        .checked_add_days(Days::new(u64::from(week) * DAYS_PER_WEEK))
        .ok_or_else(|| CaseError::invalid("effective_date", "date out of range"))
}

/// Adds money values exactly (sums of whole pence stay whole pence).
pub(crate) fn money(value: Decimal) -> Money {
    // Only called on sums of non-negative whole-penny amounts, so neither the clamp nor the
    // rounding ever changes the value; they just make the conversion infallible.
    Money::round_half_up_to_penny(value.max(Decimal::ZERO)).unwrap_or(Money::ZERO)
}

impl CaseFile {
    /// The income in the calculation on `date`: the latest figure taken into it on or before then.
    pub(crate) fn income_in_calculation_on(&self, date: NaiveDate) -> Option<Money> {
        // Records are kept in date order, so the last applied one on or before `date` is the latest.
        self.incomes
            .iter()
            .rev()
            .find(|r| r.applied && r.date <= date)
            .and_then(|r| r.income)
    }

    /// The latest income recorded on or before `date`, taken into the calculation or not (what an
    /// annual review takes).
    pub(crate) fn latest_recorded_income(&self, date: NaiveDate) -> Option<Money> {
        self.incomes
            .iter()
            .rev()
            .find(|r| r.date <= date)
            .and_then(|r| r.income)
    }

    /// The nights used for a child on `date`, and how they were arrived at.
    ///
    /// Precedence: the evidence of the highest rank in force (court order, then agreement, then a
    /// parent's word); among several of that rank, the latest dated (and of two on one date, the
    /// one recorded last). A parent's word is a disputed claim: the CMS applies the configured
    /// assumption instead of the nights claimed. No evidence at all: 0 nights.
    pub(crate) fn nights_for(
        &self,
        child_ref: &str,
        date: NaiveDate,
        settings: &CaseSettings,
        params: &Parameters,
    ) -> (u32, NightsBasis) {
        let best = self
            .evidence
            .iter()
            .enumerate()
            .filter(|(_, e)| e.child_ref == child_ref && e.date <= date)
            .max_by_key(|(i, e)| (e.source, e.date, *i))
            .map(|(_, e)| e);
        match best {
            None => (0, NightsBasis::NoEvidence),
            Some(e) if e.source == EvidenceSource::ParentsWord => {
                let nights = match settings.nights_without_evidence {
                    NightsWithoutEvidence::Assume52 => params.nights_assumed_without_evidence.get(),
                    NightsWithoutEvidence::EqualCare => {
                        params.shared_care.equal_care_nights().get()
                    }
                };
                (
                    nights,
                    NightsBasis::Assumed(settings.nights_without_evidence),
                )
            }
            Some(e) => (e.nights, NightsBasis::Evidence(e.source)),
        }
    }

    /// The engine's calculation on `point`, from the facts dated on or before it.
    pub(crate) fn calculate_at(
        &self,
        point: NaiveDate,
        settings: &CaseSettings,
        rules: &Rules<'_>,
    ) -> Result<(Calculation, CalculationBasis), CaseError> {
        let params = rules.on(point)?;
        let children = self
            .application
            .children
            .iter()
            .map(|child| {
                let (nights_used, basis) = self.nights_for(child, point, settings, &params);
                ChildBasis {
                    child_ref: child.clone(),
                    nights_used,
                    basis,
                }
            })
            .collect();
        let basis = CalculationBasis {
            rules_date: point,
            income: self.income_in_calculation_on(point),
            children,
        };
        let calculation = self.calculate_basis(&basis, &params)?;
        Ok((calculation, basis))
    }

    /// Runs the engine on a stored basis.
    pub(crate) fn calculate_basis(
        &self,
        basis: &CalculationBasis,
        params: &Parameters,
    ) -> Result<Calculation, CaseError> {
        let nights = basis
            .children
            .iter()
            .map(|c| Nights::new(c.nights_used))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| CaseError::invalid("nights", e.to_string()))?;
        let income = match basis.income {
            Some(income) => IncomeEvidence::Known(income),
            None => IncomeEvidence::NotProvided,
        };
        let input = CalculationInput::new(
            income,
            self.application.relevant_other_children,
            self.application.flat_rate_benefit,
            None,
            vec![ReceivingParent::new(nights)],
            self.collection.method.into(),
        )
        .map_err(|e| CaseError::invalid("application.children", e.to_string()))?;
        Ok(calculate(&input, params))
    }

    /// The segments from week `from_week` on, recalculated from the facts as they now stand.
    pub(crate) fn compute_segments(
        &self,
        start: NaiveDate,
        from_week: u32,
        settings: &CaseSettings,
        rules: &Rules<'_>,
    ) -> Result<Vec<Segment>, CaseError> {
        let mut points: Vec<NaiveDate> = std::iter::once(start)
            .chain(self.incomes.iter().filter(|r| r.applied).map(|r| r.date))
            .chain(self.evidence.iter().map(|e| e.date))
            .map(|d| d.max(start))
            .filter(|&d| week_index(start, d) >= from_week)
            .collect();
        points.sort_unstable();
        points.dedup();
        let mut segments: Vec<Segment> = Vec::with_capacity(points.len());
        for point in points {
            let (calculation, basis) = self.calculate_at(point, settings, rules)?;
            let segment = Segment {
                from_week: week_index(start, point),
                weekly_amount: calculation.weekly_amount,
                rate: calculation.rate.into(),
                basis,
            };
            // The latest point in a week decides that week.
            match segments.last_mut() {
                Some(last) if last.from_week == segment.from_week => *last = segment,
                _ => segments.push(segment),
            }
        }
        Ok(segments)
    }

    /// The segment in force in week `week`.
    pub(crate) fn segment_for_week(&self, week: u32) -> Option<&Segment> {
        self.segments.iter().rev().find(|s| s.from_week <= week)
    }

    /// The weekly amount for week `week` as the facts now stand (£0 before any calculation).
    pub(crate) fn weekly_for_week(&self, week: u32) -> Money {
        self.segment_for_week(week)
            .map_or(Money::ZERO, |s| s.weekly_amount)
    }
}
