//! The hub's rules, free of I/O: when screening flags a parent, which pathways a flagged parent is
//! referred to, and when a variation application calls for a joint case review. The rest of the
//! service stores what these decide and tells the other agencies.

use chrono::{Days, NaiveDate};
use familybridge_proto::court::v1 as court;

use crate::settings::{Pathway, ReferralCondition, ReferralRule, Screening};

/// The day `weeks` weeks after `date`. Settings are at most ten years and every date the hub
/// works with is a simulated date in this century, so this never leaves the calendar; were it to,
/// the date itself is kept rather than failing a whole clock step.
pub fn weeks_after(date: NaiveDate, weeks: u32) -> NaiveDate {
    date.checked_add_days(Days::new(u64::from(weeks) * 7))
        .unwrap_or(date)
}

/// The first day of the screening window that ends on `on`.
pub fn window_start(on: NaiveDate, window_weeks: u32) -> NaiveDate {
    on.checked_sub_days(Days::new(u64::from(window_weeks) * 7 - 1))
        .unwrap_or(on)
}

/// Whether `distressed_contacts` — the dates of a parent's contacts that showed distress — flag
/// the parent on `on`: at least the configured number within the window ending that day. Returns
/// the count when they do.
pub fn screen(
    settings: &Screening,
    distressed_contacts: &[NaiveDate],
    on: NaiveDate,
) -> Option<u32> {
    let from = window_start(on, settings.window_weeks);
    let within = distressed_contacts
        .iter()
        .filter(|date| (from..=on).contains(*date))
        .count();
    let within = u32::try_from(within).unwrap_or(u32::MAX);
    (within >= settings.distressed_contacts).then_some(within)
}

/// What the hub knows of a flagged parent's family when choosing pathways.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Circumstances {
    /// A payment was missed on the case within the screening window.
    pub missed_payment: bool,
    /// Child-arrangements proceedings are under way for the family.
    pub court_proceedings: bool,
    /// Domestic abuse was alleged in the family's court application.
    pub domestic_abuse_alleged: bool,
}

/// The pathways `rules` refer a flagged parent to, each once, in the order the rules first name
/// them, with the condition that chose it in words.
pub fn pathways(
    rules: &[ReferralRule],
    circumstances: Circumstances,
) -> Vec<(Pathway, &'static str)> {
    let mut chosen: Vec<(Pathway, &'static str)> = Vec::new();
    for rule in rules {
        let (holds, reason) = match rule.when {
            ReferralCondition::Always => (true, "flagged by distress screening"),
            ReferralCondition::MissedPayment => (
                circumstances.missed_payment,
                "flagged by distress screening, with a missed payment",
            ),
            ReferralCondition::CourtProceedings => (
                circumstances.court_proceedings,
                "flagged by distress screening, with court proceedings under way",
            ),
            ReferralCondition::DomesticAbuseAlleged => (
                circumstances.domestic_abuse_alleged,
                "flagged by distress screening, with domestic abuse alleged",
            ),
        };
        if holds && !chosen.iter().any(|(pathway, _)| *pathway == rule.pathway) {
            chosen.push((rule.pathway, reason));
        }
    }
    chosen
}

/// Whether a variation application calls for a joint case review: it would change where a child
/// lives or move a child into another shared-care band of the CMS calculation.
pub fn calls_for_review(application: &court::VariationApplication) -> bool {
    application.proposes_residence_change || application.proposes_shared_care_band_change
}

/// Each child's nights with the CMS case's paying parent under `arrangements`, where the paying
/// parent is the court case's applicant when `paying_is_applicant`.
pub fn nights_with_paying_parent(
    arrangements: &[court::ChildArrangement],
    paying_is_applicant: bool,
) -> Vec<(String, u32)> {
    arrangements
        .iter()
        .map(|child| {
            let nights = if paying_is_applicant {
                child.nights_with_applicant
            } else {
                child.nights_with_respondent
            };
            (child.child_ref.clone(), nights)
        })
        .collect()
}

/// Whether `arrangements` would have some child live mainly with the paying parent (who is the
/// applicant when `paying_is_applicant`): the roles of the CMS case would flip.
pub fn moves_children_to_paying_parent(
    arrangements: &[court::ChildArrangement],
    paying_is_applicant: bool,
) -> bool {
    let paying_side = if paying_is_applicant {
        court::Residence::Applicant
    } else {
        court::Residence::Respondent
    };
    arrangements
        .iter()
        .any(|child| child.lives_with() == paying_side)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        text.parse().expect("a date")
    }

    fn screening(contacts: u32, weeks: u32) -> Screening {
        Screening {
            enabled: true,
            distressed_contacts: contacts,
            window_weeks: weeks,
            flag_weeks: 8,
            include_receiving_parents: true,
        }
    }

    #[test]
    fn two_distressed_contacts_within_the_window_flag_a_parent() {
        let rule = screening(2, 8);
        let contacts = [date("2025-05-01"), date("2025-06-20")];
        assert_eq!(screen(&rule, &contacts, date("2025-06-20")), Some(2));
    }

    #[test]
    fn contacts_further_apart_than_the_window_do_not() {
        let rule = screening(2, 4);
        let contacts = [date("2025-05-01"), date("2025-06-20")];
        assert_eq!(screen(&rule, &contacts, date("2025-06-20")), None);
    }

    #[test]
    fn the_window_includes_its_first_day_and_not_the_day_before() {
        let rule = screening(2, 1);
        // A one-week window ending on the 14th runs from the 8th.
        assert_eq!(
            screen(
                &rule,
                &[date("2025-06-08"), date("2025-06-14")],
                date("2025-06-14")
            ),
            Some(2)
        );
        assert_eq!(
            screen(
                &rule,
                &[date("2025-06-07"), date("2025-06-14")],
                date("2025-06-14")
            ),
            None
        );
    }

    #[test]
    fn pathways_follow_the_rules_once_each() {
        let rules = [
            ReferralRule {
                pathway: Pathway::MentalHealth,
                when: ReferralCondition::Always,
            },
            ReferralRule {
                pathway: Pathway::DebtAdvice,
                when: ReferralCondition::MissedPayment,
            },
            ReferralRule {
                pathway: Pathway::MentalHealth,
                when: ReferralCondition::CourtProceedings,
            },
            ReferralRule {
                pathway: Pathway::DomesticAbuseSupport,
                when: ReferralCondition::DomesticAbuseAlleged,
            },
        ];
        let chosen = pathways(
            &rules,
            Circumstances {
                missed_payment: true,
                court_proceedings: true,
                domestic_abuse_alleged: false,
            },
        );
        let names: Vec<Pathway> = chosen.iter().map(|(pathway, _)| *pathway).collect();
        assert_eq!(names, [Pathway::MentalHealth, Pathway::DebtAdvice]);
    }

    #[test]
    fn a_residence_or_band_change_calls_for_a_review_and_nothing_else_does() {
        let mut application = court::VariationApplication::default();
        assert!(!calls_for_review(&application));
        application.proposes_shared_care_band_change = true;
        assert!(calls_for_review(&application));
        application.proposes_shared_care_band_change = false;
        application.proposes_residence_change = true;
        assert!(calls_for_review(&application));
    }

    #[test]
    fn nights_are_read_from_the_paying_parents_side() {
        let arrangements = [court::ChildArrangement {
            child_ref: "child-1".to_owned(),
            lives_with: court::Residence::Applicant.into(),
            nights_with_applicant: 265,
            nights_with_respondent: 100,
        }];
        assert_eq!(
            nights_with_paying_parent(&arrangements, false),
            [("child-1".to_owned(), 100)]
        );
        assert!(moves_children_to_paying_parent(&arrangements, true));
        assert!(!moves_children_to_paying_parent(&arrangements, false));
    }
}
