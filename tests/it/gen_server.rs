//! The GenServer contract: init, calls, casts, continues, replies, stops,
//! panics.

use std::time::Duration;

use tokio::time::Instant;
use treeline::actor::{ConfigError, StartError};
use treeline::addr::{StopError, DEFAULT_CALL_TIMEOUT};
use treeline::exit::PanicMessage;
use treeline::mailbox::{MailboxConfig, Overflow};
use treeline::*;

use crate::scripted::{self, Ask, Cont, Do, InitMode, Script, Scripted};
use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::support::{assert_elapsed, poll_once, probe, until, within, SHORT, WAIT};

// --- a stack, for GS-01 ---

struct Stack(Vec<&'static str>);

impl Actor for Stack {
    type Args = Vec<&'static str>;
    async fn init(items: Self::Args, _: &mut Context<Self>) -> Result<Self, InitError> {
        Ok(Stack(items))
    }
}

struct Pop;
impl HandleCall<Pop> for Stack {
    type Reply = Option<&'static str>;
    async fn handle_call(&mut self, _: Pop, _: &mut Context<Self>) -> Reply<Self::Reply> {
        Reply::new(self.0.pop())
    }
}

struct Push(&'static str);
impl HandleCast<Push> for Stack {
    async fn handle_cast(&mut self, Push(item): Push, _: &mut Context<Self>) -> Result<(), ExitReason> {
        self.0.push(item);
        Ok(())
    }
}

on_both_runtimes! {
    async fn call_and_cast_round_trip_in_sender_order() {
        // GS-01
        let system = System::new();
        let stack = system.spawn::<Stack>(vec!["hello"]).await.unwrap();
        assert_eq!(stack.call(Pop).await, Ok(Some("hello")));
        stack.cast(Push("world")).await.unwrap();
        assert_eq!(stack.call(Pop).await, Ok(Some("world")), "the cast is handled before the later call");
        assert_eq!(stack.stop(ExitReason::Normal).await, Ok(()));
        assert!(!stack.is_alive());
        assert_eq!(stack.exit_reason(), Some(ExitReason::Normal));
    }
}

on_both_runtimes! {
    async fn init_ignore_starts_nothing_each_time() {
        // GS-02
        let system = System::new();
        let (report, mut probe) = probe();
        for _ in 0..5 {
            let started = system.spawn::<Scripted>(Script::new("g2", &report).init(InitMode::Ignore)).await;
            assert_eq!(started.err(), Some(StartError::Ignored));
            assert_eq!(system.actor_count(), 0);
        }
        probe.expect_silence(SHORT).await; // no init, no terminate reported
    }
}

on_both_runtimes! {
    async fn init_failures_are_returned_synchronously_and_leave_nothing() {
        // GS-03 (a) stop, (b) panic, (c) timeout; five times each.
        let system = System::new();
        let (report, mut probe) = probe();
        for _ in 0..5 {
            let stopped = system
                .spawn::<Scripted>(Script::new("g3", &report).init(InitMode::Stop(ExitReason::custom("failed"))))
                .await;
            assert_eq!(stopped.err(), Some(StartError::Exit(ExitReason::custom("failed"))));

            let panicked = system.spawn::<Scripted>(Script::new("g3", &report).init(InitMode::Panic)).await;
            match panicked {
                Err(StartError::Exit(ExitReason::Panic(panic))) => assert_eq!(panic.message(), "init exploded"),
                other => panic!("expected a panic reason, got {other:?}"),
            }

            let started = Instant::now();
            let options = SpawnOptions::new().init_timeout(Duration::from_millis(200));
            let slow = Script::new("g3", &report).init(InitMode::Sleep(Duration::from_millis(1000)));
            let timed_out = system.spawn_with::<Scripted>(slow, options).await;
            assert_eq!(timed_out.err(), Some(StartError::Timeout));
            assert_elapsed(started.elapsed(), Duration::from_millis(200), Duration::from_millis(450));

            assert_eq!(system.actor_count(), 0, "nothing stays registered");
            let good = scripted::spawn(&system, Script::new("g3", &report)).await;
            probe.expect("g3:init").await;
            good.stop(ExitReason::Normal).await.unwrap();
            probe.expect("g3:terminate-start:Normal").await;
            probe.expect("g3:terminate:Normal").await;
        }
        // The killed slow init never completes (it would report after 1 s), and
        // no failed actor ran terminate.
        probe.expect_silence(Duration::from_millis(1_100)).await;
    }
}

on_both_runtimes! {
    async fn init_continue_runs_before_any_queued_message() {
        // GS-04
        let system = System::new();
        let (report, mut probe) = probe();
        let actor = scripted::spawn(&system, Script::new("g4", &report).init(InitMode::ContinueAfterEarly)).await;
        probe.expect("g4:init").await;
        actor.cast(Do::Report("after".into())).await.unwrap();
        assert_eq!(probe.take(4).await, ["g4:continue:c1", "g4:continue:c2", "g4:handled:early", "g4:handled:after"]);
    }
}

struct Ping;
impl HandleCall<Ping> for Scripted {
    type Reply = &'static str;
    async fn handle_call(&mut self, _: Ping, ctx: &mut Context<Self>) -> Reply<&'static str> {
        ctx.continue_with(Cont("c3"));
        Reply::new("pong")
    }
}

on_both_runtimes! {
    async fn a_continue_from_a_call_runs_before_the_next_message() {
        let system = System::new();
        let (report, mut probe) = probe();
        let actor = scripted::spawn(&system, Script::new("g4", &report)).await;
        probe.expect("g4:init").await;
        let gate = Arc::new(Semaphore::new(0));
        actor.try_cast(Do::Report("queued-first".into())).unwrap();
        actor.try_cast(Do::Block(gate.clone())).unwrap();
        assert_eq!(probe.take(2).await, ["g4:handled:queued-first", "g4:blocked"]);
        let reply = {
            let actor = actor.clone();
            tokio::spawn(async move { actor.call(Ping).await })
        };
        until("the call is queued", || actor.mailbox_len() == 1).await;
        actor.try_cast(Do::Report("after".into())).unwrap();
        gate.add_permits(1);
        assert_eq!(reply.await.unwrap(), Ok("pong"));
        assert_eq!(probe.take(3).await, ["g4:unblocked", "g4:continue:c3", "g4:handled:after"]);
    }
}

on_both_runtimes! {
    async fn calls_to_dead_actors_fail_promptly_with_noproc() {
        // GS-07
        let system = System::new();
        let (report, _probe) = probe();
        let actor = scripted::spawn(&system, Script::new("g7", &report)).await;
        actor.stop(ExitReason::Normal).await.unwrap();
        let started = Instant::now();
        assert_eq!(actor.call_timeout(Ask::Name, Duration::from_secs(5)).await, Err(CallError::NoProc));
        assert_eq!(actor.stop(ExitReason::Normal).await, Err(StopError::NoProc));
        assert_eq!(actor.pid().stop(ExitReason::Normal).await, Err(StopError::NoProc));
        assert_elapsed(started.elapsed(), Duration::ZERO, SHORT);
    }
}

on_both_runtimes! {
    async fn stop_with_reply_runs_terminate_before_replying() {
        // GS-09
        let system = System::new();
        let (report, mut probe) = probe();
        let watcher = scripted::spawn(&system, Script::new("watcher", &report)).await;
        let actor = scripted::spawn(&system, Script::new("g9", &report).slow_terminate(Duration::from_millis(100))).await;
        watcher.cast(Do::Monitor(actor.pid())).await.unwrap();
        probe.expect("watcher:init").await;
        probe.expect("g9:init").await;
        let monitoring = probe.next().await;
        assert_eq!(actor.call(Ask::StopWithReply(ExitReason::custom("bye"))).await, Ok("bye".to_string()));
        // Both terminate reports were sent before the reply arrived.
        assert_eq!(probe.drain()[..2], ["g9:terminate-start:Error(\"bye\")", "g9:terminate:Error(\"bye\")"]);
        let monitor = monitoring.trim_start_matches("watcher:monitoring:");
        let down = format!("watcher:down:{monitor}:{}:Error(\"bye\")", actor.id());
        within("the Down", async {
            while !probe.seen().contains(&down) {
                probe.next().await;
            }
        })
        .await;
    }
}

on_both_runtimes! {
    async fn context_stop_in_a_call_replies_after_terminate() {
        let system = System::new();
        let (report, mut probe) = probe();
        let actor = scripted::spawn(&system, Script::new("g9b", &report)).await;
        probe.expect("g9b:init").await;
        assert_eq!(actor.call(Ask::ContextStop(ExitReason::Shutdown)).await, Ok("stopping".to_string()));
        assert_eq!(probe.drain(), ["g9b:terminate-start:Shutdown", "g9b:terminate:Shutdown"]);
        assert_eq!(actor.join().await, ExitReason::Shutdown);
    }
}

on_both_runtimes! {
    async fn stop_without_reply_gives_the_caller_the_exit_reason() {
        let system = System::new();
        let (report, _probe) = probe();
        let actor = scripted::spawn(&system, Script::new("g9c", &report).slow_terminate(Duration::from_millis(50))).await;
        let result = actor.call(Ask::StopWithoutReply(ExitReason::custom("done"))).await;
        assert_eq!(result, Err(CallError::Exit(ExitReason::custom("done"))));
    }
}

struct Looper;

impl Actor for Looper {
    type Args = ();
    async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> {
        Ok(Looper)
    }
}

struct Loop;
impl HandleCall<Loop> for Looper {
    type Reply = Vec<String>;
    async fn handle_call(&mut self, _: Loop, ctx: &mut Context<Self>) -> Reply<Vec<String>> {
        let me = ctx.myself().clone();
        let finite = me.call_timeout(Loop, Duration::from_secs(5)).await.map(|_| ());
        let infinite = me.call_forever(Loop).await.map(|_| ());
        let stop = me.stop(ExitReason::Normal).await;
        Reply::new(vec![format!("{finite:?}"), format!("{infinite:?}"), format!("{stop:?}")])
    }
}

on_both_runtimes! {
    async fn calling_oneself_is_an_error_not_a_deadlock() {
        // GS-10
        let system = System::new();
        let looper = system.spawn::<Looper>(()).await.unwrap();
        let started = Instant::now();
        let replies = looper.call(Loop).await.unwrap();
        assert_eq!(replies, ["Err(CallingSelf)", "Err(CallingSelf)", "Err(CallingSelf)"]);
        assert_elapsed(started.elapsed(), Duration::ZERO, SHORT);
    }
}

on_both_runtimes! {
    async fn sends_to_a_dead_actor_hand_the_message_back() {
        // GS-11: documented choice: an error value holding the message.
        let system = System::new();
        let (report, _probe) = probe();
        let actor = scripted::spawn(&system, Script::new("g11", &report)).await;
        actor.stop(ExitReason::Normal).await.unwrap();
        let error = actor.cast(Do::Report("lost".into())).await.unwrap_err();
        assert!(error.is_no_proc());
        assert!(matches!(error.into_inner(), Do::Report(text) if text == "lost"));
        assert!(actor.try_cast(Do::Hibernate).unwrap_err().is_no_proc());
        assert!(actor.recipient::<Do>().try_cast(Do::Hibernate).unwrap_err().is_no_proc());
        assert!(!actor.exit(ExitReason::Kill));
        assert!(!actor.request_stop(ExitReason::Normal));
    }
}

// --- deferred replies (GS-12) ---

struct Oracle;

impl Actor for Oracle {
    type Args = ();
    async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> {
        Ok(Oracle)
    }
}

struct Later;
impl HandleCall<Later> for Oracle {
    type Reply = u32;
    async fn handle_call(&mut self, _: Later, _: &mut Context<Self>) -> Reply<u32> {
        let (reply, token) = Reply::deferred();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            token.send(42);
        });
        reply
    }
}

struct Now;
impl HandleCall<Now> for Oracle {
    type Reply = u32;
    async fn handle_call(&mut self, _: Now, _: &mut Context<Self>) -> Reply<u32> {
        Reply::new(1)
    }
}

on_both_runtimes! {
    async fn a_deferred_reply_comes_from_another_task_while_the_actor_goes_on() {
        // GS-12
        let system = System::new();
        let oracle = system.spawn::<Oracle>(()).await.unwrap();
        let started = Instant::now();
        let slow = {
            let oracle = oracle.clone();
            tokio::spawn(async move { (oracle.call(Later).await, Instant::now()) })
        };
        until("the slow call was handled (its reply deferred)", || oracle.handled() == 1).await;
        let fast = oracle.call(Now).await;
        let fast_at = Instant::now();
        let (slow, slow_at) = slow.await.unwrap();
        assert_eq!((fast, slow), (Ok(1), Ok(42)));
        assert!(fast_at < slow_at);
        assert!(slow_at - started >= Duration::from_millis(200));
    }
}

on_both_runtimes! {
    async fn a_dropped_reply_token_is_an_error_not_a_hang() {
        let system = System::new();
        let (report, _probe) = probe();
        let actor = scripted::spawn(&system, Script::new("token", &report)).await;
        let started = Instant::now();
        assert_eq!(actor.call(Ask::DropToken).await, Err(CallError::NoReply));
        assert_elapsed(started.elapsed(), Duration::ZERO, SHORT);
        assert!(actor.is_alive());
    }
}

on_both_runtimes! {
    async fn a_deferred_caller_learns_at_once_when_the_actor_dies() {
        let system = System::new();
        let (report, _probe) = probe();
        let actor = scripted::spawn(&system, Script::new("owes", &report)).await;
        let call = {
            let actor = actor.clone();
            tokio::spawn(async move { actor.call_timeout(Ask::DeferForever, Duration::from_secs(60)).await })
        };
        until("the call was handled (its reply deferred)", || actor.handled() == 1).await;
        let started = Instant::now();
        actor.cast(Do::Stop(ExitReason::custom("gone"))).await.unwrap();
        assert_eq!(call.await.unwrap(), Err(CallError::Exit(ExitReason::custom("gone"))));
        assert_elapsed(started.elapsed(), Duration::ZERO, SHORT);
    }
}

// --- call failure modes ---

on_both_runtimes! {
    async fn a_call_times_out_and_the_callee_keeps_running() {
        let system = System::new();
        let (report, mut probe) = probe();
        let actor = scripted::spawn(&system, Script::new("slow", &report)).await;
        probe.expect("slow:init").await;
        let started = Instant::now();
        let result = actor.call_timeout(Ask::Sleep(Duration::from_millis(500)), Duration::from_millis(100)).await;
        assert_eq!(result, Err(CallError::Timeout));
        assert_elapsed(started.elapsed(), Duration::from_millis(100), Duration::from_millis(110));
        // The late reply is dropped; the actor finishes and answers the next call.
        assert_eq!(actor.call(Ask::Name).await, Ok("slow".to_string()));
        assert!(actor.is_alive());
    }
}

// Paused clock only: it waits out the 5 s default, exactly.
#[tokio::test(start_paused = true)]
async fn the_default_call_timeout_is_five_seconds() {
    let system = System::new();
    let (report, _probe) = probe();
    let actor = scripted::spawn(&system, Script::new("slower", &report)).await;
    let started = Instant::now();
    assert_eq!(actor.call(Ask::Sleep(Duration::from_secs(60))).await, Err(CallError::Timeout));
    let elapsed = started.elapsed();
    assert!(elapsed >= DEFAULT_CALL_TIMEOUT && elapsed < DEFAULT_CALL_TIMEOUT + Duration::from_millis(10));
}

on_both_runtimes! {
    async fn a_callee_that_panics_during_the_call_reports_its_reason() {
        let system = System::new();
        let (report, mut probe) = probe();
        let actor = scripted::spawn(&system, Script::new("crashy", &report)).await;
        probe.expect("crashy:init").await;
        let started = Instant::now();
        match actor.call(Ask::Panic).await {
            Err(CallError::Exit(ExitReason::Panic(panic))) => assert_eq!(panic.message(), "call exploded"),
            other => panic!("expected the callee's panic, got {other:?}"),
        }
        assert_elapsed(started.elapsed(), Duration::ZERO, SHORT);
        // terminate ran with the panic reason.
        assert_eq!(probe.take(2).await[1], "crashy:terminate:Panic(\"call exploded\")");
    }
}

on_both_runtimes! {
    async fn a_callee_killed_during_the_call_reports_killed() {
        let system = System::new();
        let (report, _probe) = probe();
        let (report, mut probe) = (report, _probe);
        let actor = scripted::spawn(&system, Script::new("victim", &report)).await;
        let call = {
            let actor = actor.clone();
            tokio::spawn(async move { actor.call(Ask::Block(Arc::new(Semaphore::new(0)))).await })
        };
        probe.expect_eventually("victim:call-blocked").await;
        assert!(actor.kill());
        assert_eq!(within("call", call).await.unwrap(), Err(CallError::Exit(ExitReason::Killed)));
    }
}

on_both_runtimes! {
    async fn queued_calls_learn_the_reason_when_the_actor_dies_first() {
        let system = System::new();
        let (report, _probe) = probe();
        let actor = scripted::spawn(&system, Script::new("busy", &report)).await;
        actor.cast(Do::Sleep(Duration::from_millis(50))).await.unwrap();
        actor.cast(Do::Stop(ExitReason::custom("quit"))).await.unwrap();
        assert_eq!(actor.call(Ask::Name).await, Err(CallError::Exit(ExitReason::custom("quit"))));
    }
}

// --- panics in every callback ---

on_both_runtimes! {
    async fn a_panic_in_a_cast_ends_the_actor_with_the_message_and_runs_terminate() {
        let system = System::new();
        let (report, mut probe) = probe();
        let other = scripted::spawn(&system, Script::new("bystander", &report)).await;
        let actor = scripted::spawn(&system, Script::new("p", &report)).await;
        actor.cast(Do::Panic("handler exploded")).await.unwrap();
        let reason = actor.join().await;
        assert!(matches!(&reason, ExitReason::Panic(p) if p.message() == "handler exploded"), "{reason:?}");
        probe.expect_eventually("p:terminate:Panic(\"handler exploded\")").await;
        assert_eq!(other.call(Ask::Name).await, Ok("bystander".to_string()), "others are unaffected");
    }
}

on_both_runtimes! {
    async fn a_panic_in_terminate_becomes_the_exit_reason() {
        let system = System::new();
        let (report, _probe) = probe();
        let actor = scripted::spawn(&system, Script::new("t", &report).panicking_terminate()).await;
        actor.cast(Do::Stop(ExitReason::Normal)).await.unwrap();
        assert_eq!(actor.join().await, ExitReason::Panic(PanicMessage::new("terminate exploded")));
    }
}

struct ContinuePanics;
impl Actor for ContinuePanics {
    type Args = ();
    async fn init(_: (), ctx: &mut Context<Self>) -> Result<Self, InitError> {
        ctx.continue_with(Cont("boom"));
        Ok(ContinuePanics)
    }
}
impl HandleContinue<Cont> for ContinuePanics {
    async fn handle_continue(&mut self, _: Cont, _: &mut Context<Self>) -> Result<(), ExitReason> {
        panic!("continue exploded")
    }
}

on_both_runtimes! {
    async fn a_panic_in_a_continue_ends_the_actor() {
        let system = System::new();
        let actor = system.spawn::<ContinuePanics>(()).await.unwrap();
        assert_eq!(actor.join().await, ExitReason::Panic(PanicMessage::new("continue exploded")));
    }
}

// --- stop ---

on_both_runtimes! {
    async fn stop_runs_terminate_even_without_trapping_and_a_second_stop_is_noproc() {
        // GS-17
        let system = System::new();
        let (report, mut probe) = probe();
        let actor = scripted::spawn(&system, Script::new("g17", &report)).await;
        probe.expect("g17:init").await;
        assert_eq!(actor.stop(ExitReason::custom("bye")).await, Ok(()));
        assert!(!actor.is_alive(), "stop returns only after the actor is dead");
        assert_eq!(probe.drain(), ["g17:terminate-start:Error(\"bye\")", "g17:terminate:Error(\"bye\")"]);
        assert_eq!(actor.stop(ExitReason::Normal).await, Err(StopError::NoProc));
    }
}

on_both_runtimes! {
    async fn stop_of_a_busy_actor_waits_for_the_current_message_and_overtakes_the_queue() {
        let system = System::new();
        let (report, mut probe) = probe();
        let actor = scripted::spawn(&system, Script::new("busy", &report)).await;
        probe.expect("busy:init").await;
        let gate = Arc::new(Semaphore::new(0));
        actor.cast(Do::Block(gate.clone())).await.unwrap();
        probe.expect("busy:blocked").await;
        for i in 0..1_000 {
            actor.cast(Do::Report(format!("queued-{i}"))).await.unwrap();
        }
        // The stop request is on its way (its first poll sends it) before the
        // handler ends.
        let mut stop = std::pin::pin!(actor.stop(ExitReason::Shutdown));
        assert!(poll_once(stop.as_mut()).await.is_pending());
        gate.add_permits(1);
        assert_eq!(stop.await, Ok(()));
        assert_eq!(probe.drain(), ["busy:unblocked", "busy:terminate-start:Shutdown", "busy:terminate:Shutdown"]);
        assert_eq!(actor.dead_letters(), 1_000, "the queued casts are dead letters, not silently lost");
        assert_eq!(system.dead_letters().actor_stopped, 1_000);
    }
}

on_both_runtimes! {
    async fn stop_with_a_timeout_leaves_a_slow_actor_running() {
        let system = System::new();
        let (report, _probe) = probe();
        let (report, mut probe) = (report, _probe);
        let actor = scripted::spawn(&system, Script::new("slowstop", &report)).await;
        let gate = Arc::new(Semaphore::new(0));
        actor.cast(Do::Block(gate.clone())).await.unwrap();
        probe.expect_eventually("slowstop:blocked").await;
        let result = actor.stop_timeout(ExitReason::Normal, Duration::from_millis(100)).await;
        assert_eq!(result, Err(StopError::Timeout));
        assert!(actor.is_alive());
        gate.add_permits(1);
        assert_eq!(within("the stop completes", actor.join()).await, ExitReason::Normal);
    }
}

on_both_runtimes! {
    async fn a_double_stop_is_harmless() {
        let system = System::new();
        let (report, mut probe) = probe();
        let actor = scripted::spawn(&system, Script::new("twice", &report).slow_terminate(Duration::from_millis(50))).await;
        probe.expect("twice:init").await;
        actor.cast(Do::Report("wake".into())).await.unwrap();
        let (first, second) = tokio::join!(actor.stop(ExitReason::Normal), actor.stop(ExitReason::Normal));
        assert_eq!(first, Ok(()));
        assert_eq!(second, Ok(()));
        assert_eq!(probe.drain().iter().filter(|e| e.starts_with("twice:terminate:")).count(), 1);
    }
}

struct Registrar;
impl Actor for Registrar {
    type Args = tokio::sync::oneshot::Sender<ActorRef<Registrar>>;
    async fn init(leak: Self::Args, ctx: &mut Context<Self>) -> Result<Self, InitError> {
        let _ = leak.send(ctx.myself().clone());
        tokio::time::sleep(Duration::from_millis(100)).await;
        Ok(Registrar)
    }
    async fn terminate(&mut self, reason: &ExitReason, _: &mut Context<Self>) {
        assert_eq!(*reason, ExitReason::Normal);
    }
}

on_both_runtimes! {
    async fn a_stop_during_init_takes_effect_after_init() {
        let system = System::new();
        let (leak, leaked) = tokio::sync::oneshot::channel();
        let starting = {
            let system = system.clone();
            tokio::spawn(async move { system.spawn::<Registrar>(leak).await.map(|_| ()) })
        };
        let actor = leaked.await.unwrap();
        assert_eq!(within("stop", actor.stop(ExitReason::Normal)).await, Ok(()));
        assert_eq!(starting.await.unwrap(), Ok(()), "init completed");
        assert!(!actor.is_alive());
    }
}

on_both_runtimes! {
    async fn a_kill_during_init_fails_the_start() {
        let system = System::new();
        let (leak, leaked) = tokio::sync::oneshot::channel();
        let starting = {
            let system = system.clone();
            tokio::spawn(async move { system.spawn::<Registrar>(leak).await.map(|_| ()) })
        };
        let actor = leaked.await.unwrap();
        actor.kill();
        assert_eq!(starting.await.unwrap(), Err(StartError::Exit(ExitReason::Killed)));
        assert_eq!(actor.join().await, ExitReason::Killed);
        assert_eq!(system.actor_count(), 0);
    }
}

on_both_runtimes! {
    async fn a_cancelled_spawn_leaves_nothing_behind() {
        let system = System::new();
        let (report, _probe) = probe();
        let slow = Script::new("cancelled", &report).init(InitMode::Sleep(Duration::from_secs(1)));
        let spawning = system.spawn::<Scripted>(slow);
        assert!(tokio::time::timeout(Duration::from_millis(10), spawning).await.is_err());
        assert_eq!(system.actor_count(), 0);
    }
}

// --- idle timeout (GS-13) and hibernate (GS-14) ---

on_both_runtimes! {
    async fn an_idle_timeout_fires_once_and_any_message_cancels_it() {
        // GS-13
        let system = System::new();
        let (report, mut probe) = probe();
        let actor = scripted::spawn(&system, Script::new("g13", &report)).await;
        probe.expect("g13:init").await;
        // (a)
        let armed = Instant::now();
        actor.cast(Do::IdleTimeout(Duration::from_millis(300))).await.unwrap();
        probe.expect("g13:timed-out").await;
        assert_elapsed(armed.elapsed(), Duration::from_millis(300), Duration::from_millis(310));
        probe.expect_silence(Duration::from_millis(600)).await;
        // (b)
        actor.cast(Do::IdleTimeout(Duration::from_millis(300))).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        actor.cast(Do::Report("noop".into())).await.unwrap();
        probe.expect("g13:handled:noop").await;
        probe.expect_silence(Duration::from_millis(600)).await;
    }
}

struct Counter(u64);
impl Actor for Counter {
    type Args = ();
    async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> {
        Ok(Counter(0))
    }
}
struct Inc;
impl HandleCast<Inc> for Counter {
    async fn handle_cast(&mut self, _: Inc, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        self.0 += 1;
        ctx.hibernate();
        Ok(())
    }
}
struct Get;
impl HandleCall<Get> for Counter {
    type Reply = u64;
    async fn handle_call(&mut self, _: Get, _: &mut Context<Self>) -> Reply<u64> {
        Reply::new(self.0)
    }
}

on_both_runtimes! {
    async fn hibernate_keeps_the_state() {
        // GS-14
        let system = System::new();
        let counter = system.spawn::<Counter>(()).await.unwrap();
        for _ in 0..3 {
            counter.cast(Inc).await.unwrap();
        }
        assert_eq!(counter.call(Get).await, Ok(3));
        until("the call is counted", || counter.handled() == 4).await;
    }
}

// --- several message types on one actor, no boxing at the surface ---

#[derive(Clone, Debug)]
struct Deposited(u64);
impl Event for Deposited {
    const TOPIC: &'static str = "accounts.deposited";
}

#[derive(Clone, Debug)]
struct Withdrawn(u64);
impl Event for Withdrawn {
    const TOPIC: &'static str = "accounts.withdrawn";
}

struct Account(i64);
impl Actor for Account {
    type Args = ();
    async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> {
        Ok(Account(0))
    }
}
impl HandleEvent<Deposited> for Account {
    async fn handle_event(&mut self, Deposited(n): Deposited, _: &mut Context<Self>) -> Result<(), ExitReason> {
        self.0 += n as i64;
        Ok(())
    }
}
impl HandleEvent<Withdrawn> for Account {
    async fn handle_event(&mut self, Withdrawn(n): Withdrawn, _: &mut Context<Self>) -> Result<(), ExitReason> {
        self.0 -= n as i64;
        Ok(())
    }
}
struct Balance;
impl HandleCall<Balance> for Account {
    type Reply = i64;
    async fn handle_call(&mut self, _: Balance, _: &mut Context<Self>) -> Reply<i64> {
        Reply::new(self.0)
    }
}
struct Owner;
impl HandleCall<Owner> for Account {
    type Reply = &'static str;
    async fn handle_call(&mut self, _: Owner, _: &mut Context<Self>) -> Reply<&'static str> {
        Reply::new("ada")
    }
}

on_both_runtimes! {
    async fn one_actor_handles_several_call_and_event_types() {
        let system = System::new();
        let account = system.spawn::<Account>(()).await.unwrap();
        account.notify(Deposited(100)).await.unwrap();
        account.try_notify(Withdrawn(30)).unwrap();
        assert_eq!(account.call(Balance).await, Ok(70));
        assert_eq!(account.call(Owner).await, Ok("ada"));
    }
}

on_both_runtimes! {
    async fn an_error_returned_by_a_handler_stops_the_actor_with_it() {
        let system = System::new();
        let (report, mut probe) = probe();
        let actor = scripted::spawn(&system, Script::new("err", &report)).await;
        actor.cast(Do::Stop(ExitReason::error(std::io::Error::other("disk")))).await.unwrap();
        let reason = actor.join().await;
        assert!(reason.downcast_ref::<std::io::Error>().is_some(), "{reason:?}");
        probe.expect_eventually("err:terminate:Error(Custom { kind: Other, error: \"disk\" })").await;
    }
}

#[tokio::test]
async fn spawning_outside_any_runtime_is_a_typed_error() {
    let system = System::new();
    let result = std::thread::spawn(move || futures::executor::block_on(system.spawn::<Counter>(()))).join().unwrap();
    assert_eq!(result.err(), Some(StartError::NoRuntime));
}

on_both_runtimes! {
    async fn a_zero_capacity_mailbox_is_rejected() {
        let system = System::new();
        let options = SpawnOptions::new().mailbox(MailboxConfig::bounded(0, Overflow::Reject));
        let result = system.spawn_with::<Counter>((), options).await;
        assert_eq!(result.err(), Some(StartError::InvalidConfig(ConfigError::ZeroCapacity)));
    }
}

// Paused clock only: a long wait in virtual time.
#[tokio::test(start_paused = true)]
async fn call_waits_are_bounded_even_on_a_long_wait() {
    // A call that times out after a long virtual wait still reports Timeout,
    // not a hang, and the callee is intact.
    let system = System::new();
    let (report, _probe) = probe();
    let actor = scripted::spawn(&system, Script::new("long", &report)).await;
    let result = actor.call_timeout(Ask::Sleep(WAIT * 10), WAIT).await;
    assert_eq!(result, Err(CallError::Timeout));
}

/// Answers a call once its gate opens, and reports that it got it.
struct Gated {
    report: crate::support::Report,
    gate: Arc<Semaphore>,
}

impl Actor for Gated {
    type Args = (crate::support::Report, Arc<Semaphore>);
    async fn init((report, gate): Self::Args, _: &mut Context<Self>) -> Result<Self, InitError> {
        Ok(Gated { report, gate })
    }
}

impl HandleCall<u32> for Gated {
    type Reply = u32;
    async fn handle_call(&mut self, n: u32, _: &mut Context<Self>) -> Reply<u32> {
        self.report.say(format!("got {n}"));
        self.gate.acquire().await.expect("open").forget();
        if n == 0 {
            panic!("asked for zero");
        }
        Reply::new(n * 10)
    }
}

on_both_runtimes! {
    /// OTP's send_request / wait_response: the request is queued when
    /// send_request returns (the actor works on it before anyone awaits the
    /// answer), a timed-out wait leaves it waitable, and a collection hands
    /// back answers with their labels.
    async fn send_request_sends_now_and_the_answer_is_collected_later() {
        let system = System::new();
        let (report, mut probe) = probe();
        let gate = Arc::new(Semaphore::new(0));
        let gated = system.spawn::<Gated>((report.clone(), gate.clone())).await.unwrap();
        let mut request = gated.send_request(1).await.unwrap();
        probe.expect("got 1").await; // handled without the request being polled
        assert_eq!(request.callee(), gated.id());
        assert!(tokio::time::timeout(SHORT, &mut request).await.is_err(), "not answered yet");
        gate.add_permits(1);
        assert_eq!(within("answer", &mut request).await, Ok(10), "waitable again after a timeout");

        let others: Vec<_> = futures::future::join_all((0..3).map(|_| system.spawn::<Gated>((report.clone(), gate.clone())))).await;
        let mut pending = treeline::addr::Requests::new();
        for (label, actor) in others.iter().enumerate() {
            pending.add(label, actor.as_ref().unwrap().send_request(label as u32 + 2).await.unwrap());
        }
        assert_eq!(pending.len(), 3);
        gate.add_permits(3);
        let mut answers = Vec::new();
        while let Some((label, answer)) = within("answers", pending.next()).await {
            answers.push((label, answer));
        }
        answers.sort_by_key(|(label, _)| *label);
        assert_eq!(answers, [(0, Ok(20)), (1, Ok(30)), (2, Ok(40))]);
        assert!(pending.is_empty());
    }
}

on_both_runtimes! {
    /// A request to an actor that dies instead of answering gets its exit
    /// reason, as a call does; one to a dead actor is refused at once.
    async fn a_request_learns_how_its_callee_ended() {
        let system = System::new();
        let (report, _probe) = probe();
        let gate = Arc::new(Semaphore::new(1));
        let gated = system.spawn::<Gated>((report, gate)).await.unwrap();
        let request = gated.send_request(0).await.unwrap();
        let answer = within("answer", request).await;
        assert!(matches!(&answer, Err(CallError::Exit(reason)) if reason.is_panic()), "{answer:?}");
        assert!(gated.join().await.is_panic());
        assert_eq!(gated.send_request(1).await.err(), Some(CallError::NoProc));
    }
}

// --- #[actor] with #[info] and #[continuation] ---

/// Traps exits, warms up in a continuation, and counts ticks: all written
/// as plain methods under `#[actor]`.
struct Keeper {
    report: crate::support::Report,
}

struct Warm;

impl Actor for Keeper {
    type Args = crate::support::Report;
    async fn init(report: crate::support::Report, ctx: &mut Context<Self>) -> Result<Self, InitError> {
        ctx.trap_exit(true);
        ctx.continue_with(Warm);
        Ok(Keeper { report })
    }
}

/// Dies with "bye" right after its init.
struct Brief;

impl Actor for Brief {
    type Args = ();
    async fn init(_: (), ctx: &mut Context<Self>) -> Result<Self, InitError> {
        ctx.continue_with(());
        Ok(Brief)
    }
}

impl HandleContinue<()> for Brief {
    async fn handle_continue(&mut self, _: (), _: &mut Context<Self>) -> Result<(), ExitReason> {
        Err(ExitReason::custom("bye"))
    }
}

#[actor]
impl Keeper {
    #[continuation]
    async fn warmed(&mut self, _: Warm) {
        self.report.say("warmed");
    }

    #[info]
    async fn exited(&mut self, exit: treeline::signal::Exit) {
        self.report.say(format!("exit: {}", exit.reason));
    }

    #[info]
    async fn tick(&mut self, n: u32, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        self.report.say(format!("tick {n}"));
        if n == 2 {
            ctx.spawn_link::<Brief>(()).await.map_err(ExitReason::error)?;
        }
        Ok(())
    }
}

on_both_runtimes! {
    async fn actor_macro_writes_info_and_continuation_handlers() {
        let system = System::new();
        let (report, mut probe) = probe();
        let keeper = system.spawn::<Keeper>(report).await.unwrap();
        probe.expect("warmed").await; // before any message
        keeper.send(1u32).await.unwrap();
        probe.expect("tick 1").await;
        keeper.send(2u32).await.unwrap(); // links a child that dies: trapped
        probe.expect("tick 2").await;
        probe.expect("exit: bye").await;
        assert!(keeper.is_alive());
    }
}

/// Traps exits only so that `terminate` runs: `#[actor(trap_exit)]` writes
/// its `Exit` handler.
struct Graceful {
    report: crate::support::Report,
}

impl Actor for Graceful {
    type Args = crate::support::Report;
    async fn init(report: crate::support::Report, ctx: &mut Context<Self>) -> Result<Self, InitError> {
        ctx.trap_exit(true);
        Ok(Graceful { report })
    }

    async fn terminate(&mut self, reason: &ExitReason, _: &mut Context<Self>) {
        self.report.say(format!("terminate: {reason}"));
    }
}

/// Ends with the reason it is given, right after its init.
struct Ends;

impl Actor for Ends {
    type Args = ExitReason;
    async fn init(reason: ExitReason, ctx: &mut Context<Self>) -> Result<Self, InitError> {
        ctx.continue_with(reason);
        Ok(Ends)
    }
}

impl HandleContinue<ExitReason> for Ends {
    async fn handle_continue(&mut self, reason: ExitReason, _: &mut Context<Self>) -> Result<(), ExitReason> {
        Err(reason)
    }
}

#[actor(trap_exit)]
impl Graceful {
    /// Links a new actor that ends with `reason`, and waits for its end.
    #[call]
    async fn link_to(&mut self, reason: ExitReason, ctx: &mut Context<Self>) {
        let linked = ctx.spawn_link::<Ends>(reason).await.expect("started");
        linked.join().await;
    }
}

on_both_runtimes! {
    async fn actor_macro_trap_exit_runs_terminate_and_keeps_link_semantics() {
        let system = System::new();
        let (report, mut probe) = probe();
        // A supervisor's shutdown runs terminate.
        let spec = ChildSpec::<Graceful>::worker("graceful", report.clone());
        let graceful = spec.child_ref();
        let sup = system.start(Supervisor::one_for_one().child(spec)).await.unwrap();
        sup.stop(ExitReason::Shutdown).await.unwrap();
        probe.expect("terminate: shutdown").await;
        assert!(graceful.current().is_none());

        // A link's normal exit is ignored; an abnormal one stops the actor
        // with the same reason, after terminate.
        let alone = system.spawn::<Graceful>(report).await.unwrap();
        alone.link_to(ExitReason::Normal).await.unwrap();
        assert!(alone.is_alive());
        let _ = alone.link_to(ExitReason::custom("bye")).await;
        assert_eq!(within("stopped", alone.join()).await, ExitReason::custom("bye"));
        probe.expect("terminate: bye").await;
    }
}
