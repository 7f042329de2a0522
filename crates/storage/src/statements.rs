//! Multi-row statements: the placeholders for a list of values or of rows, written once, so that a
//! batch writes (or reads) hundreds of rows a statement on either backend. Only placeholders are
//! formatted into a statement's text; every value is bound.
//!
//! Each backend gets the placeholders it handles fastest. PostgreSQL numbers them, `$1`. SQLite
//! takes `$1` as a *name*, and looks every name up among those already seen, as it parses, then
//! again as each value is bound: a statement of a few thousand `$n` costs millions of string
//! comparisons (a tenth of a run's CPU was once spent so). So for SQLite the rows of an `INSERT`
//! are anonymous, `?`, bound in order with no lookup, and a list that follows other parameters is
//! numbered `?n`, which SQLite numbers without a lookup as it parses.
//!
//! A statement's text depends on how many rows it carries, and each connection keeps only so many
//! prepared statements (sqlx's cache, a hundred): a text for every row count would have nearly
//! every batch's statements parsed and planned afresh. So rows to write are cut into [`runs`]
//! whose lengths are powers of two, and the values of an `IN (…)` list are padded to a power of
//! two ([`in_lists`]): a handful of texts for each statement, which stay prepared.

use crate::Backend;

/// `count` placeholders for the parameters numbered from `first`, comma-separated: on PostgreSQL
/// `$3, $4, $5`, on SQLite `?3, ?4, ?5`. The statement's other parameters are written `$n`.
pub fn placeholders(backend: Backend, count: usize, first: usize) -> String {
    let sign = match backend {
        Backend::Postgres => '$',
        Backend::Sqlite => '?',
    };
    (first..first + count)
        .map(|number| format!("{sign}{number}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The placeholders of `rows` rows of `columns` values each, the statement's only parameters, in
/// the order they are bound: on PostgreSQL `($1, $2), ($3, $4)`, on SQLite `(?, ?), (?, ?)` — for
/// `INSERT … VALUES` of many rows.
pub fn value_rows(backend: Backend, rows: usize, columns: usize) -> String {
    (0..rows)
        .map(|row| match backend {
            Backend::Postgres => format!("({})", placeholders(backend, columns, row * columns + 1)),
            Backend::Sqlite => format!("({})", vec!["?"; columns].join(", ")),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Cuts `rows` into runs of at most `most` (a power of two), one statement each, every run's
/// length a power of two: 300 rows at most 512 go as 256, 32, 8 and 4.
pub fn runs<T>(rows: &[T], most: usize) -> impl Iterator<Item = &[T]> {
    debug_assert!(most.is_power_of_two(), "{most} is not a power of two");
    let mut rest = rows;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let length = most.min(1 << rest.len().ilog2());
        let (run, after) = rest.split_at(length);
        rest = after;
        Some(run)
    })
}

/// Cuts the values of an `IN (…)` list into lists of at most `most` (a power of two), each padded
/// to a power of two by repeating its last value, which changes nothing an `IN` matches: 300
/// values at most 512 go as one list of 512.
pub fn in_lists<T>(values: &[T], most: usize) -> impl Iterator<Item = Vec<&T>> {
    debug_assert!(most.is_power_of_two(), "{most} is not a power of two");
    values.chunks(most).map(|chunk| {
        let mut list: Vec<&T> = chunk.iter().collect();
        if let Some(last) = chunk.last() {
            list.resize(chunk.len().next_power_of_two(), last);
        }
        list
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgresql_placeholders_are_numbered_on_from_the_first() {
        assert_eq!(placeholders(Backend::Postgres, 3, 3), "$3, $4, $5");
        assert_eq!(value_rows(Backend::Postgres, 2, 2), "($1, $2), ($3, $4)");
        assert_eq!(value_rows(Backend::Postgres, 0, 4), "");
    }

    #[test]
    fn sqlite_rows_are_anonymous_and_its_lists_numbered_without_names() {
        assert_eq!(placeholders(Backend::Sqlite, 3, 3), "?3, ?4, ?5");
        assert_eq!(value_rows(Backend::Sqlite, 2, 2), "(?, ?), (?, ?)");
        assert_eq!(value_rows(Backend::Sqlite, 0, 4), "");
    }

    #[test]
    fn rows_go_in_runs_of_powers_of_two_no_longer_than_the_most() {
        let rows: Vec<u32> = (0..1300).collect();
        let lengths: Vec<usize> = runs(&rows, 512).map(<[u32]>::len).collect();
        assert_eq!(lengths, [512, 512, 256, 16, 4]);
        let joined: Vec<u32> = runs(&rows, 512).flatten().copied().collect();
        assert_eq!(joined, rows);
        assert_eq!(runs(&rows[..1], 512).count(), 1);
        assert_eq!(runs(&rows[..0], 512).count(), 0);
    }

    #[test]
    fn an_in_list_is_padded_to_a_power_of_two_with_its_last_value() {
        let values: Vec<u32> = (0..1300).collect();
        let lists: Vec<Vec<&u32>> = in_lists(&values, 512).collect();
        let lengths: Vec<usize> = lists.iter().map(Vec::len).collect();
        assert_eq!(lengths, [512, 512, 512]);
        assert_eq!(lists[2][275], &1299);
        assert_eq!(lists[2][511], &1299);
        let mut seen: Vec<u32> = lists.into_iter().flatten().copied().collect();
        seen.dedup();
        assert_eq!(seen, values);
        assert_eq!(in_lists(&values[..0], 512).count(), 0);
    }
}
