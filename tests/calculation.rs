//! The statutory calculation as users reach it: every figure of the shared calculation notes'
//! worked table, through gRPC (a real CMS server on port 0) and through `familybridge calc`, and
//! bad requests refused with INVALID_ARGUMENT naming the field.

use familybridge_runtime::Identity;
use familybridge_testing::channel_as;
use std::io::Write;
use std::process::{Command, Stdio};

use cms_calculation::{Config, serve};
use familybridge_proto::cms::v1::calculation_service_client::CalculationServiceClient;
use familybridge_proto::cms::v1::{CalculateRequest, CalculateResponse};
use familybridge_proto::json;
use familybridge_testing::{TestDatabase, TestServer};
use tonic::Code;

/// One worked figure: a request in proto3 JSON and what the statute gives.
struct Worked {
    case: &'static str,
    request: &'static str,
    rate: &'static str,
    total: &'static str,
    receiving_parents: &'static [&'static str],
    fees: Option<(&'static str, &'static str)>,
}

/// The worked table of `shared/domain/cms-2012-calculation.md` §9 and §4.
const WORKED: &[Worked] = &[
    Worked {
        case: "1 QC, £450, no ROC, no shared care",
        request: r#"{"grossWeeklyIncome": "450", "receivingParents": [{"childNights": [0]}], "asOf": "2025-06-01"}"#,
        rate: "RATE_BASIC",
        total: "54.00",
        receiving_parents: &["54.00"],
        fees: None,
    },
    Worked {
        case: "1 QC, £450, 1 ROC: 450 × 0.89 × 12%",
        request: r#"{"grossWeeklyIncome": "450.00", "relevantOtherChildren": 1, "receivingParents": [{"childNights": [0]}], "asOf": "2025-06-01"}"#,
        rate: "RATE_BASIC",
        total: "48.06",
        receiving_parents: &["48.06"],
        fees: None,
    },
    Worked {
        case: "2 QC, £850, 1 ROC: 756.50 × 16%",
        request: r#"{"grossWeeklyIncome": "850.00", "relevantOtherChildren": 1, "receivingParents": [{"childNights": [0, 0]}], "asOf": "2025-06-01"}"#,
        rate: "RATE_BASIC",
        total: "121.04",
        receiving_parents: &["121.04"],
        fees: None,
    },
    Worked {
        case: "1 QC, £3,500: capped at 3,000, 96 + 2,200 × 9%",
        request: r#"{"grossWeeklyIncome": "3500.00", "receivingParents": [{"childNights": [0]}], "asOf": "2025-06-01"}"#,
        rate: "RATE_BASIC_PLUS",
        total: "294.00",
        receiving_parents: &["294.00"],
        fees: None,
    },
    Worked {
        case: "2 QC, £600, child A 52–103 nights, child B 175+: 48 × 6/7 + (24 − 7)",
        request: r#"{"grossWeeklyIncome": "600.00", "receivingParents": [{"childNights": [80, 180]}], "asOf": "2025-06-01"}"#,
        rate: "RATE_BASIC",
        total: "58.14",
        receiving_parents: &["58.14"],
        fees: None,
    },
    Worked {
        case: "1 QC, exactly £100: flat",
        request: r#"{"grossWeeklyIncome": "100.00", "receivingParents": [{"childNights": [0]}], "asOf": "2025-06-01"}"#,
        rate: "RATE_FLAT",
        total: "7.00",
        receiving_parents: &["7.00"],
        fees: None,
    },
    Worked {
        case: "1 QC, exactly £200: basic",
        request: r#"{"grossWeeklyIncome": "200.00", "receivingParents": [{"childNights": [0]}], "asOf": "2025-06-01"}"#,
        rate: "RATE_BASIC",
        total: "24.00",
        receiving_parents: &["24.00"],
        fees: None,
    },
    Worked {
        case: "Collect and Pay on £57 (1 QC, £475): the paying parent pays 68.40, the receiving parent gets 54.72",
        request: r#"{"grossWeeklyIncome": "475.00", "receivingParents": [{"childNights": [0]}], "asOf": "2025-06-01", "collectAndPay": true}"#,
        rate: "RATE_BASIC",
        total: "57.00",
        receiving_parents: &["57.00"],
        fees: Some(("11.40", "2.28")),
    },
    Worked {
        case: "flat rate by benefit over two households, A with a child at 52+ nights: A nil, B 7 ÷ 3",
        request: r#"{"flatRateBenefit": true, "receivingParents": [{"childNights": [60, 0]}, {"childNights": [0]}], "asOf": "2025-06-01"}"#,
        rate: "RATE_FLAT",
        total: "2.33",
        receiving_parents: &["0.00", "2.33"],
        fees: None,
    },
];

fn check(worked: &Worked, response: &CalculateResponse, via: &str) {
    let case = worked.case;
    assert_eq!(response.rate().as_str_name(), worked.rate, "{via}: {case}");
    assert_eq!(response.weekly_amount, worked.total, "{via}: {case}");
    let shares: Vec<&str> = response
        .receiving_parents
        .iter()
        .map(|parent| parent.weekly_amount.as_str())
        .collect();
    assert_eq!(shares, worked.receiving_parents, "{via}: {case}");
    let fees = (
        response.paying_parent_fee.as_str(),
        response.receiving_parent_fee.as_str(),
    );
    assert_eq!(fees, worked.fees.unwrap_or(("", "")), "{via}: {case}");
    assert!(!response.explanation.is_empty(), "{via}: {case}");
    for step in &response.explanation {
        assert!(
            !step.rule.is_empty() && !step.text.is_empty() && !step.legal_source.is_empty(),
            "{via}: {case}: every step names its rule and source: {step:?}"
        );
    }
}

async fn start_cms(database: &TestDatabase) -> TestServer {
    let config = Config::with_defaults(database.url().clone(), "http://127.0.0.1:1".to_owned())
        .expect("default configuration");
    TestServer::start(|listener, shutdown| serve(config, listener, shutdown)).await
}

#[tokio::test]
async fn the_worked_table_reproduces_through_grpc() {
    let database = TestDatabase::sqlite();
    let server = start_cms(&database).await;
    let mut client = CalculationServiceClient::new(channel_as(server.url(), Identity::Simulation));
    for worked in WORKED {
        let request: CalculateRequest = json::from_json(worked.request).expect(worked.case);
        let response = client
            .calculate(request)
            .await
            .expect(worked.case)
            .into_inner();
        check(worked, &response, "gRPC");
    }
    server.stop().await;
}

#[test]
fn the_worked_table_reproduces_through_the_cli() {
    for worked in WORKED {
        let mut child = Command::new(env!("CARGO_BIN_EXE_familybridge"))
            .args(["calc", "--request", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run familybridge calc");
        child
            .stdin
            .take()
            .expect("piped stdin")
            .write_all(worked.request.as_bytes())
            .expect("write the request");
        let output = child
            .wait_with_output()
            .expect("familybridge calc finishes");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{}: {stderr}", worked.case);
        let stdout = String::from_utf8(output.stdout).expect("UTF-8");
        let response: CalculateResponse = json::from_json(&stdout).expect(worked.case);
        check(worked, &response, "CLI");
    }
}

#[test]
fn the_form_for_people_prints_the_amount_and_names_each_rule() {
    let output = Command::new(env!("CARGO_BIN_EXE_familybridge"))
        .args([
            "calc",
            "--income",
            "450",
            "--nights",
            "60,0",
            "--other-children",
            "1",
        ])
        .args(["--as-of", "2025-06-01"])
        .output()
        .expect("run familybridge calc");
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).expect("UTF-8");
    // 450 less 11% is 400.50; 16% is 64.08, £32.04 a child; the child at 60 nights loses 1/7.
    assert!(stdout.starts_with("£59.50 a week: basic rate"), "{stdout}");
    for rule in [
        "[relevant_other_children_reduction]",
        "[basic_rate]",
        "[per_child_share]",
        "[shared_care_decrease]",
        "[rounding]",
    ] {
        assert!(stdout.contains(rule), "{rule} missing from:\n{stdout}");
    }
}

/// Requests that must be refused, and the field each refusal must name.
const REFUSED: &[(&str, &str)] = &[
    (
        r#"{"grossWeeklyIncome": "abc", "receivingParents": [{"childNights": [0]}]}"#,
        "gross_weekly_income",
    ),
    (
        r#"{"grossWeeklyIncome": "-5.00", "receivingParents": [{"childNights": [0]}]}"#,
        "gross_weekly_income",
    ),
    (
        r#"{"grossWeeklyIncome": "12.345", "receivingParents": [{"childNights": [0]}]}"#,
        "gross_weekly_income",
    ),
    (
        r#"{"receivingParents": [{"childNights": [0]}]}"#,
        "gross_weekly_income",
    ),
    (r#"{"grossWeeklyIncome": "450.00"}"#, "receiving_parents"),
    (
        r#"{"grossWeeklyIncome": "450.00", "receivingParents": [{"childNights": []}]}"#,
        "receiving_parents[0]",
    ),
    (
        r#"{"grossWeeklyIncome": "450.00", "receivingParents": [{"childNights": [0]}, {"childNights": [10, 366]}]}"#,
        "receiving_parents[1].child_nights[1]",
    ),
    (
        r#"{"grossWeeklyIncome": "450.00", "receivingParents": [{"childNights": [0]}], "asOf": "2025-02-30"}"#,
        "as_of",
    ),
    (
        r#"{"grossWeeklyIncome": "450.00", "receivingParents": [{"childNights": [0]}], "asOf": "2001-01-01"}"#,
        "as_of",
    ),
    (
        r#"{"grossWeeklyIncome": "450.00", "receivingParents": [{"childNights": [0]}], "proposal": "no-such-plan"}"#,
        "proposal",
    ),
];

#[tokio::test]
async fn bad_requests_are_invalid_arguments_naming_the_field() {
    let database = TestDatabase::sqlite();
    let server = start_cms(&database).await;
    let mut client = CalculationServiceClient::new(channel_as(server.url(), Identity::Simulation));
    for (request, field) in REFUSED {
        let request: CalculateRequest = json::from_json(request).expect(request);
        let status = client
            .calculate(request.clone())
            .await
            .expect_err(&format!("{request:?} is refused"));
        assert_eq!(
            status.code(),
            Code::InvalidArgument,
            "{request:?}: {status:?}"
        );
        assert!(
            status.message().starts_with(&format!("{field}:"))
                || status.message().starts_with(&format!("{field}.")),
            "{field} should be named first: {:?}",
            status.message()
        );
    }
    server.stop().await;
}

#[test]
fn the_cli_refuses_bad_input_with_the_field_and_a_failing_exit() {
    let output = Command::new(env!("CARGO_BIN_EXE_familybridge"))
        .args(["calc", "--income", "450", "--nights", "0,400"])
        .output()
        .expect("run familybridge calc");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("receiving_parents[0].child_nights[1]"),
        "{stderr}"
    );
}
