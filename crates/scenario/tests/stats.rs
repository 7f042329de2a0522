//! Statistics: known means and t intervals, paired differences from the base arm, and refusal of
//! incomplete results.

mod common;

use std::collections::BTreeMap;

use common::small;
use familybridge_scenario::{Metric, ReplicationResult, interval, summarise, t_critical};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

#[test]
fn a_known_interval() {
    // Mean 3, sd √2.5, n 5, t(4) 2.776: half-width 2.776 × 1.58114 / 2.23607 = 1.96293.
    let i = interval(&[dec!(1), dec!(2), dec!(3), dec!(4), dec!(5)]).expect("five values");
    assert_eq!(
        (i.mean, i.ci_low, i.ci_high),
        (dec!(3), dec!(1.04), dec!(4.96))
    );
    let constant = interval(&[dec!(7.5), dec!(7.5)]).expect("two values");
    assert_eq!((constant.ci_low, constant.ci_high), (dec!(7.5), dec!(7.5)));
    assert!(interval(&[dec!(1)]).is_err());
}

#[test]
fn t_critical_values() {
    assert_eq!(t_critical(1), dec!(12.706));
    assert_eq!(t_critical(4), dec!(2.776));
    assert_eq!(t_critical(30), dec!(2.042));
    assert_eq!(t_critical(60), dec!(2.000));
    assert_eq!(t_critical(120), dec!(1.980));
}

/// Replication results where `metric` takes `values` and every other metric 0.
fn results(arm: &str, values: &[Decimal]) -> Vec<ReplicationResult> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| ReplicationResult {
            arm: arm.to_owned(),
            replication: i as u32 + 1,
            families: 50,
            metrics: Metric::ALL
                .iter()
                .map(|m| {
                    (
                        *m,
                        if *m == Metric::MaintenanceReceived {
                            *v
                        } else {
                            Decimal::ZERO
                        },
                    )
                })
                .collect(),
            monthly: BTreeMap::new(),
        })
        .collect()
}

#[test]
fn differences_are_paired_by_replication() {
    let s = small();
    let mut all = results("baseline", &[dec!(100), dec!(200), dec!(300)]);
    // The reform adds exactly 10 in every replication: the paired interval has no width, though
    // each arm's own interval is wide.
    all.extend(results("reform", &[dec!(110), dec!(210), dec!(310)]));
    let summary = summarise(&s, &all, "test").expect("complete results");
    let reform = &summary.arms[1];
    let m = reform
        .metric(Metric::MaintenanceReceived)
        .expect("the metric");
    assert_eq!(m.estimate.mean, dec!(210));
    assert!(m.estimate.ci_high - m.estimate.ci_low > dec!(400));
    let d = m.difference.expect("a difference");
    assert_eq!(
        (d.mean, d.ci_low, d.ci_high),
        (dec!(10), dec!(10), dec!(10))
    );
    assert!(d.excludes_zero());
    assert!(summary.arms[0].is_base);
    assert_eq!(summary.arms[0].metrics[0].difference, None);
    assert_eq!(summary.run.code_version, "test");
    assert_eq!(summary.run.end, "2026-04-06");
}

#[test]
fn incomplete_or_repeated_results_are_refused() {
    let s = small();
    let mut missing = results("baseline", &[dec!(1), dec!(2), dec!(3)]);
    missing.extend(results("reform", &[dec!(1), dec!(2)]));
    let error = summarise(&s, &missing, "test").expect_err("a replication is missing");
    assert!(
        error.to_string().starts_with("results[reform]: "),
        "{error}"
    );
    let mut repeated = results("baseline", &[dec!(1), dec!(2), dec!(3)]);
    repeated.extend(results("baseline", &[dec!(1)]));
    assert!(summarise(&s, &repeated, "test").is_err());
    let stranger = results("stranger", &[dec!(1), dec!(2), dec!(3)]);
    assert!(summarise(&s, &stranger, "test").is_err());
}
