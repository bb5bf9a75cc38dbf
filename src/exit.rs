//! Exit reasons: why an actor stopped, and the algebra OTP builds on them.
//!
//! Every actor ends with an [`ExitReason`]. Links and monitors carry it to
//! other actors, supervisors decide on restarts by it, and a caller whose
//! callee died during a call receives it in [`CallError::Exit`].
//!
//! The OTP rules that matter:
//!
//! * [`ExitReason::Normal`], [`ExitReason::Shutdown`] and
//!   [`ExitReason::ShutdownWith`] are *expected* exits
//!   ([`ExitReason::is_expected`]): a transient child is not restarted for
//!   them, and a normal exit signal does not kill a non-trapping linked actor.
//! * Sending [`ExitReason::Kill`] with an exit signal is untrappable; the
//!   target dies with [`ExitReason::Killed`].
//! * [`ExitReason::NoProc`] is what a monitor of an already dead actor reports.
//!
//! [`CallError::Exit`]: crate::CallError::Exit

use std::any::Any;
use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

/// Why an actor stopped.
///
/// Cheap to clone (payloads are reference counted), so the same reason can be
/// delivered to every link and monitor.
///
/// ```
/// use treeline::ExitReason;
///
/// let reason = ExitReason::custom("payment gateway unreachable");
/// assert!(!reason.is_expected());
/// assert_eq!(reason, ExitReason::custom("payment gateway unreachable"));
/// assert!(ExitReason::shutdown_with("maintenance").is_expected());
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub enum ExitReason {
    /// A normal, deliberate stop (`normal`).
    Normal,
    /// Stopped by its supervisor or the system (`shutdown`).
    Shutdown,
    /// Stopped with a detail attached (`{shutdown, Detail}`); an expected exit.
    ShutdownWith(ExitCause),
    /// The untrappable kill. As an exit *signal* it kills the target, which
    /// then reports [`ExitReason::Killed`]. As an actor's own exit reason it
    /// reaches links as a trappable signal, as in OTP.
    Kill,
    /// The actor was killed (brutal kill, `exit(target, Kill)`, or a kill after
    /// a shutdown timeout). `terminate` did not run.
    Killed,
    /// The target did not exist (already dead, or never existed).
    NoProc,
    /// A callback panicked.
    Panic(PanicMessage),
    /// A user-defined error: a handler returned `Err`, or a deliberate stop
    /// with a custom reason.
    Error(ExitCause),
}

impl ExitReason {
    /// A custom, abnormal reason carrying a message.
    ///
    /// ```
    /// # use treeline::ExitReason;
    /// let reason = ExitReason::custom("boom");
    /// assert_eq!(reason.to_string(), "boom");
    /// ```
    pub fn custom(message: impl Into<String>) -> Self {
        ExitReason::Error(ExitCause::message(message))
    }

    /// An abnormal reason wrapping a typed error, retrievable with
    /// [`ExitReason::downcast_ref`].
    ///
    /// ```
    /// # use treeline::ExitReason;
    /// #[derive(Debug)]
    /// struct OutOfStock(u64);
    /// impl std::fmt::Display for OutOfStock {
    ///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    ///         write!(f, "sku {} out of stock", self.0)
    ///     }
    /// }
    /// impl std::error::Error for OutOfStock {}
    ///
    /// let reason = ExitReason::error(OutOfStock(7));
    /// assert_eq!(reason.downcast_ref::<OutOfStock>().map(|e| e.0), Some(7));
    /// ```
    pub fn error<E: StdError + Send + Sync + 'static>(error: E) -> Self {
        ExitReason::Error(ExitCause::new(error))
    }

    /// `{shutdown, Detail}`: an expected stop that carries a detail.
    ///
    /// ```
    /// # use treeline::ExitReason;
    /// assert!(ExitReason::shutdown_with("redeploy").is_shutdown());
    /// ```
    pub fn shutdown_with(detail: impl Into<String>) -> Self {
        ExitReason::ShutdownWith(ExitCause::message(detail))
    }

    /// True for `Normal`: the reason a non-trapping linked actor ignores.
    ///
    /// ```
    /// # use treeline::ExitReason;
    /// assert!(ExitReason::Normal.is_normal());
    /// assert!(!ExitReason::Shutdown.is_normal());
    /// ```
    pub fn is_normal(&self) -> bool {
        matches!(self, ExitReason::Normal)
    }

    /// True for `Shutdown` and `ShutdownWith(_)`.
    ///
    /// ```
    /// # use treeline::ExitReason;
    /// assert!(ExitReason::Shutdown.is_shutdown());
    /// assert!(!ExitReason::Normal.is_shutdown());
    /// ```
    pub fn is_shutdown(&self) -> bool {
        matches!(self, ExitReason::Shutdown | ExitReason::ShutdownWith(_))
    }

    /// True for the expected exits: `Normal`, `Shutdown`, `ShutdownWith(_)`.
    /// A transient child is not restarted for these.
    ///
    /// ```
    /// # use treeline::ExitReason;
    /// assert!(ExitReason::Shutdown.is_expected());
    /// assert!(!ExitReason::Killed.is_expected());
    /// ```
    pub fn is_expected(&self) -> bool {
        self.is_normal() || self.is_shutdown()
    }

    /// True if a callback panicked.
    ///
    /// ```
    /// # use treeline::ExitReason;
    /// assert!(!ExitReason::Normal.is_panic());
    /// ```
    pub fn is_panic(&self) -> bool {
        matches!(self, ExitReason::Panic(_))
    }

    /// The typed error inside `Error(_)` or `ShutdownWith(_)`, if it is an `E`.
    ///
    /// ```
    /// # use treeline::ExitReason;
    /// let reason = ExitReason::custom("x");
    /// assert!(reason.downcast_ref::<std::io::Error>().is_none());
    /// ```
    pub fn downcast_ref<E: StdError + 'static>(&self) -> Option<&E> {
        match self {
            ExitReason::Error(reason) | ExitReason::ShutdownWith(reason) => reason.downcast_ref(),
            _ => None,
        }
    }
}

impl fmt::Display for ExitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitReason::Normal => f.write_str("normal"),
            ExitReason::Shutdown => f.write_str("shutdown"),
            ExitReason::ShutdownWith(detail) => write!(f, "shutdown: {detail}"),
            ExitReason::Kill => f.write_str("kill"),
            ExitReason::Killed => f.write_str("killed"),
            ExitReason::NoProc => f.write_str("noproc"),
            ExitReason::Panic(panic) => write!(f, "panicked: {panic}"),
            ExitReason::Error(reason) => fmt::Display::fmt(reason, f),
        }
    }
}

impl fmt::Debug for ExitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitReason::Normal => f.write_str("Normal"),
            ExitReason::Shutdown => f.write_str("Shutdown"),
            ExitReason::ShutdownWith(detail) => f.debug_tuple("ShutdownWith").field(detail).finish(),
            ExitReason::Kill => f.write_str("Kill"),
            ExitReason::Killed => f.write_str("Killed"),
            ExitReason::NoProc => f.write_str("NoProc"),
            ExitReason::Panic(panic) => f.debug_tuple("Panic").field(panic).finish(),
            ExitReason::Error(reason) => f.debug_tuple("Error").field(reason).finish(),
        }
    }
}

/// Equality compares variants and, for payloads, their rendered text, which
/// is what tests and supervisors match on. Use [`ExitReason::downcast_ref`]
/// to match on a concrete error type.
impl PartialEq for ExitReason {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (ExitReason::Normal, ExitReason::Normal)
            | (ExitReason::Shutdown, ExitReason::Shutdown)
            | (ExitReason::Kill, ExitReason::Kill)
            | (ExitReason::Killed, ExitReason::Killed)
            | (ExitReason::NoProc, ExitReason::NoProc) => true,
            (ExitReason::ShutdownWith(a), ExitReason::ShutdownWith(b))
            | (ExitReason::Error(a), ExitReason::Error(b)) => a == b,
            (ExitReason::Panic(a), ExitReason::Panic(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for ExitReason {}

/// Any error can end an actor: `Err(e)?` in a handler stops it with
/// [`ExitReason::Error`].
impl<E: StdError + Send + Sync + 'static> From<E> for ExitReason {
    fn from(error: E) -> Self {
        ExitReason::error(error)
    }
}

// === ExitCause ===

/// The payload of [`ExitReason::Error`] and [`ExitReason::ShutdownWith`]: a
/// shared, typed error.
///
/// ```
/// # use treeline::ExitReason;
/// # use treeline::exit::ExitCause;
/// let reason = ExitCause::message("disk full");
/// assert_eq!(reason.to_string(), "disk full");
/// assert_eq!(ExitReason::Error(reason), ExitReason::custom("disk full"));
/// ```
#[derive(Clone)]
pub struct ExitCause(Arc<dyn StdError + Send + Sync>);

impl ExitCause {
    /// Wraps a typed error.
    ///
    /// ```
    /// # use treeline::exit::ExitCause;
    /// let reason = ExitCause::new(std::io::Error::other("eof"));
    /// assert!(reason.downcast_ref::<std::io::Error>().is_some());
    /// ```
    pub fn new<E: StdError + Send + Sync + 'static>(error: E) -> Self {
        ExitCause(Arc::new(error))
    }

    /// A reason that is just a message.
    ///
    /// ```
    /// # use treeline::exit::ExitCause;
    /// assert_eq!(ExitCause::message("bye").to_string(), "bye");
    /// ```
    pub fn message(message: impl Into<String>) -> Self {
        ExitCause(Arc::new(Message(message.into())))
    }

    /// The wrapped error, if it is an `E`.
    ///
    /// ```
    /// # use treeline::exit::ExitCause;
    /// assert!(ExitCause::message("m").downcast_ref::<std::fmt::Error>().is_none());
    /// ```
    pub fn downcast_ref<E: StdError + 'static>(&self) -> Option<&E> {
        let error: &(dyn StdError + 'static) = &*self.0;
        error.downcast_ref()
    }

    /// The wrapped error.
    ///
    /// ```
    /// # use treeline::exit::ExitCause;
    /// assert_eq!(ExitCause::message("m").as_error().to_string(), "m");
    /// ```
    pub fn as_error(&self) -> &(dyn StdError + Send + Sync + 'static) {
        &*self.0
    }
}

impl PartialEq for ExitCause {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.to_string() == other.to_string()
    }
}

impl fmt::Display for ExitCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for ExitCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.downcast_ref::<Message>() {
            Some(message) => fmt::Debug::fmt(&message.0, f),
            None => fmt::Debug::fmt(&self.0, f),
        }
    }
}

/// A plain message used as an error.
#[derive(Debug)]
struct Message(String);

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl StdError for Message {}

// === PanicMessage ===

/// What a panicking callback left behind: its message.
///
/// ```
/// # use treeline::exit::PanicMessage;
/// let panic = PanicMessage::new("index out of bounds");
/// assert_eq!(panic.message(), "index out of bounds");
/// ```
///
/// Two panic reasons are equal when their messages are: the location is
/// extra information, not part of the reason.
#[derive(Clone)]
pub struct PanicMessage(Arc<Panicked>);

/// One allocation, one pointer: an exit reason travels in every exit signal
/// and every caught panic's path, so it stays small.
struct Panicked {
    message: Box<str>,
    location: Option<Box<str>>,
}

impl PartialEq for PanicMessage {
    fn eq(&self, other: &Self) -> bool {
        self.0.message == other.0.message
    }
}

impl Eq for PanicMessage {}

impl PanicMessage {
    /// A panic reason with the given message.
    ///
    /// ```
    /// # use treeline::exit::PanicMessage;
    /// assert_eq!(PanicMessage::new("m").to_string(), "m");
    /// ```
    pub fn new(message: impl Into<String>) -> Self {
        PanicMessage(Arc::new(Panicked { message: message.into().into_boxed_str(), location: None }))
    }

    /// The same reason, located at `location` (`file:line:column`).
    pub(crate) fn at(mut self, location: Option<Box<str>>) -> Self {
        if location.is_none() {
            return self;
        }
        match Arc::get_mut(&mut self.0) {
            Some(panicked) => panicked.location = location,
            None => self = PanicMessage(Arc::new(Panicked { message: self.0.message.clone(), location })),
        }
        self
    }

    /// Builds the reason from a payload caught by `catch_unwind`.
    pub(crate) fn from_payload(payload: Box<dyn Any + Send>) -> Self {
        let message: Box<str> = if let Some(text) = payload.downcast_ref::<&'static str>() {
            Box::from(*text)
        } else if let Some(text) = payload.downcast_ref::<String>() {
            Box::from(text.as_str())
        } else {
            Box::from("<non-string panic payload>")
        };
        // The payload may itself panic on drop; we keep only its text.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(payload)));
        PanicMessage(Arc::new(Panicked { message, location: None }))
    }

    /// The panic message.
    ///
    /// ```
    /// # use treeline::exit::PanicMessage;
    /// assert_eq!(PanicMessage::new("oops").message(), "oops");
    /// ```
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// Where the panic happened (`file:line:column`), when it happened in
    /// an actor's callback: the runtime's panic hook keeps the location of
    /// the panics it catches (`None` for a reason built with
    /// [`PanicMessage::new`]).
    ///
    /// ```
    /// # use treeline::exit::PanicMessage;
    /// assert_eq!(PanicMessage::new("oops").location(), None);
    /// ```
    pub fn location(&self) -> Option<&str> {
        self.0.location.as_deref()
    }
}

impl fmt::Display for PanicMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.message)
    }
}

impl fmt::Debug for PanicMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0.message, f)
    }
}

#[cfg(test)]
mod tests;
