//! Durable mailboxes: messages persisted in an embedded journal, delivered
//! at least once, in order, to the actor consuming their queue, across
//! actor restarts and process restarts.
//!
//! * [`JournalConfig`] says where the journal lives (a directory, or any
//!   [`Storage`](crate::journal::Storage)) and when it syncs ([`FsyncPolicy`](crate::journal::FsyncPolicy));
//!   [`System::with_journal`](crate::System::with_journal) opens it.
//! * [`DurableQueue<M>`] (from [`System::durable_queue`](crate::System::durable_queue))
//!   is a named queue of `M: Durable`; [`DurableQueue::cast`] returns once
//!   the message is persisted.
//! * An actor consumes a queue with [`Context::consume`](crate::Context::consume)
//!   or [`ChildSpec::consume`](crate::ChildSpec::consume) and handles its
//!   messages with `HandleCast<M>`. Returning acks the message; a panic or
//!   an abnormal stop does not, and the message is redelivered to the next
//!   consumer (the restarted actor) with [`Delivery::attempt`] and
//!   [`Delivery::redelivered`] telling so. After the delivery limit it is
//!   dead-lettered ([`DurableDeadLetter`]).
//!
//! The exact guarantees are in `docs/semantics.md` ("Durable mailboxes").

mod codec;
mod config;
mod delivery;
mod error;
#[cfg(feature = "serde")]
pub mod json;
mod queue;
pub(crate) mod records;
mod slots;
pub(crate) mod store;
mod topic;

pub(crate) use codec::encode_message;
pub use codec::{fields, upcast, CodecError, CodecErrorKind, Durable};
pub use config::JournalConfig;
pub(crate) use delivery::{ActorSink, Detach, ViaCast, ViaEvent};
pub use delivery::{Delivery, DurableDeadLetter, DurableDeadLetterReason};
pub(crate) use error::check_message_id;
pub use error::DurableError;
#[cfg(feature = "serde")]
pub use json::Json;
pub use queue::{Consume, DurableQueue};
pub use store::{JournalStats, QueueStats};
pub use topic::{DurableSubscription, Published, Retention, StartFrom};

use std::marker::PhantomData;
use std::sync::Arc;

use crate::actor::{HandleCast, HandleEvent};
use crate::cell::{ActorCell, Process};
use crate::event::Event;
use crate::registry::Registration;
use records::QueueId;

/// Makes the actor of `cell` the consumer of `queue`; its teardown detaches
/// it (and gives back what it held).
pub(crate) fn attach<A: HandleCast<M>, M: Durable>(
    cell: &Arc<ActorCell<A>>,
    queue: &DurableQueue<M>,
    settings: Consume,
) -> Result<(), DurableError> {
    let sink = Box::new(ActorSink::<A, M, ViaCast> { cell: cell.clone(), route: PhantomData });
    attach_sink(cell, &queue.store, queue.id, sink, settings)
}

/// [`attach`] for a durable subscription (events go to `HandleEvent<E>`).
pub(crate) fn attach_events<A: HandleEvent<E>, E: Event + Durable>(
    cell: &Arc<ActorCell<A>>,
    subscription: &DurableSubscription<E>,
    settings: Consume,
) -> Result<(), DurableError> {
    let sink = Box::new(ActorSink::<A, E, ViaEvent> { cell: cell.clone(), route: PhantomData });
    attach_sink(cell, &subscription.store, subscription.id, sink, settings)
}

fn attach_sink<A: crate::actor::Actor>(
    cell: &Arc<ActorCell<A>>,
    store: &Arc<store::Store>,
    id: QueueId,
    sink: Box<dyn store::Sink>,
    settings: Consume,
) -> Result<(), DurableError> {
    let epoch = store.attach(id, sink, settings.window, settings.limit)?;
    let detach = Detach { store: store.clone(), queue: id, epoch };
    if let Err(registration) = cell.holdings.record(Registration::Hook(Arc::new(detach))) {
        // Dead already: detach now, with the reason it died of.
        if let Registration::Hook(hook) = registration {
            let reason = cell.exit_reason().unwrap_or(crate::exit::ExitReason::Normal);
            hook.release(&reason);
        }
        return Err(DurableError::NoProc);
    }
    Ok(())
}
