//! How an actor is spawned: mailbox, link to the spawner, init timeout,
//! shutdown policy.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use crate::actor::Actor;
use crate::mailbox::MailboxConfig;
use crate::registry::{Meta, Name, NameKey};

/// How an actor is stopped when its parent (the System, or later its
/// supervisor) shuts down (OTP child spec `shutdown`).
///
/// ```
/// use std::time::Duration;
/// use treeline::actor::ShutdownPolicy;
///
/// assert_eq!(ShutdownPolicy::default(), ShutdownPolicy::Timeout(Duration::from_secs(5)));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ShutdownPolicy {
    /// Kill at once; `terminate` does not run.
    BrutalKill,
    /// Send an exit signal `Shutdown` (a trapping actor runs `terminate`),
    /// wait this long, then kill.
    Timeout(Duration),
    /// Send an exit signal `Shutdown` and wait as long as it takes.
    Infinity,
}

impl Default for ShutdownPolicy {
    /// OTP's default for workers: 5 000 ms.
    fn default() -> Self {
        ShutdownPolicy::Timeout(Duration::from_secs(5))
    }
}

/// Options for spawning an actor of type `A`.
///
/// ```
/// use std::time::Duration;
/// use treeline::SpawnOptions;
/// use treeline::mailbox::{MailboxConfig, Overflow};
/// # use treeline::{Actor, Context, InitError};
/// # struct Worker;
/// # impl Actor for Worker {
/// #     type Args = ();
/// #     async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> { Ok(Worker) }
/// # }
///
/// let options = SpawnOptions::<Worker>::new()
///     .mailbox(MailboxConfig::bounded(1_000, Overflow::DropOldest))
///     .init_timeout(Duration::from_secs(1));
/// # let _ = options;
/// ```
pub struct SpawnOptions<A> {
    pub(crate) mailbox: MailboxConfig,
    pub(crate) link: bool,
    pub(crate) init_timeout: Option<Duration>,
    pub(crate) shutdown: ShutdownPolicy,
    /// The name to register before `init`, and its value.
    pub(crate) name: Option<(NameKey, Option<Meta>)>,
    /// The actor's kind, for reports, snapshots and metric labels.
    pub(crate) kind: Option<Arc<str>>,
    _actor: PhantomData<fn() -> A>,
}

impl<A> Default for SpawnOptions<A> {
    fn default() -> Self {
        SpawnOptions {
            mailbox: MailboxConfig::default(),
            link: false,
            init_timeout: None,
            shutdown: ShutdownPolicy::default(),
            name: None,
            kind: None,
            _actor: PhantomData,
        }
    }
}

impl<A> Clone for SpawnOptions<A> {
    fn clone(&self) -> Self {
        SpawnOptions {
            mailbox: self.mailbox,
            link: self.link,
            init_timeout: self.init_timeout,
            shutdown: self.shutdown,
            name: self.name.clone(),
            kind: self.kind.clone(),
            _actor: PhantomData,
        }
    }
}

impl<A> fmt::Debug for SpawnOptions<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpawnOptions")
            .field("mailbox", &self.mailbox)
            .field("link", &self.link)
            .field("init_timeout", &self.init_timeout)
            .field("shutdown", &self.shutdown)
            .field("name", &self.name.as_ref().map(|(key, _)| key))
            .field("kind", &self.kind)
            .finish()
    }
}

impl<A> SpawnOptions<A> {
    /// The defaults: unbounded mailbox, not linked, no init timeout, 5 s
    /// shutdown timeout.
    pub fn new() -> Self {
        SpawnOptions::default()
    }

    /// The mailbox size and overflow policy.
    pub fn mailbox(mut self, mailbox: MailboxConfig) -> Self {
        self.mailbox = mailbox;
        self
    }

    /// Link the new actor to the spawning actor, which becomes its parent
    /// (OTP `start_link`). Ignored for top-level spawns from the System.
    pub fn link(mut self) -> Self {
        self.link = true;
        self
    }

    /// Fail the spawn with `StartError::Timeout` (and kill the actor) if
    /// `init` takes longer (OTP's `{timeout, T}` start option).
    pub fn init_timeout(mut self, timeout: Duration) -> Self {
        self.init_timeout = Some(timeout);
        self
    }

    /// How the System stops this actor at shutdown.
    pub fn shutdown(mut self, shutdown: ShutdownPolicy) -> Self {
        self.shutdown = shutdown;
        self
    }

    /// The actor's *kind*: what crash reports, snapshots and metrics call
    /// it. A supervised child's kind is its child-spec id; without either,
    /// it is the actor type's short name.
    ///
    /// A kind is a label, not an identity: many actors share one (every
    /// session under one dynamic supervisor is `"session"`), so metrics
    /// labelled by kind stay bounded. Never put an id or data in it.
    ///
    /// ```
    /// # use treeline::{Actor, Context, InitError, SpawnOptions, System};
    /// # struct Session;
    /// # impl Actor for Session {
    /// #     type Args = ();
    /// #     async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> { Ok(Session) }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let system = System::new();
    /// let session = system.spawn_with::<Session>((), SpawnOptions::new().kind("session")).await.unwrap();
    /// assert_eq!(system.actor_info(session.id()).await.unwrap().kind, "session");
    /// # }
    /// ```
    pub fn kind(mut self, kind: impl AsRef<str>) -> Self {
        self.kind = Some(Arc::from(kind.as_ref()));
        self
    }
}

impl<A: Actor> SpawnOptions<A> {
    /// Registers the actor under `name` before its `init` runs (OTP's
    /// `{local, Name}`). If the name is taken the spawn fails with
    /// `StartError::AlreadyStarted(owner)` and `init` never runs. The name is
    /// released when the actor dies.
    ///
    /// The name's type is the actor's, so a name for another actor type
    /// does not compile:
    ///
    /// ```compile_fail
    /// # use treeline::{Actor, Context, InitError, Name, SpawnOptions};
    /// # struct Billing;
    /// # impl Actor for Billing {
    /// #     type Args = ();
    /// #     async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> { Ok(Billing) }
    /// # }
    /// # struct Shipping;
    /// # impl Actor for Shipping {
    /// #     type Args = ();
    /// #     async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> { Ok(Shipping) }
    /// # }
    /// const BILLING: Name<Billing> = Name::new("billing");
    /// let options = SpawnOptions::<Shipping>::new().name(BILLING);
    /// ```
    pub fn name(mut self, name: Name<A>) -> Self {
        self.name = Some((name.key(), None));
        self
    }

    /// [`SpawnOptions::name`] with a value stored beside it (Elixir's
    /// `{:via, Registry, {registry, key, value}}`), read back with
    /// [`Registry::value`](crate::registry::Registry::value).
    ///
    /// ```
    /// # use treeline::{Actor, Context, InitError, Name, SpawnOptions, System};
    /// # struct Shard;
    /// # impl Actor for Shard {
    /// #     type Args = ();
    /// #     async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> { Ok(Shard) }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let system = System::new();
    /// let options = SpawnOptions::new().name_with(Name::new("shard-7"), 7u32);
    /// system.spawn_with::<Shard>((), options).await.unwrap();
    /// assert_eq!(system.registry().value::<u32>("shard-7"), Some(7));
    /// # }
    /// ```
    pub fn name_with<T: Send + Sync + 'static>(mut self, name: Name<A>, value: T) -> Self {
        self.name = Some((name.key(), Some(Meta::new(value))));
        self
    }
}
