//! Containers for the tests that run the project's images, with podman on a machine that reaches no
//! image registry (this one: see /work/shared/design/containers.md in the project's notes).
//!
//! - [`Podman::require`]: podman, podman-compose and debootstrap are installed, or the test fails
//!   saying what to install; and only one such test runs on the machine at a time, since the
//!   images' tags and the published ports are the machine's.
//! - [`Podman::offline_base_images`]: the base images made locally — Debian from `debootstrap`, then
//!   a Rust builder base and PostgreSQL from Debian's package on it (deploy/offline/) — kept by tag
//!   and remade only when what they are made from changes.
//! - [`Podman::build_project_images`]: the Dockerfile's targets built on those bases, with a cargo
//!   registry and target folder that survive between runs (in [`cache_dir`], outside the checkout)
//!   and the host's Rust toolchain mounted in, so a warm build compiles only what changed.
//! - [`ComposeProject`]: a compose project that waits on health itself (without systemd podman runs
//!   no health checks, and podman-compose 1.0.3 does not wait for `service_healthy`) and removes
//!   every container, network and volume it made when dropped, even when the test fails.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use crate::tools::{require_tool, run_checked, tail};

/// How to get the tools, on Debian.
const INSTALL: &str = "apt-get install -y podman runc podman-compose debootstrap";

/// What podman needs on this machine (and what it says when it is missing).
const CONTAINERS_CONF: &str = "podman here needs `[engine] runtime = \"runc\"` and \
    `[containers] default_ulimits = []` in /etc/containers/containers.conf (or a file in \
    /etc/containers/containers.conf.d/), else containers fail with `setrlimit RLIMIT_NOFILE` or \
    `cgroups in hybrid mode not supported`; .ci/run sets both";

/// The local Debian base (debootstrap's minbase), which every offline image starts from.
pub const DEBIAN_IMAGE: &str = "localhost/familybridge-offline/debian:bookworm";
/// The builder base for the Dockerfile's `BUILDER_IMAGE` (deploy/offline/builder.Containerfile).
pub const BUILDER_IMAGE: &str = "localhost/familybridge-offline/rust-builder:bookworm";
/// PostgreSQL from Debian's package (deploy/offline/postgres.Containerfile); the name
/// deploy/offline/docker-compose.offline.yml gives.
pub const POSTGRES_IMAGE: &str = "localhost/familybridge-offline/postgres:bookworm";

/// The Dockerfile's builder stage, as the last build left it.
const BUILDER_STAGE_TAG: &str = "localhost/familybridge-offline/project-builder:latest";
/// The label on every image [`Podman::build_project_images`] makes, by which untagged ones are pruned.
const BUILT_BY_LABEL: &str = "familybridge.built-by=familybridge-testing";

/// The label holding the digest of what an offline image was made from.
const SOURCE_LABEL: &str = "familybridge.offline.source";

/// Where the Dockerfile's builder expects the toolchain, CARGO_HOME's registry and the target folder.
const TOOLCHAIN_MOUNT: &str = "/usr/local/rust";
const REGISTRY_MOUNT: &str = "/usr/local/cargo/registry";
const TARGET_MOUNT: &str = "/build/target";

/// The folder kept between test runs for base images' scratch space and the image build's caches:
/// `$XDG_CACHE_HOME/familybridge`, or `/var/tmp/familybridge` (which survives reboots, unlike /tmp).
pub fn cache_dir() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .filter(|folder| !folder.is_empty())
        .map(|folder| PathBuf::from(folder).join("familybridge"))
        .unwrap_or_else(|| PathBuf::from("/var/tmp/familybridge"))
}

/// Podman, installed and to this test alone: held, no other test on the machine builds the
/// project's images or runs its compose file.
pub struct Podman {
    _exclusive: File,
}

impl Podman {
    /// Checks that podman, podman-compose and debootstrap are installed — failing the test, saying
    /// what to install, if not — and waits until no other test on the machine holds podman.
    pub fn require(needed_for: &str) -> Self {
        for tool in ["podman", "podman-compose", "debootstrap"] {
            require_tool(tool, needed_for, INSTALL);
        }
        let cache = cache_dir();
        std::fs::create_dir_all(&cache)
            .unwrap_or_else(|error| panic!("cannot make {}: {error}", cache.display()));
        let lock_path = cache.join("podman-tests.lock");
        let lock = File::create(&lock_path)
            .unwrap_or_else(|error| panic!("cannot open {}: {error}", lock_path.display()));
        // Waits while another test run (another worktree, say) has it; released when dropped.
        if rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_err() {
            eprintln!(
                "waiting for another test run that holds podman ({})",
                lock_path.display()
            );
            rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive)
                .unwrap_or_else(|error| panic!("cannot lock {}: {error}", lock_path.display()));
        }
        Self { _exclusive: lock }
    }

    /// Makes the offline base images that are missing or out of date (see the module's overview),
    /// from the Containerfiles in `offline_dir` (deploy/offline/), and checks that podman can run
    /// a container.
    pub fn offline_base_images(&self, offline_dir: &Path) {
        if !image_exists(DEBIAN_IMAGE) {
            debootstrap_base();
        }
        let ran = podman()
            .args(["run", "--rm", "--network=none", DEBIAN_IMAGE, "true"])
            .output()
            .expect("run podman");
        assert!(
            ran.status.success(),
            "podman cannot run a container: {CONTAINERS_CONF}\n{}",
            tail(&ran, 20)
        );
        let debian = image_id(DEBIAN_IMAGE);
        build_if_changed(
            BUILDER_IMAGE,
            &offline_dir.join("builder.Containerfile"),
            &[],
            &debian,
        );
        build_if_changed(
            POSTGRES_IMAGE,
            &offline_dir.join("postgres.Containerfile"),
            &[offline_dir.join("postgres-entrypoint.sh")],
            &debian,
        );
    }

    /// Builds each `(target, tag)` of the Dockerfile in `repo` with the cargo profile `profile` on
    /// the offline bases. The crates are fetched by the host into the cache (the host trusts this
    /// network's TLS; a container does not), the host's toolchain is mounted read-only, and the
    /// target folder is the cache's, so only what changed is compiled.
    pub fn build_project_images(&self, repo: &Path, profile: &str, targets: &[(&str, &str)]) {
        let cache = cache_dir();
        let cargo_home = cache.join("cargo-home");
        let target = cache.join("image-target");
        for folder in [cargo_home.join("registry"), target.clone()] {
            std::fs::create_dir_all(&folder)
                .unwrap_or_else(|error| panic!("cannot make {}: {error}", folder.display()));
        }
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        run_checked(
            Command::new(cargo)
                .args(["fetch", "--locked", "--manifest-path"])
                .arg(repo.join("Cargo.toml"))
                .env("CARGO_HOME", &cargo_home),
            "fetching the crates for the image build",
        );
        let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
        let sysroot = run_checked(
            Command::new(rustc).args(["--print", "sysroot"]),
            "finding the host's Rust toolchain",
        );
        let mount = |from: &Path, to: &str, options: &str| {
            format!("--volume={}:{to}{options}", from.display())
        };
        // The builder stage under a tag of its own, so the targets reuse it and the previous
        // build's (hundreds of megabytes) is left untagged, to be pruned below.
        let builder = ("builder", BUILDER_STAGE_TAG);
        for (stage, tag) in std::iter::once(&builder).chain(targets) {
            run_checked(
                podman()
                    .current_dir(repo)
                    .arg("build")
                    .arg(format!("--target={stage}"))
                    .arg(format!("--tag={tag}"))
                    .arg(format!("--label={BUILT_BY_LABEL}"))
                    .arg(format!("--build-arg=BUILDER_IMAGE={BUILDER_IMAGE}"))
                    .arg(format!("--build-arg=RUNTIME_IMAGE={DEBIAN_IMAGE}"))
                    .arg(format!("--build-arg=PROFILE={profile}"))
                    .arg(mount(Path::new(sysroot.trim()), TOOLCHAIN_MOUNT, ":ro"))
                    .arg(mount(&cargo_home.join("registry"), REGISTRY_MOUNT, ""))
                    .arg(mount(&target, TARGET_MOUNT, ""))
                    .arg("--file=Dockerfile")
                    .arg("."),
                &format!("building the image {tag} (Dockerfile target {stage})"),
            );
        }
        // Images of earlier runs that lost their tags to this one: without this, every change of
        // the sources would leave a builder image behind.
        run_checked(
            podman().args([
                "image",
                "prune",
                "--force",
                &format!("--filter=label={BUILT_BY_LABEL}"),
            ]),
            "removing the images earlier builds left untagged",
        );
    }
}

/// Makes [`DEBIAN_IMAGE`]: `debootstrap --variant=minbase bookworm` into a scratch folder of the
/// cache, imported into podman, the folder removed.
fn debootstrap_base() {
    let rootfs = cache_dir().join(format!("debian-rootfs-{}", std::process::id()));
    run_checked(
        Command::new("debootstrap")
            .args(["--variant=minbase", "bookworm"])
            .arg(&rootfs),
        "making the Debian base with debootstrap (it needs Debian's package registry)",
    );
    let mut tar = Command::new("tar")
        .arg("-C")
        .arg(&rootfs)
        .args(["-c", "."])
        .stdout(Stdio::piped())
        .spawn()
        .expect("run tar");
    let archive = tar.stdout.take().expect("tar's piped output");
    let imported = podman()
        .args(["import", "-", DEBIAN_IMAGE])
        .stdin(archive)
        .output()
        .expect("run podman import");
    let tarred = tar.wait().expect("wait for tar");
    assert!(
        tarred.success() && imported.status.success(),
        "importing the Debian base into podman failed (tar: {tarred}):\n{}",
        tail(&imported, 20)
    );
    std::fs::remove_dir_all(&rootfs)
        .unwrap_or_else(|error| panic!("cannot remove {}: {error}", rootfs.display()));
}

/// Builds `tag` from `containerfile` (its folder the context) on the Debian base unless the image
/// there was made from the same files on the same base.
fn build_if_changed(tag: &str, containerfile: &Path, inputs: &[PathBuf], base_id: &str) {
    let mut digest = Sha256::new();
    digest.update(base_id.as_bytes());
    for file in std::iter::once(containerfile).chain(inputs.iter().map(PathBuf::as_path)) {
        let bytes = std::fs::read(file)
            .unwrap_or_else(|error| panic!("cannot read {}: {error}", file.display()));
        digest.update(&bytes);
    }
    let source: String = digest
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    if image_exists(tag) && image_label(tag, SOURCE_LABEL) == source {
        return;
    }
    let context = containerfile
        .parent()
        .expect("a Containerfile is in a folder");
    run_checked(
        podman()
            .arg("build")
            .arg(format!("--tag={tag}"))
            .arg(format!("--label={SOURCE_LABEL}={source}"))
            .arg(format!("--build-arg=BASE_IMAGE={DEBIAN_IMAGE}"))
            .arg("--file")
            .arg(containerfile)
            .arg(context),
        &format!(
            "building the offline base {tag} from {}",
            containerfile.display()
        ),
    );
}

fn podman() -> Command {
    let mut command = Command::new("podman");
    command.stdin(Stdio::null());
    command
}

fn image_exists(tag: &str) -> bool {
    podman()
        .args(["image", "exists", tag])
        .status()
        .is_ok_and(|status| status.success())
}

fn image_id(tag: &str) -> String {
    run_checked(
        podman().args(["image", "inspect", "--format", "{{.Id}}", tag]),
        &format!("inspecting {tag}"),
    )
    .trim()
    .to_owned()
}

fn image_label(tag: &str, label: &str) -> String {
    run_checked(
        podman().args([
            "image",
            "inspect",
            "--format",
            &format!("{{{{index .Labels \"{label}\"}}}}"),
            tag,
        ]),
        &format!("inspecting {tag}"),
    )
    .trim()
    .to_owned()
}

/// A one-off container's outcome.
#[derive(Debug)]
pub struct Finished {
    /// Its exit code.
    pub exit_code: i32,
    /// What it printed (standard output and error, as `podman logs` gives them).
    pub logs: String,
}

/// A compose project brought up with podman-compose, whose containers, networks and volumes are
/// all removed when it is dropped.
pub struct ComposeProject {
    name: String,
    dir: PathBuf,
    files: Vec<String>,
}

impl ComposeProject {
    /// A project in `dir` from the compose `files` (relative to `dir`, later ones overriding),
    /// named `familybridge-test-…` uniquely, so that it can be told from anything else on the machine.
    pub fn new(dir: &Path, files: &[&str]) -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|elapsed| elapsed.subsec_nanos())
            .unwrap_or_default();
        Self {
            name: format!("familybridge-test-{}-{nanos}", std::process::id()),
            dir: dir.to_owned(),
            files: files.iter().map(|file| (*file).to_owned()).collect(),
        }
    }

    /// The name podman-compose gives the container of `service`.
    pub fn container(&self, service: &str) -> String {
        format!("{}_{service}_1", self.name)
    }

    /// Starts `services` (and what they depend on) detached, from images already built, and checks
    /// that each is running.
    pub fn up(&self, services: &[&str]) {
        run_checked(
            self.compose()
                .args(["up", "-d", "--no-build"])
                .args(services),
            &format!("podman-compose up {}", services.join(" ")),
        );
        for service in services {
            let state = self.state(service);
            assert_eq!(
                state,
                "running",
                "{service} is not running after podman-compose up:\n{}",
                self.logs(&self.container(service))
            );
        }
    }

    /// Runs `service`'s health check (the compose file's) until it passes, for at most `timeout`;
    /// fails the test with the last answer and the container's log if it never does.
    pub fn wait_healthy(&self, service: &str, timeout: Duration) {
        let container = self.container(service);
        let started = Instant::now();
        loop {
            let check = podman()
                .args(["healthcheck", "run", &container])
                .output()
                .expect("run podman healthcheck");
            if check.status.success() {
                return;
            }
            let state = self.state(service);
            if state != "running" || started.elapsed() > timeout {
                panic!(
                    "{service} did not become healthy within {timeout:?} (container {state}):\n{}\n\
                     --- its log\n{}",
                    tail(&check, 10),
                    self.logs(&container)
                );
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// Runs `service` once as compose's `run` does, with `args` added to its command, without
    /// starting its dependencies (the test has), and waits for it to finish — at most `timeout`,
    /// after which the test fails with what it printed.
    pub fn run_once(&self, service: &str, args: &[&str], timeout: Duration) -> Finished {
        let container = format!("{}_{service}_once", self.name);
        let mut running = self
            .compose()
            .args(["run", "--no-deps", "-T", "--name", &container, service])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run podman-compose run");
        let started = Instant::now();
        while running
            .try_wait()
            .expect("wait for podman-compose")
            .is_none()
        {
            if started.elapsed() > timeout {
                let _ = running.kill();
                let _ = running.wait();
                panic!(
                    "{service} did not finish within {timeout:?}:\n{}",
                    self.logs(&container)
                );
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        // podman-compose 1.0.3 exits 0 whatever the container did: the exit code is podman's.
        Finished {
            exit_code: exit_code(&container),
            logs: self.logs(&container),
        }
    }

    /// Stops `service` as `docker compose stop` does — SIGTERM, then SIGKILL after `grace` — and
    /// returns its exit code: 0 when it shut down on the signal by itself, 137 when it was killed.
    pub fn stop(&self, service: &str, grace: Duration) -> i32 {
        let container = self.container(service);
        run_checked(
            podman().args(["stop", "--time", &grace.as_secs().to_string(), &container]),
            &format!("podman stop {service}"),
        );
        exit_code(&container)
    }

    /// The last lines each of `services` printed, under a heading per service: what a failing
    /// test shows of the stack.
    pub fn logs_of(&self, services: &[&str]) -> String {
        services
            .iter()
            .map(|service| {
                format!(
                    "--- {service}'s log\n{}",
                    self.logs(&self.container(service))
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The last lines a container printed.
    pub fn logs(&self, container: &str) -> String {
        let output = podman()
            .args(["logs", "--tail", "80", container])
            .output()
            .expect("run podman logs");
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    }

    fn state(&self, service: &str) -> String {
        podman()
            .args([
                "container",
                "inspect",
                "--format",
                "{{.State.Status}}",
                &self.container(service),
            ])
            .output()
            .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
            .unwrap_or_default()
    }

    fn compose(&self) -> Command {
        let mut command = Command::new("podman-compose");
        command
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .args(["--project-name", &self.name]);
        for file in &self.files {
            command.args(["--file", file]);
        }
        command
    }

    /// Removes what podman-compose made for the project, found by the label it puts on all of it.
    fn remove_everything(&self) {
        let label = format!("label=io.podman.compose.project={}", self.name);
        let steps = [
            (
                "container",
                ["ps", "--all", "--quiet", "--filter", &label],
                ["rm", "--force", "--volumes"],
            ),
            (
                "network",
                ["network", "ls", "--quiet", "--filter", &label],
                ["network", "rm", "--force"],
            ),
            (
                "volume",
                ["volume", "ls", "--quiet", "--filter", &label],
                ["volume", "rm", "--force"],
            ),
        ];
        for (kind, list, remove) in steps {
            let ids: Vec<String> = podman()
                .args(list)
                .output()
                .map(|output| {
                    String::from_utf8_lossy(&output.stdout)
                        .split_whitespace()
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            if ids.is_empty() {
                continue;
            }
            let removed = podman().args(remove).args(&ids).output();
            if !removed.is_ok_and(|output| output.status.success()) {
                eprintln!(
                    "warning: could not remove every {kind} of {}: {ids:?}",
                    self.name
                );
            }
        }
    }
}

/// The exit code of the finished `container`, as podman recorded it (-1 if it reads as none).
fn exit_code(container: &str) -> i32 {
    run_checked(
        podman().args(["inspect", "--format", "{{.State.ExitCode}}", container]),
        &format!("inspecting the finished container {container}"),
    )
    .trim()
    .parse()
    .unwrap_or(-1)
}

impl Drop for ComposeProject {
    fn drop(&mut self) {
        self.remove_everything();
    }
}
