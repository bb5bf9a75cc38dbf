//! What a running System is doing, read on demand: [`System::snapshot`] and
//! [`System::actor_info`].
//!
//! A snapshot is built when asked, from what the runtime keeps anyway: each
//! actor's cell (status, the message it is handling, counters by kind,
//! mailbox, links and monitors, names and subscriptions), the table of calls
//! in flight (which also times calls out), the durable store, and each
//! supervisor's own answer to a snapshot request. Nothing runs in the
//! background for it and nothing is recorded per message beyond one counter
//! and one pointer store; reading a snapshot never blocks an actor (short
//! read locks and atomics, and a supervisor is *asked*, with a bound of
//! [`SUPERVISOR_WAIT`], like OTP's observer asks `sys:get_status` with a
//! timeout).
//!
//! Counters are monotonic: rates are the reader's business (two snapshots
//! and their [`SystemSnapshot::taken_at`]), as the observer computes them.
//!
//! How long a handler has run is measured from the first snapshot that saw
//! it running ([`Handling::for_at_least`]): timing every message would cost
//! two clock reads each. Take snapshots periodically (the observer does,
//! every second) and a stuck handler shows its age.
//!
//! # Example
//!
//! ```
//! use treeline::{Actor, Context, InitError, System};
//! use treeline::introspect::ActorStatus;
//!
//! struct Idle;
//! impl Actor for Idle {
//!     type Args = ();
//!     async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> { Ok(Idle) }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let system = System::new();
//! let idle = system.spawn::<Idle>(()).await.unwrap();
//! let snapshot = system.snapshot().await;
//! let info = snapshot.actor(idle.id()).unwrap();
//! assert_eq!(info.kind, "Idle");
//! assert_eq!(info.status, ActorStatus::Idle);
//! assert!(snapshot.deadlocks.is_empty());
//! # }
//! ```
//!
//! [`System::snapshot`]: crate::System::snapshot
//! [`System::actor_info`]: crate::System::actor_info

mod collect;
mod waits;

use std::time::{Duration, SystemTime};

use crate::addr::ActorId;
use crate::durable::QueueStats;
use crate::mailbox::{MessageKind, Overflow};
use crate::supervisor::SupervisorSnapshot;

pub(crate) use collect::{actor_info, snapshot, BusyMarks};

/// How long a snapshot waits for a supervisor's answer; a supervisor busy
/// for longer (starting or stopping a slow child) shows no children in that
/// snapshot.
pub const SUPERVISOR_WAIT: Duration = Duration::from_millis(100);

/// A System at one moment.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SystemSnapshot {
    /// When it was taken (wall clock).
    pub taken_at: SystemTime,
    /// How long the System has existed.
    pub uptime: Duration,
    /// Every live actor, by id.
    pub actors: Vec<ActorInfo>,
    /// The calls waiting for an answer: the edges of the wait-for graph.
    pub calls: Vec<CallInfo>,
    /// Cycles in the wait-for graph: actors each waiting on a call to the
    /// next, the last on the first. Each is a deadlock (until the calls time
    /// out), listed once, starting at its smallest id.
    pub deadlocks: Vec<Vec<ActorId>>,
    /// Registered names, by name.
    pub names: Vec<NameInfo>,
    /// Subscriptions, by pattern and event type.
    pub topics: Vec<TopicInfo>,
    /// The durable queues and subscriptions of the System's journal, by name.
    pub queues: Vec<QueueInfo>,
    /// Totals over the System.
    pub totals: Totals,
    /// The tokio runtime the snapshot was taken on, if any.
    pub runtime: Option<RuntimeInfo>,
}

impl SystemSnapshot {
    /// The actor with this id, if it was alive.
    pub fn actor(&self, id: ActorId) -> Option<&ActorInfo> {
        self.actors.binary_search_by_key(&id, |actor| actor.id).ok().map(|at| &self.actors[at])
    }

    /// The actors `parent` spawned, by id.
    pub fn children(&self, parent: ActorId) -> impl Iterator<Item = &ActorInfo> {
        self.actors.iter().filter(move |actor| actor.parent == Some(parent))
    }

    /// The actors with no live parent: top-level actors and supervisors.
    pub fn roots(&self) -> impl Iterator<Item = &ActorInfo> {
        self.actors.iter().filter(|actor| actor.parent.is_none_or(|parent| self.actor(parent).is_none()))
    }

    /// Actors seen in one handler for at least `threshold` (stuck, or just
    /// slow): with the observer's defaults, busy past 1 s, stuck past 10 s.
    pub fn busy(&self, threshold: Duration) -> impl Iterator<Item = &ActorInfo> {
        self.actors.iter().filter(move |actor| match &actor.status {
            ActorStatus::Handling(handling) => handling.for_at_least >= threshold,
            _ => false,
        })
    }
}

/// One live actor.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ActorInfo {
    /// Its id.
    pub id: ActorId,
    /// Its kind: its child-spec id, its [`SpawnOptions::kind`], or its
    /// type's short name. The label metrics use.
    ///
    /// [`SpawnOptions::kind`]: crate::SpawnOptions::kind
    pub kind: String,
    /// Its Rust type.
    pub actor_type: &'static str,
    /// Who spawned it (`None`: the System).
    pub parent: Option<ActorId>,
    /// What it is doing.
    pub status: ActorStatus,
    /// The call it is waiting on, if its callback is waiting for an answer.
    pub waiting_on: Option<CallInfo>,
    /// Its mailbox.
    pub mailbox: MailboxInfo,
    /// Messages it handled, by kind.
    pub handled: Handled,
    /// Dead letters addressed to it.
    pub dead_letters: u64,
    /// Whether it traps exits.
    pub trap_exit: bool,
    /// Its registered names.
    pub names: Vec<String>,
    /// The patterns it subscribes to.
    pub topics: Vec<String>,
    /// The durable queues and subscriptions it consumes.
    pub queues: Vec<String>,
    /// The actors it is linked to.
    pub links: Vec<ActorId>,
    /// The actors it monitors (one entry per monitor).
    pub monitors: Vec<ActorId>,
    /// The actors monitoring it (one entry per monitor).
    pub monitored_by: Vec<ActorId>,
    /// If it is a supervisor: its settings, restart counts and children
    /// (`None` for a supervisor too busy to answer within
    /// [`SUPERVISOR_WAIT`]). Nested supervisors are not inlined: each has
    /// its own entry.
    pub supervisor: Option<SupervisorSnapshot>,
}

/// What an actor is doing.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ActorStatus {
    /// Running `init`.
    Starting,
    /// Waiting for a message.
    Idle,
    /// Running a handler (or waiting for its next message to be taken from
    /// a batch).
    Handling(Handling),
    /// Running `terminate`, or being torn down.
    Stopping,
}

/// A handler that is running.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Handling {
    /// The kind of the message.
    pub kind: MessageKind,
    /// Its Rust type.
    pub message_type: &'static str,
    /// How long the handler has run, at least: since the first snapshot
    /// that saw it (zero in that first snapshot).
    pub for_at_least: Duration,
}

/// A call waiting for its answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CallInfo {
    /// The actor whose callback called ([`ActorId::EXTERNAL`] from outside
    /// any actor).
    pub caller: ActorId,
    /// The actor called.
    pub callee: ActorId,
    /// How long it has waited (to the millisecond).
    pub waited: Duration,
}

/// An actor's mailbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MailboxInfo {
    /// Messages waiting in the shared queue (the actor takes them in
    /// batches; a batch it took is not counted).
    pub len: usize,
    /// Its capacity (`None`: unbounded).
    pub capacity: Option<usize>,
    /// What a full mailbox does (`None`: unbounded).
    pub overflow: Option<Overflow>,
}

impl MailboxInfo {
    /// How full it is, from 0 to 1 (`None`: unbounded).
    pub fn fill(&self) -> Option<f64> {
        #[allow(clippy::cast_precision_loss)] // a ratio for display
        self.capacity.map(|capacity| self.len as f64 / capacity.max(1) as f64)
    }
}

/// Messages handled, by kind (monotonic).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Handled {
    /// Calls.
    pub call: u64,
    /// Casts.
    pub cast: u64,
    /// Infos, including `Down` and trapped `Exit` messages.
    pub info: u64,
    /// Events from topics.
    pub event: u64,
    /// Durable messages.
    pub durable: u64,
}

impl Handled {
    /// All of them.
    pub fn total(&self) -> u64 {
        self.call + self.cast + self.info + self.event + self.durable
    }
}

/// A registered name.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct NameInfo {
    /// The name.
    pub name: String,
    /// Who holds it.
    pub actor: ActorId,
}

/// The subscribers of one pattern for one event type.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TopicInfo {
    /// The subscription pattern.
    pub pattern: String,
    /// The event type subscribed to.
    pub event_type: &'static str,
    /// The subscribers, by id (one entry per subscription).
    pub subscribers: Vec<ActorId>,
}

/// A durable queue or subscription.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueueInfo {
    /// Its name.
    pub name: String,
    /// Its consumer, if one is attached.
    pub consumer: Option<ActorId>,
    /// Its counts.
    pub stats: QueueStats,
}

/// Totals over a System.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Totals {
    /// Live actors.
    pub actors: usize,
    /// Actors spawned since the System began.
    pub spawned: u64,
    /// Messages handled by the live actors.
    pub handled: u64,
    /// Dead letters since the System began.
    pub dead_letters: u64,
}

/// The tokio runtime a snapshot was taken on (tokio's stable runtime
/// metrics).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RuntimeInfo {
    /// Worker threads.
    pub workers: usize,
    /// Tasks alive (actors with work, timers, the runtime's own).
    pub alive_tasks: usize,
    /// Tasks waiting in the global queue.
    pub global_queue_depth: usize,
}
