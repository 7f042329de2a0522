//! Runs the calculation test cases in `tests/cases.toml` through the same path a transport uses:
//! raw strings and numbers → `CalculationRequest::from_raw` → the parameter book (with any proposal
//! and overrides) → `ParameterBook::calculate`.

use chrono::NaiveDate;
use familybridge_calculation::{CalculationRequest, ParameterBook, RawCalculationRequest};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    case: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    as_of: String,
    income: Option<String>,
    #[serde(default)]
    other_children: u32,
    #[serde(default)]
    flat_rate_benefit: bool,
    nil_rate_category: Option<String>,
    receiving_parents: Vec<Vec<u32>>,
    #[serde(default)]
    collect_and_pay: bool,
    proposal: Option<String>,
    #[serde(default)]
    overrides: Vec<Override>,
    expected: Expected,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Override {
    parameter: String,
    from: String,
    value: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Expected {
    rate: Option<String>,
    weekly: Option<String>,
    receiving_parents: Option<Vec<String>>,
    fees: Option<Fees>,
    #[serde(default)]
    rules: Vec<String>,
    #[serde(default)]
    absent_rules: Vec<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Fees {
    paying: String,
    receiving: String,
}

/// Runs one case; returns a description of every mismatch.
fn run(case: &Case) -> Result<(), String> {
    let mut book = ParameterBook::statutory().clone();
    if let Some(proposal) = &case.proposal {
        book = book.with_proposal(proposal).map_err(|e| e.to_string())?;
    }
    for o in &case.overrides {
        let from: NaiveDate = o
            .from
            .parse()
            .map_err(|e| format!("override date {:?}: {e}", o.from))?;
        book = book
            .with_override_str(&o.parameter, from, &o.value)
            .map_err(|e| e.to_string())?;
    }
    let raw = RawCalculationRequest {
        gross_weekly_income: case.income.as_deref(),
        relevant_other_children: case.other_children,
        flat_rate_benefit: case.flat_rate_benefit,
        nil_rate_category: case.nil_rate_category.as_deref(),
        receiving_parents: case.receiving_parents.clone(),
        as_of: &case.as_of,
        collect_and_pay: case.collect_and_pay,
    };
    let result = CalculationRequest::from_raw(&raw)
        .map_err(familybridge_calculation::RequestError::from)
        .and_then(|request| book.calculate(&request));
    let expected = &case.expected;
    let calculation = match (result, &expected.error) {
        (Err(e), Some(message)) if e.to_string() == *message => return Ok(()),
        (Err(e), Some(message)) => {
            return Err(format!(
                "expected error {message:?}, got {:?}",
                e.to_string()
            ));
        }
        (Err(e), None) => return Err(format!("unexpected error: {e}")),
        (Ok(c), Some(message)) => return Err(format!("expected error {message:?}, got {c:?}")),
        (Ok(c), None) => c,
    };
    let mut problems = Vec::new();
    if let Some(rate) = &expected.rate
        && calculation.rate.as_str() != rate
    {
        problems.push(format!("rate: expected {rate}, got {}", calculation.rate));
    }
    if let Some(weekly) = &expected.weekly
        && calculation.weekly_amount.to_string() != *weekly
    {
        problems.push(format!(
            "weekly: expected {weekly}, got {}",
            calculation.weekly_amount
        ));
    }
    if let Some(rps) = &expected.receiving_parents {
        let got: Vec<String> = calculation
            .receiving_parents
            .iter()
            .map(|rp| rp.weekly_amount.to_string())
            .collect();
        if got != *rps {
            problems.push(format!("receiving parents: expected {rps:?}, got {got:?}"));
        }
    }
    let got_fees = calculation.collection_fees.map(|f| {
        (
            f.paying_parent_fee.to_string(),
            f.receiving_parent_fee.to_string(),
        )
    });
    let want_fees = expected
        .fees
        .as_ref()
        .map(|f| (f.paying.clone(), f.receiving.clone()));
    if got_fees != want_fees {
        problems.push(format!("fees: expected {want_fees:?}, got {got_fees:?}"));
    }
    for rule in &expected.rules {
        if !calculation.applied(rule) {
            problems.push(format!("rule {rule} missing from the explanation"));
        }
    }
    for rule in &expected.absent_rules {
        if calculation.applied(rule) {
            problems.push(format!("rule {rule} should not be in the explanation"));
        }
    }
    // Invariants every case must keep.
    let sum = calculation
        .receiving_parents
        .iter()
        .fold(rust_decimal::Decimal::ZERO, |s, rp| {
            s + rp.weekly_amount.as_decimal()
        });
    if sum != calculation.weekly_amount.as_decimal() {
        problems.push(format!(
            "shares add up to {sum}, total is {}",
            calculation.weekly_amount
        ));
    }
    if calculation.receiving_parents.len() != case.receiving_parents.len() {
        problems.push("one amount per receiving parent".to_owned());
    }
    for step in &calculation.explanation {
        if step.to_string().is_empty() || step.legal_source().is_empty() {
            problems.push(format!("step {} renders empty", step.rule()));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        let explanation: Vec<String> = calculation
            .explanation
            .iter()
            .map(|s| format!("    {}: {s}", s.rule()))
            .collect();
        Err(format!(
            "{}\n  explanation:\n{}",
            problems.join("\n  "),
            explanation.join("\n")
        ))
    }
}

#[test]
fn calculation_cases() {
    let text = include_str!("cases.toml");
    let file: File = match toml::from_str(text) {
        Ok(file) => file,
        Err(e) => panic!("tests/cases.toml: {e}"),
    };
    assert!(
        file.case.len() >= 90,
        "expected the full case list, found {}",
        file.case.len()
    );
    let mut names = std::collections::HashSet::new();
    let failures: Vec<String> = file
        .case
        .iter()
        .filter_map(|case| {
            assert!(
                names.insert(case.name.clone()),
                "duplicate case name {:?}",
                case.name
            );
            run(case)
                .err()
                .map(|problem| format!("- {}:\n  {problem}", case.name))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        file.case.len(),
        failures.join("\n")
    );
    println!("{} calculation cases passed", file.case.len());
}
