//! Durable mailboxes: persistence across crashes and restarts, redelivery, delivery
//! limits, dead letters, bad input, journal faults and reclamation.
//!
//! In-process crashes use `FaultyStorage::crash`: the old runtime is dropped
//! without any shutdown (no terminate, no flush beyond what the journal
//! already wrote), and a new System opens what the crash left. The real
//! kill -9 test is `tests/kill9.rs`.

use std::collections::HashSet;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::Semaphore;
use treeline::durable::{
    CodecError, Consume, DurableDeadLetter, DurableDeadLetterReason, DurableError, DurableQueue, JournalConfig,
};
use treeline::journal::{JournalError, Recovery};
use treeline::test_util::{Crash, FaultyStorage};
use treeline::{
    Actor, ChildSpec, Context, Durable, ExitReason, HandleCast, HandleEvent, InitError, Supervisor, System,
};

use crate::support::{probe, settle, until, within, Probe, Report, SHORT};

/// A durable test message.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Msg(String);

impl Durable for Msg {
    const TAG: &'static str = "test.Msg";

    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        if self.0 == "unencodable" {
            return Err(CodecError::new("refuses to encode"));
        }
        out.extend_from_slice(self.0.as_bytes());
        Ok(())
    }

    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        if bytes == b"undecodable" {
            return Err(CodecError::new("refuses to decode"));
        }
        String::from_utf8(bytes.to_vec()).map(Msg).map_err(|e| CodecError::new(e.to_string()))
    }
}

fn m(text: &str) -> Msg {
    Msg(text.to_owned())
}

/// How a [`Worker`] behaves.
#[derive(Clone)]
struct Plan {
    report: Report,
    queue: Option<DurableQueue<Msg>>,
    consume: Consume,
    /// Messages whose next delivery panics (once each).
    crash_once: Arc<Mutex<HashSet<String>>>,
    /// Messages that always panic.
    poison: HashSet<String>,
    /// Handlers wait for a permit first.
    gate: Option<Arc<Semaphore>>,
    /// Messages acked explicitly before panicking.
    ack_then_crash: HashSet<String>,
}

impl Plan {
    fn new(report: &Report) -> Plan {
        Plan {
            report: report.clone(),
            queue: None,
            consume: Consume::new(),
            crash_once: Arc::default(),
            poison: HashSet::new(),
            gate: None,
            ack_then_crash: HashSet::new(),
        }
    }

    fn consuming(mut self, queue: &DurableQueue<Msg>) -> Plan {
        self.queue = Some(queue.clone());
        self
    }

    fn crash_once(self, text: &str) -> Plan {
        self.crash_once.lock().insert(text.to_owned());
        self
    }
}

/// Reports `msg,attempt,redelivered` when a durable message's handler starts.
struct Worker {
    plan: Plan,
}

impl Actor for Worker {
    type Args = Plan;

    async fn init(plan: Plan, ctx: &mut Context<Self>) -> Result<Self, InitError> {
        if let Some(queue) = &plan.queue {
            ctx.consume_with(queue, plan.consume).map_err(|e| InitError::Stop(ExitReason::error(e)))?;
        }
        Ok(Worker { plan })
    }
}

impl HandleCast<Msg> for Worker {
    async fn handle_cast(&mut self, msg: Msg, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        match ctx.delivery() {
            Some(d) => self.plan.report.say(format!("{},{},{}", msg.0, d.attempt, d.redelivered)),
            None => self.plan.report.say(format!("{},transient", msg.0)),
        }
        if let Some(gate) = &self.plan.gate {
            gate.acquire().await.expect("gate open").forget();
        }
        if self.plan.ack_then_crash.contains(&msg.0) {
            assert!(ctx.ack());
            assert!(!ctx.ack(), "acked twice");
            panic!("crash after an explicit ack");
        }
        if self.plan.poison.contains(&msg.0) || self.plan.crash_once.lock().remove(&msg.0) {
            panic!("poison {}", msg.0);
        }
        Ok(())
    }
}

/// Collects durable dead letters.
struct Auditor(Report);

impl Actor for Auditor {
    type Args = Report;

    async fn init(report: Report, ctx: &mut Context<Self>) -> Result<Self, InitError> {
        ctx.subscribe::<DurableDeadLetter>().map_err(|e| InitError::Stop(ExitReason::error(e)))?;
        Ok(Auditor(report))
    }
}

impl HandleEvent<DurableDeadLetter> for Auditor {
    async fn handle_event(&mut self, letter: DurableDeadLetter, _: &mut Context<Self>) -> Result<(), ExitReason> {
        let cause = match &letter.reason {
            DurableDeadLetterReason::DeliveryLimit { last_exit: Some(reason) } => format!("limit after {reason}"),
            DurableDeadLetterReason::DeliveryLimit { last_exit: None } => "limit".to_owned(),
            DurableDeadLetterReason::Undecodable(error) => format!("undecodable: {}", error.why()),
            other => format!("{other}"),
        };
        let payload = String::from_utf8_lossy(&letter.payload);
        self.0.say(format!("dead {}#{} {payload} x{} {cause}", letter.queue, letter.seq, letter.attempts));
        Ok(())
    }
}

fn journal(storage: &FaultyStorage) -> System {
    System::with_journal(JournalConfig::storage(storage.clone())).expect("journal opens")
}

/// Sends each message and waits for its confirm.
async fn send_all(queue: &DurableQueue<Msg>, texts: &[&str]) {
    for text in texts {
        within("confirm", queue.cast(m(text))).await.expect("persisted");
    }
}

async fn expect_all(probe: &mut Probe, expected: &[&str]) {
    assert_eq!(probe.take(expected.len()).await, expected, "seen: {:?}", probe.seen());
}

on_both_runtimes! {
    /// DUR-01: an unacked message is redelivered to the restarted actor, flagged,
    /// before the next one; an acked one never comes back.
    async fn dur01_unacked_message_is_redelivered_to_the_restarted_actor() {
        let system = journal(&FaultyStorage::new());
        let queue = system.durable_queue::<Msg>("d").await.unwrap();
        let (report, mut probe) = probe();
        let plan = Plan::new(&report).consuming(&queue).crash_once("m2");
        let child = ChildSpec::<Worker>::worker("d", plan);
        let _sup = system.start(Supervisor::one_for_one().intensity(5, std::time::Duration::from_secs(5)).child(child));
        let _sup = _sup.await.unwrap();
        send_all(&queue, &["m1", "m2", "m3"]).await;
        expect_all(&mut probe, &["m1,1,false", "m2,1,false", "m2,2,true", "m3,1,false"]).await;
        probe.expect_silence(SHORT).await;
        let stats = queue.stats();
        assert_eq!((stats.pending, stats.acked, stats.dead_lettered), (0, 3, 0));
    }
}

on_both_runtimes! {
    /// A cast sent while no actor consumes waits in the journal.
    async fn messages_wait_for_a_consumer() {
        let system = journal(&FaultyStorage::new());
        let queue = system.durable_queue::<Msg>("later").await.unwrap();
        send_all(&queue, &["a", "b"]).await;
        assert_eq!(queue.stats().pending, 2);
        let (report, mut probe) = probe();
        system.spawn::<Worker>(Plan::new(&report).consuming(&queue)).await.unwrap();
        expect_all(&mut probe, &["a,1,false", "b,1,false"]).await;
    }
}

/// Runs `phase` on a fresh current-thread runtime with paused time, then
/// drops the runtime without any shutdown: what the process leaves at a
/// kill.
fn in_runtime<T>(phase: impl std::future::Future<Output = T>) -> T {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap();
    runtime.block_on(phase)
}

on_both_runtimes! {
    /// DUR-03: persisted, unprocessed messages survive a full restart, in order;
    /// the one in flight comes back flagged; a transient cast does not survive.
    fn dur03_persisted_messages_survive_a_full_restart_in_order(runtime) {
        let storage = FaultyStorage::new();
        let (report, mut probe) = probe();
        let leaked = runtime.block_on(async {
            let system = journal(&storage);
            let queue = system.durable_queue::<Msg>("d").await.unwrap();
            let mut plan = Plan::new(&report).consuming(&queue);
            plan.gate = Some(Arc::new(Semaphore::new(0)));
            let worker = system.spawn::<Worker>(plan).await.unwrap();
            send_all(&queue, &["m1", "m2", "m3", "m4", "m5"]).await;
            worker.try_cast(m("t1")).unwrap();
            probe.expect("m1,1,false").await; // m1 in flight, blocked on the gate
            system // never shut down
        });
        // The process dies: everything written survives, nothing else runs.
        let after = storage.crash(Crash::Process);
        std::mem::forget(leaked);
        runtime.block_on(async {
            let system = journal(&after);
            let queue = system.durable_queue::<Msg>("d").await.unwrap();
            let (report, mut probe) = crate::support::probe();
            system.spawn::<Worker>(Plan::new(&report).consuming(&queue)).await.unwrap();
            expect_all(&mut probe, &["m1,2,true", "m2,1,false", "m3,1,false", "m4,1,false", "m5,1,false"]).await;
            probe.expect_silence(SHORT).await;
        });
    }
}

on_both_runtimes! {
    /// DUR-05: with window 1 only the message in hand comes back redelivered;
    /// with window 10 everything already handed over does.
    async fn dur05_window_decides_what_comes_back_redelivered() {
        for (window, expected) in [
            (1, ["m2,1,false", "m2,2,true", "m3,1,false", "m4,1,false"]),
            (10, ["m2,1,false", "m2,2,true", "m3,2,true", "m4,2,true"]),
        ] {
            let system = journal(&FaultyStorage::new());
            let queue = system.durable_queue::<Msg>("d").await.unwrap();
            let (report, mut probe) = probe();
            let gate = Arc::new(Semaphore::new(0));
            let mut plan = Plan::new(&report).consuming(&queue).crash_once("m2");
            plan.consume = Consume::new().window(window);
            plan.gate = Some(gate.clone());
            let child = ChildSpec::<Worker>::worker("d", plan);
            let _sup = system.start(Supervisor::one_for_one().child(child)).await.unwrap();
            send_all(&queue, &["m1", "m2", "m3", "m4"]).await;
            probe.expect("m1,1,false").await;
            assert_eq!(queue.stats().in_flight, window.min(4), "window {window} filled");
            gate.add_permits(1_000);
            expect_all(&mut probe, &expected).await;
            probe.expect_silence(SHORT).await;
            assert_eq!(queue.stats().pending, 0);
            system.shutdown().await;
        }
    }
}

on_both_runtimes! {
    /// A poison message is dead-lettered after the delivery limit, with its
    /// attempts and last exit reason, and the consumer goes on with the next.
    async fn a_poison_message_is_dead_lettered_after_the_limit() {
        let system = journal(&FaultyStorage::new());
        let queue = system.durable_queue::<Msg>("billing").await.unwrap();
        let (report, mut probe) = probe();
        system.spawn::<Auditor>(report.clone()).await.unwrap();
        let mut plan = Plan::new(&report).consuming(&queue);
        plan.poison.insert("bad".to_owned());
        plan.consume = Consume::new().delivery_limit(3);
        let child = ChildSpec::<Worker>::worker("billing", plan);
        let _sup = system.start(Supervisor::one_for_one().intensity(10, std::time::Duration::from_secs(5)).child(child));
        let _sup = _sup.await.unwrap();
        send_all(&queue, &["ok1", "bad", "ok2"]).await;
        expect_all(&mut probe, &["ok1,1,false", "bad,1,false", "bad,2,true", "bad,3,true"]).await;
        let rest = probe.take(2).await;
        assert!(rest.contains(&"ok2,1,false".to_owned()), "{rest:?}");
        let dead = rest.iter().find(|event| event.starts_with("dead")).expect("a dead letter");
        assert!(dead.starts_with("dead billing#2 bad x3 limit after panicked: poison bad"), "{dead}");
        until("ok2 acked", || queue.stats().acked == 2).await;
        let stats = queue.stats();
        assert_eq!((stats.pending, stats.acked, stats.dead_lettered), (0, 2, 1));
    }
}

on_both_runtimes! {
    /// Bytes that no longer decode are dead-lettered, not dropped, and not
    /// counted as a delivery the handler saw.
    async fn an_undecodable_message_is_dead_lettered() {
        let system = journal(&FaultyStorage::new());
        let queue = system.durable_queue::<Msg>("q").await.unwrap();
        let (report, mut probe) = probe();
        system.spawn::<Auditor>(report.clone()).await.unwrap();
        send_all(&queue, &["a", "undecodable", "b"]).await;
        system.spawn::<Worker>(Plan::new(&report).consuming(&queue)).await.unwrap();
        let mut seen = probe.take(3).await;
        seen.sort();
        assert_eq!(seen, ["a,1,false", "b,1,false", "dead q#2 undecodable x1 undecodable: refuses to decode"]);
    }
}

on_both_runtimes! {
    /// `Context::ack` acks before the handler returns: a later panic does not
    /// bring the message back. The ack frees the window, so the next message was
    /// already handed over when the handler failed: it comes back flagged.
    async fn an_explicit_ack_holds_even_if_the_handler_then_fails() {
        let system = journal(&FaultyStorage::new());
        let queue = system.durable_queue::<Msg>("q").await.unwrap();
        let (report, mut probe) = probe();
        let mut plan = Plan::new(&report).consuming(&queue);
        plan.ack_then_crash.insert("x".to_owned());
        let _sup = system.start(Supervisor::one_for_one().child(ChildSpec::<Worker>::worker("w", plan))).await.unwrap();
        send_all(&queue, &["x", "y"]).await;
        // x is never redelivered; y may have been handed to the incarnation
        // that crashed (then it comes back flagged) or not, as scheduling has
        // it.
        let seen = probe.take(2).await;
        assert!(seen == ["x,1,false", "y,2,true"] || seen == ["x,1,false", "y,1,false"], "{seen:?}");
        probe.expect_silence(SHORT).await;
    }
}

on_both_runtimes! {
    async fn bad_input_gets_typed_errors() {
        // No journal.
        let plain = System::new();
        assert!(matches!(plain.durable_queue::<Msg>("q").await, Err(DurableError::NoJournal)));
        assert!(plain.journal_stats().is_none());

        let storage = FaultyStorage::new();
        let system = journal(&storage);
        // A name reused for another message type.
        system.durable_queue::<Msg>("orders").await.unwrap();
        match system.durable_queue::<String>("orders").await {
            Err(DurableError::TypeMismatch { queue, stored, requested }) => {
                assert_eq!((queue.as_str(), stored.as_str(), requested.as_str()), ("orders", "test.Msg", "String"));
            }
            other => panic!("expected a type mismatch, got {other:?}"),
        }
        assert!(matches!(system.durable_queue::<Msg>("").await, Err(DurableError::InvalidName(_))));
        // A message that does not encode is refused, and nothing is persisted.
        let queue = system.durable_queue::<Msg>("orders").await.unwrap();
        assert!(matches!(queue.cast(m("unencodable")).await, Err(DurableError::Codec(_))));
        assert_eq!(queue.stats().next_seq, 1);
        // A second consumer while the first lives.
        let (report, _probe) = probe();
        let first = system.spawn::<Worker>(Plan::new(&report).consuming(&queue)).await.unwrap();
        match system.spawn::<Worker>(Plan::new(&report).consuming(&queue)).await {
            Err(treeline::actor::StartError::Exit(reason)) => {
                assert!(matches!(reason.downcast_ref::<DurableError>(), Some(DurableError::AlreadyConsumed { .. })));
            }
            other => panic!("expected AlreadyConsumed, got {other:?}"),
        }
        // Once the first consumer is gone, another may consume.
        first.stop(ExitReason::Normal).await.unwrap();
        system.spawn::<Worker>(Plan::new(&report).consuming(&queue)).await.unwrap();
        // The same journal twice.
        assert!(matches!(System::with_journal(JournalConfig::storage(storage.clone())), Err(JournalError::Locked)));
    }
}

#[test]
fn a_journal_directory_is_locked_against_a_second_system() {
    let dir = std::env::temp_dir().join(format!("treeline-lock-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let first = System::with_journal(JournalConfig::dir(&dir)).unwrap();
    assert!(matches!(System::with_journal(JournalConfig::dir(&dir)), Err(JournalError::Locked)));
    drop(first);
    let again = System::with_journal(JournalConfig::dir(&dir)).unwrap();
    drop(again);
    // A path that cannot be a directory.
    let file = dir.join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    assert!(matches!(System::with_journal(JournalConfig::dir(file.join("j"))), Err(JournalError::Io(_))));
    std::fs::remove_dir_all(&dir).unwrap();
}

on_both_runtimes! {
    /// A failed fsync fails the send that waited on it and poisons the journal:
    /// no later send is confirmed (fsyncgate), and nothing unconfirmed is
    /// delivered by this process.
    async fn a_failed_fsync_poisons_the_journal() {
        let storage = FaultyStorage::new();
        let system = journal(&storage);
        let queue = system.durable_queue::<Msg>("q").await.unwrap();
        send_all(&queue, &["kept"]).await;
        storage.fail_next_sync();
        assert!(matches!(queue.cast(m("lost")).await, Err(DurableError::Journal(JournalError::Io(_)))));
        assert!(matches!(queue.cast(m("later")).await, Err(DurableError::Journal(JournalError::Poisoned(_)))));
        let (report, mut probe) = probe();
        system.spawn::<Worker>(Plan::new(&report).consuming(&queue)).await.unwrap();
        probe.expect("kept,1,false").await;
        probe.expect_silence(SHORT).await;
    }
}

on_both_runtimes! {
    /// A full disk: the send that hits it fails with a typed error (and the
    /// journal refuses every later write); nothing confirmed before is lost.
    fn a_full_disk_fails_sends_and_loses_nothing_confirmed(runtime) {
        let storage = FaultyStorage::new();
        let leaked = runtime.block_on(async {
            let system = journal(&storage);
            let queue = system.durable_queue::<Msg>("q").await.unwrap();
            send_all(&queue, &["a", "b"]).await;
            storage.fail_after(0);
            match queue.cast(m("c")).await {
                Err(DurableError::Journal(JournalError::Io(error))) => {
                    assert_eq!(error.kind(), std::io::ErrorKind::StorageFull);
                }
                other => panic!("expected a full disk, got {other:?}"),
            }
            assert!(matches!(queue.cast(m("d")).await, Err(DurableError::Journal(JournalError::Poisoned(_)))));
            system
        });
        std::mem::forget(leaked);
        let after = storage.crash(Crash::PowerLoss);
        runtime.block_on(async {
            let system = journal(&after);
            let queue = system.durable_queue::<Msg>("q").await.unwrap();
            let (report, mut probe) = crate::support::probe();
            system.spawn::<Worker>(Plan::new(&report).consuming(&queue)).await.unwrap();
            expect_all(&mut probe, &["a,1,false", "b,1,false"]).await;
            probe.expect_silence(SHORT).await;
        });
    }
}

on_both_runtimes! {
    /// Confirmed messages survive a power loss (only synced data remains), and
    /// a torn tail is cut back: nothing confirmed is lost, nothing is invented.
    fn confirmed_messages_survive_power_loss(runtime) {
        for crash in [Crash::PowerLoss, Crash::PowerLossTorn { seed: 7 }, Crash::PowerLossTorn { seed: 99 }] {
            let storage = FaultyStorage::new();
            let leaked = runtime.block_on(async {
                let system = journal(&storage);
                let queue = system.durable_queue::<Msg>("q").await.unwrap();
                send_all(&queue, &["a", "b", "c"]).await;
                system
            });
            std::mem::forget(leaked);
            let after = storage.crash(crash);
            runtime.block_on(async {
                let system = journal(&after);
                let queue = system.durable_queue::<Msg>("q").await.unwrap();
                let (report, mut probe) = probe();
                system.spawn::<Worker>(Plan::new(&report).consuming(&queue)).await.unwrap();
                expect_all(&mut probe, &["a,1,false", "b,1,false", "c,1,false"]).await;
                probe.expect_silence(SHORT).await;
            });
        }
    }
}

on_both_runtimes! {
    /// Acked messages free whole segments; a segment pinned by one old unacked
    /// message is compacted (copied forward) so disk use stays bounded, and the
    /// pinned message survives a restart with its attempt count.
    fn disk_use_stays_bounded_and_pinned_messages_are_copied_forward(runtime) {
        let storage = FaultyStorage::new();
        let config = || JournalConfig::storage(storage.clone()).segment_size(4096);
        let (report, mut probe) = probe();
        let leaked = runtime.block_on(async {
            let system = System::with_journal(config()).unwrap();
            let pinned = system.durable_queue::<Msg>("pinned").await.unwrap();
            let busy = system.durable_queue::<Msg>("busy").await.unwrap();
            // The pinned queue's consumer holds its one message forever.
            let mut plan = Plan::new(&report).consuming(&pinned);
            plan.gate = Some(Arc::new(Semaphore::new(0)));
            system.spawn::<Worker>(plan).await.unwrap();
            send_all(&pinned, &["old"]).await;
            probe.expect("old,1,false").await;
            let (quiet, _quiet_probe) = crate::support::probe();
            system.spawn::<Worker>(Plan::new(&quiet).consuming(&busy)).await.unwrap();
            let mut most = 0;
            for n in 0..3_000 {
                within("confirm", busy.cast(m(&format!("message {n:05} with some padding")))).await.unwrap();
                if n % 100 == 99 {
                    // Let the consumer catch up (it yields to the producer every
                    // 128 units of tokio's budget, as any tokio task does).
                    until("caught up", || busy.stats().pending == 0).await;
                    most = most.max(system.journal_stats().unwrap().segments);
                }
            }
            // 3,000 records of ~60 bytes need ~40 segments of 4 KiB; reclaimed
            // as they go, a handful exist at any time.
            assert!(most <= 8, "at most {most} segments at once");
            until("drained", || busy.stats().pending == 0).await;
            system
        });
        std::mem::forget(leaked);
        let after = storage.crash(Crash::Process);
        runtime.block_on(async {
            let system = System::with_journal(JournalConfig::storage(after.clone()).segment_size(4096)).unwrap();
            let stats = system.journal_stats().unwrap();
            assert!(stats.segments <= 8, "{stats:?}");
            let pinned = system.durable_queue::<Msg>("pinned").await.unwrap();
            let busy = system.durable_queue::<Msg>("busy").await.unwrap();
            assert_eq!(busy.stats().pending, 0, "acked messages are gone for good");
            assert_eq!(busy.stats().next_seq, 3_001, "sequence numbers are never reused");
            let (report, mut probe) = crate::support::probe();
            system.spawn::<Worker>(Plan::new(&report).consuming(&pinned)).await.unwrap();
            probe.expect("old,2,true").await;
        });
    }
}

/// Reopens `storage` (a crash copy) and returns the messages the queue `q`
/// delivers, in order, as `text,attempt`.
fn reopen_and_drain(storage: &FaultyStorage) -> Result<Vec<String>, JournalError> {
    reopen_and_drain_with(storage, Recovery::Refuse)
}

fn reopen_and_drain_with(storage: &FaultyStorage, policy: Recovery) -> Result<Vec<String>, JournalError> {
    in_runtime(async {
        let config = JournalConfig::storage(storage.clone()).segment_size(4096).recovery(policy);
        let system = System::with_journal(config)?;
        let queue = system.durable_queue::<Msg>("q").await.expect("queue opens");
        let pending = queue.stats().pending as usize;
        let (report, mut probe) = crate::support::probe();
        system.spawn::<Worker>(Plan::new(&report).consuming(&queue)).await.unwrap();
        let seen = probe.take(pending).await;
        probe.expect_silence(SHORT).await;
        Ok(seen)
    })
}

/// A small log: a queue, five messages, the first two handled and acked.
fn small_log() -> (FaultyStorage, String) {
    let storage = FaultyStorage::new();
    let leaked = in_runtime(async {
        let system = System::with_journal(JournalConfig::storage(storage.clone()).segment_size(4096)).unwrap();
        let queue = system.durable_queue::<Msg>("q").await.unwrap();
        let (report, mut probe) = crate::support::probe();
        send_all(&queue, &["m1", "m2"]).await;
        let worker = system.spawn::<Worker>(Plan::new(&report).consuming(&queue)).await.unwrap();
        expect_all(&mut probe, &["m1,1,false", "m2,1,false"]).await;
        until("acks", || queue.stats().acked == 2).await;
        worker.stop(ExitReason::Normal).await.unwrap();
        let other = system.durable_queue::<Msg>("other").await.unwrap();
        send_all(&other, &["x"]).await;
        send_all(&queue, &["m3", "m4", "m5"]).await;
        system
    });
    std::mem::forget(leaked);
    let segment = storage.crash(Crash::Process).list_segments().pop().expect("one segment");
    (storage, segment)
}

trait Segments {
    fn list_segments(&self) -> Vec<String>;
}

impl Segments for FaultyStorage {
    fn list_segments(&self) -> Vec<String> {
        use treeline::journal::Storage;
        self.list().unwrap().into_iter().filter(|name| name.ends_with(".seg")).collect()
    }
}

/// A segment is created at its full size, so a file cut at any offset is
/// damage, refused by default with an error naming the segment and where it
/// was cut (a cut at a record boundary used to read as a clean end, and
/// acked messages came back). Opened under `Recovery::SkipDamaged`, what
/// survives is a prefix of the history, in order, nothing invented, and the
/// journal opens cleanly after that.
#[test]
fn truncation_at_every_offset_is_refused_and_skipping_it_recovers_a_prefix() {
    use treeline::journal::Storage;
    let (storage, segment) = small_log();
    let image = storage.live(&segment).unwrap();
    let end = image.iter().rposition(|&b| b != 0).unwrap() + 1;
    let full = reopen_and_drain(&storage.crash(Crash::Process)).unwrap();
    assert_eq!(full, ["m3,1,false", "m4,1,false", "m5,1,false"]);
    let mut last = Vec::new();
    for cut in 0..=end {
        let copy = storage.crash(Crash::Process);
        copy.open(&segment, false).unwrap().set_len(cut as u64).unwrap();
        match reopen_and_drain(&copy) {
            Err(JournalError::Corrupt { segment: file, .. }) => assert_eq!(file, segment, "cut at {cut}"),
            other => panic!("cut at {cut}: expected the damage named, got {other:?}"),
        }
        let seen = reopen_and_drain_with(&copy, Recovery::SkipDamaged).unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
        if let Err(error) = reopen_and_drain(&copy) {
            panic!("cut at {cut}: the journal restated after skipping must reopen clean: {error}");
        }
        // A prefix of the full history: m1 and m2 may come back while their
        // acks are cut off (attempt 2: their delivery marks survived).
        let texts: Vec<&str> = seen.iter().map(|s| s.split(',').next().unwrap()).collect();
        let all = ["m1", "m2", "m3", "m4", "m5"];
        let start = all.iter().position(|m| Some(m) == texts.first()).unwrap_or(0);
        assert_eq!(texts, all[start..start + texts.len()], "cut at {cut}: {seen:?}");
        last = texts.iter().map(|s| s.to_string()).collect();
    }
    assert_eq!(last, ["m3", "m4", "m5"]);
}

/// A flipped bit anywhere in the log is caught by a CRC: recovery cuts back
/// to the record before it (this is the last segment) or fails with a typed
/// error; it never panics and never delivers bytes that were not sent.
#[test]
fn bit_flips_never_invent_messages() {
    let (storage, segment) = small_log();
    let end = storage.live(&segment).unwrap().iter().rposition(|&b| b != 0).unwrap() + 1;
    for offset in 0..end {
        let copy = storage.crash(Crash::Process);
        copy.flip(&segment, offset, (offset % 8) as u8);
        match reopen_and_drain(&copy) {
            Ok(seen) => {
                for delivery in &seen {
                    let text = delivery.split(',').next().unwrap();
                    assert!(["m1", "m2", "m3", "m4", "m5"].contains(&text), "flip at {offset}: invented {delivery}");
                }
            }
            Err(JournalError::Corrupt { .. }) => {}
            Err(other) => panic!("flip at {offset}: unexpected {other}"),
        }
    }
}

on_both_runtimes! {
    /// Once the journal refuses writes (poisoned here; closed works the same),
    /// acks still free space in the store's accounting, so a compaction falls
    /// due and fails at once: it must not be retried by its own failure
    /// callback without end (it was: the handler below never got its turn).
    async fn a_compaction_that_cannot_be_written_is_not_retried_without_end() {
        let storage = FaultyStorage::new();
        let system = System::with_journal(JournalConfig::storage(storage.clone()).segment_size(4096)).unwrap();
        let pinned = system.durable_queue::<Msg>("pinned").await.unwrap();
        let busy = system.durable_queue::<Msg>("busy").await.unwrap();
        let (report, mut probe) = probe();
        let mut plan = Plan::new(&report).consuming(&pinned);
        plan.gate = Some(Arc::new(Semaphore::new(0)));
        system.spawn::<Worker>(plan).await.unwrap();
        send_all(&pinned, &["old"]).await;
        probe.expect("old,1,false").await; // in flight for good: it pins its segment
        let (busy_report, mut busy_probe) = crate::support::probe();
        let gate = Arc::new(Semaphore::new(0));
        let mut plan = Plan::new(&busy_report).consuming(&busy);
        plan.gate = Some(gate.clone());
        plan.consume = Consume::new().window(200);
        system.spawn::<Worker>(plan).await.unwrap();
        for n in 0..100 {
            busy.cast(m(&format!("message {n:05} with some padding"))).await.unwrap();
        }
        storage.fail_next_sync();
        assert!(busy.cast(m("poisons")).await.is_err());
        gate.add_permits(1_000);
        for n in 0..100 {
            busy_probe.expect(&format!("message {n:05} with some padding,1,false")).await;
        }
        within("shutdown", system.shutdown()).await;
    }
}

/// A torn tail of the last segment (what a crash in the middle of a write
/// leaves) is cut at open, and the cut is reported: in `JournalStats` and by
/// a `tracing` warning, never silently.
#[test]
fn a_torn_tail_cut_at_open_is_reported() {
    use treeline::journal::Storage;
    let (storage, segment) = small_log();
    let after = storage.crash(Crash::Process);
    let bytes = after.live(&segment).expect("the segment");
    let end = bytes.iter().rposition(|&b| b != 0).expect("records") + 1;
    // Half a record header: the start of a write that never finished.
    let torn = [40u8, 0, 0, 0, 0x5a, 0xa5, 0x5a];
    after.open(&segment, false).unwrap().write_all_at(end as u64, &torn).unwrap();
    let drained = reopen_and_drain(&after).expect("a torn tail is repaired");
    assert_eq!(drained, ["m3,1,false", "m4,1,false", "m5,1,false"]);
    let stats = in_runtime(async {
        let system = System::with_journal(JournalConfig::storage(after.clone()).segment_size(4096)).unwrap();
        system.journal_stats().unwrap()
    });
    assert_eq!(stats.torn_tail_bytes, 0, "cut once, at the open that found it");
    let again = storage.crash(Crash::Process);
    again.open(&segment, false).unwrap().write_all_at(end as u64, &torn).unwrap();
    let stats = in_runtime(async {
        let system = System::with_journal(JournalConfig::storage(again.clone()).segment_size(4096)).unwrap();
        system.journal_stats().unwrap()
    });
    assert_eq!(stats.torn_tail_bytes, torn.len() as u64);
}

on_both_runtimes! {
    /// A send after the System shut down is `DurableError::Closed`, a
    /// variant of its own (not a journal failure): nothing more is persisted,
    /// and what was confirmed before is still there at the next open.
    async fn a_send_after_shutdown_is_closed() {
        let storage = FaultyStorage::new();
        let system = journal(&storage);
        let queue = system.durable_queue::<Msg>("q").await.unwrap();
        send_all(&queue, &["before"]).await;
        system.shutdown().await;
        assert!(matches!(queue.cast(m("after")).await, Err(DurableError::Closed)));
        let again = journal(&storage);
        assert_eq!(again.durable_queue::<Msg>("q").await.unwrap().stats().pending, 1);
    }
}

on_both_runtimes! {
    /// `drained` resolves once every message was handled (a redelivered one
    /// included), without polling; a queue nobody consumes stays undrained
    /// until the System shuts down, which ends the wait with `Closed`.
    async fn drained_waits_for_the_last_ack_and_ends_at_shutdown() {
        let system = journal(&FaultyStorage::new());
        let queue = system.durable_queue::<Msg>("d").await.unwrap();
        within("an empty queue", queue.drained()).await.unwrap();
        send_all(&queue, &["m1", "m2", "m3"]).await;
        let (report, _probe) = probe();
        let child = ChildSpec::<Worker>::worker("d", Plan::new(&report).consuming(&queue).crash_once("m2"));
        let _sup = system.start(Supervisor::one_for_one().child(child)).await.unwrap();
        within("drained", queue.drained()).await.unwrap();
        let stats = queue.stats();
        assert_eq!((stats.pending, stats.acked), (0, 3), "every message acked when drained returns");

        let idle = system.durable_queue::<Msg>("idle").await.unwrap();
        send_all(&idle, &["waits"]).await;
        let waiting = tokio::spawn({
            let idle = idle.clone();
            async move { idle.drained().await }
        });
        settle().await;
        assert!(!waiting.is_finished(), "a message waits for a consumer");
        system.shutdown().await;
        assert!(matches!(within("closed", waiting).await.unwrap(), Err(DurableError::Closed)));
    }
}
