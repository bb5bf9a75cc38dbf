//! Errors of supervisors: invalid specs, failed starts, management calls.

use std::error::Error as StdError;
use std::fmt;

use super::spec::ChildId;
use crate::addr::{CallError, Pid};
use crate::exit::ExitReason;

/// A supervisor specification that cannot be started (OTP's
/// `{supervisor_data, ..}`, `{duplicate_child_name, Id}`, `{bad_combination, ..}`).
///
/// A supervisor's start fails with `StartError::Exit(reason)`, where
/// `reason.downcast_ref::<SpecError>()` tells which.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SpecError {
    /// Two children share an id.
    DuplicateChildId(ChildId),
    /// The intensity period is zero.
    ZeroPeriod,
    /// A significant child must be `Transient` or `Temporary`.
    SignificantPermanent(ChildId),
    /// Significant children need an `AutoShutdown` other than `Never`.
    SignificantWithoutAutoShutdown(ChildId),
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpecError::DuplicateChildId(id) => write!(f, "duplicate child id {id}"),
            SpecError::ZeroPeriod => f.write_str("the restart intensity period must be longer than zero"),
            SpecError::SignificantPermanent(id) => write!(f, "child {id} is significant and permanent"),
            SpecError::SignificantWithoutAutoShutdown(id) => {
                write!(f, "child {id} is significant but the supervisor's auto_shutdown is never")
            }
        }
    }
}

impl StdError for SpecError {}

/// A child failed to start while its supervisor started (OTP's
/// `{shutdown, {failed_to_start_child, Id, Reason}}`): the supervisor's
/// start fails with `StartError::Exit(ExitReason::ShutdownWith(..))` holding
/// this.
///
/// ```
/// use treeline::ExitReason;
/// use treeline::supervisor::FailedToStartChild;
///
/// /// Which child made a supervisor's start fail, and why.
/// fn failed_child(reason: &ExitReason) -> Option<(&str, &ExitReason)> {
///     let failed = reason.downcast_ref::<FailedToStartChild>()?;
///     Some((failed.id.as_str(), &failed.reason))
/// }
/// assert_eq!(failed_child(&ExitReason::Shutdown), None);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FailedToStartChild {
    /// The child that failed.
    pub id: ChildId,
    /// Why its start failed.
    pub reason: ExitReason,
}

impl fmt::Display for FailedToStartChild {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "failed to start child {}: {}", self.id, self.reason)
    }
}

impl StdError for FailedToStartChild {}

/// Why a supervisor management call failed (OTP's `{error, ..}` results).
///
/// ```
/// use treeline::supervisor::SupervisorError;
///
/// assert_eq!(SupervisorError::NotFound.to_string(), "no such child");
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SupervisorError {
    /// No child with that id (or pid).
    NotFound,
    /// The child is running (`restart_child`, `delete_child`).
    Running,
    /// The child is being restarted.
    Restarting,
    /// `start_child` with the id of a running child.
    AlreadyStarted(Pid),
    /// `start_child` with the id of a child that is not running.
    AlreadyPresent,
    /// The child's start failed with this reason; nothing was stored.
    StartFailed(ExitReason),
    /// The child spec is invalid for this supervisor.
    InvalidSpec(SpecError),
    /// A dynamic supervisor is at `max_children`.
    MaxChildren,
    /// The supervisor is not alive.
    NoProc,
    /// The supervisor died during the call.
    Exit(ExitReason),
}

impl From<CallError> for SupervisorError {
    fn from(error: CallError) -> Self {
        match error {
            CallError::Exit(reason) => SupervisorError::Exit(reason),
            _ => SupervisorError::NoProc,
        }
    }
}

impl fmt::Debug for SupervisorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SupervisorError::NotFound => f.write_str("NotFound"),
            SupervisorError::Running => f.write_str("Running"),
            SupervisorError::Restarting => f.write_str("Restarting"),
            SupervisorError::AlreadyStarted(pid) => f.debug_tuple("AlreadyStarted").field(pid).finish(),
            SupervisorError::AlreadyPresent => f.write_str("AlreadyPresent"),
            SupervisorError::StartFailed(reason) => f.debug_tuple("StartFailed").field(reason).finish(),
            SupervisorError::InvalidSpec(error) => f.debug_tuple("InvalidSpec").field(error).finish(),
            SupervisorError::MaxChildren => f.write_str("MaxChildren"),
            SupervisorError::NoProc => f.write_str("NoProc"),
            SupervisorError::Exit(reason) => f.debug_tuple("Exit").field(reason).finish(),
        }
    }
}

impl fmt::Display for SupervisorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SupervisorError::NotFound => f.write_str("no such child"),
            SupervisorError::Running => f.write_str("the child is running"),
            SupervisorError::Restarting => f.write_str("the child is restarting"),
            SupervisorError::AlreadyStarted(pid) => write!(f, "the child is already started as {pid}"),
            SupervisorError::AlreadyPresent => f.write_str("a child with this id is already present"),
            SupervisorError::StartFailed(reason) => write!(f, "the child failed to start: {reason}"),
            SupervisorError::InvalidSpec(error) => write!(f, "invalid child spec: {error}"),
            SupervisorError::MaxChildren => f.write_str("the supervisor has its maximum number of children"),
            SupervisorError::NoProc => f.write_str("no such supervisor"),
            SupervisorError::Exit(reason) => write!(f, "the supervisor exited: {reason}"),
        }
    }
}

impl StdError for SupervisorError {}
