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
/// shares (about two standard errors of one replication's share over 300 cases) and ±3 weeks for
/// the mean time to a final order.
pub fn calibration_targets() -> Vec<CalibrationTarget> {
    vec![
        CalibrationTarget {
            metric: Metric::CollectAndPayShare,
            published: dec!(45),
            tolerance: dec!(5),
            source: "Written answer, Sept 2025: 303,800 paying parents on Collect and Pay, about 45%",
        },
        CalibrationTarget {
            metric: Metric::PayingSomethingShare,
            published: dec!(68),
            tolerance: dec!(5),
            source: "CMS statistics, quarter to Sept 2024: 68% of Collect and Pay paying parents paid something in the quarter (ours: over the period)",
        },
        CalibrationTarget {
            metric: Metric::SharedCareShare,
            published: dec!(23),
            tolerance: dec!(5),
            source: "Unconfirmed secondary source: 23% of statutory arrangements have some shared care (3% equal)",
        },
        CalibrationTarget {
            metric: Metric::WeeksToFinalOrder,
            published: dec!(39),
            tolerance: dec!(3),
            source: "Family Court Statistics Quarterly (MoJ), Apr-Jun 2025: mean 39 weeks from application to final order, private law children cases",
        },
    ]
}
