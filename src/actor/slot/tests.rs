use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use futures::task::noop_waker_ref;

use super::*;

struct CountDrops(Arc<AtomicUsize>);

impl Drop for CountDrops {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn poll_once(placed: &mut Placed<'_>) -> Poll<Outcome> {
    let mut cx = TaskContext::from_waker(noop_waker_ref());
    Pin::new(placed).poll(&mut cx)
}

#[test]
fn a_future_runs_in_place_and_is_dropped_once() {
    let drops = Arc::new(AtomicUsize::new(0));
    let mut slot = FutureSlot::new();
    let guard = CountDrops(drops.clone());
    let mut placed = slot.place(async move {
        let _guard = guard;
        Outcome::Continue
    });
    assert!(matches!(poll_once(&mut placed), Poll::Ready(Outcome::Continue)));
    drop(placed);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
fn a_pending_future_is_dropped_when_abandoned() {
    let drops = Arc::new(AtomicUsize::new(0));
    let mut slot = FutureSlot::new();
    let guard = CountDrops(drops.clone());
    let mut placed = slot.place(async move {
        let _guard = guard;
        std::future::pending::<()>().await;
        Outcome::Continue
    });
    assert!(poll_once(&mut placed).is_pending());
    assert_eq!(drops.load(Ordering::SeqCst), 0);
    drop(placed);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
fn the_slot_grows_for_larger_futures_and_keeps_borrowing_sound() {
    let mut slot = FutureSlot::new();
    let mut state = vec![1u64];
    for round in 0..4u64 {
        let big = [round; 64];
        let state_ref = &mut state;
        let mut placed = slot.place(async move {
            state_ref.push(big.iter().sum::<u64>());
            Outcome::Continue
        });
        assert!(poll_once(&mut placed).is_ready());
    }
    assert_eq!(state, vec![1, 0, 64, 128, 192]);
    let mut placed = slot.place(async { Outcome::Stop(crate::ExitReason::Normal) });
    assert!(matches!(poll_once(&mut placed), Poll::Ready(Outcome::Stop(_))));
}

struct ZeroSized;

impl Future for ZeroSized {
    type Output = Outcome;
    fn poll(self: Pin<&mut Self>, _: &mut TaskContext<'_>) -> Poll<Outcome> {
        Poll::Ready(Outcome::Continue)
    }
}

#[test]
fn zero_sized_futures_need_no_buffer() {
    let mut slot = FutureSlot::new();
    let mut placed = slot.place(ZeroSized);
    assert!(poll_once(&mut placed).is_ready());
    drop(placed);
    assert_eq!(format!("{slot:?}"), "FutureSlot { capacity: 0 }");
}

#[test]
fn over_aligned_futures_get_an_aligned_buffer() {
    #[repr(align(128))]
    struct Aligned(u8);
    let mut slot = FutureSlot::new();
    for _ in 0..2 {
        let value = Aligned(7);
        let mut placed = slot.place(async move {
            let address = &value as *const Aligned as usize;
            assert_eq!(address % 128, 0);
            assert_eq!(value.0, 7);
            Outcome::Continue
        });
        assert!(poll_once(&mut placed).is_ready());
    }
}

/// The buffer a placed future lives in.
fn slot_buffer(placed: &Placed<'_>) -> NonNull<u8> {
    // SAFETY: the slot is valid while `placed` lives.
    unsafe { placed.slot.as_ref().buffer }
}

/// A leaked `Placed` (`mem::forget` is safe) must not let the slot reuse or
/// free the memory of a future whose destructor never ran: the slot
/// abandons that buffer (invariant 6). Under miri, a reuse would show as a
/// write over memory a pinned future still owns.
#[test]
fn a_leaked_placed_future_is_never_overwritten() {
    let drops = Arc::new(AtomicUsize::new(0));
    let mut slot = FutureSlot::new();
    let guard = CountDrops(drops.clone());
    let placed = slot.place(async move {
        let _guard = guard;
        std::future::pending::<()>().await;
        Outcome::Continue
    });
    let dropper = placed.drop;
    std::mem::forget(placed);
    let (leaked, layout) = (slot.buffer, slot.layout);
    let mut next = slot.place(async { Outcome::Continue });
    assert_ne!(slot_buffer(&next), leaked, "the leaked future's buffer is not reused");
    assert!(matches!(poll_once(&mut next), Poll::Ready(Outcome::Continue)));
    drop(next);
    drop(slot);
    assert_eq!(drops.load(Ordering::SeqCst), 0, "the leaked future was not dropped late");
    // In the runtime the leaked future and its buffer stay leaked (that is
    // the price); here its owner is known, so miri sees no leak.
    // SAFETY: `leaked` is the live future `dropper` was made for, at the start
    // of a buffer allocated with `layout` that the slot abandoned.
    unsafe {
        let mut owner = FutureSlot { buffer: leaked, layout, occupied: true };
        dropper(NonNull::from(&mut owner));
        assert!(!owner.occupied);
        drop(owner); // frees the buffer
    }
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}
