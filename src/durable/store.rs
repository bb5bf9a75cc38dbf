//! The durable queues of one System on one journal: their state in memory,
//! delivery to the consuming actor, acks, redelivery, dead letters, and the
//! reclamation of journal space.
//!
//! The state is the fold of the journal's records ([`crate::journal::queue`])
//! plus what only a live process has: the consumer, which messages are in
//! its hands, and a bounded cache of message bytes (the rest is read back
//! from the journal when delivered, so a backlog costs disk, not memory: 20
//! bytes of index per message).
//!
//! Locking: one mutex over the state, never held across I/O that waits on
//! the journal. Operations collect the records they append in an [`Outbox`]
//! and submit them after unlocking; journal callbacks (which run in log
//! order, on the journal's thread or inline) take the lock themselves.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Weak};

use parking_lot::Mutex;
use tokio::sync::oneshot;

use super::codec::CodecError;
use super::delivery::{DeadLetterCause, Delivery, DurableDeadLetter};
use super::error::DurableError;
use super::slots::Slots;
use crate::addr::ActorId;
use crate::exit::ExitReason;
use crate::journal::commit::Done;
use crate::journal::queue::{
    create_payload, keep_payload, QueueError, Queues, Role, ACK, CREATE, DEAD, DELIVER, ENQUEUE, KEEP,
};
use crate::journal::record::{FrameError, Loc, OwnedRecord, HEADER};
use crate::journal::recover::{Damage, Recovery, RecoveryReport};
use crate::journal::segment::{segment_name, JournalError};
use crate::journal::storage::{Storage, StorageFile};
use crate::journal::{Journal, Settings};
use crate::system::WeakSystem;
use crate::topic::{Pattern, Topic};

/// Message bytes kept in memory per queue for delivery without a read.
const CACHE_BYTES: usize = 1 << 20;

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
    store: Arc<Store>,
    queue: u32,
    seq: u64,
    epoch: u64,
}

impl AckToken {
    pub(crate) fn ack(self) {
        self.store.ack(self.queue, self.seq, self.epoch);
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    /// Submitted; not yet written (and synced, under `Always`).
    Unconfirmed,
    Waiting,
    InFlight,
}

/// One unfinished message of a queue (20 bytes, plus the map's overhead:
/// what a backlog costs in memory per message).
#[derive(Clone, Copy, Debug)]
struct Slot {
    segment: u32,
    /// Where the message bytes start in the segment.
    at: u32,
    len: u32,
    attempts: u32,
    status: Status,
}

struct Consumer {
    sink: Box<dyn Sink>,
    window: u32,
    limit: u32,
}

struct QueueState {
    name: Arc<str>,
    tag: String,
    role: Role,
    /// A subscription's pattern, parsed.
    pattern: Option<Pattern>,
    next_seq: u64,
    /// Unfinished messages by seq. Finished ones leave at once, so memory
    /// follows the live messages, never the span of their seqs (one stuck
    /// message and a million acked after it cost one slot, and a crafted
    /// seq gap costs nothing).
    slots: Slots<Slot>,
    /// Bytes of messages not yet delivered, by seq, oldest first.
    cache: VecDeque<(u64, Box<[u8]>)>,
    cache_bytes: usize,
    consumer: Option<Consumer>,
    /// Bumped at every attach and detach; a token of another epoch is stale.
    epoch: u64,
    in_flight: u32,
    /// Slots waiting or in flight (what `QueueStats::pending` reports).
    pending: u64,
    /// Why the consumer last died holding a message (for dead letters).
    last_exit: HashMap<u64, ExitReason>,
    created_at: Option<Loc>,
    acked: u64,
    dead: u64,
}

impl QueueState {
    fn new(name: Arc<str>, tag: String, role: Role) -> QueueState {
        let pattern = match &role {
            Role::Subscription(pattern) => Pattern::new(pattern).ok(),
            _ => None,
        };
        QueueState {
            name,
            tag,
            role,
            pattern,
            next_seq: 1,
            slots: Slots::default(),
            cache: VecDeque::new(),
            cache_bytes: 0,
            consumer: None,
            epoch: 0,
            in_flight: 0,
            pending: 0,
            last_exit: HashMap::new(),
            created_at: None,
            acked: 0,
            dead: 0,
        }
    }

    fn slot(&mut self, seq: u64) -> Option<&mut Slot> {
        self.slots.get_mut(seq)
    }
}

#[derive(Default, Clone, Copy, Debug)]
struct Live {
    records: u64,
    bytes: u64,
}

struct State {
    queues: HashMap<u32, QueueState>,
    names: HashMap<Arc<str>, u32>,
    next_stream: u32,
    /// Every segment on disk, with what it holds that is still needed.
    segments: BTreeMap<u64, Live>,
    /// The newest segment a write was seen in; older ones are sealed.
    newest: u64,
    compacting: bool,
    readers: HashMap<u64, Box<dyn StorageFile>>,
    /// The last ticket handed out (see [`Sequencer`]).
    next_ticket: u64,
}

/// Orders the appends of operations by ticket (taken under the state lock).
#[derive(Default)]
struct Sequencer {
    ready: BTreeMap<u64, Vec<(Vec<OwnedRecord>, Done)>>,
    /// The last ticket submitted.
    submitted: u64,
    draining: bool,
}

/// What an operation does once the state lock is released.
#[derive(Default)]
struct Outbox {
    records: Vec<OwnedRecord>,
    extra: Vec<(Vec<OwnedRecord>, Done)>,
    dead: Vec<DurableDeadLetter>,
    sinks: Vec<Box<dyn Sink>>,
    remove: Vec<u64>,
}

/// Counters of one durable queue.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
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
}

/// What a System's journal holds on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
    /// Where dead letters are published (set by the System that owns it).
    system: Mutex<Option<WeakSystem>>,
}

/// A record the queue protocol does not allow, where it is.
fn refused_record(loc: Loc, error: &QueueError) -> Damage {
    Damage {
        file: segment_name(loc.segment),
        offset: loc.offset,
        why: format!("a record the queues cannot use: {error}"),
        records_at_stake: Some(1),
    }
}

/// Notes `damage` skipped under `Recovery::SkipDamaged`.
fn skipped(report: &mut RecoveryReport, damage: Damage) {
    tracing::error!(
        file = %damage.file,
        offset = damage.offset,
        records_at_stake = ?damage.records_at_stake,
        "journal recovery skipped damage: {}",
        damage.why
    );
    report.skipped.push(damage);
}

/// Writes the whole state of `queues` (every queue's `CREATE` and every
/// pending message as a `KEEP`) into a fresh segment, then reclaims every
/// segment before it: after a recovery that skipped damage, the journal
/// holds only what survived, and the next open finds it clean.
fn checkpoint(journal: &Journal, storage: &dyn Storage, queues: &Queues, through: u64) -> Result<(), JournalError> {
    /// Bytes restated per submission.
    const CHUNK: usize = 4 << 20;
    journal.seal();
    let (tx, rx) = std::sync::mpsc::channel();
    let mut submitted = 0;
    let mut submit = |records: Vec<OwnedRecord>| {
        let tx = tx.clone();
        submitted += 1;
        journal.submit_with(
            records,
            Box::new(move |result| {
                let _ = tx.send(result);
            }),
        );
    };
    let mut readers: HashMap<u64, Box<dyn StorageFile>> = HashMap::new();
    let mut chunk = Vec::new();
    let mut bytes = 0;
    for (&id, queue) in &queues.queues {
        let name = queue.name.as_deref().unwrap_or_default();
        let payload = create_payload(name, &queue.tag, &queue.role);
        chunk.push(OwnedRecord { kind: CREATE, stream: id, seq: queue.next_seq, payload });
        for (&seq, pending) in &queue.pending {
            let reader = match readers.entry(pending.record.segment) {
                std::collections::hash_map::Entry::Occupied(file) => file.into_mut(),
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(storage.open(&segment_name(pending.record.segment), false)?)
                }
            };
            let mut message = vec![0; pending.len as usize];
            reader.read_exact_at(pending.at, &mut message)?;
            bytes += message.len();
            chunk.push(OwnedRecord { kind: KEEP, stream: id, seq, payload: keep_payload(pending.attempts, &message) });
            if bytes >= CHUNK {
                submit(std::mem::take(&mut chunk));
                bytes = 0;
            }
        }
    }
    if !chunk.is_empty() {
        submit(chunk);
    }
    for _ in 0..submitted {
        rx.recv().map_err(|_| JournalError::Closed)??;
    }
    journal.reclaim(through);
    Ok(())
}

impl Store {
    /// Opens (locks and recovers) the journal and rebuilds every queue.
    pub(crate) fn open(storage: Arc<dyn Storage>, settings: Settings) -> Result<Arc<Store>, JournalError> {
        Store::open_after(storage, settings, None)
    }

    /// [`open`](Self::open); `prior` is the report of an open that skipped
    /// damage and restated what survived (this open then reads the result).
    fn open_after(
        storage: Arc<dyn Storage>,
        settings: Settings,
        prior: Option<RecoveryReport>,
    ) -> Result<Arc<Store>, JournalError> {
        let mut queues = Queues::default();
        let skip = settings.recovery == Recovery::SkipDamaged;
        let mut refused = Vec::new();
        let (journal, recovery) = Journal::open_with(
            storage.clone(),
            settings,
            &mut |record, loc| match queues.apply(record.kind, record.stream, record.seq, record.payload, loc) {
                Ok(()) => Ok(()),
                Err(error) if skip => {
                    refused.push(refused_record(loc, &error));
                    Ok(())
                }
                Err(error) => Err(refused_record(loc, &error).into()),
            },
        )?;
        let mut report = recovery.report.clone();
        for damage in refused {
            skipped(&mut report, damage);
        }
        while let Err((error, loc)) = queues.finish() {
            let QueueError::UnknownStream(stream) = error else { unreachable!("finish reports unknown streams") };
            let damage = Damage {
                file: loc.map_or_else(String::new, |loc| segment_name(loc.segment)),
                offset: loc.map_or(0, |loc| loc.offset),
                why: error.to_string(),
                records_at_stake: None,
            };
            if !skip {
                return Err(damage.into());
            }
            skipped(&mut report, damage);
            queues.queues.remove(&stream);
        }
        if !report.skipped.is_empty() {
            checkpoint(&journal, &*storage, &queues, recovery.last_number)?;
            drop(journal); // releases the directory once the reclamation is done
            return Store::open_after(storage, settings, Some(report));
        }
        if let Some(prior) = prior {
            report = RecoveryReport { tail_cut: prior.tail_cut.or(report.tail_cut), skipped: prior.skipped };
        }
        let mut segments: BTreeMap<u64, Live> =
            recovery.segments.iter().map(|(number, _)| (*number, Live::default())).collect();
        let newest = recovery.segments.last().map_or(0, |(number, _)| *number);
        let mut state = State {
            queues: HashMap::new(),
            names: HashMap::new(),
            next_stream: 1,
            segments: BTreeMap::new(),
            newest,
            compacting: false,
            readers: HashMap::new(),
            next_ticket: 0,
        };
        for (id, recovered) in queues.queues {
            let name: Arc<str> = recovered.name.unwrap_or_default().into();
            let mut slots = Slots::default();
            for (&seq, pending) in &recovered.pending {
                let live = segments.entry(pending.record.segment).or_default();
                live.records += 1;
                live.bytes += u64::from(pending.len) + HEADER as u64;
                let slot = Slot {
                    segment: pending.record.segment as u32,
                    at: pending.at as u32,
                    len: pending.len,
                    attempts: pending.attempts,
                    status: Status::Waiting,
                };
                slots.push(seq, slot);
            }
            if let Some(loc) = recovered.created_at {
                segments.entry(loc.segment).or_default().records += 1;
            }
            state.names.insert(name.clone(), id);
            state.next_stream = state.next_stream.max(id + 1);
            let mut queue = QueueState::new(name, recovered.tag, recovered.role);
            queue.next_seq = recovered.next_seq;
            queue.pending = recovered.pending.len() as u64;
            queue.slots = slots;
            queue.created_at = recovered.created_at;
            state.queues.insert(id, queue);
        }
        state.segments = segments;
        let store = Arc::new_cyclic(|me| Store {
            journal,
            storage,
            report,
            segment_size: settings.segment_size,
            state: Mutex::new(state),
            sequencer: Mutex::default(),
            me: me.clone(),
            system: Mutex::new(None),
        });
        store.run(|_, _| ()); // reclaim what recovery found reclaimable
        Ok(store)
    }

    /// Publishes dead letters on `system` from now on.
    pub(crate) fn set_system(&self, system: WeakSystem) {
        *self.system.lock() = Some(system);
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
        if !out.dead.is_empty() {
            if let Some(system) = self.system.lock().as_ref().and_then(WeakSystem::upgrade) {
                for letter in out.dead.drain(..) {
                    let _ = system.registry().try_publish(letter);
                }
            }
        }
        drop(out.sinks);
    }

    /// Submits the appends of operation `ticket` once those of every earlier
    /// ticket are submitted. Whoever finds the next ticket ready submits
    /// everything ready, in order, holding no lock (a journal callback may
    /// run inline and come back here: it then only queues).
    fn sequence(&self, ticket: u64, batch: Vec<(Vec<OwnedRecord>, Done)>) {
        let first = {
            let mut sequencer = self.sequencer.lock();
            if sequencer.draining {
                sequencer.ready.insert(ticket, batch);
                return;
            }
            if ticket != sequencer.submitted + 1 {
                sequencer.ready.insert(ticket, batch);
                if !sequencer.ready.contains_key(&(sequencer.submitted + 1)) {
                    return; // whoever holds the next ticket will drain
                }
                sequencer.draining = true;
                None
            } else {
                // The common case: next in line, nobody draining.
                sequencer.submitted = ticket;
                sequencer.draining = true;
                Some(batch)
            }
        };
        for (records, done) in first.into_iter().flatten() {
            self.journal.submit_with(records, done);
        }
        loop {
            let next = {
                let mut sequencer = self.sequencer.lock();
                let expected = sequencer.submitted + 1;
                match sequencer.ready.remove(&expected) {
                    Some(batch) => {
                        sequencer.submitted = expected;
                        batch
                    }
                    None => {
                        sequencer.draining = false;
                        return;
                    }
                }
            };
            for (records, done) in next {
                self.journal.submit_with(records, done);
            }
        }
    }

    /// The callback of appends nobody waits for (the journal notes the
    /// segment itself; a closure that captures nothing is not allocated).
    fn note_done(&self) -> Done {
        Box::new(|_| {})
    }

    /// Creates the queue `name` for messages tagged `tag` in `role`, or
    /// opens it if it exists as such; a creation is confirmed durable before
    /// this returns. A new subscription starting before "now" is filled from
    /// the event log of its type (in the same step, so no publish is missed
    /// or doubled).
    pub(crate) async fn open_queue(
        &self,
        name: &str,
        tag: &str,
        role: Role,
        start: Start,
    ) -> Result<u32, DurableError> {
        if name.is_empty() || name.len() > usize::from(u16::MAX) || tag.len() > usize::from(u16::MAX) {
            return Err(DurableError::InvalidName(name.to_owned()));
        }
        let created = self.run(|state, out| {
            if let Some(&id) = state.names.get(name) {
                let queue = &state.queues[&id];
                if queue.tag != tag {
                    return Err(DurableError::TypeMismatch {
                        queue: name.to_owned(),
                        stored: queue.tag.clone(),
                        requested: tag.to_owned(),
                    });
                }
                if queue.role != role {
                    return Err(DurableError::Conflict { queue: name.to_owned(), existing: describe(&queue.role) });
                }
                return Ok((id, Vec::new()));
            }
            let replay = match (&role, start) {
                (Role::Subscription(pattern), Start::Origin | Start::Seq(_)) => {
                    let from = if let Start::Seq(seq) = start { seq } else { 0 };
                    let Some(log) = find_log(state, tag) else {
                        return Err(DurableError::NoHistory { queue: name.to_owned() });
                    };
                    self.history(state, log, from, &Pattern::new(pattern).expect("validated by the caller"))?
                }
                _ => Vec::new(),
            };
            let id = state.next_stream;
            state.next_stream += 1;
            let queue = QueueState::new(name.into(), tag.to_owned(), role.clone());
            state.names.insert(queue.name.clone(), id);
            state.queues.insert(id, queue);
            let (tx, rx) = oneshot::channel();
            let me = self.me.clone();
            let payload = create_payload(name, tag, &role);
            out.extra.push((
                vec![OwnedRecord { kind: CREATE, stream: id, seq: 1, payload }],
                Box::new(move |result: Result<Loc, JournalError>| {
                    if let (Ok(loc), Some(store)) = (&result, me.upgrade()) {
                        store.run(|state, _| {
                            state.newest = state.newest.max(loc.segment);
                            state.segments.entry(loc.segment).or_default().records += 1;
                            if let Some(queue) = state.queues.get_mut(&id) {
                                queue.created_at = Some(*loc);
                            }
                        });
                    }
                    let _ = tx.send(result.map(|_| 0));
                }),
            ));
            let mut confirms = vec![rx];
            for bytes in replay {
                confirms.push(self.enqueue_locked(state, out, id, bytes));
            }
            Ok((id, confirms))
        })?;
        let (id, confirms) = created;
        for confirm in confirms {
            wait(confirm).await?;
        }
        Ok(id)
    }

    /// The events retained by `log` from seq `from` on whose topic matches
    /// `pattern`, oldest first (their bytes, without the topic).
    fn history(&self, state: &mut State, log: u32, from: u64, pattern: &Pattern) -> Result<Vec<Vec<u8>>, DurableError> {
        let queue = &state.queues[&log];
        let entries: Vec<(u64, Slot)> = queue
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
                    .read(state, u64::from(slot.segment), u64::from(slot.at), slot.len)
                    .map_err(|error| DurableError::Journal(JournalError::Io(error)))?,
            };
            let Some((topic, event)) = split_topic(&bytes) else { continue };
            if Topic::new(topic).is_ok_and(|topic| pattern.matches(&topic)) {
                events.push(event.to_vec());
            }
        }
        Ok(events)
    }

    /// Persists one message; the receiver completes with its seq once the
    /// journal confirmed it (under `Always`: synced).
    pub(crate) fn enqueue(&self, id: u32, bytes: Vec<u8>) -> oneshot::Receiver<Result<u64, JournalError>> {
        self.run(|state, out| self.enqueue_locked(state, out, id, bytes))
    }

    /// Publishes an event durably: into every subscription of its type whose
    /// pattern matches `topic`, and into the type's log if it has one
    /// (trimmed to its retention as each event is confirmed). The receivers complete when each copy is
    /// confirmed.
    pub(crate) fn publish(
        &self,
        tag: &str,
        topic: &Topic,
        bytes: Vec<u8>,
    ) -> (Vec<oneshot::Receiver<Result<u64, JournalError>>>, usize) {
        self.run(|state, out| {
            let targets: Vec<(u32, bool)> = state
                .queues
                .iter()
                .filter(|(_, queue)| queue.tag == tag)
                .filter_map(|(&id, queue)| match &queue.role {
                    Role::Subscription(_) => {
                        queue.pattern.as_ref().is_some_and(|pattern| pattern.matches(topic)).then_some((id, false))
                    }
                    Role::Log(_) => Some((id, true)),
                    Role::Mailbox => None,
                })
                .collect();
            let mut confirms = Vec::with_capacity(targets.len());
            let subscriptions = targets.iter().filter(|(_, log)| !log).count();
            for (id, log) in targets {
                let payload = if log { with_topic(topic.as_str(), &bytes) } else { bytes.clone() };
                confirms.push(self.enqueue_locked(state, out, id, payload));
            }
            (confirms, subscriptions)
        })
    }

    fn enqueue_locked(
        &self,
        state: &mut State,
        out: &mut Outbox,
        id: u32,
        bytes: Vec<u8>,
    ) -> oneshot::Receiver<Result<u64, JournalError>> {
        let (tx, rx) = oneshot::channel();
        let me = self.me.clone();
        let queue = state.queues.get_mut(&id).expect("a queue handle names a live queue");
        let seq = queue.next_seq;
        // Recovery refuses seq `u64::MAX` (see `journal::queue`), so it is
        // never handed out (only a crafted journal gets this far).
        let Some(next) = seq.checked_add(1) else {
            let _ = tx.send(Err(JournalError::Frame(FrameError::SeqExhausted)));
            return rx;
        };
        queue.next_seq = next;
        let len = bytes.len() as u32;
        queue.slots.push(seq, Slot { segment: 0, at: 0, len, attempts: 0, status: Status::Unconfirmed });
        if queue.cache_bytes + bytes.len() <= CACHE_BYTES {
            queue.cache_bytes += bytes.len();
            queue.cache.push_back((seq, bytes.as_slice().into()));
        }
        let record = OwnedRecord { kind: ENQUEUE, stream: id, seq, payload: bytes };
        out.extra.push((
            vec![record],
            Box::new(move |result| {
                let result = match me.upgrade() {
                    Some(store) => store.confirmed(id, seq, result),
                    None => result.map(|_| seq),
                };
                let _ = tx.send(result);
            }),
        ));
        rx
    }

    /// An enqueue's fate is known: make it deliverable, or drop it.
    fn confirmed(&self, id: u32, seq: u64, result: Result<Loc, JournalError>) -> Result<u64, JournalError> {
        self.run(|state, out| {
            if let Ok(loc) = &result {
                state.newest = state.newest.max(loc.segment);
            }
            let Some(queue) = state.queues.get_mut(&id) else { return result.map(|_| seq) };
            let Some(slot) = queue.slot(seq) else { return result.map(|_| seq) };
            match &result {
                Ok(loc) => {
                    slot.segment = loc.segment as u32;
                    slot.at = (loc.offset + HEADER as u64) as u32;
                    slot.status = Status::Waiting;
                    let len = slot.len;
                    queue.pending += 1;
                    let live = state.segments.entry(loc.segment).or_default();
                    live.records += 1;
                    live.bytes += u64::from(len) + HEADER as u64;
                }
                // Not confirmed: never delivered by this process (after a
                // restart it may be, if it did reach the disk).
                Err(_) => {
                    finish(state, id, seq);
                }
            }
            deliver(self, state, id, out);
            trim(state, id, out);
            result.map(|_| seq)
        })
    }

    /// Makes `sink` the queue's one consumer.
    pub(crate) fn attach(&self, id: u32, sink: Box<dyn Sink>, window: u32, limit: u32) -> Result<u64, DurableError> {
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
    pub(crate) fn detach(&self, id: u32, epoch: u64, reason: &ExitReason) {
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

    fn ack(&self, id: u32, seq: u64, epoch: u64) {
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
            out.records.push(OwnedRecord { kind: ACK, stream: id, seq, payload: Vec::new() });
            deliver(self, state, id, out);
        });
    }

    pub(crate) fn stats(&self, id: u32) -> QueueStats {
        let state = self.state.lock();
        let queue = &state.queues[&id];
        QueueStats {
            pending: queue.pending,
            in_flight: queue.in_flight,
            acked: queue.acked,
            dead_lettered: queue.dead,
            next_seq: queue.next_seq,
        }
    }

    /// Closes the journal (see [`Journal::close`]).
    pub(crate) fn close(&self, closed: crate::journal::commit::Closed) {
        self.journal.close(closed);
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

    /// Deletes sealed segments with nothing live, oldest first, and
    /// restates the few live records pinning the oldest one (copy-forward)
    /// so that it can go too.
    fn maintain(&self, state: &mut State, out: &mut Outbox) {
        // Callbacks run in log order, so every record in an older segment
        // has been accounted for.
        state.newest = state.newest.max(self.journal.newest_written());
        while let Some((&oldest, &live)) = state.segments.first_key_value() {
            if oldest >= state.newest {
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

    fn compact(&self, state: &mut State, oldest: u64, out: &mut Outbox) {
        // (queue, seq or 0 for the queue's CREATE, old segment)
        let mut moved: Vec<(u32, u64)> = Vec::new();
        let mut records = Vec::new();
        let ids: Vec<u32> = state.queues.keys().copied().collect();
        for id in ids {
            let queue = &state.queues[&id];
            if queue.created_at.is_some_and(|loc| loc.segment == oldest) {
                let payload = create_payload(&queue.name, &queue.tag, &queue.role);
                records.push(OwnedRecord { kind: CREATE, stream: id, seq: queue.next_seq, payload });
                moved.push((id, 0));
            }
            let pinned: Vec<(u64, Slot)> = queue
                .slots
                .iter()
                .filter(|(_, slot)| {
                    matches!(slot.status, Status::Waiting | Status::InFlight) && u64::from(slot.segment) == oldest
                })
                .map(|(seq, slot)| (seq, *slot))
                .collect();
            for (seq, slot) in pinned {
                let Ok(bytes) = self.read(state, oldest, u64::from(slot.at), slot.len) else {
                    return; // leave the segment; an I/O error here costs space, not data
                };
                records.push(OwnedRecord { kind: KEEP, stream: id, seq, payload: keep_payload(slot.attempts, &bytes) });
                moved.push((id, seq));
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
                    let mut offset = first.offset;
                    for ((id, seq), size) in moved.into_iter().zip(sizes) {
                        let loc = Loc { segment: first.segment, offset };
                        offset += size;
                        let Some(queue) = state.queues.get_mut(&id) else { continue };
                        let moved_live = if seq == 0 {
                            queue.created_at = Some(loc);
                            Live { records: 1, bytes: 0 }
                        } else {
                            match queue.slot(seq) {
                                Some(slot)
                                    if matches!(slot.status, Status::Waiting | Status::InFlight)
                                        && u64::from(slot.segment) == oldest =>
                                {
                                    slot.segment = loc.segment as u32;
                                    slot.at = (loc.offset + HEADER as u64 + 4) as u32;
                                    Live { records: 1, bytes: u64::from(slot.len) + HEADER as u64 }
                                }
                                _ => continue, // acked meanwhile: the restatement is dead on arrival
                            }
                        };
                        let from = state.segments.entry(oldest).or_default();
                        from.records = from.records.saturating_sub(moved_live.records);
                        from.bytes = from.bytes.saturating_sub(moved_live.bytes);
                        let to = state.segments.entry(loc.segment).or_default();
                        to.records += moved_live.records;
                        to.bytes += moved_live.bytes + if seq == 0 { 0 } else { 4 };
                    }
                });
            }),
        ));
    }
}

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

fn describe(role: &Role) -> String {
    match role {
        Role::Mailbox => "a durable queue".to_owned(),
        Role::Subscription(pattern) => format!("a durable subscription to {pattern:?}"),
        Role::Log(keep) => format!("an event log keeping {keep} events"),
    }
}

fn find_log(state: &State, tag: &str) -> Option<u32> {
    state.queues.iter().find(|(_, queue)| queue.tag == tag && matches!(queue.role, Role::Log(_))).map(|(&id, _)| id)
}

async fn wait(confirm: oneshot::Receiver<Result<u64, JournalError>>) -> Result<u64, DurableError> {
    match confirm.await {
        Ok(result) => result.map_err(DurableError::Journal),
        Err(_) => Err(DurableError::Journal(JournalError::Closed)),
    }
}

/// A log record's payload: `u16` topic length, topic, event bytes.
fn with_topic(topic: &str, bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + topic.len() + bytes.len());
    out.extend_from_slice(&(topic.len() as u16).to_le_bytes());
    out.extend_from_slice(topic.as_bytes());
    out.extend_from_slice(bytes);
    out
}

fn split_topic(payload: &[u8]) -> Option<(&str, &[u8])> {
    let (len, rest) = payload.split_first_chunk::<2>()?;
    let len = usize::from(u16::from_le_bytes(*len));
    let topic = std::str::from_utf8(rest.get(..len)?).ok()?;
    Some((topic, &rest[len..]))
}

/// Drops a log's oldest events beyond its retention (acked, so reclaimed).
fn trim(state: &mut State, id: u32, out: &mut Outbox) {
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
            out.records.push(OwnedRecord { kind: ACK, stream: id, seq, payload: Vec::new() });
        }
    }
    for seq in trimmed {
        finish(state, id, seq);
    }
}

/// Hands out messages while the consumer's window has room, in seq order.
fn deliver(store: &Store, state: &mut State, id: u32, out: &mut Outbox) {
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
        if slot.attempts >= consumer.limit {
            let reason = queue.last_exit.remove(&seq);
            dead_letter(store, state, id, seq, DeadLetterCause::DeliveryLimit { last_exit: reason }, out);
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
            None => match store.read(state, u64::from(slot.segment), u64::from(slot.at), slot.len) {
                Ok(bytes) => bytes.into(),
                Err(error) => {
                    tracing::error!(queue = %state.queues[&id].name, seq, %error, "cannot read a durable message back; delivery paused");
                    break;
                }
            },
        };
        let queue = state.queues.get_mut(&id).expect("queue exists");
        let attempt = slot.attempts + 1;
        let delivery = Delivery { seq, attempt, redelivered: attempt > 1 };
        let token = AckToken { store: store.strong(), queue: id, seq, epoch: queue.epoch };
        let consumer = queue.consumer.as_ref().expect("checked above");
        match consumer.sink.offer(delivery, &bytes, token) {
            Offer::Queued => {
                let slot = queue.slots.get_mut(seq).expect("the slot being delivered");
                slot.attempts = attempt;
                slot.status = Status::InFlight;
                queue.in_flight += 1;
                out.records.push(OwnedRecord { kind: DELIVER, stream: id, seq, payload: Vec::new() });
            }
            Offer::Gone => {
                // Its teardown will detach it; until then nothing more goes out.
                queue.cache.push_front((seq, bytes));
                queue.cache_bytes += queue.cache.front().map_or(0, |(_, b)| b.len());
                break;
            }
            Offer::Undecodable(error) => {
                queue.slots.get_mut(seq).expect("the slot being delivered").attempts = attempt;
                dead_letter(store, state, id, seq, DeadLetterCause::Undecodable(error), out);
            }
        }
    }
}

/// Removes a finished message (acked, dead-lettered, trimmed, or never
/// confirmed): its segment holds one live record fewer, and cached bytes
/// older than the first unfinished message are dropped.
fn finish(state: &mut State, id: u32, seq: u64) {
    let Some(queue) = state.queues.get_mut(&id) else { return };
    let Some(slot) = queue.slots.remove(seq) else { return };
    if slot.segment > 0 {
        if let Some(live) = state.segments.get_mut(&u64::from(slot.segment)) {
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
fn dead_letter(store: &Store, state: &mut State, id: u32, seq: u64, cause: DeadLetterCause, out: &mut Outbox) {
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
        None => store.read(state, u64::from(slot.segment), u64::from(slot.at), slot.len).unwrap_or_default(),
    };
    finish(state, id, seq);
    let queue = &state.queues[&id];
    out.records.push(OwnedRecord { kind: DEAD, stream: id, seq, payload: cause.to_string().into_bytes() });
    let letter = DurableDeadLetter { queue: queue.name.to_string(), seq, attempts: slot.attempts, cause, payload };
    tracing::warn!(
        queue = %letter.queue,
        seq,
        attempts = letter.attempts,
        cause = %letter.cause,
        "durable message dead-lettered"
    );
    out.dead.push(letter);
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::journal::storage::MemStorage;

    /// Writes `records` as a journal would, then opens a store on it.
    fn reopen_with(records: Vec<OwnedRecord>) -> Result<Arc<Store>, JournalError> {
        reopen_under(records, Recovery::Refuse)
    }

    /// Small segments: a store test opens many journals.
    fn small() -> Settings {
        Settings { segment_size: 4096, ..Settings::default() }
    }

    fn reopen_under(records: Vec<OwnedRecord>, recovery: Recovery) -> Result<Arc<Store>, JournalError> {
        let storage: Arc<dyn Storage> = Arc::new(MemStorage::new());
        {
            let (journal, _) = Journal::open(storage.clone(), small()).unwrap();
            futures::executor::block_on(journal.submit(records)).unwrap().unwrap();
        }
        Store::open(storage, Settings { recovery, ..small() })
    }

    fn any_record() -> impl Strategy<Value = OwnedRecord> {
        let kind = prop_oneof![1u8..=6, Just(7u8), Just(200u8)];
        let seq = prop_oneof![0u64..6, Just(1_000_000_000), Just(u64::MAX - 1), Just(u64::MAX), any::<u64>()];
        let payload = prop_oneof![
            Just(create_payload("q", "T", &Role::Mailbox)),
            Just(create_payload("q", "U", &Role::Log(2))),
            Just(create_payload("r", "T", &Role::Subscription("a.*".into()))),
            Just(keep_payload(3, b"kept")),
            prop::collection::vec(any::<u8>(), 0..12),
        ];
        (kind, 1u32..4, seq, payload).prop_map(|(kind, stream, seq, payload)| OwnedRecord {
            kind,
            stream,
            seq,
            payload,
        })
    }

    proptest! {
        /// Any sequence of well-framed records (valid checksums, so only
        /// the queue protocol stands between them and the state) opens or
        /// is refused with a typed error naming a place; never a panic, an
        /// overflow, or memory in proportion to a seq. Skipping always opens,
        /// and what it restated opens again cleanly.
        #[test]
        fn crafted_logs_open_or_are_refused_never_panic(records in prop::collection::vec(any_record(), 0..12)) {
            match reopen_with(records.clone()) {
                Ok(_) => {}
                Err(JournalError::Corrupt { segment, .. }) => prop_assert!(!segment.is_empty()),
                Err(other) => prop_assert!(false, "untyped: {other}"),
            }
            let skipped = reopen_under(records, Recovery::SkipDamaged);
            prop_assert!(skipped.is_ok(), "{:?}", skipped.err());
        }
    }

    /// After skipping damage, the survivors are restated and the journal
    /// reopens clean under the default policy, with the same messages.
    #[test]
    fn skipping_restates_the_survivors_into_a_clean_journal() {
        let storage: Arc<dyn Storage> = Arc::new(MemStorage::new());
        {
            let (journal, _) = Journal::open(storage.clone(), small()).unwrap();
            let crafted = OwnedRecord { kind: ENQUEUE, stream: 1, seq: 0, payload: b"bad".to_vec() };
            let records = vec![create(), enqueue(1), crafted, enqueue(2)];
            futures::executor::block_on(journal.submit(records)).unwrap().unwrap();
        }
        assert!(Store::open(storage.clone(), small()).is_err());
        let skip = Settings { recovery: Recovery::SkipDamaged, ..small() };
        let store = Store::open(storage.clone(), skip).unwrap();
        let report = store.recovery_report();
        assert_eq!(report.skipped.len(), 1);
        assert!(report.skipped[0].why.contains("out of range"), "{:?}", report.skipped);
        assert_eq!(store.stats(1).pending, 2);
        drop(store);
        let clean = Store::open(storage, small()).unwrap();
        assert_eq!((clean.stats(1).pending, clean.recovery_report().skipped.len()), (2, 0));
        assert_eq!(clean.journal_stats().segments, 1, "the damaged segment was reclaimed");
    }

    fn create() -> OwnedRecord {
        OwnedRecord { kind: CREATE, stream: 1, seq: 1, payload: create_payload("q", "T", &Role::Mailbox) }
    }

    fn enqueue(seq: u64) -> OwnedRecord {
        OwnedRecord { kind: ENQUEUE, stream: 1, seq, payload: b"m".to_vec() }
    }

    /// Crafted records with valid checksums are typed errors that say where
    /// the record is; none panics (an overflow used to, in debug builds).
    #[test]
    fn crafted_records_are_typed_errors_with_their_location() {
        for seq in [0, u64::MAX] {
            match reopen_with(vec![create(), enqueue(seq)]) {
                Err(JournalError::Corrupt { segment, offset, why, .. }) => {
                    assert_eq!(segment, segment_name(1));
                    let create_len = (HEADER + create().payload.len()) as u64;
                    assert_eq!(offset, crate::journal::segment::SEGMENT_HEADER as u64 + create_len, "{why}");
                    assert!(why.contains("out of range"), "{why}");
                }
                other => panic!("seq {seq}: expected corruption, got {:?}", other.map(|_| ())),
            }
        }
        let ack = OwnedRecord { kind: ACK, stream: 7, seq: 3, payload: Vec::new() };
        match reopen_with(vec![create(), ack]) {
            Err(JournalError::Corrupt { segment, offset, why, .. }) => {
                assert_eq!(segment, segment_name(1), "reported where the record is: {why}");
                assert!(offset > 0);
            }
            other => panic!("expected corruption, got {:?}", other.map(|_| ())),
        }
    }

    /// The largest seq a log may hold leaves no next one: the next enqueue
    /// is refused with a typed error instead of overflowing.
    #[tokio::test(start_paused = true)]
    async fn a_queue_whose_seqs_are_used_up_refuses_enqueues() {
        let store = reopen_with(vec![create(), enqueue(u64::MAX - 1)]).unwrap();
        let refused = store.enqueue(1, b"late".to_vec()).await.unwrap();
        assert!(matches!(refused, Err(JournalError::Frame(FrameError::SeqExhausted))), "{refused:?}");
    }
}
