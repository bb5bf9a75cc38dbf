//! Starting an actor: synchronous `init`, then the actor's own task.
//!
//! A dormant actor (started, nothing to do) has no task: spawning schedules
//! nothing, and an idle actor costs about 370 bytes instead of about 1.5 KB
//! with a task (`benches/lifecycle.rs`).
//!
//! `init` runs *inside the spawner's task*, with the new actor's own
//! [`Context`] (its id, its mailbox, its links). So the spawn returns only
//! after `init` finished, as `gen_server:start_link` does, without a round
//! trip between two tasks. Messages the actor receives meanwhile (including
//! ones it sends itself) wait in its mailbox. Only once `init` succeeded is
//! the actor's task spawned.
//!
//! After a successful `init` with nothing to do (no continue, nothing in the
//! mailbox), the actor is *dormant*: its state waits in its cell and its task
//! is spawned by the first message or signal. Spawning thus schedules nothing
//! and an idle actor costs no task.
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

use tokio::runtime::Handle;

use super::run::{self, Detached, Dormant, Driven, Guarded};
use super::{Actor, Context, InitError, SpawnOptions};
use crate::addr::{ActorId, ActorRef, Pid};
use crate::cell::relations::RelationsCell;
use crate::cell::{ActorCell, Status};
use crate::exit::ExitReason;
use crate::registry::RegistryError;
use crate::system::System;

/// Why a spawn did not produce a running actor.
///
/// ```
/// use treeline::ExitReason;
/// use treeline::actor::StartError;
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
    /// Spawned outside a tokio runtime.
    NoRuntime,
    /// The options are invalid.
    InvalidConfig(ConfigError),
    /// The name in the options is held by this live actor (OTP
    /// `{already_started, Pid}`); `init` did not run.
    AlreadyStarted(Pid),
    /// A registration the spawn asked for (a subscription in a child spec)
    /// failed.
    Registry(RegistryError),
}

/// An invalid spawn option.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// A bounded mailbox with capacity 0.
    ZeroCapacity,
    /// A bounded mailbox larger than [`MailboxConfig::MAX_CAPACITY`](crate::mailbox::MailboxConfig::MAX_CAPACITY).
    CapacityTooLarge {
        /// The largest capacity allowed.
        max: usize,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::ZeroCapacity => f.write_str("a bounded mailbox needs a capacity of at least 1"),
            ConfigError::CapacityTooLarge { max } => write!(f, "a bounded mailbox holds at most {max} messages"),
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
            StartError::NoRuntime => f.write_str("NoRuntime"),
            StartError::InvalidConfig(error) => f.debug_tuple("InvalidConfig").field(error).finish(),
            StartError::AlreadyStarted(pid) => f.debug_tuple("AlreadyStarted").field(pid).finish(),
            StartError::Registry(error) => f.debug_tuple("Registry").field(error).finish(),
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
            StartError::NoRuntime => f.write_str("no tokio runtime to run the actor on"),
            StartError::InvalidConfig(error) => write!(f, "invalid spawn options: {error}"),
            StartError::AlreadyStarted(pid) => write!(f, "the name is already registered by {pid}"),
            StartError::Registry(error) => write!(f, "registration failed: {error}"),
        }
    }
}

impl std::error::Error for StartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StartError::InvalidConfig(error) => Some(error),
            StartError::Registry(error) => Some(error),
            _ => None,
        }
    }
}

/// Who spawns.
pub(crate) enum Parent<'a> {
    /// A top-level actor; the System is its parent.
    System,
    /// An actor, through its context.
    Actor { pid: Pid, relations: &'a RelationsCell },
}

/// Registrations a child spec makes for each incarnation before its `init`.
pub(crate) type Setup<A> = Arc<dyn Fn(&Arc<ActorCell<A>>) -> Result<(), StartError> + Send + Sync>;

/// Spawns an actor of type `A`: registers its name, runs `init`, then parks
/// it dormant (its task starts with the first message or signal) or starts
/// its task at once.
pub(crate) async fn start<A: Actor>(
    system: &System,
    args: A::Args,
    options: SpawnOptions<A>,
    parent: Parent<'_>,
) -> Result<ActorRef<A>, StartError> {
    start_with_setup(system, args, options, parent, &[]).await
}

/// [`start`], also running `setups` (registrations) before `init`.
pub(crate) async fn start_with_setup<A: Actor>(
    system: &System,
    args: A::Args,
    options: SpawnOptions<A>,
    parent: Parent<'_>,
    setups: &[Setup<A>],
) -> Result<ActorRef<A>, StartError> {
    options.mailbox.validate().map_err(StartError::InvalidConfig)?;
    let runtime = Handle::try_current().map_err(|_| StartError::NoRuntime)?;
    let id = system.admit()?;
    let parent_id = match &parent {
        Parent::System => ActorId::SYSTEM,
        Parent::Actor { pid, .. } => pid.id(),
    };
    let cell = Arc::new(ActorCell::<A>::new(id, system, options.mailbox, parent_id, options.kind.clone()));
    // OTP registers the name before `init`; a taken name means `init`
    // never runs.
    if let Some((name, value)) = &options.name {
        match system.registry().register_name(&cell, name, value.clone()) {
            Ok(()) => {}
            Err(RegistryError::AlreadyRegistered(owner)) => return Err(StartError::AlreadyStarted(owner)),
            Err(error) => return Err(StartError::Registry(error)),
        }
    }
    for setup in setups {
        if let Err(error) = setup(&cell) {
            let reason = ExitReason::Normal;
            system.registry().release(id, cell.holdings.close(), &reason);
            return Err(error);
        }
    }
    let myself = ActorRef { cell: cell.clone() };
    let top_level = match &parent {
        Parent::System => Some(options.shutdown),
        Parent::Actor { .. } => None,
    };
    let ctx = Context::new(myself.clone(), parent_id);
    if let (true, Parent::Actor { pid, relations }) = (options.link, &parent) {
        ctx.relations().with(|mine| mine.links.insert(pid.id(), pid.clone()));
        relations.with(|parents| parents.links.insert(id, myself.pid()));
    }
    system.table().insert(myself.pid(), top_level);
    #[cfg(feature = "metrics")]
    system.metrics_state().spawned(cell.kind_name());
    if system.is_stopping() {
        // The System began to halt (or shut down) after `admit`, and may have
        // listed its actors to kill before this one was in the table: it
        // dies now, before its `init` (the table's lock orders the two).
        myself.pid().kill();
    }

    let mut detached = Detached { cell: &cell, ctx: Some(ctx), pending: VecDeque::new() };
    let outcome = init::<A>(args, &mut detached, options.init_timeout).await;
    match outcome {
        Ok(state) => {
            let (ctx, pending) = detached.release();
            cell.set_status(Status::Running);
            let idle = ctx.requests == 0 && pending.is_empty();
            if idle {
                let dormant = Box::new(Dormant { actor: Guarded::new(state), ctx, runtime });
                if let Err(dormant) = cell.mailbox.make_dormant(dormant) {
                    run::activate(*dormant);
                }
            } else {
                // The waker `init` registered is the spawner's, not the task's.
                cell.mailbox.forget_waker();
                run::start_task(&runtime, Guarded::new(state), ctx, pending);
            }
            Ok(myself)
        }
        Err(failure) => {
            // OTP >= 26: a failed start is reported to the spawner only
            // through the returned error, never through an exit signal.
            if let Parent::Actor { relations, .. } = &parent {
                relations.with_existing(|parents| parents.links.remove(&id));
            }
            detached.parts().0.relations().with_existing(|mine| mine.links.remove(&parent_id));
            let (reason, error) = match failure {
                InitFailure::Ignored => (ExitReason::Normal, StartError::Ignored),
                InitFailure::Exit(reason) => (reason.clone(), StartError::Exit(reason)),
                InitFailure::Timeout => (ExitReason::Killed, StartError::Timeout),
            };
            detached.finish(reason);
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
    detached: &mut Detached<'_, A>,
    timeout: Option<std::time::Duration>,
) -> Result<A, InitFailure> {
    let cell = detached.cell;
    let (ctx, pending) = detached.parts();
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
