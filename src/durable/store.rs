//! The durable queues of one System on one journal: their state in memory,
//! delivery to the consuming actor, acks, redelivery, dead letters, and the
//! reclamation of journal space.
//!
//! The state is the fold of the journal's records ([`crate::durable::records`])
//! plus what only a live process has: the consumer, which messages are in
//! its hands, and a bounded cache of message bytes (the rest is read back
//! from the journal when delivered, so a backlog costs disk, not memory:
//! one [`Slots`](super::slots::Slots) entry per message).
//!
//! One file per responsibility: [`state`] (the data), [`open`] (recovery,
//! and the checkpoint after skipped damage), [`admit`] (queues, sends,
//! publishes, confirms), [`logs`] (event-log retention and history),
//! [`deliver`](mod@deliver) (delivery, acks, detach, dead letters), [`reclaim`]
//! (reclamation and copy-forward), [`sequencer`] (the order appends leave
//! in). This file holds the `Store` and the one way to change it, [`Store::run`].
//!
//! Locking. Three mutexes, never nested: `state` (everything in [`State`]),
//! `sequencer` (appends waiting for their turn) and `system` (where dead
//! letters go). None is held while another is taken, and none is held while
//! submitting to the journal, so a journal callback that runs inline (and
//! takes `state` itself) cannot deadlock. Operations change the state under
//! `state`, collect their appends in an [`Outbox`], take a ticket, unlock,
//! and then submit in ticket order.

use crate::addr::ActorId;
use crate::durable::delivery::DurableDeadLetter;
use crate::durable::error::DurableError;
use crate::durable::records::{QueueId, Seq};
use std::sync::{Arc, OnceLock, Weak};

use parking_lot::Mutex;

use crate::journal::recover::RecoveryReport;
use crate::journal::segment::segment_name;
use crate::journal::storage::Storage;
use crate::journal::Journal;

mod admit;
mod deliver;
mod logs;
mod open;
mod reclaim;
mod sequencer;
mod state;
#[cfg(test)]
mod tests;

use deliver::*;
use logs::*;
use sequencer::*;
use state::*;

pub(crate) use deliver::{AckToken, Offer, Sink};

/// How long producers' message ids are remembered by default (JetStream's
/// duplicate window): two minutes, in milliseconds.
pub(crate) const DEFAULT_DEDUPE_WINDOW: u64 = 120_000;
pub(crate) use logs::Start;

/// Counters of one durable queue.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueueStats {
    /// Messages persisted and not yet acked or dead-lettered (in flight
    /// included).
    pub pending: u64,
    /// Messages handed to the consumer and not yet acked.
    pub in_flight: u32,
    /// Messages acked since the journal was opened.
    pub acked: u64,
    /// Messages dead-lettered since the journal was opened.
    pub dead_lettered: u64,
    /// The sequence number the next message gets.
    pub next_seq: u64,
    /// Deliveries since the journal was opened that were not a message's
    /// first (after a consumer's crash, a retry, or a process restart).
    pub redelivered: u64,
}

/// What a System's journal holds on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct JournalStats {
    /// Segment files (each preallocated to `segment_size` bytes; the last
    /// one is being written).
    pub segments: usize,
    /// Records still needed: unacked messages and queue definitions.
    pub live_records: u64,
    /// Bytes per segment.
    pub segment_size: u64,
    /// Bytes that recovery cut from a torn tail of the last segment when the
    /// journal was opened (what a crash in the middle of a write leaves;
    /// under `FsyncPolicy::Always` never a confirmed message). Also reported
    /// as a `tracing` warning; see
    /// [`System::journal_recovery`](crate::System::journal_recovery) for
    /// the whole report.
    pub torn_tail_bytes: u64,
    /// Complete records that were in that torn tail (written in the same
    /// unsynced write after the torn one).
    pub torn_tail_records: u64,
    /// Pieces of damage skipped at open under `Recovery::SkipDamaged`.
    pub damage_skipped: usize,
}

pub(crate) struct Store {
    journal: Journal,
    storage: Arc<dyn Storage>,
    /// What recovery found when the journal opened.
    report: RecoveryReport,
    segment_size: u64,
    state: Mutex<State>,
    sequencer: Mutex<Sequencer>,
    me: Weak<Store>,
    /// Where dead letters go (set once by the System that owns the store,
    /// which publishes them on its registry).
    dead_letters: OnceLock<DeadLetterSink>,
}

/// What the store does with a message it gives up on.
pub(crate) type DeadLetterSink = Box<dyn Fn(DurableDeadLetter) + Send + Sync>;

impl Store {
    /// Hands dead letters to `sink` from now on (the first call wins).
    pub(crate) fn set_dead_letters(&self, sink: DeadLetterSink) {
        let _ = self.dead_letters.set(sink);
    }

    fn strong(&self) -> Arc<Store> {
        self.me.upgrade().expect("a store outlives its operations")
    }

    /// Runs `f` under the state lock, then does what it left in the outbox.
    fn run<R>(&self, f: impl FnOnce(&mut State, &mut Outbox) -> R) -> R {
        let mut out = Outbox::default();
        let (result, ticket) = {
            let mut state = self.state.lock();
            let result = f(&mut state, &mut out);
            self.maintain(&mut state, &mut out);
            // Appends leave in the order their operations changed the state
            // (a restated message must never land after its ack).
            let ticket = (!out.records.is_empty() || !out.extra.is_empty()).then(|| {
                state.next_ticket += 1;
                state.next_ticket
            });
            (result, ticket)
        };
        self.flush(out, ticket);
        result
    }

    fn flush(&self, mut out: Outbox, ticket: Option<u64>) {
        if let Some(through) = out.remove.drain(..).max() {
            // The segments are a prefix with nothing live; the journal marks
            // them reclaimed in CONTROL before it deletes them.
            self.journal.reclaim(through);
        }
        if let Some(ticket) = ticket {
            let mut batch = Vec::with_capacity(1 + out.extra.len());
            if !out.records.is_empty() {
                batch.push((std::mem::take(&mut out.records), self.note_done()));
            }
            batch.append(&mut out.extra);
            self.sequence(ticket, batch);
        }
        if let Some(sink) = self.dead_letters.get() {
            for letter in out.dead.drain(..) {
                sink(letter);
            }
        }
        drop(out.sinks);
    }

    pub(crate) fn stats(&self, id: QueueId) -> QueueStats {
        let state = self.state.lock();
        queue_stats(&state.queues[&id])
    }

    /// Every queue and subscription: its name, its consumer, its counts
    /// (for snapshots), by name.
    pub(crate) fn queues(&self) -> Vec<(String, Option<ActorId>, QueueStats)> {
        let state = self.state.lock();
        let mut queues: Vec<_> = state
            .queues
            .values()
            .map(|queue| {
                let consumer = queue.consumer.as_ref().map(|consumer| consumer.sink.consumer());
                (queue.name.to_string(), consumer, queue_stats(queue))
            })
            .collect();
        queues.sort_by(|a, b| a.0.cmp(&b.0));
        queues
    }

    /// Closes the journal (see [`Journal::close`]), and wakes whoever
    /// waits for a queue to drain.
    pub(crate) fn close(&self, closed: crate::journal::commit::Closed) {
        self.journal.close(closed);
        let mut state = self.state.lock();
        state.closed = true;
        for queue in state.queues.values() {
            queue.drained.notify_waiters();
        }
    }

    /// Waits until the queue has no message left to handle: every one acked
    /// or dead-lettered (their records may still be on their way to disk).
    /// `Closed` if the System closes the journal first.
    pub(crate) async fn drained(&self, id: QueueId) -> Result<(), DurableError> {
        let notify = self.state.lock().queues[&id].drained.clone();
        loop {
            let notified = notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let state = self.state.lock();
                if state.queues[&id].pending == 0 {
                    return Ok(());
                }
                if state.closed {
                    return Err(DurableError::Closed);
                }
            }
            notified.await;
        }
    }

    pub(crate) fn journal_stats(&self) -> JournalStats {
        let state = self.state.lock();
        JournalStats {
            segments: state.segments.len(),
            live_records: state.segments.values().map(|live| live.records).sum(),
            segment_size: self.segment_size,
            torn_tail_bytes: self.report.tail_cut.as_ref().map_or(0, |cut| cut.bytes),
            torn_tail_records: self.report.tail_cut.as_ref().map_or(0, |cut| cut.records),
            damage_skipped: self.report.skipped.len(),
        }
    }

    /// What recovery found when the journal opened.
    pub(crate) fn recovery_report(&self) -> &RecoveryReport {
        &self.report
    }

    fn read(&self, state: &mut State, segment: u64, at: u64, len: u32) -> std::io::Result<Vec<u8>> {
        let file = match state.readers.entry(segment) {
            std::collections::hash_map::Entry::Occupied(file) => file.into_mut(),
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(self.storage.open(&segment_name(segment), false)?)
            }
        };
        let mut bytes = vec![0; len as usize];
        file.read_exact_at(at, &mut bytes)?;
        Ok(bytes)
    }
}

fn queue_stats(queue: &QueueState) -> QueueStats {
    QueueStats {
        pending: queue.pending,
        in_flight: queue.in_flight,
        acked: queue.acked,
        dead_lettered: queue.dead,
        next_seq: queue.next_seq.get(),
        redelivered: queue.redelivered,
    }
}
