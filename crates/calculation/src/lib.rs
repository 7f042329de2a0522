//! The Child Maintenance Service's 2012-scheme statutory calculation, exact to the penny.
//!
//! This crate is the rules engine of familybridge: a pure library (no I/O, no clock, no async) that
//! takes a validated case ([`CalculationInput`]) and the parameters in force on a date
//! ([`Parameters`], resolved from the dated [`ParameterBook`]) and returns the weekly amount for each
//! receiving parent, the total, any Collect and Pay fees, and a step-by-step [`ExplanationStep`]
//! list naming every rule applied and its legal source.
//!
//! The rules follow the Child Support Act 1991 Schedule 1 as amended and the Child Support
//! Maintenance Calculation Regulations 2012; every figure is a dated parameter in
//! `parameters.toml`, with its source. Money is exact decimal arithmetic throughout, rounded once
//! per receiving parent, to the penny, half up.
//!
//! ```
//! use familybridge_calculation::{CalculationRequest, ParameterBook, RawCalculationRequest, Rate};
//!
//! let request = CalculationRequest::from_raw(&RawCalculationRequest {
//!     gross_weekly_income: Some("450.00"),
//!     receiving_parents: vec![vec![0]],
//!     as_of: "2025-01-01",
//!     ..Default::default()
//! })?;
//! let result = ParameterBook::statutory().calculate(&request)?;
//! assert_eq!(result.rate, Rate::Basic);
//! assert_eq!(result.weekly_amount.to_string(), "54.00"); // 12% of £450
//! for step in &result.explanation {
//!     println!("{} [{}]: {step}", step.rule(), step.legal_source());
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod apportion;
pub mod calculate;
pub mod explanation;
pub mod fees;
pub mod input;
pub mod money;
pub mod nights;
pub mod parameters;
pub mod rates;
pub mod ratio;
mod shared_care;

pub use calculate::{Calculation, ReceivingParentAmount, RequestError, SCHEME_START, calculate};
pub use explanation::ExplanationStep;
pub use fees::{CollectionFees, PayingParentCompliance, collection_fees};
pub use input::{
    CalculationInput, CalculationRequest, Collection, IncomeEvidence, InputError, InputField,
    InputProblem, NilRateCategory, RawCalculationRequest, ReceivingParent,
};
pub use money::{Money, MoneyError};
pub use nights::{Nights, NightsError};
pub use parameters::{
    ParameterBook, ParameterError, ParameterValue, Parameters, Unit, ValueStatus,
};
pub use rates::Rate;
pub use ratio::{Fraction, Percentage};
