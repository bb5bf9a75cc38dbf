//! The static supervisor: an actor that starts children from specs and keeps
//! them running by strategy, within a restart intensity (OTP's `supervisor` behaviour).
//!
//! It traps exits and links to every child (the child's parent), so a child's
//! death reaches it as an [`Exit`] message. Children it stops itself
//! (bystanders, `terminate_child`, shutdown) are unlinked first, so their
//! deaths never look like failures.

use super::error::{FailedToStartChild, SupervisorError};
use super::ledger::{ChildLedger, Ledger};
use super::report::{self, Reporter};
use super::snapshot::{
    flat_rows, snapshot_rows, ChildCounts, ChildInfo, ChildRow, ChildStatus, SupervisorKind, SupervisorSnapshot,
};
use super::spec::probe;
use super::spec::{ChildId, Restart, StartChild};
use super::strategy::{self, Strategy};
use super::{AutoShutdown, SupervisorSpec};
use crate::actor::shutdown::shutdown;
use crate::actor::spawn::StartError;
use crate::actor::{Actor, Context, HandleCall, HandleInfo, InitError, Reply, ShutdownPolicy};
use crate::addr::{ActorId, Pid};
use crate::exit::{ExitCause, ExitReason};
use crate::signal::Exit;

/// The supervisor actor. Build one with [`Supervisor::one_for_one`] (or
/// `one_for_all`, `rest_for_one`) and start it with
/// [`System::start`](crate::System::start), or as a child with
/// [`ChildSpec::supervisor`](crate::ChildSpec::supervisor).
pub struct Supervisor {
    strategy: Strategy,
    ledger: Ledger,
    auto_shutdown: AutoShutdown,
    children: Vec<Child>,
}

struct Child {
    spec: Box<dyn StartChild>,
    state: State,
    ledger: ChildLedger,
}

#[derive(Clone)]
enum State {
    Running(Pid),
    Restarting,
    Stopped,
}

impl Child {
    fn new(spec: Box<dyn StartChild>) -> Self {
        Child { spec, state: State::Stopped, ledger: ChildLedger::default() }
    }

    fn pid(&self) -> Option<&Pid> {
        match &self.state {
            State::Running(pid) => Some(pid),
            _ => None,
        }
    }

    fn status(&self) -> ChildStatus {
        match self.state {
            State::Running(_) => ChildStatus::Running,
            State::Restarting => ChildStatus::Restarting,
            State::Stopped => ChildStatus::NotRunning,
        }
    }
}

impl Actor for Supervisor {
    type Args = SupervisorSpec;

    async fn init(spec: SupervisorSpec, ctx: &mut Context<Self>) -> Result<Self, InitError> {
        spec.validate().map_err(|error| InitError::Stop(ExitReason::error(error)))?;
        ctx.trap_exit(true);
        ctx.system().add_supervisor(ctx.id(), probe(ctx, || Snapshot { nested: false }));
        let mut supervisor = Supervisor {
            strategy: spec.strategy,
            ledger: Ledger::new(spec.intensity, spec.period, spec.backoff, ctx.id()),
            auto_shutdown: spec.auto_shutdown,
            children: spec.children.into_iter().map(Child::new).collect(),
        };
        if let Err(failed) = supervisor.start_all(ctx).await {
            supervisor.stop_all(ctx).await;
            return Err(InitError::Stop(ExitReason::ShutdownWith(ExitCause::new(failed))));
        }
        Ok(supervisor)
    }

    async fn terminate(&mut self, _reason: &ExitReason, ctx: &mut Context<Self>) {
        self.stop_all(ctx).await;
    }
}

impl Supervisor {
    fn position(&self, id: &ChildId) -> Option<usize> {
        self.children.iter().position(|child| child.spec.id() == id)
    }

    fn position_of(&self, actor: ActorId) -> Option<usize> {
        self.children.iter().position(|child| child.pid().is_some_and(|pid| pid.id() == actor))
    }

    /// Starts every child in spec order; stops at the first failure.
    async fn start_all(&mut self, ctx: &mut Context<Self>) -> Result<(), FailedToStartChild> {
        let mut index = 0;
        while index < self.children.len() {
            match self.children[index].spec.start(ctx).await {
                Ok(Some(pid)) => self.set_running(index, pid),
                Ok(None) if self.children[index].spec.restart() == Restart::Temporary => {
                    self.children.remove(index);
                    continue;
                }
                Ok(None) => self.children[index].state = State::Stopped,
                Err(error) => {
                    return Err(FailedToStartChild {
                        id: self.children[index].spec.id().clone(),
                        reason: reason_of(error),
                    })
                }
            }
            index += 1;
        }
        Ok(())
    }

    fn set_running(&mut self, index: usize, pid: Pid) {
        let child = &mut self.children[index];
        child.state = State::Running(pid);
        child.ledger.started();
    }

    /// Stops every running child, newest first, one at a time.
    async fn stop_all(&mut self, ctx: &mut Context<Self>) {
        for index in (0..self.children.len()).rev() {
            self.stop_at(index, ctx).await;
        }
    }

    /// Stops one child per its shutdown spec (if running) and marks it stopped.
    async fn stop_at(&mut self, index: usize, ctx: &mut Context<Self>) {
        let child = &mut self.children[index];
        if let State::Running(pid) = &child.state {
            stop_child(ctx, pid, child.spec.shutdown()).await;
        }
        child.spec.clear();
        child.state = State::Stopped;
    }

    /// A child died on its own.
    async fn child_exited(
        &mut self,
        index: usize,
        reason: ExitReason,
        ctx: &mut Context<Self>,
    ) -> Result<(), ExitReason> {
        let child = &mut self.children[index];
        child.spec.clear();
        child.state = State::Stopped;
        let restart = child.spec.restart();
        if restart.restarts_on(&reason) {
            return self.restart(index, &reason, ctx).await;
        }
        let significant = child.spec.significant();
        if restart == Restart::Temporary {
            self.children.remove(index);
        }
        if significant && self.auto_shutdown_due() {
            tracing::debug!(supervisor = %ctx.id(), "a significant child exited: auto shutdown");
            return Err(ExitReason::Shutdown);
        }
        Ok(())
    }

    fn auto_shutdown_due(&self) -> bool {
        match self.auto_shutdown {
            AutoShutdown::Never => false,
            AutoShutdown::AnySignificant => true,
            AutoShutdown::AllSignificant => {
                !self.children.iter().any(|child| child.spec.significant() && !matches!(child.state, State::Stopped))
            }
        }
    }

    /// Counts a restart against the intensity; false when the supervisor must
    /// give up (reported).
    fn count_restart(&mut self, index: usize, reason: &(dyn std::fmt::Display + Sync), ctx: &Context<Self>) -> bool {
        if self.ledger.count(&mut self.children[index].ledger) {
            return true;
        }
        let child = self.children[index].spec.id().as_str();
        report::gave_up(Reporter::of(ctx), child, reason, self.ledger.window());
        false
    }

    async fn restart(&mut self, index: usize, reason: &ExitReason, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        if !self.count_restart(index, reason, ctx) {
            return Err(ExitReason::Shutdown);
        }
        let delay = self.ledger.delay(&mut self.children[index].ledger);
        let child = self.children[index].spec.id().as_str();
        report::restarting(Reporter::of(ctx), child, reason, self.ledger.window(), delay);
        if !delay.is_zero() {
            // Stop the bystanders now; start the set when the delay is over.
            self.stop_bystanders(index, ctx).await;
            let Some(index) = self.position(&self.children[index].spec.id().clone()) else { return Ok(()) };
            let id = self.children[index].spec.id().clone();
            self.children[index].state = State::Restarting;
            ctx.send_after(delay, TryAgain { id, counted: true });
            return Ok(());
        }
        self.restart_now(index, ctx).await;
        Ok(())
    }

    /// Stops the children the strategy restarts along with the one at
    /// `index`, newest first; temporary ones are removed.
    async fn stop_bystanders(&mut self, index: usize, ctx: &mut Context<Self>) {
        let plan = strategy::plan(self.strategy, index, self.children.len());
        let stopped: Vec<ChildId> = plan.stop.iter().map(|&i| self.children[i].spec.id().clone()).collect();
        for id in &stopped {
            if let Some(position) = self.position(id) {
                self.stop_at(position, ctx).await;
            }
        }
        // A temporary child is never restarted, not even as a bystander.
        self.children
            .retain(|child| !(child.spec.restart() == Restart::Temporary && stopped.contains(child.spec.id())));
    }

    /// Applies the strategy at once: bystanders stop, then the set starts in
    /// order. A failed start is retried through the mailbox (`TryAgain`), so
    /// the supervisor keeps answering in between.
    async fn restart_now(&mut self, index: usize, ctx: &mut Context<Self>) {
        let plan = strategy::plan(self.strategy, index, self.children.len());
        let to_start: Vec<ChildId> = plan.start.iter().map(|&i| self.children[i].spec.id().clone()).collect();
        self.stop_bystanders(index, ctx).await;
        for id in to_start {
            let Some(position) = self.position(&id) else { continue };
            if matches!(self.children[position].state, State::Running(_)) {
                continue;
            }
            match self.children[position].spec.start(ctx).await {
                Ok(Some(pid)) => self.set_running(position, pid),
                Ok(None) if self.children[position].spec.restart() == Restart::Temporary => {
                    self.children.remove(position);
                }
                Ok(None) => self.children[position].state = State::Stopped,
                Err(error) => {
                    report::restart_failed(Reporter::of(ctx), id.as_str(), &error);
                    self.children[position].state = State::Restarting;
                    let _ = ctx.myself().try_send(TryAgain { id, counted: false });
                    return;
                }
            }
        }
    }

    /// Every child's row, in start order.
    fn rows(&self) -> impl DoubleEndedIterator<Item = ChildRow<'_>> {
        self.children.iter().map(|child| ChildRow {
            spec: &*child.spec,
            id: Some(child.spec.id().clone()),
            pid: child.pid(),
            status: child.status(),
            restarts: child.ledger.restarts,
        })
    }
}

/// The exit reason a failed start stands for.
pub(crate) fn reason_of(error: StartError) -> ExitReason {
    match error {
        StartError::Exit(reason) => reason,
        StartError::Timeout => ExitReason::Killed,
        other => ExitReason::error(other),
    }
}

/// Stops a child the way a supervisor does (OTP `shutdown/2`, see
/// [`crate::actor::shutdown`]) and returns its exit reason.
pub(crate) async fn stop_child<S: Actor>(ctx: &mut Context<S>, pid: &Pid, policy: ShutdownPolicy) -> ExitReason {
    let mut reasons = shutdown(ctx, &[(pid.clone(), policy)]).await;
    reasons.pop().unwrap_or(ExitReason::Normal)
}

// === messages ===

/// Retry (or delayed start) of a child's restart.
pub(crate) struct TryAgain {
    id: ChildId,
    /// Already counted against the intensity (a backoff delay).
    counted: bool,
}

impl HandleInfo<Exit> for Supervisor {
    async fn handle_info(&mut self, exit: Exit, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        match self.position_of(exit.from) {
            Some(index) => {
                self.children[index].ledger.exited(exit.failed);
                self.child_exited(index, exit.reason, ctx).await
            }
            // Not a current child: a link that is not ours, or a child we
            // already replaced.
            None => Ok(()),
        }
    }
}

impl HandleInfo<TryAgain> for Supervisor {
    async fn handle_info(&mut self, again: TryAgain, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        let Some(index) = self.position(&again.id) else { return Ok(()) };
        if !matches!(self.children[index].state, State::Restarting) {
            return Ok(()); // terminated or restarted by hand meanwhile
        }
        if !again.counted && !self.count_restart(index, &"its restart failed", ctx) {
            return Err(ExitReason::Shutdown);
        }
        self.restart_now(index, ctx).await;
        Ok(())
    }
}

pub(crate) struct WhichChildren;
pub(crate) struct CountChildren;
pub(crate) struct TerminateChild(pub(crate) ChildId);
pub(crate) struct RestartChild(pub(crate) ChildId);
pub(crate) struct DeleteChild(pub(crate) ChildId);
pub(crate) struct StartChildMsg(pub(crate) Box<dyn StartChild>);
/// A snapshot request; `nested`: with the nested supervisors' own.
pub(crate) struct Snapshot {
    pub(crate) nested: bool,
}

impl HandleCall<WhichChildren> for Supervisor {
    type Reply = Vec<ChildInfo>;

    async fn handle_call(&mut self, _: WhichChildren, _: &mut Context<Self>) -> Reply<Vec<ChildInfo>> {
        // OTP lists children newest first.
        Reply::new(self.rows().rev().map(|row| row.info()).collect())
    }
}

impl HandleCall<CountChildren> for Supervisor {
    type Reply = ChildCounts;

    async fn handle_call(&mut self, _: CountChildren, _: &mut Context<Self>) -> Reply<ChildCounts> {
        Reply::new(ChildCounts::of(self.rows()))
    }
}

impl HandleCall<TerminateChild> for Supervisor {
    type Reply = Result<(), SupervisorError>;

    async fn handle_call(&mut self, TerminateChild(id): TerminateChild, ctx: &mut Context<Self>) -> Reply<Self::Reply> {
        let Some(index) = self.position(&id) else { return Reply::new(Err(SupervisorError::NotFound)) };
        self.stop_at(index, ctx).await;
        if self.children[index].spec.restart() == Restart::Temporary {
            self.children.remove(index);
        }
        Reply::new(Ok(()))
    }
}

impl HandleCall<RestartChild> for Supervisor {
    type Reply = Result<Option<Pid>, SupervisorError>;

    async fn handle_call(&mut self, RestartChild(id): RestartChild, ctx: &mut Context<Self>) -> Reply<Self::Reply> {
        let Some(index) = self.position(&id) else { return Reply::new(Err(SupervisorError::NotFound)) };
        match self.children[index].state {
            State::Running(_) => return Reply::new(Err(SupervisorError::Running)),
            State::Restarting => return Reply::new(Err(SupervisorError::Restarting)),
            State::Stopped => {}
        }
        Reply::new(match self.children[index].spec.start(ctx).await {
            Ok(Some(pid)) => {
                self.set_running(index, pid.clone());
                Ok(Some(pid))
            }
            Ok(None) => Ok(None),
            Err(error) => Err(SupervisorError::StartFailed(reason_of(error))),
        })
    }
}

impl HandleCall<DeleteChild> for Supervisor {
    type Reply = Result<(), SupervisorError>;

    async fn handle_call(&mut self, DeleteChild(id): DeleteChild, _: &mut Context<Self>) -> Reply<Self::Reply> {
        let Some(index) = self.position(&id) else { return Reply::new(Err(SupervisorError::NotFound)) };
        Reply::new(match self.children[index].state {
            State::Running(_) => Err(SupervisorError::Running),
            State::Restarting => Err(SupervisorError::Restarting),
            State::Stopped => {
                self.children.remove(index);
                Ok(())
            }
        })
    }
}

impl HandleCall<StartChildMsg> for Supervisor {
    type Reply = Result<Option<Pid>, SupervisorError>;

    async fn handle_call(&mut self, StartChildMsg(spec): StartChildMsg, ctx: &mut Context<Self>) -> Reply<Self::Reply> {
        if let Some(index) = self.position(spec.id()) {
            return Reply::new(Err(match self.children[index].pid() {
                Some(pid) => SupervisorError::AlreadyStarted(pid.clone()),
                None => SupervisorError::AlreadyPresent,
            }));
        }
        if let Err(error) = super::validate_child(&*spec, self.auto_shutdown) {
            return Reply::new(Err(SupervisorError::InvalidSpec(error)));
        }
        let started = spec.start(ctx).await;
        let temporary = spec.restart() == Restart::Temporary;
        Reply::new(match started {
            Ok(Some(pid)) => {
                self.children.push(Child::new(spec));
                let index = self.children.len() - 1;
                self.set_running(index, pid.clone());
                Ok(Some(pid))
            }
            Ok(None) => {
                if !temporary {
                    self.children.push(Child::new(spec));
                }
                Ok(None)
            }
            Err(error) => Err(SupervisorError::StartFailed(reason_of(error))),
        })
    }
}

impl HandleCall<Snapshot> for Supervisor {
    type Reply = SupervisorSnapshot;

    async fn handle_call(&mut self, request: Snapshot, ctx: &mut Context<Self>) -> Reply<SupervisorSnapshot> {
        let children = if request.nested { snapshot_rows(self.rows()).await } else { flat_rows(self.rows()) };
        Reply::new(self.ledger.snapshot(ctx.id(), SupervisorKind::Static(self.strategy), children))
    }
}

impl std::fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Supervisor")
            .field("strategy", &self.strategy)
            .field("children", &self.children.iter().map(|child| child.spec.id()).collect::<Vec<_>>())
            .finish()
    }
}
