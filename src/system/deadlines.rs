//! Call timeouts without a tokio timer per call.
//!
//! Registering a tokio timer earlier than the time driver's current park
//! deadline unparks the parked worker (an `eventfd` write and a thread
//! wake-up). With one timer per call, that doubled the cost of a call round
//! trip (1.4 µs instead of 0.7 µs, `benches/messaging.rs`).
//!
//! Instead, a waiting caller registers `(due tick, waker)` in a sharded table,
//! and one sweeper task per System wakes the callers whose deadline passed.
//! The sweeper ticks every [`TICK`] while calls are pending, lingers for
//! [`LINGER_TICKS`] idle ticks, then stops until the next registration.
//!
//! Precision: a call times out between `timeout` and `timeout + 2 ms`, never
//! early. A caller's registration and removal are two uncontended shard
//! locks, with no clock read while the sweeper runs.
//!
//! The same table is the System's record of the calls in flight, for
//! snapshots and their wait-for graph: each entry names its caller, its
//! callee and the tick it began. A call without a timeout (`call_forever`)
//! registers too, with no deadline, once it has to wait; such an entry
//! never needs the sweeper.

use std::future::Future as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::task::{Context as TaskContext, Waker};
use std::time::Duration;

use parking_lot::Mutex;
use slab::Slab;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::addr::ActorId;

/// Sweep period.
pub(crate) const TICK: Duration = Duration::from_millis(1);
/// Idle ticks before the sweeper stops.
pub(crate) const LINGER_TICKS: u32 = 1_000;
const SHARDS: usize = 8;

struct Entry {
    /// `NEVER` for a call without a timeout.
    due: u64,
    waker: Option<Waker>,
    fired: bool,
    call: CallInFlight,
}

const NEVER: u64 = u64::MAX;

/// A call in flight, as snapshots see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CallInFlight {
    /// The actor whose callback made the call (`ActorId::EXTERNAL` from
    /// outside any actor).
    pub(crate) caller: ActorId,
    pub(crate) callee: ActorId,
    /// The tick it began waiting (see [`Deadlines::elapsed_since`]).
    pub(crate) since: u64,
}

/// Whether a sweeper runs, and the handshake between registrants and a
/// sweeper that goes idle: a registrant inserts its entry, then claims the
/// flag if it is clear; the idle sweeper clears the flag, then looks for
/// entries and takes the flag back if it finds any. With both sides
/// sequentially consistent, one of the two always sees the other, so an
/// entry is never left with no sweeper (the loom model `loom_` in
/// `deadlines/loom.rs` explores every interleaving).
pub(crate) struct Running(crate::sync::AtomicBool);

impl Running {
    pub(crate) fn new() -> Running {
        Running(crate::sync::AtomicBool::new(false))
    }

    pub(crate) fn is_set(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// A registrant, after inserting its entry: whether it must start a
    /// sweeper (it took the flag).
    pub(crate) fn claim(&self) -> bool {
        !self.0.load(Ordering::SeqCst)
            && self.0.compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst).is_ok()
    }

    /// The idle sweeper: gives the flag up, then takes it back if entries
    /// appeared (their registrant may have seen the flag still set). Whether
    /// it goes on.
    pub(crate) fn release(&self, has_entries: impl FnOnce() -> bool) -> bool {
        self.0.store(false, Ordering::SeqCst);
        has_entries() && self.0.compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst).is_ok()
    }

    /// The sweeper is gone for good, or its task was dropped.
    pub(crate) fn clear(&self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

/// The pending deadlines of one System.
pub(crate) struct Deadlines {
    shards: [Mutex<Slab<Entry>>; SHARDS],
    running: Running,
    closed: AtomicBool,
    /// The current tick, maintained by the sweeper while it runs.
    tick: AtomicU64,
    origin: OnceLock<Instant>,
    sweeper: Mutex<Option<JoinHandle<()>>>,
}

impl Deadlines {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Deadlines {
            shards: std::array::from_fn(|_| Mutex::new(Slab::new())),
            running: Running::new(),
            closed: AtomicBool::new(false),
            tick: AtomicU64::new(0),
            origin: OnceLock::new(),
            sweeper: Mutex::new(None),
        })
    }

    fn clock_tick(&self) -> u64 {
        let origin = *self.origin.get_or_init(Instant::now);
        let elapsed = Instant::now().saturating_duration_since(origin);
        u64::try_from(elapsed.as_nanos() / TICK.as_nanos()).unwrap_or(u64::MAX)
    }

    fn due_tick(&self, base: u64, timeout: Duration) -> u64 {
        let ticks = u64::try_from(timeout.as_nanos().div_ceil(TICK.as_nanos())).unwrap_or(u64::MAX);
        base.saturating_add(ticks).saturating_add(1).min(NEVER - 1)
    }

    /// Starts the sweeper unless it runs. Called after inserting an entry
    /// (the sweeper checks for entries after declaring itself stopped, so one
    /// of the two always sees the other).
    fn ensure_running(self: &Arc<Self>) {
        if self.closed.load(Ordering::SeqCst) {
            return;
        }
        if self.running.claim() {
            self.tick.store(self.clock_tick(), Ordering::Release);
            let sweeper = tokio::spawn(sweep(Arc::downgrade(self)));
            *self.sweeper.lock() = Some(sweeper);
        }
    }

    /// No entry needs the sweeper (calls without a timeout never do).
    fn is_empty(&self) -> bool {
        self.shards.iter().all(|shard| shard.lock().iter().all(|(_, entry)| entry.due == NEVER))
    }

    /// The calls waiting for an answer now.
    pub(crate) fn calls(&self) -> Vec<CallInFlight> {
        let mut calls = Vec::new();
        for shard in &self.shards {
            calls.extend(shard.lock().iter().filter(|(_, entry)| !entry.fired).map(|(_, entry)| entry.call));
        }
        calls
    }

    /// How long ago tick `since` was (zero if it is in the future).
    pub(crate) fn elapsed_since(&self, since: u64) -> Duration {
        let ticks = self.clock_tick().saturating_sub(since);
        TICK.saturating_mul(u32::try_from(ticks).unwrap_or(u32::MAX))
    }

    fn now_tick(&self) -> u64 {
        if self.running.is_set() {
            self.tick.load(Ordering::Acquire)
        } else {
            self.clock_tick()
        }
    }

    /// Stops the sweeper for good (System shutdown).
    pub(crate) async fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        let sweeper = self.sweeper.lock().take();
        if let Some(sweeper) = sweeper {
            sweeper.abort();
            let _ = sweeper.await;
        }
        self.release_all();
    }

    /// [`Deadlines::close`] without waiting for the sweeper task to end
    /// (the System was dropped: it ends at its next tick).
    pub(crate) fn close_now(&self) {
        self.closed.store(true, Ordering::SeqCst);
        if let Some(sweeper) = self.sweeper.lock().take() {
            sweeper.abort();
        }
        self.release_all();
    }

    fn release_all(&self) {
        self.running.clear();
        // Wake anyone still registered so that they fall back to a timer.
        for shard in &self.shards {
            for (_, entry) in shard.lock().iter_mut() {
                if let Some(waker) = entry.waker.take() {
                    waker.wake();
                }
            }
        }
    }

    /// One sweep: fire due entries. Returns how many entries are pending.
    fn sweep_once(&self) -> usize {
        let now = self.clock_tick();
        self.tick.store(now, Ordering::Release);
        let mut due = Vec::new();
        let mut pending = 0;
        for shard in &self.shards {
            let mut shard = shard.lock();
            for (_, entry) in shard.iter_mut() {
                if entry.due == NEVER {
                    continue;
                }
                pending += 1;
                if !entry.fired && entry.due <= now {
                    entry.fired = true;
                    due.extend(entry.waker.take());
                }
            }
        }
        for waker in due {
            waker.wake();
        }
        pending
    }
}

/// If the sweeper's task is dropped (its runtime shut down), the next
/// registration must start a new one.
struct SweeperGone {
    deadlines: Weak<Deadlines>,
    armed: bool,
}

impl Drop for SweeperGone {
    fn drop(&mut self) {
        if let (true, Some(deadlines)) = (self.armed, self.deadlines.upgrade()) {
            deadlines.running.clear();
        }
    }
}

async fn sweep(deadlines: Weak<Deadlines>) {
    let mut gone = SweeperGone { deadlines: deadlines.clone(), armed: true };
    let mut idle_ticks = 0;
    loop {
        tokio::time::sleep(TICK).await;
        let Some(deadlines) = deadlines.upgrade() else { return };
        if deadlines.sweep_once() > 0 {
            idle_ticks = 0;
            continue;
        }
        idle_ticks += 1;
        if idle_ticks < LINGER_TICKS {
            continue;
        }
        if !deadlines.running.release(|| !deadlines.is_empty()) {
            // Stopped on purpose: a newer sweeper may already own `running`.
            gone.armed = false;
            return;
        }
        idle_ticks = 0;
    }
}

/// A caller's deadline (or, without a timeout, its record as a call in
/// flight); deregisters itself when dropped.
pub(crate) struct Deadline<'a> {
    deadlines: &'a Arc<Deadlines>,
    /// `None`: no timeout.
    timeout: Option<Duration>,
    callee: ActorId,
    key: Option<(usize, usize)>,
    /// Used only if the System closed its sweeper.
    fallback: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
}

impl<'a> Deadline<'a> {
    /// A call to `callee` that times out after `timeout`.
    pub(crate) fn new(deadlines: &'a Arc<Deadlines>, timeout: Duration, callee: ActorId) -> Self {
        Deadline { deadlines, timeout: Some(timeout), callee, key: None, fallback: None }
    }

    /// A call to `callee` without a timeout: recorded while it waits.
    pub(crate) fn never(deadlines: &'a Arc<Deadlines>, callee: ActorId) -> Self {
        Deadline { deadlines, timeout: None, callee, key: None, fallback: None }
    }

    /// Records the entry on the first wait; the caller is the actor whose
    /// callback polls this (the run loop marks it on the thread).
    fn insert(&mut self, waker: Option<Waker>) {
        let since = self.deadlines.now_tick();
        let due = self.timeout.map_or(NEVER, |timeout| self.deadlines.due_tick(since, timeout));
        let call = CallInFlight { caller: crate::cell::current_id(), callee: self.callee, since };
        let shard = (self as *const Self as usize >> 6) % SHARDS;
        let key = self.deadlines.shards[shard].lock().insert(Entry { due, waker, fired: false, call });
        self.key = Some((shard, key));
    }

    /// For a call without a timeout: records it as in flight (once).
    pub(crate) fn note_waiting(&mut self) {
        if self.key.is_none() && !self.deadlines.closed.load(Ordering::Acquire) {
            self.insert(None);
        }
    }

    /// True once the deadline passed; otherwise arranges a wake-up at it.
    pub(crate) fn poll_expired(&mut self, cx: &mut TaskContext<'_>) -> bool {
        if let Some(fallback) = &mut self.fallback {
            return fallback.as_mut().poll(cx).is_ready();
        }
        let Some(timeout) = self.timeout else { return false };
        if self.deadlines.closed.load(Ordering::Acquire) {
            self.remove();
            let mut fallback = Box::pin(tokio::time::sleep(timeout));
            let expired = fallback.as_mut().poll(cx).is_ready();
            self.fallback = Some(fallback);
            return expired;
        }
        match self.key {
            None => {
                self.insert(Some(cx.waker().clone()));
                self.deadlines.ensure_running();
                false
            }
            Some((shard, key)) => {
                let mut shard = self.deadlines.shards[shard].lock();
                let Some(entry) = shard.get_mut(key) else { return true };
                if entry.fired {
                    return true;
                }
                match &entry.waker {
                    Some(waker) if waker.will_wake(cx.waker()) => {}
                    _ => entry.waker = Some(cx.waker().clone()),
                }
                false
            }
        }
    }

    fn remove(&mut self) {
        if let Some((shard, key)) = self.key.take() {
            let mut shard = self.deadlines.shards[shard].lock();
            if shard.contains(key) {
                shard.remove(key);
            }
        }
    }
}

impl Drop for Deadline<'_> {
    fn drop(&mut self) {
        self.remove();
    }
}

#[cfg(all(test, treeline_loom))]
mod loom;
