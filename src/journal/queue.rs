//! Durable queues on the journal: what the records mean, and the state
//! rebuilt from them after a restart.
//!
//! A queue (one per durable mailbox) is a stream id with a name and a type
//! tag (so a durable name reused for another message type is caught). Its
//! messages have sequence numbers 1, 2, … Each record kind is one event:
//!
//! | kind | seq | payload | meaning |
//! |---|---|---|---|
//! | `CREATE` | 0 | `u16` name length, name, `u16` tag length, tag | the queue exists |
//! | `ENQUEUE` | message seq | the message | persisted, not yet acked |
//! | `DELIVER` | message seq | empty | handed to a handler once more (the attempt count) |
//! | `ACK` | message seq | empty | done: never delivered again |
//! | `DEAD` | message seq | the reason | given up after the delivery limit: done too |
//!
//! The state is a pure fold over the records in log order, so recovery is
//! "apply every recovered record" and a crash loses at most a suffix of the
//! events, never reorders them.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use super::record::OwnedRecord;

pub(crate) const CREATE: u8 = 1;
pub(crate) const ENQUEUE: u8 = 2;
pub(crate) const DELIVER: u8 = 3;
pub(crate) const ACK: u8 = 4;
pub(crate) const DEAD: u8 = 5;

/// A message persisted and not yet acked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Pending {
    pub(crate) payload: Vec<u8>,
    /// Deliveries so far (0: never handed to a handler).
    pub(crate) attempts: u32,
}

/// One durable queue.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Queue {
    pub(crate) name: String,
    pub(crate) tag: String,
    /// The seq the next enqueue gets.
    pub(crate) next_seq: u64,
    /// Unacked messages by seq, in order.
    pub(crate) pending: BTreeMap<u64, Pending>,
}

/// Records that do not fit the queue protocol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum QueueError {
    /// A record for a stream that was never created.
    UnknownStream(u32),
    /// A create record whose payload does not parse, or that reuses an id.
    BadCreate(u32),
    /// An enqueue whose seq is not the next one.
    OutOfOrder { stream: u32, seq: u64, expected: u64 },
    /// A record kind this version does not know.
    UnknownKind(u8),
}

impl fmt::Display for QueueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueueError::UnknownStream(stream) => write!(f, "record for unknown stream {stream}"),
            QueueError::BadCreate(stream) => write!(f, "malformed or repeated creation of stream {stream}"),
            QueueError::OutOfOrder { stream, seq, expected } => {
                write!(f, "stream {stream}: message {seq} where {expected} was expected")
            }
            QueueError::UnknownKind(kind) => write!(f, "unknown record kind {kind}"),
        }
    }
}

/// Every queue of a journal.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Queues {
    pub(crate) queues: BTreeMap<u32, Queue>,
    names: HashMap<String, u32>,
}

/// The payload of a create record.
pub(crate) fn create_payload(name: &str, tag: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + name.len() + tag.len());
    for text in [name, tag] {
        let len = u16::try_from(text.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&text.as_bytes()[..usize::from(len)]);
    }
    out
}

fn parse_create(payload: &[u8]) -> Option<(String, String)> {
    let mut rest = payload;
    let mut take = || -> Option<String> {
        let len = usize::from(u16::from_le_bytes([*rest.first()?, *rest.get(1)?]));
        let text = std::str::from_utf8(rest.get(2..2 + len)?).ok()?.to_owned();
        rest = &rest[2 + len..];
        Some(text)
    };
    let name = take()?;
    let tag = take()?;
    rest.is_empty().then_some((name, tag))
}

impl Queues {
    /// The stream id of the queue `name`.
    pub(crate) fn id(&self, name: &str) -> Option<u32> {
        self.names.get(name).copied()
    }

    /// Applies one record.
    pub(crate) fn apply(&mut self, kind: u8, stream: u32, seq: u64, payload: &[u8]) -> Result<(), QueueError> {
        if kind == CREATE {
            let (name, tag) = parse_create(payload).ok_or(QueueError::BadCreate(stream))?;
            if self.queues.contains_key(&stream) || self.names.contains_key(&name) {
                return Err(QueueError::BadCreate(stream));
            }
            self.names.insert(name.clone(), stream);
            self.queues.insert(stream, Queue { name, tag, next_seq: 1, pending: BTreeMap::new() });
            return Ok(());
        }
        let queue = self.queues.get_mut(&stream).ok_or(QueueError::UnknownStream(stream))?;
        match kind {
            ENQUEUE => {
                if seq != queue.next_seq {
                    return Err(QueueError::OutOfOrder { stream, seq, expected: queue.next_seq });
                }
                queue.next_seq += 1;
                queue.pending.insert(seq, Pending { payload: payload.to_vec(), attempts: 0 });
            }
            DELIVER => {
                if let Some(pending) = queue.pending.get_mut(&seq) {
                    pending.attempts = pending.attempts.saturating_add(1);
                }
            }
            // Acking twice, or a message already dead-lettered, changes nothing.
            ACK | DEAD => {
                queue.pending.remove(&seq);
            }
            other => return Err(QueueError::UnknownKind(other)),
        }
        Ok(())
    }

    /// Applies a record as the journal will write it.
    pub(crate) fn apply_record(&mut self, record: &OwnedRecord) -> Result<(), QueueError> {
        self.apply(record.kind, record.stream, record.seq, &record.payload)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn record(kind: u8, stream: u32, seq: u64, payload: &[u8]) -> OwnedRecord {
        OwnedRecord { kind, stream, seq, payload: payload.to_vec() }
    }

    #[test]
    fn a_queue_tracks_pending_messages_and_attempts() {
        let mut queues = Queues::default();
        queues.apply_record(&record(CREATE, 1, 0, &create_payload("billing", "OrderPlaced"))).unwrap();
        for seq in 1..=3 {
            queues.apply_record(&record(ENQUEUE, 1, seq, &[seq as u8])).unwrap();
        }
        queues.apply_record(&record(DELIVER, 1, 1, b"")).unwrap();
        queues.apply_record(&record(ACK, 1, 1, b"")).unwrap();
        queues.apply_record(&record(DELIVER, 1, 2, b"")).unwrap();
        queues.apply_record(&record(DELIVER, 1, 2, b"")).unwrap();
        queues.apply_record(&record(DEAD, 1, 3, b"poison")).unwrap();
        let queue = &queues.queues[&1];
        assert_eq!((queue.name.as_str(), queue.tag.as_str(), queue.next_seq), ("billing", "OrderPlaced", 4));
        assert_eq!(queue.pending.keys().copied().collect::<Vec<_>>(), [2]);
        assert_eq!(queue.pending[&2], Pending { payload: vec![2], attempts: 2 });
        assert_eq!(queues.id("billing"), Some(1));
    }

    #[test]
    fn records_outside_the_protocol_are_errors() {
        let mut queues = Queues::default();
        assert_eq!(queues.apply(ENQUEUE, 9, 1, b""), Err(QueueError::UnknownStream(9)));
        assert_eq!(queues.apply(CREATE, 1, 0, b"\x05"), Err(QueueError::BadCreate(1)));
        queues.apply(CREATE, 1, 0, &create_payload("a", "T")).unwrap();
        assert_eq!(queues.apply(CREATE, 2, 0, &create_payload("a", "T")), Err(QueueError::BadCreate(2)));
        assert_eq!(queues.apply(ENQUEUE, 1, 2, b""), Err(QueueError::OutOfOrder { stream: 1, seq: 2, expected: 1 }));
        assert_eq!(queues.apply(99, 1, 1, b""), Err(QueueError::UnknownKind(99)));
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
            let mut records = vec![record(CREATE, 1, 0, &create_payload("q", "M"))];
            // The model: seq -> (payload, attempts, done), after each record.
            let mut model: BTreeMap<u64, (Vec<u8>, u32, bool)> = BTreeMap::new();
            let mut models = vec![model.clone()];
            let mut next = 1u64;
            for op in ops {
                let pick = |n: u8| if next > 1 { 1 + u64::from(n) % (next - 1) } else { 1 };
                let rec = match op {
                    Op::Enqueue(byte) => {
                        model.insert(next, (vec![byte], 0, false));
                        next += 1;
                        record(ENQUEUE, 1, next - 1, &[byte])
                    }
                    Op::Deliver(n) => {
                        let seq = pick(n);
                        if let Some(entry) = model.get_mut(&seq).filter(|e| !e.2) { entry.1 += 1; }
                        record(DELIVER, 1, seq, b"")
                    }
                    Op::Ack(n) | Op::Dead(n) => {
                        let seq = pick(n);
                        if let Some(entry) = model.get_mut(&seq) { entry.2 = true; }
                        record(if matches!(op, Op::Ack(_)) { ACK } else { DEAD }, 1, seq, b"")
                    }
                };
                records.push(rec);
                models.push(model.clone());
            }
            for (cut, expected) in models.iter().enumerate() {
                let mut queues = Queues::default();
                for rec in &records[..=cut] {
                    queues.apply_record(rec).unwrap();
                }
                let pending: BTreeMap<u64, Pending> = expected
                    .iter()
                    .filter(|(_, e)| !e.2)
                    .map(|(seq, e)| (*seq, Pending { payload: e.0.clone(), attempts: e.1 }))
                    .collect();
                prop_assert_eq!(&queues.queues[&1].pending, &pending);
            }
        }
    }
}
