//! Handles to actors: the typed [`ActorRef<A>`], the untyped [`Pid`], the
//! plain [`ActorId`], and the per-message-type [`Recipient<M>`].
//!
//! | handle | typed by | can | cost |
//! |---|---|---|---|
//! | [`ActorRef<A>`] | the actor | call, cast, send, notify, stop, link/monitor target | one `Arc` |
//! | [`Recipient<M>`] | one message type | cast that type, whatever the actor | one `Arc` |
//! | [`Pid`] | nothing | exit, stop, join, link/monitor target | one `Arc` |
//! | [`ActorId`] | nothing | identify, compare, print, hash | a `u64`, `Copy` |
//!
//! Sending to a dead actor is never a panic and never a hang: one-way sends
//! return [`SendError::NoProc`] with the message, calls return
//! [`CallError::NoProc`] at once.

mod error;
mod request;

use std::fmt;
use std::future::{poll_fn, Future};
use std::hash::{Hash, Hasher};
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use tokio::sync::oneshot;

pub use error::{CallError, SendError, StopError};
pub use request::{Request, Requests};

use crate::actor::dispatch::{CallMsg, CastMsg, EventMsg, InfoMsg};
use crate::actor::reply::NoValue;
use crate::actor::run;
use crate::actor::{Actor, HandleCall, HandleCast, HandleEvent, HandleInfo};
use crate::cell::{self, ActorCell, Offered, Process, Status};
use crate::event::Event;
use crate::exit::ExitReason;
use crate::signal::Signal;
use crate::system::deadlines::Deadline;

/// How long [`ActorRef::call`] waits by default (OTP's 5 000 ms).
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(5);

// === ActorId ===

/// A cheap identifier of an actor: `Copy`, comparable, hashable, printable.
///
/// Ids are unique within a [`System`](crate::System) and never reused, so a
/// restarted actor has a new id.
///
/// ```
/// # use treeline::ActorId;
/// assert_eq!(ActorId::SYSTEM.to_string(), "<system>");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ActorId(pub(crate) u64);

impl ActorId {
    /// The sender of exit signals that come from outside any actor.
    pub const EXTERNAL: ActorId = ActorId(0);
    /// The System itself: the parent of top-level actors, and the sender of
    /// the shutdown signal.
    pub const SYSTEM: ActorId = ActorId(u64::MAX);

    /// The numeric value (unique within its System).
    ///
    /// ```
    /// # use treeline::ActorId;
    /// assert_eq!(ActorId::EXTERNAL.as_u64(), 0);
    /// ```
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

/// Reads an id as [`ActorId`]'s `Display` writes it (`<0.7>`), or as its
/// number (`7`), for tools that name actors in text (an HTTP path, a
/// command line). An id read this way names a live actor only if one has it.
///
/// ```
/// # use treeline::ActorId;
/// let id: ActorId = "<0.7>".parse().unwrap();
/// assert_eq!(id, "7".parse().unwrap());
/// assert_eq!(id.to_string(), "<0.7>");
/// assert!("seven".parse::<ActorId>().is_err());
/// ```
impl std::str::FromStr for ActorId {
    type Err = ParseActorIdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let number = text.strip_prefix("<0.").and_then(|rest| rest.strip_suffix('>')).unwrap_or(text);
        number.parse().map(ActorId).map_err(|_| ParseActorIdError(text.to_string()))
    }
}

/// A text that is not an actor id (see [`ActorId`]'s `FromStr`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseActorIdError(String);

impl fmt::Display for ParseActorIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} is not an actor id (expected <0.N> or N)", self.0)
    }
}

impl std::error::Error for ParseActorIdError {}

impl fmt::Display for ActorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ActorId::EXTERNAL => f.write_str("<external>"),
            ActorId::SYSTEM => f.write_str("<system>"),
            ActorId(id) => write!(f, "<0.{id}>"),
        }
    }
}

impl fmt::Debug for ActorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

// === Pid ===

/// An untyped handle to an actor of any type: what links, monitors, exit
/// signals and supervisors work with.
///
/// Compares and hashes by [`ActorId`].
///
/// ```
/// # use treeline::{Actor, Context, InitError, System, ExitReason};
/// # struct Idle;
/// # impl Actor for Idle {
/// #     type Args = ();
/// #     async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> { Ok(Idle) }
/// # }
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let system = System::new();
/// let pid = system.spawn::<Idle>(()).await.unwrap().pid();
/// pid.exit(ExitReason::Kill);
/// assert_eq!(pid.join().await, ExitReason::Killed);
/// # }
/// ```
#[derive(Clone)]
pub struct Pid(pub(crate) Arc<dyn Process>);

impl Pid {
    /// The actor's id.
    pub fn id(&self) -> ActorId {
        self.0.id()
    }

    /// True until the actor is dead.
    pub fn is_alive(&self) -> bool {
        self.0.status() != Status::Dead
    }

    /// The exit reason, once the actor is dead.
    pub fn exit_reason(&self) -> Option<ExitReason> {
        self.0.exit_reason()
    }

    /// The actor's Rust type name.
    pub fn type_name(&self) -> &'static str {
        self.0.type_name()
    }

    /// Sends an exit signal (OTP `exit(Pid, Reason)`), from the actor running
    /// this code, or from [`ActorId::EXTERNAL`]. Returns false if the target
    /// was already dead.
    ///
    /// The target dies with `reason` unless it traps exits (then it gets an
    /// [`Exit`](crate::signal::Exit) message) or `reason` is `Normal` (ignored by a
    /// non-trapping target). [`ExitReason::Kill`] cannot be trapped and ends
    /// the target with `Killed`.
    pub fn exit(&self, reason: ExitReason) -> bool {
        exit_signal(&*self.0, reason)
    }

    /// Kills the actor: `exit(ExitReason::Kill)`.
    ///
    /// ```
    /// # use treeline::*;
    /// # struct Echo;
    /// # impl Actor for Echo {
    /// #     type Args = ();
    /// #     async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> { Ok(Echo) }
    /// # }
    /// # impl HandleCall<u32> for Echo {
    /// #     type Reply = u32;
    /// #     async fn handle_call(&mut self, n: u32, _: &mut Context<Self>) -> Reply<u32> { Reply::new(n) }
    /// # }
    /// # impl HandleCast<u32> for Echo {
    /// #     async fn handle_cast(&mut self, _: u32, _: &mut Context<Self>) -> Result<(), ExitReason> { Ok(()) }
    /// # }
    /// # impl HandleInfo<u32> for Echo {
    /// #     async fn handle_info(&mut self, _: u32, _: &mut Context<Self>) -> Result<(), ExitReason> { Ok(()) }
    /// # }
    /// # #[derive(Clone)] struct Ping;
    /// # impl Event for Ping { const TOPIC: &'static str = "ping"; }
    /// # impl HandleEvent<Ping> for Echo {
    /// #     async fn handle_event(&mut self, _: Ping, _: &mut Context<Self>) -> Result<(), ExitReason> { Ok(()) }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let system = System::new();
    /// # let echo = system.spawn::<Echo>(()).await.unwrap();
    /// echo.kill();
    /// assert_eq!(echo.join().await, ExitReason::Killed);
    /// # }
    /// ```
    pub fn kill(&self) -> bool {
        self.exit(ExitReason::Kill)
    }

    /// Stops the actor with `reason` and waits until it is dead (OTP
    /// `gen_server:stop/3` with an infinite timeout). `terminate` runs whether
    /// or not the actor traps exits. The stop request overtakes queued user
    /// messages (priority lane).
    ///
    /// ```
    /// # use treeline::*;
    /// # use treeline::addr::StopError;
    /// # struct W;
    /// # impl Actor for W {
    /// #     type Args = u32;
    /// #     async fn init(_: u32, _: &mut Context<Self>) -> Result<Self, InitError> { Ok(W) }
    /// # }
    /// # impl HandleCall<u32> for W {
    /// #     type Reply = u32;
    /// #     async fn handle_call(&mut self, n: u32, _: &mut Context<Self>) -> Reply<u32> { Reply::new(n) }
    /// # }
    /// # impl HandleCast<u32> for W {
    /// #     async fn handle_cast(&mut self, _: u32, _: &mut Context<Self>) -> Result<(), ExitReason> { Ok(()) }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let system = System::new();
    /// let pid = system.spawn::<W>(1).await.unwrap().pid();
    /// assert_eq!(pid.stop(ExitReason::Normal).await, Ok(()));
    /// assert_eq!(pid.stop(ExitReason::Normal).await, Err(StopError::NoProc));
    /// # }
    /// ```
    pub async fn stop(&self, reason: ExitReason) -> Result<(), StopError> {
        stop(&*self.0, reason, None).await
    }

    /// [`Pid::stop`] with a timeout; on timeout the actor keeps running.
    pub async fn stop_timeout(&self, reason: ExitReason, timeout: Duration) -> Result<(), StopError> {
        stop(&*self.0, reason, Some(timeout)).await
    }

    /// Asks the actor to stop with `reason` without waiting. Returns false if
    /// it was already dead.
    pub fn request_stop(&self, reason: ExitReason) -> bool {
        self.0.signal(Signal::Stop { reason, reply: None }).is_ok()
    }

    /// Waits until the actor is dead and returns its exit reason.
    ///
    /// ```
    /// # use treeline::*;
    /// # struct W;
    /// # impl Actor for W {
    /// #     type Args = u32;
    /// #     async fn init(_: u32, _: &mut Context<Self>) -> Result<Self, InitError> { Ok(W) }
    /// # }
    /// # impl HandleCall<u32> for W {
    /// #     type Reply = u32;
    /// #     async fn handle_call(&mut self, n: u32, _: &mut Context<Self>) -> Reply<u32> { Reply::new(n) }
    /// # }
    /// # impl HandleCast<u32> for W {
    /// #     async fn handle_cast(&mut self, _: u32, _: &mut Context<Self>) -> Result<(), ExitReason> { Ok(()) }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let system = System::new();
    /// let pid = system.spawn::<W>(1).await.unwrap().pid();
    /// pid.request_stop(ExitReason::Shutdown);
    /// assert_eq!(pid.join().await, ExitReason::Shutdown);
    /// # }
    /// ```
    pub async fn join(&self) -> ExitReason {
        join(&*self.0).await
    }
}

impl PartialEq for Pid {
    fn eq(&self, other: &Self) -> bool {
        self.id() == other.id()
    }
}

impl Eq for Pid {}

impl Hash for Pid {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id().hash(state);
    }
}

impl fmt::Debug for Pid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pid({})", self.id())
    }
}

impl fmt::Display for Pid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.id(), f)
    }
}

impl From<&Pid> for Pid {
    fn from(pid: &Pid) -> Pid {
        pid.clone()
    }
}

impl<A: Actor> From<&ActorRef<A>> for Pid {
    fn from(actor: &ActorRef<A>) -> Pid {
        actor.pid()
    }
}

impl<A: Actor> From<ActorRef<A>> for Pid {
    fn from(actor: ActorRef<A>) -> Pid {
        Pid(actor.cell)
    }
}

// === ActorRef ===

/// A typed handle to an actor of type `A`.
///
/// Cloning is one reference-count increment. Every send is checked at compile
/// time: `cast(m)` requires `A: HandleCast<M>`, `call(m)` requires
/// `A: HandleCall<M>`, and so on.
///
/// ```
/// use treeline::{Actor, CallError, Context, HandleCall, InitError, Reply, System, ExitReason};
///
/// struct Echo;
/// impl Actor for Echo {
///     type Args = ();
///     async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> { Ok(Echo) }
/// }
/// struct Say(String);
/// impl HandleCall<Say> for Echo {
///     type Reply = String;
///     async fn handle_call(&mut self, Say(s): Say, _: &mut Context<Self>) -> Reply<String> {
///         Reply::new(s)
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let system = System::new();
/// let echo = system.spawn::<Echo>(()).await.unwrap();
/// assert_eq!(echo.call(Say("hi".into())).await.unwrap(), "hi");
/// echo.stop(ExitReason::Normal).await.unwrap();
/// assert_eq!(echo.call(Say("hi".into())).await, Err(CallError::NoProc));
/// # }
/// ```
pub struct ActorRef<A: Actor> {
    pub(crate) cell: Arc<ActorCell<A>>,
}

impl<A: Actor> Clone for ActorRef<A> {
    fn clone(&self) -> Self {
        ActorRef { cell: self.cell.clone() }
    }
}

impl<A: Actor> ActorRef<A> {
    /// The actor's id.
    pub fn id(&self) -> ActorId {
        self.cell.id
    }

    /// An untyped handle to the same actor.
    pub fn pid(&self) -> Pid {
        Pid(self.cell.clone())
    }

    /// True until the actor is dead.
    pub fn is_alive(&self) -> bool {
        self.cell.status() != Status::Dead
    }

    /// The exit reason, once the actor is dead.
    pub fn exit_reason(&self) -> Option<ExitReason> {
        self.cell.exit_reason()
    }

    /// Sends a cast (handled by [`HandleCast::handle_cast`]). Waits only if
    /// the mailbox is bounded with `Overflow::Wait` (`treeline::mailbox`)
    /// and full.
    ///
    /// `Ok(())` means the message was queued, or shed by the actor's own
    /// overflow policy (`DropNewest`, `StopActor`: then it is a dead letter).
    ///
    /// ```
    /// # use treeline::*;
    /// # struct Echo;
    /// # impl Actor for Echo {
    /// #     type Args = ();
    /// #     async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> { Ok(Echo) }
    /// # }
    /// # impl HandleCall<u32> for Echo {
    /// #     type Reply = u32;
    /// #     async fn handle_call(&mut self, n: u32, _: &mut Context<Self>) -> Reply<u32> { Reply::new(n) }
    /// # }
    /// # impl HandleCast<u32> for Echo {
    /// #     async fn handle_cast(&mut self, _: u32, _: &mut Context<Self>) -> Result<(), ExitReason> { Ok(()) }
    /// # }
    /// # impl HandleInfo<u32> for Echo {
    /// #     async fn handle_info(&mut self, _: u32, _: &mut Context<Self>) -> Result<(), ExitReason> { Ok(()) }
    /// # }
    /// # #[derive(Clone)] struct Ping;
    /// # impl Event for Ping { const TOPIC: &'static str = "ping"; }
    /// # impl HandleEvent<Ping> for Echo {
    /// #     async fn handle_event(&mut self, _: Ping, _: &mut Context<Self>) -> Result<(), ExitReason> { Ok(()) }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let system = System::new();
    /// # let echo = system.spawn::<Echo>(()).await.unwrap();
    /// echo.cast(7).await.unwrap(); // queued (unbounded mailbox: never waits)
    /// # }
    /// ```
    pub async fn cast<M: Send + 'static>(&self, msg: M) -> Result<(), SendError<M>>
    where
        A: HandleCast<M>,
    {
        one_way(self.cell.offer(CastMsg(msg)).await).map_err(|e| e.map(|CastMsg(m)| m))
    }

    /// Sends a cast without ever waiting: a full `Wait` mailbox gives
    /// [`SendError::Full`].
    ///
    /// ```
    /// # use treeline::*;
    /// # struct Echo;
    /// # impl Actor for Echo {
    /// #     type Args = ();
    /// #     async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> { Ok(Echo) }
    /// # }
    /// # impl HandleCall<u32> for Echo {
    /// #     type Reply = u32;
    /// #     async fn handle_call(&mut self, n: u32, _: &mut Context<Self>) -> Reply<u32> { Reply::new(n) }
    /// # }
    /// # impl HandleCast<u32> for Echo {
    /// #     async fn handle_cast(&mut self, _: u32, _: &mut Context<Self>) -> Result<(), ExitReason> { Ok(()) }
    /// # }
    /// # impl HandleInfo<u32> for Echo {
    /// #     async fn handle_info(&mut self, _: u32, _: &mut Context<Self>) -> Result<(), ExitReason> { Ok(()) }
    /// # }
    /// # #[derive(Clone)] struct Ping;
    /// # impl Event for Ping { const TOPIC: &'static str = "ping"; }
    /// # impl HandleEvent<Ping> for Echo {
    /// #     async fn handle_event(&mut self, _: Ping, _: &mut Context<Self>) -> Result<(), ExitReason> { Ok(()) }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let system = System::new();
    /// # let echo = system.spawn::<Echo>(()).await.unwrap();
    /// echo.try_cast(7).unwrap();
    /// # }
    /// ```
    pub fn try_cast<M: Send + 'static>(&self, msg: M) -> Result<(), SendError<M>>
    where
        A: HandleCast<M>,
    {
        one_way(self.cell.try_offer(CastMsg(msg))).map_err(|e| e.map(|CastMsg(m)| m))
    }

    /// Sends a plain message (handled by [`HandleInfo::handle_info`]), like
    /// Erlang's `!`.
    ///
    /// ```
    /// # use treeline::*;
    /// # struct Echo;
    /// # impl Actor for Echo {
    /// #     type Args = ();
    /// #     async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> { Ok(Echo) }
    /// # }
    /// # impl HandleCall<u32> for Echo {
    /// #     type Reply = u32;
    /// #     async fn handle_call(&mut self, n: u32, _: &mut Context<Self>) -> Reply<u32> { Reply::new(n) }
    /// # }
    /// # impl HandleCast<u32> for Echo {
    /// #     async fn handle_cast(&mut self, _: u32, _: &mut Context<Self>) -> Result<(), ExitReason> { Ok(()) }
    /// # }
    /// # impl HandleInfo<u32> for Echo {
    /// #     async fn handle_info(&mut self, _: u32, _: &mut Context<Self>) -> Result<(), ExitReason> { Ok(()) }
    /// # }
    /// # #[derive(Clone)] struct Ping;
    /// # impl Event for Ping { const TOPIC: &'static str = "ping"; }
    /// # impl HandleEvent<Ping> for Echo {
    /// #     async fn handle_event(&mut self, _: Ping, _: &mut Context<Self>) -> Result<(), ExitReason> { Ok(()) }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let system = System::new();
    /// # let echo = system.spawn::<Echo>(()).await.unwrap();
    /// echo.send(7).await.unwrap(); // to HandleInfo<u32>
    /// # }
    /// ```
    pub async fn send<M: Send + 'static>(&self, msg: M) -> Result<(), SendError<M>>
    where
        A: HandleInfo<M>,
    {
        one_way(self.cell.offer(InfoMsg(msg)).await).map_err(|e| e.map(|InfoMsg(m)| m))
    }

    /// [`ActorRef::send`] without ever waiting.
    pub fn try_send<M: Send + 'static>(&self, msg: M) -> Result<(), SendError<M>>
    where
        A: HandleInfo<M>,
    {
        one_way(self.cell.try_offer(InfoMsg(msg))).map_err(|e| e.map(|InfoMsg(m)| m))
    }

    /// Delivers a domain event straight to this actor's
    /// [`HandleEvent::handle_event`], bypassing topics.
    ///
    /// ```
    /// # use treeline::*;
    /// # struct Echo;
    /// # impl Actor for Echo {
    /// #     type Args = ();
    /// #     async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> { Ok(Echo) }
    /// # }
    /// # impl HandleCall<u32> for Echo {
    /// #     type Reply = u32;
    /// #     async fn handle_call(&mut self, n: u32, _: &mut Context<Self>) -> Reply<u32> { Reply::new(n) }
    /// # }
    /// # impl HandleCast<u32> for Echo {
    /// #     async fn handle_cast(&mut self, _: u32, _: &mut Context<Self>) -> Result<(), ExitReason> { Ok(()) }
    /// # }
    /// # impl HandleInfo<u32> for Echo {
    /// #     async fn handle_info(&mut self, _: u32, _: &mut Context<Self>) -> Result<(), ExitReason> { Ok(()) }
    /// # }
    /// # #[derive(Clone)] struct Ping;
    /// # impl Event for Ping { const TOPIC: &'static str = "ping"; }
    /// # impl HandleEvent<Ping> for Echo {
    /// #     async fn handle_event(&mut self, _: Ping, _: &mut Context<Self>) -> Result<(), ExitReason> { Ok(()) }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let system = System::new();
    /// # let echo = system.spawn::<Echo>(()).await.unwrap();
    /// echo.notify(Ping).await.unwrap(); // straight to HandleEvent<Ping>
    /// # }
    /// ```
    pub async fn notify<E: Event>(&self, event: E) -> Result<(), SendError<E>>
    where
        A: HandleEvent<E>,
    {
        one_way(self.cell.offer(EventMsg(event)).await).map_err(|e| e.map(|EventMsg(m)| m))
    }

    /// [`ActorRef::notify`] without ever waiting.
    pub fn try_notify<E: Event>(&self, event: E) -> Result<(), SendError<E>>
    where
        A: HandleEvent<E>,
    {
        one_way(self.cell.try_offer(EventMsg(event))).map_err(|e| e.map(|EventMsg(m)| m))
    }

    /// Calls the actor and waits for the reply, at most
    /// [`DEFAULT_CALL_TIMEOUT`] (5 s).
    ///
    /// Errors: [`CallError::NoProc`] at once if the actor is dead;
    /// [`CallError::Exit`] with its reason as soon as it dies during the call;
    /// [`CallError::CallingSelf`] from inside the actor itself;
    /// [`CallError::Timeout`] (the actor keeps running, the late reply is
    /// dropped); [`CallError::MailboxFull`]; [`CallError::NoReply`].
    ///
    /// ```
    /// # use treeline::*;
    /// # struct Echo;
    /// # impl Actor for Echo {
    /// #     type Args = ();
    /// #     async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> { Ok(Echo) }
    /// # }
    /// # impl HandleCall<u32> for Echo {
    /// #     type Reply = u32;
    /// #     async fn handle_call(&mut self, n: u32, _: &mut Context<Self>) -> Reply<u32> { Reply::new(n) }
    /// # }
    /// # impl HandleCast<u32> for Echo {
    /// #     async fn handle_cast(&mut self, _: u32, _: &mut Context<Self>) -> Result<(), ExitReason> { Ok(()) }
    /// # }
    /// # impl HandleInfo<u32> for Echo {
    /// #     async fn handle_info(&mut self, _: u32, _: &mut Context<Self>) -> Result<(), ExitReason> { Ok(()) }
    /// # }
    /// # #[derive(Clone)] struct Ping;
    /// # impl Event for Ping { const TOPIC: &'static str = "ping"; }
    /// # impl HandleEvent<Ping> for Echo {
    /// #     async fn handle_event(&mut self, _: Ping, _: &mut Context<Self>) -> Result<(), ExitReason> { Ok(()) }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let system = System::new();
    /// # let echo = system.spawn::<Echo>(()).await.unwrap();
    /// assert_eq!(echo.call(7).await, Ok(7));
    /// echo.kill();
    /// echo.join().await;
    /// assert_eq!(echo.call(7).await, Err(CallError::NoProc));
    /// # }
    /// ```
    pub async fn call<M: Send + 'static>(&self, msg: M) -> Result<A::Reply, CallError>
    where
        A: HandleCall<M>,
    {
        self.call_timeout(msg, DEFAULT_CALL_TIMEOUT).await
    }

    /// [`ActorRef::call`] with an explicit timeout.
    ///
    /// ```
    /// # use treeline::*;
    /// # struct Echo;
    /// # impl Actor for Echo {
    /// #     type Args = ();
    /// #     async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> { Ok(Echo) }
    /// # }
    /// # impl HandleCall<u32> for Echo {
    /// #     type Reply = u32;
    /// #     async fn handle_call(&mut self, n: u32, _: &mut Context<Self>) -> Reply<u32> { Reply::new(n) }
    /// # }
    /// # impl HandleCast<u32> for Echo {
    /// #     async fn handle_cast(&mut self, _: u32, _: &mut Context<Self>) -> Result<(), ExitReason> { Ok(()) }
    /// # }
    /// # impl HandleInfo<u32> for Echo {
    /// #     async fn handle_info(&mut self, _: u32, _: &mut Context<Self>) -> Result<(), ExitReason> { Ok(()) }
    /// # }
    /// # #[derive(Clone)] struct Ping;
    /// # impl Event for Ping { const TOPIC: &'static str = "ping"; }
    /// # impl HandleEvent<Ping> for Echo {
    /// #     async fn handle_event(&mut self, _: Ping, _: &mut Context<Self>) -> Result<(), ExitReason> { Ok(()) }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let system = System::new();
    /// # let echo = system.spawn::<Echo>(()).await.unwrap();
    /// use std::time::Duration;
    /// assert_eq!(echo.call_timeout(7, Duration::from_millis(100)).await, Ok(7));
    /// # }
    /// ```
    pub async fn call_timeout<M: Send + 'static>(&self, msg: M, timeout: Duration) -> Result<A::Reply, CallError>
    where
        A: HandleCall<M>,
    {
        if cell::is_current(self.cell.address()) {
            return Err(CallError::CallingSelf);
        }
        let mut deadline = Deadline::new(self.cell.system.deadlines(), timeout, self.cell.id);
        let mut call = pin!(self.call_inner(msg));
        poll_fn(|cx| match call.as_mut().poll(cx) {
            Poll::Ready(result) => Poll::Ready(result),
            Poll::Pending if deadline.poll_expired(cx) => {
                #[cfg(feature = "metrics")]
                self.cell.system.metrics_state().call_timeout(self.cell.kind_name());
                Poll::Ready(Err(CallError::Timeout))
            }
            Poll::Pending => Poll::Pending,
        })
        .await
    }

    /// [`ActorRef::call`] that waits as long as it takes (OTP `infinity`).
    ///
    /// ```
    /// # use treeline::*;
    /// # struct Echo;
    /// # impl Actor for Echo {
    /// #     type Args = ();
    /// #     async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> { Ok(Echo) }
    /// # }
    /// # impl HandleCall<u32> for Echo {
    /// #     type Reply = u32;
    /// #     async fn handle_call(&mut self, n: u32, _: &mut Context<Self>) -> Reply<u32> { Reply::new(n) }
    /// # }
    /// # impl HandleCast<u32> for Echo {
    /// #     async fn handle_cast(&mut self, _: u32, _: &mut Context<Self>) -> Result<(), ExitReason> { Ok(()) }
    /// # }
    /// # impl HandleInfo<u32> for Echo {
    /// #     async fn handle_info(&mut self, _: u32, _: &mut Context<Self>) -> Result<(), ExitReason> { Ok(()) }
    /// # }
    /// # #[derive(Clone)] struct Ping;
    /// # impl Event for Ping { const TOPIC: &'static str = "ping"; }
    /// # impl HandleEvent<Ping> for Echo {
    /// #     async fn handle_event(&mut self, _: Ping, _: &mut Context<Self>) -> Result<(), ExitReason> { Ok(()) }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let system = System::new();
    /// # let echo = system.spawn::<Echo>(()).await.unwrap();
    /// assert_eq!(echo.call_forever(7).await, Ok(7));
    /// # }
    /// ```
    pub async fn call_forever<M: Send + 'static>(&self, msg: M) -> Result<A::Reply, CallError>
    where
        A: HandleCall<M>,
    {
        if cell::is_current(self.cell.address()) {
            return Err(CallError::CallingSelf);
        }
        let mut waiting = Deadline::never(self.cell.system.deadlines(), self.cell.id);
        let mut call = pin!(self.call_inner(msg));
        poll_fn(|cx| {
            let polled = call.as_mut().poll(cx);
            if polled.is_pending() {
                waiting.note_waiting();
            }
            polled
        })
        .await
    }

    /// Sends a call now and returns its [`Request`], the answer to come
    /// (OTP's `gen_server:send_request/2`): it returns once the call is
    /// queued, so the actor works on it while the caller does something
    /// else, and the answer is awaited later, alone or in a
    /// [`Requests`] collection. Refused with `NoProc` or `MailboxFull` as a
    /// call is; a `Wait` mailbox that is full makes it wait for room.
    pub async fn send_request<M: Send + 'static>(&self, msg: M) -> Result<Request<A::Reply>, CallError>
    where
        A: HandleCall<M>,
    {
        if cell::is_current(self.cell.address()) {
            return Err(CallError::CallingSelf);
        }
        let answer = self.offer_call(msg).await?;
        let callee = self.pid();
        Ok(Request::new(callee.id(), async move { answer_of(answer, &*callee.0).await }))
    }

    async fn call_inner<M: Send + 'static>(&self, msg: M) -> Result<A::Reply, CallError>
    where
        A: HandleCall<M>,
    {
        // `offer_call` and `answer_of` written out: the per-call path stays
        // one future (through the two helpers a call round trip costs 1.8%
        // more instructions, callgrind); `send_request` uses the helpers.
        let (reply, answer) = oneshot::channel();
        match self.cell.offer(CallMsg { msg, reply }).await {
            Offered::Queued => {}
            Offered::Closed(_) => return Err(CallError::NoProc),
            Offered::Full(_) | Offered::Shed => return Err(CallError::MailboxFull),
        }
        match answer.await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(NoValue::Exit(reason))) => Err(CallError::Exit(reason)),
            Ok(Err(NoValue::CalleePanicked)) => Err(CallError::Exit(join(&*self.cell).await)),
            Err(_dropped) => Err(lost_reply(&*self.cell).await),
        }
    }

    /// Queues a call; the channel its answer will come on (`send_request`).
    async fn offer_call<M: Send + 'static>(&self, msg: M) -> Result<Answer<A::Reply>, CallError>
    where
        A: HandleCall<M>,
    {
        let (reply, answer) = oneshot::channel();
        match self.cell.offer(CallMsg { msg, reply }).await {
            Offered::Queued => Ok(answer),
            Offered::Closed(_) => Err(CallError::NoProc),
            Offered::Full(_) | Offered::Shed => Err(CallError::MailboxFull),
        }
    }

    /// Stops the actor with `reason` and waits until it is dead; see
    /// [`Pid::stop`].
    ///
    /// ```
    /// # use treeline::*;
    /// # use treeline::addr::StopError;
    /// # struct Echo;
    /// # impl Actor for Echo {
    /// #     type Args = ();
    /// #     async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> { Ok(Echo) }
    /// # }
    /// # impl HandleCall<u32> for Echo {
    /// #     type Reply = u32;
    /// #     async fn handle_call(&mut self, n: u32, _: &mut Context<Self>) -> Reply<u32> { Reply::new(n) }
    /// # }
    /// # impl HandleCast<u32> for Echo {
    /// #     async fn handle_cast(&mut self, _: u32, _: &mut Context<Self>) -> Result<(), ExitReason> { Ok(()) }
    /// # }
    /// # impl HandleInfo<u32> for Echo {
    /// #     async fn handle_info(&mut self, _: u32, _: &mut Context<Self>) -> Result<(), ExitReason> { Ok(()) }
    /// # }
    /// # #[derive(Clone)] struct Ping;
    /// # impl Event for Ping { const TOPIC: &'static str = "ping"; }
    /// # impl HandleEvent<Ping> for Echo {
    /// #     async fn handle_event(&mut self, _: Ping, _: &mut Context<Self>) -> Result<(), ExitReason> { Ok(()) }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let system = System::new();
    /// # let echo = system.spawn::<Echo>(()).await.unwrap();
    /// assert_eq!(echo.stop(ExitReason::Normal).await, Ok(()));
    /// assert!(!echo.is_alive());
    /// assert_eq!(echo.stop(ExitReason::Normal).await, Err(StopError::NoProc));
    /// # }
    /// ```
    pub async fn stop(&self, reason: ExitReason) -> Result<(), StopError> {
        if cell::is_current(self.cell.address()) {
            return Err(StopError::CallingSelf);
        }
        if let Some(dormant) = self.cell.mailbox.take_dormant() {
            let actual = run::stop_dormant(dormant, reason.clone()).await;
            return stopped_with(actual, &reason);
        }
        stop(&*self.cell, reason, None).await
    }

    /// [`ActorRef::stop`] with a timeout; on timeout the actor keeps running.
    pub async fn stop_timeout(&self, reason: ExitReason, timeout: Duration) -> Result<(), StopError> {
        stop(&*self.cell, reason, Some(timeout)).await
    }

    /// Asks the actor to stop without waiting; see [`Pid::request_stop`].
    ///
    /// ```
    /// # use treeline::*;
    /// # struct Echo;
    /// # impl Actor for Echo {
    /// #     type Args = ();
    /// #     async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> { Ok(Echo) }
    /// # }
    /// # impl HandleCall<u32> for Echo {
    /// #     type Reply = u32;
    /// #     async fn handle_call(&mut self, n: u32, _: &mut Context<Self>) -> Reply<u32> { Reply::new(n) }
    /// # }
    /// # impl HandleCast<u32> for Echo {
    /// #     async fn handle_cast(&mut self, _: u32, _: &mut Context<Self>) -> Result<(), ExitReason> { Ok(()) }
    /// # }
    /// # impl HandleInfo<u32> for Echo {
    /// #     async fn handle_info(&mut self, _: u32, _: &mut Context<Self>) -> Result<(), ExitReason> { Ok(()) }
    /// # }
    /// # #[derive(Clone)] struct Ping;
    /// # impl Event for Ping { const TOPIC: &'static str = "ping"; }
    /// # impl HandleEvent<Ping> for Echo {
    /// #     async fn handle_event(&mut self, _: Ping, _: &mut Context<Self>) -> Result<(), ExitReason> { Ok(()) }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let system = System::new();
    /// # let echo = system.spawn::<Echo>(()).await.unwrap();
    /// assert!(echo.request_stop(ExitReason::Shutdown));
    /// assert_eq!(echo.join().await, ExitReason::Shutdown);
    /// # }
    /// ```
    pub fn request_stop(&self, reason: ExitReason) -> bool {
        self.cell.signal(Signal::Stop { reason, reply: None }).is_ok()
    }

    /// Sends an exit signal; see [`Pid::exit`].
    ///
    /// ```
    /// # use treeline::*;
    /// # struct Echo;
    /// # impl Actor for Echo {
    /// #     type Args = ();
    /// #     async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> { Ok(Echo) }
    /// # }
    /// # impl HandleCall<u32> for Echo {
    /// #     type Reply = u32;
    /// #     async fn handle_call(&mut self, n: u32, _: &mut Context<Self>) -> Reply<u32> { Reply::new(n) }
    /// # }
    /// # impl HandleCast<u32> for Echo {
    /// #     async fn handle_cast(&mut self, _: u32, _: &mut Context<Self>) -> Result<(), ExitReason> { Ok(()) }
    /// # }
    /// # impl HandleInfo<u32> for Echo {
    /// #     async fn handle_info(&mut self, _: u32, _: &mut Context<Self>) -> Result<(), ExitReason> { Ok(()) }
    /// # }
    /// # #[derive(Clone)] struct Ping;
    /// # impl Event for Ping { const TOPIC: &'static str = "ping"; }
    /// # impl HandleEvent<Ping> for Echo {
    /// #     async fn handle_event(&mut self, _: Ping, _: &mut Context<Self>) -> Result<(), ExitReason> { Ok(()) }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let system = System::new();
    /// # let echo = system.spawn::<Echo>(()).await.unwrap();
    /// echo.exit(ExitReason::Normal); // ignored: not trapping, not from itself
    /// assert_eq!(echo.call(1).await, Ok(1));
    /// echo.exit(ExitReason::custom("enough"));
    /// assert_eq!(echo.join().await, ExitReason::custom("enough"));
    /// # }
    /// ```
    pub fn exit(&self, reason: ExitReason) -> bool {
        exit_signal(&*self.cell, reason)
    }

    /// Kills the actor (untrappable; `terminate` does not run).
    pub fn kill(&self) -> bool {
        self.exit(ExitReason::Kill)
    }

    /// Waits until the actor is dead and returns its exit reason.
    ///
    /// ```
    /// # use treeline::*;
    /// # struct Echo;
    /// # impl Actor for Echo {
    /// #     type Args = ();
    /// #     async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> { Ok(Echo) }
    /// # }
    /// # impl HandleCall<u32> for Echo {
    /// #     type Reply = u32;
    /// #     async fn handle_call(&mut self, n: u32, _: &mut Context<Self>) -> Reply<u32> { Reply::new(n) }
    /// # }
    /// # impl HandleCast<u32> for Echo {
    /// #     async fn handle_cast(&mut self, _: u32, _: &mut Context<Self>) -> Result<(), ExitReason> { Ok(()) }
    /// # }
    /// # impl HandleInfo<u32> for Echo {
    /// #     async fn handle_info(&mut self, _: u32, _: &mut Context<Self>) -> Result<(), ExitReason> { Ok(()) }
    /// # }
    /// # #[derive(Clone)] struct Ping;
    /// # impl Event for Ping { const TOPIC: &'static str = "ping"; }
    /// # impl HandleEvent<Ping> for Echo {
    /// #     async fn handle_event(&mut self, _: Ping, _: &mut Context<Self>) -> Result<(), ExitReason> { Ok(()) }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let system = System::new();
    /// # let echo = system.spawn::<Echo>(()).await.unwrap();
    /// echo.cast(7).await.unwrap();
    /// echo.request_stop(ExitReason::Normal);
    /// assert_eq!(echo.join().await, ExitReason::Normal);
    /// # }
    /// ```
    pub async fn join(&self) -> ExitReason {
        join(&*self.cell).await
    }

    /// A handle that can cast `M` to this actor without naming its type.
    ///
    /// ```
    /// # use treeline::*;
    /// # use treeline::addr::Recipient;
    /// # struct Echo;
    /// # impl Actor for Echo {
    /// #     type Args = ();
    /// #     async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> { Ok(Echo) }
    /// # }
    /// # impl HandleCall<u32> for Echo {
    /// #     type Reply = u32;
    /// #     async fn handle_call(&mut self, n: u32, _: &mut Context<Self>) -> Reply<u32> { Reply::new(n) }
    /// # }
    /// # impl HandleCast<u32> for Echo {
    /// #     async fn handle_cast(&mut self, _: u32, _: &mut Context<Self>) -> Result<(), ExitReason> { Ok(()) }
    /// # }
    /// # impl HandleInfo<u32> for Echo {
    /// #     async fn handle_info(&mut self, _: u32, _: &mut Context<Self>) -> Result<(), ExitReason> { Ok(()) }
    /// # }
    /// # #[derive(Clone)] struct Ping;
    /// # impl Event for Ping { const TOPIC: &'static str = "ping"; }
    /// # impl HandleEvent<Ping> for Echo {
    /// #     async fn handle_event(&mut self, _: Ping, _: &mut Context<Self>) -> Result<(), ExitReason> { Ok(()) }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let system = System::new();
    /// # let echo = system.spawn::<Echo>(()).await.unwrap();
    /// let recipient: Recipient<u32> = echo.recipient();
    /// recipient.cast(1).await.unwrap();
    /// # }
    /// ```
    pub fn recipient<M: Send + 'static>(&self) -> Recipient<M>
    where
        A: HandleCast<M>,
    {
        Recipient { target: self.cell.clone() }
    }

    /// Messages waiting in the mailbox.
    pub fn mailbox_len(&self) -> usize {
        self.cell.mailbox.len()
    }

    /// Messages this actor has handled so far.
    pub fn handled(&self) -> u64 {
        self.cell.handled()
    }

    /// Messages addressed to this actor that became dead letters.
    pub fn dead_letters(&self) -> u64 {
        self.cell.dead_letters()
    }
}

impl<A: Actor> PartialEq for ActorRef<A> {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.cell, &other.cell)
    }
}

impl<A: Actor> Eq for ActorRef<A> {}

impl<A: Actor> Hash for ActorRef<A> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id().hash(state);
    }
}

impl<A: Actor> fmt::Debug for ActorRef<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ActorRef<{}>({})", std::any::type_name::<A>(), self.id())
    }
}

// === Recipient ===

/// Casts messages of type `M` to some actor, whatever its type.
///
/// ```
/// use treeline::{Actor, Context, ExitReason, HandleCast, InitError, System};
/// use treeline::addr::Recipient;
///
/// struct Sink;
/// impl Actor for Sink {
///     type Args = ();
///     async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> { Ok(Sink) }
/// }
/// impl HandleCast<u64> for Sink {
///     async fn handle_cast(&mut self, _: u64, _: &mut Context<Self>) -> Result<(), ExitReason> { Ok(()) }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let system = System::new();
/// let sinks: Vec<Recipient<u64>> = vec![system.spawn::<Sink>(()).await.unwrap().recipient()];
/// for sink in &sinks {
///     sink.cast(7).await.unwrap();
/// }
/// # }
/// ```
pub struct Recipient<M: Send + 'static> {
    target: Arc<dyn CastTarget<M>>,
}

impl<M: Send + 'static> Clone for Recipient<M> {
    fn clone(&self) -> Self {
        Recipient { target: self.target.clone() }
    }
}

impl<M: Send + 'static> Recipient<M> {
    /// The target's id.
    pub fn id(&self) -> ActorId {
        self.target.id()
    }

    /// An untyped handle to the target.
    pub fn pid(&self) -> Pid {
        let process: Arc<dyn Process> = self.target.clone();
        Pid(process)
    }

    /// Casts `msg`; waits only for a full `Wait` mailbox.
    pub async fn cast(&self, msg: M) -> Result<(), SendError<M>> {
        if self.target.is_gated() {
            self.target.cast_waiting(msg).await
        } else {
            self.target.try_cast(msg)
        }
    }

    /// Casts `msg` without ever waiting.
    pub fn try_cast(&self, msg: M) -> Result<(), SendError<M>> {
        self.target.try_cast(msg)
    }
}

impl<M: Send + 'static> fmt::Debug for Recipient<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Recipient<{}>({})", std::any::type_name::<M>(), self.id())
    }
}

type SendFuture<'a, M> = Pin<Box<dyn Future<Output = Result<(), SendError<M>>> + Send + 'a>>;

trait CastTarget<M: Send + 'static>: Process {
    fn is_gated(&self) -> bool;
    fn try_cast(&self, msg: M) -> Result<(), SendError<M>>;
    fn cast_waiting(&self, msg: M) -> SendFuture<'_, M>;
}

impl<A: HandleCast<M>, M: Send + 'static> CastTarget<M> for ActorCell<A> {
    fn is_gated(&self) -> bool {
        self.mailbox.is_gated()
    }

    fn try_cast(&self, msg: M) -> Result<(), SendError<M>> {
        one_way(self.try_offer(CastMsg(msg))).map_err(|e| e.map(|CastMsg(m)| m))
    }

    fn cast_waiting(&self, msg: M) -> SendFuture<'_, M> {
        Box::pin(async move { one_way(self.offer(CastMsg(msg)).await).map_err(|e| e.map(|CastMsg(m)| m)) })
    }
}

// === shared implementation ===

impl<D> SendError<D> {
    fn map<M>(self, f: impl FnOnce(D) -> M) -> SendError<M> {
        match self {
            SendError::NoProc(d) => SendError::NoProc(f(d)),
            SendError::Full(d) => SendError::Full(f(d)),
        }
    }
}

fn one_way<D>(offered: Offered<D>) -> Result<(), SendError<D>> {
    match offered {
        Offered::Queued | Offered::Shed => Ok(()),
        Offered::Full(d) => Err(SendError::Full(d)),
        Offered::Closed(d) => Err(SendError::NoProc(d)),
    }
}

/// The reply channel closed without a value: tell why.
/// Where a queued call's answer comes.
type Answer<R> = oneshot::Receiver<Result<R, NoValue>>;

/// A queued call's outcome, as a `Request` reports it (and `call_inner`,
/// written out): the value, or how the callee ended without giving it.
async fn answer_of<R>(answer: Answer<R>, callee: &dyn Process) -> Result<R, CallError> {
    match answer.await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(NoValue::Exit(reason))) => Err(CallError::Exit(reason)),
        Ok(Err(NoValue::CalleePanicked)) => Err(CallError::Exit(join(callee).await)),
        Err(_dropped) => Err(lost_reply(callee).await),
    }
}

async fn lost_reply(process: &dyn Process) -> CallError {
    match process.status() {
        Status::Starting | Status::Running => CallError::NoReply,
        // The callee is on its way out: report its final reason, as a
        // monitor would.
        Status::Stopping | Status::Dead => CallError::Exit(join(process).await),
    }
}

fn exit_signal(process: &dyn Process, reason: ExitReason) -> bool {
    let from = cell::current_id();
    process.signal(Signal::Exit { from, reason, linked: false, failed: None }).is_ok()
}

async fn stop(process: &dyn Process, reason: ExitReason, timeout: Option<Duration>) -> Result<(), StopError> {
    if cell::is_current(process.address()) {
        return Err(StopError::CallingSelf);
    }
    // A dormant actor has no task: run its terminate here (only without a
    // timeout, since giving up half-way would kill it).
    if timeout.is_none() {
        if let Some(inline) = process.stop_dormant(reason.clone()) {
            return stopped_with(inline.await, &reason);
        }
    }
    let (reply, answer) = oneshot::channel();
    if process.signal(Signal::Stop { reason: reason.clone(), reply: Some(reply) }).is_err() {
        return Err(StopError::NoProc);
    }
    let wait = async {
        match answer.await {
            Ok(actual) => actual,
            Err(_) => process.exit_reason().unwrap_or(ExitReason::NoProc),
        }
    };
    let actual = match timeout {
        Some(timeout) => tokio::time::timeout(timeout, wait).await.map_err(|_| StopError::Timeout)?,
        None => wait.await,
    };
    stopped_with(actual, &reason)
}

fn stopped_with(actual: ExitReason, requested: &ExitReason) -> Result<(), StopError> {
    if actual == *requested {
        Ok(())
    } else {
        Err(StopError::Exit(actual))
    }
}

pub(crate) async fn join(process: &dyn Process) -> ExitReason {
    match process.watch() {
        Ok(death) => death.await.unwrap_or_else(|_| process.exit_reason().unwrap_or(ExitReason::NoProc)),
        Err(reason) => reason,
    }
}
