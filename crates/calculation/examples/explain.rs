//! Prints the explanation of a few calculations: `cargo run -p familybridge-calculation --example explain`.

use familybridge_calculation::{CalculationRequest, ParameterBook, RawCalculationRequest};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cases = [
        (
            "2 QC, £600, 60 and 175 nights",
            Some("600.00"),
            0,
            false,
            vec![vec![60, 175]],
            "2025-01-01",
            false,
        ),
        (
            "3 QC over two households, £850, 1 ROC, C&P",
            Some("850.00"),
            1,
            false,
            vec![vec![0, 0], vec![200]],
            "2025-01-01",
            true,
        ),
        (
            "benefit, para 8",
            None,
            0,
            true,
            vec![vec![0, 52], vec![0]],
            "2025-01-01",
            false,
        ),
        (
            "floor, three households",
            Some("200.00"),
            0,
            false,
            vec![vec![175], vec![175], vec![175]],
            "2025-01-01",
            false,
        ),
        (
            "capped, basic plus, fees-2027 Direct Pay",
            Some("3500.00"),
            2,
            false,
            vec![vec![0]],
            "2027-06-01",
            false,
        ),
    ];
    let book = ParameterBook::statutory().with_proposal("fees-2027")?;
    for (name, income, roc, benefit, rps, as_of, collect) in cases {
        let request = CalculationRequest::from_raw(&RawCalculationRequest {
            gross_weekly_income: income,
            relevant_other_children: roc,
            flat_rate_benefit: benefit,
            nil_rate_category: None,
            receiving_parents: rps,
            as_of,
            collect_and_pay: collect,
        })?;
        let calculation = book.calculate(&request)?;
        println!(
            "== {name}: {} rate, £{} a week",
            calculation.rate, calculation.weekly_amount
        );
        for step in &calculation.explanation {
            println!(
                "  [{}] {step}\n      ({})",
                step.rule(),
                step.legal_source()
            );
        }
    }
    Ok(())
}
