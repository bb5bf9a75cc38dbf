//! Timers: send_after, send_interval, cancellation; they die with their actor.

use std::time::Duration;

use tokio::time::Instant;
use treeline::actor::TimerRef;
use treeline::*;

use crate::support::{assert_elapsed, probe, until, Report, SHORT};

struct Clock {
    report: Report,
    timers: Vec<TimerRef>,
}

impl Actor for Clock {
    type Args = Report;
    async fn init(report: Report, _: &mut Context<Self>) -> Result<Self, InitError> {
        Ok(Clock { report, timers: Vec::new() })
    }
}

#[derive(Clone, Debug)]
struct Tick(&'static str);

impl HandleInfo<Tick> for Clock {
    async fn handle_info(&mut self, Tick(label): Tick, _: &mut Context<Self>) -> Result<(), ExitReason> {
        self.report.say(label);
        Ok(())
    }
}

enum Set {
    After(Duration, &'static str),
    Every(Duration, &'static str),
    Cancel(usize),
}

impl HandleCall<Set> for Clock {
    type Reply = bool;
    async fn handle_call(&mut self, set: Set, ctx: &mut Context<Self>) -> Reply<bool> {
        match set {
            Set::After(delay, label) => self.timers.push(ctx.send_after(delay, Tick(label))),
            Set::Every(period, label) => {
                self.timers.push(ctx.send_interval(period, Tick(label)).expect("a valid period"))
            }
            Set::Cancel(index) => return Reply::new(self.timers[index].cancel()),
        }
        Reply::new(true)
    }
}

/// Waits for the report `expected` and checks when it came, on the test's
/// clock (exact on the paused clock, never early on the real one).
async fn expect_at(probe: &mut crate::support::Probe, expected: &str, started: Instant, at_ms: u64) {
    probe.expect(expected).await;
    let at = Duration::from_millis(at_ms);
    assert_elapsed(started.elapsed(), at, at + Duration::from_millis(5));
}

on_both_runtimes! {
    async fn send_after_delivers_once_after_the_delay() {
        let system = System::new();
        let (report, mut probe) = probe();
        let clock = system.spawn::<Clock>(report).await.unwrap();
        let started = Instant::now();
        clock.call(Set::After(Duration::from_millis(250), "once")).await.unwrap();
        expect_at(&mut probe, "once", started, 250).await;
        probe.expect_silence(Duration::from_secs(1)).await;
    }
}

on_both_runtimes! {
    async fn a_cancelled_timer_never_fires_and_cancel_reports_whether_it_was_pending() {
        let system = System::new();
        let (report, mut probe) = probe();
        let clock = system.spawn::<Clock>(report).await.unwrap();
        let started = Instant::now();
        clock.call(Set::After(Duration::from_millis(100), "cancelled")).await.unwrap();
        clock.call(Set::After(Duration::from_millis(10), "fired")).await.unwrap();
        assert_eq!(clock.call(Set::Cancel(0)).await, Ok(true));
        expect_at(&mut probe, "fired", started, 10).await;
        assert_eq!(clock.call(Set::Cancel(1)).await, Ok(false), "already fired");
        probe.expect_silence(Duration::from_millis(500)).await;
    }
}

on_both_runtimes! {
    async fn send_interval_repeats_until_cancelled() {
        let system = System::new();
        let (report, mut probe) = probe();
        let clock = system.spawn::<Clock>(report).await.unwrap();
        let started = Instant::now();
        clock.call(Set::Every(Duration::from_millis(100), "tick")).await.unwrap();
        for n in 1..=3 {
            expect_at(&mut probe, "tick", started, 100 * n).await;
        }
        assert_eq!(clock.call(Set::Cancel(0)).await, Ok(true));
        probe.expect_silence(Duration::from_millis(500)).await;
        assert_eq!(clock.call(Set::Cancel(0)).await, Ok(false));
    }
}

on_both_runtimes! {
    async fn timers_die_with_their_actor() {
        let system = System::new();
        let (report, mut probe) = probe();
        let clock = system.spawn::<Clock>(report).await.unwrap();
        clock.call(Set::Every(Duration::from_millis(10), "tick")).await.unwrap();
        clock.call(Set::After(Duration::from_secs(3600), "never")).await.unwrap();
        probe.expect("tick").await;
        let alive_before = tokio::runtime::Handle::current().metrics().num_alive_tasks();
        clock.stop(ExitReason::Normal).await.unwrap();
        until("timer tasks end", || tokio::runtime::Handle::current().metrics().num_alive_tasks() + 2 <= alive_before)
            .await;
        probe.drain();
        probe.expect_silence(SHORT).await;
    }
}
