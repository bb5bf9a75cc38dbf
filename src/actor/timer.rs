//! Timers: `send_after`, `send_interval`, cancellation.
//!
//! A timer is a small tokio task holding a *weak* reference to its actor: it
//! never keeps a dead actor alive, and every timer of an actor is cancelled
//! when the actor dies, so no timer task outlives its actor. Timer messages
//! travel through the mailbox like any other message, so they queue behind
//! messages already waiting.

use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::task::AbortHandle;
use tokio::time::Instant;

use super::dispatch::InfoMsg;
use super::HandleInfo;
use crate::cell::{ActorCell, Offered};

const PENDING: u8 = 0;
const FIRED: u8 = 1;
const CANCELLED: u8 = 2;

/// A running timer, from [`Context::send_after`] or
/// [`Context::send_interval`].
///
/// [`Context::send_after`]: crate::Context::send_after
/// [`Context::send_interval`]: crate::Context::send_interval
#[derive(Clone)]
pub struct TimerRef {
    state: Arc<AtomicU8>,
    task: AbortHandle,
}

impl TimerRef {
    /// Cancels the timer. Returns true if it had not fired yet (for an
    /// interval: if it was still running); its message is then never sent.
    ///
    /// ```
    /// use std::time::Duration;
    /// use treeline::*;
    /// struct Later;
    /// impl Actor for Later {
    ///     type Args = ();
    ///     async fn init(_: (), ctx: &mut Context<Self>) -> Result<Self, InitError> {
    ///         let timer = ctx.send_after(Duration::from_secs(60), Wake);
    ///         assert!(timer.cancel()); // it had not fired: Wake is never sent
    ///         assert!(!timer.cancel());
    ///         Ok(Later)
    ///     }
    /// }
    /// struct Wake;
    /// impl HandleInfo<Wake> for Later {
    ///     async fn handle_info(&mut self, _: Wake, _: &mut Context<Self>) -> Result<(), ExitReason> { Ok(()) }
    /// }
    /// ```
    pub fn cancel(&self) -> bool {
        let cancelled = self.state.compare_exchange(PENDING, CANCELLED, Ordering::AcqRel, Ordering::Acquire).is_ok();
        self.task.abort();
        cancelled
    }

    /// A handle on another task tied to the actor's life (a fed stream):
    /// cancelled with it, and aborted when the actor dies.
    pub(crate) fn for_task(task: AbortHandle) -> TimerRef {
        TimerRef { state: Arc::new(AtomicU8::new(PENDING)), task }
    }

    /// True while the timer may still send.
    pub fn is_active(&self) -> bool {
        self.state.load(Ordering::Acquire) == PENDING && !self.task.is_finished()
    }
}

impl fmt::Debug for TimerRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimerRef").field("active", &self.is_active()).finish()
    }
}

pub(crate) fn send_after<A: HandleInfo<M>, M: Send + 'static>(
    target: Weak<ActorCell<A>>,
    delay: Duration,
    msg: M,
) -> TimerRef {
    let state = Arc::new(AtomicU8::new(PENDING));
    let fired = state.clone();
    let task = tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        if fired.compare_exchange(PENDING, FIRED, Ordering::AcqRel, Ordering::Acquire).is_err() {
            return;
        }
        if let Some(cell) = target.upgrade() {
            let _ = cell.offer(InfoMsg(msg)).await;
        }
    });
    TimerRef { state, task: task.abort_handle() }
}

/// Why [`Context::send_interval`](crate::Context::send_interval) refused a
/// period.
///
/// ```
/// use treeline::actor::TimerError;
///
/// assert_eq!(TimerError::ZeroPeriod.to_string(), "an interval needs a period greater than zero");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimerError {
    /// A zero period would tick without end.
    ZeroPeriod,
    /// The period reaches past what the clock can represent.
    OutOfRange,
}

impl fmt::Display for TimerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimerError::ZeroPeriod => f.write_str("an interval needs a period greater than zero"),
            TimerError::OutOfRange => f.write_str("the period reaches past what the clock can represent"),
        }
    }
}

impl std::error::Error for TimerError {}

pub(crate) fn send_interval<A: HandleInfo<M>, M: Clone + Send + 'static>(
    target: Weak<ActorCell<A>>,
    period: Duration,
    msg: M,
) -> Result<TimerRef, TimerError> {
    if period.is_zero() {
        return Err(TimerError::ZeroPeriod);
    }
    let first = Instant::now().checked_add(period).ok_or(TimerError::OutOfRange)?;
    let state = Arc::new(AtomicU8::new(PENDING));
    let running = state.clone();
    let task = tokio::spawn(async move {
        let mut due = first;
        loop {
            tokio::time::sleep_until(due).await;
            if running.load(Ordering::Acquire) != PENDING {
                return;
            }
            let Some(cell) = target.upgrade() else { return };
            if let Offered::Closed(_) = cell.offer(InfoMsg(msg.clone())).await {
                return;
            }
            // Ticks missed while the actor was busy are skipped: the next
            // one is the first on the period's grid that is still ahead.
            match next_tick(due, period, Instant::now()) {
                Some(next) => due = next,
                None => return, // beyond the clock's range: it would never come
            }
        }
    });
    Ok(TimerRef { state, task: task.abort_handle() })
}

/// The first instant `due + k * period` (k >= 1) after `now`.
fn next_tick(due: Instant, period: Duration, now: Instant) -> Option<Instant> {
    let next = due.checked_add(period)?;
    if next > now {
        return Some(next);
    }
    let behind = now.duration_since(next).as_nanos();
    let skipped = behind / period.as_nanos() + 1;
    let skip = period.checked_mul(u32::try_from(skipped).ok()?)?;
    next.checked_add(skip)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missed_ticks_are_skipped_onto_the_grid() {
        let start = Instant::now();
        let period = Duration::from_millis(10);
        let due = start + period;
        assert_eq!(next_tick(due, period, start), Some(due + period));
        // 35 ms late: the ticks at 20 and 30 are skipped, the next is at 40.
        assert_eq!(next_tick(due, period, start + Duration::from_millis(35)), Some(start + Duration::from_millis(40)));
        assert_eq!(next_tick(due, Duration::MAX, start), None);
    }
}
