//! The shape of the values every agency's API shares, checked once for all three: references
//! (cases, people, children), client request ids and dates; and how a bad value is quoted back in
//! an error — a short prefix, so that a megabyte of input never becomes a megabyte of status
//! message.

/// The longest reference (a case, a person, a child).
pub const MAX_REFERENCE_LEN: usize = 64;
/// The longest client request id (a retry carries the same one).
pub const MAX_REQUEST_ID_LEN: usize = 128;
/// The most characters of a bad value an error quotes.
const QUOTED_LEN: usize = 32;

/// `value` as an error quotes it: debug-escaped, and cut to its first few characters.
pub fn quoted(value: &str) -> String {
    let mut chars = value.chars();
    let prefix: String = chars.by_ref().take(QUOTED_LEN).collect();
    if chars.next().is_some() {
        format!("{prefix:?}… ({} characters)", value.chars().count())
    } else {
        format!("{prefix:?}")
    }
}

/// What is wrong with `value` as a reference, if anything: references name feed streams and
/// appear in ids, so they are short, printable and free of spaces.
pub fn reference_problem(value: &str) -> Option<String> {
    if value.is_empty() {
        return Some("required".to_owned());
    }
    let fits = value.len() <= MAX_REFERENCE_LEN
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    (!fits).then(|| {
        format!(
            "{} must be 1 to {MAX_REFERENCE_LEN} letters, digits, '-', '_' or '.'",
            quoted(value)
        )
    })
}

/// What is wrong with `value` as a client request id, if anything: 1 to 128 printable ASCII
/// characters, no spaces.
pub fn request_id_problem(value: &str) -> Option<String> {
    if value.is_empty() {
        return Some("required".to_owned());
    }
    let fits = value.len() <= MAX_REQUEST_ID_LEN && value.chars().all(|c| c.is_ascii_graphic());
    (!fits).then(|| {
        format!(
            "{} must be 1 to {MAX_REQUEST_ID_LEN} printable characters without spaces",
            quoted(value)
        )
    })
}

/// Whether `value` is written as an ISO date exactly, `YYYY-MM-DD` (no sign, no spaces, two-digit
/// months and days); whether it is a real date is the parser's question.
pub fn is_iso_date_form(value: &str) -> bool {
    let bytes = value.as_bytes();
    bytes.len() == 10
        && bytes.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            _ => b.is_ascii_digit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_follow_the_courts_rule() {
        for good in ["CMS-1", "FB1", "person-2", "a.b_c", &"x".repeat(64)] {
            assert_eq!(reference_problem(good), None, "{good}");
        }
        for bad in [
            "",
            " ",
            "a b",
            "a\u{0}",
            "a\nb",
            "\u{202e}x",
            &"x".repeat(65),
            "é",
        ] {
            assert!(reference_problem(bad).is_some(), "{bad:?}");
        }
    }

    #[test]
    fn a_long_bad_value_is_quoted_by_a_short_prefix() {
        let long = "x".repeat(1_000_000) + " ";
        let problem = reference_problem(&long).expect("refused");
        assert!(problem.len() < 200, "{} characters", problem.len());
        assert!(problem.contains("1000001 characters"), "{problem}");
    }

    #[test]
    fn request_ids_are_bounded_and_printable() {
        assert_eq!(request_id_problem("CMS-R1-000063/payment-12"), None);
        assert!(request_id_problem("").is_some());
        assert!(request_id_problem("a b").is_some());
        assert!(request_id_problem(&"x".repeat(129)).is_some());
    }

    #[test]
    fn only_the_exact_iso_form_is_a_date() {
        assert!(is_iso_date_form("2025-01-06"));
        for bad in [
            "+2025-01-06",
            " 2025-01-06",
            "2025-1-06",
            "2025-01-6",
            "20250106",
            "2025/01/06",
        ] {
            assert!(!is_iso_date_form(bad), "{bad:?}");
        }
    }
}
