//! The two-lane queue behind every actor: user messages and signals under one
//! short-held lock, plus what to wake when something arrives.
//!
//! The mailbox holds envelopes, signals and one wake target, nothing else
//! (the names, subscriptions and durable slots an actor holds are its cell's
//! `Holdings`). The wake target is a [`Waiter`]: nobody, the actor task's
//! waker, or the state of a *dormant* actor, one that has no task yet and is
//! woken by spawning one. Keeping the dormant state in the wake slot is what
//! makes "exactly one activation" a property of one lock: the arrival that
//! finds `Waiter::Dormant` takes it, and every later arrival finds the slot
//! moved on (loom models in `queue/loom.rs`).
//!
//! Costs on the hot path (measured in `benches/messaging.rs`):
//!
//! * a send takes the lock once, appends, and wakes the actor only if it was
//!   parked (one wake per batch, not per message);
//! * an unbounded mailbox is drained by swapping the whole queue into the
//!   actor's local batch, so the actor takes the lock once per batch, and the
//!   two buffers are reused (no allocation per message in steady state);
//! * between two messages the actor checks for signals with one atomic load.
//!
//! A bounded mailbox is drained one message at a time under the lock, so its
//! length (and the `DropOldest` victim) is always exact.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::task::{Context as TaskContext, Poll, Waker};

use tokio::sync::Semaphore;

use super::envelope::{Dispatch, Envelope};
use super::{MailboxConfig, Overflow};
use crate::actor::dispatch::SignalMsg;
use crate::actor::run::Dormant;
use crate::actor::Actor;
use crate::signal::{Arrived, Signal};
use crate::sync::{AtomicBool, Mutex};

const WAKE_MSG: u8 = 1;
const WAKE_SIG: u8 = 2;

/// How a message is admitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Admission {
    /// An ordinary message: the overflow policy applies.
    Counted,
    /// A message for which a `Wait` permit was already taken.
    Permitted,
}

/// Why a message was not queued; the message comes back.
#[derive(Debug)]
pub(crate) enum Refused<D> {
    /// The actor is dead (or dying and closed).
    Closed(D),
    /// The mailbox is full and the policy does not make room.
    Full(D),
}

/// What the actor found when it looked for work.
pub(crate) enum Recv<A: Actor> {
    /// Signals are waiting: take them with [`Mailbox::take_signals_into`].
    Signals,
    /// The user queue was moved into the caller's batch.
    Batch,
    /// One message (bounded mailboxes).
    One(Envelope<A>),
}

/// Whom an arrival wakes.
enum Waiter<A: Actor> {
    /// Nobody: the actor is running (or dead).
    Nobody,
    /// The actor's parked task, for the arrivals in `on` (`WAKE_MSG`,
    /// `WAKE_SIG`).
    Task { waker: Waker, on: u8 },
    /// A dormant actor's state: the first arrival spawns its task.
    Dormant(Box<Dormant<A>>),
}

struct Lanes<A: Actor> {
    user: VecDeque<Envelope<A>>,
    signals: VecDeque<Signal>,
    waiter: Waiter<A>,
    closed: bool,
    /// Counted envelopes in `user`.
    counted: usize,
    /// `Wait` permits freed by the consumer and not yet handed back: they
    /// are returned in chunks, so that a blocked sender refills the mailbox
    /// in bursts instead of one wake-up per message.
    freed: u32,
}

/// What to do, once the lock is released, to get the actor going: the
/// decision of the park/wake protocol.
enum Wake<A: Actor> {
    /// The actor runs, or is already woken.
    Nothing,
    /// Wake its parked task.
    Waker(Waker),
    /// It has no task yet: spawn it.
    Activate(Box<Dormant<A>>),
}

impl<A: Actor> Wake<A> {
    fn run(self) {
        match self {
            Wake::Nothing => {}
            Wake::Waker(waker) => waker.wake(),
            #[cfg(not(treeline_loom))]
            Wake::Activate(dormant) => crate::actor::run::activate(*dormant),
            // Loom models cannot spawn a tokio task: they count activations.
            #[cfg(treeline_loom)]
            Wake::Activate(dormant) => {
                dormant.ctx.myself().cell.mailbox.activations.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
}

impl<A: Actor> Lanes<A> {
    /// The actor's own task parks (only its task calls this, so the actor
    /// is not dormant).
    fn register(&mut self, waker: &Waker, wake_on: u8) {
        debug_assert!(!matches!(self.waiter, Waiter::Dormant(_)), "a dormant actor has no task to park");
        match &mut self.waiter {
            Waiter::Task { waker: current, on } if current.will_wake(waker) => *on = wake_on,
            _ => self.waiter = Waiter::Task { waker: waker.clone(), on: wake_on },
        }
    }

    fn wake(&mut self, reason: u8) -> Wake<A> {
        match &mut self.waiter {
            Waiter::Nobody => Wake::Nothing,
            Waiter::Task { on, .. } if *on & reason == 0 => Wake::Nothing,
            _ => match std::mem::replace(&mut self.waiter, Waiter::Nobody) {
                Waiter::Task { waker, .. } => Wake::Waker(waker),
                Waiter::Dormant(dormant) => Wake::Activate(dormant),
                Waiter::Nobody => Wake::Nothing,
            },
        }
    }

    /// Drops a registered task waker (a dormant state stays).
    fn forget_waker(&mut self) {
        if let Waiter::Task { .. } = self.waiter {
            self.waiter = Waiter::Nobody;
        }
    }

    fn evict_oldest(&mut self) -> Option<Envelope<A>> {
        let index = self.user.iter().position(Envelope::is_counted)?;
        let evicted = self.user.remove(index)?;
        self.counted -= 1;
        Some(evicted)
    }
}

/// An actor's mailbox.
pub(crate) struct Mailbox<A: Actor> {
    lanes: Mutex<Lanes<A>>,
    has_signals: AtomicBool,
    capacity: usize,
    overflow: Overflow,
    /// Permits for `Overflow::Wait` senders.
    gate: Option<Box<Semaphore>>,
    /// Activations by arrivals (loom models only).
    #[cfg(treeline_loom)]
    pub(crate) activations: ::loom::sync::atomic::AtomicUsize,
}

impl<A: Actor> Mailbox<A> {
    pub(crate) fn new(config: MailboxConfig) -> Self {
        let (capacity, overflow) = match (config.capacity(), config.overflow()) {
            (Some(capacity), Some(overflow)) => (capacity, overflow),
            _ => (usize::MAX, Overflow::Wait),
        };
        let bounded = config.capacity().is_some();
        let gate = (bounded && overflow == Overflow::Wait).then(|| Box::new(Semaphore::new(capacity)));
        Mailbox {
            lanes: Mutex::new(Lanes {
                user: VecDeque::new(),
                signals: VecDeque::new(),
                waiter: Waiter::Nobody,
                closed: false,
                counted: 0,
                freed: 0,
            }),
            has_signals: AtomicBool::new(false),
            capacity,
            overflow,
            gate,
            #[cfg(treeline_loom)]
            activations: ::loom::sync::atomic::AtomicUsize::new(0),
        }
    }

    pub(crate) fn is_bounded(&self) -> bool {
        self.capacity != usize::MAX
    }

    pub(crate) fn capacity(&self) -> Option<usize> {
        self.is_bounded().then_some(self.capacity)
    }

    pub(crate) fn overflow(&self) -> Option<Overflow> {
        self.is_bounded().then_some(self.overflow)
    }

    /// True when senders must take a permit first (`Overflow::Wait`).
    pub(crate) fn is_gated(&self) -> bool {
        self.gate.is_some()
    }

    /// Waits for room in a `Wait` mailbox. `false` if the mailbox closed.
    pub(crate) async fn acquire_permit(&self) -> bool {
        match &self.gate {
            Some(gate) => match gate.acquire().await {
                Ok(permit) => {
                    permit.forget();
                    true
                }
                Err(_) => false,
            },
            None => true,
        }
    }

    /// Takes room in a `Wait` mailbox without waiting. `Err(true)` if full,
    /// `Err(false)` if closed.
    pub(crate) fn try_acquire_permit(&self) -> Result<(), bool> {
        match &self.gate {
            Some(gate) => match gate.try_acquire() {
                Ok(permit) => {
                    permit.forget();
                    Ok(())
                }
                Err(tokio::sync::TryAcquireError::NoPermits) => Err(true),
                Err(tokio::sync::TryAcquireError::Closed) => Err(false),
            },
            None => Ok(()),
        }
    }

    fn release_chunk(&self) -> usize {
        (self.capacity / 8).clamp(1, u32::MAX as usize)
    }

    /// Queues a message. On success returns the envelope evicted to make room
    /// (`DropOldest`), which the caller reports as a dead letter.
    pub(crate) fn push<D: Dispatch<A>>(
        &self,
        message: D,
        admission: Admission,
    ) -> Result<Option<Envelope<A>>, Refused<D>> {
        self.push_noted(message, admission, false)
    }

    /// [`Mailbox::push`], noting when the message was queued (its System
    /// times handlers; feature `metrics`).
    #[cfg(feature = "metrics")]
    pub(crate) fn push_stamped<D: Dispatch<A>>(
        &self,
        message: D,
        admission: Admission,
    ) -> Result<Option<Envelope<A>>, Refused<D>> {
        self.push_noted(message, admission, true)
    }

    #[inline(always)]
    fn push_noted<D: Dispatch<A>>(
        &self,
        message: D,
        admission: Admission,
        #[cfg_attr(not(feature = "metrics"), allow(unused_variables))] stamp: bool,
    ) -> Result<Option<Envelope<A>>, Refused<D>> {
        #[cfg(feature = "metrics")]
        let queued = stamp.then(std::time::Instant::now);
        let mut evicted = None;
        let wake = {
            let mut lanes = self.lanes.lock();
            if lanes.closed {
                return Err(Refused::Closed(message));
            }
            if admission == Admission::Counted && lanes.counted >= self.capacity {
                if self.overflow != Overflow::DropOldest {
                    return Err(Refused::Full(message));
                }
                match lanes.evict_oldest() {
                    Some(old) => evicted = Some(old),
                    None => return Err(Refused::Full(message)),
                }
            }
            #[allow(unused_mut)] // noted only with the `metrics` feature
            let mut envelope = Envelope::new::<D, true>(message);
            #[cfg(feature = "metrics")]
            envelope.note_queued(queued);
            lanes.user.push_back(envelope);
            lanes.counted += 1;
            lanes.wake(WAKE_MSG)
        };
        wake.run();
        Ok(evicted)
    }

    /// Appends a message the runtime made for the actor itself (never refused
    /// for capacity); gives it back if the mailbox is closed.
    pub(crate) fn push_internal(&self, envelope: Envelope<A>) -> Result<(), Envelope<A>> {
        let wake = {
            let mut lanes = self.lanes.lock();
            if lanes.closed {
                return Err(envelope);
            }
            lanes.user.push_back(envelope);
            lanes.wake(WAKE_MSG)
        };
        wake.run();
        Ok(())
    }

    /// Queues a signal that becomes a message (an exit signal to a trapping
    /// actor, a `Down`) in the user lane, in arrival order with the messages
    /// (OTP orders a signal converted to a message at its arrival). Never
    /// counted toward capacity; given back if the actor is dead.
    pub(crate) fn push_arrived(&self, signal: Arrived) -> Result<(), Arrived> {
        let wake = {
            let mut lanes = self.lanes.lock();
            if lanes.closed {
                return Err(signal);
            }
            lanes.user.push_back(Envelope::new::<SignalMsg, false>(SignalMsg(signal)));
            lanes.wake(WAKE_MSG)
        };
        wake.run();
        Ok(())
    }

    /// Puts a signal on the priority lane; gives it back if the actor is dead.
    pub(crate) fn push_signal(&self, signal: Signal) -> Result<(), Signal> {
        let wake = {
            let mut lanes = self.lanes.lock();
            if lanes.closed {
                return Err(signal);
            }
            lanes.signals.push_back(signal);
            self.has_signals.store(true, Ordering::Release);
            lanes.wake(WAKE_SIG)
        };
        wake.run();
        Ok(())
    }

    /// Parks a freshly started actor without a task, if nothing is waiting
    /// for it; otherwise gives it back to be started now.
    pub(crate) fn make_dormant(&self, dormant: Box<Dormant<A>>) -> Result<(), Box<Dormant<A>>> {
        let mut lanes = self.lanes.lock();
        if lanes.closed || !lanes.user.is_empty() || !lanes.signals.is_empty() {
            return Err(dormant);
        }
        // Any waker `init` left behind is the spawner's: from now on an
        // arrival must activate the actor instead of waking the spawner, and
        // replacing the waiter does exactly that.
        lanes.waiter = Waiter::Dormant(dormant);
        Ok(())
    }

    /// Forgets the waker of a callback that ran outside the actor's task
    /// (`init` in the spawner), before the actor's own task takes over.
    pub(crate) fn forget_waker(&self) {
        self.lanes.lock().forget_waker();
    }

    /// Takes a dormant actor's state (to stop it without a task).
    pub(crate) fn take_dormant(&self) -> Option<Box<Dormant<A>>> {
        let mut lanes = self.lanes.lock();
        match std::mem::replace(&mut lanes.waiter, Waiter::Nobody) {
            Waiter::Dormant(dormant) => Some(dormant),
            other => {
                lanes.waiter = other;
                None
            }
        }
    }

    /// One atomic load: are signals waiting?
    pub(crate) fn has_signals(&self) -> bool {
        self.has_signals.load(Ordering::Acquire)
    }

    /// Moves every waiting signal into `out`, in arrival order.
    pub(crate) fn take_signals_into(&self, out: &mut VecDeque<Signal>) {
        let mut lanes = self.lanes.lock();
        out.extend(lanes.signals.drain(..));
        self.has_signals.store(false, Ordering::Release);
    }

    /// Looks for work; registers the task to be woken otherwise.
    ///
    /// `batch` must be empty; for an unbounded mailbox the user queue is
    /// swapped into it.
    pub(crate) fn poll_recv(&self, cx: &mut TaskContext<'_>, batch: &mut VecDeque<Envelope<A>>) -> Poll<Recv<A>> {
        debug_assert!(batch.is_empty());
        let mut lanes = self.lanes.lock();
        if !lanes.signals.is_empty() {
            return Poll::Ready(Recv::Signals);
        }
        if !self.is_bounded() {
            if !lanes.user.is_empty() {
                std::mem::swap(&mut lanes.user, batch);
                lanes.counted = 0;
                return Poll::Ready(Recv::Batch);
            }
        } else if let Some(envelope) = lanes.user.pop_front() {
            let mut release = 0;
            if envelope.is_counted() {
                lanes.counted -= 1;
                if self.gate.is_some() {
                    lanes.freed += 1;
                    // Hand permits back in chunks, and always once the queue
                    // is empty (so a waiting sender is never stranded).
                    if lanes.freed as usize >= self.release_chunk() || lanes.user.is_empty() {
                        release = std::mem::take(&mut lanes.freed) as usize;
                    }
                }
            }
            drop(lanes);
            if release > 0 {
                if let Some(gate) = &self.gate {
                    gate.add_permits(release);
                }
            }
            return Poll::Ready(Recv::One(envelope));
        }
        lanes.register(cx.waker(), WAKE_MSG | WAKE_SIG);
        Poll::Pending
    }

    /// While a callback is pending: wake the task when a signal arrives.
    /// Returns true if signals are already waiting.
    pub(crate) fn watch_signals(&self, cx: &mut TaskContext<'_>) -> bool {
        let mut lanes = self.lanes.lock();
        if !lanes.signals.is_empty() {
            return true;
        }
        lanes.register(cx.waker(), WAKE_SIG);
        false
    }

    /// Closes the mailbox for good and hands back everything still queued.
    pub(crate) fn close(&self) -> (VecDeque<Envelope<A>>, VecDeque<Signal>) {
        let taken = {
            let mut lanes = self.lanes.lock();
            lanes.closed = true;
            lanes.forget_waker();
            lanes.counted = 0;
            self.has_signals.store(false, Ordering::Release);
            (std::mem::take(&mut lanes.user), std::mem::take(&mut lanes.signals))
        };
        if let Some(gate) = &self.gate {
            gate.close();
        }
        taken
    }

    /// Messages waiting in the shared queue (not counting a batch the actor
    /// already took).
    pub(crate) fn len(&self) -> usize {
        self.lanes.lock().user.len()
    }

    /// Frees buffer space after a burst (`Context::hibernate`).
    pub(crate) fn shrink(&self) {
        let mut lanes = self.lanes.lock();
        lanes.user.shrink_to_fit();
        lanes.signals.shrink_to_fit();
    }
}

#[cfg(all(test, treeline_loom))]
mod loom;
