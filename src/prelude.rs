//! The names an actor author uses daily, for a glob import.
//!
//! ```
//! use treeline::prelude::*;
//!
//! struct Greeter;
//!
//! impl Actor for Greeter {
//!     type Args = ();
//!     async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> {
//!         Ok(Greeter)
//!     }
//! }
//! ```

pub use crate::actor::{
    Actor, Context, HandleCall, HandleCast, HandleContinue, HandleEvent, HandleInfo, InitError, Reply, ReplyTo,
    SpawnOptions,
};
pub use crate::addr::{ActorId, ActorRef, CallError, Pid, SendError};
pub use crate::durable::Durable;
pub use crate::event::Event;
pub use crate::exit::ExitReason;
pub use crate::registry::Name;
pub use crate::supervisor::{ChildSpec, Supervisor};
pub use crate::system::System;
#[cfg(feature = "macros")]
pub use treeline_macros::{actor, Durable, Event};
