//! Supervisors: start order, strategies, restart types, intensity and
//! escalation, shutdown, management API, dynamic supervisors, auto shutdown,
//! stable handles, backoff, snapshots.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use treeline::actor::{ShutdownPolicy, StartError};
use treeline::supervisor::{
    AutoShutdown, Backoff, ChildCounts, ChildId, ChildInfo, ChildKind, ChildRef, ChildStatus, DynamicSpec,
    FailedToStartChild, Restart, SpecError, Strategy, SupervisorError, SupervisorKind, SupervisorRef,
};
use treeline::*;

use crate::scripted::{Ask, Do, InitMode, Script, Scripted};
use crate::support::{assert_elapsed, probe, until_async, within, Probe, Report, SHORT};

const HOUR: Duration = Duration::from_secs(3600);

fn worker(name: &'static str, report: &Report) -> ChildSpec<Scripted> {
    ChildSpec::<Scripted>::worker(name, Script::new(name, report))
}

fn trapping(name: &'static str, report: &Report) -> ChildSpec<Scripted> {
    ChildSpec::<Scripted>::worker(name, Script::new(name, report).trapping())
}

/// The running incarnation of a child, by id.
async fn pid_of(sup: &SupervisorRef, id: &'static str) -> Option<Pid> {
    let children = sup.which_children().await.unwrap();
    children.into_iter().find(|child| child.id == Some(ChildId::from(id))).and_then(|child| child.pid)
}

fn ids(children: &[ChildInfo]) -> Vec<String> {
    children.iter().map(|child| child.id.as_ref().map_or("-".into(), ChildId::to_string)).collect()
}

/// Sends `what` to the child's running incarnation, and waits until the
/// supervisor has started the next one.
async fn crash(child: &ChildRef<Scripted>, what: Do) -> ActorRef<Scripted> {
    let before = child.current().expect("running");
    before.cast(what).await.unwrap();
    within("restarted", child.restarted(before.id())).await
}

/// Waits until the probe has reported `n` events matching `prefix` in total.
async fn expect_inits(probe: &mut Probe, expected: &[&str]) {
    for name in expected {
        probe.expect_eventually(&format!("{name}:init")).await;
    }
}

on_both_runtimes! {
    async fn children_start_in_spec_order_and_are_listed_newest_first() {
        // SUP-01
        let (report, mut probe) = probe();
        let system = System::new();
        let names = ["ch7", "ch3", "ch10", "ch2", "ch5"];
        let mut spec = Supervisor::rest_for_one().intensity(2, HOUR);
        for name in names {
            spec = spec.child(worker(name, &report));
        }
        let sup = system.start(spec).await.unwrap();
        assert_eq!(
            probe.drain(),
            ["ch7:init", "ch3:init", "ch10:init", "ch2:init", "ch5:init"],
            "all started before start returned"
        );
        let children = sup.which_children().await.unwrap();
        assert_eq!(ids(&children), ["ch5", "ch2", "ch10", "ch3", "ch7"]);
        assert!(children.iter().all(|child| child.status == ChildStatus::Running && child.kind == ChildKind::Worker));
        let _ = &mut probe;
    }
}

on_both_runtimes! {
    async fn shutdown_is_sequential_and_newest_first() {
        // SUP-02
        let (report, mut probe) = probe();
        let system = System::new();
        let mut spec = Supervisor::rest_for_one().intensity(2, HOUR);
        for name in ["ch7", "ch3", "ch10", "ch2", "ch5"] {
            let script = Script::new(name, &report).trapping().slow_terminate(Duration::from_millis(50));
            spec =
                spec.child(ChildSpec::<Scripted>::worker(name, script).shutdown(ShutdownPolicy::Timeout(Duration::from_secs(1))));
        }
        let sup = system.start(spec).await.unwrap();
        probe.drain();
        let started = Instant::now();
        assert_eq!(sup.stop(ExitReason::Shutdown).await, Ok(()));
        assert!(started.elapsed() >= Duration::from_millis(250));
        let expected: Vec<String> = ["ch5", "ch2", "ch10", "ch3", "ch7"]
            .iter()
            .flat_map(|name| [format!("{name}:terminate-start:Shutdown"), format!("{name}:terminate:Shutdown")])
            .collect();
        assert_eq!(probe.drain(), expected, "each terminate ends before the next starts");
        assert_eq!(sup.join().await, ExitReason::Shutdown);
    }
}

on_both_runtimes! {
    async fn one_for_one_restarts_only_the_failed_child() {
        // SUP-03
        let (report, mut probe) = probe();
        let system = System::new();
        let c1 = worker("c1", &report);
        let c1_ref = c1.child_ref();
        let sup = system
            .start(Supervisor::one_for_one().intensity(2, HOUR).child(c1).child(worker("c2", &report)))
            .await
            .unwrap();
        probe.drain();
        let (old1, old2) = (pid_of(&sup, "c1").await.unwrap(), pid_of(&sup, "c2").await.unwrap());
        c1_ref.cast(Do::Panic("crash")).await.unwrap();
        probe.expect("c1:terminate-start:Panic(\"crash\")").await;
        probe.expect("c1:terminate:Panic(\"crash\")").await;
        probe.expect("c1:init").await;
        assert_ne!(pid_of(&sup, "c1").await.unwrap(), old1);
        assert_eq!(pid_of(&sup, "c2").await.unwrap(), old2);
        let counts = sup.count_children().await.unwrap();
        assert_eq!({ let got = counts; (got.specs, got.active, got.workers, got.supervisors) }, (2, 2, 2, 0));
        probe.expect_silence(SHORT).await;
    }
}

on_both_runtimes! {
    async fn one_for_all_restarts_everyone_as_one_restart() {
        // SUP-04
        let (report, mut probe) = probe();
        let system = System::new();
        let c2 = trapping("c2", &report);
        let c2_ref = c2.child_ref();
        let spec = Supervisor::one_for_all()
            .intensity(5, HOUR)
            .child(trapping("c1", &report))
            .child(c2)
            .child(trapping("c3", &report));
        let sup = system.start(spec).await.unwrap();
        probe.drain();
        for cascade in 0..5 {
            let before: Vec<Option<Pid>> =
                vec![pid_of(&sup, "c1").await, pid_of(&sup, "c2").await, pid_of(&sup, "c3").await];
            c2_ref.cast(Do::Panic("crash")).await.unwrap();
            let events = probe.take(9).await;
            assert_eq!(
                events,
                [
                    "c2:terminate-start:Panic(\"crash\")",
                    "c2:terminate:Panic(\"crash\")",
                    "c3:terminate-start:Shutdown",
                    "c3:terminate:Shutdown",
                    "c1:terminate-start:Shutdown",
                    "c1:terminate:Shutdown",
                    "c1:init",
                    "c2:init",
                    "c3:init",
                ],
                "cascade {cascade}"
            );
            let after = vec![pid_of(&sup, "c1").await, pid_of(&sup, "c2").await, pid_of(&sup, "c3").await];
            assert!(before.iter().zip(&after).all(|(b, a)| a.is_some() && b != a), "all have new pids");
        }
        // The sixth cascade within the period exceeds intensity 5.
        c2_ref.cast(Do::Panic("crash")).await.unwrap();
        assert_eq!(within("the supervisor gives up", sup.join()).await, ExitReason::Shutdown);
    }
}

on_both_runtimes! {
    async fn rest_for_one_restarts_the_failed_child_and_later_ones() {
        // SUP-05
        let (report, mut probe) = probe();
        let system = System::new();
        let c3 = trapping("c3", &report);
        let c3_ref = c3.child_ref();
        let spec = Supervisor::rest_for_one()
            .intensity(5, HOUR)
            .child(trapping("c1", &report))
            .child(trapping("c2", &report))
            .child(c3)
            .child(trapping("c4", &report))
            .child(trapping("c5", &report));
        let sup = system.start(spec).await.unwrap();
        probe.drain();
        let (c1, c2) = (pid_of(&sup, "c1").await, pid_of(&sup, "c2").await);
        c3_ref.cast(Do::Panic("crash")).await.unwrap();
        assert_eq!(
            probe.take(9).await,
            [
                "c3:terminate-start:Panic(\"crash\")",
                "c3:terminate:Panic(\"crash\")",
                "c5:terminate-start:Shutdown",
                "c5:terminate:Shutdown",
                "c4:terminate-start:Shutdown",
                "c4:terminate:Shutdown",
                "c3:init",
                "c4:init",
                "c5:init",
            ]
        );
        assert_eq!((pid_of(&sup, "c1").await, pid_of(&sup, "c2").await), (c1, c2));
        probe.expect_silence(SHORT).await;
    }
}

on_both_runtimes! {
    async fn exceeding_the_intensity_stops_the_children_and_escalates() {
        // SUP-06 (and escalation through a parent supervisor)
        let (report, mut probe) = probe();
        let system = System::new();
        let flaky = trapping("flaky", &report);
        let flaky_ref = flaky.child_ref();
        let inner = Supervisor::one_for_one().intensity(2, HOUR).child(trapping("steady", &report)).child(flaky);
        let inner_spec = ChildSpec::supervisor("inner", inner).restart(Restart::Transient);
        let inner_ref = inner_spec.child_ref();
        let outer = system.start(Supervisor::one_for_one().intensity(2, HOUR).child(inner_spec)).await.unwrap();
        probe.drain();
        let inner_pid = inner_ref.current().unwrap().pid();
        for _ in 0..2 {
            crash(&flaky_ref, Do::Panic("crash")).await;
        }
        flaky_ref.cast(Do::Panic("crash")).await.unwrap(); // the third restart in the period
        assert_eq!(within("inner gives up", inner_pid.join()).await, ExitReason::Shutdown);
        // It stopped its remaining child, and exited Shutdown: a transient child
        // supervisor that gave up is not restarted by its parent.
        probe.expect_eventually("steady:terminate:Shutdown").await;
        assert_eq!({ let got = outer.count_children().await.unwrap(); (got.specs, got.active, got.workers, got.supervisors) }, (1, 0, 0, 1));
    }
}

on_both_runtimes! {
    async fn escalation_walks_up_to_the_top() {
        let (report, _probe) = probe();
        let system = System::new();
        let bottom_child = worker("w", &report);
        let w = bottom_child.child_ref();
        let bottom = Supervisor::one_for_one().intensity(0, HOUR).child(bottom_child);
        let middle = Supervisor::one_for_one().intensity(0, HOUR).child(ChildSpec::supervisor("bottom", bottom));
        let top = system
            .start(Supervisor::one_for_one().intensity(0, HOUR).child(ChildSpec::supervisor("middle", middle)))
            .await
            .unwrap();
        w.cast(Do::Stop(ExitReason::custom("boom"))).await.unwrap();
        assert_eq!(within("the top gives up", top.join()).await, ExitReason::Shutdown);
        assert_eq!(system.actor_count(), 0);
    }
}

on_both_runtimes! {
    async fn a_permanent_child_restarts_on_every_reason() {
        // SUP-09
        let (report, mut probe) = probe();
        let system = System::new();
        let c1 = worker("c1", &report);
        let c1_ref = c1.child_ref();
        let sup = system.start(Supervisor::one_for_one().intensity(10, HOUR).child(c1)).await.unwrap();
        probe.drain();
        let reasons =
            [ExitReason::Normal, ExitReason::Shutdown, ExitReason::shutdown_with("some_info"), ExitReason::custom("died")];
        for reason in reasons {
            crash(&c1_ref, Do::Stop(reason)).await;
            assert_eq!(sup.count_children().await.unwrap().active, 1);
        }
        let before = c1_ref.current().unwrap();
        before.kill();
        within("restarted", c1_ref.restarted(before.id())).await;
    }
}

on_both_runtimes! {
    async fn a_transient_child_restarts_only_on_abnormal_exits() {
        // SUP-10
        let (report, mut probe) = probe();
        let system = System::new();
        let c1 = worker("c1", &report).restart(Restart::Transient);
        let c1_ref = c1.child_ref();
        let sup = system.start(Supervisor::one_for_one().intensity(2, HOUR).child(c1)).await.unwrap();
        probe.drain();
        for reason in [ExitReason::Normal, ExitReason::Shutdown, ExitReason::shutdown_with("x")] {
            let current = c1_ref.current().unwrap();
            current.cast(Do::Stop(reason)).await.unwrap();
            current.join().await; // its Exit is queued ahead of the next call
            assert_eq!({ let got = sup.count_children().await.unwrap(); (got.specs, got.active, got.workers, got.supervisors) }, (1, 0, 1, 0));
            assert_eq!(pid_of(&sup, "c1").await, None);
            assert!(matches!(sup.restart_child("c1").await, Ok(Some(_))));
        }
        // Abnormal exits restart it (and only those consume intensity: 2 allowed).
        crash(&c1_ref, Do::Stop(ExitReason::custom("boom"))).await;
        let current = c1_ref.current().unwrap();
        current.kill();
        within("restarted after the kill", c1_ref.restarted(current.id())).await;
        assert!(sup.pid().is_alive());
    }
}

on_both_runtimes! {
    async fn a_temporary_child_is_never_restarted_and_its_spec_goes() {
        // SUP-11
        let (report, _probe) = probe();
        let system = System::new();
        let sup = system.start(Supervisor::one_for_one().intensity(1, HOUR)).await.unwrap();
        for reason in [ExitReason::Normal, ExitReason::Shutdown, ExitReason::custom("x"), ExitReason::Kill] {
            let spec = worker("c1", &report).restart(Restart::Temporary);
            let c1 = spec.child_ref();
            assert!(matches!(sup.start_child(spec).await, Ok(Some(_))));
            let current = c1.current().unwrap();
            if reason == ExitReason::Kill {
                current.kill();
            } else {
                current.cast(Do::Stop(reason)).await.unwrap();
            }
            current.join().await; // its Exit is queued ahead of the next call
            assert!(sup.which_children().await.unwrap().is_empty());
            assert_eq!(sup.count_children().await.unwrap(), ChildCounts::default());
            assert_eq!(sup.restart_child("c1").await, Err(SupervisorError::NotFound));
        }
        assert!(sup.pid().is_alive(), "no intensity consumed");
    }
}

on_both_runtimes! {
    async fn temporary_bystanders_are_not_restarted() {
        // SUP-12
        for spec in [Supervisor::one_for_all(), Supervisor::rest_for_one()] {
            let (report, mut probe) = probe();
            let system = System::new();
            let c1 = worker("c1", &report);
            let c1_ref = c1.child_ref();
            let sup = system
                .start(
                    spec.intensity(2, Duration::from_secs(300))
                        .child(c1)
                        .child(worker("c2", &report).restart(Restart::Temporary)),
                )
                .await
                .unwrap();
            probe.drain();
            c1_ref.cast(Do::Stop(ExitReason::Normal)).await.unwrap();
            probe.expect_eventually("c1:init").await;
            probe.expect_silence(SHORT).await; // and c2 does not come back
            assert!(sup.pid().is_alive());
            assert_eq!(ids(&sup.which_children().await.unwrap()), ["c1"]);
            probe.drain();
            let c2_inits = probe.seen().iter().filter(|event| *event == "c2:init").count();
            assert_eq!(c2_inits, 1, "c2 was not restarted");
        }
    }
}

on_both_runtimes! {
    async fn brutal_kill_skips_terminate_even_for_trapping_children() {
        // SUP-15
        let (report, mut probe) = probe();
        let system = System::new();
        let spec = Supervisor::one_for_one()
            .child(trapping("c1", &report).shutdown(ShutdownPolicy::Timeout(Duration::from_secs(1))))
            .child(trapping("c2", &report).shutdown(ShutdownPolicy::BrutalKill));
        let c2_pid = {
            let sup = system.start(spec).await.unwrap();
            let c2 = pid_of(&sup, "c2").await.unwrap();
            sup.stop(ExitReason::Shutdown).await.unwrap();
            c2
        };
        assert_eq!(c2_pid.exit_reason(), Some(ExitReason::Killed));
        probe.drain();
        assert!(!probe.seen().iter().any(|event| event.starts_with("c2:terminate")), "{:?}", probe.seen());
        assert!(probe.seen().contains(&"c1:terminate:Shutdown".to_string()));
    }
}

on_both_runtimes! {
    async fn a_child_failing_to_start_fails_the_supervisor_start() {
        // SUP-17
        let (report, mut probe) = probe();
        let system = System::new();
        let spec = Supervisor::one_for_one()
            .child(trapping("a", &report))
            .child(ChildSpec::<Scripted>::worker(
                "b",
                Script::new("b", &report).init(InitMode::Stop(ExitReason::custom("boom"))),
            ))
            .child(worker("c", &report));
        let error = system.start(spec).await.unwrap_err();
        let StartError::Exit(reason) = error else { panic!("expected an exit reason, got {error:?}") };
        assert!(reason.is_shutdown(), "{reason:?}");
        let failed = reason.downcast_ref::<FailedToStartChild>().expect("FailedToStartChild");
        assert_eq!((failed.id.as_str(), &failed.reason), ("b", &ExitReason::custom("boom")));
        assert_eq!(probe.drain(), ["a:init", "a:terminate-start:Shutdown", "a:terminate:Shutdown"], "c never started");
        assert_eq!(system.actor_count(), 0);
    }
}

on_both_runtimes! {
    async fn a_panicking_start_is_a_failed_start_not_a_crash() {
        let (report, _probe) = probe();
        let system = System::new();
        let spec = Supervisor::one_for_one()
            .child(ChildSpec::<Scripted>::worker("p", Script::new("p", &report).init(InitMode::Panic)));
        let StartError::Exit(reason) = system.start(spec).await.unwrap_err() else { panic!() };
        let failed = reason.downcast_ref::<FailedToStartChild>().unwrap();
        assert!(failed.reason.is_panic());
    }
}

on_both_runtimes! {
    async fn a_child_may_ignore_its_start() {
        // SUP-18
        let (report, _probe) = probe();
        let system = System::new();
        let ignoring = Arc::new(AtomicBool::new(true));
        let sup = system.start(Supervisor::one_for_one()).await.unwrap();
        let c1 =
            ChildSpec::<Scripted>::worker("c1", Script::new("c1", &report).init(InitMode::IgnoreWhile(ignoring.clone())));
        assert_eq!(sup.start_child(c1).await, Ok(None));
        let which = sup.which_children().await.unwrap();
        assert_eq!((ids(&which), which[0].pid.clone()), (vec!["c1".to_string()], None));
        let t1 =
            ChildSpec::<Scripted>::worker("t1", Script::new("t1", &report).init(InitMode::IgnoreWhile(ignoring.clone())))
                .restart(Restart::Temporary);
        assert_eq!(sup.start_child(t1).await, Ok(None));
        assert_eq!({ let got = sup.count_children().await.unwrap(); (got.specs, got.active, got.workers, got.supervisors) }, (1, 0, 1, 0));
        ignoring.store(false, Ordering::SeqCst);
        assert!(matches!(sup.restart_child("c1").await, Ok(Some(_))));
        assert_eq!({ let got = sup.count_children().await.unwrap(); (got.specs, got.active, got.workers, got.supervisors) }, (1, 1, 1, 0));
    }
}

on_both_runtimes! {
    async fn the_management_api_follows_otp() {
        // SUP-19
        let (report, mut probe) = probe();
        let system = System::new();
        let sup = system.start(Supervisor::one_for_one().intensity(1, HOUR)).await.unwrap();
        let spec = || trapping("c1", &report);
        let c1_ref = spec().child_ref();
        let first = sup.start_child(spec()).await.unwrap().unwrap();
        // 1.
        assert_eq!(sup.start_child(spec()).await, Err(SupervisorError::AlreadyStarted(first.clone())));
        // 2.
        assert_eq!(sup.terminate_child("unknown").await, Err(SupervisorError::NotFound));
        assert_eq!(sup.delete_child("unknown").await, Err(SupervisorError::NotFound));
        assert_eq!(sup.restart_child("unknown").await, Err(SupervisorError::NotFound));
        // 3.
        assert_eq!(sup.delete_child("c1").await, Err(SupervisorError::Running));
        assert_eq!(sup.restart_child("c1").await, Err(SupervisorError::Running));
        // 4.
        assert_eq!(sup.terminate_child("c1").await, Ok(()));
        assert_eq!(first.exit_reason(), Some(ExitReason::Shutdown));
        assert_eq!(pid_of(&sup, "c1").await, None);
        assert_eq!({ let got = sup.count_children().await.unwrap(); (got.specs, got.active, got.workers, got.supervisors) }, (1, 0, 1, 0));
        assert_eq!(sup.terminate_child("c1").await, Ok(()));
        // 5.
        assert_eq!(sup.start_child(spec()).await, Err(SupervisorError::AlreadyPresent));
        // 6. Intensity was not consumed: one crash is still tolerated.
        let restarted = sup.restart_child("c1").await.unwrap().unwrap();
        assert_ne!(restarted, first);
        drop(c1_ref);
        restarted.exit(ExitReason::custom("crash"));
        probe.expect_eventually("c1:init").await;
        probe.expect_eventually("c1:init").await;
        assert!(sup.pid().is_alive());
        // 7.
        assert_eq!(sup.terminate_child("c1").await, Ok(()));
        assert_eq!(sup.delete_child("c1").await, Ok(()));
        assert_eq!(sup.restart_child("c1").await, Err(SupervisorError::NotFound));
        assert!(sup.which_children().await.unwrap().is_empty());
        assert_eq!(sup.count_children().await.unwrap(), ChildCounts::default());
        // 8.
        let failing = ChildSpec::<Scripted>::worker(
            "bad",
            Script::new("bad", &report).init(InitMode::Stop(ExitReason::custom("nope"))),
        );
        assert_eq!(sup.start_child(failing).await, Err(SupervisorError::StartFailed(ExitReason::custom("nope"))));
        assert!(sup.which_children().await.unwrap().is_empty());
        // 9.
        sup.stop(ExitReason::Shutdown).await.unwrap();
        assert_eq!(sup.which_children().await, Err(SupervisorError::NoProc));
        assert_eq!(sup.count_children().await, Err(SupervisorError::NoProc));
        assert_eq!(sup.terminate_child("c1").await, Err(SupervisorError::NoProc));
        assert_eq!(sup.start_child(spec()).await, Err(SupervisorError::NoProc));
    }
}

on_both_runtimes! {
    async fn terminate_runs_on_supervisor_stops_only_when_trapping() {
        // GS-15 cases 3, 4, 5
        let (report, mut probe) = probe();
        let system = System::new();
        let sup = system.start(Supervisor::one_for_one().intensity(10, Duration::from_secs(5))).await.unwrap();
        let cases = [
            (trapping("three", &report).restart(Restart::Temporary), ExitReason::Shutdown, true),
            (worker("four", &report).restart(Restart::Temporary), ExitReason::Shutdown, false),
            (
                trapping("five", &report).restart(Restart::Temporary).shutdown(ShutdownPolicy::BrutalKill),
                ExitReason::Killed,
                false,
            ),
        ];
        for (spec, reason, terminates) in cases {
            let name = spec.id().to_string();
            let pid = sup.start_child(spec).await.unwrap().unwrap();
            sup.terminate_child(name.clone()).await.unwrap();
            assert_eq!(pid.exit_reason(), Some(reason));
            probe.drain();
            let ran = probe.seen().iter().any(|event| event.starts_with(&format!("{name}:terminate:")));
            assert_eq!(ran, terminates, "{name}");
        }
    }
}

on_both_runtimes! {
    async fn a_child_that_ignores_shutdown_is_killed_after_its_timeout() {
        let (report, _probe) = probe();
        let system = System::new();
        let stubborn =
            ChildSpec::<Scripted>::worker("stubborn", Script::new("stubborn", &report).trapping().slow_terminate(HOUR))
                .shutdown(ShutdownPolicy::Timeout(Duration::from_millis(300)));
        let sup = system.start(Supervisor::one_for_one().child(stubborn)).await.unwrap();
        let pid = pid_of(&sup, "stubborn").await.unwrap();
        let started = Instant::now();
        assert_eq!(sup.terminate_child("stubborn").await, Ok(()));
        assert_elapsed(started.elapsed(), Duration::from_millis(300), Duration::from_millis(400));
        assert_eq!(pid.exit_reason(), Some(ExitReason::Killed));
        assert_eq!(sup.count_children().await.unwrap().active, 0, "the supervisor still answers");
    }
}

on_both_runtimes! {
    async fn a_failed_restart_is_retried_and_counts_toward_intensity() {
        let (report, mut probe) = probe();
        let system = System::new();
        let broken = Arc::new(AtomicBool::new(false));
        let flaky =
            ChildSpec::<Scripted>::worker("flaky", Script::new("flaky", &report).init(InitMode::FailWhile(broken.clone())));
        let flaky_ref = flaky.child_ref();
        let sup = system.start(Supervisor::one_for_one().intensity(5, HOUR).child(flaky)).await.unwrap();
        probe.drain();
        broken.store(true, Ordering::SeqCst);
        flaky_ref.cast(Do::Stop(ExitReason::custom("crash"))).await.unwrap();
        // Every attempt fails and counts: 5 attempts are allowed, the 6th stops it.
        for _ in 0..5 {
            probe.expect_eventually("flaky:init-failed").await;
        }
        assert_eq!(within("the supervisor gives up", sup.join()).await, ExitReason::Shutdown);
    }
}

// Paused clock only: it waits out a 10 s restart backoff.
#[tokio::test(start_paused = true)]
async fn a_restarting_child_answers_management_calls_in_between() {
    let (report, mut probe) = probe();
    let system = System::new();
    let broken = Arc::new(AtomicBool::new(false));
    let flaky =
        ChildSpec::<Scripted>::worker("flaky", Script::new("flaky", &report).init(InitMode::FailWhile(broken.clone())))
            .restart(Restart::Transient);
    let flaky_ref = flaky.child_ref();
    let sup = system
        .start(
            Supervisor::one_for_one()
                .intensity(3, HOUR)
                .backoff(Backoff::new(Duration::from_secs(10), Duration::from_secs(10)))
                .child(flaky),
        )
        .await
        .unwrap();
    probe.drain();
    broken.store(true, Ordering::SeqCst);
    flaky_ref.cast(Do::Stop(ExitReason::custom("crash"))).await.unwrap();
    until_async("restarting", || async { sup.which_children().await.unwrap()[0].status == ChildStatus::Restarting })
        .await;
    assert_eq!(flaky_ref.call(Ask::Name).await, Err(CallError::NoProc), "a clear NoProc while restarting");
    assert_eq!(sup.restart_child("flaky").await, Err(SupervisorError::Restarting));
    assert_eq!(sup.delete_child("flaky").await, Err(SupervisorError::Restarting));
    assert_eq!(
        sup.start_child(ChildSpec::<Scripted>::worker("flaky", Script::new("flaky", &report))).await,
        Err(SupervisorError::AlreadyPresent)
    );
    // terminate_child cancels the pending restart.
    assert_eq!(sup.terminate_child("flaky").await, Ok(()));
    assert_eq!(sup.which_children().await.unwrap()[0].status, ChildStatus::NotRunning);
    tokio::time::sleep(Duration::from_secs(20)).await;
    assert_eq!(sup.which_children().await.unwrap()[0].status, ChildStatus::NotRunning);
}

on_both_runtimes! {
    async fn a_child_ref_reaches_each_new_incarnation() {
        let (report, mut probe) = probe();
        let system = System::new();
        let spec = worker("w", &report);
        let w = spec.child_ref();
        assert_eq!(w.call(Ask::Name).await, Err(CallError::NoProc), "not started yet");
        let _sup = system.start(Supervisor::one_for_one().intensity(10, HOUR).child(spec)).await.unwrap();
        probe.drain();
        for _ in 0..3 {
            assert_eq!(w.call(Ask::Name).await, Ok("w".to_string()));
            let before = w.id().unwrap();
            w.cast(Do::Panic("crash")).await.unwrap();
            let after = within("restarted", w.restarted(before)).await;
            assert_ne!(after.id(), before);
        }
        assert_eq!(w.call(Ask::Name).await, Ok("w".to_string()));
        w.try_cast(Do::Report("direct".into())).unwrap();
        probe.expect_eventually("w:handled:direct").await;
    }
}

/// Crashes `w` four times: the first three restarts wait 100, 200 and
/// 400 ms (a doubling backoff without jitter); the fourth crash goes past
/// the intensity.
async fn crash_through_the_backoff(w: &ChildRef<Scripted>) {
    for expected in [100, 200, 400] {
        let before = w.id().unwrap();
        w.cast(Do::Stop(ExitReason::custom("crash"))).await.unwrap();
        let crashed = Instant::now();
        within("restarted", w.restarted(before)).await;
        assert_elapsed(crashed.elapsed(), Duration::from_millis(expected), Duration::from_millis(expected + 20));
    }
    w.cast(Do::Stop(ExitReason::custom("crash"))).await.unwrap();
}

on_both_runtimes! {
    async fn backoff_delays_restarts_and_intensity_still_applies() {
        let (report, mut probe) = probe();
        let system = System::new();
        let spec = worker("w", &report);
        let w = spec.child_ref();
        let backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(1)).jitter(0.0);
        let sup = system.start(Supervisor::one_for_one().intensity(3, HOUR).backoff(backoff).child(spec)).await.unwrap();
        probe.drain();
        crash_through_the_backoff(&w).await;
        assert_eq!(within("gives up", sup.join()).await, ExitReason::Shutdown);
    }

    /// The dynamic supervisor shares the static one's restart ledger, so it
    /// has the same backoff: each consecutive restart of a failing child
    /// waits twice as long, and every restart counts against the intensity.
    async fn a_dynamic_supervisor_backs_off_too() {
        let (report, mut probe) = probe();
        let system = System::new();
        let backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(1)).jitter(0.0);
        let spec = DynamicSpec::<Scripted>::new().intensity(3, HOUR).backoff(backoff);
        let sup = system.start_dynamic(spec).await.unwrap();
        let w = sup.start_child(Script::new("w", &report)).await.unwrap().expect("started");
        probe.drain();
        crash_through_the_backoff(&w).await;
        assert_eq!(within("gives up", sup.actor().join()).await, ExitReason::Shutdown);
    }
}

on_both_runtimes! {
    async fn the_dynamic_supervisor_basics() {
        // SUP-20
        struct Numbered;
        impl Actor for Numbered {
            type Args = (u32, Report);
            async fn init((n, report): Self::Args, _: &mut Context<Self>) -> Result<Self, InitError> {
                report.say(format!("init:{n}"));
                Ok(Numbered)
            }
        }
        impl HandleCast<ExitReason> for Numbered {
            async fn handle_cast(&mut self, reason: ExitReason, _: &mut Context<Self>) -> Result<(), ExitReason> {
                Err(reason)
            }
        }
        let (report, mut probe) = probe();
        let system = System::new();
        let spec = DynamicSpec::<Numbered>::new().max_children(3).intensity(100, Duration::from_secs(5));
        let sup = system.start_dynamic(spec).await.unwrap();
        let mut children = Vec::new();
        for n in 1..=3 {
            children.push(sup.start_child((n, report.clone())).await.unwrap().unwrap());
            probe.expect(&format!("init:{n}")).await;
        }
        let which = sup.which_children().await.unwrap();
        assert_eq!(which.len(), 3);
        assert!(which.iter().all(|child| child.id.is_none()));
        let newest_first: Vec<_> = children.iter().rev().map(|child| child.id()).collect();
        assert_eq!(which.iter().map(|child| child.pid.as_ref().map(Pid::id)).collect::<Vec<_>>(), newest_first, "as a static supervisor's");
        assert_eq!(sup.start_child((4, report.clone())).await.err(), Some(SupervisorError::MaxChildren));
        let p2 = children[1].id().unwrap();
        assert_eq!(sup.terminate_child(p2).await, Ok(()));
        assert_eq!(sup.terminate_child(p2).await, Err(SupervisorError::NotFound));
        let outsider = system.spawn::<Numbered>((99, report.clone())).await.unwrap();
        assert_eq!(sup.terminate_child(outsider.id()).await, Err(SupervisorError::NotFound));
        assert!(outsider.is_alive());
        let old = children[0].id().unwrap();
        children[0].cast(ExitReason::custom("crash")).await.unwrap();
        probe.expect_eventually("init:1").await; // the same argument
        assert_ne!(children[0].id(), Some(old));
        assert_eq!(sup.count_children().await.unwrap().active, 2);
        // Children stop concurrently with the supervisor.
        let pids: Vec<Pid> = sup.which_children().await.unwrap().into_iter().filter_map(|c| c.pid).collect();
        sup.stop(ExitReason::Shutdown).await.unwrap();
        assert!(pids.iter().all(|pid| pid.exit_reason() == Some(ExitReason::Shutdown)));
    }
}

on_both_runtimes! {
    async fn a_dynamic_supervisor_stops_children_concurrently() {
        let (report, _probe) = probe();
        let system = System::new();
        let spec = DynamicSpec::<Scripted>::new().shutdown(ShutdownPolicy::Timeout(Duration::from_secs(1)));
        let sup = system.start_dynamic(spec).await.unwrap();
        for name in ["a", "b", "c"] {
            sup.start_child(Script::new(name, &report).trapping().slow_terminate(Duration::from_millis(200)))
                .await
                .unwrap();
        }
        let started = Instant::now();
        sup.stop(ExitReason::Shutdown).await.unwrap();
        assert_elapsed(started.elapsed(), Duration::from_millis(200), Duration::from_millis(400));
    }
}

on_both_runtimes! {
    /// Elixir's `DynamicSupervisor.start_child(sup, spec)`: each child has
    /// its own restart type, shutdown policy and name. A brutal-kill child
    /// beside a timed one: on stop, the first is killed without its
    /// `terminate` (which would sleep an hour), the second runs its own.
    async fn a_dynamic_supervisors_children_each_have_their_own_spec() {
        let (report, mut probe) = probe();
        let system = System::new();
        let template = DynamicSpec::<Scripted>::new().intensity(10, HOUR);
        let sup = system.start_dynamic(template).await.unwrap();

        let brutal = ChildSpec::<Scripted>::worker("brutal", Script::new("brutal", &report).trapping().slow_terminate(HOUR))
            .shutdown(ShutdownPolicy::BrutalKill);
        let brutal = sup.start_child_spec(brutal).await.unwrap().expect("started");
        let timed = sup.start_child(Script::new("timed", &report).trapping()).await.unwrap().expect("started");
        let once = ChildSpec::<Scripted>::worker("once", Script::new("once", &report)).restart(Restart::Temporary);
        let once = sup.start_child_spec(once).await.unwrap().expect("started");
        let name = Name::<Scripted>::new("dyn.named");
        let named = ChildSpec::<Scripted>::worker("named", Script::new("named", &report))
            .restart(Restart::Transient)
            .name(name.clone());
        let named = sup.start_child_spec(named).await.unwrap().expect("started");
        expect_inits(&mut probe, &["brutal", "timed", "once", "named"]).await;
        let counts = sup.count_children().await.unwrap();
        assert_eq!((counts.specs, counts.active, counts.supervisors, counts.workers), (4, 4, 0, 4));

        // Temporary: a crash removes it.
        let once_pid = once.current().unwrap();
        once_pid.cast(Do::Stop(ExitReason::custom("boom"))).await.unwrap();
        once_pid.join().await;
        assert_eq!(sup.count_children().await.unwrap().specs, 3, "a temporary child is not restarted");

        // Transient and named: a crash restarts it under its name again.
        let restarted = crash(&named, Do::Stop(ExitReason::custom("boom"))).await;
        assert_eq!(system.whereis(&name).map(|actor| actor.id()), Some(restarted.id()));
        // ...and a normal exit ends it for good.
        restarted.cast(Do::Stop(ExitReason::Normal)).await.unwrap();
        restarted.join().await;
        assert_eq!(sup.count_children().await.unwrap().specs, 2);
        assert_eq!(system.whereis(&name).map(|actor| actor.id()), None);

        let (brutal, timed) = (brutal.current().unwrap(), timed.current().unwrap());
        within("stopped without waiting for the brutal child's terminate", sup.stop(ExitReason::Shutdown)).await.unwrap();
        assert_eq!(brutal.exit_reason(), Some(ExitReason::Killed));
        assert_eq!(timed.exit_reason(), Some(ExitReason::Shutdown));
        probe.expect_eventually("timed:terminate:Shutdown").await;
        assert!(!probe.seen().iter().any(|event| event.starts_with("brutal:terminate")), "{:?}", probe.seen());
    }
}

on_both_runtimes! {
    /// Clones of one spec started twice are two children with two handles.
    async fn a_dynamic_child_spec_started_twice_is_two_children() {
        let (report, mut probe) = probe();
        let system = System::new();
        let sup = system.start_dynamic(DynamicSpec::<Scripted>::new()).await.unwrap();
        let spec = ChildSpec::<Scripted>::worker("twin", Script::new("twin", &report));
        let first = sup.start_child_spec(spec.clone()).await.unwrap().expect("started");
        let second = sup.start_child_spec(spec).await.unwrap().expect("started");
        expect_inits(&mut probe, &["twin", "twin"]).await;
        let (a, b) = (first.current().unwrap(), second.current().unwrap());
        assert_ne!(a.id(), b.id());
        let restarted = crash(&first, Do::Stop(ExitReason::custom("boom"))).await;
        assert_ne!(restarted.id(), a.id());
        assert_eq!(second.current().map(|actor| actor.id()), Some(b.id()), "the other handle is untouched");
    }
}

on_both_runtimes! {
    /// A significant child needs an auto shutdown, which a dynamic
    /// supervisor does not have; a child that is a supervisor is counted
    /// and snapshotted as one.
    async fn dynamic_child_specs_are_checked_and_reported_by_kind() {
        let (report, _probe) = probe();
        let system = System::new();
        let sup = system.start_dynamic(DynamicSpec::<Scripted>::new()).await.unwrap();
        let significant = worker("s", &report).restart(Restart::Transient).significant(true);
        assert_eq!(
            sup.start_child_spec(significant).await.err(),
            Some(SupervisorError::InvalidSpec(SpecError::SignificantWithoutAutoShutdown(ChildId::from("s"))))
        );

        let teams = system.start_dynamic(DynamicSpec::<Supervisor>::new()).await.unwrap();
        let team = ChildSpec::supervisor("team", Supervisor::one_for_one().child(worker("member", &report)));
        teams.start_child_spec(team).await.unwrap().expect("started");
        let counts = teams.count_children().await.unwrap();
        assert_eq!((counts.specs, counts.active, counts.supervisors, counts.workers), (1, 1, 1, 0));
        let snapshot = teams.snapshot().await.unwrap();
        let nested = snapshot.children[0].supervisor.as_ref().expect("a nested snapshot");
        assert_eq!(nested.children[0].id, Some(ChildId::from("member")));
        assert_eq!(snapshot.children[0].kind, ChildKind::Supervisor);
    }
}

on_both_runtimes! {
    async fn auto_shutdown_any_and_all_significant() {
        // SUP-22 A
        let (report, mut probe) = probe();
        let system = System::new();
        let c1 = worker("c1", &report).restart(Restart::Transient).significant(true);
        let c1_ref = c1.child_ref();
        let sup = system
            .start(
                Supervisor::one_for_one()
                    .intensity(5, HOUR)
                    .auto_shutdown(AutoShutdown::AnySignificant)
                    .child(c1)
                    .child(trapping("c2", &report).restart(Restart::Transient).significant(true))
                    .child(trapping("c3", &report).restart(Restart::Transient)),
            )
            .await
            .unwrap();
        probe.drain();
        let first = c1_ref.current().unwrap();
        first.kill();
        within("restarted", c1_ref.restarted(first.id())).await;
        crash(&c1_ref, Do::Stop(ExitReason::custom("boom"))).await;
        assert!(sup.pid().is_alive());
        c1_ref.cast(Do::Stop(ExitReason::Normal)).await.unwrap();
        assert_eq!(within("auto shutdown", sup.join()).await, ExitReason::Shutdown);
        probe.drain();
        let order: Vec<&String> = probe.seen().iter().filter(|e| e.ends_with(":terminate:Shutdown")).collect();
        assert_eq!(order, ["c3:terminate:Shutdown", "c2:terminate:Shutdown"]);

        // SUP-22 B
        let report = crate::support::probe().0;
        let c1 = worker("c1", &report).restart(Restart::Temporary).significant(true);
        let c2 = worker("c2", &report).restart(Restart::Temporary).significant(true);
        let (c1_ref, c2_ref) = (c1.child_ref(), c2.child_ref());
        let sup = system
            .start(
                Supervisor::one_for_one()
                    .auto_shutdown(AutoShutdown::AllSignificant)
                    .child(c1)
                    .child(c2)
                    .child(worker("c3", &report)),
            )
            .await
            .unwrap();
        let c1 = c1_ref.current().unwrap();
        c1.cast(Do::Stop(ExitReason::Normal)).await.unwrap();
        c1.join().await;
        let _ = sup.count_children().await; // handled after c1's Exit
        assert!(sup.pid().is_alive(), "c2 still runs");
        c2_ref.cast(Do::Stop(ExitReason::custom("x"))).await.unwrap();
        assert_eq!(within("auto shutdown", sup.join()).await, ExitReason::Shutdown);
    }
}

on_both_runtimes! {
    async fn terminate_child_of_a_significant_child_does_not_trigger_auto_shutdown() {
        let (report, _probe) = probe();
        let system = System::new();
        let sup = system
            .start(
                Supervisor::one_for_one()
                    .auto_shutdown(AutoShutdown::AnySignificant)
                    .child(worker("s", &report).restart(Restart::Transient).significant(true)),
            )
            .await
            .unwrap();
        sup.terminate_child("s").await.unwrap();
        let _ = sup.count_children().await;
        assert!(sup.pid().is_alive());
    }
}

on_both_runtimes! {
    async fn invalid_specs_are_typed_errors() {
        let (report, _probe) = probe();
        let system = System::new();
        let spec_error = |result: Result<SupervisorRef, StartError>| match result {
            Err(StartError::Exit(reason)) => reason.downcast_ref::<SpecError>().cloned(),
            other => panic!("expected a spec error, got {other:?}"),
        };
        let duplicate = Supervisor::one_for_one().child(worker("a", &report)).child(worker("a", &report));
        assert_eq!(spec_error(system.start(duplicate).await), Some(SpecError::DuplicateChildId("a".into())));
        let zero = Supervisor::one_for_one().intensity(1, Duration::ZERO);
        assert_eq!(spec_error(system.start(zero).await), Some(SpecError::ZeroPeriod));
        let permanent = Supervisor::one_for_one()
            .auto_shutdown(AutoShutdown::AnySignificant)
            .child(worker("p", &report).significant(true));
        assert_eq!(spec_error(system.start(permanent).await), Some(SpecError::SignificantPermanent("p".into())));
        let never = Supervisor::one_for_one().child(worker("t", &report).restart(Restart::Transient).significant(true));
        assert_eq!(spec_error(system.start(never).await), Some(SpecError::SignificantWithoutAutoShutdown("t".into())));
        let sup = system.start(Supervisor::one_for_one()).await.unwrap();
        let bad = worker("t", &report).restart(Restart::Temporary).significant(true);
        assert_eq!(
            sup.start_child(bad).await,
            Err(SupervisorError::InvalidSpec(SpecError::SignificantWithoutAutoShutdown("t".into())))
        );
        assert_eq!(system.actor_count(), 1, "nothing of the failed starts is left");
    }
}

on_both_runtimes! {
    async fn system_shutdown_stops_the_whole_tree_newest_first() {
        let (report, mut probe) = probe();
        let system = System::new();
        let inner = Supervisor::one_for_one().child(trapping("i1", &report)).child(trapping("i2", &report));
        let tree = Supervisor::one_for_one()
            .child(trapping("a", &report))
            .child(ChildSpec::supervisor("inner", inner))
            .child(trapping("z", &report));
        system.start(tree).await.unwrap();
        expect_inits(&mut probe, &["a", "i1", "i2", "z"]).await;
        system.shutdown().await;
        let order: Vec<String> = probe.drain().into_iter().filter(|e| e.ends_with(":terminate:Shutdown")).collect();
        assert_eq!(
            order,
            ["z:terminate:Shutdown", "i2:terminate:Shutdown", "i1:terminate:Shutdown", "a:terminate:Shutdown"]
        );
        assert_eq!(system.actor_count(), 0);
    }
}

on_both_runtimes! {
    async fn a_snapshot_shows_the_tree_as_data_and_text() {
        let (report, mut probe) = probe();
        let system = System::new();
        let w = worker("w", &report);
        let w_ref = w.child_ref();
        let inner = Supervisor::one_for_all().intensity(2, Duration::from_secs(10)).child(trapping("i1", &report));
        let sup =
            system.start(Supervisor::rest_for_one().child(w).child(ChildSpec::supervisor("inner", inner))).await.unwrap();
        probe.drain();
        w_ref.cast(Do::Panic("crash")).await.unwrap();
        probe.expect_eventually("w:init").await;
        probe.expect_eventually("i1:init").await; // rest_for_one restarted "inner" too
        let snapshot = sup.snapshot().await.unwrap();
        assert_eq!(snapshot.kind, SupervisorKind::Static(Strategy::RestForOne));
        assert_eq!(snapshot.restarts, 1);
        assert_eq!(snapshot.children.len(), 2);
        assert_eq!(snapshot.children[0].restarts, 1);
        assert_eq!(snapshot.children[0].status, ChildStatus::Running);
        let nested = snapshot.children[1].supervisor.as_ref().expect("nested snapshot");
        assert_eq!(nested.kind, SupervisorKind::Static(Strategy::OneForAll));
        assert_eq!(nested.children[0].id, Some("i1".into()));
        let text = snapshot.to_string();
        assert!(text.contains("rest_for_one (intensity 3 in 5s), 1 restarts"), "{text}");
        assert!(text.contains("├─ w <0."), "{text}");
        assert!(text.contains("└─ inner <0."), "{text}");
        assert!(text.contains("one_for_all"), "{text}");
        assert!(text.contains("└─ i1 <0."), "{text}");
    }
}
