//! The Child Maintenance Service's case rules over simulated time: the pure core of the CMS case
//! service.
//!
//! On top of the calculation engine ([`familybridge_calculation`]), a [`CaseFile`] keeps one CMS
//! case and applies the CMS's rules as simulated days pass: the initial effective date and the
//! calculation, delayed involvement and its backdating, supersession (a change applies from the
//! maintenance period in which the CMS is told), the 25% rule and the annual review, shared-care
//! evidence and its precedence, the collection schedule with scheduled arrears, Direct Pay against
//! Collect and Pay, collection fees on liability, missed payments and an enforcement ladder whose
//! deductions collect money, with its pauses. Behaviour (whether a parent pays, calls, reports an
//! order; whether an employer honours a deduction) comes from outside, as a real parent or
//! caseworker would act: this crate holds only the rules.
//!
//! Pure and deterministic: no I/O, no async, no clock (every request carries its effective date,
//! and [`CaseFile::advance_to`] runs the time-driven work), no hash-ordered output. The state and
//! the events are `serde` types, so a service can store a case and publish its events. The
//! scenario's policy levers are [`CaseSettings`]; `Default` is today's rules.
//!
//! ```
//! use chrono::NaiveDate;
//! use familybridge_calculation::{Money, ParameterBook};
//! use familybridge_casework::{
//!     Application, CaseFile, CaseSettings, CollectionMethod, Employment, Party,
//! };
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
//!         collection: CollectionMethod::CollectAndPay,
//!         paying_parent_income: Some(Money::from_pence(45_000)),
//!         relevant_other_children: 0,
//!         flat_rate_benefit: false,
//!         employment: Employment::Employed,
//!     },
//!     &settings,
//!     book,
//! )?;
//! // The paying parent is notified a week later (the initial effective date) and the CMS
//! // calculates the same day: 12% of £450.
//! case.notify_paying_parent(date(2025, 1, 13)?, &settings, book)?;
//! case.make_calculation(date(2025, 1, 13)?, &settings, book)?;
//! assert_eq!(case.weekly_amount(), Some(Money::from_pence(5_400)));
//! // Four weeks later the first instalment falls due, unpaid: £216 of maintenance and the 20%
//! // collection fee accrued on it, £43.20.
//! let events = case.advance_to(date(2025, 2, 10)?, &settings, book)?;
//! assert_eq!(events.len(), 2); // payment due, payment missed
//! assert_eq!(case.arrears().to_string(), "216.00");
//! assert_eq!(case.account().collection_fees_charged.to_string(), "43.20");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod advance;
mod case;
mod collection;
mod error;
mod events;
mod projection;
mod request;
mod settings;
mod timeline;

pub use case::{Account, CaseFile, Deduction, Instalment, MAX_CASE_YEARS, Pause, Stage};
pub use error::{CaseError, Conflict};
pub use events::{
    Adjustment, ArrearsReason, CalculatedRate, CalculationReason, CaseEvent, CollectionChange,
    IncomeDecision,
};
pub use projection::{ProjectedChild, Projection};
pub use request::{
    Application, ClosureReason, CollectionMethod, ContactKind, CourtOrder, Employment,
    EvidenceSource, IncomeSource, Party, PaymentSource, ProceedingsOutcome, ProposedCare,
};
pub use settings::{
    ActsOn, ArrearsRules, CaseSettings, CourtOrderRoute, EnforcementRules, EnforcementStep,
    FeeModel, MAX_ARREARS_INSTALMENTS, MAX_WEEKS, NightsWithoutEvidence, SettingSource,
};
pub use timeline::{CalculationBasis, ChildBasis, NightsBasis, Segment};
