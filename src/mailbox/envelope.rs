//! A message on its way to an actor of type `A`, with its type erased but not
//! boxed.
//!
//! One actor accepts many message types (one `Handle*` impl each) through one
//! mailbox, so the mailbox stores an `Envelope<A>`: the payload plus a pointer
//! to a static table of monomorphised functions that know the payload's real
//! type. The payload lives *inline* when it fits in [`INLINE_BYTES`] bytes with
//! at most pointer alignment (every payload in the benchmarks and most domain
//! events do); a larger one is boxed once, on the sender's side.
//!
//! Why not `Box<dyn Trait>` (actix, kameo): that costs an allocation on the
//! sending thread and a free on the actor's thread for every message, about
//! as much as the whole rest of a cast. Why not one message enum per actor
//! (ractor): no allocation, but the user writes and matches the enum by hand,
//! where treeline keeps one `Handle*` impl per message type.
//!
//! # Safety protocol
//!
//! With `actor/slot.rs`, one of the crate's two modules with `unsafe`. Its
//! invariants:
//!
//! 1. `Envelope::new::<D>` is the only constructor; it writes a `D` (inline if
//!    [`fits::<D>`], else a `*mut D` from `Box::into_raw`) and selects the
//!    table built for the same `D`. So `table` always describes `payload`.
//! 2. The payload is consumed exactly once: either `dispatch` reads it out (and
//!    `ManuallyDrop` suppresses `Drop`), or `Drop` drops it in place.
//! 3. `D: Send`, so moving an envelope across threads moves only `Send` data.

#![allow(unsafe_code)]

use std::mem::{self, ManuallyDrop, MaybeUninit};
use std::ptr;

use crate::actor::run::HandlerFuture;
use crate::actor::slot::FutureSlot;
use crate::actor::{Actor, Context};

/// Bytes of payload stored without allocation.
pub(crate) const INLINE_BYTES: usize = 3 * mem::size_of::<usize>();

type Payload = MaybeUninit<[usize; INLINE_BYTES / mem::size_of::<usize>()]>;

/// The kind of a message, by the handler it was sent to: what a
/// `DeadLetter` reports (`treeline::dead_letter`), and what tracing
/// names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MessageKind {
    /// For `HandleCall`.
    Call,
    /// For `HandleCast`.
    Cast,
    /// For `HandleInfo`.
    Info,
    /// For `HandleEvent`.
    Event,
    /// For `HandleContinue`.
    Continue,
    /// A message from a durable queue (redelivered, never lost, if the
    /// actor dies with it: never a dead letter).
    Durable,
    /// A signal that becomes a message when reached (an exit signal to a
    /// trapping actor, a `Down`); dropped with the actor like any signal to
    /// the dead, never a dead letter.
    Signal,
}

impl MessageKind {
    /// How many counter slots per-kind counts take ([`MessageKind::slot`]).
    pub(crate) const SLOTS: usize = 5;

    /// Where a handled message of this kind is counted: calls, casts,
    /// infos (with the signals that became messages), events, durable
    /// messages; a continue is not a message.
    #[inline(always)]
    pub(crate) const fn slot(self) -> Option<usize> {
        match self {
            MessageKind::Call => Some(0),
            MessageKind::Cast => Some(1),
            MessageKind::Info | MessageKind::Signal => Some(2),
            MessageKind::Event => Some(3),
            MessageKind::Durable => Some(4),
            MessageKind::Continue => None,
        }
    }

    /// The kind in lower case: `"call"`, `"cast"`, …
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Call => "call",
            MessageKind::Cast => "cast",
            MessageKind::Info => "info",
            MessageKind::Event => "event",
            MessageKind::Continue => "continue",
            MessageKind::Durable => "durable",
            MessageKind::Signal => "signal",
        }
    }
}

impl std::fmt::Display for MessageKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A typed message that knows how to run its handler on an `A`.
///
/// Implemented by the private wrappers in `actor::run` (one per message kind).
pub(crate) trait Dispatch<A: Actor>: Send + Sized + 'static {
    const KIND: MessageKind;
    /// The user's message type name, for tracing and dead letters.
    fn message_type() -> &'static str;
    /// Consumes the message and starts its handler.
    fn dispatch<'a>(self, actor: &'a mut A, ctx: &'a mut Context<A>, slot: &'a mut FutureSlot) -> HandlerFuture<'a>;
}

/// What a message is, whatever actor it goes to: its type's name and its
/// kind. One static per (actor, payload) table, so a `&'static MessageMeta`
/// is a thin pointer that names the message an actor is handling.
#[derive(Debug)]
pub(crate) struct MessageMeta {
    message_type: fn() -> &'static str,
    kind: MessageKind,
    /// `kind.slot()`, or `SLOTS` for none, computed at compile time.
    slot: u8,
}

impl MessageMeta {
    /// The user's message type name.
    pub(crate) fn message_type(&self) -> &'static str {
        (self.message_type)()
    }

    pub(crate) fn kind(&self) -> MessageKind {
        self.kind
    }

    /// Where a handled message of this kind is counted (`SLOTS`: nowhere).
    #[inline(always)]
    pub(crate) fn slot(&self) -> usize {
        self.slot as usize
    }
}

/// The message an actor is handling (or handled last, until it parks),
/// written by the actor's task only, read by snapshots and crash reports.
#[derive(Debug, Default)]
pub(crate) struct CurrentMessage(std::sync::atomic::AtomicPtr<MessageMeta>);

impl CurrentMessage {
    /// One relaxed store per message.
    #[inline(always)]
    pub(crate) fn set(&self, meta: &'static MessageMeta) {
        self.0.store(ptr::from_ref(meta).cast_mut(), std::sync::atomic::Ordering::Relaxed);
    }

    pub(crate) fn clear(&self) {
        self.0.store(ptr::null_mut(), std::sync::atomic::Ordering::Relaxed);
    }

    pub(crate) fn get(&self) -> Option<&'static MessageMeta> {
        let meta = self.0.load(std::sync::atomic::Ordering::Relaxed);
        // SAFETY: the only non-null values ever stored come from
        // `&'static MessageMeta` (`CurrentMessage::set`), so the pointer is
        // valid, aligned and immutable for the rest of the program.
        unsafe { meta.as_ref() }
    }
}

/// The per-(actor, payload) function table.
pub(crate) struct Table<A: Actor> {
    dispatch: for<'a> unsafe fn(*mut Payload, &'a mut A, &'a mut Context<A>, &'a mut FutureSlot) -> HandlerFuture<'a>,
    drop_payload: unsafe fn(*mut Payload),
    meta: MessageMeta,
    counted: bool,
}

struct TableFor<A, D, const COUNTED: bool>(std::marker::PhantomData<(A, D)>);

impl<A: Actor, D: Dispatch<A>, const COUNTED: bool> TableFor<A, D, COUNTED> {
    const TABLE: Table<A> = Table {
        dispatch: dispatch_erased::<A, D>,
        drop_payload: drop_erased::<D>,
        meta: MessageMeta {
            message_type: D::message_type,
            kind: D::KIND,
            slot: match D::KIND.slot() {
                Some(slot) => slot as u8,
                None => MessageKind::SLOTS as u8,
            },
        },
        counted: COUNTED,
    };
}

/// Whether a `D` is stored inline.
pub(crate) const fn fits<D>() -> bool {
    mem::size_of::<D>() <= mem::size_of::<Payload>() && mem::align_of::<D>() <= mem::align_of::<Payload>()
}

/// A message for an actor of type `A`.
pub(crate) struct Envelope<A: Actor> {
    table: &'static Table<A>,
    payload: Payload,
    /// When it was queued, if its System times handlers (feature `metrics`:
    /// `treeline_message_queue_seconds`). 16 bytes more per message, only
    /// with the feature compiled in.
    #[cfg(feature = "metrics")]
    queued: Option<std::time::Instant>,
}

// SAFETY: by invariant 3 the payload is a `D: Send` (or a uniquely owned
// `Box<D>` of one); the table is a shared reference to immutable function
// pointers. Nothing in an envelope is shared with another owner.
unsafe impl<A: Actor> Send for Envelope<A> {}

impl<A: Actor> Envelope<A> {
    /// Wraps `message`. `COUNTED` envelopes count toward a bounded mailbox's
    /// capacity; the runtime's own messages (Down, Exit, continues) do not.
    pub(crate) fn new<D: Dispatch<A>, const COUNTED: bool>(message: D) -> Self {
        let mut payload = Payload::uninit();
        let slot = payload.as_mut_ptr();
        if fits::<D>() {
            // SAFETY: `fits::<D>()` checked size and alignment, and `slot`
            // points to uninitialised storage we own.
            unsafe { ptr::write(slot.cast::<D>(), message) };
        } else {
            let boxed = Box::into_raw(Box::new(message));
            // SAFETY: a pointer always fits the payload (it is at least one
            // `usize` wide and pointer aligned).
            unsafe { ptr::write(slot.cast::<*mut D>(), boxed) };
        }
        Envelope {
            table: &TableFor::<A, D, COUNTED>::TABLE,
            payload,
            #[cfg(feature = "metrics")]
            queued: None,
        }
    }

    /// Notes when it was queued.
    #[cfg(feature = "metrics")]
    pub(crate) fn note_queued(&mut self, at: Option<std::time::Instant>) {
        self.queued = at;
    }

    /// When it was queued, if that was noted.
    #[cfg(feature = "metrics")]
    pub(crate) fn queued(&self) -> Option<std::time::Instant> {
        self.queued
    }

    pub(crate) fn kind(&self) -> MessageKind {
        self.table.meta.kind
    }

    pub(crate) fn message_type(&self) -> &'static str {
        self.table.meta.message_type()
    }

    /// The message's type and kind, as a static reference.
    pub(crate) fn meta(&self) -> &'static MessageMeta {
        let table: &'static Table<A> = self.table;
        &table.meta
    }

    /// Whether this envelope counts toward a bounded mailbox's capacity.
    pub(crate) fn is_counted(&self) -> bool {
        self.table.counted
    }

    /// Consumes the envelope and starts the handler for its message.
    pub(crate) fn dispatch<'a>(
        self,
        actor: &'a mut A,
        ctx: &'a mut Context<A>,
        slot: &'a mut FutureSlot,
    ) -> HandlerFuture<'a> {
        let mut this = ManuallyDrop::new(self);
        let payload: *mut Payload = &mut this.payload;
        // SAFETY: invariant 1 (the table matches the payload); invariant 2
        // (`ManuallyDrop` keeps `Drop` from touching the payload after
        // `dispatch` moved it out).
        unsafe { (this.table.dispatch)(payload, actor, ctx, slot) }
    }
}

impl<A: Actor> Drop for Envelope<A> {
    fn drop(&mut self) {
        // SAFETY: invariants 1 and 2: the payload is initialised and this is
        // the only place that consumes it besides `dispatch`.
        unsafe { (self.table.drop_payload)(&mut self.payload) }
    }
}

impl<A: Actor> std::fmt::Debug for Envelope<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Envelope").field("kind", &self.kind()).field("message_type", &self.message_type()).finish()
    }
}

/// Moves the `D` out of the payload.
///
/// # Safety
/// `payload` must hold an initialised `D` stored by `Envelope::new::<D, _>`,
/// and must not be read again afterwards.
unsafe fn take<D>(payload: *mut Payload) -> D {
    if fits::<D>() {
        // SAFETY: the caller guarantees an inline `D` lives here.
        unsafe { ptr::read(payload.cast::<D>()) }
    } else {
        // SAFETY: the caller guarantees a `*mut D` from `Box::into_raw` lives
        // here, and that it is consumed only once.
        unsafe { *Box::from_raw(ptr::read(payload.cast::<*mut D>())) }
    }
}

/// # Safety
/// As for [`take`].
unsafe fn dispatch_erased<'a, A: Actor, D: Dispatch<A>>(
    payload: *mut Payload,
    actor: &'a mut A,
    ctx: &'a mut Context<A>,
    slot: &'a mut FutureSlot,
) -> HandlerFuture<'a> {
    // SAFETY: forwarded from the caller.
    let message = unsafe { take::<D>(payload) };
    message.dispatch(actor, ctx, slot)
}

/// # Safety
/// As for [`take`].
unsafe fn drop_erased<D>(payload: *mut Payload) {
    // SAFETY: forwarded from the caller.
    drop(unsafe { take::<D>(payload) });
}

#[cfg(test)]
mod tests;
