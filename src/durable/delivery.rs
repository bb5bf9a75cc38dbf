//! What a consuming actor receives: the message with its [`Delivery`]
//! (sequence number, attempt, redelivered flag), how it is acked, and what
//! a message that is given up on becomes ([`DurableDeadLetter`]).

use std::any::type_name;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use super::codec::{CodecError, Durable};
use super::store::{AckToken, Offer, Sink, Store};
use crate::actor::dispatch::outcome;
use crate::actor::run::HandlerFuture;
use crate::actor::slot::FutureSlot;
use crate::actor::{Context, HandleCast, HandleEvent};
use crate::addr::ActorId;
use crate::cell::ActorCell;
use crate::event::Event;
use crate::exit::ExitReason;
use crate::mailbox::envelope::{Dispatch, Envelope, Kind};
use crate::registry::ReleaseHook;

/// How a durable message reached the handler: visible through
/// [`Context::delivery`] while its handler runs.
///
/// `seq` is the message's sequence number in its queue (1, 2, …, never
/// reused), so a handler can be idempotent: delivery is at-least-once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Delivery {
    /// The message's sequence number in its queue.
    pub seq: u64,
    /// 1 on the first delivery, 2 on the first redelivery, …
    pub attempt: u32,
    /// The message may have been handed to a handler before (RabbitMQ's
    /// `redelivered`): true exactly when `attempt > 1`.
    pub redelivered: bool,
}

/// A durable message given up on: delivered as many times as its queue's
/// delivery limit allows without an ack, or whose bytes no longer decode.
/// Published on the System's registry (topic
/// `treeline.durable.dead_letters`) when it happens; the journal marks it
/// done, so it is not delivered again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DurableDeadLetter {
    /// The durable queue's name.
    pub queue: String,
    /// The message's sequence number.
    pub seq: u64,
    /// Deliveries made.
    pub attempts: u32,
    /// Why it was given up on.
    pub cause: DeadLetterCause,
    /// The message as persisted (decode it with [`Durable::decode`]).
    pub payload: Vec<u8>,
}

impl Event for DurableDeadLetter {
    const TOPIC: &'static str = "treeline.durable.dead_letters";
}

/// Why a durable message was dead-lettered.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeadLetterCause {
    /// It was delivered `attempts` times and never acked; `last_exit` is how
    /// the consumer holding it last ended, when known.
    DeliveryLimit {
        /// The consumer's exit reason at the last failed attempt.
        last_exit: Option<ExitReason>,
    },
    /// Its bytes did not decode as the queue's message type.
    Undecodable(CodecError),
}

impl fmt::Display for DeadLetterCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeadLetterCause::DeliveryLimit { last_exit: Some(reason) } => {
                write!(f, "delivery limit reached; last exit: {reason}")
            }
            DeadLetterCause::DeliveryLimit { last_exit: None } => write!(f, "delivery limit reached"),
            DeadLetterCause::Undecodable(error) => write!(f, "{error}"),
        }
    }
}

/// A durable message in a mailbox.
pub(crate) struct DurableMsg<M> {
    msg: M,
    delivery: Delivery,
    token: AckToken,
}

/// Whether a handler's result acks its message: it returned, or asked to
/// stop normally (the message was handled); an abnormal stop is a failure.
fn acks(result: &Result<(), ExitReason>) -> bool {
    match result {
        Ok(()) => true,
        Err(reason) => reason.is_expected(),
    }
}

impl<A: HandleCast<M>, M: Durable> Dispatch<A> for DurableMsg<M> {
    const KIND: Kind = Kind::Durable;

    fn message_type() -> &'static str {
        type_name::<M>()
    }

    fn dispatch<'a>(self, actor: &'a mut A, ctx: &'a mut Context<A>, slot: &'a mut FutureSlot) -> HandlerFuture<'a> {
        slot.place(async move {
            let DurableMsg { msg, delivery, token } = self;
            ctx.begin_delivery(delivery, token);
            let result = actor.handle_cast(msg, ctx).await;
            // A panic or a kill never gets here: the message stays unacked.
            if let Some(token) = ctx.end_delivery() {
                if acks(&result) {
                    token.ack();
                }
            }
            outcome(result)
        })
    }
}

/// A durable subscription's event in a mailbox.
pub(crate) struct DurableEventMsg<E> {
    event: E,
    delivery: Delivery,
    token: AckToken,
}

impl<A: HandleEvent<E>, E: Event + Durable> Dispatch<A> for DurableEventMsg<E> {
    const KIND: Kind = Kind::Durable;

    fn message_type() -> &'static str {
        type_name::<E>()
    }

    fn dispatch<'a>(self, actor: &'a mut A, ctx: &'a mut Context<A>, slot: &'a mut FutureSlot) -> HandlerFuture<'a> {
        slot.place(async move {
            let DurableEventMsg { event, delivery, token } = self;
            ctx.begin_delivery(delivery, token);
            let result = actor.handle_event(event, ctx).await;
            if let Some(token) = ctx.end_delivery() {
                if acks(&result) {
                    token.ack();
                }
            }
            outcome(result)
        })
    }
}

/// Deliveries of a durable subscription into the mailbox of an actor `A`
/// that handles events `E`.
pub(crate) struct EventSink<A: HandleEvent<E>, E: Event + Durable> {
    pub(crate) cell: Arc<ActorCell<A>>,
    pub(crate) event: PhantomData<fn() -> E>,
}

impl<A: HandleEvent<E>, E: Event + Durable> Sink for EventSink<A, E> {
    fn offer(&self, delivery: Delivery, payload: &[u8], token: AckToken) -> Offer {
        let event = match E::decode(payload) {
            Ok(event) => event,
            Err(error) => return Offer::Undecodable(error),
        };
        let envelope = Envelope::new::<_, false>(DurableEventMsg { event, delivery, token });
        match self.cell.mailbox.push_internal(envelope) {
            Ok(()) => Offer::Queued,
            Err(_) => Offer::Gone,
        }
    }

    fn consumer(&self) -> ActorId {
        self.cell.id
    }
}

/// Deliveries into the mailbox of an actor `A` that casts `M`.
pub(crate) struct ActorSink<A: HandleCast<M>, M: Durable> {
    pub(crate) cell: Arc<ActorCell<A>>,
    pub(crate) message: PhantomData<fn() -> M>,
}

impl<A: HandleCast<M>, M: Durable> Sink for ActorSink<A, M> {
    fn offer(&self, delivery: Delivery, payload: &[u8], token: AckToken) -> Offer {
        let msg = match M::decode(payload) {
            Ok(msg) => msg,
            Err(error) => return Offer::Undecodable(error),
        };
        // Never counted against capacity nor shed: the window bounds these.
        let envelope = Envelope::new::<_, false>(DurableMsg { msg, delivery, token });
        match self.cell.mailbox.push_internal(envelope) {
            Ok(()) => Offer::Queued,
            Err(_) => Offer::Gone,
        }
    }

    fn consumer(&self) -> ActorId {
        self.cell.id
    }
}

/// Detaches a consumer when its actor dies (recorded in its mailbox like a
/// name, released in its teardown).
pub(crate) struct Detach {
    pub(crate) store: Arc<Store>,
    pub(crate) queue: u32,
    pub(crate) epoch: u64,
}

impl ReleaseHook for Detach {
    fn release(&self, reason: &ExitReason) {
        self.store.detach(self.queue, self.epoch, reason);
    }
}
