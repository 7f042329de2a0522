//! `familybridge certs`: a deployment's own certificate authority and a certificate for every
//! identity — the three agencies, the simulation controller and an auditor — for mutual TLS
//! (`--tls-dir` on every service and on `run`, `up` and `load`). See
//! [`familybridge_runtime::tls`].

use std::path::PathBuf;

use anyhow::Context;
use familybridge_runtime::tls::{CA_FILE, certificates};
use familybridge_runtime::{Credentials, Identity};

/// Where the credentials go, and which host names the agencies' certificates cover.
#[derive(Debug, clap::Args)]
pub struct CertsArgs {
    /// Folder to write `ca.pem`, and `IDENTITY.pem` with `IDENTITY.key` for each identity
    /// (made if need be; files already there are replaced).
    #[arg(long, default_value = "certs")]
    out: PathBuf,
    /// A host name or address the agencies are reached at, besides their service names,
    /// `localhost` and the loopback addresses (repeat for more), e.g. `--host
    /// court-registry.familybridge.svc.cluster.local`.
    #[arg(long = "host", value_name = "NAME", value_parser = host_name)]
    hosts: Vec<String>,
    /// Write the private keys readable by everyone rather than by their owner only: for a volume
    /// that containers running as different users share and nothing else mounts (the compose
    /// demo's). Never for credentials kept anywhere else.
    #[arg(long)]
    readable_keys: bool,
    /// Keep the credentials the folder already holds, if it holds a complete set, and make them
    /// only if it holds none: what a compose file's one-shot service wants, since every `up` runs
    /// it again while the services that read the first set may still be running.
    #[arg(long)]
    keep_existing: bool,
}

/// A host name a certificate can name: an IP address, or a DNS name of labels of letters, digits
/// and `-` (at most 63 characters each, 253 in all).
fn host_name(text: &str) -> Result<String, String> {
    let dns = text.len() <= 253
        && text.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    if dns || text.parse::<std::net::IpAddr>().is_ok() {
        Ok(text.to_owned())
    } else {
        Err("not a host name or IP address: expected e.g. court-registry.example.org".to_owned())
    }
}

/// Makes the authority and the certificates, and lists the files written.
pub fn run(args: CertsArgs) -> anyhow::Result<()> {
    if args.keep_existing && args.out.join(CA_FILE).exists() {
        for identity in Identity::ALL {
            Credentials::from_folder(&args.out, identity).with_context(|| {
                format!(
                    "{} holds credentials, but not a complete set: remove them to make new ones",
                    args.out.display()
                )
            })?;
        }
        println!("kept the credentials in {}", args.out.display());
        return Ok(());
    }
    let written = certificates::write_folder(&args.out, &args.hosts, args.readable_keys)
        .with_context(|| format!("cannot make credentials in {}", args.out.display()))?;
    for path in written {
        println!("wrote {}", path.display());
    }
    println!(
        "Start each service with --tls-dir {dir} (or FAMILYBRIDGE_TLS_DIR) and reach it at \
         https:// addresses.",
        dir = args.out.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::host_name;

    #[test]
    fn a_host_is_a_dns_name_or_an_ip_address() {
        for good in [
            "court-registry",
            "cms.familybridge.svc.cluster.local",
            "10.0.0.7",
            "::1",
        ] {
            assert_eq!(host_name(good).as_deref(), Ok(good));
        }
        for bad in ["", "bad host!", "-lead.example", "a..b", &"x".repeat(64)] {
            assert!(host_name(bad).is_err(), "{bad:?}");
        }
    }
}
