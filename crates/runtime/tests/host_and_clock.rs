//! The shared hosting and Clock service, through a real gRPC server on port 0, on both backends.

use std::sync::{Arc, Mutex};

use chrono::NaiveDate;
use familybridge_proto::simulation::v1::clock_client::ClockClient;
use familybridge_proto::simulation::v1::clock_server::ClockServer;
use familybridge_proto::simulation::v1::{AdvanceToRequest, CurrentDateRequest};
use familybridge_runtime::{ClockService, DueWork, GrpcHost};
use familybridge_storage::SimulatedClock;
use familybridge_testing::{TestDatabase, TestServer, on_both_backends};
use tokio_stream::StreamExt;
use tonic::Code;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// A span of days due work was asked to run: after the first date, up to the second.
type Span = (Option<NaiveDate>, NaiveDate);

/// Remembers every span of days it was asked to run.
#[derive(Clone, Default)]
struct RecordedWork(Arc<Mutex<Vec<Span>>>);

impl DueWork for RecordedWork {
    async fn run_due(&self, from: Option<NaiveDate>, to: NaiveDate) -> Result<(), tonic::Status> {
        self.0.lock().expect("not poisoned").push((from, to));
        Ok(())
    }
}

async fn start(database: &TestDatabase, work: RecordedWork) -> TestServer {
    let connected = database.connect(&[]).await;
    TestServer::start(|listener, shutdown| {
        GrpcHost::new("clock-test")
            .add_service(ClockServer::new(ClockService::new(
                SimulatedClock::new(connected),
                work,
            )))
            .serve(listener, shutdown)
    })
    .await
}

async fn channel(server: &TestServer) -> Channel {
    Channel::from_shared(server.url().to_owned())
        .expect("a valid URL")
        .connect()
        .await
        .expect("connect")
}

fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("a test date")
}

async fn advance(
    client: &mut ClockClient<Channel>,
    to: &str,
) -> Result<(String, String), tonic::Status> {
    let response = client
        .advance_to(AdvanceToRequest {
            date: to.to_owned(),
        })
        .await?
        .into_inner();
    Ok((response.previous_date, response.current_date))
}

async fn the_clock_runs_due_work_once_and_moves_only_forward(database: TestDatabase) {
    let work = RecordedWork::default();
    let server = start(&database, work.clone()).await;
    let mut client = ClockClient::new(channel(&server).await);

    let now = client
        .current_date(CurrentDateRequest {})
        .await
        .expect("read");
    assert_eq!(now.into_inner().current_date, "");
    assert_eq!(
        advance(&mut client, "2025-04-01").await.expect("advance"),
        (String::new(), "2025-04-01".to_owned())
    );
    assert_eq!(
        advance(&mut client, "2025-04-08").await.expect("advance"),
        ("2025-04-01".to_owned(), "2025-04-08".to_owned())
    );
    // A retried call for the date already reached succeeds and runs nothing again.
    assert_eq!(
        advance(&mut client, "2025-04-08").await.expect("retry"),
        ("2025-04-08".to_owned(), "2025-04-08".to_owned())
    );
    assert_eq!(
        *work.0.lock().expect("not poisoned"),
        vec![
            (None, date("2025-04-01")),
            (Some(date("2025-04-01")), date("2025-04-08"))
        ]
    );

    let backwards = advance(&mut client, "2025-04-07")
        .await
        .expect_err("backwards");
    assert_eq!(backwards.code(), Code::FailedPrecondition);
    assert!(backwards.message().contains("2025-04-08"), "{backwards:?}");

    for malformed in ["", "2025-02-30", "01/04/2025", "tomorrow"] {
        let refused = advance(&mut client, malformed).await.expect_err(malformed);
        assert_eq!(refused.code(), Code::InvalidArgument, "{malformed}");
        assert!(refused.message().starts_with("date:"), "{refused:?}");
    }
    server.stop().await;

    // A restarted service carries on from the date it had reached.
    let restarted = start(&database, RecordedWork::default()).await;
    let mut client = ClockClient::new(channel(&restarted).await);
    let now = client
        .current_date(CurrentDateRequest {})
        .await
        .expect("read");
    assert_eq!(now.into_inner().current_date, "2025-04-08");
    restarted.stop().await;
}

on_both_backends!(the_clock_runs_due_work_once_and_moves_only_forward);

#[tokio::test]
async fn health_reports_each_service_serving() {
    let database = TestDatabase::sqlite();
    let server = start(&database, RecordedWork::default()).await;
    let mut health = HealthClient::new(channel(&server).await);
    for service in ["", "familybridge.simulation.v1.Clock"] {
        let status = health
            .check(HealthCheckRequest {
                service: service.to_owned(),
            })
            .await
            .expect("health answers")
            .into_inner()
            .status();
        assert_eq!(status, ServingStatus::Serving, "{service:?}");
    }
    let unknown = health
        .check(HealthCheckRequest {
            service: "no.such.Service".to_owned(),
        })
        .await
        .expect_err("unknown service");
    assert_eq!(unknown.code(), Code::NotFound);
    server.stop().await;
}

#[tokio::test]
async fn reflection_lists_the_services_in_v1_and_v1alpha() {
    use tonic_reflection::pb::{v1, v1alpha};

    let database = TestDatabase::sqlite();
    let server = start(&database, RecordedWork::default()).await;
    let expected = [
        "familybridge.simulation.v1.Clock",
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
    ];

    let mut client =
        v1::server_reflection_client::ServerReflectionClient::new(channel(&server).await);
    let request = v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(v1::server_reflection_request::MessageRequest::ListServices(
            String::new(),
        )),
    };
    let mut answers = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .expect("v1 reflection answers")
        .into_inner();
    let Some(Ok(v1::ServerReflectionResponse {
        message_response:
            Some(v1::server_reflection_response::MessageResponse::ListServicesResponse(list)),
        ..
    })) = answers.next().await
    else {
        panic!("v1 reflection did not list services");
    };
    let mut names: Vec<_> = list
        .service
        .into_iter()
        .map(|service| service.name)
        .collect();
    names.sort();
    assert_eq!(names, expected);

    let mut client =
        v1alpha::server_reflection_client::ServerReflectionClient::new(channel(&server).await);
    let request = v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            v1alpha::server_reflection_request::MessageRequest::ListServices(String::new()),
        ),
    };
    let mut answers = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .expect("v1alpha reflection answers")
        .into_inner();
    let Some(Ok(v1alpha::ServerReflectionResponse {
        message_response:
            Some(v1alpha::server_reflection_response::MessageResponse::ListServicesResponse(list)),
        ..
    })) = answers.next().await
    else {
        panic!("v1alpha reflection did not list services");
    };
    let mut names: Vec<_> = list
        .service
        .into_iter()
        .map(|service| service.name)
        .collect();
    names.sort();
    assert_eq!(names, expected);
    server.stop().await;
}
