//! How an actor is spawned: mailbox, link to the spawner, init timeout,
//! shutdown policy.

use std::time::Duration;

use crate::actor::Actor;
use crate::mailbox::MailboxConfig;
use crate::registry::{Name, NameKey};

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

/// Options for spawning an actor.
///
/// ```
/// use std::time::Duration;
/// use treeline::SpawnOptions;
/// use treeline::mailbox::{MailboxConfig, Overflow};
///
/// let options = SpawnOptions::new()
///     .mailbox(MailboxConfig::bounded(1_000, Overflow::DropOldest))
///     .init_timeout(Duration::from_secs(1));
/// # let _ = options;
/// ```
#[derive(Clone, Debug, Default)]
pub struct SpawnOptions {
    pub(crate) mailbox: MailboxConfig,
    pub(crate) link: bool,
    pub(crate) init_timeout: Option<Duration>,
    pub(crate) shutdown: ShutdownPolicy,
    pub(crate) name: Option<NameKey>,
}

impl SpawnOptions {
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

    /// Registers the actor under `name` before its `init` runs (OTP's
    /// `{local, Name}`). If the name is taken the spawn fails with
    /// `StartError::AlreadyStarted(owner)` and `init` never runs. The name is
    /// released when the actor dies.
    pub fn name<A: Actor>(mut self, name: Name<A>) -> Self {
        self.name = Some(name.key());
        self
    }

    /// How the System stops this actor at shutdown.
    pub fn shutdown(mut self, shutdown: ShutdownPolicy) -> Self {
        self.shutdown = shutdown;
        self
    }
}
