//! The [`System`]: the node handle that owns every actor.
//!
//! There is no global state: a System owns its process table, its id
//! counters and its dead-letter counters, so several Systems in one process
//! are independent, and a test creates and drops its own.
//!
//! Actors run as tokio tasks on the runtime that spawns them; create and use a
//! System inside a tokio runtime (any flavour).

pub(crate) mod deadlines;
mod run;
mod table;
mod via;

pub use run::RunOutcome;
pub use via::Via;

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;

use crate::actor::shutdown::{shutdown, FromSystem};
use crate::actor::spawn::{self, Parent, StartError};
use crate::actor::{Actor, SpawnOptions};
use crate::addr::{ActorId, ActorRef, Pid};
use crate::dead_letter::{DeadLetterCounters, DeadLetterStats};
use crate::durable::records::Role;
use crate::durable::store::{Start, Store};
use crate::durable::{Durable, DurableError, DurableQueue, JournalConfig, JournalStats};
use crate::durable::{DurableSubscription, Published, Retention, StartFrom};
use crate::event::Event;
use crate::exit::ExitReason;
use crate::introspect::{ActorInfo, BusyMarks, SystemSnapshot};
use crate::journal::recover::RecoveryReport;
use crate::journal::segment::JournalError;
use crate::registry::{Name, PublishError, PublishOptions, Registry};
use crate::signal::{Down, MonitorRef};
use crate::supervisor::SupervisorProbe;
use crate::topic::Pattern;
use crate::topic::Topic;
use deadlines::Deadlines;
use std::future::Future;
use table::ProcessTable;

/// How long shutdown waits for actors that are not top-level (spawned by
/// other actors, unlinked) before killing them.
const STRAGGLER_TIMEOUT: Duration = Duration::from_secs(5);

/// A treeline node: spawns actors and stops them all at shutdown.
///
/// Cloning is cheap (one `Arc`); all clones are the same System.
///
/// ```
/// use treeline::{Actor, Context, InitError, System};
///
/// struct Idle;
/// impl Actor for Idle {
///     type Args = ();
///     async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> { Ok(Idle) }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let system = System::new();
/// let idle = system.spawn::<Idle>(()).await.unwrap();
/// assert_eq!(system.actor_count(), 1);
/// system.shutdown().await; // every actor stopped, in reverse start order
/// assert!(!idle.is_alive());
/// assert_eq!(system.actor_count(), 0);
/// # }
/// ```
#[derive(Clone)]
pub struct System {
    inner: Arc<SystemInner>,
    /// Present in the handles the user owns (from [`System::new`] or
    /// [`System::with_journal`], and their clones): the last one dropped
    /// halts the System. Absent in the handle actors hold (`Context::system`),
    /// so that actors never keep their own System alive.
    _owner: Option<Arc<Owner>>,
}

/// Halts the System when the last user-owned handle goes.
struct Owner(Arc<SystemInner>);

impl Drop for Owner {
    fn drop(&mut self) {
        self.0.halt();
    }
}

struct SystemInner {
    next_id: AtomicU64,
    next_ref: AtomicU64,
    table: ProcessTable,
    dead_letters: DeadLetterCounters,
    deadlines: Arc<Deadlines>,
    registry: Registry,
    stopping: AtomicBool,
    /// The journal of durable queues, if the System has one.
    store: Option<Arc<Store>>,
    /// When the System began (for snapshots' uptime).
    started: tokio::time::Instant,
    /// How each live supervisor answers a snapshot, by its id (pruned of
    /// dead ones as new ones come and at every snapshot).
    supervisors: parking_lot::Mutex<HashMap<ActorId, SupervisorProbe>>,
    /// Since when snapshots have seen each running handler.
    busy: BusyMarks,
    #[cfg(feature = "metrics")]
    metrics: crate::metrics::MetricsState,
}

/// A System that does not keep it alive (what a durable queue holds to
/// publish dead letters).
#[derive(Clone)]
pub(crate) struct WeakSystem(std::sync::Weak<SystemInner>);

impl WeakSystem {
    pub(crate) fn upgrade(&self) -> Option<System> {
        self.0.upgrade().map(|inner| System { inner, _owner: None })
    }
}

impl System {
    /// A new, empty System.
    pub fn new() -> System {
        System::build(None)
    }

    fn build(store: Option<Arc<Store>>) -> System {
        crate::cell::panics::install();
        let inner = Arc::new(SystemInner {
            next_id: AtomicU64::new(1),
            next_ref: AtomicU64::new(1),
            table: ProcessTable::new(),
            dead_letters: DeadLetterCounters::default(),
            deadlines: Deadlines::new(),
            registry: Registry::new(),
            stopping: AtomicBool::new(false),
            store,
            started: tokio::time::Instant::now(),
            supervisors: parking_lot::Mutex::new(HashMap::new()),
            busy: BusyMarks::default(),
            #[cfg(feature = "metrics")]
            metrics: crate::metrics::MetricsState::default(),
        });
        let system = System { _owner: Some(Arc::new(Owner(inner.clone()))), inner };
        if let Some(store) = &system.inner.store {
            let system = system.downgrade();
            store.set_dead_letters(Box::new(move |letter| {
                if let Some(system) = system.upgrade() {
                    let _ = system.registry().try_publish(letter);
                }
            }));
        }
        system
    }

    /// A System with a journal for durable queues: opens (locks and
    /// recovers) the journal `config` names, and rebuilds every durable
    /// queue in it, with the messages that were persisted and not acked.
    ///
    /// A journal belongs to one System at a time: a second open of the same
    /// directory, from this process or another, fails with
    /// [`JournalError::Locked`] until the first System is dropped.
    /// Damage recovery must not repair (anything but a torn tail of the last
    /// segment) fails with [`JournalError::Corrupt`].
    ///
    /// ```
    /// use treeline::System;
    /// use treeline::durable::JournalConfig;
    /// use treeline::journal::{JournalError, MemStorage};
    ///
    /// let storage = MemStorage::new();
    /// let system = System::with_journal(JournalConfig::storage(storage.clone())).unwrap();
    /// let again = System::with_journal(JournalConfig::storage(storage.clone()));
    /// assert!(matches!(again, Err(JournalError::Locked)));
    /// drop(system);
    /// assert!(System::with_journal(JournalConfig::storage(storage)).is_ok());
    /// ```
    pub fn with_journal(config: JournalConfig) -> Result<System, JournalError> {
        Ok(System::build(Some(config.open()?)))
    }

    /// What the journal holds on disk; `None` without a journal.
    pub fn journal_stats(&self) -> Option<JournalStats> {
        self.inner.store.as_ref().map(|store| store.journal_stats())
    }

    /// What recovery found when the journal opened: the torn tail it cut,
    /// and the damage it skipped under
    /// [`Recovery::SkipDamaged`](crate::journal::Recovery::SkipDamaged). `None`
    /// without a journal.
    ///
    /// ```
    /// use treeline::System;
    /// use treeline::durable::JournalConfig;
    /// use treeline::journal::MemStorage;
    ///
    /// let system = System::with_journal(JournalConfig::storage(MemStorage::new())).unwrap();
    /// let report = system.journal_recovery().unwrap();
    /// assert!(report.tail_cut.is_none() && report.skipped.is_empty());
    /// ```
    pub fn journal_recovery(&self) -> Option<RecoveryReport> {
        self.inner.store.as_ref().map(|store| store.recovery_report().clone())
    }

    /// Creates the durable queue `name` for messages of type `M`, or opens
    /// it (with the messages it holds) if it exists. Creation is confirmed
    /// by the journal before this returns.
    ///
    /// Fails with [`DurableError::NoJournal`] on a System without a journal,
    /// [`DurableError::TypeMismatch`] if the queue holds another message
    /// type, and [`DurableError::InvalidName`] for an empty name.
    ///
    /// See [`DurableQueue`] for an example.
    pub async fn durable_queue<M: Durable>(&self, name: &str) -> Result<DurableQueue<M>, DurableError> {
        let store = self.store(name)?;
        let id = store.open_queue(name, M::TAG, Role::Mailbox, Start::New).await?;
        Ok(DurableQueue::new(store.clone(), id, name))
    }

    fn store(&self, name: &str) -> Result<&Arc<Store>, DurableError> {
        let store = self.inner.store.as_ref().ok_or(DurableError::NoJournal)?;
        if name.starts_with('$') {
            return Err(DurableError::InvalidName(name.to_owned()));
        }
        Ok(store)
    }

    /// Keeps a history of the events of type `E` published durably from now
    /// on, trimmed to `retention`, so that a new durable subscription can
    /// start from the past ([`StartFrom::Origin`], [`StartFrom::Seq`]).
    /// Calling it again with the same retention is a no-op; with another,
    /// [`DurableError::Conflict`].
    pub async fn event_log<E: Event + Durable>(&self, retention: Retention) -> Result<(), DurableError> {
        let store = self.inner.store.as_ref().ok_or(DurableError::NoJournal)?;
        let name = format!("$log:{}", E::TAG);
        store.open_queue(&name, E::TAG, Role::Log(retention.keep()), Start::New).await?;
        Ok(())
    }

    /// Creates (or reopens) the durable subscription `name` to the events
    /// of type `E` on their own topic ([`Event::TOPIC`]). See
    /// [`DurableSubscription`].
    pub async fn durable_subscription<E: Event + Durable>(
        &self,
        name: &str,
        from: StartFrom,
    ) -> Result<DurableSubscription<E>, DurableError> {
        self.durable_subscription_to(name, E::TOPIC, from).await
    }

    /// Creates (or reopens) the durable subscription `name` to the events of
    /// type `E` published on topics matching `pattern` (NATS wildcards `*`
    /// and `>`). `from` applies only at creation; a subscription that
    /// exists resumes after its last ack. Reusing the name with another
    /// pattern is [`DurableError::Conflict`]; starting from the past without
    /// an event log is [`DurableError::NoHistory`].
    pub async fn durable_subscription_to<E: Event + Durable>(
        &self,
        name: &str,
        pattern: &str,
        from: StartFrom,
    ) -> Result<DurableSubscription<E>, DurableError> {
        let store = self.store(name)?;
        let pattern = Pattern::new(pattern).map_err(DurableError::InvalidPattern)?;
        let start = match from {
            StartFrom::New => Start::New,
            StartFrom::Origin => Start::Origin,
            StartFrom::Seq(seq) => Start::Seq(seq),
        };
        let role = Role::Subscription(pattern.as_str().to_owned());
        let id = store.open_queue(name, E::TAG, role, start).await?;
        Ok(DurableSubscription::new(store.clone(), id, name))
    }

    /// Publishes `event` on its topic durably: it is persisted for every
    /// durable subscription whose pattern matches (and in the type's event
    /// log, if any) before this returns, then published to the plain
    /// subscribers as [`publish`](Self::publish) does (at most once).
    /// Returns how far it reached, durably and plainly.
    ///
    /// ```
    /// use treeline::{Durable, Event, System};
    /// use treeline::durable::{JournalConfig, StartFrom};
    /// use treeline::journal::MemStorage;
    ///
    /// #[derive(Clone, Durable, Event)]
    /// #[durable(tag = "OrderPlaced")]
    /// #[event(topic = "orders.placed")]
    /// struct OrderPlaced { order: u64 }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let system = System::with_journal(JournalConfig::storage(MemStorage::new())).unwrap();
    /// system.durable_subscription::<OrderPlaced>("billing", StartFrom::New).await.unwrap();
    /// let reach = system.publish_durable(OrderPlaced { order: 7 }).await.unwrap();
    /// assert_eq!((reach.durable, reach.plain), (1, 0));
    /// # }
    /// ```
    pub async fn publish_durable<E: Event + Durable>(&self, event: E) -> Result<Published, DurableError> {
        self.publish_durable_with(event, PublishOptions::new()).await
    }

    /// [`publish_durable`](Self::publish_durable) with options: another
    /// topic than `E::TOPIC`, or a plain subscriber to skip. `except` skips
    /// an actor among the plain subscribers only: a durable subscription is
    /// a queue, not an actor, and every one that matches persists the event.
    pub async fn publish_durable_with<E: Event + Durable>(
        &self,
        event: E,
        options: PublishOptions,
    ) -> Result<Published, DurableError> {
        self.publish_durable_inner(event, options, None).await
    }

    /// [`publish_durable`](Self::publish_durable) under a message id the
    /// producer chose (see [`DurableQueue::cast_with_id`]): within the
    /// dedupe window, a repeated id stores nothing more in the durable
    /// subscriptions (and event log) that have it already, and stores it
    /// in those that a crash kept from it. Plain subscribers, which are
    /// at-most-once, get every publish.
    ///
    /// ```
    /// use treeline::{Durable, Event, System};
    /// use treeline::durable::{JournalConfig, StartFrom};
    /// use treeline::journal::MemStorage;
    ///
    /// #[derive(Clone, Durable, Event)]
    /// #[durable(tag = "orders.OrderPlaced")]
    /// #[event(topic = "orders.placed")]
    /// struct OrderPlaced { order: u64 }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let system = System::with_journal(JournalConfig::storage(MemStorage::new())).unwrap();
    /// let billing = system.durable_subscription::<OrderPlaced>("billing", StartFrom::New).await.unwrap();
    /// system.publish_durable_with_id("order-7", OrderPlaced { order: 7 }).await.unwrap();
    /// // A retry after a lost confirm stores nothing more.
    /// system.publish_durable_with_id("order-7", OrderPlaced { order: 7 }).await.unwrap();
    /// assert_eq!(billing.stats().pending, 1);
    /// # }
    /// ```
    ///
    /// [`DurableQueue::cast_with_id`]: crate::durable::DurableQueue::cast_with_id
    pub async fn publish_durable_with_id<E: Event + Durable>(
        &self,
        id: &str,
        event: E,
    ) -> Result<Published, DurableError> {
        crate::durable::check_message_id(id)?;
        self.publish_durable_inner(event, PublishOptions::new(), Some(id)).await
    }

    async fn publish_durable_inner<E: Event + Durable>(
        &self,
        event: E,
        options: PublishOptions,
        msg_id: Option<&str>,
    ) -> Result<Published, DurableError> {
        let topic = match &options.topic {
            Some(topic) => topic.clone(),
            None => Topic::new(E::TOPIC).map_err(DurableError::InvalidPattern)?,
        };
        let store = self.inner.store.as_ref().ok_or(DurableError::NoJournal)?;
        let bytes = crate::durable::encode_message(&event).map_err(DurableError::Codec)?;
        let (confirms, subscriptions) = store.publish(E::TAG, &topic, bytes, msg_id);
        for confirm in confirms {
            match confirm.await {
                Ok(Ok(_)) => {}
                Ok(Err(error)) => return Err(error.into()),
                Err(_) => return Err(DurableError::Closed),
            }
        }
        let options = PublishOptions { topic: Some(topic), ..options };
        let plain = self.registry().publish_with(event, options).await.unwrap_or(0);
        Ok(Published { durable: subscriptions, plain })
    }

    /// Spawns a top-level actor with default options. Returns once its `init`
    /// has finished; see [`StartError`] for the failures.
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
    /// let w = system.spawn::<W>(1).await.unwrap();
    /// assert_eq!(w.call(2).await, Ok(2));
    /// # }
    /// ```
    pub async fn spawn<A: Actor>(&self, args: A::Args) -> Result<ActorRef<A>, StartError> {
        self.spawn_with(args, SpawnOptions::default()).await
    }

    /// Spawns a top-level actor with options.
    ///
    /// ```
    /// # use treeline::*;
    /// # use treeline::mailbox::{MailboxConfig, Overflow};
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
    /// let options = SpawnOptions::new().mailbox(MailboxConfig::bounded(100, Overflow::Reject));
    /// let bounded = system.spawn_with::<Echo>((), options).await.unwrap();
    /// assert_eq!(bounded.call(1).await, Ok(1));
    /// # let _ = echo;
    /// # }
    /// ```
    pub async fn spawn_with<A: Actor>(
        &self,
        args: A::Args,
        options: SpawnOptions<A>,
    ) -> Result<ActorRef<A>, StartError> {
        spawn::start::<A>(self, args, options, Parent::System).await
    }

    /// Stops every actor and returns when all have stopped.
    ///
    /// 1. New spawns are refused ([`StartError::SystemStopped`]).
    /// 2. Top-level actors are stopped one at a time, newest first, each as
    ///    its parent would: an exit signal `Shutdown` (a trapping actor runs
    ///    `terminate`), then a kill after its [`ShutdownPolicy`](crate::actor::ShutdownPolicy) timeout.
    /// 3. Any actor still alive (spawned unlinked by another actor) gets a
    ///    stop request; after 5 s the rest are killed.
    ///
    /// Idempotent. A `terminate` that panics or hangs cannot hang shutdown
    /// (the kill ends it at its next await point; a callback that never
    /// yields cannot be interrupted by any tokio runtime).
    ///
    /// ```
    /// # use treeline::*;
    /// # use treeline::actor::StartError;
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
    /// system.shutdown().await;
    /// assert!(!echo.is_alive());
    /// assert_eq!(system.spawn::<Echo>(()).await.err(), Some(StartError::SystemStopped));
    /// # }
    /// ```
    pub async fn shutdown(&self) {
        self.inner.stopping.store(true, Ordering::Release);
        for (pid, policy) in self.inner.table.top_level_newest_first() {
            shutdown(&mut FromSystem, &[(pid, policy)]).await;
        }
        loop {
            let rest = self.inner.table.all();
            if rest.is_empty() {
                break;
            }
            for pid in &rest {
                pid.request_stop(ExitReason::Shutdown);
            }
            let stopped = join_all(rest.iter().map(Pid::join));
            if tokio::time::timeout(STRAGGLER_TIMEOUT, stopped).await.is_err() {
                for pid in self.inner.table.all() {
                    pid.kill();
                }
            }
            self.inner.table.wait_empty().await;
        }
        self.inner.table.wait_empty().await;
        self.inner.deadlines.close().await;
        // Returning means the journal's directory is free to open again.
        if let Some(store) = &self.inner.store {
            let (closed, released) = tokio::sync::oneshot::channel();
            store.close(Box::new(move || {
                let _ = closed.send(());
            }));
            let _ = released.await;
        }
    }

    /// True once [`System::shutdown`] has started.
    pub fn is_stopping(&self) -> bool {
        self.inner.stopping.load(Ordering::Acquire)
    }

    /// This System's registry: names and topics.
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// A handle that does not keep this System alive.
    pub(crate) fn downgrade(&self) -> WeakSystem {
        WeakSystem(Arc::downgrade(&self.inner))
    }

    /// The actor holding `name`, addressed by the name: every call, cast
    /// and send resolves it anew (see [`Via`]).
    pub fn via<A: Actor>(&self, name: Name<A>) -> Via<A> {
        Via::new(self, name)
    }

    /// The live actor registered under `name` (see [`Registry::whereis`]).
    pub fn whereis<A: Actor>(&self, name: &Name<A>) -> Option<ActorRef<A>> {
        self.inner.registry.whereis(name)
    }

    /// Publishes `event` on its topic to every subscriber (see
    /// [`Registry::publish`]); returns how many it was queued for.
    ///
    /// ```
    /// use treeline::{Event, System};
    ///
    /// #[derive(Clone)]
    /// struct OrderPlaced { order: u64 }
    /// impl Event for OrderPlaced { const TOPIC: &'static str = "orders.placed"; }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let system = System::new();
    /// // Nobody subscribes yet: not an error, and counted as unrouted.
    /// assert_eq!(system.publish(OrderPlaced { order: 1 }).await, Ok(0));
    /// assert_eq!(system.registry().stats().unrouted, 1);
    /// # }
    /// ```
    pub async fn publish<E: Event>(&self, event: E) -> Result<usize, PublishError> {
        self.inner.registry.publish(event).await
    }

    /// Publishes `event` with options: another topic than `E::TOPIC`, or
    /// everyone but one actor (see [`PublishOptions`]).
    pub async fn publish_with<E: Event>(&self, event: E, options: PublishOptions) -> Result<usize, PublishError> {
        self.inner.registry.publish_with(event, options).await
    }

    /// Monitors `target` from outside any actor (a test, `main`): the
    /// returned future resolves to its [`Down`] when it dies, with the exit
    /// reason, or at once with [`ExitReason::NoProc`] if it is already dead
    /// (OTP's `monitor/2` on a dead pid). Dropping the future demonitors.
    ///
    /// ```
    /// use treeline::{Actor, Context, ExitReason, InitError, System};
    ///
    /// struct Worker;
    /// impl Actor for Worker {
    ///     type Args = ();
    ///     async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> { Ok(Worker) }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let system = System::new();
    /// let worker = system.spawn::<Worker>(()).await.unwrap();
    /// let down = system.monitor(&worker);
    /// worker.request_stop(ExitReason::Shutdown);
    /// let down = down.await;
    /// assert_eq!((down.id, down.reason), (worker.id(), ExitReason::Shutdown));
    /// assert_eq!(system.monitor(&worker).await.reason, ExitReason::NoProc);
    /// # }
    /// ```
    pub fn monitor(&self, target: impl Into<Pid>) -> impl Future<Output = Down> + Send + 'static {
        let pid = target.into();
        let monitor = self.next_monitor_ref();
        let alive = pid.is_alive();
        async move {
            let reason = if alive { pid.join().await } else { ExitReason::NoProc };
            Down { monitor, id: pid.id(), reason }
        }
    }

    /// Live actors.
    pub fn actor_count(&self) -> usize {
        self.inner.table.len()
    }

    /// What the System is doing now: every live actor (status, the message
    /// it handles, mailbox, counters, links, monitors, names, subscriptions,
    /// supervisors' children and restart counts), the calls in flight and
    /// the deadlocks among them, the registry, the durable queues, totals
    /// and the tokio runtime. See [`introspect`](crate::introspect).
    ///
    /// Built on demand; it never blocks an actor, and waits at most
    /// [`SUPERVISOR_WAIT`](crate::introspect::SUPERVISOR_WAIT) for a busy
    /// supervisor.
    ///
    /// ```
    /// # use treeline::{Actor, ChildSpec, Context, InitError, Supervisor, System};
    /// # struct Worker;
    /// # impl Actor for Worker {
    /// #     type Args = ();
    /// #     async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> { Ok(Worker) }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let system = System::new();
    /// let root = system.start(Supervisor::one_for_one().child(ChildSpec::<Worker>::worker("worker", ()))).await.unwrap();
    /// let snapshot = system.snapshot().await;
    /// let worker = snapshot.children(root.id()).next().unwrap();
    /// assert_eq!(worker.kind, "worker");
    /// let supervisor = snapshot.actor(root.id()).unwrap().supervisor.as_ref().unwrap();
    /// assert_eq!(supervisor.children[0].actor, Some(worker.id));
    /// # }
    /// ```
    pub async fn snapshot(&self) -> SystemSnapshot {
        crate::introspect::snapshot(self).await
    }

    /// Times every handler of this System into the
    /// `treeline_message_handle_seconds` histogram, and each message's time
    /// in the mailbox into `treeline_message_queue_seconds` (feature
    /// `metrics`; off by default: it costs three clock reads and two
    /// histogram records per message).
    ///
    /// ```
    /// let system = treeline::System::new();
    /// system.time_handlers(true);
    /// ```
    #[cfg(feature = "metrics")]
    pub fn time_handlers(&self, on: bool) {
        self.inner.metrics.set_timing(on);
    }

    /// [`System::snapshot`] of one actor; `None` if it is not alive.
    ///
    /// ```
    /// # use treeline::{Actor, Context, InitError, System};
    /// # struct Idle;
    /// # impl Actor for Idle {
    /// #     type Args = ();
    /// #     async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> { Ok(Idle) }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let system = System::new();
    /// let idle = system.spawn::<Idle>(()).await.unwrap();
    /// let info = system.actor_info(idle.id()).await.unwrap();
    /// assert_eq!(info.mailbox.len, 0);
    /// # }
    /// ```
    pub async fn actor_info(&self, id: ActorId) -> Option<ActorInfo> {
        crate::introspect::actor_info(self, id).await
    }

    /// The live actor with this id, if any.
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
    /// assert_eq!(system.lookup(echo.id()), Some(echo.pid()));
    /// # }
    /// ```
    pub fn lookup(&self, id: ActorId) -> Option<Pid> {
        self.inner.table.get(id)
    }

    /// Dead letters so far, by reason.
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
    /// assert_eq!(system.dead_letters().total(), 0);
    /// # let _ = echo;
    /// # }
    /// ```
    pub fn dead_letters(&self) -> DeadLetterStats {
        self.inner.dead_letters.snapshot()
    }

    // --- internal ---

    /// The same System, as actors hold it: it does not keep the System
    /// alive (see [`System`]'s ownership rule).
    pub(crate) fn for_actor(&self) -> System {
        System { inner: self.inner.clone(), _owner: None }
    }

    /// A new actor id, unless the System is shutting down.
    pub(crate) fn admit(&self) -> Result<ActorId, StartError> {
        if self.is_stopping() {
            return Err(StartError::SystemStopped);
        }
        Ok(ActorId(self.inner.next_id.fetch_add(1, Ordering::Relaxed)))
    }

    pub(crate) fn next_monitor_ref(&self) -> MonitorRef {
        MonitorRef(self.next_ref())
    }

    /// A number no other reference of this System has (monitors, streams).
    pub(crate) fn next_ref(&self) -> u64 {
        self.inner.next_ref.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn deadlines(&self) -> &Arc<Deadlines> {
        &self.inner.deadlines
    }

    pub(crate) fn table(&self) -> &ProcessTable {
        &self.inner.table
    }

    pub(crate) fn dead_letter_counters(&self) -> &DeadLetterCounters {
        &self.inner.dead_letters
    }

    /// Actors spawned so far.
    pub(crate) fn spawned(&self) -> u64 {
        self.inner.next_id.load(Ordering::Relaxed) - 1
    }

    pub(crate) fn uptime(&self) -> Duration {
        self.inner.started.elapsed()
    }

    #[cfg(feature = "metrics")]
    pub(crate) fn metrics_state(&self) -> &crate::metrics::MetricsState {
        &self.inner.metrics
    }

    pub(crate) fn busy_marks(&self) -> &BusyMarks {
        &self.inner.busy
    }

    pub(crate) fn journal_store(&self) -> Option<&Arc<Store>> {
        self.inner.store.as_ref()
    }

    /// Registers how supervisor `id` answers snapshots (its `init`).
    pub(crate) fn add_supervisor(&self, id: ActorId, probe: SupervisorProbe) {
        let mut supervisors = self.inner.supervisors.lock();
        if supervisors.len() >= 64 && supervisors.len().is_power_of_two() {
            supervisors.retain(|id, _| self.inner.table.get(*id).is_some());
        }
        supervisors.insert(id, probe);
    }

    /// The probes of the live supervisors `wanted` picks (dead ones are
    /// forgotten).
    pub(crate) fn supervisor_probes(&self, wanted: impl Fn(ActorId) -> bool) -> Vec<(ActorId, SupervisorProbe)> {
        let mut supervisors = self.inner.supervisors.lock();
        supervisors.retain(|id, _| self.inner.table.get(*id).is_some());
        supervisors.iter().filter(|(id, _)| wanted(**id)).map(|(id, probe)| (*id, probe.clone())).collect()
    }
}

impl SystemInner {
    /// Stops everything at once, without waiting: the last user-owned handle
    /// was dropped without [`System::shutdown`]. Every actor is killed (as
    /// when a node halts: no `terminate` runs), and the journal is closed and
    /// its directory released before this returns.
    fn halt(&self) {
        self.stopping.store(true, Ordering::Release);
        for pid in self.table.all() {
            pid.kill();
        }
        self.deadlines.close_now();
        if let Some(store) = &self.store {
            let (closed, released) = std::sync::mpsc::channel();
            store.close(Box::new(move || {
                let _ = closed.send(());
            }));
            let _ = released.recv();
        }
    }
}

impl Default for System {
    fn default() -> Self {
        System::new()
    }
}

impl fmt::Debug for System {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("System").field("actors", &self.actor_count()).field("stopping", &self.is_stopping()).finish()
    }
}
