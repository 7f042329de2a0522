//! Mutual TLS between the parties: how a party reaches the others and is reached by them
//! ([`Transport`]), the credentials it proves who it is with ([`Credentials`]), and who a
//! certificate says its holder is ([`identity_of`]).
//!
//! With mutual TLS on, every party — each agency's server and every client, the runner included —
//! holds a certificate issued by the deployment's own certificate authority, and trusts no other
//! authority. A server refuses a client without a certificate from that authority at the
//! handshake, before any call, so a plaintext or unknown-CA client never reaches access control;
//! for a client that does, its identity is the one its certificate names, and the identity header
//! is ignored. Without mutual TLS (a local run, where every process is the operator's own), a
//! client says who it is in that header instead, and the same policies apply to the identity it
//! names ([`crate::access`]).
//!
//! A certificate names its holder's identity as a URI subject alternative name,
//! `spiffe://familybridge/<identity>` — the form SPIFFE gives workload identities, so that a
//! deployment's own workload-identity system could issue them — and, for people reading it, as the
//! subject's common name. [`certificates`] makes an authority and a certificate for each identity
//! (`familybridge certs`).

pub mod certificates;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tonic::transport::{
    Certificate, ClientTlsConfig, Endpoint, Identity as TlsIdentity, ServerTlsConfig,
};

use crate::access::Identity;
use crate::telemetry::{TracedChannel, traced};

/// What a certificate's identity URI begins with; the identity's name follows.
pub const IDENTITY_URI_PREFIX: &str = "spiffe://familybridge/";

/// The authority's certificate in a folder of credentials (as `familybridge certs` writes it).
pub const CA_FILE: &str = "ca.pem";

/// Why credentials could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A credentials file could not be read.
    #[error("cannot read {path}", path = path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// A certificate does not name the identity it is used as.
    #[error("{path} is not a certificate of {identity}: it names {named}", path = path.display())]
    WrongIdentity {
        /// The certificate's file.
        path: PathBuf,
        /// The identity it was read for.
        identity: Identity,
        /// The identity it names, or what it holds instead.
        named: String,
    },
}

/// A party's credentials: the authority it trusts, and its own certificate and private key (PEM).
#[derive(Clone)]
pub struct Credentials {
    identity: Identity,
    authority: Vec<u8>,
    certificate: Vec<u8>,
    key: Vec<u8>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("Credentials")
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// Credentials of `identity` from PEM texts: the authority's certificate, the identity's
    /// certificate and its private key.
    pub fn from_pem(
        identity: Identity,
        authority: impl Into<Vec<u8>>,
        certificate: impl Into<Vec<u8>>,
        key: impl Into<Vec<u8>>,
    ) -> Self {
        Self {
            identity,
            authority: authority.into(),
            certificate: certificate.into(),
            key: key.into(),
        }
    }

    /// The credentials of `identity` in `folder`: `ca.pem`, `IDENTITY.pem` and `IDENTITY.key`, as
    /// `familybridge certs` writes them. The certificate must name `identity`.
    pub fn from_folder(folder: &Path, identity: Identity) -> Result<Self, TlsError> {
        let read = |name: String| {
            let path = folder.join(name);
            std::fs::read(&path).map_err(|source| TlsError::Read { path, source })
        };
        let certificate = read(certificates::certificate_file(identity))?;
        let named = pem_certificate_identity(&certificate);
        if named.as_ref().ok() != Some(&identity) {
            return Err(TlsError::WrongIdentity {
                path: folder.join(certificates::certificate_file(identity)),
                identity,
                named: named.map_or_else(|problem| problem, |other| other.to_string()),
            });
        }
        Ok(Self {
            identity,
            authority: read(CA_FILE.to_owned())?,
            certificate,
            key: read(certificates::key_file(identity))?,
        })
    }

    /// Who these credentials prove their holder is.
    pub fn identity(&self) -> Identity {
        self.identity
    }
}

/// How a party reaches the others and is reached by them.
#[derive(Debug, Clone, Default)]
pub enum Transport {
    /// Plaintext HTTP/2; a client says who it is in the identity header. The embedded default.
    #[default]
    Plaintext,
    /// Mutual TLS: every party proves who it is with a certificate from the deployment's
    /// authority, and trusts no other.
    MutualTls(Arc<Credentials>),
}

impl Transport {
    /// The transport of `identity`: mutual TLS with its credentials in `folder` if one is given
    /// (see [`Credentials::from_folder`]), plaintext if not.
    pub fn from_folder(folder: Option<&Path>, identity: Identity) -> Result<Self, TlsError> {
        match folder {
            None => Ok(Transport::Plaintext),
            Some(folder) => Ok(Transport::MutualTls(Arc::new(Credentials::from_folder(
                folder, identity,
            )?))),
        }
    }

    /// Whether this is mutual TLS.
    pub fn is_mutual_tls(&self) -> bool {
        matches!(self, Transport::MutualTls(_))
    }

    /// The gRPC address of a server at `address` reached this way: `http://…` or `https://…`.
    pub fn url(&self, address: SocketAddr) -> String {
        match self {
            Transport::Plaintext => format!("http://{address}"),
            Transport::MutualTls(_) => format!("https://{address}"),
        }
    }

    /// An endpoint for `url`, presenting this party's certificate and trusting only its authority
    /// under mutual TLS. Under mutual TLS the URL must be `https://`: a plaintext URL would
    /// silently skip the handshake, so it is refused.
    pub fn endpoint(&self, url: &str) -> Result<Endpoint, tonic::transport::Error> {
        let endpoint = Endpoint::from_shared(url.to_owned())?;
        match self {
            Transport::Plaintext => Ok(endpoint),
            Transport::MutualTls(credentials) => {
                // tonic connects an `http://` URL in plaintext even with TLS configured; making
                // the URL `https://` keeps a deployment's mistake from disabling TLS unseen.
                let endpoint = if endpoint.uri().scheme_str() == Some("https") {
                    endpoint
                } else {
                    Endpoint::from_shared(url.replacen("http://", "https://", 1))?
                };
                endpoint.tls_config(
                    ClientTlsConfig::new()
                        .ca_certificate(Certificate::from_pem(&credentials.authority))
                        .identity(TlsIdentity::from_pem(
                            &credentials.certificate,
                            &credentials.key,
                        )),
                )
            }
        }
    }

    /// A channel to the server at `url` whose calls say they come from `identity` (the header a
    /// plaintext server reads; under mutual TLS the certificate speaks instead), traced and retried
    /// like every client's ([`traced`]), connecting when first used and again after a failure.
    pub fn lazy_channel(
        &self,
        url: &str,
        identity: Identity,
    ) -> Result<TracedChannel, tonic::transport::Error> {
        Ok(traced(self.endpoint(url)?.connect_lazy(), identity))
    }

    /// Like [`lazy_channel`](Transport::lazy_channel), but connected now: fails if the server
    /// cannot be reached (or, under mutual TLS, the handshake fails).
    pub async fn channel(
        &self,
        url: &str,
        identity: Identity,
    ) -> Result<TracedChannel, tonic::transport::Error> {
        Ok(traced(self.endpoint(url)?.connect().await?, identity))
    }

    /// The server side: `None` for plaintext, or TLS that requires a client certificate from the
    /// authority.
    pub(crate) fn server_config(&self) -> Option<ServerTlsConfig> {
        match self {
            Transport::Plaintext => None,
            Transport::MutualTls(credentials) => Some(
                ServerTlsConfig::new()
                    .identity(TlsIdentity::from_pem(
                        &credentials.certificate,
                        &credentials.key,
                    ))
                    .client_ca_root(Certificate::from_pem(&credentials.authority))
                    .client_auth_optional(false),
            ),
        }
    }
}

/// The identity a certificate (DER) names in its `spiffe://familybridge/…` URI, if it names
/// exactly one known identity.
pub fn identity_of(certificate: &[u8]) -> Option<Identity> {
    let (_, parsed) = x509_parser::parse_x509_certificate(certificate).ok()?;
    let names = parsed.subject_alternative_name().ok()??;
    let mut identities = names
        .value
        .general_names
        .iter()
        .filter_map(|name| match name {
            x509_parser::extensions::GeneralName::URI(uri) => uri.strip_prefix(IDENTITY_URI_PREFIX),
            _ => None,
        });
    let identity = identities.next()?.parse().ok()?;
    // A certificate naming two identities names none: which one would be a guess.
    identities.next().is_none().then_some(identity)
}

/// The identity the first certificate of a PEM text names, or what is wrong with it.
fn pem_certificate_identity(pem: &[u8]) -> Result<Identity, String> {
    let (_, block) =
        x509_parser::pem::parse_x509_pem(pem).map_err(|_| "no PEM certificate".to_owned())?;
    identity_of(&block.contents).ok_or_else(|| "no familybridge identity".to_owned())
}
