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
}
