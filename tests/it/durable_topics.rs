//! Durable topic subscriptions and event logs: every event published
//! durably after a subscription was created reaches it, even while its
//! consumer is dead or the process is down; replay from the log's retained
//! history; plain subscribers stay at-most-once.

use treeline::durable::{CodecError, DurableError, DurableSubscription, JournalConfig, Retention, StartFrom};
use treeline::registry::PublishOptions;
use treeline::test_util::{Crash, FaultyStorage};
use treeline::topic::Topic;
use treeline::{
    Actor, ChildSpec, Context, Durable, Event, ExitReason, HandleCall, HandleEvent, InitError, Reply, Supervisor,
    System,
};

use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::support::{probe, until, Probe, Report, SHORT};

#[derive(Clone, Debug, PartialEq, Eq)]
struct Placed(u64);

impl Event for Placed {
    const TOPIC: &'static str = "orders.placed";
}

impl Durable for Placed {
    const TAG: &'static str = "test.Placed";

    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        self.0.encode(out)
    }

    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        u64::decode(bytes).map(Placed)
    }
}

/// Consumes a durable subscription (if given) or subscribes plainly, and
/// reports `name:order,attempt`; panics on order 13 the first time.
struct Listener {
    name: &'static str,
    report: Report,
    crashed: bool,
    stuck_on: Option<(u64, Arc<Semaphore>)>,
}

#[derive(Clone)]
struct Args {
    name: &'static str,
    report: Report,
    durable: Option<DurableSubscription<Placed>>,
    /// Handling this order waits for a permit (it stays in flight, unacked).
    stuck_on: Option<(u64, Arc<Semaphore>)>,
}

impl Args {
    fn new(name: &'static str, report: &Report, durable: Option<DurableSubscription<Placed>>) -> Args {
        Args { name, report: report.clone(), durable, stuck_on: None }
    }
}

impl Actor for Listener {
    type Args = Args;

    async fn init(args: Args, ctx: &mut Context<Self>) -> Result<Self, InitError> {
        match &args.durable {
            Some(sub) => ctx.consume_events(sub).map_err(|e| InitError::Stop(ExitReason::error(e)))?,
            None => ctx.subscribe::<Placed>().map_err(|e| InitError::Stop(ExitReason::error(e)))?,
        }
        Ok(Listener { name: args.name, report: args.report, crashed: false, stuck_on: args.stuck_on })
    }
}

impl HandleEvent<Placed> for Listener {
    async fn handle_event(&mut self, order: Placed, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        let attempt = ctx.delivery().map_or(0, |d| d.attempt);
        self.report.say(format!("{}:{},{attempt}", self.name, order.0));
        if order.0 == 13 && !self.crashed && ctx.delivery().is_some_and(|d| d.attempt == 1) {
            self.crashed = true;
            panic!("unlucky order");
        }
        if let Some((stuck, gate)) = &self.stuck_on {
            if order.0 == *stuck {
                gate.acquire().await.expect("gate open").forget();
            }
        }
        Ok(())
    }
}

fn journal(storage: &FaultyStorage) -> System {
    System::with_journal(JournalConfig::storage(storage.clone())).unwrap()
}

async fn sorted(probe: &mut Probe, n: usize) -> Vec<String> {
    let mut seen = probe.take(n).await;
    seen.sort();
    seen
}

on_both_runtimes! {
    async fn a_durable_subscriber_gets_what_was_published_while_it_was_away() {
        let system = journal(&FaultyStorage::new());
        let sub = system.durable_subscription::<Placed>("billing", StartFrom::New).await.unwrap();
        let (report, mut probe) = probe();
        system.spawn::<Listener>(Args::new("plain", &report, None)).await.unwrap();
        // Published with no durable consumer running: persisted for "billing".
        let reach = system.publish_durable(Placed(1)).await.unwrap();
        assert_eq!((reach.durable, reach.plain), (1, 1), "persisted for billing, queued for the plain listener");
        probe.expect("plain:1,0").await;
        let child = ChildSpec::<Listener>::worker("billing", Args::new("billing", &report, Some(sub.clone())));
        let _sup = system.start(Supervisor::one_for_one().child(child)).await.unwrap();
        probe.expect("billing:1,1").await;
        // A crash in the handler: redelivered to the restarted consumer, in order.
        system.publish_durable(Placed(13)).await.unwrap();
        system.publish_durable(Placed(14)).await.unwrap();
        let seen = sorted(&mut probe, 5).await;
        assert_eq!(seen, ["billing:13,1", "billing:13,2", "billing:14,1", "plain:13,0", "plain:14,0"]);
        probe.expect_silence(SHORT).await;
        assert_eq!(sub.stats().pending, 0);
    }
}

on_both_runtimes! {
    fn durable_subscriptions_survive_a_process_crash_and_resume_after_their_last_ack(runtime) {
        let storage = FaultyStorage::new();
        let (report, mut probe) = probe();
        let leaked = runtime.block_on(async {
            let system = journal(&storage);
            let sub = system.durable_subscription::<Placed>("billing", StartFrom::New).await.unwrap();
            // Order 2 gets stuck in its handler: 2 and 3 are never acked before
            // the crash, however the runtime schedules.
            let mut args = Args::new("b", &report, Some(sub.clone()));
            args.stuck_on = Some((2, Arc::new(Semaphore::new(0))));
            system.spawn::<Listener>(args).await.unwrap();
            system.publish_durable(Placed(1)).await.unwrap();
            probe.expect("b:1,1").await;
            until("its ack", || sub.stats().acked == 1).await;
            system.publish_durable(Placed(2)).await.unwrap();
            system.publish_durable(Placed(3)).await.unwrap();
            system
        });
        std::mem::forget(leaked);
        let after = storage.crash(Crash::PowerLoss);
        runtime.block_on(async {
            let system = journal(&after);
            // Reopened: `from` applies only at creation.
            let sub = system.durable_subscription::<Placed>("billing", StartFrom::New).await.unwrap();
            let (report, mut probe) = crate::support::probe();
            system.spawn::<Listener>(Args::new("b", &report, Some(sub))).await.unwrap();
            let seen = probe.take(2).await;
            assert!(seen == ["b:2,2", "b:3,1"] || seen == ["b:2,1", "b:3,1"], "{seen:?}");
            probe.expect_silence(SHORT).await;
        });
    }
}

on_both_runtimes! {
    async fn wildcard_subscriptions_get_matching_topics_only() {
        let system = journal(&FaultyStorage::new());
        let eu = system.durable_subscription_to::<Placed>("eu", "orders.eu.*", StartFrom::New).await.unwrap();
        let all = system.durable_subscription_to::<Placed>("all", "orders.>", StartFrom::New).await.unwrap();
        let at = |topic: &str| Topic::new(topic).unwrap();
        assert_eq!(system.publish_durable_with(Placed(1), PublishOptions::new().topic(at("orders.eu.fr"))).await.unwrap().durable, 2);
        assert_eq!(system.publish_durable_with(Placed(2), PublishOptions::new().topic(at("orders.us.ny"))).await.unwrap().durable, 1);
        assert_eq!(system.publish_durable_with(Placed(3), PublishOptions::new().topic(at("payments.eu.fr"))).await.unwrap().durable, 0);
        assert_eq!((eu.stats().pending, all.stats().pending), (1, 2));
    }
}

on_both_runtimes! {
    async fn a_new_subscription_replays_the_retained_log() {
        let system = journal(&FaultyStorage::new());
        // Without a log there is no past to start from.
        let early = system.durable_subscription::<Placed>("early", StartFrom::Origin).await;
        assert!(matches!(early, Err(DurableError::NoHistory { .. })), "{early:?}");
        system.event_log::<Placed>(Retention::KeepLast(3)).await.unwrap();
        system.event_log::<Placed>(Retention::KeepLast(3)).await.unwrap(); // idempotent
        assert!(matches!(system.event_log::<Placed>(Retention::KeepAll).await, Err(DurableError::Conflict { .. })));
        for n in 1..=5 {
            system.publish_durable(Placed(n)).await.unwrap();
        }
        let origin = system.durable_subscription::<Placed>("origin", StartFrom::Origin).await.unwrap();
        let from4 = system.durable_subscription::<Placed>("from4", StartFrom::Seq(4)).await.unwrap();
        let new = system.durable_subscription::<Placed>("new", StartFrom::New).await.unwrap();
        system.publish_durable(Placed(6)).await.unwrap();
        let (report, mut probe) = probe();
        for (name, sub) in [("origin", origin), ("from4", from4), ("new", new)] {
            system.spawn::<Listener>(Args::new(name, &report, Some(sub))).await.unwrap();
        }
        let seen = sorted(&mut probe, 8).await;
        let expected =
            ["from4:4,1", "from4:5,1", "from4:6,1", "new:6,1", "origin:3,1", "origin:4,1", "origin:5,1", "origin:6,1"];
        assert_eq!(seen, expected);
        probe.expect_silence(SHORT).await;
    }
}

on_both_runtimes! {
    async fn subscription_names_and_patterns_are_checked() {
        let system = journal(&FaultyStorage::new());
        system.durable_subscription_to::<Placed>("s", "orders.*", StartFrom::New).await.unwrap();
        let other = system.durable_subscription_to::<Placed>("s", "orders.>", StartFrom::New).await;
        assert!(matches!(other, Err(DurableError::Conflict { .. })), "{other:?}");
        let queue = system.durable_queue::<Placed>("s").await;
        assert!(matches!(queue, Err(DurableError::Conflict { .. })), "{queue:?}");
        let bad = system.durable_subscription_to::<Placed>("t", "orders..x", StartFrom::New).await;
        assert!(matches!(bad, Err(DurableError::InvalidPattern(_))), "{bad:?}");
        let reserved = system.durable_subscription::<Placed>("$log:x", StartFrom::New).await;
        assert!(matches!(reserved, Err(DurableError::InvalidName(_))), "{reserved:?}");
        assert!(matches!(System::new().publish_durable(Placed(1)).await, Err(DurableError::NoJournal)));
    }
}

/// Publishes durably from inside a handler and answers with the reach.
struct Publisher;

impl Actor for Publisher {
    type Args = ();
    async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> {
        Ok(Publisher)
    }
}

impl HandleCall<Placed> for Publisher {
    type Reply = Result<(usize, usize), String>;
    async fn handle_call(&mut self, event: Placed, ctx: &mut Context<Self>) -> Reply<Self::Reply> {
        Reply::new(
            ctx.publish_durable(event).await.map(|reach| (reach.durable, reach.plain)).map_err(|e| e.to_string()),
        )
    }
}

on_both_runtimes! {
    async fn an_actor_publishes_durably_from_its_context_and_learns_both_reaches() {
        let system = journal(&FaultyStorage::new());
        system.durable_subscription::<Placed>("billing", StartFrom::New).await.unwrap();
        system.durable_subscription_to::<Placed>("audit", "orders.>", StartFrom::New).await.unwrap();
        let (report, mut probe) = probe();
        system.spawn::<Listener>(Args::new("plain", &report, None)).await.unwrap();
        let publisher = system.spawn::<Publisher>(()).await.unwrap();
        assert_eq!(publisher.call(Placed(5)).await, Ok(Ok((2, 1))));
        probe.expect("plain:5,0").await;
        let elsewhere = PublishOptions::new().topic(Topic::new("payments.eu.fr").unwrap());
        assert_eq!(system.publish_durable_with(Placed(6), elsewhere).await.map(|reach| (reach.durable, reach.plain)).unwrap(), (0, 0));
    }
}
