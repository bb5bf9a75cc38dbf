//! Reclamation: sealed segments with nothing live go, oldest first; the few
//! live records pinning the oldest one are copied forward first.

use crate::durable::records::{create_payload, keep_payload, message_at, CREATE, KEEP, KEEP_PREFIX};
use crate::journal::record::{Loc, OwnedRecord, HEADER};
use crate::journal::segment::JournalError;

use super::*;

impl Store {
    /// Deletes sealed segments with nothing live, oldest first, and
    /// restates the few live records pinning the oldest one (copy-forward)
    /// so that it can go too.
    pub(super) fn maintain(&self, state: &mut State, out: &mut Outbox) {
        // Callbacks run in log order, so every record in an older segment
        // has been accounted for.
        state.newest = state.newest.max(self.journal.newest_written());
        let mut now = None;
        while let Some((&oldest, &live)) = state.segments.first_key_value() {
            if oldest >= state.newest {
                return;
            }
            // A segment holding producers' message ids stays (neither
            // deleted nor compacted) while they are within the dedupe
            // window: a retry after a crash must still find them.
            if live.id_newest > 0
                && live.id_newest.saturating_add(state.dedupe_window) > *now.get_or_insert_with(unix_millis)
            {
                return;
            }
            if live.records == 0 {
                state.segments.remove(&oldest);
                state.readers.remove(&oldest);
                out.remove.push(oldest);
                continue;
            }
            // Copy forward only a segment pinned by a little live data; a
            // real backlog keeps its segments.
            if state.compacting || live.bytes.saturating_mul(4) > self.segment_size {
                return;
            }
            self.compact(state, oldest, out);
            return;
        }
    }

    pub(super) fn compact(&self, state: &mut State, oldest: u64, out: &mut Outbox) {
        // (queue, the message's seq, or `None` for the queue's CREATE)
        let mut moved: Vec<(QueueId, Option<Seq>)> = Vec::new();
        let mut records = Vec::new();
        let ids: Vec<QueueId> = state.queues.keys().copied().collect();
        for id in ids {
            let queue = &state.queues[&id];
            if queue.created_at.is_some_and(|loc| loc.segment == oldest) {
                let payload = create_payload(&queue.name, &queue.tag, &queue.role);
                records.push(OwnedRecord { kind: CREATE, stream: id.stream(), seq: queue.next_seq.get(), payload });
                moved.push((id, None));
            }
            let pinned: Vec<(Seq, Slot)> = queue
                .slots
                .iter()
                .filter(|(_, slot)| matches!(slot.status, Status::Waiting | Status::InFlight) && slot.segment == oldest)
                .map(|(seq, slot)| (seq, *slot))
                .collect();
            for (seq, slot) in pinned {
                let Ok(bytes) = self.read(state, oldest, u64::from(slot.at), slot.len) else {
                    return; // leave the segment; an I/O error here costs space, not data
                };
                records.push(OwnedRecord {
                    kind: KEEP,
                    stream: id.stream(),
                    seq: seq.get(),
                    payload: keep_payload(slot.attempts, &bytes),
                });
                moved.push((id, Some(seq)));
            }
        }
        if records.is_empty() {
            // Nothing in it is live after all (the counts drifted): the
            // slots are the truth, so the segment can go.
            tracing::warn!(segment = oldest, "journal live count out of step; reclaiming the segment");
            state.segments.insert(oldest, Live::default());
            return;
        }
        state.compacting = true;
        let me = self.me.clone();
        let sizes: Vec<u64> = records.iter().map(|record| (HEADER + record.payload.len()) as u64).collect();
        out.extra.push((
            records,
            Box::new(move |result: Result<Loc, JournalError>| {
                let Some(store) = me.upgrade() else { return };
                store.run(|state, _| {
                    // A failed restatement means the journal refuses writes
                    // for good (poisoned or closed): compacting stays off,
                    // or every operation would retry it, fail at once, and
                    // retry again without end.
                    let Ok(first) = result else { return };
                    state.compacting = false;
                    state.newest = state.newest.max(first.segment);
                    let mut next = first.offset;
                    for ((id, seq), size) in moved.into_iter().zip(sizes) {
                        let loc = Loc { segment: first.segment, offset: next };
                        next += size;
                        let Some(queue) = state.queues.get_mut(&id) else { continue };
                        let moved_live = match seq {
                            None => {
                                queue.created_at = Some(loc);
                                Live { records: 1, ..Live::default() }
                            }
                            Some(seq) => match queue.slot(seq) {
                                Some(slot)
                                    if matches!(slot.status, Status::Waiting | Status::InFlight)
                                        && slot.segment == oldest =>
                                {
                                    slot.segment = loc.segment;
                                    slot.at = offset(message_at(loc, true));
                                    Live { records: 1, bytes: u64::from(slot.len) + HEADER as u64, ..Live::default() }
                                }
                                _ => continue, // acked meanwhile: the restatement is dead on arrival
                            },
                        };
                        let from = state.segments.entry(oldest).or_default();
                        from.records = from.records.saturating_sub(moved_live.records);
                        from.bytes = from.bytes.saturating_sub(moved_live.bytes);
                        let to = state.segments.entry(loc.segment).or_default();
                        to.records += moved_live.records;
                        to.bytes += moved_live.bytes + if seq.is_none() { 0 } else { KEEP_PREFIX };
                    }
                });
            }),
        ));
    }
}
