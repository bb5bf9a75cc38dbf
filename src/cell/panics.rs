//! Panics in actor callbacks are exit reasons, reported once.
//!
//! A callback's panic is caught by the run loop and becomes the actor's
//! `ExitReason::Panic`, which the crash report names (`actor/report.rs`).
//! Rust's default panic hook would also print it, with the thread's name and
//! (under `RUST_BACKTRACE`) tens of frames of runtime internals: noise for a
//! failure the runtime handles. So the first `System` installs a panic hook
//! that, for a panic inside an actor callback on this thread (the
//! [`CURRENT`](super) marker the run loop sets anyway), keeps only the
//! panic's location for the exit reason and prints nothing; every other
//! panic goes to the hook that was installed before, unchanged.
//!
//! The hook is process-wide by std's design, so installing it is the one
//! process-wide thing treeline does (guarded by a `Once`). It holds no
//! state of any System: several Systems share it harmlessly. A hook the
//! application installs *after* its first System replaces this one (std
//! keeps one hook), and then actor panics print through it as well; one
//! installed *before* keeps seeing every panic outside actor callbacks.

use std::cell::RefCell;
use std::sync::Once;

thread_local! {
    /// Where the last caught actor panic on this thread happened, until the
    /// run loop takes it for the exit reason.
    static LOCATION: RefCell<Option<Box<str>>> = const { RefCell::new(None) };
}

/// Installs the hook once per process.
pub(crate) fn install() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if super::in_callback() {
                let location =
                    info.location().map(|at| format!("{}:{}:{}", at.file(), at.line(), at.column()).into_boxed_str());
                // `try_with`: a panic while the thread-locals are being
                // destroyed has nowhere to keep its location.
                let _ = LOCATION.try_with(|slot| *slot.borrow_mut() = location);
            } else {
                previous(info);
            }
        }));
    });
}

/// The location of the panic the run loop just caught on this thread.
pub(crate) fn take_location() -> Option<Box<str>> {
    LOCATION.try_with(|slot| slot.borrow_mut().take()).ok().flatten()
}
