//! What a call handler answers: a reply now, a reply later, or a stop.

use std::fmt;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::oneshot;

use crate::exit::ExitReason;

/// Why a caller got no value.
pub(crate) enum NoValue {
    /// The callee died (or owes the reply and died) with this reason.
    Exit(ExitReason),
    /// The callee's callback panicked while holding the channel; its final
    /// reason is settled only after the unwinding, so the caller asks for it.
    CalleePanicked,
}

/// The channel a caller waits on.
pub(crate) type ReplyChannel<R> = oneshot::Sender<Result<R, NoValue>>;

/// The callee's end of a call.
///
/// A handler that panics unwinds its future, dropping this before the
/// actor's exit reason is recorded; a plain channel would then tell the
/// caller "no reply" while the actor still looks alive. So when it is dropped
/// unanswered *by the unwinding of the callee's own callback*, it tells the
/// caller to wait for the callee's exit reason instead.
pub(crate) struct ReplySender<R> {
    channel: Option<ReplyChannel<R>>,
    /// The callee's cell address (`cell::is_current`).
    callee: usize,
}

impl<R> ReplySender<R> {
    pub(crate) fn new(channel: ReplyChannel<R>, callee: usize) -> Self {
        ReplySender { channel: Some(channel), callee }
    }

    /// Answers the caller (a caller that gave up drops the answer).
    pub(crate) fn send(mut self, answer: Result<R, ExitReason>) {
        if let Some(channel) = self.channel.take() {
            let _ = channel.send(answer.map_err(NoValue::Exit));
        }
    }
}

impl<R> Drop for ReplySender<R> {
    fn drop(&mut self) {
        if let Some(channel) = self.channel.take() {
            if std::thread::panicking() && crate::cell::is_current(self.callee) {
                let _ = channel.send(Err(NoValue::CalleePanicked));
            }
        }
    }
}

/// The answer of [`HandleCall::handle_call`](crate::HandleCall::handle_call)
/// (OTP's `{reply, ..}`, `{noreply, ..}` and `{stop, ..}` returns).
///
/// * [`Reply::new`] (or `value.into()`): reply now.
/// * [`Reply::deferred`]: reply later, from any task, through a [`ReplyTo`].
/// * [`Reply::stop`]: stop the actor; `terminate` runs first, then the caller
///   gets the value (OTP's `{stop, Reason, Reply, State}`).
/// * [`Reply::stop_without_reply`]: stop; the caller gets
///   [`CallError::Exit`](crate::CallError::Exit) with the reason.
///
/// ```
/// use std::time::Duration;
/// use treeline::{Actor, Context, HandleCall, InitError, Reply};
///
/// struct Oracle;
/// # impl Actor for Oracle {
/// #     type Args = ();
/// #     async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> { Ok(Oracle) }
/// # }
/// struct Ask;
///
/// impl HandleCall<Ask> for Oracle {
///     type Reply = u32;
///     async fn handle_call(&mut self, _: Ask, _ctx: &mut Context<Self>) -> Reply<u32> {
///         // Think elsewhere; keep handling other messages meanwhile.
///         let (reply, token) = Reply::deferred();
///         tokio::spawn(async move {
///             tokio::time::sleep(Duration::from_millis(10)).await;
///             token.send(42);
///         });
///         reply
///     }
/// }
/// ```
pub struct Reply<R> {
    pub(crate) kind: ReplyKind<R>,
}

pub(crate) enum ReplyKind<R> {
    Now(R),
    Deferred(Arc<Deferred<R>>),
    Stop { reason: ExitReason, value: Option<R> },
}

impl<R> Reply<R> {
    /// Reply `value` now.
    pub fn new(value: R) -> Self {
        Reply { kind: ReplyKind::Now(value) }
    }

    /// Reply later: returns the `Reply` to return from the handler and the
    /// [`ReplyTo`] token to answer with, from any task.
    ///
    /// If the token is dropped without an answer the caller gets
    /// [`CallError::NoReply`](crate::CallError::NoReply); if the actor dies
    /// first, [`CallError::Exit`](crate::CallError::Exit) with its reason.
    pub fn deferred() -> (Self, ReplyTo<R>) {
        let shared = Arc::new(Deferred { state: Mutex::new(DeferredState::Waiting) });
        (Reply { kind: ReplyKind::Deferred(shared.clone()) }, ReplyTo { shared: Some(shared) })
    }

    /// Stop with `reason`; `terminate` runs, then the caller receives `value`.
    pub fn stop(reason: ExitReason, value: R) -> Self {
        Reply { kind: ReplyKind::Stop { reason, value: Some(value) } }
    }

    /// Stop with `reason` without replying; the caller gets
    /// `CallError::Exit(reason)`.
    pub fn stop_without_reply(reason: ExitReason) -> Self {
        Reply { kind: ReplyKind::Stop { reason, value: None } }
    }
}

impl<R> From<R> for Reply<R> {
    fn from(value: R) -> Self {
        Reply::new(value)
    }
}

impl<R> fmt::Debug for Reply<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ReplyKind::Now(_) => f.write_str("Reply::Now(..)"),
            ReplyKind::Deferred(_) => f.write_str("Reply::Deferred"),
            ReplyKind::Stop { reason, value } => {
                f.debug_struct("Reply::Stop").field("reason", reason).field("with_reply", &value.is_some()).finish()
            }
        }
    }
}

/// The token of a deferred reply (OTP's `From` given to `gen_server:reply/2`).
///
/// Answer with [`ReplyTo::send`] from any task. It is consumed by the answer,
/// so it cannot be used twice.
pub struct ReplyTo<R> {
    shared: Option<Arc<Deferred<R>>>,
}

impl<R> ReplyTo<R> {
    /// Delivers the reply. If the caller already gave up (timeout), the reply
    /// is dropped.
    pub fn send(mut self, value: R) {
        if let Some(shared) = self.shared.take() {
            shared.complete(Ok(value));
        }
    }
}

impl<R> Drop for ReplyTo<R> {
    fn drop(&mut self) {
        if let Some(shared) = self.shared.take() {
            shared.abandon();
        }
    }
}

impl<R> fmt::Debug for ReplyTo<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReplyTo")
    }
}

// === the meeting point of a deferred reply ===

/// Where the handler's token and the runtime's reply channel meet; either may
/// arrive first.
pub(crate) struct Deferred<R> {
    state: Mutex<DeferredState<R>>,
}

enum DeferredState<R> {
    Waiting,
    Answered(Result<R, ExitReason>),
    Connected(ReplySender<R>),
    Abandoned,
    Done,
}

impl<R> Deferred<R> {
    /// The runtime attaches the caller's channel.
    pub(crate) fn connect(&self, sender: ReplySender<R>) {
        let mut state = self.state.lock();
        match std::mem::replace(&mut *state, DeferredState::Done) {
            DeferredState::Waiting => *state = DeferredState::Connected(sender),
            DeferredState::Answered(answer) => {
                drop(state);
                sender.send(answer);
            }
            // Dropping the sender tells the caller: no reply.
            DeferredState::Abandoned | DeferredState::Done | DeferredState::Connected(_) => {}
        }
    }

    fn complete(&self, answer: Result<R, ExitReason>) {
        let mut state = self.state.lock();
        match std::mem::replace(&mut *state, DeferredState::Done) {
            DeferredState::Waiting => *state = DeferredState::Answered(answer),
            DeferredState::Connected(sender) => {
                drop(state);
                sender.send(answer);
            }
            DeferredState::Answered(_) | DeferredState::Abandoned | DeferredState::Done => {}
        }
    }

    fn abandon(&self) {
        let mut state = self.state.lock();
        if let DeferredState::Waiting = *state {
            *state = DeferredState::Abandoned;
        } else if let DeferredState::Connected(_) = *state {
            // Dropping the sender (outside the lock) tells the caller.
            let previous = std::mem::replace(&mut *state, DeferredState::Done);
            drop(state);
            drop(previous);
        }
    }
}

/// A deferred reply the actor still owes; failed with the actor's reason if
/// it dies first.
pub(crate) trait Owed: Send + Sync {
    fn fail(&self, reason: &ExitReason);
    fn is_settled(&self) -> bool;
}

impl<R: Send> Owed for Deferred<R> {
    fn fail(&self, reason: &ExitReason) {
        self.complete(Err(reason.clone()));
    }

    fn is_settled(&self) -> bool {
        matches!(*self.state.lock(), DeferredState::Done | DeferredState::Abandoned)
    }
}
