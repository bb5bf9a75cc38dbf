#![doc = include_str!("../README.md")]
#![doc(test(attr(deny(warnings), allow(dead_code))))]

pub mod actor;
pub mod addr;
mod cell;
pub mod dead_letter;
pub mod durable;
mod event;
pub mod exit;
pub mod introspect;
pub mod journal;
pub mod mailbox;
#[cfg(feature = "metrics")]
pub mod metrics;
pub mod prelude;
pub mod registry;
pub mod signal;
pub mod supervisor;
mod sync;
mod system;
#[cfg(feature = "test-util")]
pub mod test_util;
pub mod topic;

// The names an actor author uses daily; everything else is in its module.
pub use actor::{Actor, Context, HandleCall, HandleCast, HandleContinue, HandleEvent, HandleInfo, InitError, Reply};
pub use actor::{ReplyTo, SpawnOptions};
pub use addr::{ActorId, ActorRef, CallError, Pid, SendError};
pub use durable::Durable;
pub use event::Event;
pub use exit::ExitReason;
pub use registry::Name;
pub use supervisor::{ChildSpec, Supervisor};
pub use system::{RunOutcome, System, Via};
/// Writes an actor's handlers as plain methods: on the actor's impl block,
/// `#[call]`, `#[cast]`, `#[event]`, `#[info]` and `#[continuation]` methods
/// become `HandleCall`, `HandleCast`, `HandleEvent`, `HandleInfo` and
/// `HandleContinue` impls (`continue` is a keyword, hence the longer
/// marker), and a generated trait `<Actor>Api` gives the handle one typed
/// method per call and cast. An `#[info]`, `#[event]` or `#[continuation]`
/// method takes the message itself.
///
/// Trapping exits is `ctx.trap_exit(true)` in `init` and a handler for
/// [`signal::Exit`]: an `#[info]` method taking it, or, for an actor that
/// traps only so that `terminate` runs (a graceful shutdown),
/// `#[actor(trap_exit)]`, which generates the handler: it ignores a link's
/// `Normal` exit and stops with any other reason, as a non-trapping actor
/// would, `terminate` included ([`signal::Exit::propagate`]).
///
/// ```
/// use treeline::{actor, Actor, Context, ExitReason, InitError};
///
/// struct Writer { buffered: Vec<u8> }
///
/// impl Actor for Writer {
///     type Args = ();
///     async fn init(_: (), ctx: &mut Context<Self>) -> Result<Self, InitError> {
///         ctx.trap_exit(true);
///         Ok(Writer { buffered: Vec::new() })
///     }
///     async fn terminate(&mut self, _: &ExitReason, _: &mut Context<Self>) {
///         // runs on a supervisor's shutdown and when a link dies
///         self.buffered.clear();
///     }
/// }
///
/// #[actor(trap_exit)]
/// impl Writer {
///     #[cast]
///     async fn write(&mut self, bytes: Vec<u8>) {
///         self.buffered.extend(bytes);
///     }
/// }
/// ```
///
/// The generated message structs and the `<Actor>Api` trait are `pub`;
/// `#[actor(vis = "pub(crate)")]` gives them another visibility (a macro on
/// an impl block cannot see the actor type's own).
///
/// It generates exactly the hand-written form: one message struct per call
/// or cast (`<Actor><Method>`, the arguments as fields) and a handler impl
/// whose future awaits the method. A method may take `ctx: &mut
/// Context<Self>` last; casts and events return nothing or
/// `Result<(), ExitReason>`.
///
/// ```
/// use treeline::{actor, Actor, Context, Event, InitError, System};
///
/// #[derive(Clone, Event)]
/// #[event(topic = "orders.placed")]
/// struct OrderPlaced { cents: u64 }
///
/// struct Account { balance: u64 }
///
/// impl Actor for Account {
///     type Args = u64;
///     async fn init(balance: u64, _: &mut Context<Self>) -> Result<Self, InitError> {
///         Ok(Account { balance })
///     }
/// }
///
/// #[actor]
/// impl Account {
///     #[call]
///     async fn balance(&mut self) -> u64 {
///         self.balance
///     }
///
///     #[cast]
///     async fn deposit(&mut self, amount: u64) {
///         self.balance += amount;
///     }
///
///     #[event]
///     async fn on_order(&mut self, order: OrderPlaced) {
///         self.balance -= order.cents;
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let system = System::new();
/// let account = system.spawn::<Account>(100).await.unwrap();
/// account.deposit(5).await.unwrap(); // AccountApi, generated
/// account.notify(OrderPlaced { cents: 30 }).await.unwrap();
/// assert_eq!(account.balance().await.unwrap(), 75);
/// # }
/// ```
#[cfg(feature = "macros")]
pub use treeline_macros::actor;
/// Derives [`Durable`](trait@Durable) for a struct or an enum whose fields
/// are all `Durable`: a struct's fields in order, each as its `u32` length
/// and its encoding; an enum's variant name, then its fields. A field whose
/// type is not `Durable` is reported at that field.
///
/// Options of `#[durable(...)]`: `tag = "..."` (required: the type's stable
/// name on disk), `version = N` and `from = PreviousShape` (schema
/// evolution: older versions are read through `From<PreviousShape>`, see
/// [`durable::upcast`]), `serde` (store the type as JSON through its
/// serde impls; feature `serde`), `crate = "path"`. Type parameters must be
/// `Durable` themselves. The byte layouts are in `docs/journal-format.md`.
///
/// ```
/// use treeline::Durable;
///
/// #[derive(Debug, PartialEq, Durable)]
/// #[durable(tag = "billing.Charge")]
/// struct Charge {
///     order: u64,
///     cents: u64,
///     note: String,
///     method: Method,
/// }
///
/// #[derive(Debug, PartialEq, Durable)]
/// #[durable(tag = "billing.Method")]
/// enum Method {
///     Card { last4: u16 },
///     Invoice(Option<String>),
/// }
///
/// let charge = Charge { order: 7, cents: 250, note: "gift wrap".into(), method: Method::Card { last4: 4242 } };
/// let mut bytes = Vec::new();
/// charge.encode(&mut bytes).unwrap();
/// assert_eq!(Charge::decode(&bytes).unwrap(), charge);
/// let error = Charge::decode(&bytes[..14]).unwrap_err();
/// assert_eq!(error.why(), "field `cents` is cut short");
/// ```
#[cfg(feature = "macros")]
pub use treeline_macros::Durable;
/// Derives [`Event`](trait@Event) with `#[event(topic = "...")]`, the topic
/// checked at compile time.
///
/// ```
/// use treeline::Event;
///
/// #[derive(Clone, Event)]
/// #[event(topic = "orders.placed")]
/// struct OrderPlaced {
///     id: u64,
/// }
///
/// assert_eq!(OrderPlaced::TOPIC, "orders.placed");
/// # let _ = OrderPlaced { id: 1 }.id;
/// ```
///
/// A malformed topic is a compile error pointing at it:
///
/// ```compile_fail
/// #[derive(Clone, treeline::Event)]
/// #[event(topic = "orders.*")] // wildcards are for subscription patterns
/// struct OrderPlaced;
/// ```
///
/// `#[event(crate = "path")]` names where treeline is, for crates that
/// re-export it.
#[cfg(feature = "macros")]
pub use treeline_macros::Event;

/// What generated code refers to; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use crate::actor::{Context, HandleCall, HandleCast, HandleContinue, HandleEvent, HandleInfo, Reply};
    pub use crate::addr::{ActorRef, CallError, SendError};
    #[cfg(feature = "serde")]
    pub use crate::durable::json;
    pub use crate::durable::{fields, upcast, CodecError, Durable};
    #[cfg(feature = "serde")]
    pub use serde;

    /// Without the `serde` feature: `#[durable(serde)]` names these, and
    /// the compiler says which feature to turn on.
    #[cfg(not(feature = "serde"))]
    pub mod json {
        use crate::durable::CodecError;

        /// Implemented by no type: the `serde` feature is off.
        #[diagnostic::on_unimplemented(
            message = "#[durable(serde)] needs treeline's `serde` feature",
            label = "stored as JSON through serde",
            note = "turn it on: `treeline = {{ version = \"...\", features = [\"serde\"] }}`"
        )]
        pub trait SerdeFeatureIsOff {}

        /// Never callable (see [`SerdeFeatureIsOff`]).
        pub fn encode<T: SerdeFeatureIsOff>(_: &T, _: &mut Vec<u8>) -> Result<(), CodecError> {
            Err(CodecError::new("the serde feature is off"))
        }

        /// Never callable (see [`SerdeFeatureIsOff`]).
        pub fn decode<T: SerdeFeatureIsOff>(_: &[u8]) -> Result<T, CodecError> {
            Err(CodecError::new("the serde feature is off"))
        }
    }

    /// Without the `serde` feature: the bounds the derive adds to a serde
    /// type's parameters.
    #[cfg(not(feature = "serde"))]
    pub mod serde {
        /// Stands in for `serde::Serialize`.
        pub trait Serialize: super::json::SerdeFeatureIsOff {}
        /// Stands in for `serde::de`.
        pub mod de {
            /// Stands in for `serde::de::DeserializeOwned`.
            pub trait DeserializeOwned: super::super::json::SerdeFeatureIsOff {}
        }
    }
    pub use crate::event::Event;
    pub use crate::exit::ExitReason;
    pub use crate::signal::Exit;
    pub use crate::supervisor::ChildRef;
}
