//! The scenario file: a good file parses into the public types, each kind of bad input is refused
//! naming the field at fault, and every shipped file in `scenarios/` parses.

mod common;

use std::fs;
use std::path::Path;

use chrono::NaiveDate;
use common::{SMALL, small, small_with};
use familybridge_scenario::{
    ActsOn, CourtOrderRoute, FeeModel, NightsWithoutEvidence, Scenario, ScenarioError,
};
use rust_decimal_macros::dec;

#[test]
fn a_good_file_parses() {
    let s = small();
    assert_eq!(s.title, "Small");
    assert_eq!(s.base_arm, "baseline");
    assert_eq!(s.run.seed, 42);
    assert_eq!(s.run.families, 50);
    assert_eq!(s.run.replications, 3);
    assert_eq!(
        s.run.start,
        NaiveDate::from_ymd_opt(2025, 4, 6).expect("a date")
    );
    assert_eq!(
        s.run.end(),
        NaiveDate::from_ymd_opt(2026, 4, 6).expect("a date")
    );
    assert_eq!(s.population.collect_and_pay_share, dec!(0.45));
    assert_eq!(s.arms.len(), 2);
    let base = &s.arms[0].levers;
    assert_eq!(base.acts_on, ActsOn::Application);
    assert_eq!(base.court_orders, CourtOrderRoute::Manual);
    assert_eq!(
        base.nights_without_evidence,
        NightsWithoutEvidence::Assume52
    );
    assert_eq!(base.fee_model, FeeModel::Current);
    assert_eq!(base.pause_weeks, 8);
    assert!(!base.joint_reviews && !base.distress_screening && !base.enforcement_pauses);
    let reform = &s.arms[1].levers;
    assert_eq!(reform.acts_on, ActsOn::FinalOrderBackdated);
    assert_eq!(reform.court_orders, CourtOrderRoute::Automatic);
    assert!(reform.distress_screening && reform.enforcement_pauses);
    assert_eq!(
        familybridge_casework::ActsOn::from(reform.acts_on),
        familybridge_casework::ActsOn::FinalOrder { backdate: true }
    );
    // The hash is of the exact text: 64 hex digits, and a one-byte change changes it.
    assert_eq!(s.source_hash.len(), 64);
    let changed = Scenario::from_toml_str(&format!("{SMALL}\n# note")).expect("still valid");
    assert_ne!(changed.source_hash, s.source_hash);
}

#[test]
fn shares_may_be_written_as_strings_or_integers() {
    let s = small_with(
        "collect_and_pay_share = 0.45",
        "collect_and_pay_share = \"0.5\"",
    )
    .expect("a string share");
    assert_eq!(s.population.collect_and_pay_share, dec!(0.5));
    let s = small_with("collect_and_pay_share = 0.45", "collect_and_pay_share = 1")
        .expect("an integer share");
    assert_eq!(s.population.collect_and_pay_share, dec!(1));
}

fn refused(from: &str, to: &str) -> String {
    small_with(from, to)
        .expect_err("the changed scenario is refused")
        .to_string()
}

#[test]
fn an_unknown_lever_value_names_the_arm_and_field() {
    let message = refused("acts_on = \"final-order-backdated\"", "acts_on = \"final\"");
    assert_eq!(
        message,
        "arms[1].levers.acts_on: unknown value \"final\"; expected application, final-order or final-order-backdated"
    );
    assert!(
        refused("court_orders = \"automatic\"", "court_orders = \"fax\"")
            .starts_with("arms[1].levers.court_orders: unknown value \"fax\"")
    );
}

#[test]
fn each_bad_input_names_its_field() {
    let cases = [
        ("families = 50", "families = 0", "run.families"),
        ("replications = 3", "replications = 1", "run.replications"),
        ("months = 12", "months = 61", "run.months"),
        ("months = 12", "months = 0", "run.months"),
        (
            "base_arm = \"baseline\"",
            "base_arm = \"nope\"",
            "scenario.base_arm",
        ),
        ("name = \"reform\"", "name = \"baseline\"", "arms[1].name"),
        ("name = \"reform\"", "name = \" \"", "arms[1].name"),
        (
            "distress_screening = true\n",
            "distress_screening = false\n",
            "arms[1].levers.enforcement_pauses",
        ),
        (
            "collect_and_pay_share = 0.45",
            "collect_and_pay_share = 1.2",
            "population.collect_and_pay_share",
        ),
        (
            "collect_and_pay_share = 0.45",
            "collect_and_pay_share = \"lots\"",
            "population.collect_and_pay_share",
        ),
        (
            "collect_and_pay_share = 0.45",
            "pays_in_full_share = 0.8\npays_partly_share = 0.3",
            "population.pays_partly_share",
        ),
        ("title = \"Small\"", "title = \"\"", "scenario.title"),
    ];
    for (from, to, field) in cases {
        let message = refused(from, to);
        assert!(
            message.starts_with(&format!("{field}: ")),
            "{from:?} → {to:?}: {message}"
        );
    }
}

#[test]
fn unknown_and_missing_keys_are_named() {
    let message = refused(
        "collect_and_pay_share = 0.45",
        "collect_and_pay_shar = 0.45",
    );
    assert!(message.contains("collect_and_pay_shar"), "{message}");
    let message = refused(
        "enforcement_pauses = true",
        "enforcement_pauses = true\njoint_review = true",
    );
    assert!(message.contains("joint_review"), "{message}");
    let message = refused("seed = 42\n", "");
    assert!(message.contains("seed"), "{message}");
    let message = refused("[[arm]]\nname = \"reform\"", "[[arm]]\nnom = \"reform\"");
    assert!(message.contains("nom"), "{message}");
}

#[test]
fn a_scenario_needs_an_arm() {
    let text = SMALL.split("[[arm]]").next().expect("the header");
    let message = Scenario::from_toml_str(text)
        .expect_err("no arms")
        .to_string();
    assert!(message.starts_with("arm: "), "{message}");
}

#[test]
fn overrides_replace_the_run_settings_and_are_validated() {
    let s = small()
        .with_overrides(Some(7), Some(10), Some(1000))
        .expect("valid overrides");
    assert_eq!(
        (s.run.seed, s.run.replications, s.run.families),
        (7, 10, 1000)
    );
    assert!(s.run.replications_reason.contains("10 replications"));
    let kept = small()
        .with_overrides(None, None, None)
        .expect("no overrides");
    assert_eq!(kept, small());
    assert!(matches!(
        small().with_overrides(None, Some(1), None),
        Err(ScenarioError::Invalid { field, .. }) if field == "run.replications"
    ));
}

#[test]
fn every_shipped_scenario_parses() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
    let mut names: Vec<_> = fs::read_dir(&dir)
        .expect("the scenarios directory")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    names.sort();
    assert!(names.len() >= 7, "{names:?}");
    for path in names {
        let text = fs::read_to_string(&path).expect("readable");
        let scenario =
            Scenario::from_toml_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        // A reform scenario compares arms; the calibration scenario runs today's rules alone.
        let calibration = path
            .file_name()
            .is_some_and(|name| name == "calibration.toml");
        assert!(
            scenario.arms.len() >= 2 || (calibration && scenario.arms.len() == 1),
            "{}",
            path.display()
        );
    }
}
