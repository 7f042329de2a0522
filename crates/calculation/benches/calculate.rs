//! Benchmark: one calculation over a mixed batch of 1,000 prebuilt inputs (every rate, shared care,
//! equal care, several receiving parents, Collect and Pay), reported per calculation.
//!
//! Target: under 1 µs per calculation on one core.

use std::hint::black_box;

use chrono::NaiveDate;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use familybridge_calculation::{
    CalculationInput, Collection, IncomeEvidence, Money, Nights, NilRateCategory, ParameterBook,
    ReceivingParent, calculate,
};

/// A small deterministic generator (xorshift), so the batch is the same on every run without a
/// dependency on a random-number crate.
struct Xorshift(u64);

impl Xorshift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn nights(rng: &mut Xorshift) -> Nights {
    let n = match rng.below(10) {
        0..=4 => 0,
        5 => 60,
        6 => 120,
        7 => 160,
        8 => 175 + rng.below(7) as u32,
        _ => rng.below(366) as u32,
    };
    Nights::new(n).unwrap_or_default()
}

fn batch() -> Vec<CalculationInput> {
    let mut rng = Xorshift(0x9E37_79B9_7F4A_7C15);
    (0..1000)
        .map(|_| {
            let income = match rng.below(12) {
                0 => IncomeEvidence::NotProvided,
                1 => IncomeEvidence::Known(Money::from_pence(rng.below(700))), // nil
                2 => IncomeEvidence::Known(Money::from_pence(700 + rng.below(9_301))), // flat
                3 | 4 => IncomeEvidence::Known(Money::from_pence(10_001 + rng.below(9_999))), // reduced
                5..=8 => IncomeEvidence::Known(Money::from_pence(20_000 + rng.below(60_000))), // basic
                9 | 10 => IncomeEvidence::Known(Money::from_pence(80_001 + rng.below(220_000))), // basic plus
                _ => IncomeEvidence::Known(Money::from_pence(300_001 + rng.below(1_000_000))), // capped
            };
            let parents = match rng.below(10) {
                0..=6 => 1,
                7 | 8 => 2,
                _ => 3,
            };
            let rps = (0..parents)
                .map(|_| {
                    ReceivingParent::new((0..1 + rng.below(3)).map(|_| nights(&mut rng)).collect())
                })
                .collect();
            let category = (rng.below(40) == 0).then_some(NilRateCategory::InPrison);
            let collection = if rng.below(2) == 0 {
                Collection::DirectPay
            } else {
                Collection::CollectAndPay
            };
            CalculationInput::new(
                income,
                rng.below(4) as u32,
                rng.below(10) == 0,
                category,
                rps,
                collection,
            )
            .unwrap_or_else(|e| panic!("{e}"))
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let date = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap_or_default();
    let params = ParameterBook::statutory()
        .in_force_on(date)
        .unwrap_or_else(|e| panic!("{e}"));
    let inputs = batch();
    let mut group = c.benchmark_group("calculate");
    group.throughput(Throughput::Elements(inputs.len() as u64));
    group.bench_function("mixed_batch_of_1000", |b| {
        b.iter(|| {
            for input in &inputs {
                black_box(calculate(black_box(input), black_box(&params)));
            }
        })
    });
    group.finish();

    let mut group = c.benchmark_group("parameters");
    group.bench_function("in_force_on", |b| {
        b.iter(|| black_box(ParameterBook::statutory().in_force_on(black_box(date))))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
