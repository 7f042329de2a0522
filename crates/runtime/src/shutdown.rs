//! Graceful shutdown.
//!
//! Servers take their shutdown as a future (as mini-redis does), so that a binary can pass the
//! operating system's signals, `familybridge up` one token shared by all three services, and a test
//! a token it cancels itself.

use tokio_util::sync::CancellationToken;

/// A shutdown trigger that any number of tasks can wait on.
pub type Shutdown = CancellationToken;

/// Resolves when the process is asked to stop: Ctrl-C (SIGINT) or, on Unix, SIGTERM (what
/// `docker stop` and Kubernetes send).
pub async fn termination_signal() {
    {
        let interrupt = async {
            if let Err(error) = tokio::signal::ctrl_c().await {
                tracing::error!(%error, "cannot listen for Ctrl-C");
                std::future::pending::<()>().await;
            }
        };
        #[cfg(unix)]
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(error) => {
                    tracing::error!(%error, "cannot listen for SIGTERM");
                    std::future::pending::<()>().await;
                }
            }
        };
        #[cfg(not(unix))]
        let terminate = std::future::pending::<()>();
        tokio::select! {
            () = interrupt => tracing::info!("interrupted: shutting down"),
            () = terminate => tracing::info!("terminated: shutting down"),
        }
    }
}
