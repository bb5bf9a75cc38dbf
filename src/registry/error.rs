//! Errors of registrations and publishes.

use std::fmt;

use crate::addr::Pid;
use crate::topic::TopicError;

/// Why a registration (name or subscription) failed.
///
/// ```
/// use treeline::registry::RegistryError;
/// use treeline::topic::TopicError;
///
/// assert_eq!(RegistryError::NoProc.to_string(), "the actor is not alive");
/// assert_eq!(RegistryError::InvalidTopic(TopicError::Empty).to_string(), "invalid topic: the topic is empty");
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegistryError {
    /// The name is held by this live actor (OTP `{already_registered, Pid}`).
    AlreadyRegistered(Pid),
    /// The name is held by another actor, so the caller cannot unregister it
    /// or change its value.
    NotOwner(Pid),
    /// Nobody holds the name.
    NotRegistered,
    /// The actor to register is dead.
    NoProc,
    /// The topic or pattern is not valid.
    InvalidTopic(TopicError),
}

impl fmt::Debug for RegistryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegistryError::AlreadyRegistered(pid) => f.debug_tuple("AlreadyRegistered").field(pid).finish(),
            RegistryError::NotOwner(pid) => f.debug_tuple("NotOwner").field(pid).finish(),
            RegistryError::NoProc => f.write_str("NoProc"),
            RegistryError::NotRegistered => f.write_str("NotRegistered"),
            RegistryError::InvalidTopic(error) => f.debug_tuple("InvalidTopic").field(error).finish(),
        }
    }
}

impl fmt::Display for RegistryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegistryError::AlreadyRegistered(pid) => write!(f, "the name is already registered by {pid}"),
            RegistryError::NotOwner(pid) => write!(f, "the name is registered by {pid}, not by the caller"),
            RegistryError::NoProc => f.write_str("the actor is not alive"),
            RegistryError::NotRegistered => f.write_str("nobody holds the name"),
            RegistryError::InvalidTopic(error) => write!(f, "invalid topic: {error}"),
        }
    }
}

impl std::error::Error for RegistryError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RegistryError::InvalidTopic(error) => Some(error),
            _ => None,
        }
    }
}

impl From<TopicError> for RegistryError {
    fn from(error: TopicError) -> Self {
        RegistryError::InvalidTopic(error)
    }
}

/// Why a publish did not happen.
///
/// ```
/// use treeline::registry::PublishError;
/// use treeline::topic::TopicError;
///
/// let error = PublishError::InvalidTopic(TopicError::WildcardInTopic);
/// assert_eq!(error.to_string(), "invalid topic: wildcards (`*` and `>`) are only allowed in subscription patterns, not in a topic");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PublishError {
    /// The event's topic is not a valid topic.
    InvalidTopic(TopicError),
}

impl fmt::Display for PublishError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PublishError::InvalidTopic(error) => write!(f, "invalid topic: {error}"),
        }
    }
}

impl std::error::Error for PublishError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PublishError::InvalidTopic(error) => Some(error),
        }
    }
}
