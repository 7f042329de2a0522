//! What the outside world tells a case: the application, income reports, shared-care evidence,
//! court orders, contacts and proposals for a joint case review.
//!
//! These are plain values: a transport builds them from its messages, and [`crate::CaseFile`]
//! checks them against the case (unknown children, dates out of order) and names the offending
//! field in any error.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use familybridge_calculation::{Collection, Money, Nights};
use serde::{Deserialize, Serialize};

/// One of the two parents of a case, by role. The roles are fixed at application (the CMS case is
/// the paying parent's liability to the receiving parent); a change of residence that would swap
/// them is a new case, which [`crate::CaseFile::project_liability`] can preview.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Party {
    /// The paying parent (non-resident parent).
    PayingParent,
    /// The receiving parent (person with care).
    ReceivingParent,
}

impl Party {
    /// The other parent.
    pub const fn other(self) -> Party {
        match self {
            Party::PayingParent => Party::ReceivingParent,
            Party::ReceivingParent => Party::PayingParent,
        }
    }
}

/// How maintenance is paid (a serialisable mirror of the engine's [`Collection`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CollectionMethod {
    /// The parents pay each other; no collection fees (while Direct Pay is available).
    DirectPay,
    /// The CMS collects and passes on the money, charging collection fees.
    CollectAndPay,
}

impl From<CollectionMethod> for Collection {
    fn from(method: CollectionMethod) -> Self {
        match method {
            CollectionMethod::DirectPay => Collection::DirectPay,
            CollectionMethod::CollectAndPay => Collection::CollectAndPay,
        }
    }
}

/// An application to the CMS.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Application {
    /// The application's effective date.
    pub date: NaiveDate,
    /// Who applied (either parent may).
    pub applicant: Party,
    /// The qualifying children, by the caller's reference for each; at least one, no repeats.
    pub children: Vec<String>,
    /// Whether child-arrangements proceedings are pending in the Family Court.
    pub proceedings_pending: bool,
    /// Direct Pay or Collect and Pay.
    pub collection: CollectionMethod,
    /// The paying parent's gross weekly income, if known (`None`: the default rate applies).
    pub paying_parent_income: Option<Money>,
    /// Relevant other children of the paying parent (3 or more count as 3).
    pub relevant_other_children: u32,
    /// Whether the paying parent (or partner) gets a benefit that puts them on the flat rate
    /// (2012 Regs reg 44: a prescribed benefit, or Universal Credit with no earned income). The
    /// CMS then collects by deduction from that benefit.
    pub flat_rate_benefit: bool,
    /// The paying parent's work, as the CMS knows it from HMRC and DWP: it decides which
    /// deduction orders are open to the CMS.
    pub employment: Employment,
}

/// The paying parent's work.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Employment {
    /// Employed: a deduction from earnings order can be made on the employer (CSA 1991 s.31).
    Employed,
    /// Self-employed: no employer to deduct from; the CMS turns to the bank account.
    SelfEmployed,
    /// Not working (on benefits, or no income at all).
    NotWorking,
}

/// Who a payment came from (the paying parent, or someone the CMS has ordered to pay).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentSource {
    /// The paying parent, by their own payment.
    PayingParent,
    /// The employer, under a deduction from earnings order.
    DeductionFromEarnings,
    /// The bank, under a regular deduction order.
    DeductionFromAccount,
    /// DWP, by deduction from the paying parent's benefit (the flat rate).
    DeductionFromBenefit,
    /// Enforcement agents, from goods taken under a liability order.
    EnforcementAgents,
}

impl PaymentSource {
    /// Whether the payment was collected by enforcement (a deduction order or agents) rather than
    /// paid by the parent or by a deduction from benefit arranged at the outset.
    pub fn is_enforcement(self) -> bool {
        matches!(
            self,
            PaymentSource::DeductionFromEarnings
                | PaymentSource::DeductionFromAccount
                | PaymentSource::EnforcementAgents
        )
    }
}

/// How child-arrangements proceedings ended without a final order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProceedingsOutcome {
    /// The applicant withdrew.
    Withdrawn,
    /// The court dismissed (or refused) the application.
    Dismissed,
}

/// Why a CMS case closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClosureReason {
    /// The receiving parent asked the CMS to close the case for a family-based arrangement.
    FamilyBasedArrangement,
    /// The applicant withdrew the application before a calculation.
    Withdrawn,
}

/// Where an income figure comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncomeSource {
    /// The figure for the initial calculation (a correction of the application's figure): taken
    /// whatever the difference, until the first annual review.
    Initial,
    /// A change the paying parent (or HMRC) reports between annual reviews: taken only if it
    /// differs from the income in the current calculation by 25% or more (2012 Regs reg 34(2)).
    ReportedChange,
    /// The figure gathered for the annual review: recorded now and taken at the next review,
    /// whatever the difference.
    AnnualReview,
}

/// Where shared-care evidence comes from, weakest first: a court order outranks an agreement,
/// which outranks a parent's word.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceSource {
    /// One parent's word, disputed by the other: the CMS does not accept the nights claimed and
    /// applies the configured assumption instead (2012 Regs reg 47 today).
    ParentsWord,
    /// Evidence of an agreement between the parents.
    Agreement,
    /// A court order setting out the care arrangement.
    CourtOrder,
}

/// A child-arrangements order made by the Family Court, as the CMS receives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CourtOrder {
    /// The court's identifier for the order; each order is applied once.
    pub order_id: String,
    /// The date the order was made. Its nights apply from the start of the maintenance period in
    /// which the CMS is told of it (CSA 1991 s.17(4); SI 1999/991 Sch 3D), not from this date: an
    /// order reported late changes nothing retrospectively.
    pub made_on: NaiveDate,
    /// Whether this is the final order ending the proceedings (otherwise an interim order).
    pub is_final: bool,
    /// Nights a year each child is to spend with the paying parent, by child reference. Children
    /// the order does not mention keep their other evidence.
    pub nights: BTreeMap<String, Nights>,
}

/// What a parent contacted the CMS about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContactKind {
    /// A telephone call.
    Call,
    /// A complaint.
    Complaint,
    /// A letter, email or online message.
    Written,
}

/// A proposed care arrangement, for a joint case review: what the liability would be if the court
/// decided it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProposedCare {
    /// Proposed nights a year each child would spend with the **current** paying parent, by child
    /// reference. Children not named keep the nights the case uses today.
    pub nights: BTreeMap<String, Nights>,
    /// Whether the proposal moves the children to live mainly with the current paying parent. The
    /// roles also flip, without this, when every child would spend more than half the year (183
    /// nights or more) with the current paying parent.
    pub flip_residence: bool,
    /// The receiving parent's gross weekly income, if known: needed only if the roles flip, when
    /// that parent would pay (unknown: the default rate).
    pub receiving_parent_income: Option<Money>,
}
