//! Core correctness under real scheduling: wake-ups after an `init` that
//! awaited, exit reasons of panicking calls, fairness, the arrival order of
//! signals that become messages, and the misuse that must be a typed error.
//! Every test runs on both runtimes (`on_both_runtimes!`).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, Semaphore};
use treeline::actor::{ConfigError, StartError};
use treeline::addr::StopError;
use treeline::mailbox::{MailboxConfig, Overflow};
use treeline::signal::{Exit, IdleTimeout};
use treeline::supervisor::{DynamicSpec, SupervisorError};

use treeline::*;

use crate::support::{probe, until, within, Report, WAIT};

const HOUR: Duration = Duration::from_secs(3600);

/// An actor whose `init` awaits before it returns.
struct Awaiting;

impl Actor for Awaiting {
    type Args = ();
    async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> {
        tokio::task::yield_now().await;
        Ok(Awaiting)
    }
}

/// Crash on demand.
struct Crash;

impl HandleCast<Crash> for Awaiting {
    async fn handle_cast(&mut self, _: Crash, _: &mut Context<Self>) -> Result<(), ExitReason> {
        Err(ExitReason::custom("crashed"))
    }
}

const AWAITING: Name<Awaiting> = Name::new("awaiting");

on_both_runtimes! {
    /// Defect: the first signal to a dormant actor whose `init` awaited woke
    /// the spawner's stale waker instead of activating the actor.
    async fn every_signal_reaches_an_actor_whose_init_awaited() {
        let system = System::new();
        let named = || SpawnOptions::new().name(AWAITING);
        let actor = system.spawn_with::<Awaiting>((), named()).await.unwrap();
        assert!(actor.kill());
        assert_eq!(within("killed", actor.join()).await, ExitReason::Killed);
        // Its name was released with it.
        let actor = system.spawn_with::<Awaiting>((), named()).await.expect("the name is free again");
        assert!(actor.exit(ExitReason::custom("bye")));
        assert_eq!(within("exited", actor.join()).await, ExitReason::custom("bye"));
        let actor = system.spawn::<Awaiting>(()).await.unwrap();
        assert_eq!(actor.stop_timeout(ExitReason::Normal, WAIT).await, Ok(()));
        let actor = system.spawn::<Awaiting>(()).await.unwrap();
        assert!(actor.request_stop(ExitReason::Shutdown));
        assert_eq!(within("stopped", actor.join()).await, ExitReason::Shutdown);
    }

    /// OTP's `one_for_all` / `rest_for_one` "other child fails" cases with
    /// children whose `init` awaits: the bystanders must be stopped and
    /// restarted too.
    async fn bystanders_whose_init_awaited_are_restarted() {
        for strategy in [Supervisor::one_for_all(), Supervisor::rest_for_one()] {
            let system = System::new();
            let first = ChildSpec::<Awaiting>::worker("first", ());
            let second = ChildSpec::<Awaiting>::worker("second", ());
            let (first_ref, second_ref) = (first.child_ref(), second.child_ref());
            system.start(strategy.intensity(5, HOUR).child(first).child(second)).await.unwrap();
            let (first_before, second_before) = (first_ref.id().unwrap(), second_ref.id().unwrap());
            // Only the first crashes; with both strategies the second goes too.
            first_ref.cast(Crash).await.unwrap();
            within("first restarted", first_ref.restarted(first_before)).await;
            within("second restarted", second_ref.restarted(second_before)).await;
            within("shutdown", system.shutdown()).await;
        }
    }
}

/// A call handler that panics.
struct Fragile;

impl Actor for Fragile {
    type Args = ();
    async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> {
        Ok(Fragile)
    }
}

struct Boom;

impl HandleCall<Boom> for Fragile {
    type Reply = ();
    async fn handle_call(&mut self, _: Boom, _: &mut Context<Self>) -> Reply<()> {
        panic!("boom");
    }
}

on_both_runtimes! {
    /// Defect: on a multi-thread runtime the caller sometimes got `NoReply`
    /// (the reply channel dropped while unwinding, before the exit reason
    /// was recorded) instead of the callee's panic.
    async fn a_caller_always_learns_that_the_callee_panicked() {
        let system = System::new();
        for _ in 0..200 {
            let actor = system.spawn::<Fragile>(()).await.unwrap();
            match actor.call(Boom).await {
                Err(CallError::Exit(reason)) => assert!(reason.is_panic(), "{reason:?}"),
                other => panic!("expected the panic as the exit reason, got {other:?}"),
            }
        }
    }
}

/// Sends itself `n` messages, one after the other.
struct Spinner;

impl Actor for Spinner {
    type Args = ();
    async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> {
        Ok(Spinner)
    }
}

struct Spin(u32);

impl HandleCast<Spin> for Spinner {
    async fn handle_cast(&mut self, Spin(left): Spin, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        if left > 0 {
            ctx.myself().try_cast(Spin(left - 1)).expect("own mailbox");
        }
        Ok(())
    }
}

on_both_runtimes! {
    /// Defect: an actor whose mailbox never empties kept its worker until it
    /// drained. It must yield as tokio's own channels do, so the test task
    /// (on the same current-thread runtime) gets a turn long before.
    async fn a_busy_actor_lets_other_tasks_run() {
        const MESSAGES: u32 = 100_000;
        let system = System::new();
        let spinner = system.spawn::<Spinner>(()).await.unwrap();
        spinner.cast(Spin(MESSAGES)).await.unwrap();
        tokio::task::yield_now().await;
        let seen = spinner.handled();
        assert!(seen < u64::from(MESSAGES), "the spinner ran all {seen} messages before anyone else ran");
        until("spinner done", || spinner.handled() > u64::from(MESSAGES)).await;
    }
}

/// A child that fails to start while the flag is set.
struct Flaky;

impl Actor for Flaky {
    type Args = Arc<AtomicBool>;
    async fn init(failing: Arc<AtomicBool>, _: &mut Context<Self>) -> Result<Self, InitError> {
        if failing.load(Ordering::SeqCst) {
            return Err(InitError::stop("cannot start"));
        }
        Ok(Flaky)
    }
}

on_both_runtimes! {
    /// Elixir's DynamicSupervisor "terminates restarting child": a child
    /// whose restart keeps failing is retried through the supervisor's
    /// mailbox; management calls get their turn in between, and terminating
    /// it by the id of the incarnation that died stops the retries.
    async fn a_restarting_dynamic_child_can_be_counted_and_terminated() {
        let system = System::new();
        let spec = DynamicSpec::<Flaky>::new().intensity(u32::MAX, HOUR).max_children(1);
        let sup = system.start_dynamic(spec).await.unwrap();
        let failing = Arc::new(AtomicBool::new(false));
        let child = sup.start_child(failing.clone()).await.unwrap().expect("started");
        let id = child.id().unwrap();
        failing.store(true, Ordering::SeqCst);
        child.current().unwrap().kill();
        // The supervisor retries without end; it still answers.
        let counts = within("count_children", sup.count_children()).await.unwrap();
        assert_eq!((counts.specs, counts.workers), (1, 1), "{counts:?}");
        assert_eq!(within("terminate_child", sup.terminate_child(id)).await, Ok(()));
        let counts = sup.count_children().await.unwrap();
        assert_eq!((counts.specs, counts.active, counts.workers), (0, 0, 0), "{counts:?}");
        assert_eq!(sup.terminate_child(id).await, Err(SupervisorError::NotFound));
        // It no longer counts against max_children.
        failing.store(false, Ordering::SeqCst);
        assert!(sup.start_child(failing).await.unwrap().is_some());
        within("shutdown", system.shutdown()).await;
    }

    /// `specs` counts the children, running or restarting (Elixir's
    /// definition, documented on `count_children`).
    async fn dynamic_count_children_counts_children() {
        let system = System::new();
        let sup = system.start_dynamic(DynamicSpec::<Flaky>::new()).await.unwrap();
        for _ in 0..3 {
            sup.start_child(Arc::new(AtomicBool::new(false))).await.unwrap();
        }
        let counts = sup.count_children().await.unwrap();
        assert_eq!({ let got = counts; (got.specs, got.active, got.supervisors, got.workers) }, (3, 3, 0, 3));
    }
}

on_both_runtimes! {
    /// Defect: the supervisor turned the child's exit signal into a message
    /// only when it processed the signal, behind a call that arrived later.
    /// Once `join` returned, the supervisor has the `Exit` queued ahead of
    /// any later call, as in OTP.
    async fn a_supervisor_hears_of_a_death_before_a_later_call() {
        let system = System::new();
        let worker = ChildSpec::<Awaiting>::worker("worker", ());
        let handle = worker.child_ref();
        let sup = system.start(Supervisor::one_for_one().intensity(100, HOUR).child(worker)).await.unwrap();
        for _ in 0..50 {
            let old = handle.current().unwrap();
            old.kill();
            old.join().await;
            let children = sup.which_children().await.unwrap();
            assert_ne!(children[0].pid.as_ref().map(Pid::id), Some(old.id()), "the supervisor still lists the dead child");
        }
    }
}

/// Traps exits; handles `Step`s behind a gate and reports everything.
struct Careful {
    report: Report,
    gate: Arc<Semaphore>,
}

impl Actor for Careful {
    type Args = (Report, Arc<Semaphore>);
    async fn init((report, gate): Self::Args, ctx: &mut Context<Self>) -> Result<Self, InitError> {
        ctx.trap_exit(true);
        Ok(Careful { report, gate })
    }

    async fn terminate(&mut self, reason: &ExitReason, _: &mut Context<Self>) {
        self.report.say(format!("terminate:{reason}"));
    }
}

struct Step(u32);

impl HandleCast<Step> for Careful {
    async fn handle_cast(&mut self, Step(n): Step, _: &mut Context<Self>) -> Result<(), ExitReason> {
        self.report.say(format!("at:{n}"));
        self.gate.acquire().await.expect("gate open").forget();
        self.report.say(format!("step:{n}"));
        Ok(())
    }
}

impl HandleInfo<Exit> for Careful {
    async fn handle_info(&mut self, exit: Exit, _: &mut Context<Self>) -> Result<(), ExitReason> {
        self.report.say(format!("exit:{}", exit.reason));
        Ok(())
    }
}

on_both_runtimes! {
    /// Elixir's `terminate/2` doc: a trapping GenServer whose parent sends an
    /// exit signal first handles the messages that arrived before it, then
    /// runs `terminate`. None of them is a dead letter.
    async fn a_trapping_child_handles_what_was_queued_before_its_shutdown() {
        let (report, mut probe) = probe();
        let system = System::new();
        let gate = Arc::new(Semaphore::new(0));
        // Bounded: taken one message at a time, so the queue length is exact.
        let bounded = MailboxConfig::bounded(8, Overflow::Wait);
        let spec = ChildSpec::<Careful>::worker("careful", (report.clone(), gate.clone())).mailbox(bounded);
        let careful = spec.child_ref();
        let sup = system.start(Supervisor::one_for_one().child(spec)).await.unwrap();
        for n in 1..=3 {
            careful.cast(Step(n)).await.unwrap();
        }
        // Step 1 runs (blocked at the gate); 2 and 3 wait in the queue.
        probe.expect("at:1").await;
        let stopping = tokio::spawn({
            let sup = sup.clone();
            async move { sup.terminate_child("careful").await }
        });
        // Once the shutdown signal is queued behind steps 2 and 3, open the
        // gate.
        let queued = careful.current().unwrap();
        until("the shutdown signal is queued", || queued.mailbox_len() == 3).await;
        gate.add_permits(3);
        let seen = probe.take(6).await;
        assert_eq!(seen, ["step:1", "at:2", "step:2", "at:3", "step:3", "terminate:shutdown"]);
        assert_eq!(within("terminated", stopping).await.unwrap(), Ok(()));
        assert_eq!(system.dead_letters().total(), 0);
    }

    /// The same at System shutdown: the System is a top-level actor's parent.
    async fn shutdown_lets_a_trapping_actor_finish_its_queue_first() {
        let (report, mut probe) = probe();
        let system = System::new();
        let gate = Arc::new(Semaphore::new(0));
        let bounded = SpawnOptions::new().mailbox(MailboxConfig::bounded(8, Overflow::Wait));
        let careful = system.spawn_with::<Careful>((report, gate.clone()), bounded).await.unwrap();
        for n in 1..=2 {
            careful.cast(Step(n)).await.unwrap();
        }
        probe.expect("at:1").await;
        let stopping = tokio::spawn({
            let system = system.clone();
            async move { system.shutdown().await }
        });
        until("the shutdown signal is queued", || careful.mailbox_len() == 2).await;
        gate.add_permits(2);
        assert_eq!(probe.take(4).await, ["step:1", "at:2", "step:2", "terminate:shutdown"]);
        within("shut down", stopping).await.unwrap();
    }

    /// An exit signal from a link that is not the parent is an `Exit` message
    /// queued in arrival order, behind what was already waiting.
    async fn a_trapped_exit_is_queued_in_arrival_order() {
        let (report, mut probe) = probe();
        let system = System::new();
        let gate = Arc::new(Semaphore::new(0));
        let careful = system.spawn::<Careful>((report, gate.clone())).await.unwrap();
        careful.cast(Step(1)).await.unwrap();
        careful.cast(Step(2)).await.unwrap();
        careful.exit(ExitReason::custom("x"));
        careful.cast(Step(3)).await.unwrap();
        gate.add_permits(3);
        let seen = probe.take(7).await;
        assert_eq!(seen, ["at:1", "step:1", "at:2", "step:2", "exit:x", "at:3", "step:3"]);
    }
}

/// State whose `Drop` reports, and panics if told to.
struct Noisy {
    dropped: Arc<Dropped>,
    panic_on_drop: bool,
}

#[derive(Default)]
struct Dropped {
    count: AtomicUsize,
    changed: Notify,
}

impl Dropped {
    async fn wait_for(&self, n: usize) {
        loop {
            let changed = self.changed.notified();
            if self.count.load(Ordering::SeqCst) >= n {
                return;
            }
            changed.await;
        }
    }
}

impl Drop for Noisy {
    fn drop(&mut self) {
        self.dropped.count.fetch_add(1, Ordering::SeqCst);
        self.dropped.changed.notify_waiters();
        if self.panic_on_drop {
            panic!("drop exploded");
        }
    }
}

impl Actor for Noisy {
    type Args = (Arc<Dropped>, bool);
    async fn init((dropped, panic_on_drop): Self::Args, _: &mut Context<Self>) -> Result<Self, InitError> {
        tokio::task::yield_now().await;
        Ok(Noisy { dropped, panic_on_drop })
    }
}

struct Poke;

impl HandleCall<Poke> for Noisy {
    type Reply = ();
    async fn handle_call(&mut self, _: Poke, _: &mut Context<Self>) -> Reply<()> {
        Reply::new(())
    }
}

on_both_runtimes! {
    /// Defect: a panic in the `Drop` of an actor's state escaped into the
    /// task that stopped a dormant actor, and a running one was reported as
    /// `Killed`. Both are contained and reported as a panic.
    async fn a_panicking_drop_of_the_state_is_contained_and_reported() {
        let system = System::new();
        let dropped = Arc::new(Dropped::default());
        let dormant = system.spawn::<Noisy>((dropped.clone(), true)).await.unwrap();
        match dormant.stop(ExitReason::Normal).await {
            Err(StopError::Exit(reason)) => assert!(reason.is_panic(), "{reason:?}"),
            other => panic!("expected the drop's panic, got {other:?}"),
        }
        let running = system.spawn::<Noisy>((dropped.clone(), true)).await.unwrap();
        running.call(Poke).await.unwrap();
        running.request_stop(ExitReason::Normal);
        assert!(within("stopped", running.join()).await.is_panic());
        assert_eq!(dropped.count.load(Ordering::SeqCst), 2);
    }

    /// Defect: a System dropped without `shutdown` leaked every actor (cell
    /// -> System -> table -> cell). Dropping the last handle the user owns
    /// kills them all (dormant, running and supervised) and drops their state.
    async fn dropping_the_system_stops_every_actor_and_drops_its_state() {
        let dropped = Arc::new(Dropped::default());
        let system = System::new();
        let dormant = system.spawn::<Noisy>((dropped.clone(), false)).await.unwrap();
        let running = system.spawn::<Noisy>((dropped.clone(), false)).await.unwrap();
        running.call(Poke).await.unwrap();
        let child = ChildSpec::<Noisy>::worker("child", (dropped.clone(), false));
        system.start(Supervisor::one_for_one().child(child)).await.unwrap();
        let sessions = system.start_dynamic(DynamicSpec::<Noisy>::new()).await.unwrap();
        sessions.start_child((dropped.clone(), false)).await.unwrap();
        drop(system);
        within("every state dropped", dropped.wait_for(4)).await;
        assert_eq!(within("dormant killed", dormant.join()).await, ExitReason::Killed);
        assert_eq!(within("running killed", running.join()).await, ExitReason::Killed);
    }

    /// A handle taken inside an actor does not keep its System alive.
    async fn an_actors_own_system_handle_does_not_keep_the_system_alive() {
        struct Holder {
            _system: System,
            _dropped: Noisy,
        }
        impl Actor for Holder {
            type Args = Arc<Dropped>;
            async fn init(dropped: Arc<Dropped>, ctx: &mut Context<Self>) -> Result<Self, InitError> {
                Ok(Holder { _system: ctx.system().clone(), _dropped: Noisy { dropped, panic_on_drop: false } })
            }
        }
        let dropped = Arc::new(Dropped::default());
        let system = System::new();
        system.spawn::<Holder>(dropped.clone()).await.unwrap();
        drop(system);
        within("the holder's state dropped", dropped.wait_for(1)).await;
    }
}

on_both_runtimes! {
    /// Defect: misuse that panicked inside the runtime instead of failing the
    /// call with a typed error.
    async fn misuse_is_a_typed_error_at_the_call() {
        let system = System::new();
        let huge = SpawnOptions::new().mailbox(MailboxConfig::bounded(usize::MAX, Overflow::Wait));
        assert_eq!(
            system.spawn_with::<Fragile>((), huge).await.unwrap_err(),
            StartError::InvalidConfig(ConfigError::CapacityTooLarge { max: MailboxConfig::MAX_CAPACITY })
        );
        let largest = SpawnOptions::new().mailbox(MailboxConfig::bounded(MailboxConfig::MAX_CAPACITY, Overflow::Wait));
        system.spawn_with::<Fragile>((), largest).await.expect("the largest capacity is fine");

        struct Ticker;
        #[derive(Clone)]
        struct Tick;
        impl HandleInfo<Tick> for Ticker {
            async fn handle_info(&mut self, _: Tick, _: &mut Context<Self>) -> Result<(), ExitReason> {
                Ok(())
            }
        }
        impl HandleInfo<IdleTimeout> for Ticker {
            async fn handle_info(&mut self, _: IdleTimeout, _: &mut Context<Self>) -> Result<(), ExitReason> {
                Ok(())
            }
        }
        impl Actor for Ticker {
            type Args = Report;
            async fn init(report: Report, ctx: &mut Context<Self>) -> Result<Self, InitError> {
                for period in [Duration::ZERO, Duration::MAX] {
                    report.say(format!("{:?}", ctx.send_interval(period, Tick).err()));
                }
                // An idle timeout past the clock's range never fires (and
                // does not panic).
                ctx.idle_timeout(Duration::MAX);
                Ok(Ticker)
            }
        }
        let (report, mut probe) = probe();
        let ticker = system.spawn::<Ticker>(report).await.unwrap();
        assert_eq!(probe.take(2).await, ["Some(ZeroPeriod)", "Some(OutOfRange)"]);
        ticker.stop(ExitReason::Normal).await.unwrap();
    }
}
