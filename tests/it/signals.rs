//! Links, monitors, exit signals, trap_exit, and the priority lane (LM-*).

use std::time::Duration;

use tokio::time::Instant;
use treeline::signal::MonitorRef;
use treeline::*;

use crate::scripted::{self, Ask, DemonitorIt, Do, MonitorIt, Script, Scripted};
use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::support::{assert_elapsed, probe, until, within, Probe, SHORT};

/// A started `Scripted` actor, with its `init` report consumed.
async fn start(system: &System, probe: &mut Probe, script: Script) -> ActorRef<Scripted> {
    let name = script.name;
    let actor = scripted::spawn(system, script).await;
    probe.expect_eventually(&format!("{name}:init")).await;
    actor
}

/// Asks `actor` to monitor `target`; returns the monitor.
async fn monitor<A: Actor>(actor: &ActorRef<Scripted>, target: &ActorRef<A>) -> MonitorRef {
    actor.call(MonitorIt(target.pid())).await.expect("monitor")
}

on_both_runtimes! {
    async fn down_carries_the_reason_and_monitoring_the_dead_gives_noproc() {
        // LM-01
        let system = System::new();
        let (report, mut probe) = probe();
        let watcher = start(&system, &mut probe, Script::new("w", &report)).await;
        let p1 = start(&system, &mut probe, Script::new("p1", &report)).await;
        let p2 = start(&system, &mut probe, Script::new("p2", &report)).await;

        let m1 = monitor(&watcher, &p1).await;
        p1.cast(Do::Stop(ExitReason::Normal)).await.unwrap();
        probe.expect("p1:terminate-start:Normal").await;
        probe.expect("p1:terminate:Normal").await;
        probe.expect(&format!("w:down:{m1:?}:{}:Normal", p1.id())).await;

        let m2 = monitor(&watcher, &p2).await;
        p2.exit(ExitReason::custom("frop"));
        probe.expect(&format!("w:down:{m2:?}:{}:Error(\"frop\")", p2.id())).await;

        let started = Instant::now();
        let m3 = monitor(&watcher, &p2).await;
        probe.expect(&format!("w:down:{m3:?}:{}:NoProc", p2.id())).await;
        assert_elapsed(started.elapsed(), Duration::ZERO, SHORT);
        assert!(m1 != m2 && m2 != m3);
    }
}

on_both_runtimes! {
    async fn demonitor_before_death_and_after_death_suppresses_down() {
        // LM-02
        let system = System::new();
        let (report, mut probe) = probe();
        let watcher = start(&system, &mut probe, Script::new("w", &report)).await;
        let target = start(&system, &mut probe, Script::new("p", &report)).await;
        let mut monitors = Vec::new();
        for _ in 0..4 {
            monitors.push(monitor(&watcher, &target).await);
        }
        assert_eq!(watcher.call(DemonitorIt(monitors[0])).await, Ok(true));
        // The watcher is in a handler while the target dies, so that M3's
        // Down is already queued when that handler removes M3: the removal
        // flushes it (OTP `demonitor(Ref, [flush])`).
        let gate = Arc::new(Semaphore::new(0));
        watcher.cast(Do::BlockThenDemonitor(gate.clone(), monitors[2])).await.unwrap();
        probe.expect("w:blocked").await;
        target.exit(ExitReason::custom("bang"));
        target.join().await; // its Downs are queued at the watcher
        gate.add_permits(1);
        probe.expect("w:demonitor:true").await;
        let mut downs = probe.take(2).await;
        downs.sort();
        let mut expected = vec![
            format!("w:down:{:?}:{}:Error(\"bang\")", monitors[1], target.id()),
            format!("w:down:{:?}:{}:Error(\"bang\")", monitors[3], target.id()),
        ];
        expected.sort();
        assert_eq!(downs, expected);
        probe.expect_silence(SHORT).await;
        // An unknown or old monitor: a harmless no-op.
        assert_eq!(watcher.call(DemonitorIt(monitors[0])).await, Ok(false));
        assert_eq!(watcher.call(DemonitorIt(monitors[1])).await, Ok(false));
    }
}

on_both_runtimes! {
    async fn links_propagate_abnormal_exits_not_normal_ones_and_unlink_cuts_them() {
        // LM-03
        let system = System::new();
        let (report, mut probe) = probe();
        let a = start(&system, &mut probe, Script::new("a", &report)).await;
        let b = start(&system, &mut probe, Script::new("b", &report)).await;
        let c = start(&system, &mut probe, Script::new("c", &report)).await;
        let d = start(&system, &mut probe, Script::new("d", &report)).await;
        let e = start(&system, &mut probe, Script::new("e", &report)).await;
        let f = start(&system, &mut probe, Script::new("f", &report)).await;
        a.cast(Do::Link(b.pid())).await.unwrap();
        c.cast(Do::Link(d.pid())).await.unwrap();
        e.cast(Do::Link(f.pid())).await.unwrap();
        e.cast(Do::Unlink(f.pid())).await.unwrap();
        // Make sure the links exist before the exits.
        for actor in [&a, &c, &e] {
            assert!(actor.call(Ask::Name).await.is_ok());
        }

        b.cast(Do::Stop(ExitReason::custom("x"))).await.unwrap();
        d.cast(Do::Stop(ExitReason::Normal)).await.unwrap();
        f.cast(Do::Stop(ExitReason::custom("y"))).await.unwrap();
        assert_eq!(within("a dies", a.join()).await, ExitReason::custom("x"), "same reason, not wrapped");
        assert_eq!(within("f dies", f.join()).await, ExitReason::custom("y"));
        assert_eq!(c.call(Ask::Name).await, Ok("c".to_string()), "a normal exit does not propagate");
        assert_eq!(e.call(Ask::Name).await, Ok("e".to_string()), "unlinked");
        // a was not trapping, so it did not run terminate.
        probe.drain();
        let events = probe.seen();
        assert!(!events.iter().any(|event| event.starts_with("a:terminate")), "{events:?}");
        assert!(!events.iter().any(|event| event.starts_with("e:exit")), "{events:?}");
    }
}

on_both_runtimes! {
    async fn trapping_turns_exit_signals_into_messages() {
        // LM-04
        let system = System::new();
        let (report, mut probe) = probe();
        let a = start(&system, &mut probe, Script::new("a", &report).trapping()).await;
        let b1 = start(&system, &mut probe, Script::new("b1", &report)).await;
        let b2 = start(&system, &mut probe, Script::new("b2", &report)).await;
        let third = start(&system, &mut probe, Script::new("third", &report)).await;
        a.cast(Do::Link(b1.pid())).await.unwrap();
        a.cast(Do::Link(b2.pid())).await.unwrap();
        assert!(a.call(Ask::Name).await.is_ok());

        b1.cast(Do::Stop(ExitReason::custom("x"))).await.unwrap();
        b2.cast(Do::Stop(ExitReason::Normal)).await.unwrap();
        third.cast(Do::Exit(a.pid(), ExitReason::custom("z"))).await.unwrap();
        b1.join().await;
        b2.join().await;
        let mut exits: Vec<String> = Vec::new();
        while exits.len() < 3 {
            let event = probe.next().await;
            if event.starts_with("a:exit:") {
                exits.push(event);
            }
        }
        exits.sort();
        let mut expected = vec![
            format!("a:exit:{}:Error(\"x\")", b1.id()),
            format!("a:exit:{}:Normal", b2.id()),
            format!("a:exit:{}:Error(\"z\")", third.id()),
        ];
        expected.sort();
        assert_eq!(exits, expected);
        assert_eq!(a.call(Ask::Name).await, Ok("a".to_string()));
    }
}

on_both_runtimes! {
    async fn kill_cannot_be_trapped_and_is_seen_as_killed() {
        let system = System::new();
        let (report, mut probe) = probe();
        let a = start(&system, &mut probe, Script::new("a", &report).trapping()).await;
        let watcher = start(&system, &mut probe, Script::new("w", &report)).await;
        let m = monitor(&watcher, &a).await;
        a.exit(ExitReason::Kill);
        probe.expect(&format!("w:down:{m:?}:{}:Killed", a.id())).await;
        probe.expect_silence(SHORT).await; // no terminate, no Exit message
    }
}

on_both_runtimes! {
    async fn an_exit_normal_is_ignored_by_a_non_trapping_actor_but_not_when_sent_to_oneself() {
        let system = System::new();
        let (report, mut probe) = probe();
        let a = start(&system, &mut probe, Script::new("a", &report)).await;
        a.exit(ExitReason::Normal);
        assert_eq!(a.call(Ask::Name).await, Ok("a".to_string()));
        a.cast(Do::Exit(a.pid(), ExitReason::Normal)).await.unwrap();
        assert_eq!(within("a exits", a.join()).await, ExitReason::Normal);
    }
}

on_both_runtimes! {
    async fn a_link_to_a_dead_actor_delivers_noproc() {
        let system = System::new();
        let (report, mut probe) = probe();
        let dead = start(&system, &mut probe, Script::new("dead", &report)).await;
        dead.stop(ExitReason::Normal).await.unwrap();
        let trapping = start(&system, &mut probe, Script::new("t", &report).trapping()).await;
        trapping.cast(Do::Link(dead.pid())).await.unwrap();
        probe.expect_eventually(&format!("t:exit:{}:NoProc", dead.id())).await;
        let plain = start(&system, &mut probe, Script::new("p", &report)).await;
        plain.cast(Do::Link(dead.pid())).await.unwrap();
        assert_eq!(within("p dies", plain.join()).await, ExitReason::NoProc);
    }
}

on_both_runtimes! {
    async fn every_sender_keeps_its_order() {
        // LM-06
        struct Recorder(Vec<(u8, u32)>);
        impl Actor for Recorder {
            type Args = ();
            async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> {
                Ok(Recorder(Vec::new()))
            }
        }
        impl HandleCast<(u8, u32)> for Recorder {
            async fn handle_cast(&mut self, msg: (u8, u32), _: &mut Context<Self>) -> Result<(), ExitReason> {
                self.0.push(msg);
                Ok(())
            }
        }
        struct Dump;
        impl HandleCall<Dump> for Recorder {
            type Reply = Vec<(u8, u32)>;
            async fn handle_call(&mut self, _: Dump, _: &mut Context<Self>) -> Reply<Self::Reply> {
                Reply::new(std::mem::take(&mut self.0))
            }
        }
        let system = System::new();
        let recorder = system.spawn::<Recorder>(()).await.unwrap();
        let senders: Vec<_> = (0..2u8)
            .map(|sender| {
                let recorder = recorder.clone();
                tokio::spawn(async move {
                    for i in 0..1_000 {
                        recorder.cast((sender, i)).await.unwrap();
                        if i % 7 == 0 {
                            tokio::task::yield_now().await;
                        }
                    }
                })
            })
            .collect();
        for sender in senders {
            sender.await.unwrap();
        }
        let seen = recorder.call(Dump).await.unwrap();
        assert_eq!(seen.len(), 2_000);
        for sender in 0..2u8 {
            let order: Vec<u32> = seen.iter().filter(|(s, _)| *s == sender).map(|(_, i)| *i).collect();
            assert_eq!(order, (0..1_000).collect::<Vec<_>>());
        }
    }
}

on_both_runtimes! {
    async fn monitors_are_one_way() {
        // LM-08
        let system = System::new();
        let (report, mut probe) = probe();
        let a = start(&system, &mut probe, Script::new("a", &report)).await;
        let b = start(&system, &mut probe, Script::new("b", &report)).await;
        monitor(&a, &b).await;
        a.cast(Do::Stop(ExitReason::custom("x"))).await.unwrap();
        a.join().await;
        assert_eq!(b.call(Ask::Name).await, Ok("b".to_string()), "b is unaffected by a's death");
        b.cast(Do::Stop(ExitReason::custom("y"))).await.unwrap();
        assert_eq!(b.join().await, ExitReason::custom("y"));
        probe.drain();
        let events = probe.seen();
        assert!(!events.iter().any(|event| event.contains(":down:")), "{events:?}");
    }
}

on_both_runtimes! {
    async fn an_exit_signal_overtakes_a_long_queue_and_interrupts_an_awaiting_handler() {
        let system = System::new();
        let (report, mut probe) = probe();
        let busy = start(&system, &mut probe, Script::new("busy", &report)).await;
        busy.cast(Do::Block(Arc::new(Semaphore::new(0)))).await.unwrap();
        probe.expect("busy:blocked").await; // the handler is awaiting
        for i in 0..10_000 {
            busy.cast(Do::Report(format!("{i}"))).await.unwrap();
        }
        let started = Instant::now();
        busy.exit(ExitReason::custom("now"));
        assert_eq!(within("exit", busy.join()).await, ExitReason::custom("now"));
        assert_elapsed(started.elapsed(), Duration::ZERO, SHORT);
        assert_eq!(busy.dead_letters(), 10_000);
    }
}

on_both_runtimes! {
    async fn a_trapping_actor_stops_with_terminate_when_its_parent_exits_even_normally() {
        // GS-18
        struct Parent;
        impl Actor for Parent {
            type Args = (Script, Script);
            async fn init((trapping, plain): Self::Args, ctx: &mut Context<Self>) -> Result<Self, InitError> {
                ctx.spawn_link::<Scripted>(trapping).await.map_err(|e| InitError::stop(e.to_string()))?;
                ctx.spawn_link::<Scripted>(plain).await.map_err(|e| InitError::stop(e.to_string()))?;
                Ok(Parent)
            }
        }
        impl HandleCast<ExitReason> for Parent {
            async fn handle_cast(&mut self, reason: ExitReason, _: &mut Context<Self>) -> Result<(), ExitReason> {
                Err(reason)
            }
        }
        let system = System::new();
        let (report, mut probe) = probe();
        let parent =
            system.spawn::<Parent>((Script::new("a", &report).trapping(), Script::new("b", &report))).await.unwrap();
        probe.expect("a:init").await;
        probe.expect("b:init").await;
        parent.cast(ExitReason::Normal).await.unwrap();
        probe.expect("a:terminate-start:Normal").await;
        probe.expect("a:terminate:Normal").await;
        // b (not trapping) ignores its parent's normal exit.
        until("the parent and a are gone", || system.actor_count() == 1).await;
        probe.expect_silence(SHORT).await;
        assert_eq!(system.actor_count(), 1);
    }
}

on_both_runtimes! {
    async fn terminate_matrix_without_a_supervisor() {
        // GS-15 sub-cases that need no supervisor; the supervisor ones come with it.
        let system = System::new();
        let (report, mut probe) = probe();

        // 1. Stop return: terminate runs.
        let one = start(&system, &mut probe, Script::new("one", &report)).await;
        one.cast(Do::Stop(ExitReason::custom("x"))).await.unwrap();
        assert_eq!(one.join().await, ExitReason::custom("x"));
        probe.expect_eventually("one:terminate:Error(\"x\")").await;

        // 2. Panic: terminate runs with the panic reason.
        let two = start(&system, &mut probe, Script::new("two", &report)).await;
        two.cast(Do::Panic("boom")).await.unwrap();
        assert!(two.join().await.is_panic());
        probe.expect_eventually("two:terminate:Panic(\"boom\")").await;

        // 5. Kill of a trapping actor: no terminate.
        let five = start(&system, &mut probe, Script::new("five", &report).trapping()).await;
        five.kill();
        assert_eq!(five.join().await, ExitReason::Killed);
        // 6. A non-trapping actor linked to a peer that exits abnormally: no terminate.
        let six = start(&system, &mut probe, Script::new("six", &report)).await;
        let peer = start(&system, &mut probe, Script::new("peer6", &report)).await;
        six.cast(Do::Link(peer.pid())).await.unwrap();
        assert!(six.call(Ask::Name).await.is_ok());
        peer.cast(Do::Stop(ExitReason::custom("boom"))).await.unwrap();
        assert_eq!(six.join().await, ExitReason::custom("boom"));
        // 7. A trapping actor linked to a peer that exits: an Exit message, alive.
        let seven = start(&system, &mut probe, Script::new("seven", &report).trapping()).await;
        let peer = start(&system, &mut probe, Script::new("peer7", &report)).await;
        seven.cast(Do::Link(peer.pid())).await.unwrap();
        assert!(seven.call(Ask::Name).await.is_ok());
        peer.cast(Do::Stop(ExitReason::custom("boom"))).await.unwrap();
        probe.expect_eventually(&format!("seven:exit:{}:Error(\"boom\")", peer.id())).await;
        assert!(seven.is_alive());

        probe.drain();
        let events = probe.seen();
        for silent in ["five:terminate", "six:terminate"] {
            assert!(!events.iter().any(|event| event.starts_with(silent)), "{events:?}");
        }
    }
}

/// An actor that ends the way it is told to.
struct Mortal;

impl Actor for Mortal {
    type Args = ();
    async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> {
        Ok(Mortal)
    }
}

impl HandleCast<Option<ExitReason>> for Mortal {
    async fn handle_cast(&mut self, how: Option<ExitReason>, _: &mut Context<Self>) -> Result<(), ExitReason> {
        match how {
            Some(reason) => Err(reason),
            None => panic!("told to panic"),
        }
    }
}

on_both_runtimes! {
    /// A monitor from plain async code (a test, `main`): a `Down` with the
    /// reason, a panic included; `NoProc` at once for the already dead; and
    /// as many monitors of one actor as asked for, each its own ref.
    async fn a_monitor_from_outside_an_actor_gets_the_down_with_its_reason() {
        let system = System::new();
        let crasher = system.spawn::<Mortal>(()).await.unwrap();
        let first = system.monitor(&crasher);
        let second = system.monitor(crasher.pid());
        crasher.cast(Some(ExitReason::custom("boom"))).await.unwrap();
        let (first, second) = (within("down", first).await, within("down", second).await);
        assert_eq!((first.id, &first.reason), (crasher.id(), &ExitReason::custom("boom")));
        assert_eq!(second.reason, ExitReason::custom("boom"));
        assert_ne!(first.monitor, second.monitor, "each monitor is its own");
        assert_eq!(system.monitor(&crasher).await.reason, ExitReason::NoProc, "already dead");

        let panicker = system.spawn::<Mortal>(()).await.unwrap();
        let down = system.monitor(&panicker);
        panicker.cast(None).await.unwrap();
        assert!(within("down", down).await.reason.is_panic());
    }
}
