//! The JSON of API version 1: a snapshot as the page and other clients read
//! it. Ids are numbers (`label` is the `<0.N>` form); durations are
//! milliseconds; counters are monotonic (clients compute rates from two
//! snapshots and their `taken_at_ms`).

use std::collections::HashMap;
use std::time::{Duration, UNIX_EPOCH};

use serde::Serialize;
use treeline::introspect::{ActorInfo, ActorStatus, CallInfo, SystemSnapshot};
use treeline::supervisor::{ChildSnapshot, ChildStatus, SupervisorSnapshot};
use treeline::ActorId;

use crate::dead_letters::DeadLetterRow;

pub(crate) const VERSION: u32 = 1;

#[derive(Serialize)]
pub(crate) struct Snapshot {
    pub(crate) version: u32,
    pub(crate) seq: u64,
    pub(crate) taken_at_ms: u64,
    pub(crate) uptime_ms: u64,
    pub(crate) busy_ms: u64,
    pub(crate) stuck_ms: u64,
    pub(crate) totals: Totals,
    pub(crate) runtime: Option<Runtime>,
    pub(crate) actors: Vec<Actor>,
    pub(crate) calls: Vec<Call>,
    pub(crate) deadlocks: Vec<Vec<u64>>,
    pub(crate) names: Vec<Named>,
    pub(crate) topics: Vec<Topic>,
    pub(crate) queues: Vec<Queue>,
    pub(crate) dead_letters_seen: u64,
    pub(crate) dead_letters: Vec<DeadLetterRow>,
}

#[derive(Serialize)]
pub(crate) struct Totals {
    actors: usize,
    spawned: u64,
    handled: u64,
    dead_letters: u64,
}

#[derive(Serialize)]
pub(crate) struct Runtime {
    workers: usize,
    alive_tasks: usize,
    global_queue_depth: usize,
}

#[derive(Serialize)]
pub(crate) struct Actor {
    id: u64,
    label: String,
    kind: String,
    actor_type: &'static str,
    parent: Option<u64>,
    /// `starting`, `idle`, `handling`, `stopping`.
    status: &'static str,
    handling: Option<Handling>,
    waiting_on: Option<Call>,
    /// `busy` or `stuck` past the thresholds, else absent.
    flag: Option<&'static str>,
    mailbox: Mailbox,
    handled: Handled,
    dead_letters: u64,
    trap_exit: bool,
    names: Vec<String>,
    topics: Vec<String>,
    queues: Vec<String>,
    links: Vec<u64>,
    monitors: Vec<u64>,
    monitored_by: Vec<u64>,
    /// As its supervisor sees it.
    child: Option<Child>,
    supervisor: Option<Supervisor>,
}

#[derive(Serialize)]
struct Handling {
    kind: &'static str,
    message_type: &'static str,
    for_ms: u64,
}

#[derive(Serialize)]
pub(crate) struct Call {
    caller: u64,
    callee: u64,
    waited_ms: u64,
}

#[derive(Serialize)]
struct Mailbox {
    len: usize,
    capacity: Option<usize>,
    overflow: Option<String>,
}

#[derive(Serialize)]
struct Handled {
    call: u64,
    cast: u64,
    info: u64,
    event: u64,
    durable: u64,
    total: u64,
}

#[derive(Serialize)]
struct Child {
    id: Option<String>,
    restart: String,
    shutdown: String,
    significant: bool,
    restarts: u64,
}

#[derive(Serialize)]
struct Supervisor {
    strategy: String,
    intensity: u32,
    period_ms: u64,
    restarts: u64,
    restarts_in_period: usize,
    children: Vec<ChildRow>,
}

#[derive(Serialize)]
struct ChildRow {
    id: Option<String>,
    actor: Option<u64>,
    actor_type: &'static str,
    /// `running`, `restarting`, `not running`.
    status: &'static str,
    restarts: u64,
    restart: String,
}

#[derive(Serialize)]
pub(crate) struct Named {
    name: String,
    actor: u64,
}

#[derive(Serialize)]
pub(crate) struct Topic {
    pattern: String,
    event_type: &'static str,
    subscribers: Vec<u64>,
}

#[derive(Serialize)]
pub(crate) struct Queue {
    name: String,
    consumer: Option<u64>,
    pending: u64,
    in_flight: u32,
    acked: u64,
    dead_lettered: u64,
    redelivered: u64,
}

fn ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn ids(ids: &[ActorId]) -> Vec<u64> {
    ids.iter().map(|id| id.as_u64()).collect()
}

fn call(call: &CallInfo) -> Call {
    Call { caller: call.caller.as_u64(), callee: call.callee.as_u64(), waited_ms: ms(call.waited) }
}

fn child_status(status: ChildStatus) -> &'static str {
    match status {
        ChildStatus::Running => "running",
        ChildStatus::Restarting => "restarting",
        _ => "not running",
    }
}

fn lower(debug: impl std::fmt::Debug) -> String {
    format!("{debug:?}").to_lowercase()
}

fn supervisor(snapshot: &SupervisorSnapshot) -> Supervisor {
    Supervisor {
        strategy: snapshot.kind.to_string(),
        intensity: snapshot.intensity,
        period_ms: ms(snapshot.period),
        restarts: snapshot.restarts,
        restarts_in_period: snapshot.restarts_in_period,
        children: snapshot
            .children
            .iter()
            .map(|child| ChildRow {
                id: child.id.as_ref().map(ToString::to_string),
                actor: child.actor.map(ActorId::as_u64),
                actor_type: child.actor_type,
                status: child_status(child.status),
                restarts: child.restarts,
                restart: lower(child.restart),
            })
            .collect(),
    }
}

/// `info` as the API shows it; `rows` are the supervisors' rows by child
/// actor, for the child spec each actor runs under.
pub(crate) fn actor(
    info: &ActorInfo,
    rows: &HashMap<ActorId, &ChildSnapshot>,
    busy: Duration,
    stuck: Duration,
) -> Actor {
    let (status, handling) = match &info.status {
        ActorStatus::Starting => ("starting", None),
        ActorStatus::Idle => ("idle", None),
        ActorStatus::Handling(handling) => (
            "handling",
            Some(Handling {
                kind: handling.kind.as_str(),
                message_type: handling.message_type,
                for_ms: ms(handling.for_at_least),
            }),
        ),
        _ => ("stopping", None),
    };
    let flag = match &info.status {
        ActorStatus::Handling(handling) if handling.for_at_least >= stuck => Some("stuck"),
        ActorStatus::Handling(handling) if handling.for_at_least >= busy => Some("busy"),
        _ => None,
    };
    let handled = info.handled;
    Actor {
        id: info.id.as_u64(),
        label: info.id.to_string(),
        kind: info.kind.clone(),
        actor_type: info.actor_type,
        parent: info.parent.map(ActorId::as_u64),
        status,
        handling,
        waiting_on: info.waiting_on.as_ref().map(call),
        flag,
        mailbox: Mailbox {
            len: info.mailbox.len,
            capacity: info.mailbox.capacity,
            overflow: info.mailbox.overflow.map(lower),
        },
        handled: Handled {
            call: handled.call,
            cast: handled.cast,
            info: handled.info,
            event: handled.event,
            durable: handled.durable,
            total: handled.total(),
        },
        dead_letters: info.dead_letters,
        trap_exit: info.trap_exit,
        names: info.names.clone(),
        topics: info.topics.clone(),
        queues: info.queues.clone(),
        links: ids(&info.links),
        monitors: ids(&info.monitors),
        monitored_by: ids(&info.monitored_by),
        child: rows.get(&info.id).map(|row| Child {
            id: row.id.as_ref().map(ToString::to_string),
            restart: lower(row.restart),
            shutdown: format!("{:?}", row.shutdown),
            significant: row.significant,
            restarts: row.restarts,
        }),
        supervisor: info.supervisor.as_ref().map(supervisor),
    }
}

/// The child rows of every supervisor in `snapshot`, by child actor.
pub(crate) fn child_rows(snapshot: &SystemSnapshot) -> HashMap<ActorId, &ChildSnapshot> {
    snapshot
        .actors
        .iter()
        .filter_map(|actor| actor.supervisor.as_ref())
        .flat_map(|supervisor| supervisor.children.iter())
        .filter_map(|child| child.actor.map(|id| (id, child)))
        .collect()
}

/// The whole snapshot.
pub(crate) fn snapshot(
    snapshot: &SystemSnapshot,
    seq: u64,
    (dead_letters_seen, dead_letters): (u64, Vec<DeadLetterRow>),
    busy: Duration,
    stuck: Duration,
) -> Snapshot {
    let rows = child_rows(snapshot);
    Snapshot {
        version: VERSION,
        seq,
        taken_at_ms: snapshot.taken_at.duration_since(UNIX_EPOCH).map(ms).unwrap_or_default(),
        uptime_ms: ms(snapshot.uptime),
        busy_ms: ms(busy),
        stuck_ms: ms(stuck),
        totals: Totals {
            actors: snapshot.totals.actors,
            spawned: snapshot.totals.spawned,
            handled: snapshot.totals.handled,
            dead_letters: snapshot.totals.dead_letters,
        },
        runtime: snapshot.runtime.map(|runtime| Runtime {
            workers: runtime.workers,
            alive_tasks: runtime.alive_tasks,
            global_queue_depth: runtime.global_queue_depth,
        }),
        actors: snapshot.actors.iter().map(|info| actor(info, &rows, busy, stuck)).collect(),
        calls: snapshot.calls.iter().map(call).collect(),
        deadlocks: snapshot.deadlocks.iter().map(|cycle| ids(cycle)).collect(),
        names: snapshot
            .names
            .iter()
            .map(|name| Named { name: name.name.clone(), actor: name.actor.as_u64() })
            .collect(),
        topics: snapshot
            .topics
            .iter()
            .map(|topic| Topic {
                pattern: topic.pattern.clone(),
                event_type: topic.event_type,
                subscribers: ids(&topic.subscribers),
            })
            .collect(),
        queues: snapshot
            .queues
            .iter()
            .map(|queue| Queue {
                name: queue.name.clone(),
                consumer: queue.consumer.map(ActorId::as_u64),
                pending: queue.stats.pending,
                in_flight: queue.stats.in_flight,
                acked: queue.stats.acked,
                dead_lettered: queue.stats.dead_lettered,
                redelivered: queue.stats.redelivered,
            })
            .collect(),
        dead_letters_seen,
        dead_letters,
    }
}
