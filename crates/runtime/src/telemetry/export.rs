//! Exporting: reading the OpenTelemetry variables, installing the process's subscriber, one tracer
//! and meter provider per service the process hosts, and flushing them before it exits.
//!
//! The SDK's batch span processor and periodic metric reader export from threads of their own,
//! through tonic channels whose connection tasks run on the Tokio runtime that was current when
//! the exporter was built. So exporters are only built inside a runtime ([`Telemetry::install`]
//! refuses otherwise, rather than dropping every span in silence), and flushing blocks a thread
//! outside the runtime's workers ([`flush_telemetry`] hands it to the blocking pool), or the export
//! would wait for a worker the flush itself is holding.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::{Arc, OnceLock, RwLock};

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Histogram, MeterProvider as _};
use opentelemetry::trace::{SpanBuilder, Tracer, TracerProvider as _};
use opentelemetry_otlp::{MetricExporter, SpanExporter, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, Registry};

use crate::telemetry::spans::SPAN_TARGET;

/// Where and as whom a process exports, read from the standard OpenTelemetry variables (or given
/// outright, as a test does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelemetryConfig {
    /// The OTLP/gRPC endpoint for traces, e.g. `http://collector:4317`; `None` exports no traces.
    pub traces_endpoint: Option<String>,
    /// The OTLP/gRPC endpoint for metrics; `None` exports no metrics.
    pub metrics_endpoint: Option<String>,
    /// The `service.name` of the process's own spans and metrics.
    pub service_name: String,
}

/// The OpenTelemetry variables ask for something this process cannot do, or the exporter cannot
/// be built.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// Only OTLP over gRPC is supported.
    #[error(
        "{variable}={value:?} is not supported: familybridge exports OTLP over gRPC only; set it \
         to \"grpc\" (or leave it unset) and point OTEL_EXPORTER_OTLP_ENDPOINT at the collector's \
         gRPC port (usually 4317)"
    )]
    Protocol {
        /// The variable.
        variable: &'static str,
        /// Its value.
        value: String,
    },
    /// Exporters must be built inside a Tokio runtime, or their spans are dropped unseen.
    #[error("telemetry must be installed inside a Tokio runtime: its exporters run on it")]
    NoRuntime,
    /// Another exporting set-up is already installed in this process.
    #[error("telemetry is already installed in this process")]
    AlreadyInstalled,
    /// The OTLP exporter could not be built from the settings.
    #[error("cannot export {signal} to {endpoint}")]
    Exporter {
        /// "traces" or "metrics".
        signal: &'static str,
        /// The endpoint.
        endpoint: String,
        /// Why.
        source: opentelemetry_otlp::ExporterBuildError,
    },
}

impl TelemetryConfig {
    /// Reads the process's environment: see [`TelemetryConfig::from_variables`].
    pub fn from_env(binary: &'static str) -> Result<Option<Self>, TelemetryError> {
        Self::from_variables(binary, |name| std::env::var(name).ok())
    }

    /// The set-up the variables `lookup` finds describe, for the binary `binary`; `None` when they
    /// ask for nothing to be exported: no `OTEL_EXPORTER_OTLP_ENDPOINT` (nor a
    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or `…_METRICS_ENDPOINT`), or `OTEL_SDK_DISABLED=true`.
    /// The service is named by `OTEL_SERVICE_NAME`, else by `service.name` in
    /// `OTEL_RESOURCE_ATTRIBUTES`, else by the binary. A protocol other than `grpc` in
    /// `OTEL_EXPORTER_OTLP_PROTOCOL` (or its per-signal forms) is refused with a readable error.
    pub fn from_variables(
        binary: &'static str,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, TelemetryError> {
        let value = |name: &str| lookup(name).map(|value| value.trim().to_owned());
        let set = |name: &str| value(name).filter(|value| !value.is_empty());
        if value("OTEL_SDK_DISABLED").is_some_and(|value| value.eq_ignore_ascii_case("true")) {
            return Ok(None);
        }
        for variable in [
            "OTEL_EXPORTER_OTLP_PROTOCOL",
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
            "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
        ] {
            if let Some(protocol) = set(variable)
                && protocol != "grpc"
            {
                return Err(TelemetryError::Protocol {
                    variable,
                    value: protocol,
                });
            }
        }
        let general = set("OTEL_EXPORTER_OTLP_ENDPOINT");
        let traces_endpoint = set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").or(general.clone());
        let metrics_endpoint = set("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT").or(general);
        if traces_endpoint.is_none() && metrics_endpoint.is_none() {
            return Ok(None);
        }
        let from_attributes = set("OTEL_RESOURCE_ATTRIBUTES").and_then(|attributes| {
            attributes.split(',').find_map(|pair| {
                let (key, value) = pair.split_once('=')?;
                (key.trim() == "service.name" && !value.trim().is_empty())
                    .then(|| value.trim().to_owned())
            })
        });
        Ok(Some(Self {
            traces_endpoint,
            metrics_endpoint,
            service_name: set("OTEL_SERVICE_NAME")
                .or(from_attributes)
                .unwrap_or_else(|| binary.to_owned()),
        }))
    }

    /// Traces and metrics both to `endpoint`, as `service_name`.
    pub fn otlp(endpoint: impl Into<String>, service_name: impl Into<String>) -> Self {
        let endpoint = endpoint.into();
        Self {
            traces_endpoint: Some(endpoint.clone()),
            metrics_endpoint: Some(endpoint),
            service_name: service_name.into(),
        }
    }
}

/// The process's exporting, once installed.
static EXPORT: OnceLock<Export> = OnceLock::new();

struct Export {
    config: TelemetryConfig,
    /// The binary's name: spans attributed to it are the process's own.
    binary: &'static str,
    own: Arc<Providers>,
    /// The other services this process hosts (the in-process stack), by name.
    hosted: RwLock<HashMap<&'static str, Arc<Providers>>>,
}

/// One service's providers: its resource, exporters and instruments.
struct Providers {
    traces: Option<(SdkTracerProvider, SdkTracer)>,
    metrics: Option<(SdkMeterProvider, Instruments)>,
}

/// The metrics every service records (see the README's "Tracing" section).
pub(crate) struct Instruments {
    /// `rpc.server.call.duration`, seconds, by service, method and status: counts and latency.
    pub(crate) rpc_duration: Histogram<f64>,
    /// `familybridge.batch.size`: the pieces of work in each batch, by batch.
    pub(crate) batch_size: Histogram<u64>,
    /// `familybridge.feed.lag`: events a subscription had yet to take in when asked to settle.
    pub(crate) feed_lag: Histogram<u64>,
}

/// The service a span belongs to, carried in its OpenTelemetry context and inherited by the spans
/// below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HostedService(pub(crate) &'static str);

/// Whether anything is being exported.
pub(crate) fn exporting() -> bool {
    EXPORT.get().is_some()
}

/// Whether spans are being exported (the OpenTelemetry layer is installed).
pub(crate) fn tracing_enabled() -> bool {
    EXPORT
        .get()
        .is_some_and(|export| export.own.traces.is_some())
}

/// Runs `record` with `service`'s instruments, if metrics are exported.
pub(crate) fn record(service: &'static str, record: impl FnOnce(&Instruments)) {
    let Some(export) = EXPORT.get() else {
        return;
    };
    if export.own.metrics.is_none() {
        return;
    }
    if let Some((_, instruments)) = &export.providers(Some(service)).metrics {
        record(instruments);
    }
}

/// Records a batch of `size` pieces of work named `batch` in `service`.
pub(crate) fn record_batch_size(service: &'static str, batch: &'static str, size: usize) {
    record(service, |instruments| {
        instruments.batch_size.record(
            u64::try_from(size).unwrap_or(u64::MAX),
            &[KeyValue::new("batch", batch)],
        );
    });
}

impl Export {
    /// The providers of `service` (the process's own for `None` or the binary's name), made on
    /// first use. Outside a Tokio runtime, where no exporter can be built, a service not yet seen is
    /// exported as the process's own.
    fn providers(&self, service: Option<&'static str>) -> Arc<Providers> {
        let Some(service) = service.filter(|service| *service != self.binary) else {
            return Arc::clone(&self.own);
        };
        if let Some(providers) = self.read_hosted().get(service) {
            return Arc::clone(providers);
        }
        if tokio::runtime::Handle::try_current().is_err() {
            return Arc::clone(&self.own);
        }
        let mut hosted = match self.hosted.write() {
            Ok(hosted) => hosted,
            Err(poisoned) => poisoned.into_inner(),
        };
        let providers = hosted.entry(service).or_insert_with(|| {
            match Providers::build(&self.config, service) {
                Ok(providers) => Arc::new(providers),
                Err(error) => {
                    tracing::error!(
                        service,
                        error = %crate::error_chain(&error),
                        "cannot export this service's telemetry apart; it goes out as the process's"
                    );
                    Arc::clone(&self.own)
                }
            }
        });
        Arc::clone(providers)
    }

    fn read_hosted(&self) -> std::sync::RwLockReadGuard<'_, HashMap<&'static str, Arc<Providers>>> {
        // A panic while holding the lock cannot leave the map half-written: entries are inserted
        // whole.
        match self.hosted.read() {
            Ok(hosted) => hosted,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Every provider set once (a hosted service that could not have its own shares the
    /// process's).
    fn all(&self) -> Vec<Arc<Providers>> {
        let mut all = vec![Arc::clone(&self.own)];
        for providers in self.read_hosted().values() {
            if !all.iter().any(|seen| Arc::ptr_eq(seen, providers)) {
                all.push(Arc::clone(providers));
            }
        }
        all
    }
}

impl Providers {
    /// Exporters and providers for `service_name`, under the resource the environment describes
    /// (`OTEL_RESOURCE_ATTRIBUTES`) with that name.
    fn build(config: &TelemetryConfig, service_name: &str) -> Result<Self, TelemetryError> {
        let resource = Resource::builder()
            .with_service_name(service_name.to_owned())
            .build();
        let traces = match &config.traces_endpoint {
            None => None,
            Some(endpoint) => {
                let exporter = SpanExporter::builder()
                    .with_tonic()
                    .with_endpoint(endpoint.clone())
                    .build()
                    .map_err(|source| TelemetryError::Exporter {
                        signal: "traces",
                        endpoint: endpoint.clone(),
                        source,
                    })?;
                // The SDK's default configuration reads OTEL_TRACES_SAMPLER, its argument and the
                // span limits; the batch processor reads OTEL_BSP_*.
                let provider = SdkTracerProvider::builder()
                    .with_resource(resource.clone())
                    .with_batch_exporter(exporter)
                    .build();
                let tracer = provider.tracer("familybridge");
                Some((provider, tracer))
            }
        };
        let metrics = match &config.metrics_endpoint {
            None => None,
            Some(endpoint) => {
                let exporter = MetricExporter::builder()
                    .with_tonic()
                    .with_endpoint(endpoint.clone())
                    .build()
                    .map_err(|source| TelemetryError::Exporter {
                        signal: "metrics",
                        endpoint: endpoint.clone(),
                        source,
                    })?;
                // The periodic reader reads OTEL_METRIC_EXPORT_INTERVAL (default a minute).
                let provider = SdkMeterProvider::builder()
                    .with_resource(resource)
                    .with_periodic_exporter(exporter)
                    .build();
                let instruments = Instruments::new(&provider);
                Some((provider, instruments))
            }
        };
        Ok(Self { traces, metrics })
    }

    fn flush(&self) {
        if let Some((provider, _)) = &self.traces
            && let Err(error) = provider.force_flush()
        {
            tracing::warn!(%error, "flushing spans failed");
        }
        if let Some((provider, _)) = &self.metrics
            && let Err(error) = provider.force_flush()
        {
            tracing::warn!(%error, "flushing metrics failed");
        }
    }

    fn shutdown(&self) {
        if let Some((provider, _)) = &self.traces
            && let Err(error) = provider.shutdown()
        {
            tracing::warn!(%error, "exporting the last spans failed");
        }
        if let Some((provider, _)) = &self.metrics
            && let Err(error) = provider.shutdown()
        {
            tracing::warn!(%error, "exporting the last metrics failed");
        }
    }
}

impl Instruments {
    fn new(provider: &SdkMeterProvider) -> Self {
        let meter = provider.meter("familybridge");
        Self {
            rpc_duration: meter
                .f64_histogram("rpc.server.call.duration")
                .with_unit("s")
                .with_description("Duration of gRPC calls served, by method and status")
                .with_boundaries(vec![
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                    10.0,
                ])
                .build(),
            batch_size: meter
                .u64_histogram("familybridge.batch.size")
                .with_unit("{item}")
                .with_description("Pieces of work handled together in one batch, by batch")
                .with_boundaries(vec![
                    1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0,
                ])
                .build(),
            feed_lag: meter
                .u64_histogram("familybridge.feed.lag")
                .with_unit("{event}")
                .with_description(
                    "Events a subscription had yet to take in when it was asked to settle",
                )
                .with_boundaries(vec![
                    0.0, 1.0, 5.0, 10.0, 50.0, 100.0, 500.0, 1000.0, 5000.0, 10000.0,
                ])
                .build(),
        }
    }
}

/// The tracer given to `tracing-opentelemetry`: each span goes to the provider of the service
/// named in its parent context, or to the process's own.
#[derive(Debug, Clone)]
struct ServiceTracer {
    own: SdkTracer,
}

impl Tracer for ServiceTracer {
    type Span = opentelemetry_sdk::trace::Span;

    fn build_with_context(
        &self,
        builder: SpanBuilder,
        parent_cx: &opentelemetry::Context,
    ) -> Self::Span {
        let hosted = parent_cx
            .get::<HostedService>()
            .and_then(|service| Some(EXPORT.get()?.providers(Some(service.0))));
        match hosted
            .as_deref()
            .and_then(|providers| providers.traces.as_ref())
        {
            Some((_, tracer)) => tracer.build_with_context(builder, parent_cx),
            None => self.own.build_with_context(builder, parent_cx),
        }
    }
}

/// The process's telemetry, installed: keep it until the process ends, then
/// [`shutdown`](Telemetry::shutdown) to export what is still buffered.
#[derive(Debug)]
#[must_use = "dropping the guard exports nothing further; call shutdown before the process exits"]
pub struct Telemetry {
    exporting: bool,
}

impl Telemetry {
    /// Installs logging, and the exporting the environment asks for, for the binary `binary`
    /// (whose name is the service's unless `OTEL_SERVICE_NAME` says otherwise).
    pub fn from_env(binary: &'static str) -> Result<Self, TelemetryError> {
        Self::install(binary, TelemetryConfig::from_env(binary)?)
    }

    /// Installs the process-wide subscriber — logs to standard error, and with `config` the
    /// OpenTelemetry layer and its exporters — for the binary `binary`. Must be called inside a
    /// Tokio runtime when `config` exports anything, and once: a second exporting set-up is
    /// refused, a second one that exports nothing leaves the first in place.
    pub fn install(
        binary: &'static str,
        config: Option<TelemetryConfig>,
    ) -> Result<Self, TelemetryError> {
        let Some(config) = config else {
            install_logging();
            return Ok(Self { exporting: false });
        };
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(TelemetryError::NoRuntime);
        }
        if EXPORT.get().is_some() {
            return Err(TelemetryError::AlreadyInstalled);
        }
        let own = Arc::new(Providers::build(&config, &config.service_name)?);
        let own_tracer = own.traces.as_ref().map(|(_, tracer)| tracer.clone());
        EXPORT
            .set(Export {
                config,
                binary,
                own,
                hosted: RwLock::new(HashMap::new()),
            })
            .map_err(|_| TelemetryError::AlreadyInstalled)?;
        let layer = own_tracer.map(|own| {
            tracing_opentelemetry::layer()
                .with_tracer(ServiceTracer { own })
                .with_threads(false)
                .with_target(false)
                .with_filter(exported_spans())
        });
        let installed = Registry::default()
            .with(log_layer())
            .with(layer)
            .with(FreshFilterState)
            .try_init();
        if installed.is_err() {
            tracing::warn!("a subscriber was already installed: spans are not exported");
        }
        Ok(Self { exporting: true })
    }

    /// Whether anything is exported.
    pub fn is_exporting(&self) -> bool {
        self.exporting
    }

    /// Exports whatever is still buffered and stops the exporters. Blocks; call it outside the
    /// runtime's tasks while the runtime is still alive (as `run_main` does after its main
    /// returns), since the exporters' connections run on it.
    pub fn shutdown(self) {
        if let Some(export) = EXPORT.get() {
            for providers in export.all() {
                providers.shutdown();
            }
        }
    }
}

/// Records the span `process.start` as the process's own, when spans are exported.
///
/// Why: the exporter connects to the collector on its first export, and a service with no work yet
/// would otherwise first connect when its first journey arrives — in a compose stack, just as the
/// runner's container starts, which is when some container networks' DNS (podman's aardvark-dns
/// 1.4) drops lookups while it reloads, so that the whole run's spans were lost. Exported in the
/// first batch, a few seconds after start, this span makes the connection early, and a collector
/// that cannot be reached shows in the log at once.
pub(crate) fn announce_start() {
    if tracing_enabled() {
        crate::trace_span!("process.start").in_scope(|| ());
    }
}

/// Exports every span and metric recorded so far, as `Stack::stop` and tests do before they end:
/// spans are otherwise exported in batches, every few seconds. Does nothing when nothing is
/// exported.
pub async fn flush_telemetry() {
    let Some(export) = EXPORT.get() else {
        return;
    };
    let providers = export.all();
    let flushed = tokio::task::spawn_blocking(move || {
        for providers in providers {
            providers.flush();
        }
    })
    .await;
    if let Err(error) = flushed {
        tracing::warn!(%error, "flushing telemetry panicked");
    }
}

/// What the OpenTelemetry layer exports: the journey's spans, and events at INFO and above as
/// events of the span they happen in — never the telemetry pipeline's own workings (the exporter's
/// HTTP/2 and the SDK's diagnostics), which would feed themselves.
fn exported_spans() -> Targets {
    Targets::new()
        .with_default(LevelFilter::INFO)
        .with_target(SPAN_TARGET, LevelFilter::DEBUG)
        .with_target("opentelemetry", LevelFilter::OFF)
        .with_target("opentelemetry_sdk", LevelFilter::OFF)
        .with_target("opentelemetry_otlp", LevelFilter::OFF)
        .with_target("h2", LevelFilter::OFF)
        .with_target("hyper", LevelFilter::OFF)
        .with_target("hyper_util", LevelFilter::OFF)
        .with_target("tonic", LevelFilter::OFF)
        .with_target("tower", LevelFilter::OFF)
}

/// The log filter without `RUST_LOG`, once the binary has chosen it.
static DEFAULT_LOG: OnceLock<&'static str> = OnceLock::new();

/// Sets the log filter used when `RUST_LOG` is not set (before logging is installed; the first
/// choice stands).
pub(crate) fn set_default_log(filter: &'static str) {
    let _first_stands = DEFAULT_LOG.set(filter);
}

/// Logs to standard error, filtered by `RUST_LOG` (default `info`, or the binary's choice).
fn log_layer<S>() -> impl Layer<S> + Send + Sync + 'static
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    let default = DEFAULT_LOG.get().copied().unwrap_or("info");
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        // Colour codes help on a terminal and garble log files and CI output.
        .with_ansi(std::io::stderr().is_terminal())
        .with_filter(filter)
}

/// Installs the log subscriber alone; a second call leaves the first subscriber in place.
pub(crate) fn install_logging() {
    let _already_installed = Registry::default()
        .with(log_layer())
        .with(FreshFilterState)
        .try_init();
}

/// Makes the per-layer filters decide afresh for every span and event.
///
/// Why: each per-layer filter leaves its decision in a thread-local for the span or event that
/// follows, and a callsite every filter accepts is cached as "always", so its next use reads that
/// thread-local without asking the filters again. A bare `enabled` query with no event after it —
/// what the `log` crate's `log_enabled!` does through `tracing-log`, and sqlx's query logger does
/// after every PostgreSQL statement — leaves a stale "disabled" there, and the next event or span
/// on that thread vanished from the log and from the export (tokio-rs/tracing#2519, #2704; the
/// fix proposed upstream, #3572, caps interest the same way). Answering "sometimes" for every
/// callsite makes the filters run each time, overwriting what a bare query left.
struct FreshFilterState;

impl<S: tracing::Subscriber> Layer<S> for FreshFilterState {
    fn register_callsite(
        &self,
        _metadata: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        tracing::subscriber::Interest::sometimes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A log written to memory.
    #[derive(Clone, Default)]
    struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| std::io::Error::other("poisoned"))?
                .extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn an_enabled_query_from_the_log_crate_does_not_swallow_the_next_event() {
        // Log records reach tracing as sqlx's do (the subscriber's `try_init` does this too).
        let _ = tracing_log::LogTracer::init();
        let captured = Captured::default();
        let writer = captured.clone();
        // As installed when exporting: the log's filter and a second per-layer filter.
        let subscriber = Registry::default()
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(move || writer.clone())
                    .with_ansi(false)
                    .with_filter(EnvFilter::new("info")),
            )
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::sink)
                    .with_filter(exported_spans()),
            )
            .with(FreshFilterState);
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!("first event");
            // sqlx's query logger asks this after every statement, and logs nothing.
            let _ = log::log_enabled!(log::Level::Debug);
            tracing::info!("the event after the query");
        });
        let log = String::from_utf8(captured.0.lock().expect("the log").clone()).expect("UTF-8");
        assert!(log.contains("first event"), "{log}");
        assert!(log.contains("the event after the query"), "{log}");
    }

    fn config(variables: &[(&str, &str)]) -> Result<Option<TelemetryConfig>, TelemetryError> {
        let variables: HashMap<String, String> = variables
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        TelemetryConfig::from_variables("court-registry", |name| variables.get(name).cloned())
    }

    #[test]
    fn without_an_endpoint_nothing_is_exported() {
        assert_eq!(config(&[]).expect("valid"), None);
        assert_eq!(
            config(&[
                ("OTEL_SERVICE_NAME", "court"),
                ("OTEL_TRACES_SAMPLER", "always_on")
            ])
            .expect("valid"),
            None
        );
        assert_eq!(
            config(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317"),
                ("OTEL_SDK_DISABLED", "true"),
            ])
            .expect("valid"),
            None
        );
    }

    #[test]
    fn the_endpoint_and_the_binary_name_the_export() {
        assert_eq!(
            config(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317")]).expect("valid"),
            Some(TelemetryConfig::otlp(
                "http://collector:4317",
                "court-registry"
            ))
        );
        let only_traces = config(&[
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://jaeger:4317"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "deployment.environment=demo,service.name=court",
            ),
        ])
        .expect("valid")
        .expect("exports");
        assert_eq!(
            only_traces.traces_endpoint.as_deref(),
            Some("http://jaeger:4317")
        );
        assert_eq!(only_traces.metrics_endpoint, None);
        assert_eq!(only_traces.service_name, "court");
        let named = config(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317"),
            ("OTEL_SERVICE_NAME", "registry-east"),
            ("OTEL_RESOURCE_ATTRIBUTES", "service.name=court"),
        ])
        .expect("valid")
        .expect("exports");
        assert_eq!(named.service_name, "registry-east");
    }

    #[test]
    fn only_grpc_is_spoken() {
        let error = config(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ])
        .expect_err("refused");
        let message = error.to_string();
        assert!(
            message.contains("OTEL_EXPORTER_OTLP_PROTOCOL") && message.contains("gRPC only"),
            "{message}"
        );
    }

    #[test]
    fn exporting_needs_a_runtime() {
        let error = Telemetry::install(
            "court-registry",
            Some(TelemetryConfig::otlp(
                "http://127.0.0.1:4317",
                "court-registry",
            )),
        )
        .expect_err("no runtime here");
        assert!(matches!(error, TelemetryError::NoRuntime), "{error}");
    }
}
