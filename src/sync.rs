//! The primitives of the hand-rolled handshakes (the mailbox's park/wake
//! protocol and dormant activation, the deadline sweeper's stop/start),
//! swapped for loom's under `--cfg treeline_loom`, so that the loom models
//! in `src/mailbox/queue/loom.rs` and `src/system/deadlines/loom.rs`
//! explore every interleaving of the real code.
//!
//! Everything else keeps using `parking_lot` and `std` directly: loom only
//! sees what goes through here.

#[cfg(not(treeline_loom))]
pub(crate) use std::sync::atomic::AtomicBool;

#[cfg(treeline_loom)]
pub(crate) use loom::sync::atomic::AtomicBool;

/// A mutex: `parking_lot`'s, or loom's in models.
pub(crate) struct Mutex<T>(
    #[cfg(not(treeline_loom))] parking_lot::Mutex<T>,
    #[cfg(treeline_loom)] loom::sync::Mutex<T>,
);

/// The guard of [`Mutex`].
#[cfg(not(treeline_loom))]
pub(crate) type MutexGuard<'a, T> = parking_lot::MutexGuard<'a, T>;
/// The guard of [`Mutex`].
#[cfg(treeline_loom)]
pub(crate) type MutexGuard<'a, T> = loom::sync::MutexGuard<'a, T>;

impl<T> Mutex<T> {
    pub(crate) fn new(value: T) -> Self {
        #[cfg(not(treeline_loom))]
        return Mutex(parking_lot::Mutex::new(value));
        #[cfg(treeline_loom)]
        return Mutex(loom::sync::Mutex::new(value));
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
        #[cfg(not(treeline_loom))]
        return self.0.lock();
        // A poisoned lock means a model thread panicked: the model fails.
        #[cfg(treeline_loom)]
        return self.0.lock().expect("a model thread panicked holding the lock");
    }
}
