//! Asynchronous requests (OTP's `gen_server:send_request/2`,
//! `wait_response/2` and request-id collections): send a call now, collect
//! its answer later, or many answers in the order they come.
//!
//! A Rust future does nothing until polled, so `call` cannot express "send
//! now, await later". [`ActorRef::send_request`](crate::ActorRef::send_request)
//! returns once the request is queued; the [`Request`] it gives back is the
//! answer to come.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use futures::stream::{FuturesUnordered, StreamExt};

use super::{ActorId, CallError};

/// A call that was sent and whose answer is still to come (OTP's request
/// id). Await it (or `&mut` it, to wait again after a timeout) for the
/// answer, with the same outcomes as [`ActorRef::call`](crate::ActorRef::call)
/// except that it never times out on its own.
///
/// ```
/// # use treeline::*;
/// # struct Echo;
/// # impl Actor for Echo {
/// #     type Args = ();
/// #     async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> { Ok(Echo) }
/// # }
/// # impl HandleCall<u32> for Echo {
/// #     type Reply = u32;
/// #     async fn handle_call(&mut self, n: u32, _: &mut Context<Self>) -> Reply<u32> { Reply::new(n * 2) }
/// # }
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// # let system = System::new();
/// # let echo = system.spawn::<Echo>(()).await.unwrap();
/// use std::time::Duration;
///
/// let mut request = echo.send_request(21).await.unwrap(); // queued: the actor works on it now
/// // ... other work ...
/// let answer = tokio::time::timeout(Duration::from_secs(5), &mut request).await;
/// assert_eq!(answer.unwrap(), Ok(42));
/// # }
/// ```
pub struct Request<R> {
    callee: ActorId,
    answer: Pin<Box<dyn Future<Output = Result<R, CallError>> + Send>>,
}

impl<R> Request<R> {
    pub(crate) fn new(callee: ActorId, answer: impl Future<Output = Result<R, CallError>> + Send + 'static) -> Self {
        Request { callee, answer: Box::pin(answer) }
    }

    /// The actor that was asked.
    pub fn callee(&self) -> ActorId {
        self.callee
    }
}

impl<R> Future for Request<R> {
    type Output = Result<R, CallError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        self.answer.as_mut().poll(cx)
    }
}

impl<R> fmt::Debug for Request<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request").field("callee", &self.callee).finish_non_exhaustive()
    }
}

/// Many requests in flight, each with a label, answered in the order the
/// answers come (OTP's request-id collection: `reqids_add/3` and
/// `wait_response/3`).
///
/// ```
/// # use treeline::*;
/// # struct Echo;
/// # impl Actor for Echo {
/// #     type Args = ();
/// #     async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> { Ok(Echo) }
/// # }
/// # impl HandleCall<u32> for Echo {
/// #     type Reply = u32;
/// #     async fn handle_call(&mut self, n: u32, _: &mut Context<Self>) -> Reply<u32> { Reply::new(n * 2) }
/// # }
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// # let system = System::new();
/// use treeline::addr::Requests;
///
/// let shards = [system.spawn::<Echo>(()).await.unwrap(), system.spawn::<Echo>(()).await.unwrap()];
/// let mut pending = Requests::new();
/// for (shard, actor) in shards.iter().enumerate() {
///     pending.add(shard, actor.send_request(shard as u32 + 1).await.unwrap());
/// }
/// let mut answers = Vec::new();
/// while let Some((shard, answer)) = pending.next().await {
///     answers.push((shard, answer.unwrap()));
/// }
/// answers.sort();
/// assert_eq!(answers, [(0, 2), (1, 4)]);
/// # }
/// ```
pub struct Requests<K, R> {
    pending: FuturesUnordered<Labeled<K, R>>,
}

impl<K, R> Default for Requests<K, R> {
    fn default() -> Self {
        Requests { pending: FuturesUnordered::new() }
    }
}

impl<K, R> fmt::Debug for Requests<K, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Requests").field("pending", &self.pending.len()).finish()
    }
}

impl<K, R> Requests<K, R> {
    /// An empty collection.
    pub fn new() -> Self {
        Requests::default()
    }

    /// Adds `request` under `label`.
    pub fn add(&mut self, label: K, request: Request<R>) {
        self.pending.push(Labeled { label: Some(label), request });
    }

    /// Requests not answered yet.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// True when every request was answered.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// The next answer to come, with its label; `None` once the collection
    /// is empty (OTP's `no_request`).
    pub async fn next(&mut self) -> Option<(K, Result<R, CallError>)> {
        self.pending.next().await
    }
}

/// A request and its label, resolving to both.
struct Labeled<K, R> {
    label: Option<K>,
    request: Request<R>,
}

impl<K, R> Unpin for Labeled<K, R> {}

impl<K, R> Future for Labeled<K, R> {
    type Output = (K, Result<R, CallError>);

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let answer = std::task::ready!(Pin::new(&mut self.request).poll(cx));
        Poll::Ready((self.label.take().expect("polled after completion"), answer))
    }
}
