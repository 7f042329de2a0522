//! Percentages and fractions: the two kinds of proportion the legislation uses.
//!
//! Rates and fees are percentages ("12%", "14.1%"); the shared-care decreases are fractions
//! ("1/7", "3/7") that have no exact decimal form. Keeping a fraction as numerator and denominator
//! lets the calculation multiply first and divide once, so the result is exact whenever it can be.

use std::fmt;

use rust_decimal::Decimal;

/// The most decimal places a percentage may be written with ("14.1" or "17.125" are fine).
const MAX_PERCENT_DECIMALS: usize = 6;

/// The largest denominator a shared-care fraction may have.
///
/// Why a limit: the calculation works over a common denominator of the four band fractions, and
/// this keeps that product (and everything multiplied by it) well inside `Decimal`'s range.
pub const MAX_DENOMINATOR: u32 = 1000;

/// A percentage between 0% and 100%, held as the exact fraction (12% is held as 0.12).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Percentage(Decimal);

impl Percentage {
    /// 0%.
    pub const ZERO: Percentage = Percentage(Decimal::ZERO);

    /// Parses a percentage written as a plain number of percent: `"12"`, `"14.1"`, `"0"`, `"100"`.
    ///
    /// No sign, exponent or `%` sign; at most six decimals; at most 100.
    pub fn parse_percent(text: &str) -> Result<Percentage, String> {
        let (whole, decimals) = text.split_once('.').unwrap_or((text, ""));
        let digits_ok = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits_ok(whole) || (text.contains('.') && !digits_ok(decimals)) {
            return Err(format!(
                "{text:?} is not a percentage: write a plain number such as \"12\" or \"14.1\""
            ));
        }
        if decimals.len() > MAX_PERCENT_DECIMALS {
            return Err(format!(
                "{text:?} has more than {MAX_PERCENT_DECIMALS} decimal places"
            ));
        }
        if whole.trim_start_matches('0').len() > 3 {
            return Err(format!("{text:?} is more than 100%"));
        }
        let percent = Decimal::from_str_exact(text).map_err(|e| format!("{text:?}: {e}"))?;
        Percentage::from_percent(percent).ok_or_else(|| format!("{text:?} is more than 100%"))
    }

    /// A percentage from a number of percent (`dec!(12)` is 12%); `None` outside 0..=100.
    pub fn from_percent(percent: Decimal) -> Option<Percentage> {
        if percent.is_sign_negative() && !percent.is_zero() || percent > Decimal::ONE_HUNDRED {
            return None;
        }
        let mut fraction = percent / Decimal::ONE_HUNDRED;
        fraction.set_sign_positive(true);
        Some(Percentage(fraction.normalize()))
    }

    /// The proportion as a fraction of one (12% → 0.12): what amounts are multiplied by.
    pub fn as_fraction(self) -> Decimal {
        self.0
    }

    /// The number of percent (0.12 → 12).
    pub fn as_percent(self) -> Decimal {
        (self.0 * Decimal::ONE_HUNDRED).normalize()
    }

    /// `amount × percentage`, exactly.
    pub fn of(self, amount: Decimal) -> Decimal {
        amount * self.0
    }
}

impl fmt::Display for Percentage {
    /// "12%", "14.1%".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", self.as_percent())
    }
}

/// A proper fraction `numerator / denominator` (for example the 1/7 shared-care decrease).
///
/// Invariant: `1 <= denominator <= MAX_DENOMINATOR` and `numerator <= denominator`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Fraction {
    numerator: u32,
    denominator: u32,
}

impl Fraction {
    /// A fraction from its parts; `None` if the denominator is 0 or above [`MAX_DENOMINATOR`], or
    /// the fraction is above one.
    pub const fn new(numerator: u32, denominator: u32) -> Option<Fraction> {
        if denominator == 0 || denominator > MAX_DENOMINATOR || numerator > denominator {
            return None;
        }
        Some(Fraction {
            numerator,
            denominator,
        })
    }

    /// Parses `"1/7"` (digits, a slash, digits).
    pub fn parse(text: &str) -> Result<Fraction, String> {
        let bad = || format!("{text:?} is not a fraction: write it as \"1/7\"");
        let (n, d) = text.split_once('/').ok_or_else(bad)?;
        let digits_ok =
            |s: &str| !s.is_empty() && s.len() <= 9 && s.bytes().all(|b| b.is_ascii_digit());
        if !digits_ok(n) || !digits_ok(d) {
            return Err(bad());
        }
        let numerator: u32 = n.parse().map_err(|_| bad())?;
        let denominator: u32 = d.parse().map_err(|_| bad())?;
        Fraction::new(numerator, denominator).ok_or_else(|| {
            format!(
                "{text:?} must be between 0 and 1 with a denominator from 1 to {MAX_DENOMINATOR}"
            )
        })
    }

    /// The numerator.
    pub const fn numerator(self) -> u32 {
        self.numerator
    }

    /// The denominator.
    pub const fn denominator(self) -> u32 {
        self.denominator
    }

    /// `amount × numerator / denominator`, multiplying first so that the result is exact whenever
    /// it has a finite decimal form.
    pub fn of(self, amount: Decimal) -> Decimal {
        amount * Decimal::from(self.numerator) / Decimal::from(self.denominator)
    }
}

impl fmt::Display for Fraction {
    /// "1/7".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.numerator, self.denominator)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn percentages_parse_and_display() {
        assert_eq!(
            Percentage::parse_percent("12").map(|p| p.as_fraction()),
            Ok(dec!(0.12))
        );
        assert_eq!(
            Percentage::parse_percent("14.1").map(|p| p.to_string()),
            Ok("14.1%".to_owned())
        );
        assert_eq!(
            Percentage::parse_percent("17.0").map(|p| p.to_string()),
            Ok("17%".to_owned())
        );
        assert_eq!(
            Percentage::parse_percent("100").map(|p| p.as_fraction()),
            Ok(dec!(1))
        );
        assert_eq!(
            Percentage::parse_percent("0").map(|p| p.to_string()),
            Ok("0%".to_owned())
        );
        for bad in [
            "",
            "-1",
            "+1",
            "1e2",
            "12%",
            "100.01",
            "1000",
            "abc",
            "1.",
            ".5",
            "0.1234567",
        ] {
            assert!(
                Percentage::parse_percent(bad).is_err(),
                "{bad:?} should fail"
            );
        }
    }

    #[test]
    fn fractions_parse_and_multiply_exactly() {
        let seventh = Fraction::parse("1/7");
        assert_eq!(
            seventh,
            Ok(Fraction {
                numerator: 1,
                denominator: 7
            })
        );
        assert_eq!(Fraction::parse("6/7").map(|f| f.of(dec!(49))), Ok(dec!(42)));
        assert_eq!(
            Fraction::parse("1/2").map(|f| f.to_string()),
            Ok("1/2".to_owned())
        );
        for bad in [
            "", "1", "1/0", "8/7", "1/1001", "-1/7", "1 / 7", "a/b", "1/7/2",
        ] {
            assert!(Fraction::parse(bad).is_err(), "{bad:?} should fail");
        }
    }
}
