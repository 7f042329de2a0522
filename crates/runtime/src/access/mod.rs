//! Access control: who is calling ([`Identity`]), whether they may ([`AccessPolicy`]), and the
//! audit of every refusal.
//!
//! Every familybridge server is wrapped in [`AccessControl`]'s layer. For each call it works out
//! the caller's identity, refuses a call without one (`UNAUTHENTICATED`) and a call its service's
//! policy does not allow that identity (`PERMISSION_DENIED`), counts each refusal in the service's
//! own database (`access_denials`: by RPC, caller and reason, so that refused callers cannot grow
//! it by calling again), and hands the allowed call on with the verified [`Caller`] in
//! its extensions, for the finer rules a handler applies itself (which entries of a batch, whose
//! disclosures). Health and reflection are open: probes and tools need them, and they disclose
//! nothing about any family.
//!
//! Where the identity comes from depends on the transport ([`crate::tls`]). Under mutual TLS it is
//! the one the client's certificate names, and the identity header is ignored: a caller cannot
//! claim to be anyone its certificate does not prove. In plaintext it is the [`IDENTITY_HEADER`] a
//! client is configured to send ([`crate::traced`]): the identity of a local run, where every
//! process is the operator's own. The policies, and everything that reads a [`Caller`], are the
//! same either way.

mod identity;
mod policy;

pub use identity::{AgencyId, Identity, UnknownAgency, UnknownIdentity};
pub use policy::{AccessPolicy, PolicyError, Rule};

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use familybridge_proto::validate;
use familybridge_storage::Database;
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
use tonic::{Code, Status};

use crate::tls::{IDENTITY_URI_PREFIX, identity_of};

/// The header carrying a caller's configured identity, e.g. `x-familybridge-identity: cms`.
pub const IDENTITY_HEADER: &str = "x-familybridge-identity";

/// Who may call the simulated clock every service serves: part of every service's policy.
pub const CLOCK_ACCESS_POLICY: &str = include_str!("clock.toml");

/// gRPC services open to any caller: health (for probes) and reflection (for tools).
const OPEN: [&str; 2] = ["/grpc.health.", "/grpc.reflection."];

/// One service's access control: its policy, and the database its refusals are recorded in.
#[derive(Debug, Clone)]
pub struct AccessControl {
    inner: Arc<Guard>,
}

#[derive(Debug)]
struct Guard {
    policy: AccessPolicy,
    audit: Database,
}

impl AccessControl {
    /// Controls access under `policy`, recording refusals in `audit` (the service's own database,
    /// migrated with the shared migrations).
    pub fn new(policy: AccessPolicy, audit: Database) -> Self {
        Self {
            inner: Arc::new(Guard { policy, audit }),
        }
    }

    /// A service's access control: the rules of `policies` (its own policy file's text and those of
    /// the shared APIs it serves, such as the event feed's) together with the clock's
    /// ([`CLOCK_ACCESS_POLICY`]), refusals recorded in `audit`.
    pub fn from_policies(policies: &[&str], audit: Database) -> Result<Self, PolicyError> {
        let parts = std::iter::once(CLOCK_ACCESS_POLICY)
            .chain(policies.iter().copied())
            .map(AccessPolicy::from_toml_str)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::new(AccessPolicy::combine(parts), audit))
    }

    /// The policy.
    pub fn policy(&self) -> &AccessPolicy {
        &self.inner.policy
    }

    /// Counts a refusal of `rpc` to `caller` (`None`: a caller without an identity) for `reason`
    /// (one of a few, never a value the caller sent: the count's rows stay bounded) and returns
    /// `status`, which says so. A refusal stands even if it cannot be counted; the failure is
    /// logged.
    async fn refuse(
        &self,
        rpc: &str,
        caller: Option<Identity>,
        reason: &str,
        status: Status,
    ) -> Status {
        let code = match status.code() {
            Code::Unauthenticated => "UNAUTHENTICATED",
            _ => "PERMISSION_DENIED",
        };
        let caller_name = caller.map_or("", Identity::as_str);
        let counted = self.count_denial(rpc, caller_name, code, reason).await;
        match counted {
            Ok(()) => tracing::warn!(rpc, caller = caller_name, code, reason, "call refused"),
            Err(error) => {
                tracing::error!(rpc, %error, "call refused, but the refusal could not be counted");
            }
        }
        status
    }

    /// Adds one to the count of refusals of `rpc` to `caller_name` for `reason`.
    async fn count_denial(
        &self,
        rpc: &str,
        caller_name: &str,
        code: &str,
        reason: &str,
    ) -> Result<(), familybridge_storage::sqlx::Error> {
        let mut write = self.inner.audit.begin_write().await?;
        familybridge_storage::sqlx::query(
            "INSERT INTO access_denials \
             (rpc, caller, code, reason, times, first_date, latest_date) \
             VALUES ($1, $2, $3, $4, 1, \
             (SELECT simulated_date FROM simulation_clock WHERE singleton = 1), \
             (SELECT simulated_date FROM simulation_clock WHERE singleton = 1)) \
             ON CONFLICT (rpc, caller, code, reason) DO UPDATE \
             SET times = access_denials.times + 1, latest_date = excluded.latest_date",
        )
        .bind(rpc)
        .bind(caller_name)
        .bind(code)
        .bind(reason)
        .execute(&mut *write.transaction)
        .await?;
        write.transaction.commit().await
    }

    /// The caller of a call, from what it presented: `Err` (UNAUTHENTICATED, counted) if that
    /// names no identity.
    async fn identify(&self, rpc: &str, presented: Presented) -> Result<Identity, Status> {
        let (reason, problem) = match presented {
            Presented::Identity(identity) => return Ok(identity),
            Presented::Nothing(reason, problem) => (reason, problem),
        };
        Err(self
            .refuse(rpc, None, reason, Status::unauthenticated(problem))
            .await)
    }
}

/// Where a server takes its callers' identities from: the transport decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IdentitySource {
    /// The identity header (plaintext: a local run).
    Header,
    /// The client's certificate (mutual TLS); the header is ignored.
    Certificate,
}

/// What a call presented as its caller's identity.
enum Presented {
    /// An identity.
    Identity(Identity),
    /// None: why (one of a few reasons, for the count) and what to tell the caller.
    Nothing(&'static str, String),
}

impl IdentitySource {
    /// What `request` presents as its caller's identity.
    fn presented<B>(self, request: &http::Request<B>) -> Presented {
        match self {
            IdentitySource::Certificate => {
                let certificate = request
                    .extensions()
                    .get::<TlsConnectInfo<TcpConnectInfo>>()
                    .and_then(TlsConnectInfo::peer_certs);
                // The handshake already refused a client without a certificate from the
                // deployment's authority; one that names no identity is refused here.
                match certificate
                    .as_ref()
                    .and_then(|chain| chain.first())
                    .and_then(|leaf| identity_of(leaf))
                {
                    Some(identity) => Presented::Identity(identity),
                    None => Presented::Nothing(
                        "certificate names no identity",
                        format!(
                            "the client certificate names no identity: expected a URI \
                             {IDENTITY_URI_PREFIX}<identity>, one of {}",
                            Identity::ALL.map(Identity::as_str).join(", ")
                        ),
                    ),
                }
            }
            IdentitySource::Header => {
                match request
                    .headers()
                    .get(IDENTITY_HEADER)
                    .map(|value| value.to_str())
                {
                    None => Presented::Nothing(
                        "no identity",
                        format!("{IDENTITY_HEADER}: required: say who is calling"),
                    ),
                    Some(Err(_)) => Presented::Nothing(
                        "not an identity",
                        format!("{IDENTITY_HEADER}: not an identity"),
                    ),
                    Some(Ok(name)) => match name.parse::<Identity>() {
                        Ok(identity) => Presented::Identity(identity),
                        Err(_) => Presented::Nothing(
                            "not an identity",
                            format!(
                                "{IDENTITY_HEADER}: {} is not an identity: expected one of {}",
                                validate::quoted(name),
                                Identity::ALL.map(Identity::as_str).join(", ")
                            ),
                        ),
                    },
                }
            }
        }
    }
}

/// The verified caller of an allowed call, in the request's extensions: what a handler applies the
/// finer rules with.
#[derive(Debug, Clone)]
pub struct Caller {
    identity: Identity,
    access: AccessControl,
}

impl Caller {
    /// The caller of `request`, as the access layer verified it. `Err` (UNAUTHENTICATED) if the
    /// request did not come through the layer: a server without access control.
    pub fn of<T>(request: &tonic::Request<T>) -> Result<&Caller, Status> {
        request
            .extensions()
            .get::<Caller>()
            .ok_or_else(|| Status::unauthenticated("this server does not verify its callers"))
    }

    /// Who is calling.
    pub fn identity(&self) -> Identity {
        self.identity
    }

    /// `Ok` if the caller may call `rpc` (`package.Service/Method`) — e.g. the command one entry of
    /// a batch carries — or the PERMISSION_DENIED refusal, counted.
    pub async fn require(&self, rpc: &str) -> Result<(), Status> {
        if self.access.policy().allows(self.identity, rpc) {
            return Ok(());
        }
        Err(self.refuse(rpc, denied(self.identity, rpc)).await)
    }

    /// Counts that a handler refused `rpc` to this caller for `reason` (a finer rule than the
    /// policy's, in words of the service's own, never a value the caller sent), and returns the
    /// PERMISSION_DENIED status that says so.
    pub async fn refuse(&self, rpc: &str, reason: String) -> Status {
        self.access
            .refuse(
                rpc,
                Some(self.identity),
                &reason,
                Status::permission_denied(reason.clone()),
            )
            .await
    }
}

/// Why `identity` may not call `rpc`.
fn denied(identity: Identity, rpc: &str) -> String {
    format!("{identity} may not call {rpc}")
}

/// The layer a server's calls pass [`AccessControl`] through; with none, every call passes (a
/// server that is no agency's, such as the OTLP sink, or a test's).
#[derive(Debug, Clone)]
pub(crate) struct AccessLayer {
    access: Option<AccessControl>,
    source: IdentitySource,
}

impl AccessLayer {
    /// The layer enforcing `access`, if any, on callers identified from `source`.
    pub(crate) fn new(access: Option<AccessControl>, source: IdentitySource) -> Self {
        Self { access, source }
    }
}

impl<S> tower_layer::Layer<S> for AccessLayer {
    type Service = Controlled<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Controlled {
            inner,
            access: self.access.clone(),
            source: self.source,
        }
    }
}

/// A server whose calls pass [`AccessControl`] first.
#[derive(Debug, Clone)]
pub(crate) struct Controlled<S> {
    inner: S,
    access: Option<AccessControl>,
    source: IdentitySource,
}

impl<S, B, R> tower_service::Service<http::Request<B>> for Controlled<S>
where
    S: tower_service::Service<http::Request<B>, Response = http::Response<R>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
    R: Default,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let path = request.uri().path();
        let Some(access) = self
            .access
            .clone()
            .filter(|_| !OPEN.iter().any(|prefix| path.starts_with(prefix)))
        else {
            return Box::pin(self.inner.call(request));
        };
        let rpc = path.trim_start_matches('/').to_owned();
        if access.policy().callers(&rpc).next().is_none() {
            // Every RPC served has a rule (the host checked as it started): this one is not
            // served here, and the router answers UNIMPLEMENTED, as to anyone.
            return Box::pin(self.inner.call(request));
        }
        // The service made ready is the one to call; a fresh clone stays for the next call.
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        let presented = self.source.presented(&request);
        Box::pin(async move {
            let identity = match access.identify(&rpc, presented).await {
                Ok(identity) => identity,
                Err(refusal) => return Ok(refusal.into_http()),
            };
            if !access.policy().allows(identity, &rpc) {
                let reason = denied(identity, &rpc);
                let refusal = access
                    .refuse(
                        &rpc,
                        Some(identity),
                        &reason,
                        Status::permission_denied(reason.clone()),
                    )
                    .await;
                return Ok(refusal.into_http());
            }
            request.extensions_mut().insert(Caller { identity, access });
            inner.call(request).await
        })
    }
}
