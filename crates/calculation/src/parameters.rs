//! Dated parameters: every figure the calculation uses, with the date it came into force and its
//! legal source.
//!
//! The figures live in `parameters.toml` (compiled into the library, and written to be read by a
//! policy analyst). A [`ParameterBook`] holds the whole history of every parameter; a scenario can
//! switch on a named proposal ([`ParameterBook::with_proposal`]) or change one value from a date
//! ([`ParameterBook::with_override`]); [`ParameterBook::in_force_on`] then resolves the book for one
//! date into the strongly typed [`Parameters`] the calculation reads.
//!
//! Why a fixed list of names ([`PARAMETER_NAMES`]): the file and the code must agree exactly. A
//! typo in the file, a parameter the engine does not know, or one it needs but cannot find is
//! reported when the file is read, never half-way through a simulation.

mod resolved;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::OnceLock;

use chrono::NaiveDate;

use crate::money::Money;
use crate::nights::Nights;
use crate::ratio::{Fraction, Percentage};

pub use resolved::{
    ByChildren, CareBand, CollectionParameters, EnforcementFees, Parameters, ReducedRateTable,
    SharedCareBand, SharedCareParameters,
};

/// The statutory parameter file, compiled into the library.
const STATUTORY_TOML: &str = include_str!("../parameters.toml");

/// What kind of value a parameter holds, and so how it is written in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Unit {
    /// An amount of money, written as a quoted decimal ("7.00").
    Pounds,
    /// A percentage, written as a quoted number of percent ("14.1" is 14.1%).
    Percent,
    /// A proper fraction, written quoted ("1/7").
    Fraction,
    /// A number of nights in a year, written as a whole number (52).
    Nights,
    /// A yes/no setting, written `true` or `false`.
    Boolean,
    /// A whole number of things (instalments, say), written as a whole number (1).
    Count,
}

impl Unit {
    /// The name used in the parameter file's `unit` field.
    pub const fn as_str(self) -> &'static str {
        match self {
            Unit::Pounds => "pounds",
            Unit::Percent => "percent",
            Unit::Fraction => "fraction",
            Unit::Nights => "nights",
            Unit::Boolean => "boolean",
            Unit::Count => "count",
        }
    }

    fn from_name(name: &str) -> Option<Unit> {
        [
            Unit::Pounds,
            Unit::Percent,
            Unit::Fraction,
            Unit::Nights,
            Unit::Boolean,
            Unit::Count,
        ]
        .into_iter()
        .find(|unit| unit.as_str() == name)
    }
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every parameter the engine reads, with its unit. The parameter file must define exactly these.
pub const PARAMETER_NAMES: &[(&str, Unit)] = &[
    ("income_cap.amount", Unit::Pounds),
    ("nil_rate.income_threshold", Unit::Pounds),
    ("flat_rate.income_upper_bound", Unit::Pounds),
    ("reduced_rate.income_upper_bound", Unit::Pounds),
    ("basic_plus_rate.income_threshold", Unit::Pounds),
    ("flat_rate.amount", Unit::Pounds),
    ("reduced_rate.percentage.qc1_roc0", Unit::Percent),
    ("reduced_rate.percentage.qc1_roc1", Unit::Percent),
    ("reduced_rate.percentage.qc1_roc2", Unit::Percent),
    ("reduced_rate.percentage.qc1_roc3", Unit::Percent),
    ("reduced_rate.percentage.qc2_roc0", Unit::Percent),
    ("reduced_rate.percentage.qc2_roc1", Unit::Percent),
    ("reduced_rate.percentage.qc2_roc2", Unit::Percent),
    ("reduced_rate.percentage.qc2_roc3", Unit::Percent),
    ("reduced_rate.percentage.qc3_roc0", Unit::Percent),
    ("reduced_rate.percentage.qc3_roc1", Unit::Percent),
    ("reduced_rate.percentage.qc3_roc2", Unit::Percent),
    ("reduced_rate.percentage.qc3_roc3", Unit::Percent),
    ("basic_rate.percentage.qc1", Unit::Percent),
    ("basic_rate.percentage.qc2", Unit::Percent),
    ("basic_rate.percentage.qc3", Unit::Percent),
    ("basic_plus_rate.percentage.qc1", Unit::Percent),
    ("basic_plus_rate.percentage.qc2", Unit::Percent),
    ("basic_plus_rate.percentage.qc3", Unit::Percent),
    (
        "relevant_other_children.income_reduction.roc1",
        Unit::Percent,
    ),
    (
        "relevant_other_children.income_reduction.roc2",
        Unit::Percent,
    ),
    (
        "relevant_other_children.income_reduction.roc3",
        Unit::Percent,
    ),
    ("default_rate.amount.qc1", Unit::Pounds),
    ("default_rate.amount.qc2", Unit::Pounds),
    ("default_rate.amount.qc3", Unit::Pounds),
    ("shared_care.band_1.nights_from", Unit::Nights),
    ("shared_care.band_1.decrease", Unit::Fraction),
    ("shared_care.band_2.nights_from", Unit::Nights),
    ("shared_care.band_2.decrease", Unit::Fraction),
    ("shared_care.band_3.nights_from", Unit::Nights),
    ("shared_care.band_3.decrease", Unit::Fraction),
    ("shared_care.band_4.nights_from", Unit::Nights),
    ("shared_care.band_4.decrease", Unit::Fraction),
    (
        "shared_care.band_4.further_decrease_per_child",
        Unit::Pounds,
    ),
    ("shared_care.equal_care_nights", Unit::Nights),
    ("shared_care.nights_assumed_without_evidence", Unit::Nights),
    ("income_change.threshold", Unit::Percent),
    ("collect_and_pay.direct_pay_available", Unit::Boolean),
    ("collect_and_pay.paying_parent_fee", Unit::Percent),
    (
        "collect_and_pay.non_compliant_paying_parent_fee",
        Unit::Percent,
    ),
    ("collect_and_pay.receiving_parent_fee", Unit::Percent),
    (
        "collect_and_pay.non_compliant_after_missed_instalments",
        Unit::Count,
    ),
    ("application_fee.amount", Unit::Pounds),
    (
        "enforcement_fees.deduction_from_earnings_order",
        Unit::Pounds,
    ),
    ("enforcement_fees.regular_deduction_order", Unit::Pounds),
    ("enforcement_fees.lump_sum_deduction_order", Unit::Pounds),
    ("enforcement_fees.liability_order", Unit::Pounds),
    ("enforcement_fees.enforcement_agents", Unit::Pounds),
    ("enforcement_fees.charging_order", Unit::Pounds),
    ("enforcement_fees.disqualification", Unit::Pounds),
    ("enforcement_fees.committal", Unit::Pounds),
];

/// One parameter value of any unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParameterValue {
    /// An amount of money.
    Money(Money),
    /// A percentage.
    Percent(Percentage),
    /// A fraction.
    Fraction(Fraction),
    /// A number of nights.
    Nights(Nights),
    /// A yes/no setting.
    Boolean(bool),
    /// A whole number of things.
    Count(u32),
}

impl ParameterValue {
    /// The unit of this value.
    pub const fn unit(&self) -> Unit {
        match self {
            ParameterValue::Money(_) => Unit::Pounds,
            ParameterValue::Percent(_) => Unit::Percent,
            ParameterValue::Fraction(_) => Unit::Fraction,
            ParameterValue::Nights(_) => Unit::Nights,
            ParameterValue::Boolean(_) => Unit::Boolean,
            ParameterValue::Count(_) => Unit::Count,
        }
    }

    /// Parses a value of the given unit from text, as a scenario file or command line gives it:
    /// `"7.50"` (pounds), `"14.1"` (percent), `"1/7"` (fraction), `"182"` (nights), `"true"`.
    pub fn parse(unit: Unit, text: &str) -> Result<ParameterValue, String> {
        match unit {
            Unit::Pounds => Money::parse(text)
                .map(ParameterValue::Money)
                .map_err(|e| e.to_string()),
            Unit::Percent => Percentage::parse_percent(text).map(ParameterValue::Percent),
            Unit::Fraction => Fraction::parse(text).map(ParameterValue::Fraction),
            Unit::Nights => {
                let nights: u32 = text
                    .parse()
                    .map_err(|_| format!("{text:?} is not a whole number of nights"))?;
                Nights::new(nights)
                    .map(ParameterValue::Nights)
                    .map_err(|e| e.to_string())
            }
            Unit::Boolean => match text {
                "true" => Ok(ParameterValue::Boolean(true)),
                "false" => Ok(ParameterValue::Boolean(false)),
                _ => Err(format!("{text:?} is not true or false")),
            },
            Unit::Count => text
                .parse()
                .map(ParameterValue::Count)
                .map_err(|_| format!("{text:?} is not a whole number")),
        }
    }
}

impl fmt::Display for ParameterValue {
    /// "£7.00", "20%", "1/7", "182 nights", "true".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParameterValue::Money(m) => write!(f, "£{m}"),
            ParameterValue::Percent(p) => write!(f, "{p}"),
            ParameterValue::Fraction(x) => write!(f, "{x}"),
            ParameterValue::Nights(n) => write!(f, "{n} nights"),
            ParameterValue::Boolean(b) => write!(f, "{b}"),
            ParameterValue::Count(n) => write!(f, "{n}"),
        }
    }
}

/// How firm a value is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ValueStatus {
    /// Taken from the law as cited.
    Settled,
    /// The primary text could not be read; the figure may be wrong.
    Unsettled,
    /// Chosen by this project where the law gives no figure.
    Assumption,
    /// Set by a scenario override.
    Override,
}

impl ValueStatus {
    /// The name used in the parameter file's `status` field.
    pub const fn as_str(self) -> &'static str {
        match self {
            ValueStatus::Settled => "settled",
            ValueStatus::Unsettled => "unsettled",
            ValueStatus::Assumption => "assumption",
            ValueStatus::Override => "override",
        }
    }

    fn from_name(name: &str) -> Option<ValueStatus> {
        [
            ValueStatus::Settled,
            ValueStatus::Unsettled,
            ValueStatus::Assumption,
            ValueStatus::Override,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }
}

impl fmt::Display for ValueStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One value of a parameter and the date from which it is in force.
#[derive(Clone, Debug, PartialEq)]
pub struct DatedValue {
    /// In force from this date until the next value's date.
    pub from: NaiveDate,
    /// The value.
    pub value: ParameterValue,
    /// Where the figure comes from (legislation, a parliamentary answer, a proposal, a scenario).
    pub source: String,
    /// How firm the figure is.
    pub status: ValueStatus,
    /// Anything a reader should know about the figure.
    pub note: Option<String>,
}

/// A named parameter and its history.
#[derive(Clone, Debug, PartialEq)]
pub struct Parameter {
    name: &'static str,
    unit: Unit,
    description: String,
    /// Oldest first, strictly increasing dates.
    values: Vec<DatedValue>,
}

impl Parameter {
    /// The dotted name, such as `flat_rate.amount`.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The unit.
    pub fn unit(&self) -> Unit {
        self.unit
    }

    /// What the parameter is, in plain words.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Every value, oldest first.
    pub fn values(&self) -> &[DatedValue] {
        &self.values
    }

    /// The value in force on a date, if any value is.
    pub fn value_on(&self, date: NaiveDate) -> Option<&DatedValue> {
        self.values.iter().rev().find(|v| v.from <= date)
    }

    /// Makes `value` apply from `value.from` onwards: values dated on or after it are dropped.
    ///
    /// Why drop later values: an override or proposal says "from this date the figure is X"; letting
    /// an older, later-dated figure come back into force would surprise whoever set it.
    fn set_from(&mut self, value: DatedValue) {
        self.values.retain(|v| v.from < value.from);
        self.values.push(value);
    }
}

/// One change a proposal makes.
#[derive(Clone, Debug, PartialEq)]
pub struct ProposalChange {
    /// The parameter changed.
    pub parameter: &'static str,
    /// The new value and the date it would apply from.
    pub value: DatedValue,
}

/// A named set of changes that is not law (for example an announced reform).
#[derive(Clone, Debug, PartialEq)]
pub struct Proposal {
    name: String,
    title: String,
    status: String,
    description: String,
    source: String,
    changes: Vec<ProposalChange>,
}

impl Proposal {
    /// The name a scenario uses to switch the proposal on (`fees-2027`).
    pub fn name(&self) -> &str {
        &self.name
    }
    /// A short title.
    pub fn title(&self) -> &str {
        &self.title
    }
    /// Its standing ("announced, not law").
    pub fn status(&self) -> &str {
        &self.status
    }
    /// What it would change, in plain words.
    pub fn description(&self) -> &str {
        &self.description
    }
    /// Where it was announced.
    pub fn source(&self) -> &str {
        &self.source
    }
    /// The parameter changes it makes.
    pub fn changes(&self) -> &[ProposalChange] {
        &self.changes
    }
}

/// A parameter's value in force on a date, for reports.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ParameterInForce<'a> {
    /// The parameter.
    pub parameter: &'a Parameter,
    /// Its value in force on the date asked for.
    pub value: &'a DatedValue,
}

/// Why a parameter file, proposal, override or date could not be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParameterError {
    /// The file is not valid TOML.
    #[error("the parameter file is not valid TOML: {message}")]
    Toml {
        /// The TOML parser's message.
        message: String,
    },
    /// The file is valid TOML but an entry is not in the expected shape.
    #[error("parameter file, at `{location}`: {reason}")]
    Malformed {
        /// Where in the file (dotted path).
        location: String,
        /// What is wrong.
        reason: String,
    },
    /// A parameter name the engine does not know.
    #[error("unknown parameter `{name}`")]
    UnknownParameter {
        /// The name given.
        name: String,
    },
    /// A parameter the engine needs is missing from the file.
    #[error("the parameter file does not define `{name}`, which the calculation needs")]
    MissingParameter {
        /// The missing name.
        name: String,
    },
    /// A value of the wrong unit for the parameter.
    #[error("parameter `{name}` takes a value in {expected}, not {found}")]
    WrongValueType {
        /// The parameter.
        name: String,
        /// Its unit.
        expected: Unit,
        /// The unit of the value given.
        found: Unit,
    },
    /// A value that could not be parsed or is out of range.
    #[error("parameter `{name}`: {reason}")]
    InvalidValue {
        /// The parameter.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// A proposal name that is not in the file.
    #[error("unknown proposal `{name}` (known proposals: {known})")]
    UnknownProposal {
        /// The name given.
        name: String,
        /// The proposals the file defines, comma-separated.
        known: String,
    },
    /// The date is before the first value of a parameter.
    #[error("parameter `{name}` has no value in force on {date}: its first value is from {first}")]
    BeforeFirstValue {
        /// The parameter.
        name: String,
        /// The date asked for.
        date: NaiveDate,
        /// The date of its first value.
        first: NaiveDate,
    },
    /// The values in force on a date do not make sense together.
    #[error("the parameters in force on {date} are inconsistent: {reason}")]
    Inconsistent {
        /// The date.
        date: NaiveDate,
        /// What is wrong.
        reason: String,
    },
}

/// Every parameter's history, plus the proposals a scenario can switch on.
#[derive(Clone, Debug, PartialEq)]
pub struct ParameterBook {
    /// Indexed by position in [`PARAMETER_NAMES`], so resolving a date needs no name look-ups.
    parameters: Vec<Parameter>,
    proposals: BTreeMap<String, Proposal>,
    applied_proposals: Vec<String>,
    /// The book resolved once for each period in which no value changes.
    periods: ResolvedPeriods,
}

/// The parameters in force from each date a value changes until the next, resolved on first use:
/// every case resolves the dates it works on many times, and the values only change a few times a
/// year. `None` for a period in which the book does not resolve (a parameter with no value yet),
/// whose dates are resolved one by one, for their error.
///
/// A cache, not part of the book: it never makes two books unequal, and a book changed through
/// `&mut` starts a fresh one.
#[derive(Clone, Debug, Default)]
struct ResolvedPeriods(OnceLock<Vec<(NaiveDate, Option<Parameters>)>>);

impl PartialEq for ResolvedPeriods {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl ParameterBook {
    /// The statutory parameters from the embedded `parameters.toml`, read once.
    ///
    /// Cannot fail at run time: the test `embedded_parameter_file_parses` in this module reads the
    /// same embedded text with [`ParameterBook::from_toml_str`], so a broken file fails the build's
    /// tests before it can ship. That is why the single `expect` below is safe.
    pub fn statutory() -> &'static ParameterBook {
        static BOOK: OnceLock<ParameterBook> = OnceLock::new();
        BOOK.get_or_init(|| {
            ParameterBook::from_toml_str(STATUTORY_TOML)
                .expect("the embedded parameters.toml is valid (guaranteed by the embedded_parameter_file_parses test)")
        })
    }

    /// The text of the embedded statutory parameter file, for a reader who wants to see it.
    pub fn statutory_source_text() -> &'static str {
        STATUTORY_TOML
    }

    /// Reads a complete parameter file in the format of `parameters.toml`.
    pub fn from_toml_str(text: &str) -> Result<ParameterBook, ParameterError> {
        let table: toml::Table = toml::from_str(text).map_err(|e| ParameterError::Toml {
            message: e.to_string(),
        })?;
        let mut found: BTreeMap<String, Parameter> = BTreeMap::new();
        let mut proposals_table = None;
        for (key, value) in &table {
            if key == "proposals" {
                proposals_table = Some(value);
                continue;
            }
            collect_parameters(key, value, &mut found)?;
        }
        let mut parameters = Vec::with_capacity(PARAMETER_NAMES.len());
        for (name, _) in PARAMETER_NAMES {
            let parameter =
                found
                    .remove(*name)
                    .ok_or_else(|| ParameterError::MissingParameter {
                        name: (*name).to_owned(),
                    })?;
            parameters.push(parameter);
        }
        let mut book = ParameterBook {
            parameters,
            proposals: BTreeMap::new(),
            applied_proposals: Vec::new(),
            periods: ResolvedPeriods::default(),
        };
        if let Some(value) = proposals_table {
            let proposals = value
                .as_table()
                .ok_or_else(|| malformed("proposals", "must be a table of proposals"))?;
            for (name, value) in proposals {
                let proposal = book.parse_proposal(name, value)?;
                book.proposals.insert(name.clone(), proposal);
            }
        }
        Ok(book)
    }

    /// Every parameter, in the order of [`PARAMETER_NAMES`].
    pub fn parameters(&self) -> &[Parameter] {
        &self.parameters
    }

    /// One parameter by name.
    pub fn parameter(&self, name: &str) -> Result<&Parameter, ParameterError> {
        self.parameters
            .iter()
            .find(|p| p.name == name)
            .ok_or_else(|| ParameterError::UnknownParameter {
                name: name.to_owned(),
            })
    }

    /// The proposals a scenario can switch on, by name.
    pub fn proposals(&self) -> impl Iterator<Item = &Proposal> {
        self.proposals.values()
    }

    /// The names of the proposals switched on in this book, in the order they were applied.
    pub fn applied_proposals(&self) -> &[String] {
        &self.applied_proposals
    }

    /// The earliest date every parameter has a value for (for the statutory book, 10 Dec 2012, the
    /// start of the 2012 scheme).
    pub fn earliest_date(&self) -> Option<NaiveDate> {
        self.parameters
            .iter()
            .filter_map(|p| p.values.first().map(|v| v.from))
            .max()
    }

    /// A copy of this book with a named proposal switched on: each change applies from its date.
    pub fn with_proposal(&self, name: &str) -> Result<ParameterBook, ParameterError> {
        let proposal = self
            .proposals
            .get(name)
            .ok_or_else(|| ParameterError::UnknownProposal {
                name: name.to_owned(),
                known: self
                    .proposals
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        let mut book = self.clone();
        for change in &proposal.changes {
            book.parameter_mut(change.parameter)?
                .set_from(change.value.clone());
        }
        book.applied_proposals.push(name.to_owned());
        Ok(book)
    }

    /// A copy of this book in which `name` takes `value` from `from` onwards (later-dated values of
    /// that parameter are dropped). This is how a scenario changes a figure.
    ///
    /// Errors name the parameter: an unknown name, or a value of the wrong unit.
    pub fn with_override(
        &self,
        name: &str,
        from: NaiveDate,
        value: ParameterValue,
    ) -> Result<ParameterBook, ParameterError> {
        let mut book = self.clone();
        let parameter = book.parameter_mut(name)?;
        if parameter.unit != value.unit() {
            return Err(ParameterError::WrongValueType {
                name: name.to_owned(),
                expected: parameter.unit,
                found: value.unit(),
            });
        }
        parameter.set_from(DatedValue {
            from,
            value,
            source: "scenario override".to_owned(),
            status: ValueStatus::Override,
            note: None,
        });
        Ok(book)
    }

    /// Like [`ParameterBook::with_override`], with the value written as text in the parameter's
    /// unit (`"7.50"`, `"14.1"`, `"1/7"`, `"182"`, `"false"`), as a scenario file gives it.
    pub fn with_override_str(
        &self,
        name: &str,
        from: NaiveDate,
        text: &str,
    ) -> Result<ParameterBook, ParameterError> {
        let unit = self.parameter(name)?.unit;
        let value =
            ParameterValue::parse(unit, text).map_err(|reason| ParameterError::InvalidValue {
                name: name.to_owned(),
                reason,
            })?;
        self.with_override(name, from, value)
    }

    /// Every parameter with the value in force on `date` and its source, for reports. Parameters
    /// with no value yet on that date are left out.
    pub fn listing_on(&self, date: NaiveDate) -> Vec<ParameterInForce<'_>> {
        self.parameters
            .iter()
            .filter_map(|parameter| {
                parameter
                    .value_on(date)
                    .map(|value| ParameterInForce { parameter, value })
            })
            .collect()
    }

    /// Resolves the book for one date into the typed [`Parameters`] the calculation reads.
    ///
    /// Errors if the date is before a parameter's first value, or if the values in force do not
    /// make sense together (for example shared-care bands out of order after an override).
    pub fn in_force_on(&self, date: NaiveDate) -> Result<Parameters, ParameterError> {
        let periods = self.periods.0.get_or_init(|| self.resolve_periods());
        // The period `date` falls in: the last to begin on or before it.
        match periods.partition_point(|(from, _)| *from <= date) {
            0 => resolved::resolve(self, date),
            after => match periods[after - 1].1 {
                Some(parameters) => Ok(Parameters {
                    as_of: date,
                    ..parameters
                }),
                None => resolved::resolve(self, date),
            },
        }
    }

    /// The book resolved on every date a value comes into force, in date order: what it resolves
    /// to on any date until the next.
    fn resolve_periods(&self) -> Vec<(NaiveDate, Option<Parameters>)> {
        let changes: BTreeSet<NaiveDate> = self
            .parameters
            .iter()
            .flat_map(|parameter| parameter.values.iter().map(|value| value.from))
            .collect();
        changes
            .into_iter()
            .map(|from| (from, resolved::resolve(self, from).ok()))
            .collect()
    }

    /// The value of the parameter at `index` in [`PARAMETER_NAMES`] on `date`.
    fn value_at(&self, index: usize, date: NaiveDate) -> Result<ParameterValue, ParameterError> {
        // The constructor guarantees one parameter per name, in order.
        let parameter =
            self.parameters
                .get(index)
                .ok_or_else(|| ParameterError::UnknownParameter {
                    name: format!("#{index}"),
                })?;
        match parameter.value_on(date) {
            Some(value) => Ok(value.value),
            None => Err(ParameterError::BeforeFirstValue {
                name: parameter.name.to_owned(),
                date,
                first: parameter.values.first().map_or(date, |v| v.from),
            }),
        }
    }

    fn parameter_mut(&mut self, name: &str) -> Result<&mut Parameter, ParameterError> {
        // The parameter may change: what was resolved before no longer holds.
        self.periods = ResolvedPeriods::default();
        self.parameters
            .iter_mut()
            .find(|p| p.name == name)
            .ok_or_else(|| ParameterError::UnknownParameter {
                name: name.to_owned(),
            })
    }

    fn parse_proposal(&self, name: &str, value: &toml::Value) -> Result<Proposal, ParameterError> {
        let location = format!("proposals.{name}");
        let table = value
            .as_table()
            .ok_or_else(|| malformed(&location, "must be a table"))?;
        check_keys(
            &location,
            table,
            &["title", "status", "description", "source", "changes"],
        )?;
        let title = required_str(&location, table, "title")?;
        let status = required_str(&location, table, "status")?;
        let description = required_str(&location, table, "description")?;
        let source = required_str(&location, table, "source")?;
        let changes_value = table
            .get("changes")
            .ok_or_else(|| malformed(&location, "needs a list of `changes`"))?;
        let changes_array = changes_value
            .as_array()
            .ok_or_else(|| malformed(&location, "`changes` must be a list of tables"))?;
        let mut changes = Vec::with_capacity(changes_array.len());
        for (i, change) in changes_array.iter().enumerate() {
            let at = format!("{location}.changes[{i}]");
            let change = change
                .as_table()
                .ok_or_else(|| malformed(&at, "must be a table"))?;
            check_keys(
                &at,
                change,
                &["parameter", "from", "value", "source", "status", "note"],
            )?;
            let parameter_name = required_str(&at, change, "parameter")?;
            let parameter = self.parameter(&parameter_name)?;
            let proposal_source = format!("proposal {name} ({status}): {source}");
            let value = parse_dated_value(
                &at,
                parameter.name,
                parameter.unit,
                change,
                Some(&proposal_source),
            )?;
            changes.push(ProposalChange {
                parameter: parameter.name,
                value,
            });
        }
        Ok(Proposal {
            name: name.to_owned(),
            title,
            status,
            description,
            source,
            changes,
        })
    }
}

fn malformed(location: &str, reason: &str) -> ParameterError {
    ParameterError::Malformed {
        location: location.to_owned(),
        reason: reason.to_owned(),
    }
}

/// Rejects keys other than `allowed`, so that a misspelt field is reported rather than ignored.
fn check_keys(location: &str, table: &toml::Table, allowed: &[&str]) -> Result<(), ParameterError> {
    match table.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(key) => Err(malformed(
            location,
            &format!(
                "unexpected field `{key}` (expected one of: {})",
                allowed.join(", ")
            ),
        )),
        None => Ok(()),
    }
}

fn required_str(location: &str, table: &toml::Table, key: &str) -> Result<String, ParameterError> {
    match table.get(key) {
        Some(toml::Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
        Some(_) => Err(malformed(
            location,
            &format!("`{key}` must be a non-empty string"),
        )),
        None => Err(malformed(location, &format!("`{key}` is required"))),
    }
}

/// Walks the TOML tree: a table with `values` (or `description`, `unit`) is a parameter, named by its dotted path;
/// any other table groups parameters.
fn collect_parameters(
    path: &str,
    value: &toml::Value,
    found: &mut BTreeMap<String, Parameter>,
) -> Result<(), ParameterError> {
    let table = value.as_table().ok_or_else(|| {
        malformed(
            path,
            "expected a table (a parameter or a group of parameters)",
        )
    })?;
    // A parameter is a table with any of its own fields; anything else groups parameters.
    let is_parameter = ["values", "description", "unit"]
        .iter()
        .any(|k| table.contains_key(*k));
    if !is_parameter {
        for (key, child) in table {
            collect_parameters(&format!("{path}.{key}"), child, found)?;
        }
        return Ok(());
    }
    let (name, expected_unit) = PARAMETER_NAMES
        .iter()
        .find(|(name, _)| *name == path)
        .ok_or_else(|| ParameterError::UnknownParameter {
            name: path.to_owned(),
        })?;
    check_keys(path, table, &["description", "unit", "values"])?;
    let description = required_str(path, table, "description")?;
    let unit_name = required_str(path, table, "unit")?;
    let unit = Unit::from_name(&unit_name).ok_or_else(|| {
        malformed(
            path,
            &format!(
                "unknown unit {unit_name:?} (expected pounds, percent, fraction, nights or boolean)"
            ),
        )
    })?;
    if unit != *expected_unit {
        return Err(malformed(
            path,
            &format!("the unit must be {expected_unit}, not {unit}"),
        ));
    }
    let entries = table
        .get("values")
        .and_then(toml::Value::as_array)
        .ok_or_else(|| malformed(path, "`values` must be a list of tables ([[...values]])"))?;
    if entries.is_empty() {
        return Err(malformed(path, "needs at least one value"));
    }
    let mut values: Vec<DatedValue> = Vec::with_capacity(entries.len());
    for (i, entry) in entries.iter().enumerate() {
        let at = format!("{path}.values[{i}]");
        let entry = entry
            .as_table()
            .ok_or_else(|| malformed(&at, "must be a table"))?;
        check_keys(&at, entry, &["from", "value", "source", "status", "note"])?;
        let value = parse_dated_value(&at, name, unit, entry, None)?;
        if let Some(previous) = values.last()
            && previous.from >= value.from
        {
            return Err(malformed(
                &at,
                "values must be listed oldest first, each with a later `from` date",
            ));
        }
        values.push(value);
    }
    found.insert(
        path.to_owned(),
        Parameter {
            name,
            unit,
            description,
            values,
        },
    );
    Ok(())
}

/// Reads `from`, `value`, `source`, `status` and `note` from one value's table.
fn parse_dated_value(
    location: &str,
    name: &str,
    unit: Unit,
    table: &toml::Table,
    default_source: Option<&str>,
) -> Result<DatedValue, ParameterError> {
    let from = match table.get("from") {
        Some(toml::Value::Datetime(dt)) => match (dt.date, dt.time, dt.offset) {
            (Some(d), None, None) => {
                NaiveDate::from_ymd_opt(i32::from(d.year), u32::from(d.month), u32::from(d.day))
            }
            _ => None,
        },
        _ => None,
    }
    .ok_or_else(|| {
        malformed(
            location,
            "`from` must be a date such as 2013-11-25 (no quotes, no time)",
        )
    })?;
    let raw = table
        .get("value")
        .ok_or_else(|| malformed(location, "`value` is required"))?;
    let invalid = |reason: String| ParameterError::InvalidValue {
        name: name.to_owned(),
        reason,
    };
    let value = match (unit, raw) {
        (Unit::Pounds | Unit::Percent | Unit::Fraction, toml::Value::String(text)) => {
            ParameterValue::parse(unit, text).map_err(invalid)?
        }
        (Unit::Nights, toml::Value::Integer(n)) => {
            let n =
                u32::try_from(*n).map_err(|_| invalid(format!("{n} is not a number of nights")))?;
            ParameterValue::Nights(Nights::new(n).map_err(|e| invalid(e.to_string()))?)
        }
        (Unit::Boolean, toml::Value::Boolean(b)) => ParameterValue::Boolean(*b),
        (Unit::Count, toml::Value::Integer(n)) => ParameterValue::Count(
            u32::try_from(*n).map_err(|_| invalid(format!("{n} is not a whole number")))?,
        ),
        _ => {
            let expected = match unit {
                Unit::Pounds | Unit::Percent | Unit::Fraction => {
                    "a quoted string such as \"7.00\", \"14.1\" or \"1/7\""
                }
                Unit::Nights | Unit::Count => "a whole number",
                Unit::Boolean => "true or false",
            };
            return Err(malformed(
                location,
                &format!("`value` for a {unit} parameter must be {expected}"),
            ));
        }
    };
    let source = match (table.get("source"), default_source) {
        (Some(toml::Value::String(s)), _) if !s.trim().is_empty() => s.clone(),
        (None, Some(default)) => default.to_owned(),
        _ => {
            return Err(malformed(
                location,
                "`source` is required: every figure names where it comes from",
            ));
        }
    };
    let status = match table.get("status") {
        None => ValueStatus::Settled,
        Some(toml::Value::String(s)) => ValueStatus::from_name(s).ok_or_else(|| {
            malformed(
                location,
                "`status` must be settled, unsettled or assumption",
            )
        })?,
        Some(_) => return Err(malformed(location, "`status` must be a string")),
    };
    let note = match table.get("note") {
        None => None,
        Some(toml::Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(malformed(location, "`note` must be a string")),
    };
    Ok(DatedValue {
        from,
        value,
        source,
        status,
        note,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
    }

    #[test]
    fn the_parameters_resolved_by_period_are_those_resolved_day_by_day() {
        // The statutory book, a proposal's and an override's (which starts a period of its own
        // mid-year and drops later values): every day from before the first value to years after
        // the last resolves as resolving that day alone does, error or parameters.
        let statutory = ParameterBook::statutory();
        let proposal = statutory
            .with_proposal("fees-2027")
            .expect("the shipped proposal");
        let overridden = statutory
            .with_override_str("flat_rate.amount", date(2026, 7, 15), "9.50")
            .expect("a valid override");
        for book in [statutory, &proposal, &overridden] {
            let mut day = date(2011, 1, 1);
            while day <= date(2032, 12, 31) {
                let by_period = book.in_force_on(day);
                let alone = resolved::resolve(book, day);
                assert_eq!(by_period.is_ok(), alone.is_ok(), "{day}");
                assert_eq!(by_period.ok(), alone.ok(), "{day}");
                day = day.succ_opt().unwrap_or(day);
            }
        }
        let before = overridden.in_force_on(date(2026, 7, 14)).expect("in force");
        let after = overridden.in_force_on(date(2026, 7, 15)).expect("in force");
        assert_ne!(
            before.flat_rate, after.flat_rate,
            "the override starts a period"
        );
    }

    #[test]
    fn embedded_parameter_file_parses() {
        // This is the guarantee behind the `expect` in `ParameterBook::statutory`.
        let book = ParameterBook::from_toml_str(STATUTORY_TOML);
        assert!(book.is_ok(), "{:?}", book.err());
        let book = ParameterBook::statutory();
        assert_eq!(book.parameters().len(), PARAMETER_NAMES.len());
        assert_eq!(book.earliest_date(), Some(date(2012, 12, 10)));
    }

    #[test]
    fn every_value_names_a_source() {
        for parameter in ParameterBook::statutory().parameters() {
            assert!(!parameter.description().is_empty());
            for value in parameter.values() {
                assert!(!value.source.trim().is_empty(), "{}", parameter.name());
            }
        }
    }

    #[test]
    fn resolves_every_date_from_the_scheme_start() {
        let book = ParameterBook::statutory();
        let mut day = date(2012, 12, 10);
        while day < date(2036, 1, 1) {
            assert!(book.in_force_on(day).is_ok(), "{day}");
            assert!(
                book.with_proposal("fees-2027")
                    .and_then(|b| b.in_force_on(day))
                    .is_ok(),
                "{day}"
            );
            day = day
                .checked_add_days(chrono::Days::new(17))
                .unwrap_or(NaiveDate::MAX);
        }
    }

    #[test]
    fn dates_before_the_first_value_are_an_error() {
        let err = ParameterBook::statutory().in_force_on(date(2012, 12, 9));
        assert!(
            matches!(&err, Err(ParameterError::BeforeFirstValue { first, .. }) if *first == date(2012, 12, 10)),
            "{err:?}"
        );
    }

    #[test]
    fn flat_rate_and_reduced_table_change_on_25_november_2013() {
        let book = ParameterBook::statutory();
        let before = book.in_force_on(date(2013, 11, 24));
        let after = book.in_force_on(date(2013, 11, 25));
        assert_eq!(
            before.as_ref().map(|p| p.flat_rate),
            Ok(Money::from_pence(500))
        );
        assert_eq!(
            after.as_ref().map(|p| p.flat_rate),
            Ok(Money::from_pence(700))
        );
        assert_eq!(
            before.map(|p| p.reduced_rate.percentage(1, 0).as_percent()),
            Ok(dec!(19))
        );
        assert_eq!(
            after.map(|p| p.reduced_rate.percentage(3, 7).as_percent()),
            Ok(dec!(23.8))
        );
    }

    #[test]
    fn application_fee_comes_and_goes() {
        let fee = |d| {
            ParameterBook::statutory()
                .in_force_on(d)
                .map(|p| p.application_fee.to_string())
        };
        assert_eq!(fee(date(2014, 6, 29)), Ok("0.00".to_owned()));
        assert_eq!(fee(date(2014, 6, 30)), Ok("20.00".to_owned()));
        assert_eq!(fee(date(2024, 2, 25)), Ok("20.00".to_owned()));
        assert_eq!(fee(date(2024, 2, 26)), Ok("0.00".to_owned()));
    }

    #[test]
    fn enforcement_and_collection_fees() {
        let params = ParameterBook::statutory().in_force_on(date(2020, 1, 1));
        let Ok(p) = params else { panic!("{params:?}") };
        assert_eq!(
            p.enforcement_fees.deduction_from_earnings_order,
            Money::from_pence(5000)
        );
        assert_eq!(
            p.enforcement_fees.regular_deduction_order,
            Money::from_pence(5000)
        );
        assert_eq!(
            p.enforcement_fees.lump_sum_deduction_order,
            Money::from_pence(20000)
        );
        assert_eq!(p.enforcement_fees.liability_order, Money::from_pence(30000));
        assert_eq!(p.collection.paying_parent_fee.as_percent(), dec!(20));
        assert_eq!(p.collection.receiving_parent_fee.as_percent(), dec!(4));
        assert!(p.collection.direct_pay_available);
        let early = ParameterBook::statutory().in_force_on(date(2014, 8, 10));
        assert_eq!(
            early.map(|p| p.collection.paying_parent_fee),
            Ok(Percentage::ZERO)
        );
    }

    #[test]
    fn the_fees_2027_proposal_changes_fees_from_april_2027() {
        let book = ParameterBook::statutory().with_proposal("fees-2027");
        let Ok(book) = book else { panic!("{book:?}") };
        assert_eq!(book.applied_proposals(), ["fees-2027".to_owned()]);
        let Ok(before) = book.in_force_on(date(2027, 3, 31)) else {
            panic!()
        };
        let Ok(after) = book.in_force_on(date(2027, 4, 1)) else {
            panic!()
        };
        assert!(before.collection.direct_pay_available);
        assert_eq!(before.collection.paying_parent_fee.as_percent(), dec!(20));
        assert!(!after.collection.direct_pay_available);
        assert_eq!(after.collection.paying_parent_fee.as_percent(), dec!(2));
        assert_eq!(after.collection.receiving_parent_fee.as_percent(), dec!(2));
        assert_eq!(
            after
                .collection
                .non_compliant_paying_parent_fee
                .as_percent(),
            dec!(20)
        );
        let listing = book.listing_on(date(2027, 4, 1));
        let direct = listing
            .iter()
            .find(|p| p.parameter.name() == "collect_and_pay.direct_pay_available");
        assert!(direct.is_some_and(|p| p.value.source.contains("fees-2027")));
        assert!(direct.is_some_and(|p| p.value.status == ValueStatus::Assumption));
    }

    #[test]
    fn unknown_proposal_is_an_error() {
        let err = ParameterBook::statutory().with_proposal("no-such-thing");
        assert!(
            matches!(&err, Err(ParameterError::UnknownProposal { known, .. }) if known.contains("fees-2027"))
        );
    }

    #[test]
    fn overrides_apply_from_their_date() {
        let book = ParameterBook::statutory().with_override_str(
            "flat_rate.amount",
            date(2026, 1, 1),
            "10.00",
        );
        let Ok(book) = book else { panic!("{book:?}") };
        assert_eq!(
            book.in_force_on(date(2025, 12, 31)).map(|p| p.flat_rate),
            Ok(Money::from_pence(700))
        );
        assert_eq!(
            book.in_force_on(date(2026, 1, 1)).map(|p| p.flat_rate),
            Ok(Money::from_pence(1000))
        );
        // An override from before a later-dated value replaces it.
        let early = ParameterBook::statutory().with_override_str(
            "flat_rate.amount",
            date(2013, 1, 1),
            "6.00",
        );
        assert_eq!(
            early
                .and_then(|b| b.in_force_on(date(2020, 1, 1)))
                .map(|p| p.flat_rate),
            Ok(Money::from_pence(600))
        );
    }

    #[test]
    fn override_errors_name_the_parameter() {
        let book = ParameterBook::statutory();
        let d = date(2026, 1, 1);
        assert_eq!(
            book.with_override_str("flat_rate.amont", d, "7.00").err(),
            Some(ParameterError::UnknownParameter {
                name: "flat_rate.amont".to_owned()
            })
        );
        let wrong = book
            .with_override("flat_rate.amount", d, ParameterValue::Boolean(true))
            .err();
        assert_eq!(
            wrong,
            Some(ParameterError::WrongValueType {
                name: "flat_rate.amount".to_owned(),
                expected: Unit::Pounds,
                found: Unit::Boolean
            })
        );
        let bad_text = book
            .with_override_str("shared_care.band_1.decrease", d, "0.14")
            .err();
        assert!(
            matches!(&bad_text, Some(ParameterError::InvalidValue { name, .. }) if name == "shared_care.band_1.decrease"),
            "{bad_text:?}"
        );
        assert!(bad_text.is_some_and(|e| {
            e.to_string()
                .starts_with("parameter `shared_care.band_1.decrease`")
        }));
        assert!(
            book.with_override_str("shared_care.equal_care_nights", d, "366")
                .is_err()
        );
        assert!(
            book.with_override_str("collect_and_pay.direct_pay_available", d, "no")
                .is_err()
        );
        assert!(
            book.with_override_str("collect_and_pay.paying_parent_fee", d, "101")
                .is_err()
        );
    }

    #[test]
    fn overrides_that_break_band_order_are_reported_on_resolution() {
        let book = ParameterBook::statutory().with_override_str(
            "shared_care.band_2.nights_from",
            date(2026, 1, 1),
            "40",
        );
        let err = book.and_then(|b| b.in_force_on(date(2026, 6, 1)));
        assert!(
            matches!(err, Err(ParameterError::Inconsistent { .. })),
            "{err:?}"
        );
    }

    #[test]
    fn listing_shows_value_and_source() {
        let listing = ParameterBook::statutory().listing_on(date(2025, 1, 1));
        assert_eq!(listing.len(), PARAMETER_NAMES.len());
        let flat = listing
            .iter()
            .find(|p| p.parameter.name() == "flat_rate.amount");
        assert_eq!(
            flat.map(|p| p.value.value.to_string()),
            Some("£7.00".to_owned())
        );
        assert!(flat.is_some_and(|p| p.value.source.contains("PQ 20449")));
        let default = listing
            .iter()
            .find(|p| p.parameter.name() == "default_rate.amount.qc1");
        assert!(
            default.is_some_and(|p| p.value.note.as_deref().is_some_and(|n| n.contains("£38")))
        );
    }

    #[test]
    fn malformed_files_are_reported_with_a_location() {
        let replace = |from: &str, to: &str| {
            ParameterBook::from_toml_str(&STATUTORY_TOML.replacen(from, to, 1))
        };
        assert!(matches!(
            replace("[income_cap.amount]", "[income_cap.amonut]"),
            Err(ParameterError::UnknownParameter { .. })
        ));
        assert!(matches!(
            replace("value = \"3000.00\"", "value = 3000"),
            Err(ParameterError::Malformed { location, .. }) if location == "income_cap.amount.values[0]"
        ));
        assert!(matches!(
            replace("value = \"3000.00\"", "value = \"3,000\""),
            Err(ParameterError::InvalidValue { .. })
        ));
        assert!(matches!(
            replace(
                "from = 2013-11-25\nvalue = \"7.00\"",
                "from = 2012-12-01\nvalue = \"7.00\""
            ),
            Err(ParameterError::Malformed { .. })
        ));
        assert!(matches!(
            replace(
                "unit = \"pounds\"\n\n[[income_cap",
                "unit = \"percent\"\n\n[[income_cap"
            ),
            Err(ParameterError::Malformed { .. })
        ));
        assert!(matches!(
            replace(
                "source = \"CSA 1991 Sch 1 para 10(3); 2012 Regs reg 2\"",
                ""
            ),
            Err(ParameterError::Malformed { .. })
        ));
        assert!(matches!(
            replace("note = \"A proxy", "nte = \"A proxy"),
            Err(ParameterError::Malformed { .. })
        ));
        assert!(matches!(
            ParameterBook::from_toml_str("x = ["),
            Err(ParameterError::Toml { .. })
        ));
        assert!(matches!(
            ParameterBook::from_toml_str(""),
            Err(ParameterError::MissingParameter { .. })
        ));
        assert!(matches!(
            replace(
                "parameter = \"collect_and_pay.paying_parent_fee\"",
                "parameter = \"collect_and_pay.paying_fee\""
            ),
            Err(ParameterError::UnknownParameter { .. })
        ));
    }
}
