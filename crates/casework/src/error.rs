//! Why a request to a case was refused.
//!
//! Two kinds of refusal, so a transport can map them to different status codes: a request field
//! that is wrong whatever the case's state ([`CaseError::Invalid`], naming the field with the path
//! the request uses, such as `child_ref` or `order.made_on`), and a request that is fine in itself
//! but not possible now ([`CaseError::NotNow`], such as lifting a pause that is not in force). A
//! refused request leaves the case exactly as it was.

use chrono::NaiveDate;
use familybridge_calculation::ParameterError;

/// A request the case could not carry out.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CaseError {
    /// A field of the request is wrong.
    #[error("{field}: {reason}")]
    Invalid {
        /// The request field, as the request names it (`child_ref`, `effective_date`).
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The request is well formed but the case is not in a state to accept it.
    #[error("not possible now: {0}")]
    NotNow(#[from] Conflict),
    /// The parameter book has no rules for a date the case needed (a date before the scheme, or a
    /// broken override).
    #[error("the rules in force on {date} could not be resolved: {source}")]
    Parameters {
        /// The date whose rules were needed.
        date: NaiveDate,
        /// Why they could not be resolved.
        #[source]
        source: ParameterError,
    },
}

impl CaseError {
    /// An [`CaseError::Invalid`] for `field`.
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> CaseError {
        CaseError::Invalid {
            field,
            reason: reason.into(),
        }
    }

    /// The field a [`CaseError::Invalid`] names; `None` for the other kinds.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            CaseError::Invalid { field, .. } => Some(field),
            _ => None,
        }
    }
}

/// Why a well-formed request cannot be carried out in the case's present state.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Conflict {
    /// Lifting a pause when none is in force on that date.
    #[error("no enforcement pause is in force on {date}")]
    NoPauseInForce {
        /// The date of the request.
        date: NaiveDate,
    },
    /// Requesting a pause while one is already in force (lift it first, or wait for it to end).
    #[error("an enforcement pause is already in force on {date}, until {until}")]
    PauseAlreadyInForce {
        /// The date of the request.
        date: NaiveDate,
        /// The first day the pause in force no longer applies.
        until: NaiveDate,
    },
    /// Ending proceedings when none are pending.
    #[error("no child-arrangements proceedings are pending")]
    NoProceedingsPending,
    /// A payment before any maintenance is payable (no calculation yet).
    #[error("no maintenance is payable yet: the CMS has made no calculation on this case")]
    NoLiabilityYet,
    /// An `Initial` income after the first annual review, when there is no initial figure left to
    /// correct (report a change, or let the review take it).
    #[error("the initial income can no longer be corrected: an annual review has been held")]
    InitialIncomeAfterReview,
    /// Notifying the paying parent a second time.
    #[error("the paying parent was already notified, on {on}")]
    AlreadyNotified {
        /// The date of the first notice.
        on: NaiveDate,
    },
    /// Calculating before the paying parent has been notified (no effective date yet).
    #[error("the paying parent has not been notified of the application yet")]
    NotNotified,
    /// Calculating while the CMS waits for the proceedings to end (delayed involvement).
    #[error("the CMS waits for the child-arrangements proceedings to end before calculating")]
    WaitingForProceedings,
    /// Calculating when the initial calculation has been made.
    #[error("the initial calculation has already been made")]
    AlreadyCalculated,
    /// A payment recorded, or arrears reported, against the wrong collection method.
    #[error("the case is on {method}: {reason}")]
    WrongCollectionMethod {
        /// The case's method.
        method: &'static str,
        /// What cannot be done on it.
        reason: &'static str,
    },
    /// Anything but a query on a closed case.
    #[error("the case closed on {on}")]
    Closed {
        /// The closing date.
        on: NaiveDate,
    },
}
