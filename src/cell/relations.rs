//! An actor's links and monitors, kept in its cell: changed only by the
//! actor's own callbacks and signal handling (rare next to messages), read
//! by snapshots from outside without the actor's help, as BEAM's
//! `process_info(Pid, links)` reads a process.
//!
//! Boxed on first use behind a short lock: most actors have no links or
//! monitors, and a cell stays small. No signal is ever sent while the lock
//! is held (callers take what they need out, then signal), so it nests with
//! nothing.

use std::collections::HashMap;

use parking_lot::Mutex;

use crate::addr::{ActorId, Pid};
use crate::signal::MonitorRef;

/// Links and monitors.
#[derive(Default)]
pub(crate) struct Relations {
    pub(crate) links: HashMap<ActorId, Pid>,
    /// Who monitors this actor.
    pub(crate) monitored_by: HashMap<MonitorRef, Pid>,
    /// Monitors this actor holds on others.
    pub(crate) monitoring: HashMap<MonitorRef, Pid>,
}

/// The ids an actor is related to, sorted (what snapshots show).
#[derive(Debug, Default)]
pub(crate) struct RelatedIds {
    pub(crate) links: Vec<ActorId>,
    pub(crate) monitors: Vec<ActorId>,
    pub(crate) monitored_by: Vec<ActorId>,
}

/// The cell's slot.
#[derive(Default)]
pub(crate) struct RelationsCell(Mutex<Option<Box<Relations>>>);

impl RelationsCell {
    /// Runs `f` on the relations (created on first use). `f` must not
    /// signal anyone.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut Relations) -> R) -> R {
        f(self.0.lock().get_or_insert_with(Default::default))
    }

    /// Runs `f` on the relations if there are any.
    pub(crate) fn with_existing<R>(&self, f: impl FnOnce(&mut Relations) -> R) -> Option<R> {
        self.0.lock().as_deref_mut().map(f)
    }

    /// Takes them all (teardown).
    pub(crate) fn take(&self) -> Option<Box<Relations>> {
        self.0.lock().take()
    }

    pub(crate) fn ids(&self) -> RelatedIds {
        let guard = self.0.lock();
        let Some(relations) = guard.as_deref() else { return RelatedIds::default() };
        let sorted = |ids: &mut dyn Iterator<Item = ActorId>| {
            let mut ids: Vec<ActorId> = ids.collect();
            ids.sort_unstable();
            ids
        };
        RelatedIds {
            links: sorted(&mut relations.links.keys().copied()),
            monitors: sorted(&mut relations.monitoring.values().map(Pid::id)),
            monitored_by: sorted(&mut relations.monitored_by.values().map(Pid::id)),
        }
    }
}
