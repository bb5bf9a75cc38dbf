//! Metrics (feature `metrics`) as a Prometheus scrape shows them: a real
//! recorder (`metrics-exporter-prometheus`) installed as the global one, a
//! System that spawns, crashes, restarts, sheds, times out a call and uses
//! a durable queue, then `treeline::metrics::record` and a render.
//!
//! A test binary of its own: the recorder is process-wide.

use std::sync::Arc;
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusBuilder;
use tokio::sync::Notify;
use treeline::durable::{DurableQueue, JournalConfig};
use treeline::journal::MemStorage;
use treeline::mailbox::{MailboxConfig, Overflow};
use treeline::{
    Actor, CallError, ChildSpec, Context, ExitReason, HandleCall, HandleCast, InitError, Reply, SpawnOptions,
    Supervisor, System,
};

struct Worker(Arc<Notify>);

impl Actor for Worker {
    type Args = Arc<Notify>;
    async fn init(gate: Arc<Notify>, _: &mut Context<Self>) -> Result<Self, InitError> {
        Ok(Worker(gate))
    }
}

struct Crash;
struct Block;
struct Ping;

impl HandleCast<Crash> for Worker {
    async fn handle_cast(&mut self, _: Crash, _: &mut Context<Self>) -> Result<(), ExitReason> {
        Err(ExitReason::custom("crash"))
    }
}

impl HandleCast<Block> for Worker {
    async fn handle_cast(&mut self, _: Block, _: &mut Context<Self>) -> Result<(), ExitReason> {
        self.0.notified().await;
        Ok(())
    }
}

impl HandleCall<Ping> for Worker {
    type Reply = ();
    async fn handle_call(&mut self, _: Ping, _: &mut Context<Self>) -> Reply<()> {
        Reply::new(())
    }
}

impl HandleCast<u64> for Worker {
    async fn handle_cast(&mut self, _: u64, _: &mut Context<Self>) -> Result<(), ExitReason> {
        Ok(())
    }
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

/// Waits until actor `id` runs a handler (so that what is sent next waits
/// in its mailbox, not in a batch it took with the first message).
async fn handling(system: &System, id: treeline::ActorId) {
    loop {
        let info = system.actor_info(id).await.expect("alive");
        if matches!(info.status, treeline::introspect::ActorStatus::Handling(_)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// The value of the sample whose name and labels are exactly `series`.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scrape_shows_what_the_system_did_with_bounded_labels() {
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).expect("the only recorder in this binary");

    let system = System::with_journal(JournalConfig::storage(MemStorage::new())).unwrap();
    system.time_handlers(true);
    let gate = Arc::new(Notify::new());
    let spec = ChildSpec::<Worker>::worker("billing", gate.clone());
    let billing = spec.child_ref();
    system.start(Supervisor::one_for_one().child(spec)).await.unwrap();
    // A crash and a restart.
    let first = billing.id().unwrap();
    billing.cast(Crash).await.unwrap();
    billing.restarted(first).await.call(Ping).await.unwrap();
    // A blocked actor with a bounded mailbox sheds, and a call to it times out.
    let slow = system
        .spawn_with::<Worker>(
            gate.clone(),
            SpawnOptions::new().kind("slow").mailbox(MailboxConfig::bounded(2, Overflow::DropNewest)),
        )
        .await
        .unwrap();
    slow.cast(Block).await.unwrap();
    handling(&system, slow.id()).await;
    for n in 0..5u64 {
        slow.cast(n).await.unwrap();
    }
    assert_eq!(slow.call_timeout(Ping, Duration::from_millis(20)).await, Err(CallError::MailboxFull));
    // A durable queue, consumed.
    let queue: DurableQueue<u64> = system.durable_queue("jobs").await.unwrap();
    queue.cast(7).await.unwrap();
    let consumer = system.spawn::<Consumer>(queue.clone()).await.unwrap();
    let snapshot = loop {
        let snapshot = system.snapshot().await;
        // (billing turns idle once its task parks after its last reply.)
        let billing_idle = snapshot
            .actors
            .iter()
            .any(|actor| actor.kind == "billing" && actor.status == treeline::introspect::ActorStatus::Idle);
        // (The ack goes out as the handler returns, just before the count.)
        let consumed = snapshot.actors.iter().any(|actor| actor.kind == "Consumer" && actor.handled.durable == 1);
        if billing_idle && consumed && snapshot.queues.iter().all(|queue| queue.stats.acked == 1) {
            break snapshot;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    // A call that times out: to an actor blocked with room in its mailbox.
    let stuck = system.spawn_with::<Worker>(gate.clone(), SpawnOptions::new().kind("stuck")).await.unwrap();
    stuck.cast(Block).await.unwrap();
    assert_eq!(stuck.call_timeout(Ping, Duration::from_millis(20)).await, Err(CallError::Timeout));

    treeline::metrics::record(&snapshot, &system);
    let text = handle.render();

    assert_eq!(value(&text, r#"treeline_actor_spawns_total{kind="billing"}"#), Some(2.0), "{text}");
    assert_eq!(value(&text, r#"treeline_actor_exits_total{kind="billing",reason="error"}"#), Some(1.0), "{text}");
    assert_eq!(
        value(&text, r#"treeline_restarts_total{supervisor="Supervisor",child="billing"}"#),
        Some(1.0),
        "{text}"
    );
    assert_eq!(value(&text, r#"treeline_dead_letters_total{kind="slow",reason="mailbox_full"}"#), Some(3.0), "{text}");
    assert_eq!(value(&text, r#"treeline_call_timeouts_total{kind="stuck"}"#), Some(1.0), "{text}");
    // Sampled: one billing alive and idle, the slow one handling with two
    // messages waiting; messages handled include the dead incarnation's.
    assert_eq!(value(&text, r#"treeline_actors{kind="billing",status="idle"}"#), Some(1.0), "{text}");
    assert_eq!(value(&text, r#"treeline_actors{kind="slow",status="handling"}"#), Some(1.0), "{text}");
    assert_eq!(value(&text, r#"treeline_mailbox_depth{kind="slow"}"#), Some(2.0), "{text}");
    assert_eq!(value(&text, r#"treeline_mailbox_depth_max{kind="slow"}"#), Some(2.0), "{text}");
    assert_eq!(value(&text, r#"treeline_messages_handled_total{kind="billing",msg_kind="cast"}"#), Some(1.0), "{text}");
    assert_eq!(value(&text, r#"treeline_messages_handled_total{kind="billing",msg_kind="call"}"#), Some(1.0), "{text}");
    assert_eq!(
        value(&text, r#"treeline_messages_handled_total{kind="Consumer",msg_kind="durable"}"#),
        Some(1.0),
        "{text}"
    );
    assert_eq!(value(&text, r#"treeline_durable_acked_total{queue="jobs"}"#), Some(1.0), "{text}");
    assert_eq!(value(&text, r#"treeline_durable_pending{queue="jobs"}"#), Some(0.0), "{text}");
    assert!(value(&text, "treeline_journal_appends_total").is_some_and(|n| n >= 1.0), "{text}");
    assert!(value(&text, "treeline_journal_bytes_total").is_some_and(|n| n > 0.0), "{text}");
    assert!(text.contains(r#"treeline_message_handle_seconds{kind="billing",quantile="0.5"}"#), "{text}");
    // Time in the mailbox: the casts and the call billing's incarnations took.
    assert_eq!(value(&text, r#"treeline_message_queue_seconds_count{kind="billing"}"#), Some(2.0), "{text}");
    // No label is an actor id.
    assert!(!text.contains("<0."), "{text}");

    gate.notify_waiters();
    drop(consumer);
    system.shutdown().await;
}
