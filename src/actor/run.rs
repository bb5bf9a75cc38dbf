//! The per-actor loop: take signals, run continues, take a message, run its
//! handler; and the ending: `terminate`, then teardown.
//!
//! # Invariants
//!
//! * Only this loop touches the actor's state; callbacks run one at a time.
//! * Before every message the priority lane is checked (one atomic load).
//! * A callback is polled inside `catch_unwind`; a panic ends the actor with
//!   [`ExitReason::Panic`] and never unwinds into the runtime.
//! * While a callback is pending, an untrappable kill or a non-trapped
//!   explicit exit signal drops it at its await point (as an exit signal
//!   interrupts a BEAM process). Exit signals from *links* wait until the
//!   callback returns, so that `unlink` stays exact.
//! * Teardown order: record the exit reason, close the mailbox, release the
//!   registry entries, cancel timers, fail owed replies, dead-letter what was
//!   queued, answer pending requests, signal links and monitors, leave the
//!   process table, and finally announce the death (`join` and `stop`
//!   return, the status becomes `Dead`).

use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::Poll;

use tokio::time::Instant;
use tracing::Instrument;

use super::context::requests;
use super::slot::{FutureSlot, Placed};
use super::{Actor, Context};
use crate::addr::ActorId;
use crate::cell::{ActorCell, CurrentGuard, Process, Status};
use crate::dead_letter::DeadLetterReason;
use crate::exit::{ExitReason, PanicMessage};
use crate::mailbox::envelope::{Envelope, MessageKind};
use crate::mailbox::queue::Recv;
use crate::signal::{Arrived, Down, Exit, FailedDelivery, Signal};

/// A running handler (built in the actor's reusable [`FutureSlot`]).
pub(crate) type HandlerFuture<'a> = Placed<'a>;

/// A reply held back until `terminate` has run.
pub(crate) type PendingReply = Box<dyn FnOnce() + Send>;

/// What a handler decided.
pub(crate) enum Outcome {
    Continue,
    Stop(ExitReason),
    StopWithReply(ExitReason, PendingReply),
}

/// How polling a callback ended.
pub(crate) enum Driven<T> {
    Done(T),
    Panicked(PanicMessage),
    Killed(ExitReason),
}

/// Polls a callback to completion, catching panics and watching the priority
/// lane for signals that end the actor at once. Other signals that arrive
/// meanwhile are moved to `pending`, in order, for after the callback.
pub(crate) async fn drive<A: Actor, F: Future + ?Sized>(
    future: Pin<&mut F>,
    cell: &ActorCell<A>,
    pending: &mut VecDeque<Signal>,
) -> Driven<F::Output> {
    drive_from(future, cell, pending, false).await
}

/// [`drive`] for a callback that was already polled once and is pending.
async fn drive_polled<A: Actor, F: Future + ?Sized>(
    future: Pin<&mut F>,
    cell: &ActorCell<A>,
    pending: &mut VecDeque<Signal>,
) -> Driven<F::Output> {
    drive_from(future, cell, pending, true).await
}

async fn drive_from<A: Actor, F: Future + ?Sized>(
    mut future: Pin<&mut F>,
    cell: &ActorCell<A>,
    pending: &mut VecDeque<Signal>,
    mut polled: bool,
) -> Driven<F::Output> {
    let mut watching = false;
    poll_fn(|cx| {
        if !std::mem::take(&mut polled) {
            let polled = {
                let _current = CurrentGuard::enter(cell.address(), cell.id);
                catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx)))
            };
            match polled {
                Ok(Poll::Ready(output)) => return Poll::Ready(Driven::Done(output)),
                Err(payload) => return Poll::Ready(Driven::Panicked(caught(payload))),
                Ok(Poll::Pending) => {}
            }
        }
        if watching && !cell.mailbox.has_signals() {
            return Poll::Pending;
        }
        // Register for signals; if some are already waiting, inspect them.
        watching = true;
        while cell.mailbox.watch_signals(cx) {
            let seen = pending.len();
            cell.mailbox.take_signals_into(pending);
            if let Some(reason) = pending.iter().skip(seen).find_map(|signal| kills_now(signal, cell)) {
                return Poll::Ready(Driven::Killed(reason));
            }
        }
        Poll::Pending
    })
    .await
}

/// Does this signal end the actor right now, even mid-callback?
fn kills_now<A: Actor>(signal: &Signal, cell: &ActorCell<A>) -> Option<ExitReason> {
    match signal {
        Signal::Exit { reason: ExitReason::Kill, linked: false, .. } => Some(ExitReason::Killed),
        Signal::Exit { from, reason, linked: false, .. } if !cell.traps_exits() => {
            (!reason.is_normal() || *from == cell.id).then(|| reason.clone())
        }
        _ => None,
    }
}

// === the actor's state ===

/// An actor's state, whose `Drop` is user code and may panic. Wherever the
/// state is dropped (at the end of the run loop, by a stopper, with a task
/// the runtime dropped), the panic is caught: it never unwinds into the
/// runtime or into whoever dropped the state.
pub(crate) struct Guarded<A>(Option<A>);

impl<A> Guarded<A> {
    pub(crate) fn new(actor: A) -> Self {
        Guarded(Some(actor))
    }

    /// The state (present until [`Guarded::dispose`] consumes it).
    pub(crate) fn get(&mut self) -> &mut A {
        self.0.as_mut().expect("the state is present until disposed")
    }

    /// The state itself, for the run loop (which drops it with
    /// [`drop_caught`]).
    pub(crate) fn into_inner(mut self) -> A {
        self.0.take().expect("the state is present until disposed")
    }

    /// Drops the state now; a panic in its `Drop` replaces `reason`, as a
    /// panic in `terminate` does.
    pub(crate) fn dispose(mut self, reason: ExitReason) -> ExitReason {
        match drop_caught(self.0.take()) {
            Some(panic) => ExitReason::Panic(panic),
            None => reason,
        }
    }
}

impl<A> Drop for Guarded<A> {
    fn drop(&mut self) {
        if let Some(panic) = drop_caught(self.0.take()) {
            tracing::error!(actor = std::any::type_name::<A>(), %panic, "the actor state's Drop panicked");
        }
    }
}

/// The exit reason for a panic a callback just raised on this thread, with
/// the location the panic hook kept (`cell/panics.rs`).
#[cold]
fn caught(payload: Box<dyn std::any::Any + Send>) -> PanicMessage {
    PanicMessage::from_payload(payload).at(crate::cell::panics::take_location())
}

fn drop_caught<T>(value: T) -> Option<PanicMessage> {
    catch_unwind(AssertUnwindSafe(move || drop(value))).err().map(PanicMessage::from_payload)
}

// === dormant actors ===

/// An actor that finished `init` but has no task yet: its task is spawned
/// when the first message or signal arrives ([`activate`]). An idle actor
/// thus costs no tokio task, and spawning one schedules nothing.
pub(crate) struct Dormant<A: Actor> {
    pub(crate) actor: Guarded<A>,
    pub(crate) ctx: Context<A>,
    pub(crate) runtime: tokio::runtime::Handle,
}

/// Starts the task of a dormant actor (called by whoever woke it, from any
/// thread).
pub(crate) fn activate<A: Actor>(dormant: Dormant<A>) {
    let Dormant { actor, ctx, runtime } = dormant;
    start_task(&runtime, actor, ctx, VecDeque::new());
}

/// Spawns the actor's task on `runtime`.
pub(crate) fn start_task<A: Actor>(
    runtime: &tokio::runtime::Handle,
    actor: Guarded<A>,
    ctx: Context<A>,
    pending: VecDeque<Signal>,
) {
    let span = tracing::debug_span!("actor", id = %ctx.id(), actor = std::any::type_name::<A>());
    // Built before the spawn: if the runtime is already shut down, tokio drops
    // the future at once, and the lifeline tears the actor down (`Killed`).
    let life = Lifeline { cell: ctx.myself().cell.clone(), ctx, batch: VecDeque::new(), pending, finished: false };
    if span.is_disabled() {
        runtime.spawn(run(actor, life));
    } else {
        runtime.spawn(run(actor, life).instrument(span));
    }
}

/// Stops a dormant actor in the caller's task: `terminate(reason)`, then
/// teardown, without ever spawning its task. Returns the final reason.
pub(crate) async fn stop_dormant<A: Actor>(dormant: Box<Dormant<A>>, reason: ExitReason) -> ExitReason {
    let Dormant { mut actor, ctx, .. } = *dormant;
    let cell = ctx.myself().cell.clone();
    let mut detached = Detached { cell: &cell, ctx: Some(ctx), pending: VecDeque::new() };
    let (ctx, pending) = detached.parts();
    let final_reason = terminate(actor.get(), ctx, &cell, reason, None, pending).await;
    let final_reason = actor.dispose(final_reason);
    super::report::crashed(&cell, &final_reason, false);
    detached.finish(final_reason.clone());
    final_reason
}

/// An actor's context while one of its callbacks runs outside its own task
/// (`init` in the spawner, `terminate` of a dormant actor in the stopper).
/// If the hosting future is dropped half-way, the actor is torn down with
/// `Killed`, so nothing leaks.
pub(crate) struct Detached<'a, A: Actor> {
    pub(crate) cell: &'a ActorCell<A>,
    pub(crate) ctx: Option<Context<A>>,
    pub(crate) pending: VecDeque<Signal>,
}

impl<A: Actor> Detached<'_, A> {
    pub(crate) fn parts(&mut self) -> (&mut Context<A>, &mut VecDeque<Signal>) {
        let ctx = self.ctx.as_mut().expect("context present until finished");
        (ctx, &mut self.pending)
    }

    /// Hands the context back (the callback completed).
    pub(crate) fn release(&mut self) -> (Context<A>, VecDeque<Signal>) {
        let ctx = self.ctx.take().expect("released once");
        (ctx, std::mem::take(&mut self.pending))
    }

    /// Ends the actor with `reason`.
    pub(crate) fn finish(&mut self, reason: ExitReason) {
        let (mut ctx, pending) = self.release();
        teardown(self.cell, &mut ctx, reason, VecDeque::new(), pending);
    }
}

impl<A: Actor> Drop for Detached<'_, A> {
    fn drop(&mut self) {
        if self.ctx.is_some() {
            self.finish(ExitReason::Killed);
        }
    }
}

/// How the loop ends.
enum End {
    /// Without `terminate` (killed, non-trapped exit signal).
    Die(ExitReason),
    /// With `terminate`, then an optional held-back reply.
    Terminate(ExitReason, Option<PendingReply>),
}

/// What processing signals decided.
enum Flow {
    Continue,
    End(End),
}

/// The run loop's state that teardown needs. If the task is dropped before
/// the loop finished (the runtime shut down under it, or was already shut
/// down when the task was spawned), `Drop` tears the actor down with
/// `Killed`, so that monitors, links and joiners still hear of it and queued
/// messages are still counted as dead letters.
struct Lifeline<A: Actor> {
    cell: Arc<ActorCell<A>>,
    ctx: Context<A>,
    batch: VecDeque<Envelope<A>>,
    pending: VecDeque<Signal>,
    finished: bool,
}

impl<A: Actor> Lifeline<A> {
    fn finish(&mut self, reason: ExitReason) {
        self.finished = true;
        let batch = std::mem::take(&mut self.batch);
        let pending = std::mem::take(&mut self.pending);
        teardown(&self.cell, &mut self.ctx, reason, batch, pending);
    }
}

impl<A: Actor> Drop for Lifeline<A> {
    fn drop(&mut self) {
        if !self.finished {
            self.cell.set_status(Status::Stopping);
            self.finish(ExitReason::Killed);
        }
    }
}

/// The actor's task.
async fn run<A: Actor>(guarded: Guarded<A>, mut life: Lifeline<A>) {
    let cell = life.cell.clone();
    // Declared after `life`: dropped before its teardown if the task is
    // dropped (tokio contains a panic in that drop, and `life` still tears
    // the actor down). Held plainly here, not `Guarded`: the state is
    // reached through it for every message.
    let mut state = guarded.into_inner();
    let actor = &mut state;
    let mut slot = FutureSlot::new();
    let mut idle_deadline: Option<Instant> = None;
    // Messages handled since the task last parked or yielded, and when that
    // run began (see `FAIRNESS_BATCH`).
    let mut since_park: u32 = 0;
    let mut slice_began: Option<std::time::Instant> = None;
    let end = loop {
        let Lifeline { ctx, batch, pending, .. } = &mut life;
        // 0. Fairness: a busy actor yields its worker after a batch of
        //    messages, as a task reading a tokio channel does, so that a
        //    timer or a sibling task gets its turn.
        if since_park >= FAIRNESS_BATCH {
            since_park = 0;
            let now = std::time::Instant::now();
            match slice_began {
                Some(began) if now.duration_since(began) >= FAIRNESS_SLICE => {
                    yield_turn().await;
                    slice_began = Some(std::time::Instant::now());
                }
                Some(_) => {}
                None => slice_began = Some(now),
            }
        }
        // 1. A continue set by the previous callback runs before anything;
        //    then the priority lane; then the next message.
        let envelope = match ctx.take_continue() {
            Some(cont) => cont,
            None => {
                if !pending.is_empty() || cell.mailbox.has_signals() {
                    cell.mailbox.take_signals_into(pending);
                    if let Flow::End(end) = process_signals(ctx, &cell, pending) {
                        cell.current.clear(); // a signal ended it, not a handler
                        break end;
                    }
                }
                match batch.pop_front() {
                    Some(envelope) => envelope,
                    None => match next(&cell, batch, idle_deadline, &mut since_park, &mut slice_began).await {
                        Next::Signals | Next::Batch => continue,
                        Next::One(envelope) => envelope,
                        Next::IdleTimeout => match ctx.extra().on_timeout {
                            Some(convert) => convert(crate::signal::IdleTimeout),
                            None => {
                                idle_deadline = None;
                                continue;
                            }
                        },
                    },
                }
            }
        };
        idle_deadline = None;
        // 2. Run its handler.
        let meta = envelope.meta();
        cell.current.set(meta);
        #[cfg(feature = "metrics")]
        let timed = cell.system.metrics_state().timing().then(|| {
            let now = std::time::Instant::now();
            if let Some(queued) = envelope.queued() {
                cell.system.metrics_state().queued_for(cell.kind_name(), now.saturating_duration_since(queued));
            }
            now
        });
        let driven = if tracing::level_enabled!(tracing::Level::TRACE) {
            let span =
                tracing::trace_span!("message", kind = envelope.kind().as_str(), message = envelope.message_type());
            let mut future = envelope.dispatch(actor, ctx, &mut slot);
            let driven = Box::pin(drive(Pin::new(&mut future), &cell, pending).instrument(span)).await;
            mark_stopping(&driven, &cell);
            drop_handler(future, &driven);
            driven
        } else {
            // One inline poll first: most handlers finish without awaiting,
            // and then none of the signal-watching machinery is needed.
            let mut future = envelope.dispatch(actor, ctx, &mut slot);
            let driven = match (PollOnce { future: &mut future, cell: &cell }).await {
                Ok(Poll::Ready(outcome)) => Driven::Done(outcome),
                Err(panic) => Driven::Panicked(panic),
                Ok(Poll::Pending) => drive_polled(Pin::new(&mut future), &cell, pending).await,
            };
            mark_stopping(&driven, &cell);
            drop_handler(future, &driven);
            driven
        };
        cell.count_handled(meta);
        #[cfg(feature = "metrics")]
        if let Some(began) = timed {
            cell.system.metrics_state().handled_in(cell.kind_name(), began.elapsed());
        }
        since_park += 1;
        // 3. What it decided, and what it requested through its context.
        let end = match driven {
            Driven::Done(Outcome::Continue) => {
                if ctx.requests & !requests::CONTINUE == 0 {
                    continue;
                }
                match after_callback(ctx, &cell, &mut slot, &mut idle_deadline) {
                    Some(end) => end,
                    None => continue,
                }
            }
            Driven::Done(Outcome::Stop(reason)) => End::Terminate(reason, None),
            Driven::Done(Outcome::StopWithReply(reason, reply)) => End::Terminate(reason, Some(reply)),
            Driven::Panicked(panic) => End::Terminate(ExitReason::Panic(panic), None),
            Driven::Killed(reason) => End::Die(reason),
        };
        break end;
    };
    let (reason, own) = match end {
        End::Die(reason) => (reason, false),
        End::Terminate(reason, reply) => {
            (terminate(actor, &mut life.ctx, &cell, reason, reply, &mut life.pending).await, true)
        }
    };
    let (reason, own) = match drop_caught(state) {
        Some(panic) => (ExitReason::Panic(panic), true),
        None => (reason, own),
    };
    if own {
        super::report::crashed(&cell, &reason, true);
    }
    life.finish(reason);
}

/// Drops a handler's future. One interrupted at an await point (a kill)
/// drops the handler's live locals, whose `Drop` may panic: contained here.
/// A finished future holds nothing (and a panicked one dropped its locals
/// while unwinding, inside `catch_unwind`), so the common path pays nothing.
#[inline(always)]
fn drop_handler<T>(future: HandlerFuture<'_>, driven: &Driven<T>) {
    match driven {
        Driven::Killed(_) => drop_interrupted(future),
        _ => drop(future),
    }
}

#[cold]
#[inline(never)]
fn drop_interrupted(future: HandlerFuture<'_>) {
    if let Some(panic) = drop_caught(future) {
        tracing::error!(%panic, "a handler's locals panicked while being dropped");
    }
}

/// Gives the worker to the other tasks once: the task wakes itself and
/// returns `Pending`, so the scheduler puts it at the back of its run queue.
/// (`tokio::task::yield_now` also defers the wake-up until the worker polls
/// its I/O and timer driver: a system call per yield, which cost a fifth of
/// the Counting throughput.)
async fn yield_turn() {
    let mut yielded = false;
    poll_fn(|cx| {
        if std::mem::replace(&mut yielded, true) {
            return Poll::Ready(());
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await;
}

/// Fairness: an actor that has handled messages without a break yields its
/// worker once it has held it for [`FAIRNESS_SLICE`], checking the clock every
/// this many messages (tokio's cooperative budget per task poll). So a busy
/// actor never keeps a worker for more than the slice or 128 messages,
/// whichever is longer, and a short burst of cheap messages runs through
/// (a yield costs about as much as ten cheap messages). Counted locally:
/// spending tokio's own budget per message (a thread-local access) cost
/// 12-24% of the Counting throughput, and yielding every 128 cheap messages
/// another 8%.
const FAIRNESS_BATCH: u32 = 128;

/// The longest an actor keeps its worker between yields while it has work
/// (when its messages are cheap; see [`FAIRNESS_BATCH`]).
const FAIRNESS_SLICE: std::time::Duration = std::time::Duration::from_micros(100);

/// If the handler ends the actor, mark it stopping *before* its future (which
/// may hold a caller's reply channel) is dropped: a caller whose channel
/// closes must see the actor stopping and wait for its final reason.
fn mark_stopping<A: Actor>(driven: &Driven<Outcome>, cell: &ActorCell<A>) {
    if !matches!(driven, Driven::Done(Outcome::Continue)) {
        cell.set_status(Status::Stopping);
    }
}

/// Polls a handler once, catching a panic; the actor is "current" on the
/// thread meanwhile (for `CallError::CallingSelf` and exit-signal senders).
struct PollOnce<'a, F, A: Actor> {
    future: &'a mut F,
    cell: &'a ActorCell<A>,
}

impl<F: Future + Unpin, A: Actor> Future for PollOnce<'_, F, A> {
    type Output = Result<Poll<F::Output>, PanicMessage>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Self::Output> {
        let _current = CurrentGuard::enter(self.cell.address(), self.cell.id);
        let future = &mut *self.future;
        Poll::Ready(catch_unwind(AssertUnwindSafe(|| Pin::new(future).poll(cx))).map_err(caught))
    }
}

enum Next<A: Actor> {
    Signals,
    Batch,
    One(Envelope<A>),
    IdleTimeout,
}

async fn next<A: Actor>(
    cell: &ActorCell<A>,
    batch: &mut VecDeque<Envelope<A>>,
    idle_deadline: Option<Instant>,
    since_park: &mut u32,
    slice_began: &mut Option<std::time::Instant>,
) -> Next<A> {
    let received = poll_fn(|cx| {
        let received = cell.mailbox.poll_recv(cx, batch);
        if received.is_pending() {
            *since_park = 0; // it parks: the next run starts afresh
            *slice_began = None;
            cell.current.clear(); // idle
        }
        received
    });
    let recv = match idle_deadline {
        None => received.await,
        Some(deadline) => {
            // Boxed: the timer exists only while an idle timeout is armed, so
            // it does not enlarge every actor's task.
            let expired = Box::pin(tokio::time::sleep_until(deadline));
            tokio::select! {
                biased;
                recv = received => recv,
                () = expired => return Next::IdleTimeout,
            }
        }
    };
    match recv {
        Recv::Signals => Next::Signals,
        Recv::Batch => Next::Batch,
        Recv::One(envelope) => Next::One(envelope),
    }
}

/// The actions a callback requested through its context (rare path).
fn after_callback<A: Actor>(
    ctx: &mut Context<A>,
    cell: &ActorCell<A>,
    slot: &mut FutureSlot,
    idle_deadline: &mut Option<Instant>,
) -> Option<End> {
    let requested = ctx.requests;
    ctx.requests &= requests::CONTINUE;
    let extra = ctx.extra();
    if requested & requests::STOP != 0 {
        if let Some(reason) = extra.stop.take() {
            return Some(End::Terminate(reason, None));
        }
    }
    if requested & requests::IDLE_TIMEOUT != 0 {
        if let Some(timeout) = extra.idle_timeout.take() {
            // A timeout past the clock's range never fires.
            *idle_deadline = Instant::now().checked_add(timeout);
        }
    }
    if requested & requests::HIBERNATE != 0 {
        cell.mailbox.shrink();
        slot.release();
    }
    None
}

/// Runs `terminate(reason)`; a panic in it becomes the exit reason, a kill
/// aborts it. The held-back reply goes out afterwards either way.
async fn terminate<A: Actor>(
    actor: &mut A,
    ctx: &mut Context<A>,
    cell: &ActorCell<A>,
    reason: ExitReason,
    reply: Option<PendingReply>,
    pending: &mut VecDeque<Signal>,
) -> ExitReason {
    cell.set_status(Status::Stopping);
    let replaced = {
        let future = pin!(actor.terminate(&reason, ctx));
        match drive(future, cell, pending).await {
            Driven::Done(()) => None,
            Driven::Panicked(panic) => Some(ExitReason::Panic(panic)),
            Driven::Killed(killed) => Some(killed),
        }
    };
    let final_reason = replaced.unwrap_or(reason);
    if let Some(reply) = reply {
        reply();
    }
    final_reason
}

/// Applies the signals in `pending`, in order, until one ends the actor (the
/// rest stay in `pending` for teardown).
fn process_signals<A: Actor>(ctx: &mut Context<A>, cell: &ActorCell<A>, pending: &mut VecDeque<Signal>) -> Flow {
    while let Some(signal) = pending.pop_front() {
        if let Flow::End(end) = apply_signal(signal, ctx, cell) {
            return Flow::End(end);
        }
    }
    Flow::Continue
}

fn apply_signal<A: Actor>(signal: Signal, ctx: &mut Context<A>, cell: &ActorCell<A>) -> Flow {
    match signal {
        Signal::Exit { from, reason, linked, failed } => return exit_signal(ctx, cell, from, reason, linked, failed),
        Signal::Link { from } => {
            ctx.relations().with(|relations| relations.links.insert(from.id(), from));
        }
        Signal::Unlink { from } => {
            ctx.relations().with_existing(|relations| relations.links.remove(&from));
        }
        Signal::Monitor { by, monitor } => {
            ctx.relations().with(|relations| relations.monitored_by.insert(monitor, by));
        }
        Signal::Demonitor { monitor } => {
            ctx.relations().with_existing(|relations| relations.monitored_by.remove(&monitor));
        }
        // Routed to the user lane on arrival (`Signal::route`); should one
        // come this way, it takes its place there now.
        Signal::Down(down) => {
            let _ = cell.mailbox.push_arrived(Arrived::Down(down));
        }
        Signal::Stop { reason, reply } => {
            if let Some(reply) = reply {
                cell.await_death(reply);
            }
            return Flow::End(End::Terminate(reason, None));
        }
    }
    Flow::Continue
}

/// OTP's receiver rules for an exit signal (`erlang:exit/2`, `process_flag(trap_exit)`).
fn exit_signal<A: Actor>(
    ctx: &mut Context<A>,
    cell: &ActorCell<A>,
    from: ActorId,
    reason: ExitReason,
    linked: bool,
    failed: Option<FailedDelivery>,
) -> Flow {
    if linked && !unlink(ctx, from) {
        return Flow::Continue; // from a link that was removed meanwhile
    }
    if matches!(reason, ExitReason::Kill) && !linked {
        return Flow::End(End::Die(ExitReason::Killed));
    }
    if cell.traps_exits() {
        // It was routed here while the actor did not trap exits, and the
        // actor turned trapping on meanwhile: it becomes a message, queued
        // behind what is waiting. (The link check above is done: the message
        // travels as unlinked.)
        let _ = cell.mailbox.push_arrived(Arrived::Exit { from, reason, linked: false, failed });
        return Flow::Continue;
    }
    if reason.is_normal() && from != cell.id {
        return Flow::Continue;
    }
    Flow::End(End::Die(reason))
}

/// Removes the link with `from`; false if there was none.
fn unlink<A: Actor>(ctx: &Context<A>, from: ActorId) -> bool {
    ctx.relations().with_existing(|relations| relations.links.remove(&from).is_some()) == Some(true)
}

/// What a signal that became a message turns into when the actor reaches it.
pub(crate) enum Arrival<A: Actor> {
    /// A message for `HandleInfo` (`Exit` or `Down`).
    Handle(Envelope<A>),
    /// The parent's exit signal to a trapping actor: run `terminate` and
    /// stop (gen_server's `{'EXIT', Parent, Reason}`).
    Terminate(ExitReason),
    /// Nothing: the link was removed, or the monitor demonitored, meanwhile.
    Ignore,
}

/// Decides what a queued signal is, now that the actor reached it
/// (`erlang:exit/2`, `process_flag(trap_exit)`).
pub(crate) fn arrival<A: Actor>(arrived: Arrived, ctx: &mut Context<A>) -> Arrival<A> {
    match arrived {
        Arrived::Exit { from, reason, linked, failed } => {
            if linked && !unlink(ctx, from) {
                return Arrival::Ignore; // unlinked since: `unlink` is exact
            }
            if from == ctx.parent() {
                return Arrival::Terminate(reason);
            }
            match ctx.extra().on_exit {
                Some(convert) => Arrival::Handle(convert(Exit { from, reason, failed })),
                None => Arrival::Ignore,
            }
        }
        Arrived::Down(down) => {
            // Demonitored since: flushed (OTP `demonitor(Ref, [flush])`).
            let monitored = ctx.relations().with_existing(|relations| relations.monitoring.remove(&down.monitor));
            if monitored.flatten().is_none() {
                return Arrival::Ignore;
            }
            match ctx.extra().on_down {
                Some(convert) => Arrival::Handle(convert(down)),
                None => Arrival::Ignore,
            }
        }
    }
}

/// Ends an actor for good (see the module docs for the order). Kept out of
/// line: it runs once per actor, and inlined it bloats the run loop.
#[inline(never)]
pub(crate) fn teardown<A: Actor>(
    cell: &ActorCell<A>,
    ctx: &mut Context<A>,
    reason: ExitReason,
    batch: VecDeque<Envelope<A>>,
    pending: VecDeque<Signal>,
) {
    let reason = cell.record_exit(reason);
    #[cfg(feature = "metrics")]
    {
        cell.system.metrics_state().exited(cell.kind_name(), &reason);
        cell.system.metrics_state().retire(cell.kind_label(), cell.handled_by_slot());
    }
    let failed = ctx.failed_delivery();
    let (queued, leftover) = cell.mailbox.close();
    let registrations = cell.holdings.close();
    let me = cell.id;
    // Names and subscriptions go before anyone hears of the death (§1.4).
    cell.system.registry().release(me, registrations, &reason);
    let book = ctx.take_extra().map(|extra| extra.book);
    if let Some(book) = &book {
        for timer in &book.timers {
            timer.cancel();
        }
        for owed in book.owed.iter().filter_map(std::sync::Weak::upgrade) {
            owed.fail(&reason);
        }
    }
    for envelope in batch.into_iter().chain(queued) {
        // A queued call is not a dead letter: its caller learns the reason;
        // a durable message is redelivered to the next consumer.
        if !matches!(envelope.kind(), MessageKind::Call | MessageKind::Durable | MessageKind::Signal) {
            cell.dead_letter(envelope.message_type(), envelope.kind(), DeadLetterReason::ActorStopped);
        }
        drop(envelope);
    }
    for signal in pending.into_iter().chain(leftover) {
        answer_after_death(signal, cell, &reason);
    }
    if let Some(relations) = cell.relations.take() {
        for pid in relations.links.into_values() {
            let _ = pid.0.signal(Signal::Exit { from: me, reason: reason.clone(), linked: true, failed });
        }
        for (monitor, pid) in relations.monitored_by {
            let _ = pid.0.signal(Signal::Down(Down { monitor, id: me, reason: reason.clone() }));
        }
        for (monitor, pid) in relations.monitoring {
            let _ = pid.0.signal(Signal::Demonitor { monitor });
        }
    }
    cell.system.table().remove(me);
    cell.announce_death();
}

/// Requests that reached an actor that died before handling them.
fn answer_after_death<A: Actor>(signal: Signal, cell: &ActorCell<A>, reason: &ExitReason) {
    let me = cell.id;
    match signal {
        Signal::Link { from } => {
            let _ = from.0.signal(Signal::Exit { from: me, reason: reason.clone(), linked: true, failed: None });
        }
        Signal::Monitor { by, monitor } => {
            let _ = by.0.signal(Signal::Down(Down { monitor, id: me, reason: reason.clone() }));
        }
        Signal::Stop { reply: Some(reply), .. } => cell.await_death(reply),
        _ => {}
    }
}

#[cfg(test)]
mod sizes {
    use super::*;
    use crate::actor::InitError;

    struct Idle;

    impl Actor for Idle {
        type Args = ();
        async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> {
            Ok(Idle)
        }
    }

    /// Memory per actor is a goal (benches/lifecycle.rs measures it); these
    /// bounds catch a regression at compile-and-test time.
    #[test]
    fn per_actor_structures_stay_small() {
        let cell = ActorCell::<Idle>::new(
            crate::ActorId(1),
            &crate::System::new(),
            Default::default(),
            crate::ActorId::SYSTEM,
            None,
        );
        let ctx = Context::new(crate::ActorRef { cell: Arc::new(cell) }, crate::ActorId::SYSTEM);
        let life = Lifeline {
            cell: ctx.myself().cell.clone(),
            ctx,
            batch: VecDeque::new(),
            pending: VecDeque::new(),
            finished: true,
        };
        let task = run(Guarded::new(Idle), life);
        assert!(std::mem::size_of_val(&task) <= 1024, "task future: {}", std::mem::size_of_val(&task));
        // 256 since the holdings (names, subscriptions, durable slots) left
        // the mailbox's lock for a lock of their own (8 bytes more); 352
        // since introspection (the kind, the parent, the current message,
        // links and monitors readable from outside, and counters by kind).
        assert!(std::mem::size_of::<ActorCell<Idle>>() <= 352, "cell: {}", std::mem::size_of::<ActorCell<Idle>>());
        assert!(std::mem::size_of::<Context<Idle>>() <= 32);
        // 16 bytes more with the `metrics` feature (the time it was queued).
        let envelope = if cfg!(feature = "metrics") { 48 } else { 32 };
        assert_eq!(std::mem::size_of::<Envelope<Idle>>(), envelope);
    }
}
