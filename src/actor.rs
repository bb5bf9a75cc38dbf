//! The GenServer contract: [`Actor`] plus one handler trait per kind of
//! message.
//!
//! An actor is private state driven by one tokio task. The only way in is a
//! message, and messages come in the kinds OTP knows:
//!
//! | kind | sent with | handled by | OTP |
//! |---|---|---|---|
//! | call | [`ActorRef::call`] | [`HandleCall::handle_call`] | `handle_call/3` |
//! | cast | [`ActorRef::cast`] | [`HandleCast::handle_cast`] | `handle_cast/2` |
//! | info | [`ActorRef::send`], timers, [`Down`], [`Exit`], [`IdleTimeout`] | [`HandleInfo::handle_info`] | `handle_info/2` |
//! | event | topics (and [`ActorRef::notify`] directly) | [`HandleEvent::handle_event`] | a domain event |
//! | continue | [`Context::continue_with`] | [`HandleContinue::handle_continue`] | `handle_continue/2` |
//!
//! An actor implements a handler trait once per message type it accepts, so
//! one actor handles many call, cast and event types with full static typing:
//! sending a type the actor does not handle is a compile error, and no
//! message is ever boxed as `dyn Any`.
//!
//! # Guarantees
//!
//! * Callbacks of one actor run one at a time, never concurrently.
//! * Messages from one sender are handled in the order they were sent.
//! * A continue set by a callback runs before the next message.
//! * A panic in any callback ends the actor with [`ExitReason::Panic`]; other
//!   actors and the runtime are unaffected.
//!
//! [`ActorRef::call`]: crate::ActorRef::call
//! [`ActorRef::cast`]: crate::ActorRef::cast
//! [`ActorRef::send`]: crate::ActorRef::send
//! [`ActorRef::notify`]: crate::ActorRef::notify
//! [`Down`]: crate::signal::Down
//! [`Exit`]: crate::signal::Exit
//! [`IdleTimeout`]: crate::signal::IdleTimeout

mod context;
pub(crate) mod dispatch;
mod init;
mod options;
pub(crate) mod reply;
pub(crate) mod report;
pub(crate) mod run;
pub(crate) mod shutdown;
pub(crate) mod slot;
pub(crate) mod spawn;
mod stream;
pub(crate) mod timer;

use std::future::Future;

pub use context::Context;
pub use init::InitError;
pub use options::{ShutdownPolicy, SpawnOptions};
pub use reply::{Reply, ReplyTo};
pub use spawn::{ConfigError, StartError};
pub use stream::{StreamEnded, StreamId, StreamRef};
pub use timer::{TimerError, TimerRef};

use crate::event::Event;
use crate::exit::ExitReason;

/// An actor: state plus the GenServer lifecycle callbacks.
///
/// `init` runs before the spawn returns (as `gen_server:start_link`), so a
/// failing `init` is reported to the spawner as an error and nothing of the
/// actor stays behind.
///
/// ```
/// use treeline::{Actor, Context, HandleCall, HandleCast, InitError, Reply, ExitReason, System};
///
/// struct Counter { n: u64 }
///
/// impl Actor for Counter {
///     type Args = u64;
///     async fn init(start: u64, _ctx: &mut Context<Self>) -> Result<Self, InitError> {
///         Ok(Counter { n: start })
///     }
/// }
///
/// struct Add(u64);
/// impl HandleCast<Add> for Counter {
///     async fn handle_cast(&mut self, Add(k): Add, _ctx: &mut Context<Self>) -> Result<(), ExitReason> {
///         self.n += k;
///         Ok(())
///     }
/// }
///
/// struct Get;
/// impl HandleCall<Get> for Counter {
///     type Reply = u64;
///     async fn handle_call(&mut self, _: Get, _ctx: &mut Context<Self>) -> Reply<u64> {
///         Reply::new(self.n)
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let system = System::new();
/// let counter = system.spawn::<Counter>(40).await.unwrap();
/// counter.cast(Add(2)).await.unwrap();
/// assert_eq!(counter.call(Get).await.unwrap(), 42);
/// system.shutdown().await;
/// # }
/// ```
pub trait Actor: Sized + Send + 'static {
    /// What `init` is started with (OTP's `Args`).
    type Args: Send + 'static;

    /// Builds the actor's state. Runs to completion before the spawn returns.
    ///
    /// * `Ok(state)`: the actor starts. If `init` called
    ///   [`Context::continue_with`], that continue runs before any message.
    /// * `Err(InitError::Ignore)`: the spawn returns `StartError::Ignored`;
    ///   the actor never existed for anyone else.
    /// * `Err(InitError::Stop(reason))` (also any `?`-propagated error): the
    ///   spawn returns `StartError::Exit(reason)`. `terminate` is not called.
    fn init(args: Self::Args, ctx: &mut Context<Self>) -> impl Future<Output = Result<Self, InitError>> + Send;

    /// Runs when the actor stops in an orderly way: a handler returned an
    /// error or asked to stop, a callback panicked, a [`ActorRef::stop`]
    /// request, or an exit signal from its parent while trapping exits
    /// (as `gen_server:terminate/2`). It does not run when the actor is killed, when a
    /// non-trapping actor receives an exit signal, or when `init` failed.
    ///
    /// [`ActorRef::stop`]: crate::ActorRef::stop
    fn terminate(&mut self, reason: &ExitReason, ctx: &mut Context<Self>) -> impl Future<Output = ()> + Send {
        let _ = (reason, ctx);
        async {}
    }
}

/// Handles synchronous requests of type `M` (OTP `handle_call`).
///
/// The caller waits for the [`Reply`]; see [`Reply`] for deferred replies and
/// stop-with-reply.
///
/// ```
/// use treeline::{Actor, Context, HandleCall, InitError, Reply};
///
/// struct Stack(Vec<u32>);
/// # impl Actor for Stack {
/// #     type Args = ();
/// #     async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> { Ok(Stack(vec![])) }
/// # }
/// struct Pop;
///
/// impl HandleCall<Pop> for Stack {
///     type Reply = Option<u32>;
///     async fn handle_call(&mut self, _: Pop, _ctx: &mut Context<Self>) -> Reply<Option<u32>> {
///         Reply::new(self.0.pop())
///     }
/// }
/// ```
pub trait HandleCall<M: Send + 'static>: Actor {
    /// What the caller receives.
    type Reply: Send + 'static;

    /// Handles the request and decides the reply.
    fn handle_call(&mut self, msg: M, ctx: &mut Context<Self>) -> impl Future<Output = Reply<Self::Reply>> + Send;
}

/// Handles one-way requests of type `M` (OTP `handle_cast`).
///
/// Returning `Err(reason)` stops the actor with that reason (after
/// `terminate`), so `?` on any error works inside a handler.
///
/// ```
/// use treeline::{Actor, Context, ExitReason, HandleCast, InitError};
///
/// struct Log(Vec<String>);
/// # impl Actor for Log {
/// #     type Args = ();
/// #     async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> { Ok(Log(vec![])) }
/// # }
/// struct Line(String);
///
/// impl HandleCast<Line> for Log {
///     async fn handle_cast(&mut self, Line(l): Line, _ctx: &mut Context<Self>) -> Result<(), ExitReason> {
///         self.0.push(l);
///         Ok(())
///     }
/// }
/// ```
pub trait HandleCast<M: Send + 'static>: Actor {
    /// Handles the message.
    fn handle_cast(&mut self, msg: M, ctx: &mut Context<Self>) -> impl Future<Output = Result<(), ExitReason>> + Send;
}

/// Handles plain messages of type `M` (OTP `handle_info`): messages sent with
/// [`ActorRef::send`], timer messages, and the runtime's own [`Down`],
/// [`Exit`] and [`IdleTimeout`].
///
/// ```
/// use treeline::{Actor, Context, ExitReason, HandleInfo, InitError};
/// use treeline::signal::Down;
///
/// struct Watcher;
/// # impl Actor for Watcher {
/// #     type Args = ();
/// #     async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> { Ok(Watcher) }
/// # }
/// impl HandleInfo<Down> for Watcher {
///     async fn handle_info(&mut self, down: Down, _ctx: &mut Context<Self>) -> Result<(), ExitReason> {
///         println!("{} went down: {}", down.id, down.reason);
///         Ok(())
///     }
/// }
/// ```
///
/// [`ActorRef::send`]: crate::ActorRef::send
/// [`Down`]: crate::signal::Down
/// [`Exit`]: crate::signal::Exit
/// [`IdleTimeout`]: crate::signal::IdleTimeout
pub trait HandleInfo<M: Send + 'static>: Actor {
    /// Handles the message.
    fn handle_info(&mut self, msg: M, ctx: &mut Context<Self>) -> impl Future<Output = Result<(), ExitReason>> + Send;
}

/// Handles domain events of type `E` published on a topic the actor
/// subscribed to.
///
/// ```
/// use treeline::{Actor, Context, Event, ExitReason, HandleEvent, InitError};
///
/// #[derive(Clone, Debug)]
/// struct OrderPlaced { cents: u64 }
/// impl Event for OrderPlaced { const TOPIC: &'static str = "orders.placed"; }
///
/// struct Billing { charged: u64 }
/// # impl Actor for Billing {
/// #     type Args = ();
/// #     async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> { Ok(Billing { charged: 0 }) }
/// # }
/// impl HandleEvent<OrderPlaced> for Billing {
///     async fn handle_event(&mut self, e: OrderPlaced, _ctx: &mut Context<Self>) -> Result<(), ExitReason> {
///         self.charged += e.cents;
///         Ok(())
///     }
/// }
/// ```
pub trait HandleEvent<E: Event>: Actor {
    /// Handles the event.
    fn handle_event(
        &mut self,
        event: E,
        ctx: &mut Context<Self>,
    ) -> impl Future<Output = Result<(), ExitReason>> + Send;
}

/// Handles a continuation of type `C` set with [`Context::continue_with`]
/// (OTP `handle_continue`). It runs right after the callback that set it,
/// before any further message.
///
/// ```
/// use treeline::{Actor, Context, ExitReason, HandleContinue, InitError};
///
/// struct Cache { warm: bool }
/// struct Warm;
///
/// impl Actor for Cache {
///     type Args = ();
///     async fn init(_: (), ctx: &mut Context<Self>) -> Result<Self, InitError> {
///         ctx.continue_with(Warm); // expensive work after the spawn returned
///         Ok(Cache { warm: false })
///     }
/// }
/// impl HandleContinue<Warm> for Cache {
///     async fn handle_continue(&mut self, _: Warm, _ctx: &mut Context<Self>) -> Result<(), ExitReason> {
///         self.warm = true;
///         Ok(())
///     }
/// }
/// ```
pub trait HandleContinue<C: Send + 'static>: Actor {
    /// Runs the continuation.
    fn handle_continue(
        &mut self,
        cont: C,
        ctx: &mut Context<Self>,
    ) -> impl Future<Output = Result<(), ExitReason>> + Send;
}
