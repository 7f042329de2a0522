//! Nights a year a qualifying child stays with the paying parent: the measure shared care is
//! decided on (CSA 1991 Sch 1 para 7; 2012 Regs reg 46).
//!
//! The number is always a whole count over a year of 365 nights, so a [`Nights`] value can only
//! hold 0 to 365.

use std::fmt;

/// The most nights a [`Nights`] value can hold: a whole year.
pub const MAX_NIGHTS: u32 = 365;

/// A number of nights in a year, 0 to 365.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Nights(u16);

/// Why a number is not a valid [`Nights`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NightsError {
    /// More nights than a year has.
    #[error("{nights} nights is more than the {MAX_NIGHTS} nights in a year")]
    MoreThanAYear {
        /// The number given.
        nights: u32,
    },
}

impl Nights {
    /// No nights with the paying parent.
    pub const ZERO: Nights = Nights(0);

    /// A count of nights; an error above 365.
    pub const fn new(nights: u32) -> Result<Nights, NightsError> {
        if nights > MAX_NIGHTS {
            return Err(NightsError::MoreThanAYear { nights });
        }
        // Cannot truncate: nights <= 365.
        Ok(Nights(nights as u16))
    }

    /// The number of nights.
    pub const fn get(self) -> u32 {
        self.0 as u32
    }
}

impl fmt::Display for Nights {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl TryFrom<u32> for Nights {
    type Error = NightsError;

    fn try_from(nights: u32) -> Result<Self, Self::Error> {
        Nights::new(nights)
    }
}

impl From<Nights> for u32 {
    fn from(nights: Nights) -> Self {
        nights.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_a_whole_year_and_no_more() {
        assert_eq!(Nights::new(0).map(Nights::get), Ok(0));
        assert_eq!(Nights::new(365).map(Nights::get), Ok(365));
        assert_eq!(
            Nights::new(366),
            Err(NightsError::MoreThanAYear { nights: 366 })
        );
        assert_eq!(
            Nights::new(u32::MAX),
            Err(NightsError::MoreThanAYear { nights: u32::MAX })
        );
        assert_eq!(
            Nights::new(400).err().map(|e| e.to_string()),
            Some("400 nights is more than the 365 nights in a year".to_owned())
        );
    }
}
