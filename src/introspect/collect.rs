//! Building a snapshot from the System's parts.

use std::collections::{BTreeMap, HashMap};
use std::time::SystemTime;

use parking_lot::Mutex;
use tokio::time::Instant;

use super::{
    waits, ActorInfo, ActorStatus, CallInfo, Handled, Handling, MailboxInfo, NameInfo, QueueInfo, RuntimeInfo,
    SystemSnapshot, TopicInfo, Totals, SUPERVISOR_WAIT,
};
use crate::addr::ActorId;
use crate::cell::{CellView, Status};
use crate::registry::Registration;
use crate::supervisor::SupervisorSnapshot;
use crate::system::System;

/// Since when each running handler has been seen, by actor: the only state
/// snapshots keep (in the System, touched only by snapshots). An entry is
/// (messages handled when first seen, the message's type, when): the same
/// handler is the same count and type; entries of actors no longer seen
/// handling are dropped at each snapshot.
#[derive(Debug, Default)]
pub(crate) struct BusyMarks(Mutex<HashMap<ActorId, (u64, &'static str, Instant)>>);

/// Every live actor and what surrounds it.
pub(crate) async fn snapshot(system: &System) -> SystemSnapshot {
    // The supervisors answer first; then everything else is read at once,
    // with no await in between, so that mailboxes, statuses and calls
    // describe one moment.
    let supervisors = supervisors(system, |_| true).await;
    let taken_at = SystemTime::now();
    let mut views: Vec<CellView> = system.table().all().iter().map(|pid| pid.0.view()).collect();
    views.sort_by_key(|view| view.id);
    let calls = calls(system);
    let queues = queues(system);
    let topics = topics(&views);
    let now = Instant::now();
    let mut marks = system.busy_marks().0.lock();
    let mut seen = HashMap::with_capacity(marks.len());
    let mut actors = Vec::with_capacity(views.len());
    for view in views {
        let supervisor = supervisors.get(&view.id).cloned();
        let info = build(view, supervisor, &calls, &queues, &mut marks, &mut seen, now);
        actors.push(info);
    }
    *marks = seen;
    drop(marks);
    let deadlocks = waits::cycles(calls.iter().map(|call| (call.caller, call.callee)));
    let names = names(&actors);
    let totals = Totals {
        actors: actors.len(),
        spawned: system.spawned(),
        handled: actors.iter().map(|actor| actor.handled.total()).sum(),
        dead_letters: system.dead_letters().total(),
    };
    SystemSnapshot {
        taken_at,
        uptime: system.uptime(),
        actors,
        calls,
        deadlocks,
        names,
        topics,
        queues: queues.into_iter().map(|(name, consumer, stats)| QueueInfo { name, consumer, stats }).collect(),
        totals,
        runtime: runtime(),
    }
}

/// One live actor (with its supervisor's answer if it is one).
pub(crate) async fn actor_info(system: &System, id: ActorId) -> Option<ActorInfo> {
    let supervisor = supervisors(system, |asked| asked == id).await.remove(&id);
    let view = system.table().get(id)?.0.view();
    let calls = calls(system);
    let queues = queues(system);
    let mut marks = system.busy_marks().0.lock();
    let mut seen = HashMap::new();
    let info = build(view, supervisor, &calls, &queues, &mut marks, &mut seen, Instant::now());
    // Keep the other actors' marks; refresh this one's.
    marks.remove(&id);
    marks.extend(seen);
    Some(info)
}

fn build(
    view: CellView,
    supervisor: Option<SupervisorSnapshot>,
    calls: &[CallInfo],
    queues: &[(String, Option<ActorId>, crate::durable::QueueStats)],
    marks: &mut HashMap<ActorId, (u64, &'static str, Instant)>,
    seen: &mut HashMap<ActorId, (u64, &'static str, Instant)>,
    now: Instant,
) -> ActorInfo {
    let [call, cast, info, event, durable] = view.handled;
    let handled = Handled { call, cast, info, event, durable };
    let status = match (view.status, view.current) {
        (Status::Starting, _) => ActorStatus::Starting,
        (Status::Stopping | Status::Dead, _) => ActorStatus::Stopping,
        (Status::Running, None) => ActorStatus::Idle,
        (Status::Running, Some(meta)) => {
            let key = (handled.total(), meta.message_type());
            let since = match marks.get(&view.id) {
                Some(&(count, message, since)) if (count, message) == key => since,
                _ => now,
            };
            seen.insert(view.id, (key.0, key.1, since));
            ActorStatus::Handling(Handling {
                kind: meta.kind(),
                message_type: meta.message_type(),
                for_at_least: now.saturating_duration_since(since),
            })
        }
    };
    let mut names = Vec::new();
    let mut topics = Vec::new();
    for held in &view.holdings {
        match held {
            Registration::Name(name) => names.push(name.to_string()),
            Registration::Topic { pattern, .. } => topics.push(pattern.as_str().to_string()),
            Registration::Hook(_) => {}
        }
    }
    let consumed =
        queues.iter().filter(|(_, consumer, _)| *consumer == Some(view.id)).map(|(name, ..)| name.clone()).collect();
    ActorInfo {
        id: view.id,
        kind: view.kind,
        actor_type: view.actor_type,
        parent: (view.parent != ActorId::SYSTEM).then_some(view.parent),
        status,
        waiting_on: calls.iter().find(|call| call.caller == view.id).copied(),
        mailbox: MailboxInfo { len: view.mailbox_len, capacity: view.mailbox_capacity, overflow: view.overflow },
        handled,
        dead_letters: view.dead_letters,
        trap_exit: view.trap_exit,
        names,
        topics,
        queues: consumed,
        links: view.related.links,
        monitors: view.related.monitors,
        monitored_by: view.related.monitored_by,
        supervisor,
    }
}

/// Asks every live supervisor `wanted` picks for its (flat) snapshot, all
/// at once, each bounded by [`SUPERVISOR_WAIT`].
async fn supervisors(system: &System, wanted: impl Fn(ActorId) -> bool) -> HashMap<ActorId, SupervisorSnapshot> {
    let probes = system.supervisor_probes(wanted);
    let asked = probes.into_iter().map(|(id, probe)| async move {
        let answer = tokio::time::timeout(SUPERVISOR_WAIT, probe()).await.ok().flatten();
        answer.map(|snapshot| (id, snapshot))
    });
    futures::future::join_all(asked).await.into_iter().flatten().collect()
}

fn calls(system: &System) -> Vec<CallInfo> {
    let deadlines = system.deadlines();
    let mut calls: Vec<CallInfo> = deadlines
        .calls()
        .into_iter()
        .map(|call| CallInfo { caller: call.caller, callee: call.callee, waited: deadlines.elapsed_since(call.since) })
        .collect();
    calls.sort_by_key(|call| (call.caller, call.callee));
    calls
}

fn queues(system: &System) -> Vec<(String, Option<ActorId>, crate::durable::QueueStats)> {
    system.journal_store().map(|store| store.queues()).unwrap_or_default()
}

/// The registered names, as the actors hold them, by name.
fn names(actors: &[ActorInfo]) -> Vec<NameInfo> {
    let mut names = Vec::new();
    for actor in actors {
        names.extend(actor.names.iter().map(|name| NameInfo { name: name.clone(), actor: actor.id }));
    }
    names.sort_by(|a, b| a.name.cmp(&b.name));
    names
}

/// Subscriptions grouped by (pattern, event type), from the actors' holdings.
fn topics(views: &[CellView]) -> Vec<TopicInfo> {
    let mut grouped: BTreeMap<(String, &'static str), Vec<ActorId>> = BTreeMap::new();
    for view in views {
        for held in &view.holdings {
            if let Registration::Topic { table, pattern } = held {
                grouped.entry((pattern.as_str().to_string(), table.event_type())).or_default().push(view.id);
            }
        }
    }
    grouped
        .into_iter()
        .map(|((pattern, event_type), subscribers)| TopicInfo { pattern, event_type, subscribers })
        .collect()
}

fn runtime() -> Option<RuntimeInfo> {
    let metrics = tokio::runtime::Handle::try_current().ok()?.metrics();
    Some(RuntimeInfo {
        workers: metrics.num_workers(),
        alive_tasks: metrics.num_alive_tasks(),
        global_queue_depth: metrics.global_queue_depth(),
    })
}
