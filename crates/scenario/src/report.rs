//! The HTML report: one self-contained page (inline CSS and SVG, no scripts, no external
//! addresses) that answers the scenario's question for receiving parents, paying parents and the
//! system, then shows the comparison table, the calibration table (the base arm against published
//! figures), charts, assumptions, metric definitions and run record.
//!
//! The charts are hand-written SVG with coordinates computed in [`Decimal`] and printed to one
//! decimal place, so the page is byte-identical for the same summary. All text is escaped.

use rust_decimal::Decimal;

use crate::calibration::calibration_targets;
use crate::measures::{Metric, Who};
use crate::output::{fixed, interval_text};
use crate::stats::{ArmSummary, DECIMALS, Interval, Summary};

/// Colours for arms, in order (colour-blind-safe where possible); they repeat after seven arms.
const PALETTE: [&str; 7] = [
    "#1b6ca8", "#d95f02", "#1b9e77", "#7570b3", "#a6761d", "#e7298a", "#555555",
];

/// The metrics drawn as bar charts.
const BAR_CHARTS: [Metric; 8] = [
    Metric::MaintenanceReceived,
    Metric::DaysToFirstPayment,
    Metric::ChildDaysWithoutMoney,
    Metric::ArrearsEnd,
    Metric::EnforcementActions,
    Metric::EnforcementActionsWhileDistressed,
    Metric::MisalignedDays,
    Metric::OrderToCmsLagDays,
];

/// The metrics each headline sentence covers, by side.
const HEADLINES: [(Who, &[Metric]); 3] = [
    (
        Who::ReceivingParents,
        &[
            Metric::MaintenanceReceived,
            Metric::DaysToFirstPayment,
            Metric::ChildDaysWithoutMoney,
        ],
    ),
    (
        Who::PayingParents,
        &[
            Metric::EnforcementActions,
            Metric::EnforcementActionsWhileDistressed,
            Metric::FeesPaidPayingParent,
            Metric::RetrospectiveAdjustmentAmount,
        ],
    ),
    (
        Who::System,
        &[Metric::MisalignedDays, Metric::OrderToCmsLagDays],
    ),
];

const CSS: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;\
color:#1a1a1a;background:#fff;max-width:72rem;margin:0 auto;padding:1.5rem;line-height:1.45}\
h1{font-size:1.7rem;margin-bottom:.2rem}h2{margin-top:2.2rem;border-bottom:2px solid #ccc}\
.question{font-size:1.1rem;color:#333}table{border-collapse:collapse;margin:1rem 0;font-size:.9rem}\
th,td{border:1px solid #bbb;padding:.3rem .5rem;text-align:left;vertical-align:top}\
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\
th{background:#eef2f5}tr.group th{background:#dde5ec}caption{text-align:left;font-weight:600;\
margin-bottom:.3rem}.charts{display:flex;flex-wrap:wrap;gap:1rem}figure{margin:0}\
figcaption{font-size:.9rem;max-width:34rem}.clear{font-weight:600}\
section{overflow-x:auto}\
@media print{body{max-width:none;padding:0}h2{break-after:avoid}figure,table{break-inside:avoid}}";

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn colour(index: usize) -> &'static str {
    PALETTE[index % PALETTE.len()]
}

/// The full page.
pub fn render_report(summary: &Summary) -> String {
    let r = &summary.run;
    let mut html = String::new();
    html.push_str("<!DOCTYPE html>\n<html lang=\"en-GB\">\n<head>\n<meta charset=\"utf-8\">\n");
    html.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    html.push_str(&format!("<title>{}</title>\n", escape(&r.title)));
    html.push_str(&format!("<style>{CSS}</style>\n</head>\n<body>\n<main>\n"));
    html.push_str(&format!("<h1>{}</h1>\n", escape(&r.title)));
    html.push_str(&format!(
        "<p class=\"question\">{}</p>\n",
        escape(&r.question)
    ));
    html.push_str(&headline(summary));
    html.push_str(&comparison_table(summary));
    html.push_str(&calibration_table(summary));
    html.push_str(&charts(summary));
    html.push_str(&assumptions_table(summary));
    html.push_str(&definitions_table());
    html.push_str(&run_record(summary));
    html.push_str("</main>\n</body>\n</html>\n");
    html
}

fn unit_words(metric: Metric, value: Decimal) -> String {
    let unit = metric.definition().unit;
    if unit == "£" {
        format!("£{}", fixed(value.abs(), DECIMALS))
    } else {
        format!("{} {}", fixed(value.abs(), DECIMALS), unit)
    }
}

/// One plain-words clause on a difference.
fn clause(metric: Metric, difference: &Interval) -> String {
    let name = metric.name().replace('_', " ");
    let range = format!(
        "95% interval {} to {}",
        fixed(difference.ci_low, DECIMALS),
        fixed(difference.ci_high, DECIMALS)
    );
    if difference.excludes_zero() {
        let direction = if difference.mean > Decimal::ZERO {
            "rose"
        } else {
            "fell"
        };
        format!(
            "<span class=\"clear\">{} {direction} by {}</span> ({range})",
            escape(&name),
            escape(&unit_words(metric, difference.mean))
        )
    } else {
        format!(
            "{} showed no clear change (difference {}, {range})",
            escape(&name),
            fixed(difference.mean, DECIMALS)
        )
    }
}

fn headline(summary: &Summary) -> String {
    let base = &summary.run.base_arm;
    let mut html = String::from(
        "<section aria-labelledby=\"headline\">\n<h2 id=\"headline\">The answer in brief</h2>\n",
    );
    let reforms: Vec<&ArmSummary> = summary.arms.iter().filter(|a| !a.is_base).collect();
    if reforms.is_empty() {
        html.push_str(&format!(
            "<p>This scenario has one arm, {}, so there is no comparison; the table below gives its results.</p>\n",
            escape(base)
        ));
    }
    for arm in reforms {
        html.push_str(&format!(
            "<h3>{} compared with {}</h3>\n<p>{}</p>\n<ul>\n",
            escape(&arm.name),
            escape(base),
            escape(&arm.description)
        ));
        for (who, metrics) in HEADLINES {
            let clauses: Vec<String> = metrics
                .iter()
                .filter_map(|m| {
                    arm.metric(*m)
                        .and_then(|s| s.difference.as_ref())
                        .map(|d| clause(*m, d))
                })
                .collect();
            html.push_str(&format!(
                "<li><strong>{}:</strong> {}.</li>\n",
                escape(who.heading()),
                clauses.join("; ")
            ));
        }
        html.push_str("</ul>\n");
    }
    html.push_str(&format!(
        "<p>Totals are over the {} families of a replication; means and 95% intervals are over {} replications, and differences are paired by replication (the same families in every arm).</p>\n</section>\n",
        summary.run.families, summary.run.replications
    ));
    html
}

fn comparison_table(summary: &Summary) -> String {
    let base = &summary.run.base_arm;
    let mut html = String::from(
        "<section aria-labelledby=\"comparison\">\n<h2 id=\"comparison\">Comparison</h2>\n<table id=\"comparison-table\">\n<caption>Mean over replications [95% interval]; differences from the base arm, paired by replication</caption>\n<thead><tr><th scope=\"col\">metric</th><th scope=\"col\">unit</th>",
    );
    for arm in &summary.arms {
        html.push_str(&format!("<th scope=\"col\">{}</th>", escape(&arm.name)));
    }
    for arm in summary.arms.iter().filter(|a| !a.is_base) {
        html.push_str(&format!(
            "<th scope=\"col\">{} − {}</th>",
            escape(&arm.name),
            escape(base)
        ));
    }
    html.push_str("</tr></thead>\n<tbody>\n");
    let columns = 2 + summary.arms.len() * 2 - 1;
    for who in Who::ALL {
        html.push_str(&format!(
            "<tr class=\"group\"><th colspan=\"{columns}\" scope=\"rowgroup\">{}</th></tr>\n",
            escape(who.heading())
        ));
        for metric in Metric::ALL.iter().filter(|m| m.definition().who == who) {
            let d = metric.definition();
            html.push_str(&format!(
                "<tr><th scope=\"row\">{}</th><td>{}</td>",
                escape(d.name),
                escape(d.unit)
            ));
            for arm in &summary.arms {
                let cell = arm
                    .metric(*metric)
                    .map_or_else(String::new, |m| interval_text(&m.estimate));
                html.push_str(&format!("<td class=\"num\">{}</td>", escape(&cell)));
            }
            for arm in summary.arms.iter().filter(|a| !a.is_base) {
                let cell = arm
                    .metric(*metric)
                    .and_then(|m| m.difference.as_ref())
                    .map_or_else(String::new, interval_text);
                html.push_str(&format!("<td class=\"num\">{}</td>", escape(&cell)));
            }
            html.push_str("</tr>\n");
        }
    }
    html.push_str("</tbody>\n</table>\n</section>\n");
    html
}

/// The calibration targets next to the base arm's means.
fn calibration_table(summary: &Summary) -> String {
    let mut html = format!(
        "<section aria-labelledby=\"calibration\">\n<h2 id=\"calibration\">{}</h2>\n<p>How the base arm, {}, compares with published figures. An \"input\" is a figure the synthetic caseload is drawn to match, so agreement only shows the drawing works; an \"independent check\" is a figure nothing is drawn from, so agreement is evidence that the rules and the behaviour together are right. \"within tolerance\" says whether the base arm's mean over replications is within the tolerance either side of the published figure.</p>\n<table id=\"calibration-table\">\n<thead><tr><th scope=\"col\">metric</th><th scope=\"col\">kind</th><th scope=\"col\">unit</th><th scope=\"col\">published figure</th><th scope=\"col\">tolerance</th><th scope=\"col\">source</th><th scope=\"col\">this run, base arm [95% interval]</th><th scope=\"col\">within tolerance</th></tr></thead>\n<tbody>\n",
        escape(Who::Calibration.heading()),
        escape(&summary.run.base_arm)
    );
    for target in calibration_targets() {
        let d = target.metric.definition();
        let estimate = summary
            .base()
            .and_then(|arm| arm.metric(target.metric))
            .map(|m| m.estimate);
        let (value, verdict) = match estimate {
            Some(interval) => (
                interval_text(&interval),
                if target.accepts(interval.mean) {
                    "yes"
                } else {
                    "no"
                },
            ),
            None => ("not measured".to_owned(), "no"),
        };
        html.push_str(&format!(
            "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">±{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td></tr>\n",
            escape(d.name),
            target.kind.describe(),
            escape(d.unit),
            escape(&fixed(target.published, DECIMALS)),
            escape(&fixed(target.tolerance, DECIMALS)),
            escape(target.source),
            escape(&value),
            verdict
        ));
    }
    html.push_str("</tbody>\n</table>\n</section>\n");
    html
}

/// Pixel coordinate as text, one decimal.
fn px(value: Decimal) -> String {
    fixed(value, 1)
}

/// Maps values in `low..=high` onto pixels `bottom..=top` (SVG y grows downwards).
struct Scale {
    low: Decimal,
    high: Decimal,
    top: Decimal,
    bottom: Decimal,
}

impl Scale {
    fn new(values: impl Iterator<Item = Decimal>, top: Decimal, bottom: Decimal) -> Scale {
        let mut low = Decimal::ZERO;
        let mut high = Decimal::ZERO;
        for v in values {
            low = low.min(v);
            high = high.max(v);
        }
        if high == low {
            high = low + Decimal::ONE;
        }
        Scale {
            low,
            high,
            top,
            bottom,
        }
    }

    fn y(&self, value: Decimal) -> Decimal {
        self.bottom - (value - self.low) / (self.high - self.low) * (self.bottom - self.top)
    }
}

const CHART_WIDTH: i64 = 520;
const CHART_HEIGHT: i64 = 260;

fn bar_chart(summary: &Summary, metric: Metric, index: usize) -> String {
    let d = metric.definition();
    let estimates: Vec<(&ArmSummary, Interval)> = summary
        .arms
        .iter()
        .filter_map(|a| a.metric(metric).map(|m| (a, m.estimate)))
        .collect();
    let top = Decimal::from(20);
    let bottom = Decimal::from(CHART_HEIGHT - 50);
    let scale = Scale::new(
        estimates
            .iter()
            .flat_map(|(_, i)| [i.mean, i.ci_low, i.ci_high]),
        top,
        bottom,
    );
    let left = Decimal::from(70);
    let plot_width = Decimal::from(CHART_WIDTH - 90);
    let slot = plot_width / Decimal::from(estimates.len().max(1));
    let bar = slot * Decimal::new(6, 1);
    let id = format!("bar-{index}");
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{CHART_WIDTH}\" height=\"{CHART_HEIGHT}\" viewBox=\"0 0 {CHART_WIDTH} {CHART_HEIGHT}\" role=\"img\" aria-labelledby=\"{id}-title\">\n<title id=\"{id}-title\">{}: mean per arm with 95% interval</title>\n",
        escape(d.name)
    );
    let zero = scale.y(Decimal::ZERO);
    svg.push_str(&format!(
        "<text x=\"4\" y=\"{}\" font-size=\"11\">{}</text>\n<text x=\"4\" y=\"{}\" font-size=\"11\">{}</text>\n",
        px(top + Decimal::from(4)),
        escape(&fixed(scale.high, DECIMALS)),
        px(bottom),
        escape(&fixed(scale.low, DECIMALS))
    ));
    for (i, (arm, interval)) in estimates.iter().enumerate() {
        let x = left + slot * Decimal::from(i) + (slot - bar) / Decimal::TWO;
        let y_mean = scale.y(interval.mean);
        let (y, h) = if y_mean < zero {
            (y_mean, zero - y_mean)
        } else {
            (zero, y_mean - zero)
        };
        let centre = x + bar / Decimal::TWO;
        svg.push_str(&format!(
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"><title>{}: {}</title></rect>\n",
            px(x),
            px(y),
            px(bar),
            px(h),
            colour(i),
            escape(&arm.name),
            escape(&interval_text(interval))
        ));
        let (y_low, y_high) = (scale.y(interval.ci_low), scale.y(interval.ci_high));
        let cap = bar / Decimal::from(4);
        svg.push_str(&format!(
            "<path d=\"M{c} {l}V{h}M{a} {l}H{b}M{a} {h}H{b}\" stroke=\"#111\" stroke-width=\"1.5\" fill=\"none\"/>\n",
            c = px(centre),
            l = px(y_low),
            h = px(y_high),
            a = px(centre - cap),
            b = px(centre + cap)
        ));
        svg.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" font-size=\"12\" text-anchor=\"middle\">{}</text>\n<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">{}</text>\n",
            px(centre),
            px(bottom + Decimal::from(18)),
            escape(&arm.name),
            px(centre),
            px(bottom + Decimal::from(34)),
            escape(&fixed(interval.mean, DECIMALS))
        ));
    }
    svg.push_str(&format!(
        "<line x1=\"{}\" x2=\"{}\" y1=\"{z}\" y2=\"{z}\" stroke=\"#444\"/>\n</svg>\n",
        px(left),
        px(left + plot_width),
        z = px(zero)
    ));
    format!(
        "<figure>\n{svg}<figcaption>{} ({}): mean per arm; whiskers show the 95% interval.</figcaption>\n</figure>\n",
        escape(d.name),
        escape(d.unit)
    )
}

fn line_chart(summary: &Summary, metric: Metric, index: usize) -> String {
    let d = metric.definition();
    let months = summary.run.months.max(1);
    let top = Decimal::from(20);
    let bottom = Decimal::from(CHART_HEIGHT - 60);
    let scale = Scale::new(
        summary
            .arms
            .iter()
            .flat_map(|a| a.monthly.get(&metric).cloned().unwrap_or_default()),
        top,
        bottom,
    );
    let left = Decimal::from(70);
    let plot_width = Decimal::from(CHART_WIDTH - 90);
    let step = if months > 1 {
        plot_width / Decimal::from(months - 1)
    } else {
        Decimal::ZERO
    };
    let id = format!("line-{index}");
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{CHART_WIDTH}\" height=\"{CHART_HEIGHT}\" viewBox=\"0 0 {CHART_WIDTH} {CHART_HEIGHT}\" role=\"img\" aria-labelledby=\"{id}-title\">\n<title id=\"{id}-title\">{} by month, mean over replications, per arm</title>\n",
        escape(d.name)
    );
    svg.push_str(&format!(
        "<text x=\"4\" y=\"{}\" font-size=\"11\">{}</text>\n<text x=\"4\" y=\"{}\" font-size=\"11\">{}</text>\n",
        px(top + Decimal::from(4)),
        escape(&fixed(scale.high, DECIMALS)),
        px(bottom),
        escape(&fixed(scale.low, DECIMALS))
    ));
    svg.push_str(&format!(
        "<line x1=\"{}\" x2=\"{}\" y1=\"{b}\" y2=\"{b}\" stroke=\"#444\"/>\n<text x=\"{}\" y=\"{}\" font-size=\"11\">month 1</text>\n<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">month {months}</text>\n",
        px(left),
        px(left + plot_width),
        px(left),
        px(bottom + Decimal::from(16)),
        px(left + plot_width),
        px(bottom + Decimal::from(16)),
        b = px(bottom)
    ));
    for (i, arm) in summary.arms.iter().enumerate() {
        let series = arm.monthly.get(&metric).cloned().unwrap_or_default();
        let points: Vec<String> = series
            .iter()
            .enumerate()
            .map(|(m, v)| format!("{},{}", px(left + step * Decimal::from(m)), px(scale.y(*v))))
            .collect();
        svg.push_str(&format!(
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"><title>{}</title></polyline>\n",
            points.join(" "),
            colour(i),
            escape(&arm.name)
        ));
        let legend_x = left + Decimal::from(130 * (i % 3) as i64);
        let legend_y = bottom + Decimal::from(32 + 14 * (i / 3) as i64);
        svg.push_str(&format!(
            "<rect x=\"{}\" y=\"{}\" width=\"12\" height=\"4\" fill=\"{}\"/><text x=\"{}\" y=\"{}\" font-size=\"11\">{}</text>\n",
            px(legend_x),
            px(legend_y - Decimal::from(4)),
            colour(i),
            px(legend_x + Decimal::from(16)),
            px(legend_y),
            escape(&arm.name)
        ));
    }
    svg.push_str("</svg>\n");
    format!(
        "<figure>\n{svg}<figcaption>{} ({}) by month of the period, mean over replications.</figcaption>\n</figure>\n",
        escape(d.name),
        escape(d.unit)
    )
}

fn charts(summary: &Summary) -> String {
    let mut html = String::from(
        "<section aria-labelledby=\"charts\">\n<h2 id=\"charts\">Charts</h2>\n<div class=\"charts\">\n",
    );
    for (i, metric) in BAR_CHARTS.iter().enumerate() {
        html.push_str(&bar_chart(summary, *metric, i));
    }
    html.push_str("</div>\n<h3>Month by month</h3>\n<div class=\"charts\">\n");
    for (i, metric) in Metric::MONTHLY.iter().enumerate() {
        html.push_str(&line_chart(summary, *metric, i));
    }
    html.push_str("</div>\n</section>\n");
    html
}

fn assumptions_table(summary: &Summary) -> String {
    let mut html = String::from(
        "<section aria-labelledby=\"assumptions\">\n<h2 id=\"assumptions\">Assumptions</h2>\n<p>Every number the synthetic caseload is drawn from. \"assumption\" marks a value with no published source; change it in the scenario's [population] table.</p>\n<table id=\"assumptions-table\">\n<thead><tr><th scope=\"col\">name</th><th scope=\"col\">value</th><th scope=\"col\">unit</th><th scope=\"col\">source</th></tr></thead>\n<tbody>\n",
    );
    for a in &summary.assumptions {
        html.push_str(&format!(
            "<tr><th scope=\"row\">{}</th><td class=\"num\">{}</td><td>{}</td><td>{}</td></tr>\n",
            escape(&a.name),
            escape(&a.value),
            escape(&a.unit),
            escape(&a.source)
        ));
    }
    html.push_str("</tbody>\n</table>\n</section>\n");
    html
}

fn definitions_table() -> String {
    let mut html = String::from(
        "<section aria-labelledby=\"definitions\">\n<h2 id=\"definitions\">What each measure counts</h2>\n<table id=\"definitions-table\">\n<thead><tr><th scope=\"col\">metric</th><th scope=\"col\">unit</th><th scope=\"col\">concerns</th><th scope=\"col\">per replication</th><th scope=\"col\">definition</th></tr></thead>\n<tbody>\n",
    );
    for metric in Metric::ALL {
        let d = metric.definition();
        html.push_str(&format!(
            "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            escape(d.name),
            escape(d.unit),
            escape(d.who.heading()),
            escape(d.aggregation.describe()),
            escape(d.description)
        ));
    }
    html.push_str("</tbody>\n</table>\n<p>A mean over items with no items in a replication (no family paid, no order made) counts as 0 for that replication.</p>\n</section>\n");
    html
}

fn run_record(summary: &Summary) -> String {
    let r = &summary.run;
    let rows = [
        ("scenario", r.title.clone()),
        ("scenario file SHA-256", r.source_hash.clone()),
        ("code version", r.code_version.clone()),
        ("seed", r.seed.to_string()),
        ("replications", r.replications.to_string()),
        (
            "how the number of replications was chosen",
            r.replications_reason.clone(),
        ),
        ("families per replication", r.families.to_string()),
        (
            "period",
            format!(
                "{} to {} ({} months; the end date is the first day after)",
                r.start, r.end, r.months
            ),
        ),
        ("base arm", r.base_arm.clone()),
    ];
    let mut html = String::from(
        "<section aria-labelledby=\"run-record\">\n<h2 id=\"run-record\">Run record</h2>\n<table id=\"run-record-table\">\n<tbody>\n",
    );
    for (name, value) in rows {
        html.push_str(&format!(
            "<tr><th scope=\"row\">{}</th><td>{}</td></tr>\n",
            escape(name),
            escape(&value)
        ));
    }
    html.push_str("</tbody>\n</table>\n<p>The same scenario file, seed and code version give the same figures, byte for byte.</p>\n</section>\n");
    html
}
