//! A snapshot of a supervision tree: plain data, plus a text rendering.
//!
//! Built on demand by asking each supervisor; nothing is recorded per
//! message for it.

use std::fmt;
use std::time::Duration;

use super::spec::{ChildId, ChildKind, Restart};
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

impl ChildSnapshot {
    pub(crate) fn new(
        id: Option<ChildId>,
        pid: Option<&Pid>,
        actor_type: &'static str,
        kind: ChildKind,
        restart: Restart,
        status: ChildStatus,
        restarts: u64,
    ) -> Self {
        ChildSnapshot {
            id,
            actor: pid.map(Pid::id),
            actor_type,
            kind,
            restart,
            status,
            restarts,
            mailbox_len: pid.map_or(0, |pid| pid.0.mailbox_len()),
            mailbox_capacity: pid.and_then(|pid| pid.0.mailbox_capacity()),
            handled: pid.map_or(0, |pid| pid.0.handled()),
            dead_letters: pid.map_or(0, |pid| pid.0.dead_letters()),
            supervisor: None,
        }
    }
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
