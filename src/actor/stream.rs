//! Feeding a `Stream` into an actor: each item becomes a message for
//! `HandleInfo<Item>`, in order, and the end a [`StreamEnded`].
//!
//! A small task per stream pulls the next item only once the previous one
//! is in the mailbox, so a bounded mailbox with `Overflow::Wait` gives the
//! stream backpressure (an unbounded one takes items as fast as they come).
//! Like a timer, the task holds a weak reference to the actor and is
//! aborted when the actor dies, so a stream never outlives its actor.

use std::fmt;
use std::sync::Weak;

use futures::{Stream, StreamExt};

use super::dispatch::InfoMsg;
use super::timer::TimerRef;
use super::HandleInfo;
use crate::cell::{ActorCell, Offered};

/// Identifies a stream fed to an actor, in its [`StreamEnded`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId(u64);

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#Stream<{}>", self.0)
    }
}

/// A stream fed to an actor ran out: every item was delivered before this
/// (handled by `HandleInfo<StreamEnded>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamEnded {
    /// The stream that ended.
    pub stream: StreamId,
}

/// A stream being fed to an actor, from
/// [`Context::add_stream`](crate::Context::add_stream).
#[derive(Clone)]
pub struct StreamRef {
    id: StreamId,
    task: TimerRef,
}

impl StreamRef {
    /// The stream's id, as its [`StreamEnded`] will carry it.
    pub fn id(&self) -> StreamId {
        self.id
    }

    /// Stops feeding the stream (and drops it): no more items, and no
    /// [`StreamEnded`]. Items already in the mailbox stay there. True if it
    /// was still being fed.
    pub fn cancel(&self) -> bool {
        let active = self.is_active();
        self.task.cancel();
        active
    }

    /// The task, to be aborted with the actor.
    pub(crate) fn task(&self) -> TimerRef {
        self.task.clone()
    }

    /// True while items may still come.
    pub fn is_active(&self) -> bool {
        self.task.is_active()
    }
}

impl fmt::Debug for StreamRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamRef").field("id", &self.id).field("active", &self.is_active()).finish()
    }
}

pub(crate) fn feed<A, S>(target: Weak<ActorCell<A>>, id: u64, stream: S) -> StreamRef
where
    S: Stream + Send + 'static,
    S::Item: Send + 'static,
    A: HandleInfo<S::Item> + HandleInfo<StreamEnded>,
{
    let id = StreamId(id);
    let task = tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(item) = stream.next().await {
            let Some(cell) = target.upgrade() else { return };
            if let Offered::Closed(_) = cell.offer(InfoMsg(item)).await {
                return;
            }
        }
        if let Some(cell) = target.upgrade() {
            let _ = cell.offer(InfoMsg(StreamEnded { stream: id })).await;
        }
    });
    StreamRef { id, task: TimerRef::for_task(task.abort_handle()) }
}
