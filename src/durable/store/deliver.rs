//! Delivery to the consumer, acks, detach (what a dead consumer held goes
//! back, first in line), and dead letters.

use std::sync::Arc;

use crate::addr::ActorId;
use crate::durable::codec::CodecError;
use crate::durable::delivery::{Delivery, DurableDeadLetter, DurableDeadLetterReason};
use crate::durable::error::DurableError;
use crate::durable::records::{ACK, DEAD, DELIVER};
use crate::exit::ExitReason;
use crate::journal::record::{OwnedRecord, HEADER};
use crate::signal::FailedDelivery;

use super::*;

/// Where a consuming actor takes deliveries (typed by the actor and the
/// message type; see `delivery.rs`).
pub(crate) trait Sink: Send + Sync {
    /// Decodes the message and puts it in the consumer's mailbox.
    fn offer(&self, delivery: Delivery, payload: &[u8], token: AckToken) -> Offer;
    /// The consuming actor.
    fn consumer(&self) -> ActorId;
}

/// What became of an offer.
pub(crate) enum Offer {
    Queued,
    /// The consumer is dead.
    Gone,
    Undecodable(CodecError),
}

/// Acks one delivery (held by the envelope, then by the handler's context).
pub(crate) struct AckToken {
    pub(super) store: Arc<Store>,
    pub(super) queue: QueueId,
    pub(super) seq: Seq,
    pub(super) epoch: u64,
}

impl AckToken {
    pub(crate) fn ack(self) {
        self.store.ack(self.queue, self.seq, self.epoch);
    }

    /// Dead-letters the message now, with `why` (`Context::reject`).
    pub(crate) fn reject(self, why: String) {
        self.store.reject(self.queue, self.seq, self.epoch, why);
    }

    /// Puts the message back, first in line, to be delivered again after
    /// `delay` (`Context::retry_after`).
    pub(crate) fn retry_after(self, delay: std::time::Duration) {
        self.store.retry_after(self.queue, self.seq, self.epoch, delay);
    }

    /// Which message this is (for the exit signal of a consumer that failed on it).
    pub(crate) fn key(&self) -> FailedDelivery {
        FailedDelivery { queue: self.queue.stream(), seq: self.seq.non_zero() }
    }
}

/// Hands out messages while the consumer's window has room, in seq order.
pub(super) fn deliver(store: &Store, state: &mut State, id: QueueId, out: &mut Outbox) {
    loop {
        let queue = state.queues.get_mut(&id).expect("queue exists");
        let Some(consumer) = &queue.consumer else { break };
        if queue.in_flight >= consumer.window {
            break;
        }
        // The first waiting message, unless an unconfirmed one comes first.
        let Some((seq, slot)) = queue
            .slots
            .iter()
            .find(|(_, slot)| matches!(slot.status, Status::Waiting | Status::Unconfirmed))
            .map(|(seq, slot)| (seq, *slot))
        else {
            break;
        };
        if slot.status == Status::Unconfirmed {
            break;
        }
        // (The map is empty unless a handler asked for a retry: no hashing
        // per delivery otherwise.)
        let delayed = if queue.not_before.is_empty() { None } else { queue.not_before.get(&seq).copied() };
        if let Some(until) = delayed {
            if tokio::time::Instant::now() < until {
                break; // a retry waits its turn, and holds back the rest
            }
            queue.not_before.remove(&seq);
        }
        if slot.attempts >= consumer.limit {
            let reason = queue.last_exit.remove(&seq);
            dead_letter(store, state, id, seq, DurableDeadLetterReason::DeliveryLimit { last_exit: reason }, out);
            continue;
        }
        // The bytes: from the cache, or read back from the journal.
        let mut cached = None;
        while let Some((front, _)) = queue.cache.front() {
            if *front > seq {
                break;
            }
            let (front, bytes) = queue.cache.pop_front().expect("front exists");
            queue.cache_bytes -= bytes.len();
            if front == seq {
                cached = Some(bytes);
                break;
            }
        }
        let bytes: Box<[u8]> = match cached {
            Some(bytes) => bytes,
            None => match store.read(state, slot.segment, u64::from(slot.at), slot.len) {
                Ok(bytes) => bytes.into(),
                Err(error) => {
                    tracing::error!(queue = %state.queues[&id].name, seq = seq.get(), %error, "cannot read a durable message back; delivery paused");
                    break;
                }
            },
        };
        let queue = state.queues.get_mut(&id).expect("queue exists");
        let attempt = slot.attempts + 1;
        let delivery = Delivery { seq: seq.get(), attempt, redelivered: attempt > 1 };
        let token = AckToken { store: store.strong(), queue: id, seq, epoch: queue.epoch };
        let consumer = queue.consumer.as_ref().expect("checked above");
        match consumer.sink.offer(delivery, &bytes, token) {
            Offer::Queued => {
                let slot = queue.slots.get_mut(seq).expect("the slot being delivered");
                slot.attempts = attempt;
                slot.status = Status::InFlight;
                queue.in_flight += 1;
                queue.redelivered += u64::from(attempt > 1);
                out.records.push(OwnedRecord {
                    kind: DELIVER,
                    stream: id.stream(),
                    seq: seq.get(),
                    payload: Vec::new(),
                });
            }
            Offer::Gone => {
                // Its teardown will detach it; until then nothing more goes out.
                queue.cache.push_front((seq, bytes));
                queue.cache_bytes += queue.cache.front().map_or(0, |(_, b)| b.len());
                break;
            }
            Offer::Undecodable(error) => {
                queue.slots.get_mut(seq).expect("the slot being delivered").attempts = attempt;
                dead_letter(store, state, id, seq, DurableDeadLetterReason::Undecodable(error), out);
            }
        }
    }
}

/// Removes a finished message (acked, dead-lettered, trimmed, or never
/// confirmed): its segment holds one live record fewer, and cached bytes
/// older than the first unfinished message are dropped.
pub(super) fn finish(state: &mut State, id: QueueId, seq: Seq) {
    let Some(queue) = state.queues.get_mut(&id) else { return };
    let Some(slot) = queue.slots.remove(seq) else { return };
    if !queue.not_before.is_empty() {
        queue.not_before.remove(&seq);
    }
    if queue.pending == 0 {
        queue.drained.notify_waiters();
    }
    if slot.segment > 0 {
        if let Some(live) = state.segments.get_mut(&slot.segment) {
            live.records = live.records.saturating_sub(1);
            live.bytes = live.bytes.saturating_sub(u64::from(slot.len) + HEADER as u64);
        }
    }
    let first = queue.slots.first_seq().unwrap_or(queue.next_seq);
    while queue.cache.front().is_some_and(|(cached, _)| *cached < first) {
        let (_, bytes) = queue.cache.pop_front().expect("front exists");
        queue.cache_bytes -= bytes.len();
    }
}

/// Gives up on one message: a `DEAD` record, and the message published as a
/// [`DurableDeadLetter`] on the consumer's System.
pub(super) fn dead_letter(
    store: &Store,
    state: &mut State,
    id: QueueId,
    seq: Seq,
    reason: DurableDeadLetterReason,
    out: &mut Outbox,
) {
    let queue = state.queues.get_mut(&id).expect("queue exists");
    let slot = *queue.slots.get(seq).expect("the slot being dead-lettered");
    queue.pending -= 1;
    queue.dead += 1;
    let payload = match queue.cache.iter().position(|(s, _)| *s == seq) {
        Some(at) => {
            let (_, bytes) = queue.cache.remove(at).expect("position is valid");
            queue.cache_bytes -= bytes.len();
            bytes.into_vec()
        }
        None => store.read(state, slot.segment, u64::from(slot.at), slot.len).unwrap_or_default(),
    };
    finish(state, id, seq);
    let queue = &state.queues[&id];
    out.records.push(OwnedRecord {
        kind: DEAD,
        stream: id.stream(),
        seq: seq.get(),
        payload: reason.to_string().into_bytes(),
    });
    let letter = DurableDeadLetter::new(queue.name.to_string(), seq.get(), slot.attempts, reason, payload);
    tracing::warn!(
        queue = %letter.queue,
        seq = letter.seq,
        attempts = letter.attempts,
        reason = %letter.reason,
        "durable message dead-lettered"
    );
    out.dead.push(letter);
}

impl Store {
    /// Makes `sink` the queue's one consumer.
    pub(crate) fn attach(
        &self,
        id: QueueId,
        sink: Box<dyn Sink>,
        window: u32,
        limit: u32,
    ) -> Result<u64, DurableError> {
        self.run(|state, out| {
            let queue = state.queues.get_mut(&id).expect("a queue handle names a live queue");
            if let Some(consumer) = &queue.consumer {
                return Err(DurableError::AlreadyConsumed {
                    queue: queue.name.to_string(),
                    by: consumer.sink.consumer(),
                });
            }
            queue.epoch += 1;
            queue.consumer = Some(Consumer { sink, window: window.max(1), limit: limit.max(1) });
            let epoch = queue.epoch;
            deliver(self, state, id, out);
            Ok(epoch)
        })
    }

    /// The consumer of `epoch` died: what it held goes back, first in line.
    pub(crate) fn detach(&self, id: QueueId, epoch: u64, reason: &ExitReason) {
        self.run(|state, out| {
            let Some(queue) = state.queues.get_mut(&id) else { return };
            if queue.epoch != epoch {
                return;
            }
            queue.epoch += 1;
            if let Some(consumer) = queue.consumer.take() {
                out.sinks.push(consumer.sink);
            }
            queue.in_flight = 0;
            for (seq, slot) in queue.slots.iter_mut() {
                if slot.status == Status::InFlight {
                    slot.status = Status::Waiting;
                    queue.last_exit.insert(seq, reason.clone());
                }
            }
        });
    }

    /// The consumer of `epoch` gives up on its in-flight message `seq`.
    pub(super) fn reject(&self, id: QueueId, seq: Seq, epoch: u64, why: String) {
        self.run(|state, out| {
            let Some(queue) = state.queues.get_mut(&id) else { return };
            if queue.epoch != epoch || queue.slot(seq).is_none_or(|slot| slot.status != Status::InFlight) {
                return;
            }
            queue.in_flight -= 1;
            queue.last_exit.remove(&seq);
            dead_letter(self, state, id, seq, DurableDeadLetterReason::Rejected(why), out);
            deliver(self, state, id, out);
        });
    }

    /// The consumer of `epoch` puts its in-flight message `seq` back, to be
    /// delivered again (to it, or to the next consumer) once `delay` is over.
    pub(super) fn retry_after(&self, id: QueueId, seq: Seq, epoch: u64, delay: std::time::Duration) {
        let until = tokio::time::Instant::now() + delay;
        let put_back = self.run(|state, _| {
            let Some(queue) = state.queues.get_mut(&id) else { return false };
            if queue.epoch != epoch {
                return false;
            }
            let Some(slot) = queue.slot(seq) else { return false };
            if slot.status != Status::InFlight {
                return false;
            }
            slot.status = Status::Waiting;
            queue.in_flight -= 1;
            queue.not_before.insert(seq, until);
            true
        });
        if put_back {
            let store = self.me.clone();
            tokio::spawn(async move {
                tokio::time::sleep_until(until).await;
                if let Some(store) = store.upgrade() {
                    store.run(|state, out| {
                        if state.queues.contains_key(&id) {
                            deliver(&store, state, id, out);
                        }
                    });
                }
            });
        }
    }

    pub(super) fn ack(&self, id: QueueId, seq: Seq, epoch: u64) {
        self.run(|state, out| {
            let Some(queue) = state.queues.get_mut(&id) else { return };
            if queue.epoch != epoch {
                return; // the consumer died; the message goes around again
            }
            let Some(slot) = queue.slot(seq) else { return };
            if slot.status != Status::InFlight {
                return;
            }
            queue.in_flight -= 1;
            queue.pending -= 1;
            queue.acked += 1;
            queue.last_exit.remove(&seq);
            finish(state, id, seq);
            out.records.push(OwnedRecord { kind: ACK, stream: id.stream(), seq: seq.get(), payload: Vec::new() });
            deliver(self, state, id, out);
        });
    }
}
