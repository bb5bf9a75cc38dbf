//! The System: shutdown order and completeness, independence, lookups.

use std::time::Duration;

use tokio::time::Instant;
use treeline::actor::{ShutdownPolicy, StartError};
use treeline::exit::PanicMessage;
use treeline::*;

use crate::scripted::{self, Ask, Do, Script, Scripted};
use crate::support::{assert_elapsed, probe, settle, until, within, Report, SHORT};

on_both_runtimes! {
    async fn shutdown_stops_top_level_actors_newest_first_one_at_a_time() {
        let system = System::new();
        let (report, mut probe) = probe();
        for name in ["first", "second", "third"] {
            let actor =
                scripted::spawn(&system, Script::new(name, &report).trapping().slow_terminate(Duration::from_millis(50)))
                    .await;
            actor.cast(Do::Report("wake".into())).await.unwrap(); // a running task
        }
        let plain = scripted::spawn(&system, Script::new("plain", &report)).await;
        let started = Instant::now();
        system.shutdown().await;
        assert!(started.elapsed() >= Duration::from_millis(150), "sequential, not concurrent");
        let terminates: Vec<&str> = probe_all(&mut probe).into_iter().filter(|e| e.contains(":terminate")).collect();
        assert_eq!(
            terminates,
            [
                "third:terminate-start:Shutdown",
                "third:terminate:Shutdown",
                "second:terminate-start:Shutdown",
                "second:terminate:Shutdown",
                "first:terminate-start:Shutdown",
                "first:terminate:Shutdown",
            ]
        );
        assert_eq!(plain.exit_reason(), Some(ExitReason::Shutdown), "a non-trapping actor dies without terminate");
        assert_eq!(system.actor_count(), 0);
    }
}

fn probe_all(probe: &mut crate::support::Probe) -> Vec<&'static str> {
    probe.drain().into_iter().map(|event| &*Box::leak(event.into_boxed_str())).collect()
}

on_both_runtimes! {
    async fn a_hanging_terminate_is_killed_after_the_shutdown_timeout() {
        let system = System::new();
        let (report, _probe) = probe();
        let options = SpawnOptions::new().shutdown(ShutdownPolicy::Timeout(Duration::from_millis(200)));
        let stuck = Script::new("stuck", &report).trapping().slow_terminate(Duration::from_secs(3600));
        let actor = system.spawn_with::<Scripted>(stuck, options).await.unwrap();
        let started = Instant::now();
        within("shutdown", system.shutdown()).await;
        assert_eq!(actor.exit_reason(), Some(ExitReason::Killed));
        assert_elapsed(started.elapsed(), Duration::from_millis(200), Duration::from_millis(300));
    }
}

on_both_runtimes! {
    async fn a_panicking_terminate_does_not_hang_shutdown() {
        let system = System::new();
        let (report, _probe) = probe();
        let actor = scripted::spawn(&system, Script::new("p", &report).trapping().panicking_terminate()).await;
        within("shutdown", system.shutdown()).await;
        assert_eq!(actor.exit_reason(), Some(ExitReason::Panic(PanicMessage::new("terminate exploded"))));
    }
}

on_both_runtimes! {
    async fn brutal_kill_skips_terminate() {
        let system = System::new();
        let (report, mut probe) = probe();
        let options = SpawnOptions::new().shutdown(ShutdownPolicy::BrutalKill);
        let actor = system.spawn_with::<Scripted>(Script::new("b", &report).trapping(), options).await.unwrap();
        probe.expect("b:init").await;
        system.shutdown().await;
        assert_eq!(actor.exit_reason(), Some(ExitReason::Killed));
        probe.expect_silence(SHORT).await;
    }
}

struct Spawner;
impl Actor for Spawner {
    type Args = (Report, u32);
    async fn init((report, children): Self::Args, ctx: &mut Context<Self>) -> Result<Self, InitError> {
        for _ in 0..children {
            // Unlinked children: not stopped by their spawner, only by the System.
            ctx.spawn::<Scripted>(Script::new("child", &report).trapping())
                .await
                .map_err(|e| InitError::stop(e.to_string()))?;
        }
        Ok(Spawner)
    }
}

on_both_runtimes! {
    async fn shutdown_also_stops_actors_spawned_by_actors_and_leaves_no_task() {
        let tasks_before = tokio::runtime::Handle::current().metrics().num_alive_tasks();
        let system = System::new();
        let (report, mut probe) = probe();
        system.spawn::<Spawner>((report.clone(), 3)).await.unwrap();
        let waker = scripted::spawn(&system, Script::new("awake", &report)).await;
        assert_eq!(waker.call(Ask::Name).await, Ok("awake".to_string())); // uses the deadline sweeper
        assert_eq!(system.actor_count(), 5);
        system.shutdown().await;
        assert_eq!(system.actor_count(), 0);
        let children_terminated = probe_all(&mut probe).iter().filter(|e| **e == "child:terminate:Shutdown").count();
        assert_eq!(children_terminated, 3);
        until("tasks end", || tokio::runtime::Handle::current().metrics().num_alive_tasks() <= tasks_before).await;
    }
}

on_both_runtimes! {
    async fn after_shutdown_spawns_are_refused() {
        let system = System::new();
        system.shutdown().await;
        system.shutdown().await; // idempotent
        let (report, _probe) = probe();
        let refused = system.spawn::<Scripted>(Script::new("late", &report)).await;
        assert_eq!(refused.err(), Some(StartError::SystemStopped));
        assert!(system.is_stopping());
    }
}

on_both_runtimes! {
    async fn systems_are_independent() {
        let one = System::new();
        let two = System::new();
        let (report, _probe) = probe();
        let a = scripted::spawn(&one, Script::new("a", &report)).await;
        let b = scripted::spawn(&two, Script::new("b", &report)).await;
        assert_eq!(a.id(), b.id(), "ids are per System");
        one.shutdown().await;
        assert!(!a.is_alive());
        assert_eq!(b.call(Ask::Name).await, Ok("b".to_string()));
        assert_eq!(two.actor_count(), 1);
        two.shutdown().await;
    }
}

on_both_runtimes! {
    async fn lookup_by_id_finds_live_actors_only() {
        let system = System::new();
        let (report, _probe) = probe();
        let actor = scripted::spawn(&system, Script::new("a", &report)).await;
        let pid = system.lookup(actor.id()).expect("live actor");
        assert_eq!(pid, actor.pid());
        assert!(pid.type_name().ends_with("Scripted"));
        actor.stop(ExitReason::Normal).await.unwrap();
        assert!(system.lookup(actor.id()).is_none());
        assert!(!pid.is_alive());
        assert_eq!(pid.exit_reason(), Some(ExitReason::Normal));
    }
}

on_both_runtimes! {
    async fn an_idle_actor_starts_its_task_on_its_first_message_or_signal() {
        let system = System::new();
        let (report, mut probe) = probe();
        let tasks = || tokio::runtime::Handle::current().metrics().num_alive_tasks();
        let before = tasks();
        let actor = scripted::spawn(&system, Script::new("idle", &report)).await;
        assert_eq!(tasks(), before, "a freshly started, idle actor has no task");
        actor.cast(Do::Report("hello".into())).await.unwrap();
        probe.expect("idle:init").await;
        probe.expect("idle:handled:hello").await;
        assert_eq!(tasks(), before + 1);
        // A stop of an idle actor runs terminate in the stopper's task.
        let idle = scripted::spawn(&system, Script::new("idle2", &report)).await;
        probe.expect("idle2:init").await;
        assert_eq!(idle.stop(ExitReason::Normal).await, Ok(()));
        assert_eq!(probe.take(2).await, ["idle2:terminate-start:Normal", "idle2:terminate:Normal"]);
        let idle = scripted::spawn(&system, Script::new("idle3", &report)).await;
        assert_eq!(idle.pid().stop(ExitReason::Shutdown).await, Ok(()));
        // A kill of an idle actor starts its task, which dies at once.
        let idle = scripted::spawn(&system, Script::new("idle4", &report)).await;
        idle.kill();
        assert_eq!(idle.join().await, ExitReason::Killed);
    }
}

#[test]
fn actors_whose_runtime_shuts_down_are_torn_down_as_killed() {
    let system = System::new();
    let (report, _probe) = probe();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (running, dormant) = runtime.block_on(async {
        let running = scripted::spawn(&system, Script::new("running", &report)).await;
        running.cast(Do::Sleep(Duration::from_secs(3600))).await.unwrap();
        running.cast(Do::Report("queued".into())).await.unwrap();
        tokio::task::yield_now().await;
        // A call registers with the deadline sweeper, which dies with the runtime.
        let _ = running.call_timeout(Ask::Name, Duration::from_millis(5)).await;
        let dormant = scripted::spawn(&system, Script::new("dormant", &report)).await;
        (running, dormant)
    });
    drop(runtime);
    assert_eq!(running.exit_reason(), Some(ExitReason::Killed));
    assert!(running.dead_letters() >= 1, "the queued message is a dead letter");
    assert!(dormant.is_alive(), "a dormant actor has no task to lose yet");

    // The System still works on another runtime, timeouts included.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap();
    runtime.block_on(async {
        let sleeper = scripted::spawn(&system, Script::new("sleeper", &report)).await;
        let slow = sleeper.call_timeout(Ask::Sleep(Duration::from_secs(10)), Duration::from_millis(50)).await;
        assert_eq!(slow, Err(CallError::Timeout));
        // Actors belong to the runtime that spawned them: the dormant one dies
        // with `Killed` at its first message, instead of hanging.
        assert_eq!(dormant.call(Ask::Name).await, Err(CallError::Exit(ExitReason::Killed)));
        system.shutdown().await;
    });
    assert_eq!(system.actor_count(), 0);
}

/// A worker that crashes when told to.
struct Fragile;

impl Actor for Fragile {
    type Args = ();
    async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> {
        Ok(Fragile)
    }
}

impl HandleCast<&'static str> for Fragile {
    async fn handle_cast(&mut self, why: &'static str, _: &mut Context<Self>) -> Result<(), ExitReason> {
        Err(ExitReason::custom(why))
    }
}

on_both_runtimes! {
    /// An application's `main`: stopped on request, the tree is shut down
    /// in order and the program exits 0.
    async fn run_until_stop_shuts_the_tree_down_and_succeeds() {
        let system = System::new();
        let spec = ChildSpec::<Fragile>::worker("fragile", ());
        let worker = spec.child_ref();
        let root = system.start(Supervisor::one_for_one().child(spec)).await.unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let run = tokio::spawn({
            let system = system.clone();
            async move {
                system
                    .run_until(root.pid(), async {
                        let _ = stopped.await;
                    })
                    .await
            }
        });
        settle().await;
        assert!(!run.is_finished(), "runs until told to stop");
        stop.send(()).unwrap();
        let outcome = within("run", run).await.unwrap();
        assert_eq!(outcome, RunOutcome::Stopped);
        assert_eq!(outcome.exit_code(), std::process::ExitCode::SUCCESS);
        assert!(worker.current().is_none());
        assert_eq!(system.actor_count(), 0);
    }
}

on_both_runtimes! {
    /// A root supervisor that gives up ends the run with its exit reason
    /// and a failure exit code, instead of leaving `main` running with its
    /// work stopped.
    async fn run_until_a_root_that_gives_up_fails() {
        let system = System::new();
        let spec = ChildSpec::<Fragile>::worker("fragile", ());
        let worker = spec.child_ref();
        let root = system.start(Supervisor::one_for_one().intensity(0, Duration::from_secs(5)).child(spec)).await.unwrap();
        let run = tokio::spawn({
            let system = system.clone();
            async move { system.run_until(root.pid(), std::future::pending()).await }
        });
        worker.cast("crash").await.unwrap();
        let outcome = within("run", run).await.unwrap();
        assert_eq!(outcome, RunOutcome::RootExited(ExitReason::Shutdown));
        assert_eq!(outcome.exit_code(), std::process::ExitCode::FAILURE);
        assert_eq!(system.actor_count(), 0);
    }
}
