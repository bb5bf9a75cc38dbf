//! Pub/sub on the registry: typed events on topics, wildcards, publishing to everyone but the sender,
//! duplicate subscriptions, dead subscribers, load shedding and the
//! dead-letter topic.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use treeline::actor::StartError;
use treeline::dead_letter::DeadLetter;
use treeline::mailbox::{MailboxConfig, Overflow};
use treeline::registry::PublishOptions;
use treeline::registry::{PublishError, RegistryError, RegistryKey};
use treeline::topic::{Pattern, Topic, TopicError};
use treeline::*;

use crate::support::{assert_elapsed, probe, settle, within, Probe, Report, SHORT};

#[derive(Clone, Debug, PartialEq)]
struct Ping(u32);
impl Event for Ping {
    const TOPIC: &'static str = "orders";
}

#[derive(Clone, Debug, PartialEq)]
struct Deposited {
    amount: u64,
}
impl Event for Deposited {
    const TOPIC: &'static str = "accounts.deposited";
}

/// Reports every event it handles as "<name>:<event>".
struct Sub {
    name: String,
    report: Report,
}

struct SubArgs {
    name: String,
    report: Report,
    patterns: Vec<&'static str>,
}

impl Actor for Sub {
    type Args = SubArgs;
    async fn init(args: SubArgs, ctx: &mut Context<Self>) -> Result<Self, InitError> {
        for pattern in args.patterns {
            ctx.subscribe_to::<Ping>(pattern)?;
        }
        Ok(Sub { name: args.name, report: args.report })
    }
}

impl HandleEvent<Ping> for Sub {
    async fn handle_event(&mut self, Ping(n): Ping, _: &mut Context<Self>) -> Result<(), ExitReason> {
        self.report.say(format!("{}:ping {n}", self.name));
        Ok(())
    }
}

impl HandleEvent<Deposited> for Sub {
    async fn handle_event(&mut self, e: Deposited, _: &mut Context<Self>) -> Result<(), ExitReason> {
        self.report.say(format!("{}:deposited {}", self.name, e.amount));
        Ok(())
    }
}

/// Subscription changes and publishes from inside the actor.
enum Cmd {
    Subscribe(&'static str),
    Unsubscribe(&'static str),
    PublishFrom(u32),
    Publish(u32),
}

impl HandleCall<Cmd> for Sub {
    type Reply = Result<usize, String>;
    async fn handle_call(&mut self, cmd: Cmd, ctx: &mut Context<Self>) -> Reply<Self::Reply> {
        Reply::new(match cmd {
            Cmd::Subscribe(pattern) => ctx.subscribe_to::<Ping>(pattern).map(|()| 1).map_err(|e| e.to_string()),
            Cmd::Unsubscribe(pattern) => ctx.unsubscribe_from::<Ping>(pattern).map_err(|e| e.to_string()),
            Cmd::PublishFrom(n) => {
                ctx.publish_with(Ping(n), PublishOptions::new().except(ctx.id())).await.map_err(|e| e.to_string())
            }
            Cmd::Publish(n) => ctx.publish(Ping(n)).await.map_err(|e| e.to_string()),
        })
    }
}

async fn sub(system: &System, name: &str, report: &Report, patterns: &[&'static str]) -> ActorRef<Sub> {
    let args = SubArgs { name: name.to_string(), report: report.clone(), patterns: patterns.to_vec() };
    system.spawn::<Sub>(args).await.unwrap()
}

on_both_runtimes! {
    async fn a_publish_reaches_every_subscriber_of_its_topic_and_nobody_else() {
        // PS-01
        let system = System::new();
        let (report, mut probe) = probe();
        for i in 0..10 {
            sub(&system, &format!("s{i}"), &report, &["orders"]).await;
        }
        let other = sub(&system, "other", &report, &["unknown"]).await;
        assert_eq!(system.publish(Ping(1)).await, Ok(10));
        let mut events = probe.take(10).await;
        events.sort();
        let mut expected: Vec<String> = (0..10).map(|i| format!("s{i}:ping 1")).collect();
        expected.sort();
        assert_eq!(events, expected);
        probe.expect_silence(SHORT).await;
        let empty = Topic::new("empty-topic").unwrap();
        assert_eq!(system.publish_with(Ping(2), PublishOptions::new().topic(empty.clone())).await, Ok(0), "no subscriber is not an error");
        assert!(system.registry().stats().unrouted >= 1);
        drop(other);
    }
}

on_both_runtimes! {
    async fn unsubscribe_stops_deliveries_and_is_idempotent() {
        // PS-02
        let system = System::new();
        let (report, mut probe) = probe();
        let s = sub(&system, "s", &report, &["t"]).await;
        let t = Topic::new("t").unwrap();
        let subscribers = system.registry().subscribers::<Ping>(&t);
        assert_eq!(subscribers.iter().map(|sub| sub.pid.clone()).collect::<Vec<_>>(), [s.pid()]);
        assert_eq!(s.call(Cmd::Unsubscribe("t")).await, Ok(Ok(1)));
        assert!(system.registry().subscribers::<Ping>(&t).is_empty());
        assert_eq!(system.publish_with(Ping(1), PublishOptions::new().topic(t.clone())).await, Ok(0));
        probe.expect_silence(SHORT).await;
        assert_eq!(s.call(Cmd::Unsubscribe("t")).await, Ok(Ok(0)), "not subscribed: a no-op");
    }
}

on_both_runtimes! {
    async fn publishing_except_the_sender_skips_only_the_sender() {
        // PS-03
        let system = System::new();
        let (report, mut probe) = probe();
        let a = sub(&system, "a", &report, &["orders"]).await;
        sub(&system, "b", &report, &["orders"]).await;
        sub(&system, "c", &report, &["orders"]).await;
        assert_eq!(a.call(Cmd::PublishFrom(7)).await, Ok(Ok(2)));
        let mut events = probe.take(2).await;
        events.sort();
        assert_eq!(events, ["b:ping 7", "c:ping 7"]);
        probe.expect_silence(SHORT).await;
        // A plain publish from inside reaches the publisher too.
        assert_eq!(a.call(Cmd::Publish(8)).await, Ok(Ok(3)));
    }
}

on_both_runtimes! {
    async fn duplicate_subscriptions_deliver_twice_and_one_unsubscribe_removes_all() {
        // PS-04, and REG-03's keys of a duplicate registry
        let system = System::new();
        let (report, mut probe) = probe();
        let s = sub(&system, "s", &report, &["t", "t"]).await;
        let other = sub(&system, "other", &report, &["t"]).await;
        let key = RegistryKey::Topic { pattern: Pattern::new("t").unwrap(), event: std::any::type_name::<Ping>() };
        assert_eq!(system.registry().keys_of(&s.pid()), [key.clone(), key.clone()]);
        let t = Topic::new("t").unwrap();
        assert_eq!(system.publish_with(Ping(1), PublishOptions::new().topic(t.clone())).await, Ok(3));
        let mut events = probe.take(3).await;
        events.sort();
        assert_eq!(events, ["other:ping 1", "s:ping 1", "s:ping 1"]);
        assert_eq!(s.call(Cmd::Unsubscribe("t")).await, Ok(Ok(2)));
        assert!(system.registry().keys_of(&s.pid()).is_empty());
        assert_eq!(system.registry().keys_of(&other.pid()), [key]);
        assert_eq!(system.publish_with(Ping(2), PublishOptions::new().topic(t.clone())).await, Ok(1));
        probe.expect("other:ping 2").await;
        probe.expect_silence(SHORT).await;
    }
}

on_both_runtimes! {
    async fn wildcards_match_one_token_or_the_rest() {
        let system = System::new();
        let (report, mut probe) = probe();
        sub(&system, "star", &report, &["orders.*"]).await;
        sub(&system, "tail", &report, &["orders.>"]).await;
        sub(&system, "both", &report, &["orders.*", "orders.>"]).await;
        sub(&system, "exact", &report, &["orders.eu.placed"]).await;
        let one_level = Topic::new("orders.placed").unwrap();
        assert_eq!(system.publish_with(Ping(1), PublishOptions::new().topic(one_level.clone())).await, Ok(4));
        let mut events = probe.take(4).await;
        events.sort();
        assert_eq!(events, ["both:ping 1", "both:ping 1", "star:ping 1", "tail:ping 1"]);
        let two_levels = Topic::new("orders.eu.placed").unwrap();
        assert_eq!(system.publish_with(Ping(2), PublishOptions::new().topic(two_levels.clone())).await, Ok(3));
        let mut events = probe.take(3).await;
        events.sort();
        assert_eq!(events, ["both:ping 2", "exact:ping 2", "tail:ping 2"]);
        let none = Topic::new("orders").unwrap();
        assert_eq!(system.publish_with(Ping(3), PublishOptions::new().topic(none.clone())).await, Ok(0));
    }
}

on_both_runtimes! {
    async fn a_dead_subscriber_is_dropped_without_affecting_the_others() {
        // PS-06
        let system = System::new();
        let (report, mut probe) = probe();
        sub(&system, "s1", &report, &["orders"]).await;
        let s2 = sub(&system, "s2", &report, &["orders"]).await;
        sub(&system, "s3", &report, &["orders"]).await;
        s2.kill();
        assert!(system.publish(Ping(1)).await.is_ok());
        s2.join().await; // dead: its subscription is gone
        assert_eq!(system.publish(Ping(2)).await, Ok(2));
        let mut events = probe.take(4).await;
        events.sort();
        assert_eq!(events, ["s1:ping 1", "s1:ping 2", "s3:ping 1", "s3:ping 2"]);
        let t = Topic::new("orders").unwrap();
        let subscribers: Vec<ActorId> = system.registry().subscribers::<Ping>(&t).iter().map(|s| s.pid.id()).collect();
        assert!(!subscribers.contains(&s2.id()));
        assert_eq!(subscribers.len(), 2);
    }
}

on_both_runtimes! {
    async fn domain_events_are_typed_messages_with_metadata_and_sender_exclusion() {
        // PS-08
        struct Account {
            name: &'static str,
            report: Report,
        }
        impl Actor for Account {
            type Args = (&'static str, &'static str, &'static str, Report);
            async fn init((name, topic, meta, report): Self::Args, ctx: &mut Context<Self>) -> Result<Self, InitError> {
                ctx.subscribe_with::<Deposited, _>(topic, meta)?;
                Ok(Account { name, report })
            }
        }
        impl HandleEvent<Deposited> for Account {
            async fn handle_event(&mut self, e: Deposited, _: &mut Context<Self>) -> Result<(), ExitReason> {
                self.report.say(format!("{}:deposited {}", self.name, e.amount));
                Ok(())
            }
        }
        let system = System::new();
        let (report, mut probe) = probe();
        let a1 = system.spawn::<Account>(("a1", "account:42", "m1", report.clone())).await.unwrap();
        let a2 = system.spawn::<Account>(("a2", "account:42", "m2", report.clone())).await.unwrap();
        system.spawn::<Account>(("a3", "account:7", "m3", report.clone())).await.unwrap();
        let topic = Topic::new("account:42").unwrap();
        // A custom dispatcher sees each subscription with its metadata.
        let subscribers = system.registry().subscribers::<Deposited>(&topic);
        let seen: Vec<(ActorId, &str)> =
            subscribers.iter().map(|s| (s.pid.id(), *s.meta.as_ref().unwrap().get::<&str>().unwrap())).collect();
        assert_eq!(seen, [(a1.id(), "m1"), (a2.id(), "m2")]);
        assert_eq!(system.publish_with(Deposited { amount: 10 }, PublishOptions::new().topic(topic.clone())).await, Ok(2));
        let mut events = probe.take(2).await;
        events.sort();
        assert_eq!(events, ["a1:deposited 10", "a2:deposited 10"]);
        // With sender exclusion (from a1), only a2 gets it.
        assert_eq!(system.registry().publish_with(Deposited { amount: 5 }, PublishOptions::new().topic(topic.clone()).except(a1.id())).await, Ok(1));
        probe.expect("a2:deposited 5").await;
        probe.expect_silence(SHORT).await;
    }
}

on_both_runtimes! {
    async fn per_publisher_order_is_kept_for_every_subscriber() {
        let system = System::new();
        let (report, mut probe) = probe();
        sub(&system, "a", &report, &["orders"]).await;
        sub(&system, "b", &report, &["orders"]).await;
        for n in 0..100 {
            system.publish(Ping(n)).await.unwrap();
        }
        let events = probe.take(200).await;
        for name in ["a", "b"] {
            let order: Vec<String> = events.iter().filter(|e| e.starts_with(&format!("{name}:"))).cloned().collect();
            let expected: Vec<String> = (0..100).map(|n| format!("{name}:ping {n}")).collect();
            assert_eq!(order, expected);
        }
    }
}

/// A subscriber stuck on its first event until its gate opens (reporting
/// `slow:stuck` meanwhile).
struct Slow {
    report: Report,
    gate: Arc<Semaphore>,
}

impl Actor for Slow {
    type Args = (Report, Arc<Semaphore>);
    async fn init((report, gate): Self::Args, ctx: &mut Context<Self>) -> Result<Self, InitError> {
        ctx.subscribe::<Ping>()?;
        Ok(Slow { report, gate })
    }
}

impl HandleEvent<Ping> for Slow {
    async fn handle_event(&mut self, Ping(n): Ping, _: &mut Context<Self>) -> Result<(), ExitReason> {
        if n == 0 {
            self.report.say("slow:stuck");
            self.gate.acquire().await.expect("gate open").forget();
        }
        self.report.say(format!("slow:ping {n}"));
        Ok(())
    }
}

/// A `Slow` subscriber with a bounded mailbox, its probe and its gate.
async fn slow(system: &System, mailbox: MailboxConfig) -> (ActorRef<Slow>, Probe, Arc<Semaphore>) {
    let (report, probe) = probe();
    let gate = Arc::new(Semaphore::new(0));
    let options = SpawnOptions::new().mailbox(mailbox);
    let slow = system.spawn_with::<Slow>((report, gate.clone()), options).await.unwrap();
    (slow, probe, gate)
}

/// Observes the dead-letter topic.
struct Auditor {
    report: Report,
}

impl Actor for Auditor {
    type Args = Report;
    async fn init(report: Report, ctx: &mut Context<Self>) -> Result<Self, InitError> {
        ctx.subscribe::<DeadLetter>()?;
        Ok(Auditor { report })
    }
}

impl HandleEvent<DeadLetter> for Auditor {
    async fn handle_event(&mut self, letter: DeadLetter, _: &mut Context<Self>) -> Result<(), ExitReason> {
        self.report
            .say(format!("dead letter to {}: {} ({}, {})", letter.to, letter.message_type, letter.kind, letter.reason));
        Ok(())
    }
}

on_both_runtimes! {
    async fn a_slow_subscriber_sheds_by_its_policy_and_never_slows_the_publisher() {
        let system = System::new();
        let (report, mut probe) = probe();
        let (audit, mut audits) = crate::support::probe();
        system.spawn::<Auditor>(audit).await.unwrap();
        let (slow, mut slow_probe, gate) = slow(&system, MailboxConfig::bounded(2, Overflow::DropNewest)).await;
        sub(&system, "fast", &report, &["orders"]).await;
        system.publish(Ping(0)).await.unwrap();
        slow_probe.expect("slow:stuck").await;
        let started = tokio::time::Instant::now();
        for n in 1..=10 {
            system.publish(Ping(n)).await.unwrap();
        }
        // The publisher did not wait.
        assert_elapsed(started.elapsed(), Duration::ZERO, Duration::from_millis(1));
        // The fast subscriber got everything; the slow one kept 2 and shed 8.
        let fast: Vec<String> = (0..11).map(|n| format!("fast:ping {n}")).collect();
        let events = probe.take(11).await;
        assert_eq!(events.iter().filter(|e| e.starts_with("fast:")).cloned().collect::<Vec<_>>(), fast);
        assert_eq!(slow.dead_letters(), 8);
        let shed = audits.take(8).await;
        let expected = format!("dead letter to {}: it::pubsub::Ping (event, mailbox full)", slow.id());
        assert!(shed.iter().all(|line| *line == expected), "{shed:?}");
        // It handles the 2 it kept once it is unstuck.
        gate.add_permits(1);
        assert_eq!(slow_probe.take(3).await, ["slow:ping 0", "slow:ping 1", "slow:ping 2"]);
    }
}

on_both_runtimes! {
    async fn a_wait_subscriber_slows_the_publisher_and_loses_nothing() {
        let system = System::new();
        let (slow, mut probe, gate) = slow(&system, MailboxConfig::bounded(1, Overflow::Wait)).await;
        system.publish(Ping(0)).await.unwrap();
        probe.expect("slow:stuck").await;
        let publisher = {
            let system = system.clone();
            tokio::spawn(async move {
                for n in 1..=3 {
                    system.publish(Ping(n)).await.unwrap();
                }
            })
        };
        settle().await;
        assert!(!publisher.is_finished(), "the publisher waits for room");
        gate.add_permits(1);
        within("the publisher finishes", publisher).await.unwrap();
        let events = probe.take(4).await;
        assert_eq!(events, ["slow:ping 0", "slow:ping 1", "slow:ping 2", "slow:ping 3"]);
        assert_eq!(slow.dead_letters(), 0);
    }
}

on_both_runtimes! {
    async fn a_full_wait_subscriber_does_not_hold_back_the_others() {
        let system = System::new();
        let (report, mut probe) = probe();
        // Subscribed first, so a publish reaches it before the fast one.
        let (_slow, mut slow_probe, gate) = slow(&system, MailboxConfig::bounded(1, Overflow::Wait)).await;
        sub(&system, "fast", &report, &["orders"]).await;
        system.publish(Ping(0)).await.unwrap();
        slow_probe.expect("slow:stuck").await; // stuck until the gate opens
        system.publish(Ping(1)).await.unwrap(); // fills slow's one slot
        assert_eq!(probe.take(2).await, ["fast:ping 0", "fast:ping 1"]);
        let publisher = {
            let system = system.clone();
            tokio::spawn(async move { system.publish(Ping(2)).await })
        };
        // The fast subscriber has ping 2 while the publisher still waits for slow.
        probe.expect("fast:ping 2").await;
        assert!(!publisher.is_finished(), "the publisher waits for slow's room");
        gate.add_permits(1);
        assert_eq!(within("the publisher finishes", publisher).await.unwrap(), Ok(2));
        assert_eq!(slow_probe.take(3).await, ["slow:ping 0", "slow:ping 1", "slow:ping 2"]);
    }
}

on_both_runtimes! {
    async fn try_publish_never_waits() {
        let system = System::new();
        let (slow, mut probe, _gate) = slow(&system, MailboxConfig::bounded(1, Overflow::Wait)).await;
        system.publish(Ping(0)).await.unwrap();
        probe.expect("slow:stuck").await;
        assert_eq!(system.registry().try_publish(Ping(1)), Ok(1)); // fills the one slot
        assert_eq!(system.registry().try_publish(Ping(2)), Ok(0)); // full: shed
        assert_eq!(slow.dead_letters(), 1);
    }
}

on_both_runtimes! {
    async fn invalid_topics_are_typed_errors() {
        #[derive(Clone)]
        struct Bad;
        impl Event for Bad {
            const TOPIC: &'static str = "orders..bad";
        }
        #[derive(Clone)]
        struct Wild;
        impl Event for Wild {
            const TOPIC: &'static str = "orders.*";
        }
        let system = System::new();
        assert_eq!(system.publish(Bad).await, Err(PublishError::InvalidTopic(TopicError::EmptyToken { index: 1 })));
        assert_eq!(system.publish(Wild).await, Err(PublishError::InvalidTopic(TopicError::WildcardInTopic)));
        assert_eq!(
            system.registry().try_publish(Bad),
            Err(PublishError::InvalidTopic(TopicError::EmptyToken { index: 1 }))
        );
        let (report, _probe) = probe();
        let s = sub(&system, "s", &report, &[]).await;
        assert_eq!(
            s.call(Cmd::Subscribe("a.>.b")).await,
            Ok(Err(RegistryError::InvalidTopic(TopicError::TailNotLast).to_string()))
        );
        assert_eq!(s.call(Cmd::Subscribe("")).await, Ok(Err(RegistryError::InvalidTopic(TopicError::Empty).to_string())));
        // An invalid subscription in init fails the start with the typed error.
        let args = SubArgs { name: "bad".into(), report: report.clone(), patterns: vec!["$SYS.>"] };
        let failed = system.spawn::<Sub>(args).await.err().unwrap();
        let StartError::Exit(reason) = failed else { panic!("{failed:?}") };
        assert_eq!(reason.downcast_ref::<RegistryError>(), Some(&RegistryError::InvalidTopic(TopicError::Reserved)));
    }
}

on_both_runtimes! {
    async fn publishing_from_outside_any_actor_works() {
        let system = System::new();
        let (report, mut probe) = probe();
        sub(&system, "s", &report, &["orders"]).await;
        // From a plain task (no sender to exclude).
        let outside = tokio::spawn({
            let system = system.clone();
            async move { system.publish(Ping(1)).await }
        });
        assert_eq!(outside.await.unwrap(), Ok(1));
        probe.expect("s:ping 1").await;
    }
}
