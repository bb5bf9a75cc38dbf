//! Poison messages and the supervision defaults: a message that always
//! crashes its consumer is dead-lettered after the delivery limit, and its
//! repeated crashes count once against the supervisor's intensity, so it
//! cannot take the tree down; a handler can also reject a message (dead
//! letter, no crash) or ask for a delayed retry (no crash, order kept).

use std::time::Duration;

use treeline::durable::{DurableDeadLetter, DurableDeadLetterReason, DurableSubscription, JournalConfig, StartFrom};
use treeline::journal::MemStorage;
use treeline::{Actor, ChildSpec, Context, Durable, Event, ExitReason, HandleEvent, InitError, Supervisor, System};

use crate::support::{probe, within, Report};

#[derive(Clone, Debug, Event, Durable)]
#[event(topic = "billing.charge")]
#[durable(tag = "test.Charge")]
struct Charge {
    id: u64,
    kind: Kind,
}

#[derive(Clone, Debug, Durable)]
#[durable(tag = "test.Kind")]
enum Kind {
    Good,
    /// Panics, every time.
    Poison,
    /// Rejected by the handler.
    Bad,
    /// Retried once after a delay.
    Flaky,
    /// Retried once after a delay, and the consumer crashes meanwhile.
    FlakyThenCrash,
}

/// Makes the consumer panic (sent to itself).
struct Crash;

struct Biller(Report);

impl Actor for Biller {
    type Args = Report;
    async fn init(report: Report, ctx: &mut Context<Self>) -> Result<Self, InitError> {
        assert!(!ctx.reject("nothing to reject"), "outside a durable handler");
        assert!(!ctx.retry_after(Duration::from_secs(1)), "outside a durable handler");
        Ok(Biller(report))
    }
}

impl HandleEvent<Charge> for Biller {
    async fn handle_event(&mut self, charge: Charge, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        let attempt = ctx.delivery().expect("a durable delivery").attempt;
        match charge.kind {
            Kind::Good => self.0.say(format!("handled {}", charge.id)),
            Kind::Poison => panic!("poison {}", charge.id),
            Kind::Bad => {
                assert!(ctx.reject("a bad charge"));
                assert!(!ctx.ack(), "rejected already");
                self.0.say(format!("rejected {}", charge.id));
            }
            Kind::Flaky if attempt == 1 => {
                assert!(ctx.retry_after(Duration::from_millis(200)));
                self.0.say(format!("retry {}", charge.id));
            }
            Kind::FlakyThenCrash if attempt == 1 => {
                assert!(ctx.retry_after(Duration::from_millis(300)));
                ctx.myself().send(Crash).await.expect("its own mailbox");
                self.0.say(format!("retry {}", charge.id));
            }
            Kind::Flaky | Kind::FlakyThenCrash => self.0.say(format!("handled {} at attempt {attempt}", charge.id)),
        }
        Ok(())
    }
}

impl treeline::HandleInfo<Crash> for Biller {
    async fn handle_info(&mut self, _: Crash, _: &mut Context<Self>) -> Result<(), ExitReason> {
        self.0.say("crash");
        panic!("crashing while a retry waits");
    }
}

/// Reports every durable dead letter.
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
        let charge: Charge = letter.decode().expect("the dead letter decodes");
        let why = match &letter.reason {
            DurableDeadLetterReason::DeliveryLimit { .. } => "limit".to_owned(),
            DurableDeadLetterReason::Rejected(why) => format!("rejected: {why}"),
            other => other.to_string(),
        };
        self.0.say(format!("dead {} after {} ({why})", charge.id, letter.attempts));
        Ok(())
    }
}

/// root one_for_one -> billing supervisor -> the consumer, all defaults.
async fn tree(report: &Report) -> (System, treeline::supervisor::SupervisorRef) {
    let system = System::with_journal(JournalConfig::storage(MemStorage::new())).unwrap();
    system.spawn::<Auditor>(report.clone()).await.unwrap();
    let charges: DurableSubscription<Charge> = system.durable_subscription("billing", StartFrom::New).await.unwrap();
    let biller = ChildSpec::<Biller>::worker("biller", report.clone()).consume_events(charges);
    let billing = ChildSpec::supervisor("billing", Supervisor::one_for_one().child(biller));
    let root = system.start(Supervisor::one_for_one().child(billing)).await.unwrap();
    (system, root)
}

on_both_runtimes! {
    /// The scenario: two poison events, then a good one, with every
    /// setting at its default. Each poison crashes the consumer up to the
    /// delivery limit (10), but a poison's repeated crashes count once, so
    /// neither supervisor reaches its intensity (3 in 5 s).
    async fn two_poison_events_then_a_good_one_leave_the_tree_alive() {
        let (report, mut probe) = probe();
        let (system, root) = tree(&report).await;
        for (id, kind) in [(1, Kind::Poison), (2, Kind::Poison), (3, Kind::Good)] {
            system.publish_durable(Charge { id, kind }).await.unwrap();
        }
        // The auditor and the consumer are two actors: their reports
        // interleave in any order.
        let mut seen = probe.take(3).await;
        seen.sort();
        assert_eq!(seen, ["dead 1 after 10 (limit)", "dead 2 after 10 (limit)", "handled 3"]);
        let snapshot = within("snapshot", root.snapshot()).await.unwrap();
        assert_eq!(snapshot.restarts, 0, "the billing supervisor never gave up:\n{snapshot}");
        let billing = snapshot.children[0].supervisor.as_ref().expect("billing runs");
        assert_eq!(billing.children[0].restarts, 20, "ten crashes per poison event:\n{snapshot}");
        assert!(root.pid().is_alive());
    }
}

on_both_runtimes! {
    /// A retry outlives its consumer: the restarted consumer gets the
    /// message once the delay is over, and the messages after it wait.
    async fn a_retry_waits_out_a_consumer_crash() {
        let (report, mut probe) = probe();
        let (system, root) = tree(&report).await;
        for (id, kind) in [(1, Kind::FlakyThenCrash), (2, Kind::Good)] {
            system.publish_durable(Charge { id, kind }).await.unwrap();
        }
        let seen = probe.take(4).await;
        assert_eq!(seen, ["retry 1", "crash", "handled 1 at attempt 2", "handled 2"]);
        let snapshot = within("snapshot", root.snapshot()).await.unwrap();
        let billing = snapshot.children[0].supervisor.as_ref().expect("billing runs");
        assert_eq!(billing.children[0].restarts, 1, "one crash:\n{snapshot}");
    }
}

on_both_runtimes! {
    /// A rejected message is dead-lettered at once and a retried one comes
    /// back after its delay, before the messages behind it; the consumer
    /// never crashes.
    async fn a_handler_rejects_or_retries_without_crashing() {
        let (report, mut probe) = probe();
        let (system, root) = tree(&report).await;
        for (id, kind) in [(1, Kind::Bad), (2, Kind::Flaky), (3, Kind::Good)] {
            system.publish_durable(Charge { id, kind }).await.unwrap();
        }
        let mut handled = Vec::new();
        while handled.len() < 5 {
            let event = probe.next().await;
            handled.push(event);
        }
        // The dead letter comes from the auditor, in any order with the rest.
        assert!(handled.iter().any(|e| e == "dead 1 after 1 (rejected: a bad charge)"), "{handled:?}");
        let order: Vec<&String> = handled.iter().filter(|e| !e.starts_with("dead")).collect();
        assert_eq!(order, ["rejected 1", "retry 2", "handled 2 at attempt 2", "handled 3"], "in order: {handled:?}");
        let snapshot = within("snapshot", root.snapshot()).await.unwrap();
        let billing = snapshot.children[0].supervisor.as_ref().expect("billing runs");
        assert_eq!(billing.children[0].restarts, 0, "nothing crashed:\n{snapshot}");
    }
}
