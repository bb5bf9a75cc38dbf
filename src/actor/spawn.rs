//! Starting an actor: synchronous `init`, then the actor's own task.
//!
//! `init` runs *inside the spawner's task*, with the new actor's own
//! [`Context`] (its id, its mailbox, its links). So the spawn returns only
//! after `init` finished, as `gen_server:start_link` does, without a round
//! trip between two tasks. Messages the actor receives meanwhile (including
//! ones it sends itself) wait in its mailbox. Only once `init` succeeded is
//! the actor's task spawned.
//!
//! Differences from OTP, on purpose:
//!
//! * If the spawner's future is dropped while `init` runs, the new actor dies
//!   with `Killed` (as a start_link child whose parent died).
//! * A kill or a non-trapped exit signal that arrives during `init` aborts it
//!   at its next await point; the spawn returns `StartError::Exit(reason)`.

use std::collections::VecDeque;
use std::fmt;
use std::pin::pin;
use std::sync::Arc;

use tracing::Instrument;

use super::context::Book;
use super::run::{self, Driven};
use super::{Actor, Context, InitError, SpawnOptions};
use crate::addr::{ActorId, ActorRef, Pid};
use crate::cell::{ActorCell, Process, Status};
use crate::exit::ExitReason;
use crate::signal::Signal;
use crate::system::System;

/// Why a spawn did not produce a running actor.
///
/// ```
/// use treeline::{ExitReason, StartError};
///
/// let err = StartError::Exit(ExitReason::custom("bad config"));
/// assert_eq!(err.to_string(), "init failed: bad config");
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StartError {
    /// `init` returned [`InitError::Ignore`] (OTP `ignore`): nothing started,
    /// and that is not a failure.
    Ignored,
    /// `init` failed: it returned a stop reason, panicked, or the actor was
    /// killed during `init`.
    Exit(ExitReason),
    /// `init` did not finish within [`SpawnOptions::init_timeout`]; the actor
    /// was killed.
    Timeout,
    /// The System is shutting down and accepts no new actors.
    SystemStopped,
    /// The options are invalid.
    InvalidConfig(ConfigError),
}

/// An invalid spawn option.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// A bounded mailbox with capacity 0.
    ZeroCapacity,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::ZeroCapacity => f.write_str("a bounded mailbox needs a capacity of at least 1"),
        }
    }
}

impl std::error::Error for ConfigError {}

impl fmt::Debug for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Ignored => f.write_str("Ignored"),
            StartError::Exit(reason) => f.debug_tuple("Exit").field(reason).finish(),
            StartError::Timeout => f.write_str("Timeout"),
            StartError::SystemStopped => f.write_str("SystemStopped"),
            StartError::InvalidConfig(error) => f.debug_tuple("InvalidConfig").field(error).finish(),
        }
    }
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Ignored => f.write_str("init ignored the start"),
            StartError::Exit(reason) => write!(f, "init failed: {reason}"),
            StartError::Timeout => f.write_str("init timed out"),
            StartError::SystemStopped => f.write_str("the system is shutting down"),
            StartError::InvalidConfig(error) => write!(f, "invalid spawn options: {error}"),
        }
    }
}

impl std::error::Error for StartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StartError::InvalidConfig(error) => Some(error),
            _ => None,
        }
    }
}

/// Who spawns.
pub(crate) enum Parent<'a> {
    /// A top-level actor; the System is its parent.
    System,
    /// An actor, through its context.
    Actor { pid: Pid, book: &'a mut Book },
}

/// Spawns an actor of type `A`: runs `init`, then its task.
pub(crate) async fn start<A: Actor>(
    system: &System,
    args: A::Args,
    options: SpawnOptions,
    mut parent: Parent<'_>,
) -> Result<ActorRef<A>, StartError> {
    if options.mailbox.capacity() == Some(0) {
        return Err(StartError::InvalidConfig(ConfigError::ZeroCapacity));
    }
    let id = system.admit()?;
    let cell = Arc::new(ActorCell::<A>::new(id, system.clone(), options.mailbox));
    let myself = ActorRef { cell: cell.clone() };
    let (parent_id, top_level) = match &parent {
        Parent::System => (ActorId::SYSTEM, Some(options.shutdown)),
        Parent::Actor { pid, .. } => (pid.id(), None),
    };
    let mut ctx = Context::new(myself.clone(), parent_id);
    if let (true, Parent::Actor { pid, book }) = (options.link, &mut parent) {
        ctx.book().links.insert(pid.id(), pid.clone());
        book.links.insert(id, myself.pid());
    }
    system.table().insert(myself.pid(), top_level);

    let mut guard = StartGuard { cell: &cell, ctx: Some(ctx), pending: VecDeque::new() };
    let outcome = init::<A>(args, &mut guard, options.init_timeout).await;
    let (ctx, pending) = guard.disarm();
    match outcome {
        Ok(state) => {
            cell.set_status(Status::Running);
            let span = tracing::debug_span!("actor", id = %id, actor = std::any::type_name::<A>());
            if span.is_disabled() {
                tokio::spawn(run::run(state, ctx, pending));
            } else {
                tokio::spawn(run::run(state, ctx, pending).instrument(span));
            }
            Ok(myself)
        }
        Err(failure) => {
            let mut ctx = ctx;
            // OTP >= 26: a failed start is reported to the spawner only
            // through the returned error, never through an exit signal.
            if let Parent::Actor { book, .. } = &mut parent {
                book.links.remove(&id);
            }
            ctx.book().links.remove(&parent_id);
            let (reason, error) = match failure {
                InitFailure::Ignored => (ExitReason::Normal, StartError::Ignored),
                InitFailure::Exit(reason) => (reason.clone(), StartError::Exit(reason)),
                InitFailure::Timeout => (ExitReason::Killed, StartError::Timeout),
            };
            run::teardown(&cell, &mut ctx, reason, VecDeque::new(), pending);
            Err(error)
        }
    }
}

enum InitFailure {
    Ignored,
    Exit(ExitReason),
    Timeout,
}

async fn init<A: Actor>(
    args: A::Args,
    guard: &mut StartGuard<'_, A>,
    timeout: Option<std::time::Duration>,
) -> Result<A, InitFailure> {
    let StartGuard { cell, ctx, pending } = guard;
    let ctx = ctx.as_mut().expect("context present until disarmed");
    let future = pin!(A::init(args, ctx));
    let driven = run::drive(future, cell, pending);
    let driven = match timeout {
        Some(timeout) => match tokio::time::timeout(timeout, driven).await {
            Ok(driven) => driven,
            Err(_elapsed) => return Err(InitFailure::Timeout),
        },
        None => driven.await,
    };
    match driven {
        Driven::Done(Ok(state)) => Ok(state),
        Driven::Done(Err(InitError::Ignore)) => Err(InitFailure::Ignored),
        Driven::Done(Err(InitError::Stop(reason))) => Err(InitFailure::Exit(reason)),
        Driven::Panicked(panic) => Err(InitFailure::Exit(ExitReason::Panic(panic))),
        Driven::Killed(reason) => Err(InitFailure::Exit(reason)),
    }
}

/// Owns the new actor's context while `init` runs; if the spawn is cancelled
/// mid-`init`, tears the actor down (reason `Killed`) so nothing leaks.
struct StartGuard<'a, A: Actor> {
    cell: &'a Arc<ActorCell<A>>,
    ctx: Option<Context<A>>,
    pending: VecDeque<Signal>,
}

impl<A: Actor> StartGuard<'_, A> {
    fn disarm(&mut self) -> (Context<A>, VecDeque<Signal>) {
        let ctx = self.ctx.take().expect("disarmed once");
        (ctx, std::mem::take(&mut self.pending))
    }
}

impl<A: Actor> Drop for StartGuard<'_, A> {
    fn drop(&mut self) {
        if let Some(mut ctx) = self.ctx.take() {
            let pending = std::mem::take(&mut self.pending);
            run::teardown(self.cell, &mut ctx, ExitReason::Killed, VecDeque::new(), pending);
        }
    }
}

impl<A: Actor> fmt::Debug for StartGuard<'_, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StartGuard").field("actor", &self.cell.id()).finish()
    }
}
