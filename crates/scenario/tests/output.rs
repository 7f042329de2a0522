//! Outputs: the files are byte-identical when written twice, hold the documented columns, and the
//! HTML report opens in a real browser with its charts and tables and no console errors.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use common::small;
use familybridge_scenario::{
    FamilyRecord, Metric, ReplicationAccumulator, ReplicationResult, Summary, SystemRecord, family,
    summarise, terminal_table, write_outputs,
};
use rust_decimal::Decimal;

/// A small synthetic run: every metric varies with the arm and replication.
fn run() -> (Summary, Vec<ReplicationResult>) {
    let s = small();
    let mut results = Vec::new();
    for (a, arm) in s.arms.iter().enumerate() {
        for r in 1..=s.run.replications {
            let mut acc = ReplicationAccumulator::new(&s, &arm.name, r).expect("valid");
            for i in 0..5 {
                acc.add_family(&family(&s, r, i), &FamilyRecord::default());
            }
            let mut result = acc.finish(SystemRecord {
                disclosures: 3 + u64::from(r),
            });
            for (k, metric) in Metric::ALL.iter().enumerate() {
                let value =
                    Decimal::from((k as u32 + 1) * 10 + r * 3 + a as u32 * 7) / Decimal::from(4);
                result.metrics.insert(*metric, value);
            }
            let mut monthly = BTreeMap::new();
            for month in 0..s.run.months {
                for metric in Metric::MONTHLY {
                    monthly.insert(
                        (month, *metric),
                        Decimal::from(month * 10 + r + a as u32 * 5),
                    );
                }
            }
            result.monthly = monthly;
            results.push(result);
        }
    }
    let summary = summarise(&s, &results, "familybridge-scenario test").expect("complete");
    (summary, results)
}

fn read_all(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fs::read_dir(dir)
        .expect("the output directory")
        .map(|e| {
            let path = e.expect("an entry").path();
            let name = path
                .file_name()
                .expect("a name")
                .to_string_lossy()
                .into_owned();
            (name, fs::read(&path).expect("readable"))
        })
        .collect()
}

#[test]
fn writing_twice_gives_identical_bytes() {
    let (summary, results) = run();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let first = dir.path().join("first");
    let second = dir.path().join("second");
    write_outputs(&first, &summary, &results).expect("written");
    // A second run of the same computation, written elsewhere.
    let (summary_again, mut results_again) = run();
    results_again.reverse();
    write_outputs(&second, &summary_again, &results_again).expect("written");
    let a = read_all(&first);
    assert_eq!(
        a.keys().cloned().collect::<Vec<_>>(),
        [
            "metrics.csv",
            "report.html",
            "summary.json",
            "timeseries.csv"
        ]
    );
    assert_eq!(a, read_all(&second));
    assert_eq!(terminal_table(&summary), terminal_table(&summary_again));
}

#[test]
fn the_files_have_the_documented_shape() {
    let (summary, results) = run();
    let dir = tempfile::tempdir().expect("a temporary directory");
    write_outputs(dir.path(), &summary, &results).expect("written");
    let metrics = fs::read_to_string(dir.path().join("metrics.csv")).expect("metrics.csv");
    let mut lines = metrics.lines();
    assert_eq!(lines.next(), Some("arm,replication,metric,value"));
    assert_eq!(
        lines.next(),
        Some("baseline,1,days_to_first_payment,3.2500")
    );
    assert_eq!(metrics.lines().count(), 1 + 2 * 3 * Metric::ALL.len());
    let series = fs::read_to_string(dir.path().join("timeseries.csv")).expect("timeseries.csv");
    assert_eq!(
        series.lines().next(),
        Some("arm,replication,month,metric,value")
    );
    assert!(
        series.contains("\nreform,3,12,maintenance_received,118.0000\n"),
        "{series}"
    );

    let json: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(dir.path().join("summary.json")).expect("summary.json"),
    )
    .expect("valid JSON");
    assert_eq!(json["run"]["seed"], "42");
    assert_eq!(json["run"]["source_hash"], summary.run.source_hash.as_str());
    assert_eq!(json["run"]["code_version"], "familybridge-scenario test");
    let reform = &json["arms"][1]["metrics"]["maintenance_received"];
    // Reform − baseline is 7/4 in every replication.
    assert_eq!(reform["difference"]["mean"], "1.75");
    assert_eq!(reform["difference"]["ci_low"], "1.75");
    assert!(json["arms"][0]["metrics"]["maintenance_received"]["difference"].is_null());

    let table = terminal_table(&summary);
    assert!(table.contains("Receiving parents and children\n"));
    assert!(table.contains("Paying parents\n"));
    assert!(table.contains("reform - baseline [95% CI]"));
    assert!(table.lines().any(|l| l.starts_with("maintenance_received")));
    // It fits a terminal: no line is wider than 100 characters.
    let widest = table.lines().map(|l| l.chars().count()).max().unwrap_or(0);
    assert!(widest <= 100, "a line of {widest} characters:\n{table}");
}

#[test]
fn the_report_opens_in_a_browser_with_charts_and_tables() {
    let (mut summary, results) = run();
    // Text from the file must be escaped, not interpreted.
    summary.arms[1].description = "<script>console.error('injected')</script> & more".to_owned();
    let dir = tempfile::tempdir().expect("a temporary directory");
    write_outputs(dir.path(), &summary, &results).expect("written");
    let html = fs::read_to_string(dir.path().join("report.html")).expect("report.html");
    // The only address is the SVG namespace, which is a name, never fetched.
    assert_eq!(
        html.matches("http").count(),
        html.matches("xmlns=\"http://www.w3.org/2000/svg\"").count()
    );
    assert!(!html.contains("<script"), "no scripts in the report");
    assert!(!html.contains("src=\"http"), "no external resources");

    let artifacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/artifacts");
    let check = familybridge_testing::check_page(
        &dir.path().join("report.html"),
        &artifacts.join("report.png"),
    )
    .expect("chromium opens the report");
    assert_eq!(check.console_errors, Vec::<String>::new());
    assert!(
        check.dom.matches("<svg").count() >= 12,
        "bar and line charts"
    );
    assert!(check.dom.contains("id=\"comparison-table\""));
    assert!(check.dom.contains("id=\"assumptions-table\""));
    assert!(check.dom.contains("id=\"definitions-table\""));
    assert!(check.dom.contains("collect_and_pay_share"));
    assert!(check.dom.contains("PQ 23596"));
    assert!(check.dom.contains(&summary.run.source_hash));
    assert!(check.dom.contains("&lt;script&gt;"));
    assert!(check.dom.contains("The answer in brief"));
    assert!(artifacts.join("report.png").is_file());
}
