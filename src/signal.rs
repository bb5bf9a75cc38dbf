//! Signals between actors (links, monitors, exits, stop requests) and the
//! messages some of them turn into.
//!
//! Signals that act on the receiver travel on its *priority lane*: a
//! separate queue that the actor drains before every message, and that a
//! full or long user queue never blocks. That covers links, monitors, stop
//! requests, the untrappable kill, and exit signals to an actor that does not
//! trap exits: they act at once, ahead of any queued message.
//!
//! Signals that become ordinary [`HandleInfo`] messages take their place in
//! the user queue *when they arrive*, behind the messages already there and
//! ahead of later ones, as in OTP:
//!
//! * a monitored actor's death becomes a [`Down`];
//! * an exit signal to an actor that traps exits becomes an [`Exit`] (or,
//!   from its parent, runs `terminate` once the messages queued before it
//!   were handled);
//! * an idle timeout becomes an [`IdleTimeout`].
//!
//! These never count toward a bounded mailbox's capacity and are never shed.
//!
//! [`HandleInfo`]: crate::HandleInfo

use std::fmt;

use tokio::sync::oneshot;

use crate::addr::{ActorId, Pid};
use crate::exit::ExitReason;

/// Identifies one monitor, as returned by [`Context::monitor`].
///
/// [`Context::monitor`]: crate::Context::monitor
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MonitorRef(pub(crate) u64);

impl fmt::Debug for MonitorRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MonitorRef({})", self.0)
    }
}

impl fmt::Display for MonitorRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#Ref<{}>", self.0)
    }
}

/// A monitored actor died (OTP `{'DOWN', Ref, process, Pid, Reason}`).
///
/// Delivered to [`HandleInfo<Down>`](crate::HandleInfo) of the actor that
/// called [`Context::monitor`]. Monitoring an actor that is already dead gives
/// a `Down` with [`ExitReason::NoProc`] at once.
///
/// [`Context::monitor`]: crate::Context::monitor
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Down {
    /// The monitor this notification belongs to.
    pub monitor: MonitorRef,
    /// The actor that died.
    pub id: ActorId,
    /// Why it died.
    pub reason: ExitReason,
}

/// A linked actor exited, or someone sent an exit signal, while this actor
/// traps exits (OTP `{'EXIT', From, Reason}`).
///
/// Delivered to [`HandleInfo<Exit>`](crate::HandleInfo) once the actor called
/// [`Context::trap_exit`]. An exit signal from the actor's *parent* is not
/// delivered: it makes the actor run `terminate` and stop, as a gen_server does.
///
/// [`Context::trap_exit`]: crate::Context::trap_exit
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Exit {
    /// Who sent the signal (the linked actor that died, or the sender of
    /// `exit`).
    pub from: ActorId,
    /// The reason it carries.
    pub reason: ExitReason,
    /// The durable message the sender's handler failed on, if it died so.
    pub(crate) failed: Option<FailedDelivery>,
}

impl Exit {
    /// What a non-trapping actor does with this signal: nothing for
    /// `Normal`, and for any other reason stop with it. Returned from a
    /// trapping actor's handler, it keeps the links' semantics and adds the
    /// `terminate` that trapping buys (what `#[actor(trap_exit)]` generates).
    ///
    /// ```
    /// use treeline::*;
    /// use treeline::signal::Exit;
    ///
    /// struct Flusher;
    /// impl Actor for Flusher {
    ///     type Args = ();
    ///     async fn init(_: (), ctx: &mut Context<Self>) -> Result<Self, InitError> {
    ///         ctx.trap_exit(true); // so that `terminate` runs when a link dies
    ///         Ok(Flusher)
    ///     }
    ///     async fn terminate(&mut self, _: &ExitReason, _: &mut Context<Self>) {
    ///         // flush buffers
    ///     }
    /// }
    /// impl HandleInfo<Exit> for Flusher {
    ///     async fn handle_info(&mut self, exit: Exit, _: &mut Context<Self>) -> Result<(), ExitReason> {
    ///         exit.propagate()
    ///     }
    /// }
    /// ```
    pub fn propagate(self) -> Result<(), ExitReason> {
        if self.reason.is_normal() {
            Ok(())
        } else {
            Err(self.reason)
        }
    }
}

/// No message arrived within the idle timeout set by
/// [`Context::idle_timeout`] (OTP's `timeout` message).
///
/// [`Context::idle_timeout`]: crate::Context::idle_timeout
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdleTimeout;

/// The durable message a dying actor's handler failed on (its queue's id
/// and the message's seq), carried by the exit signal to its links: a
/// supervisor counts the restarts one poison message causes once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FailedDelivery {
    pub(crate) queue: u32,
    pub(crate) seq: std::num::NonZeroU64,
}

/// A signal on an actor's priority lane.
pub(crate) enum Signal {
    /// An exit signal. `linked` is true when it comes from a link (the sender
    /// died), false for an explicit `exit(target, reason)`.
    Exit { from: ActorId, reason: ExitReason, linked: bool, failed: Option<FailedDelivery> },
    /// `from` linked itself to this actor.
    Link { from: Pid },
    /// `from` removed its link to this actor.
    Unlink { from: ActorId },
    /// `by` monitors this actor under `monitor`.
    Monitor { by: Pid, monitor: MonitorRef },
    /// The monitor `monitor` on this actor was removed.
    Demonitor { monitor: MonitorRef },
    /// An actor this one monitors died.
    Down(Down),
    /// Stop with `reason`, running `terminate` whether trapping or not; tell
    /// `reply` (if any) the final exit reason.
    Stop { reason: ExitReason, reply: Option<oneshot::Sender<ExitReason>> },
}

impl Signal {
    /// How this signal travels to a receiver that does (or does not) trap
    /// exits: `Err` for the priority lane, `Ok` for the user lane.
    pub(crate) fn route(self, trapping: bool) -> Result<Arrived, Signal> {
        match self {
            Signal::Down(down) => Ok(Arrived::Down(down)),
            Signal::Exit { from, reason, linked, failed } if trapping && !untrappable(&reason, linked) => {
                Ok(Arrived::Exit { from, reason, linked, failed })
            }
            other => Err(other),
        }
    }
}

/// An explicit `exit(target, Kill)`: it cannot be trapped (a linked actor
/// that itself died with `Kill` sends a trappable signal).
fn untrappable(reason: &ExitReason, linked: bool) -> bool {
    *reason == ExitReason::Kill && !linked
}

/// A signal that becomes a message: it waits in the user lane in arrival
/// order, and is converted (or dropped) when the actor reaches it.
pub(crate) enum Arrived {
    /// An exit signal that arrived while the receiver trapped exits.
    Exit { from: ActorId, reason: ExitReason, linked: bool, failed: Option<FailedDelivery> },
    /// A monitored actor died.
    Down(Down),
}

impl From<Arrived> for Signal {
    fn from(arrived: Arrived) -> Signal {
        match arrived {
            Arrived::Exit { from, reason, linked, failed } => Signal::Exit { from, reason, linked, failed },
            Arrived::Down(down) => Signal::Down(down),
        }
    }
}

impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Signal::Exit { from, reason, linked, .. } => {
                f.debug_struct("Exit").field("from", from).field("reason", reason).field("linked", linked).finish()
            }
            Signal::Link { from } => f.debug_struct("Link").field("from", &from.id()).finish(),
            Signal::Unlink { from } => f.debug_struct("Unlink").field("from", from).finish(),
            Signal::Monitor { by, monitor } => {
                f.debug_struct("Monitor").field("by", &by.id()).field("monitor", monitor).finish()
            }
            Signal::Demonitor { monitor } => f.debug_struct("Demonitor").field("monitor", monitor).finish(),
            Signal::Down(down) => f.debug_tuple("Down").field(down).finish(),
            Signal::Stop { reason, .. } => f.debug_struct("Stop").field("reason", reason).finish(),
        }
    }
}
