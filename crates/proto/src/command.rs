//! The fields every agency command request shares: a client request id (a retry carries the same
//! one), the case it is about, and its effective date. Services begin any command through this
//! one trait.

use crate::{cms, court};

/// A request that changes an agency's records.
pub trait CommandRequest: prost::Message {
    /// The client's id for the command: a retry carries the same one.
    fn client_request_id(&self) -> &str;
    /// The case the command is about (the stream its events belong to).
    fn case_reference(&self) -> &str;
    /// The date the command takes effect, as sent ("YYYY-MM-DD").
    fn effective_date(&self) -> &str;
}

macro_rules! command_requests {
    ($($request:ty),+ $(,)?) => {$(
        impl CommandRequest for $request {
            fn client_request_id(&self) -> &str {
                &self.client_request_id
            }
            fn case_reference(&self) -> &str {
                &self.case_reference
            }
            fn effective_date(&self) -> &str {
                &self.effective_date
            }
        }
    )+};
}

command_requests!(
    court::v1::OpenCaseRequest,
    court::v1::ScheduleHearingRequest,
    court::v1::MakeOrderRequest,
    court::v1::ApplyToVaryRequest,
    court::v1::CloseCaseRequest,
    court::v1::AttachReviewFindingsRequest,
    cms::v1::OpenApplicationRequest,
    cms::v1::RecordIncomeRequest,
    cms::v1::RecordSharedCareRequest,
    cms::v1::NotifyPayingParentRequest,
    cms::v1::MakeCalculationRequest,
    cms::v1::ReportCourtOrderRequest,
    cms::v1::ReportProceedingsEndedRequest,
    cms::v1::RecordPaymentRequest,
    cms::v1::ReportMissedDirectPayRequest,
    cms::v1::CloseCaseRequest,
    cms::v1::RecordContactRequest,
    cms::v1::RequestEnforcementPauseRequest,
    cms::v1::LiftEnforcementPauseRequest,
);
