//! Idempotent producers: a durable cast or publish under a message id the
//! producer chose is stored once within the dedupe window, also when the
//! producer retries after a lost confirm, and across a crash.

use std::time::Duration;

use treeline::durable::{DurableError, DurableQueue, DurableSubscription, JournalConfig, StartFrom};
use treeline::test_util::{Crash, FaultyStorage};
use treeline::{Actor, Context, Durable, Event, ExitReason, HandleCast, HandleEvent, InitError, System};

use crate::support::{probe, Report, SHORT};

#[derive(Clone, Debug, Event, Durable)]
#[event(topic = "billing.charge")]
#[durable(tag = "test.IdCharge")]
struct Charge(u64);

/// Reports what it consumes, from a queue or a subscription.
struct Ledger(Report);

enum Source {
    Queue(DurableQueue<Charge>),
    Subscription(DurableSubscription<Charge>),
}

impl Actor for Ledger {
    type Args = (Report, Source);
    async fn init((report, source): Self::Args, ctx: &mut Context<Self>) -> Result<Self, InitError> {
        let attached = match &source {
            Source::Queue(queue) => ctx.consume(queue),
            Source::Subscription(subscription) => ctx.consume_events(subscription),
        };
        attached.map_err(|error| InitError::Stop(ExitReason::error(error)))?;
        Ok(Ledger(report))
    }
}

impl HandleCast<Charge> for Ledger {
    async fn handle_cast(&mut self, charge: Charge, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        let seq = ctx.delivery().expect("durable").seq;
        self.0.say(format!("#{seq} charge {}", charge.0));
        Ok(())
    }
}

impl HandleEvent<Charge> for Ledger {
    async fn handle_event(&mut self, charge: Charge, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        self.handle_cast(charge, ctx).await
    }
}

fn journal(storage: &FaultyStorage) -> System {
    System::with_journal(JournalConfig::storage(storage.clone())).expect("journal opens")
}

on_both_runtimes! {
    /// A repeated id is confirmed with the first copy's seq and stores
    /// nothing; other ids and plain casts are stored as usual.
    async fn a_repeated_message_id_is_stored_once() {
        let system = journal(&FaultyStorage::new());
        let queue = system.durable_queue::<Charge>("charges").await.unwrap();
        let first = queue.cast_with_id("order-7", Charge(1)).await.unwrap();
        assert_eq!(queue.cast_with_id("order-7", Charge(1)).await.unwrap(), first, "the retry");
        let other = queue.cast_with_id("order-8", Charge(2)).await.unwrap();
        let plain = queue.cast(Charge(3)).await.unwrap();
        assert_eq!((first, other, plain), (1, 2, 3));
        assert_eq!(queue.stats().pending, 3);
        let (report, mut probe) = probe();
        system.spawn::<Ledger>((report, Source::Queue(queue.clone()))).await.unwrap();
        assert_eq!(probe.take(3).await, ["#1 charge 1", "#2 charge 2", "#3 charge 3"]);
        queue.drained().await.unwrap();
        // Handled and acked: a retry still finds it.
        assert_eq!(queue.cast_with_id("order-7", Charge(1)).await.unwrap(), first);
        probe.expect_silence(SHORT).await;
        // Two sends of one id at once: the second waits for the first's
        // confirm and gets its seq.
        let (a, b) = tokio::join!(queue.cast_with_id("order-9", Charge(9)), queue.cast_with_id("order-9", Charge(9)));
        assert_eq!((a.unwrap(), b.unwrap()), (4, 4));
        assert_eq!(queue.stats().next_seq, 5);
        for bad in ["", &"x".repeat(256)] {
            let refused = queue.cast_with_id(bad, Charge(0)).await;
            assert!(matches!(&refused, Err(DurableError::InvalidMessageId(id)) if id == bad), "{refused:?}");
        }
    }
}

on_both_runtimes! {
    /// The producer-retry-after-lost-confirm case across a crash: the first
    /// cast reached the disk, the process died before the producer learned
    /// it, and the retry after the restart stores nothing.
    fn a_retry_after_a_crash_finds_the_id(runtime) {
        let storage = FaultyStorage::new();
        let leaked = runtime.block_on(async {
            let system = journal(&storage);
            let queue = system.durable_queue::<Charge>("charges").await.unwrap();
            let subscription: DurableSubscription<Charge> =
                system.durable_subscription("billing", StartFrom::New).await.unwrap();
            queue.cast_with_id("order-7", Charge(70)).await.unwrap();
            system.publish_durable_with_id("event-9", Charge(90)).await.unwrap();
            drop(subscription);
            system // never shut down: the process dies
        });
        std::mem::forget(leaked);
        for crash in [Crash::Process, Crash::PowerLoss] {
            let after = storage.crash(crash);
            runtime.block_on(async {
                let system = journal(&after);
                let queue = system.durable_queue::<Charge>("charges").await.unwrap();
                assert_eq!(queue.cast_with_id("order-7", Charge(70)).await.unwrap(), 1, "{crash:?}");
                let subscription = system.durable_subscription::<Charge>("billing", StartFrom::New).await.unwrap();
                let reach = system.publish_durable_with_id("event-9", Charge(90)).await.unwrap();
                assert_eq!(reach.durable, 1, "the subscription matched; it has the event already");
                assert_eq!((queue.stats().pending, subscription.stats().pending), (1, 1), "{crash:?}");
                let (report, mut probe) = probe();
                system.spawn::<Ledger>((report.clone(), Source::Queue(queue))).await.unwrap();
                system.spawn::<Ledger>((report, Source::Subscription(subscription))).await.unwrap();
                let mut seen = probe.take(2).await;
                seen.sort();
                assert_eq!(seen, ["#1 charge 70", "#1 charge 90"]);
                probe.expect_silence(SHORT).await;
            });
        }
    }
}

on_both_runtimes! {
    /// With a zero window nothing is remembered: every cast is stored.
    async fn a_zero_dedupe_window_remembers_nothing() {
        let config = JournalConfig::storage(FaultyStorage::new()).dedupe_window(Duration::ZERO);
        let system = System::with_journal(config).unwrap();
        let queue = system.durable_queue::<Charge>("charges").await.unwrap();
        assert_eq!(queue.cast_with_id("order-7", Charge(1)).await.unwrap(), 1);
        assert_eq!(queue.cast_with_id("order-7", Charge(1)).await.unwrap(), 2);
    }
}

on_both_runtimes! {
    /// Segments holding ids within the window are not reclaimed, even when
    /// every message in them was handled: the ids outlive the messages.
    fn ids_outlive_their_handled_messages_and_a_crash(runtime) {
        let storage = FaultyStorage::new();
        let leaked = runtime.block_on(async {
            let system = System::with_journal(JournalConfig::storage(storage.clone()).segment_size(4096)).unwrap();
            let queue = system.durable_queue::<Charge>("charges").await.unwrap();
            for n in 0..200 {
                queue.cast_with_id(&format!("order-{n}"), Charge(n)).await.unwrap();
            }
            let (report, _probe) = probe();
            system.spawn::<Ledger>((report, Source::Queue(queue.clone()))).await.unwrap();
            queue.drained().await.unwrap();
            assert!(system.journal_stats().unwrap().segments > 2, "the ids span several segments");
            system
        });
        std::mem::forget(leaked);
        let after = storage.crash(Crash::Process);
        runtime.block_on(async {
            let system = journal(&after);
            let queue = system.durable_queue::<Charge>("charges").await.unwrap();
            assert_eq!(queue.cast_with_id("order-0", Charge(0)).await.unwrap(), 1, "the oldest id is still known");
            assert_eq!(queue.cast_with_id("order-199", Charge(199)).await.unwrap(), 200);
            assert_eq!(queue.stats().pending, 0, "nothing stored again");
        });
    }
}
