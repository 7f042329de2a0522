//! A run survives its services crashing: the three services run as separate processes on SQLite
//! files, `familybridge run --connect` drives them, and while it runs each service in turn is
//! killed (SIGKILL, at a moment drawn from a fixed seed) and started again at once on its
//! database and port. The runner retries what met a missing peer, with the idempotent ids it
//! already sends; the outputs must be byte-identical to an undisturbed run's. A run survives its
//! runner crashing too: killed in the same way and started again with the same arguments, a
//! runner with `--journal` resumes from the answers it journaled.

mod support;

use std::ffi::OsStr;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use familybridge_testing::GuardedProcess;

use support::{RESULTS, assert_same_outputs, run, scenario};

const SIZE: &[&str] = &["--families", "16", "--replications", "2"];
/// One of these tests at a time: each picks free ports and then lets them go until its services
/// bind them, which another test's picks must not take meanwhile.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The longest the disturbed run may take.
const RUN_WITHIN: Duration = Duration::from_secs(600);

/// One of the three services, as a process that can be killed and started again.
struct Service {
    name: &'static str,
    address: String,
    database: String,
    env: Vec<(&'static str, String)>,
    process: Option<GuardedProcess>,
}

impl Service {
    fn binary(&self) -> PathBuf {
        // The services' binaries are built beside this package's (`cargo test --workspace`).
        Path::new(env!("CARGO_BIN_EXE_familybridge")).with_file_name(self.name)
    }

    /// Starts the service and waits until it serves.
    fn start(&mut self) {
        let binary = self.binary();
        assert!(
            binary.exists(),
            "{} is not built: run cargo test --workspace",
            binary.display()
        );
        let mut command = Command::new(binary);
        command
            .env("LISTEN_ADDR", &self.address)
            .env("DATABASE_URL", &self.database)
            .env("RUST_LOG", "error")
            .envs(self.env.iter().map(|(key, value)| (*key, value.as_str())))
            .stdout(Stdio::null());
        self.process = Some(GuardedProcess::spawn(&mut command));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime
            .block_on(familybridge_runtime::wait_until_serving(
                &format!("http://{}", self.address),
                Duration::from_secs(60),
            ))
            .unwrap_or_else(|error| panic!("{} did not start: {error}", self.name));
    }

    /// Kills the service as a crash would.
    fn kill(&mut self) {
        if let Some(process) = self.process.take() {
            process.kill();
        }
    }
}

/// A loopback address no one is listening on.
fn free_address() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("an address").to_string()
}

/// A small deterministic generator (xorshift), so that the moments of the crashes are the same on
/// every run of the test.
struct Moments(u64);

impl Moments {
    fn next_millis(&mut self, from: u64, to: u64) -> u64 {
        self.next_in(from, to)
    }

    /// A number from `from` up to (not including) `to`.
    fn next_in(&mut self, from: u64, to: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        from + self.0 % (to - from)
    }
}

/// The three services of automatic-exchange.toml's `automatic` arm (its levers as
/// docker-compose.yml sets them), on free loopback ports, each on the database `database(name)`.
fn services(database: impl Fn(&str) -> String) -> [Service; 3] {
    let court_address = free_address();
    let cms_address = free_address();
    let court_url = format!("http://{court_address}");
    let cms_url = format!("http://{cms_address}");
    [
        Service {
            name: "court-registry",
            address: court_address,
            database: database("court-registry"),
            env: vec![],
            process: None,
        },
        Service {
            name: "cms-calculation",
            address: cms_address,
            database: database("cms-calculation"),
            env: vec![
                ("COURT_REGISTRY_URL", court_url.clone()),
                ("CMS_COURT_ORDERS", "automatic".to_owned()),
            ],
            process: None,
        },
        Service {
            name: "referral-hub",
            address: free_address(),
            database: database("referral-hub"),
            env: vec![
                ("COURT_REGISTRY_URL", court_url),
                ("CMS_URL", cms_url),
                ("HUB_COURT_ORDERS", "automatic".to_owned()),
            ],
            process: None,
        },
    ]
}

/// Starts `familybridge run --connect` against `services` with `more` arguments, writing its
/// outputs to `out` and its log to `log`.
fn start_runner(
    services: &[Service; 3],
    out: &Path,
    log: &Path,
    more: &[&OsStr],
) -> GuardedProcess {
    let connect = format!(
        "court=http://{},cms=http://{},hub=http://{}",
        services[0].address, services[1].address, services[2].address
    );
    // To a file, not a pipe: nothing reads a pipe while the run goes on.
    let log_file = std::fs::File::create(log).expect("the runner's log");
    GuardedProcess::spawn(
        Command::new(env!("CARGO_BIN_EXE_familybridge"))
            .arg("run")
            .arg(scenario("automatic-exchange.toml"))
            .args(["--arm", "automatic", "--connect", &connect, "--out"])
            .arg(out)
            .args(SIZE)
            .args(more)
            .stdout(log_file.try_clone().expect("the log, twice"))
            .stderr(log_file),
    )
}

/// Checks that the runner finished well and that its outputs in `disturbed` are those of an
/// undisturbed in-process run of the same arm and seed.
fn assert_undisturbed_results(
    status: std::process::ExitStatus,
    log: &Path,
    disturbed: &Path,
    what: &str,
) {
    assert!(
        status.success(),
        "the runner failed ({what}):\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
    let undisturbed = tempfile::tempdir().expect("a folder");
    let mut args = vec!["--arm", "automatic"];
    args.extend(SIZE);
    run(
        &scenario("automatic-exchange.toml"),
        undisturbed.path(),
        &args,
    );
    assert_same_outputs(
        disturbed,
        undisturbed.path(),
        RESULTS,
        &format!("a run with {what} and an undisturbed run of the same arm and seed"),
    );
}

/// The three services started on SQLite files in `data`.
fn started_on_sqlite(data: &Path) -> [Service; 3] {
    let mut services =
        services(|name| format!("sqlite://{}", data.join(format!("{name}.db")).display()));
    for service in &mut services {
        service.start();
    }
    services
}

#[test]
fn a_run_whose_services_are_killed_and_restarted_gives_the_undisturbed_results() {
    let _alone = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let data = tempfile::tempdir().expect("a folder");
    let mut services = started_on_sqlite(data.path());
    let disturbed = tempfile::tempdir().expect("a folder");
    let log = data.path().join("runner.log");
    let mut runner = start_runner(&services, disturbed.path(), &log, &[]);

    // Each service in turn: the CMS first (the one most calls go to), then the court, the hub.
    let started = Instant::now();
    let mut moments = Moments(0x5eed_cafe);
    let mut killed = [0_usize; 3];
    let order = [1, 0, 2];
    let mut turn = 0;
    let status = loop {
        std::thread::sleep(Duration::from_millis(moments.next_millis(50, 400)));
        if let Some(status) = runner.finished() {
            break status;
        }
        assert!(
            started.elapsed() < RUN_WITHIN,
            "the disturbed run did not finish"
        );
        let index = order[turn % order.len()];
        services[index].kill();
        services[index].start();
        killed[index] += 1;
        turn += 1;
    };
    eprintln!("crashes survived (court, CMS, hub): {killed:?}");
    assert_undisturbed_results(status, &log, disturbed.path(), "its services crashing");
    assert!(
        killed.iter().all(|times| *times > 0),
        "every service is killed at least once: {killed:?} (court, CMS, hub)"
    );
}

/// The length of the file at `path` (0 if there is none yet).
fn length(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |metadata| metadata.len())
}

#[test]
fn a_runner_killed_and_started_again_with_its_journal_gives_the_undisturbed_results() {
    const KILLS: usize = 3;
    let _alone = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let data = tempfile::tempdir().expect("a folder");
    let services = started_on_sqlite(data.path());
    let disturbed = tempfile::tempdir().expect("a folder");
    let journal = data.path().join("answers.journal");
    let log = |start: usize| data.path().join(format!("runner-{start}.log"));
    // Every other runner sends each call to the CMS alone: the journal's keys do not depend on
    // how the calls go, so one runner resumes another's journal either way.
    let start = |number: usize| {
        let mut more = vec![OsStr::new("--journal"), journal.as_os_str()];
        if number % 2 == 1 {
            more.push(OsStr::new("--per-command"));
        }
        start_runner(&services, disturbed.path(), &log(number), &more)
    };
    let started = Instant::now();
    let mut moments = Moments(0x0dd_ba11);
    let mut runner = start(0);
    // The journal's length at each kill. A runner is killed once it has journaled a seeded amount
    // beyond what the one before left (some hundreds of answers: the moment follows the run's
    // progress, not the clock, so a slow machine kills it at about the same points, and the whole
    // run journals some 800 kB), and a seeded few milliseconds later, so that the kill may land
    // while calls are in flight or their answers being written.
    let mut lengths = vec![0];
    for kill in 1..=KILLS {
        let before = lengths[kill - 1];
        let kill_at = before + moments.next_in(40_000, 200_000);
        while length(&journal) < kill_at {
            assert!(
                runner.finished().is_none(),
                "the runner finished before it was killed {KILLS} times:\n{}",
                std::fs::read_to_string(log(kill - 1)).unwrap_or_default()
            );
            assert!(
                started.elapsed() < RUN_WITHIN,
                "the runner made no progress"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(moments.next_millis(0, 40)));
        runner.kill();
        let now = length(&journal);
        assert!(
            now > before,
            "the runner killed made progress: {now} > {before} bytes"
        );
        lengths.push(now);
        runner = start(kill);
    }
    let status = loop {
        if let Some(status) = runner.finished() {
            break status;
        }
        assert!(
            started.elapsed() < RUN_WITHIN,
            "the resumed run did not finish"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    eprintln!(
        "the journal's length at each kill: {lengths:?}, at the end: {}",
        length(&journal)
    );
    for resumed in 1..=KILLS {
        let printed = std::fs::read_to_string(log(resumed)).expect("the runner's log");
        assert!(
            printed.contains("resuming: ") && printed.contains(" answers from "),
            "runner {resumed} resumed from the journal:\n{printed}"
        );
    }
    assert_undisturbed_results(
        status,
        &log(KILLS),
        disturbed.path(),
        "its runner killed and started again with its journal",
    );
}

/// A TCP proxy in front of PostgreSQL that can cut every connection through it, and refuse new
/// ones, for a while: a database connection dropping, as a network fault would.
struct FlakyLink {
    address: String,
    cut: tokio::sync::watch::Sender<Instant>,
    runtime: tokio::runtime::Runtime,
}

impl FlakyLink {
    /// A proxy on a free loopback port to `upstream` (`host:port`).
    fn to(upstream: String) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("a free port");
        let address = listener.local_addr().expect("an address").to_string();
        let (cut, cuts) = tokio::sync::watch::channel(Instant::now());
        runtime.spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if Instant::now() < *cuts.borrow() {
                    continue; // Refused while cut: dropped at once.
                }
                let mut cuts = cuts.clone();
                // Only a cut after this connection was made ends it.
                cuts.borrow_and_update();
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cuts.changed() => {}
                    }
                });
            }
        });
        Self {
            address,
            cut,
            runtime,
        }
    }

    /// Drops every connection now and refuses new ones for `period`.
    fn cut_for(&self, period: Duration) {
        self.cut.send_replace(Instant::now() + period);
    }
}

#[test]
fn a_run_whose_database_connections_drop_gives_the_undisturbed_results() {
    let _alone = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let upstream = std::env::var("DATABASE_URL")
        .ok()
        .and_then(|url| {
            let authority = url.split_once('@')?.1.split('/').next()?.to_owned();
            Some(authority)
        })
        .unwrap_or_else(|| "127.0.0.1:5432".to_owned());
    let link = FlakyLink::to(upstream.clone());
    let databases: Vec<familybridge_testing::TestDatabase> = (0..3)
        .map(|_| {
            link.runtime
                .block_on(familybridge_testing::TestDatabase::postgres())
        })
        .collect();
    let urls: Vec<String> = databases
        .iter()
        .map(|database| {
            database
                .url()
                .as_str()
                .replacen(&upstream, &link.address, 1)
        })
        .collect();
    let names = ["court-registry", "cms-calculation", "referral-hub"];
    let mut services = services(|name| {
        let index = names
            .iter()
            .position(|known| *known == name)
            .expect("a service");
        urls[index].clone()
    });
    for service in &mut services {
        service.start();
    }
    let data = tempfile::tempdir().expect("a folder");
    let disturbed = tempfile::tempdir().expect("a folder");
    let log = data.path().join("runner.log");
    let mut runner = start_runner(&services, disturbed.path(), &log, &[]);

    // Two seconds without the database, then four with it, until the run ends.
    let started = Instant::now();
    let mut cuts = 0;
    std::thread::sleep(Duration::from_millis(800));
    let status = loop {
        if let Some(status) = runner.finished() {
            break status;
        }
        assert!(
            started.elapsed() < RUN_WITHIN,
            "the disturbed run did not finish"
        );
        link.cut_for(Duration::from_secs(2));
        cuts += 1;
        std::thread::sleep(Duration::from_secs(6));
    };
    eprintln!("database outages survived: {cuts}");
    assert!(cuts > 0, "the database connections were cut during the run");
    assert_undisturbed_results(
        status,
        &log,
        disturbed.path(),
        "its database connections dropping for two seconds at a time",
    );
}
