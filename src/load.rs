//! `familybridge load`: how each service holds up under many clients at once — the figures the
//! README's performance table quotes beside `bench`.
//!
//! The three services start in this process (SQLite files in a temporary folder). Then, one service
//! at a time, `--clients` clients, each on its own connection, call it as fast as it answers for
//! `--seconds`: the court registry opening cases (a write: a transaction, an event, an
//! idempotency record), the CMS calculating (the codec, access control and the rules, no storage),
//! and the referral hub listing referrals (a read). Printed per service: calls answered, calls a
//! second, the median and 99th-percentile latency, and errors. The calls go without the clients'
//! retries, so that every error counts.

use std::time::{Duration, Instant};

use anyhow::Context;
use familybridge_proto::cms::v1::calculation_service_client::CalculationServiceClient;
use familybridge_proto::cms::v1::{CalculateRequest, ReceivingParent};
use familybridge_proto::court::v1::court_registry_client::CourtRegistryClient;
use familybridge_proto::court::v1::{OpenCaseRequest, Party, WelfareFlags};
use familybridge_proto::referral::v1::ListReferralsRequest;
use familybridge_proto::referral::v1::referral_hub_client::ReferralHubClient;
use familybridge_proto::simulation::v1::AdvanceToRequest;
use familybridge_proto::simulation::v1::clock_client::ClockClient;
use familybridge_runtime::{CallMetadata, Identity, TlsArgs, Transport};
use tokio::task::JoinSet;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::stack::{ANY_LOOPBACK_PORTS, Databases, Setup, Stack};

/// How much load, for how long.
#[derive(Debug, clap::Args)]
pub struct LoadArgs {
    /// Clients calling each service at once, each on its own connection.
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// Seconds each service is held under load.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    #[command(flatten)]
    tls: TlsArgs,
}

/// The simulated date the court's cases are opened on.
const OPENED_ON: &str = "2025-04-07";

/// A channel calling as the simulation, without retries.
type Caller = InterceptedService<Channel, CallMetadata>;

/// What one client saw: each answered call's latency, and how many calls failed.
#[derive(Debug, Default)]
struct Seen {
    latencies: Vec<Duration>,
    errors: u64,
}

/// Holds each service under load in turn and prints a row for each.
pub async fn run(args: LoadArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        (1..=1024).contains(&args.clients),
        "clients: {} is not between 1 and 1024",
        args.clients
    );
    anyhow::ensure!(
        (1..=3600).contains(&args.seconds),
        "seconds: {} is not between 1 and 3600",
        args.seconds
    );
    let scratch = tempfile::tempdir().context("cannot make a folder for the databases")?;
    let stack = Stack::start(
        &Databases::Files(scratch.path().to_owned()),
        ANY_LOOPBACK_PORTS,
        Setup::default(),
        &args.tls,
    )
    .await?;
    let urls = stack.urls().clone();
    let transport = args.tls.transport(Identity::Simulation)?;
    let period = Duration::from_secs(args.seconds);
    ClockClient::new(caller(&transport, &urls.court_registry)?)
        .advance_to(AdvanceToRequest {
            date: OPENED_ON.to_owned(),
        })
        .await
        .context("the court registry's clock")?;

    println!(
        "{:<16} {:<22} {:>8} {:>8} {:>10} {:>9} {:>9} {:>7}",
        "service", "call", "clients", "calls", "calls/s", "p50 ms", "p99 ms", "errors"
    );
    let court = hold(
        args.clients,
        period,
        &transport,
        &urls.court_registry,
        |channel, client, n| {
            let mut registry = CourtRegistryClient::new(channel);
            async move { registry.open_case(open_case(client, n)).await.map(|_| ()) }
        },
    )
    .await?;
    print_row(
        "court-registry",
        "OpenCase (write)",
        args.clients,
        period,
        court,
    );
    let cms = hold(
        args.clients,
        period,
        &transport,
        &urls.cms,
        |channel, _, _| {
            let mut calculator = CalculationServiceClient::new(channel);
            async move { calculator.calculate(calculation()).await.map(|_| ()) }
        },
    )
    .await?;
    print_row(
        "cms-calculation",
        "Calculate (rules)",
        args.clients,
        period,
        cms,
    );
    let hub = hold(
        args.clients,
        period,
        &transport,
        &urls.referral_hub,
        |channel, _, _| {
            let mut hub = ReferralHubClient::new(channel);
            async move {
                hub.list_referrals(ListReferralsRequest::default())
                    .await
                    .map(|_| ())
            }
        },
    )
    .await?;
    print_row(
        "referral-hub",
        "ListReferrals (read)",
        args.clients,
        period,
        hub,
    );
    stack.stop().await
}

/// A connection to `url` over `transport` calling as the simulation, without the clients' retries.
fn caller(transport: &Transport, url: &str) -> anyhow::Result<Caller> {
    let channel = transport
        .endpoint(url)
        .with_context(|| format!("{url:?} is not a gRPC address"))?
        .connect_lazy();
    Ok(InterceptedService::new(
        channel,
        CallMetadata::new(Identity::Simulation),
    ))
}

/// `clients` clients, each on its own connection to `url`, calling `call(channel, client, n)` one
/// call after another for `period`; what all of them saw.
async fn hold<F, Fut>(
    clients: usize,
    period: Duration,
    transport: &Transport,
    url: &str,
    call: F,
) -> anyhow::Result<Seen>
where
    F: Fn(Caller, usize, u64) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<(), tonic::Status>> + Send + 'static,
{
    let deadline = Instant::now() + period;
    let mut running = JoinSet::new();
    for client in 0..clients {
        let channel = caller(transport, url)?;
        let call = call.clone();
        running.spawn(async move {
            let mut seen = Seen::default();
            let mut n = 0;
            while Instant::now() < deadline {
                let started = Instant::now();
                match call(channel.clone(), client, n).await {
                    Ok(()) => seen.latencies.push(started.elapsed()),
                    Err(_) => seen.errors += 1,
                }
                n += 1;
            }
            seen
        });
    }
    let mut all = Seen::default();
    while let Some(joined) = running.join_next().await {
        let seen = joined.context("a load client panicked")?;
        all.latencies.extend(seen.latencies);
        all.errors += seen.errors;
    }
    Ok(all)
}

/// Prints one service's row.
fn print_row(service: &str, call: &str, clients: usize, period: Duration, mut seen: Seen) {
    seen.latencies.sort_unstable();
    let calls = seen.latencies.len();
    // Timings, not money: floating point is what they are measured in.
    let rate = calls as f64 / period.as_secs_f64();
    let percentile = |share: f64| -> String {
        if calls == 0 {
            return "-".to_owned();
        }
        let index = ((calls as f64 * share).ceil() as usize).clamp(1, calls) - 1;
        format!("{:.2}", seen.latencies[index].as_secs_f64() * 1000.0)
    };
    println!(
        "{service:<16} {call:<22} {clients:>8} {calls:>8} {rate:>10.0} {:>9} {:>9} {:>7}",
        percentile(0.50),
        percentile(0.99),
        seen.errors
    );
}

/// The `n`th case client `client` opens: its own reference and request id.
fn open_case(client: usize, n: u64) -> OpenCaseRequest {
    OpenCaseRequest {
        client_request_id: format!("load-{client}-{n}"),
        case_reference: format!("LOAD-{client}-{n}"),
        effective_date: OPENED_ON.to_owned(),
        applicant: Some(Party {
            person_ref: format!("load-applicant-{client}-{n}"),
        }),
        respondent: Some(Party {
            person_ref: format!("load-respondent-{client}-{n}"),
        }),
        child_refs: vec![format!("load-child-{client}-{n}")],
        welfare_flags: Some(WelfareFlags::default()),
        safeguarding_narrative: String::new(),
    }
}

/// A calculation with shared care and two receiving parents.
fn calculation() -> CalculateRequest {
    CalculateRequest {
        gross_weekly_income: "517.81".to_owned(),
        relevant_other_children: 1,
        receiving_parents: vec![
            ReceivingParent {
                child_nights: vec![52, 104],
            },
            ReceivingParent {
                child_nights: vec![0],
            },
        ],
        as_of: "2025-04-07".to_owned(),
        ..CalculateRequest::default()
    }
}
