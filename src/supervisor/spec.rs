//! Child specifications: how a supervisor starts, restarts and stops a child.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::handle::{ChildRef, ChildSlot};
use super::snapshot::SupervisorSnapshot;
use crate::actor::spawn::{Setup, StartError};
use crate::actor::{Actor, Context, HandleCall, HandleCast, HandleEvent, ShutdownPolicy, SpawnOptions};
use crate::addr::{ActorRef, Pid};
use crate::cell::ActorCell;
use crate::durable::{Consume, Durable, DurableQueue, DurableSubscription};
use crate::event::Event;
use crate::exit::ExitReason;
use crate::mailbox::MailboxConfig;
use crate::registry::Name;
use crate::topic::Pattern;

/// When a child is restarted, by its exit reason (OTP's `permanent`, `transient`, `temporary`).
///
/// ```
/// use treeline::ExitReason;
/// use treeline::supervisor::Restart;
///
/// assert!(Restart::Permanent.restarts_on(&ExitReason::Normal));
/// assert!(!Restart::Transient.restarts_on(&ExitReason::Shutdown));
/// assert!(Restart::Transient.restarts_on(&ExitReason::Killed));
/// assert!(!Restart::Temporary.restarts_on(&ExitReason::Killed));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Restart {
    /// Always restarted, whatever the reason (even `Normal`).
    #[default]
    Permanent,
    /// Restarted unless it exited `Normal`, `Shutdown` or `ShutdownWith(_)`.
    /// Its spec is kept when it is not restarted.
    Transient,
    /// Never restarted; its spec is removed when it exits.
    Temporary,
}

impl Restart {
    /// Whether a child of this type is restarted after exiting with `reason`.
    pub fn restarts_on(self, reason: &ExitReason) -> bool {
        match self {
            Restart::Permanent => true,
            Restart::Transient => !reason.is_expected(),
            Restart::Temporary => false,
        }
    }
}

/// Whether a child is a worker or a supervisor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChildKind {
    /// Any actor.
    Worker,
    /// A supervisor (shutdown defaults to `Infinity`).
    Supervisor,
}

impl fmt::Display for ChildKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ChildKind::Worker => "worker",
            ChildKind::Supervisor => "supervisor",
        })
    }
}

/// A child's id, unique within its supervisor.
///
/// ```
/// use treeline::supervisor::ChildId;
///
/// let id = ChildId::from("billing");
/// assert_eq!(id.as_str(), "billing");
/// assert_eq!(id, ChildId::from(String::from("billing")));
/// assert_eq!(id, "billing"); // compares with text directly
/// assert_eq!(*"billing", id);
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChildId(Arc<str>);

impl ChildId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&'static str> for ChildId {
    fn from(id: &'static str) -> Self {
        ChildId(Arc::from(id))
    }
}

impl From<String> for ChildId {
    fn from(id: String) -> Self {
        ChildId(Arc::from(id))
    }
}

impl PartialEq<str> for ChildId {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for ChildId {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<ChildId> for str {
    fn eq(&self, other: &ChildId) -> bool {
        self == other.as_str()
    }
}

impl PartialEq<ChildId> for &str {
    fn eq(&self, other: &ChildId) -> bool {
        *self == other.as_str()
    }
}

impl fmt::Display for ChildId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ChildId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

type MakeArgs<A> = Arc<dyn Fn() -> <A as Actor>::Args + Send + Sync>;

/// How a supervisor starts one child of type `A` (OTP child spec).
///
/// The arguments are rebuilt for every start, so a restarted child starts
/// from its spec, as OTP restarts from the `{M, F, A}`.
///
/// ```
/// use std::time::Duration;
/// use treeline::{Actor, ChildSpec, Context, InitError};
/// use treeline::actor::ShutdownPolicy;
/// use treeline::supervisor::Restart;
///
/// struct Billing;
/// impl Actor for Billing {
///     type Args = u64;
///     async fn init(_: u64, _: &mut Context<Self>) -> Result<Self, InitError> { Ok(Billing) }
/// }
///
/// let spec = ChildSpec::<Billing>::worker("billing", 100)
///     .restart(Restart::Transient)
///     .shutdown(ShutdownPolicy::Timeout(Duration::from_secs(1)));
/// let billing = spec.child_ref(); // reaches whichever incarnation runs
/// # let _ = billing;
/// ```
pub struct ChildSpec<A: Actor> {
    pub(crate) id: ChildId,
    make_args: MakeArgs<A>,
    pub(crate) restart: Restart,
    pub(crate) shutdown: ShutdownPolicy,
    pub(crate) kind: ChildKind,
    pub(crate) significant: bool,
    mailbox: MailboxConfig,
    slot: Arc<ChildSlot<A>>,
    introspect: Option<Introspect<A>>,
    name: Option<Name<A>>,
    setups: Vec<Setup<A>>,
}

/// A boxed snapshot of a nested supervisor.
pub(crate) type SnapshotFuture = Pin<Box<dyn Future<Output = Option<SupervisorSnapshot>> + Send>>;

/// Asks a supervisor for its flat snapshot (what a System snapshot shows
/// of it); registered with its System by the supervisor's `init`.
pub(crate) type SupervisorProbe = Arc<dyn Fn() -> SnapshotFuture + Send + Sync>;

/// The probe of the supervisor running `ctx`, which answers `request`. It
/// holds the supervisor weakly: the System holds the probe, and the
/// supervisor's cell holds the System.
pub(crate) fn probe<S, M>(ctx: &Context<S>, request: fn() -> M) -> SupervisorProbe
where
    S: HandleCall<M, Reply = SupervisorSnapshot>,
    M: Send + 'static,
{
    let cell = Arc::downgrade(&ctx.myself().cell);
    Arc::new(move || {
        let cell = cell.upgrade();
        Box::pin(async move { ActorRef { cell: cell? }.call_forever(request()).await.ok() })
    })
}

/// How to snapshot a child that is itself a supervisor.
pub(crate) type Introspect<A> = fn(ActorRef<A>) -> SnapshotFuture;

/// Clones share the child's handle slot: only one incarnation of a spec runs
/// at a time (a nested supervisor restarts from a clone of its spec, and its
/// children's `ChildRef`s keep working).
impl<A: Actor> Clone for ChildSpec<A> {
    fn clone(&self) -> Self {
        ChildSpec {
            id: self.id.clone(),
            make_args: self.make_args.clone(),
            restart: self.restart,
            shutdown: self.shutdown,
            kind: self.kind,
            significant: self.significant,
            mailbox: self.mailbox,
            slot: self.slot.clone(),
            introspect: self.introspect,
            name: self.name.clone(),
            setups: self.setups.clone(),
        }
    }
}

impl<A: Actor> ChildSpec<A> {
    /// A worker started with a clone of `args` each time.
    pub fn worker(id: impl Into<ChildId>, args: A::Args) -> Self
    where
        A::Args: Clone + Sync,
    {
        ChildSpec::from_fn(id, move || args.clone())
    }

    /// A worker whose arguments `make_args` builds anew for each start.
    pub fn from_fn(id: impl Into<ChildId>, make_args: impl Fn() -> A::Args + Send + Sync + 'static) -> Self {
        ChildSpec {
            id: id.into(),
            make_args: Arc::new(make_args),
            restart: Restart::Permanent,
            shutdown: ShutdownPolicy::default(),
            kind: ChildKind::Worker,
            significant: false,
            mailbox: MailboxConfig::default(),
            slot: Arc::new(ChildSlot::new()),
            introspect: None,
            name: None,
            setups: Vec::new(),
        }
    }

    /// The restart type (default `Permanent`).
    pub fn restart(mut self, restart: Restart) -> Self {
        self.restart = restart;
        self
    }

    /// How the supervisor stops this child (default: 5 s for workers,
    /// `Infinity` for supervisors).
    pub fn shutdown(mut self, shutdown: ShutdownPolicy) -> Self {
        self.shutdown = shutdown;
        self
    }

    /// Marks the child significant for its supervisor's `AutoShutdown`.
    pub fn significant(mut self, significant: bool) -> Self {
        self.significant = significant;
        self
    }

    /// The child's mailbox.
    pub fn mailbox(mut self, mailbox: MailboxConfig) -> Self {
        self.mailbox = mailbox;
        self
    }

    /// Registers every incarnation under `name` before its `init` (OTP's
    /// via-name in a child spec). A restarted child takes the name again.
    pub fn name(mut self, name: Name<A>) -> Self {
        self.name = Some(name);
        self
    }

    /// Subscribes every incarnation to events `E` on `E::TOPIC` before its
    /// `init`, so a restarted child is subscribed again with no code of its own.
    pub fn subscribe<E: Event>(self) -> Self
    where
        A: HandleEvent<E>,
    {
        self.subscribe_to::<E>(E::TOPIC)
    }

    /// Subscribes every incarnation to events `E` under `pattern` (checked
    /// at start: an invalid pattern fails the start with
    /// `StartError::Registry`).
    ///
    /// ```
    /// use treeline::{Actor, ChildSpec, Context, Event, ExitReason, HandleEvent, InitError, Name, Supervisor};
    ///
    /// #[derive(Clone)]
    /// struct OrderPlaced;
    /// impl Event for OrderPlaced { const TOPIC: &'static str = "orders.placed"; }
    ///
    /// struct Analytics;
    /// impl Actor for Analytics {
    ///     type Args = ();
    ///     async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> { Ok(Analytics) }
    /// }
    /// impl HandleEvent<OrderPlaced> for Analytics {
    ///     async fn handle_event(&mut self, _: OrderPlaced, _: &mut Context<Self>) -> Result<(), ExitReason> { Ok(()) }
    /// }
    ///
    /// // Named, and subscribed to everything under `orders.`, in every incarnation.
    /// let analytics = ChildSpec::<Analytics>::worker("analytics", ())
    ///     .name(Name::new("analytics"))
    ///     .subscribe_to::<OrderPlaced>("orders.>");
    /// let tree = Supervisor::one_for_one().child(analytics);
    /// # let _ = tree;
    /// ```
    pub fn subscribe_to<E: Event>(mut self, pattern: &str) -> Self
    where
        A: HandleEvent<E>,
    {
        let pattern = Pattern::new(pattern);
        self.setups.push(Arc::new(move |cell: &Arc<ActorCell<A>>| {
            let pattern = pattern.clone().map_err(|error| StartError::Registry(error.into()))?;
            cell.system.registry().subscribe_cell::<E, A>(cell, pattern, None).map_err(StartError::Registry)
        }));
        self
    }

    /// Makes every incarnation of the child consume `queue` (with the
    /// default [`Consume`] settings) before its `init` runs, so a restarted
    /// child gets the messages its predecessor left unacked, first.
    ///
    /// If the queue has another live consumer, the start fails with
    /// [`StartError::Exit`] carrying a [`DurableError::AlreadyConsumed`].
    ///
    /// ```
    /// use treeline::{Actor, ChildSpec, Context, ExitReason, HandleCast, InitError};
    /// use treeline::durable::DurableQueue;
    ///
    /// struct Billing;
    /// impl Actor for Billing {
    ///     type Args = ();
    ///     async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> { Ok(Billing) }
    /// }
    /// impl HandleCast<u64> for Billing {
    ///     async fn handle_cast(&mut self, _order: u64, _: &mut Context<Self>) -> Result<(), ExitReason> {
    ///         Ok(())
    ///     }
    /// }
    ///
    /// fn spec(charges: DurableQueue<u64>) -> ChildSpec<Billing> {
    ///     ChildSpec::worker("billing", ()).consume(charges)
    /// }
    /// ```
    ///
    /// [`DurableError::AlreadyConsumed`]: crate::durable::DurableError::AlreadyConsumed
    pub fn consume<M: Durable>(self, queue: DurableQueue<M>) -> Self
    where
        A: HandleCast<M>,
    {
        self.consume_with(queue, Consume::new())
    }

    /// Makes every incarnation of the child consume the durable
    /// subscription `subscription` before its `init` runs (see
    /// [`consume`](Self::consume)).
    pub fn consume_events<E: Event + Durable>(self, subscription: DurableSubscription<E>) -> Self
    where
        A: HandleEvent<E>,
    {
        self.consume_events_with(subscription, Consume::new())
    }

    /// [`consume_events`](Self::consume_events) with a window and delivery
    /// limit.
    ///
    /// ```
    /// use treeline::{Actor, ChildSpec, Context, Durable, Event, ExitReason, HandleEvent, InitError};
    /// use treeline::durable::{Consume, DurableSubscription};
    ///
    /// #[derive(Clone, Event, Durable)]
    /// #[event(topic = "orders.placed")]
    /// #[durable(tag = "orders.OrderPlaced")]
    /// struct OrderPlaced { id: u64 }
    ///
    /// struct Billing;
    /// impl Actor for Billing {
    ///     type Args = ();
    ///     async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> { Ok(Billing) }
    /// }
    /// impl HandleEvent<OrderPlaced> for Billing {
    ///     async fn handle_event(&mut self, _: OrderPlaced, _: &mut Context<Self>) -> Result<(), ExitReason> { Ok(()) }
    /// }
    ///
    /// fn spec(orders: DurableSubscription<OrderPlaced>) -> ChildSpec<Billing> {
    ///     ChildSpec::worker("billing", ()).consume_events_with(orders, Consume::new().window(8).delivery_limit(3))
    /// }
    /// ```
    pub fn consume_events_with<E: Event + Durable>(
        mut self,
        subscription: DurableSubscription<E>,
        settings: Consume,
    ) -> Self
    where
        A: HandleEvent<E>,
    {
        self.setups.push(Arc::new(move |cell: &Arc<ActorCell<A>>| {
            crate::durable::attach_events(cell, &subscription, settings)
                .map_err(|error| StartError::Exit(ExitReason::error(error)))
        }));
        self
    }

    /// [`consume`](Self::consume) with a window and delivery limit.
    pub fn consume_with<M: Durable>(mut self, queue: DurableQueue<M>, settings: Consume) -> Self
    where
        A: HandleCast<M>,
    {
        self.setups.push(Arc::new(move |cell: &Arc<ActorCell<A>>| {
            crate::durable::attach(cell, &queue, settings).map_err(|error| StartError::Exit(ExitReason::error(error)))
        }));
        self
    }

    /// The child's id.
    pub fn id(&self) -> &ChildId {
        &self.id
    }

    /// A handle that always reaches the child's current incarnation (see
    /// [`ChildRef`]).
    pub fn child_ref(&self) -> ChildRef<A> {
        ChildRef::new(self.slot.clone())
    }

    pub(crate) fn make_args(&self) -> A::Args {
        (self.make_args)()
    }

    /// Starts (and links) a new incarnation from supervisor `ctx` (static
    /// or dynamic) and points the spec's handle slot at it. `Ok(None)`: its
    /// `init` answered `Ignore`.
    pub(crate) async fn start_in<S: Actor>(&self, ctx: &mut Context<S>) -> Result<Option<ActorRef<A>>, StartError> {
        let mut options = SpawnOptions::new().mailbox(self.mailbox).link();
        // The child's kind is its spec's id: one label for every incarnation
        // (and for every child of a dynamic supervisor's template).
        options.kind = Some(self.id.0.clone());
        if let Some(name) = &self.name {
            options = options.name(name.clone());
        }
        match ctx.spawn_with_setup::<A>(self.make_args(), options, &self.setups).await {
            Ok(child) => {
                self.slot.set(Some(child.clone()));
                Ok(Some(child))
            }
            Err(StartError::Ignored) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// The spec with a handle slot of its own: a dynamic supervisor's
    /// children never share one, even when started from clones of a spec.
    pub(crate) fn with_own_slot(mut self) -> Self {
        self.slot = Arc::new(ChildSlot::new());
        self
    }

    pub(crate) fn set_kind(&mut self, kind: ChildKind, introspect: Introspect<A>) {
        self.kind = kind;
        self.shutdown = ShutdownPolicy::Infinity;
        self.introspect = Some(introspect);
    }
}

impl<A: Actor> fmt::Debug for ChildSpec<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildSpec")
            .field("id", &self.id)
            .field("actor", &std::any::type_name::<A>())
            .field("restart", &self.restart)
            .field("shutdown", &self.shutdown)
            .field("kind", &self.kind)
            .field("significant", &self.significant)
            .finish()
    }
}

// === the erased form a supervisor keeps ===

pub(crate) type StartFuture<'a> = Pin<Box<dyn Future<Output = Result<Option<Pid>, StartError>> + Send + 'a>>;

/// A child spec with its actor type erased.
pub(crate) trait StartChild: Send + Sync + 'static {
    fn id(&self) -> &ChildId;
    fn restart(&self) -> Restart;
    fn shutdown(&self) -> ShutdownPolicy;
    fn kind(&self) -> ChildKind;
    fn significant(&self) -> bool;
    fn actor_type(&self) -> &'static str;
    /// Starts (and links) a new incarnation from the supervisor's context.
    /// `Ok(None)`: the child's `init` answered `Ignore`.
    fn start<'a>(&'a self, ctx: &'a mut Context<super::Supervisor>) -> StartFuture<'a>;
    /// The current incarnation died or was stopped.
    fn clear(&self);
    /// If the child is a supervisor: its snapshot.
    fn snapshot(&self) -> Option<SnapshotFuture>;
    fn box_clone(&self) -> Box<dyn StartChild>;
}

impl<A: Actor> StartChild for ChildSpec<A> {
    fn id(&self) -> &ChildId {
        &self.id
    }

    fn restart(&self) -> Restart {
        self.restart
    }

    fn shutdown(&self) -> ShutdownPolicy {
        self.shutdown
    }

    fn kind(&self) -> ChildKind {
        self.kind
    }

    fn significant(&self) -> bool {
        self.significant
    }

    fn actor_type(&self) -> &'static str {
        std::any::type_name::<A>()
    }

    fn start<'a>(&'a self, ctx: &'a mut Context<super::Supervisor>) -> StartFuture<'a> {
        Box::pin(async move { Ok(self.start_in(ctx).await?.map(|child| child.pid())) })
    }

    fn clear(&self) {
        self.slot.set(None);
    }

    fn snapshot(&self) -> Option<SnapshotFuture> {
        let introspect = self.introspect?;
        let current = self.child_ref().current()?;
        Some(introspect(current))
    }

    fn box_clone(&self) -> Box<dyn StartChild> {
        Box::new(self.clone())
    }
}
