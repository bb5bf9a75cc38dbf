//! The part of an actor that handles share with its task: identity, mailbox,
//! status and final exit reason.
//!
//! The actor's *state* is not here: it lives only in the actor's task
//! (ARCHITECTURE.md, invariant "state is touched only by its own task").
//!
//! **Invariant:** the exit reason is recorded before the mailbox closes, and
//! the mailbox closes before anyone is told about the death. So whoever sees a
//! closed mailbox or a dropped reply can read the reason.
//!
//! **Invariant:** the actor is `Dead`, and `join`/`stop` return, only once its
//! teardown is complete: links and monitors notified, names released, the
//! process table left.

mod holdings;
pub(crate) mod panics;
pub(crate) mod relations;

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;
use tokio::sync::oneshot;

use crate::actor::run;
use crate::actor::Actor;
use crate::addr::ActorId;
use crate::dead_letter::{DeadLetter, DeadLetterReason};
use crate::exit::ExitReason;
use crate::mailbox::envelope::{CurrentMessage, Dispatch, MessageKind, MessageMeta};
use crate::mailbox::queue::{Admission, Mailbox, Refused};
use crate::mailbox::{MailboxConfig, MailboxFull, Overflow};
use crate::registry::Registration;
use crate::signal::Signal;
use crate::system::System;
use holdings::Holdings;
use relations::RelationsCell;

/// The outcome of offering a message to a mailbox.
#[derive(Debug)]
pub(crate) enum Offered<D> {
    /// Queued.
    Queued,
    /// Accepted and dropped by the actor's overflow policy (a dead letter).
    Shed,
    /// Refused: the mailbox is full.
    Full(D),
    /// Refused: the actor is dead.
    Closed(D),
}

/// Lifecycle of an actor, as handles see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    /// Running `init` (in the spawner's task).
    Starting,
    /// Handling messages.
    Running,
    /// Decided to stop: running `terminate`, or being torn down.
    Stopping,
    /// Gone; the exit reason is recorded.
    Dead,
}

impl Status {
    fn from_u8(value: u8) -> Status {
        match value {
            0 => Status::Starting,
            1 => Status::Running,
            2 => Status::Stopping,
            _ => Status::Dead,
        }
    }
}

/// What a snapshot reads of one actor (`introspect`), whatever its type.
pub(crate) struct CellView {
    pub(crate) id: ActorId,
    pub(crate) kind: String,
    pub(crate) actor_type: &'static str,
    pub(crate) parent: ActorId,
    pub(crate) status: Status,
    /// The message it handles, or handled last before it parked.
    pub(crate) current: Option<&'static MessageMeta>,
    pub(crate) handled: [u64; MessageKind::SLOTS],
    pub(crate) dead_letters: u64,
    pub(crate) mailbox_len: usize,
    pub(crate) mailbox_capacity: Option<usize>,
    pub(crate) overflow: Option<Overflow>,
    pub(crate) trap_exit: bool,
    pub(crate) holdings: Vec<Registration>,
    pub(crate) related: relations::RelatedIds,
}

/// What every actor, whatever its type, can do for others. `Pid` is an
/// `Arc<dyn Process>`.
pub(crate) trait Process: Send + Sync + 'static {
    fn id(&self) -> ActorId;
    /// Puts a signal on the priority lane; gives it back if the actor is dead.
    fn signal(&self, signal: Signal) -> Result<(), Signal>;
    fn status(&self) -> Status;
    fn exit_reason(&self) -> Option<ExitReason>;
    /// Identity of the cell, to detect calls to oneself.
    fn address(&self) -> usize;
    /// The actor's Rust type name.
    fn type_name(&self) -> &'static str;
    /// The cell as `Any`, to recover its actor type (typed registry lookups).
    fn into_any(self: Arc<Self>) -> Arc<dyn std::any::Any + Send + Sync>;
    /// The registry entries the actor holds.
    fn registrations(&self) -> Vec<Registration>;
    /// Registers for the actor's death: the receiver gets the exit reason
    /// once teardown is complete (links and monitors notified, the process
    /// table left). `Err` with the reason if that already happened.
    fn watch(&self) -> Result<oneshot::Receiver<ExitReason>, ExitReason>;
    /// Messages waiting in the shared mailbox queue.
    fn mailbox_len(&self) -> usize;
    /// The mailbox capacity, `None` when unbounded.
    fn mailbox_capacity(&self) -> Option<usize>;
    /// Messages handled so far.
    fn handled(&self) -> u64;
    /// Dead letters addressed to this actor.
    fn dead_letters(&self) -> u64;
    /// What a snapshot shows of the actor, read without its help.
    fn view(&self) -> CellView;
    /// If the actor is dormant (no task yet), takes its state and returns a
    /// future that runs `terminate(reason)` and tears it down in the caller's
    /// task.
    fn stop_dormant(&self, reason: ExitReason) -> Option<Pin<Box<dyn Future<Output = ExitReason> + Send>>>;
}

/// The shared cell of an actor of type `A`.
///
/// The field order is fixed (`repr(C)`) to keep the counter the actor writes
/// for every message (`handled`) off the cache lines that senders touch for
/// every message (the mailbox): sharing one made Counting 10-20% slower on
/// two threads.
#[repr(C)]
pub(crate) struct ActorCell<A: Actor> {
    pub(crate) mailbox: Mailbox<A>,
    pub(crate) id: ActorId,
    pub(crate) system: System,
    exit: OnceLock<ExitReason>,
    status: AtomicU8,
    trap_exit: AtomicBool,
    /// Set once `Overflow::StopActor` asked the actor to stop.
    overflowed: AtomicBool,
    dead_letters: AtomicU64,
    /// Who waits for the death (`join`, `stop`), until it is announced
    /// (the status turns `Dead` under this lock). Boxed on first use: most
    /// actors are never joined.
    obituary: Mutex<Option<Box<Waiting>>>,
    /// Names, subscriptions and durable slots held until the death.
    pub(crate) holdings: Holdings<Registration>,
    /// The actor's kind: its child-spec id, or [`SpawnOptions::kind`], or
    /// (when `None`) its type's short name. Bounded by construction: the
    /// label metrics and reports use.
    ///
    /// [`SpawnOptions::kind`]: crate::actor::SpawnOptions::kind
    pub(crate) kind: Option<Arc<str>>,
    /// Who spawned it (`ActorId::SYSTEM` for a top-level actor).
    pub(crate) parent: ActorId,
    /// Links and monitors.
    pub(crate) relations: RelationsCell,
    /// Written by the actor's task only: the message it is handling (or
    /// handled last, until it parks) ...
    pub(crate) current: CurrentMessage,
    /// ... and how many of each kind it handled (see [`MessageKind::slot`]).
    handled: [AtomicU64; MessageKind::SLOTS],
}

/// Those waiting for an actor's death.
#[derive(Default)]
struct Waiting(Vec<oneshot::Sender<ExitReason>>);

impl<A: Actor> ActorCell<A> {
    pub(crate) fn new(
        id: ActorId,
        system: &System,
        mailbox: MailboxConfig,
        parent: ActorId,
        kind: Option<Arc<str>>,
    ) -> Self {
        ActorCell {
            kind,
            parent,
            current: CurrentMessage::default(),
            relations: RelationsCell::default(),
            id,
            system: system.for_actor(),
            mailbox: Mailbox::new(mailbox),
            status: AtomicU8::new(Status::Starting as u8),
            exit: OnceLock::new(),
            trap_exit: AtomicBool::new(false),
            overflowed: AtomicBool::new(false),
            handled: Default::default(),
            dead_letters: AtomicU64::new(0),
            obituary: Mutex::new(None),
            holdings: Holdings::new(),
        }
    }

    /// The actor's kind as a metrics label (no allocation).
    #[cfg(feature = "metrics")]
    pub(crate) fn kind_label(&self) -> ::metrics::SharedString {
        match &self.kind {
            Some(kind) => ::metrics::SharedString::from(kind.clone()),
            None => {
                ::metrics::SharedString::const_str(crate::actor::report::short_type_name(std::any::type_name::<A>()))
            }
        }
    }

    /// The actor's kind (see [`ActorCell::kind`]).
    pub(crate) fn kind_name(&self) -> &str {
        self.kind.as_deref().unwrap_or_else(|| crate::actor::report::short_type_name(std::any::type_name::<A>()))
    }

    pub(crate) fn set_status(&self, status: Status) {
        self.status.store(status as u8, Ordering::Release);
    }

    /// Records the final reason at the start of teardown (the actor is
    /// `Stopping` until [`ActorCell::announce_death`]). Returns the reason
    /// actually recorded (the first one wins).
    pub(crate) fn record_exit(&self, reason: ExitReason) -> ExitReason {
        let recorded = self.exit.get_or_init(|| reason).clone();
        self.set_status(Status::Stopping);
        recorded
    }

    /// Tells `waiter` the exit reason once the death is announced (at once
    /// if it was).
    pub(crate) fn await_death(&self, waiter: oneshot::Sender<ExitReason>) {
        let mut obituary = self.obituary.lock();
        if self.status() == Status::Dead {
            drop(obituary);
            let _ = waiter.send(self.exit_reason_or_noproc());
        } else {
            obituary.get_or_insert_with(Default::default).0.push(waiter);
        }
    }

    /// The end of teardown: the actor is `Dead`, and everyone waiting hears
    /// of it. Whoever returns from `join` or `stop` thus finds the links and
    /// monitors already notified (their `Exit`/`Down` queued), the names
    /// released and the process table left.
    pub(crate) fn announce_death(&self) {
        let waiting = {
            let mut obituary = self.obituary.lock();
            self.set_status(Status::Dead);
            obituary.take()
        };
        let reason = self.exit_reason_or_noproc();
        for waiter in waiting.into_iter().flat_map(|waiting| waiting.0) {
            let _ = waiter.send(reason.clone());
        }
    }

    fn exit_reason_or_noproc(&self) -> ExitReason {
        self.exit.get().cloned().unwrap_or(ExitReason::NoProc)
    }

    pub(crate) fn traps_exits(&self) -> bool {
        self.trap_exit.load(Ordering::Relaxed)
    }

    pub(crate) fn set_trap_exit(&self, on: bool) {
        self.trap_exit.store(on, Ordering::Relaxed);
    }

    /// Counts a handled message of `kind`. Only the actor's task writes
    /// these counters, so a load and a store suffice (no read-modify-write
    /// on the hot path).
    #[inline(always)]
    pub(crate) fn count_handled(&self, meta: &MessageMeta) {
        if let Some(counter) = self.handled.get(meta.slot()) {
            counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        }
    }

    /// Messages handled so far (continues are not messages).
    pub(crate) fn handled(&self) -> u64 {
        self.handled.iter().map(|counter| counter.load(Ordering::Relaxed)).sum()
    }

    /// Messages handled so far, by [`MessageKind::slot`].
    pub(crate) fn handled_by_slot(&self) -> [u64; MessageKind::SLOTS] {
        std::array::from_fn(|slot| self.handled[slot].load(Ordering::Relaxed))
    }

    pub(crate) fn dead_letters(&self) -> u64 {
        self.dead_letters.load(Ordering::Relaxed)
    }

    /// Counts and reports one dead letter addressed to this actor.
    pub(crate) fn dead_letter(&self, message: &'static str, kind: MessageKind, reason: DeadLetterReason) {
        self.dead_letters.fetch_add(1, Ordering::Relaxed);
        #[cfg(feature = "metrics")]
        self.system.metrics_state().dead_letter(self.kind_name(), reason);
        self.system.dead_letter_counters().record(self.id, message, kind, reason);
        // Observers of the dead-letter topic hear of it (but a dropped
        // DeadLetter is not reported again, which could loop).
        if message != std::any::type_name::<DeadLetter>() {
            let letter = DeadLetter { to: self.id, message_type: message, kind, reason };
            self.system.registry().report_dead_letter(letter);
        }
    }

    /// Offers a message; waits for room only in a full `Wait` mailbox.
    ///
    /// The common case completes synchronously; only the waiting path is a
    /// (boxed) future, so that callers' futures stay small.
    pub(crate) async fn offer<D: Dispatch<A>>(&self, message: D) -> Offered<D> {
        match self.offer_now(message) {
            Ok(offered) => offered,
            Err(message) => Box::pin(self.offer_waiting(message)).await,
        }
    }

    /// Pushes into the mailbox, noting the time when the System times its
    /// handlers (feature `metrics`).
    #[inline(always)]
    fn push<D: Dispatch<A>>(
        &self,
        message: D,
        admission: Admission,
    ) -> Result<Option<crate::mailbox::envelope::Envelope<A>>, Refused<D>> {
        #[cfg(feature = "metrics")]
        if self.system.metrics_state().timing() {
            return self.mailbox.push_stamped(message, admission);
        }
        self.mailbox.push(message, admission)
    }

    /// Offers without waiting; gives the message back if the caller should
    /// wait for room (`Wait` mailbox, full).
    pub(crate) fn offer_now<D: Dispatch<A>>(&self, message: D) -> Result<Offered<D>, D> {
        if self.mailbox.is_gated() {
            return match self.mailbox.try_acquire_permit() {
                Ok(()) => Ok(self.settle(self.push(message, Admission::Permitted))),
                Err(true) => Err(message),
                Err(false) => Ok(Offered::Closed(message)),
            };
        }
        Ok(self.settle(self.push(message, Admission::Counted)))
    }

    async fn offer_waiting<D: Dispatch<A>>(&self, message: D) -> Offered<D> {
        if !self.mailbox.acquire_permit().await {
            return Offered::Closed(message);
        }
        self.settle(self.push(message, Admission::Permitted))
    }

    /// Offers a message without ever waiting.
    pub(crate) fn try_offer<D: Dispatch<A>>(&self, message: D) -> Offered<D> {
        self.offer_now(message).unwrap_or_else(Offered::Full)
    }

    /// Applies the overflow policy to the result of a push.
    fn settle<D: Dispatch<A>>(
        &self,
        pushed: Result<Option<crate::mailbox::envelope::Envelope<A>>, Refused<D>>,
    ) -> Offered<D> {
        match pushed {
            Ok(None) => Offered::Queued,
            Ok(Some(evicted)) => {
                self.dead_letter(evicted.message_type(), evicted.kind(), DeadLetterReason::MailboxFull);
                drop(evicted);
                Offered::Queued
            }
            Err(Refused::Closed(message)) => Offered::Closed(message),
            Err(Refused::Full(message)) => {
                let overflow = self.mailbox.overflow();
                if overflow == Some(Overflow::StopActor) {
                    self.stop_for_overflow();
                }
                let sheds = matches!(overflow, Some(Overflow::DropNewest | Overflow::StopActor));
                // A call is never shed silently: its caller gets MailboxFull.
                if sheds && D::KIND != MessageKind::Call {
                    self.dead_letter(D::message_type(), D::KIND, DeadLetterReason::MailboxFull);
                    drop(message);
                    Offered::Shed
                } else {
                    Offered::Full(message)
                }
            }
        }
    }

    fn stop_for_overflow(&self) {
        if !self.overflowed.swap(true, Ordering::AcqRel) {
            let capacity = self.mailbox.capacity().unwrap_or(usize::MAX);
            let reason = ExitReason::error(MailboxFull { capacity });
            let _ = self.mailbox.push_signal(Signal::Stop { reason, reply: None });
        }
    }
}

impl<A: Actor> Process for ActorCell<A> {
    fn id(&self) -> ActorId {
        self.id
    }

    fn signal(&self, signal: Signal) -> Result<(), Signal> {
        // Decided at arrival, as OTP does: a signal that a trapping actor
        // receives as a message queues behind what is already there.
        match signal.route(self.traps_exits()) {
            Ok(arrived) => self.mailbox.push_arrived(arrived).map_err(Signal::from),
            Err(signal) => self.mailbox.push_signal(signal),
        }
    }

    fn status(&self) -> Status {
        Status::from_u8(self.status.load(Ordering::Acquire))
    }

    fn exit_reason(&self) -> Option<ExitReason> {
        self.exit.get().cloned()
    }

    fn address(&self) -> usize {
        self as *const Self as *const () as usize
    }

    fn type_name(&self) -> &'static str {
        std::any::type_name::<A>()
    }

    fn into_any(self: Arc<Self>) -> Arc<dyn std::any::Any + Send + Sync> {
        self
    }

    fn registrations(&self) -> Vec<Registration> {
        self.holdings.snapshot()
    }

    fn watch(&self) -> Result<oneshot::Receiver<ExitReason>, ExitReason> {
        let mut obituary = self.obituary.lock();
        if Process::status(self) == Status::Dead {
            return Err(self.exit_reason_or_noproc());
        }
        let (waiter, death) = oneshot::channel();
        obituary.get_or_insert_with(Default::default).0.push(waiter);
        Ok(death)
    }

    fn mailbox_len(&self) -> usize {
        self.mailbox.len()
    }

    fn view(&self) -> CellView {
        CellView {
            id: self.id,
            kind: self.kind_name().to_string(),
            actor_type: std::any::type_name::<A>(),
            parent: self.parent,
            status: self.status(),
            current: self.current.get(),
            handled: self.handled_by_slot(),
            dead_letters: self.dead_letters(),
            mailbox_len: self.mailbox.len(),
            mailbox_capacity: self.mailbox.capacity(),
            overflow: self.mailbox.overflow(),
            trap_exit: self.traps_exits(),
            holdings: self.holdings.snapshot(),
            related: self.relations.ids(),
        }
    }

    fn mailbox_capacity(&self) -> Option<usize> {
        self.mailbox.capacity()
    }

    fn handled(&self) -> u64 {
        ActorCell::handled(self)
    }

    fn dead_letters(&self) -> u64 {
        ActorCell::dead_letters(self)
    }

    fn stop_dormant(&self, reason: ExitReason) -> Option<Pin<Box<dyn Future<Output = ExitReason> + Send>>> {
        let dormant = self.mailbox.take_dormant()?;
        Some(Box::pin(run::stop_dormant(dormant, reason)))
    }
}

// === the actor currently running on this thread ===

thread_local! {
    /// The cell address and id of the actor whose callback this thread is
    /// running ((0, 0) outside actors). Ambient, per-thread context only: it
    /// holds no shared state, so several Systems in one process stay
    /// independent.
    static CURRENT: Cell<(usize, u64)> = const { Cell::new((0, 0)) };
}

/// True if the calling code runs inside the callbacks of the actor at
/// `address` (a call to oneself would deadlock).
pub(crate) fn is_current(address: usize) -> bool {
    CURRENT.with(|current| current.get().0 == address)
}

/// True while this thread runs an actor's callback.
pub(crate) fn in_callback() -> bool {
    CURRENT.try_with(|current| current.get().0 != 0).unwrap_or(false)
}

/// The actor whose callback is running on this thread, if any; exit signals
/// it sends carry this id.
pub(crate) fn current_id() -> ActorId {
    ActorId(CURRENT.with(|current| current.get().1))
}

/// Marks an actor as running on this thread until dropped.
pub(crate) struct CurrentGuard {
    previous: (usize, u64),
}

impl CurrentGuard {
    pub(crate) fn enter(address: usize, id: ActorId) -> Self {
        CurrentGuard { previous: CURRENT.with(|current| current.replace((address, id.0))) }
    }
}

impl Drop for CurrentGuard {
    fn drop(&mut self) {
        CURRENT.with(|current| current.set(self.previous));
    }
}
