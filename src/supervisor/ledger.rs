//! One supervisor's restart bookkeeping, shared by the static and the
//! dynamic supervisor: the intensity window (OTP's `intensity` and
//! `period`), the optional [`Backoff`] with its jitter, and the restart
//! counts that snapshots report. Decisions only: it starts nothing.

use std::time::Duration;

use tokio::time::Instant;

use super::backoff::{Backoff, Jitter};
use super::intensity::Intensity;
use super::snapshot::{ChildSnapshot, SupervisorKind, SupervisorSnapshot};
use crate::addr::ActorId;
use crate::signal::FailedDelivery;

/// The supervisor's side of the ledger.
#[derive(Debug)]
pub(crate) struct Ledger {
    intensity: Intensity,
    backoff: Option<Backoff>,
    jitter: Jitter,
    restarts: u64,
}

/// The intensity window, as reports name it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Window {
    pub(crate) recent: usize,
    pub(crate) max: u32,
    pub(crate) period: Duration,
}

/// One child's side: what its restarts and its backoff series depend on.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ChildLedger {
    /// Restarts so far (reported by snapshots).
    pub(crate) restarts: u64,
    /// Consecutive failures, for the backoff.
    failures: u32,
    started_at: Option<Instant>,
    /// The durable message the child's handler last failed on.
    last_failed: Option<FailedDelivery>,
    /// The child's last exit failed on the same durable message as the one
    /// before: its restart is not counted against the intensity again.
    repeat: bool,
}

impl ChildLedger {
    /// The child (re)started now: a later failure after it ran for the
    /// backoff's settle time starts a new series.
    pub(crate) fn started(&mut self) {
        self.started_at = Some(Instant::now());
    }

    /// The child exited; `failed` is the durable message its handler failed
    /// on, if any. A poison message crashes its consumer on every
    /// redelivery until its delivery limit: those restarts count once
    /// against the intensity, so that one bad message cannot take the
    /// consumer's supervisor (and its siblings) down with it.
    pub(crate) fn exited(&mut self, failed: Option<FailedDelivery>) {
        self.repeat = failed.is_some() && failed == self.last_failed;
        self.last_failed = failed;
    }
}

impl Ledger {
    /// `restarts` within `period`, with `backoff` if any; the jitter is
    /// seeded by the supervisor's id.
    pub(crate) fn new(restarts: u32, period: Duration, backoff: Option<Backoff>, supervisor: ActorId) -> Ledger {
        Ledger {
            intensity: Intensity::new(restarts, period),
            backoff,
            jitter: Jitter::new(supervisor.as_u64().wrapping_mul(0x9E37_79B9_7F4A_7C15)),
            restarts: 0,
        }
    }

    /// Counts a restart of `child` against the intensity: `false` when the
    /// supervisor must give up (and shut down).
    pub(crate) fn count(&mut self, child: &mut ChildLedger) -> bool {
        self.restarts += 1;
        child.restarts += 1;
        if std::mem::take(&mut child.repeat) {
            return true; // the same poison message again: counted once
        }
        self.intensity.record(Instant::now())
    }

    /// The intensity window as of the last count: restarts in it, the
    /// limit, the period.
    pub(crate) fn window(&self) -> Window {
        Window { recent: self.intensity.recent(), max: self.intensity.max(), period: self.intensity.period() }
    }

    /// How long to wait before this restart of `child` (zero without a
    /// backoff), advancing its series of consecutive failures.
    pub(crate) fn delay(&mut self, child: &mut ChildLedger) -> Duration {
        let Some(backoff) = self.backoff else { return Duration::ZERO };
        if child.started_at.is_some_and(|at| at.elapsed() >= backoff.settle_time()) {
            child.failures = 0;
        }
        child.failures += 1;
        backoff.delay(child.failures, self.jitter.next())
    }

    /// The snapshot of supervisor `id`: its limits and counts from the
    /// ledger, and its `children`.
    pub(crate) fn snapshot(
        &self,
        id: ActorId,
        kind: SupervisorKind,
        children: Vec<ChildSnapshot>,
    ) -> SupervisorSnapshot {
        SupervisorSnapshot {
            id,
            kind,
            intensity: self.intensity.max(),
            period: self.intensity.period(),
            restarts: self.restarts,
            restarts_in_period: self.intensity.within(Instant::now()),
            children,
        }
    }
}
