//! One replication of one arm, driven through the services' public gRPC APIs as the world would
//! act: week by week, the court's actions of the week, then (once the CMS has taken in the court's
//! events) the families' dealings with the CMS, then the referral hub's and the agencies' clocks.
//! Every call a family makes carries an id derived from the family and the action, so a retried
//! call is answered as the first. With an answer journal ([`journal`](super::journal)), each call
//! is also numbered within its family, and answered from the journal if an earlier runner of the
//! run had its answer.
//!
//! Families are driven concurrently within a step, each family's calls in order; families never
//! touch each other's cases, and the agencies order their own work by date and reference, so the
//! results do not depend on how calls interleave. Between the phases of a step the services are
//! asked to settle (`Clock/Settle`), so no agency's reaction races the next phase.
//!
//! Money moves as the world decides: before each instalment the driver reads what the CMS asks
//! for and who collects it (a deduction order, a benefit deduction, or the parent) and pays by the
//! family's behaviour on that service. Direct Pay payments never reach the CMS: the driver keeps
//! them, as the family's own record, and a receiving parent may report a miss, which moves the
//! case to Collect and Pay. A family that leaves the CMS for a family-based arrangement goes on
//! paying its last amount directly.
//!
//! Traced, each step is a span, each phase a batch within it, and each family action a span
//! beginning that action's own trace (linked to its phase), which the court's and the CMS's
//! handling of it, and the other agencies' reactions, continue.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Context;
use chrono::{Days, NaiveDate};
use familybridge_casework::{Employment, PaymentSource, ProceedingsOutcome};
use familybridge_proto::cms::v1 as cms;
use familybridge_proto::cms::v1::case_batch_entry::Request as CaseRequest;
use familybridge_proto::cms::v1::case_service_client::CaseServiceClient;
use familybridge_proto::court::v1 as court;
use familybridge_proto::court::v1::court_batch_entry::Request as CourtRequest;
use familybridge_proto::court::v1::court_registry_client::CourtRegistryClient;
use familybridge_proto::simulation::v1::clock_client::ClockClient;
use familybridge_proto::simulation::v1::{AdvanceToRequest, CurrentDateRequest, SettleRequest};
use familybridge_runtime::{
    AgencyId, Identity, TraceContext, TracedChannel, Transport, batch, continue_trace, family_span,
    trace_span,
};
use familybridge_scenario::{
    Action, Collection, CourtOrderFact, FamilyPlan, OrderRef, Population, Scenario, world,
};
use rust_decimal::Decimal;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tonic::{Code, Status};
use tracing::{Instrument, Span};

use crate::run::floor::Floor;
use crate::run::journal::{Call, Journal};
use crate::run::link::{self, Agency, Calls, Cms, Court, Direct, Link, Membership};
use crate::stack::Urls;

/// Families acting at once when their calls go one by one (the court's, always; the CMS's with
/// `--per-command` unless told otherwise).
pub const PER_COMMAND_CONCURRENCY: usize = 16;

/// Days in a simulation step: the agencies' clocks move a week at a time.
pub const STEP_DAYS: u64 = 7;

/// Days between instalments (every four weeks).
const INSTALMENT_DAYS: u64 = 28;

/// Days after a missed Direct Pay instalment's due date that a receiving parent who reports it
/// does so (an assumption).
const REPORT_AFTER_DAYS: u64 = 7;

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

/// Where the families' calls go: the three services, or their rules in this process.
#[derive(Clone)]
pub enum Agencies {
    /// The services, over gRPC.
    Services(Box<Clients>),
    /// The services' rules called directly: the in-process floor.
    Floor(Arc<Floor>),
}

impl Agencies {
    /// Waits until `agency` has taken in every event published so far (in process, nothing is
    /// ever waiting to be taken in).
    async fn settle(&self, agency: AgencyId) -> anyhow::Result<()> {
        match self {
            Agencies::Services(clients) => {
                clients
                    .clock(agency)
                    .clone()
                    .settle(SettleRequest {})
                    .await
                    .with_context(|| format!("{} could not settle", agency_name(agency)))?;
                Ok(())
            }
            Agencies::Floor(_) => Ok(()),
        }
    }

    /// Moves `agency`'s clock to `date`, which runs its time-driven work.
    async fn advance_to(&self, agency: AgencyId, date: NaiveDate) -> anyhow::Result<()> {
        match self {
            Agencies::Services(clients) => {
                clients
                    .clock(agency)
                    .clone()
                    .advance_to(AdvanceToRequest { date: iso(date) })
                    .await
                    .with_context(|| {
                        format!("{} could not move its clock to {date}", agency_name(agency))
                    })?;
                Ok(())
            }
            Agencies::Floor(floor) => floor.advance_to(agency, date),
        }
    }

    /// Answers CMS reads together: one `ExecuteBatch` call (each with the call's own trace
    /// context), or each straight from the rules in process.
    pub async fn cms_reads(
        &self,
        reads: Vec<CaseRequest>,
    ) -> Result<Vec<Result<cms::CaseResponse, Status>>, Status> {
        match self {
            Agencies::Services(clients) => {
                let reads = reads
                    .into_iter()
                    .map(|read| {
                        (
                            read,
                            familybridge_proto::common::v1::TraceContext::default(),
                        )
                    })
                    .collect();
                link::batch::<Cms>(&mut clients.cms.clone(), reads).await
            }
            Agencies::Floor(floor) => Ok(reads
                .into_iter()
                .map(|read| Direct::<Cms>::answer(&**floor, read))
                .collect()),
        }
    }

    /// The links through which `members` families act in `phase`, with the gatherer's task if
    /// the phase's calls are batched.
    fn links(
        &self,
        phase: Phase,
        calls: Calls,
        members: usize,
        journal: Option<&Arc<Journal>>,
    ) -> (Links, Option<tokio::task::JoinHandle<()>>) {
        let clients = match self {
            Agencies::Services(clients) => clients,
            Agencies::Floor(floor) => {
                let links = Links {
                    court: Link::direct(Arc::clone(floor) as Arc<dyn Direct<Court>>),
                    cms: Link::direct(Arc::clone(floor) as Arc<dyn Direct<Cms>>),
                };
                return (links, None);
            }
        };
        match phase {
            Phase::Court => {
                let (court, gatherer) =
                    phase_link::<Court>(clients.court.clone(), calls, members, journal);
                let cms = Link::per_command(clients.cms.clone(), journal.cloned());
                (Links { court, cms }, gatherer)
            }
            Phase::Cms => {
                let (cms, gatherer) =
                    phase_link::<Cms>(clients.cms.clone(), calls, members, journal);
                let court = Link::per_command(clients.court.clone(), journal.cloned());
                (Links { court, cms }, gatherer)
            }
        }
    }
}

/// How the driver's errors name an agency.
fn agency_name(agency: AgencyId) -> &'static str {
    match agency {
        AgencyId::CourtRegistry => "the court registry",
        AgencyId::Cms => "the CMS",
        AgencyId::ReferralHub => "the referral hub",
    }
}

/// The date each service's clock had reached when the runner started (`None`: never moved).
#[derive(Debug, Clone, Copy, Default)]
pub struct ClockDates {
    /// The court registry's.
    pub court: Option<NaiveDate>,
    /// The CMS's.
    pub cms: Option<NaiveDate>,
    /// The referral hub's.
    pub hub: Option<NaiveDate>,
}

impl ClockDates {
    /// Checks that no service's clock has reached `start`: a run needs services that have
    /// simulated nothing yet.
    pub fn check_fresh(&self, start: NaiveDate) -> anyhow::Result<()> {
        for (current, name) in [
            (self.court, "the court registry"),
            (self.cms, "the CMS"),
            (self.hub, "the referral hub"),
        ] {
            if let Some(current) = current
                && current >= start
            {
                anyhow::bail!(
                    "{name} has already simulated up to {current}: a run needs services with fresh \
                     databases"
                );
            }
        }
        Ok(())
    }
}

/// What a drive carries on from: the services' clock dates when this runner started (before the
/// period, on a fresh run) and the run's answer journal, if it keeps one.
#[derive(Debug, Default)]
pub struct Resume {
    /// Each service's clock date: a clock is not moved to a date it has reached (the clocks only
    /// go forward), which a resumed runner would otherwise ask of them.
    pub clocks: ClockDates,
    /// The journal every answer is written to, holding the answers of an earlier runner.
    pub journal: Option<Arc<Journal>>,
}

impl Clients {
    /// `agency`'s clock.
    fn clock(&self, agency: AgencyId) -> &ClockClient<TracedChannel> {
        match agency {
            AgencyId::CourtRegistry => &self.court_clock,
            AgencyId::Cms => &self.cms_clock,
            AgencyId::ReferralHub => &self.hub_clock,
        }
    }

    /// The date each service's clock has reached.
    pub async fn clock_dates(&self) -> anyhow::Result<ClockDates> {
        let date = |clock: &ClockClient<TracedChannel>, name: &'static str| {
            let mut clock = clock.clone();
            async move {
                let current = clock
                    .current_date(CurrentDateRequest {})
                    .await
                    .with_context(|| format!("cannot reach {name}"))?
                    .into_inner()
                    .current_date;
                if current.is_empty() {
                    return anyhow::Ok(None);
                }
                let date = current
                    .parse()
                    .with_context(|| format!("{name} sent a malformed date {current:?}"))?;
                Ok(Some(date))
            }
        };
        Ok(ClockDates {
            court: date(&self.court_clock, "the court registry").await?,
            cms: date(&self.cms_clock, "the CMS").await?,
            hub: date(&self.hub_clock, "the referral hub").await?,
        })
    }

    /// Clients of the services at `urls`, reached over `transport`, connecting lazily.
    pub fn new(urls: &Urls, transport: &Transport) -> anyhow::Result<Self> {
        let channel = |url: &str| -> anyhow::Result<TracedChannel> {
            transport
                .lazy_channel(url, Identity::Simulation)
                .with_context(|| format!("{url:?} is not a gRPC address"))
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

/// A family as the driver follows it: its plan, what the agencies last told it, and the money it
/// moved outside the CMS.
#[derive(Debug)]
pub struct Family {
    /// Its plan.
    pub plan: FamilyPlan,
    /// The orders the court made, by which order of the plan they are.
    orders: BTreeMap<OrderRef, CourtOrderFact>,
    /// The CMS case exists.
    cms_open: bool,
    /// The CMS waits for the proceedings to end (delayed involvement), as it last said.
    deferred: bool,
    /// The CMS case has closed.
    closed: bool,
    /// The next instalment's due date, as the CMS last said; `None` before liability starts.
    next_due: Option<NaiveDate>,
    /// Payments made straight to the receiving parent (Direct Pay, or a family-based arrangement).
    pub direct_payments: Vec<(NaiveDate, Decimal)>,
    /// Instalments due under a family-based arrangement after leaving the CMS.
    pub arrangement_due: Vec<(NaiveDate, Decimal)>,
    /// Direct Pay shortfalls not yet reported to the CMS.
    unreported_shortfall: Decimal,
    /// A report of missed Direct Pay payments the receiving parent will make: when, and of how much.
    pending_report: Option<(NaiveDate, Decimal)>,
    /// The receiving parent has reported missed Direct Pay payments.
    reported_missed: bool,
    /// After leaving the CMS: the next instalment the parents keep to, and its amount.
    arrangement: Option<(u32, NaiveDate, Decimal)>,
    /// Enforcement steps whose outcome for the family has been played out.
    steps_played: Vec<String>,
    /// Instalment payments sent to the CMS so far: numbers each one's request id.
    payments_sent: u32,
    /// The latest day the family dealt with the CMS: nothing it does later is dated earlier.
    last_cms_day: Option<NaiveDate>,
    /// Calls made to the court and the CMS so far: numbers each call's answer in the journal.
    calls: u32,
}

impl Family {
    /// A family about to act out `plan`.
    pub fn new(plan: FamilyPlan) -> Self {
        Self {
            plan,
            orders: BTreeMap::new(),
            cms_open: false,
            deferred: false,
            closed: false,
            next_due: None,
            direct_payments: Vec::new(),
            arrangement_due: Vec::new(),
            unreported_shortfall: Decimal::ZERO,
            pending_report: None,
            reported_missed: false,
            arrangement: None,
            steps_played: Vec::new(),
            payments_sent: 0,
            last_cms_day: None,
            calls: 0,
        }
    }

    /// The key of the family's next call: it follows from the family's plan and the answers it
    /// got, so a resumed runner numbers its calls as the first did.
    fn next_call(&mut self) -> Call {
        self.calls += 1;
        Call {
            replication: self.plan.replication,
            family: self.plan.family_index,
            number: self.calls,
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

/// Drives `families` through the period, a week at a time, their calls to the CMS made as `calls`
/// says, carrying on from `resume`; `on_step` is told after each step.
pub async fn drive(
    scenario: &Scenario,
    agencies: &Agencies,
    families: Vec<Family>,
    reporting: Reporting,
    calls: Calls,
    resume: &Resume,
    mut on_step: impl FnMut(),
) -> anyhow::Result<Vec<Family>> {
    let start = scenario.run.start;
    let last_day = scenario
        .run
        .end()
        .pred_opt()
        .context("the period ends at the beginning of the calendar")?;
    let concurrency = match calls {
        Calls::PerCommand { concurrency } => concurrency,
        // Batched, every family acting in a phase acts at once: the gate is not used.
        Calls::Batched { .. } => PER_COMMAND_CONCURRENCY,
    };
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
                    agencies,
                    resume.journal.as_ref(),
                    &scenario.population,
                    &gate,
                    calls,
                    phase,
                    reporting,
                    previous,
                    step_end,
                )
                .await?;
                // The CMS takes in the court's events before the families deal with it, and the
                // hub takes in both before it acts.
                agencies.settle(AgencyId::Cms).await?;
            }
            agencies.settle(AgencyId::ReferralHub).await?;
            for (agency, reached) in [
                (AgencyId::ReferralHub, resume.clocks.hub),
                (AgencyId::Cms, resume.clocks.cms),
                (AgencyId::CourtRegistry, resume.clocks.court),
            ] {
                // A clock already there was moved by an earlier runner of this run, which moved it
                // only once every call of the step was answered.
                if reached.is_some_and(|reached| step_end <= reached) {
                    continue;
                }
                agencies.advance_to(agency, step_end).await?;
            }
            anyhow::Ok(())
        }
        .instrument(step)
        .await?;
        previous = step_end;
        on_step();
    }
    // The last clock moves published events too (instalments falling due, the hub's reviews):
    // every agency takes them in before anything is read back, or what the audit logs hold at the
    // end would depend on how fast delivery happened to be.
    agencies.settle(AgencyId::Cms).await?;
    agencies.settle(AgencyId::ReferralHub).await?;
    Ok(families.into_iter().flatten().collect())
}

/// Runs one phase of a step for every family with something to do, concurrently.
#[allow(clippy::too_many_arguments)]
async fn run_phase(
    families: &mut [Option<Family>],
    agencies: &Agencies,
    journal: Option<&Arc<Journal>>,
    population: &Population,
    gate: &Arc<Semaphore>,
    calls: Calls,
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
    let acting: Vec<(usize, Family)> = busy
        .into_iter()
        .filter_map(|index| families[index].take().map(|family| (index, family)))
        .collect();
    // The phase's calls are gathered into batches, unless each is to go alone; the gatherer waits
    // for every family acting, so all of them act at once.
    let members = acting.len();
    let (links, gatherer) = agencies.links(phase, calls, members, journal);
    // Families calling one by one are let through a gate; batched, or in process, all act at once.
    let gated = gatherer.is_none() && matches!(agencies, Agencies::Services(_));
    for (index, mut family) in acting {
        let population = population.clone();
        let permit = if gated {
            Some(
                Arc::clone(gate)
                    .acquire_owned()
                    .await
                    .context("the driver's gate closed")?,
            )
        } else {
            None
        };
        let phase_span = phase_span.clone();
        let links = links.clone();
        let memberships = links.memberships();
        running.spawn(async move {
            let _permit = permit;
            let _memberships = memberships;
            act(
                &mut family,
                &links,
                &population,
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
    if let Some(gatherer) = gatherer {
        gatherer.await.context("the phase's gatherer panicked")?;
    }
    Ok(())
}

/// A family's links to the court registry and the CMS for a phase.
#[derive(Clone)]
struct Links {
    court: Link<Court>,
    cms: Link<Cms>,
}

impl Links {
    /// What a family's task holds while it acts: its membership of each link (only the phase's
    /// agency's is a gatherer's).
    fn memberships(&self) -> (Membership<Court>, Membership<Cms>) {
        (self.court.membership(), self.cms.membership())
    }
}

/// The link to `client`'s agency through which `members` families act in a phase, with its
/// gatherer's task if the calls are batched.
fn phase_link<A: Agency>(
    client: A::Client,
    calls: Calls,
    members: usize,
    journal: Option<&Arc<Journal>>,
) -> (Link<A>, Option<tokio::task::JoinHandle<()>>) {
    match calls {
        Calls::Batched { batch_size } => {
            let (link, task) = link::gather::<A>(client, members, batch_size, journal.cloned());
            (link, Some(task))
        }
        Calls::PerCommand { .. } => (Link::per_command(client, journal.cloned()), None),
    }
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
    if phase == Phase::Court {
        return planned;
    }
    planned
        || family
            .pending_report
            .is_some_and(|(date, _)| date <= through)
        || family.arrangement.is_some_and(|(_, due, _)| due <= through)
        || (family.cms_open
            && !family.closed
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
        Action::NotifyPayingParent => "NotifyPayingParent",
        Action::MakeCalculation => "MakeCalculation",
        Action::ReportProceedingsEnded { .. } => "ReportProceedingsEnded",
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
#[allow(clippy::too_many_arguments)]
async fn act(
    family: &mut Family,
    links: &Links,
    population: &Population,
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
            court_action(family, &links.court, index, date, &action)
                .instrument(span)
                .await?;
        }
        return Ok(());
    }
    let cms = &links.cms;
    if family.cms_open && !family.closed && family.next_due.is_none() {
        // Liability may have started without a call of ours (a final order from the court's feed).
        let span = action_span(family, "ReadCase", phase_span);
        refresh(family, cms).instrument(span).await?;
    }
    let mut pending = actions.into_iter().peekable();
    loop {
        let pay_on = payment_date(family).filter(|date| *date > after && *date <= through);
        let report_on = family
            .pending_report
            .map(|(date, _)| date)
            .filter(|date| *date <= through);
        let next_action = pending.peek().map(|(_, date, _)| *date);
        // The earliest of the three goes first; on a tie, a planned action, then a report, then
        // the payment.
        let earliest = [next_action, report_on, pay_on].into_iter().flatten().min();
        let Some(day) = earliest else { break };
        // A recalculation can move the schedule back to a day the family has already passed: it
        // then pays, or reports, on the day it is at.
        let on = family.last_cms_day.map_or(day, |last| day.max(last));
        if next_action == Some(day) {
            if let Some((index, date, action)) = pending.next() {
                let span = action_span(family, action_name(&action), phase_span);
                cms_action(family, cms, reporting, index, date, &action)
                    .instrument(span)
                    .await?;
            }
        } else if report_on == Some(day) {
            let span = action_span(family, "ReportMissedDirectPay", phase_span);
            report_missed_direct_pay(family, cms, on)
                .instrument(span)
                .await?;
        } else {
            let span = action_span(family, "Payment", phase_span);
            settle_instalment(family, cms, population, on)
                .instrument(span)
                .await?;
        }
        family.last_cms_day = Some(on);
    }
    keep_arrangement(family, through);
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
pub fn refused_by_rule(status: &Status) -> bool {
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
    court: &Link<Court>,
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
    // The call, and the order it makes (which of the plan's, whether final, the nights), if any.
    let (request, order) = match action {
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
            let request = court::OpenCaseRequest {
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
            };
            (CourtRequest::OpenCase(request), None)
        }
        Action::InterimOrder {
            nights_with_paying_parent: nights,
        } => (
            CourtRequest::MakeInterimOrder(order_request(nights)),
            Some((OrderRef::Interim, false, nights)),
        ),
        Action::FinalOrder {
            nights_with_paying_parent: nights,
        } => (
            CourtRequest::MakeFinalOrder(order_request(nights)),
            Some((OrderRef::Final, true, nights)),
        ),
        Action::VariationOrder {
            nights_with_paying_parent: nights,
        } => (
            CourtRequest::MakeVariationOrder(order_request(nights)),
            Some((OrderRef::Variation, true, nights)),
        ),
        Action::ApplyToVary {
            proposed_nights_with_paying_parent,
        } => {
            let request = court::ApplyToVaryRequest {
                client_request_id: id.clone(),
                case_reference: case_reference.clone(),
                effective_date: iso(date),
                applied_by: Some(court::Party {
                    person_ref: family.plan.paying_parent_ref.clone(),
                }),
                proposed_arrangements: arrangements(
                    proposed_nights_with_paying_parent,
                    paying_first,
                ),
            };
            (CourtRequest::ApplyToVary(request), None)
        }
        Action::CloseCourtCase { withdrawn } => {
            let request = court::CloseCaseRequest {
                client_request_id: id.clone(),
                case_reference: case_reference.clone(),
                effective_date: iso(date),
                reason: if *withdrawn {
                    court::ClosureReason::Withdrawn
                } else {
                    court::ClosureReason::Dismissed
                }
                .into(),
            };
            (CourtRequest::CloseCase(request), None)
        }
        _ => return Ok(()),
    };
    let call = family.next_call();
    let outcome = court.send(call, request).await?;
    match outcome {
        Ok(response) => {
            if let Some((which, is_final, nights)) = order {
                let order_id = response
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
            }
            Ok(())
        }
        Err(status) if refused_by_rule(&status) => {
            tracing::debug!(case = %case_reference, %status, "the court refused a family's action");
            Ok(())
        }
        Err(status) => Err(anyhow::Error::new(status)
            .context(format!("the court registry failed on {case_reference}"))),
    }
}

/// Takes what the CMS says of the case: whether it waits, whether it closed, and the next
/// instalment.
fn observe(family: &mut Family, case: Option<&cms::Case>) {
    let Some(case) = case else {
        return;
    };
    family.cms_open = true;
    family.deferred = case.awaiting_final_order;
    family.closed = case.stage == "closed";
    family.next_due = case
        .next_instalment
        .as_ref()
        .and_then(|instalment| instalment.due.parse().ok());
}

async fn refresh(family: &mut Family, cms: &Link<Cms>) -> anyhow::Result<cms::Case> {
    let call = family.next_call();
    let case = cms
        .send(
            call,
            CaseRequest::GetCase(cms::GetCaseRequest {
                case_reference: family.plan.cms_case_reference.clone(),
                omit_history: true,
            }),
        )
        .await?
        .with_context(|| format!("the CMS could not read {}", family.plan.cms_case_reference))?
        .case
        .with_context(|| format!("the CMS sent no case {}", family.plan.cms_case_reference))?;
    observe(family, Some(&case));
    Ok(case)
}

/// A command to the CMS whose refusal by a rule the world accepts; any other failure stops the run.
async fn cms_command(
    family: &mut Family,
    what: &str,
    outcome: Result<cms::CaseResponse, Status>,
) -> anyhow::Result<()> {
    match outcome {
        Ok(response) => {
            observe(family, response.case.as_ref());
            Ok(())
        }
        Err(status) if refused_by_rule(&status) => {
            tracing::debug!(case = %family.plan.cms_case_reference, %status, "the CMS refused {what}");
            Ok(())
        }
        Err(status) => Err(anyhow::Error::new(status).context(format!(
            "the CMS failed on {what} for {}",
            family.plan.cms_case_reference
        ))),
    }
}

/// Records a payment with the CMS.
async fn record_payment(
    family: &mut Family,
    cms: &Link<Cms>,
    id: String,
    on: NaiveDate,
    amount: Decimal,
    source: PaymentSource,
) -> anyhow::Result<()> {
    let call = family.next_call();
    let outcome = cms
        .send(
            call,
            CaseRequest::RecordPayment(cms::RecordPaymentRequest {
                client_request_id: id,
                case_reference: family.plan.cms_case_reference.clone(),
                effective_date: iso(on),
                amount: money(amount),
                source: payment_source(source).into(),
            }),
        )
        .await?;
    cms_command(family, "a payment", outcome).await
}

fn payment_source(source: PaymentSource) -> cms::PaymentSource {
    match source {
        PaymentSource::PayingParent => cms::PaymentSource::PayingParent,
        PaymentSource::DeductionFromEarnings => cms::PaymentSource::DeductionFromEarnings,
        PaymentSource::DeductionFromAccount => cms::PaymentSource::DeductionFromAccount,
        PaymentSource::DeductionFromBenefit => cms::PaymentSource::DeductionFromBenefit,
        PaymentSource::EnforcementAgents => cms::PaymentSource::EnforcementAgents,
    }
}

/// Plays out what the family does on the day it would pay the next instalment: leaves for a
/// family-based arrangement if Direct Pay has gone, settles arrears after a late enforcement step
/// if its luck says so, then pays the instalment the CMS asks for as the family's behaviour on
/// that service has it — to the CMS on Collect and Pay, directly on Direct Pay.
async fn settle_instalment(
    family: &mut Family,
    cms: &Link<Cms>,
    population: &Population,
    on: NaiveDate,
) -> anyhow::Result<()> {
    let due = family.next_due;
    let case = refresh(family, cms).await?;
    if leaves_for_arrangement(family, &case) {
        return leave_for_arrangement(family, cms, &case, on).await;
    }
    play_enforcement_outcomes(family, cms, &case, on).await?;
    let Some(instalment) = case.next_instalment else {
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
    let amount_due: Decimal = instalment
        .amount
        .parse()
        .context("the CMS sent a malformed instalment amount")?;
    let collection = if !instalment.collected {
        Collection::DirectPay
    } else {
        match case.deduction.as_str() {
            "earnings" => Collection::DeductionFromEarnings,
            "account" => Collection::DeductionFromAccount,
            "benefit" => Collection::DeductionFromBenefit,
            _ => Collection::CollectAndPay,
        }
    };
    let payment = world::payment_for(&family.plan, instalment.number, amount_due, collection);
    if collection == Collection::DirectPay {
        pay_directly(
            family,
            population,
            instalment.number,
            due_on,
            amount_due,
            payment,
        );
    } else if let Some(payment) = payment {
        // Numbered, not named by the due date: a recalculation can restart the schedule on a date
        // already paid against.
        family.payments_sent += 1;
        let id = format!(
            "{}/payment-{}",
            family.plan.cms_case_reference, family.payments_sent
        );
        record_payment(family, cms, id, on, payment.amount, payment.source).await?;
    }
    // This instalment is behind the family, paid or not.
    family.next_due = due_on.checked_add_days(Days::new(INSTALMENT_DAYS));
    Ok(())
}

/// A Direct Pay instalment: what the paying parent pays goes straight to the receiving parent (on
/// time, or late); a shortfall may be reported to the CMS a week after the due date.
fn pay_directly(
    family: &mut Family,
    population: &Population,
    number: u32,
    due_on: NaiveDate,
    amount_due: Decimal,
    payment: Option<world::Payment>,
) {
    let paid = payment.map_or(Decimal::ZERO, |payment| payment.amount);
    if paid > Decimal::ZERO {
        family
            .direct_payments
            .push((direct_payment_date(&family.plan, due_on), paid));
    }
    let shortfall = amount_due - paid;
    if shortfall > Decimal::ZERO {
        family.unreported_shortfall += shortfall;
        if world::reports_missed_direct_pay(&family.plan, population, number) {
            let report_on = due_on
                .checked_add_days(Days::new(REPORT_AFTER_DAYS))
                .unwrap_or(due_on);
            family.pending_report = Some((report_on, family.unreported_shortfall));
        }
    }
}

/// When a direct payment for an instalment due `due_on` is made: a few days before, or late.
fn direct_payment_date(plan: &FamilyPlan, due_on: NaiveDate) -> NaiveDate {
    let late = u64::from(plan.payment.direct_pay_days_late);
    if late > 0 {
        due_on.checked_add_days(Days::new(late)).unwrap_or(due_on)
    } else {
        due_on
            .checked_sub_days(Days::new(u64::from(plan.payment.days_before_due)))
            .unwrap_or(due_on)
    }
}

/// The receiving parent reports the Direct Pay shortfall to the CMS.
async fn report_missed_direct_pay(
    family: &mut Family,
    cms: &Link<Cms>,
    on: NaiveDate,
) -> anyhow::Result<()> {
    let Some((_, unpaid)) = family.pending_report.take() else {
        return Ok(());
    };
    let call = family.next_call();
    let outcome = cms
        .send(
            call,
            CaseRequest::ReportMissedDirectPay(cms::ReportMissedDirectPayRequest {
                client_request_id: format!("{}/missed-{}", family.plan.cms_case_reference, iso(on)),
                case_reference: family.plan.cms_case_reference.clone(),
                effective_date: iso(on),
                unpaid: money(unpaid),
            }),
        )
        .await?;
    family.unreported_shortfall = Decimal::ZERO;
    family.reported_missed = outcome.is_ok();
    cms_command(family, "a report of missed Direct Pay", outcome).await
}

/// Whether the family leaves now: it asked for Direct Pay, the CMS has it on Collect and Pay
/// though nobody reported a miss (so Direct Pay is not available), and it is one that leaves.
fn leaves_for_arrangement(family: &Family, case: &cms::Case) -> bool {
    let plan = &family.plan;
    plan.leaves_when_direct_pay_ends
        && !plan.collect_and_pay
        && !plan.flat_rate_benefit
        && !family.reported_missed
        && case.collect_and_pay
        && case.stage == "live"
}

/// The family closes its CMS case for a family-based arrangement and keeps to the last amount.
async fn leave_for_arrangement(
    family: &mut Family,
    cms: &Link<Cms>,
    case: &cms::Case,
    on: NaiveDate,
) -> anyhow::Result<()> {
    let next = case.next_instalment.as_ref();
    let due = next.and_then(|instalment| instalment.due.parse().ok());
    let amount = next.and_then(|instalment| instalment.maintenance.parse().ok());
    let number = next.map_or(1, |instalment| instalment.number);
    let call = family.next_call();
    let outcome = cms
        .send(
            call,
            CaseRequest::CloseCase(cms::CloseCaseRequest {
                client_request_id: format!("{}/close", family.plan.cms_case_reference),
                case_reference: family.plan.cms_case_reference.clone(),
                effective_date: iso(on),
            }),
        )
        .await?;
    cms_command(family, "closing the case", outcome).await?;
    if let (Some(due), Some(amount)) = (due, amount) {
        family.arrangement = Some((number, due, amount));
    }
    family.next_due = None;
    Ok(())
}

/// Instalments of a family-based arrangement falling due by `through`: the parents settle them
/// between them, as they would have on Direct Pay.
fn keep_arrangement(family: &mut Family, through: NaiveDate) {
    while let Some((number, due, amount)) = family.arrangement
        && due <= through
    {
        family.arrangement_due.push((due, amount));
        let payment = world::payment_for(&family.plan, number, amount, Collection::DirectPay);
        if let Some(payment) = payment {
            family
                .direct_payments
                .push((direct_payment_date(&family.plan, due), payment.amount));
        }
        family.arrangement = due
            .checked_add_days(Days::new(INSTALMENT_DAYS))
            .map(|next| (number + 1, next, amount));
    }
}

/// The outcome of the late enforcement steps, once each: enforcement agents may collect the
/// arrears, and a disqualified parent may pay them.
async fn play_enforcement_outcomes(
    family: &mut Family,
    cms: &Link<Cms>,
    case: &cms::Case,
    on: NaiveDate,
) -> anyhow::Result<()> {
    let stage = case.enforcement_stage.as_str();
    let luck = family.plan.enforcement_luck;
    let outcome = match stage {
        "enforcement_agents" => Some((luck.agents_collect, PaymentSource::EnforcementAgents)),
        "disqualification" | "committal" => Some((
            luck.pays_after_disqualification,
            PaymentSource::PayingParent,
        )),
        _ => None,
    };
    let Some((pays, source)) = outcome else {
        return Ok(());
    };
    if family.steps_played.iter().any(|played| played == stage) {
        return Ok(());
    }
    family.steps_played.push(stage.to_owned());
    let arrears: Decimal = case
        .account
        .as_ref()
        .and_then(|account| account.arrears.parse().ok())
        .unwrap_or_default();
    if pays && arrears > Decimal::ZERO {
        let id = format!("{}/{stage}", family.plan.cms_case_reference);
        record_payment(family, cms, id, on, arrears, source).await?;
    }
    Ok(())
}

async fn cms_action(
    family: &mut Family,
    cms: &Link<Cms>,
    reporting: Reporting,
    index: usize,
    date: NaiveDate,
    action: &Action,
) -> anyhow::Result<()> {
    let id = request_id(family, index);
    let reference = family.plan.cms_case_reference.clone();
    let plan = &family.plan;
    let request = match action {
        Action::OpenCmsApplication {
            proceedings_pending,
        } => CaseRequest::OpenApplication(cms::OpenApplicationRequest {
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
            employment: match plan.employment {
                Employment::Employed => cms::Employment::Employed,
                Employment::SelfEmployed => cms::Employment::SelfEmployed,
                Employment::NotWorking => cms::Employment::NotWorking,
            }
            .into(),
        }),
        Action::NotifyPayingParent => {
            CaseRequest::NotifyPayingParent(cms::NotifyPayingParentRequest {
                client_request_id: id,
                case_reference: reference.clone(),
                effective_date: iso(date),
            })
        }
        Action::MakeCalculation => CaseRequest::MakeCalculation(cms::MakeCalculationRequest {
            client_request_id: id,
            case_reference: reference.clone(),
            effective_date: iso(date),
        }),
        Action::ReportIncomeChange {
            gross_weekly_income,
        } => CaseRequest::RecordIncome(cms::RecordIncomeRequest {
            client_request_id: id,
            case_reference: reference.clone(),
            effective_date: iso(date),
            gross_weekly_income: money(*gross_weekly_income),
            source: cms::IncomeSource::ReportedChange.into(),
        }),
        Action::Contact {
            by_paying_parent,
            distressed,
            kind,
        } => CaseRequest::RecordContact(cms::RecordContactRequest {
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
                familybridge_casework::ContactKind::Complaint => cms::ContactKind::Complaint,
                familybridge_casework::ContactKind::Written => cms::ContactKind::Written,
            }
            .into(),
            distressed: *distressed,
        }),
        Action::ClaimSharedCare { child_ref, nights } => {
            CaseRequest::RecordSharedCare(cms::RecordSharedCareRequest {
                client_request_id: id,
                case_reference: reference.clone(),
                effective_date: iso(date),
                child_ref: child_ref.clone(),
                nights: *nights,
                source: cms::EvidenceSource::ParentsWord.into(),
            })
        }
        Action::ReportCourtOrderToCms { order } => {
            // A final order the CMS is waiting for is told by the waiting receiving parent
            // (`ReportProceedingsEnded`); every other report is today's.
            if reporting == Reporting::Automatic || (*order == OrderRef::Final && family.deferred) {
                return Ok(());
            }
            let Some(made) = family.orders.get(order).cloned() else {
                return Ok(());
            };
            CaseRequest::ReportCourtOrder(court_order_report(id, &reference, date, &made))
        }
        Action::ReportProceedingsEnded { without_order } => {
            if reporting == Reporting::Automatic || !family.deferred {
                return Ok(());
            }
            match without_order {
                None => {
                    let Some(made) = family.orders.get(&OrderRef::Final).cloned() else {
                        return Ok(());
                    };
                    CaseRequest::ReportCourtOrder(court_order_report(id, &reference, date, &made))
                }
                Some(outcome) => {
                    CaseRequest::ReportProceedingsEnded(cms::ReportProceedingsEndedRequest {
                        client_request_id: id,
                        case_reference: reference.clone(),
                        effective_date: iso(date),
                        outcome: match outcome {
                            ProceedingsOutcome::Withdrawn => cms::ProceedingsOutcome::Withdrawn,
                            ProceedingsOutcome::Dismissed => cms::ProceedingsOutcome::Dismissed,
                        }
                        .into(),
                    })
                }
            }
        }
        _ => return Ok(()),
    };
    let call = family.next_call();
    let outcome = cms.send(call, request).await?;
    cms_command(family, "a family's action", outcome).await
}

/// A parent's report of a court order to the CMS.
fn court_order_report(
    id: String,
    reference: &str,
    date: NaiveDate,
    made: &CourtOrderFact,
) -> cms::ReportCourtOrderRequest {
    cms::ReportCourtOrderRequest {
        client_request_id: id,
        case_reference: reference.to_owned(),
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
    }
}
