//! Data-sharing agreements: which agency may receive which of this agency's events, which fields
//! of them, for what purpose and on what legal basis; and the field-level minimisation that
//! enforces them.
//!
//! Agreements are written in TOML, to be read and signed off by the people who own the policy, and
//! are checked against the familybridge protos when loaded: an event type or field that does not
//! exist is an error naming it and its line, never a silently empty disclosure.
//!
//! ```toml
//! # What the court registry shares with the Child Maintenance Service.
//! [[agreement]]
//! recipient = "cms"
//! purpose = "Recalculate child maintenance when a court order changes the nights of care"
//! legal_basis = "Child Support Act 1991 s.14(1); UK GDPR Art. 6(1)(e)"
//!
//!   # One `share` per event type; only the listed fields are sent. A path into a nested message
//!   # names its fields with dots, and one into a repeated message applies to every element.
//!   [[agreement.share]]
//!   event = "familybridge.cms.v1.CalculateRequest"
//!   fields = ["gross_weekly_income", "receiving_parents.child_nights"]
//! ```
//!
//! An agency with no `[[agreement]]` receives nothing (its subscription is refused), and within an
//! agreement an event type with no `share` is not sent at all. Permitting a message field by its
//! own name permits all of it; a nested message is otherwise kept only for its permitted fields.
//! Fields a payload carries that its type does not declare (a newer schema's) are never sent.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::{Path, PathBuf};

use prost::Message;
use prost_reflect::{DynamicMessage, Kind, MessageDescriptor, ReflectMessage, Value};
use serde::Deserialize;
use toml::Spanned;

use crate::AgencyId;

/// The data-sharing agreements of one publishing agency, one per recipient agency.
#[derive(Debug, Clone, Default)]
pub struct DataSharingAgreements {
    by_recipient: BTreeMap<AgencyId, Agreement>,
}

/// What one recipient agency may receive.
#[derive(Debug, Clone)]
pub struct Agreement {
    recipient: AgencyId,
    purpose: String,
    legal_basis: String,
    shares: BTreeMap<String, Share>,
}

/// One event type shared under an agreement.
#[derive(Debug, Clone)]
struct Share {
    message: MessageDescriptor,
    permitted: FieldTree,
    /// The paths as written, for people reading the agreement back.
    paths: Vec<String>,
}

/// The permitted fields of a message, by name.
#[derive(Debug, Clone, Default)]
struct FieldTree(BTreeMap<String, Permit>);

/// How much of one field is permitted.
#[derive(Debug, Clone)]
enum Permit {
    /// The field and, if it is a message, everything in it.
    Whole,
    /// Only these fields of the message (or of each message in the list).
    Within(FieldTree),
}

/// Why an agreements file was refused.
#[derive(Debug, thiserror::Error)]
pub enum AgreementError {
    /// The file could not be read.
    #[error("cannot read the data-sharing agreements {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The file is not valid TOML, or not in the agreements format (the message gives the line).
    #[error("the data-sharing agreements are malformed: {0}")]
    Syntax(#[from] toml::de::Error),
    /// An agreement names a recipient that is not an agency.
    #[error(
        "line {line}: recipient {name:?} is not an agency (\"court-registry\", \"cms\" or \"referral-hub\")"
    )]
    UnknownRecipient {
        /// The line of the recipient.
        line: usize,
        /// The name given.
        name: String,
    },
    /// Two agreements name the same recipient.
    #[error("line {line}: a second agreement with {recipient}: each agency has one agreement")]
    DuplicateRecipient {
        /// The line of the second agreement's recipient.
        line: usize,
        /// The recipient.
        recipient: AgencyId,
    },
    /// An agreement's purpose or legal basis is blank.
    #[error("line {line}: the agreement with {recipient} must state its {setting}")]
    Blank {
        /// The line of the blank setting.
        line: usize,
        /// The recipient.
        recipient: AgencyId,
        /// "purpose" or "legal_basis".
        setting: &'static str,
    },
    /// A share names an event type that is not a familybridge message.
    #[error(
        "line {line}: the agreement with {recipient} shares {event_type:?}, which is not a familybridge message type"
    )]
    UnknownEventType {
        /// The line of the event type.
        line: usize,
        /// The recipient.
        recipient: AgencyId,
        /// The type given.
        event_type: String,
    },
    /// An agreement shares the same event type twice.
    #[error("line {line}: the agreement with {recipient} shares {event_type} twice")]
    DuplicateEventType {
        /// The line of the second share.
        line: usize,
        /// The recipient.
        recipient: AgencyId,
        /// The event type.
        event_type: String,
    },
    /// A permitted field path does not name a field of the event type.
    #[error(
        "line {line}: the agreement with {recipient} permits {path:?} of {event_type}: {reason}"
    )]
    UnknownField {
        /// The line of the path.
        line: usize,
        /// The recipient.
        recipient: AgencyId,
        /// The event type.
        event_type: String,
        /// The path given.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// An event payload stripped to the fields a recipient may receive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Minimised {
    /// The payload holding only permitted fields, encoded.
    pub(crate) payload: Vec<u8>,
    /// The paths of the permitted fields the payload actually held (set, not default), sorted.
    pub(crate) fields: Vec<String>,
}

/// The agreements file as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AgreementsFile {
    #[serde(default)]
    agreement: Vec<AgreementEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AgreementEntry {
    recipient: Spanned<String>,
    purpose: Spanned<String>,
    legal_basis: Spanned<String>,
    #[serde(default)]
    share: Vec<ShareEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ShareEntry {
    event: Spanned<String>,
    fields: Vec<Spanned<String>>,
}

impl DataSharingAgreements {
    /// Parses and checks agreements in the TOML format described in this module.
    pub fn from_toml_str(text: &str) -> Result<Self, AgreementError> {
        let file: AgreementsFile = toml::from_str(text)?;
        let line =
            |span: Range<usize>| text.get(..span.start).unwrap_or(text).matches('\n').count() + 1;
        let pool = familybridge_proto::json::descriptor_pool();
        let mut by_recipient = BTreeMap::new();
        for entry in file.agreement {
            let recipient: AgencyId = entry.recipient.get_ref().parse().map_err(|_| {
                AgreementError::UnknownRecipient {
                    line: line(entry.recipient.span()),
                    name: entry.recipient.get_ref().clone(),
                }
            })?;
            if by_recipient.contains_key(&recipient) {
                return Err(AgreementError::DuplicateRecipient {
                    line: line(entry.recipient.span()),
                    recipient,
                });
            }
            for (setting, value) in [
                ("purpose", &entry.purpose),
                ("legal_basis", &entry.legal_basis),
            ] {
                if value.get_ref().trim().is_empty() {
                    return Err(AgreementError::Blank {
                        line: line(value.span()),
                        recipient,
                        setting,
                    });
                }
            }
            let mut shares = BTreeMap::new();
            for share in entry.share {
                let event_type = share.event.get_ref().clone();
                let message = pool.get_message_by_name(&event_type).ok_or_else(|| {
                    AgreementError::UnknownEventType {
                        line: line(share.event.span()),
                        recipient,
                        event_type: event_type.clone(),
                    }
                })?;
                if shares.contains_key(&event_type) {
                    return Err(AgreementError::DuplicateEventType {
                        line: line(share.event.span()),
                        recipient,
                        event_type,
                    });
                }
                let mut permitted = FieldTree::default();
                let mut paths = Vec::new();
                for path in share.fields {
                    permitted
                        .permit(&message, path.get_ref())
                        .map_err(|reason| AgreementError::UnknownField {
                            line: line(path.span()),
                            recipient,
                            event_type: event_type.clone(),
                            path: path.get_ref().clone(),
                            reason,
                        })?;
                    paths.push(path.into_inner());
                }
                shares.insert(
                    event_type,
                    Share {
                        message,
                        permitted,
                        paths,
                    },
                );
            }
            by_recipient.insert(
                recipient,
                Agreement {
                    recipient,
                    purpose: entry.purpose.into_inner(),
                    legal_basis: entry.legal_basis.into_inner(),
                    shares,
                },
            );
        }
        Ok(Self { by_recipient })
    }

    /// Reads and checks the agreements in the TOML file at `path`.
    pub fn from_toml_file(path: &Path) -> Result<Self, AgreementError> {
        let text = std::fs::read_to_string(path).map_err(|source| AgreementError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml_str(&text)
    }

    /// The agreement with `recipient`, if there is one.
    pub fn agreement(&self, recipient: AgencyId) -> Option<&Agreement> {
        self.by_recipient.get(&recipient)
    }

    /// Every agreement, by recipient.
    pub fn agreements(&self) -> impl Iterator<Item = &Agreement> {
        self.by_recipient.values()
    }
}

impl Agreement {
    /// The agency the agreement is with.
    pub fn recipient(&self) -> AgencyId {
        self.recipient
    }

    /// Why the recipient receives the events.
    pub fn purpose(&self) -> &str {
        &self.purpose
    }

    /// The law that allows the disclosure.
    pub fn legal_basis(&self) -> &str {
        &self.legal_basis
    }

    /// The full names of the event types shared.
    pub fn event_types(&self) -> impl Iterator<Item = &str> {
        self.shares.keys().map(String::as_str)
    }

    /// The permitted field paths of `event_type`, as written; `None` if it is not shared.
    pub fn permitted_fields(&self, event_type: &str) -> Option<&[String]> {
        self.shares
            .get(event_type)
            .map(|share| share.paths.as_slice())
    }

    /// Whether an event of `event_type` (encoded in `payload`) is disclosed to the recipient: it
    /// is stripped to what the recipient may receive, as a subscription does before sending;
    /// `false` if the type is not shared with it at all.
    pub fn discloses(&self, event_type: &str, payload: &[u8]) -> Result<bool, prost::DecodeError> {
        Ok(self.minimise(event_type, payload)?.is_some())
    }

    /// Strips `payload`, an encoded `event_type`, to the fields the recipient may receive; `None`
    /// if the event type is not shared with it at all.
    pub(crate) fn minimise(
        &self,
        event_type: &str,
        payload: &[u8],
    ) -> Result<Option<Minimised>, prost::DecodeError> {
        let Some(share) = self.shares.get(event_type) else {
            return Ok(None);
        };
        let message = DynamicMessage::decode(share.message.clone(), payload)?;
        let mut fields = BTreeSet::new();
        let stripped = share.permitted.strip(message, "", &mut fields);
        Ok(Some(Minimised {
            payload: stripped.encode_to_vec(),
            fields: fields.into_iter().collect(),
        }))
    }
}

impl FieldTree {
    /// Permits the field at dotted `path` of `message`, or says why it names no field.
    fn permit(&mut self, message: &MessageDescriptor, path: &str) -> Result<(), String> {
        let mut tree = self;
        let mut message = message.clone();
        let mut segments = path.split('.').peekable();
        while let Some(segment) = segments.next() {
            let field = message
                .get_field_by_name(segment)
                .ok_or_else(|| format!("{} has no field {segment:?}", message.full_name()))?;
            if segments.peek().is_none() {
                // Whole wins over any narrower permission given before.
                tree.0.insert(segment.to_owned(), Permit::Whole);
                return Ok(());
            }
            let inner = match field.kind() {
                Kind::Message(_) if field.is_map() => {
                    return Err(format!(
                        "{segment} is a map: it can only be permitted whole"
                    ));
                }
                Kind::Message(inner) => inner,
                _ => return Err(format!("{segment} is not a message, so it has no fields")),
            };
            let permit = tree
                .0
                .entry(segment.to_owned())
                .or_insert_with(|| Permit::Within(FieldTree::default()));
            match permit {
                // Already permitted whole: a narrower path adds nothing.
                Permit::Whole => return Ok(()),
                Permit::Within(narrower) => tree = narrower,
            }
            message = inner;
        }
        Ok(())
    }

    /// A copy of `message` with only the permitted fields, adding the paths of those it held (under
    /// `prefix`) to `disclosed`. The copy starts empty rather than having fields cleared, so that
    /// nothing unexpected (unknown fields from a newer schema) can survive into it.
    fn strip(
        &self,
        mut message: DynamicMessage,
        prefix: &str,
        disclosed: &mut BTreeSet<String>,
    ) -> DynamicMessage {
        let mut kept = DynamicMessage::new(message.descriptor());
        let fields: Vec<_> = message.take_fields().collect();
        for (field, value) in fields {
            let path = if prefix.is_empty() {
                field.name().to_owned()
            } else {
                format!("{prefix}.{}", field.name())
            };
            match self.0.get(field.name()) {
                Some(Permit::Whole) if !value.is_default_for_field(&field) => {
                    disclosed.insert(path);
                    kept.set_field(&field, value);
                }
                // Not permitted, or permitted but holding only its default: nothing to disclose.
                Some(Permit::Whole) | None => {}
                Some(Permit::Within(narrower)) => {
                    let value = match value {
                        Value::Message(inner) => {
                            let inner = narrower.strip(inner, &path, disclosed);
                            has_fields(&inner).then_some(Value::Message(inner))
                        }
                        // Every element is kept, emptied or not, so that the elements still line
                        // up with each other (the second parent's children stay the second's);
                        // the list goes only if nothing permitted is left in any of them.
                        Value::List(items) => {
                            let items: Vec<Value> = items
                                .into_iter()
                                .map(|item| match item {
                                    Value::Message(inner) => {
                                        Value::Message(narrower.strip(inner, &path, disclosed))
                                    }
                                    other => other,
                                })
                                .collect();
                            items
                                .iter()
                                .any(|item| item.as_message().is_some_and(has_fields))
                                .then_some(Value::List(items))
                        }
                        // Paths are checked at load time to go only through messages.
                        _ => None,
                    };
                    if let Some(value) = value {
                        kept.set_field(&field, value);
                    }
                }
            }
        }
        kept
    }
}

/// Whether a message holds any field.
fn has_fields(message: &DynamicMessage) -> bool {
    message.fields().next().is_some()
}

#[cfg(test)]
mod tests {
    use familybridge_proto::cms::v1::{CalculateRequest, ReceivingParent};

    use super::*;

    const CMS_AGREEMENT: &str = r#"
        [[agreement]]
        recipient = "cms"
        purpose = "maintenance"
        legal_basis = "CSA 1991 s.14"

        [[agreement.share]]
        event = "familybridge.cms.v1.CalculateRequest"
        fields = ["gross_weekly_income", "receiving_parents.child_nights", "as_of"]
    "#;

    fn request() -> CalculateRequest {
        CalculateRequest {
            gross_weekly_income: "517.81".to_owned(),
            relevant_other_children: 2,
            flat_rate_benefit: true,
            receiving_parents: vec![
                ReceivingParent {
                    child_nights: vec![52, 0],
                },
                ReceivingParent {
                    child_nights: vec![104],
                },
            ],
            as_of: String::new(),
            collect_and_pay: true,
            income_not_provided: false,
            nil_rate_category: 1,
            proposal: "fees-2027".to_owned(),
        }
    }

    #[test]
    fn keeps_only_permitted_fields_and_reports_those_present() {
        let agreements = DataSharingAgreements::from_toml_str(CMS_AGREEMENT).expect("valid");
        let agreement = agreements
            .agreement(AgencyId::Cms)
            .expect("an agreement with cms");
        assert_eq!(agreement.purpose(), "maintenance");
        let minimised = agreement
            .minimise(
                "familybridge.cms.v1.CalculateRequest",
                &request().encode_to_vec(),
            )
            .expect("decodes")
            .expect("shared");
        let stripped = CalculateRequest::decode(minimised.payload.as_slice()).expect("decodes");
        assert_eq!(
            stripped,
            CalculateRequest {
                gross_weekly_income: "517.81".to_owned(),
                receiving_parents: request().receiving_parents,
                ..CalculateRequest::default()
            }
        );
        // `as_of` is permitted but empty, so it was not disclosed.
        assert_eq!(
            minimised.fields,
            ["gross_weekly_income", "receiving_parents.child_nights"]
        );
        assert_eq!(
            agreement
                .minimise("familybridge.cms.v1.ReceivingParent", &[])
                .expect("not decoded"),
            None
        );
        assert!(agreements.agreement(AgencyId::ReferralHub).is_none());
    }

    #[test]
    fn a_nested_message_goes_when_nothing_permitted_is_left_in_it() {
        let agreements = DataSharingAgreements::from_toml_str(CMS_AGREEMENT).expect("valid");
        let agreement = agreements
            .agreement(AgencyId::Cms)
            .expect("an agreement with cms");
        let payload = CalculateRequest {
            receiving_parents: vec![ReceivingParent::default(), ReceivingParent::default()],
            proposal: "fees-2027".to_owned(),
            ..CalculateRequest::default()
        };
        let minimised = agreement
            .minimise(
                "familybridge.cms.v1.CalculateRequest",
                &payload.encode_to_vec(),
            )
            .expect("decodes")
            .expect("shared");
        assert!(minimised.payload.is_empty(), "{:?}", minimised.payload);
        assert!(minimised.fields.is_empty());
    }

    #[test]
    fn unknown_fields_from_a_newer_schema_are_dropped() {
        let agreements = DataSharingAgreements::from_toml_str(CMS_AGREEMENT).expect("valid");
        let agreement = agreements
            .agreement(AgencyId::Cms)
            .expect("an agreement with cms");
        let mut payload = CalculateRequest {
            gross_weekly_income: "1.00".to_owned(),
            ..CalculateRequest::default()
        }
        .encode_to_vec();
        // Field 99, a string "secret": a field this schema does not know.
        payload.extend([0x9a, 0x06, 6]);
        payload.extend(b"secret");
        let minimised = agreement
            .minimise("familybridge.cms.v1.CalculateRequest", &payload)
            .expect("decodes")
            .expect("shared");
        assert_eq!(
            minimised.payload,
            CalculateRequest {
                gross_weekly_income: "1.00".to_owned(),
                ..CalculateRequest::default()
            }
            .encode_to_vec()
        );
    }

    #[test]
    fn a_whole_message_field_permits_everything_in_it() {
        let agreements = DataSharingAgreements::from_toml_str(
            r#"
            [[agreement]]
            recipient = "referral-hub"
            purpose = "p"
            legal_basis = "b"
            [[agreement.share]]
            event = "familybridge.cms.v1.CalculateRequest"
            fields = ["receiving_parents.child_nights", "receiving_parents"]
            "#,
        )
        .expect("valid");
        let agreement = agreements
            .agreement(AgencyId::ReferralHub)
            .expect("an agreement");
        let minimised = agreement
            .minimise(
                "familybridge.cms.v1.CalculateRequest",
                &request().encode_to_vec(),
            )
            .expect("decodes")
            .expect("shared");
        assert_eq!(minimised.fields, ["receiving_parents"]);
    }

    fn refusal(text: &str) -> String {
        DataSharingAgreements::from_toml_str(text)
            .expect_err("refused")
            .to_string()
    }

    #[test]
    fn mistakes_are_refused_naming_the_line_and_what_is_wrong() {
        let header = "[[agreement]]\nrecipient = \"cms\"\npurpose = \"p\"\nlegal_basis = \"b\"\n";
        let share = |event: &str, fields: &str| {
            format!("{header}[[agreement.share]]\nevent = \"{event}\"\nfields = {fields}\n")
        };

        let message = refusal(&share("familybridge.cms.v1.Nothing", "[]"));
        assert!(message.starts_with("line 6:"), "{message}");
        assert!(message.contains("familybridge.cms.v1.Nothing"), "{message}");

        let message = refusal(&share(
            "familybridge.cms.v1.CalculateRequest",
            "[\"as_of\",\n  \"receiving_parents.nights\"]",
        ));
        assert!(message.starts_with("line 8:"), "{message}");
        assert!(message.contains("receiving_parents.nights"), "{message}");
        assert!(message.contains("\"nights\""), "{message}");

        let message = refusal(&share(
            "familybridge.cms.v1.CalculateRequest",
            "[\"as_of.year\"]",
        ));
        assert!(message.contains("as_of is not a message"), "{message}");

        let message = refusal(&share("familybridge.cms.v1.CalculateRequest", "[\"\"]"));
        assert!(message.contains("has no field \"\""), "{message}");

        let message = refusal(&format!("{header}{header}"));
        assert!(message.starts_with("line 6:"), "{message}");
        assert!(message.contains("second agreement with cms"), "{message}");

        let message = refusal(&header.replace("\"cms\"", "\"dwp\""));
        assert!(message.starts_with("line 2:"), "{message}");
        assert!(message.contains("\"dwp\""), "{message}");

        let message = refusal(&header.replace("\"p\"", "\"  \""));
        assert!(message.starts_with("line 3:"), "{message}");
        assert!(message.contains("purpose"), "{message}");

        let message = refusal(&format!("{header}purpsoe = \"typo\"\n"));
        assert!(message.contains("purpsoe"), "{message}");
        assert!(message.contains("line 5"), "{message}");

        let message = refusal(&format!(
            "{header}[[agreement.share]]\nevent = \"familybridge.cms.v1.CalculateRequest\"\n"
        ));
        assert!(message.contains("fields"), "{message}");
    }

    #[test]
    fn the_documented_example_is_valid() {
        // The example in this module's documentation, so that it cannot drift from the format.
        let source = include_str!("agreements.rs");
        let example: String = source
            .lines()
            .skip_while(|line| *line != "//! ```toml")
            .skip(1)
            .take_while(|line| *line != "//! ```")
            .map(|line| format!("{}\n", line.trim_start_matches("//!").trim_start()))
            .collect();
        let agreements =
            DataSharingAgreements::from_toml_str(&example).expect("the example is valid");
        let agreement = agreements
            .agreement(AgencyId::Cms)
            .expect("an agreement with cms");
        assert_eq!(
            agreement.permitted_fields("familybridge.cms.v1.CalculateRequest"),
            Some(
                [
                    "gross_weekly_income".to_owned(),
                    "receiving_parents.child_nights".to_owned()
                ]
                .as_slice()
            )
        );
    }

    #[test]
    fn no_agreements_share_nothing() {
        let agreements = DataSharingAgreements::from_toml_str("# nobody\n").expect("valid");
        assert!(agreements.agreements().next().is_none());
    }
}
