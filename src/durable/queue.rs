//! [`DurableQueue`], the sending side of a durable mailbox, and [`Consume`],
//! how an actor takes its messages.

use crate::durable::records::QueueId;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use super::codec::Durable;
use super::error::DurableError;
use super::store::{QueueStats, Store};

/// A durable queue: messages of type `M` persisted in the System's journal
/// under a stable name, and delivered in order to the one actor consuming
/// it, at least once.
///
/// Get one with [`System::durable_queue`](crate::System::durable_queue);
/// clones are handles to the same queue. An actor consumes it with
/// [`Context::consume`](crate::Context::consume) (or
/// [`ChildSpec::consume`](crate::ChildSpec::consume), so every restart
/// consumes it again) and handles its messages with
/// [`HandleCast<M>`](crate::HandleCast), where
/// [`Context::delivery`](crate::Context::delivery) tells the sequence
/// number and the attempt.
///
/// Unlike an actor's mailbox, the queue outlives its consumer: messages sent
/// while the consumer is dead, restarting, or the program is down wait in
/// the journal.
///
/// # Example
///
/// ```
/// use treeline::{Actor, Context, ExitReason, HandleCast, InitError, System};
/// use treeline::durable::JournalConfig;
/// use treeline::journal::MemStorage;
/// use treeline::durable::DurableQueue;
///
/// struct Ledger { total: u64 }
///
/// impl Actor for Ledger {
///     type Args = DurableQueue<u64>;
///     async fn init(queue: DurableQueue<u64>, ctx: &mut Context<Self>) -> Result<Self, InitError> {
///         ctx.consume(&queue).map_err(|e| InitError::Stop(ExitReason::error(e)))?;
///         Ok(Ledger { total: 0 })
///     }
/// }
///
/// impl HandleCast<u64> for Ledger {
///     async fn handle_cast(&mut self, amount: u64, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
///         let delivery = ctx.delivery().expect("a durable message");
///         println!("#{} (attempt {}): +{amount}", delivery.seq, delivery.attempt);
///         self.total += amount;
///         Ok(()) // returning acks it
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let system = System::with_journal(JournalConfig::storage(MemStorage::new())).unwrap();
/// let payments = system.durable_queue::<u64>("payments").await.unwrap();
/// let seq = payments.cast(250).await.unwrap(); // persisted when this returns
/// assert_eq!(seq, 1);
/// system.spawn::<Ledger>(payments.clone()).await.unwrap();
/// # }
/// ```
pub struct DurableQueue<M> {
    pub(crate) store: Arc<Store>,
    pub(crate) id: QueueId,
    name: Arc<str>,
    message: PhantomData<fn(M) -> M>,
}

impl<M> Clone for DurableQueue<M> {
    fn clone(&self) -> Self {
        DurableQueue { store: self.store.clone(), id: self.id, name: self.name.clone(), message: PhantomData }
    }
}

impl<M> fmt::Debug for DurableQueue<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DurableQueue").field("name", &self.name).finish()
    }
}

impl<M: Durable> DurableQueue<M> {
    pub(crate) fn new(store: Arc<Store>, id: QueueId, name: &str) -> Self {
        DurableQueue { store, id, name: name.into(), message: PhantomData }
    }

    /// Persists `msg` for the queue's consumer, which handles it in
    /// [`HandleCast`](crate::HandleCast) (a durable cast: the same handler
    /// as [`ActorRef::cast`](crate::ActorRef::cast)), and returns its
    /// sequence number once the journal
    /// confirms it: under [`FsyncPolicy::Always`](crate::journal::FsyncPolicy) (the
    /// default) it is then on disk, and survives a crash of the process or
    /// of the machine. Sends from one task are delivered in the order they
    /// were sent.
    ///
    /// A message that does not encode is refused with
    /// [`DurableError::Codec`] and nothing is written; a journal that
    /// fails gives [`DurableError::Journal`].
    pub async fn cast(&self, msg: M) -> Result<u64, DurableError> {
        self.persist(msg, None).await
    }

    /// [`cast`](Self::cast) under a message id the producer chose (an
    /// idempotent producer: JetStream's `Nats-Msg-Id`). Within the
    /// journal's dedupe window ([`JournalConfig::dedupe_window`], 2
    /// minutes by default) a repeated id stores nothing and returns the
    /// first copy's sequence number, once that copy is confirmed, also
    /// after a crash and a restart. So a producer that lost a confirm
    /// (an error, a timeout, a crash of its own) retries with the same id
    /// and the consumer gets the message once. An id is 1 to 255 bytes
    /// ([`DurableError::InvalidMessageId`]).
    ///
    /// ```
    /// # use treeline::System;
    /// # use treeline::durable::JournalConfig;
    /// # use treeline::journal::MemStorage;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let system = System::with_journal(JournalConfig::storage(MemStorage::new())).unwrap();
    /// let charges = system.durable_queue::<u64>("charges").await.unwrap();
    /// let first = charges.cast_with_id("order-7", 1_500).await.unwrap();
    /// // The confirm was lost; the producer sends again:
    /// assert_eq!(charges.cast_with_id("order-7", 1_500).await.unwrap(), first);
    /// assert_eq!(charges.stats().pending, 1);
    /// # }
    /// ```
    ///
    /// [`JournalConfig::dedupe_window`]: crate::durable::JournalConfig::dedupe_window
    pub async fn cast_with_id(&self, id: &str, msg: M) -> Result<u64, DurableError> {
        super::error::check_message_id(id)?;
        self.persist(msg, Some(id)).await
    }

    async fn persist(&self, msg: M, msg_id: Option<&str>) -> Result<u64, DurableError> {
        let bytes = crate::durable::encode_message(&msg).map_err(DurableError::Codec)?;
        match self.store.enqueue(self.id, bytes, msg_id).await {
            Ok(Ok(seq)) => Ok(seq.get()),
            Ok(Err(error)) => Err(error.into()),
            Err(_) => Err(DurableError::Closed),
        }
    }

    /// The queue's durable name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its counters.
    pub fn stats(&self) -> QueueStats {
        self.store.stats(self.id)
    }

    /// Waits until no message is left to handle: every one acked or
    /// dead-lettered (their acks may still be on their way to disk). Returns
    /// [`DurableError::Closed`] if the System shuts down first. It waits as
    /// long as it takes: bound it with `tokio::time::timeout` when the
    /// consumer may be missing.
    ///
    /// ```
    /// # use treeline::{Actor, Context, ExitReason, HandleCast, InitError, System};
    /// # use treeline::durable::{DurableQueue, JournalConfig};
    /// # use treeline::journal::MemStorage;
    /// # struct Ledger;
    /// # impl Actor for Ledger {
    /// #     type Args = DurableQueue<u64>;
    /// #     async fn init(queue: DurableQueue<u64>, ctx: &mut Context<Self>) -> Result<Self, InitError> {
    /// #         ctx.consume(&queue).map_err(|e| InitError::Stop(ExitReason::error(e)))?;
    /// #         Ok(Ledger)
    /// #     }
    /// # }
    /// # impl HandleCast<u64> for Ledger {
    /// #     async fn handle_cast(&mut self, _: u64, _: &mut Context<Self>) -> Result<(), ExitReason> { Ok(()) }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let system = System::with_journal(JournalConfig::storage(MemStorage::new())).unwrap();
    /// let payments = system.durable_queue::<u64>("payments").await.unwrap();
    /// for amount in [250, 100, 75] {
    ///     payments.cast(amount).await.unwrap();
    /// }
    /// system.spawn::<Ledger>(payments.clone()).await.unwrap();
    /// payments.drained().await.unwrap(); // instead of polling stats() in a sleep loop
    /// assert_eq!(payments.stats().acked, 3);
    /// # }
    /// ```
    pub async fn drained(&self) -> Result<(), DurableError> {
        self.store.drained(self.id).await
    }
}

/// How an actor consumes a durable queue: its in-flight window and the
/// delivery limit.
///
/// ```
/// use treeline::durable::Consume;
///
/// let consume = Consume::new().window(10).delivery_limit(3);
/// assert_ne!(consume, Consume::new());
/// assert_eq!(Consume::DEFAULT_DELIVERY_LIMIT, 10);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Consume {
    pub(crate) window: u32,
    pub(crate) limit: u32,
}

impl Default for Consume {
    fn default() -> Self {
        Consume { window: 1, limit: Consume::DEFAULT_DELIVERY_LIMIT }
    }
}

impl Consume {
    /// The delivery limit of [`Consume::new`].
    pub const DEFAULT_DELIVERY_LIMIT: u32 = 10;

    /// Window 1 (strict order: the next message is handed over only after
    /// the previous one was acked), delivery limit 10.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many messages may be delivered and not yet acked at once (at
    /// least 1). With more than one, the messages behind the first are
    /// already in the actor's mailbox: if it dies they all come back flagged
    /// redelivered, as RabbitMQ's prefetch.
    pub fn window(mut self, window: u32) -> Self {
        self.window = window.max(1);
        self
    }

    /// How many deliveries a message gets before it is dead-lettered (at
    /// least 1): the poison-message guard.
    pub fn delivery_limit(mut self, limit: u32) -> Self {
        self.limit = limit.max(1);
        self
    }
}
