//! Introspection: `System::snapshot` and `System::actor_info` show what each
//! actor does (status, the message it handles and for how long, the call it
//! waits on), its mailbox, counters by kind, links, monitors, names,
//! subscriptions, durable queues, and each supervisor's children; the calls
//! in flight form a wait-for graph whose cycles are reported as deadlocks.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use treeline::durable::{DurableQueue, JournalConfig};
use treeline::introspect::{ActorStatus, SystemSnapshot};
use treeline::journal::MemStorage;
use treeline::mailbox::{MailboxConfig, MessageKind, Overflow};
use treeline::signal::Down;
use treeline::supervisor::ChildStatus;
use treeline::{
    Actor, ActorId, ActorRef, ChildSpec, Context, Event, ExitReason, HandleCall, HandleCast, HandleEvent, HandleInfo,
    InitError, Name, Pid, Reply, Supervisor, System,
};

use crate::support::{probe, within, Report};

#[derive(Clone)]
struct Args {
    report: Report,
    gate: Arc<Notify>,
}

struct Worker {
    args: Args,
}

impl Actor for Worker {
    type Args = Args;
    async fn init(args: Args, ctx: &mut Context<Self>) -> Result<Self, InitError> {
        ctx.subscribe::<Price>().map_err(|e| InitError::Stop(ExitReason::error(e)))?;
        Ok(Worker { args })
    }
}

#[derive(Clone)]
struct Price;
impl Event for Price {
    const TOPIC: &'static str = "prices.eur";
}

/// Blocks the handler until the gate opens.
struct Block;
struct Note;
struct Ping;
/// Calls the given actor (and reports when the call ended).
struct CallPeer(ActorRef<Worker>);
/// Monitors the given actor.
struct Watch(Pid);
/// Ends the actor abnormally.
struct Crash;

impl HandleCast<Crash> for Worker {
    async fn handle_cast(&mut self, _: Crash, _: &mut Context<Self>) -> Result<(), ExitReason> {
        Err(ExitReason::custom("crash"))
    }
}

impl HandleCast<Block> for Worker {
    async fn handle_cast(&mut self, _: Block, _: &mut Context<Self>) -> Result<(), ExitReason> {
        self.args.report.say("blocked");
        self.args.gate.notified().await;
        Ok(())
    }
}

impl HandleCast<Note> for Worker {
    async fn handle_cast(&mut self, _: Note, _: &mut Context<Self>) -> Result<(), ExitReason> {
        Ok(())
    }
}

impl HandleCast<CallPeer> for Worker {
    async fn handle_cast(&mut self, CallPeer(peer): CallPeer, _: &mut Context<Self>) -> Result<(), ExitReason> {
        self.args.report.say("calling");
        let answer = peer.call_timeout(Ping, Duration::from_secs(3600)).await;
        self.args.report.say(format!("call ended: {}", answer.is_ok()));
        Ok(())
    }
}

impl HandleCast<Watch> for Worker {
    async fn handle_cast(&mut self, Watch(target): Watch, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        ctx.monitor(target);
        Ok(())
    }
}

impl HandleCall<Ping> for Worker {
    type Reply = ();
    async fn handle_call(&mut self, _: Ping, _: &mut Context<Self>) -> Reply<()> {
        Reply::new(())
    }
}

impl HandleInfo<u32> for Worker {
    async fn handle_info(&mut self, _: u32, _: &mut Context<Self>) -> Result<(), ExitReason> {
        Ok(())
    }
}

impl HandleInfo<Down> for Worker {
    async fn handle_info(&mut self, _: Down, _: &mut Context<Self>) -> Result<(), ExitReason> {
        Ok(())
    }
}

impl HandleEvent<Price> for Worker {
    async fn handle_event(&mut self, _: Price, _: &mut Context<Self>) -> Result<(), ExitReason> {
        Ok(())
    }
}

const GATE: Name<Worker> = Name::new("gate");

/// Takes snapshots until one satisfies `ready`, and returns it.
async fn snapshot_until(system: &System, what: &str, ready: impl Fn(&SystemSnapshot) -> bool) -> SystemSnapshot {
    within(what, async {
        loop {
            let snapshot = system.snapshot().await;
            if ready(&snapshot) {
                return snapshot;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await
}

on_both_runtimes! {
    async fn a_snapshot_shows_the_tree_what_each_actor_does_and_its_mailbox() {
        let system = System::new();
        let (report, mut probe) = probe();
        let args = Args { report, gate: Arc::new(Notify::new()) };
        let gate_spec = ChildSpec::<Worker>::worker("gate", args.clone())
            .name(GATE)
            .mailbox(MailboxConfig::bounded(10, Overflow::DropNewest));
        let gate = gate_spec.child_ref();
        let other_spec = ChildSpec::<Worker>::worker("other", args.clone());
        let other = other_spec.child_ref();
        let root = system.start(Supervisor::one_for_one().child(gate_spec).child(other_spec)).await.unwrap();
        let (gate_id, other_id) = (gate.id().unwrap(), other.id().unwrap());

        // `other` handles two calls, a cast and an info, and monitors `gate`.
        other.call(Ping).await.unwrap();
        other.call(Ping).await.unwrap();
        other.cast(Watch(gate.current().unwrap().pid())).await.unwrap();
        other.current().unwrap().send(7u32).await.unwrap();
        other.call(Ping).await.unwrap(); // all of the above handled
        // `gate` blocks in a handler with four casts behind it, and a call
        // from outside any actor waits on it.
        gate.cast(Block).await.unwrap();
        probe.expect("blocked").await;
        for _ in 0..4 {
            gate.cast(Note).await.unwrap();
        }
        let caller = {
            let gate = gate.current().unwrap();
            tokio::spawn(async move { gate.call(Ping).await })
        };
        // (`other` turns idle once its task parks, just after its last reply.)
        let snapshot = snapshot_until(&system, "the outside call shows, and other is idle", |snapshot| {
            snapshot.calls.iter().any(|call| call.callee == gate_id)
                && snapshot.actor(other_id).is_some_and(|other| other.status == ActorStatus::Idle)
        })
        .await;

        let call = snapshot.calls.iter().find(|call| call.callee == gate_id).unwrap();
        assert_eq!(call.caller, ActorId::EXTERNAL);
        let gate_info = snapshot.actor(gate_id).unwrap();
        assert_eq!(gate_info.kind, "gate");
        assert_eq!(gate_info.parent, Some(root.id()));
        match &gate_info.status {
            ActorStatus::Handling(handling) => {
                assert_eq!(handling.kind, MessageKind::Cast);
                assert!(handling.message_type.ends_with("::Block"), "{}", handling.message_type);
            }
            other => panic!("gate should be handling Block: {other:?}"),
        }
        // Four casts and the call wait in the mailbox.
        assert_eq!((gate_info.mailbox.len, gate_info.mailbox.capacity), (5, Some(10)));
        assert_eq!(gate_info.mailbox.overflow, Some(Overflow::DropNewest));
        assert_eq!(gate_info.mailbox.fill(), Some(0.5));
        assert_eq!(gate_info.names, ["gate"]);
        assert_eq!(gate_info.topics, ["prices.eur"]);
        assert_eq!(gate_info.links, [root.id()]);
        assert_eq!(gate_info.monitored_by, [other_id]);

        let other_info = snapshot.actor(other_id).unwrap();
        assert_eq!(other_info.status, ActorStatus::Idle);
        let handled = other_info.handled;
        assert_eq!((handled.call, handled.cast, handled.info, handled.event, handled.durable), (3, 1, 1, 0, 0));
        assert_eq!(handled.total(), 5);
        assert_eq!(other_info.monitors, [gate_id]);
        assert_eq!(other_info.waiting_on, None);

        let root_info = snapshot.actor(root.id()).unwrap();
        assert_eq!(root_info.parent, None);
        assert!(root_info.trap_exit);
        assert_eq!(root_info.links, [gate_id, other_id]);
        let supervisor = root_info.supervisor.as_ref().expect("the supervisor answered");
        let rows: Vec<_> = supervisor.children.iter().map(|child| (child.id.clone().unwrap(), child.actor, child.status)).collect();
        assert_eq!(rows, [
            ("gate".into(), Some(gate_id), ChildStatus::Running),
            ("other".into(), Some(other_id), ChildStatus::Running),
        ]);
        assert_eq!(snapshot.roots().map(|actor| actor.id).collect::<Vec<_>>(), [root.id()]);
        assert_eq!(snapshot.children(root.id()).count(), 2);

        // The registry, seen from the actors that hold it.
        assert_eq!(snapshot.names.iter().map(|name| (name.name.as_str(), name.actor)).collect::<Vec<_>>(), [("gate", gate_id)]);
        assert_eq!(snapshot.topics.len(), 1);
        assert_eq!(snapshot.topics[0].pattern, "prices.eur");
        assert_eq!(snapshot.topics[0].subscribers, [gate_id, other_id]);
        assert_eq!(snapshot.totals.actors, 3);
        assert_eq!(snapshot.totals.spawned, 3);
        assert!(snapshot.runtime.is_some_and(|runtime| runtime.workers >= 1));

        args.gate.notify_one();
        caller.await.unwrap().unwrap();
        assert!(system.actor_info(gate_id).await.unwrap().waiting_on.is_none());
        assert!(system.snapshot().await.calls.is_empty(), "the answered call is gone");
    }

    async fn a_cycle_of_calls_is_a_deadlock_and_a_stuck_handler_shows_its_age() {
        let system = System::new();
        let (report, mut probe) = probe();
        let args = Args { report, gate: Arc::new(Notify::new()) };
        let a = system.spawn::<Worker>(args.clone()).await.unwrap();
        let b = system.spawn::<Worker>(args.clone()).await.unwrap();
        a.cast(CallPeer(b.clone())).await.unwrap();
        b.cast(CallPeer(a.clone())).await.unwrap();
        probe.take(2).await;

        let snapshot = snapshot_until(&system, "the deadlock shows", |snapshot| !snapshot.deadlocks.is_empty()).await;
        assert_eq!(snapshot.deadlocks, [vec![a.id(), b.id()]]);
        assert_eq!(snapshot.actor(a.id()).unwrap().waiting_on.map(|call| call.callee), Some(b.id()));
        assert_eq!(snapshot.actor(b.id()).unwrap().waiting_on.map(|call| call.callee), Some(a.id()));

        // Both handlers have been seen running since that snapshot.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let later = system.snapshot().await;
        let busy: Vec<ActorId> = later.busy(Duration::from_millis(200)).map(|actor| actor.id).collect();
        assert_eq!(busy, [a.id(), b.id()]);
        assert!(later.calls.iter().all(|call| call.waited >= Duration::from_millis(200)), "{:?}", later.calls);

        // Killing one breaks the cycle: the other's call fails.
        a.kill();
        probe.expect("call ended: false").await;
        let after = snapshot_until(&system, "the call is gone", |snapshot| snapshot.calls.is_empty()).await;
        assert!(after.deadlocks.is_empty());
        assert!(after.busy(Duration::ZERO).all(|actor| actor.id != a.id()));
    }

    async fn a_snapshot_shows_durable_queues_and_their_consumers() {
        let system = System::with_journal(JournalConfig::storage(MemStorage::new())).unwrap();
        let queue: DurableQueue<u64> = system.durable_queue("jobs").await.unwrap();
        queue.cast(1).await.unwrap();
        let consumer = system.spawn::<Consumer>(queue.clone()).await.unwrap();
        // (The ack goes out as the handler returns, just before the count.)
        let snapshot = snapshot_until(&system, "the message is handled and counted", |snapshot| {
            snapshot.queues.iter().any(|queue| queue.stats.acked == 1)
                && snapshot.actor(consumer.id()).is_some_and(|info| info.handled.durable == 1)
        })
        .await;
        assert_eq!(snapshot.queues.len(), 1);
        assert_eq!(snapshot.queues[0].name, "jobs");
        assert_eq!(snapshot.queues[0].consumer, Some(consumer.id()));
        assert_eq!(snapshot.queues[0].stats.pending, 0);
        let info = snapshot.actor(consumer.id()).unwrap();
        assert_eq!(info.queues, ["jobs"]);
        assert_eq!(info.handled.durable, 1);
    }
}

// Waits out a restart window of a minute: on the paused clock.
#[tokio::test(start_paused = true)]
async fn a_supervisor_shows_the_restarts_in_its_window() {
    let system = System::new();
    let (report, _probe) = probe();
    let spec = ChildSpec::<Worker>::worker("w", Args { report, gate: Arc::new(Notify::new()) });
    let worker = spec.child_ref();
    let root = system.start(Supervisor::one_for_one().intensity(5, Duration::from_secs(60)).child(spec)).await.unwrap();
    let first = worker.id().unwrap();
    worker.cast(Crash).await.unwrap();
    worker.restarted(first).await;
    let supervisor = |snapshot: SystemSnapshot| snapshot.actor(root.id()).unwrap().supervisor.clone().unwrap();
    let now = supervisor(system.snapshot().await);
    assert_eq!((now.restarts, now.restarts_in_period, now.intensity), (1, 1, 5));
    tokio::time::sleep(Duration::from_secs(61)).await;
    let later = supervisor(system.snapshot().await);
    assert_eq!((later.restarts, later.restarts_in_period), (1, 0), "the restart left the window");
}

struct Consumer;

impl Actor for Consumer {
    type Args = DurableQueue<u64>;
    async fn init(queue: DurableQueue<u64>, ctx: &mut Context<Self>) -> Result<Self, InitError> {
        ctx.consume(&queue).map_err(|e| InitError::Stop(ExitReason::error(e)))?;
        Ok(Consumer)
    }
}

impl HandleCast<u64> for Consumer {
    async fn handle_cast(&mut self, _: u64, _: &mut Context<Self>) -> Result<(), ExitReason> {
        Ok(())
    }
}
