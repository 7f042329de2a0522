//! The in-process floor: the same world and the same rules as a run through the services, with
//! the services' rules called directly — no gRPC, no database, no serialisation of cases. What a
//! run through the services costs beyond the rules themselves is measured against it
//! (`familybridge bench`), and `run --floor` gives its outcome, which is the services' outcome.
//!
//! The families are driven by the same driver ([`drive`](super::drive)), their calls reaching the
//! agencies' rules through [`Direct`] links. Each agency here does what the service does around its
//! rules, in memory:
//!
//! - the court registry decides each command with its rules (`court_registry::api::decide`);
//! - the CMS brings a case up to its clock, applies the court's events pending on it up to the
//!   command's date, then decides (`cms_calculation::cases::rules::CaseRules`); a refused command
//!   changes nothing; its clock's moves visit the cases with something due, as the service's do;
//! - on the automatic route, the court's events reach the CMS cases of the court case's parents,
//!   pending until each case reaches their date, as the CMS's router leaves them;
//! - every published event counts as a disclosure to each agency that follows the publisher and
//!   whose data-sharing agreement shares it, stripped as the feed strips it.
//!
//! The referral hub's rules need its records, and are not here: the floor runs only arms whose hub
//! levers are all off, in which the hub acts on nothing. Nor does it keep idempotency records (the
//! driver never retries in process) or check dates against the clock's window.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::Context;
use chrono::NaiveDate;
use cms_calculation::cases::court_orders::CourtEvent;
use cms_calculation::cases::publish::outgoing;
use cms_calculation::cases::rules::{CaseRules, View, existing};
use cms_calculation::cases::store::StoredCase;
use court_registry::api::Decision;
use court_registry::case::Case as CourtCase;
use familybridge_casework::{CaseEvent, CourtOrderRoute};
use familybridge_feed::{AgencyId, DataSharingAgreements, OutgoingEvent, parse_date};
use familybridge_proto::BatchEntry;
use familybridge_proto::cms::v1 as cms;
use familybridge_proto::cms::v1::case_batch_entry::Request as CaseRequest;
use familybridge_proto::court::v1 as court;
use familybridge_proto::court::v1::court_batch_entry::Request as CourtRequest;
use familybridge_scenario::{Arm, world};
use tonic::Status;

use crate::run::link::{Cms, Court, Direct};

/// The three agencies' rules in this process, for one arm and one cohort of families.
pub struct Floor {
    cms_rules: CaseRules,
    /// The CMS follows the court's feed (automatic exchange of court orders).
    automatic: bool,
    court_agreements: DataSharingAgreements,
    cms_agreements: DataSharingAgreements,
    state: Mutex<State>,
}

/// What the agencies hold.
#[derive(Default)]
struct State {
    court_cases: HashMap<String, CourtCase>,
    cms_cases: HashMap<String, StoredCase>,
    /// Each CMS case's history, taken out of its file after every change (as the CMS's history
    /// table holds it), so that deciding never copies it.
    cms_histories: HashMap<String, Vec<CaseEvent>>,
    /// CMS cases by their parents (paying, receiving).
    cms_cases_of: HashMap<(String, String), Vec<String>>,
    /// The court's events pending on each CMS case, in the order they apply (by date, then by
    /// arrival).
    pending: HashMap<String, Vec<Pending>>,
    /// Each court case's parties (applicant, respondent), from the first event naming them.
    court_parties: HashMap<String, (String, String)>,
    /// The CMS cases each court case reaches.
    court_links: HashMap<String, BTreeSet<String>>,
    /// The CMS's simulated date.
    cms_today: Option<NaiveDate>,
    /// Disclosures by the stream (case reference) of the event disclosed.
    disclosures: HashMap<String, u64>,
}

/// A court event pending on a CMS case.
#[derive(Clone)]
struct Pending {
    date: NaiveDate,
    event: Arc<CourtEvent>,
}

impl Floor {
    /// The agencies of `arm`; refuses an arm whose referral hub would act.
    pub fn new(arm: &Arm) -> anyhow::Result<Self> {
        let hub = &arm.hub;
        anyhow::ensure!(
            !hub.screening.enabled && !hub.pauses.enabled && !hub.joint_reviews.enabled,
            "arm {:?}: the in-process floor runs only arms whose referral hub levers are off \
             (screening, pauses, joint_reviews)",
            arm.name
        );
        let book = cms_calculation::parameters_for(arm.cms.fee_model)?;
        Ok(Self {
            cms_rules: CaseRules::new(arm.cms, Arc::new(book)),
            automatic: arm.cms.court_orders == CourtOrderRoute::Automatic,
            court_agreements: court_registry::default_agreements()?,
            cms_agreements: cms_calculation::default_agreements()?,
            state: Mutex::new(State::default()),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock fails the whole run, so a poisoned state is never read.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Moves `agency`'s clock to `date`: the CMS's visits every case with something due by then
    /// (a court event, or its next work day); the court registry and the hub have nothing due.
    pub fn advance_to(&self, agency: AgencyId, date: NaiveDate) -> anyhow::Result<()> {
        if agency != AgencyId::Cms {
            return Ok(());
        }
        let mut state = self.state();
        let state = &mut *state;
        let mut due: Vec<String> = state
            .cms_cases
            .iter()
            .filter(|(reference, case)| {
                case.file.next_work_day().is_some_and(|day| day <= date)
                    || state
                        .pending
                        .get(*reference)
                        .and_then(|pending| pending.first())
                        .is_some_and(|first| first.date <= date)
            })
            .map(|(reference, _)| reference.clone())
            .collect();
        due.sort_unstable();
        for reference in due {
            let Some(mut case) = state.cms_cases.remove(&reference) else {
                continue;
            };
            let mut pending = state.pending.remove(&reference).unwrap_or_default();
            let mut published = self.apply_pending(&mut case, &mut pending, date)?;
            let events = self.cms_rules.catch_up(&mut case, Some(date))?;
            published.extend(outgoing(&case, &events)?);
            self.keep_cms_case(state, case, pending, &published)?;
        }
        state.cms_today = Some(date);
        Ok(())
    }

    /// The disclosures of the cases of each of `replications`, as the agencies would count them.
    pub fn disclosures_by_replication(&self, replications: &[u32]) -> BTreeMap<u32, u64> {
        let state = self.state();
        replications
            .iter()
            .map(|&replication| {
                let prefixes = [
                    world::court_case_prefix(replication),
                    world::cms_case_prefix(replication),
                ];
                let count = state
                    .disclosures
                    .iter()
                    .filter(|(stream, _)| prefixes.iter().any(|prefix| stream.starts_with(prefix)))
                    .map(|(_, count)| count)
                    .sum();
                (replication, count)
            })
            .collect()
    }

    /// Applies the court events in `pending` dated up to `through` to `case`, in order; the
    /// events to publish. One the case rules refuse is dropped, as the CMS drops it.
    fn apply_pending(
        &self,
        case: &mut StoredCase,
        pending: &mut Vec<Pending>,
        through: NaiveDate,
    ) -> anyhow::Result<Vec<(NaiveDate, OutgoingEvent)>> {
        let due = pending
            .iter()
            .take_while(|event| event.date <= through)
            .count();
        let mut published = Vec::new();
        for event in pending.drain(..due) {
            let rules = &self.cms_rules;
            if let Ok(events) = event
                .event
                .apply(case, event.date, rules.settings(), rules.book())
            {
                published.extend(outgoing(case, &events)?);
            }
        }
        Ok(published)
    }

    /// Keeps a CMS case as changed, its new history moved to its stored history, and counts what
    /// it published.
    fn keep_cms_case(
        &self,
        state: &mut State,
        mut case: StoredCase,
        pending: Vec<Pending>,
        published: &[(NaiveDate, OutgoingEvent)],
    ) -> anyhow::Result<()> {
        let reference = case.case_reference.clone();
        for (_, event) in published {
            count_disclosure(
                state,
                &self.cms_agreements,
                AgencyId::ReferralHub,
                &reference,
                event,
            )?;
        }
        let history = case.file.take_history();
        state
            .cms_histories
            .entry(reference.clone())
            .or_default()
            .extend(history);
        if !pending.is_empty() {
            state.pending.insert(reference.clone(), pending);
        }
        state.cms_cases.insert(reference, case);
        Ok(())
    }

    /// Takes in an event the court published on `stream`: disclosed to the agencies following the
    /// court, and, on the automatic route, left pending on the CMS cases of the court case's
    /// parents.
    fn court_published(
        &self,
        state: &mut State,
        stream: &str,
        date: NaiveDate,
        event: &OutgoingEvent,
    ) -> anyhow::Result<()> {
        count_disclosure(
            state,
            &self.court_agreements,
            AgencyId::ReferralHub,
            stream,
            event,
        )?;
        if !self.automatic {
            return Ok(());
        }
        count_disclosure(state, &self.court_agreements, AgencyId::Cms, stream, event)?;
        let Some(decoded) = CourtEvent::decode(event.event_type(), event.payload())? else {
            return Ok(());
        };
        let route = decoded.route();
        let court_case = route.court_case.to_owned();
        if let Some((applicant, respondent)) = route.parties {
            state
                .court_parties
                .entry(court_case.clone())
                .or_insert_with(|| (applicant.person_ref.clone(), respondent.person_ref.clone()));
        }
        // Every CMS case of the two parents, either way round, as the CMS's router links them.
        let mut reached = state.court_links.remove(&court_case).unwrap_or_default();
        if let Some((applicant, respondent)) = state.court_parties.get(&court_case) {
            for parents in [
                (applicant.clone(), respondent.clone()),
                (respondent.clone(), applicant.clone()),
            ] {
                reached.extend(
                    state
                        .cms_cases_of
                        .get(&parents)
                        .into_iter()
                        .flatten()
                        .cloned(),
                );
            }
        }
        if route.acts {
            let event = Arc::new(decoded);
            for reference in &reached {
                // In date order, and in order of arrival within a day: after every event dated
                // on or before it.
                let queue = state.pending.entry(reference.clone()).or_default();
                let at = queue.partition_point(|earlier| earlier.date <= date);
                let event = Arc::clone(&event);
                queue.insert(at, Pending { date, event });
            }
        }
        state.court_links.insert(court_case, reached);
        Ok(())
    }

    /// A CMS command, as the CMS carries it out: the case brought up to the clock and to the
    /// court's events by the command's date, then the rules' decision; a refusal changes nothing.
    fn cms_command(&self, request: &CaseRequest) -> Result<cms::CaseResponse, Status> {
        let date = parse_date("effective_date", request.effective_date())?;
        let reference = request.case_reference();
        let mut state = self.state();
        let state = &mut *state;
        let mut stored = state.cms_cases.get(reference).cloned();
        let mut pending = state.pending.get(reference).cloned().unwrap_or_default();
        let mut published = Vec::new();
        if let Some(case) = stored.as_mut() {
            let caught_up = self.cms_rules.catch_up(case, state.cms_today)?;
            published.extend(outgoing(case, &caught_up).map_err(internal)?);
            published.extend(
                self.apply_pending(case, &mut pending, date)
                    .map_err(internal)?,
            );
        }
        let opens = stored.is_none();
        let (case, events) = self.cms_rules.decide(request, stored, date)?;
        published.extend(outgoing(&case, &events).map_err(internal)?);
        let answer = cms::CaseResponse {
            case: Some(self.cms_rules.view(&case, View::Answer)?),
            event_ids: Vec::new(),
        };
        if opens {
            state
                .cms_cases_of
                .entry((
                    case.paying_parent_ref.clone(),
                    case.receiving_parent_ref.clone(),
                ))
                .or_default()
                .push(case.case_reference.clone());
        }
        state.pending.remove(reference);
        self.keep_cms_case(state, case, pending, &published)
            .map_err(internal)?;
        Ok(answer)
    }

    /// A CMS case as `GetCase` shows it: brought up to the clock, changing nothing.
    fn cms_read(&self, request: &cms::GetCaseRequest) -> Result<cms::CaseResponse, Status> {
        let state = self.state();
        let reference = &request.case_reference;
        let mut case = existing(state.cms_cases.get(reference).cloned(), reference)?;
        let shown = View::of(request);
        if shown.includes_history() {
            let earlier = state
                .cms_histories
                .get(reference)
                .cloned()
                .unwrap_or_default();
            case.file.restore_history(earlier);
        }
        self.cms_rules.catch_up(&mut case, state.cms_today)?;
        Ok(cms::CaseResponse {
            case: Some(self.cms_rules.view(&case, shown)?),
            event_ids: Vec::new(),
        })
    }
}

/// Counts `event`, published on `stream`, as disclosed to `recipient` if its agreement in
/// `agreements` shares it.
fn count_disclosure(
    state: &mut State,
    agreements: &DataSharingAgreements,
    recipient: AgencyId,
    stream: &str,
    event: &OutgoingEvent,
) -> anyhow::Result<()> {
    let Some(agreement) = agreements.agreement(recipient) else {
        return Ok(());
    };
    if agreement
        .discloses(event.event_type(), event.payload())
        .with_context(|| format!("an event of type {} does not decode", event.event_type()))?
    {
        *state.disclosures.entry(stream.to_owned()).or_default() += 1;
    }
    Ok(())
}

/// A failure of the floor's own machinery (an event that does not encode), as a status.
fn internal(error: impl std::fmt::Display) -> Status {
    Status::internal(format!("{error:#}"))
}

impl Direct<Court> for Floor {
    fn answer(&self, request: CourtRequest) -> Result<court::CaseResponse, Status> {
        let reference = request.case_reference().to_owned();
        let mut state = self.state();
        let stored = state.court_cases.get(&reference).cloned();
        if let CourtRequest::GetCase(_) = request {
            return Ok(court_registry::api::view(&court_registry::api::existing(
                stored, &reference,
            )?));
        }
        let date = parse_date("effective_date", request.effective_date())?;
        let Decision { case, events } = court_registry::api::decide(&request, stored, date)?;
        let answer = court_registry::api::view(&case);
        state.court_cases.insert(reference.clone(), case);
        for event in &events {
            self.court_published(&mut state, &reference, date, event)
                .map_err(internal)?;
        }
        Ok(answer)
    }
}

impl Direct<Cms> for Floor {
    fn answer(&self, request: CaseRequest) -> Result<cms::CaseResponse, Status> {
        match &request {
            CaseRequest::GetCase(read) => self.cms_read(read),
            _ => self.cms_command(&request),
        }
    }
}
