//! What a supervisor reports about its children: `which_children` rows,
//! `count_children` counts, and snapshots of the tree (plain data, plus a
//! text rendering).
//!
//! Built on demand by asking each supervisor; nothing is recorded per
//! message for it.

use std::fmt;
use std::time::Duration;

use super::spec::{ChildId, ChildKind, Restart, SnapshotFuture, StartChild};
use crate::actor::ShutdownPolicy;
use crate::addr::{ActorId, Pid};

/// What a supervisor does on failure, for snapshots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SupervisorKind {
    /// A static supervisor with this strategy.
    Static(super::Strategy),
    /// A dynamic supervisor (one_for_one over anonymous children).
    Dynamic,
}

impl fmt::Display for SupervisorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SupervisorKind::Static(strategy) => fmt::Display::fmt(strategy, f),
            SupervisorKind::Dynamic => f.write_str("dynamic"),
        }
    }
}

/// A child's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChildStatus {
    /// Running as the given actor.
    Running,
    /// Its restart failed or is delayed; the supervisor will try again.
    Restarting,
    /// Not running and not being restarted (terminated, ignored, or a
    /// transient child that exited normally).
    NotRunning,
}

/// One supervisor, its settings and its children.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SupervisorSnapshot {
    /// The supervisor's actor id.
    pub id: ActorId,
    /// Strategy (or dynamic).
    pub kind: SupervisorKind,
    /// Restart intensity: at most this many restarts...
    pub intensity: u32,
    /// ...within this period.
    pub period: Duration,
    /// Restarts performed so far.
    pub restarts: u64,
    /// Restarts within the last `period`: how close the supervisor is to
    /// its intensity (one more than `intensity` within the period and it
    /// gives up).
    pub restarts_in_period: usize,
    /// Children in start order.
    pub children: Vec<ChildSnapshot>,
}

/// One child of a supervisor.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ChildSnapshot {
    /// Its child-spec id (`None` for dynamic children).
    pub id: Option<ChildId>,
    /// The running incarnation.
    pub actor: Option<ActorId>,
    /// The actor's Rust type.
    pub actor_type: &'static str,
    /// Worker or supervisor.
    pub kind: ChildKind,
    /// Its restart type.
    pub restart: Restart,
    /// How it is stopped.
    pub shutdown: ShutdownPolicy,
    /// Whether its exit can shut the supervisor down (`auto_shutdown`).
    pub significant: bool,
    /// Running, restarting or not running.
    pub status: ChildStatus,
    /// How many times it was restarted.
    pub restarts: u64,
    /// Messages waiting in its mailbox.
    pub mailbox_len: usize,
    /// Its mailbox capacity (`None`: unbounded).
    pub mailbox_capacity: Option<usize>,
    /// Messages it handled (this incarnation).
    pub handled: u64,
    /// Dead letters addressed to it (this incarnation).
    pub dead_letters: u64,
    /// If it is a supervisor: its own snapshot.
    pub supervisor: Option<Box<SupervisorSnapshot>>,
}

/// One child as `which_children` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChildInfo {
    /// Its id (`None` for a dynamic supervisor's children).
    pub id: Option<ChildId>,
    /// The running incarnation.
    pub pid: Option<Pid>,
    /// Running, restarting or not running.
    pub status: ChildStatus,
    /// Worker or supervisor.
    pub kind: ChildKind,
}

/// `count_children`: OTP's counts for a static supervisor; for a dynamic
/// one, Elixir's (`specs` is the number of children, see
/// [`DynamicSupervisorRef::count_children`](super::DynamicSupervisorRef::count_children)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChildCounts {
    /// Child specs (a static supervisor), or children running or restarting
    /// (a dynamic one).
    pub specs: usize,
    /// Running children.
    pub active: usize,
    /// Specs of kind supervisor, running or not.
    pub supervisors: usize,
    /// Specs of kind worker, running or not.
    pub workers: usize,
}

impl ChildCounts {
    /// The counts of `rows`.
    pub(crate) fn of<'a>(rows: impl Iterator<Item = ChildRow<'a>>) -> ChildCounts {
        let mut counts = ChildCounts::default();
        for row in rows {
            counts.specs += 1;
            counts.active += usize::from(row.pid.is_some());
            match row.spec.kind() {
                ChildKind::Worker => counts.workers += 1,
                ChildKind::Supervisor => counts.supervisors += 1,
            }
        }
        counts
    }
}

/// One child as its supervisor sees it: the row both kinds of supervisor
/// build their snapshots from.
pub(crate) struct ChildRow<'a> {
    pub(crate) spec: &'a dyn StartChild,
    /// Its id as reported (`None` for a dynamic supervisor's children).
    pub(crate) id: Option<ChildId>,
    pub(crate) pid: Option<&'a Pid>,
    pub(crate) status: ChildStatus,
    pub(crate) restarts: u64,
}

impl ChildRow<'_> {
    /// Its line in `which_children`.
    pub(crate) fn info(&self) -> ChildInfo {
        ChildInfo { id: self.id.clone(), pid: self.pid.cloned(), status: self.status, kind: self.spec.kind() }
    }

    /// Its snapshot, and the future of its own snapshot if it is a running
    /// supervisor (awaited by [`snapshot_rows`], after the rows are built).
    fn snapshot(&self) -> (ChildSnapshot, Option<SnapshotFuture>) {
        let pid = self.pid;
        let snapshot = ChildSnapshot {
            id: self.id.clone(),
            actor: pid.map(Pid::id),
            actor_type: self.spec.actor_type(),
            kind: self.spec.kind(),
            restart: self.spec.restart(),
            shutdown: self.spec.shutdown(),
            significant: self.spec.significant(),
            status: self.status,
            restarts: self.restarts,
            mailbox_len: pid.map_or(0, |pid| pid.0.mailbox_len()),
            mailbox_capacity: pid.and_then(|pid| pid.0.mailbox_capacity()),
            handled: pid.map_or(0, |pid| pid.0.handled()),
            dead_letters: pid.map_or(0, |pid| pid.0.dead_letters()),
            supervisor: None,
        };
        (snapshot, self.spec.snapshot())
    }
}

/// The snapshots of `rows`, without asking nested supervisors (a System
/// snapshot asks each supervisor itself).
pub(crate) fn flat_rows<'a>(rows: impl Iterator<Item = ChildRow<'a>>) -> Vec<ChildSnapshot> {
    rows.map(|row| row.snapshot().0).collect()
}

/// The snapshots of `rows`, nested supervisors included.
pub(crate) async fn snapshot_rows<'a>(rows: impl Iterator<Item = ChildRow<'a>>) -> Vec<ChildSnapshot> {
    // The rows borrow the supervisor's children; only owned futures are
    // awaited.
    let pending: Vec<_> = rows.map(|row| row.snapshot()).collect();
    let mut children = Vec::with_capacity(pending.len());
    for (mut child, nested) in pending {
        if let Some(nested) = nested {
            child.supervisor = nested.await.map(Box::new);
        }
        children.push(child);
    }
    children
}

impl SupervisorSnapshot {
    fn render(&self, f: &mut fmt::Formatter<'_>, indent: &str) -> fmt::Result {
        writeln!(
            f,
            "{} {} (intensity {} in {:?}), {} restarts",
            self.id, self.kind, self.intensity, self.period, self.restarts
        )?;
        for (position, child) in self.children.iter().enumerate() {
            let last = position + 1 == self.children.len();
            let (branch, next) = if last { ("└─ ", "   ") } else { ("├─ ", "│  ") };
            let name = child.id.as_ref().map_or_else(|| "-".to_string(), ChildId::to_string);
            let actor = child.actor.map_or_else(|| "-".to_string(), |id| id.to_string());
            let status = match child.status {
                ChildStatus::Running => "running",
                ChildStatus::Restarting => "restarting",
                ChildStatus::NotRunning => "not running",
            };
            let restart = format!("{:?}", child.restart).to_lowercase();
            write!(f, "{indent}{branch}{name} {actor} {} {restart} {status}", child.kind)?;
            write!(f, ", restarts {}", child.restarts)?;
            if child.actor.is_some() {
                let capacity = child.mailbox_capacity.map_or_else(|| "∞".to_string(), |c| c.to_string());
                write!(f, ", handled {}, mailbox {}/{capacity}", child.handled, child.mailbox_len)?;
                if child.dead_letters > 0 {
                    write!(f, ", dead letters {}", child.dead_letters)?;
                }
            }
            match &child.supervisor {
                Some(nested) => {
                    write!(f, "\n{indent}{next}")?;
                    nested.render(f, &format!("{indent}{next}"))?;
                }
                None => writeln!(f)?,
            }
        }
        Ok(())
    }
}

/// Renders the tree, one line per node.
impl fmt::Display for SupervisorSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.render(f, "")
    }
}
