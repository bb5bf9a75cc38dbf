use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use futures::task::noop_waker_ref;

use super::*;
use crate::actor::run::Outcome;
use crate::actor::InitError;
use crate::exit::ExitReason;

/// An actor that records what it was given.
struct Recorder(Vec<usize>);

impl Actor for Recorder {
    type Args = ();
    async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> {
        Ok(Recorder(Vec::new()))
    }
}

/// A payload that counts its drops and carries `N` bytes.
struct Payload<const N: usize> {
    drops: Arc<AtomicUsize>,
    bytes: [u8; N],
}

impl<const N: usize> Drop for Payload<N> {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

impl<const N: usize> Dispatch<Recorder> for Payload<N> {
    const KIND: MessageKind = MessageKind::Cast;

    fn message_type() -> &'static str {
        "Payload"
    }

    fn dispatch<'a>(
        self,
        actor: &'a mut Recorder,
        _: &'a mut Context<Recorder>,
        slot: &'a mut FutureSlot,
    ) -> HandlerFuture<'a> {
        actor.0.push(self.bytes.iter().map(|&b| b as usize).sum());
        slot.place(async { Outcome::Continue })
    }
}

fn payload<const N: usize>(drops: &Arc<AtomicUsize>) -> Payload<N> {
    Payload { drops: drops.clone(), bytes: [1; N] }
}

fn context() -> Context<Recorder> {
    let cell = crate::cell::ActorCell::new(
        crate::ActorId(1),
        &crate::System::new(),
        Default::default(),
        crate::ActorId::SYSTEM,
        None,
    );
    Context::new(crate::ActorRef { cell: Arc::new(cell) }, crate::ActorId::SYSTEM)
}

fn run(envelope: Envelope<Recorder>, actor: &mut Recorder, ctx: &mut Context<Recorder>) {
    let mut slot = FutureSlot::new();
    let mut future = envelope.dispatch(actor, ctx, &mut slot);
    let mut cx = TaskContext::from_waker(noop_waker_ref());
    assert!(matches!(std::pin::Pin::new(&mut future).poll(&mut cx), Poll::Ready(Outcome::Continue)));
}

#[test]
fn small_payloads_are_inline_and_large_ones_boxed() {
    assert!(fits::<Payload<8>>());
    assert!(!fits::<Payload<64>>());
    assert!(!fits::<u128>() || std::mem::align_of::<u128>() <= std::mem::align_of::<usize>());
}

#[test]
fn a_dispatched_payload_is_consumed_exactly_once() {
    let mut ctx = context();
    let mut actor = Recorder(Vec::new());
    let drops = Arc::new(AtomicUsize::new(0));
    run(Envelope::new::<_, true>(payload::<8>(&drops)), &mut actor, &mut ctx);
    run(Envelope::new::<_, true>(payload::<64>(&drops)), &mut actor, &mut ctx);
    assert_eq!(actor.0, vec![8, 64]);
    assert_eq!(drops.load(Ordering::SeqCst), 2);
}

#[test]
fn an_undelivered_payload_is_dropped_exactly_once() {
    let drops = Arc::new(AtomicUsize::new(0));
    let inline = Envelope::<Recorder>::new::<_, true>(payload::<8>(&drops));
    let boxed = Envelope::<Recorder>::new::<_, false>(payload::<64>(&drops));
    assert!(inline.is_counted() && !boxed.is_counted());
    assert_eq!((inline.kind(), inline.message_type()), (MessageKind::Cast, "Payload"));
    drop((inline, boxed));
    assert_eq!(drops.load(Ordering::SeqCst), 2);
}

#[test]
fn envelopes_move_between_threads() {
    let drops = Arc::new(AtomicUsize::new(0));
    let envelope = Envelope::<Recorder>::new::<_, true>(payload::<64>(&drops));
    std::thread::spawn(move || drop(envelope)).join().unwrap();
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    let _ = ExitReason::Normal;
}
