//! Properties of the scenario parser over damaged input: a shipped scenario with any one line
//! dropped or altered, or arbitrary text, is either a scenario or an error that names where it is
//! wrong — never a panic.

use familybridge_scenario::scenario::{Scenario, ScenarioError};
use proptest::prelude::*;

const SHIPPED: &str = include_str!("../../../scenarios/delayed-involvement.toml");

/// Checks that `text` parses, or fails with a message that says where.
fn judged(text: &str) -> Result<(), TestCaseError> {
    match Scenario::from_toml_str(text) {
        Ok(_) => Ok(()),
        Err(ScenarioError::Toml { message }) => {
            prop_assert!(!message.is_empty());
            Ok(())
        }
        Err(ScenarioError::Invalid { field, reason }) => {
            prop_assert!(
                !field.is_empty() && !reason.is_empty(),
                "{field:?}: {reason:?}"
            );
            Ok(())
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn a_scenario_with_a_line_dropped_is_judged(line in 0_usize..200) {
        let lines: Vec<&str> = SHIPPED.lines().collect();
        let dropped = line % lines.len();
        let text: Vec<&str> = lines
            .iter()
            .enumerate()
            .filter(|(index, _)| *index != dropped)
            .map(|(_, line)| *line)
            .collect();
        judged(&text.join("\n"))?;
    }

    #[test]
    fn a_scenario_with_a_value_replaced_is_judged(
        line in 0_usize..200,
        value in prop_oneof![
            Just("-1".to_owned()),
            Just("1e309".to_owned()),
            Just("\"\"".to_owned()),
            Just("99999999999999999999".to_owned()),
            Just("\"2025-02-30\"".to_owned()),
            Just("[]".to_owned()),
            "\\PC{0,20}",
        ],
    ) {
        let lines: Vec<&str> = SHIPPED.lines().collect();
        let altered = line % lines.len();
        let text: Vec<String> = lines
            .iter()
            .enumerate()
            .map(|(index, line)| match (index == altered, line.split_once('=')) {
                (true, Some((key, _))) => format!("{key}= {value}"),
                _ => (*line).to_owned(),
            })
            .collect();
        judged(&text.join("\n"))?;
    }

    #[test]
    fn arbitrary_text_is_judged(text in "\\PC{0,200}") {
        judged(&text)?;
    }
}
