//! The parameters in force on one date, resolved from a [`ParameterBook`] into plain typed fields.
//!
//! The calculation reads only this struct: no name look-ups, no dates, no parsing on the hot path.
//! Anything that can be worked out once per date (the common denominator of the shared-care
//! fractions) is worked out here.

use chrono::NaiveDate;

use super::{PARAMETER_NAMES, ParameterBook, ParameterError, ParameterValue};
use crate::money::Money;
use crate::nights::Nights;
use crate::ratio::{Fraction, Percentage};

/// A figure that depends on the number of children: one, two, or three or more.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByChildren<T> {
    /// For one child.
    pub one: T,
    /// For two children.
    pub two: T,
    /// For three or more children.
    pub three_or_more: T,
}

impl<T: Copy> ByChildren<T> {
    /// The figure for `count` children; `None` for no children.
    pub fn for_count(&self, count: u32) -> Option<T> {
        match count {
            0 => None,
            1 => Some(self.one),
            2 => Some(self.two),
            _ => Some(self.three_or_more),
        }
    }

    /// The figure for `count` children where the caller knows there is at least one (0 reads as 1).
    pub(crate) fn column(&self, count: u32) -> T {
        match count {
            0 | 1 => self.one,
            2 => self.two,
            _ => self.three_or_more,
        }
    }
}

/// The reduced-rate percentages T (2012 Regs reg 43), by qualifying children (rows 1, 2, 3+) and
/// relevant other children (columns 0, 1, 2, 3+).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReducedRateTable {
    rows: [[Percentage; 4]; 3],
}

impl ReducedRateTable {
    /// T for a number of qualifying children (at least 1; 3 or more share a row) and relevant other
    /// children (4 or more read as 3+).
    pub fn percentage(&self, qualifying_children: u32, relevant_other_children: u32) -> Percentage {
        let row = (qualifying_children.clamp(1, 3) - 1) as usize;
        let column = relevant_other_children.min(3) as usize;
        self.rows[row][column]
    }
}

/// One shared-care band: from how many nights it starts, and how much it takes off a child's share.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SharedCareBand {
    /// The fewest nights a year with the paying parent in this band.
    pub nights_from: Nights,
    /// The decrease of the child's share.
    pub decrease: Fraction,
}

/// Where a child's nights with the paying parent place it for shared care.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CareBand {
    /// Fewer nights than band 1: no decrease.
    Below,
    /// Band 1 (52–103 nights): 1/7 off.
    Band1,
    /// Band 2 (104–155 nights): 2/7 off.
    Band2,
    /// Band 3 (156–174 nights): 3/7 off.
    Band3,
    /// Band 4 (175 nights up to equal care): half off, and a further £7.
    Band4,
    /// Equal care: the child is not a qualifying child (2012 Regs reg 50).
    EqualCare,
}

impl CareBand {
    /// The band number 1–4, or `None` below band 1 and in equal care.
    pub const fn number(self) -> Option<usize> {
        match self {
            CareBand::Band1 => Some(1),
            CareBand::Band2 => Some(2),
            CareBand::Band3 => Some(3),
            CareBand::Band4 => Some(4),
            CareBand::Below | CareBand::EqualCare => None,
        }
    }
}

/// Shared-care bands and the equal-care threshold in force (CSA 1991 Sch 1 para 7; 2012 Regs reg 50).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SharedCareParameters {
    bands: [SharedCareBand; 4],
    further_decrease_per_child: Money,
    equal_care_nights: Nights,
    /// The least common multiple of the four band denominators (14 for sevenths and a half).
    common_denominator: u64,
    /// For Below, Band1..Band4: how many `common_denominator`ths of a child's share are kept
    /// (14, 12, 10, 8, 7 for the statutory fractions).
    kept: [u64; 5],
}

impl SharedCareParameters {
    fn new(
        bands: [SharedCareBand; 4],
        further_decrease_per_child: Money,
        equal_care_nights: Nights,
    ) -> Self {
        let common_denominator = bands.iter().fold(1_u64, |acc, band| {
            lcm(acc, u64::from(band.decrease.denominator()))
        });
        let kept_for = |f: Fraction| {
            let d = u64::from(f.denominator());
            common_denominator - u64::from(f.numerator()) * (common_denominator / d)
        };
        let kept = [
            common_denominator,
            kept_for(bands[0].decrease),
            kept_for(bands[1].decrease),
            kept_for(bands[2].decrease),
            kept_for(bands[3].decrease),
        ];
        SharedCareParameters {
            bands,
            further_decrease_per_child,
            equal_care_nights,
            common_denominator,
            kept,
        }
    }

    /// The four bands, band 1 first.
    pub fn bands(&self) -> &[SharedCareBand; 4] {
        &self.bands
    }

    /// The further weekly decrease for each child in band 4 (£7).
    pub fn further_decrease_per_child(&self) -> Money {
        self.further_decrease_per_child
    }

    /// From this many nights a child is in equal care.
    pub fn equal_care_nights(&self) -> Nights {
        self.equal_care_nights
    }

    /// The band for a child's nights with the paying parent. Edges are strict: 51 nights is below
    /// band 1, 52 is in it (JH v SSWP \[2016\] UKUT 440 (AAC)).
    pub fn band(&self, nights: Nights) -> CareBand {
        if nights >= self.equal_care_nights {
            CareBand::EqualCare
        } else if nights >= self.bands[3].nights_from {
            CareBand::Band4
        } else if nights >= self.bands[2].nights_from {
            CareBand::Band3
        } else if nights >= self.bands[1].nights_from {
            CareBand::Band2
        } else if nights >= self.bands[0].nights_from {
            CareBand::Band1
        } else {
            CareBand::Below
        }
    }

    /// The decrease for a band; `None` below band 1 and for equal care.
    pub fn decrease(&self, band: CareBand) -> Option<Fraction> {
        band.number().map(|n| self.bands[n - 1].decrease)
    }

    /// The least common multiple of the band fractions' denominators.
    pub(crate) fn common_denominator(&self) -> u64 {
        self.common_denominator
    }

    /// How many `common_denominator`ths of a child's share are kept in a band (0 for equal care,
    /// which has no share).
    pub(crate) fn kept_numerator(&self, band: CareBand) -> u64 {
        match band {
            CareBand::Below => self.kept[0],
            CareBand::Band1 => self.kept[1],
            CareBand::Band2 => self.kept[2],
            CareBand::Band3 => self.kept[3],
            CareBand::Band4 => self.kept[4],
            CareBand::EqualCare => 0,
        }
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

fn lcm(a: u64, b: u64) -> u64 {
    // Denominators are 1..=1000, so four of them multiply to at most 10^12: no overflow.
    a / gcd(a, b).max(1) * b
}

/// The collection service in force (Child Support Fees Regulations 2014, SI 2014/612).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CollectionParameters {
    /// Whether Direct Pay is available; when not, every case is on Collect and Pay.
    pub direct_pay_available: bool,
    /// The paying parent's Collect and Pay fee, on top of the maintenance.
    pub paying_parent_fee: Percentage,
    /// The fee for a paying parent who has not paid as required.
    pub non_compliant_paying_parent_fee: Percentage,
    /// The receiving parent's Collect and Pay fee, taken off what is collected.
    pub receiving_parent_fee: Percentage,
    /// A paying parent counts as non-compliant (and pays the non-compliant fee) once this many
    /// instalments in a row have been missed.
    pub non_compliant_after_missed_instalments: u32,
}

/// One-off enforcement fees charged to the paying parent (SI 2014/612 reg 10; PQ 82453).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EnforcementFees {
    /// Deduction from earnings order or request (CSA 1991 s.31).
    pub deduction_from_earnings_order: Money,
    /// Regular deduction order (s.32A).
    pub regular_deduction_order: Money,
    /// Lump sum deduction order (s.32E).
    pub lump_sum_deduction_order: Money,
    /// Liability order (s.33).
    pub liability_order: Money,
    /// Enforcement agents taking control of goods (s.35): their compliance-stage fee.
    pub enforcement_agents: Money,
    /// A charging order (s.36): the court fee for the application.
    pub charging_order: Money,
    /// Disqualification from driving or travel (ss.39B, 40B).
    pub disqualification: Money,
    /// Committal to prison (s.40).
    pub committal: Money,
}

/// Everything the calculation needs, as in force on one date.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parameters {
    /// The date these parameters are in force on.
    pub as_of: NaiveDate,
    /// Income above this is ignored (£3,000).
    pub income_cap: Money,
    /// Income below this pays the nil rate (£7).
    pub nil_rate_income_threshold: Money,
    /// Income up to and including this pays the flat rate (£100).
    pub flat_rate_income_upper_bound: Money,
    /// Income below this (and above the flat-rate bound) pays the reduced rate (£200).
    pub reduced_rate_income_upper_bound: Money,
    /// The flat rate (£7; £5 before 25 Nov 2013).
    pub flat_rate: Money,
    /// The reduced-rate percentages T.
    pub reduced_rate: ReducedRateTable,
    /// Basic-rate percentages (12/16/19%).
    pub basic_rate: ByChildren<Percentage>,
    /// Income above this (after the other-children reduction) pays basic plus (£800).
    pub basic_plus_income_threshold: Money,
    /// Basic-plus percentages (9/12/15%).
    pub basic_plus_rate: ByChildren<Percentage>,
    /// Income reductions for relevant other children (11/14/16%).
    pub relevant_other_children_reduction: ByChildren<Percentage>,
    /// The default rate amounts (£39/£51/£64).
    pub default_rate: ByChildren<Money>,
    /// Shared care.
    pub shared_care: SharedCareParameters,
    /// The collection service and its fees.
    pub collection: CollectionParameters,
    /// The one-off application fee.
    pub application_fee: Money,
    /// One-off enforcement fees.
    pub enforcement_fees: EnforcementFees,
    /// The nights a year the CMS assumes for a child when the parents dispute shared care and
    /// there is no agreement or order (2012 Regs reg 47).
    pub nights_assumed_without_evidence: Nights,
    /// The share by which a reported income must differ from the income in the calculation to be
    /// taken between annual reviews (2012 Regs reg 34(2)).
    pub income_change_threshold: Percentage,
}

/// Reads values for one date by name, checking each has the unit the code expects.
struct Resolver<'a> {
    book: &'a ParameterBook,
    date: NaiveDate,
}

impl Resolver<'_> {
    fn value(&self, name: &'static str) -> Result<ParameterValue, ParameterError> {
        let index = PARAMETER_NAMES
            .iter()
            .position(|(n, _)| *n == name)
            .ok_or_else(|| ParameterError::UnknownParameter {
                name: name.to_owned(),
            })?;
        self.book.value_at(index, self.date)
    }

    fn wrong(name: &str, expected: super::Unit, found: &ParameterValue) -> ParameterError {
        ParameterError::WrongValueType {
            name: name.to_owned(),
            expected,
            found: found.unit(),
        }
    }

    fn money(&self, name: &'static str) -> Result<Money, ParameterError> {
        match self.value(name)? {
            ParameterValue::Money(m) => Ok(m),
            other => Err(Self::wrong(name, super::Unit::Pounds, &other)),
        }
    }

    fn percent(&self, name: &'static str) -> Result<Percentage, ParameterError> {
        match self.value(name)? {
            ParameterValue::Percent(p) => Ok(p),
            other => Err(Self::wrong(name, super::Unit::Percent, &other)),
        }
    }

    fn fraction(&self, name: &'static str) -> Result<Fraction, ParameterError> {
        match self.value(name)? {
            ParameterValue::Fraction(f) => Ok(f),
            other => Err(Self::wrong(name, super::Unit::Fraction, &other)),
        }
    }

    fn nights(&self, name: &'static str) -> Result<Nights, ParameterError> {
        match self.value(name)? {
            ParameterValue::Nights(n) => Ok(n),
            other => Err(Self::wrong(name, super::Unit::Nights, &other)),
        }
    }

    fn count(&self, name: &'static str) -> Result<u32, ParameterError> {
        match self.value(name)? {
            ParameterValue::Count(n) => Ok(n),
            other => Err(Self::wrong(name, super::Unit::Count, &other)),
        }
    }

    fn boolean(&self, name: &'static str) -> Result<bool, ParameterError> {
        match self.value(name)? {
            ParameterValue::Boolean(b) => Ok(b),
            other => Err(Self::wrong(name, super::Unit::Boolean, &other)),
        }
    }

    fn percent_by_children(
        &self,
        names: [&'static str; 3],
    ) -> Result<ByChildren<Percentage>, ParameterError> {
        Ok(ByChildren {
            one: self.percent(names[0])?,
            two: self.percent(names[1])?,
            three_or_more: self.percent(names[2])?,
        })
    }

    fn band(
        &self,
        nights: &'static str,
        decrease: &'static str,
    ) -> Result<SharedCareBand, ParameterError> {
        Ok(SharedCareBand {
            nights_from: self.nights(nights)?,
            decrease: self.fraction(decrease)?,
        })
    }
}

/// Resolves `book` on `date`.
pub(super) fn resolve(book: &ParameterBook, date: NaiveDate) -> Result<Parameters, ParameterError> {
    let r = Resolver { book, date };
    let mut rows = [[Percentage::ZERO; 4]; 3];
    const TABLE: [[&str; 4]; 3] = [
        [
            "reduced_rate.percentage.qc1_roc0",
            "reduced_rate.percentage.qc1_roc1",
            "reduced_rate.percentage.qc1_roc2",
            "reduced_rate.percentage.qc1_roc3",
        ],
        [
            "reduced_rate.percentage.qc2_roc0",
            "reduced_rate.percentage.qc2_roc1",
            "reduced_rate.percentage.qc2_roc2",
            "reduced_rate.percentage.qc2_roc3",
        ],
        [
            "reduced_rate.percentage.qc3_roc0",
            "reduced_rate.percentage.qc3_roc1",
            "reduced_rate.percentage.qc3_roc2",
            "reduced_rate.percentage.qc3_roc3",
        ],
    ];
    for (row, names) in rows.iter_mut().zip(TABLE) {
        for (cell, name) in row.iter_mut().zip(names) {
            *cell = r.percent(name)?;
        }
    }
    let bands = [
        r.band(
            "shared_care.band_1.nights_from",
            "shared_care.band_1.decrease",
        )?,
        r.band(
            "shared_care.band_2.nights_from",
            "shared_care.band_2.decrease",
        )?,
        r.band(
            "shared_care.band_3.nights_from",
            "shared_care.band_3.decrease",
        )?,
        r.band(
            "shared_care.band_4.nights_from",
            "shared_care.band_4.decrease",
        )?,
    ];
    // Why check: a band that starts before the one below it would make the band test order
    // meaningless; better to say so than to calculate something nobody intended.
    if bands
        .windows(2)
        .any(|pair| pair[0].nights_from >= pair[1].nights_from)
    {
        return Err(ParameterError::Inconsistent {
            date,
            reason: format!(
                "shared-care bands must start at increasing numbers of nights, got {}, {}, {}, {}",
                bands[0].nights_from,
                bands[1].nights_from,
                bands[2].nights_from,
                bands[3].nights_from
            ),
        });
    }
    let shared_care = SharedCareParameters::new(
        bands,
        r.money("shared_care.band_4.further_decrease_per_child")?,
        r.nights("shared_care.equal_care_nights")?,
    );
    Ok(Parameters {
        as_of: date,
        income_cap: r.money("income_cap.amount")?,
        nil_rate_income_threshold: r.money("nil_rate.income_threshold")?,
        flat_rate_income_upper_bound: r.money("flat_rate.income_upper_bound")?,
        reduced_rate_income_upper_bound: r.money("reduced_rate.income_upper_bound")?,
        flat_rate: r.money("flat_rate.amount")?,
        reduced_rate: ReducedRateTable { rows },
        basic_rate: r.percent_by_children([
            "basic_rate.percentage.qc1",
            "basic_rate.percentage.qc2",
            "basic_rate.percentage.qc3",
        ])?,
        basic_plus_income_threshold: r.money("basic_plus_rate.income_threshold")?,
        basic_plus_rate: r.percent_by_children([
            "basic_plus_rate.percentage.qc1",
            "basic_plus_rate.percentage.qc2",
            "basic_plus_rate.percentage.qc3",
        ])?,
        relevant_other_children_reduction: r.percent_by_children([
            "relevant_other_children.income_reduction.roc1",
            "relevant_other_children.income_reduction.roc2",
            "relevant_other_children.income_reduction.roc3",
        ])?,
        default_rate: ByChildren {
            one: r.money("default_rate.amount.qc1")?,
            two: r.money("default_rate.amount.qc2")?,
            three_or_more: r.money("default_rate.amount.qc3")?,
        },
        shared_care,
        collection: CollectionParameters {
            direct_pay_available: r.boolean("collect_and_pay.direct_pay_available")?,
            paying_parent_fee: r.percent("collect_and_pay.paying_parent_fee")?,
            non_compliant_paying_parent_fee: r
                .percent("collect_and_pay.non_compliant_paying_parent_fee")?,
            receiving_parent_fee: r.percent("collect_and_pay.receiving_parent_fee")?,
            non_compliant_after_missed_instalments: r
                .count("collect_and_pay.non_compliant_after_missed_instalments")?,
        },
        application_fee: r.money("application_fee.amount")?,
        enforcement_fees: EnforcementFees {
            deduction_from_earnings_order: r
                .money("enforcement_fees.deduction_from_earnings_order")?,
            regular_deduction_order: r.money("enforcement_fees.regular_deduction_order")?,
            lump_sum_deduction_order: r.money("enforcement_fees.lump_sum_deduction_order")?,
            liability_order: r.money("enforcement_fees.liability_order")?,
            enforcement_agents: r.money("enforcement_fees.enforcement_agents")?,
            charging_order: r.money("enforcement_fees.charging_order")?,
            disqualification: r.money("enforcement_fees.disqualification")?,
            committal: r.money("enforcement_fees.committal")?,
        },
        nights_assumed_without_evidence: r.nights("shared_care.nights_assumed_without_evidence")?,
        income_change_threshold: r.percent("income_change.threshold")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statutory() -> Option<Parameters> {
        ParameterBook::statutory()
            .in_force_on(NaiveDate::from_ymd_opt(2025, 1, 1)?)
            .ok()
    }

    #[test]
    fn band_edges_are_strict() {
        let Some(p) = statutory() else {
            panic!("statutory parameters")
        };
        let band = |n| Nights::new(n).map(|n| p.shared_care.band(n));
        assert_eq!(band(0), Ok(CareBand::Below));
        assert_eq!(band(51), Ok(CareBand::Below));
        assert_eq!(band(52), Ok(CareBand::Band1));
        assert_eq!(band(103), Ok(CareBand::Band1));
        assert_eq!(band(104), Ok(CareBand::Band2));
        assert_eq!(band(155), Ok(CareBand::Band2));
        assert_eq!(band(156), Ok(CareBand::Band3));
        assert_eq!(band(174), Ok(CareBand::Band3));
        assert_eq!(band(175), Ok(CareBand::Band4));
        assert_eq!(band(181), Ok(CareBand::Band4));
        assert_eq!(band(182), Ok(CareBand::EqualCare));
        assert_eq!(band(365), Ok(CareBand::EqualCare));
    }

    #[test]
    fn sevenths_and_a_half_share_a_denominator_of_14() {
        let Some(p) = statutory() else {
            panic!("statutory parameters")
        };
        assert_eq!(p.shared_care.common_denominator(), 14);
        let kept: Vec<u64> = [
            CareBand::Below,
            CareBand::Band1,
            CareBand::Band2,
            CareBand::Band3,
            CareBand::Band4,
        ]
        .into_iter()
        .map(|b| p.shared_care.kept_numerator(b))
        .collect();
        assert_eq!(kept, [14, 12, 10, 8, 7]);
    }

    #[test]
    fn by_children_columns() {
        let by = ByChildren {
            one: 1,
            two: 2,
            three_or_more: 3,
        };
        assert_eq!(by.for_count(0), None);
        assert_eq!(by.for_count(1), Some(1));
        assert_eq!(by.for_count(7), Some(3));
        assert_eq!(by.column(0), 1);
    }
}
