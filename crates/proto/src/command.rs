//! The fields every agency command request shares: a client request id (a retry carries the same
//! one), the case it is about, and its effective date ([`CommandRequest`]); and an entry of a
//! batch of them, which the feed's command executor carries out ([`BatchEntry`]).

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

/// One entry of a batch of an agency's case commands and reads: a command request of any kind, or
/// a read. Every command is carried out as such an entry (a single-command RPC is a batch of one).
pub trait BatchEntry: Send + Sync {
    /// The service whose batches these entries are, e.g. `familybridge.cms.v1.CaseService`.
    const SERVICE: &'static str;
    /// The RPC that carries the entry alone, e.g. "RecordPayment", or "GetCase" for a read: what
    /// the service's access policy says who may send.
    fn rpc(&self) -> &'static str;
    /// The command's name, as its idempotency record keeps it (its RPC's, e.g. "RecordPayment"), or
    /// `None` for a read, which changes nothing.
    fn command(&self) -> Option<&'static str>;
    /// The case the entry is about.
    fn case_reference(&self) -> &str;
    /// The command's client request id (empty for a read).
    fn client_request_id(&self) -> &str;
    /// The command's effective date as sent (empty for a read).
    fn effective_date(&self) -> &str;
    /// The request as encoded on the wire: what a retry must repeat exactly.
    fn encode_request(&self) -> Vec<u8>;
}

/// Implements [`BatchEntry`] for a batch entry's `oneof`: each command variant with its RPC's
/// name, and the read variant (a request with a `case_reference`).
macro_rules! batch_entry {
    ($service:literal $entry:ty { $($variant:ident),+ $(,)? } read $read:ident) => {
        impl BatchEntry for $entry {
            const SERVICE: &'static str = $service;
            fn rpc(&self) -> &'static str {
                match self {
                    $(Self::$variant(_) => stringify!($variant),)+
                    Self::$read(_) => stringify!($read),
                }
            }
            fn command(&self) -> Option<&'static str> {
                match self {
                    $(Self::$variant(_) => Some(stringify!($variant)),)+
                    Self::$read(_) => None,
                }
            }
            fn case_reference(&self) -> &str {
                match self {
                    $(Self::$variant(request) => CommandRequest::case_reference(request),)+
                    Self::$read(request) => &request.case_reference,
                }
            }
            fn client_request_id(&self) -> &str {
                match self {
                    $(Self::$variant(request) => CommandRequest::client_request_id(request),)+
                    Self::$read(_) => "",
                }
            }
            fn effective_date(&self) -> &str {
                match self {
                    $(Self::$variant(request) => CommandRequest::effective_date(request),)+
                    Self::$read(_) => "",
                }
            }
            fn encode_request(&self) -> Vec<u8> {
                match self {
                    $(Self::$variant(request) => prost::Message::encode_to_vec(request),)+
                    Self::$read(request) => prost::Message::encode_to_vec(request),
                }
            }
        }
    };
}

batch_entry!("familybridge.cms.v1.CaseService" cms::v1::case_batch_entry::Request {
    OpenApplication,
    NotifyPayingParent,
    MakeCalculation,
    RecordIncome,
    RecordSharedCare,
    ReportCourtOrder,
    ReportProceedingsEnded,
    RecordPayment,
    ReportMissedDirectPay,
    CloseCase,
    RecordContact,
    RequestEnforcementPause,
    LiftEnforcementPause,
} read GetCase);

batch_entry!("familybridge.court.v1.CourtRegistry" court::v1::court_batch_entry::Request {
    OpenCase,
    ScheduleHearing,
    MakeInterimOrder,
    MakeFinalOrder,
    ApplyToVary,
    MakeVariationOrder,
    CloseCase,
    AttachReviewFindings,
} read GetCase);
