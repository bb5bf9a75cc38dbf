//! The dynamic supervisor (OTP `simple_one_for_one`, Elixir's
//! `DynamicSupervisor`): anonymous children of one actor type, started at
//! run time with their own arguments (and the supervisor's template) or
//! their own child spec, restarted one for one, stopped concurrently, each
//! by its own shutdown policy.

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use super::backoff::Backoff;
use super::error::SupervisorError;
use parking_lot::Mutex;

use super::handle::ChildRef;
use super::ledger::{ChildLedger, Ledger};
use super::report::{self, Reporter};
use super::server::reason_of;
use super::snapshot::{
    flat_rows, snapshot_rows, ChildCounts, ChildInfo, ChildRow, ChildStatus, SupervisorKind, SupervisorSnapshot,
};
use super::spec::probe;
use super::spec::{ChildId, ChildKind, ChildSpec, Restart, StartChild};
use super::{validate_child, AutoShutdown};
use crate::actor::shutdown::shutdown;
use crate::actor::spawn::StartError;
use crate::actor::{Actor, Context, HandleCall, HandleInfo, InitError, Reply, ShutdownPolicy, SpawnOptions};
use crate::addr::{ActorId, ActorRef, Pid, StopError};
use crate::exit::ExitReason;
use crate::mailbox::MailboxConfig;
use crate::signal::Exit;
use crate::system::System;

/// The template and limits of a [`DynamicSupervisor`] over children of type
/// `A`.
///
/// ```
/// use std::time::Duration;
/// use treeline::{Actor, Context, InitError};
/// use treeline::supervisor::{DynamicSpec, Restart};
///
/// struct Session;
/// impl Actor for Session {
///     type Args = u64;
///     async fn init(_: u64, _: &mut Context<Self>) -> Result<Self, InitError> { Ok(Session) }
/// }
///
/// let sessions = DynamicSpec::<Session>::new()
///     .restart(Restart::Transient)
///     .max_children(10_000)
///     .intensity(10, Duration::from_secs(1));
/// # let _ = sessions;
/// ```
pub struct DynamicSpec<A: Actor> {
    restart: Restart,
    shutdown: ShutdownPolicy,
    mailbox: MailboxConfig,
    max_children: Option<usize>,
    intensity: u32,
    period: Duration,
    backoff: Option<Backoff>,
    _children: PhantomData<fn() -> A>,
}

impl<A: Actor> DynamicSpec<A> {
    /// Permanent children, 5 s shutdown, no limit, 3 restarts in 5 s.
    pub fn new() -> Self {
        DynamicSpec {
            restart: Restart::Permanent,
            shutdown: ShutdownPolicy::default(),
            mailbox: MailboxConfig::default(),
            max_children: None,
            intensity: 3,
            period: Duration::from_secs(5),
            backoff: None,
            _children: PhantomData,
        }
    }

    /// The restart type of children started with arguments (a child
    /// started from its own spec has that spec's).
    pub fn restart(mut self, restart: Restart) -> Self {
        self.restart = restart;
        self
    }

    /// How children started with arguments are stopped (the supervisor
    /// stops all its children at once, each by its own policy).
    pub fn shutdown(mut self, shutdown: ShutdownPolicy) -> Self {
        self.shutdown = shutdown;
        self
    }

    /// The mailbox of children started with arguments.
    pub fn mailbox(mut self, mailbox: MailboxConfig) -> Self {
        self.mailbox = mailbox;
        self
    }

    /// At most this many children (restarting ones count).
    pub fn max_children(mut self, max: usize) -> Self {
        self.max_children = Some(max);
        self
    }

    /// At most `restarts` restarts within `period`.
    pub fn intensity(mut self, restarts: u32, period: Duration) -> Self {
        self.intensity = restarts;
        self.period = period;
        self
    }

    /// Delays the restarts of a child that keeps failing (beyond OTP; the
    /// same [`Backoff`] as the static supervisor's, per child). Every
    /// restart still counts against the intensity, delayed or not.
    ///
    /// ```
    /// use std::time::Duration;
    /// use treeline::{Actor, Context, InitError};
    /// use treeline::supervisor::{Backoff, DynamicSpec};
    ///
    /// struct Session;
    /// impl Actor for Session {
    ///     type Args = u64;
    ///     async fn init(_: u64, _: &mut Context<Self>) -> Result<Self, InitError> { Ok(Session) }
    /// }
    ///
    /// let sessions = DynamicSpec::<Session>::new()
    ///     .backoff(Backoff::new(Duration::from_millis(100), Duration::from_secs(10)));
    /// # let _ = sessions;
    /// ```
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = Some(backoff);
        self
    }
}

impl<A: Actor> Default for DynamicSpec<A> {
    fn default() -> Self {
        DynamicSpec::new()
    }
}

impl<A: Actor> Clone for DynamicSpec<A> {
    fn clone(&self) -> Self {
        DynamicSpec { _children: PhantomData, ..*self }
    }
}

impl<A: Actor> fmt::Debug for DynamicSpec<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynamicSpec")
            .field("children", &std::any::type_name::<A>())
            .field("restart", &self.restart)
            .field("max_children", &self.max_children)
            .finish()
    }
}

/// A dynamic supervisor over children of type `A` (see the module docs).
pub struct DynamicSupervisor<A: Actor> {
    spec: DynamicSpec<A>,
    ledger: Ledger,
    children: Vec<DynChild<A>>,
    next_key: u64,
    /// The template's child id, and so its children's kind: the child
    /// type's bare name (one label for every child).
    kind: ChildId,
}

struct DynChild<A: Actor> {
    key: u64,
    /// How it starts, restarts and stops: its own spec, or one built from
    /// the supervisor's template and the arguments it was started with.
    spec: ChildSpec<A>,
    /// The running incarnation; `None` while its restart is being retried.
    pid: Option<Pid>,
    /// The id of the latest incarnation: what callers know the child by,
    /// also while it is restarting.
    last_id: ActorId,
    ledger: ChildLedger,
}

impl<A: Actor> DynChild<A> {
    /// Is this the child callers know as `id` (running, or restarting after
    /// the incarnation `id` died)?
    fn known_as(&self, id: ActorId) -> bool {
        match &self.pid {
            Some(pid) => pid.id() == id,
            None => self.last_id == id,
        }
    }

    fn status(&self) -> ChildStatus {
        if self.pid.is_some() {
            ChildStatus::Running
        } else {
            ChildStatus::Restarting
        }
    }

    fn row(&self) -> ChildRow<'_> {
        ChildRow {
            spec: &self.spec,
            id: None,
            pid: self.pid.as_ref(),
            status: self.status(),
            restarts: self.ledger.restarts,
        }
    }
}

impl<A: Actor> Actor for DynamicSupervisor<A>
where
    A::Args: Clone,
{
    type Args = DynamicSpec<A>;

    async fn init(spec: DynamicSpec<A>, ctx: &mut Context<Self>) -> Result<Self, InitError> {
        if spec.period.is_zero() {
            return Err(InitError::Stop(ExitReason::error(super::SpecError::ZeroPeriod)));
        }
        ctx.trap_exit(true);
        ctx.system().add_supervisor(ctx.id(), probe(ctx, || SnapshotDynamic { nested: false }));
        let ledger = Ledger::new(spec.intensity, spec.period, spec.backoff, ctx.id());
        let kind = ChildId::from(crate::actor::report::bare_type_name(std::any::type_name::<A>()));
        Ok(DynamicSupervisor { spec, ledger, children: Vec::new(), next_key: 0, kind })
    }

    /// Stops every child at once, each by its own shutdown policy (Elixir's
    /// `DynamicSupervisor`).
    async fn terminate(&mut self, _reason: &ExitReason, ctx: &mut Context<Self>) {
        let children: Vec<(Pid, ShutdownPolicy)> =
            self.children.iter_mut().filter_map(|child| Some((child.pid.take()?, child.spec.shutdown))).collect();
        shutdown(ctx, &children).await;
        for child in &self.children {
            child.spec.clear();
        }
    }
}

impl<A: Actor> DynamicSupervisor<A>
where
    A::Args: Clone,
{
    async fn child_exited(
        &mut self,
        index: usize,
        reason: ExitReason,
        ctx: &mut Context<Self>,
    ) -> Result<(), ExitReason> {
        let child = &mut self.children[index];
        child.pid = None;
        child.spec.clear();
        if !child.spec.restart.restarts_on(&reason) {
            self.children.remove(index);
            return Ok(());
        }
        let key = child.key;
        self.try_restart(key, Some(&reason), ctx).await
    }

    /// One restart attempt: counted against the intensity (unless a backoff
    /// delay already counted it) and delayed by the backoff if any; on
    /// failure the child waits in "restarting" and the attempt is retried
    /// through the mailbox, so the supervisor keeps answering.
    async fn try_restart(
        &mut self,
        key: u64,
        uncounted: Option<&(dyn std::fmt::Display + Sync)>,
        ctx: &mut Context<Self>,
    ) -> Result<(), ExitReason> {
        let Some(index) = self.children.iter().position(|child| child.key == key) else { return Ok(()) };
        if let Some(reason) = uncounted {
            let counted = self.ledger.count(&mut self.children[index].ledger);
            let child = self.children[index].spec.id().as_str();
            if !counted {
                report::gave_up(Reporter::of(ctx), child, reason, self.ledger.window());
                return Err(ExitReason::Shutdown);
            }
            let delay = self.ledger.delay(&mut self.children[index].ledger);
            let child = self.children[index].spec.id().as_str();
            report::restarting(Reporter::of(ctx), child, reason, self.ledger.window(), delay);
            if !delay.is_zero() {
                ctx.send_after(delay, RetryDynamic { key, counted: true });
                return Ok(());
            }
        }
        let spec = self.children[index].spec.clone();
        match spec.start_in(ctx).await {
            Ok(Some(actor)) => {
                let child = &mut self.children[index];
                child.pid = Some(actor.pid());
                child.last_id = actor.id();
                child.ledger.started();
            }
            Ok(None) => {
                self.children.remove(index);
            }
            Err(error) => {
                report::restart_failed(Reporter::of(ctx), self.children[index].spec.id().as_str(), &error);
                let _ = ctx.myself().try_send(RetryDynamic { key, counted: false });
            }
        }
        Ok(())
    }

    /// Starts a new child from `spec` (with a handle slot of its own).
    async fn start_new(
        &mut self,
        spec: ChildSpec<A>,
        ctx: &mut Context<Self>,
    ) -> Result<Option<ChildRef<A>>, SupervisorError> {
        if self.spec.max_children.is_some_and(|max| self.children.len() >= max) {
            return Err(SupervisorError::MaxChildren);
        }
        validate_child(&spec, AutoShutdown::Never).map_err(SupervisorError::InvalidSpec)?;
        let spec = spec.with_own_slot();
        match spec.start_in(ctx).await {
            Ok(Some(actor)) => {
                let child = spec.child_ref();
                let mut ledger = ChildLedger::default();
                ledger.started();
                self.next_key += 1;
                self.children.push(DynChild {
                    key: self.next_key,
                    spec,
                    last_id: actor.id(),
                    pid: Some(actor.pid()),
                    ledger,
                });
                Ok(Some(child))
            }
            Ok(None) => Ok(None),
            Err(error) => Err(SupervisorError::StartFailed(reason_of(error))),
        }
    }

    /// The spec of a child started with `args`: the supervisor's template.
    fn template(&self, args: A::Args) -> ChildSpec<A> {
        // Behind a lock only to make the arguments `Sync` (a spec's argument
        // maker is shared); it is taken once per start.
        let args = Mutex::new(args);
        ChildSpec::from_fn(self.kind.clone(), move || args.lock().clone())
            .restart(self.spec.restart)
            .shutdown(self.spec.shutdown)
            .mailbox(self.spec.mailbox)
    }
}

// === messages ===

/// Retry (or delayed start) of a dynamic child's restart.
pub(crate) struct RetryDynamic {
    key: u64,
    /// Already counted against the intensity (a backoff delay).
    counted: bool,
}
pub(crate) struct StartDynamic<Args>(Args);
pub(crate) struct StartDynamicSpec<A: Actor>(ChildSpec<A>);
pub(crate) struct TerminateDynamic(ActorId);
pub(crate) struct WhichDynamic;
pub(crate) struct CountDynamic;
/// A snapshot request; `nested`: with the nested supervisors' own.
pub(crate) struct SnapshotDynamic {
    pub(crate) nested: bool,
}

impl<A: Actor> HandleInfo<Exit> for DynamicSupervisor<A>
where
    A::Args: Clone,
{
    async fn handle_info(&mut self, exit: Exit, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        let found = self.children.iter().position(|child| child.pid.as_ref().is_some_and(|pid| pid.id() == exit.from));
        match found {
            Some(index) => {
                self.children[index].ledger.exited(exit.failed);
                self.child_exited(index, exit.reason, ctx).await
            }
            None => Ok(()),
        }
    }
}

impl<A: Actor> HandleInfo<RetryDynamic> for DynamicSupervisor<A>
where
    A::Args: Clone,
{
    async fn handle_info(
        &mut self,
        RetryDynamic { key, counted }: RetryDynamic,
        ctx: &mut Context<Self>,
    ) -> Result<(), ExitReason> {
        let waiting = self.children.iter().any(|child| child.key == key && child.pid.is_none());
        if waiting {
            let uncounted: Option<&(dyn std::fmt::Display + Sync)> = (!counted).then_some(&"its restart failed");
            self.try_restart(key, uncounted, ctx).await
        } else {
            Ok(())
        }
    }
}

impl<A: Actor> HandleCall<StartDynamic<A::Args>> for DynamicSupervisor<A>
where
    A::Args: Clone,
{
    type Reply = Result<Option<ChildRef<A>>, SupervisorError>;

    async fn handle_call(
        &mut self,
        StartDynamic(args): StartDynamic<A::Args>,
        ctx: &mut Context<Self>,
    ) -> Reply<Self::Reply> {
        let spec = self.template(args);
        Reply::new(self.start_new(spec, ctx).await)
    }
}

impl<A: Actor> HandleCall<StartDynamicSpec<A>> for DynamicSupervisor<A>
where
    A::Args: Clone,
{
    type Reply = Result<Option<ChildRef<A>>, SupervisorError>;

    async fn handle_call(
        &mut self,
        StartDynamicSpec(spec): StartDynamicSpec<A>,
        ctx: &mut Context<Self>,
    ) -> Reply<Self::Reply> {
        Reply::new(self.start_new(spec, ctx).await)
    }
}

impl<A: Actor> HandleCall<TerminateDynamic> for DynamicSupervisor<A>
where
    A::Args: Clone,
{
    type Reply = Result<(), SupervisorError>;

    async fn handle_call(
        &mut self,
        TerminateDynamic(id): TerminateDynamic,
        ctx: &mut Context<Self>,
    ) -> Reply<Self::Reply> {
        // A child whose restart is being retried is found by the id of the
        // incarnation that died: the retries stop, and it no longer counts
        // against `max_children` (Elixir's "terminates restarting child").
        let Some(index) = self.children.iter().position(|child| child.known_as(id)) else {
            return Reply::new(Err(SupervisorError::NotFound));
        };
        let child = self.children.remove(index);
        if let Some(pid) = &child.pid {
            super::server::stop_child(ctx, pid, child.spec.shutdown).await;
        }
        child.spec.clear();
        Reply::new(Ok(()))
    }
}

impl<A: Actor> HandleCall<WhichDynamic> for DynamicSupervisor<A>
where
    A::Args: Clone,
{
    type Reply = Vec<ChildInfo>;

    async fn handle_call(&mut self, _: WhichDynamic, _: &mut Context<Self>) -> Reply<Vec<ChildInfo>> {
        // Newest first, as a static supervisor's (OTP order).
        Reply::new(self.children.iter().rev().map(|child| child.row().info()).collect())
    }
}

impl<A: Actor> HandleCall<CountDynamic> for DynamicSupervisor<A>
where
    A::Args: Clone,
{
    type Reply = ChildCounts;

    async fn handle_call(&mut self, _: CountDynamic, _: &mut Context<Self>) -> Reply<ChildCounts> {
        Reply::new(ChildCounts::of(self.children.iter().map(DynChild::row)))
    }
}

impl<A: Actor> HandleCall<SnapshotDynamic> for DynamicSupervisor<A>
where
    A::Args: Clone,
{
    type Reply = SupervisorSnapshot;

    async fn handle_call(&mut self, request: SnapshotDynamic, ctx: &mut Context<Self>) -> Reply<SupervisorSnapshot> {
        let rows = self.children.iter().map(DynChild::row);
        let children = if request.nested { snapshot_rows(rows).await } else { flat_rows(rows) };
        Reply::new(self.ledger.snapshot(ctx.id(), SupervisorKind::Dynamic, children))
    }
}

impl<A: Actor> fmt::Debug for DynamicSupervisor<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynamicSupervisor").field("children", &self.children.len()).finish()
    }
}

// === handle ===

/// A handle to a running [`DynamicSupervisor`]: its management API.
pub struct DynamicSupervisorRef<A: Actor>
where
    A::Args: Clone,
{
    actor: ActorRef<DynamicSupervisor<A>>,
}

impl<A: Actor> Clone for DynamicSupervisorRef<A>
where
    A::Args: Clone,
{
    fn clone(&self) -> Self {
        DynamicSupervisorRef { actor: self.actor.clone() }
    }
}

impl<A: Actor> fmt::Debug for DynamicSupervisorRef<A>
where
    A::Args: Clone,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DynamicSupervisorRef").field(&self.actor.id()).finish()
    }
}

impl<A: Actor> DynamicSupervisorRef<A>
where
    A::Args: Clone,
{
    /// Wraps the supervisor's actor handle.
    pub fn new(actor: ActorRef<DynamicSupervisor<A>>) -> Self {
        DynamicSupervisorRef { actor }
    }

    /// The supervisor's actor handle.
    pub fn actor(&self) -> &ActorRef<DynamicSupervisor<A>> {
        &self.actor
    }

    /// The supervisor's id.
    pub fn id(&self) -> ActorId {
        self.actor.id()
    }

    /// An untyped handle.
    pub fn pid(&self) -> Pid {
        self.actor.pid()
    }

    /// Starts a child with `args` (reused for its restarts) and the
    /// supervisor's template: the restart type, shutdown policy and mailbox
    /// of its [`DynamicSpec`]. `Ok(None)`: its `init` ignored the start.
    ///
    /// ```
    /// # use treeline::*;
    /// # use treeline::supervisor::{DynamicSpec, SupervisorError};
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
    /// let sup = system.start_dynamic(DynamicSpec::<W>::new().max_children(2)).await.unwrap();
    /// let first = sup.start_child(1).await.unwrap().expect("started");
    /// assert_eq!(first.call(7).await, Ok(7));
    /// sup.start_child(2).await.unwrap();
    /// assert_eq!(sup.start_child(3).await.err(), Some(SupervisorError::MaxChildren));
    /// # }
    /// ```
    pub async fn start_child(&self, args: A::Args) -> Result<Option<ChildRef<A>>, SupervisorError> {
        self.actor.call_forever(StartDynamic(args)).await?
    }

    /// Starts a child from its own spec (Elixir's `start_child(sup, spec)`):
    /// its restart type, shutdown policy, mailbox, name, subscriptions and
    /// durable consumption are its own, beside children started from the
    /// template with [`start_child`](Self::start_child). Its incarnations are
    /// reached through the returned [`ChildRef`] (the spec's own
    /// [`ChildSpec::child_ref`] is not used: dynamic children never share a
    /// handle). The spec's id is a label only: dynamic children are known by
    /// their [`ActorId`] and listed without ids, as in Elixir.
    ///
    /// `InvalidSpec` for a significant child (a dynamic supervisor has no
    /// auto shutdown).
    ///
    /// ```
    /// # use treeline::*;
    /// # use treeline::actor::ShutdownPolicy;
    /// # use treeline::supervisor::{DynamicSpec, Restart};
    /// # struct Job;
    /// # impl Actor for Job {
    /// #     type Args = u32;
    /// #     async fn init(_: u32, _: &mut Context<Self>) -> Result<Self, InitError> { Ok(Job) }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let system = System::new();
    /// let jobs = system.start_dynamic(DynamicSpec::<Job>::new()).await.unwrap();
    /// // A throwaway job, killed outright when the supervisor stops...
    /// let scratch = ChildSpec::<Job>::worker("scratch", 1)
    ///     .restart(Restart::Temporary)
    ///     .shutdown(ShutdownPolicy::BrutalKill);
    /// jobs.start_child_spec(scratch).await.unwrap();
    /// // ...beside one that is named, and restarted unless it ends normally.
    /// let report = ChildSpec::<Job>::worker("report", 2)
    ///     .restart(Restart::Transient)
    ///     .name(Name::new("report"));
    /// jobs.start_child_spec(report).await.unwrap();
    /// assert_eq!(jobs.count_children().await.unwrap().active, 2);
    /// # }
    /// ```
    pub async fn start_child_spec(&self, spec: ChildSpec<A>) -> Result<Option<ChildRef<A>>, SupervisorError> {
        self.actor.call_forever(StartDynamicSpec(spec)).await?
    }

    /// Stops the child known as `id`: its running incarnation, or, while
    /// its restart is being retried, the incarnation that died (the retries
    /// stop, as in OTP and Elixir). `NotFound` for anything else (including
    /// a second call).
    ///
    /// ```
    /// # use treeline::*;
    /// # use treeline::supervisor::{DynamicSpec, SupervisorError};
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
    /// let sup = system.start_dynamic(DynamicSpec::<W>::new()).await.unwrap();
    /// let child = sup.start_child(1).await.unwrap().unwrap();
    /// let id = child.id().unwrap();
    /// assert_eq!(sup.terminate_child(id).await, Ok(()));
    /// assert_eq!(sup.terminate_child(id).await, Err(SupervisorError::NotFound));
    /// # }
    /// ```
    pub async fn terminate_child(&self, id: ActorId) -> Result<(), SupervisorError> {
        self.actor.call_forever(TerminateDynamic(id)).await?
    }

    /// The children (no ids), newest first: the order of a static
    /// supervisor's `which_children` (OTP's).
    pub async fn which_children(&self) -> Result<Vec<ChildInfo>, SupervisorError> {
        Ok(self.actor.call_forever(WhichDynamic).await?)
    }

    /// The children's counts, as Elixir's `DynamicSupervisor.count_children`
    /// gives them: `specs` counts every child, running or restarting,
    /// `workers` and `supervisors` split them by kind; `active` counts the
    /// running ones. (OTP's `simple_one_for_one`
    /// reports `specs: 1`, its one template; treeline follows Elixir on
    /// purpose, since a count of the template says nothing.)
    pub async fn count_children(&self) -> Result<ChildCounts, SupervisorError> {
        Ok(self.actor.call_forever(CountDynamic).await?)
    }

    /// A snapshot of the supervisor and its children.
    pub async fn snapshot(&self) -> Result<SupervisorSnapshot, SupervisorError> {
        Ok(self.actor.call_timeout(SnapshotDynamic { nested: true }, crate::addr::DEFAULT_CALL_TIMEOUT).await?)
    }

    /// Stops the supervisor and all its children.
    pub async fn stop(&self, reason: ExitReason) -> Result<(), StopError> {
        self.actor.stop(reason).await
    }
}

impl System {
    /// Starts a top-level dynamic supervisor.
    pub async fn start_dynamic<A: Actor>(&self, spec: DynamicSpec<A>) -> Result<DynamicSupervisorRef<A>, StartError>
    where
        A::Args: Clone,
    {
        let kind = crate::actor::report::bare_type_name(std::any::type_name::<DynamicSupervisor<A>>());
        let options = SpawnOptions::new().shutdown(ShutdownPolicy::Infinity).kind(kind);
        let actor = self.spawn_with::<DynamicSupervisor<A>>(spec, options).await?;
        Ok(DynamicSupervisorRef { actor })
    }
}

impl<A: Actor> ChildSpec<DynamicSupervisor<A>>
where
    A::Args: Clone,
{
    /// A child that is a dynamic supervisor (shutdown `Infinity`). Its
    /// children are not restarted with it: a restarted dynamic supervisor
    /// starts empty, as in OTP.
    pub fn dynamic_supervisor(id: impl Into<ChildId>, spec: DynamicSpec<A>) -> Self {
        let mut child = ChildSpec::from_fn(id, move || spec.clone());
        child.set_kind(ChildKind::Supervisor, |actor| {
            Box::pin(async move { DynamicSupervisorRef { actor }.snapshot().await.ok() })
        });
        child
    }

    /// A handle to the current incarnation of this dynamic supervisor.
    pub fn supervisor_ref(&self) -> Option<DynamicSupervisorRef<A>> {
        self.child_ref().current().map(DynamicSupervisorRef::new)
    }
}
