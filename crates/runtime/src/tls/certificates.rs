//! A deployment's own certificate authority and a certificate for each identity: what
//! `familybridge certs` writes, and what the tests make in memory.
//!
//! Every certificate serves as both a client and a server certificate (an agency is both), names
//! its identity as `spiffe://familybridge/<identity>` and as its common name, and — for the
//! agencies, which serve — the host names it is reached at: its service's name (the name compose
//! and Kubernetes give it), `localhost`, the loopback addresses, and any the deployment adds. The
//! validity is rcgen's fixed span (1975 to 4096): no date is read from the wall clock, and a
//! demonstration's certificates do not expire under it.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

use crate::access::Identity;
use crate::tls::{CA_FILE, Credentials, IDENTITY_URI_PREFIX};

/// The file of `identity`'s certificate in a folder of credentials, e.g. `cms.pem`.
pub fn certificate_file(identity: Identity) -> String {
    format!("{identity}.pem")
}

/// The file of `identity`'s private key in a folder of credentials, e.g. `cms.key`.
pub fn key_file(identity: Identity) -> String {
    format!("{identity}.key")
}

/// Why certificates could not be made or written.
#[derive(Debug, thiserror::Error)]
pub enum CertificateError {
    /// rcgen refused the parameters (a host name that is not one, say).
    #[error("cannot make a certificate: {0}")]
    Make(#[from] rcgen::Error),
    /// A file could not be written.
    #[error("cannot write {path}", path = path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
}

/// A certificate authority: it issues the certificates every party of one deployment holds.
pub struct Authority {
    key: KeyPair,
    params: CertificateParams,
    certificate_pem: String,
}

/// A certificate and its private key, PEM.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The certificate.
    pub certificate_pem: String,
    /// Its private key.
    pub key_pem: String,
}

impl Authority {
    /// A new authority with a fresh key, named `name` (e.g. "familybridge demo CA").
    pub fn new(name: &str) -> Result<Self, CertificateError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let certificate_pem = params.self_signed(&key)?.pem();
        Ok(Self {
            key,
            params,
            certificate_pem,
        })
    }

    /// The authority's certificate, PEM: what every party trusts.
    pub fn certificate_pem(&self) -> &str {
        &self.certificate_pem
    }

    /// A certificate of `identity`, for the host names `hosts` besides its own (see the module's
    /// documentation).
    pub fn issue(&self, identity: Identity, hosts: &[String]) -> Result<Issued, CertificateError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params
            .distinguished_name
            .push(DnType::CommonName, identity.as_str());
        params.subject_alt_names.push(SanType::URI(
            format!("{IDENTITY_URI_PREFIX}{identity}").try_into()?,
        ));
        if let Identity::Agency(agency) = identity {
            let names = [agency.service_name(), "localhost", "127.0.0.1", "::1"]
                .into_iter()
                .map(str::to_owned)
                .chain(hosts.iter().cloned());
            params
                .subject_alt_names
                .extend(CertificateParams::new(names.collect::<Vec<_>>())?.subject_alt_names);
        }
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.use_authority_key_identifier_extension = true;
        let issuer = Issuer::from_params(&self.params, &self.key);
        Ok(Issued {
            certificate_pem: params.signed_by(&key, &issuer)?.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// The credentials of `identity` under this authority (for a party in this process, such as a
    /// test's).
    pub fn credentials(&self, identity: Identity) -> Result<Credentials, CertificateError> {
        let issued = self.issue(identity, &[])?;
        Ok(Credentials::from_pem(
            identity,
            self.certificate_pem.clone(),
            issued.certificate_pem,
            issued.key_pem,
        ))
    }
}

/// Makes a new authority and a certificate for every identity, and writes them into `folder`
/// (made if need be): `ca.pem`, and `IDENTITY.pem` with `IDENTITY.key` for each. The authority's
/// key is not kept: nothing more can be issued under it, so a lost or leaked folder is replaced
/// whole. Private keys are readable by their owner only, unless `readable_keys` (for a volume that
/// containers running as different users share, and nothing else mounts). Returns the files
/// written.
pub fn write_folder(
    folder: &Path,
    hosts: &[String],
    readable_keys: bool,
) -> Result<Vec<PathBuf>, CertificateError> {
    let authority = Authority::new("familybridge deployment CA")?;
    std::fs::create_dir_all(folder).map_err(|source| CertificateError::Write {
        path: folder.to_owned(),
        source,
    })?;
    let mut written = vec![write(folder, CA_FILE, authority.certificate_pem(), false)?];
    for identity in Identity::ALL {
        let issued = authority.issue(identity, hosts)?;
        written.push(write(
            folder,
            &certificate_file(identity),
            &issued.certificate_pem,
            false,
        )?);
        written.push(write(
            folder,
            &key_file(identity),
            &issued.key_pem,
            !readable_keys,
        )?);
    }
    Ok(written)
}

/// Writes `text` to `folder/name`, readable by its owner only if `private`.
fn write(
    folder: &Path,
    name: &str,
    text: &str,
    private: bool,
) -> Result<PathBuf, CertificateError> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let path = folder.join(name);
    let failed = |source| CertificateError::Write {
        path: path.clone(),
        source,
    };
    // A key is made private as it is created, never readable for a moment in between; an
    // existing file is replaced with the mode set again.
    let mode = if private { 0o600 } else { 0o644 };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&path)
        .map_err(failed)?;
    use std::os::unix::fs::PermissionsExt as _;
    file.set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(failed)?;
    file.write_all(text.as_bytes()).map_err(failed)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::AgencyId;
    use crate::tls::identity_of;

    const CMS: Identity = Identity::Agency(AgencyId::Cms);

    fn der(pem: &str) -> Vec<u8> {
        let (_, block) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).expect("PEM");
        block.contents
    }

    #[test]
    fn every_certificate_names_its_identity_and_the_authority_names_none() {
        let authority = Authority::new("test CA").expect("an authority");
        for identity in Identity::ALL {
            let issued = authority.issue(identity, &[]).expect("a certificate");
            assert_eq!(identity_of(&der(&issued.certificate_pem)), Some(identity));
        }
        assert_eq!(identity_of(&der(authority.certificate_pem())), None);
        assert_eq!(identity_of(b"not a certificate"), None);
    }

    #[test]
    fn a_folder_holds_every_identity_with_private_keys_unless_asked() {
        use std::os::unix::fs::PermissionsExt as _;
        let folder = tempfile::tempdir().expect("a folder");
        let written =
            write_folder(folder.path(), &["cms.example".to_owned()], false).expect("written");
        assert_eq!(written.len(), 1 + 2 * Identity::ALL.len());
        let mode = |name: String| {
            std::fs::metadata(folder.path().join(name))
                .expect("written")
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(mode(key_file(CMS)), 0o600);
        assert_eq!(mode(certificate_file(CMS)), 0o644);
        for identity in Identity::ALL {
            let credentials = Credentials::from_folder(folder.path(), identity).expect("read");
            assert_eq!(credentials.identity(), identity);
        }
        // A certificate read as another identity's is refused, naming what it holds.
        std::fs::copy(
            folder.path().join(certificate_file(CMS)),
            folder.path().join(certificate_file(Identity::Auditor)),
        )
        .expect("copied");
        let error = Credentials::from_folder(folder.path(), Identity::Auditor)
            .expect_err("not the auditor's");
        assert!(error.to_string().contains("names cms"), "{error}");
        write_folder(folder.path(), &[], true).expect("rewritten");
        assert_eq!(mode(key_file(CMS)), 0o644);
    }
}
