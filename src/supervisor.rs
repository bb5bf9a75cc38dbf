//! Supervision trees: supervisors start children from specs and restart
//! them by strategy, within a restart intensity (OTP's `supervisor` behaviour).
//!
//! * [`Supervisor`]: a static supervisor with `one_for_one`, `one_for_all`
//!   or `rest_for_one`, started from a [`SupervisorSpec`].
//! * [`DynamicSupervisor`]: anonymous children added at run time from one
//!   template (OTP `simple_one_for_one` / Elixir's `DynamicSupervisor`).
//! * [`ChildSpec`]: how one child starts (its arguments are rebuilt for every
//!   start), restarts ([`Restart`]) and stops ([`ShutdownPolicy`]).
//! * [`ChildRef`]: a handle to a child that survives its restarts.
//! * [`SupervisorRef`]: the management API (which/count/terminate/restart/
//!   delete/start child) and [`SupervisorRef::snapshot`].
//!
//! # OTP rules kept
//!
//! * Children start one at a time, in spec order; `start` returns only when
//!   all have. If one fails, those already started stop in reverse order and
//!   the start fails with [`FailedToStartChild`].
//! * Restart by exit reason: permanent always, transient unless `Normal` /
//!   `Shutdown` / `ShutdownWith`, temporary never (its spec is removed).
//! * At most `intensity` restarts within `period`; the next one makes the
//!   supervisor stop its children (newest first) and exit `Shutdown`, which
//!   its own supervisor sees. A failed restart is retried through the
//!   supervisor's mailbox, and every attempt counts.
//! * Shutdown is newest first, one child at a time, each per its
//!   [`ShutdownPolicy`] spec; a dynamic supervisor stops its children concurrently.
//!
//! # Differs on purpose
//!
//! * Default intensity is Elixir's 3 restarts in 5 s (OTP's is 1 in 5 s).
//! * The intensity window uses the runtime's monotonic clock at full
//!   precision (OTP rounds to seconds).
//! * [`Backoff`] (off by default) can delay restarts; intensity still applies.

mod backoff;
mod dynamic;
mod error;
mod handle;
mod intensity;
mod ledger;
mod report;
mod server;
mod snapshot;
mod spec;
mod strategy;

use std::collections::HashSet;
use std::fmt;
use std::time::Duration;

pub use backoff::Backoff;
pub use dynamic::{DynamicSpec, DynamicSupervisor, DynamicSupervisorRef};
pub use error::{FailedToStartChild, SpecError, SupervisorError};
pub use handle::ChildRef;
pub use server::Supervisor;
pub use snapshot::{ChildCounts, ChildInfo, ChildSnapshot, ChildStatus, SupervisorKind, SupervisorSnapshot};
pub use spec::{ChildId, ChildKind, ChildSpec, Restart};
pub use strategy::Strategy;

use server::{CountChildren, DeleteChild, RestartChild, Snapshot, StartChildMsg, TerminateChild, WhichChildren};
use spec::StartChild;
pub(crate) use spec::SupervisorProbe;

use crate::actor::spawn::StartError;
use crate::actor::{Actor, ShutdownPolicy, SpawnOptions};
use crate::addr::{ActorId, ActorRef, Pid, StopError};
use crate::exit::ExitReason;
use crate::system::System;

/// When a supervisor shuts itself down because significant children exited
/// (OTP `auto_shutdown`, EEP 56).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum AutoShutdown {
    /// Never (the default).
    #[default]
    Never,
    /// When any significant child exits by itself and is not restarted.
    AnySignificant,
    /// When the last running significant child exits by itself.
    AllSignificant,
}

/// The specification of a static supervisor: strategy, intensity and
/// children in start order.
///
/// ```
/// use std::time::Duration;
/// use treeline::{Actor, ChildSpec, Context, InitError, Supervisor};
///
/// struct Worker;
/// impl Actor for Worker {
///     type Args = ();
///     async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> { Ok(Worker) }
/// }
///
/// let tree = Supervisor::rest_for_one()
///     .intensity(3, Duration::from_secs(5))
///     .child(ChildSpec::<Worker>::worker("db", ()))
///     .child(ChildSpec::<Worker>::worker("cache", ()))
///     .child(ChildSpec::supervisor("api", Supervisor::one_for_one()));
/// # let _ = tree;
/// ```
pub struct SupervisorSpec {
    pub(crate) strategy: Strategy,
    pub(crate) intensity: u32,
    pub(crate) period: Duration,
    pub(crate) auto_shutdown: AutoShutdown,
    pub(crate) backoff: Option<Backoff>,
    pub(crate) children: Vec<Box<dyn StartChild>>,
}

impl Supervisor {
    /// A `one_for_one` supervisor: only a failed child is restarted.
    pub fn one_for_one() -> SupervisorSpec {
        SupervisorSpec::new(Strategy::OneForOne)
    }

    /// A `one_for_all` supervisor: a failure restarts every child.
    pub fn one_for_all() -> SupervisorSpec {
        SupervisorSpec::new(Strategy::OneForAll)
    }

    /// A `rest_for_one` supervisor: a failure restarts the failed child and
    /// those started after it.
    pub fn rest_for_one() -> SupervisorSpec {
        SupervisorSpec::new(Strategy::RestForOne)
    }
}

impl SupervisorSpec {
    /// A spec with `strategy`, 3 restarts in 5 s, no children.
    pub fn new(strategy: Strategy) -> Self {
        SupervisorSpec {
            strategy,
            intensity: 3,
            period: Duration::from_secs(5),
            auto_shutdown: AutoShutdown::Never,
            backoff: None,
            children: Vec::new(),
        }
    }

    /// At most `restarts` restarts within `period` (a zero period is
    /// rejected at start with [`SpecError::ZeroPeriod`]).
    pub fn intensity(mut self, restarts: u32, period: Duration) -> Self {
        self.intensity = restarts;
        self.period = period;
        self
    }

    /// When significant children make the supervisor stop.
    pub fn auto_shutdown(mut self, auto_shutdown: AutoShutdown) -> Self {
        self.auto_shutdown = auto_shutdown;
        self
    }

    /// Delays repeated restarts of a child.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = Some(backoff);
        self
    }

    /// Adds a child (children start in the order they are added).
    pub fn child<A: Actor>(mut self, spec: ChildSpec<A>) -> Self {
        self.children.push(Box::new(spec));
        self
    }

    /// The strategy.
    pub fn strategy(&self) -> Strategy {
        self.strategy
    }

    pub(crate) fn validate(&self) -> Result<(), SpecError> {
        if self.period.is_zero() {
            return Err(SpecError::ZeroPeriod);
        }
        let mut ids = HashSet::new();
        for child in &self.children {
            if !ids.insert(child.id()) {
                return Err(SpecError::DuplicateChildId(child.id().clone()));
            }
            validate_child(&**child, self.auto_shutdown)?;
        }
        Ok(())
    }
}

/// §3.10: a significant child must be transient or temporary, under a
/// supervisor with an auto shutdown.
pub(crate) fn validate_child(child: &dyn StartChild, auto_shutdown: AutoShutdown) -> Result<(), SpecError> {
    if !child.significant() {
        return Ok(());
    }
    if child.restart() == Restart::Permanent {
        return Err(SpecError::SignificantPermanent(child.id().clone()));
    }
    if auto_shutdown == AutoShutdown::Never {
        return Err(SpecError::SignificantWithoutAutoShutdown(child.id().clone()));
    }
    Ok(())
}

/// Clones share the children's handle slots (see [`ChildSpec`]'s `Clone`).
impl Clone for SupervisorSpec {
    fn clone(&self) -> Self {
        SupervisorSpec {
            strategy: self.strategy,
            intensity: self.intensity,
            period: self.period,
            auto_shutdown: self.auto_shutdown,
            backoff: self.backoff,
            children: self.children.iter().map(|child| child.box_clone()).collect(),
        }
    }
}

impl fmt::Debug for SupervisorSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SupervisorSpec")
            .field("strategy", &self.strategy)
            .field("intensity", &self.intensity)
            .field("period", &self.period)
            .field("auto_shutdown", &self.auto_shutdown)
            .field("children", &self.children.iter().map(|child| child.id()).collect::<Vec<_>>())
            .finish()
    }
}

impl ChildSpec<Supervisor> {
    /// A child that is itself a supervisor (shutdown `Infinity`). When it is
    /// restarted, it starts again from (a clone of) `spec`.
    pub fn supervisor(id: impl Into<ChildId>, spec: SupervisorSpec) -> Self {
        let mut child = ChildSpec::from_fn(id, move || spec.clone());
        child.set_kind(ChildKind::Supervisor, |actor| {
            Box::pin(async move { SupervisorRef { actor }.snapshot().await.ok() })
        });
        child
    }
}

impl System {
    /// Starts a top-level supervisor (shutdown `Infinity`: the System waits
    /// for its whole tree). Returns once every child has started.
    pub async fn start(&self, spec: SupervisorSpec) -> Result<SupervisorRef, StartError> {
        let options = SpawnOptions::new().shutdown(ShutdownPolicy::Infinity);
        let actor = self.spawn_with::<Supervisor>(spec, options).await?;
        Ok(SupervisorRef { actor })
    }
}

/// A handle to a running [`Supervisor`]: the management API.
///
/// Every call waits as long as it takes (OTP uses `infinity` for these), and
/// fails with [`SupervisorError::NoProc`] if the supervisor is dead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SupervisorRef {
    actor: ActorRef<Supervisor>,
}

impl SupervisorRef {
    /// Wraps a supervisor's actor handle.
    pub fn new(actor: ActorRef<Supervisor>) -> Self {
        SupervisorRef { actor }
    }

    /// The supervisor's actor handle.
    pub fn actor(&self) -> &ActorRef<Supervisor> {
        &self.actor
    }

    /// The supervisor's id.
    pub fn id(&self) -> ActorId {
        self.actor.id()
    }

    /// An untyped handle (to link, monitor, or wait for it).
    pub fn pid(&self) -> Pid {
        self.actor.pid()
    }

    /// Children, newest first (OTP order).
    ///
    /// ```
    /// # use treeline::*;
    /// # use treeline::supervisor::{ChildId, ChildStatus};
    /// # struct W;
    /// # impl Actor for W {
    /// #     type Args = ();
    /// #     async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> { Ok(W) }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let system = System::new();
    /// # let sup = system.start(Supervisor::one_for_one().child(ChildSpec::<W>::worker("w", ()))).await.unwrap();
    /// let children = sup.which_children().await.unwrap();
    /// assert_eq!(children[0].id, Some(ChildId::from("w")));
    /// assert_eq!(children[0].status, ChildStatus::Running);
    /// # }
    /// ```
    pub async fn which_children(&self) -> Result<Vec<ChildInfo>, SupervisorError> {
        Ok(self.actor.call_forever(WhichChildren).await?)
    }

    /// OTP's counts: specs, active, supervisors, workers.
    ///
    /// ```
    /// # use treeline::*;
    /// # struct W;
    /// # impl Actor for W {
    /// #     type Args = ();
    /// #     async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> { Ok(W) }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let system = System::new();
    /// # let sup = system.start(Supervisor::one_for_one().child(ChildSpec::<W>::worker("w", ()))).await.unwrap();
    /// let counts = sup.count_children().await.unwrap();
    /// assert_eq!((counts.specs, counts.active, counts.workers), (1, 1, 1));
    /// # }
    /// ```
    pub async fn count_children(&self) -> Result<ChildCounts, SupervisorError> {
        Ok(self.actor.call_forever(CountChildren).await?)
    }

    /// Stops a child per its shutdown spec; it is not restarted and its spec
    /// stays (unless temporary). Idempotent.
    ///
    /// ```
    /// # use treeline::*;
    /// # use treeline::supervisor::SupervisorError;
    /// # struct W;
    /// # impl Actor for W {
    /// #     type Args = ();
    /// #     async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> { Ok(W) }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let system = System::new();
    /// # let sup = system.start(Supervisor::one_for_one().child(ChildSpec::<W>::worker("w", ()))).await.unwrap();
    /// sup.terminate_child("w").await.unwrap();
    /// assert_eq!(sup.count_children().await.unwrap().active, 0);
    /// assert_eq!(sup.terminate_child("nope").await, Err(SupervisorError::NotFound));
    /// # }
    /// ```
    pub async fn terminate_child(&self, id: impl Into<ChildId>) -> Result<(), SupervisorError> {
        self.actor.call_forever(TerminateChild(id.into())).await?
    }

    /// Starts a child that is not running (`Ok(None)` if its `init` ignored).
    ///
    /// ```
    /// # use treeline::*;
    /// # use treeline::supervisor::SupervisorError;
    /// # struct W;
    /// # impl Actor for W {
    /// #     type Args = ();
    /// #     async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> { Ok(W) }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let system = System::new();
    /// # let sup = system.start(Supervisor::one_for_one().child(ChildSpec::<W>::worker("w", ()))).await.unwrap();
    /// assert_eq!(sup.restart_child("w").await, Err(SupervisorError::Running));
    /// sup.terminate_child("w").await.unwrap();
    /// assert!(sup.restart_child("w").await.unwrap().is_some());
    /// # }
    /// ```
    pub async fn restart_child(&self, id: impl Into<ChildId>) -> Result<Option<Pid>, SupervisorError> {
        self.actor.call_forever(RestartChild(id.into())).await?
    }

    /// Removes the spec of a child that is not running.
    ///
    /// ```
    /// # use treeline::*;
    /// # use treeline::supervisor::SupervisorError;
    /// # struct W;
    /// # impl Actor for W {
    /// #     type Args = ();
    /// #     async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> { Ok(W) }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let system = System::new();
    /// # let sup = system.start(Supervisor::one_for_one().child(ChildSpec::<W>::worker("w", ()))).await.unwrap();
    /// assert_eq!(sup.delete_child("w").await, Err(SupervisorError::Running));
    /// sup.terminate_child("w").await.unwrap();
    /// assert_eq!(sup.delete_child("w").await, Ok(()));
    /// # }
    /// ```
    pub async fn delete_child(&self, id: impl Into<ChildId>) -> Result<(), SupervisorError> {
        self.actor.call_forever(DeleteChild(id.into())).await?
    }

    /// Adds a child (after the others) and starts it.
    ///
    /// ```
    /// # use treeline::*;
    /// # use treeline::supervisor::Restart;
    /// # struct W;
    /// # impl Actor for W {
    /// #     type Args = ();
    /// #     async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> { Ok(W) }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let system = System::new();
    /// # let sup = system.start(Supervisor::one_for_one().child(ChildSpec::<W>::worker("w", ()))).await.unwrap();
    /// let late = ChildSpec::<W>::worker("late", ()).restart(Restart::Temporary);
    /// assert!(sup.start_child(late).await.unwrap().is_some());
    /// # }
    /// ```
    pub async fn start_child<A: Actor>(&self, spec: ChildSpec<A>) -> Result<Option<Pid>, SupervisorError> {
        self.actor.call_forever(StartChildMsg(Box::new(spec))).await?
    }

    /// The whole tree below this supervisor, as plain data; `Display` renders
    /// it as text.
    ///
    /// ```
    /// # use treeline::*;
    /// # struct W;
    /// # impl Actor for W {
    /// #     type Args = ();
    /// #     async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> { Ok(W) }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let system = System::new();
    /// # let sup = system.start(Supervisor::one_for_one().child(ChildSpec::<W>::worker("w", ()))).await.unwrap();
    /// let tree = sup.snapshot().await.unwrap();
    /// assert_eq!(tree.children.len(), 1);
    /// println!("{tree}");
    /// # }
    /// ```
    pub async fn snapshot(&self) -> Result<SupervisorSnapshot, SupervisorError> {
        Ok(self.actor.call_timeout(Snapshot { nested: true }, crate::addr::DEFAULT_CALL_TIMEOUT).await?)
    }

    /// Stops the supervisor (and its tree) and waits until it is dead.
    pub async fn stop(&self, reason: ExitReason) -> Result<(), StopError> {
        self.actor.stop(reason).await
    }

    /// Waits until the supervisor is dead; returns its exit reason.
    pub async fn join(&self) -> ExitReason {
        self.actor.join().await
    }
}
