//! The subscriptions of one event type: exact topics and wildcard patterns,
//! as copy-on-write lists.
//!
//! A publish clones one `Arc` per list it reads (no lock is held while it
//! delivers), then offers the event to each subscriber: one clone of the
//! event per subscriber. Subscribing and unsubscribing copy the list they
//! change; they are rare next to publishes.

use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use parking_lot::RwLock;

use super::Meta;
use crate::actor::dispatch::EventMsg;
use crate::actor::HandleEvent;
use crate::addr::{ActorId, Pid};
use crate::cell::{ActorCell, Offered};
use crate::dead_letter::DeadLetterReason;
use crate::event::Event;
use crate::mailbox::MessageKind;
use crate::topic::{Pattern, Topic, TopicError};

const SHARDS: usize = 16;

/// What a subscriber does with an offered event.
pub(crate) enum Offer<E> {
    /// Queued in its mailbox.
    Queued,
    /// Dropped: shed by its policy, or it is dead (a dead letter either way).
    Dropped,
    /// Its `Wait` mailbox is full: the publisher may wait.
    MustWait(E),
}

pub(crate) type WaitFuture<'a> = Pin<Box<dyn Future<Output = bool> + Send + 'a>>;

/// An actor that receives events of type `E`.
pub(crate) trait EventSink<E: Event>: Send + Sync {
    fn offer_event(&self, event: E) -> Offer<E>;
    /// Waits for room; true if queued.
    fn offer_event_waiting(&self, event: E) -> WaitFuture<'_>;
    /// The publisher gave up waiting: count the event as shed.
    fn shed_event(&self);
}

impl<A: HandleEvent<E>, E: Event> EventSink<E> for ActorCell<A> {
    fn offer_event(&self, event: E) -> Offer<E> {
        match self.offer_now(EventMsg(event)) {
            Ok(Offered::Queued) => Offer::Queued,
            Ok(Offered::Shed) => Offer::Dropped,
            // `Reject`: a publisher cannot take the event back per subscriber.
            Ok(Offered::Full(_)) => {
                self.dead_letter(std::any::type_name::<E>(), MessageKind::Event, DeadLetterReason::MailboxFull);
                Offer::Dropped
            }
            Ok(Offered::Closed(_)) => {
                self.dead_letter(std::any::type_name::<E>(), MessageKind::Event, DeadLetterReason::ActorStopped);
                Offer::Dropped
            }
            Err(EventMsg(event)) => Offer::MustWait(event),
        }
    }

    fn offer_event_waiting(&self, event: E) -> WaitFuture<'_> {
        Box::pin(async move {
            match self.offer(EventMsg(event)).await {
                Offered::Queued => true,
                Offered::Shed => false,
                Offered::Full(_) | Offered::Closed(_) => {
                    self.dead_letter(std::any::type_name::<E>(), MessageKind::Event, DeadLetterReason::ActorStopped);
                    false
                }
            }
        })
    }

    fn shed_event(&self) {
        self.dead_letter(std::any::type_name::<E>(), MessageKind::Event, DeadLetterReason::MailboxFull);
    }
}

/// One subscription.
pub(crate) struct Sub<E: Event> {
    pub(crate) id: ActorId,
    pub(crate) pid: Pid,
    pub(crate) sink: Arc<dyn EventSink<E>>,
    pub(crate) meta: Option<Meta>,
}

impl<E: Event> Clone for Sub<E> {
    fn clone(&self) -> Self {
        Sub { id: self.id, pid: self.pid.clone(), sink: self.sink.clone(), meta: self.meta.clone() }
    }
}

type List<T> = Arc<[T]>;
type Shard<E> = RwLock<HashMap<Topic, List<Sub<E>>>>;

/// The subscriptions of event type `E`.
pub(crate) struct TopicTable<E: Event> {
    exact: Box<[Shard<E>]>,
    patterns: RwLock<List<(Pattern, Sub<E>)>>,
    count: AtomicUsize,
    /// `E::TOPIC`, validated once.
    topic: OnceLock<Result<Topic, TopicError>>,
}

impl<E: Event> TopicTable<E> {
    pub(crate) fn new() -> Self {
        TopicTable {
            exact: (0..SHARDS).map(|_| RwLock::new(HashMap::new())).collect(),
            patterns: RwLock::new(Arc::from(Vec::new())),
            count: AtomicUsize::new(0),
            topic: OnceLock::new(),
        }
    }

    /// `E::TOPIC` as a validated topic.
    pub(crate) fn topic(&self) -> Result<Topic, TopicError> {
        self.topic.get_or_init(|| Topic::new(E::TOPIC)).clone()
    }

    fn shard(&self, topic: &Topic) -> &Shard<E> {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        topic.hash(&mut hasher);
        &self.exact[(hasher.finish() as usize) % SHARDS]
    }

    pub(crate) fn add(&self, pattern: Pattern, sub: Sub<E>) {
        if pattern.has_wildcards() {
            let mut patterns = self.patterns.write();
            let mut list = patterns.to_vec();
            list.push((pattern, sub));
            *patterns = Arc::from(list);
        } else {
            let topic = Topic::from_pattern(&pattern);
            let mut shard = self.shard(&topic).write();
            let mut list = shard.get(&topic).map(|list| list.to_vec()).unwrap_or_default();
            list.push(sub);
            shard.insert(topic, Arc::from(list));
        }
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Removes every subscription of `id` under `pattern`; returns how many.
    pub(crate) fn remove(&self, pattern: &Pattern, id: ActorId) -> usize {
        let removed = if pattern.has_wildcards() {
            let mut patterns = self.patterns.write();
            let before = patterns.len();
            let list: Vec<_> = patterns.iter().filter(|(p, sub)| !(p == pattern && sub.id == id)).cloned().collect();
            let removed = before - list.len();
            if removed > 0 {
                *patterns = Arc::from(list);
            }
            removed
        } else {
            let topic = Topic::from_pattern(pattern);
            let mut shard = self.shard(&topic).write();
            let Some(current) = shard.get(&topic) else { return 0 };
            let list: Vec<_> = current.iter().filter(|sub| sub.id != id).cloned().collect();
            let removed = current.len() - list.len();
            if list.is_empty() {
                shard.remove(&topic);
            } else if removed > 0 {
                shard.insert(topic, Arc::from(list));
            }
            removed
        };
        self.count.fetch_sub(removed, Ordering::Relaxed);
        removed
    }

    /// The subscriptions a publish on `topic` reaches: exact ones, then
    /// matching patterns, in subscription order within each.
    pub(crate) fn routes(&self, topic: &Topic) -> Routes<E> {
        let exact = self.shard(topic).read().get(topic).cloned();
        let patterns = self.patterns.read().clone();
        Routes { exact, patterns, topic: topic.clone() }
    }

    pub(crate) fn len(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }
}

/// A snapshot of the subscriptions a publish reaches.
pub(crate) struct Routes<E: Event> {
    exact: Option<List<Sub<E>>>,
    patterns: List<(Pattern, Sub<E>)>,
    topic: Topic,
}

impl<E: Event> Routes<E> {
    pub(crate) fn iter(&self) -> impl Iterator<Item = (Option<&Pattern>, &Sub<E>)> {
        let exact = self.exact.iter().flat_map(|list| list.iter()).map(|sub| (None, sub));
        let matching =
            self.patterns.iter().filter(|(pattern, _)| pattern.matches(&self.topic)).map(|(p, sub)| (Some(p), sub));
        exact.chain(matching)
    }
}

/// A topic table with its event type erased (what registrations hold to be
/// released at the subscriber's death).
pub(crate) trait ErasedTable: Send + Sync + 'static {
    fn remove(&self, pattern: &Pattern, id: ActorId) -> usize;
    fn len(&self) -> usize;
    fn event_type(&self) -> &'static str;
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync>;
}

impl<E: Event> ErasedTable for TopicTable<E> {
    fn remove(&self, pattern: &Pattern, id: ActorId) -> usize {
        TopicTable::remove(self, pattern, id)
    }

    fn len(&self) -> usize {
        TopicTable::len(self)
    }

    fn event_type(&self) -> &'static str {
        std::any::type_name::<E>()
    }

    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
}
