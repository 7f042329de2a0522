//! The rules of a private-law children case, free of storage and transport.
//!
//! A case opens on an application, may have hearings and interim orders while proceedings continue,
//! and ends either with a final order or without one (withdrawn or dismissed). A final order can
//! later be varied: an application to vary, then a variation order or an end to the application.
//! Every change carries its effective date, which never goes back before the case's latest change.
//!
//! Errors say which request field is wrong ([`CaseError::Invalid`], a client mistake whatever the
//! case's state) or why the case cannot take the command now ([`CaseError::NotNow`]).

use chrono::NaiveDate;
use familybridge_calculation::Nights;
use familybridge_calculation::parameters::{CareBand, SharedCareParameters};
use serde::{Deserialize, Serialize};

/// Nights in the year that every arrangement shares out.
pub const NIGHTS_IN_YEAR: u32 = 365;

/// Which parent a child lives with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Residence {
    /// With the applicant.
    Applicant,
    /// With the respondent.
    Respondent,
    /// With both equally.
    Shared,
}

/// What an order says about one child: validated so that the nights add up to a year and agree with
/// where the child lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Arrangement {
    /// The child.
    pub child_ref: String,
    /// Who the child lives with.
    pub lives_with: Residence,
    /// Nights a year with the applicant.
    pub nights_with_applicant: u32,
    /// Nights a year with the respondent.
    pub nights_with_respondent: u32,
}

impl Arrangement {
    /// The nights a year the child spends with the parent they do not live with: what the CMS's
    /// shared-care bands are about. For shared residence, the fewer of the two.
    pub fn nights_away_from_home(&self) -> u32 {
        match self.lives_with {
            Residence::Applicant => self.nights_with_respondent,
            Residence::Respondent => self.nights_with_applicant,
            Residence::Shared => self.nights_with_applicant.min(self.nights_with_respondent),
        }
    }
}

/// The kind of an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrderKind {
    /// Interim, while proceedings continue.
    Interim,
    /// Final, ending the proceedings.
    Final,
    /// Varying the final order.
    Variation,
}

/// An order made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// Its id, `CASE/order-N`.
    pub order_id: String,
    /// Its kind.
    pub kind: OrderKind,
    /// The date it was made and took effect.
    pub made_on: NaiveDate,
    /// One arrangement per child of the case, in the case's child order.
    pub arrangements: Vec<Arrangement>,
}

/// The kinds of hearing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HearingKind {
    /// First hearing dispute resolution appointment.
    Fhdra,
    /// Dispute resolution appointment.
    Dra,
    /// Final hearing.
    Final,
}

/// A listed hearing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hearing {
    /// When it will be heard.
    pub hearing_date: NaiveDate,
    /// What for.
    pub kind: HearingKind,
    /// When it was listed.
    pub listed_on: NaiveDate,
}

/// Which party of the case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Side {
    /// The applicant.
    Applicant,
    /// The respondent.
    Respondent,
}

/// A pending application to vary the final order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variation {
    /// When it was made.
    pub applied_on: NaiveDate,
    /// Who made it.
    pub applied_by: Side,
    /// What it proposes, one arrangement per child in the case's child order.
    pub proposed: Vec<Arrangement>,
    /// Some child would live with a different parent.
    pub proposes_residence_change: bool,
    /// Some child's nights away from home would move to another CMS shared-care band.
    pub proposes_shared_care_band_change: bool,
}

/// What a joint case review found about a proposed variation: the financial implications the
/// court sees before it decides. Amounts are kept as the CMS stated them (pounds and pence).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewFindings {
    /// The referral hub's id for the review.
    pub review_id: String,
    /// The family's CMS case.
    pub cms_case_reference: String,
    /// The date they were attached.
    pub attached_on: NaiveDate,
    /// The weekly amount charged today; empty before a first calculation.
    pub current_weekly_amount: String,
    /// The weekly amount under the proposal.
    pub projected_weekly_amount: String,
    /// The person who would pay under the proposal.
    pub projected_payer_ref: String,
    /// The proposal would turn the receiving parent into the paying parent.
    pub roles_flip: bool,
    /// How the CMS made the projection.
    pub notes: Vec<String>,
}

/// Welfare matters raised in the application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct WelfareFlags {
    /// Domestic abuse is alleged.
    pub domestic_abuse_alleged: bool,
    /// There are child protection concerns.
    pub child_protection_concerns: bool,
}

/// Where a case stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    /// Proceedings under way.
    Proceedings,
    /// A final order in force, nothing pending.
    FinalOrder,
    /// A final order in force and a variation application pending.
    VariationPending,
    /// Ended without a final order.
    Closed,
}

/// Why proceedings ended without an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClosureReason {
    /// Withdrawn by the applicant.
    Withdrawn,
    /// Dismissed by the court.
    Dismissed,
}

/// A case as the registry holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Case {
    /// The case reference.
    pub reference: String,
    /// The applicant's person reference.
    pub applicant: String,
    /// The respondent's person reference.
    pub respondent: String,
    /// The children, in the order of the application.
    pub children: Vec<String>,
    /// The date the application was issued.
    pub opened_on: NaiveDate,
    /// The date of the latest change.
    pub last_changed_on: NaiveDate,
    /// Where it stands.
    pub status: Status,
    /// Welfare matters raised.
    pub welfare: WelfareFlags,
    /// The safeguarding narrative from the application (never published).
    pub safeguarding_narrative: String,
    /// Orders made, oldest first.
    pub orders: Vec<Order>,
    /// Hearings listed.
    pub hearings: Vec<Hearing>,
    /// The pending variation application.
    pub pending_variation: Option<Variation>,
    /// The findings of joint case reviews attached to the case, oldest first.
    #[serde(default)]
    pub review_findings: Vec<ReviewFindings>,
}

/// Why a command cannot be carried out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaseError {
    /// A request field is wrong, whatever the case's state. The message starts with the field.
    #[error("{field}: {problem}")]
    Invalid {
        /// The request field, e.g. `arrangements[1].nights_with_applicant`.
        field: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The case is not in a state to take this command.
    #[error("case {reference} is {status}: {reason}")]
    NotNow {
        /// The case.
        reference: String,
        /// Its state, in words.
        status: &'static str,
        /// What the command needs.
        reason: &'static str,
    },
}

fn invalid(field: impl Into<String>, problem: impl Into<String>) -> CaseError {
    CaseError::Invalid {
        field: field.into(),
        problem: problem.into(),
    }
}

/// One child's arrangement as requested, before validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestedArrangement {
    /// The child.
    pub child_ref: String,
    /// Who the child lives with, if stated.
    pub lives_with: Option<Residence>,
    /// Nights with the applicant.
    pub nights_with_applicant: u32,
    /// Nights with the respondent.
    pub nights_with_respondent: u32,
}

impl Status {
    fn describe(self) -> &'static str {
        match self {
            Status::Proceedings => "in proceedings",
            Status::FinalOrder => "decided by a final order",
            Status::VariationPending => "awaiting a decision on a variation application",
            Status::Closed => "closed",
        }
    }
}

impl Case {
    /// Opens a case on an application.
    pub fn open(
        reference: &str,
        applicant: &str,
        respondent: &str,
        children: &[String],
        opened_on: NaiveDate,
        welfare: WelfareFlags,
        safeguarding_narrative: &str,
    ) -> Result<Case, CaseError> {
        check_reference("case_reference", reference)?;
        check_reference("applicant.person_ref", applicant)?;
        check_reference("respondent.person_ref", respondent)?;
        if applicant == respondent {
            return Err(invalid(
                "respondent.person_ref",
                "the respondent must be a different person from the applicant",
            ));
        }
        if children.is_empty() {
            return Err(invalid("child_refs", "at least one child is required"));
        }
        for (index, child) in children.iter().enumerate() {
            let field = format!("child_refs[{index}]");
            check_reference(&field, child)?;
            if children[..index].contains(child) {
                return Err(invalid(field, format!("{child:?} is listed twice")));
            }
        }
        Ok(Case {
            reference: reference.to_owned(),
            applicant: applicant.to_owned(),
            respondent: respondent.to_owned(),
            children: children.to_vec(),
            opened_on,
            last_changed_on: opened_on,
            status: Status::Proceedings,
            welfare,
            safeguarding_narrative: safeguarding_narrative.to_owned(),
            orders: Vec::new(),
            hearings: Vec::new(),
            pending_variation: None,
            review_findings: Vec::new(),
        })
    }

    /// Lists a hearing in proceedings, or on a pending variation application.
    pub fn schedule_hearing(
        &mut self,
        listed_on: NaiveDate,
        hearing_date: NaiveDate,
        kind: HearingKind,
    ) -> Result<(), CaseError> {
        self.check_date(listed_on)?;
        if hearing_date < listed_on {
            return Err(invalid(
                "hearing_date",
                format!("{hearing_date} is before the date it is listed, {listed_on}"),
            ));
        }
        self.require(
            matches!(self.status, Status::Proceedings | Status::VariationPending),
            "a hearing needs proceedings or a variation application under way",
        )?;
        self.hearings.push(Hearing {
            hearing_date,
            kind,
            listed_on,
        });
        self.last_changed_on = listed_on;
        Ok(())
    }

    /// Makes an order of `kind`: interim or final in proceedings, a variation order on a pending
    /// application. Returns the order made.
    pub fn make_order(
        &mut self,
        kind: OrderKind,
        made_on: NaiveDate,
        requested: &[RequestedArrangement],
    ) -> Result<Order, CaseError> {
        self.check_date(made_on)?;
        let arrangements = self.validate_arrangements("arrangements", requested)?;
        match kind {
            OrderKind::Interim => self.require(
                self.status == Status::Proceedings,
                "an interim order needs proceedings under way",
            )?,
            OrderKind::Final => self.require(
                self.status == Status::Proceedings,
                "a final order needs proceedings under way",
            )?,
            OrderKind::Variation => self.require(
                self.status == Status::VariationPending,
                "a variation order needs a pending application to vary",
            )?,
        }
        self.status = match kind {
            OrderKind::Interim => Status::Proceedings,
            OrderKind::Final | OrderKind::Variation => Status::FinalOrder,
        };
        self.pending_variation = None;
        self.last_changed_on = made_on;
        let order = Order {
            order_id: format!("{}/order-{}", self.reference, self.orders.len() + 1),
            kind,
            made_on,
            arrangements,
        };
        self.orders.push(order.clone());
        Ok(order)
    }

    /// Records an application to vary the final order, judging whether it proposes a change of
    /// residence or of shared-care band (the bands in force on the application's date).
    pub fn apply_to_vary(
        &mut self,
        applied_on: NaiveDate,
        applied_by: &str,
        requested: &[RequestedArrangement],
        bands: &SharedCareParameters,
    ) -> Result<&Variation, CaseError> {
        self.check_date(applied_on)?;
        let side = if applied_by == self.applicant {
            Side::Applicant
        } else if applied_by == self.respondent {
            Side::Respondent
        } else {
            return Err(invalid(
                "applied_by.person_ref",
                format!("{applied_by:?} is not a party to case {}", self.reference),
            ));
        };
        let proposed = self.validate_arrangements("proposed_arrangements", requested)?;
        self.require(
            self.status == Status::FinalOrder,
            "an application to vary needs a final order and no pending application",
        )?;
        let current = self
            .in_force()
            .map(|order| order.arrangements.as_slice())
            .unwrap_or_default();
        let band = |arrangement: &Arrangement| -> CareBand {
            if arrangement.lives_with == Residence::Shared {
                return CareBand::EqualCare;
            }
            Nights::new(arrangement.nights_away_from_home())
                .map(|nights| bands.band(nights))
                .unwrap_or(CareBand::EqualCare)
        };
        let residence_change = proposed
            .iter()
            .zip(current)
            .any(|(new, old)| new.lives_with != old.lives_with);
        let band_change = proposed
            .iter()
            .zip(current)
            .any(|(new, old)| band(new) != band(old));
        self.status = Status::VariationPending;
        self.last_changed_on = applied_on;
        Ok(self.pending_variation.insert(Variation {
            applied_on,
            applied_by: side,
            proposed,
            proposes_residence_change: residence_change,
            proposes_shared_care_band_change: band_change,
        }))
    }

    /// Ends proceedings without an order. Returns whether a final order stands (a variation
    /// application ended) rather than the whole case closing.
    pub fn close(
        &mut self,
        closed_on: NaiveDate,
        _reason: ClosureReason,
    ) -> Result<bool, CaseError> {
        self.check_date(closed_on)?;
        let final_order_stands = match self.status {
            Status::Proceedings => false,
            Status::VariationPending => true,
            Status::FinalOrder | Status::Closed => {
                return Err(self.not_now("only proceedings or a pending variation can be ended"));
            }
        };
        self.status = if final_order_stands {
            Status::FinalOrder
        } else {
            Status::Closed
        };
        self.pending_variation = None;
        self.last_changed_on = closed_on;
        Ok(final_order_stands)
    }

    /// Attaches a joint case review's findings to the pending variation application, for the court
    /// to see before deciding.
    pub fn attach_review_findings(&mut self, findings: ReviewFindings) -> Result<(), CaseError> {
        self.check_date(findings.attached_on)?;
        if self.status != Status::VariationPending {
            return Err(self.not_now("review findings belong to a pending variation application"));
        }
        if self
            .review_findings
            .iter()
            .any(|attached| attached.review_id == findings.review_id)
        {
            return Err(invalid(
                "findings.review_id",
                format!("review {:?} is already attached", findings.review_id),
            ));
        }
        self.last_changed_on = findings.attached_on;
        self.review_findings.push(findings);
        Ok(())
    }

    /// The order currently in force: the latest one made.
    pub fn in_force(&self) -> Option<&Order> {
        self.orders.last()
    }

    /// The final (or latest variation) order in force, if the proceedings have ended with one.
    pub fn final_order_in_force(&self) -> Option<&Order> {
        self.orders
            .iter()
            .rev()
            .find(|order| order.kind != OrderKind::Interim)
    }

    fn check_date(&self, date: NaiveDate) -> Result<(), CaseError> {
        if date < self.last_changed_on {
            return Err(invalid(
                "effective_date",
                format!(
                    "{date} is before the case's latest change on {}",
                    self.last_changed_on
                ),
            ));
        }
        Ok(())
    }

    fn require(&self, allowed: bool, reason: &'static str) -> Result<(), CaseError> {
        if allowed {
            Ok(())
        } else {
            Err(self.not_now(reason))
        }
    }

    fn not_now(&self, reason: &'static str) -> CaseError {
        CaseError::NotNow {
            reference: self.reference.clone(),
            status: self.status.describe(),
            reason,
        }
    }

    /// Checks that `requested` covers each child of the case exactly once with nights that add up
    /// to a year and agree with residence; returns them in the case's child order.
    fn validate_arrangements(
        &self,
        field: &str,
        requested: &[RequestedArrangement],
    ) -> Result<Vec<Arrangement>, CaseError> {
        let mut arrangements = Vec::with_capacity(self.children.len());
        for child in &self.children {
            let mut matching = requested
                .iter()
                .enumerate()
                .filter(|(_, arrangement)| &arrangement.child_ref == child);
            let Some((index, found)) = matching.next() else {
                return Err(invalid(
                    field,
                    format!("no arrangement for child {child:?}"),
                ));
            };
            if let Some((duplicate, _)) = matching.next() {
                return Err(invalid(
                    format!("{field}[{duplicate}].child_ref"),
                    format!("child {child:?} has two arrangements"),
                ));
            }
            arrangements.push(validate_one(&format!("{field}[{index}]"), found)?);
        }
        if let Some((index, stranger)) = requested
            .iter()
            .enumerate()
            .find(|(_, arrangement)| !self.children.contains(&arrangement.child_ref))
        {
            return Err(invalid(
                format!("{field}[{index}].child_ref"),
                format!(
                    "{:?} is not a child of case {}",
                    stranger.child_ref, self.reference
                ),
            ));
        }
        Ok(arrangements)
    }
}

fn validate_one(field: &str, requested: &RequestedArrangement) -> Result<Arrangement, CaseError> {
    let Some(lives_with) = requested.lives_with else {
        return Err(invalid(format!("{field}.lives_with"), "required"));
    };
    let (applicant, respondent) = (
        requested.nights_with_applicant,
        requested.nights_with_respondent,
    );
    if applicant + respondent != NIGHTS_IN_YEAR {
        return Err(invalid(
            format!("{field}.nights_with_applicant"),
            format!(
                "{applicant} nights with the applicant and {respondent} with the respondent make \
                 {}, not the {NIGHTS_IN_YEAR} nights of a year",
                applicant + respondent
            ),
        ));
    }
    let consistent = match lives_with {
        Residence::Applicant => applicant >= respondent,
        Residence::Respondent => respondent >= applicant,
        Residence::Shared => applicant.abs_diff(respondent) <= 1,
    };
    if !consistent {
        return Err(invalid(
            format!("{field}.lives_with"),
            format!(
                "{lives_with:?} does not agree with {applicant} nights with the applicant and \
                 {respondent} with the respondent"
            ),
        ));
    }
    Ok(Arrangement {
        child_ref: requested.child_ref.clone(),
        lives_with,
        nights_with_applicant: applicant,
        nights_with_respondent: respondent,
    })
}

/// References (cases, people, children) follow the one rule every agency applies
/// ([`familybridge_proto::validate::reference_problem`]).
fn check_reference(field: &str, value: &str) -> Result<(), CaseError> {
    match familybridge_proto::validate::reference_problem(value) {
        Some(problem) => Err(invalid(field, problem)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use familybridge_calculation::ParameterBook;

    use super::*;

    fn date(text: &str) -> NaiveDate {
        text.parse().expect("a test date")
    }

    fn arrangement(child: &str, lives_with: Residence, applicant: u32) -> RequestedArrangement {
        RequestedArrangement {
            child_ref: child.to_owned(),
            lives_with: Some(lives_with),
            nights_with_applicant: applicant,
            nights_with_respondent: NIGHTS_IN_YEAR - applicant,
        }
    }

    fn opened() -> Case {
        Case::open(
            "FB25P00001",
            "person-1",
            "person-2",
            &["child-1".to_owned(), "child-2".to_owned()],
            date("2025-01-06"),
            WelfareFlags::default(),
            "narrative",
        )
        .expect("a valid application")
    }

    fn bands() -> SharedCareParameters {
        ParameterBook::statutory()
            .in_force_on(date("2025-01-06"))
            .expect("rules in force")
            .shared_care
    }

    #[test]
    fn a_case_runs_from_interim_to_final_order_and_variation() {
        let mut case = opened();
        let both = [
            arrangement("child-1", Residence::Applicant, 300),
            arrangement("child-2", Residence::Applicant, 300),
        ];
        let interim = case
            .make_order(OrderKind::Interim, date("2025-02-01"), &both)
            .expect("interim");
        assert_eq!(interim.order_id, "FB25P00001/order-1");
        assert_eq!(case.status, Status::Proceedings);
        let last = case
            .make_order(OrderKind::Final, date("2025-10-01"), &both)
            .expect("final");
        assert_eq!(last.order_id, "FB25P00001/order-2");
        assert_eq!(case.status, Status::FinalOrder);
        assert_eq!(
            case.make_order(OrderKind::Interim, date("2025-10-02"), &both),
            Err(CaseError::NotNow {
                reference: "FB25P00001".to_owned(),
                status: "decided by a final order",
                reason: "an interim order needs proceedings under way",
            })
        );

        // 65 → 110 nights away from home moves from band 1 (52–103) to band 2 (104–155).
        let proposal = [
            arrangement("child-1", Residence::Applicant, 255),
            arrangement("child-2", Residence::Applicant, 300),
        ];
        let variation = case
            .apply_to_vary(date("2026-01-05"), "person-2", &proposal, &bands())
            .expect("variation");
        assert!(variation.proposes_shared_care_band_change);
        assert!(!variation.proposes_residence_change);
        assert_eq!(variation.applied_by, Side::Respondent);
        assert_eq!(case.status, Status::VariationPending);
        case.make_order(OrderKind::Variation, date("2026-03-02"), &proposal)
            .expect("variation order");
        assert_eq!(case.status, Status::FinalOrder);
        assert_eq!(case.pending_variation, None);
    }

    #[test]
    fn a_variation_within_a_band_changes_nothing_but_a_move_of_home_does() {
        let mut case = opened();
        let current = [
            arrangement("child-1", Residence::Applicant, 300),
            arrangement("child-2", Residence::Applicant, 300),
        ];
        case.make_order(OrderKind::Final, date("2025-03-01"), &current)
            .expect("final");
        // 65 → 70 nights away: still band 1.
        let small = [
            arrangement("child-1", Residence::Applicant, 295),
            arrangement("child-2", Residence::Applicant, 300),
        ];
        let variation = case
            .apply_to_vary(date("2025-06-01"), "person-1", &small, &bands())
            .expect("variation")
            .clone();
        assert!(!variation.proposes_shared_care_band_change);
        assert!(!variation.proposes_residence_change);
        assert_eq!(
            case.close(date("2025-07-01"), ClosureReason::Withdrawn),
            Ok(true)
        );
        assert_eq!(case.status, Status::FinalOrder);

        let moved = [
            arrangement("child-1", Residence::Respondent, 65),
            arrangement("child-2", Residence::Applicant, 300),
        ];
        let variation = case
            .apply_to_vary(date("2025-08-01"), "person-1", &moved, &bands())
            .expect("variation");
        assert!(variation.proposes_residence_change);
        // Nights away from home stay 65 (now with the applicant): the band is unchanged.
        assert!(!variation.proposes_shared_care_band_change);
    }

    #[test]
    fn arrangements_must_cover_each_child_once_with_a_year_of_nights() {
        let mut case = opened();
        let error = |requested: &[RequestedArrangement]| {
            case.clone()
                .make_order(OrderKind::Interim, date("2025-02-01"), requested)
                .expect_err("refused")
        };
        let field = |error: CaseError| match error {
            CaseError::Invalid { field, .. } => field,
            other => panic!("expected an invalid field, got {other:?}"),
        };
        assert_eq!(
            field(error(&[arrangement("child-1", Residence::Applicant, 300)])),
            "arrangements"
        );
        let mut short = arrangement("child-2", Residence::Applicant, 300);
        short.nights_with_respondent = 60;
        assert_eq!(
            field(error(&[
                arrangement("child-1", Residence::Applicant, 300),
                short
            ])),
            "arrangements[1].nights_with_applicant"
        );
        assert_eq!(
            field(error(&[
                arrangement("child-1", Residence::Respondent, 300),
                arrangement("child-2", Residence::Applicant, 300),
            ])),
            "arrangements[0].lives_with"
        );
        assert_eq!(
            field(error(&[
                arrangement("child-1", Residence::Applicant, 300),
                arrangement("child-2", Residence::Applicant, 300),
                arrangement("child-9", Residence::Applicant, 300),
            ])),
            "arrangements[2].child_ref"
        );
        assert_eq!(
            case.make_order(
                OrderKind::Interim,
                date("2025-01-01"),
                &[
                    arrangement("child-1", Residence::Applicant, 300),
                    arrangement("child-2", Residence::Applicant, 300)
                ]
            )
            .map_err(field),
            Err("effective_date".to_owned())
        );
    }

    #[test]
    fn an_application_needs_two_people_and_distinct_children() {
        let open = |applicant: &str, respondent: &str, children: &[&str]| {
            let children: Vec<String> = children.iter().map(|c| (*c).to_owned()).collect();
            Case::open(
                "FB1",
                applicant,
                respondent,
                &children,
                date("2025-01-01"),
                WelfareFlags::default(),
                "",
            )
        };
        assert!(matches!(open("p1", "p1", &["c1"]),
            Err(CaseError::Invalid { field, .. }) if field == "respondent.person_ref"));
        assert!(matches!(open("p1", "p2", &[]),
            Err(CaseError::Invalid { field, .. }) if field == "child_refs"));
        assert!(matches!(open("p1", "p2", &["c1", "c1"]),
            Err(CaseError::Invalid { field, .. }) if field == "child_refs[1]"));
        assert!(matches!(open("", "p2", &["c1"]),
            Err(CaseError::Invalid { field, .. }) if field == "applicant.person_ref"));
        assert!(matches!(open("p 1", "p2", &["c1"]),
            Err(CaseError::Invalid { field, .. }) if field == "applicant.person_ref"));
    }

    #[test]
    fn a_case_closes_only_while_something_is_pending() {
        let mut case = opened();
        assert_eq!(
            case.close(date("2025-03-01"), ClosureReason::Dismissed),
            Ok(false)
        );
        assert_eq!(case.status, Status::Closed);
        assert!(matches!(
            case.close(date("2025-03-02"), ClosureReason::Dismissed),
            Err(CaseError::NotNow { .. })
        ));
    }
}
