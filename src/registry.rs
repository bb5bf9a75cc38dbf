//! The registry: unique names, and topics (duplicate keys) that make it a
//! pub/sub dispatcher (Elixir's `Registry` with unique and duplicate keys).
//!
//! * **Names**: a [`Name<A>`] maps to at most one live actor of type `A`.
//!   Registering a taken name fails with
//!   [`RegistryError::AlreadyRegistered`] naming the owner and changes
//!   nothing. One actor may hold many names.
//! * **Topics**: any number of actors subscribe to a topic (or a wildcard
//!   [`Pattern`]) for an event type `E`; a publish of `E` on a topic delivers
//!   it to each matching subscription's [`HandleEvent<E>`] as an ordinary
//!   message. Subscribing twice means two deliveries; unsubscribing removes
//!   all of the actor's subscriptions under that pattern (Phoenix.PubSub).
//! * **Lifetime**: an actor's names and subscriptions are released when it
//!   dies, **before** any `Down` or `Exit` about it is sent, so a restarted
//!   child can take the same name at once. A child spec can carry a name and
//!   subscriptions: every incarnation is registered again before its `init`.
//! * **Load shedding**: a publish never waits for a subscriber, except one
//!   whose mailbox policy is `Wait`. Every event a subscriber's policy sheds,
//!   or that reaches a dead subscriber, is a dead letter; subscribe to
//!   [`DeadLetter`] to observe them all.
//! * **Order**: events from one publisher reach each subscriber in publish
//!   order. Nothing is ordered across publishers.
//!
//! Names are sharded by hash and topic lists are copy-on-write, so lookups
//! and publishes from many tasks do not serialise on one lock.
//!
//! Each matching subscriber gets a clone of the event (the last one gets
//! the event itself). For a 256-byte event an `Arc` is three times cheaper
//! than a clone per subscriber (`benches/registry.rs`), so large events are
//! best published `Arc`-wrapped; small ones are cheapest cloned.
//!
//! [`HandleEvent<E>`]: crate::HandleEvent
//! [`DeadLetter`]: crate::dead_letter::DeadLetter

mod error;
mod name;
mod publish;
mod query;
pub(crate) mod table;

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::future::Future as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use parking_lot::{Mutex, RwLock};

pub use error::{PublishError, RegistryError};
pub use name::Name;
pub(crate) use name::NameKey;
pub use publish::PublishOptions;
use table::{ErasedTable, Offer, Sub, TopicTable};

use crate::actor::dispatch::InfoMsg;
use crate::actor::{Actor, HandleEvent, HandleInfo};
use crate::addr::{ActorId, ActorRef, Pid};
use crate::cell::{ActorCell, Offered, Process, Status};
use crate::dead_letter::{DeadLetter, DeadLetterReason};
use crate::event::Event;
use crate::exit::ExitReason;
use crate::mailbox::MessageKind;
use crate::topic::{Pattern, Topic};

const NAME_SHARDS: usize = 16;

type NameShard = Mutex<HashMap<Arc<str>, NameEntry>>;

/// Where a publish of `E` goes: its table and topic.
type Route<E> = (Arc<TopicTable<E>>, Topic);

/// Metadata attached to a name or a subscription (Elixir's registry
/// "value"): any cloneable value, read back with its type.
///
/// ```
/// use treeline::registry::Meta;
///
/// let meta = Meta::new(42u32);
/// assert_eq!(meta.get::<u32>(), Some(&42));
/// assert_eq!(meta.get::<String>(), None);
/// ```
#[derive(Clone)]
pub struct Meta(Arc<dyn Any + Send + Sync>);

impl Meta {
    /// Wraps a value.
    pub fn new<T: Send + Sync + 'static>(value: T) -> Self {
        Meta(Arc::new(value))
    }

    /// The value, if it is a `T`.
    pub fn get<T: 'static>(&self) -> Option<&T> {
        self.0.downcast_ref()
    }
}

impl fmt::Debug for Meta {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Meta(..)")
    }
}

/// A key in the registry.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RegistryKey {
    /// A unique name.
    Name(Arc<str>),
    /// A subscription to events of type `event` under `pattern`.
    Topic {
        /// The topic or pattern.
        pattern: Pattern,
        /// The event's Rust type.
        event: &'static str,
    },
}

/// What registry listeners receive: every registration and every explicit
/// unregistration, never deaths (Elixir's `:listeners`; monitor the actor to
/// learn of its death).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegistryEvent {
    /// `id` registered `key`.
    Registered {
        /// The key.
        key: RegistryKey,
        /// The registrant.
        id: ActorId,
    },
    /// `id` unregistered `key`.
    Unregistered {
        /// The key.
        key: RegistryKey,
        /// The registrant.
        id: ActorId,
    },
}

/// One subscription a publish would reach.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Subscriber {
    /// The subscriber.
    pub pid: Pid,
    /// The wildcard pattern it used (`None`: the exact topic).
    pub pattern: Option<Pattern>,
    /// Its subscription metadata.
    pub meta: Option<Meta>,
}

/// Registry counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RegistryStats {
    /// Registered names.
    pub names: usize,
    /// Topic subscriptions.
    pub subscriptions: usize,
    /// Publishes so far.
    pub published: u64,
    /// Publishes that no subscription matched.
    pub unrouted: u64,
}

/// What an actor holds in the registry (recorded in its cell, released at
/// its death).
#[derive(Clone)]
pub(crate) enum Registration {
    Name(Arc<str>),
    Topic {
        table: Arc<dyn ErasedTable>,
        pattern: Pattern,
    },
    /// Something else the actor holds until it dies (a durable queue's
    /// consumer slot), released with its exit reason.
    Hook(Arc<dyn ReleaseHook>),
}

/// What a [`Registration::Hook`] does at its actor's death.
pub(crate) trait ReleaseHook: Send + Sync {
    fn release(&self, reason: &ExitReason);
}

impl Registration {
    fn key(&self) -> Option<RegistryKey> {
        match self {
            Registration::Name(name) => Some(RegistryKey::Name(name.clone())),
            Registration::Topic { table, pattern } => {
                Some(RegistryKey::Topic { pattern: pattern.clone(), event: table.event_type() })
            }
            Registration::Hook(_) => None,
        }
    }
}

struct NameEntry {
    pid: Pid,
    actor: TypeId,
    meta: Option<Meta>,
}

trait Listener: Send + Sync {
    /// Offers `event`; false if the listener is dead. An event its mailbox
    /// cannot take is a dead letter.
    fn tell(&self, event: RegistryEvent) -> bool;
    fn is_alive(&self) -> bool;
}

impl<L: HandleInfo<RegistryEvent>> Listener for ActorCell<L> {
    fn tell(&self, event: RegistryEvent) -> bool {
        let (alive, reason) = match self.try_offer(InfoMsg(event)) {
            Offered::Queued | Offered::Shed => return true,
            Offered::Full(_) => (true, DeadLetterReason::MailboxFull),
            Offered::Closed(_) => (false, DeadLetterReason::ActorStopped),
        };
        self.dead_letter(std::any::type_name::<RegistryEvent>(), MessageKind::Info, reason);
        alive
    }

    fn is_alive(&self) -> bool {
        self.status() != Status::Dead
    }
}

/// The registry of one [`System`](crate::System)
/// ([`System::registry`](crate::System::registry)).
pub struct Registry {
    names: Box<[NameShard]>,
    tables: RwLock<HashMap<TypeId, Arc<dyn ErasedTable>>>,
    dead_letters: OnceLock<Arc<TopicTable<DeadLetter>>>,
    listeners: RwLock<Vec<Arc<dyn Listener>>>,
    meta: RwLock<HashMap<Arc<str>, Meta>>,
    published: AtomicU64,
    unrouted: AtomicU64,
}

impl Registry {
    pub(crate) fn new() -> Self {
        Registry {
            names: (0..NAME_SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            tables: RwLock::new(HashMap::new()),
            dead_letters: OnceLock::new(),
            listeners: RwLock::new(Vec::new()),
            meta: RwLock::new(HashMap::new()),
            published: AtomicU64::new(0),
            unrouted: AtomicU64::new(0),
        }
    }

    fn shard(&self, name: &str) -> &NameShard {
        let hash =
            name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
        &self.names[(hash as usize) % NAME_SHARDS]
    }

    // --- names ---

    /// Registers `key` for the actor in `cell`.
    pub(crate) fn register_name<A: Actor>(
        &self,
        cell: &Arc<ActorCell<A>>,
        key: &NameKey,
        meta: Option<Meta>,
    ) -> Result<(), RegistryError> {
        let pid = Pid(cell.clone());
        {
            let mut shard = self.shard(&key.text).lock();
            if let Some(existing) = shard.get(&key.text) {
                // A dead owner's entry is stale: its release is on its way.
                if existing.pid.is_alive() {
                    return Err(RegistryError::AlreadyRegistered(existing.pid.clone()));
                }
            }
            shard.insert(key.text.clone(), NameEntry { pid: pid.clone(), actor: key.actor, meta });
        }
        if cell.holdings.record(Registration::Name(key.text.clone())).is_err() {
            self.remove_name(&key.text, cell.id);
            return Err(RegistryError::NoProc);
        }
        self.notify(RegistryEvent::Registered { key: RegistryKey::Name(key.text.clone()), id: cell.id });
        Ok(())
    }

    fn remove_name(&self, name: &str, owner: ActorId) -> bool {
        let mut shard = self.shard(name).lock();
        if shard.get(name).is_some_and(|entry| entry.pid.id() == owner) {
            shard.remove(name);
            return true;
        }
        false
    }

    /// Removes `name` if `cell`'s actor holds it.
    pub(crate) fn unregister_name<A: Actor>(&self, cell: &ActorCell<A>, name: &str) -> Result<(), RegistryError> {
        let owner = self.shard(name).lock().get(name).map(|entry| entry.pid.clone());
        match owner {
            None => Ok(()),
            Some(pid) if pid.id() != cell.id => Err(RegistryError::NotOwner(pid)),
            Some(_) => {
                self.remove_name(name, cell.id);
                cell.holdings.forget(|registration| matches!(registration, Registration::Name(n) if &**n == name));
                self.notify(RegistryEvent::Unregistered { key: RegistryKey::Name(Arc::from(name)), id: cell.id });
                Ok(())
            }
        }
    }

    /// The live actor registered under `name`, typed.
    ///
    /// ```
    /// use treeline::{Actor, Context, InitError, Name, SpawnOptions, System};
    ///
    /// struct Billing;
    /// impl Actor for Billing {
    ///     type Args = ();
    ///     async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> { Ok(Billing) }
    /// }
    /// const BILLING: Name<Billing> = Name::new("billing");
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let system = System::new();
    /// let billing = system.spawn_with::<Billing>((), SpawnOptions::new().name(BILLING)).await.unwrap();
    /// assert_eq!(system.registry().whereis(&BILLING), Some(billing.clone()));
    /// billing.kill();
    /// billing.join().await;
    /// assert_eq!(system.registry().whereis(&BILLING), None); // released at death
    /// # }
    /// ```
    pub fn whereis<A: Actor>(&self, name: &Name<A>) -> Option<ActorRef<A>> {
        let pid = {
            let shard = self.shard(name.as_str()).lock();
            let entry = shard.get(name.as_str())?;
            if entry.actor != TypeId::of::<A>() {
                return None;
            }
            entry.pid.clone()
        };
        if !pid.is_alive() {
            return None;
        }
        let cell = pid.0.into_any().downcast::<ActorCell<A>>().ok()?;
        Some(ActorRef { cell })
    }

    /// The live actor registered under `name`, untyped.
    pub fn whereis_pid(&self, name: &str) -> Option<Pid> {
        self.shard(name).lock().get(name).map(|entry| entry.pid.clone()).filter(Pid::is_alive)
    }

    /// The value registered with `name` (by [`Context::register_with`]), if
    /// it is a `T` (Elixir's `values/3` of a unique key).
    ///
    /// [`Context::register_with`]: crate::Context::register_with
    ///
    /// ```
    /// use treeline::{Actor, Context, InitError, Name, System};
    ///
    /// struct Shard;
    /// impl Actor for Shard {
    ///     type Args = u32;
    ///     async fn init(n: u32, ctx: &mut Context<Self>) -> Result<Self, InitError> {
    ///         ctx.register_with(Name::owned(format!("shard-{n}")), n * 1_000)?; // first key it owns
    ///         Ok(Shard)
    ///     }
    /// }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let system = System::new();
    /// let shard = system.spawn::<Shard>(3).await.unwrap();
    /// assert_eq!(system.registry().value::<u32>("shard-3"), Some(3_000));
    /// assert_eq!(system.registry().value::<String>("shard-3"), None); // another type
    /// assert_eq!(system.registry().whereis_pid("shard-3"), Some(shard.pid()));
    /// # }
    /// ```
    pub fn value<T: Clone + 'static>(&self, name: &str) -> Option<T> {
        self.shard(name).lock().get(name)?.meta.as_ref()?.get::<T>().cloned()
    }

    // --- registry-level metadata ---

    /// Stores `value` under `key` in the registry itself, replacing what was
    /// there (Elixir's `put_meta/3`): configuration that belongs to the
    /// registry rather than to an actor.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let system = treeline::System::new();
    /// let registry = system.registry();
    /// registry.put_meta("region", String::from("eu-west"));
    /// assert_eq!(registry.meta::<String>("region").as_deref(), Some("eu-west"));
    /// assert_eq!(registry.meta::<u32>("region"), None); // another type
    /// assert!(registry.delete_meta("region"));
    /// assert_eq!(registry.meta::<String>("region"), None);
    /// # }
    /// ```
    pub fn put_meta<T: Send + Sync + 'static>(&self, key: &str, value: T) {
        self.meta.write().insert(Arc::from(key), Meta::new(value));
    }

    /// The registry-level metadata under `key`, if it is a `T` (Elixir's
    /// `meta/2`).
    pub fn meta<T: Clone + 'static>(&self, key: &str) -> Option<T> {
        self.meta.read().get(key)?.get::<T>().cloned()
    }

    /// Removes the registry-level metadata under `key`; false if there was
    /// none (Elixir's `delete_meta/2`).
    pub fn delete_meta(&self, key: &str) -> bool {
        self.meta.write().remove(key).is_some()
    }

    /// Everything `pid` holds in the registry (Elixir `keys/2`).
    pub fn keys_of(&self, pid: &Pid) -> Vec<RegistryKey> {
        pid.0.registrations().iter().filter_map(Registration::key).collect()
    }

    // --- topics ---

    fn table<E: Event>(&self) -> Option<Arc<TopicTable<E>>> {
        let table = self.tables.read().get(&TypeId::of::<E>())?.clone();
        table.into_any().downcast::<TopicTable<E>>().ok()
    }

    fn table_or_insert<E: Event>(&self) -> Arc<TopicTable<E>> {
        if let Some(table) = self.table::<E>() {
            return table;
        }
        let mut tables = self.tables.write();
        let existing = tables.get(&TypeId::of::<E>()).cloned();
        if let Some(table) = existing.and_then(|table| table.into_any().downcast::<TopicTable<E>>().ok()) {
            return table;
        }
        let table = Arc::new(TopicTable::<E>::new());
        tables.insert(TypeId::of::<E>(), table.clone());
        drop(tables);
        // The dead-letter topic is checked on every dead letter: keep it at hand.
        if let Ok(dead_letters) =
            (Arc::clone(&table) as Arc<dyn Any + Send + Sync>).downcast::<TopicTable<DeadLetter>>()
        {
            let _ = self.dead_letters.set(dead_letters);
        }
        table
    }

    /// Subscribes the actor in `cell` to events `E` under `pattern`.
    pub(crate) fn subscribe_cell<E: Event, A: HandleEvent<E>>(
        &self,
        cell: &Arc<ActorCell<A>>,
        pattern: Pattern,
        meta: Option<Meta>,
    ) -> Result<(), RegistryError> {
        let table = self.table_or_insert::<E>();
        let sub = Sub { id: cell.id, pid: Pid(cell.clone()), sink: cell.clone(), meta };
        table.add(pattern.clone(), sub);
        let erased: Arc<dyn ErasedTable> = table.clone();
        if cell.holdings.record(Registration::Topic { table: erased, pattern: pattern.clone() }).is_err() {
            table.remove(&pattern, cell.id);
            return Err(RegistryError::NoProc);
        }
        let key = RegistryKey::Topic { pattern, event: std::any::type_name::<E>() };
        self.notify(RegistryEvent::Registered { key, id: cell.id });
        Ok(())
    }

    /// Removes every subscription of `cell`'s actor to `E` under `pattern`;
    /// returns how many there were (0 is not an error).
    pub(crate) fn unsubscribe_cell<E: Event, A: Actor>(&self, cell: &ActorCell<A>, pattern: &Pattern) -> usize {
        let Some(table) = self.table::<E>() else { return 0 };
        let removed = table.remove(pattern, cell.id);
        cell.holdings.forget(|registration| {
            matches!(registration, Registration::Topic { table: t, pattern: p }
                if p == pattern && t.event_type() == std::any::type_name::<E>())
        });
        if removed > 0 {
            let key = RegistryKey::Topic { pattern: pattern.clone(), event: std::any::type_name::<E>() };
            self.notify(RegistryEvent::Unregistered { key, id: cell.id });
        }
        removed
    }

    /// Subscribes `actor` to events `E` on `E::TOPIC` from outside it.
    ///
    /// ```
    /// use treeline::{Actor, Context, Event, ExitReason, HandleEvent, InitError, System};
    ///
    /// #[derive(Clone)]
    /// struct Tick;
    /// impl Event for Tick { const TOPIC: &'static str = "clock.tick"; }
    /// struct Clock;
    /// impl Actor for Clock {
    ///     type Args = ();
    ///     async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> { Ok(Clock) }
    /// }
    /// impl HandleEvent<Tick> for Clock {
    ///     async fn handle_event(&mut self, _: Tick, _: &mut Context<Self>) -> Result<(), ExitReason> { Ok(()) }
    /// }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let system = System::new();
    /// let clock = system.spawn::<Clock>(()).await.unwrap();
    /// system.registry().subscribe::<Tick, _>(&clock).unwrap();
    /// assert_eq!(system.publish(Tick).await, Ok(1));
    /// # }
    /// ```
    pub fn subscribe<E: Event, A: HandleEvent<E>>(&self, actor: &ActorRef<A>) -> Result<(), RegistryError> {
        let pattern = Pattern::new(E::TOPIC)?;
        self.subscribe_cell::<E, A>(&actor.cell, pattern, None)
    }

    /// Subscribes `actor` to events `E` on a topic or wildcard pattern.
    pub fn subscribe_to<E: Event, A: HandleEvent<E>>(
        &self,
        actor: &ActorRef<A>,
        pattern: &str,
    ) -> Result<(), RegistryError> {
        let pattern = Pattern::new(pattern)?;
        self.subscribe_cell::<E, A>(&actor.cell, pattern, None)
    }

    /// Removes all of `actor`'s subscriptions to `E` under `pattern`.
    pub fn unsubscribe<E: Event, A: Actor>(&self, actor: &ActorRef<A>, pattern: &str) -> Result<usize, RegistryError> {
        let pattern = Pattern::new(pattern)?;
        Ok(self.unsubscribe_cell::<E, A>(&actor.cell, &pattern))
    }

    /// The subscriptions a publish of `E` on `topic` would reach (exact ones
    /// first), with their metadata.
    ///
    /// ```
    /// # use treeline::{Actor, Context, Event, ExitReason, HandleEvent, InitError};
    /// use treeline::System;
    /// use treeline::topic::Topic;
    /// # #[derive(Clone)]
    /// # struct Tick;
    /// # impl Event for Tick { const TOPIC: &'static str = "clock.tick"; }
    /// # struct Clock;
    /// # impl Actor for Clock {
    /// #     type Args = ();
    /// #     async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> { Ok(Clock) }
    /// # }
    /// # impl HandleEvent<Tick> for Clock {
    /// #     async fn handle_event(&mut self, _: Tick, _: &mut Context<Self>) -> Result<(), ExitReason> { Ok(()) }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let system = System::new();
    /// let clock = system.spawn::<Clock>(()).await.unwrap();
    /// system.registry().subscribe_to::<Tick, _>(&clock, "clock.*").unwrap();
    /// let subscribers = system.registry().subscribers::<Tick>(&Topic::new("clock.tick").unwrap());
    /// assert_eq!(subscribers.len(), 1);
    /// assert_eq!(subscribers[0].pid, clock.pid());
    /// assert_eq!(subscribers[0].pattern.as_ref().map(|p| p.as_str()), Some("clock.*"));
    /// # }
    /// ```
    pub fn subscribers<E: Event>(&self, topic: &Topic) -> Vec<Subscriber> {
        let Some(table) = self.table::<E>() else { return Vec::new() };
        let routes = table.routes(topic);
        routes
            .iter()
            .map(|(pattern, sub)| Subscriber {
                pid: sub.pid.clone(),
                pattern: pattern.cloned(),
                meta: sub.meta.clone(),
            })
            .collect()
    }

    // --- publishing ---

    /// Publishes `event` on `E::TOPIC`; returns how many subscribers it was
    /// queued for. Waits only for subscribers whose mailbox is `Wait` and
    /// full. No subscriber is not an error (it is counted as unrouted).
    ///
    /// ```
    /// use treeline::{Event, System};
    ///
    /// #[derive(Clone)]
    /// struct Heartbeat;
    /// impl Event for Heartbeat { const TOPIC: &'static str = "node.heartbeat"; }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let system = System::new();
    /// assert_eq!(system.registry().publish(Heartbeat).await, Ok(0));
    /// assert_eq!(system.registry().stats().unrouted, 1);
    /// # }
    /// ```
    pub async fn publish<E: Event>(&self, event: E) -> Result<usize, PublishError> {
        match self.route::<E>()? {
            Some((table, topic)) => Ok(self.deliver(Some(table), &topic, None, event, true).await),
            None => Ok(self.unrouted()),
        }
    }

    /// [`Registry::publish`] that never waits: a full `Wait` mailbox sheds
    /// the event (a dead letter). Usable outside async code.
    ///
    /// ```
    /// use treeline::{Event, System};
    /// use treeline::registry::PublishError;
    ///
    /// #[derive(Clone)]
    /// struct Bad;
    /// impl Event for Bad { const TOPIC: &'static str = "orders.*"; } // a pattern, not a topic
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let system = System::new();
    /// assert!(matches!(system.registry().try_publish(Bad), Err(PublishError::InvalidTopic(_))));
    /// # }
    /// ```
    pub fn try_publish<E: Event>(&self, event: E) -> Result<usize, PublishError> {
        match self.route::<E>()? {
            Some((table, topic)) => Ok(self.deliver_now(Some(table), &topic, None, event)),
            None => Ok(self.unrouted()),
        }
    }

    /// The table of `E` and `E::TOPIC`, validated; `None` if nobody ever
    /// subscribed to `E` (then nothing is allocated).
    fn route<E: Event>(&self) -> Result<Option<Route<E>>, PublishError> {
        match self.table::<E>() {
            Some(table) => {
                let topic = table.topic().map_err(PublishError::InvalidTopic)?;
                Ok(Some((table, topic)))
            }
            None => {
                crate::topic::validate(E::TOPIC, false).map_err(PublishError::InvalidTopic)?;
                Ok(None)
            }
        }
    }

    /// Counts a publish that reached nobody.
    fn unrouted(&self) -> usize {
        self.published.fetch_add(1, Ordering::Relaxed);
        self.unrouted.fetch_add(1, Ordering::Relaxed);
        0
    }

    async fn deliver<E: Event>(
        &self,
        table: Option<Arc<TopicTable<E>>>,
        topic: &Topic,
        except: Option<ActorId>,
        event: E,
        wait: bool,
    ) -> usize {
        self.published.fetch_add(1, Ordering::Relaxed);
        let Some(table) = table else {
            self.unrouted.fetch_add(1, Ordering::Relaxed);
            return 0;
        };
        let routes = table.routes(topic);
        let mut reached = false;
        let mut delivered = 0;
        // Each subscriber is offered a clone except the last, which gets the
        // event itself. Full `Wait` subscribers are waited for only after
        // everyone else has had the event.
        let mut previous: Option<&Sub<E>> = None;
        let mut waiting: Vec<(&Sub<E>, E)> = Vec::new();
        // Offers without waiting; gives the event back if the caller should wait.
        let mut offer = |sub: &Sub<E>, event: E| match sub.sink.offer_event(event) {
            Offer::Queued => {
                delivered += 1;
                None
            }
            Offer::Dropped => None,
            Offer::MustWait(event) if wait => Some(event),
            Offer::MustWait(_) => {
                sub.sink.shed_event();
                None
            }
        };
        for (_, sub) in routes.iter() {
            reached = true;
            if Some(sub.id) == except {
                continue;
            }
            if let Some(previous) = previous.replace(sub) {
                if let Some(event) = offer(previous, event.clone()) {
                    waiting.push((previous, event));
                }
            }
        }
        if let Some(last) = previous {
            if let Some(event) = offer(last, event) {
                waiting.push((last, event));
            }
        }
        for (sub, event) in waiting {
            delivered += usize::from(sub.sink.offer_event_waiting(event).await);
        }
        if !reached {
            self.unrouted.fetch_add(1, Ordering::Relaxed);
        }
        delivered
    }

    fn deliver_now<E: Event>(
        &self,
        table: Option<Arc<TopicTable<E>>>,
        topic: &Topic,
        except: Option<ActorId>,
        event: E,
    ) -> usize {
        let mut delivering = std::pin::pin!(self.deliver(table, topic, except, event, false));
        let waker = futures::task::noop_waker();
        let mut cx = std::task::Context::from_waker(&waker);
        // Without waiting, `deliver` completes on its first poll.
        match delivering.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(count) => count,
            std::task::Poll::Pending => 0,
        }
    }

    /// Publishes a dead letter on the dead-letter topic, if anyone listens.
    pub(crate) fn report_dead_letter(&self, letter: DeadLetter) {
        if let Some(table) = self.dead_letters.get() {
            if table.len() > 0 {
                if let Ok(topic) = table.topic() {
                    self.deliver_now(Some(table.clone()), &topic, None, letter);
                }
            }
        }
    }

    // --- listeners, release, stats ---

    /// Tells `listener` of every registration (a name or a subscription,
    /// from a handle, a `Context`, spawn options or a child spec) and every
    /// explicit unregistration; not of deaths (Elixir's `:listeners`: monitor
    /// the registrant to learn of its death). A dead listener is forgotten.
    ///
    /// ```
    /// use treeline::{Actor, Context, ExitReason, HandleInfo, InitError, System};
    /// use treeline::registry::RegistryEvent;
    ///
    /// struct Audit;
    /// impl Actor for Audit {
    ///     type Args = ();
    ///     async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> { Ok(Audit) }
    /// }
    /// impl HandleInfo<RegistryEvent> for Audit {
    ///     async fn handle_info(&mut self, event: RegistryEvent, _: &mut Context<Self>) -> Result<(), ExitReason> {
    ///         println!("{event:?}");
    ///         Ok(())
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let system = System::new();
    /// let audit = system.spawn::<Audit>(()).await.unwrap();
    /// system.registry().listen(&audit);
    /// # }
    /// ```
    pub fn listen<L: HandleInfo<RegistryEvent>>(&self, listener: &ActorRef<L>) {
        let listener: Arc<dyn Listener> = listener.cell.clone();
        let mut listeners = self.listeners.write();
        listeners.retain(|listener| listener.is_alive());
        listeners.push(listener);
    }

    fn notify(&self, event: RegistryEvent) {
        let mut dead = false;
        for listener in self.listeners.read().iter() {
            dead |= !listener.tell(event.clone());
        }
        if dead {
            self.listeners.write().retain(|listener| listener.is_alive());
        }
    }

    /// Releases everything a dead actor held (no listener hears of it).
    pub(crate) fn release(&self, id: ActorId, registrations: Vec<Registration>, reason: &ExitReason) {
        for registration in registrations {
            match registration {
                Registration::Name(name) => {
                    self.remove_name(&name, id);
                }
                Registration::Topic { table, pattern } => {
                    table.remove(&pattern, id);
                }
                Registration::Hook(hook) => hook.release(reason),
            }
        }
    }

    /// Counters.
    pub fn stats(&self) -> RegistryStats {
        RegistryStats {
            names: self.names.iter().map(|shard| shard.lock().len()).sum(),
            subscriptions: self.tables.read().values().map(|table| table.len()).sum(),
            published: self.published.load(Ordering::Relaxed),
            unrouted: self.unrouted.load(Ordering::Relaxed),
        }
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry").field("stats", &self.stats()).finish()
    }
}
