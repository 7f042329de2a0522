//! What the calculation needs to know about a case, validated once at the edge.
//!
//! A [`CalculationInput`] can only be built valid (at least one receiving parent, each caring for
//! at least one child, nights 0–365), so [`crate::calculate()`] never has to fail. Transports (gRPC,
//! the command line, scenario files) should build one with [`CalculationRequest::from_raw`], which
//! parses raw strings and numbers and names the offending field in every error with the same path
//! the gRPC API uses (`receiving_parents[0].child_nights[1]`), so every caller reports identical
//! messages.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;

use crate::money::{Money, MoneyError};
use crate::nights::{Nights, NightsError};

/// The most qualifying children one calculation may cover, across all receiving parents.
///
/// Why a limit: it bounds every product in the calculation (and the work it does) whatever a caller
/// sends; real cases have a handful.
pub const MAX_CHILDREN: usize = 1000;

/// The paying parent's gross weekly income, if known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IncomeEvidence {
    /// Gross weekly income (before the £3,000 cap).
    Known(Money),
    /// No income information: the default rate applies (2012 Regs reg 49).
    NotProvided,
}

/// The nil-rate categories of paying parent (CSA 1991 Sch 1 para 5; 2012 Regs reg 45).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NilRateCategory {
    /// Under 16.
    UnderSixteen,
    /// 16 to 19 and in full-time non-advanced education or approved training.
    InEducationOrTraining,
    /// 16 or 17 and on Income Support, income-based JSA or income-related ESA.
    YoungPersonOnBenefit,
    /// In prison.
    InPrison,
    /// In a care home or independent hospital with help towards the fees.
    InCareHomeOrHospital,
}

impl NilRateCategory {
    /// Every category.
    pub const ALL: [NilRateCategory; 5] = [
        NilRateCategory::UnderSixteen,
        NilRateCategory::InEducationOrTraining,
        NilRateCategory::YoungPersonOnBenefit,
        NilRateCategory::InPrison,
        NilRateCategory::InCareHomeOrHospital,
    ];

    /// The stable snake_case name used by transports and test files (`in_prison`).
    pub const fn as_str(self) -> &'static str {
        match self {
            NilRateCategory::UnderSixteen => "under_16",
            NilRateCategory::InEducationOrTraining => "in_education_or_training",
            NilRateCategory::YoungPersonOnBenefit => "young_person_on_benefit",
            NilRateCategory::InPrison => "in_prison",
            NilRateCategory::InCareHomeOrHospital => "in_care_home_or_hospital",
        }
    }

    /// A plain-words description, for explanations.
    pub const fn description(self) -> &'static str {
        match self {
            NilRateCategory::UnderSixteen => "is under 16",
            NilRateCategory::InEducationOrTraining => {
                "is 16 to 19 and in full-time non-advanced education or approved training"
            }
            NilRateCategory::YoungPersonOnBenefit => {
                "is 16 or 17 and gets Income Support, income-based JSA or income-related ESA"
            }
            NilRateCategory::InPrison => "is in prison",
            NilRateCategory::InCareHomeOrHospital => {
                "is in a care home or independent hospital with help towards the fees"
            }
        }
    }
}

impl fmt::Display for NilRateCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for NilRateCategory {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        NilRateCategory::ALL
            .into_iter()
            .find(|c| c.as_str() == name)
            .ok_or_else(|| {
                let known: Vec<&str> = NilRateCategory::ALL.iter().map(|c| c.as_str()).collect();
                format!(
                    "unknown nil-rate category {name:?} (expected one of: {})",
                    known.join(", ")
                )
            })
    }
}

/// How maintenance is paid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Collection {
    /// The parents pay each other; no collection fees.
    DirectPay,
    /// The CMS collects and passes on the money, charging collection fees.
    CollectAndPay,
}

/// A receiving parent (person with care) and the qualifying children they care for, each given as
/// the nights a year that child stays with the paying parent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceivingParent {
    child_nights: Vec<Nights>,
}

impl ReceivingParent {
    /// A receiving parent caring for one child per entry of `child_nights`.
    ///
    /// Whether the list is empty is checked by [`CalculationInput::new`], which knows the receiving
    /// parent's position and so can name the field.
    pub fn new(child_nights: Vec<Nights>) -> ReceivingParent {
        ReceivingParent { child_nights }
    }

    /// Nights a year with the paying parent, one entry per child.
    pub fn child_nights(&self) -> &[Nights] {
        &self.child_nights
    }
}

/// A validated calculation input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CalculationInput {
    gross_weekly_income: IncomeEvidence,
    relevant_other_children: u32,
    flat_rate_benefit: bool,
    nil_rate_category: Option<NilRateCategory>,
    receiving_parents: Vec<ReceivingParent>,
    collection: Collection,
}

impl CalculationInput {
    /// Builds a validated input.
    ///
    /// - `flat_rate_benefit`: the paying parent (or, for some benefits, their partner) gets a benefit
    ///   that puts them on the flat rate (CSA 1991 Sch 1 para 4(1)(b),(c); 2012 Regs reg 44).
    /// - `relevant_other_children`: other children the paying parent or partner gets Child Benefit
    ///   for; 3 or more count as 3.
    ///
    /// Errors: no receiving parents, a receiving parent with no children, or more than
    /// [`MAX_CHILDREN`] children in all.
    pub fn new(
        gross_weekly_income: IncomeEvidence,
        relevant_other_children: u32,
        flat_rate_benefit: bool,
        nil_rate_category: Option<NilRateCategory>,
        receiving_parents: Vec<ReceivingParent>,
        collection: Collection,
    ) -> Result<CalculationInput, InputError> {
        if receiving_parents.is_empty() {
            return Err(InputError::new(
                InputField::ReceivingParents,
                InputProblem::NoReceivingParents,
            ));
        }
        if let Some(i) = receiving_parents
            .iter()
            .position(|rp| rp.child_nights.is_empty())
        {
            return Err(InputError::new(
                InputField::ChildNightsOf {
                    receiving_parent: i,
                },
                InputProblem::NoChildren,
            ));
        }
        if receiving_parents
            .iter()
            .map(|rp| rp.child_nights.len())
            .sum::<usize>()
            > MAX_CHILDREN
        {
            return Err(InputError::new(
                InputField::ReceivingParents,
                InputProblem::TooManyChildren,
            ));
        }
        Ok(CalculationInput {
            gross_weekly_income,
            relevant_other_children,
            flat_rate_benefit,
            nil_rate_category,
            receiving_parents,
            collection,
        })
    }

    /// The paying parent's gross weekly income, if known.
    pub fn gross_weekly_income(&self) -> IncomeEvidence {
        self.gross_weekly_income
    }

    /// Relevant other children.
    pub fn relevant_other_children(&self) -> u32 {
        self.relevant_other_children
    }

    /// Whether the paying parent is on a flat-rate benefit.
    pub fn flat_rate_benefit(&self) -> bool {
        self.flat_rate_benefit
    }

    /// The nil-rate category the paying parent is in, if any.
    pub fn nil_rate_category(&self) -> Option<NilRateCategory> {
        self.nil_rate_category
    }

    /// The receiving parents, in the order given.
    pub fn receiving_parents(&self) -> &[ReceivingParent] {
        &self.receiving_parents
    }

    /// How maintenance is paid.
    pub fn collection(&self) -> Collection {
        self.collection
    }
}

/// A calculation request as a transport receives it: strings and plain numbers, not yet checked.
///
/// Field names match the gRPC request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RawCalculationRequest<'a> {
    /// Pounds and pence ("517.81"); `None` when income is not known (default rate). An empty
    /// string is an error, not "not known": a transport whose field cannot be absent must map
    /// "not set" to `None` itself.
    pub gross_weekly_income: Option<&'a str>,
    /// Relevant other children.
    pub relevant_other_children: u32,
    /// Whether the paying parent is on a flat-rate benefit.
    pub flat_rate_benefit: bool,
    /// A [`NilRateCategory`] name (`"in_prison"`), or `None`.
    pub nil_rate_category: Option<&'a str>,
    /// One entry per receiving parent: the nights a year each of their children spends with the
    /// paying parent.
    pub receiving_parents: Vec<Vec<u32>>,
    /// The date the calculation is for, `YYYY-MM-DD`.
    pub as_of: &'a str,
    /// Collect and Pay (true) or Direct Pay (false).
    pub collect_and_pay: bool,
}

/// A validated input and the date it is to be calculated on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CalculationRequest {
    /// The date whose rules apply.
    pub as_of: NaiveDate,
    /// The case.
    pub input: CalculationInput,
}

impl CalculationRequest {
    /// Parses and validates a raw request, naming the field in any error.
    pub fn from_raw(raw: &RawCalculationRequest<'_>) -> Result<CalculationRequest, InputError> {
        let as_of = parse_as_of(raw.as_of)?;
        let gross_weekly_income = match raw.gross_weekly_income {
            None => IncomeEvidence::NotProvided,
            Some(text) => IncomeEvidence::Known(Money::parse(text).map_err(|e| {
                InputError::new(InputField::GrossWeeklyIncome, InputProblem::Money(e))
            })?),
        };
        let nil_rate_category = match raw.nil_rate_category {
            None => None,
            Some(name) => Some(name.parse::<NilRateCategory>().map_err(|_| {
                InputError::new(
                    InputField::NilRateCategory,
                    InputProblem::UnknownNilRateCategory(name.to_owned()),
                )
            })?),
        };
        if raw.receiving_parents.iter().map(Vec::len).sum::<usize>() > MAX_CHILDREN {
            return Err(InputError::new(
                InputField::ReceivingParents,
                InputProblem::TooManyChildren,
            ));
        }
        let mut receiving_parents = Vec::with_capacity(raw.receiving_parents.len());
        for (i, nights) in raw.receiving_parents.iter().enumerate() {
            let mut child_nights = Vec::with_capacity(nights.len());
            for (j, &n) in nights.iter().enumerate() {
                let n = Nights::new(n).map_err(|e| {
                    InputError::new(
                        InputField::ChildNights {
                            receiving_parent: i,
                            child: j,
                        },
                        InputProblem::Nights(e),
                    )
                })?;
                child_nights.push(n);
            }
            receiving_parents.push(ReceivingParent::new(child_nights));
        }
        let collection = if raw.collect_and_pay {
            Collection::CollectAndPay
        } else {
            Collection::DirectPay
        };
        let input = CalculationInput::new(
            gross_weekly_income,
            raw.relevant_other_children,
            raw.flat_rate_benefit,
            nil_rate_category,
            receiving_parents,
            collection,
        )?;
        Ok(CalculationRequest { as_of, input })
    }
}

/// Parses the `as_of` date (`YYYY-MM-DD`), naming the field in the error.
pub fn parse_as_of(text: &str) -> Result<NaiveDate, InputError> {
    // chrono's FromStr for NaiveDate accepts exactly the ISO 8601 calendar date form.
    text.parse::<NaiveDate>()
        .map_err(|_| InputError::new(InputField::AsOf, InputProblem::InvalidDate(text.to_owned())))
}

/// Which input field an error is about, rendered as the gRPC field path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InputField {
    /// `gross_weekly_income`
    GrossWeeklyIncome,
    /// `relevant_other_children`
    RelevantOtherChildren,
    /// `flat_rate_benefit`
    FlatRateBenefit,
    /// `nil_rate_category`
    NilRateCategory,
    /// `receiving_parents`
    ReceivingParents,
    /// `receiving_parents[i].child_nights`
    ChildNightsOf {
        /// Index of the receiving parent, from 0.
        receiving_parent: usize,
    },
    /// `receiving_parents[i].child_nights[j]`
    ChildNights {
        /// Index of the receiving parent, from 0.
        receiving_parent: usize,
        /// Index of the child within that receiving parent's list, from 0.
        child: usize,
    },
    /// `as_of`
    AsOf,
    /// `collect_and_pay`
    CollectAndPay,
}

impl fmt::Display for InputField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputField::GrossWeeklyIncome => f.write_str("gross_weekly_income"),
            InputField::RelevantOtherChildren => f.write_str("relevant_other_children"),
            InputField::FlatRateBenefit => f.write_str("flat_rate_benefit"),
            InputField::NilRateCategory => f.write_str("nil_rate_category"),
            InputField::ReceivingParents => f.write_str("receiving_parents"),
            InputField::ChildNightsOf { receiving_parent } => {
                write!(f, "receiving_parents[{receiving_parent}].child_nights")
            }
            InputField::ChildNights {
                receiving_parent,
                child,
            } => {
                write!(
                    f,
                    "receiving_parents[{receiving_parent}].child_nights[{child}]"
                )
            }
            InputField::AsOf => f.write_str("as_of"),
            InputField::CollectAndPay => f.write_str("collect_and_pay"),
        }
    }
}

/// What is wrong with a field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InputProblem {
    /// Not a valid amount of money.
    #[error(transparent)]
    Money(MoneyError),
    /// Not a valid number of nights.
    #[error(transparent)]
    Nights(NightsError),
    /// No receiving parents.
    #[error("at least one receiving parent is required")]
    NoReceivingParents,
    /// A receiving parent with no children.
    #[error("each receiving parent must care for at least one child")]
    NoChildren,
    /// More than [`MAX_CHILDREN`] children.
    #[error("more than {MAX_CHILDREN} children in one calculation")]
    TooManyChildren,
    /// An unknown nil-rate category name.
    #[error(
        "unknown nil-rate category {0:?} (expected under_16, in_education_or_training, young_person_on_benefit, in_prison or in_care_home_or_hospital)"
    )]
    UnknownNilRateCategory(String),
    /// Not a `YYYY-MM-DD` date.
    #[error("{0:?} is not a date in the form YYYY-MM-DD")]
    InvalidDate(String),
    /// A date before the first parameter values.
    #[error("no rules are in force before {first} (the start of the 2012 scheme)")]
    BeforeRules {
        /// The first date with rules.
        first: NaiveDate,
    },
}

/// An invalid input: which field, and what is wrong with it.
///
/// Displays as `"<field path>: <problem>"`, such as
/// `receiving_parents[0].child_nights[1]: 400 nights is more than the 365 nights in a year`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct InputError {
    /// The field.
    pub field: InputField,
    /// What is wrong.
    #[source]
    pub problem: InputProblem,
}

impl InputError {
    /// An error about `field`.
    pub fn new(field: InputField, problem: InputProblem) -> InputError {
        InputError { field, problem }
    }

    /// The gRPC field path (`receiving_parents[0].child_nights[1]`), for a transport's
    /// field-violation detail.
    pub fn field_path(&self) -> String {
        self.field.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw() -> RawCalculationRequest<'static> {
        RawCalculationRequest {
            gross_weekly_income: Some("450.00"),
            relevant_other_children: 0,
            flat_rate_benefit: false,
            nil_rate_category: None,
            receiving_parents: vec![vec![0, 10]],
            as_of: "2025-01-01",
            collect_and_pay: false,
        }
    }

    fn error_text(raw: &RawCalculationRequest<'_>) -> String {
        CalculationRequest::from_raw(raw)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    }

    #[test]
    fn a_valid_request_is_accepted() {
        let request = CalculationRequest::from_raw(&raw());
        let Ok(request) = request else {
            panic!("{request:?}")
        };
        assert_eq!(
            request.as_of,
            NaiveDate::from_ymd_opt(2025, 1, 1).unwrap_or_default()
        );
        assert_eq!(
            request.input.gross_weekly_income(),
            IncomeEvidence::Known(Money::from_pence(45000))
        );
        assert_eq!(request.input.receiving_parents().len(), 1);
        assert_eq!(request.input.collection(), Collection::DirectPay);
    }

    #[test]
    fn errors_name_the_grpc_field() {
        let mut r = raw();
        r.receiving_parents = vec![vec![0, 400]];
        assert_eq!(
            error_text(&r),
            "receiving_parents[0].child_nights[1]: 400 nights is more than the 365 nights in a year"
        );
        r.receiving_parents = vec![vec![0], vec![]];
        assert_eq!(
            error_text(&r),
            "receiving_parents[1].child_nights: each receiving parent must care for at least one child"
        );
        r.receiving_parents = vec![];
        assert_eq!(
            error_text(&r),
            "receiving_parents: at least one receiving parent is required"
        );
        r.receiving_parents = vec![vec![0; MAX_CHILDREN + 1]];
        assert_eq!(
            error_text(&r),
            "receiving_parents: more than 1000 children in one calculation"
        );

        let mut r = raw();
        r.gross_weekly_income = Some("1.234");
        assert!(
            error_text(&r)
                .starts_with("gross_weekly_income: \"1.234\" has more than 2 decimal places")
        );
        r.gross_weekly_income = Some("");
        assert!(error_text(&r).starts_with("gross_weekly_income: "));

        let mut r = raw();
        r.as_of = "2025-13-01";
        assert_eq!(
            error_text(&r),
            "as_of: \"2025-13-01\" is not a date in the form YYYY-MM-DD"
        );

        let mut r = raw();
        r.nil_rate_category = Some("prison");
        assert!(
            error_text(&r).starts_with("nil_rate_category: unknown nil-rate category \"prison\"")
        );
        let err = CalculationRequest::from_raw(&r).err();
        assert_eq!(
            err.map(|e| e.field_path()),
            Some("nil_rate_category".to_owned())
        );
    }

    #[test]
    fn missing_income_means_default_rate_evidence() {
        let mut r = raw();
        r.gross_weekly_income = None;
        r.nil_rate_category = Some("in_prison");
        r.collect_and_pay = true;
        let request = CalculationRequest::from_raw(&r);
        let Ok(request) = request else {
            panic!("{request:?}")
        };
        assert_eq!(
            request.input.gross_weekly_income(),
            IncomeEvidence::NotProvided
        );
        assert_eq!(
            request.input.nil_rate_category(),
            Some(NilRateCategory::InPrison)
        );
        assert_eq!(request.input.collection(), Collection::CollectAndPay);
    }

    #[test]
    fn nil_rate_category_names_round_trip() {
        for category in NilRateCategory::ALL {
            assert_eq!(category.as_str().parse::<NilRateCategory>(), Ok(category));
        }
    }
}
