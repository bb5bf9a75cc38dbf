//! The actor's view of itself and the runtime: passed to every callback.

use crate::cell::relations::RelationsCell;
use futures::Stream;
use std::fmt;
use std::sync::{Arc, Weak};
use std::time::Duration;

use super::dispatch::{ContinueMsg, DownMsg, InfoMsg};
use super::reply::{Deferred, Owed};
use super::spawn::{self, Parent, StartError};
use super::stream::{self, StreamEnded, StreamRef};
use super::timer::{self, TimerError, TimerRef};
use super::{Actor, HandleCast, HandleContinue, HandleEvent, HandleInfo, SpawnOptions};
use crate::addr::{ActorId, ActorRef, Pid};
use crate::cell::Process;
use crate::durable::store::AckToken;
use crate::durable::{Consume, Delivery, Durable, DurableError, DurableQueue, DurableSubscription, Published};
use crate::event::Event;
use crate::exit::ExitReason;
use crate::mailbox::envelope::Envelope;
use crate::registry::{Meta, Name, PublishError, PublishOptions, RegistryError};
use crate::signal::{Arrived, Down, Exit, FailedDelivery, IdleTimeout, MonitorRef, Signal};
use crate::system::System;
use crate::topic::Pattern;

/// Builds the internal envelope for a runtime-produced message.
pub(crate) type Converter<A, M> = fn(M) -> Envelope<A>;

/// The context of an actor of type `A`, given to every callback.
///
/// Through it an actor reaches itself ([`Context::myself`]), the
/// [`System`], its links and monitors, its timers, and the actions that take
/// effect when the current callback returns ([`Context::continue_with`],
/// [`Context::idle_timeout`], [`Context::stop`], [`Context::hibernate`]).
pub struct Context<A: Actor> {
    myself: ActorRef<A>,
    parent: ActorId,
    /// Actions requested for after the current callback ([`requests`]): the
    /// run loop tests this one byte after each message.
    pub(crate) requests: u8,
    /// Everything else, allocated on first use, so an actor that uses no
    /// links, monitors, timers or continues costs one pointer.
    extra: Option<Box<Extra<A>>>,
}

/// Bits of [`Context::requests`].
pub(crate) mod requests {
    pub(crate) const STOP: u8 = 1;
    pub(crate) const CONTINUE: u8 = 2;
    pub(crate) const IDLE_TIMEOUT: u8 = 4;
    pub(crate) const HIBERNATE: u8 = 8;
}

/// The rarely used part of a context.
pub(crate) struct Extra<A: Actor> {
    /// Stop after the current callback.
    pub(crate) stop: Option<ExitReason>,
    /// Run before the next message.
    pub(crate) cont: Option<Envelope<A>>,
    /// Idle timeout armed after the current callback.
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) on_down: Option<Converter<A, Down>>,
    pub(crate) on_exit: Option<Converter<A, Exit>>,
    pub(crate) on_timeout: Option<Converter<A, IdleTimeout>>,
    pub(crate) book: Book,
    /// The durable message being handled, and its ack while not yet done.
    pub(crate) delivery: Option<(Delivery, Option<AckToken>)>,
    /// The durable message whose handler failed (the actor is ending).
    pub(crate) failed: Option<FailedDelivery>,
}

impl<A: Actor> Default for Extra<A> {
    fn default() -> Self {
        Extra {
            stop: None,
            cont: None,
            idle_timeout: None,
            on_down: None,
            on_exit: None,
            on_timeout: None,
            book: Book::default(),
            delivery: None,
            failed: None,
        }
    }
}

/// The bookkeeping an actor keeps for itself (its links and monitors are
/// in its cell, `cell/relations.rs`, where snapshots read them).
#[derive(Default)]
pub(crate) struct Book {
    pub(crate) timers: Vec<TimerRef>,
    /// Deferred replies still owed.
    pub(crate) owed: Vec<Weak<dyn Owed>>,
}

impl<A: Actor> Context<A> {
    pub(crate) fn new(myself: ActorRef<A>, parent: ActorId) -> Self {
        Context { myself, parent, requests: 0, extra: None }
    }

    pub(crate) fn extra(&mut self) -> &mut Extra<A> {
        self.extra.get_or_insert_with(Default::default)
    }

    /// The actor's links and monitors.
    pub(crate) fn relations(&self) -> &RelationsCell {
        &self.myself.cell.relations
    }

    pub(crate) fn book(&mut self) -> &mut Book {
        &mut self.extra().book
    }

    /// Takes the rarely used part (at teardown).
    pub(crate) fn take_extra(&mut self) -> Option<Box<Extra<A>>> {
        self.requests = 0;
        self.extra.take()
    }

    /// The stop reason requested with [`Context::stop`] in this callback.
    pub(crate) fn stop_requested(&self) -> Option<ExitReason> {
        if self.requests & requests::STOP == 0 {
            return None;
        }
        self.extra.as_ref().and_then(|extra| extra.stop.clone())
    }

    /// A durable message's handler starts.
    pub(crate) fn begin_delivery(&mut self, delivery: Delivery, token: AckToken) {
        self.extra().delivery = Some((delivery, Some(token)));
    }

    /// A durable message's handler returned: its ack, unless acked already.
    pub(crate) fn end_delivery(&mut self) -> Option<AckToken> {
        self.extra.as_mut().and_then(|extra| extra.delivery.take()).and_then(|(_, token)| token)
    }

    /// A durable message's handler failed (the actor is ending): its links
    /// are told which message, so a supervisor counts the restarts one
    /// poison message causes once.
    pub(crate) fn fail_delivery(&mut self, token: &AckToken) {
        self.extra().failed = Some(token.key());
    }

    /// The durable message this actor's handler failed on: it returned an
    /// abnormal error, or is still running (a panic, a kill) without having
    /// acked.
    pub(crate) fn failed_delivery(&self) -> Option<FailedDelivery> {
        let extra = self.extra.as_ref()?;
        extra.failed.or_else(|| extra.delivery.as_ref().and_then(|(_, token)| token.as_ref()).map(AckToken::key))
    }

    /// Takes the pending continue, if any.
    pub(crate) fn take_continue(&mut self) -> Option<Envelope<A>> {
        if self.requests & requests::CONTINUE == 0 {
            return None;
        }
        self.requests &= !requests::CONTINUE;
        self.extra.as_mut().and_then(|extra| extra.cont.take())
    }

    /// This actor's own handle.
    ///
    /// ```
    /// use treeline::*;
    /// struct Pinger;
    /// impl Actor for Pinger {
    ///     type Args = ();
    ///     async fn init(_: (), ctx: &mut Context<Self>) -> Result<Self, InitError> {
    ///         ctx.myself().try_send(Tick).expect("own mailbox"); // a message to itself
    ///         Ok(Pinger)
    ///     }
    /// }
    /// struct Tick;
    /// impl HandleInfo<Tick> for Pinger {
    ///     async fn handle_info(&mut self, _: Tick, _: &mut Context<Self>) -> Result<(), ExitReason> { Ok(()) }
    /// }
    /// ```
    pub fn myself(&self) -> &ActorRef<A> {
        &self.myself
    }

    /// This actor's id.
    pub fn id(&self) -> ActorId {
        self.myself.id()
    }

    /// The actor that spawned this one ([`ActorId::SYSTEM`] for top-level
    /// actors). An exit signal from the parent makes a trapping actor stop
    /// (running `terminate`) instead of receiving an [`Exit`] message.
    pub fn parent(&self) -> ActorId {
        self.parent
    }

    /// The System this actor belongs to.
    pub fn system(&self) -> &System {
        &self.myself.cell.system
    }

    // --- spawning ---

    /// Spawns an actor, not linked to this one (OTP `start`).
    pub async fn spawn<B: Actor>(&mut self, args: B::Args) -> Result<ActorRef<B>, StartError> {
        self.spawn_with(args, SpawnOptions::default()).await
    }

    /// Spawns an actor linked to this one (OTP `start_link`): this actor is
    /// its parent.
    ///
    /// ```
    /// use treeline::*;
    /// struct Worker;
    /// impl Actor for Worker {
    ///     type Args = ();
    ///     async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> { Ok(Worker) }
    /// }
    /// struct Boss { worker: ActorRef<Worker> }
    /// impl Actor for Boss {
    ///     type Args = ();
    ///     async fn init(_: (), ctx: &mut Context<Self>) -> Result<Self, InitError> {
    ///         // If the worker crashes, the boss dies with it (and vice versa).
    ///         let worker = ctx.spawn_link::<Worker>(()).await.map_err(|e| InitError::stop(e.to_string()))?;
    ///         Ok(Boss { worker })
    ///     }
    /// }
    /// ```
    pub async fn spawn_link<B: Actor>(&mut self, args: B::Args) -> Result<ActorRef<B>, StartError> {
        self.spawn_with(args, SpawnOptions::default().link()).await
    }

    /// Spawns with registrations to make before `init` (child specs).
    pub(crate) async fn spawn_with_setup<B: Actor>(
        &mut self,
        args: B::Args,
        options: SpawnOptions<B>,
        setups: &[spawn::Setup<B>],
    ) -> Result<ActorRef<B>, StartError> {
        let system = self.system().clone();
        let parent = Parent::Actor { pid: self.myself.pid(), relations: &self.myself.cell.relations };
        spawn::start_with_setup::<B>(&system, args, options, parent, setups).await
    }

    /// Spawns an actor with options ([`SpawnOptions::link`] links it).
    pub async fn spawn_with<B: Actor>(
        &mut self,
        args: B::Args,
        options: SpawnOptions<B>,
    ) -> Result<ActorRef<B>, StartError> {
        let system = self.system().clone();
        let parent = Parent::Actor { pid: self.myself.pid(), relations: &self.myself.cell.relations };
        spawn::start::<B>(&system, args, options, parent).await
    }

    // --- links, monitors, exits ---

    /// Links this actor with `target` (bidirectional; at most one link per
    /// pair). When either dies, the other gets an exit signal with the reason.
    /// Linking to a dead actor delivers an exit signal with
    /// [`ExitReason::NoProc`] to this actor, as OTP does.
    ///
    /// ```
    /// use treeline::*;
    /// struct Pair;
    /// impl Actor for Pair {
    ///     type Args = Pid;
    ///     async fn init(partner: Pid, ctx: &mut Context<Self>) -> Result<Self, InitError> {
    ///         ctx.link(&partner); // each dies when the other dies abnormally
    ///         Ok(Pair)
    ///     }
    /// }
    /// ```
    pub fn link(&mut self, target: impl Into<Pid>) {
        let target = target.into();
        if target.id() == self.id() {
            return;
        }
        let me = self.myself.pid();
        let linked = self.relations().with(|relations| relations.links.insert(target.id(), target.clone()).is_none());
        if !linked {
            return;
        }
        if target.0.signal(Signal::Link { from: me }).is_err() {
            let noproc = Signal::Exit { from: target.id(), reason: ExitReason::NoProc, linked: true, failed: None };
            let _ = Process::signal(&*self.myself.cell, noproc);
        }
    }

    /// Removes the link with `target`. No exit signal from it arrives after
    /// this returns, even if it is already dying.
    ///
    /// ```
    /// use treeline::*;
    /// struct Loner;
    /// impl Actor for Loner {
    ///     type Args = Pid;
    ///     async fn init(partner: Pid, ctx: &mut Context<Self>) -> Result<Self, InitError> {
    ///         ctx.link(&partner);
    ///         ctx.unlink(&partner); // no exit signal from it from now on
    ///         Ok(Loner)
    ///     }
    /// }
    /// ```
    pub fn unlink(&mut self, target: impl Into<Pid>) {
        let target = target.into();
        let id = self.id();
        let unlinked = self.relations().with_existing(|relations| relations.links.remove(&target.id()).is_some());
        if unlinked == Some(true) {
            let _ = target.0.signal(Signal::Unlink { from: id });
        }
    }

    /// Monitors `target`: when it dies this actor gets a [`Down`] in
    /// [`HandleInfo<Down>`]. Monitors stack (each call is a separate monitor).
    /// Monitoring a dead actor gives `Down` with [`ExitReason::NoProc`] at once.
    ///
    /// ```
    /// use treeline::*;
    /// use treeline::signal::Down;
    /// struct Watcher;
    /// impl Actor for Watcher {
    ///     type Args = Pid;
    ///     async fn init(target: Pid, ctx: &mut Context<Self>) -> Result<Self, InitError> {
    ///         ctx.monitor(&target);
    ///         Ok(Watcher)
    ///     }
    /// }
    /// impl HandleInfo<Down> for Watcher {
    ///     async fn handle_info(&mut self, down: Down, _: &mut Context<Self>) -> Result<(), ExitReason> {
    ///         println!("{} is gone: {}", down.id, down.reason);
    ///         Ok(())
    ///     }
    /// }
    /// ```
    pub fn monitor(&mut self, target: impl Into<Pid>) -> MonitorRef
    where
        A: HandleInfo<Down>,
    {
        self.extra().on_down.get_or_insert(down_envelope::<A>);
        let target = target.into();
        let monitor = self.system().next_monitor_ref();
        let me = self.myself.pid();
        self.relations().with(|relations| relations.monitoring.insert(monitor, target.clone()));
        if target.0.signal(Signal::Monitor { by: me, monitor }).is_err() {
            let down = Down { monitor, id: target.id(), reason: ExitReason::NoProc };
            let _ = self.myself.cell.mailbox.push_arrived(Arrived::Down(down));
        }
        monitor
    }

    /// Removes a monitor. Its `Down` is never handled afterwards, even if the
    /// target already died (OTP `demonitor(Ref, [flush])`). Returns false for
    /// an unknown or already handled monitor.
    ///
    /// ```
    /// use treeline::*;
    /// use treeline::signal::Down;
    /// struct Curious;
    /// impl Actor for Curious {
    ///     type Args = Pid;
    ///     async fn init(target: Pid, ctx: &mut Context<Self>) -> Result<Self, InitError> {
    ///         let monitor = ctx.monitor(&target);
    ///         assert!(ctx.demonitor(monitor)); // no Down will be handled for it
    ///         Ok(Curious)
    ///     }
    /// }
    /// impl HandleInfo<Down> for Curious {
    ///     async fn handle_info(&mut self, _: Down, _: &mut Context<Self>) -> Result<(), ExitReason> { Ok(()) }
    /// }
    /// ```
    pub fn demonitor(&mut self, monitor: MonitorRef) -> bool {
        match self.relations().with_existing(|relations| relations.monitoring.remove(&monitor)).flatten() {
            Some(target) => {
                let _ = target.0.signal(Signal::Demonitor { monitor });
                true
            }
            None => false,
        }
    }

    /// Turns exit signals into [`Exit`] messages (OTP
    /// `process_flag(trap_exit, true)`), except the untrappable
    /// [`ExitReason::Kill`] and an exit from the parent, which runs
    /// `terminate` and stops.
    ///
    /// ```
    /// use treeline::*;
    /// use treeline::signal::Exit;
    /// struct Guard;
    /// impl Actor for Guard {
    ///     type Args = ();
    ///     async fn init(_: (), ctx: &mut Context<Self>) -> Result<Self, InitError> {
    ///         ctx.trap_exit(true);
    ///         Ok(Guard)
    ///     }
    /// }
    /// impl HandleInfo<Exit> for Guard {
    ///     async fn handle_info(&mut self, exit: Exit, _: &mut Context<Self>) -> Result<(), ExitReason> {
    ///         println!("{} exited: {}", exit.from, exit.reason); // and we live on
    ///         Ok(())
    ///     }
    /// }
    /// ```
    pub fn trap_exit(&mut self, on: bool)
    where
        A: HandleInfo<Exit>,
    {
        self.extra().on_exit.get_or_insert(info_envelope::<A, Exit>);
        self.myself.cell.set_trap_exit(on);
    }

    /// True if this actor traps exits.
    pub fn traps_exits(&self) -> bool {
        self.myself.cell.traps_exits()
    }

    /// Sends an exit signal from this actor to `target` (OTP `exit/2`).
    /// Returns false if the target was already dead.
    ///
    /// ```
    /// use treeline::*;
    /// struct Judge;
    /// impl Actor for Judge {
    ///     type Args = Pid;
    ///     async fn init(convict: Pid, ctx: &mut Context<Self>) -> Result<Self, InitError> {
    ///         ctx.exit(&convict, ExitReason::Kill); // untrappable
    ///         Ok(Judge)
    ///     }
    /// }
    /// ```
    pub fn exit(&self, target: impl Into<Pid>, reason: ExitReason) -> bool {
        let from = self.id();
        target.into().0.signal(Signal::Exit { from, reason, linked: false, failed: None }).is_ok()
    }

    // --- registry: names and topics ---

    /// Registers this actor under `name` (many names per actor are fine).
    /// A name held by another live actor gives
    /// [`RegistryError::AlreadyRegistered`] and changes nothing. Released when
    /// the actor dies.
    ///
    /// ```
    /// use treeline::{Actor, Context, InitError, Name};
    ///
    /// struct Cache;
    /// const CACHE: Name<Cache> = Name::new("cache");
    /// impl Actor for Cache {
    ///     type Args = ();
    ///     async fn init(_: (), ctx: &mut Context<Self>) -> Result<Self, InitError> {
    ///         ctx.register(CACHE)?;
    ///         Ok(Cache)
    ///     }
    /// }
    /// ```
    pub fn register(&mut self, name: Name<A>) -> Result<(), RegistryError> {
        self.system().registry().register_name(&self.myself.cell, &name.key(), None)
    }

    /// Replaces the value of a name this actor holds with `update` of the
    /// current one (`None` if it has none, or one of another type), read
    /// back with [`Registry::value`](crate::registry::Registry::value)
    /// (Elixir's `update_value/3`). `NotRegistered` if nobody holds the
    /// name, `NotOwner` if another actor does.
    pub fn update_value<T: Send + Sync + 'static>(
        &mut self,
        name: &Name<A>,
        update: impl FnOnce(Option<&T>) -> T,
    ) -> Result<(), RegistryError> {
        self.system().registry().update_value(&self.myself.pid(), name.as_str(), update)
    }

    /// [`Context::register`] with metadata, read back with
    /// [`Registry::value`](crate::registry::Registry::value).
    pub fn register_with<T: Send + Sync + 'static>(&mut self, name: Name<A>, meta: T) -> Result<(), RegistryError> {
        self.system().registry().register_name(&self.myself.cell, &name.key(), Some(Meta::new(meta)))
    }

    /// Removes this actor's registration of `name`. Absent: `Ok`. Held by
    /// another actor: [`RegistryError::NotOwner`].
    pub fn unregister(&mut self, name: &Name<A>) -> Result<(), RegistryError> {
        self.system().registry().unregister_name(&self.myself.cell, name.as_str())
    }

    /// Subscribes this actor to events `E` on `E::TOPIC`; each publish
    /// reaches [`HandleEvent<E>`]. Released when the actor dies.
    ///
    /// ```
    /// use treeline::{Actor, Context, Event, ExitReason, HandleEvent, InitError};
    ///
    /// #[derive(Clone)]
    /// struct OrderPlaced { cents: u64 }
    /// impl Event for OrderPlaced { const TOPIC: &'static str = "orders.placed"; }
    ///
    /// struct Billing { charged: u64 }
    /// impl Actor for Billing {
    ///     type Args = ();
    ///     async fn init(_: (), ctx: &mut Context<Self>) -> Result<Self, InitError> {
    ///         ctx.subscribe::<OrderPlaced>()?;
    ///         Ok(Billing { charged: 0 })
    ///     }
    /// }
    /// impl HandleEvent<OrderPlaced> for Billing {
    ///     async fn handle_event(&mut self, e: OrderPlaced, _: &mut Context<Self>) -> Result<(), ExitReason> {
    ///         self.charged += e.cents;
    ///         Ok(())
    ///     }
    /// }
    /// ```
    pub fn subscribe<E: Event>(&mut self) -> Result<(), RegistryError>
    where
        A: HandleEvent<E>,
    {
        let pattern = Pattern::new(E::TOPIC)?;
        self.system().registry().subscribe_cell::<E, A>(&self.myself.cell, pattern, None)
    }

    /// Subscribes to events `E` on a topic or a wildcard pattern
    /// (`orders.*`, `orders.>`). Subscribing twice means two deliveries. An
    /// invalid pattern is [`RegistryError::InvalidTopic`].
    ///
    /// ```
    /// use treeline::{Actor, Context, Event, ExitReason, HandleEvent, InitError};
    ///
    /// #[derive(Clone)]
    /// struct PriceChanged { cents: u64 }
    /// impl Event for PriceChanged { const TOPIC: &'static str = "prices.default"; }
    ///
    /// struct Board;
    /// impl Actor for Board {
    ///     type Args = ();
    ///     async fn init(_: (), ctx: &mut Context<Self>) -> Result<Self, InitError> {
    ///         ctx.subscribe_to::<PriceChanged>("prices.*")?; // prices.eu, prices.us, ...
    ///         assert!(ctx.subscribe_to::<PriceChanged>("prices.>.eu").is_err());
    ///         Ok(Board)
    ///     }
    /// }
    /// impl HandleEvent<PriceChanged> for Board {
    ///     async fn handle_event(&mut self, _: PriceChanged, _: &mut Context<Self>) -> Result<(), ExitReason> {
    ///         Ok(())
    ///     }
    /// }
    /// ```
    pub fn subscribe_to<E: Event>(&mut self, pattern: &str) -> Result<(), RegistryError>
    where
        A: HandleEvent<E>,
    {
        let pattern = Pattern::new(pattern)?;
        self.system().registry().subscribe_cell::<E, A>(&self.myself.cell, pattern, None)
    }

    /// [`Context::subscribe_to`] with metadata (visible to
    /// [`Registry::subscribers`](crate::registry::Registry::subscribers)).
    pub fn subscribe_with<E: Event, T: Send + Sync + 'static>(
        &mut self,
        pattern: &str,
        meta: T,
    ) -> Result<(), RegistryError>
    where
        A: HandleEvent<E>,
    {
        let pattern = Pattern::new(pattern)?;
        self.system().registry().subscribe_cell::<E, A>(&self.myself.cell, pattern, Some(Meta::new(meta)))
    }

    /// Removes all of this actor's subscriptions to `E` on `E::TOPIC`;
    /// returns how many there were.
    pub fn unsubscribe<E: Event>(&mut self) -> Result<usize, RegistryError> {
        self.unsubscribe_from::<E>(E::TOPIC)
    }

    /// Removes all of this actor's subscriptions to `E` under `pattern`.
    pub fn unsubscribe_from<E: Event>(&mut self, pattern: &str) -> Result<usize, RegistryError> {
        let pattern = Pattern::new(pattern)?;
        Ok(self.system().registry().unsubscribe_cell::<E, A>(&self.myself.cell, &pattern))
    }

    /// Publishes `event` on its topic to every subscriber, this actor
    /// included if it subscribes.
    pub async fn publish<E: Event>(&self, event: E) -> Result<usize, PublishError> {
        self.system().registry().publish(event).await
    }

    /// Publishes `event` with options: another topic, or everyone but one
    /// actor (Phoenix's `broadcast_from` is `except(ctx.id())`).
    ///
    /// ```
    /// use treeline::{Actor, Context, Event, ExitReason, HandleCast, HandleEvent, InitError};
    /// use treeline::registry::PublishOptions;
    ///
    /// #[derive(Clone)]
    /// struct Said(String);
    /// impl Event for Said { const TOPIC: &'static str = "chat.lobby"; }
    ///
    /// /// A chat member: tells the others what it says, hears what they say.
    /// struct Member;
    /// impl Actor for Member {
    ///     type Args = ();
    ///     async fn init(_: (), ctx: &mut Context<Self>) -> Result<Self, InitError> {
    ///         ctx.subscribe::<Said>()?;
    ///         Ok(Member)
    ///     }
    /// }
    /// impl HandleCast<String> for Member {
    ///     async fn handle_cast(&mut self, text: String, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
    ///         let others = PublishOptions::new().except(ctx.id());
    ///         let _reached = ctx.publish_with(Said(text), others).await.map_err(ExitReason::error)?;
    ///         Ok(())
    ///     }
    /// }
    /// impl HandleEvent<Said> for Member {
    ///     async fn handle_event(&mut self, Said(text): Said, _: &mut Context<Self>) -> Result<(), ExitReason> {
    ///         println!("heard: {text}");
    ///         Ok(())
    ///     }
    /// }
    /// ```
    pub async fn publish_with<E: Event>(&self, event: E, options: PublishOptions) -> Result<usize, PublishError> {
        self.system().registry().publish_with(event, options).await
    }

    /// Publishes `event` durably (see
    /// [`System::publish_durable`](crate::System::publish_durable)): persisted
    /// for every matching durable subscription before this returns, then
    /// published to the plain subscribers.
    pub async fn publish_durable<E: Event + Durable>(&self, event: E) -> Result<Published, DurableError> {
        self.system().publish_durable(event).await
    }

    /// [`Context::publish_durable`] with options (see
    /// [`System::publish_durable_with`](crate::System::publish_durable_with)).
    pub async fn publish_durable_with<E: Event + Durable>(
        &self,
        event: E,
        options: PublishOptions,
    ) -> Result<Published, DurableError> {
        self.system().publish_durable_with(event, options).await
    }

    /// [`Context::publish_durable`] under a message id the producer chose
    /// (see [`System::publish_durable_with_id`](crate::System::publish_durable_with_id)).
    pub async fn publish_durable_with_id<E: Event + Durable>(
        &self,
        id: &str,
        event: E,
    ) -> Result<Published, DurableError> {
        self.system().publish_durable_with_id(id, event).await
    }

    // --- timers ---

    /// Sends `msg` to this actor's [`HandleInfo<M>`] after `delay`
    /// (`erlang:send_after/3`). Cancel it with [`TimerRef::cancel`]. Timers
    /// die with the actor.
    ///
    /// ```
    /// use std::time::Duration;
    /// use treeline::*;
    /// struct Reminder;
    /// impl Actor for Reminder {
    ///     type Args = ();
    ///     async fn init(_: (), ctx: &mut Context<Self>) -> Result<Self, InitError> {
    ///         let timer = ctx.send_after(Duration::from_secs(30), Remind);
    ///         let _ = timer; // timer.cancel() would call it off
    ///         Ok(Reminder)
    ///     }
    /// }
    /// struct Remind;
    /// impl HandleInfo<Remind> for Reminder {
    ///     async fn handle_info(&mut self, _: Remind, _: &mut Context<Self>) -> Result<(), ExitReason> { Ok(()) }
    /// }
    /// ```
    pub fn send_after<M: Send + 'static>(&mut self, delay: Duration, msg: M) -> TimerRef
    where
        A: HandleInfo<M>,
    {
        let timer = timer::send_after(Arc::downgrade(&self.myself.cell), delay, msg);
        self.keep_timer(timer.clone());
        timer
    }

    /// Sends a clone of `msg` every `period` until cancelled (or the actor
    /// dies). Ticks missed while the actor was busy are skipped. A zero
    /// period, or one past the clock's range, is a [`TimerError`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use treeline::*;
    /// use treeline::actor::TimerError;
    /// struct Heart;
    /// impl Actor for Heart {
    ///     type Args = ();
    ///     async fn init(_: (), ctx: &mut Context<Self>) -> Result<Self, InitError> {
    ///         ctx.send_interval(Duration::from_secs(1), Beat).expect("a valid period");
    ///         assert_eq!(ctx.send_interval(Duration::ZERO, Beat).err(), Some(TimerError::ZeroPeriod));
    ///         Ok(Heart)
    ///     }
    /// }
    /// #[derive(Clone)]
    /// struct Beat;
    /// impl HandleInfo<Beat> for Heart {
    ///     async fn handle_info(&mut self, _: Beat, _: &mut Context<Self>) -> Result<(), ExitReason> { Ok(()) }
    /// }
    /// ```
    pub fn send_interval<M: Clone + Send + 'static>(&mut self, period: Duration, msg: M) -> Result<TimerRef, TimerError>
    where
        A: HandleInfo<M>,
    {
        let timer = timer::send_interval(Arc::downgrade(&self.myself.cell), period, msg)?;
        self.keep_timer(timer.clone());
        Ok(timer)
    }

    fn keep_timer(&mut self, timer: TimerRef) {
        let timers = &mut self.book().timers;
        timers.retain(TimerRef::is_active);
        timers.push(timer);
    }

    /// Feeds `stream` into this actor: each item is handled as a message
    /// by [`HandleInfo<Item>`], in order and in turn with the other
    /// messages, and the end by [`HandleInfo<StreamEnded>`]. The next item
    /// is pulled once the previous one is in the mailbox, so a bounded
    /// `Wait` mailbox slows the stream down to the actor's pace. The stream
    /// is dropped when the actor dies or [`StreamRef::cancel`] is called.
    ///
    /// ```
    /// use treeline::{Actor, Context, ExitReason, HandleInfo, InitError};
    /// use treeline::actor::StreamEnded;
    ///
    /// /// Sums the numbers of a stream, then stops.
    /// struct Summer(u64);
    /// impl Actor for Summer {
    ///     type Args = Vec<u64>;
    ///     async fn init(numbers: Vec<u64>, ctx: &mut Context<Self>) -> Result<Self, InitError> {
    ///         ctx.add_stream(futures::stream::iter(numbers));
    ///         Ok(Summer(0))
    ///     }
    /// }
    /// impl HandleInfo<u64> for Summer {
    ///     async fn handle_info(&mut self, n: u64, _: &mut Context<Self>) -> Result<(), ExitReason> {
    ///         self.0 += n;
    ///         Ok(())
    ///     }
    /// }
    /// impl HandleInfo<StreamEnded> for Summer {
    ///     async fn handle_info(&mut self, _: StreamEnded, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
    ///         ctx.stop(ExitReason::shutdown_with(format!("sum {}", self.0)));
    ///         Ok(())
    ///     }
    /// }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let system = treeline::System::new();
    /// let summer = system.spawn::<Summer>(vec![1, 2, 3]).await.unwrap();
    /// assert_eq!(summer.join().await.to_string(), "shutdown: sum 6");
    /// # }
    /// ```
    pub fn add_stream<S>(&mut self, stream: S) -> StreamRef
    where
        S: Stream + Send + 'static,
        S::Item: Send + 'static,
        A: HandleInfo<S::Item> + HandleInfo<StreamEnded>,
    {
        let id = self.system().next_ref();
        let fed = stream::feed(Arc::downgrade(&self.myself.cell), id, stream);
        self.keep_timer(fed.task());
        fed
    }

    // --- what happens after the current callback ---

    /// Runs `cont` in [`HandleContinue<C>`] right after the current callback,
    /// before any message (OTP `{continue, C}`). From `init`, it runs before
    /// the first message. A later call replaces an earlier one in the same
    /// callback.
    pub fn continue_with<C: Send + 'static>(&mut self, cont: C)
    where
        A: HandleContinue<C>,
    {
        self.extra().cont = Some(Envelope::new::<_, false>(ContinueMsg(cont)));
        self.requests |= requests::CONTINUE;
    }

    /// If no message arrives within `timeout` after the current callback,
    /// [`HandleInfo<IdleTimeout>`] is called (OTP's return timeout). Any
    /// message cancels it; it is ignored if a message is already waiting.
    ///
    /// ```
    /// use std::time::Duration;
    /// use treeline::*;
    /// use treeline::signal::IdleTimeout;
    /// struct Session;
    /// impl Actor for Session {
    ///     type Args = ();
    ///     async fn init(_: (), ctx: &mut Context<Self>) -> Result<Self, InitError> {
    ///         ctx.idle_timeout(Duration::from_secs(60));
    ///         Ok(Session)
    ///     }
    /// }
    /// impl HandleInfo<IdleTimeout> for Session {
    ///     async fn handle_info(&mut self, _: IdleTimeout, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
    ///         ctx.stop(ExitReason::Normal); // idle for a minute: end the session
    ///         Ok(())
    ///     }
    /// }
    /// ```
    pub fn idle_timeout(&mut self, timeout: Duration)
    where
        A: HandleInfo<IdleTimeout>,
    {
        let extra = self.extra();
        extra.on_timeout.get_or_insert(info_envelope::<A, IdleTimeout>);
        extra.idle_timeout = Some(timeout);
        self.requests |= requests::IDLE_TIMEOUT;
    }

    /// Stops the actor with `reason` when the current callback returns;
    /// `terminate` runs. In a call handler the reply is delivered after
    /// `terminate`.
    ///
    /// ```
    /// use treeline::*;
    /// struct Job;
    /// impl Actor for Job {
    ///     type Args = ();
    ///     async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> { Ok(Job) }
    /// }
    /// struct Done;
    /// impl HandleCast<Done> for Job {
    ///     async fn handle_cast(&mut self, _: Done, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
    ///         ctx.stop(ExitReason::Normal); // terminate runs after this handler
    ///         Ok(())
    ///     }
    /// }
    /// ```
    pub fn stop(&mut self, reason: ExitReason) {
        self.extra().stop = Some(reason);
        self.requests |= requests::STOP;
    }

    /// Releases spare mailbox buffer memory after the current callback (OTP
    /// `hibernate`). State and behaviour are unchanged.
    ///
    /// ```
    /// use treeline::*;
    /// struct Rare;
    /// impl Actor for Rare {
    ///     type Args = ();
    ///     async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> { Ok(Rare) }
    /// }
    /// struct Burst(Vec<u8>);
    /// impl HandleCast<Burst> for Rare {
    ///     async fn handle_cast(&mut self, _: Burst, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
    ///         ctx.hibernate(); // give spare buffers back after a burst
    ///         Ok(())
    ///     }
    /// }
    /// ```
    pub fn hibernate(&mut self) {
        self.requests |= requests::HIBERNATE;
    }

    // --- internal ---

    /// Consumes the durable queue `queue` with the default [`Consume`]
    /// settings (window 1, delivery limit 10): its messages, first those a
    /// previous consumer left unacked, arrive as casts, one at a time, and
    /// each is acked when its handler returns. Usually called in `init`;
    /// the actor stays the queue's consumer until it dies.
    ///
    /// A queue has one consumer at a time: while another live actor consumes
    /// it, this fails with [`DurableError::AlreadyConsumed`].
    ///
    /// See [`DurableQueue`] for an example.
    pub fn consume<M: Durable>(&mut self, queue: &DurableQueue<M>) -> Result<(), DurableError>
    where
        A: HandleCast<M>,
    {
        self.consume_with(queue, Consume::new())
    }

    /// [`consume`](Self::consume) with a window and a delivery limit.
    pub fn consume_with<M: Durable>(&mut self, queue: &DurableQueue<M>, settings: Consume) -> Result<(), DurableError>
    where
        A: HandleCast<M>,
    {
        crate::durable::attach(&self.myself.cell, queue, settings)
    }

    /// Consumes the durable subscription `subscription` (window 1, delivery
    /// limit 10): its events arrive through `HandleEvent<E>`, at least
    /// once, in publish order, each acked when its handler returns. See
    /// [`DurableSubscription`].
    pub fn consume_events<E: Event + Durable>(
        &mut self,
        subscription: &DurableSubscription<E>,
    ) -> Result<(), DurableError>
    where
        A: HandleEvent<E>,
    {
        self.consume_events_with(subscription, Consume::new())
    }

    /// [`consume_events`](Self::consume_events) with a window and a delivery
    /// limit.
    pub fn consume_events_with<E: Event + Durable>(
        &mut self,
        subscription: &DurableSubscription<E>,
        settings: Consume,
    ) -> Result<(), DurableError>
    where
        A: HandleEvent<E>,
    {
        crate::durable::attach_events(&self.myself.cell, subscription, settings)
    }

    /// How the durable message being handled was delivered (its sequence
    /// number, attempt and redelivered flag); `None` outside the handler of
    /// a durable message.
    ///
    /// ```
    /// use treeline::{Actor, Context, ExitReason, HandleCast, InitError};
    ///
    /// struct Mailer { last_sent: u64 }
    /// impl Actor for Mailer {
    ///     type Args = ();
    ///     async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> { Ok(Mailer { last_sent: 0 }) }
    /// }
    /// impl HandleCast<String> for Mailer {
    ///     async fn handle_cast(&mut self, to: String, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
    ///         if let Some(delivery) = ctx.delivery() {
    ///             if delivery.seq <= self.last_sent {
    ///                 return Ok(()); // a redelivery of something already done: ack and skip
    ///             }
    ///             self.last_sent = delivery.seq;
    ///         }
    ///         println!("mail to {to}");
    ///         Ok(())
    ///     }
    /// }
    /// ```
    pub fn delivery(&self) -> Option<Delivery> {
        self.extra.as_ref().and_then(|extra| extra.delivery.as_ref()).map(|(delivery, _)| *delivery)
    }

    /// Acks the durable message being handled now, before its handler
    /// returns: it will not be redelivered even if the handler then fails.
    /// Returns false outside the handler of a durable message, or if it was
    /// acked already.
    pub fn ack(&mut self) -> bool {
        match self.take_token() {
            Some(token) => {
                token.ack();
                true
            }
            None => false,
        }
    }

    /// Rejects the durable message being handled now (RabbitMQ's
    /// `basic.reject` without requeue): it is dead-lettered at once, with
    /// [`DurableDeadLetterReason::Rejected`] carrying `why`, and never
    /// delivered again; the handler then returns normally and the actor
    /// goes on with the next message. For a message the handler knows is
    /// bad: no crash, no restart, nothing counted against the supervisor's
    /// intensity. Returns false outside the handler of a durable message,
    /// or if it was acked (or rejected) already.
    ///
    /// ```
    /// use treeline::{Actor, Context, ExitReason, HandleCast, InitError};
    ///
    /// struct Billing;
    /// # impl Actor for Billing {
    /// #     type Args = ();
    /// #     async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> { Ok(Billing) }
    /// # }
    /// impl HandleCast<i64> for Billing {
    ///     async fn handle_cast(&mut self, cents: i64, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
    ///         if cents < 0 {
    ///             ctx.reject(format!("a negative charge: {cents}"));
    ///             return Ok(());
    ///         }
    ///         // charge it
    ///         Ok(())
    ///     }
    /// }
    /// ```
    ///
    /// [`DurableDeadLetterReason::Rejected`]: crate::durable::DurableDeadLetterReason::Rejected
    pub fn reject(&mut self, why: impl Into<String>) -> bool {
        match self.take_token() {
            Some(token) => {
                token.reject(why.into());
                true
            }
            None => false,
        }
    }

    /// Puts the durable message being handled now back in its queue, first
    /// in line, to be delivered again once `delay` is over (a NATS
    /// JetStream `nak` with a delay, without giving up the queue's order:
    /// the messages after it wait too). The handler then returns normally;
    /// nothing crashes, nothing counts against the supervisor's intensity.
    /// The redelivery is one more attempt ([`Delivery::attempt`]), so the
    /// queue's delivery limit bounds the retries. For a transient failure
    /// (a dependency down). Returns false outside the handler of a durable
    /// message, or if it was acked already.
    ///
    /// ```
    /// use std::time::Duration;
    /// use treeline::{Actor, Context, ExitReason, HandleCast, InitError};
    ///
    /// struct Mailer { smtp_up: bool }
    /// # impl Actor for Mailer {
    /// #     type Args = ();
    /// #     async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> { Ok(Mailer { smtp_up: true }) }
    /// # }
    /// impl HandleCast<String> for Mailer {
    ///     async fn handle_cast(&mut self, to: String, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
    ///         if !self.smtp_up {
    ///             ctx.retry_after(Duration::from_secs(5));
    ///             return Ok(());
    ///         }
    ///         println!("mail to {to}");
    ///         Ok(())
    ///     }
    /// }
    /// ```
    ///
    /// [`Delivery::attempt`]: crate::durable::Delivery::attempt
    pub fn retry_after(&mut self, delay: Duration) -> bool {
        match self.take_token() {
            Some(token) => {
                token.retry_after(delay);
                true
            }
            None => false,
        }
    }

    /// The ack of the durable message being handled, if not used yet.
    fn take_token(&mut self) -> Option<AckToken> {
        self.extra.as_mut().and_then(|extra| extra.delivery.as_mut()).and_then(|(_, token)| token.take())
    }

    /// Records a deferred reply the actor owes.
    pub(crate) fn owe<R: Send + 'static>(&mut self, shared: Arc<Deferred<R>>) {
        let owed = &mut self.book().owed;
        owed.retain(|entry| entry.upgrade().is_some_and(|o| !o.is_settled()));
        let shared: Arc<dyn Owed> = shared;
        owed.push(Arc::downgrade(&shared));
    }
}

impl<A: Actor> fmt::Debug for Context<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context").field("actor", &self.myself).field("parent", &self.parent).finish()
    }
}

fn info_envelope<A: HandleInfo<M>, M: Send + 'static>(msg: M) -> Envelope<A> {
    Envelope::new::<_, false>(InfoMsg(msg))
}

fn down_envelope<A: HandleInfo<Down>>(down: Down) -> Envelope<A> {
    Envelope::new::<_, false>(DownMsg(down))
}
