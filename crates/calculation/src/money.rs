//! Money: a weekly (or one-off) amount in pounds and pence.
//!
//! Every amount the calculation hands out is a [`Money`]: never negative, always whole pence, shown
//! with two decimal places ("517.81"). The arithmetic in between is done on exact
//! [`rust_decimal::Decimal`] values (never binary floating point, which cannot hold 0.1 exactly),
//! and only the final figures are turned back into `Money` by [`Money::round_half_up_to_penny`].

use std::fmt;
use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

/// The largest number of whole-pound digits [`Money::parse`] accepts (up to £999,999,999,999.99).
///
/// Why a limit: it keeps every product the calculation forms far inside `Decimal`'s range, so no
/// input can make the arithmetic overflow; no real weekly income comes near it.
pub const MAX_POUND_DIGITS: usize = 12;

/// A non-negative amount of money in whole pence.
///
/// Invariant: the inner decimal is `>= 0` and has exactly two decimal places, so `Display` always
/// prints pounds and pence ("7.00", "517.81").
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Money(Decimal);

/// Why a piece of text or a decimal is not a valid [`Money`] amount.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// The text was empty.
    #[error("an amount is required, in pounds and pence such as \"517.81\"")]
    Empty,
    /// The amount was negative (text starting with "-", or a negative decimal).
    #[error("{text:?} is negative: amounts of money cannot be below zero")]
    Negative {
        /// The offending text.
        text: String,
    },
    /// More than two digits after the decimal point.
    #[error("{text:?} has more than 2 decimal places: give pounds and pence, such as \"517.81\"")]
    TooManyDecimalPlaces {
        /// The offending text.
        text: String,
    },
    /// More whole-pound digits than [`MAX_POUND_DIGITS`].
    #[error("{text:?} is too large: at most {MAX_POUND_DIGITS} digits of whole pounds")]
    TooLarge {
        /// The offending text.
        text: String,
    },
    /// Anything else: letters, signs, exponents, thousands separators, spaces, "NaN".
    #[error(
        "{text:?} is not an amount in pounds and pence: use digits with an optional \".\" and 1 or 2 decimals, \
         no sign, exponent, spaces or thousands separators (such as \"517.81\")"
    )]
    InvalidFormat {
        /// The offending text.
        text: String,
    },
}

impl Money {
    /// Zero pounds, zero pence.
    pub const ZERO: Money = Money(Decimal::from_parts(0, 0, 0, false, 2));

    /// Parses pounds and pence written the way a person or a form would: `"517.81"`, `"517.8"`,
    /// `"517"`, `"0.05"`.
    ///
    /// Rejected, with a typed [`MoneyError`]: `""`, any sign (`"-1"`, `"+1"`), more than two
    /// decimals (`"1.234"`), exponents (`"1e3"`), thousands separators (`"1,000"`), spaces, a bare
    /// point (`"5."`, `".5"`), `"NaN"`, and more than [`MAX_POUND_DIGITS`] whole-pound digits.
    pub fn parse(text: &str) -> Result<Money, MoneyError> {
        if text.is_empty() {
            return Err(MoneyError::Empty);
        }
        if text.starts_with('-') {
            return Err(MoneyError::Negative {
                text: text.to_owned(),
            });
        }
        let invalid = || MoneyError::InvalidFormat {
            text: text.to_owned(),
        };
        let (pounds, pence) = match text.split_once('.') {
            Some((pounds, pence)) => (pounds, Some(pence)),
            None => (text, None),
        };
        if pounds.is_empty() || !pounds.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid());
        }
        let pence_digits = match pence {
            None => "",
            Some(p) if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) => {
                return Err(invalid());
            }
            Some(p) if p.len() > 2 => {
                return Err(MoneyError::TooManyDecimalPlaces {
                    text: text.to_owned(),
                });
            }
            Some(p) => p,
        };
        let significant = pounds.trim_start_matches('0');
        if significant.len() > MAX_POUND_DIGITS {
            return Err(MoneyError::TooLarge {
                text: text.to_owned(),
            });
        }
        // Both parts are now at most 12 and 2 ASCII digits, so these conversions cannot fail and
        // the total fits easily in a u64 number of pence.
        let whole: u64 = if significant.is_empty() {
            0
        } else {
            significant.parse().map_err(|_| invalid())?
        };
        let mut fraction: u64 = if pence_digits.is_empty() {
            0
        } else {
            pence_digits.parse().map_err(|_| invalid())?
        };
        if pence_digits.len() == 1 {
            fraction *= 10; // "517.8" is 80 pence, not 8
        }
        Ok(Money::from_pence(whole * 100 + fraction))
    }

    /// An amount given as a whole number of pence (`from_pence(5781)` is £57.81).
    pub fn from_pence(pence: u64) -> Money {
        Money(Decimal::from_i128_with_scale(i128::from(pence), 2))
    }

    /// An exact decimal that is already a whole number of pence and not negative.
    pub fn try_from_decimal(value: Decimal) -> Result<Money, MoneyError> {
        if value.is_sign_negative() && !value.is_zero() {
            return Err(MoneyError::Negative {
                text: value.to_string(),
            });
        }
        let normalized = value.normalize();
        if normalized.scale() > 2 {
            return Err(MoneyError::TooManyDecimalPlaces {
                text: value.to_string(),
            });
        }
        Ok(Money::with_two_places(normalized))
    }

    /// Rounds an exact, non-negative amount to the penny, half a penny or more going up
    /// (the "fractions of a penny" rule of SI 2014/612 and its NI mirror SR 2014/182 reg 3(5),
    /// which this project also uses for each receiving parent's weekly amount).
    ///
    /// A negative amount is an error: no statutory figure is ever negative.
    pub fn round_half_up_to_penny(value: Decimal) -> Result<Money, MoneyError> {
        if value.is_sign_negative() && !value.is_zero() {
            return Err(MoneyError::Negative {
                text: value.to_string(),
            });
        }
        Ok(Money::round_non_negative(value))
    }

    /// Rounds half up to the penny, treating a negative amount as zero.
    ///
    /// Only for places where the calculation has already made sure the amount is not negative
    /// (it clamps, and explains the clamp, before it rounds), so the clamp here never fires.
    pub(crate) fn round_non_negative(value: Decimal) -> Money {
        if value.is_sign_negative() {
            return Money::ZERO;
        }
        // MidpointAwayFromZero on a non-negative number is "half up".
        Money::with_two_places(
            value.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero),
        )
    }

    /// Wraps a non-negative decimal with at most two decimal places, fixing the scale at two so
    /// that `Display` always shows pence.
    fn with_two_places(mut value: Decimal) -> Money {
        value.rescale(2);
        // "-0.00" can come out of some decimal operations; money has no negative zero.
        value.set_sign_positive(true);
        Money(value)
    }

    /// The amount as an exact decimal, for arithmetic.
    pub fn as_decimal(self) -> Decimal {
        self.0
    }

    /// True for £0.00.
    pub fn is_zero(self) -> bool {
        self.0.is_zero()
    }
}

impl Default for Money {
    fn default() -> Self {
        Money::ZERO
    }
}

impl fmt::Display for Money {
    /// Pounds and pence without a currency sign, always two decimals: "517.81", "7.00".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl FromStr for Money {
    type Err = MoneyError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Money::parse(text)
    }
}

impl TryFrom<String> for Money {
    type Error = MoneyError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Money::parse(&text)
    }
}

impl From<Money> for String {
    fn from(money: Money) -> Self {
        money.to_string()
    }
}

impl From<Money> for Decimal {
    fn from(money: Money) -> Self {
        money.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn parses_pounds_and_pence() {
        assert_eq!(
            Money::parse("517.81").map(|m| m.to_string()),
            Ok("517.81".to_owned())
        );
        assert_eq!(
            Money::parse("517.8").map(|m| m.to_string()),
            Ok("517.80".to_owned())
        );
        assert_eq!(
            Money::parse("517").map(|m| m.to_string()),
            Ok("517.00".to_owned())
        );
        assert_eq!(
            Money::parse("0").map(|m| m.to_string()),
            Ok("0.00".to_owned())
        );
        assert_eq!(
            Money::parse("0.05").map(|m| m.to_string()),
            Ok("0.05".to_owned())
        );
        assert_eq!(
            Money::parse("007.10").map(|m| m.to_string()),
            Ok("7.10".to_owned())
        );
        assert_eq!(
            Money::parse("999999999999.99").map(|m| m.to_string()),
            Ok("999999999999.99".to_owned())
        );
        assert_eq!(Money::parse("517.81"), Ok(Money::from_pence(51781)));
    }

    #[test]
    fn rejects_everything_else_with_a_typed_error() {
        assert_eq!(Money::parse(""), Err(MoneyError::Empty));
        assert!(matches!(
            Money::parse("-1"),
            Err(MoneyError::Negative { .. })
        ));
        assert!(matches!(
            Money::parse("-0.01"),
            Err(MoneyError::Negative { .. })
        ));
        assert!(matches!(
            Money::parse("1.234"),
            Err(MoneyError::TooManyDecimalPlaces { .. })
        ));
        assert!(matches!(
            Money::parse("1000000000000"),
            Err(MoneyError::TooLarge { .. })
        ));
        for bad in [
            "abc", "NaN", "nan", "inf", "+1", "1e3", "1E3", "1,000", "1 000", " 1", "1 ", "5.",
            ".5", "1.2.3", "£5", "١٢", "0x10", "1_000",
        ] {
            assert!(
                matches!(Money::parse(bad), Err(MoneyError::InvalidFormat { .. })),
                "{bad:?} should be rejected as invalid format, got {:?}",
                Money::parse(bad)
            );
        }
    }

    #[test]
    fn error_messages_say_what_is_wrong() {
        let message = Money::parse("1.234")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(message.contains("more than 2 decimal places"), "{message}");
    }

    #[test]
    fn rounds_half_up_to_the_penny() {
        let r = |d: Decimal| Money::round_half_up_to_penny(d).map(|m| m.to_string());
        assert_eq!(r(dec!(2.225)), Ok("2.23".to_owned()));
        assert_eq!(r(dec!(2.2249999)), Ok("2.22".to_owned()));
        assert_eq!(r(dec!(58.142857142857)), Ok("58.14".to_owned()));
        assert_eq!(r(dec!(7)), Ok("7.00".to_owned()));
        assert_eq!(r(dec!(0.005)), Ok("0.01".to_owned()));
        assert_eq!(r(dec!(0.0049)), Ok("0.00".to_owned()));
        assert!(matches!(
            Money::round_half_up_to_penny(dec!(-0.01)),
            Err(MoneyError::Negative { .. })
        ));
        assert_eq!(Money::round_non_negative(dec!(-3)), Money::ZERO);
    }

    #[test]
    fn decimals_must_be_whole_pence() {
        assert_eq!(
            Money::try_from_decimal(dec!(7.500)).map(|m| m.to_string()),
            Ok("7.50".to_owned())
        );
        assert!(Money::try_from_decimal(dec!(7.505)).is_err());
        assert!(Money::try_from_decimal(dec!(-1)).is_err());
        assert_eq!(Money::try_from_decimal(dec!(-0)), Ok(Money::ZERO));
    }

    #[test]
    fn zero_displays_with_pence() {
        assert_eq!(Money::ZERO.to_string(), "0.00");
        assert_eq!(Money::default(), Money::ZERO);
    }

    #[test]
    fn serialises_as_a_string() {
        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        struct Wrapper {
            amount: Money,
        }
        let text = toml::to_string(&Wrapper {
            amount: Money::from_pence(700),
        })
        .unwrap_or_default();
        assert_eq!(text.trim(), "amount = \"7.00\"");
        let back: Result<Wrapper, _> = toml::from_str("amount = \"1.234\"");
        assert!(back.is_err());
    }
}
