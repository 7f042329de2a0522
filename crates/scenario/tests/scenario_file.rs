//! The scenario file: a good file parses into the public types, each kind of bad input is refused
//! naming the field at fault, and every shipped file in `scenarios/` parses.

mod common;

use std::fs;
use std::path::Path;

use chrono::NaiveDate;
use common::{SMALL, small, small_with};
use familybridge_casework::{
    ActsOn, CaseSettings, CourtOrderRoute, FeeModel, NightsWithoutEvidence,
};
use familybridge_referral::HubSettings;
use familybridge_scenario::{Scenario, ScenarioError};
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
    // An arm that sets nothing has today's rules, as the shipped settings files spell them.
    let base = &s.arms[0];
    assert_eq!(base.cms, CaseSettings::default());
    assert_eq!(base.hub, HubSettings::default());
    assert_eq!(base.cms.acts_on, ActsOn::Application);
    assert_eq!(base.cms.court_orders, CourtOrderRoute::Manual);
    assert_eq!(
        base.cms.nights_without_evidence,
        NightsWithoutEvidence::Assume52
    );
    assert_eq!(base.cms.fee_model, FeeModel::Current);
    assert_eq!(base.hub.pauses.weeks, 8);
    let reform = &s.arms[1];
    assert_eq!(reform.cms.acts_on, ActsOn::FinalOrderBackdatedToApplication);
    assert_eq!(reform.cms.court_orders, CourtOrderRoute::Automatic);
    assert!(reform.hub.screening.enabled && reform.hub.pauses.enabled);
    // The hub is told the CMS's route.
    assert_eq!(reform.hub.court_orders, CourtOrderRoute::Automatic);
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
fn an_unknown_lever_value_names_the_lever_and_the_words_it_takes() {
    let message = refused(
        "acts_on = \"final-order-backdated-to-application\"",
        "acts_on = \"final\"",
    );
    assert!(message.contains("acts_on"), "{message}");
    assert!(
        message.contains("final-order-backdated-to-effective-date"),
        "{message}"
    );
    let message = refused("court_orders = \"automatic\"", "court_orders = \"fax\"");
    assert!(
        message.contains("court_orders") && message.contains("fax"),
        "{message}"
    );
}

#[test]
fn a_lever_is_spelled_the_same_in_a_scenario_and_the_settings_files() {
    // The words a scenario's [arm.cms] takes are exactly those case-settings.toml takes: both
    // are the CMS's own settings type.
    for words in [
        "application",
        "final-order",
        "final-order-backdated-to-effective-date",
        "final-order-backdated-to-application",
    ] {
        let s = small_with(
            "acts_on = \"final-order-backdated-to-application\"",
            &format!("acts_on = \"{words}\""),
        )
        .expect("the word is a lever value");
        let settings: CaseSettings =
            toml::from_str(&format!("acts_on = \"{words}\"")).expect("and a settings value");
        assert_eq!(s.arms[1].cms.acts_on, settings.acts_on);
    }
    let s = small_with(
        "court_orders = \"automatic\"",
        "court_orders = \"automatic\"\nnights_without_evidence = \"equal-care\"\nfee_model = \"fees-2027\"",
    )
    .expect("the CMS's levers");
    assert_eq!(
        s.arms[1].cms.nights_without_evidence,
        NightsWithoutEvidence::EqualCare
    );
    assert_eq!(s.arms[1].cms.fee_model, FeeModel::Fees2027);
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
            "screening.enabled = true\n",
            "screening.enabled = false\n",
            "arms[1].hub.pauses.enabled",
        ),
        (
            "court_orders = \"automatic\"",
            "court_orders = \"automatic\"\n[arm.cms.enforcement]\nliability_order_application_after = 0",
            "arms[1].cms.enforcement",
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
            "collect_and_pay_pays_in_full_share = 0.8\ncollect_and_pay_pays_partly_share = 0.3",
            "population.collect_and_pay_pays_partly_share",
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
        "pauses.enabled = true",
        "pauses.enabled = true\njoint_review.enabled = true",
    );
    assert!(message.contains("joint_review"), "{message}");
    let message = refused(
        "court_orders = \"automatic\"",
        "court_orders = \"automatic\"\ndistress_screening = true",
    );
    assert!(message.contains("distress_screening"), "{message}");
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
