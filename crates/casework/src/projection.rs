//! Projecting the liability under a proposed care arrangement, for a joint case review, without
//! changing the case.
//!
//! The court, deciding a variation of child arrangements, sees what the CMS would charge if it
//! decided one way or the other. The projection uses the case's income in calculation on the date,
//! the rules in force on it and the proposed nights. If the children would live mainly with the
//! current paying parent, the roles flip: the current receiving parent would pay, on their own
//! income if the review supplies it, or else the default rate (which the projection says).

use chrono::NaiveDate;
use familybridge_calculation::{
    Calculation, CalculationInput, IncomeEvidence, Money, Nights, ParameterBook, ReceivingParent,
    calculate, nights::MAX_NIGHTS,
};
use serde::Serialize;

use crate::case::CaseFile;
use crate::error::CaseError;
use crate::events::CalculatedRate;
use crate::request::{Party, ProposedCare};
use crate::settings::CaseSettings;
use crate::timeline::Rules;

/// One child's nights with the parent who would pay, under the proposal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProjectedChild {
    /// The child.
    pub child_ref: String,
    /// Nights a year with the parent who would pay.
    pub nights_with_payer: u32,
}

/// The liability a proposed care arrangement would give.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Projection {
    /// The date projected (its rules and income are used).
    pub date: NaiveDate,
    /// Who would pay.
    pub payer: Party,
    /// Whether the roles would flip (the current receiving parent would pay).
    pub roles_flip: bool,
    /// The weekly amount the payer would pay.
    pub weekly_amount: Money,
    /// The rate.
    pub rate: CalculatedRate,
    /// Whether the payer's income is known; if not, the weekly amount is the default rate.
    pub payer_income_known: bool,
    /// The weekly amount the case charges on `date` today, for comparison (`None` before the
    /// first calculation).
    pub current_weekly_amount: Option<Money>,
    /// Each child's nights with the payer under the proposal.
    pub children: Vec<ProjectedChild>,
    /// Plain-words notes on how the projection was made.
    pub notes: Vec<String>,
    /// The engine's calculation, with its explanation.
    pub calculation: Calculation,
}

/// More than half the year: a child with at least this many nights with a parent lives mainly
/// with them.
const LIVES_MAINLY_WITH_NIGHTS: u32 = MAX_NIGHTS / 2 + 1;

impl CaseFile {
    /// The weekly liability, and which parent would pay, if the proposed care arrangement were in
    /// force on `date`. The case is not changed.
    ///
    /// Children the proposal does not name keep the nights the case uses on `date`. The roles flip
    /// if the proposal says the children move to the current paying parent, or if every child
    /// would spend more than half the year (183 nights or more) with them; the nights with the new
    /// payer are then the rest of the year. Decision: for a flipped projection the new payer is
    /// taken to have no relevant other children and no flat-rate benefit (the case does not know
    /// them).
    ///
    /// Error: a child in `proposal.nights` that the case does not have (`proposal.nights`).
    pub fn project_liability(
        &self,
        date: NaiveDate,
        proposal: &ProposedCare,
        settings: &CaseSettings,
        book: &ParameterBook,
    ) -> Result<Projection, CaseError> {
        settings.validate()?;
        if let Some(unknown) = proposal
            .nights
            .keys()
            .find(|c| !self.application.children.contains(c))
        {
            return Err(CaseError::invalid(
                "proposal.nights",
                format!("{unknown:?} is not a child on this case"),
            ));
        }
        let rules = Rules::new(book);
        let params = rules.on(date)?;
        let nights_with_current_payer: Vec<(String, u32)> = self
            .application
            .children
            .iter()
            .map(|child| {
                let nights = proposal.nights.get(child).map_or_else(
                    || self.nights_for(child, date, settings, &params).0,
                    |n| n.get(),
                );
                (child.clone(), nights)
            })
            .collect();
        let roles_flip = proposal.flip_residence
            || nights_with_current_payer
                .iter()
                .all(|(_, n)| *n >= LIVES_MAINLY_WITH_NIGHTS);

        let mut notes = Vec::new();
        let (payer, income, relevant_other_children, flat_rate_benefit, children) = if roles_flip {
            notes.push(
                "The children would live mainly with the current paying parent: the roles flip \
                 and the current receiving parent would pay."
                    .to_owned(),
            );
            let children: Vec<ProjectedChild> = nights_with_current_payer
                .into_iter()
                .map(|(child_ref, n)| ProjectedChild {
                    child_ref,
                    nights_with_payer: MAX_NIGHTS.saturating_sub(n),
                })
                .collect();
            (
                Party::ReceivingParent,
                proposal.receiving_parent_income,
                0,
                false,
                children,
            )
        } else {
            let children = nights_with_current_payer
                .into_iter()
                .map(|(child_ref, n)| ProjectedChild {
                    child_ref,
                    nights_with_payer: n,
                })
                .collect();
            (
                Party::PayingParent,
                self.income_in_calculation_on(date),
                self.application.relevant_other_children,
                self.application.flat_rate_benefit,
                children,
            )
        };
        let payer_income_known = income.is_some();
        if !payer_income_known {
            notes.push(
                "The paying parent's income is not known: the weekly amount is the default rate \
                 (2012 Regs reg 49)."
                    .to_owned(),
            );
        }
        let nights = children
            .iter()
            .map(|c| Nights::new(c.nights_with_payer))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| CaseError::invalid("proposal.nights", e.to_string()))?;
        let input = CalculationInput::new(
            income.map_or(IncomeEvidence::NotProvided, IncomeEvidence::Known),
            relevant_other_children,
            flat_rate_benefit,
            None,
            vec![ReceivingParent::new(nights)],
            self.collection.method.into(),
        )
        .map_err(|e| CaseError::invalid("application.children", e.to_string()))?;
        let calculation = calculate(&input, &params);
        Ok(Projection {
            date,
            payer,
            roles_flip,
            weekly_amount: calculation.weekly_amount,
            rate: calculation.rate.into(),
            payer_income_known,
            current_weekly_amount: self.weekly_amount_on(date),
            children,
            notes,
            calculation,
        })
    }
}
