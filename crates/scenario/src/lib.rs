//! Reform scenarios for familybridge, pure: everything a scenario run needs except talking to the
//! services, which the driver does.
//!
//! - [`calibration`]: the published figures a baseline run's calibration measures are checked
//!   against, with their tolerances and sources.
//! - [`scenario`]: the scenario file a policy analyst writes (TOML), parsed and validated.
//! - [`population`]: the synthetic caseload's parameters, each with its default and source.
//! - [`world`]: one synthetic family's plan, from seeded per-family streams (common random numbers).
//! - [`measures`]: per-family measures from what the services report, summed per replication.
//! - [`stats`]: means, 95% t intervals and paired differences across replications.
//! - [`output`]: `summary.json`, `metrics.csv`, `timeseries.csv`, `report.html` and the terminal
//!   table — the only module that writes files.
//! - [`report`]: the self-contained HTML report.
//! - [`slices`]: a run cut into slices for many machines, and the merge of their results.
//!
//! Same scenario text, seed and service answers give byte-identical outputs: no wall clock, no
//! hash-map iteration, exact decimals printed with a fixed number of places.

pub mod calibration;
pub mod measures;
pub mod output;
pub mod population;
pub mod report;
pub mod scenario;
pub mod slices;
pub mod stats;
pub mod world;

pub use calibration::{CalibrationTarget, TargetKind, calibration_targets};
pub use measures::{
    Aggregation, CourtOrderFact, FamilyMeasures, FamilyRecord, MeasureError, Metric,
    MetricDefinition, ReplicationAccumulator, ReplicationResult, SystemRecord, Tally, Who,
    family_measures,
};
pub use output::{OutputError, terminal_table, write_outputs};
pub use population::{Assumption, Population};
pub use report::render_report;
pub use scenario::{Arm, RunSettings, Scenario, ScenarioError};
pub use slices::{SLICE_FILE, Slice, SliceError, SliceFile, SlicedResult, merge, units};
pub use stats::{
    ArmSummary, Interval, MetricSummary, RunRecord, StatsError, Summary, interval, summarise,
    t_critical,
};
pub use world::{
    Action, Collection, CourtDurations, CourtOutcome, CourtPlan, DistressEpisode, EnforcementLuck,
    FamilyPlan, OrderRef, Payment, PaymentBehaviour, PaymentPattern, PlannedAction, family,
    payment_for, reports_missed_direct_pay,
};
