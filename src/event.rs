//! Domain events: the messages that travel on topics.
//!
//! An event type names its topic, so publishing needs no topic string. An
//! actor receives events in [`HandleEvent::handle_event`], one impl per event
//! type it subscribes to.
//!
//! [`HandleEvent::handle_event`]: crate::HandleEvent::handle_event

/// A domain event: a plain, cloneable value with a topic.
///
/// ```
/// use treeline::Event;
///
/// #[derive(Clone, Debug)]
/// struct OrderPlaced { order: u64, cents: u64 }
///
/// impl Event for OrderPlaced {
///     const TOPIC: &'static str = "orders.placed";
/// }
/// assert_eq!(OrderPlaced::TOPIC, "orders.placed");
/// ```
pub trait Event: Clone + Send + 'static {
    /// The topic this event is published on.
    const TOPIC: &'static str;
}
