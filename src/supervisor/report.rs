//! Supervisor reports (OTP's supervisor reports, as `tracing` events with
//! target `treeline::supervisor`): a restart at `info` (the crash itself
//! was reported by the child, `actor/report.rs`), a failed restart and a
//! give-up at `error`. A give-up names the restarts counted in the window
//! against the intensity, so "why did my tree stop" has one answer.

use std::time::Duration;

use std::fmt::Display;

use super::ledger::Window;
use crate::actor::{Actor, Context};
use crate::addr::ActorId;

/// Who reports: the supervisor's id and kind.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Reporter<'a> {
    pub(crate) id: ActorId,
    pub(crate) kind: &'a str,
}

impl<'a> Reporter<'a> {
    /// The supervisor running `ctx`.
    pub(crate) fn of<A: Actor>(ctx: &'a Context<A>) -> Self {
        Reporter { id: ctx.id(), kind: ctx.myself().cell.kind_name() }
    }
}

/// One event about a child's exit and the intensity window: the restart
/// and the give-up share their fields, and differ in level and sentence.
macro_rules! window_event {
    ($level:expr, $by:expr, $child:expr, $reason:expr, $window:expr, $($sentence:tt)+) => {{
        let Window { recent, max, period } = $window;
        tracing::event!(
            target: "treeline::supervisor",
            $level,
            supervisor = %$by.id,
            supervisor_kind = $by.kind,
            child = $child,
            reason = %$reason,
            restarts_in_period = recent,
            intensity = max,
            period_ms = u64::try_from(period.as_millis()).unwrap_or(u64::MAX),
            $($sentence)+
        );
    }};
}

/// A child is restarted (after `delay`, zero for at once).
pub(crate) fn restarting(by: Reporter<'_>, child: &str, reason: &dyn Display, window: Window, delay: Duration) {
    #[cfg(feature = "metrics")]
    crate::metrics::restarted(by.kind, child);
    let after = if delay.is_zero() { String::new() } else { format!(" in {delay:?}") };
    let Window { recent, max, period } = window;
    window_event!(
        tracing::Level::INFO,
        by,
        child,
        reason,
        window,
        "supervisor {} {} restarting child {child}{after} (exited: {reason}; restart {recent} of {max} allowed within {period:?})",
        by.kind,
        by.id,
    );
}

/// The supervisor reached its restart intensity and shuts down.
pub(crate) fn gave_up(by: Reporter<'_>, child: &str, reason: &dyn Display, window: Window) {
    #[cfg(feature = "metrics")]
    crate::metrics::escalated(by.kind);
    let Window { recent, max, period } = window;
    window_event!(
        tracing::Level::ERROR,
        by,
        child,
        reason,
        window,
        "supervisor {} {} gave up: child {child} exited ({reason}) and {recent} restarts within {period:?} exceed its intensity of {max}; shutting down",
        by.kind,
        by.id,
    );
}

/// Restarting a child failed; it is tried again through the mailbox.
pub(crate) fn restart_failed(by: Reporter<'_>, child: &str, error: &dyn std::fmt::Display) {
    tracing::error!(
        target: "treeline::supervisor",
        supervisor = %by.id,
        supervisor_kind = by.kind,
        child,
        error = %error,
        "supervisor {} {} could not restart child {child}: {error}; trying again",
        by.kind,
        by.id,
    );
}
