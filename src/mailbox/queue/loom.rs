//! Loom models of the mailbox's handshakes: no lost wake-up between a
//! sender and the parking actor, and exactly one activation of a dormant
//! actor, including one whose `init` left the spawner's waker behind (the
//! defect these models were written for).
//!
//! Run with `RUSTFLAGS="--cfg treeline_loom" cargo test --release --lib loom_`
//! (`.ci/run` does). They drive the real `Mailbox`; only its lock and flag
//! are loom's (`src/sync.rs`), and an activation, which would spawn a tokio
//! task, is counted instead (`Mailbox::activations`).

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context as TaskContext, Wake as StdWake, Waker};

use loom::sync::atomic::AtomicBool;

use super::Admission;
use crate::actor::dispatch::CastMsg;
use crate::actor::run::{Dormant, Guarded};
use crate::actor::{Actor, Context, HandleCast, InitError};
use crate::addr::{ActorId, ActorRef};
use crate::cell::ActorCell;
use crate::exit::ExitReason;
use crate::signal::Signal;
use crate::System;

struct Model;

impl Actor for Model {
    type Args = ();
    async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> {
        Ok(Model)
    }
}

impl HandleCast<u32> for Model {
    async fn handle_cast(&mut self, _: u32, _: &mut Context<Self>) -> Result<(), ExitReason> {
        Ok(())
    }
}

/// A waker that records that it was woken.
struct Flag(AtomicBool);

impl StdWake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

fn flag() -> (Arc<Flag>, Waker) {
    let flag = Arc::new(Flag(AtomicBool::new(false)));
    (flag.clone(), Waker::from(flag))
}

fn actor() -> (ActorRef<Model>, System) {
    let system = System::new();
    let cell = ActorCell::new(ActorId(1), &system, Default::default(), ActorId::SYSTEM, None);
    (ActorRef { cell: Arc::new(cell) }, system)
}

fn stop() -> Signal {
    Signal::Stop { reason: ExitReason::Normal, reply: None }
}

/// A message sent while the actor looks for work is either found, or its
/// task is woken.
#[test]
fn loom_a_message_is_never_missed_by_a_parking_actor() {
    loom::model(|| {
        let (actor, _system) = actor();
        let (woken, waker) = flag();
        let sender = {
            let actor = actor.clone();
            loom::thread::spawn(move || {
                assert!(actor.cell.mailbox.push(CastMsg(1u32), Admission::Counted).is_ok());
            })
        };
        let mut batch = VecDeque::new();
        let found = actor.cell.mailbox.poll_recv(&mut TaskContext::from_waker(&waker), &mut batch).is_ready();
        sender.join().unwrap();
        assert_eq!(actor.cell.mailbox.activations.load(Ordering::SeqCst), 0, "an actor with a task is never activated");
        assert!(found || woken.0.load(Ordering::SeqCst), "lost wake-up: the message waits and nobody is woken");
    });
}

/// A signal that arrives while a handler awaits is either seen by the
/// watching actor, or wakes it.
#[test]
fn loom_a_signal_reaches_an_actor_inside_a_handler() {
    loom::model(|| {
        let (actor, _system) = actor();
        let (woken, waker) = flag();
        let sender = {
            let actor = actor.clone();
            loom::thread::spawn(move || assert!(actor.cell.mailbox.push_signal(stop()).is_ok()))
        };
        let seen = actor.cell.mailbox.watch_signals(&mut TaskContext::from_waker(&waker));
        sender.join().unwrap();
        assert_eq!(actor.cell.mailbox.activations.load(Ordering::SeqCst), 0);
        assert!(seen || woken.0.load(Ordering::SeqCst), "lost wake-up: the signal waits and nobody is woken");
    });
}

/// The spawner runs `init` (registering its own waker while `init` awaits),
/// then parks the actor dormant, while a signal or a message arrives: the
/// actor is activated exactly once, by the spawner (work was waiting) or by
/// the arrival; never by neither (the spawner's stale waker woken instead),
/// never by both.
#[test]
fn loom_a_dormant_actor_is_activated_exactly_once() {
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let handle = runtime.handle().clone();
    for by_signal in [true, false] {
        let handle = handle.clone();
        loom::model(move || {
            let (actor, _system) = actor();
            let (_spawner_woken, spawner) = flag();
            let arrival = {
                let actor = actor.clone();
                loom::thread::spawn(move || {
                    let mailbox = &actor.cell.mailbox;
                    match by_signal {
                        true => assert!(mailbox.push_signal(stop()).is_ok()),
                        false => assert!(mailbox.push(CastMsg(1u32), Admission::Counted).is_ok()),
                    }
                })
            };
            // `init` awaited once: `drive` registered the spawner's waker.
            let _ = actor.cell.mailbox.watch_signals(&mut TaskContext::from_waker(&spawner));
            let ctx = Context::new(actor.clone(), ActorId::SYSTEM);
            let dormant = Box::new(Dormant { actor: Guarded::new(Model), ctx, runtime: handle.clone() });
            let by_spawner = actor.cell.mailbox.make_dormant(dormant).is_err();
            arrival.join().unwrap();
            let by_arrival = actor.cell.mailbox.activations.load(Ordering::SeqCst) == 1;
            assert!(by_spawner ^ by_arrival, "activated by spawner: {by_spawner}, by the arrival: {by_arrival}");
            // What is still dormant is dropped with the model.
            drop(actor.cell.mailbox.take_dormant());
        });
    }
}
