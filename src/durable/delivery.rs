//! What a consuming actor receives: the message with its [`Delivery`]
//! (sequence number, attempt, redelivered flag), how it is acked, and what
//! a message that is given up on becomes ([`DurableDeadLetter`]).

use crate::durable::records::QueueId;
use std::any::type_name;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;

use super::codec::{CodecError, Durable};
use super::store::{AckToken, Offer, Sink, Store};
use crate::actor::dispatch::outcome;
use crate::actor::run::HandlerFuture;
use crate::actor::slot::FutureSlot;
use crate::actor::{Actor, Context, HandleCast, HandleEvent};
use crate::addr::ActorId;
use crate::cell::ActorCell;
use crate::event::Event;
use crate::exit::ExitReason;
use crate::mailbox::envelope::{Dispatch, Envelope, MessageKind};
use crate::registry::ReleaseHook;

/// How a durable message reached the handler: visible through
/// [`Context::delivery`] while its handler runs.
///
/// `seq` is the message's sequence number in its queue (1, 2, …, never
/// reused), so a handler can be idempotent: delivery is at-least-once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
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
#[non_exhaustive]
pub struct DurableDeadLetter {
    /// The durable queue's name.
    pub queue: String,
    /// The message's sequence number.
    pub seq: u64,
    /// Deliveries made.
    pub attempts: u32,
    /// Why it was given up on.
    pub reason: DurableDeadLetterReason,
    /// The version of the message's type that stored it (0 if the stored
    /// message was too short to hold one).
    pub version: u16,
    /// The message's bytes, as its type encoded them (read them with
    /// [`decode`](Self::decode)).
    pub payload: Vec<u8>,
}

impl DurableDeadLetter {
    pub(crate) fn new(
        queue: String,
        seq: u64,
        attempts: u32,
        reason: DurableDeadLetterReason,
        stored: Vec<u8>,
    ) -> Self {
        let (version, payload) = match super::codec::split_message(&stored) {
            Some((version, bytes)) => (version, bytes.to_vec()),
            None => (0, stored),
        };
        DurableDeadLetter { queue, seq, attempts, reason, version, payload }
    }

    /// The message, decoded as `M` (upcast from an older version if need
    /// be). The queue's type is the one to use; an undecodable message
    /// gives the same error it was dead-lettered with.
    ///
    /// ```
    /// use treeline::{Actor, Context, ExitReason, HandleEvent, InitError};
    /// use treeline::durable::DurableDeadLetter;
    ///
    /// /// Parks every dead-lettered charge (a `u64` queue) for a human.
    /// struct Parking;
    /// # impl Actor for Parking {
    /// #     type Args = ();
    /// #     async fn init(_: (), ctx: &mut Context<Self>) -> Result<Self, InitError> {
    /// #         ctx.subscribe::<DurableDeadLetter>().map_err(|e| InitError::stop(e.to_string()))?;
    /// #         Ok(Parking)
    /// #     }
    /// # }
    /// impl HandleEvent<DurableDeadLetter> for Parking {
    ///     async fn handle_event(&mut self, letter: DurableDeadLetter, _: &mut Context<Self>) -> Result<(), ExitReason> {
    ///         match letter.decode::<u64>() {
    ///             Ok(cents) => println!("{}#{}: {cents} cents ({})", letter.queue, letter.seq, letter.reason),
    ///             Err(error) => println!("{}#{}: undecodable: {error}", letter.queue, letter.seq),
    ///         }
    ///         Ok(())
    ///     }
    /// }
    /// ```
    pub fn decode<M: Durable>(&self) -> Result<M, CodecError> {
        M::decode_version(self.version, &self.payload)
    }
}

impl Event for DurableDeadLetter {
    const TOPIC: &'static str = "treeline.durable.dead_letters";
}

/// Why a durable message was dead-lettered.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DurableDeadLetterReason {
    /// It was delivered `attempts` times and never acked; `last_exit` is how
    /// the consumer holding it last ended, when known.
    DeliveryLimit {
        /// The consumer's exit reason at the last failed attempt.
        last_exit: Option<ExitReason>,
    },
    /// Its bytes did not decode as the queue's message type.
    Undecodable(CodecError),
    /// Its handler rejected it ([`Context::reject`]), saying why.
    Rejected(String),
}

impl fmt::Display for DurableDeadLetterReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DurableDeadLetterReason::DeliveryLimit { last_exit: Some(reason) } => {
                write!(f, "delivery limit reached; last exit: {reason}")
            }
            DurableDeadLetterReason::DeliveryLimit { last_exit: None } => write!(f, "delivery limit reached"),
            DurableDeadLetterReason::Undecodable(error) => write!(f, "{error}"),
            DurableDeadLetterReason::Rejected(why) => write!(f, "rejected by its handler: {why}"),
        }
    }
}

/// Which handler a durable message goes to: `HandleCast<M>` for a durable
/// queue ([`ViaCast`]), `HandleEvent<M>` for a durable subscription
/// ([`ViaEvent`]).
pub(crate) trait Route<A: Actor, M>: Send + 'static {
    fn handle<'a>(
        actor: &'a mut A,
        msg: M,
        ctx: &'a mut Context<A>,
    ) -> impl Future<Output = Result<(), ExitReason>> + Send + 'a;
}

/// Durable queues: `handle_cast`.
pub(crate) struct ViaCast;

/// Durable subscriptions: `handle_event`.
pub(crate) struct ViaEvent;

impl<A: HandleCast<M>, M: Send + 'static> Route<A, M> for ViaCast {
    fn handle<'a>(
        actor: &'a mut A,
        msg: M,
        ctx: &'a mut Context<A>,
    ) -> impl Future<Output = Result<(), ExitReason>> + Send + 'a {
        actor.handle_cast(msg, ctx)
    }
}

impl<A: HandleEvent<E>, E: Event> Route<A, E> for ViaEvent {
    fn handle<'a>(
        actor: &'a mut A,
        event: E,
        ctx: &'a mut Context<A>,
    ) -> impl Future<Output = Result<(), ExitReason>> + Send + 'a {
        actor.handle_event(event, ctx)
    }
}

/// A durable message in a mailbox, with how it is handled.
pub(crate) struct DurableMsg<M, R> {
    msg: M,
    delivery: Delivery,
    token: AckToken,
    route: PhantomData<fn() -> R>,
}

/// Whether a handler's result acks its message: it returned, or asked to
/// stop normally (the message was handled); an abnormal stop is a failure.
fn acks(result: &Result<(), ExitReason>) -> bool {
    match result {
        Ok(()) => true,
        Err(reason) => reason.is_expected(),
    }
}

impl<A: Actor, M: Durable, R: Route<A, M>> Dispatch<A> for DurableMsg<M, R> {
    const KIND: MessageKind = MessageKind::Durable;

    fn message_type() -> &'static str {
        type_name::<M>()
    }

    fn dispatch<'a>(self, actor: &'a mut A, ctx: &'a mut Context<A>, slot: &'a mut FutureSlot) -> HandlerFuture<'a> {
        slot.place(async move {
            let DurableMsg { msg, delivery, token, .. } = self;
            ctx.begin_delivery(delivery, token);
            let result = R::handle(actor, msg, ctx).await;
            // A panic or a kill never gets here: the message stays unacked.
            if let Some(token) = ctx.end_delivery() {
                if acks(&result) {
                    token.ack();
                } else {
                    ctx.fail_delivery(&token);
                }
            }
            outcome(result)
        })
    }
}

/// Deliveries into the mailbox of an actor `A`, decoded as `M` and handled
/// as `R` routes them.
pub(crate) struct ActorSink<A: Actor, M, R> {
    pub(crate) cell: Arc<ActorCell<A>>,
    pub(crate) route: PhantomData<fn() -> (M, R)>,
}

impl<A: Actor, M: Durable, R: Route<A, M>> Sink for ActorSink<A, M, R> {
    fn offer(&self, delivery: Delivery, payload: &[u8], token: AckToken) -> Offer {
        let msg = match super::codec::decode_message::<M>(payload) {
            Ok(msg) => msg,
            Err(error) => return Offer::Undecodable(error),
        };
        // Never counted against capacity nor shed: the window bounds these.
        let envelope = Envelope::new::<_, false>(DurableMsg::<M, R> { msg, delivery, token, route: PhantomData });
        match self.cell.mailbox.push_internal(envelope) {
            Ok(()) => Offer::Queued,
            Err(_) => Offer::Gone,
        }
    }

    fn consumer(&self) -> ActorId {
        self.cell.id
    }
}

/// Detaches a consumer when its actor dies (recorded in its cell's holdings like a
/// name, released in its teardown).
pub(crate) struct Detach {
    pub(crate) store: Arc<Store>,
    pub(crate) queue: QueueId,
    pub(crate) epoch: u64,
}

impl ReleaseHook for Detach {
    fn release(&self, reason: &ExitReason) {
        self.store.detach(self.queue, self.epoch, reason);
    }
}
