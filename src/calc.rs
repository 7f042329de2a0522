//! `familybridge calc`: the statutory calculation from the command line, without a server.
//!
//! Two forms. `--request FILE` (or `-` for standard input) reads the proto3 JSON form of a
//! `familybridge.cms.v1.CalculateRequest` and prints the JSON of the `CalculateResponse`, exactly as
//! the gRPC service would answer. The form for people takes flags and prints the amounts with the
//! explanation a caseworker would give. Both go through the CMS service's own [`Calculator`].

use std::io::Read;
use std::path::PathBuf;

use anyhow::Context;
use cms_calculation::calculation::Calculator;
use familybridge_proto::cms::v1::{
    CalculateRequest, CalculateResponse, NilRateCategory, Rate, ReceivingParent,
};
use familybridge_proto::json;

/// What to calculate.
#[derive(Debug, clap::Args)]
pub struct CalcArgs {
    /// A CalculateRequest in proto3 JSON, from a file or `-` for standard input; prints the
    /// CalculateResponse as JSON.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["income", "income_unknown", "nights"])]
    request: Option<PathBuf>,
    /// The paying parent's gross weekly income in pounds and pence, e.g. 517.81.
    #[arg(long, value_name = "POUNDS")]
    income: Option<String>,
    /// The paying parent's income is not known: the default rate applies.
    #[arg(long)]
    income_unknown: bool,
    /// For one receiving parent, the nights a year each of their children spends with the paying
    /// parent, comma-separated (60,0 is two children). Repeat for each receiving parent. [default:
    /// one receiving parent with one child and no shared care]
    #[arg(long, value_name = "NIGHTS,…")]
    nights: Vec<String>,
    /// Relevant other children: other children the paying parent or their partner gets Child
    /// Benefit for.
    #[arg(long, value_name = "N", default_value_t = 0)]
    other_children: u32,
    /// The paying parent (or partner) gets a benefit that gives the flat rate.
    #[arg(long)]
    benefit: bool,
    /// The paying parent is in a nil-rate category.
    #[arg(long, value_enum, value_name = "CATEGORY")]
    nil_rate: Option<NilRateArg>,
    /// Collect and Pay (with its fees) instead of Direct Pay.
    #[arg(long)]
    collect_and_pay: bool,
    /// The date whose rules apply, YYYY-MM-DD [default: today].
    #[arg(long, value_name = "DATE")]
    as_of: Option<String>,
    /// A named proposal to apply, e.g. fees-2027.
    #[arg(long, value_name = "NAME")]
    proposal: Option<String>,
}

/// The nil-rate categories, as the command line names them.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum NilRateArg {
    /// Under 16.
    Under16,
    /// 16 to 19 in full-time non-advanced education or approved training.
    InEducation,
    /// 16 or 17 on Income Support, income-based JSA or income-related ESA.
    YoungPersonOnBenefit,
    /// In prison.
    InPrison,
    /// In a care home or independent hospital with help with the fees.
    InCareHomeOrHospital,
}

impl From<NilRateArg> for NilRateCategory {
    fn from(category: NilRateArg) -> Self {
        match category {
            NilRateArg::Under16 => NilRateCategory::Under16,
            NilRateArg::InEducation => NilRateCategory::InEducation,
            NilRateArg::YoungPersonOnBenefit => NilRateCategory::YoungPersonOnBenefit,
            NilRateArg::InPrison => NilRateCategory::InPrison,
            NilRateArg::InCareHomeOrHospital => NilRateCategory::InCareHomeOrHospital,
        }
    }
}

/// Runs the calculation and prints the result.
pub fn run(args: CalcArgs) -> anyhow::Result<()> {
    let calculator = Calculator::new()?;
    let today = chrono::Utc::now().date_naive();
    if let Some(path) = &args.request {
        let text = read_request(path)?;
        let request: CalculateRequest = json::from_json(&text)?;
        let response = calculator.calculate(&request, today)?;
        println!("{}", json::to_json(&response)?);
        return Ok(());
    }
    let request = request_from_flags(&args)?;
    let response = calculator.calculate(&request, today)?;
    print!("{}", for_people(&response));
    Ok(())
}

fn read_request(path: &PathBuf) -> anyhow::Result<String> {
    let mut text = String::new();
    if path.as_os_str() == "-" {
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the request from standard input")?;
    } else {
        text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the request from {}", path.display()))?;
    }
    Ok(text)
}

/// Builds the request from the flags: each `--nights` is one receiving parent's children.
fn request_from_flags(args: &CalcArgs) -> anyhow::Result<CalculateRequest> {
    let receiving_parents = if args.nights.is_empty() {
        vec![ReceivingParent {
            child_nights: vec![0],
        }]
    } else {
        args.nights
            .iter()
            .enumerate()
            .map(|(index, list)| {
                let child_nights = list
                    .split(',')
                    .map(|nights| nights.trim().parse::<u32>())
                    .collect::<Result<Vec<_>, _>>()
                    .with_context(|| {
                        format!(
                            "--nights {list:?} (receiving parent {}): expected whole numbers of \
                             nights separated by commas, e.g. 60,0",
                            index + 1
                        )
                    })?;
                Ok(ReceivingParent { child_nights })
            })
            .collect::<anyhow::Result<_>>()?
    };
    Ok(CalculateRequest {
        gross_weekly_income: args.income.clone().unwrap_or_default(),
        relevant_other_children: args.other_children,
        flat_rate_benefit: args.benefit,
        receiving_parents,
        as_of: args.as_of.clone().unwrap_or_default(),
        collect_and_pay: args.collect_and_pay,
        income_not_provided: args.income_unknown,
        nil_rate_category: args
            .nil_rate
            .map(NilRateCategory::from)
            .unwrap_or_default()
            .into(),
        proposal: args.proposal.clone().unwrap_or_default(),
    })
}

/// The result as a caseworker would read it out.
fn for_people(response: &CalculateResponse) -> String {
    let rate = match response.rate() {
        Rate::Nil => "nil rate",
        Rate::Flat => "flat rate",
        Rate::Reduced => "reduced rate",
        Rate::Basic => "basic rate",
        Rate::BasicPlus => "basic plus rate",
        Rate::Default => "default rate",
        Rate::Unspecified => "rate not stated",
    };
    let mut out = format!(
        "£{} a week: {rate}, under the rules in force on {}\n",
        response.weekly_amount, response.as_of
    );
    if response.receiving_parents.len() > 1 {
        for (index, parent) in response.receiving_parents.iter().enumerate() {
            out += &format!(
                "  receiving parent {}: £{}\n",
                index + 1,
                parent.weekly_amount
            );
        }
    }
    if !response.paying_parent_fee.is_empty() {
        out += &format!(
            "  Collect and Pay: the paying parent also pays a fee of £{} a week; £{} a week is \
             taken from what the receiving parent gets\n",
            response.paying_parent_fee, response.receiving_parent_fee
        );
    }
    out += "\nHow it was worked out:\n";
    for (index, step) in response.explanation.iter().enumerate() {
        out += &format!(
            "{:>3}. {}\n     [{}] {}\n",
            index + 1,
            step.text,
            step.rule,
            step.legal_source
        );
    }
    out
}
