//! Helpers shared by the scenario crate's tests: a small scenario and hand-built records.

#![allow(dead_code)]

use familybridge_scenario::Scenario;

/// A small valid scenario with two arms.
pub const SMALL: &str = r#"
[scenario]
title = "Small"
question = "Does it work?"
base_arm = "baseline"

[run]
seed = 42
families = 50
replications = 3
start = "2025-04-06"
months = 12

[population]
collect_and_pay_share = 0.45

[[arm]]
name = "baseline"
description = "Today"

[[arm]]
name = "reform"
description = "A reform"
[arm.cms]
acts_on = "final-order-backdated-to-application"
court_orders = "automatic"
[arm.hub]
screening.enabled = true
pauses.enabled = true
"#;

/// The small scenario, parsed.
pub fn small() -> Scenario {
    Scenario::from_toml_str(SMALL).expect("the small scenario is valid")
}

/// The small scenario with one text replaced, parsed or refused.
pub fn small_with(from: &str, to: &str) -> Result<Scenario, familybridge_scenario::ScenarioError> {
    assert!(SMALL.contains(from), "{from:?} is in the small scenario");
    Scenario::from_toml_str(&SMALL.replacen(from, to, 1))
}
