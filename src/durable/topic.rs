//! Durable topic subscriptions: a named subscriber to a topic pattern that
//! gets every event published durably after it was created, even while it
//! was dead, restarting, or the program was down; and event logs, the
//! retained history of an event type that a new subscription can replay.

use crate::durable::records::QueueId;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use super::codec::Durable;
use super::error::DurableError;
use super::store::{QueueStats, Store};

/// How far a durable publish reached: the durable subscriptions that
/// persisted it, and the plain subscribers it was queued for (at most
/// once, after it was persisted).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Published {
    /// Durable subscriptions that persisted the event.
    pub durable: usize,
    /// Plain subscribers it was queued for.
    pub plain: usize,
}

/// Where a new durable subscription starts. It applies only when the
/// subscription is created; reopened later, a subscription resumes after
/// the last event it acked (commanded's `start_from`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StartFrom {
    /// Only events published from now on.
    #[default]
    New,
    /// Every event the type's [event log](crate::System::event_log) still
    /// retains, then everything new: event-sourcing catch-up.
    Origin,
    /// The retained events from this log sequence number on, then
    /// everything new.
    Seq(u64),
}

/// How many events an [event log](crate::System::event_log) keeps for
/// replay. There is no time-based retention: the log is trimmed as it is
/// published to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retention {
    /// The last `n` events (at least 1).
    KeepLast(u64),
    /// Every event, for ever (the disk grows without bound).
    KeepAll,
}

impl Retention {
    pub(crate) fn keep(self) -> u64 {
        match self {
            Retention::KeepLast(n) => n.max(1),
            Retention::KeepAll => u64::MAX,
        }
    }
}

/// A durable subscription to events of type `E` on a topic pattern: a
/// persisted queue that [`System::publish_durable`](crate::System::publish_durable)
/// fills with every matching event, consumed by one actor at a time with
/// [`Context::consume_events`](crate::Context::consume_events) (or
/// [`ChildSpec::consume_events`](crate::ChildSpec::consume_events)) and
/// handled with [`HandleEvent<E>`](crate::HandleEvent), at least once, in
/// publish order, with [`Context::delivery`](crate::Context::delivery).
///
/// Plain subscribers of the same topic (registry subscriptions) get the
/// same events at most once, as with any publish.
///
/// # Example
///
/// ```
/// use treeline::{Actor, Context, Durable, Event, ExitReason, HandleEvent, InitError, System};
/// use treeline::durable::{CodecError, JournalConfig, StartFrom};
/// use treeline::journal::MemStorage;
///
/// #[derive(Clone)]
/// struct OrderPlaced(u64);
/// impl Event for OrderPlaced {
///     const TOPIC: &'static str = "orders.placed";
/// }
/// impl Durable for OrderPlaced {
///     const TAG: &'static str = "OrderPlaced";
///     fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> { self.0.encode(out) }
///     fn decode(bytes: &[u8]) -> Result<Self, CodecError> { u64::decode(bytes).map(OrderPlaced) }
/// }
///
/// struct Billing;
/// impl Actor for Billing {
///     type Args = treeline::durable::DurableSubscription<OrderPlaced>;
///     async fn init(sub: Self::Args, ctx: &mut Context<Self>) -> Result<Self, InitError> {
///         ctx.consume_events(&sub).map_err(|e| InitError::Stop(ExitReason::error(e)))?;
///         Ok(Billing)
///     }
/// }
/// impl HandleEvent<OrderPlaced> for Billing {
///     async fn handle_event(&mut self, order: OrderPlaced, _: &mut Context<Self>) -> Result<(), ExitReason> {
///         println!("charging order {}", order.0);
///         Ok(()) // acks it
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let system = System::with_journal(JournalConfig::storage(MemStorage::new())).unwrap();
/// let billing = system.durable_subscription::<OrderPlaced>("billing", StartFrom::New).await.unwrap();
/// // Persisted for the subscription before this returns, even with no consumer yet.
/// system.publish_durable(OrderPlaced(7)).await.unwrap();
/// system.spawn::<Billing>(billing).await.unwrap();
/// # }
/// ```
pub struct DurableSubscription<E> {
    pub(crate) store: Arc<Store>,
    pub(crate) id: QueueId,
    name: Arc<str>,
    event: PhantomData<fn(E) -> E>,
}

impl<E> Clone for DurableSubscription<E> {
    fn clone(&self) -> Self {
        DurableSubscription { store: self.store.clone(), id: self.id, name: self.name.clone(), event: PhantomData }
    }
}

impl<E> fmt::Debug for DurableSubscription<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DurableSubscription").field("name", &self.name).finish()
    }
}

impl<E: Durable> DurableSubscription<E> {
    pub(crate) fn new(store: Arc<Store>, id: QueueId, name: &str) -> Self {
        DurableSubscription { store, id, name: name.into(), event: PhantomData }
    }

    /// The subscription's durable name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its counters.
    pub fn stats(&self) -> QueueStats {
        self.store.stats(self.id)
    }

    /// Waits until no event is left to handle (see
    /// [`DurableQueue::drained`](crate::durable::DurableQueue::drained)).
    pub async fn drained(&self) -> Result<(), DurableError> {
        self.store.drained(self.id).await
    }
}
