//! Hosting a service's gRPC APIs beside health and reflection.
//!
//! Every familybridge server answers `grpc.health.v1` (so that grpcurl, Kubernetes probes and
//! `familybridge up` can tell it is ready) and server reflection in both versions clients use:
//! v1, and v1alpha, the only one Python's grpcio-reflection speaks. Every call goes through the
//! telemetry layer, which continues the caller's trace and counts and times the call, and then
//! through access control ([`crate::access`]), which lets through only the callers the service's
//! policy allows. Under mutual TLS ([`crate::tls`]) the server takes only clients with a
//! certificate from the deployment's authority, and health is also served in plaintext on a port of
//! its own, for probes that hold no certificate.

use crate::access::{AccessControl, AccessLayer, IdentitySource};
use crate::oversize::OversizeLayer;
use crate::tls::Transport;
use std::convert::Infallible;
use std::future::Future;

use tokio::net::TcpListener;
use tonic::body::Body;
use tonic::server::NamedService;
use tonic::service::RoutesBuilder;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::telemetry::ServerTelemetryLayer;

/// Why a server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The reflection service could not be built from the descriptor sets (a build defect).
    #[error("cannot build the reflection service")]
    Reflection(#[from] tonic_reflection::server::Error),
    /// The access policy does not say who may call every RPC served.
    #[error("cannot serve under this access policy")]
    Access(#[from] crate::access::PolicyError),
    /// The transport failed.
    #[error("the gRPC server failed")]
    Transport(#[from] tonic::transport::Error),
}

/// A gRPC server being assembled: add the agency's services, then [`serve`](GrpcHost::serve).
pub struct GrpcHost {
    telemetry_name: &'static str,
    routes: RoutesBuilder,
    service_names: Vec<&'static str>,
    descriptor_sets: Vec<&'static [u8]>,
    access: Option<AccessControl>,
    transport: Transport,
    health_listener: Option<TcpListener>,
}

impl GrpcHost {
    /// A server with no services yet, of the service named `telemetry_name` (its binary's name,
    /// e.g. "court-registry"): the name its calls' spans and metrics are exported under.
    pub fn new(telemetry_name: &'static str) -> Self {
        Self {
            telemetry_name,
            routes: RoutesBuilder::default(),
            service_names: Vec::new(),
            descriptor_sets: Vec::new(),
            access: None,
            transport: Transport::Plaintext,
            health_listener: None,
        }
    }

    /// Serves under `transport`: plaintext (the default), or mutual TLS, which takes only clients
    /// with a certificate from the deployment's authority and identifies each caller by it.
    pub fn with_transport(mut self, transport: Transport) -> Self {
        self.transport = transport;
        self
    }

    /// Also serves `grpc.health.v1`, and nothing else, in plaintext on `listener`: for probes that
    /// hold no certificate when the server's own port takes only mutual TLS.
    pub fn with_health_listener(mut self, listener: Option<TcpListener>) -> Self {
        self.health_listener = listener;
        self
    }

    /// Lets only the callers `access`'s policy allows call this server's services: every agency's
    /// server does. The policy must cover every RPC served, or [`serve`](GrpcHost::serve) refuses
    /// to start.
    pub fn with_access(mut self, access: AccessControl) -> Self {
        self.access = Some(access);
        self
    }

    /// Lets reflection describe services from an encoded descriptor set other than familybridge's
    /// own (a third-party API this server also answers).
    pub fn with_descriptors(mut self, encoded_file_descriptor_set: &'static [u8]) -> Self {
        self.descriptor_sets.push(encoded_file_descriptor_set);
        self
    }

    /// Adds one generated tonic service; health will report it by its full name.
    pub fn add_service<S>(mut self, service: S) -> Self
    where
        S: tower_service::Service<http::Request<Body>, Error = Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Response: axum::response::IntoResponse,
        S::Future: Send + 'static,
    {
        self.routes.add_service(service);
        self.service_names.push(S::NAME);
        self
    }

    /// Serves on `listener` until `shutdown` resolves, then stops taking calls, lets those under way
    /// finish, and returns. Health reports SERVING for the server and each service while it runs,
    /// and NOT_SERVING once shutdown has begun.
    pub async fn serve(
        mut self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), HostError> {
        if let Some(access) = &self.access {
            access.policy().covers(&self.service_names)?;
        }
        let (reporter, health) = tonic_health::server::health_reporter();
        for name in &self.service_names {
            reporter
                .set_service_status(*name, ServingStatus::Serving)
                .await;
        }
        // Reflection lists exactly what this server answers (the descriptor set holds every
        // familybridge API, most of which other services serve), and can describe all of it.
        let served: Vec<&str> = self
            .service_names
            .iter()
            .copied()
            .chain([
                "grpc.health.v1.Health",
                "grpc.reflection.v1.ServerReflection",
                "grpc.reflection.v1alpha.ServerReflection",
            ])
            .collect();
        let descriptor_sets = &self.descriptor_sets;
        let reflection = || {
            let builder = descriptor_sets.iter().fold(
                tonic_reflection::server::Builder::configure(),
                |builder, set| builder.register_encoded_file_descriptor_set(set),
            );
            served.iter().fold(
                builder
                    .register_encoded_file_descriptor_set(familybridge_proto::FILE_DESCRIPTOR_SET)
                    .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
                    .register_encoded_file_descriptor_set(
                        tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
                    )
                    .register_encoded_file_descriptor_set(
                        tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
                    ),
                |builder, name| builder.with_service_name(*name),
            )
        };
        self.routes
            .add_service(health.clone())
            .add_service(reflection().build_v1()?)
            .add_service(reflection().build_v1alpha()?);

        let address = listener.local_addr().ok();
        let health_address = self
            .health_listener
            .as_ref()
            .and_then(|listener| listener.local_addr().ok());
        tracing::info!(
            ?address,
            ?health_address,
            mutual_tls = self.transport.is_mutual_tls(),
            services = ?self.service_names,
            "serving gRPC"
        );
        let names = self.service_names;
        let (builder, source) = match self.transport.server_config() {
            Some(tls) => (
                Server::builder().tls_config(tls)?,
                IdentitySource::Certificate,
            ),
            None => (Server::builder(), IdentitySource::Header),
        };
        // The health port stops once the server has: until then a probe hears NOT_SERVING.
        let health_stop = tokio_util::sync::CancellationToken::new();
        let health_server = self.health_listener.map(|listener| {
            Server::builder()
                .add_service(health.clone())
                .serve_with_incoming_shutdown(
                    TcpIncoming::from(listener).with_nodelay(Some(true)),
                    health_stop.clone().cancelled_owned(),
                )
        });
        let server = async {
            let served = builder
                .layer(ServerTelemetryLayer::new(self.telemetry_name))
                .layer(OversizeLayer)
                .layer(AccessLayer::new(self.access, source))
                .add_routes(self.routes.routes())
                .serve_with_incoming_shutdown(
                    // Without TCP_NODELAY a small response waits for the peer's delayed ACK (tens
                    // of milliseconds per call): fatal to a simulation that makes calls one after
                    // another.
                    TcpIncoming::from(listener).with_nodelay(Some(true)),
                    announce_shutdown(shutdown, reporter, names),
                )
                .await;
            health_stop.cancel();
            served
        };
        match health_server {
            Some(health_server) => {
                let (served, health_served) = tokio::join!(server, health_server);
                served?;
                health_served?;
            }
            None => server.await?,
        }
        tracing::info!(?address, "gRPC server stopped");
        Ok(())
    }
}

/// Waits for `shutdown`, then tells health clients the server is going away, so that load
/// balancers stop sending it calls while those under way finish.
async fn announce_shutdown(
    shutdown: impl Future<Output = ()>,
    reporter: HealthReporter,
    names: Vec<&'static str>,
) {
    shutdown.await;
    reporter
        .set_service_status("", ServingStatus::NotServing)
        .await;
    for name in names {
        reporter
            .set_service_status(name, ServingStatus::NotServing)
            .await;
    }
}
