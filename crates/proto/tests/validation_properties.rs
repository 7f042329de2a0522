//! Properties of the shared request validation, over arbitrary input: it never panics, accepts
//! exactly what its rules describe, and never quotes more than a short prefix of a bad value.

use familybridge_proto::validate::{
    MAX_REFERENCE_LEN, MAX_TEXT_LEN, bounds_problem, is_iso_date_form, reference_problem,
    request_id_problem, text_problem,
};
use proptest::prelude::*;

/// The longest refusal any check may write, whatever the value: a short quoted prefix, the value's
/// length and the rule.
const MAX_MESSAGE_LEN: usize = 300;

fn forbidden(c: char) -> bool {
    (c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn text_is_refused_exactly_when_too_long_or_holding_a_forbidden_character(
        text in prop_oneof![".{0,64}", "\\PC{0,64}", ".{4090,4100}"],
    ) {
        let refused = text_problem(&text);
        let should = text.len() > MAX_TEXT_LEN || text.chars().any(forbidden);
        prop_assert_eq!(refused.is_some(), should, "{:?}", refused);
        if let Some(message) = refused {
            prop_assert!(message.len() < MAX_MESSAGE_LEN, "{} characters", message.len());
        }
    }

    #[test]
    fn references_are_short_and_printable_and_refusals_quote_a_prefix(
        value in prop_oneof!["[A-Za-z0-9._-]{0,80}", "\\PC{0,300}", "[ \\x00-\\x1f]{1,10}"],
    ) {
        let refused = reference_problem(&value);
        let fits = !value.is_empty()
            && value.len() <= MAX_REFERENCE_LEN
            && value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        prop_assert_eq!(refused.is_none(), fits, "{:?}", refused);
        if let Some(message) = refused {
            prop_assert!(message.len() < MAX_MESSAGE_LEN, "{} characters", message.len());
        }
    }

    #[test]
    fn request_ids_are_refused_with_a_short_message(value in "\\PC{0,400}") {
        if let Some(message) = request_id_problem(&value) {
            prop_assert!(message.len() < MAX_MESSAGE_LEN, "{} characters", message.len());
        }
    }

    #[test]
    fn only_the_strict_iso_form_is_a_date(value in prop_oneof![
        "[0-9]{4}-[0-9]{2}-[0-9]{2}",
        "[ +]?[0-9]{1,4}-[0-9]{1,2}-[0-9]{1,2} ?",
        "\\PC{0,12}",
    ]) {
        let strict = value.len() == 10
            && value.char_indices().all(|(i, c)| if i == 4 || i == 7 { c == '-' } else { c.is_ascii_digit() });
        prop_assert_eq!(is_iso_date_form(&value), strict);
    }

    #[test]
    fn any_bytes_as_any_request_are_judged_without_panicking(
        bytes in proptest::collection::vec(any::<u8>(), 0..512),
        type_name in prop_oneof![
            Just("familybridge.court.v1.MakeOrderRequest"),
            Just("familybridge.cms.v1.CaseBatchRequest"),
            Just("familybridge.cms.v1.CalculateRequest"),
            Just("familybridge.common.v1.SubscribeRequest"),
            Just("not.a.Type"),
        ],
    ) {
        if let Some(message) = bounds_problem(type_name, &bytes) {
            prop_assert!(message.len() < MAX_MESSAGE_LEN + 200, "{} characters", message.len());
        }
    }
}
