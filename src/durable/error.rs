//! Errors of durable queues.

use std::fmt;

use super::codec::CodecError;
use crate::addr::ActorId;
use crate::journal::segment::JournalError;
use crate::topic::TopicError;

/// A durable queue operation that failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum DurableError {
    /// The System was created without a journal (see
    /// [`System::with_journal`](crate::System::with_journal)).
    NoJournal,
    /// The queue exists with messages of another type: its name was reused
    /// for a different [`Durable::TAG`](crate::Durable::TAG).
    TypeMismatch {
        /// The queue's name.
        queue: String,
        /// The tag it was created with.
        stored: String,
        /// The tag asked for.
        requested: String,
    },
    /// A queue name must be 1 to 65,535 bytes, and not start with `$`
    /// (reserved for the runtime's own queues).
    InvalidName(String),
    /// The name is taken by a queue of another kind (a durable queue, a
    /// subscription to another pattern, an event log with another
    /// retention).
    Conflict {
        /// The name.
        queue: String,
        /// What it already is.
        existing: String,
    },
    /// A subscription asked to start before "now", but its event type has
    /// no event log (see [`System::event_log`](crate::System::event_log)).
    NoHistory {
        /// The subscription's name.
        queue: String,
    },
    /// A subscription pattern that is not a valid topic pattern.
    InvalidPattern(TopicError),
    /// A producer's message id must be 1 to 255 bytes.
    InvalidMessageId(String),
    /// The message could not be encoded; nothing was persisted.
    Codec(CodecError),
    /// The queue already has a consumer (a durable queue has one at a time,
    /// so order holds).
    AlreadyConsumed {
        /// The queue's name.
        queue: String,
        /// The consuming actor.
        by: ActorId,
    },
    /// The consuming actor is dead.
    NoProc,
    /// The journal has handed out every queue id (2^32 - 1 of them) and
    /// cannot create the queue `queue`. Existing queues work on.
    QueueIdsExhausted {
        /// The queue that could not be created.
        queue: String,
    },
    /// The System shut down (or was dropped) and closed its journal: nothing
    /// more is persisted. What was confirmed before stays on disk.
    Closed,
    /// The journal failed; nothing is confirmed. An error of the storage
    /// poisons the journal: every later write fails too
    /// ([`JournalError::Poisoned`]), and a message whose send failed may
    /// still be delivered after a restart if it did reach the disk.
    Journal(JournalError),
}

/// Checks a producer's message id.
pub(crate) fn check_message_id(id: &str) -> Result<(), DurableError> {
    if id.is_empty() || id.len() > 255 {
        return Err(DurableError::InvalidMessageId(id.to_owned()));
    }
    Ok(())
}

impl fmt::Display for DurableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DurableError::NoJournal => write!(f, "this System has no journal"),
            DurableError::TypeMismatch { queue, stored, requested } => {
                write!(f, "durable queue {queue:?} holds messages of type {stored:?}, not {requested:?}")
            }
            DurableError::InvalidName(name) => write!(f, "invalid durable queue name {name:?}"),
            DurableError::Conflict { queue, existing } => write!(f, "{queue:?} is already {existing}"),
            DurableError::NoHistory { queue } => {
                write!(f, "subscription {queue:?} asks for past events, but its event type keeps no log")
            }
            DurableError::InvalidPattern(error) => write!(f, "{error}"),
            DurableError::InvalidMessageId(id) => write!(f, "invalid message id {id:?}: it must be 1 to 255 bytes"),
            DurableError::Codec(error) => write!(f, "{error}"),
            DurableError::AlreadyConsumed { queue, by } => {
                write!(f, "durable queue {queue:?} is already consumed by {by}")
            }
            DurableError::NoProc => write!(f, "the consuming actor is dead"),
            DurableError::QueueIdsExhausted { queue } => {
                write!(f, "cannot create durable queue {queue:?}: the journal has used up its queue ids")
            }
            DurableError::Closed => write!(f, "the journal is closed (its System shut down)"),
            DurableError::Journal(error) => write!(f, "{error}"),
        }
    }
}

impl std::error::Error for DurableError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DurableError::Codec(error) => Some(error),
            DurableError::Journal(error) => Some(error),
            DurableError::InvalidPattern(error) => Some(error),
            _ => None,
        }
    }
}

impl From<JournalError> for DurableError {
    /// A closed journal is [`DurableError::Closed`]; any other failure is
    /// [`DurableError::Journal`].
    fn from(error: JournalError) -> Self {
        match error {
            JournalError::Closed => DurableError::Closed,
            error => DurableError::Journal(error),
        }
    }
}
