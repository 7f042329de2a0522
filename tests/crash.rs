//! A run survives its services crashing: the three services run as separate processes on SQLite
//! files, `familybridge run --connect` drives them, and while it runs each service in turn is
//! killed (SIGKILL, at a moment drawn from a fixed seed) and started again at once on its
//! database and port. The runner retries what met a missing peer, with the idempotent ids it
//! already sends; the outputs must be byte-identical to an undisturbed run's.

mod support;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use familybridge_testing::ServiceProcess;

use support::{RESULTS, assert_same_outputs, run, scenario};

const SIZE: &[&str] = &["--families", "16", "--replications", "2"];
/// The longest the disturbed run may take.
const RUN_WITHIN: Duration = Duration::from_secs(600);

/// One of the three services, as a process that can be killed and started again.
struct Service {
    name: &'static str,
    address: String,
    env: Vec<(&'static str, String)>,
    process: Option<ServiceProcess>,
}

impl Service {
    fn binary(&self) -> PathBuf {
        // The services' binaries are built beside this package's (`cargo test --workspace`).
        Path::new(env!("CARGO_BIN_EXE_familybridge")).with_file_name(self.name)
    }

    /// Starts the service and waits until it serves.
    fn start(&mut self, data: &Path) {
        let database = format!(
            "sqlite://{}",
            data.join(format!("{}.db", self.name)).display()
        );
        let binary = self.binary();
        assert!(
            binary.exists(),
            "{} is not built: run cargo test --workspace",
            binary.display()
        );
        let mut command = Command::new(binary);
        command
            .env("LISTEN_ADDR", &self.address)
            .env("DATABASE_URL", database)
            .env("RUST_LOG", "error")
            .envs(self.env.iter().map(|(key, value)| (*key, value.as_str())))
            .stdout(Stdio::null());
        self.process = Some(ServiceProcess::spawn(&mut command));
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
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        from + self.0 % (to - from)
    }
}

#[test]
fn a_run_whose_services_are_killed_and_restarted_gives_the_undisturbed_results() {
    let data = tempfile::tempdir().expect("a folder");
    let court_address = free_address();
    let cms_address = free_address();
    let hub_address = free_address();
    let court_url = format!("http://{court_address}");
    let cms_url = format!("http://{cms_address}");
    // The levers of automatic-exchange.toml's `automatic` arm, as docker-compose.yml sets them.
    let mut services = [
        Service {
            name: "court-registry",
            address: court_address,
            env: vec![],
            process: None,
        },
        Service {
            name: "cms-calculation",
            address: cms_address,
            env: vec![
                ("COURT_REGISTRY_URL", court_url.clone()),
                ("CMS_COURT_ORDERS", "automatic".to_owned()),
            ],
            process: None,
        },
        Service {
            name: "referral-hub",
            address: hub_address,
            env: vec![
                ("COURT_REGISTRY_URL", court_url),
                ("CMS_URL", cms_url),
                ("HUB_COURT_ORDERS", "automatic".to_owned()),
            ],
            process: None,
        },
    ];
    for service in &mut services {
        service.start(data.path());
    }
    let connect = format!(
        "court=http://{},cms=http://{},hub=http://{}",
        services[0].address, services[1].address, services[2].address
    );

    let disturbed = tempfile::tempdir().expect("a folder");
    // To files, not pipes: nothing reads a pipe while the run goes on.
    let log = data.path().join("runner.log");
    let log_file = std::fs::File::create(&log).expect("the runner's log");
    let mut runner = Command::new(env!("CARGO_BIN_EXE_familybridge"))
        .arg("run")
        .arg(scenario("automatic-exchange.toml"))
        .args(["--arm", "automatic", "--connect", &connect, "--out"])
        .arg(disturbed.path())
        .args(SIZE)
        .stdout(log_file.try_clone().expect("the log, twice"))
        .stderr(log_file)
        .spawn()
        .expect("start the runner");

    // Each service in turn: the CMS first (the one most calls go to), then the court, the hub.
    let started = Instant::now();
    let mut moments = Moments(0x5eed_cafe);
    let mut killed = [0_usize; 3];
    let order = [1, 0, 2];
    let mut turn = 0;
    let status = loop {
        std::thread::sleep(Duration::from_millis(moments.next_millis(100, 600)));
        if let Some(status) = runner.try_wait().expect("the runner's status") {
            break status;
        }
        assert!(
            started.elapsed() < RUN_WITHIN,
            "the disturbed run did not finish"
        );
        let index = order[turn % order.len()];
        services[index].kill();
        services[index].start(data.path());
        killed[index] += 1;
        turn += 1;
    };
    assert!(
        status.success(),
        "the runner failed after {killed:?} crashes (court, CMS, hub):\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    assert!(
        killed.iter().all(|times| *times > 0),
        "every service is killed at least once: {killed:?} (court, CMS, hub)"
    );

    eprintln!("crashes survived (court, CMS, hub): {killed:?}");
    let undisturbed = tempfile::tempdir().expect("a folder");
    let mut args = vec!["--arm", "automatic"];
    args.extend(SIZE);
    run(
        &scenario("automatic-exchange.toml"),
        undisturbed.path(),
        &args,
    );
    assert_same_outputs(
        disturbed.path(),
        undisturbed.path(),
        RESULTS,
        "a run whose services crashed and an undisturbed run of the same arm and seed",
    );
}
