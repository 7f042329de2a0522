//! `familybridge.simulation.v1.Clock`, served alike by every service.
//!
//! Moving a service's simulated date forward first runs whatever falls due on the way (the CMS's
//! payments and escalations, say) and only then records the new date, so that a service killed
//! mid-way is advanced again from where it stood and does the same work. What falls due is each
//! service's own business, supplied through [`DueWork`]. `Settle`, the barrier a simulation calls
//! between its steps, waits for whatever the service takes in from other agencies' feeds, supplied
//! through [`Intake`].

use std::future::Future;

use chrono::NaiveDate;
use familybridge_proto::simulation::v1::clock_server::Clock;
use familybridge_proto::simulation::v1::{
    AdvanceToRequest, AdvanceToResponse, CurrentDateRequest, CurrentDateResponse, SettleRequest,
    SettleResponse,
};
use familybridge_storage::{ClockError, SimulatedClock};
use tonic::{Request, Response, Status};

/// The time-driven work of one service.
pub trait DueWork: Send + Sync + 'static {
    /// Does everything that falls due after `from` (or from the beginning, when the clock has never
    /// been advanced) up to and including `to`, in date order. It may be called again for the same
    /// days after a crash, so it must not do any piece of work twice.
    fn run_due(
        &self,
        from: Option<NaiveDate>,
        to: NaiveDate,
    ) -> impl Future<Output = Result<(), Status>> + Send;
}

/// A service with nothing that falls due with time.
#[derive(Debug, Clone, Copy, Default)]
pub struct NothingDue;

impl DueWork for NothingDue {
    async fn run_due(&self, _from: Option<NaiveDate>, _to: NaiveDate) -> Result<(), Status> {
        Ok(())
    }
}

/// What a service takes in from the feeds of other agencies.
pub trait Intake: Send + Sync + 'static {
    /// Returns once every event the followed feeds had published when it was called has been
    /// taken in and applied; answers the names of the subscriptions it waited for.
    fn settle(&self) -> impl Future<Output = Result<Vec<String>, Status>> + Send;
}

/// A service that follows no other agency's feed: it is always settled.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoIntake;

impl Intake for NoIntake {
    async fn settle(&self) -> Result<Vec<String>, Status> {
        Ok(Vec::new())
    }
}

/// The Clock service over a service's persisted simulated date.
#[derive(Debug)]
pub struct ClockService<W, I = NoIntake> {
    clock: SimulatedClock,
    work: W,
    intake: I,
}

impl<W: DueWork> ClockService<W> {
    /// The Clock of a service whose date is kept by `clock`, whose time-driven work is `work`, and
    /// which follows no other agency's feed.
    pub fn new(clock: SimulatedClock, work: W) -> Self {
        Self {
            clock,
            work,
            intake: NoIntake,
        }
    }

    /// The same Clock, settling through `intake`.
    pub fn with_intake<I: Intake>(self, intake: I) -> ClockService<W, I> {
        ClockService {
            clock: self.clock,
            work: self.work,
            intake,
        }
    }
}

/// Formats a date the way every familybridge API writes dates.
fn iso(date: Option<NaiveDate>) -> String {
    date.map(|date| date.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

fn clock_status(error: ClockError) -> Status {
    match error {
        ClockError::Backwards { .. } => Status::failed_precondition(error.to_string()),
        ClockError::Corrupt(_) | ClockError::Storage(_) => crate::machinery_failure(error),
    }
}

#[tonic::async_trait]
impl<W: DueWork, I: Intake> Clock for ClockService<W, I> {
    async fn advance_to(
        &self,
        request: Request<AdvanceToRequest>,
    ) -> Result<Response<AdvanceToResponse>, Status> {
        let text = request.into_inner().date;
        let date = NaiveDate::parse_from_str(&text, "%Y-%m-%d").map_err(|_| {
            Status::invalid_argument(format!(
                "date: {text:?} is not a date in the form YYYY-MM-DD"
            ))
        })?;
        let previous = self.clock.check_forward(date).await.map_err(clock_status)?;
        if previous != Some(date) {
            self.work.run_due(previous, date).await?;
            self.clock.set(date).await.map_err(clock_status)?;
        }
        Ok(Response::new(AdvanceToResponse {
            previous_date: iso(previous),
            current_date: iso(Some(date)),
        }))
    }

    async fn current_date(
        &self,
        _request: Request<CurrentDateRequest>,
    ) -> Result<Response<CurrentDateResponse>, Status> {
        let current = self.clock.current_date().await.map_err(clock_status)?;
        Ok(Response::new(CurrentDateResponse {
            current_date: iso(current),
        }))
    }

    async fn settle(
        &self,
        _request: Request<SettleRequest>,
    ) -> Result<Response<SettleResponse>, Status> {
        Ok(Response::new(SettleResponse {
            subscriptions: self.intake.settle().await?,
        }))
    }
}
