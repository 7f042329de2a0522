//! One replication of one arm, driven through the services' public gRPC APIs as the world would
//! act: week by week, the court's actions of the week, then (once the CMS has taken in the court's
//! events) the families' dealings with the CMS, then the referral hub's and the agencies' clocks.
//! Every call a family makes carries an id derived from the family and the action, so a retried
//! call is answered as the first.
//!
//! Families are driven concurrently within a step, each family's calls in order; families never
//! touch each other's cases, and the agencies order their own work by date and reference, so the
//! results do not depend on how calls interleave. Between the phases of a step the services are
//! asked to settle (`Clock/Settle`), so no agency's reaction races the next phase.
//!
//! Traced, each step is a span, each phase a batch within it, and each family action a span
//! beginning that action's own trace (linked to its phase), which the court's and the CMS's
//! handling of it, and the other agencies' reactions, continue.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Context;
use chrono::{Days, NaiveDate};
use familybridge_proto::cms::v1 as cms;
use familybridge_proto::cms::v1::case_service_client::CaseServiceClient;
use familybridge_proto::court::v1 as court;
use familybridge_proto::court::v1::court_registry_client::CourtRegistryClient;
use familybridge_proto::simulation::v1::clock_client::ClockClient;
use familybridge_proto::simulation::v1::{AdvanceToRequest, CurrentDateRequest, SettleRequest};
use familybridge_runtime::{
    TraceContext, TracedChannel, batch, continue_trace, family_span, trace_span, traced,
};
use familybridge_scenario::{Action, CourtOrderFact, FamilyPlan, OrderRef, Scenario, world};
use rust_decimal::Decimal;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tonic::transport::Channel;
use tonic::{Code, Status};
use tracing::{Instrument, Span};

use crate::stack::Urls;

/// Days in a simulation step: the agencies' clocks move a week at a time.
pub const STEP_DAYS: u64 = 7;

/// Days between instalments (every four weeks).
const INSTALMENT_DAYS: u64 = 28;

/// Clients of the three services.
#[derive(Debug, Clone)]
pub struct Clients {
    /// The court registry.
    pub court: CourtRegistryClient<TracedChannel>,
    /// The CMS's cases.
    pub cms: CaseServiceClient<TracedChannel>,
    /// The court registry's clock.
    pub court_clock: ClockClient<TracedChannel>,
    /// The CMS's clock.
    pub cms_clock: ClockClient<TracedChannel>,
    /// The hub's clock.
    pub hub_clock: ClockClient<TracedChannel>,
}

impl Clients {
    /// Checks that no service's clock has reached `start`: a run needs services that have
    /// simulated nothing yet.
    pub async fn check_fresh(&self, start: NaiveDate) -> anyhow::Result<()> {
        for (clock, name) in [
            (&self.court_clock, "the court registry"),
            (&self.cms_clock, "the CMS"),
            (&self.hub_clock, "the referral hub"),
        ] {
            let current = clock
                .clone()
                .current_date(CurrentDateRequest {})
                .await
                .with_context(|| format!("cannot reach {name}"))?
                .into_inner()
                .current_date;
            if !current.is_empty() && current.as_str() >= iso(start).as_str() {
                anyhow::bail!(
                    "{name} has already simulated up to {current}: a run needs services with fresh \
                     databases"
                );
            }
        }
        Ok(())
    }

    /// Clients of the services at `urls`, connecting lazily.
    pub fn new(urls: &Urls) -> anyhow::Result<Self> {
        let channel = |url: &str| -> anyhow::Result<TracedChannel> {
            Ok(traced(
                Channel::from_shared(url.to_owned())
                    .with_context(|| format!("{url:?} is not a gRPC address"))?
                    .connect_lazy(),
            ))
        };
        let court = channel(&urls.court_registry)?;
        let cms = channel(&urls.cms)?;
        let hub = channel(&urls.referral_hub)?;
        Ok(Self {
            court: CourtRegistryClient::new(court.clone()),
            cms: CaseServiceClient::new(cms.clone()),
            court_clock: ClockClient::new(court),
            cms_clock: ClockClient::new(cms),
            hub_clock: ClockClient::new(hub),
        })
    }
}

/// A family as the driver follows it.
#[derive(Debug)]
pub struct Family {
    /// Its plan.
    pub plan: FamilyPlan,
    /// The orders the court made, by which order of the plan they are.
    orders: BTreeMap<OrderRef, CourtOrderFact>,
    /// The CMS case exists.
    cms_open: bool,
    /// The next instalment's due date, as the CMS last said; `None` before liability starts.
    next_due: Option<NaiveDate>,
    /// The first day of liability, from which instalments are numbered.
    liability_from: Option<NaiveDate>,
}

impl Family {
    /// A family about to act out `plan`.
    pub fn new(plan: FamilyPlan) -> Self {
        Self {
            plan,
            orders: BTreeMap::new(),
            cms_open: false,
            next_due: None,
            liability_from: None,
        }
    }

    /// The court orders made, in the order made.
    pub fn court_orders(&self) -> Vec<CourtOrderFact> {
        let mut orders: Vec<CourtOrderFact> = self.orders.values().cloned().collect();
        orders.sort_by(|a, b| (a.made_on, &a.order_id).cmp(&(b.made_on, &b.order_id)));
        orders
    }

    fn is_court(action: &Action) -> bool {
        matches!(
            action,
            Action::OpenCourtCase { .. }
                | Action::InterimOrder { .. }
                | Action::FinalOrder { .. }
                | Action::ApplyToVary { .. }
                | Action::VariationOrder { .. }
                | Action::CloseCourtCase { .. }
        )
    }
}

/// Which half of a step a family is acting in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Court,
    Cms,
}

/// Whether the CMS learns of court orders only when a parent reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reporting {
    /// Parents report orders (manual route): `ReportCourtOrderToCms` actions are carried out.
    ByParents,
    /// The CMS follows the court's feed: parents' reports are left out.
    Automatic,
}

/// Drives `families` through the period, a week at a time, with at most `concurrency` families
/// acting at once; `on_step` is told after each step.
pub async fn drive(
    scenario: &Scenario,
    clients: &Clients,
    families: Vec<Family>,
    reporting: Reporting,
    concurrency: usize,
    mut on_step: impl FnMut(),
) -> anyhow::Result<Vec<Family>> {
    let start = scenario.run.start;
    let last_day = scenario
        .run
        .end()
        .pred_opt()
        .context("the period ends at the beginning of the calendar")?;
    let gate = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut families: Vec<Option<Family>> = families.into_iter().map(Some).collect();
    let mut previous = start
        .checked_sub_days(Days::new(1))
        .context("the period starts at the beginning of the calendar")?;
    while previous < last_day {
        let step_end = previous
            .checked_add_days(Days::new(STEP_DAYS))
            .context("the period runs off the calendar")?
            .min(last_day);
        let step = trace_span!("run.step", otel.name = %format!("step to {step_end}"));
        continue_trace(&step, crate::BINARY, &TraceContext::default());
        async {
            for phase in [Phase::Court, Phase::Cms] {
                run_phase(
                    &mut families,
                    clients,
                    &gate,
                    phase,
                    reporting,
                    previous,
                    step_end,
                )
                .await?;
                // The CMS takes in the court's events before the families deal with it, and the
                // hub takes in both before it acts.
                settle(&mut clients.cms_clock.clone(), "the CMS").await?;
            }
            settle(&mut clients.hub_clock.clone(), "the referral hub").await?;
            for (clock, name) in [
                (&clients.hub_clock, "the referral hub"),
                (&clients.cms_clock, "the CMS"),
                (&clients.court_clock, "the court registry"),
            ] {
                clock
                    .clone()
                    .advance_to(AdvanceToRequest {
                        date: iso(step_end),
                    })
                    .await
                    .with_context(|| format!("{name} could not move its clock to {step_end}"))?;
            }
            anyhow::Ok(())
        }
        .instrument(step)
        .await?;
        previous = step_end;
        on_step();
    }
    Ok(families.into_iter().flatten().collect())
}

/// Runs one phase of a step for every family with something to do, concurrently.
async fn run_phase(
    families: &mut [Option<Family>],
    clients: &Clients,
    gate: &Arc<Semaphore>,
    phase: Phase,
    reporting: Reporting,
    after: NaiveDate,
    through: NaiveDate,
) -> anyhow::Result<()> {
    let mut running: JoinSet<anyhow::Result<(usize, Family)>> = JoinSet::new();
    let busy: Vec<usize> = families
        .iter()
        .enumerate()
        .filter(|(_, slot)| {
            slot.as_ref()
                .is_some_and(|family| has_work(family, phase, after, through))
        })
        .map(|(index, _)| index)
        .collect();
    let name = match phase {
        Phase::Court => "run.court_phase",
        Phase::Cms => "run.cms_phase",
    };
    let phase_span = batch(name, crate::BINARY, busy.len());
    for index in busy {
        let Some(mut family) = families[index].take() else {
            continue;
        };
        let clients = clients.clone();
        let permit = Arc::clone(gate)
            .acquire_owned()
            .await
            .context("the driver's gate closed")?;
        let phase_span = phase_span.clone();
        running.spawn(async move {
            let _permit = permit;
            act(
                &mut family,
                &clients,
                phase,
                reporting,
                after,
                through,
                &phase_span,
            )
            .await?;
            Ok((index, family))
        });
    }
    while let Some(done) = running.join_next().await {
        let (index, family) = done.context("a family's task panicked")??;
        families[index] = Some(family);
    }
    Ok(())
}

fn in_step(date: NaiveDate, after: NaiveDate, through: NaiveDate) -> bool {
    date > after && date <= through
}

/// The date the paying parent pays the next instalment, if they ever pay.
fn payment_date(family: &Family) -> Option<NaiveDate> {
    let due = family.next_due?;
    due.checked_sub_days(Days::new(u64::from(family.plan.payment.days_before_due)))
}

fn has_work(family: &Family, phase: Phase, after: NaiveDate, through: NaiveDate) -> bool {
    let planned = family.plan.actions.iter().any(|planned| {
        in_step(planned.date, after, through)
            && (Family::is_court(&planned.action) == (phase == Phase::Court))
    });
    planned
        || (phase == Phase::Cms
            && family.cms_open
            && (family.next_due.is_none()
                || payment_date(family).is_some_and(|date| date <= through)))
}

/// The name of an action, as its span is called.
fn action_name(action: &Action) -> &'static str {
    match action {
        Action::OpenCourtCase { .. } => "OpenCourtCase",
        Action::InterimOrder { .. } => "InterimOrder",
        Action::FinalOrder { .. } => "FinalOrder",
        Action::ApplyToVary { .. } => "ApplyToVary",
        Action::VariationOrder { .. } => "VariationOrder",
        Action::CloseCourtCase { .. } => "CloseCourtCase",
        Action::OpenCmsApplication { .. } => "OpenCmsApplication",
        Action::ReportIncomeChange { .. } => "ReportIncomeChange",
        Action::Contact { .. } => "Contact",
        Action::ClaimSharedCare { .. } => "ClaimSharedCare",
        Action::ReportCourtOrderToCms { .. } => "ReportCourtOrderToCms",
    }
}

/// A span beginning the trace of one of a family's actions (`action`, e.g. "FinalOrder"), linked
/// to the phase of the step it is part of.
fn action_span(family: &Family, action: &'static str, phase: &Span) -> Span {
    family_span(
        trace_span!(
            "family.action",
            otel.name = action,
            case = %family.plan.cms_case_reference,
        ),
        &TraceContext::default(),
        phase,
    )
}

/// One family's calls in one phase of a step, in date order, each action in a span of its own.
async fn act(
    family: &mut Family,
    clients: &Clients,
    phase: Phase,
    reporting: Reporting,
    after: NaiveDate,
    through: NaiveDate,
    phase_span: &Span,
) -> anyhow::Result<()> {
    let actions: Vec<(usize, NaiveDate, Action)> = family
        .plan
        .actions
        .iter()
        .enumerate()
        .filter(|(_, planned)| {
            in_step(planned.date, after, through)
                && Family::is_court(&planned.action) == (phase == Phase::Court)
        })
        .map(|(index, planned)| (index, planned.date, planned.action.clone()))
        .collect();
    if phase == Phase::Court {
        for (index, date, action) in actions {
            let span = action_span(family, action_name(&action), phase_span);
            court_action(family, &mut clients.court.clone(), index, date, &action)
                .instrument(span)
                .await?;
        }
        return Ok(());
    }
    let mut cms_client = clients.cms.clone();
    if family.cms_open && family.next_due.is_none() {
        // Liability may have started without a call of ours (a final order from the court's feed).
        let span = action_span(family, "ReadCase", phase_span);
        refresh(family, &mut cms_client).instrument(span).await?;
    }
    let mut pending = actions.into_iter().peekable();
    loop {
        let pay_on = payment_date(family).filter(|date| *date > after && *date <= through);
        let next_action = pending.peek().map(|(_, date, _)| *date);
        match (next_action, pay_on) {
            (Some(action_date), Some(on)) if on < action_date => {
                let span = action_span(family, "Payment", phase_span);
                pay_instalment(family, &mut cms_client, on)
                    .instrument(span)
                    .await?
            }
            (Some(_), _) => {
                if let Some((index, date, action)) = pending.next() {
                    let span = action_span(family, action_name(&action), phase_span);
                    cms_action(family, &mut cms_client, reporting, index, date, &action)
                        .instrument(span)
                        .await?;
                }
            }
            (None, Some(on)) => {
                let span = action_span(family, "Payment", phase_span);
                pay_instalment(family, &mut cms_client, on)
                    .instrument(span)
                    .await?
            }
            (None, None) => break,
        }
    }
    // Instalments whose payment day was before this step (paid or not) are behind the family.
    roll_forward(family, through);
    Ok(())
}

/// Moves the cached due date past `through`'s payment window, every four weeks.
fn roll_forward(family: &mut Family, through: NaiveDate) {
    while let Some(date) = payment_date(family)
        && date <= through
    {
        family.next_due = family
            .next_due
            .and_then(|due| due.checked_add_days(Days::new(INSTALMENT_DAYS)));
    }
}

fn iso(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

fn money(amount: Decimal) -> String {
    format!("{:.2}", amount.round_dp(2))
}

/// Whether a refusal is the agency's answer to what the family did (a rule said no), which the
/// world accepts and goes on, rather than a failure of the run.
fn refused_by_rule(status: &Status) -> bool {
    matches!(
        status.code(),
        Code::FailedPrecondition | Code::InvalidArgument | Code::AlreadyExists | Code::NotFound
    )
}

/// Each child's arrangement when the paying parent has `nights` with each, the paying parent being
/// the applicant when `paying_is_applicant`.
fn arrangements(
    nights: &BTreeMap<String, u32>,
    paying_is_applicant: bool,
) -> Vec<court::ChildArrangement> {
    nights
        .iter()
        .map(|(child_ref, &paying)| {
            let receiving = 365u32.saturating_sub(paying);
            let (applicant, respondent) = if paying_is_applicant {
                (paying, receiving)
            } else {
                (receiving, paying)
            };
            let lives_with = if applicant.abs_diff(respondent) <= 1 {
                court::Residence::Shared
            } else if applicant > respondent {
                court::Residence::Applicant
            } else {
                court::Residence::Respondent
            };
            court::ChildArrangement {
                child_ref: child_ref.clone(),
                lives_with: lives_with.into(),
                nights_with_applicant: applicant,
                nights_with_respondent: respondent,
            }
        })
        .collect()
}

fn request_id(family: &Family, index: usize) -> String {
    format!("{}/action-{index}", family.plan.cms_case_reference)
}

/// Whether the paying parent applied to the court (the receiving parent usually does).
fn paying_is_applicant(family: &Family) -> bool {
    !family.plan.actions.iter().any(|planned| {
        matches!(
            planned.action,
            Action::OpenCourtCase {
                applicant_is_receiving_parent: true,
                ..
            }
        )
    })
}

async fn court_action(
    family: &mut Family,
    client: &mut CourtRegistryClient<TracedChannel>,
    index: usize,
    date: NaiveDate,
    action: &Action,
) -> anyhow::Result<()> {
    let Some(case_reference) = family.plan.court_case_reference.clone() else {
        return Ok(());
    };
    let id = request_id(family, index);
    let paying_first = paying_is_applicant(family);
    let order_request = |nights: &BTreeMap<String, u32>| court::MakeOrderRequest {
        client_request_id: id.clone(),
        case_reference: case_reference.clone(),
        effective_date: iso(date),
        arrangements: arrangements(nights, paying_first),
        safeguarding_narrative: String::new(),
    };
    let outcome = match action {
        Action::OpenCourtCase {
            applicant_is_receiving_parent,
            domestic_abuse_alleged,
        } => {
            let (applicant, respondent) = if *applicant_is_receiving_parent {
                (
                    &family.plan.receiving_parent_ref,
                    &family.plan.paying_parent_ref,
                )
            } else {
                (
                    &family.plan.paying_parent_ref,
                    &family.plan.receiving_parent_ref,
                )
            };
            client
                .open_case(court::OpenCaseRequest {
                    client_request_id: id.clone(),
                    case_reference: case_reference.clone(),
                    effective_date: iso(date),
                    applicant: Some(court::Party {
                        person_ref: applicant.clone(),
                    }),
                    respondent: Some(court::Party {
                        person_ref: respondent.clone(),
                    }),
                    child_refs: family.plan.child_refs.clone(),
                    welfare_flags: Some(court::WelfareFlags {
                        domestic_abuse_alleged: *domestic_abuse_alleged,
                        child_protection_concerns: false,
                    }),
                    safeguarding_narrative: String::new(),
                })
                .await
                .map(|_| None)
        }
        Action::InterimOrder {
            nights_with_paying_parent,
        } => client
            .make_interim_order(order_request(nights_with_paying_parent))
            .await
            .map(|response| {
                Some((
                    OrderRef::Interim,
                    false,
                    nights_with_paying_parent,
                    response,
                ))
            }),
        Action::FinalOrder {
            nights_with_paying_parent,
        } => client
            .make_final_order(order_request(nights_with_paying_parent))
            .await
            .map(|response| Some((OrderRef::Final, true, nights_with_paying_parent, response))),
        Action::VariationOrder {
            nights_with_paying_parent,
        } => client
            .make_variation_order(order_request(nights_with_paying_parent))
            .await
            .map(|response| {
                Some((
                    OrderRef::Variation,
                    true,
                    nights_with_paying_parent,
                    response,
                ))
            }),
        Action::ApplyToVary {
            proposed_nights_with_paying_parent,
        } => {
            let applied_by = &family.plan.paying_parent_ref;
            client
                .apply_to_vary(court::ApplyToVaryRequest {
                    client_request_id: id.clone(),
                    case_reference: case_reference.clone(),
                    effective_date: iso(date),
                    applied_by: Some(court::Party {
                        person_ref: applied_by.clone(),
                    }),
                    proposed_arrangements: arrangements(
                        proposed_nights_with_paying_parent,
                        paying_first,
                    ),
                })
                .await
                .map(|_| None)
        }
        Action::CloseCourtCase { withdrawn } => client
            .close_case(court::CloseCaseRequest {
                client_request_id: id.clone(),
                case_reference: case_reference.clone(),
                effective_date: iso(date),
                reason: if *withdrawn {
                    court::ClosureReason::Withdrawn
                } else {
                    court::ClosureReason::Dismissed
                }
                .into(),
            })
            .await
            .map(|_| None),
        _ => return Ok(()),
    };
    match outcome {
        Ok(Some((which, is_final, nights, response))) => {
            let order_id = response
                .into_inner()
                .case
                .and_then(|case| case.orders.last().map(|order| order.order_id.clone()))
                .unwrap_or_default();
            family.orders.insert(
                which,
                CourtOrderFact {
                    order_id,
                    made_on: date,
                    is_final,
                    nights_with_paying_parent: nights.clone(),
                },
            );
            Ok(())
        }
        Ok(None) => Ok(()),
        Err(status) if refused_by_rule(&status) => {
            tracing::debug!(case = %case_reference, %status, "the court refused a family's action");
            Ok(())
        }
        Err(status) => Err(anyhow::Error::new(status)
            .context(format!("the court registry failed on {case_reference}"))),
    }
}

/// Takes what the CMS says of the case: the next instalment and the start of liability.
fn observe(family: &mut Family, case: Option<&cms::Case>) {
    let Some(case) = case else {
        return;
    };
    family.cms_open = true;
    family.liability_from = case.liability_from.parse().ok();
    family.next_due = case
        .next_instalment
        .as_ref()
        .and_then(|instalment| instalment.due.parse().ok());
}

async fn refresh(
    family: &mut Family,
    client: &mut CaseServiceClient<TracedChannel>,
) -> anyhow::Result<cms::Case> {
    let case = client
        .get_case(cms::GetCaseRequest {
            case_reference: family.plan.cms_case_reference.clone(),
            omit_history: true,
        })
        .await
        .with_context(|| format!("the CMS could not read {}", family.plan.cms_case_reference))?
        .into_inner();
    observe(family, Some(&case));
    Ok(case)
}

/// Pays the instalment the CMS says is next, as the plan's payment behaviour has it.
async fn pay_instalment(
    family: &mut Family,
    client: &mut CaseServiceClient<TracedChannel>,
    on: NaiveDate,
) -> anyhow::Result<()> {
    let due = family.next_due;
    let case = refresh(family, client).await?;
    let instalment = case.next_instalment;
    let (Some(instalment), Some(liability_from)) = (instalment, family.liability_from) else {
        family.next_due = None;
        return Ok(());
    };
    if family.next_due != due {
        // The CMS's schedule moved (a recalculation, say): pay on the new timetable.
        return Ok(());
    }
    let due_on: NaiveDate = instalment
        .due
        .parse()
        .context("the CMS sent a malformed due date")?;
    let number = u32::try_from((due_on - liability_from).num_days() / INSTALMENT_DAYS as i64)
        .unwrap_or_default();
    let amount_due: Decimal = instalment
        .amount
        .parse()
        .context("the CMS sent a malformed instalment amount")?;
    if let Some(amount) = world::payment_for(&family.plan, number, amount_due) {
        let result = client
            .record_payment(cms::RecordPaymentRequest {
                client_request_id: format!(
                    "{}/payment-{}",
                    family.plan.cms_case_reference,
                    iso(due_on)
                ),
                case_reference: family.plan.cms_case_reference.clone(),
                effective_date: iso(on),
                amount: money(amount),
            })
            .await;
        match result {
            Ok(response) => observe(family, response.get_ref().case.as_ref()),
            Err(status) if refused_by_rule(&status) => {
                tracing::debug!(case = %family.plan.cms_case_reference, %status, "payment refused");
            }
            Err(status) => {
                return Err(anyhow::Error::new(status).context("the CMS failed on a payment"));
            }
        }
    }
    // This instalment is behind the family, paid or not.
    family.next_due = due_on.checked_add_days(Days::new(INSTALMENT_DAYS));
    Ok(())
}

async fn cms_action(
    family: &mut Family,
    client: &mut CaseServiceClient<TracedChannel>,
    reporting: Reporting,
    index: usize,
    date: NaiveDate,
    action: &Action,
) -> anyhow::Result<()> {
    let id = request_id(family, index);
    let reference = family.plan.cms_case_reference.clone();
    let plan = &family.plan;
    let outcome = match action {
        Action::OpenCmsApplication {
            proceedings_pending,
        } => {
            client
                .open_application(cms::OpenApplicationRequest {
                    client_request_id: id,
                    case_reference: reference.clone(),
                    effective_date: iso(date),
                    paying_parent_ref: plan.paying_parent_ref.clone(),
                    receiving_parent_ref: plan.receiving_parent_ref.clone(),
                    applicant: cms::CaseParty::ReceivingParent.into(),
                    child_refs: plan.child_refs.clone(),
                    proceedings_pending: *proceedings_pending,
                    collect_and_pay: plan.collect_and_pay,
                    gross_weekly_income: plan.gross_weekly_income.map(money).unwrap_or_default(),
                    relevant_other_children: plan.relevant_other_children,
                    flat_rate_benefit: plan.flat_rate_benefit,
                })
                .await
        }
        Action::ReportIncomeChange {
            gross_weekly_income,
        } => {
            client
                .record_income(cms::RecordIncomeRequest {
                    client_request_id: id,
                    case_reference: reference.clone(),
                    effective_date: iso(date),
                    gross_weekly_income: money(*gross_weekly_income),
                    source: cms::IncomeSource::ReportedChange.into(),
                })
                .await
        }
        Action::Contact {
            by_paying_parent,
            distressed,
            kind,
        } => {
            client
                .record_contact(cms::RecordContactRequest {
                    client_request_id: id,
                    case_reference: reference.clone(),
                    effective_date: iso(date),
                    party: if *by_paying_parent {
                        cms::CaseParty::PayingParent
                    } else {
                        cms::CaseParty::ReceivingParent
                    }
                    .into(),
                    kind: match kind {
                        familybridge_casework::ContactKind::Call => cms::ContactKind::Call,
                        familybridge_casework::ContactKind::Complaint => {
                            cms::ContactKind::Complaint
                        }
                        familybridge_casework::ContactKind::Written => cms::ContactKind::Written,
                    }
                    .into(),
                    distressed: *distressed,
                })
                .await
        }
        Action::ClaimSharedCare { child_ref, nights } => {
            client
                .record_shared_care(cms::RecordSharedCareRequest {
                    client_request_id: id,
                    case_reference: reference.clone(),
                    effective_date: iso(date),
                    child_ref: child_ref.clone(),
                    nights: *nights,
                    source: cms::EvidenceSource::ParentsWord.into(),
                })
                .await
        }
        Action::ReportCourtOrderToCms { order } => {
            let Some(made) = family.orders.get(order).cloned() else {
                return Ok(());
            };
            if reporting == Reporting::Automatic {
                return Ok(());
            }
            client
                .report_court_order(cms::ReportCourtOrderRequest {
                    client_request_id: id,
                    case_reference: reference.clone(),
                    effective_date: iso(date),
                    order_id: made.order_id.clone(),
                    made_on: iso(made.made_on),
                    is_final: made.is_final,
                    nights: made
                        .nights_with_paying_parent
                        .iter()
                        .map(|(child_ref, nights)| cms::ChildNights {
                            child_ref: child_ref.clone(),
                            nights: *nights,
                        })
                        .collect(),
                })
                .await
        }
        _ => return Ok(()),
    };
    match outcome {
        Ok(response) => {
            observe(family, response.get_ref().case.as_ref());
            Ok(())
        }
        Err(status) if refused_by_rule(&status) => {
            tracing::debug!(case = %reference, %status, "the CMS refused a family's action");
            Ok(())
        }
        Err(status) => {
            Err(anyhow::Error::new(status).context(format!("the CMS failed on {reference}")))
        }
    }
}

async fn settle(clock: &mut ClockClient<TracedChannel>, name: &str) -> anyhow::Result<()> {
    clock
        .settle(SettleRequest {})
        .await
        .with_context(|| format!("{name} could not settle"))?;
    Ok(())
}
