//! What `init` may answer instead of a state.

use std::error::Error as StdError;
use std::fmt;

use crate::exit::ExitReason;

/// Why `init` did not produce a state.
///
/// `?` works inside `init`: any error becomes `Stop(ExitReason::Error(..))`.
///
/// ```
/// use treeline::{Actor, Context, InitError};
///
/// struct Config { port: u16 }
///
/// impl Actor for Config {
///     type Args = String;
///     async fn init(raw: String, _ctx: &mut Context<Self>) -> Result<Self, InitError> {
///         if raw.is_empty() {
///             return Err(InitError::Ignore); // nothing to do: not an error
///         }
///         let port = raw.parse::<u16>()?; // a parse error stops the start
///         Ok(Config { port })
///     }
/// }
/// ```
#[derive(Clone, PartialEq, Eq)]
pub enum InitError {
    /// OTP `ignore`: the actor does not start, and that is not a failure.
    Ignore,
    /// OTP `{stop, Reason}`: the start fails with this reason.
    Stop(ExitReason),
}

impl InitError {
    /// Shorthand for `InitError::Stop(ExitReason::custom(message))`.
    ///
    /// ```
    /// # use treeline::{ExitReason, InitError};
    /// assert_eq!(InitError::stop("bad config"), InitError::Stop(ExitReason::custom("bad config")));
    /// ```
    pub fn stop(message: impl Into<String>) -> Self {
        InitError::Stop(ExitReason::custom(message))
    }
}

impl fmt::Debug for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InitError::Ignore => f.write_str("Ignore"),
            InitError::Stop(reason) => f.debug_tuple("Stop").field(reason).finish(),
        }
    }
}

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InitError::Ignore => f.write_str("init ignored"),
            InitError::Stop(reason) => write!(f, "init stopped: {reason}"),
        }
    }
}

impl From<ExitReason> for InitError {
    fn from(reason: ExitReason) -> Self {
        InitError::Stop(reason)
    }
}

impl<E: StdError + Send + Sync + 'static> From<E> for InitError {
    fn from(error: E) -> Self {
        InitError::Stop(ExitReason::error(error))
    }
}
