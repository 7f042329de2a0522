//! Multi-row statements: the numbered placeholders for a list of values or of rows, written once,
//! so that a batch writes (or reads) hundreds of rows a statement on either backend. Only
//! placeholders are formatted into a statement's text; every value is bound.

/// `count` numbered placeholders from `$first`, comma-separated: `$3, $4, $5`.
pub fn placeholders(count: usize, first: usize) -> String {
    (first..first + count)
        .map(|number| format!("${number}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The placeholders of `rows` rows of `columns` values each, numbered from `$1`:
/// `($1, $2), ($3, $4)` — for `INSERT … VALUES` of many rows.
pub fn value_rows(rows: usize, columns: usize) -> String {
    (0..rows)
        .map(|row| format!("({})", placeholders(columns, row * columns + 1)))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_on_from_the_first() {
        assert_eq!(placeholders(3, 3), "$3, $4, $5");
        assert_eq!(value_rows(2, 2), "($1, $2), ($3, $4)");
        assert_eq!(value_rows(0, 4), "");
    }
}
