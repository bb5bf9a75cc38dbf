//! Metrics through the [`metrics`](https://docs.rs/metrics/0.24) facade
//! (feature `metrics`): treeline emits, the application picks the exporter
//! (`metrics-exporter-prometheus`, an OpenTelemetry bridge, ...). treeline
//! installs no recorder and binds no port.
//!
//! Names follow Prometheus' conventions: a `treeline_` prefix, base units
//! in the name, `_total` on counters. Every label is bounded: `kind` is an
//! actor's kind (its child-spec id, its `SpawnOptions::kind` or its type's
//! short name, never an id, a name or data, so a dynamic supervisor with
//! 100 000 children is one label value); `reason`, `status` and `msg_kind`
//! are small fixed sets; `supervisor` and `child` are kinds and child-spec
//! ids; `queue` is a durable queue's name, chosen in code.
//!
//! Emitted when they happen (a counter increment each):
//!
//! | metric | labels |
//! |---|---|
//! | `treeline_actor_spawns_total` | `kind` |
//! | `treeline_actor_exits_total` | `kind`, `reason` (`normal`, `shutdown`, `killed`, `panic`, `error`, `noproc`) |
//! | `treeline_restarts_total` | `supervisor`, `child` |
//! | `treeline_supervisor_escalations_total` | `supervisor` |
//! | `treeline_dead_letters_total` | `kind`, `reason` (`mailbox_full`, `actor_stopped`) |
//! | `treeline_call_timeouts_total` | `kind` (the callee's) |
//! | `treeline_journal_appends_total`, `treeline_journal_bytes_total` | none |
//! | `treeline_journal_fsync_seconds` (histogram) | none |
//! | `treeline_message_handle_seconds` (histogram, opt-in: [`System::time_handlers`]) | `kind` |
//!
//! Set from a [`SystemSnapshot`] by [`record`] (at scrape time, or by
//! [`spawn_sampler`]): nothing is updated per message for them.
//!
//! | metric | labels |
//! |---|---|
//! | `treeline_actors` (gauge) | `kind`, `status` (`starting`, `idle`, `handling`, `stopping`) |
//! | `treeline_mailbox_depth`, `treeline_mailbox_depth_max` (gauges: sum and max over the kind) | `kind` |
//! | `treeline_messages_handled_total` | `kind`, `msg_kind` (`call`, `cast`, `info`, `event`, `durable`) |
//! | `treeline_calls_waiting`, `treeline_deadlocks`, `treeline_registry_names` (gauges) | none |
//! | `treeline_durable_pending`, `treeline_durable_in_flight` (gauges) | `queue` |
//! | `treeline_durable_redeliveries_total`, `treeline_durable_acked_total` | `queue` |
//!
//! A handle registered before the application installs its recorder stays
//! a no-op (the facade's rule), so treeline looks each metric up when it
//! happens: install the recorder before the first `System`, or at least
//! before what you want to see.
//!
//! Cost: with the feature off, nothing is compiled in. With it on and no
//! recorder, each event above costs the facade's check (an atomic load);
//! messages cost nothing, unless handler timing is on (two clock reads and
//! a histogram record per message).
//!
//! ```
//! # use treeline::{Actor, Context, InitError, System};
//! # struct Idle;
//! # impl Actor for Idle {
//! #     type Args = ();
//! #     async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> { Ok(Idle) }
//! # }
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let system = System::new();
//! system.spawn::<Idle>(()).await.unwrap();
//! // At scrape time (or every few seconds: `treeline::metrics::spawn_sampler`):
//! treeline::metrics::record(&system.snapshot().await, &system);
//! # }
//! ```
//!
//! [`System::time_handlers`]: crate::System::time_handlers
//! [`SystemSnapshot`]: crate::introspect::SystemSnapshot

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ::metrics::{counter, gauge, histogram, SharedString};
use parking_lot::Mutex;

use crate::dead_letter::DeadLetterReason;
use crate::exit::ExitReason;
use crate::introspect::{ActorStatus, SystemSnapshot};
use crate::mailbox::MessageKind;
use crate::system::System;

/// The counter slots' names (`MessageKind::slot`).
const MSG_KINDS: [&str; MessageKind::SLOTS] = ["call", "cast", "info", "event", "durable"];

/// What a System keeps for its metrics: the messages its dead actors
/// handled (so `treeline_messages_handled_total` never goes down when an
/// actor dies), and whether handlers are timed.
#[derive(Debug, Default)]
pub(crate) struct MetricsState {
    retired: Mutex<HashMap<SharedString, [u64; MessageKind::SLOTS]>>,
    timing: AtomicBool,
}

impl MetricsState {
    pub(crate) fn timing(&self) -> bool {
        self.timing.load(Ordering::Relaxed)
    }

    pub(crate) fn set_timing(&self, on: bool) {
        self.timing.store(on, Ordering::Relaxed);
    }

    /// An actor of `kind` died having handled `handled`.
    pub(crate) fn retire(&self, kind: SharedString, handled: [u64; MessageKind::SLOTS]) {
        if handled.iter().all(|count| *count == 0) {
            return;
        }
        let mut retired = self.retired.lock();
        let total = retired.entry(kind).or_default();
        for (total, count) in total.iter_mut().zip(handled) {
            *total += count;
        }
    }
}

pub(crate) fn spawned(kind: SharedString) {
    counter!("treeline_actor_spawns_total", "kind" => kind).increment(1);
}

pub(crate) fn exited(kind: SharedString, reason: &ExitReason) {
    let reason = match reason {
        ExitReason::Normal => "normal",
        ExitReason::Shutdown | ExitReason::ShutdownWith(_) => "shutdown",
        ExitReason::Kill | ExitReason::Killed => "killed",
        ExitReason::Panic(_) => "panic",
        ExitReason::NoProc => "noproc",
        ExitReason::Error(_) => "error",
    };
    counter!("treeline_actor_exits_total", "kind" => kind, "reason" => reason).increment(1);
}

pub(crate) fn restarted(supervisor: &str, child: &str) {
    counter!("treeline_restarts_total", "supervisor" => supervisor.to_string(), "child" => child.to_string())
        .increment(1);
}

pub(crate) fn escalated(supervisor: &str) {
    counter!("treeline_supervisor_escalations_total", "supervisor" => supervisor.to_string()).increment(1);
}

pub(crate) fn dead_letter(kind: SharedString, reason: DeadLetterReason) {
    let reason = match reason {
        DeadLetterReason::MailboxFull => "mailbox_full",
        DeadLetterReason::ActorStopped => "actor_stopped",
    };
    counter!("treeline_dead_letters_total", "kind" => kind, "reason" => reason).increment(1);
}

pub(crate) fn call_timeout(kind: SharedString) {
    counter!("treeline_call_timeouts_total", "kind" => kind).increment(1);
}

pub(crate) fn handled_in(kind: SharedString, took: Duration) {
    histogram!("treeline_message_handle_seconds", "kind" => kind).record(took.as_secs_f64());
}

/// Sets the sampled metrics from `snapshot` (of `system`): actors by kind
/// and status, mailbox depth, messages handled (the live actors' counts
/// plus what dead ones handled), calls waiting, deadlocks, registered
/// names, durable queues. Call it at scrape time, or let
/// [`spawn_sampler`] call it.
pub fn record(snapshot: &SystemSnapshot, system: &System) {
    let mut actors: HashMap<(&str, &'static str), u64> = HashMap::new();
    let mut depth: HashMap<&str, (usize, usize)> = HashMap::new();
    let mut handled: HashMap<SharedString, [u64; MessageKind::SLOTS]> = system.metrics_state().retired.lock().clone();
    for actor in &snapshot.actors {
        let status = match actor.status {
            ActorStatus::Starting => "starting",
            ActorStatus::Idle => "idle",
            ActorStatus::Handling(_) => "handling",
            _ => "stopping",
        };
        *actors.entry((actor.kind.as_str(), status)).or_default() += 1;
        let (sum, max) = depth.entry(actor.kind.as_str()).or_default();
        *sum += actor.mailbox.len;
        *max = (*max).max(actor.mailbox.len);
        let counts = handled.entry(SharedString::from(actor.kind.clone())).or_default();
        let live =
            [actor.handled.call, actor.handled.cast, actor.handled.info, actor.handled.event, actor.handled.durable];
        for (total, count) in counts.iter_mut().zip(live) {
            *total += count;
        }
    }
    for ((kind, status), count) in actors {
        #[allow(clippy::cast_precision_loss)] // a gauge of counts
        gauge!("treeline_actors", "kind" => kind.to_string(), "status" => status).set(count as f64);
    }
    for (kind, (sum, max)) in depth {
        #[allow(clippy::cast_precision_loss)]
        {
            gauge!("treeline_mailbox_depth", "kind" => kind.to_string()).set(sum as f64);
            gauge!("treeline_mailbox_depth_max", "kind" => kind.to_string()).set(max as f64);
        }
    }
    for (kind, counts) in handled {
        for (msg_kind, count) in MSG_KINDS.iter().zip(counts) {
            counter!("treeline_messages_handled_total", "kind" => kind.clone(), "msg_kind" => *msg_kind)
                .absolute(count);
        }
    }
    #[allow(clippy::cast_precision_loss)]
    {
        gauge!("treeline_calls_waiting").set(snapshot.calls.len() as f64);
        gauge!("treeline_deadlocks").set(snapshot.deadlocks.len() as f64);
        gauge!("treeline_registry_names").set(snapshot.names.len() as f64);
        for queue in &snapshot.queues {
            let name = queue.name.clone();
            gauge!("treeline_durable_pending", "queue" => name.clone()).set(queue.stats.pending as f64);
            gauge!("treeline_durable_in_flight", "queue" => name.clone()).set(f64::from(queue.stats.in_flight));
            counter!("treeline_durable_redeliveries_total", "queue" => name.clone()).absolute(queue.stats.redelivered);
            counter!("treeline_durable_acked_total", "queue" => name).absolute(queue.stats.acked);
        }
    }
}

/// Calls [`record`] every `every` until the System is dropped or the
/// returned handle is: for push exporters, or to keep gauges current
/// without a scrape. A task of the current tokio runtime.
pub fn spawn_sampler(system: &System, every: Duration) -> Sampler {
    let weak = system.downgrade();
    let task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(system) = weak.upgrade() else { return };
            let snapshot = system.snapshot().await;
            record(&snapshot, &system);
        }
    });
    Sampler(task)
}

/// The sampler task of [`spawn_sampler`]; dropping it stops the sampler.
#[derive(Debug)]
pub struct Sampler(tokio::task::JoinHandle<()>);

impl Drop for Sampler {
    fn drop(&mut self) {
        self.0.abort();
    }
}
