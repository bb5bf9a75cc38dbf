//! Errors of sending, calling and stopping.

use std::error::Error as StdError;
use std::fmt;

use crate::exit::ExitReason;

/// A one-way send (cast, send, notify) did not queue the message; the message
/// comes back.
///
/// `Debug` does not require `M: Debug`.
///
/// ```
/// use treeline::SendError;
///
/// let err = SendError::NoProc("order 7");
/// assert_eq!(err.to_string(), "no such actor");
/// assert_eq!(err.into_inner(), "order 7");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub enum SendError<M> {
    /// The target is dead (or never existed).
    NoProc(M),
    /// The target's bounded mailbox is full and its policy refuses the
    /// message (`Reject`, or a non-waiting send to a `Wait` mailbox).
    Full(M),
}

impl<M> SendError<M> {
    /// The message that was not delivered.
    ///
    /// ```
    /// # use treeline::SendError;
    /// assert_eq!(SendError::Full(3).into_inner(), 3);
    /// ```
    pub fn into_inner(self) -> M {
        match self {
            SendError::NoProc(message) | SendError::Full(message) => message,
        }
    }

    /// True if the target is dead.
    ///
    /// ```
    /// # use treeline::SendError;
    /// assert!(SendError::NoProc(()).is_no_proc());
    /// ```
    pub fn is_no_proc(&self) -> bool {
        matches!(self, SendError::NoProc(_))
    }

    /// True if the target's mailbox was full.
    ///
    /// ```
    /// # use treeline::SendError;
    /// assert!(SendError::Full(()).is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        matches!(self, SendError::Full(_))
    }
}

impl<M> fmt::Debug for SendError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::NoProc(_) => f.write_str("NoProc(..)"),
            SendError::Full(_) => f.write_str("Full(..)"),
        }
    }
}

impl<M> fmt::Display for SendError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::NoProc(_) => f.write_str("no such actor"),
            SendError::Full(_) => f.write_str("mailbox full"),
        }
    }
}

impl<M> StdError for SendError<M> {}

/// Why a call did not produce a reply.
///
/// ```
/// use treeline::{CallError, ExitReason};
///
/// let err = CallError::Exit(ExitReason::custom("boom"));
/// assert_eq!(err.to_string(), "callee exited: boom");
/// assert_eq!(err.exit_reason(), Some(&ExitReason::custom("boom")));
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallError {
    /// No reply within the timeout. The callee keeps running; its late reply
    /// is dropped.
    Timeout,
    /// The callee was dead (or unknown) when the call was made.
    NoProc,
    /// The callee died before replying; this is its exit reason.
    Exit(ExitReason),
    /// An actor called itself, which would deadlock.
    CallingSelf,
    /// The callee's bounded mailbox is full and its policy refuses the call.
    MailboxFull,
    /// The callee dropped the reply token without replying (it is still
    /// alive).
    NoReply,
}

impl CallError {
    /// The callee's exit reason, for `Exit`.
    ///
    /// ```
    /// # use treeline::CallError;
    /// assert!(CallError::Timeout.exit_reason().is_none());
    /// ```
    pub fn exit_reason(&self) -> Option<&ExitReason> {
        match self {
            CallError::Exit(reason) => Some(reason),
            _ => None,
        }
    }
}

impl fmt::Debug for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Timeout => f.write_str("Timeout"),
            CallError::NoProc => f.write_str("NoProc"),
            CallError::Exit(reason) => f.debug_tuple("Exit").field(reason).finish(),
            CallError::CallingSelf => f.write_str("CallingSelf"),
            CallError::MailboxFull => f.write_str("MailboxFull"),
            CallError::NoReply => f.write_str("NoReply"),
        }
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Timeout => f.write_str("call timed out"),
            CallError::NoProc => f.write_str("no such actor"),
            CallError::Exit(reason) => write!(f, "callee exited: {reason}"),
            CallError::CallingSelf => f.write_str("an actor called itself"),
            CallError::MailboxFull => f.write_str("mailbox full"),
            CallError::NoReply => f.write_str("reply token dropped without a reply"),
        }
    }
}

impl StdError for CallError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            CallError::Exit(ExitReason::Error(reason) | ExitReason::ShutdownWith(reason)) => Some(reason.as_error()),
            _ => None,
        }
    }
}

/// Why a synchronous stop did not end with the requested reason.
///
/// ```
/// use treeline::ExitReason;
/// use treeline::addr::StopError;
///
/// assert_eq!(StopError::NoProc.to_string(), "no such actor");
/// let err = StopError::Exit(ExitReason::Killed);
/// assert_eq!(err.to_string(), "actor exited with another reason: killed");
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StopError {
    /// The target was already dead (or unknown).
    NoProc,
    /// An actor tried to stop itself synchronously; use `Context::stop`.
    CallingSelf,
    /// The actor did not stop within the timeout (it keeps running).
    Timeout,
    /// The actor stopped, but with another reason (it crashed or was killed
    /// first).
    Exit(ExitReason),
}

impl fmt::Debug for StopError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StopError::NoProc => f.write_str("NoProc"),
            StopError::CallingSelf => f.write_str("CallingSelf"),
            StopError::Timeout => f.write_str("Timeout"),
            StopError::Exit(reason) => f.debug_tuple("Exit").field(reason).finish(),
        }
    }
}

impl fmt::Display for StopError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StopError::NoProc => f.write_str("no such actor"),
            StopError::CallingSelf => f.write_str("an actor tried to stop itself synchronously"),
            StopError::Timeout => f.write_str("stop timed out"),
            StopError::Exit(reason) => write!(f, "actor exited with another reason: {reason}"),
        }
    }
}

impl StdError for StopError {}
