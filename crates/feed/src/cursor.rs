//! Feed cursors: where a subscriber has got to.
//!
//! A cursor is opaque to subscribers, but holds the feed's read order: the id of the transaction that
//! wrote the event (always 0 on SQLite, where positions alone are in commit order) and the event's
//! position. The text form is versioned, `v1.<transaction id>.<position>`, so that the order can
//! change later without old cursors being misread.

use std::fmt;

/// A point in the feed: after the event at `position`, written by `transaction_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub(crate) struct Cursor {
    /// The PostgreSQL `xid8` of the writing transaction; 0 on SQLite. Compared first.
    pub(crate) transaction_id: u64,
    /// The event's position in the outbox.
    pub(crate) position: i64,
}

/// Why a cursor is not one this feed issued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a cursor from this feed: expected \"\" or \"v1.<transaction>.<position>\"")]
pub(crate) struct MalformedCursor(pub(crate) String);

impl Cursor {
    /// The start of the feed, before every event.
    pub(crate) const START: Cursor = Cursor {
        transaction_id: 0,
        position: 0,
    };

    /// Parses a cursor; the empty string is the start of the feed.
    pub(crate) fn parse(text: &str) -> Result<Cursor, MalformedCursor> {
        if text.is_empty() {
            return Ok(Cursor::START);
        }
        let malformed = || MalformedCursor(text.to_owned());
        let rest = text.strip_prefix("v1.").ok_or_else(malformed)?;
        let (transaction, position) = rest.split_once('.').ok_or_else(malformed)?;
        // Digits only: `str::parse` would also take a leading '+', which this feed never writes.
        let digits =
            |part: &str| !part.is_empty() && part.bytes().all(|byte| byte.is_ascii_digit());
        if !digits(transaction) || !digits(position) {
            return Err(malformed());
        }
        let cursor = Cursor {
            transaction_id: transaction.parse().map_err(|_| malformed())?,
            position: position.parse().map_err(|_| malformed())?,
        };
        if cursor.position == 0 {
            // Positions start at 1; "v1.0.0" would be a second spelling of the start.
            return Err(malformed());
        }
        Ok(cursor)
    }
}

impl fmt::Display for Cursor {
    /// The start of the feed is written as the empty string, as subscribers send it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == Cursor::START {
            Ok(())
        } else {
            write!(f, "v1.{}.{}", self.transaction_id, self.position)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn every_cursor_round_trips_through_its_text(
            transaction_id in any::<u64>(),
            position in 0_i64..=i64::MAX,
        ) {
            let cursor = Cursor { transaction_id, position };
            prop_assert_eq!(Cursor::parse(&cursor.to_string()), Ok(cursor));
        }

        #[test]
        fn any_text_is_a_cursor_only_in_the_form_the_feed_writes(
            text in prop_oneof!["v1\\.[0-9]{1,21}\\.[0-9]{1,20}", "v?1?\\.?[+ 0-9-]{0,8}\\.?[+ 0-9a-f-]{0,8}", "\\PC{0,40}"],
        ) {
            // Never a panic; what parses is written back as exactly the text given (or is the start).
            if let Ok(cursor) = Cursor::parse(&text) {
                let written = cursor.to_string();
                prop_assert!(
                    written == text || (cursor == Cursor::START && text.is_empty())
                        || text.trim_start_matches("v1.").split('.').any(|part| part.starts_with('0')),
                    "{text:?} parsed as {cursor:?}, written {written:?}"
                );
            }
        }
    }

    #[test]
    fn cursors_round_trip_and_order_by_transaction_then_position() {
        let cursor = Cursor {
            transaction_id: 812,
            position: 5,
        };
        assert_eq!(cursor.to_string(), "v1.812.5");
        assert_eq!(Cursor::parse("v1.812.5"), Ok(cursor));
        assert_eq!(Cursor::parse(""), Ok(Cursor::START));
        assert_eq!(Cursor::START.to_string(), "");
        assert!(
            Cursor::parse("v1.811.9").expect("parses") < cursor,
            "an earlier transaction comes first whatever its position"
        );
    }

    #[test]
    fn anything_else_is_malformed() {
        for bad in [
            "v1",
            "v1.",
            "v1.1",
            "v1.1.",
            "v1..1",
            "v2.1.1",
            "v1.+1.1",
            "v1.1.-1",
            "v1.a.1",
            "v1.0.0",
            "v1.1.1.1",
            "1.1",
            " v1.1.1",
            "v1.1.99999999999999999999",
        ] {
            assert_eq!(
                Cursor::parse(bad),
                Err(MalformedCursor(bad.to_owned())),
                "{bad}"
            );
        }
    }
}
