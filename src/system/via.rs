//! Addressing by name (`GenServer.call({:via, Registry, {registry, key}},
//! request)`): a handle that resolves its name at every send, so it always
//! reaches whoever holds the name now, a restarted actor included.

use std::fmt;
use std::time::Duration;

use super::{System, WeakSystem};
use crate::actor::{Actor, HandleCall, HandleCast, HandleEvent, HandleInfo};
use crate::addr::{ActorRef, CallError, SendError};
use crate::event::Event;
use crate::registry::Name;

/// An actor of type `A` addressed by its [`Name`] in a System's registry.
///
/// Every call, cast and send looks the name up first: when nobody holds it
/// (not yet registered, or its owner died and was not restarted yet) a call
/// fails with [`CallError::NoProc`] and a cast or send hands the message
/// back in [`SendError::NoProc`], as OTP's `noproc`. Between two sends the
/// holder may change: a supervisor that restarts a named child makes the
/// next send reach the new incarnation, which an [`ActorRef`] (one
/// incarnation) cannot.
///
/// A `Via` does not keep its System alive; once the System is gone every
/// send is `NoProc`.
///
/// ```
/// use treeline::{Actor, Context, HandleCall, InitError, Name, Reply, SpawnOptions, System};
/// use treeline::CallError;
///
/// struct Counter(u64);
/// impl Actor for Counter {
///     type Args = ();
///     async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> { Ok(Counter(0)) }
/// }
/// impl HandleCall<u64> for Counter {
///     type Reply = u64;
///     async fn handle_call(&mut self, by: u64, _: &mut Context<Self>) -> Reply<u64> {
///         self.0 += by;
///         Reply::new(self.0)
///     }
/// }
///
/// const COUNTER: Name<Counter> = Name::new("counter");
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let system = System::new();
/// let counter = system.via(COUNTER);
/// assert_eq!(counter.call(1).await, Err(CallError::NoProc)); // nobody holds it yet
/// system.spawn_with::<Counter>((), SpawnOptions::new().name(COUNTER)).await.unwrap();
/// assert_eq!(counter.call(2).await, Ok(2));
/// # }
/// ```
pub struct Via<A> {
    system: WeakSystem,
    name: Name<A>,
}

impl<A> Clone for Via<A> {
    fn clone(&self) -> Self {
        Via { system: self.system.clone(), name: self.name.clone() }
    }
}

impl<A> fmt::Debug for Via<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Via").field(&self.name).finish()
    }
}

impl<A: Actor> Via<A> {
    pub(crate) fn new(system: &System, name: Name<A>) -> Self {
        Via { system: system.downgrade(), name }
    }

    /// The name it addresses.
    pub fn name(&self) -> &Name<A> {
        &self.name
    }

    /// The live actor holding the name now, if any.
    pub fn whereis(&self) -> Option<ActorRef<A>> {
        self.system.upgrade()?.whereis(&self.name)
    }

    /// [`ActorRef::call`] on the holder; [`CallError::NoProc`] if nobody
    /// holds the name.
    pub async fn call<M: Send + 'static>(&self, msg: M) -> Result<A::Reply, CallError>
    where
        A: HandleCall<M>,
    {
        self.whereis().ok_or(CallError::NoProc)?.call(msg).await
    }

    /// [`ActorRef::call_timeout`] on the holder.
    pub async fn call_timeout<M: Send + 'static>(&self, msg: M, timeout: Duration) -> Result<A::Reply, CallError>
    where
        A: HandleCall<M>,
    {
        self.whereis().ok_or(CallError::NoProc)?.call_timeout(msg, timeout).await
    }

    /// [`ActorRef::cast`] to the holder; the message comes back in
    /// [`SendError::NoProc`] if nobody holds the name.
    pub async fn cast<M: Send + 'static>(&self, msg: M) -> Result<(), SendError<M>>
    where
        A: HandleCast<M>,
    {
        match self.whereis() {
            Some(actor) => actor.cast(msg).await,
            None => Err(SendError::NoProc(msg)),
        }
    }

    /// [`ActorRef::try_cast`] to the holder.
    pub fn try_cast<M: Send + 'static>(&self, msg: M) -> Result<(), SendError<M>>
    where
        A: HandleCast<M>,
    {
        match self.whereis() {
            Some(actor) => actor.try_cast(msg),
            None => Err(SendError::NoProc(msg)),
        }
    }

    /// [`ActorRef::send`] (a plain message, for `HandleInfo`) to the holder.
    pub async fn send<M: Send + 'static>(&self, msg: M) -> Result<(), SendError<M>>
    where
        A: HandleInfo<M>,
    {
        match self.whereis() {
            Some(actor) => actor.send(msg).await,
            None => Err(SendError::NoProc(msg)),
        }
    }

    /// [`ActorRef::try_send`] to the holder.
    pub fn try_send<M: Send + 'static>(&self, msg: M) -> Result<(), SendError<M>>
    where
        A: HandleInfo<M>,
    {
        match self.whereis() {
            Some(actor) => actor.try_send(msg),
            None => Err(SendError::NoProc(msg)),
        }
    }

    /// [`ActorRef::notify`] (an event, for `HandleEvent`) to the holder.
    pub async fn notify<E: Event>(&self, event: E) -> Result<(), SendError<E>>
    where
        A: HandleEvent<E>,
    {
        match self.whereis() {
            Some(actor) => actor.notify(event).await,
            None => Err(SendError::NoProc(event)),
        }
    }
}
