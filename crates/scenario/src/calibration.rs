//! Calibration: the published figures a baseline run's calibration measures are checked against
//! (policy-model.md, "The synthetic caseload"), each with the tolerance within which a synthetic
//! caseload of a few hundred families is taken to agree.
//!
//! [`calibration_targets`] lists them in [`Metric`] order; the report's calibration table shows
//! each next to the base arm's mean, and an end-to-end test can assert [`CalibrationTarget::accepts`]
//! on the same values.

use rust_decimal::Decimal;
use rust_decimal_macros::dec;

use crate::measures::Metric;
use crate::stats::Summary;

/// One published figure a calibration measure should land near.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CalibrationTarget {
    /// The measure (one of the [`crate::Who::Calibration`] metrics).
    pub metric: Metric,
    /// The published figure, in the metric's unit (percentage points or weeks).
    pub published: Decimal,
    /// How far either side of the published figure a run's mean may fall and still agree.
    pub tolerance: Decimal,
    /// Where the figure comes from (and whether it is confirmed).
    pub source: &'static str,
    /// Whether the caseload is drawn from this figure (an input, so agreement only shows the
    /// drawing works) or not (an independent check of the rules and the behaviour together).
    pub kind: TargetKind,
}

/// Whether a calibration figure is one the caseload is drawn from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetKind {
    /// The caseload is drawn to match it.
    Input,
    /// Nothing is drawn from it: the model's agreement with it is evidence.
    IndependentCheck,
}

impl TargetKind {
    /// In words, for the report.
    pub fn describe(self) -> &'static str {
        match self {
            TargetKind::Input => "input",
            TargetKind::IndependentCheck => "independent check",
        }
    }
}

impl CalibrationTarget {
    /// Whether `value` is within the tolerance of the published figure (bounds included).
    pub fn accepts(&self, value: Decimal) -> bool {
        (value - self.published).abs() <= self.tolerance
    }

    /// The base arm's mean of this target's metric in `summary`, if it has one.
    pub fn base_mean(&self, summary: &Summary) -> Option<Decimal> {
        summary
            .base()
            .and_then(|arm| arm.metric(self.metric))
            .map(|m| m.estimate.mean)
    }
}

/// The calibration targets, one per [`crate::Who::Calibration`] metric, in [`Metric`] order.
///
/// Tolerances are for a synthetic caseload of a few hundred families: ±5 percentage points for
/// the shares drawn as inputs (about two standard errors of one replication's share over 300
/// cases) and ±3 weeks for the mean time to a final order; the independent checks compare unlike
/// quantities (a stock against a flow, a year against the period), so theirs are wider.
pub fn calibration_targets() -> Vec<CalibrationTarget> {
    vec![
        CalibrationTarget {
            metric: Metric::CollectAndPayShare,
            published: dec!(45),
            tolerance: dec!(5),
            source: "Written answer, Sept 2025: 303,800 paying parents on Collect and Pay, about 45%",
            kind: TargetKind::Input,
        },
        CalibrationTarget {
            metric: Metric::PayingSomethingShare,
            published: dec!(68),
            tolerance: dec!(5),
            source: "CMS statistics, quarter to Sept 2024: 68% of Collect and Pay paying parents paid something in the quarter (ours: over the period)",
            kind: TargetKind::Input,
        },
        CalibrationTarget {
            metric: Metric::SharedCareShare,
            published: dec!(23),
            tolerance: dec!(5),
            source: "Unconfirmed secondary source: 23% of statutory arrangements have some shared care (3% equal)",
            kind: TargetKind::Input,
        },
        CalibrationTarget {
            metric: Metric::DeductionFromEarningsShare,
            published: dec!(27),
            tolerance: dec!(12),
            source: "PQ 7414 (12 Jan 2024): 49,000 of 180,000 paying parents due to pay through Collect and Pay (27%) had a deduction from earnings order or request, Sept 2023",
            kind: TargetKind::IndependentCheck,
        },
        CalibrationTarget {
            metric: Metric::LiabilityOrdersPer100CaseYears,
            published: dec!(6),
            tolerance: dec!(4),
            source: "PQ 7414 and HL7808: liability orders secured for about 11,000 cases in 2023, against about 180,000 Collect and Pay cases",
            kind: TargetKind::IndependentCheck,
        },
        CalibrationTarget {
            metric: Metric::CollectAndPayUnpaidShare,
            published: dec!(29),
            tolerance: dec!(10),
            source: "Written answer, 17 Jul 2024: of £316.8m arranged through Collect and Pay in Apr 2023 to Mar 2024, £91.9m unpaid (29%)",
            kind: TargetKind::IndependentCheck,
        },
        CalibrationTarget {
            metric: Metric::WeeksToFinalOrder,
            published: dec!(39),
            tolerance: dec!(3),
            source: "Family Court Statistics Quarterly (MoJ), Apr-Jun 2025: mean 39 weeks from application to final order, private law children cases",
            kind: TargetKind::Input,
        },
    ]
}
