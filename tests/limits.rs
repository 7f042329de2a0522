//! Every RPC of every service, as server reflection's descriptors list them, sent hostile values
//! — every string field over-long, then every string field holding a control character, then
//! every repeated field over-long — answers a client error naming a field, never a server error;
//! and every service is still serving afterwards.

mod support;

use familybridge_proto::json::descriptor_pool;
use prost::Message;
use prost_reflect::{DynamicMessage, Kind, MessageDescriptor, Value};
use tonic::Code;
use tonic::transport::Channel;

use support::{interrupt, raw, start_up};

/// The ways a request is made hostile.
#[derive(Debug, Clone, Copy)]
enum Hostile {
    /// Every string field 5,000 characters long.
    LongStrings,
    /// Every string field holding a NUL and a bidirectional override.
    ControlCharacters,
    /// Every repeated field holding 5,000 values.
    LongLists,
}

/// A message of type `descriptor` with every field made hostile, nested messages one level down
/// included.
fn hostile(descriptor: &MessageDescriptor, how: Hostile, depth: usize) -> DynamicMessage {
    let mut message = DynamicMessage::new(descriptor.clone());
    for field in descriptor.fields() {
        let one = match field.kind() {
            Kind::String => Some(Value::String(match how {
                Hostile::LongStrings => "x".repeat(5_000),
                Hostile::ControlCharacters => "CMS-1\0\u{202e}".to_owned(),
                Hostile::LongLists => "CMS-1".to_owned(),
            })),
            Kind::Message(inner) if depth < 2 => {
                Some(Value::Message(hostile(&inner, how, depth + 1)))
            }
            _ => None,
        };
        let Some(one) = one else { continue };
        if field.is_list() {
            let count = match how {
                Hostile::LongLists => 5_000,
                _ => 1,
            };
            message.set_field(&field, Value::List(vec![one; count]));
        } else if !field.is_map() && !matches!(how, Hostile::LongLists) {
            message.set_field(&field, one);
        }
    }
    message
}

/// The codes a server answers with that are its own failures, not the client's.
fn is_server_error(code: Code) -> bool {
    matches!(
        code,
        Code::Internal | Code::Unknown | Code::DataLoss | Code::Unavailable | Code::Unimplemented
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rpc_refuses_over_long_and_malformed_values_as_the_clients_error() {
    let data = tempfile::tempdir().expect("a folder");
    let (child, addresses) = start_up(data.path(), &[]);
    let mut channels = Vec::new();
    for address in &addresses {
        let channel = Channel::from_shared(format!("http://{address}"))
            .expect("a URL")
            .connect()
            .await
            .expect("connect");
        channels.push(channel);
    }
    let policy = raw::every_policy();
    let mut checked = 0;
    for service in descriptor_pool().services() {
        for method in service.methods() {
            for how in [
                Hostile::LongStrings,
                Hostile::ControlCharacters,
                Hostile::LongLists,
            ] {
                let request = hostile(&method.input(), how, 0);
                let path = format!("{}/{}", service.full_name(), method.name());
                // Sent as a caller the policy allows, so that the values themselves are judged.
                let caller = policy.callers(&path).next();
                assert!(caller.is_some(), "the policies say nobody may call {path}");
                let mut answers = Vec::new();
                for channel in &channels {
                    answers
                        .push(raw::call(channel, &method, request.encode_to_vec(), caller).await);
                }
                // Each service is served by one of the three (the shared ones by all): there, the
                // request is refused as the client's error, naming what is wrong.
                let refusals: Vec<&tonic::Status> = answers
                    .iter()
                    .filter_map(|answer| answer.as_ref().err())
                    .filter(|status| status.code() != Code::Unimplemented)
                    .collect();
                // (A request with no field to make hostile, such as a clock's read, is answered.)
                let has_hostile_field = request.fields().next().is_some();
                assert!(
                    !refusals.is_empty() || !has_hostile_field,
                    "{path} ({how:?}) was accepted by the server that serves it: {answers:?}"
                );
                for status in refusals {
                    assert!(
                        status.code() != Code::Unauthenticated
                            && !status.message().contains(" may not call "),
                        "{path} ({how:?}) was refused to its caller by the policy: {status:?}"
                    );
                    assert!(
                        !is_server_error(status.code()),
                        "{path} ({how:?}) answered a server error: {status:?}"
                    );
                    assert!(
                        status.message().len() < 400,
                        "{path} ({how:?}) echoed the value: {} characters",
                        status.message().len()
                    );
                }
                checked += usize::from(has_hostile_field);
            }
        }
    }
    assert!(checked > 60, "only {checked} RPCs checked");
    for address in &addresses {
        familybridge_runtime::check_serving(
            &format!("http://{address}"),
            familybridge_runtime::PROBE_TIMEOUT,
        )
        .await
        .expect("still serving");
    }
    interrupt(&child);
}
