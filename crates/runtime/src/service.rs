//! What a service binary shares with the others: its command-line and environment settings, the
//! errors that stop it starting, and `main` itself — logging and telemetry, bind, serve until a
//! signal, export what telemetry is still buffered, report failures with their causes and a
//! non-zero exit.

use std::error::Error;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use familybridge_storage::{DatabaseUrl, StorageError};
use tokio::net::TcpListener;

use crate::access::Identity;
use crate::{HostError, Telemetry, Transport};

/// How long a process that has finished its work waits for blocking tasks still running (an
/// exporter's DNS lookup, say) before it exits anyway.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(1);

/// Settings every service takes, from flags or the environment.
#[derive(Debug, Clone, clap::Args)]
pub struct ServiceArgs {
    /// Address to serve gRPC on [default: the service's own port on 127.0.0.1].
    #[arg(long, env = "LISTEN_ADDR")]
    pub listen: Option<SocketAddr>,
    /// Database URL: sqlite://FILE or postgres://USER@HOST:PORT/DB [default: an SQLite file in
    /// the data directory].
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// Folder for the embedded SQLite database, created on first start.
    #[arg(long, env = "FAMILYBRIDGE_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// Do not serve: ask the service already running on the listen address (or, if given, its
    /// health address) whether it is SERVING (grpc.health.v1), print the answer and exit 0 if it
    /// is, 1 if not. The containers' health check, which needs nothing in the image but this
    /// binary.
    #[arg(long)]
    pub probe: bool,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub tls: TlsArgs,
    /// Also answer grpc.health.v1, and nothing else, in plaintext on this address: for probes that
    /// hold no certificate when the service takes only mutual TLS [default: health only on the
    /// service's own address].
    #[arg(long, env = "HEALTH_LISTEN_ADDR")]
    pub health_listen: Option<SocketAddr>,
}

impl ServiceArgs {
    /// The address to listen on: the flag, or the service's default.
    pub fn listen_address(&self, default: SocketAddr) -> SocketAddr {
        self.listen.unwrap_or(default)
    }

    /// With `--probe`, runs the health check against the running service — on its health address
    /// if it has one, else on its own — and returns its exit code (see [`probe`](crate::probe));
    /// without, `None`: the binary goes on to serve.
    pub fn probe_if_asked(&self, service: &str, default: SocketAddr) -> Option<ExitCode> {
        self.probe.then(|| {
            crate::probe(
                service,
                self.health_listen
                    .unwrap_or_else(|| self.listen_address(default)),
            )
        })
    }

    /// How the service, as `identity`, is reached and reaches its peers: mutual TLS with its
    /// credentials in `--tls-dir` or plaintext, and `--health-listen`.
    pub fn network(&self, identity: Identity) -> Result<Network, ServiceError> {
        Ok(Network {
            transport: self
                .tls
                .transport(identity)
                .map_err(|error| ServiceError::Configuration(error_chain(&error)))?,
            health_listen: self.health_listen,
        })
    }

    /// The database to use: the URL given, or `DATA_DIR/SERVICE.db`.
    pub fn database_url(&self, service: &str) -> Result<DatabaseUrl, StorageError> {
        match &self.database_url {
            Some(url) => url.parse(),
            None => Ok(DatabaseUrl::sqlite_file(
                &self.data_dir.join(format!("{service}.db")),
            )),
        }
    }
}

/// The mutual-TLS setting every familybridge process takes — the services, and the command's
/// `run`, `up` and `load` — in one spelling.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TlsArgs {
    /// Mutual TLS: the folder of credentials `familybridge certs` wrote (`ca.pem`, and each
    /// identity's certificate and key). A service then takes only clients with a certificate from
    /// that authority and knows each caller by its certificate; every client presents its own and
    /// reaches the services at `https://` addresses [default: plaintext, each caller named by its
    /// identity header].
    #[arg(long, env = "FAMILYBRIDGE_TLS_DIR")]
    pub tls_dir: Option<PathBuf>,
}

impl TlsArgs {
    /// The transport of `identity`: mutual TLS with its credentials in `--tls-dir`, or plaintext.
    pub fn transport(&self, identity: Identity) -> Result<Transport, crate::TlsError> {
        Transport::from_folder(self.tls_dir.as_deref(), identity)
    }
}

/// How a service is reached and reaches its peers.
#[derive(Debug, Clone, Default)]
pub struct Network {
    /// Plaintext (the default) or mutual TLS, for its own server and its calls to its peers.
    pub transport: Transport,
    /// Where it also answers health, and nothing else, in plaintext (see
    /// [`GrpcHost::with_health_listener`](crate::GrpcHost::with_health_listener)).
    pub health_listen: Option<SocketAddr>,
}

impl Network {
    /// Binds the plaintext health-only address, if there is one.
    pub async fn health_listener(&self) -> Result<Option<TcpListener>, ServiceError> {
        match self.health_listen {
            Some(address) => Ok(Some(bind(address).await?)),
            None => Ok(None),
        }
    }
}

/// Why a service could not start, or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The listening address could not be bound.
    #[error("cannot listen on {address}")]
    Bind {
        /// The address.
        address: SocketAddr,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The database could not be opened or migrated.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The gRPC server failed.
    #[error(transparent)]
    Host(#[from] HostError),
    /// A configuration file is invalid.
    #[error("invalid configuration: {0}")]
    Configuration(String),
    /// An access policy is invalid.
    #[error(transparent)]
    Access(#[from] crate::access::PolicyError),
}

/// Binds a listening socket, naming the address if it cannot.
pub async fn bind(address: SocketAddr) -> Result<TcpListener, ServiceError> {
    TcpListener::bind(address)
        .await
        .map_err(|source| ServiceError::Bind { address, source })
}

/// Runs the asynchronous main of the binary `binary` (its name: "court-registry", …) on a
/// multi-threaded runtime with logging and telemetry set up from the environment (see
/// [`Telemetry::from_env`]), exports what telemetry is still buffered when main returns, and turns
/// an error into a message with its chain of causes and a failing exit code.
pub fn run_main<F, E>(binary: &'static str, main: F) -> ExitCode
where
    F: Future<Output = Result<(), E>>,
    E: Into<Box<dyn Error + Send + Sync>>,
{
    run_main_on(binary, MainOptions::default(), main)
}

/// How [`run_main_on`] sets the process up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MainOptions {
    /// Worker threads (`None`: one per core).
    pub worker_threads: Option<usize>,
    /// The log filter when `RUST_LOG` is not set: `info` for a service; `warn` for a command
    /// whose own output (a progress bar, a table) the services it hosts would drown.
    pub default_log: &'static str,
}

impl Default for MainOptions {
    fn default() -> Self {
        Self {
            worker_threads: None,
            default_log: "info",
        }
    }
}

/// [`run_main`] with `options`.
pub fn run_main_on<F, E>(binary: &'static str, options: MainOptions, main: F) -> ExitCode
where
    F: Future<Output = Result<(), E>>,
    E: Into<Box<dyn Error + Send + Sync>>,
{
    crate::telemetry::set_default_log(options.default_log);
    let worker_threads = options.worker_threads;
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    if let Some(threads) = worker_threads {
        builder.worker_threads(threads.max(1));
    }
    let runtime = match builder.build() {
        Ok(runtime) => runtime,
        Err(error) => {
            crate::init_logging();
            report(&error);
            return ExitCode::FAILURE;
        }
    };
    // The exporters' connections run on the runtime, so they are built inside it.
    let telemetry = match runtime.block_on(async { Telemetry::from_env(binary) }) {
        Ok(telemetry) => telemetry,
        Err(error) => {
            crate::init_logging();
            report(&error);
            return ExitCode::FAILURE;
        }
    };
    crate::telemetry::announce_start();
    let outcome = runtime.block_on(main);
    // Outside the runtime's tasks, while it still runs the exporters' connections.
    telemetry.shutdown();
    // A blocking task cannot be cancelled: an exporter's DNS lookup that hangs (glibc retries for
    // up to 40 s) would otherwise keep a stopped service alive until it is killed.
    runtime.shutdown_timeout(SHUTDOWN_TIMEOUT);
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            report(error.into().as_ref());
            ExitCode::FAILURE
        }
    }
}

/// An error and its chain of causes on one line ("cannot connect …: transport error: Connection
/// refused"), for logs and status messages: most errors' own message names only the outermost.
pub fn error_chain(error: &dyn Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
}

/// A failure of the agency's own machinery as a gRPC status, naming its chain of causes:
/// `UNAVAILABLE` (logged as a warning) when somewhere in the chain the database was momentarily out
/// of reach ([`familybridge_storage::is_transient`]), so that callers retry as they would a
/// restarting peer; otherwise `INTERNAL` (logged as an error).
pub fn machinery_failure(error: impl Error + 'static) -> tonic::Status {
    let described = error_chain(&error);
    let mut cause: Option<&(dyn Error + 'static)> = Some(&error);
    while let Some(current) = cause {
        // A transparent wrapper hands on its inner error's source, not the inner error: a
        // connection's I/O failure may be all the chain shows of the sqlx error around it.
        let transient = current
            .downcast_ref::<familybridge_storage::sqlx::Error>()
            .is_some_and(familybridge_storage::is_transient)
            || current
                .downcast_ref::<std::io::Error>()
                .is_some_and(|error| {
                    use std::io::ErrorKind::*;
                    matches!(
                        error.kind(),
                        ConnectionReset
                            | ConnectionAborted
                            | ConnectionRefused
                            | BrokenPipe
                            | NotConnected
                            | UnexpectedEof
                            | TimedOut
                    )
                });
        if transient {
            tracing::warn!(error = %described, "the database is momentarily out of reach");
            return tonic::Status::unavailable(described);
        }
        cause = current.source();
    }
    tracing::error!(error = %described, "the service failed");
    tonic::Status::internal(described)
}

/// Prints an error and each of its causes on standard error.
pub fn report(error: &dyn Error) {
    eprintln!("error: {error}");
    let mut cause = error.source();
    while let Some(error) = cause {
        eprintln!("  caused by: {error}");
        cause = error.source();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use familybridge_storage::sqlx;

    #[test]
    fn a_database_out_of_reach_is_unavailable_and_a_defect_internal() {
        let out_of_reach = StorageError::Query(sqlx::Error::PoolTimedOut);
        let status = machinery_failure(out_of_reach);
        assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
        assert!(status.message().contains("pool timed out"), "{status:?}");
        // As a transparent wrapper shows it: only the I/O error underneath.
        #[derive(Debug, thiserror::Error)]
        #[error(transparent)]
        struct Transparent(sqlx::Error);
        let lost = Transparent(sqlx::Error::Io(std::io::Error::from(
            std::io::ErrorKind::UnexpectedEof,
        )));
        assert_eq!(machinery_failure(lost).code(), tonic::Code::Unavailable);
        let defect = StorageError::Query(sqlx::Error::RowNotFound);
        assert_eq!(machinery_failure(defect).code(), tonic::Code::Internal);
    }
}
