//! The typed wrappers that travel in envelopes, one per kind of message, and
//! how each one starts its handler.

use std::any::type_name;

use super::reply::{ReplyChannel, ReplyKind, ReplySender};
use super::run::{self, Arrival, HandlerFuture, Outcome};
use super::slot::FutureSlot;
use super::{Actor, Context, HandleCall, HandleCast, HandleContinue, HandleEvent, HandleInfo, Reply};
use crate::event::Event;
use crate::exit::ExitReason;
use crate::mailbox::envelope::{Dispatch, MessageKind};
use crate::signal::{Arrived, Down};

/// A cast.
pub(crate) struct CastMsg<M>(pub(crate) M);

/// A call and the channel its caller waits on.
pub(crate) struct CallMsg<M, R> {
    pub(crate) msg: M,
    pub(crate) reply: ReplyChannel<R>,
}

/// A plain message.
pub(crate) struct InfoMsg<M>(pub(crate) M);

/// A domain event.
pub(crate) struct EventMsg<E>(pub(crate) E);

/// A continuation.
pub(crate) struct ContinueMsg<C>(pub(crate) C);

/// A monitor notification (built when its [`SignalMsg`] is reached).
pub(crate) struct DownMsg(pub(crate) Down);

/// A signal that became a message: an exit signal to a trapping actor or a
/// `Down`, waiting in the user lane in arrival order. Reaching it decides
/// what it is (see [`run::arrival`]).
pub(crate) struct SignalMsg(pub(crate) Arrived);

pub(crate) fn outcome(result: Result<(), ExitReason>) -> Outcome {
    match result {
        Ok(()) => Outcome::Continue,
        Err(reason) => Outcome::Stop(reason),
    }
}

impl<A: HandleCast<M>, M: Send + 'static> Dispatch<A> for CastMsg<M> {
    const KIND: MessageKind = MessageKind::Cast;

    fn message_type() -> &'static str {
        type_name::<M>()
    }

    fn dispatch<'a>(self, actor: &'a mut A, ctx: &'a mut Context<A>, slot: &'a mut FutureSlot) -> HandlerFuture<'a> {
        slot.place(async move { outcome(actor.handle_cast(self.0, ctx).await) })
    }
}

impl<A: HandleCall<M>, M: Send + 'static> Dispatch<A> for CallMsg<M, A::Reply> {
    const KIND: MessageKind = MessageKind::Call;

    fn message_type() -> &'static str {
        type_name::<M>()
    }

    fn dispatch<'a>(self, actor: &'a mut A, ctx: &'a mut Context<A>, slot: &'a mut FutureSlot) -> HandlerFuture<'a> {
        let callee = crate::cell::Process::address(&*ctx.myself().cell);
        slot.place(async move {
            let CallMsg { msg, reply } = self;
            let reply = ReplySender::new(reply, callee);
            let answer = actor.handle_call(msg, ctx).await;
            settle_reply(answer, reply, ctx)
        })
    }
}

/// Delivers (or schedules) the reply a call handler chose.
fn settle_reply<A: Actor, R: Send + 'static>(answer: Reply<R>, reply: ReplySender<R>, ctx: &mut Context<A>) -> Outcome {
    match answer.kind {
        ReplyKind::Now(value) => match ctx.stop_requested() {
            // Stop requested with `Context::stop`: terminate first, then reply.
            Some(reason) => Outcome::StopWithReply(reason, Box::new(move || reply.send(Ok(value)))),
            None => {
                reply.send(Ok(value));
                Outcome::Continue
            }
        },
        ReplyKind::Deferred(shared) => {
            shared.connect(reply);
            ctx.owe(shared);
            Outcome::Continue
        }
        ReplyKind::Stop { reason, value: Some(value) } => {
            Outcome::StopWithReply(reason, Box::new(move || reply.send(Ok(value))))
        }
        // Keep the channel open until terminate ran: the caller then sees the
        // actor stopping and reports its final reason.
        ReplyKind::Stop { reason, value: None } => Outcome::StopWithReply(reason, Box::new(move || drop(reply))),
    }
}

impl<A: HandleInfo<M>, M: Send + 'static> Dispatch<A> for InfoMsg<M> {
    const KIND: MessageKind = MessageKind::Info;

    fn message_type() -> &'static str {
        type_name::<M>()
    }

    fn dispatch<'a>(self, actor: &'a mut A, ctx: &'a mut Context<A>, slot: &'a mut FutureSlot) -> HandlerFuture<'a> {
        slot.place(async move { outcome(actor.handle_info(self.0, ctx).await) })
    }
}

impl<A: HandleEvent<E>, E: Event> Dispatch<A> for EventMsg<E> {
    const KIND: MessageKind = MessageKind::Event;

    fn message_type() -> &'static str {
        type_name::<E>()
    }

    fn dispatch<'a>(self, actor: &'a mut A, ctx: &'a mut Context<A>, slot: &'a mut FutureSlot) -> HandlerFuture<'a> {
        slot.place(async move { outcome(actor.handle_event(self.0, ctx).await) })
    }
}

impl<A: HandleContinue<C>, C: Send + 'static> Dispatch<A> for ContinueMsg<C> {
    const KIND: MessageKind = MessageKind::Continue;

    fn message_type() -> &'static str {
        type_name::<C>()
    }

    fn dispatch<'a>(self, actor: &'a mut A, ctx: &'a mut Context<A>, slot: &'a mut FutureSlot) -> HandlerFuture<'a> {
        slot.place(async move { outcome(actor.handle_continue(self.0, ctx).await) })
    }
}

impl<A: HandleInfo<Down>> Dispatch<A> for DownMsg {
    const KIND: MessageKind = MessageKind::Info;

    fn message_type() -> &'static str {
        type_name::<Down>()
    }

    fn dispatch<'a>(self, actor: &'a mut A, ctx: &'a mut Context<A>, slot: &'a mut FutureSlot) -> HandlerFuture<'a> {
        slot.place(async move { outcome(actor.handle_info(self.0, ctx).await) })
    }
}

impl<A: Actor> Dispatch<A> for SignalMsg {
    const KIND: MessageKind = MessageKind::Signal;

    fn message_type() -> &'static str {
        "signal"
    }

    fn dispatch<'a>(self, actor: &'a mut A, ctx: &'a mut Context<A>, slot: &'a mut FutureSlot) -> HandlerFuture<'a> {
        match run::arrival(self.0, ctx) {
            Arrival::Handle(envelope) => envelope.dispatch(actor, ctx, slot),
            Arrival::Terminate(reason) => slot.place(async move { Outcome::Stop(reason) }),
            Arrival::Ignore => slot.place(async { Outcome::Continue }),
        }
    }
}
