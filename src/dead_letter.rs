//! Dead letters: messages that were dropped instead of handled, and the
//! counters that make every one of them visible.
//!
//! Every dead letter is counted on its actor ([`ActorRef::dead_letters`]) and
//! on the [`System`] ([`System::dead_letters`]), and reported with a `tracing`
//! event at DEBUG level, target `treeline::dead_letter`, fields `actor`,
//! `message` (the Rust type), `kind` (call/cast/info/event) and `reason`.
//!
//! [`ActorRef::dead_letters`]: crate::ActorRef::dead_letters
//! [`System`]: crate::System
//! [`System::dead_letters`]: crate::System::dead_letters

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::addr::ActorId;
use crate::mailbox::MessageKind;

/// A dead letter, as published on the dead-letter topic
/// (`"treeline.dead_letters"`, its [`Event::TOPIC`](crate::Event::TOPIC)): subscribe an actor to
/// it to observe every message that was dropped instead of handled.
///
/// ```
/// use treeline::{Actor, Context, ExitReason, HandleEvent, InitError};
/// use treeline::dead_letter::DeadLetter;
///
/// struct Auditor { dropped: u64 }
/// impl Actor for Auditor {
///     type Args = ();
///     async fn init(_: (), ctx: &mut Context<Self>) -> Result<Self, InitError> {
///         ctx.subscribe::<DeadLetter>()?;
///         Ok(Auditor { dropped: 0 })
///     }
/// }
/// impl HandleEvent<DeadLetter> for Auditor {
///     async fn handle_event(&mut self, letter: DeadLetter, _: &mut Context<Self>) -> Result<(), ExitReason> {
///         self.dropped += 1;
///         println!("{} lost a {} ({})", letter.to, letter.message_type, letter.reason);
///         Ok(())
///     }
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeadLetter {
    /// The actor it was addressed to.
    pub to: ActorId,
    /// The message's Rust type.
    pub message_type: &'static str,
    /// The handler it was for (a call, cast, info, event or continue).
    pub kind: MessageKind,
    /// Why it was dropped.
    pub reason: DeadLetterReason,
}

impl crate::event::Event for DeadLetter {
    const TOPIC: &'static str = "treeline.dead_letters";
}

/// Why a message became a dead letter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DeadLetterReason {
    /// Shed by a bounded mailbox's overflow policy (`DropNewest`,
    /// `DropOldest`, `StopActor`).
    MailboxFull,
    /// Still queued when its actor died.
    ActorStopped,
}

impl fmt::Display for DeadLetterReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeadLetterReason::MailboxFull => f.write_str("mailbox full"),
            DeadLetterReason::ActorStopped => f.write_str("actor stopped"),
        }
    }
}

/// A System's dead-letter counters at one moment.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let system = treeline::System::new();
/// let stats = system.dead_letters();
/// assert_eq!(stats.total(), 0);
/// # }
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeadLetterStats {
    /// Shed by overflow policies.
    pub mailbox_full: u64,
    /// Left in the mailbox of an actor that died.
    pub actor_stopped: u64,
}

impl DeadLetterStats {
    /// All dead letters.
    pub fn total(&self) -> u64 {
        self.mailbox_full + self.actor_stopped
    }
}

/// The System-wide counters.
#[derive(Debug, Default)]
pub(crate) struct DeadLetterCounters {
    mailbox_full: AtomicU64,
    actor_stopped: AtomicU64,
}

impl DeadLetterCounters {
    pub(crate) fn record(&self, actor: ActorId, message: &'static str, kind: MessageKind, reason: DeadLetterReason) {
        let counter = match reason {
            DeadLetterReason::MailboxFull => &self.mailbox_full,
            DeadLetterReason::ActorStopped => &self.actor_stopped,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(
            target: "treeline::dead_letter",
            actor = %actor,
            message,
            kind = kind.as_str(),
            reason = %reason,
            "dead letter"
        );
    }

    pub(crate) fn snapshot(&self) -> DeadLetterStats {
        DeadLetterStats {
            mailbox_full: self.mailbox_full.load(Ordering::Relaxed),
            actor_stopped: self.actor_stopped.load(Ordering::Relaxed),
        }
    }
}
