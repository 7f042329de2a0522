//! The run's outputs — the only module of the crate that touches the file system.
//!
//! [`write_outputs`] writes into one directory: `summary.json` (per arm and metric the mean, the
//! 95% interval and the difference from the base arm, plus the run record), `metrics.csv` (long:
//! `arm,replication,metric,value`), `timeseries.csv` (`arm,replication,month,metric,value`) and
//! `report.html`. [`terminal_table`] is the plain-text comparison for the terminal. Every number is
//! a fixed-decimal string and every collection is written in a fixed order, so the same results
//! give the same bytes.

use std::fs;
use std::path::{Path, PathBuf};

use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{Map, Value, json};

use crate::measures::{Metric, ReplicationResult, Who};
use crate::report::render_report;
use crate::stats::{ArmSummary, DECIMALS, Interval, Summary};

/// Decimal places of the per-replication values in the CSV files (means are kept to 4).
pub const CSV_DECIMALS: u32 = 4;

/// A file that could not be written.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// Creating the directory or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Serialising the summary failed.
    #[error("summary.json: {0}")]
    Json(#[from] serde_json::Error),
}

/// `value` with exactly `places` decimals (half away from zero): `12.5` → `12.50`.
pub fn fixed(value: Decimal, places: u32) -> String {
    let rounded = value.round_dp_with_strategy(places, RoundingStrategy::MidpointAwayFromZero);
    // A negative zero would print as "-0.00"; zero has one spelling.
    let rounded = if rounded.is_zero() {
        Decimal::ZERO
    } else {
        rounded
    };
    format!("{:.*}", places as usize, rounded)
}

fn interval_json(interval: &Interval) -> Value {
    json!({
        "mean": fixed(interval.mean, DECIMALS),
        "ci_low": fixed(interval.ci_low, DECIMALS),
        "ci_high": fixed(interval.ci_high, DECIMALS),
    })
}

/// `summary.json`'s text.
pub fn summary_json(summary: &Summary) -> Result<String, OutputError> {
    let r = &summary.run;
    let arms: Vec<Value> = summary
        .arms
        .iter()
        .map(|arm| {
            let mut metrics = Map::new();
            for m in &arm.metrics {
                let mut entry = Map::new();
                entry.insert("mean".into(), json!(fixed(m.estimate.mean, DECIMALS)));
                entry.insert("ci_low".into(), json!(fixed(m.estimate.ci_low, DECIMALS)));
                entry.insert("ci_high".into(), json!(fixed(m.estimate.ci_high, DECIMALS)));
                entry.insert(
                    "difference".into(),
                    m.difference.as_ref().map_or(Value::Null, interval_json),
                );
                metrics.insert(m.metric.name().into(), Value::Object(entry));
            }
            json!({
                "name": arm.name,
                "description": arm.description,
                "is_base": arm.is_base,
                "metrics": metrics,
            })
        })
        .collect();
    let value = json!({
        "run": {
            "title": r.title,
            "question": r.question,
            "source_hash": r.source_hash,
            "code_version": r.code_version,
            "seed": r.seed.to_string(),
            "replications": r.replications,
            "replications_reason": r.replications_reason,
            "families": r.families.to_string(),
            "start": r.start,
            "end": r.end,
            "months": r.months,
            "base_arm": r.base_arm,
        },
        "arms": arms,
    });
    let mut text = serde_json::to_string_pretty(&value)?;
    text.push('\n');
    Ok(text)
}

/// The results in report order: arms as in the summary, then replication.
fn ordered<'a>(summary: &Summary, results: &'a [ReplicationResult]) -> Vec<&'a ReplicationResult> {
    let mut ordered: Vec<&ReplicationResult> = results.iter().collect();
    ordered.sort_by_key(|r| {
        (
            summary
                .arms
                .iter()
                .position(|a| a.name == r.arm)
                .unwrap_or(usize::MAX),
            r.replication,
        )
    });
    ordered
}

/// Quotes a CSV field when it needs it (RFC 4180).
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// `metrics.csv`'s text.
pub fn metrics_csv(summary: &Summary, results: &[ReplicationResult]) -> String {
    let mut out = String::from("arm,replication,metric,value\n");
    for r in ordered(summary, results) {
        for (metric, value) in &r.metrics {
            out.push_str(&format!(
                "{},{},{},{}\n",
                csv_field(&r.arm),
                r.replication,
                metric.name(),
                fixed(*value, CSV_DECIMALS)
            ));
        }
    }
    out
}

/// `timeseries.csv`'s text (month from 1).
pub fn timeseries_csv(summary: &Summary, results: &[ReplicationResult]) -> String {
    let mut out = String::from("arm,replication,month,metric,value\n");
    for r in ordered(summary, results) {
        for ((month, metric), value) in &r.monthly {
            out.push_str(&format!(
                "{},{},{},{},{}\n",
                csv_field(&r.arm),
                r.replication,
                month + 1,
                metric.name(),
                fixed(*value, CSV_DECIMALS)
            ));
        }
    }
    out
}

/// Writes the four files into `dir` (created if missing) and returns their paths.
pub fn write_outputs(
    dir: &Path,
    summary: &Summary,
    results: &[ReplicationResult],
) -> Result<Vec<PathBuf>, OutputError> {
    fs::create_dir_all(dir).map_err(|source| OutputError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let files = [
        ("summary.json", summary_json(summary)?),
        ("metrics.csv", metrics_csv(summary, results)),
        ("timeseries.csv", timeseries_csv(summary, results)),
        ("report.html", render_report(summary)),
    ];
    let mut paths = Vec::new();
    for (name, text) in files {
        let path = dir.join(name);
        fs::write(&path, text).map_err(|source| OutputError::Io {
            path: path.clone(),
            source,
        })?;
        paths.push(path);
    }
    Ok(paths)
}

/// `mean [low, high]` with the statistics' decimals.
pub fn interval_text(interval: &Interval) -> String {
    format!(
        "{} [{}, {}]",
        fixed(interval.mean, DECIMALS),
        fixed(interval.ci_low, DECIMALS),
        fixed(interval.ci_high, DECIMALS)
    )
}

/// The width the terminal's prose is wrapped to.
const TERMINAL_WIDTH: usize = 100;

/// `text` with its words run into lines of at most `width` characters (a longer word stands alone).
fn wrapped(text: &str, width: usize) -> String {
    let mut lines: Vec<String> = Vec::new();
    for word in text.split_whitespace() {
        match lines.last_mut() {
            Some(line) if line.chars().count() + 1 + word.chars().count() <= width => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_owned()),
        }
    }
    lines.join("\n")
}

/// The terminal's comparison, narrow enough for a terminal: for each arm compared with the base, a
/// table of each measure's mean under the base and under the arm and the arm's difference with its
/// 95% interval, grouped by whom the measure is about. (The arms' own intervals are in the report
/// and `summary.json`.)
pub fn terminal_table(summary: &Summary) -> String {
    let base = summary.run.base_arm.as_str();
    let r = &summary.run;
    let mut out = format!(
        "{}\n{}\nseed {}, {} replications of {} families, {} to {} (exclusive); base arm: {}\n",
        r.title,
        wrapped(&r.question, TERMINAL_WIDTH),
        r.seed,
        r.replications,
        r.families,
        r.start,
        r.end,
        base
    );
    let Some(base_arm) = summary.arms.iter().find(|arm| arm.is_base) else {
        return out;
    };
    let arms: Vec<&ArmSummary> = summary.arms.iter().filter(|arm| !arm.is_base).collect();
    // A run of the base arm alone shows its means.
    let compared: Vec<Option<&ArmSummary>> = if arms.is_empty() {
        vec![None]
    } else {
        arms.into_iter().map(Some).collect()
    };
    for arm in compared {
        let mut header = vec![
            "metric".to_owned(),
            match arm {
                Some(_) => base.to_owned(),
                None => format!("{base} mean [95% CI]"),
            },
        ];
        if let Some(arm) = arm {
            header.push(arm.name.clone());
            header.push(format!("{} - {} [95% CI]", arm.name, base));
        }
        let mut rows: Vec<Result<Vec<String>, &str>> = Vec::new();
        for who in Who::ALL {
            rows.push(Err(who.heading()));
            for metric in Metric::ALL.iter().filter(|m| m.definition().who == who) {
                // Compared, the means; alone, the base arm's interval too.
                let mean = |of: &ArmSummary| {
                    of.metric(*metric).map_or_else(String::new, |m| match arm {
                        Some(_) => fixed(m.estimate.mean, DECIMALS),
                        None => interval_text(&m.estimate),
                    })
                };
                let mut row = vec![metric.definition().name.to_owned(), mean(base_arm)];
                if let Some(arm) = arm {
                    row.push(mean(arm));
                    row.push(
                        arm.metric(*metric)
                            .and_then(|m| m.difference.as_ref())
                            .map_or_else(String::new, interval_text),
                    );
                }
                rows.push(Ok(row));
            }
        }
        let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
        for row in rows.iter().flatten() {
            for (i, cell) in row.iter().enumerate() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        let line = |cells: &[String]| {
            let padded: Vec<String> = cells
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let pad = widths[i].saturating_sub(c.chars().count());
                    // The name left-aligned, numbers right-aligned.
                    if i == 0 {
                        format!("{c}{}", " ".repeat(pad))
                    } else {
                        format!("{}{c}", " ".repeat(pad))
                    }
                })
                .collect();
            format!("{}\n", padded.join("  ").trim_end())
        };
        out.push('\n');
        out.push_str(&line(&header));
        let total: usize = widths.iter().sum::<usize>() + 2 * widths.len().saturating_sub(1);
        out.push_str(&format!("{}\n", "-".repeat(total)));
        for row in &rows {
            match row {
                Ok(cells) => out.push_str(&line(cells)),
                Err(heading) => out.push_str(&format!("{heading}\n")),
            }
        }
    }
    out.push_str("\nUnits, definitions and each arm's own 95% intervals: report.html.\n");
    out
}
