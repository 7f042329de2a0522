//! The answer journal of `familybridge run --connect … --journal FILE`: every answer the runner acts
//! on, kept so that a runner that dies can be started again with the same arguments and carry on
//! against the same services, with the outputs an undisturbed run gives.
//!
//! Its place is between the driver's families ([`drive`](super::drive)) and the services: every
//! call a family makes to the court or the CMS — commands and reads alike — is numbered within the
//! family ([`Call`]: its replication, its index, and how many calls it made before), and the
//! answer (the case, or a refusal by a rule with its gRPC code and message) is appended under that
//! number. A family's calls follow from its plan and the answers it got, never from timing, so the
//! numbering is the same however the families' calls interleave.
//!
//! Why resuming is exact. The driver keeps one invariant: a family makes its next call only after
//! every earlier answer it got is written here. So when a runner dies, the journal holds, for each
//! family, the answers to a prefix of its calls, and at most the one call after them may have
//! reached a service unrecorded. A resumed runner replays the whole drive from the start, giving
//! each family its recorded answers without asking again (the services have moved on since: a read
//! would now see a later case, and a rule could judge a command differently), so every family comes
//! back to the same point with the same state and makes the same next call. That one goes to the
//! service, which answers it from its idempotency ledger if it had carried it out already, or carries
//! it out now, on the case as the first runner left it: no family touches another's case, and what
//! the agencies do on their own they do in date order, at the settles and clock moves, which come
//! only once every call of a step is answered; a resumed runner skips the clock moves the services
//! had already made and makes the rest at the same points.
//! (A failure that stops the run is not journaled: a resumed runner asks again.)
//!
//! The file: a line naming the format, a header saying which run it belongs to (a journal of
//! another run is refused), then the answers, each a length-prefixed protobuf record, in the order
//! they came (which depends on timing; what a family reads back from it does not).

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use anyhow::Context;
use familybridge_proto::cms::v1 as cms;
use familybridge_proto::common::v1::Refusal;
use familybridge_proto::court::v1 as court;
use familybridge_scenario::Scenario;
use prost::Message;
use tonic::{Code, Status};

use crate::run::drive::refused_by_rule;

/// What a journal file begins with.
const MAGIC: &[u8] = b"familybridge answer journal 1\n";

/// One call of one family: the key its answer is journaled under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Call {
    /// The family's replication.
    pub replication: u32,
    /// The family's index in its replication.
    pub family: u64,
    /// The call's number among the family's calls to the court and the CMS (from 1).
    pub number: u32,
}

/// The run a journal belongs to.
#[derive(Clone, PartialEq, Message)]
pub struct Header {
    /// SHA-256 of the scenario file, as the run record has it.
    #[prost(string, tag = "1")]
    scenario_hash: String,
    /// The master seed.
    #[prost(uint64, tag = "2")]
    seed: u64,
    /// The arm driven.
    #[prost(string, tag = "3")]
    arm: String,
    /// Families per replication.
    #[prost(uint64, tag = "4")]
    families: u64,
    /// The scenario's replications.
    #[prost(uint32, tag = "5")]
    replications: u32,
    /// The replications this runner drives (every one, or a slice's).
    #[prost(uint32, repeated, tag = "6")]
    driven: Vec<u32>,
    /// The first simulated day.
    #[prost(string, tag = "7")]
    start: String,
    /// The period's length in months.
    #[prost(uint32, tag = "8")]
    months: u32,
}

impl Header {
    /// The header of a run of `scenario`'s arm `arm`, driving `driven` of its replications.
    pub fn new(scenario: &Scenario, arm: &str, driven: &[u32]) -> Self {
        Self {
            scenario_hash: scenario.source_hash.clone(),
            seed: scenario.run.seed,
            arm: arm.to_owned(),
            families: scenario.run.families,
            replications: scenario.run.replications,
            driven: driven.to_vec(),
            start: scenario.run.start.to_string(),
            months: scenario.run.months,
        }
    }

    /// The first way in which the run of `self` (a journal's) is not the run of `this`.
    fn difference(&self, this: &Header) -> Option<String> {
        let list = |driven: &[u32]| {
            driven
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(",")
        };
        [
            (
                "the scenario file's hash",
                self.scenario_hash.clone(),
                this.scenario_hash.clone(),
            ),
            ("seed", self.seed.to_string(), this.seed.to_string()),
            ("arm", self.arm.clone(), this.arm.clone()),
            (
                "families",
                self.families.to_string(),
                this.families.to_string(),
            ),
            (
                "replications",
                self.replications.to_string(),
                this.replications.to_string(),
            ),
            (
                "replications driven",
                list(&self.driven),
                list(&this.driven),
            ),
            ("start", self.start.clone(), this.start.clone()),
            ("months", self.months.to_string(), this.months.to_string()),
        ]
        .into_iter()
        .find(|(_, journal, this)| journal != this)
        .map(|(what, journal, this)| format!("its {what} is {journal}, this run's {this}"))
    }
}

/// One journaled answer.
#[derive(Clone, PartialEq, Message)]
struct Record {
    /// [`Call::replication`].
    #[prost(uint32, tag = "1")]
    replication: u32,
    /// [`Call::family`].
    #[prost(uint64, tag = "2")]
    family: u64,
    /// [`Call::number`].
    #[prost(uint32, tag = "3")]
    number: u32,
    /// The answer.
    #[prost(oneof = "Answer", tags = "4, 5, 6")]
    answer: Option<Answer>,
}

/// What a service answered (a case boxed, so that each of the many answers a resumed runner holds
/// takes the room of its own kind, a refusal's being small).
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum Answer {
    /// The CMS's answer (a read's holds the case and no event ids).
    #[prost(message, boxed, tag = "4")]
    Cms(Box<cms::CaseResponse>),
    /// The court's answer.
    #[prost(message, boxed, tag = "5")]
    Court(Box<court::CaseResponse>),
    /// A refusal by a rule, from either: its code and message are all the driver looks at.
    #[prost(message, tag = "6")]
    Refusal(Refusal),
}

/// An answer type a journal holds.
pub trait Journaled: Clone {
    /// Which service's answer it is, for an error.
    const SERVICE: &'static str;
    /// The answer as a record holds it.
    fn into_answer(self) -> Answer;
    /// The answer, if the record holds one of this type.
    fn from_answer(answer: Answer) -> Option<Self>;
}

impl Journaled for cms::CaseResponse {
    const SERVICE: &'static str = "the CMS";
    fn into_answer(self) -> Answer {
        Answer::Cms(Box::new(self))
    }
    fn from_answer(answer: Answer) -> Option<Self> {
        match answer {
            Answer::Cms(response) => Some(*response),
            _ => None,
        }
    }
}

impl Journaled for court::CaseResponse {
    const SERVICE: &'static str = "the court registry";
    fn into_answer(self) -> Answer {
        Answer::Court(Box::new(self))
    }
    fn from_answer(answer: Answer) -> Option<Self> {
        match answer {
            Answer::Court(response) => Some(*response),
            _ => None,
        }
    }
}

/// The answers an earlier runner of the same run got, read from its journal.
#[derive(Debug)]
pub struct Earlier {
    answers: BTreeMap<Call, Answer>,
    /// The length of the file up to its last whole record.
    whole: u64,
}

impl Earlier {
    /// How many answers there are.
    pub fn count(&self) -> usize {
        self.answers.len()
    }
}

/// The answer to `call`: the earlier runner's, if `journal` holds one (and then `ask`, which would
/// send the call, is never started), or else what `ask` gets, written to the journal before the
/// family sees it.
pub async fn answer<T: Journaled>(
    journal: Option<&Journal>,
    call: Call,
    ask: impl Future<Output = Result<T, Status>>,
) -> anyhow::Result<Result<T, Status>> {
    let Some(journal) = journal else {
        return Ok(ask.await);
    };
    if let Some(earlier) = journal.earlier(call)? {
        return Ok(earlier);
    }
    let answer = ask.await;
    journal.write([(call, &answer)])?;
    Ok(answer)
}

/// Reads the journal at `path`: `None` if there is none yet (no file, an empty one, or one cut
/// off inside its header, written before any call was made); the earlier runner's answers if it
/// is a journal of the run `header` describes; an error otherwise.
pub fn read(path: &Path, header: &Header) -> anyhow::Result<Option<Earlier>> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => {
            return Err(error)
                .with_context(|| format!("cannot read the journal {}", path.display()));
        }
    };
    if bytes.len() < MAGIC.len() && MAGIC.starts_with(&bytes) {
        return Ok(None);
    }
    let Some(mut rest) = bytes.strip_prefix(MAGIC) else {
        anyhow::bail!(
            "{} is not a familybridge answer journal: give --journal a new file, or the journal of \
             this run",
            path.display()
        );
    };
    let Some(frame) = next_frame(&mut rest) else {
        return Ok(None);
    };
    let theirs = Header::decode(frame)
        .with_context(|| format!("the journal {} has a damaged header", path.display()))?;
    if let Some(difference) = theirs.difference(header) {
        anyhow::bail!(
            "{} is the journal of another run ({difference}): give --journal a new file, or \
             repeat that run's arguments",
            path.display()
        );
    }
    let mut answers = BTreeMap::new();
    let mut whole = bytes.len() - rest.len();
    // A record cut off at the end is a write the dying runner did not finish: no family had its
    // answer, so it is dropped (and the file cut back to `whole` before anything is appended).
    while let Some(frame) = next_frame(&mut rest) {
        let record = Record::decode(frame).with_context(|| {
            format!(
                "the journal {} has a damaged record at byte {whole}",
                path.display()
            )
        })?;
        let answer = record.answer.with_context(|| {
            format!(
                "the journal {} has a record without an answer at byte {whole}",
                path.display()
            )
        })?;
        let call = Call {
            replication: record.replication,
            family: record.family,
            number: record.number,
        };
        answers.insert(call, answer);
        whole = bytes.len() - rest.len();
    }
    Ok(Some(Earlier {
        answers,
        whole: u64::try_from(whole).context("a journal longer than the address space")?,
    }))
}

/// The next length-prefixed frame of `rest`, advancing past it; `None` if `rest` holds no whole
/// frame.
fn next_frame<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
    let mut cursor = *rest;
    let length = usize::try_from(prost::encoding::decode_varint(&mut cursor).ok()?).ok()?;
    if cursor.len() < length {
        return None;
    }
    let (frame, after) = cursor.split_at(length);
    *rest = after;
    Some(frame)
}

/// A journal being written, with the answers of an earlier runner still to be replayed.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    /// Appended to by every family's task; each append is one `write` of whole records.
    file: Mutex<File>,
    /// The earlier runner's answers not yet replayed (each is taken once).
    earlier: Mutex<BTreeMap<Call, Answer>>,
}

impl Journal {
    /// A new journal at `path` for the run `header` describes (any file there is replaced).
    pub fn create(path: &Path, header: &Header) -> anyhow::Result<Self> {
        let mut file = File::create(path)
            .with_context(|| format!("cannot create the journal {}", path.display()))?;
        let mut bytes = MAGIC.to_vec();
        header
            .encode_length_delimited(&mut bytes)
            .context("the journal's header")?;
        file.write_all(&bytes)
            .with_context(|| format!("cannot write the journal {}", path.display()))?;
        Ok(Self {
            path: path.to_owned(),
            file: Mutex::new(file),
            earlier: Mutex::new(BTreeMap::new()),
        })
    }

    /// The journal at `path`, which holds `earlier`, appended to from its last whole record.
    pub fn resume(path: &Path, earlier: Earlier) -> anyhow::Result<Self> {
        let file = OpenOptions::new()
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open the journal {}", path.display()))?;
        file.set_len(earlier.whole)
            .with_context(|| format!("cannot cut back the journal {}", path.display()))?;
        Ok(Self {
            path: path.to_owned(),
            file: Mutex::new(file),
            earlier: Mutex::new(earlier.answers),
        })
    }

    /// The answer an earlier runner got to `call`, if it got one (taken: a call is made once).
    pub fn earlier<T: Journaled>(&self, call: Call) -> anyhow::Result<Option<Result<T, Status>>> {
        // A lock poisoned by a panicking task still guards a whole map: the panic fails the run.
        let mut earlier = self.earlier.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(answer) = earlier.remove(&call) else {
            return Ok(None);
        };
        if let Answer::Refusal(refusal) = answer {
            return Ok(Some(Err(Status::new(
                Code::from(refusal.code),
                refusal.message,
            ))));
        }
        let answer = T::from_answer(answer).with_context(|| {
            format!(
                "the journal {} holds another service's answer to call {} of family {} of \
                 replication {}, where this run asked {}",
                self.path.display(),
                call.number,
                call.family,
                call.replication,
                T::SERVICE
            )
        })?;
        Ok(Some(Ok(answer)))
    }

    /// Appends `answers`, in one write: those the driver acts on, that is every case and every
    /// refusal by a rule (a failure stops the run, and a resumed runner asks again).
    ///
    /// The write is not synced to disk: what the journal guards against is the runner's process
    /// dying, after which the kernel still holds every write it made; a machine failing is not
    /// survived (the services' own databases would need to survive it too).
    pub fn write<'a, T: Journaled + 'a>(
        &self,
        answers: impl IntoIterator<Item = (Call, &'a Result<T, Status>)>,
    ) -> anyhow::Result<()> {
        let mut bytes = Vec::new();
        for (call, answer) in answers {
            let answer = match answer {
                Ok(response) => response.clone().into_answer(),
                Err(status) if refused_by_rule(status) => Answer::Refusal(Refusal {
                    code: i32::from(status.code()),
                    message: status.message().to_owned(),
                }),
                Err(_) => continue,
            };
            let record = Record {
                replication: call.replication,
                family: call.family,
                number: call.number,
                answer: Some(answer),
            };
            record
                .encode_length_delimited(&mut bytes)
                .context("a journal record")?;
        }
        if bytes.is_empty() {
            return Ok(());
        }
        // A lock poisoned by a panicking task still guards a whole file: every write is whole
        // records or is cut back on resume.
        let mut file = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        file.write_all(&bytes)
            .with_context(|| format!("cannot write the journal {}", self.path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(seed: u64) -> Header {
        Header {
            scenario_hash: "abc".to_owned(),
            seed,
            arm: "automatic".to_owned(),
            families: 16,
            replications: 2,
            driven: vec![1, 2],
            start: "2025-04-06".to_owned(),
            months: 12,
        }
    }

    fn call(number: u32) -> Call {
        Call {
            replication: 1,
            family: 3,
            number,
        }
    }

    #[test]
    fn a_journal_gives_back_its_answers_and_drops_a_record_cut_off() {
        let folder = tempfile::tempdir().expect("a folder");
        let path = folder.path().join("journal");
        assert!(read(&path, &header(1)).expect("no file").is_none());
        let journal = Journal::create(&path, &header(1)).expect("a journal");
        let case = cms::CaseResponse {
            case: None,
            event_ids: vec!["e1".to_owned()],
        };
        let refused: Result<cms::CaseResponse, Status> =
            Err(Status::failed_precondition("no calculation yet"));
        let failed: Result<cms::CaseResponse, Status> = Err(Status::unavailable("down"));
        journal
            .write([(call(1), &Ok(case.clone())), (call(2), &refused)])
            .expect("written");
        journal
            .write([(call(3), &failed)])
            .expect("nothing written");
        drop(journal);
        // A write the runner died in the middle of.
        let mut file = OpenOptions::new()
            .append(true)
            .open(&path)
            .expect("the file");
        file.write_all(&[40, 1, 2]).expect("a torn record");

        let earlier = read(&path, &header(1))
            .expect("readable")
            .expect("a journal");
        assert_eq!(earlier.count(), 2);
        let journal = Journal::resume(&path, earlier).expect("resumed");
        let first = journal.earlier::<cms::CaseResponse>(call(1)).expect("ok");
        assert_eq!(first.map(|answer| answer.ok()), Some(Some(case)));
        let second = journal
            .earlier::<cms::CaseResponse>(call(2))
            .expect("ok")
            .and_then(Result::err)
            .expect("a refusal");
        assert_eq!(second.code(), Code::FailedPrecondition);
        assert_eq!(second.message(), "no calculation yet");
        assert!(
            journal
                .earlier::<cms::CaseResponse>(call(3))
                .expect("ok")
                .is_none(),
            "a failure is not journaled"
        );
        assert!(
            journal
                .earlier::<court::CaseResponse>(call(1))
                .expect("taken once")
                .is_none()
        );
        journal
            .write([(call(3), &Ok(court::CaseResponse::default()))])
            .expect("appended");
        drop(journal);
        let again = read(&path, &header(1))
            .expect("readable")
            .expect("a journal");
        assert_eq!(
            again.count(),
            3,
            "the torn record was cut off before appending"
        );
    }

    #[test]
    fn a_journal_of_another_run_or_no_journal_is_refused() {
        let folder = tempfile::tempdir().expect("a folder");
        let path = folder.path().join("journal");
        drop(Journal::create(&path, &header(1)).expect("a journal"));
        let error = read(&path, &header(2)).expect_err("another seed");
        assert!(
            error.to_string().contains("its seed is 1, this run's 2"),
            "{error}"
        );
        let other = folder.path().join("other");
        std::fs::write(&other, "{\"not\": \"a journal\"}").expect("a file");
        let error = read(&other, &header(1)).expect_err("not a journal");
        assert!(
            error
                .to_string()
                .contains("is not a familybridge answer journal"),
            "{error}"
        );
        std::fs::write(&other, &MAGIC[..5]).expect("a torn header");
        assert!(read(&other, &header(1)).expect("fresh").is_none());
    }
}
