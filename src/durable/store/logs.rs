//! Event logs: retention (trimming), and the history a new subscription
//! replays from.

use crate::durable::error::DurableError;
use crate::durable::records::{Role, ACK};
use crate::journal::record::OwnedRecord;
use crate::journal::segment::JournalError;
use crate::topic::{Pattern, Topic};

use super::*;

/// How a log or subscription is started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Start {
    /// Only what is published from now on.
    New,
    /// Everything the log retains.
    Origin,
    /// What the log retains from this seq on.
    Seq(u64),
}

pub(super) fn find_log(state: &State, tag: &str) -> Option<QueueId> {
    state.queues.iter().find(|(_, queue)| queue.tag == tag && matches!(queue.role, Role::Log(_))).map(|(&id, _)| id)
}

/// A log record's payload: `u16` topic length, topic, event bytes.
pub(super) fn with_topic(topic: &str, bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + topic.len() + bytes.len());
    out.extend_from_slice(&(topic.len() as u16).to_le_bytes());
    out.extend_from_slice(topic.as_bytes());
    out.extend_from_slice(bytes);
    out
}

pub(super) fn split_topic(payload: &[u8]) -> Option<(&str, &[u8])> {
    let (len, rest) = payload.split_first_chunk::<2>()?;
    let len = usize::from(u16::from_le_bytes(*len));
    let topic = std::str::from_utf8(rest.get(..len)?).ok()?;
    Some((topic, &rest[len..]))
}

/// Drops a log's oldest events beyond its retention (acked, so reclaimed).
pub(super) fn trim(state: &mut State, id: QueueId, out: &mut Outbox) {
    let queue = state.queues.get_mut(&id).expect("queue exists");
    let Role::Log(keep) = queue.role else { return };
    // Confirmed events only (trimmed as each is confirmed).
    let mut kept = queue.pending;
    if kept <= keep {
        return;
    }
    let mut trimmed = Vec::new();
    for (seq, slot) in queue.slots.iter() {
        if kept <= keep {
            break;
        }
        if slot.status == Status::Waiting {
            trimmed.push(seq);
            kept -= 1;
            queue.pending -= 1;
            out.records.push(OwnedRecord { kind: ACK, stream: id.stream(), seq: seq.get(), payload: Vec::new() });
        }
    }
    for seq in trimmed {
        finish(state, id, seq);
    }
}

impl Store {
    /// The events retained by `log` from seq `from` on whose topic matches
    /// `pattern`, oldest first (their bytes, without the topic).
    pub(super) fn history(
        &self,
        state: &mut State,
        log: QueueId,
        from: Seq,
        pattern: &Pattern,
    ) -> Result<Vec<Vec<u8>>, DurableError> {
        let queue = &state.queues[&log];
        let entries: Vec<(Seq, Slot)> = queue
            .slots
            .iter_from(from)
            .filter(|(_, slot)| slot.status == Status::Waiting)
            .map(|(seq, slot)| (seq, *slot))
            .collect();
        let mut events = Vec::new();
        for (seq, slot) in entries {
            let cached = state.queues[&log].cache.iter().find(|(s, _)| *s == seq).map(|(_, bytes)| bytes.to_vec());
            let bytes = match cached {
                Some(bytes) => bytes,
                None => self
                    .read(state, slot.segment, u64::from(slot.at), slot.len)
                    .map_err(|error| DurableError::Journal(JournalError::Io(error)))?,
            };
            let Some((topic, event)) = split_topic(&bytes) else { continue };
            if Topic::new(topic).is_ok_and(|topic| pattern.matches(&topic)) {
                events.push(event.to_vec());
            }
        }
        Ok(events)
    }
}
