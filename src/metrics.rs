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
//! | `treeline_message_queue_seconds` (histogram, time in the mailbox, opt-in likewise) | `kind` |
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
//! Each kind's handles are registered with the recorder when the first
//! event of that kind happens in a System, and kept: a handle registered
//! before the application installs its recorder stays a no-op (the facade's
//! rule), so install the recorder before the first `System`.
//!
//! Cost: with the feature off, nothing is compiled in. With it on, each
//! event above costs a read lock and a lookup of its kind's handles, then
//! the recorder's own work (callgrind, no recorder: +16% instructions per
//! spawn and stop); a message costs one relaxed load (is timing on?) and 16
//! bytes more in its envelope (room for the time it was queued), and with
//! timing on, three clock reads and two histogram records. Time in the
//! mailbox is measured for messages queued through the mailbox (calls,
//! casts, infos and events sent to the actor), not for the runtime's own
//! (`Down`, `Exit`, continues) nor durable deliveries.
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

use ::metrics::{counter, gauge, histogram, Counter, Histogram, SharedString};
use parking_lot::{Mutex, RwLock};

use crate::dead_letter::DeadLetterReason;
use crate::exit::ExitReason;
use crate::introspect::{ActorStatus, SystemSnapshot};
use crate::mailbox::MessageKind;
use crate::system::System;

/// The counter slots' names (`MessageKind::slot`).
const MSG_KINDS: [&str; MessageKind::SLOTS] = ["call", "cast", "info", "event", "durable"];

/// What a System keeps for its metrics: the messages its dead actors
/// handled (so `treeline_messages_handled_total` never goes down when an
/// actor dies), whether handlers are timed, and each kind's handles.
#[derive(Debug, Default)]
pub(crate) struct MetricsState {
    retired: Mutex<HashMap<SharedString, [u64; MessageKind::SLOTS]>>,
    timing: AtomicBool,
    /// Registered once per kind: building a metric's key (its label vector,
    /// its hash) at every event cost more than the spawn it counted
    /// (callgrind: +80% instructions per spawn and stop).
    kinds: RwLock<HashMap<Box<str>, KindMetrics, Fnv>>,
}

/// FNV-1a: kinds are short, few and chosen in code; SipHash's protection
/// against crafted keys is not needed, and it costs more than the lookup.
#[derive(Clone, Copy, Debug, Default)]
struct Fnv;

impl std::hash::BuildHasher for Fnv {
    type Hasher = FnvHasher;

    fn build_hasher(&self) -> FnvHasher {
        FnvHasher(0xcbf2_9ce4_8422_2325)
    }
}

struct FnvHasher(u64);

impl std::hash::Hasher for FnvHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = (self.0 ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// One kind's handles.
#[derive(Debug)]
struct KindMetrics {
    spawns: Counter,
    /// By `exit_class`.
    exits: [Counter; 6],
    /// Mailbox full, actor stopped.
    dead_letters: [Counter; 2],
    call_timeouts: Counter,
    handle_seconds: Histogram,
    queue_seconds: Histogram,
}

const EXIT_CLASSES: [&str; 6] = ["normal", "shutdown", "killed", "panic", "noproc", "error"];

fn exit_class(reason: &ExitReason) -> usize {
    match reason {
        ExitReason::Normal => 0,
        ExitReason::Shutdown | ExitReason::ShutdownWith(_) => 1,
        ExitReason::Kill | ExitReason::Killed => 2,
        ExitReason::Panic(_) => 3,
        ExitReason::NoProc => 4,
        ExitReason::Error(_) => 5,
    }
}

impl KindMetrics {
    fn register(kind: &str) -> KindMetrics {
        let label = || SharedString::from(kind.to_string());
        KindMetrics {
            spawns: counter!("treeline_actor_spawns_total", "kind" => label()),
            exits: EXIT_CLASSES
                .map(|reason| counter!("treeline_actor_exits_total", "kind" => label(), "reason" => reason)),
            dead_letters: ["mailbox_full", "actor_stopped"]
                .map(|reason| counter!("treeline_dead_letters_total", "kind" => label(), "reason" => reason)),
            call_timeouts: counter!("treeline_call_timeouts_total", "kind" => label()),
            handle_seconds: histogram!("treeline_message_handle_seconds", "kind" => label()),
            queue_seconds: histogram!("treeline_message_queue_seconds", "kind" => label()),
        }
    }
}

impl MetricsState {
    pub(crate) fn timing(&self) -> bool {
        self.timing.load(Ordering::Relaxed)
    }

    pub(crate) fn set_timing(&self, on: bool) {
        self.timing.store(on, Ordering::Relaxed);
    }

    /// Runs `f` on the handles of `kind` (registered on first use).
    fn with_kind(&self, kind: &str, f: impl FnOnce(&KindMetrics)) {
        if let Some(metrics) = self.kinds.read().get(kind) {
            return f(metrics);
        }
        let mut kinds = self.kinds.write();
        f(kinds.entry(Box::from(kind)).or_insert_with(|| KindMetrics::register(kind)));
    }

    pub(crate) fn spawned(&self, kind: &str) {
        self.with_kind(kind, |metrics| metrics.spawns.increment(1));
    }

    pub(crate) fn exited(&self, kind: &str, reason: &ExitReason) {
        self.with_kind(kind, |metrics| metrics.exits[exit_class(reason)].increment(1));
    }

    pub(crate) fn dead_letter(&self, kind: &str, reason: DeadLetterReason) {
        let at = match reason {
            DeadLetterReason::MailboxFull => 0,
            DeadLetterReason::ActorStopped => 1,
        };
        self.with_kind(kind, |metrics| metrics.dead_letters[at].increment(1));
    }

    pub(crate) fn call_timeout(&self, kind: &str) {
        self.with_kind(kind, |metrics| metrics.call_timeouts.increment(1));
    }

    pub(crate) fn queued_for(&self, kind: &str, waited: Duration) {
        self.with_kind(kind, |metrics| metrics.queue_seconds.record(waited.as_secs_f64()));
    }

    pub(crate) fn handled_in(&self, kind: &str, took: Duration) {
        self.with_kind(kind, |metrics| metrics.handle_seconds.record(took.as_secs_f64()));
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

pub(crate) fn restarted(supervisor: &str, child: &str) {
    counter!("treeline_restarts_total", "supervisor" => supervisor.to_string(), "child" => child.to_string())
        .increment(1);
}

pub(crate) fn escalated(supervisor: &str) {
    counter!("treeline_supervisor_escalations_total", "supervisor" => supervisor.to_string()).increment(1);
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
