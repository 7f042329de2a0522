//! The Child Maintenance Service's case rules over simulated time: the pure core of the CMS case
//! service.
//!
//! On top of the calculation engine ([`familybridge_calculation`]), a [`CaseFile`] keeps one CMS
//! case and applies the CMS's rules as simulated days pass: liability from its effective date,
//! recalculation on every change with retrospective adjustments, the 25% rule and the annual
//! review, shared-care evidence and its precedence, the payment schedule, Collect and Pay fees,
//! missed payments, arrears and the enforcement ladder with its pauses. Behaviour (whether a
//! parent pays, calls, reports an order) comes from outside, as a real parent or caseworker would
//! act: this crate holds only the rules.
//!
//! Pure and deterministic: no I/O, no async, no clock (every request carries its effective date,
//! and [`CaseFile::advance_to`] runs the time-driven work), no hash-ordered output. The state and
//! the events are `serde` types, so a service can store a case as JSON and publish its events.
//! The scenario's policy levers are [`CaseSettings`]; `Default` is today's rules.
//!
//! ```
//! use chrono::NaiveDate;
//! use familybridge_calculation::{Money, ParameterBook};
//! use familybridge_casework::{Application, CaseFile, CaseSettings, CollectionMethod, Party};
//!
//! let book = ParameterBook::statutory();
//! let settings = CaseSettings::default();
//! let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).ok_or("bad date");
//! let (mut case, _events) = CaseFile::open(
//!     Application {
//!         date: date(2025, 1, 6)?,
//!         applicant: Party::ReceivingParent,
//!         children: vec!["child-1".to_owned()],
//!         proceedings_pending: false,
//!         collection: CollectionMethod::DirectPay,
//!         paying_parent_income: Some(Money::from_pence(45_000)),
//!         relevant_other_children: 0,
//!         flat_rate_benefit: false,
//!     },
//!     &settings,
//!     book,
//! )?;
//! assert_eq!(case.weekly_amount(), Some(Money::from_pence(5_400))); // 12% of £450
//! // Four weeks later the first instalment falls due, unpaid.
//! let events = case.advance_to(date(2025, 2, 3)?, &settings, book)?;
//! assert_eq!(events.len(), 2); // payment due, payment missed
//! assert_eq!(case.arrears().to_string(), "216.00");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod advance;
mod case;
mod error;
mod events;
mod projection;
mod request;
mod settings;
mod timeline;

pub use case::{Account, CaseFile, Instalment, MAX_CASE_YEARS, Pause};
pub use error::{CaseError, Conflict};
pub use events::{Adjustment, CalculatedRate, CalculationReason, CaseEvent, IncomeDecision};
pub use projection::{ProjectedChild, Projection};
pub use request::{
    Application, CollectionMethod, ContactKind, CourtOrder, EvidenceSource, IncomeSource, Party,
    ProposedCare,
};
pub use settings::{
    ASSUMED_NIGHTS_WITHOUT_EVIDENCE, ActsOn, CaseSettings, EnforcementRules, EnforcementStep,
    MAX_WEEKS, NightsWithoutEvidence,
};
pub use timeline::{CalculationBasis, ChildBasis, NightsBasis, Segment};
