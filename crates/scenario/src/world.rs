//! The world: synthetic families and what they do, drawn from seeded random streams — pure.
//!
//! [`family`] builds one family's [`FamilyPlan`] from the scenario's seed and population, the
//! replication and the family's index. It is cheap and needs no other family, so a driver can
//! stream families one at a time. Each family draws from streams of its own, one per purpose
//! (household, court, payment, reporting, distress, contact, income), each seeded by SHA-256 of
//! (seed, replication, family, purpose): so every arm sees the same families with the same luck
//! (common random numbers), nothing depends on the order families are run in or on threads, and
//! changing, say, a court parameter leaves every household and payment draw as it was.
//!
//! The plan never reads an arm's levers. It holds what the family *would* do; the driver applies
//! the levers (under the automatic route it skips the `ReportCourtOrderToCms` actions; payments
//! follow what the CMS says is due, through [`payment_for`]).
//!
//! Draws use integers only: a probability is compared as an integer threshold out of 10⁹, amounts
//! are whole pence, durations whole days — so plans are identical on every machine.

use std::collections::BTreeMap;

use std::sync::OnceLock;

use chrono::{Days, NaiveDate};
use familybridge_casework::{ContactKind, Employment, PaymentSource, ProceedingsOutcome};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, MathematicalOps, RoundingStrategy};
use rust_decimal_macros::dec;
use sha2::{Digest, Sha256};

use crate::population::{LOW_INCOME_THRESHOLD_WEEKLY, Population};
use crate::scenario::Scenario;

/// Bands of nights a year with the paying parent, as the CMS reads them (CSA 1991 Sch 1 para 7),
/// inclusive, ending with equal care at 182 nights (the calculation parameters' threshold).
pub const NIGHT_BANDS: [(u32, u32); 6] = [
    (0, 51),
    (52, 103),
    (104, 155),
    (156, 174),
    (175, 181),
    (182, 182),
];

/// The CMS shared-care band (index into [`NIGHT_BANDS`]) of a number of nights.
pub fn night_band(nights: u32) -> usize {
    NIGHT_BANDS
        .iter()
        .rposition(|(low, _)| nights >= *low)
        .unwrap_or(0)
}

/// How every CMS case reference of a replication begins ("CMS-R2-"): each replication's cases
/// have references of their own, and the CMS's event streams are named by them.
pub fn cms_case_prefix(replication: u32) -> String {
    format!("CMS-R{replication}-")
}

/// How every court case reference of a replication begins ("FB-R2-"), as [`cms_case_prefix`].
pub fn court_case_prefix(replication: u32) -> String {
    format!("FB-R{replication}-")
}

/// One synthetic family and everything it will do in the period.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FamilyPlan {
    /// The master seed the family was drawn with (its later luck, per instalment, draws from it).
    pub seed: u64,
    /// The replication (from 1).
    pub replication: u32,
    /// The family's index in the replication (from 0).
    pub family_index: u64,
    /// The paying parent's reference (`person-r1-000042a`).
    pub paying_parent_ref: String,
    /// The receiving parent's reference (`person-r1-000042b`).
    pub receiving_parent_ref: String,
    /// The qualifying children's references within the family (`child-1`, …).
    pub child_refs: Vec<String>,
    /// The CMS case reference (`CMS-R1-000042`).
    pub cms_case_reference: String,
    /// The court case reference, if the family has child-arrangements proceedings in the period.
    pub court_case_reference: Option<String>,
    /// The date of the CMS application (within the period).
    pub application_date: NaiveDate,
    /// Whether the family asks for Collect and Pay (otherwise Direct Pay).
    pub collect_and_pay: bool,
    /// The paying parent's gross weekly income, to the penny (`None`: not known to the CMS).
    pub gross_weekly_income: Option<Decimal>,
    /// Whether the paying parent gets a benefit that gives the flat rate (Universal Credit with no
    /// earned income, or another prescribed benefit).
    pub flat_rate_benefit: bool,
    /// The paying parent's work.
    pub employment: Employment,
    /// Whether the family leaves the CMS for a family-based arrangement when Direct Pay is not
    /// available to it.
    pub leaves_when_direct_pay_ends: bool,
    /// How enforcement's later steps turn out for this family.
    pub enforcement_luck: EnforcementLuck,
    /// Relevant other children of the paying parent.
    pub relevant_other_children: u32,
    /// How the paying parent pays.
    pub payment: PaymentBehaviour,
    /// The court proceedings, if any (including what happens after the period).
    pub court: Option<CourtPlan>,
    /// The paying parent's episodes of distress, clipped to the period.
    pub distress_episodes: Vec<DistressEpisode>,
    /// What the family does, in date order (ties in the order they must happen).
    pub actions: Vec<PlannedAction>,
}

/// How a paying parent pays, on each service (behaviour is drawn separately for the two, with the
/// parent keeping their rank: one draw places them in both distributions, so a parent who pays
/// less than most on Direct Pay pays less than most on Collect and Pay too — an assumption).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PaymentBehaviour {
    /// What share of each instalment they pay on Collect and Pay.
    pub collect_and_pay: PaymentPattern,
    /// What share of each instalment they pay on Direct Pay.
    pub direct_pay: PaymentPattern,
    /// On Direct Pay, how many days after the due date they pay (0: on time).
    pub direct_pay_days_late: u32,
    /// The first instalment they pay (1 or 2).
    pub first_instalment: u32,
    /// How many days before each due date they pay (on time).
    pub days_before_due: u32,
}

/// How enforcement turns out for one family (drawn once, whether or not the family ever reaches
/// it): whether each kind of deduction, once in force, collects the instalments — the employer
/// deducts, the account has funds, the benefit is paid — and how the later steps end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EnforcementLuck {
    /// A deduction from earnings order collects each instalment.
    pub earnings_deduction_collects: bool,
    /// A regular deduction order collects each instalment.
    pub account_deduction_collects: bool,
    /// A deduction from benefit collects each instalment.
    pub benefit_deduction_collects: bool,
    /// Enforcement agents, once instructed, collect the arrears.
    pub agents_collect: bool,
    /// The paying parent, once disqualified, pays the arrears.
    pub pays_after_disqualification: bool,
}

/// What share of each instalment a paying parent pays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PaymentPattern {
    /// All of it.
    Full,
    /// This share of it (under 90%).
    Partial(Decimal),
    /// Nothing.
    Never,
}

/// A family's child-arrangements proceedings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CourtPlan {
    /// The court application's date.
    pub opened_on: NaiveDate,
    /// Whether the proceedings were pending when the CMS application was made.
    pub pending_at_application: bool,
    /// How they end.
    pub outcome: CourtOutcome,
    /// When they end (possibly after the period, in which case the actions stop at its end).
    pub ends_on: NaiveDate,
    /// The nights a year each child is to spend with the paying parent under the final order
    /// (meaningful for [`CourtOutcome::FinalOrder`]).
    pub final_order_nights: u32,
}

/// How proceedings end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CourtOutcome {
    /// With a final order.
    FinalOrder,
    /// Withdrawn by the applicant.
    Withdrawn,
    /// Dismissed by the court.
    Dismissed,
}

/// An episode of distress: `start..end`, clipped to the period.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DistressEpisode {
    /// The first day.
    pub start: NaiveDate,
    /// The first day after it.
    pub end: NaiveDate,
}

impl DistressEpisode {
    /// Its length in days.
    pub fn days(&self) -> i64 {
        (self.end - self.start).num_days()
    }
}

/// Something a family does on a date.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedAction {
    /// The date.
    pub date: NaiveDate,
    /// What.
    pub action: Action,
}

/// Which of a family's court orders an action refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum OrderRef {
    /// The interim order.
    Interim,
    /// The final order.
    Final,
    /// The order made on the application to vary.
    Variation,
}

/// What a family (or the court deciding its case) does. The driver translates each to one gRPC
/// call. Nights are a year's nights with the **paying** parent, by child reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// A parent applies to the court for a child arrangements order.
    OpenCourtCase {
        /// Whether the receiving parent applies (otherwise the paying parent).
        applicant_is_receiving_parent: bool,
        /// Whether the application alleges domestic abuse.
        domestic_abuse_alleged: bool,
    },
    /// The court makes an interim order.
    InterimOrder {
        /// Nights with the paying parent, by child.
        nights_with_paying_parent: BTreeMap<String, u32>,
    },
    /// The court makes its final order (which ends the proceedings).
    FinalOrder {
        /// Nights with the paying parent, by child.
        nights_with_paying_parent: BTreeMap<String, u32>,
    },
    /// A parent applies to vary the final order.
    ApplyToVary {
        /// Proposed nights with the paying parent, by child.
        proposed_nights_with_paying_parent: BTreeMap<String, u32>,
    },
    /// The court decides the application to vary.
    VariationOrder {
        /// Nights with the paying parent, by child.
        nights_with_paying_parent: BTreeMap<String, u32>,
    },
    /// The proceedings end without a final order.
    CloseCourtCase {
        /// Withdrawn (true) or dismissed (false).
        withdrawn: bool,
    },
    /// The receiving parent applies to the CMS.
    OpenCmsApplication {
        /// Whether child-arrangements proceedings are pending.
        proceedings_pending: bool,
    },
    /// The CMS notifies the paying parent of the application: the initial effective date. (The
    /// CMS's processing time is the world's: the agencies' rules decide what a notice does.)
    NotifyPayingParent,
    /// The CMS makes the initial calculation (refused, and so skipped, while the CMS waits for
    /// proceedings under delayed involvement).
    MakeCalculation,
    /// A receiving parent waiting for the CMS (delayed involvement, manual route) tells it the
    /// proceedings ended: with the final order, or without one. Carried out only while the CMS is
    /// waiting.
    ReportProceedingsEnded {
        /// How they ended: `None` with the final order (reported as the order), otherwise
        /// withdrawn or dismissed.
        without_order: Option<ProceedingsOutcome>,
    },
    /// The paying parent reports a change of income.
    ReportIncomeChange {
        /// The new gross weekly income, to the penny.
        gross_weekly_income: Decimal,
    },
    /// A parent contacts the CMS.
    Contact {
        /// The paying parent (otherwise the receiving parent).
        by_paying_parent: bool,
        /// Whether the contact shows distress.
        distressed: bool,
        /// How.
        kind: ContactKind,
    },
    /// The paying parent tells the CMS they share a child's care, on their word alone; the
    /// receiving parent disputes it.
    ClaimSharedCare {
        /// The child.
        child_ref: String,
        /// The nights a year claimed.
        nights: u32,
    },
    /// A parent reports a court order to the CMS (manual route only; skipped when orders reach
    /// the CMS automatically).
    ReportCourtOrderToCms {
        /// Which order.
        order: OrderRef,
    },
}

impl Action {
    /// Order among a family's actions on the same day: the court case exists before its orders,
    /// orders before the CMS application they may precede, and reports and contacts come last.
    fn same_day_rank(&self) -> u8 {
        match self {
            Action::OpenCourtCase { .. } => 0,
            Action::InterimOrder { .. }
            | Action::FinalOrder { .. }
            | Action::ApplyToVary { .. }
            | Action::VariationOrder { .. }
            | Action::CloseCourtCase { .. } => 1,
            Action::OpenCmsApplication { .. } => 2,
            Action::NotifyPayingParent
            | Action::MakeCalculation
            | Action::ReportIncomeChange { .. }
            | Action::Contact { .. }
            | Action::ClaimSharedCare { .. }
            | Action::ReportCourtOrderToCms { .. }
            | Action::ReportProceedingsEnded { .. } => 3,
        }
    }
}

/// A random stream of one family for one purpose.
struct Stream(ChaCha8Rng);

/// The resolution of a probability draw: thresholds are whole parts in 10⁹.
const CHANCE_SCALE: u64 = 1_000_000_000;

impl Stream {
    fn new(seed: u64, replication: u32, family: u64, purpose: &str) -> Stream {
        let mut hasher = Sha256::new();
        hasher.update(b"familybridge-scenario stream v1\0");
        hasher.update(seed.to_be_bytes());
        hasher.update(replication.to_be_bytes());
        hasher.update(family.to_be_bytes());
        hasher.update(purpose.as_bytes());
        Stream(ChaCha8Rng::from_seed(hasher.finalize().into()))
    }

    /// Uniform in `0..n` (`n ≥ 1`), by rejection so there is no modulo bias.
    fn below(&mut self, n: u64) -> u64 {
        let n = n.max(1);
        let zone = u64::MAX - (u64::MAX % n);
        loop {
            let x = self.0.next_u64();
            if x < zone {
                return x % n;
            }
        }
    }

    /// Uniform in `low..=high` (`high < low` gives `low`).
    fn between(&mut self, low: u64, high: u64) -> u64 {
        if high <= low {
            return low;
        }
        low + self.below(high - low + 1)
    }

    fn threshold(p: Decimal) -> u64 {
        (p * Decimal::from(CHANCE_SCALE))
            .round()
            .to_u64()
            .unwrap_or(0)
            .min(CHANCE_SCALE)
    }

    /// True with probability `p`.
    fn chance(&mut self, p: Decimal) -> bool {
        self.below(CHANCE_SCALE) < Stream::threshold(p)
    }

    /// An index drawn with the given shares (which add up to 1; any shortfall goes to the last).
    fn pick(&mut self, shares: &[Decimal]) -> usize {
        let x = self.below(CHANCE_SCALE);
        let mut cumulative = Decimal::ZERO;
        for (i, share) in shares.iter().enumerate() {
            cumulative += *share;
            if x < Stream::threshold(cumulative) {
                return i;
            }
        }
        shares.len().saturating_sub(1)
    }

    /// An amount in whole pence, uniform in `low..=high`.
    fn pounds(&mut self, low: Decimal, high: Decimal) -> Decimal {
        let low = pence(low);
        let high = pence(high);
        Decimal::new(self.between(low, high) as i64, 2)
    }

    /// A whole number of days uniform in `low_weeks..=high_weeks`, in days.
    fn days_between_weeks(&mut self, low_weeks: Decimal, high_weeks: Decimal) -> u64 {
        self.between(weeks_to_days(low_weeks), weeks_to_days(high_weeks))
    }
}

/// Whole pence in an amount (non-negative, capped far above any weekly income).
fn pence(amount: Decimal) -> u64 {
    (amount * Decimal::ONE_HUNDRED)
        .round()
        .to_u64()
        .unwrap_or(0)
        .min(1_000_000_000)
}

/// Whole days in a number of weeks (rounded half away from zero; capped at a century).
fn weeks_to_days(weeks: Decimal) -> u64 {
    (weeks * Decimal::from(7))
        .round()
        .to_u64()
        .unwrap_or(0)
        .min(36_500)
}

fn whole(value: Decimal) -> u64 {
    value.round().to_u64().unwrap_or(0).min(36_500)
}

fn add_days(date: NaiveDate, days: u64) -> NaiveDate {
    date.checked_add_days(Days::new(days))
        .unwrap_or(NaiveDate::MAX)
}

fn sub_days(date: NaiveDate, days: u64) -> NaiveDate {
    date.checked_sub_days(Days::new(days))
        .unwrap_or(NaiveDate::MIN)
}

/// Collects actions in causal order; sorted stably by date and [`Action::same_day_rank`] at the
/// end, so same-day actions of one rank keep that order.
struct Actions {
    end: NaiveDate,
    list: Vec<PlannedAction>,
}

impl Actions {
    /// Adds `action` if it falls inside the period; says whether it did.
    fn push(&mut self, date: NaiveDate, action: Action) -> bool {
        if date < self.end {
            self.list.push(PlannedAction { date, action });
            true
        } else {
            false
        }
    }
}

/// Builds family `family_index` of replication `replication` (from 1). Depends only on the
/// scenario's seed, run period and population — never on its arms.
pub fn family(scenario: &Scenario, replication: u32, family_index: u64) -> FamilyPlan {
    let run = &scenario.run;
    let p = &scenario.population;
    let stream = |purpose: &str| Stream::new(run.seed, replication, family_index, purpose);
    let start = run.start;
    let end = run.end();
    let period_days = (end - start).num_days().max(1) as u64;

    // Household: who they are, income, collection method.
    let mut household = stream("household");
    let children = 1 + household.pick(&[
        p.one_child_share,
        p.two_children_share,
        Decimal::ONE - p.one_child_share - p.two_children_share,
    ]);
    let child_refs: Vec<String> = (1..=children).map(|i| format!("child-{i}")).collect();
    let relevant_other_children = u32::from(household.chance(p.relevant_other_children_share));
    let flat_rate_benefit = household.chance(p.flat_rate_benefit_share());
    // Flat-rate benefit parents are collected by deduction from benefit (on Collect and Pay);
    // the others choose Collect and Pay so that the whole comes to `collect_and_pay_share`.
    let benefit = p.flat_rate_benefit_share();
    let others_choosing = if benefit >= Decimal::ONE {
        Decimal::ONE
    } else {
        (p.collect_and_pay_share - benefit) / (Decimal::ONE - benefit)
    };
    let chooses_collect_and_pay = household.chance(others_choosing);
    let collect_and_pay = flat_rate_benefit || chooses_collect_and_pay;
    let self_employed = household.chance(p.self_employed_share);
    let employment = if flat_rate_benefit {
        Employment::NotWorking
    } else if self_employed {
        Employment::SelfEmployed
    } else {
        Employment::Employed
    };
    let gross_weekly_income = draw_income(&mut household, p, flat_rate_benefit);
    let window_days =
        (run.month_start(whole(p.application_window).min(u64::from(run.months)) as u32) - start)
            .num_days()
            .max(1) as u64;
    let mut application_date = add_days(start, household.below(window_days));

    // Court: whether there are proceedings, when, and how they end.
    let mut court_stream = stream("court");
    let court_kind = court_stream.pick(&[
        p.proceedings_pending_share,
        p.later_proceedings_share,
        Decimal::ONE - p.proceedings_pending_share - p.later_proceedings_share,
    ]);
    let court = match court_kind {
        0 => {
            // Pending at application: the court application comes first, within the window.
            let opened_on = application_date;
            application_date = add_days(
                opened_on,
                court_stream.days_between_weeks(Decimal::ZERO, p.weeks_court_to_cms_max),
            )
            .min(sub_days(end, 1));
            Some(draw_court(
                &mut court_stream,
                p,
                &scenario.court_durations,
                opened_on,
                true,
            ))
        }
        1 => {
            let opened_on = add_days(
                application_date,
                1 + court_stream.days_between_weeks(Decimal::ZERO, p.weeks_cms_to_later_court_max),
            );
            (opened_on < end).then(|| {
                draw_court(
                    &mut court_stream,
                    p,
                    &scenario.court_durations,
                    opened_on,
                    false,
                )
            })
        }
        _ => None,
    };

    let mut actions = Actions {
        end,
        list: Vec::new(),
    };
    let mut reporting = stream("reporting");
    if let Some(court) = &court {
        plan_court(
            &mut actions,
            &mut court_stream,
            &mut reporting,
            p,
            court,
            &child_refs,
            application_date,
        );
    }
    actions.push(
        application_date,
        Action::OpenCmsApplication {
            proceedings_pending: court.as_ref().is_some_and(|c| c.pending_at_application),
        },
    );

    // The CMS's processing: the notice to the paying parent (the initial effective date), then
    // the calculation — within six weeks of the application for most, up to 26 for the rest.
    let mut processing = stream("processing");
    let notice_on = add_days(
        application_date,
        processing.days_between_weeks(Decimal::ZERO, p.notice_weeks_max),
    );
    let six_weeks = add_days(application_date, 42);
    let calculation_on = if processing.chance(p.calculated_within_6_weeks_share) {
        add_days(
            notice_on,
            processing.below((six_weeks - notice_on).num_days().max(0) as u64 + 1),
        )
    } else {
        add_days(
            six_weeks,
            1 + processing.days_between_weeks(Decimal::ZERO, p.calculation_weeks_max - dec!(6)),
        )
    };
    actions.push(notice_on, Action::NotifyPayingParent);
    actions.push(calculation_on.max(notice_on), Action::MakeCalculation);

    // Payments: one rank places the parent in both services' distributions.
    let mut payment_stream = stream("payment");
    let rank = payment_stream.below(CHANCE_SCALE);
    let placed = |full: Decimal, partly: Decimal| {
        if rank < Stream::threshold(full) {
            PaymentPattern::Full
        } else if rank < Stream::threshold(full + partly) {
            PaymentPattern::Partial(p.partial_payment_fraction)
        } else {
            PaymentPattern::Never
        }
    };
    let collect_and_pay_pattern = placed(
        p.collect_and_pay_pays_in_full_share,
        p.collect_and_pay_pays_partly_share,
    );
    let direct_pay_pattern = placed(
        p.direct_pay_pays_in_full_share,
        p.direct_pay_pays_partly_share,
    );
    let late_days = payment_stream.between(1, whole(p.direct_pay_late_days_max)) as u32;
    let direct_pay_days_late = if rank < Stream::threshold(p.direct_pay_on_time_share) {
        0
    } else {
        late_days
    };
    let first_instalment = if payment_stream.chance(p.late_start_share) {
        2
    } else {
        1
    };
    let days_before_due = payment_stream.between(0, whole(p.days_before_due_max)) as u32;

    // Later luck: leaving for a family-based arrangement, and enforcement's later steps.
    let mut luck = stream("luck");
    let leaves_when_direct_pay_ends = luck.chance(p.leaves_when_direct_pay_ends_share);
    let enforcement_luck = EnforcementLuck {
        earnings_deduction_collects: luck.chance(p.earnings_deduction_collects_share),
        account_deduction_collects: luck.chance(p.account_deduction_collects_share),
        benefit_deduction_collects: luck.chance(p.benefit_deduction_collects_share),
        agents_collect: luck.chance(p.enforcement_agents_collect_share),
        pays_after_disqualification: luck.chance(p.pays_after_disqualification_share),
    };

    // Income change.
    let mut income_stream = stream("income");
    if let Some(income) = gross_weekly_income
        && income_stream.chance(p.income_change_share)
    {
        let change_points = pence(p.income_change_max);
        let signed = income_stream.between(0, 2 * change_points) as i64 - change_points as i64;
        let factor = Decimal::ONE + Decimal::new(signed, 2);
        let new_income = (income * factor)
            .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
            .max(Decimal::ZERO);
        let date = add_days(application_date, 28 + income_stream.below(period_days));
        actions.push(
            date,
            Action::ReportIncomeChange {
                gross_weekly_income: new_income,
            },
        );
    }

    // Distress: at most one episode, starting on or after the application.
    let mut distress = stream("distress");
    let mut distress_episodes = Vec::new();
    if distress.chance(p.distress_share) {
        let episode_start = add_days(application_date, distress.below(period_days));
        let length = distress.days_between_weeks(p.distress_weeks_min, p.distress_weeks_max);
        let episode_end = add_days(episode_start, length).min(end);
        if episode_start < end && episode_end > episode_start {
            distress_episodes.push(DistressEpisode {
                start: episode_start,
                end: episode_end,
            });
            let interval = whole(p.distressed_contact_interval).max(1);
            let mut day = episode_start;
            let mut n = 0u64;
            while day < episode_end {
                // One distressed contact in four is a complaint; the rest are calls.
                let kind = if n % 4 == 3 {
                    ContactKind::Complaint
                } else {
                    ContactKind::Call
                };
                actions.push(
                    day,
                    Action::Contact {
                        by_paying_parent: true,
                        distressed: true,
                        kind,
                    },
                );
                day = add_days(day, interval);
                n += 1;
            }
        }
    }

    // Ordinary contacts by either parent, after the application.
    let mut contact = stream("contact");
    let contacts = contact.between(0, whole(p.ordinary_contacts_max));
    let days_after_application = (end - application_date).num_days().max(1) as u64;
    for _ in 0..contacts {
        let date = add_days(application_date, contact.below(days_after_application));
        let by_paying_parent = contact.chance(Decimal::new(5, 1));
        let kind = match contact.below(3) {
            0 => ContactKind::Call,
            1 => ContactKind::Written,
            _ => ContactKind::Complaint,
        };
        actions.push(
            date,
            Action::Contact {
                by_paying_parent,
                distressed: false,
                kind,
            },
        );
    }

    // A disputed claim of shared care, in a family with no court proceedings: the paying parent's
    // word against the receiving parent's, a few weeks after the application.
    let mut claim = stream("claim");
    if court.is_none() && claim.chance(p.disputed_claim_share) {
        let date = add_days(application_date, 14 + claim.below(days_after_application));
        if date < end {
            let nights = claim.between(
                whole(p.disputed_claim_nights_min),
                whole(p.disputed_claim_nights_max),
            );
            for child_ref in &child_refs {
                actions.push(
                    date,
                    Action::ClaimSharedCare {
                        child_ref: child_ref.clone(),
                        nights: u32::try_from(nights).unwrap_or(u32::MAX),
                    },
                );
            }
        }
    }

    let mut list = actions.list;
    list.sort_by_key(|a| (a.date, a.action.same_day_rank()));
    FamilyPlan {
        seed: run.seed,
        replication,
        family_index,
        paying_parent_ref: format!("person-r{replication}-{family_index:06}a"),
        receiving_parent_ref: format!("person-r{replication}-{family_index:06}b"),
        child_refs,
        cms_case_reference: format!("{}{family_index:06}", cms_case_prefix(replication)),
        court_case_reference: court
            .as_ref()
            .map(|_| format!("{}{family_index:06}", court_case_prefix(replication))),
        application_date,
        collect_and_pay,
        gross_weekly_income,
        flat_rate_benefit,
        employment,
        leaves_when_direct_pay_ends,
        enforcement_luck,
        relevant_other_children,
        payment: PaymentBehaviour {
            collect_and_pay: collect_and_pay_pattern,
            direct_pay: direct_pay_pattern,
            direct_pay_days_late,
            first_instalment,
            days_before_due,
        },
        court,
        distress_episodes,
        actions: list,
    }
}

/// Gross weekly income: benefit recipients and a share of the rest below £241.73 a week, so the
/// low-income share of those with income data is `low_income_share`.
fn draw_income(stream: &mut Stream, p: &Population, benefit: bool) -> Option<Decimal> {
    if stream.chance(p.income_unknown_share) {
        return None;
    }
    let below_threshold = LOW_INCOME_THRESHOLD_WEEKLY - Decimal::new(1, 2);
    // P(low) = benefit + (1 − benefit) × q, solved for q.
    let benefit_share = p.flat_rate_benefit_share();
    let other_low = if benefit_share >= Decimal::ONE {
        Decimal::ONE
    } else {
        (p.low_income_share - benefit_share) / (Decimal::ONE - benefit_share)
    };
    if benefit || stream.chance(other_low) {
        return Some(stream.pounds(p.low_income_floor, below_threshold));
    }
    let band = stream.pick(&[
        Decimal::ONE - p.higher_income_500_share - p.higher_income_1000_share,
        p.higher_income_500_share,
        p.higher_income_1000_share,
    ]);
    let (low, high) = match band {
        0 => (LOW_INCOME_THRESHOLD_WEEKLY, Decimal::new(49999, 2)),
        1 => (Decimal::new(500, 0), Decimal::new(99999, 2)),
        _ => (Decimal::new(1000, 0), p.income_max),
    };
    Some(stream.pounds(low, high))
}

/// The proceedings' dates, outcome and final-order nights.
fn draw_court(
    stream: &mut Stream,
    p: &Population,
    durations: &CourtDurations,
    opened_on: NaiveDate,
    pending_at_application: bool,
) -> CourtPlan {
    // Right-skewed: a lognormal with the published mean and the median (see [`CourtDurations`]).
    let ends_on = add_days(opened_on, durations.draw(stream));
    let outcome = match stream.pick(&[
        p.proceedings_withdrawn_share,
        p.proceedings_dismissed_share,
        Decimal::ONE - p.proceedings_withdrawn_share - p.proceedings_dismissed_share,
    ]) {
        0 => CourtOutcome::Withdrawn,
        1 => CourtOutcome::Dismissed,
        _ => CourtOutcome::FinalOrder,
    };
    let final_order_nights = draw_nights(stream, p);
    CourtPlan {
        opened_on,
        pending_at_application,
        outcome,
        ends_on,
        final_order_nights,
    }
}

/// Nights a year with the paying parent under an order, drawn by band then uniformly within it.
fn draw_nights(stream: &mut Stream, p: &Population) -> u32 {
    let (low, high) = NIGHT_BANDS[stream.pick(&p.order_night_band_shares())];
    stream.between(u64::from(low), u64::from(high)) as u32
}

/// Nights in a different band from `current`'s, uniformly among the other bands then within it.
fn draw_other_band(stream: &mut Stream, current: u32) -> u32 {
    let current_band = night_band(current);
    let mut band = stream.below(NIGHT_BANDS.len() as u64 - 1) as usize;
    if band >= current_band {
        band += 1;
    }
    let (low, high) = NIGHT_BANDS[band];
    stream.between(u64::from(low), u64::from(high)) as u32
}

fn nights_for(children: &[String], nights: u32) -> BTreeMap<String, u32> {
    children.iter().map(|c| (c.clone(), nights)).collect()
}

/// Reports an order to the CMS after the drawn delay (never before the CMS application), unless
/// it is never reported.
fn plan_report(
    actions: &mut Actions,
    reporting: &mut Stream,
    p: &Population,
    made_on: NaiveDate,
    application_date: NaiveDate,
    order: OrderRef,
) {
    // Draw both numbers whatever the outcome, so one order's luck never shifts the next's.
    let never = reporting.chance(p.order_never_reported_share);
    let delay =
        reporting.days_between_weeks(Decimal::ZERO, p.report_delay_weeks_mean * Decimal::TWO);
    if !never {
        let date = add_days(made_on, delay).max(application_date);
        actions.push(date, Action::ReportCourtOrderToCms { order });
    }
}

fn plan_court(
    actions: &mut Actions,
    stream: &mut Stream,
    reporting: &mut Stream,
    p: &Population,
    court: &CourtPlan,
    children: &[String],
    application_date: NaiveDate,
) {
    let applicant_is_receiving_parent = stream.chance(p.court_applicant_receiving_parent_share);
    let domestic_abuse_alleged = stream.chance(p.domestic_abuse_alleged_share);
    actions.push(
        court.opened_on,
        Action::OpenCourtCase {
            applicant_is_receiving_parent,
            domestic_abuse_alleged,
        },
    );
    // Every draw below is made whether or not its action falls in the period, so the same family
    // has the same later luck whatever the period's length.
    let has_interim = stream.chance(p.interim_order_share);
    let interim_on = add_days(
        court.opened_on,
        stream.days_between_weeks(p.weeks_to_interim_order_min, p.weeks_to_interim_order_max),
    );
    let interim_nights = draw_nights(stream, p);
    let varies = stream.chance(p.variation_share);
    let vary_on = add_days(
        court.ends_on,
        1 + stream.days_between_weeks(Decimal::ZERO, p.weeks_to_variation_application_max),
    );
    let band_change = stream.chance(p.variation_band_change_share);
    let proposed = if band_change {
        draw_other_band(stream, court.final_order_nights)
    } else {
        let (low, high) = NIGHT_BANDS[night_band(court.final_order_nights)];
        stream.between(u64::from(low), u64::from(high)) as u32
    };
    let decided_on = add_days(
        vary_on,
        stream.days_between_weeks(
            p.weeks_to_variation_decision_min,
            p.weeks_to_variation_decision_max,
        ),
    );
    let granted = stream.chance(p.variation_granted_share);

    if has_interim
        && interim_on < court.ends_on
        && actions.push(
            interim_on,
            Action::InterimOrder {
                nights_with_paying_parent: nights_for(children, interim_nights),
            },
        )
    {
        plan_report(
            actions,
            reporting,
            p,
            interim_on,
            application_date,
            OrderRef::Interim,
        );
    }
    // A receiving parent waiting for the CMS tells it the proceedings ended (carried out only
    // while the CMS waits: delayed involvement on the manual route). Drawn whatever the outcome.
    let reports_end = reporting.chance(p.proceedings_end_reported_share);
    let end_report_on = add_days(
        court.ends_on,
        reporting.days_between_weeks(Decimal::ZERO, p.proceedings_end_report_weeks_max),
    )
    .max(application_date);
    let without_order = match court.outcome {
        CourtOutcome::FinalOrder => None,
        CourtOutcome::Withdrawn => Some(ProceedingsOutcome::Withdrawn),
        CourtOutcome::Dismissed => Some(ProceedingsOutcome::Dismissed),
    };
    if reports_end && court.ends_on < actions.end {
        actions.push(
            end_report_on,
            Action::ReportProceedingsEnded { without_order },
        );
    }
    match court.outcome {
        CourtOutcome::Withdrawn | CourtOutcome::Dismissed => {
            actions.push(
                court.ends_on,
                Action::CloseCourtCase {
                    withdrawn: court.outcome == CourtOutcome::Withdrawn,
                },
            );
        }
        CourtOutcome::FinalOrder => {
            if !actions.push(
                court.ends_on,
                Action::FinalOrder {
                    nights_with_paying_parent: nights_for(children, court.final_order_nights),
                },
            ) {
                return;
            }
            plan_report(
                actions,
                reporting,
                p,
                court.ends_on,
                application_date,
                OrderRef::Final,
            );
            if varies
                && actions.push(
                    vary_on,
                    Action::ApplyToVary {
                        proposed_nights_with_paying_parent: nights_for(children, proposed),
                    },
                )
            {
                let decided = if granted {
                    proposed
                } else {
                    court.final_order_nights
                };
                if actions.push(
                    decided_on,
                    Action::VariationOrder {
                        nights_with_paying_parent: nights_for(children, decided),
                    },
                ) {
                    plan_report(
                        actions,
                        reporting,
                        p,
                        decided_on,
                        application_date,
                        OrderRef::Variation,
                    );
                }
            }
        }
    }
}

/// The service an instalment is paid through, and what collects it at source, as the CMS says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Collection {
    /// Direct Pay: the parents settle it between them.
    DirectPay,
    /// Collect and Pay, paid by the parent.
    CollectAndPay,
    /// Collect and Pay with a deduction from earnings order in force.
    DeductionFromEarnings,
    /// Collect and Pay with a regular deduction order in force.
    DeductionFromAccount,
    /// Collect and Pay by deduction from the paying parent's benefit.
    DeductionFromBenefit,
}

/// A payment the world makes towards an instalment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Payment {
    /// The amount, to the penny.
    pub amount: Decimal,
    /// Who pays it.
    pub source: PaymentSource,
}

/// What is paid towards instalment `instalment` (from 1) when `amount_due` is asked for, through
/// `collection`: a deduction in force collects the whole instalment if it works for this family
/// (its [`EnforcementLuck`]), and otherwise the parent pays as they pay on that service — exact,
/// to the penny (a partial share rounded half away from zero). `None`: nothing.
pub fn payment_for(
    plan: &FamilyPlan,
    instalment: u32,
    amount_due: Decimal,
    collection: Collection,
) -> Option<Payment> {
    if amount_due <= Decimal::ZERO {
        return None;
    }
    let luck = plan.enforcement_luck;
    let deduction = match collection {
        Collection::DeductionFromEarnings => Some((
            luck.earnings_deduction_collects,
            PaymentSource::DeductionFromEarnings,
        )),
        Collection::DeductionFromAccount => Some((
            luck.account_deduction_collects,
            PaymentSource::DeductionFromAccount,
        )),
        Collection::DeductionFromBenefit => Some((
            luck.benefit_deduction_collects,
            PaymentSource::DeductionFromBenefit,
        )),
        Collection::DirectPay | Collection::CollectAndPay => None,
    };
    if let Some((true, source)) = deduction {
        return Some(Payment {
            amount: amount_due,
            source,
        });
    }
    if instalment < plan.payment.first_instalment {
        return None;
    }
    let pattern = match collection {
        Collection::DirectPay => plan.payment.direct_pay,
        _ => plan.payment.collect_and_pay,
    };
    let amount = match pattern {
        PaymentPattern::Full => amount_due,
        PaymentPattern::Partial(share) => {
            (amount_due * share).round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
        }
        PaymentPattern::Never => return None,
    };
    (amount > Decimal::ZERO).then_some(Payment {
        amount,
        source: PaymentSource::PayingParent,
    })
}

/// Whether the receiving parent reports the missed Direct Pay instalment `instalment` to the CMS.
pub fn reports_missed_direct_pay(
    plan: &FamilyPlan,
    population: &Population,
    instalment: u32,
) -> bool {
    instalment_chance(
        plan,
        "direct-pay-report",
        instalment,
        population.direct_pay_missed_report_share,
    )
}

/// A draw of the family's luck for one instalment: its own stream per (purpose, instalment), so
/// the draws do not depend on how many instalments came before or in what order they are asked.
fn instalment_chance(plan: &FamilyPlan, purpose: &str, instalment: u32, share: Decimal) -> bool {
    Stream::new(
        plan.seed,
        plan.replication,
        plan.family_index,
        &format!("{purpose}/{instalment}"),
    )
    .chance(share)
}

/// How long proceedings last, in days: a lognormal distribution fitted to the population's mean
/// and median weeks (σ² = 2 ln(mean / median), μ = ln(median)), held as its quantiles so that a
/// draw is one integer pick, exact and the same on every machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CourtDurations {
    /// Days at the quantiles (i + ½) / n, i = 0 … n − 1, in increasing order.
    quantile_days: Vec<u64>,
}

/// How finely [`CourtDurations`] holds its distribution.
const DURATION_QUANTILES: usize = 2048;

/// The shortest and longest proceedings drawn, in days (two weeks; five years).
const DURATION_DAYS: (u64, u64) = (14, 5 * 365);

impl CourtDurations {
    /// The distribution for `population`.
    pub fn new(population: &Population) -> CourtDurations {
        let mean = population.weeks_to_final_order_mean;
        let median = population.weeks_to_final_order_median;
        let sigma = if median > Decimal::ZERO && mean > median {
            (Decimal::TWO * (mean / median).checked_ln().unwrap_or(Decimal::ZERO))
                .sqrt()
                .unwrap_or(Decimal::ZERO)
        } else {
            Decimal::ZERO
        };
        let quantile_days = standard_normal_quantiles()
            .iter()
            .map(|z| {
                let weeks = median * (sigma * *z).checked_exp().unwrap_or(Decimal::ZERO);
                weeks_to_days(weeks).clamp(DURATION_DAYS.0, DURATION_DAYS.1)
            })
            .collect();
        CourtDurations { quantile_days }
    }

    /// One draw, in days.
    fn draw(&self, stream: &mut Stream) -> u64 {
        let index = stream.below(self.quantile_days.len() as u64) as usize;
        self.quantile_days
            .get(index)
            .copied()
            .unwrap_or(DURATION_DAYS.0)
    }
}

/// The standard normal quantiles at (i + ½) / n, computed once in exact decimals (Acklam's
/// rational approximation, relative error under 1.2 × 10⁻⁹).
fn standard_normal_quantiles() -> &'static [Decimal] {
    static QUANTILES: OnceLock<Vec<Decimal>> = OnceLock::new();
    QUANTILES.get_or_init(|| {
        let n = Decimal::from(DURATION_QUANTILES as u64);
        (0..DURATION_QUANTILES)
            .map(|i| inverse_normal((Decimal::from(i as u64) + dec!(0.5)) / n))
            .collect()
    })
}

/// The standard normal quantile of `p` (0 < p < 1).
fn inverse_normal(p: Decimal) -> Decimal {
    const A: [Decimal; 6] = [
        dec!(-39.69683028665376),
        dec!(220.9460984245205),
        dec!(-275.9285104469687),
        dec!(138.3577518672690),
        dec!(-30.66479806614716),
        dec!(2.506628277459239),
    ];
    const B: [Decimal; 5] = [
        dec!(-54.47609879822406),
        dec!(161.5858368580409),
        dec!(-155.6989798598866),
        dec!(66.80131188771972),
        dec!(-13.28068155288572),
    ];
    const C: [Decimal; 6] = [
        dec!(-0.007784894002430293),
        dec!(-0.3223964580411365),
        dec!(-2.400758277161838),
        dec!(-2.549732539343734),
        dec!(4.374664141464968),
        dec!(2.938163982698783),
    ];
    const D: [Decimal; 4] = [
        dec!(0.007784695709041462),
        dec!(0.3224671290700398),
        dec!(2.445134137142996),
        dec!(3.754408661907416),
    ];
    let tail = |q: Decimal| {
        let numerator = ((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5];
        let denominator = (((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + Decimal::ONE;
        numerator / denominator
    };
    let low = dec!(0.02425);
    if p < low {
        let q = (dec!(-2) * p.checked_ln().unwrap_or(Decimal::ZERO))
            .sqrt()
            .unwrap_or(Decimal::ZERO);
        tail(q)
    } else if p > Decimal::ONE - low {
        let q = (dec!(-2) * (Decimal::ONE - p).checked_ln().unwrap_or(Decimal::ZERO))
            .sqrt()
            .unwrap_or(Decimal::ZERO);
        -tail(q)
    } else {
        let q = p - dec!(0.5);
        let r = q * q;
        let numerator = (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q;
        let denominator =
            ((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + Decimal::ONE;
        numerator / denominator
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_normal_quantiles_are_right_to_six_places() {
        // Φ⁻¹(0.975) = 1.959964; Φ⁻¹(0.5) = 0; Φ⁻¹(0.01) = −2.326348.
        assert_eq!(inverse_normal(dec!(0.975)).round_dp(6), dec!(1.959964));
        assert_eq!(inverse_normal(dec!(0.5)).round_dp(6), Decimal::ZERO);
        assert_eq!(inverse_normal(dec!(0.01)).round_dp(6), dec!(-2.326348));
    }

    #[test]
    fn court_durations_have_the_published_median_and_come_near_the_mean() {
        let durations = CourtDurations::new(&Population::default());
        let days = &durations.quantile_days;
        // The middle quantile is the median, 30 weeks.
        assert_eq!(days[DURATION_QUANTILES / 2], 210);
        let mean = days.iter().sum::<u64>() as f64 / days.len() as f64 / 7.0;
        assert!((mean - 39.0).abs() < 1.0, "mean {mean} weeks");
        assert!(days.windows(2).all(|w| w[0] <= w[1]));
    }
}
