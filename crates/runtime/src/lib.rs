//! What every familybridge service runs on.
//!
//! The three agency services differ in their rules and storage but are hosted alike: a tonic server
//! that also answers `grpc.health.v1` and server reflection (v1 and v1alpha), the
//! `familybridge.simulation.v1.Clock` service over the service's own persisted date, graceful
//! shutdown on SIGINT or SIGTERM, access control under each service's policy ([`access`]), mutual TLS ([`tls`]), and logging and OpenTelemetry export through `tracing`
//! ([`Telemetry`]: the trace of a family's journey across the agencies). This crate holds each of
//! those once.

pub mod access;
mod allocator;
mod clock;
mod health;
mod host;
mod oversize;
pub mod retry;
mod service;
mod shutdown;
mod telemetry;
pub mod tls;

pub use access::{
    AccessControl, AccessPolicy, AgencyId, Caller, IDENTITY_HEADER, Identity, UnknownAgency,
};
pub use clock::{ClockService, DueWork, Intake, NoIntake, NothingDue};
pub use health::{
    NotReady, PROBE_TIMEOUT, check_serving, probe, probe_address, wait_until_serving,
    wait_until_serving_over,
};
pub use host::{GrpcHost, HostError};
pub use service::{
    MainOptions, Network, ServiceArgs, ServiceError, TlsArgs, bind, error_chain, machinery_failure,
    report, run_main, run_main_on,
};
pub use shutdown::{Shutdown, termination_signal};
pub use telemetry::{
    CallMetadata, SPAN_TARGET, Telemetry, TelemetryConfig, TelemetryError, TraceContext,
    TracedChannel, batch, continue_trace, family_span, flush_telemetry, init_logging,
    record_batch_size, record_feed_lag, traced,
};
pub use tls::{Credentials, TlsError, Transport};

/// Re-exported for [`trace_span!`], so that its callers need not name `tracing`'s version.
#[doc(hidden)]
pub use tracing as __tracing;

/// Re-exported so that services, their callers and tests share one cancellation type.
pub use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
