//! OTP's `shutdown/2`: how a parent stops its children. One procedure for
//! the System (its top-level actors), the static supervisor (one child at a
//! time, newest first) and the dynamic supervisor (all children at once).
//!
//! Per the child's [`ShutdownPolicy`]: `BrutalKill` kills at once;
//! `Timeout(t)` sends the exit signal `shutdown` (a trapping child runs
//! `terminate`) and kills whoever is still alive after `t`; `Infinity` sends
//! `shutdown` and waits. A supervisor unlinks each child first, so the
//! death it causes is not taken for a failure.

use futures::future::join_all;

use super::options::ShutdownPolicy;
use super::{Actor, Context};
use crate::addr::{ActorId, Pid};
use crate::exit::ExitReason;
use crate::signal::Signal;

/// Who stops the children.
pub(crate) trait Parent {
    /// Unlinks `child`, so its death is not taken for a failure.
    fn unlink(&mut self, child: &Pid);
    /// Sends `child` the exit signal `shutdown`.
    fn shut(&mut self, child: &Pid);
}

impl<S: Actor> Parent for Context<S> {
    fn unlink(&mut self, child: &Pid) {
        Context::unlink(self, child);
    }

    fn shut(&mut self, child: &Pid) {
        self.exit(child, ExitReason::Shutdown);
    }
}

/// The System stopping its top-level actors: an exit signal from no actor.
pub(crate) struct FromSystem;

impl Parent for FromSystem {
    fn unlink(&mut self, _: &Pid) {}

    fn shut(&mut self, child: &Pid) {
        let _ = child.0.signal(Signal::Exit {
            from: ActorId::SYSTEM,
            reason: ExitReason::Shutdown,
            linked: false,
            failed: None,
        });
    }
}

/// Stops `children` at once, each by its own policy (its own timeout,
/// counted from the same moment), and returns their exit reasons in order
/// (a single child is a set of one).
pub(crate) async fn shutdown(parent: &mut impl Parent, children: &[(Pid, ShutdownPolicy)]) -> Vec<ExitReason> {
    for (child, policy) in children {
        parent.unlink(child);
        match policy {
            ShutdownPolicy::BrutalKill => {
                child.kill();
            }
            ShutdownPolicy::Timeout(_) | ShutdownPolicy::Infinity => parent.shut(child),
        }
    }
    join_all(children.iter().map(|(child, policy)| async move {
        if let ShutdownPolicy::Timeout(timeout) = *policy {
            if tokio::time::timeout(timeout, child.join()).await.is_err() {
                child.kill();
            }
        }
        child.join().await
    }))
    .await
}
