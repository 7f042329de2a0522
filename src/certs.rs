//! `familybridge certs`: a deployment's own certificate authority and a certificate for every
//! identity — the three agencies, the simulation controller and an auditor — for mutual TLS
//! (`--tls-dir` on every service and on `run`, `up` and `load`). See
//! [`familybridge_runtime::tls`].

use std::path::PathBuf;

use anyhow::Context;
use familybridge_runtime::tls::certificates;

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
    #[arg(long = "host", value_name = "NAME")]
    hosts: Vec<String>,
    /// Write the private keys readable by everyone rather than by their owner only: for a volume
    /// that containers running as different users share and nothing else mounts (the compose
    /// demo's). Never for credentials kept anywhere else.
    #[arg(long)]
    readable_keys: bool,
}

/// Makes the authority and the certificates, and lists the files written.
pub fn run(args: CertsArgs) -> anyhow::Result<()> {
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
