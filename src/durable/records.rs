//! Durable queues on the journal: what the records mean, and the state
//! rebuilt from them after a restart.
//!
//! A queue (one per durable mailbox) is a stream id with a name and a type
//! tag (so a durable name reused for another message type is caught). Its
//! messages have sequence numbers 1, 2, … Each record kind is one event:
//!
//! | kind | seq | payload | meaning |
//! |---|---|---|---|
//! | `CREATE` | the queue's next seq | `u16` name length, name, `u16` tag length, tag | the queue exists (restated by compaction) |
//! | `ENQUEUE` | message seq | the message | persisted, not yet acked |
//! | `DELIVER` | message seq | empty | handed to a handler once more (the attempt count) |
//! | `ACK` | message seq | empty | done: never delivered again |
//! | `DEAD` | message seq | the reason | given up after the delivery limit: done too |
//! | `KEEP` | message seq | `u32` attempts, the message | a pending message restated by compaction |
//! | `ENQUEUE_ID` | message seq | `u8` id length, the id, `u64` unix ms, the message | `ENQUEUE` by a producer that gave a message id |
//!
//! The state is a pure fold over the records in log order, so recovery is
//! "apply every recovered record" and a crash loses at most a suffix of the
//! events, never reorders them. The fold tolerates what compaction leaves
//! (a prefix of segments deleted after their live records were restated at
//! the end): records of a queue before its restated `CREATE`, and `DELIVER`
//! or `ACK` of a message whose `ENQUEUE` is gone.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::num::NonZeroU64;

use crate::journal::record::{Loc, HEADER};

/// The kinds of queue record: the `kind` byte of a journal record (the
/// journal keeps 255 for itself; 0 is never written).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Kind {
    Create = 1,
    Enqueue = 2,
    Deliver = 3,
    Ack = 4,
    Dead = 5,
    Keep = 6,
    EnqueueId = 7,
}

impl Kind {
    /// The kind a record's byte names, if it is a queue record.
    pub(crate) fn of(byte: u8) -> Option<Kind> {
        [Kind::Create, Kind::Enqueue, Kind::Deliver, Kind::Ack, Kind::Dead, Kind::Keep, Kind::EnqueueId]
            .into_iter()
            .find(|kind| *kind as u8 == byte)
    }
}

pub(crate) const CREATE: u8 = Kind::Create as u8;
pub(crate) const ENQUEUE: u8 = Kind::Enqueue as u8;
pub(crate) const DELIVER: u8 = Kind::Deliver as u8;
pub(crate) const ACK: u8 = Kind::Ack as u8;
pub(crate) const DEAD: u8 = Kind::Dead as u8;
pub(crate) const KEEP: u8 = Kind::Keep as u8;
pub(crate) const ENQUEUE_ID: u8 = Kind::EnqueueId as u8;

/// The payload of an `ENQUEUE_ID`: the producer's message id and when it
/// was stored (unix milliseconds, for the dedupe window), then what an
/// `ENQUEUE` holds.
pub(crate) fn id_payload(id: &str, millis: u64, message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(9 + id.len() + message.len());
    out.push(u8::try_from(id.len()).expect("ids are checked to be at most 255 bytes"));
    out.extend_from_slice(id.as_bytes());
    out.extend_from_slice(&millis.to_le_bytes());
    out.extend_from_slice(message);
    out
}

/// The id, its time, and where the message starts in an `ENQUEUE_ID`
/// payload.
pub(crate) fn parse_id(payload: &[u8]) -> Option<(&str, u64, usize)> {
    let (&len, rest) = payload.split_first()?;
    let id = std::str::from_utf8(rest.get(..usize::from(len))?).ok()?;
    let millis = rest.get(usize::from(len)..usize::from(len) + 8)?;
    let millis = u64::from_le_bytes(millis.try_into().ok()?);
    Some((id, millis, 1 + usize::from(len) + 8))
}

/// A durable queue's id: the stream its records carry in the journal.
/// Assigned from 1 at creation, never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct QueueId(pub(crate) u32);

impl QueueId {
    /// The first id a journal hands out.
    pub(crate) const FIRST: QueueId = QueueId(1);

    /// The id after this one, if the ids are not used up.
    pub(crate) fn next(self) -> Option<QueueId> {
        self.0.checked_add(1).map(QueueId)
    }

    /// The journal stream of the queue's records.
    pub(crate) fn stream(self) -> u32 {
        self.0
    }
}

/// A message's sequence number in its queue: 1, 2, … in enqueue order,
/// never reused. 0 is no seq (a queue starts at 1), so `Option<Seq>` costs
/// nothing. The journal's records carry it as a bare `u64`; it becomes a
/// `Seq` here, at the boundary, and a bare `u64` again at the public one
/// ([`Delivery::seq`](crate::durable::Delivery)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Seq(NonZeroU64);

impl Seq {
    /// The seq of a queue's first message.
    pub(crate) const FIRST: Seq = Seq(NonZeroU64::MIN);

    /// The seq `raw`, unless it is 0.
    pub(crate) fn new(raw: u64) -> Option<Seq> {
        NonZeroU64::new(raw).map(Seq)
    }

    /// The seq after this one; `None` past the largest.
    pub(crate) fn next(self) -> Option<Seq> {
        self.0.checked_add(1).map(Seq)
    }

    /// As a record (and the public API) carries it.
    pub(crate) fn get(self) -> u64 {
        self.0.get()
    }

    /// As a non-zero number.
    pub(crate) fn non_zero(self) -> NonZeroU64 {
        self.0
    }
}

/// The seq `raw` (tests: a literal that is not 0).
#[cfg(test)]
pub(crate) fn seq(raw: u64) -> Seq {
    Seq::new(raw).expect("a seq is not 0")
}

/// A new queue's next seq.
impl Default for Seq {
    fn default() -> Self {
        Seq::FIRST
    }
}

impl fmt::Display for Seq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Bytes before the message in a `KEEP` payload (its attempt count).
pub(crate) const KEEP_PREFIX: u64 = 4;

/// Where the message bytes of an `ENQUEUE` (or, `restated`, a `KEEP`)
/// record at `loc` start.
pub(crate) fn message_at(loc: Loc, restated: bool) -> u64 {
    loc.offset + HEADER as u64 + if restated { KEEP_PREFIX } else { 0 }
}

/// A message persisted and not yet acked: where its bytes are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Pending {
    /// The record holding it (`ENQUEUE` or `KEEP`).
    pub(crate) record: Loc,
    /// Where the message bytes start (after the record header, and after the
    /// attempt count of a `KEEP`).
    pub(crate) at: u64,
    /// Message bytes.
    pub(crate) len: u32,
    /// Deliveries so far (0: never handed to a handler).
    pub(crate) attempts: u32,
}

/// One durable queue.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Queue {
    /// `None` until its `CREATE` is seen.
    pub(crate) name: Option<String>,
    pub(crate) tag: String,
    pub(crate) role: Role,
    /// The seq the next enqueue gets.
    pub(crate) next_seq: Seq,
    /// Unacked messages by seq, in order.
    pub(crate) pending: BTreeMap<Seq, Pending>,
    /// The latest `CREATE` (which compaction must restate before deleting it).
    pub(crate) created_at: Option<Loc>,
    /// The first record of this stream seen (to report a stream that was
    /// never created where its records are).
    pub(crate) first_seen: Option<Loc>,
    /// Producers' message ids: (id, the message's seq, when, its segment).
    pub(crate) ids: Vec<(String, Seq, u64, u64)>,
}

/// Records that do not fit the queue protocol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum QueueError {
    /// Records for a stream that was never created.
    UnknownStream(u32),
    /// A create record whose payload does not parse, or that renames a
    /// stream or gives a name a second stream.
    BadCreate(u32),
    /// A `KEEP` whose payload is too short.
    BadKeep(u32),
    /// An `ENQUEUE_ID` whose id does not parse.
    BadId(u32),
    /// A message seq no enqueue can have: 0 (seqs start at 1), or the
    /// largest `u64` (the next seq would not exist).
    BadSeq(u32, u64),
    /// A record kind this version does not know.
    UnknownKind(u8),
}

impl fmt::Display for QueueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueueError::UnknownStream(stream) => write!(f, "records for stream {stream}, which was never created"),
            QueueError::BadCreate(stream) => write!(f, "malformed or conflicting creation of stream {stream}"),
            QueueError::BadKeep(stream) => write!(f, "malformed restated message in stream {stream}"),
            QueueError::BadId(stream) => write!(f, "malformed message id in stream {stream}"),
            QueueError::BadSeq(stream, seq) => write!(f, "message seq {seq} in stream {stream} is out of range"),
            QueueError::UnknownKind(kind) => write!(f, "unknown record kind {kind}"),
        }
    }
}

/// Every queue of a journal.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Queues {
    pub(crate) queues: BTreeMap<QueueId, Queue>,
    names: HashMap<String, QueueId>,
}

/// What a queue is for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) enum Role {
    /// A durable mailbox: messages sent to it by name.
    #[default]
    Mailbox,
    /// A durable topic subscription: events published durably on topics
    /// matching the pattern.
    Subscription(String),
    /// The retained history of one event type (payloads carry the topic),
    /// keeping the last `n` events.
    Log(u64),
}

fn put_text(out: &mut Vec<u8>, text: &str) {
    let len = u16::try_from(text.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&text.as_bytes()[..usize::from(len)]);
}

/// The payload of a create record: name, tag, then the role (nothing for a
/// mailbox; 1 and the pattern for a subscription; 2 and a `u64` for a log).
pub(crate) fn create_payload(name: &str, tag: &str, role: &Role) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + name.len() + tag.len());
    put_text(&mut out, name);
    put_text(&mut out, tag);
    match role {
        Role::Mailbox => {}
        Role::Subscription(pattern) => {
            out.push(1);
            put_text(&mut out, pattern);
        }
        Role::Log(keep) => {
            out.push(2);
            out.extend_from_slice(&keep.to_le_bytes());
        }
    }
    out
}

/// The payload of a keep record: the attempt count, then the message.
pub(crate) fn keep_payload(attempts: u32, message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + message.len());
    out.extend_from_slice(&attempts.to_le_bytes());
    out.extend_from_slice(message);
    out
}

fn take_text(rest: &mut &[u8]) -> Option<String> {
    let len = usize::from(u16::from_le_bytes([*rest.first()?, *rest.get(1)?]));
    let text = std::str::from_utf8(rest.get(2..2 + len)?).ok()?.to_owned();
    *rest = &rest[2 + len..];
    Some(text)
}

fn parse_create(payload: &[u8]) -> Option<(String, String, Role)> {
    let mut rest = payload;
    let name = take_text(&mut rest)?;
    let tag = take_text(&mut rest)?;
    let role = match rest.split_first() {
        None => Role::Mailbox,
        Some((1, tail)) => {
            rest = tail;
            Role::Subscription(take_text(&mut rest)?)
        }
        Some((2, tail)) => {
            let (keep, tail) = tail.split_first_chunk::<8>()?;
            rest = tail;
            Role::Log(u64::from_le_bytes(*keep))
        }
        Some(_) => return None,
    };
    rest.is_empty().then_some((name, tag, role))
}

impl Queues {
    /// The stream id of the queue `name`.
    #[cfg(test)]
    pub(crate) fn id(&self, name: &str) -> Option<QueueId> {
        self.names.get(name).copied()
    }

    /// Applies one record, found at `loc`.
    pub(crate) fn apply(
        &mut self,
        kind: u8,
        stream: u32,
        seq: u64,
        payload: &[u8],
        loc: Loc,
    ) -> Result<(), QueueError> {
        let Some(kind) = Kind::of(kind) else { return Err(QueueError::UnknownKind(kind)) };
        let queue = self.queues.entry(QueueId(stream)).or_default();
        queue.first_seen.get_or_insert(loc);
        if kind == Kind::Create {
            return self.create(stream, seq, payload, loc);
        }
        let Some(seq) = Seq::new(seq) else { return Err(QueueError::BadSeq(stream, seq)) };
        let queue = self.queues.entry(QueueId(stream)).or_default();
        match kind {
            Kind::Create => unreachable!("handled above"),
            Kind::Enqueue | Kind::EnqueueId => {
                let next = next_seq(stream, seq)?;
                let mut prefix = 0;
                if kind == Kind::EnqueueId {
                    let (id, millis, len) = parse_id(payload).ok_or(QueueError::BadId(stream))?;
                    queue.ids.push((id.to_owned(), seq, millis, loc.segment));
                    prefix = len;
                }
                // A decoded payload is at most 16 MiB.
                let len = u32::try_from(payload.len() - prefix).unwrap_or(u32::MAX);
                let at = message_at(loc, false) + prefix as u64;
                queue.pending.insert(seq, Pending { record: loc, at, len, attempts: 0 });
                queue.next_seq = queue.next_seq.max(next);
            }
            Kind::Keep => {
                let next = next_seq(stream, seq)?;
                let (count, message) = payload.split_first_chunk::<4>().ok_or(QueueError::BadKeep(stream))?;
                let attempts = u32::from_le_bytes(*count);
                let at = message_at(loc, true);
                queue.pending.insert(
                    seq,
                    Pending { record: loc, at, len: u32::try_from(message.len()).unwrap_or(u32::MAX), attempts },
                );
                queue.next_seq = queue.next_seq.max(next);
            }
            Kind::Deliver => {
                if let Some(pending) = queue.pending.get_mut(&seq) {
                    pending.attempts = pending.attempts.saturating_add(1);
                }
            }
            // Acking twice, or a message already dead-lettered, changes nothing.
            Kind::Ack | Kind::Dead => {
                queue.pending.remove(&seq);
            }
        }
        Ok(())
    }

    /// A `CREATE`: defines the stream's queue, or restates it (same name,
    /// tag and role; the next seq raised to at least `seq`).
    fn create(&mut self, stream: u32, seq: u64, payload: &[u8], loc: Loc) -> Result<(), QueueError> {
        let (name, tag, role) = parse_create(payload).ok_or(QueueError::BadCreate(stream))?;
        if self.names.get(&name).is_some_and(|&id| id != QueueId(stream)) {
            return Err(QueueError::BadCreate(stream));
        }
        let queue = self.queues.entry(QueueId(stream)).or_default();
        match &queue.name {
            Some(known) if *known != name || queue.tag != tag || queue.role != role => {
                return Err(QueueError::BadCreate(stream))
            }
            Some(_) => {}
            None => {
                self.names.insert(name.clone(), QueueId(stream));
                queue.name = Some(name);
                queue.tag = tag;
                queue.role = role;
            }
        }
        queue.next_seq = queue.next_seq.max(Seq::new(seq).unwrap_or(Seq::FIRST));
        queue.created_at = Some(loc);
        Ok(())
    }

    /// Checks what a complete log must satisfy: every stream was created.
    /// An error says where the offending stream's first record is.
    pub(crate) fn finish(&self) -> Result<(), (QueueError, Option<Loc>)> {
        match self.queues.iter().find(|(_, queue)| queue.name.is_none()) {
            Some((&id, queue)) => Err((QueueError::UnknownStream(id.stream()), queue.first_seen)),
            None => Ok(()),
        }
    }
}

/// The seq after an enqueued message's: its seq must be one an enqueue can
/// have (a crafted record with seq `u64::MAX` is refused, not wrapped).
fn next_seq(stream: u32, seq: Seq) -> Result<Seq, QueueError> {
    seq.next().ok_or(QueueError::BadSeq(stream, seq.get()))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Applies records as if written one after another in segment 1.
    struct Log {
        queues: Queues,
        at: u64,
    }

    impl Log {
        fn new() -> Log {
            Log { queues: Queues::default(), at: 16 }
        }

        fn apply(&mut self, kind: u8, stream: u32, seq: u64, payload: &[u8]) -> Result<Loc, QueueError> {
            let loc = Loc { segment: 1, offset: self.at };
            self.at += (HEADER + payload.len()) as u64;
            self.queues.apply(kind, stream, seq, payload, loc).map(|()| loc)
        }
    }

    #[test]
    fn an_enqueue_with_an_id_remembers_the_id_and_points_at_the_message() {
        let mut log = Log::new();
        log.apply(CREATE, 1, 1, &create_payload("q", "T", &Role::Mailbox)).unwrap();
        log.apply(ENQUEUE_ID, 1, 1, &id_payload("order-7", 1234, b"msg")).unwrap();
        log.apply(ACK, 1, 1, b"").unwrap();
        let loc2 = log.apply(ENQUEUE_ID, 1, 2, &id_payload("order-8", 1235, b"m2")).unwrap();
        let queue = &log.queues.queues[&QueueId(1)];
        assert_eq!(queue.ids, [("order-7".to_owned(), seq(1), 1234, 1), ("order-8".to_owned(), seq(2), 1235, 1)]);
        let pending = queue.pending[&seq(2)];
        assert_eq!((pending.at, pending.len), (message_at(loc2, false) + 1 + 7 + 8, 2));
        assert_eq!(queue.next_seq, seq(3));
        assert_eq!(parse_id(&id_payload("x", 5, b"")), Some(("x", 5, 10)));
        assert_eq!(log.apply(ENQUEUE_ID, 1, 3, &[9, b'a']), Err(QueueError::BadId(1)));
    }

    #[test]
    fn a_queue_tracks_pending_messages_attempts_and_locations() {
        let mut log = Log::new();
        log.apply(CREATE, 1, 1, &create_payload("billing", "OrderPlaced", &Role::Mailbox)).unwrap();
        let mut locs = Vec::new();
        for seq in 1..=3 {
            locs.push(log.apply(ENQUEUE, 1, seq, &[seq as u8; 5]).unwrap());
        }
        log.apply(DELIVER, 1, 1, b"").unwrap();
        log.apply(ACK, 1, 1, b"").unwrap();
        log.apply(DELIVER, 1, 2, b"").unwrap();
        log.apply(DELIVER, 1, 2, b"").unwrap();
        log.apply(DEAD, 1, 3, b"poison").unwrap();
        let queue = &log.queues.queues[&QueueId(1)];
        assert_eq!(
            (queue.name.as_deref(), queue.tag.as_str(), queue.next_seq),
            (Some("billing"), "OrderPlaced", seq(4))
        );
        assert_eq!(queue.pending.keys().copied().collect::<Vec<_>>(), [seq(2)]);
        let at = locs[1].offset + HEADER as u64;
        assert_eq!(queue.pending[&seq(2)], Pending { record: locs[1], at, len: 5, attempts: 2 });
        assert_eq!(log.queues.id("billing"), Some(QueueId(1)));
        log.queues.finish().unwrap();
    }

    #[test]
    fn compaction_leftovers_fold_to_the_same_state() {
        // What remains after the segment with CREATE and ENQUEUE 1..2 was
        // deleted: an ACK of 1, a DELIVER of 2, then the restatements.
        let mut log = Log::new();
        log.apply(ACK, 1, 1, b"").unwrap();
        log.apply(DELIVER, 1, 2, b"").unwrap();
        log.apply(CREATE, 1, 3, &create_payload("q", "T", &Role::Mailbox)).unwrap();
        let keep = log.apply(KEEP, 1, 2, &keep_payload(1, b"two")).unwrap();
        log.apply(DELIVER, 1, 2, b"").unwrap();
        log.queues.finish().unwrap();
        let queue = &log.queues.queues[&QueueId(1)];
        assert_eq!(queue.next_seq, seq(3), "seqs are never reused");
        let at = message_at(keep, true);
        assert_eq!(queue.pending[&seq(2)], Pending { record: keep, at, len: 3, attempts: 2 });
    }

    #[test]
    fn create_records_carry_the_role() {
        let loc = Loc { segment: 1, offset: 16 };
        let mut queues = Queues::default();
        let sub = Role::Subscription("orders.>".into());
        queues.apply(CREATE, 1, 1, &create_payload("billing", "E", &sub), loc).unwrap();
        queues.apply(CREATE, 2, 1, &create_payload("$log", "E", &Role::Log(100)), loc).unwrap();
        assert_eq!(queues.queues[&QueueId(1)].role, sub);
        assert_eq!(queues.queues[&QueueId(2)].role, Role::Log(100));
        let other = create_payload("billing", "E", &Role::Subscription("orders.*".into()));
        assert_eq!(queues.apply(CREATE, 1, 1, &other, loc), Err(QueueError::BadCreate(1)));
        assert_eq!(
            queues.apply(CREATE, 3, 1, &[create_payload("x", "E", &Role::Mailbox), vec![9]].concat(), loc),
            Err(QueueError::BadCreate(3))
        );
    }

    #[test]
    fn records_outside_the_protocol_are_errors() {
        let loc = Loc { segment: 1, offset: 16 };
        let mut queues = Queues::default();
        let at = Loc { segment: 3, offset: 400 };
        queues.apply(ACK, 9, 1, b"", at).unwrap();
        queues.apply(ENQUEUE, 9, 1, b"", loc).unwrap();
        // Reported where the stream's first record is.
        assert_eq!(queues.finish(), Err((QueueError::UnknownStream(9), Some(at))));
        // Crafted seqs are refused, not wrapped around.
        let mut queues = Queues::default();
        queues.apply(CREATE, 1, 0, &create_payload("a", "T", &Role::Mailbox), loc).unwrap();
        assert_eq!(queues.apply(ENQUEUE, 1, 0, b"", loc), Err(QueueError::BadSeq(1, 0)));
        assert_eq!(queues.apply(ENQUEUE, 1, u64::MAX, b"", loc), Err(QueueError::BadSeq(1, u64::MAX)));
        assert_eq!(queues.apply(KEEP, 1, u64::MAX, &[0; 4], loc), Err(QueueError::BadSeq(1, u64::MAX)));
        queues.apply(ENQUEUE, 1, u64::MAX - 1, b"", loc).unwrap();
        assert_eq!(queues.queues[&QueueId(1)].next_seq, seq(u64::MAX));
        let mut queues = Queues::default();
        assert_eq!(queues.apply(CREATE, 1, 0, b"\x05", loc), Err(QueueError::BadCreate(1)));
        queues.apply(CREATE, 1, 0, &create_payload("a", "T", &Role::Mailbox), loc).unwrap();
        queues.apply(CREATE, 1, 5, &create_payload("a", "T", &Role::Mailbox), loc).unwrap();
        assert_eq!(
            queues.apply(CREATE, 2, 0, &create_payload("a", "T", &Role::Mailbox), loc),
            Err(QueueError::BadCreate(2))
        );
        assert_eq!(
            queues.apply(CREATE, 1, 0, &create_payload("a", "U", &Role::Mailbox), loc),
            Err(QueueError::BadCreate(1))
        );
        assert_eq!(queues.apply(KEEP, 1, 1, b"ab", loc), Err(QueueError::BadKeep(1)));
        assert_eq!(queues.apply(99, 1, 1, b"", loc), Err(QueueError::UnknownKind(99)));
    }

    #[derive(Clone, Debug)]
    enum Op {
        Enqueue(u8),
        Deliver(u8),
        Ack(u8),
        Dead(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => any::<u8>().prop_map(Op::Enqueue),
            2 => any::<u8>().prop_map(Op::Deliver),
            2 => any::<u8>().prop_map(Op::Ack),
            1 => any::<u8>().prop_map(Op::Dead),
        ]
    }

    proptest! {
        /// The fold agrees with a plain model, and any prefix of the records
        /// (what a crash leaves) is a consistent earlier state.
        #[test]
        fn the_fold_matches_a_model_at_every_prefix(ops in prop::collection::vec(op(), 0..80)) {
            let mut records: Vec<(u8, u64, Vec<u8>)> = vec![(CREATE, 1, create_payload("q", "M", &Role::Mailbox))];
            // The model: seq -> (length, attempts, done), after each record.
            let mut model: BTreeMap<u64, (u32, u32, bool)> = BTreeMap::new();
            let mut models = vec![model.clone()];
            let mut next = 1u64;
            for op in ops {
                let pick = |n: u8| if next > 1 { 1 + u64::from(n) % (next - 1) } else { 1 };
                let rec = match op {
                    Op::Enqueue(byte) => {
                        model.insert(next, (u32::from(byte % 7), 0, false));
                        next += 1;
                        (ENQUEUE, next - 1, vec![byte; usize::from(byte % 7)])
                    }
                    Op::Deliver(n) => {
                        let seq = pick(n);
                        if let Some(entry) = model.get_mut(&seq).filter(|e| !e.2) { entry.1 += 1; }
                        (DELIVER, seq, Vec::new())
                    }
                    Op::Ack(n) | Op::Dead(n) => {
                        let seq = pick(n);
                        if let Some(entry) = model.get_mut(&seq) { entry.2 = true; }
                        (if matches!(op, Op::Ack(_)) { ACK } else { DEAD }, seq, Vec::new())
                    }
                };
                records.push(rec);
                models.push(model.clone());
            }
            for (cut, expected) in models.iter().enumerate() {
                let mut log = Log::new();
                for (kind, seq, payload) in &records[..=cut] {
                    log.apply(*kind, 1, *seq, payload).unwrap();
                }
                let got: BTreeMap<u64, (u32, u32)> =
                    log.queues.queues[&QueueId(1)].pending.iter().map(|(seq, p)| (seq.get(), (p.len, p.attempts))).collect();
                let want: BTreeMap<u64, (u32, u32)> =
                    expected.iter().filter(|(_, e)| !e.2).map(|(seq, e)| (*seq, (e.0, e.1))).collect();
                prop_assert_eq!(got, want);
            }
        }
    }
}
