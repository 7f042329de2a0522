//! The shape of the values every agency's API shares, checked once for all three: references
//! (cases, people, children), client request ids and dates; the bounds every request keeps — no
//! string longer than [`MAX_TEXT_LEN`] bytes or holding control or bidirectional-override
//! characters, no repeated field longer than [`MAX_REPEATED`] ([`bounds_problem`], which every
//! server's codec applies to every request, `crate::codec`); and how a bad value is quoted back in
//! an error — a short prefix, so that a megabyte of input never becomes a megabyte of status
//! message.

use prost_reflect::{DynamicMessage, Value};

/// The longest reference (a case, a person, a child).
pub const MAX_REFERENCE_LEN: usize = 64;
/// The longest client request id (a retry carries the same one).
pub const MAX_REQUEST_ID_LEN: usize = 128;
/// The longest string any request field may hold, in bytes: room for a page of narrative (a
/// safeguarding note, a pause's reason), far short of what would let one call fill a database.
pub const MAX_TEXT_LEN: usize = 4096;
/// The most values any repeated request field may hold: a batch's entries (as many as the
/// command executor takes at once), and far more than any list of children or arrangements.
pub const MAX_REPEATED: usize = 4096;
/// The most characters of a bad value an error quotes.
const QUOTED_LEN: usize = 32;

/// What is wrong with `text` as the value of a request's string field, if anything: too long, or
/// holding characters that no field of these APIs has a use for and that can disguise what a
/// record says when it is read back (control characters other than newline, carriage return and
/// tab; bidirectional overrides and isolates).
pub fn text_problem(text: &str) -> Option<String> {
    if text.len() > MAX_TEXT_LEN {
        return Some(format!(
            "{} is longer than {MAX_TEXT_LEN} bytes",
            quoted(text)
        ));
    }
    let forbidden = |c: char| {
        (c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    text.chars().any(forbidden).then(|| {
        format!(
            "{} holds a control or bidirectional-override character",
            quoted(text)
        )
    })
}

/// What is wrong with an encoded request of type `type_name` (its full proto name) against the
/// bounds every request keeps, naming the field (`arrangements[2].child_ref: …`), if anything. A
/// type the APIs do not define, or bytes that do not decode, are left to the message's own decoder.
pub fn bounds_problem(type_name: &str, encoded: &[u8]) -> Option<String> {
    let descriptor = crate::json::descriptor_pool().get_message_by_name(type_name)?;
    let message = DynamicMessage::decode(descriptor, encoded).ok()?;
    message_problem(&message, "")
}

fn message_problem(message: &DynamicMessage, path: &str) -> Option<String> {
    message.fields().find_map(|(field, value)| {
        let name = if path.is_empty() {
            field.name().to_owned()
        } else {
            format!("{path}.{}", field.name())
        };
        value_problem(value, &name)
    })
}

fn value_problem(value: &Value, name: &str) -> Option<String> {
    match value {
        Value::String(text) => text_problem(text).map(|problem| format!("{name}: {problem}")),
        Value::Bytes(bytes) if bytes.len() > MAX_TEXT_LEN => Some(format!(
            "{name}: {} bytes, more than {MAX_TEXT_LEN}",
            bytes.len()
        )),
        Value::Message(message) => message_problem(message, name),
        Value::List(values) if values.len() > MAX_REPEATED => Some(format!(
            "{name}: {} values, more than {MAX_REPEATED}",
            values.len()
        )),
        Value::List(values) => values
            .iter()
            .enumerate()
            .find_map(|(index, value)| value_problem(value, &format!("{name}[{index}]"))),
        Value::Map(entries) if entries.len() > MAX_REPEATED => Some(format!(
            "{name}: {} entries, more than {MAX_REPEATED}",
            entries.len()
        )),
        Value::Map(entries) => entries
            .values()
            .find_map(|value| value_problem(value, name)),
        _ => None,
    }
}

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
    use prost::{Message, Name};

    #[test]
    fn every_request_string_and_list_is_bounded_and_named() {
        use crate::court::v1::{ChildArrangement, MakeOrderRequest};
        let request = |child_ref: String, children: usize| MakeOrderRequest {
            arrangements: vec![
                ChildArrangement {
                    child_ref,
                    ..ChildArrangement::default()
                };
                children
            ],
            ..MakeOrderRequest::default()
        };
        let problem = |message: MakeOrderRequest| {
            bounds_problem(&MakeOrderRequest::full_name(), &message.encode_to_vec())
        };
        assert_eq!(problem(request("child-1".to_owned(), 3)), None);
        let long = problem(request("x".repeat(MAX_TEXT_LEN + 1), 2)).expect("too long");
        assert!(long.starts_with("arrangements[0].child_ref: "), "{long}");
        assert!(long.len() < 200, "quoted in full: {long}");
        let hidden = problem(request("a\u{202e}b".to_owned(), 1)).expect("a bidi override");
        assert!(
            hidden.starts_with("arrangements[0].child_ref: "),
            "{hidden}"
        );
        let many = problem(request("c".to_owned(), MAX_REPEATED + 1)).expect("too many");
        assert!(many.starts_with("arrangements: "), "{many}");
        assert_eq!(text_problem("two lines\nand a tab\t"), None);
        assert!(text_problem("nul\0").is_some());
    }

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
