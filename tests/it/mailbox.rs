//! Bounded mailboxes, overflow policies and dead letters.

use std::time::Duration;

use treeline::addr::Recipient;
use treeline::mailbox::{MailboxConfig, MailboxFull, Overflow};
use treeline::signal::Down;
use treeline::*;

use crate::support::{probe, settle, until, within, Report};

/// Records casts; a `Gate` message blocks it until released.
struct Sink {
    seen: Vec<u32>,
    report: Report,
}

impl Actor for Sink {
    type Args = Report;
    async fn init(report: Report, _: &mut Context<Self>) -> Result<Self, InitError> {
        Ok(Sink { seen: Vec::new(), report })
    }
    async fn terminate(&mut self, reason: &ExitReason, _: &mut Context<Self>) {
        self.report.say(format!("terminate:{reason}"));
    }
}

impl HandleCast<u32> for Sink {
    async fn handle_cast(&mut self, n: u32, _: &mut Context<Self>) -> Result<(), ExitReason> {
        self.seen.push(n);
        Ok(())
    }
}

/// Blocks the sink until the receiver fires.
struct Gate(tokio::sync::oneshot::Receiver<()>);

impl HandleCast<Gate> for Sink {
    async fn handle_cast(&mut self, Gate(open): Gate, _: &mut Context<Self>) -> Result<(), ExitReason> {
        self.report.say("gated");
        let _ = open.await;
        Ok(())
    }
}

struct Seen;
impl HandleCall<Seen> for Sink {
    type Reply = Vec<u32>;
    async fn handle_call(&mut self, _: Seen, _: &mut Context<Self>) -> Reply<Vec<u32>> {
        Reply::new(std::mem::take(&mut self.seen))
    }
}

/// A sink with a bounded mailbox of `capacity`, blocked on a gate.
async fn gated_sink(
    system: &System,
    capacity: usize,
    overflow: Overflow,
) -> (ActorRef<Sink>, tokio::sync::oneshot::Sender<()>, crate::support::Probe) {
    let (report, mut probe) = probe();
    let options = SpawnOptions::new().mailbox(MailboxConfig::bounded(capacity, overflow));
    let sink = system.spawn_with::<Sink>(report, options).await.unwrap();
    let (open, gate) = tokio::sync::oneshot::channel();
    sink.cast(Gate(gate)).await.unwrap();
    probe.expect("gated").await; // the gate message left the mailbox
    (sink, open, probe)
}

/// Waits until the actor has taken everything from its mailbox.
async fn drained<A: Actor>(actor: &ActorRef<A>) {
    until("the mailbox drains", || actor.mailbox_len() == 0).await;
}

on_both_runtimes! {
    async fn drop_newest_sheds_the_arriving_message_and_counts_it() {
        let system = System::new();
        let (sink, open, _probe) = gated_sink(&system, 3, Overflow::DropNewest).await;
        for n in 0..5 {
            assert!(sink.cast(n).await.is_ok(), "the sender is not refused");
        }
        assert_eq!(sink.mailbox_len(), 3);
        assert_eq!(sink.call(Seen).await, Err(CallError::MailboxFull), "a call is refused, never shed silently");
        open.send(()).unwrap();
        drained(&sink).await;
        assert_eq!(sink.call(Seen).await, Ok(vec![0, 1, 2]));
        assert_eq!(sink.dead_letters(), 2);
        assert_eq!({ let got = system.dead_letters(); (got.mailbox_full, got.actor_stopped) }, (2, 0));
    }
}

on_both_runtimes! {
    async fn drop_oldest_makes_room_by_shedding_the_oldest() {
        let system = System::new();
        let (sink, open, _probe) = gated_sink(&system, 3, Overflow::DropOldest).await;
        for n in 0..5 {
            sink.cast(n).await.unwrap();
        }
        open.send(()).unwrap();
        drained(&sink).await;
        assert_eq!(sink.call(Seen).await, Ok(vec![2, 3, 4]));
        assert_eq!(system.dead_letters().mailbox_full, 2);
    }
}

on_both_runtimes! {
    async fn reject_hands_the_message_back() {
        let system = System::new();
        let (sink, open, _probe) = gated_sink(&system, 2, Overflow::Reject).await;
        sink.cast(0).await.unwrap();
        sink.cast(1).await.unwrap();
        let refused = sink.cast(2).await.unwrap_err();
        assert!(refused.is_full());
        assert_eq!(refused.into_inner(), 2);
        assert_eq!(sink.call_timeout(Seen, Duration::from_millis(10)).await, Err(CallError::MailboxFull));
        open.send(()).unwrap();
        drained(&sink).await;
        assert_eq!(sink.call(Seen).await, Ok(vec![0, 1]));
        assert_eq!(system.dead_letters().total(), 0, "refused messages went back to their sender");
    }
}

on_both_runtimes! {
    async fn wait_makes_the_sender_wait_for_room() {
        let system = System::new();
        let (sink, open, _probe) = gated_sink(&system, 2, Overflow::Wait).await;
        sink.cast(0).await.unwrap();
        sink.cast(1).await.unwrap();
        assert!(sink.try_cast(9).unwrap_err().is_full(), "a non-waiting send is refused");
        let blocked = {
            let sink = sink.clone();
            tokio::spawn(async move { sink.cast(2).await })
        };
        settle().await;
        assert!(!blocked.is_finished(), "the sender waits while the mailbox is full");
        open.send(()).unwrap();
        within("the waiting cast", blocked).await.unwrap().unwrap();
        assert_eq!(sink.call(Seen).await, Ok(vec![0, 1, 2]));
        assert_eq!(system.dead_letters().total(), 0);
    }
}

on_both_runtimes! {
    async fn a_waiting_sender_learns_when_the_actor_dies() {
        let system = System::new();
        let (sink, _open, _probe) = gated_sink(&system, 1, Overflow::Wait).await;
        sink.cast(0).await.unwrap();
        let blocked = {
            let sink = sink.clone();
            tokio::spawn(async move { sink.cast(1).await })
        };
        settle().await;
        sink.kill();
        let refused = within("the waiting cast", blocked).await.unwrap().unwrap_err();
        assert!(refused.is_no_proc());
        assert_eq!(refused.into_inner(), 1);
    }
}

on_both_runtimes! {
    async fn a_call_waits_for_room_within_its_timeout() {
        let system = System::new();
        let (sink, _open, _probe) = gated_sink(&system, 1, Overflow::Wait).await;
        sink.cast(0).await.unwrap();
        assert_eq!(sink.call_timeout(Seen, Duration::from_millis(50)).await, Err(CallError::Timeout));
    }
}

on_both_runtimes! {
    async fn stop_actor_stops_it_on_overflow_and_runs_terminate() {
        let system = System::new();
        let (sink, open, mut probe) = gated_sink(&system, 2, Overflow::StopActor).await;
        sink.cast(0).await.unwrap();
        sink.cast(1).await.unwrap();
        sink.cast(2).await.unwrap(); // overflows: shed, and the actor is told to stop
        open.send(()).unwrap();
        let reason = within("the overflow stop", sink.join()).await;
        assert_eq!(reason.downcast_ref::<MailboxFull>().map(|full| full.capacity), Some(2));
        probe.expect("terminate:mailbox overflow (capacity 2)").await;
        // The shed message and the two queued ones are all dead letters.
        assert_eq!({ let got = system.dead_letters(); (got.mailbox_full, got.actor_stopped) }, (1, 2));
    }
}

on_both_runtimes! {
    /// A full, Drop-policy mailbox still receives the Down of a monitored actor.
    async fn runtime_messages_do_not_count_toward_capacity_and_are_never_shed() {
        struct Watcher {
            downs: tokio::sync::mpsc::UnboundedSender<Down>,
        }
        impl Actor for Watcher {
            type Args = tokio::sync::mpsc::UnboundedSender<Down>;
            async fn init(downs: Self::Args, _: &mut Context<Self>) -> Result<Self, InitError> {
                Ok(Watcher { downs })
            }
        }
        struct WatchThenWait(Pid, tokio::sync::oneshot::Sender<()>, tokio::sync::oneshot::Receiver<()>);
        impl HandleCast<WatchThenWait> for Watcher {
            async fn handle_cast(
                &mut self,
                WatchThenWait(pid, watching, gate): WatchThenWait,
                ctx: &mut Context<Self>,
            ) -> Result<(), ExitReason> {
                ctx.monitor(&pid);
                let _ = watching.send(());
                let _ = gate.await;
                Ok(())
            }
        }
        impl HandleCast<u32> for Watcher {
            async fn handle_cast(&mut self, _: u32, _: &mut Context<Self>) -> Result<(), ExitReason> {
                Ok(())
            }
        }
        impl HandleInfo<Down> for Watcher {
            async fn handle_info(&mut self, down: Down, _: &mut Context<Self>) -> Result<(), ExitReason> {
                let _ = self.downs.send(down);
                Ok(())
            }
        }

        let system = System::new();
        let (report, _probe) = probe();
        let target = system.spawn::<Sink>(report).await.unwrap();
        let (downs, mut down) = tokio::sync::mpsc::unbounded_channel();
        let options = SpawnOptions::new().mailbox(MailboxConfig::bounded(2, Overflow::DropNewest));
        let watcher = system.spawn_with::<Watcher>(downs, options).await.unwrap();
        let (open, gate) = tokio::sync::oneshot::channel();
        let (watching, monitored) = tokio::sync::oneshot::channel();
        watcher.cast(WatchThenWait(target.pid(), watching, gate)).await.unwrap();
        within("the monitor is set", monitored).await.unwrap();
        watcher.cast(1).await.unwrap();
        watcher.cast(2).await.unwrap();
        watcher.cast(3).await.unwrap(); // shed: the mailbox is full
        target.kill();
        target.join().await;
        open.send(()).unwrap();
        let down = within("the Down", down.recv()).await.unwrap();
        assert_eq!((down.id, down.reason), (target.id(), ExitReason::Killed));
        assert_eq!(watcher.dead_letters(), 1);
    }
}

on_both_runtimes! {
    async fn messages_left_when_an_actor_dies_are_dead_letters() {
        let system = System::new();
        let (sink, _open, _probe) = gated_sink(&system, 100, Overflow::Reject).await;
        for n in 0..10 {
            sink.cast(n).await.unwrap();
        }
        sink.kill();
        sink.join().await;
        assert_eq!(sink.dead_letters(), 10);
        assert_eq!({ let got = system.dead_letters(); (got.mailbox_full, got.actor_stopped) }, (0, 10));
    }
}

on_both_runtimes! {
    async fn a_recipient_casts_without_naming_the_actor_type() {
        let system = System::new();
        let (report, _probe) = probe();
        let sink = system.spawn::<Sink>(report).await.unwrap();
        let recipient: Recipient<u32> = sink.recipient();
        assert_eq!(recipient.id(), sink.id());
        assert_eq!(recipient.pid(), sink.pid());
        recipient.cast(7).await.unwrap();
        recipient.try_cast(8).unwrap();
        assert_eq!(sink.call(Seen).await, Ok(vec![7, 8]));
    }
}

on_both_runtimes! {
    async fn a_recipient_waits_on_a_full_wait_mailbox() {
        let system = System::new();
        let (sink, open, _probe) = gated_sink(&system, 1, Overflow::Wait).await;
        let recipient: Recipient<u32> = sink.recipient();
        recipient.cast(1).await.unwrap();
        assert!(recipient.try_cast(2).unwrap_err().is_full());
        let blocked = tokio::spawn(async move { recipient.cast(2).await });
        settle().await;
        assert!(!blocked.is_finished());
        open.send(()).unwrap();
        within("recipient cast", blocked).await.unwrap().unwrap();
        assert_eq!(sink.call(Seen).await, Ok(vec![1, 2]));
    }
}
