//! Publishing options: another topic than the event type's, and everyone
//! but one actor (Phoenix.PubSub's `broadcast` and `broadcast_from`), on one
//! method pair instead of one method per combination.

use super::{PublishError, Registry};
use crate::addr::ActorId;
use crate::event::Event;
use crate::topic::Topic;

/// Where a publish goes and whom it skips, for
/// [`Registry::publish_with`] (and the same method on `System` and
/// `Context`). The default is a plain publish: `E::TOPIC`, every
/// subscriber.
///
/// ```
/// use treeline::registry::PublishOptions;
/// use treeline::topic::Topic;
/// use treeline::ActorId;
///
/// # fn sender() -> ActorId { ActorId::SYSTEM }
/// // To the subscribers of one account, but not to the actor that made the change.
/// let options = PublishOptions::new().topic(Topic::new("account.42").unwrap()).except(sender());
/// # let _ = options;
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PublishOptions {
    pub(crate) topic: Option<Topic>,
    pub(crate) except: Option<ActorId>,
}

impl PublishOptions {
    /// A plain publish: the event type's topic, every subscriber.
    pub fn new() -> Self {
        PublishOptions::default()
    }

    /// Publishes on `topic` instead of `E::TOPIC` (e.g. one topic per
    /// entity, `"account.42"`); the subscriptions to `E` whose pattern
    /// matches it get the event.
    pub fn topic(mut self, topic: Topic) -> Self {
        self.topic = Some(topic);
        self
    }

    /// Skips the actor `id` (Phoenix's `broadcast_from`: everyone but the
    /// sender).
    pub fn except(mut self, id: ActorId) -> Self {
        self.except = Some(id);
        self
    }
}

impl Registry {
    /// [`Registry::publish`] with options: another topic, everyone but one
    /// actor.
    pub async fn publish_with<E: Event>(&self, event: E, options: PublishOptions) -> Result<usize, PublishError> {
        let PublishOptions { topic, except } = options;
        match topic {
            Some(topic) => Ok(self.deliver(self.table::<E>(), &topic, except, event, true).await),
            None => match self.route::<E>()? {
                Some((table, topic)) => Ok(self.deliver(Some(table), &topic, except, event, true).await),
                None => Ok(self.unrouted()),
            },
        }
    }

    /// [`Registry::try_publish`] with options: never waits.
    pub fn try_publish_with<E: Event>(&self, event: E, options: PublishOptions) -> Result<usize, PublishError> {
        let PublishOptions { topic, except } = options;
        match topic {
            Some(topic) => Ok(self.deliver_now(self.table::<E>(), &topic, except, event)),
            None => match self.route::<E>()? {
                Some((table, topic)) => Ok(self.deliver_now(Some(table), &topic, except, event)),
                None => Ok(self.unrouted()),
            },
        }
    }
}
