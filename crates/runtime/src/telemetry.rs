//! Logging set-up, shared by every binary so that all of them log alike.
//!
//! Logs go to standard error through `tracing`, filtered by `RUST_LOG` (default `info`). This is
//! the one place that will also install the OpenTelemetry exporter when tracing across services
//! arrives.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Installs the process-wide log subscriber. Calling it again (as tests that start several services
/// do) leaves the first subscriber in place.
pub fn init_logging() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _already_installed = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes help on a terminal and garble log files and CI output.
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}
