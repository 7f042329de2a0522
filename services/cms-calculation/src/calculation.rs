//! `familybridge.cms.v1.CalculationService`: the statutory calculation over gRPC.
//!
//! This module only translates: a `CalculateRequest` becomes the engine's validated input (every
//! error naming the request field it is about), the engine calculates with the parameters in force
//! on `as_of`, and the result becomes a `CalculateResponse`. The `familybridge calc` command calls
//! [`Calculator::calculate`] directly, so the command line and gRPC give the same answers.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use familybridge_calculation::{
    Calculation, CalculationRequest, ParameterBook, Rate, RawCalculationRequest, RequestError,
};
use familybridge_proto::cms::v1 as proto;
use familybridge_proto::cms::v1::calculation_service_server::CalculationService;
use tonic::{Request, Response, Status};

/// Why a request could not be calculated.
#[derive(Debug, thiserror::Error)]
pub enum CalculateError {
    /// A field of the request is invalid; the message starts with the field's name.
    #[error("{0}")]
    InvalidArgument(String),
    /// The parameters could not be resolved (a defect in the parameter file).
    #[error("the parameters could not be resolved: {0}")]
    Parameters(String),
}

impl From<CalculateError> for Status {
    fn from(error: CalculateError) -> Self {
        match error {
            CalculateError::InvalidArgument(message) => Status::invalid_argument(message),
            CalculateError::Parameters(_) => {
                tracing::error!(%error, "calculation parameters");
                Status::internal(error.to_string())
            }
        }
    }
}

/// The statutory parameters and every named proposal, resolved once at start-up.
#[derive(Debug, Clone)]
pub struct Calculator {
    statutory: &'static ParameterBook,
    proposals: BTreeMap<String, ParameterBook>,
}

impl Calculator {
    /// A calculator over the statutory parameter file and its proposals.
    pub fn new() -> Result<Self, CalculateError> {
        let statutory = ParameterBook::statutory();
        let proposals = statutory
            .proposals()
            .map(|proposal| {
                statutory
                    .with_proposal(proposal.name())
                    .map(|book| (proposal.name().to_owned(), book))
                    .map_err(|error| CalculateError::Parameters(error.to_string()))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            statutory,
            proposals,
        })
    }

    /// Calculates `request`, with `today` standing for an empty `as_of`.
    pub fn calculate(
        &self,
        request: &proto::CalculateRequest,
        today: NaiveDate,
    ) -> Result<proto::CalculateResponse, CalculateError> {
        let invalid = |message: String| CalculateError::InvalidArgument(message);
        // Income decides nothing for a paying parent on a flat-rate benefit or in a nil-rate
        // category, so it may be left out for them; anyone else must give it or say it is unknown.
        let income_irrelevant = request.flat_rate_benefit
            || request.nil_rate_category != i32::from(proto::NilRateCategory::Unspecified);
        let gross_weekly_income = match (
            request.gross_weekly_income.as_str(),
            request.income_not_provided,
        ) {
            ("", false) if income_irrelevant => None,
            ("", false) => {
                return Err(invalid(
                    "gross_weekly_income: required (or set income_not_provided for the default \
                     rate)"
                        .to_owned(),
                ));
            }
            ("", true) => None,
            (_, true) => {
                return Err(invalid(
                    "gross_weekly_income: must be empty when income_not_provided is set".to_owned(),
                ));
            }
            (income, false) => Some(income),
        };
        let book = match request.proposal.as_str() {
            "" => self.statutory,
            name => self.proposals.get(name).ok_or_else(|| {
                invalid(format!(
                    "proposal: unknown proposal {name:?} (known: {})",
                    self.proposals
                        .keys()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?,
        };
        let as_of = if request.as_of.is_empty() {
            today.format("%Y-%m-%d").to_string()
        } else {
            request.as_of.clone()
        };
        let raw = RawCalculationRequest {
            gross_weekly_income,
            relevant_other_children: request.relevant_other_children,
            flat_rate_benefit: request.flat_rate_benefit,
            nil_rate_category: nil_rate_category(request.nil_rate_category)?,
            receiving_parents: request
                .receiving_parents
                .iter()
                .map(|parent| parent.child_nights.clone())
                .collect(),
            as_of: &as_of,
            collect_and_pay: request.collect_and_pay,
        };
        let validated =
            CalculationRequest::from_raw(&raw).map_err(|error| invalid(error.to_string()))?;
        let calculation = book.calculate(&validated).map_err(|error| match error {
            RequestError::Input(error) => invalid(error.to_string()),
            RequestError::Parameters(error) => CalculateError::Parameters(error.to_string()),
        })?;
        Ok(response(&calculation, validated.as_of))
    }
}

/// The engine's name for a nil-rate category, from the wire enum.
fn nil_rate_category(value: i32) -> Result<Option<&'static str>, CalculateError> {
    use proto::NilRateCategory as Category;
    let category = Category::try_from(value).map_err(|_| {
        CalculateError::InvalidArgument(format!(
            "nil_rate_category: {value} is not a NilRateCategory"
        ))
    })?;
    Ok(match category {
        Category::Unspecified => None,
        Category::Under16 => Some("under_16"),
        Category::InEducation => Some("in_education_or_training"),
        Category::YoungPersonOnBenefit => Some("young_person_on_benefit"),
        Category::InPrison => Some("in_prison"),
        Category::InCareHomeOrHospital => Some("in_care_home_or_hospital"),
    })
}

/// A calculation's amounts as the API shows them, with the date whose rules it applied, and no
/// explanation (what a command's answer carries: formatting the explanation is most of the cost of
/// showing a calculation, and the answer is kept for retries).
pub(crate) fn amounts(calculation: &Calculation, as_of: NaiveDate) -> proto::CalculateResponse {
    let rate = match calculation.rate {
        Rate::Nil => proto::Rate::Nil,
        Rate::Flat => proto::Rate::Flat,
        Rate::Reduced => proto::Rate::Reduced,
        Rate::Basic => proto::Rate::Basic,
        Rate::BasicPlus => proto::Rate::BasicPlus,
        Rate::Default => proto::Rate::Default,
    };
    let (paying_parent_fee, receiving_parent_fee) = calculation
        .collection_fees
        .map(|fees| {
            (
                fees.paying_parent_fee.to_string(),
                fees.receiving_parent_fee.to_string(),
            )
        })
        .unwrap_or_default();
    proto::CalculateResponse {
        rate: rate.into(),
        weekly_amount: calculation.weekly_amount.to_string(),
        receiving_parents: calculation
            .receiving_parents
            .iter()
            .map(|parent| proto::ReceivingParentAmount {
                weekly_amount: parent.weekly_amount.to_string(),
            })
            .collect(),
        paying_parent_fee,
        receiving_parent_fee,
        explanation: Vec::new(),
        as_of: as_of.format("%Y-%m-%d").to_string(),
    }
}

/// A calculation as the API shows it, with the date whose rules it applied and its explanation.
pub(crate) fn response(calculation: &Calculation, as_of: NaiveDate) -> proto::CalculateResponse {
    proto::CalculateResponse {
        explanation: calculation
            .explanation
            .iter()
            .map(|step| proto::ExplanationStep {
                rule: step.rule().to_owned(),
                text: step.to_string(),
                legal_source: step.legal_source().to_owned(),
            })
            .collect(),
        ..amounts(calculation, as_of)
    }
}

#[tonic::async_trait]
impl CalculationService for Calculator {
    async fn calculate(
        &self,
        request: Request<proto::CalculateRequest>,
    ) -> Result<Response<proto::CalculateResponse>, Status> {
        let today = chrono::Utc::now().date_naive();
        Ok(Response::new(Calculator::calculate(
            self,
            request.get_ref(),
            today,
        )?))
    }
}
