//! A reusable home for the running handler's future.
//!
//! Every message runs its handler as a future whose concrete type depends on
//! the message type. Boxing it would cost an allocation and a free per message
//! (about 15 ns, a quarter of the per-message budget). Instead each actor
//! owns one heap buffer, sized to the largest handler future it has run, and
//! every handler future is built in place there. An actor that never handled a
//! message owns no buffer.
//!
//! Measured when it was introduced (`benches/messaging.rs`, Counting):
//! removing the per-message box took 7.5M to 9.2M messages/s, and polling
//! each handler once inline before entering the signal-watching path (in
//! `run.rs`) took it past 15M.
//!
//! # Safety protocol
//!
//! With `envelope.rs`, the only modules with `unsafe`. Invariants:
//!
//! 1. A [`Placed`] mutably borrows its [`FutureSlot`] for its whole life, so
//!    the buffer cannot be reallocated, reused or freed while a future lives
//!    in it; the future never moves (it is pinned in place).
//! 2. [`FutureSlot::place`] writes an `F` and returns a [`Placed`] whose
//!    function pointers were instantiated for that same `F`.
//! 3. The future is dropped exactly once: by `Placed`'s `Drop`.
//! 4. `F: 'a` and `Placed<'a>` lives at most `'a`, so the future never
//!    outlives the data it borrows (the actor state and its context).
//! 5. `F: Send`, so moving a `Placed` or a `FutureSlot` between threads
//!    moves only `Send` data.
//! 6. A placed future's memory is never reused or freed unless its
//!    destructor ran (`Pin`'s drop guarantee). The runtime drops every
//!    `Placed` it makes (on completion, on a kill, on unwinding), but
//!    `mem::forget` is safe, so the slot does not rely on it: `occupied`
//!    is set by `place` and cleared by `Placed`'s `Drop`, and a slot that
//!    finds it still set (a leaked `Placed`) abandons its buffer, leaking
//!    the memory rather than reusing or freeing it. Dropping the old future
//!    late instead would not be sound: what it borrows may be gone.

#![allow(unsafe_code)]

use std::alloc::{self, Layout};
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::ptr::{self, NonNull};
use std::task::{Context as TaskContext, Poll};

use super::run::Outcome;

/// A heap buffer that holds at most one handler future at a time.
pub(crate) struct FutureSlot {
    buffer: NonNull<u8>,
    /// Layout of `buffer`; size 0 means nothing is allocated.
    layout: Layout,
    /// A future lives in the buffer (invariant 6).
    occupied: bool,
}

// SAFETY: the buffer is owned exclusively by the slot; whatever lives in it is
// `Send` (invariant 5) and is only reachable through a `Placed`, which borrows
// the slot mutably.
unsafe impl Send for FutureSlot {}

impl FutureSlot {
    pub(crate) const fn new() -> Self {
        FutureSlot { buffer: NonNull::dangling(), layout: EMPTY, occupied: false }
    }

    /// Builds `future` in the slot, growing it if needed.
    pub(crate) fn place<'a, F>(&'a mut self, future: F) -> Placed<'a>
    where
        F: Future<Output = Outcome> + Send + 'a,
    {
        if self.occupied {
            self.abandon(); // a leaked `Placed` (invariant 6)
        }
        let needed = Layout::new::<F>();
        if needed.size() != 0 && (needed.size() > self.layout.size() || needed.align() > self.layout.align()) {
            self.grow(needed);
        }
        // SAFETY: `target` is valid for writes of an `F` (fresh or reused
        // buffer of sufficient size and alignment, or dangling-but-aligned for
        // a zero-sized `F`), and no other future lives there (invariant 1).
        unsafe { ptr::write(self.target::<F>().as_ptr(), future) };
        self.occupied = true;
        Placed { slot: NonNull::from(self), poll: poll_erased::<F>, drop: drop_erased::<F>, _slot: PhantomData }
    }

    /// Where an `F` lives in this slot: the buffer, or a dangling but
    /// aligned pointer for a zero-sized `F`.
    fn target<F>(&self) -> NonNull<F> {
        if size_of::<F>() == 0 {
            NonNull::dangling()
        } else {
            self.buffer.cast()
        }
    }

    /// Forgets the buffer without freeing it: a future whose destructor
    /// never ran may live there (invariant 6).
    fn abandon(&mut self) {
        self.buffer = NonNull::dangling();
        self.layout = EMPTY;
        self.occupied = false;
    }

    fn grow(&mut self, needed: Layout) {
        self.free();
        let layout = Layout::from_size_align(needed.size().max(64), needed.align().max(16)).unwrap_or(needed);
        // SAFETY: `layout` has a non-zero size (at least 64 bytes).
        let raw = unsafe { alloc::alloc(layout) };
        match NonNull::new(raw) {
            Some(buffer) => {
                self.buffer = buffer;
                self.layout = layout;
            }
            None => alloc::handle_alloc_error(layout),
        }
    }

    fn free(&mut self) {
        if self.occupied {
            self.abandon();
            return;
        }
        if self.layout.size() != 0 {
            // SAFETY: `buffer` was allocated with `layout`, and no future
            // lives in it (we hold `&mut self`, invariant 1).
            unsafe { alloc::dealloc(self.buffer.as_ptr(), self.layout) };
            self.buffer = NonNull::dangling();
            self.layout = EMPTY;
        }
    }

    /// Gives the buffer back to the allocator (`Context::hibernate`).
    pub(crate) fn release(&mut self) {
        self.free();
    }
}

impl Drop for FutureSlot {
    fn drop(&mut self) {
        self.free();
    }
}

impl std::fmt::Debug for FutureSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FutureSlot").field("capacity", &self.layout.size()).finish()
    }
}

/// The layout of "no buffer".
const EMPTY: Layout = Layout::new::<()>();

/// A future living in a [`FutureSlot`].
pub(crate) struct Placed<'a> {
    /// The slot the future lives in: mutably borrowed for `'a`, so the
    /// pointer stays valid and nobody else touches the slot meanwhile.
    slot: NonNull<FutureSlot>,
    poll: unsafe fn(NonNull<FutureSlot>, &mut TaskContext<'_>) -> Poll<Outcome>,
    drop: unsafe fn(NonNull<FutureSlot>),
    _slot: PhantomData<&'a mut FutureSlot>,
}

// SAFETY: the future in the slot is `Send` (invariant 5) and owned by this
// `Placed` alone (invariant 1).
unsafe impl Send for Placed<'_> {}

impl Future for Placed<'_> {
    type Output = Outcome;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Outcome> {
        // SAFETY: `poll` was instantiated for the type stored at `future`
        // (invariant 2); the future is alive (invariant 3) and never moves
        // (invariant 1), so pinning it in place is sound.
        unsafe { (self.poll)(self.slot, cx) }
    }
}

impl Drop for Placed<'_> {
    fn drop(&mut self) {
        // SAFETY: invariants 2 and 3: the matching drop function, called
        // once; it also marks the slot free (invariant 6).
        unsafe { (self.drop)(self.slot) };
    }
}

/// # Safety
/// `slot` must be valid and hold a live, pinned-in-place `F`.
unsafe fn poll_erased<F: Future<Output = Outcome>>(
    slot: NonNull<FutureSlot>,
    cx: &mut TaskContext<'_>,
) -> Poll<Outcome> {
    // SAFETY: forwarded from the caller.
    let future = unsafe { Pin::new_unchecked(&mut *slot.as_ref().target::<F>().as_ptr()) };
    future.poll(cx)
}

/// # Safety
/// `slot` must be valid and hold a live `F` that is not used afterwards.
unsafe fn drop_erased<F>(slot: NonNull<FutureSlot>) {
    // SAFETY: forwarded from the caller; the flag is cleared after the drop,
    // through the same pointer, by the slot's only user (invariant 1).
    unsafe {
        ptr::drop_in_place(slot.as_ref().target::<F>().as_ptr());
        (*slot.as_ptr()).occupied = false;
    }
}

#[cfg(test)]
mod tests;
