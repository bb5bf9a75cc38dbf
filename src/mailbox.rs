//! Mailboxes: unbounded or bounded, with an overflow policy per actor.
//!
//! Each actor has one mailbox with two lanes:
//!
//! * the **user lane**: calls, casts, infos, events, in arrival order (so in
//!   send order per sender);
//! * the **priority lane**: signals (exit, link, monitor, stop), drained before
//!   every message and never subject to the capacity.
//!
//! A bounded mailbox applies its [`Overflow`] policy when a message arrives
//! and `capacity` messages are already waiting. Messages the runtime itself
//! produces ([`Down`], [`Exit`], continues) do not count toward capacity and
//! are never shed.
//!
//! # Nothing is lost silently
//!
//! A message that is dropped is a *dead letter*: it is counted on the actor
//! and on the [`System`] ([`System::dead_letters`]) and reported with a
//! `tracing` event (target `treeline::dead_letter`). That covers messages shed
//! by `DropNewest`, `DropOldest` and `StopActor`, and messages still queued
//! when their actor died. A message refused with an error (`Reject`, or any
//! send to a dead actor) is handed back to its sender instead, and is not a
//! dead letter.
//!
//! [`Down`]: crate::signal::Down
//! [`Exit`]: crate::signal::Exit
//! [`System`]: crate::System
//! [`System::dead_letters`]: crate::System::dead_letters

pub(crate) mod envelope;
pub(crate) mod queue;

pub use envelope::MessageKind;

use std::fmt;

/// What a bounded mailbox does with a message that arrives while it is full.
///
/// ```
/// use treeline::mailbox::{MailboxConfig, Overflow};
///
/// let mailbox = MailboxConfig::bounded(1_000, Overflow::DropOldest);
/// assert_eq!(mailbox.capacity(), Some(1_000));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Overflow {
    /// The sender waits for room (back-pressure). Non-waiting sends
    /// (`try_cast`, publishes) get [`SendError::Full`](crate::SendError::Full).
    Wait,
    /// The arriving message is dropped (a dead letter); the sender sees
    /// success. A call gets [`CallError::MailboxFull`](crate::CallError::MailboxFull).
    DropNewest,
    /// The oldest waiting message is dropped (a dead letter) to make room.
    DropOldest,
    /// The sender gets [`SendError::Full`](crate::SendError::Full) holding its
    /// message back (fail-fast admission, Discord's semaphore).
    Reject,
    /// The arriving message is dropped (a dead letter) and the actor is stopped
    /// with reason `ExitReason::Error(MailboxFull)`; `terminate` runs.
    StopActor,
}

/// A mailbox's size and overflow policy.
///
/// ```
/// use treeline::mailbox::{MailboxConfig, Overflow};
///
/// assert_eq!(MailboxConfig::default(), MailboxConfig::unbounded());
/// let bounded = MailboxConfig::bounded(64, Overflow::Wait);
/// assert_eq!(bounded.overflow(), Some(Overflow::Wait));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct MailboxConfig {
    bound: Option<(usize, Overflow)>,
}

impl MailboxConfig {
    /// The largest capacity a bounded mailbox may have (about 2.9 × 10^17:
    /// `Overflow::Wait` counts room with tokio's semaphore, whose limit this
    /// is). A larger one is rejected when the actor is spawned
    /// ([`ConfigError::CapacityTooLarge`](crate::actor::ConfigError::CapacityTooLarge)).
    ///
    /// ```
    /// use treeline::{Actor, Context, InitError, SpawnOptions, System};
    /// use treeline::actor::{ConfigError, StartError};
    /// use treeline::mailbox::{MailboxConfig, Overflow};
    /// # struct Idle;
    /// # impl Actor for Idle {
    /// #     type Args = ();
    /// #     async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> { Ok(Idle) }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let system = System::new();
    /// let huge = SpawnOptions::new().mailbox(MailboxConfig::bounded(usize::MAX, Overflow::Wait));
    /// let refused = system.spawn_with::<Idle>((), huge).await.unwrap_err();
    /// assert_eq!(refused, StartError::InvalidConfig(ConfigError::CapacityTooLarge { max: MailboxConfig::MAX_CAPACITY }));
    /// # }
    /// ```
    pub const MAX_CAPACITY: usize = tokio::sync::Semaphore::MAX_PERMITS;

    /// No capacity limit (the default, as on the BEAM).
    ///
    /// ```
    /// # use treeline::mailbox::MailboxConfig;
    /// assert_eq!(MailboxConfig::unbounded().capacity(), None);
    /// ```
    pub const fn unbounded() -> Self {
        MailboxConfig { bound: None }
    }

    /// At most `capacity` waiting messages, then `overflow` applies. A
    /// capacity of 0 is rejected when the actor is spawned
    /// ([`StartError::InvalidConfig`](crate::actor::StartError::InvalidConfig)).
    ///
    /// ```
    /// # use treeline::mailbox::{MailboxConfig, Overflow};
    /// assert_eq!(MailboxConfig::bounded(8, Overflow::Reject).capacity(), Some(8));
    /// ```
    pub const fn bounded(capacity: usize, overflow: Overflow) -> Self {
        MailboxConfig { bound: Some((capacity, overflow)) }
    }

    /// The capacity, or `None` when unbounded.
    ///
    /// ```
    /// # use treeline::mailbox::MailboxConfig;
    /// assert!(MailboxConfig::unbounded().capacity().is_none());
    /// ```
    pub const fn capacity(&self) -> Option<usize> {
        match self.bound {
            Some((capacity, _)) => Some(capacity),
            None => None,
        }
    }

    /// The overflow policy, or `None` when unbounded.
    ///
    /// ```
    /// # use treeline::mailbox::{MailboxConfig, Overflow};
    /// assert_eq!(MailboxConfig::bounded(1, Overflow::StopActor).overflow(), Some(Overflow::StopActor));
    /// ```
    pub const fn overflow(&self) -> Option<Overflow> {
        match self.bound {
            Some((_, overflow)) => Some(overflow),
            None => None,
        }
    }
}

impl MailboxConfig {
    /// Checks the capacity (at spawn).
    pub(crate) fn validate(&self) -> Result<(), crate::actor::ConfigError> {
        match self.capacity() {
            Some(0) => Err(crate::actor::ConfigError::ZeroCapacity),
            Some(capacity) if capacity > Self::MAX_CAPACITY => {
                Err(crate::actor::ConfigError::CapacityTooLarge { max: Self::MAX_CAPACITY })
            }
            _ => Ok(()),
        }
    }
}

/// The reason an actor stopped under [`Overflow::StopActor`].
///
/// ```
/// use treeline::ExitReason;
/// use treeline::mailbox::MailboxFull;
///
/// /// The capacity an actor's mailbox overflowed, if that is why it ended.
/// fn overflowed(reason: &ExitReason) -> Option<usize> {
///     reason.downcast_ref::<MailboxFull>().map(|full| full.capacity)
/// }
/// assert_eq!(overflowed(&ExitReason::Normal), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MailboxFull {
    /// The capacity that was exceeded.
    pub capacity: usize,
}

impl fmt::Display for MailboxFull {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "mailbox overflow (capacity {})", self.capacity)
    }
}

impl std::error::Error for MailboxFull {}
