//! The store's data: per queue its unfinished messages, consumer and cache; per
//! segment what it still holds live; and the outbox an operation fills under
//! the state lock.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use crate::durable::delivery::DurableDeadLetter;
use crate::durable::records::Role;
use crate::durable::slots::Slots;
use crate::exit::ExitReason;
use crate::journal::commit::Done;
use crate::journal::record::{Loc, OwnedRecord};
use crate::journal::storage::StorageFile;
use crate::topic::Pattern;
use tokio::sync::{oneshot, Notify};

use crate::journal::segment::JournalError;

use super::*;

/// Message bytes kept in memory per queue for delivery without a read.
pub(super) const CACHE_BYTES: usize = 1 << 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Status {
    /// Submitted; not yet written (and synced, under `Always`).
    Unconfirmed,
    Waiting,
    InFlight,
}

/// One unfinished message of a queue (20 bytes, plus the map's overhead:
/// what a backlog costs in memory per message).
#[derive(Clone, Copy, Debug)]
pub(super) struct Slot {
    /// The segment holding the message (0 while unconfirmed). Segment
    /// numbers are never reused, so they keep their full width.
    pub(super) segment: u64,
    /// Where the message bytes start in the segment (see [`offset`]).
    pub(super) at: u32,
    pub(super) len: u32,
    pub(super) attempts: u32,
    pub(super) status: Status,
}

/// A message's offset in its segment, as a [`Slot`] keeps it. Segments are
/// at most 2 GiB (`JournalConfig::segment_size` clamps) plus one submission
/// that did not fit, and the store submits nothing larger than a record
/// (16 MiB) or a checkpoint chunk, so every offset fits in 32 bits.
pub(super) fn offset(at: u64) -> u32 {
    u32::try_from(at).expect("a message offset within a segment fits in 32 bits")
}

pub(super) struct Consumer {
    pub(super) sink: Box<dyn Sink>,
    pub(super) window: u32,
    pub(super) limit: u32,
}

pub(super) struct QueueState {
    pub(super) name: Arc<str>,
    pub(super) tag: String,
    pub(super) role: Role,
    /// A subscription's pattern, parsed.
    pub(super) pattern: Option<Pattern>,
    pub(super) next_seq: Seq,
    /// Unfinished messages by seq. Finished ones leave at once, so memory
    /// follows the live messages, never the span of their seqs (one stuck
    /// message and a million acked after it cost one slot, and a crafted
    /// seq gap costs nothing).
    pub(super) slots: Slots<Slot>,
    /// Bytes of messages not yet delivered, by seq, oldest first.
    pub(super) cache: VecDeque<(Seq, Box<[u8]>)>,
    pub(super) cache_bytes: usize,
    pub(super) consumer: Option<Consumer>,
    /// Bumped at every attach and detach; a token of another epoch is stale.
    pub(super) epoch: u64,
    pub(super) in_flight: u32,
    /// Slots waiting or in flight (what `QueueStats::pending` reports).
    pub(super) pending: u64,
    /// Why the consumer last died holding a message (for dead letters).
    pub(super) last_exit: HashMap<Seq, ExitReason>,
    /// Messages put back by `Context::retry_after`: not delivered again
    /// before their instant; the first in line holds back the ones after it.
    pub(super) not_before: HashMap<Seq, tokio::time::Instant>,
    /// Producers' message ids within the dedupe window, and the same ids
    /// oldest first (to forget them in order).
    pub(super) ids: HashMap<Box<str>, Remembered>,
    pub(super) id_order: VecDeque<(u64, Box<str>)>,
    /// Producers that repeated an id whose first write is not yet confirmed:
    /// they get its outcome.
    pub(super) repeats: HashMap<Seq, Vec<oneshot::Sender<Result<Seq, JournalError>>>>,
    pub(super) created_at: Option<Loc>,
    pub(super) acked: u64,
    pub(super) dead: u64,
    /// Deliveries that were not a message's first.
    pub(super) redelivered: u64,
    /// Woken when `pending` reaches 0, and when the store closes.
    pub(super) drained: Arc<Notify>,
}

impl QueueState {
    pub(super) fn new(name: Arc<str>, tag: String, role: Role) -> QueueState {
        let pattern = match &role {
            Role::Subscription(pattern) => Pattern::new(pattern).ok(),
            _ => None,
        };
        QueueState {
            name,
            tag,
            role,
            pattern,
            next_seq: Seq::FIRST,
            slots: Slots::default(),
            cache: VecDeque::new(),
            cache_bytes: 0,
            consumer: None,
            epoch: 0,
            in_flight: 0,
            pending: 0,
            last_exit: HashMap::new(),
            not_before: HashMap::new(),
            ids: HashMap::new(),
            id_order: VecDeque::new(),
            repeats: HashMap::new(),
            created_at: None,
            acked: 0,
            dead: 0,
            redelivered: 0,
            drained: Arc::new(Notify::new()),
        }
    }

    pub(super) fn slot(&mut self, seq: Seq) -> Option<&mut Slot> {
        self.slots.get_mut(seq)
    }

    /// Forgets the ids stored before `now - window`.
    pub(super) fn forget_ids(&mut self, now: u64, window: u64) {
        while let Some((at, _)) = self.id_order.front() {
            if at.saturating_add(window) > now {
                break;
            }
            let (at, id) = self.id_order.pop_front().expect("front exists");
            if self.ids.get(&id).is_some_and(|remembered| remembered.at == at) {
                self.ids.remove(&id);
            }
        }
    }
}

#[derive(Default, Clone, Copy, Debug)]
pub(super) struct Live {
    pub(super) records: u64,
    pub(super) bytes: u64,
    /// When the newest message id in the segment was stored (unix ms; 0:
    /// none): the segment stays until the dedupe window is past it.
    pub(super) id_newest: u64,
}

pub(super) struct State {
    pub(super) queues: HashMap<QueueId, QueueState>,
    pub(super) names: HashMap<Arc<str>, QueueId>,
    /// The id the next new queue gets; `None` once the ids are used up
    /// (a queue holds the largest id).
    pub(super) next_stream: Option<QueueId>,
    /// Every segment on disk, with what it holds that is still needed.
    pub(super) segments: BTreeMap<u64, Live>,
    /// The newest segment a write was seen in; older ones are sealed.
    pub(super) newest: u64,
    pub(super) compacting: bool,
    /// The System closed the journal: nothing more will be handled.
    pub(super) closed: bool,
    pub(super) readers: HashMap<u64, Box<dyn StorageFile>>,
    /// The last ticket handed out (see [`Sequencer`]).
    pub(super) next_ticket: u64,
    /// How long a producer's message id is remembered (milliseconds).
    pub(super) dedupe_window: u64,
}

/// A producer's message id, remembered for the dedupe window.
#[derive(Clone, Copy, Debug)]
pub(super) struct Remembered {
    /// The message stored under it.
    pub(super) seq: Seq,
    /// When (unix milliseconds).
    pub(super) at: u64,
}

/// Now, as the dedupe window counts it: wall-clock milliseconds, since
/// the ids outlive the process.
pub(super) fn unix_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| u64::try_from(since.as_millis()).unwrap_or(u64::MAX))
}

/// What an operation does once the state lock is released.
#[derive(Default)]
pub(super) struct Outbox {
    pub(super) records: Vec<OwnedRecord>,
    pub(super) extra: Vec<(Vec<OwnedRecord>, Done)>,
    pub(super) dead: Vec<DurableDeadLetter>,
    pub(super) sinks: Vec<Box<dyn Sink>>,
    pub(super) remove: Vec<u64>,
}
