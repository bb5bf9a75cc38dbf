//! Timers: send_after, send_interval, cancellation; they die with their actor.

use std::time::Duration;

use tokio::time::Instant;
use treeline::actor::TimerRef;
use treeline::*;

use crate::support::{assert_elapsed, probe, settle, until, Report, SHORT};

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

// --- streams fed into an actor ---

/// Reports each item and the end of its streams; a cast makes it add
/// another stream, or cancel the one it holds.
struct Drain {
    report: Report,
    gate: Option<std::sync::Arc<tokio::sync::Semaphore>>,
    fed: Option<treeline::actor::StreamRef>,
}

impl Actor for Drain {
    type Args = (Report, Option<std::sync::Arc<tokio::sync::Semaphore>>);
    async fn init((report, gate): Self::Args, _: &mut Context<Self>) -> Result<Self, InitError> {
        Ok(Drain { report, gate, fed: None })
    }
}

impl HandleInfo<u32> for Drain {
    async fn handle_info(&mut self, item: u32, _: &mut Context<Self>) -> Result<(), ExitReason> {
        if let Some(gate) = &self.gate {
            gate.acquire().await.expect("open").forget();
        }
        self.report.say(format!("item {item}"));
        Ok(())
    }
}

impl HandleInfo<treeline::actor::StreamEnded> for Drain {
    async fn handle_info(
        &mut self,
        ended: treeline::actor::StreamEnded,
        _: &mut Context<Self>,
    ) -> Result<(), ExitReason> {
        let ours = self.fed.as_ref().map(|fed| fed.id()) == Some(ended.stream);
        self.report.say(format!("ended, ours: {ours}"));
        Ok(())
    }
}

enum Feed {
    Stream(futures::stream::BoxStream<'static, u32>),
    Cancel,
    Say(&'static str),
}

impl HandleCast<Feed> for Drain {
    async fn handle_cast(&mut self, feed: Feed, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        match feed {
            Feed::Stream(stream) => self.fed = Some(ctx.add_stream(stream)),
            Feed::Cancel => {
                self.report.say(format!("cancelled: {}", self.fed.as_ref().is_some_and(|fed| fed.cancel())))
            }
            Feed::Say(what) => self.report.say(what),
        }
        Ok(())
    }
}

/// Counts the items pulled, and its own drop.
struct Counted {
    pulled: std::sync::Arc<std::sync::atomic::AtomicU32>,
    dropped: Report,
}

impl futures::Stream for Counted {
    type Item = u32;
    fn poll_next(self: std::pin::Pin<&mut Self>, _: &mut std::task::Context<'_>) -> std::task::Poll<Option<u32>> {
        let n = self.pulled.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        std::task::Poll::Ready(Some(n))
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.dropped.say("stream dropped");
    }
}

on_both_runtimes! {
    /// Items come in order, as messages among the others, and the end is
    /// reported once every item was delivered.
    async fn a_stream_is_handled_item_by_item_then_its_end() {
        use futures::StreamExt;
        let system = System::new();
        let (report, mut probe) = probe();
        let drain = system.spawn::<Drain>((report, None)).await.unwrap();
        drain.cast(Feed::Stream(futures::stream::iter([1, 2, 3]).boxed())).await.unwrap();
        let seen = probe.take(4).await;
        assert_eq!(seen, ["item 1", "item 2", "item 3", "ended, ours: true"]);
        drain.cast(Feed::Say("still running")).await.unwrap();
        probe.expect("still running").await;
    }
}

on_both_runtimes! {
    /// A bounded `Wait` mailbox gives the stream backpressure: an endless
    /// stream is pulled at the actor's pace; cancelling stops it (no end is
    /// reported), and the stream is dropped.
    async fn a_bounded_mailbox_paces_an_endless_stream_and_cancel_drops_it() {
        use futures::StreamExt;
        use std::sync::atomic::{AtomicU32, Ordering};
        let system = System::new();
        let (report, mut probe) = probe();
        let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(0));
        let options = SpawnOptions::new().mailbox(treeline::mailbox::MailboxConfig::bounded(2, treeline::mailbox::Overflow::Wait));
        let drain = system.spawn_with::<Drain>((report.clone(), Some(gate.clone())), options).await.unwrap();
        let pulled = std::sync::Arc::new(AtomicU32::new(0));
        let endless = Counted { pulled: pulled.clone(), dropped: report.clone() };
        drain.cast(Feed::Stream(endless.boxed())).await.unwrap();
        gate.add_permits(5);
        assert_eq!(probe.take(5).await, ["item 0", "item 1", "item 2", "item 3", "item 4"]);
        settle().await;
        let far = pulled.load(Ordering::SeqCst);
        assert!(far <= 5 + 2 + 2, "pulled {far} items for 5 handled and a mailbox of 2");
        // The cancel waits for room like the stream's items; the gate opens
        // wide first so both move however late the cancel's sender runs (on
        // a loaded machine this thread may sleep through a hundred items).
        gate.add_permits(1 << 24);
        drain.cast(Feed::Cancel).await.unwrap();
        // The cancel is handled after the items already queued; the stream is
        // dropped by its aborted task, in either order with the report.
        while !(probe_saw(&probe, "cancelled: true") && probe_saw(&probe, "stream dropped")) {
            probe.next().await;
        }
        // Items queued before the cancel took effect are still handled; then
        // nothing more is pulled, and no end is reported.
        settle().await;
        let stopped_at = pulled.load(Ordering::SeqCst);
        settle().await;
        probe.drain();
        assert_eq!(pulled.load(Ordering::SeqCst), stopped_at, "nothing is pulled after the cancel");
        assert!(!probe.seen().iter().any(|seen| seen.starts_with("ended")), "a cancelled stream reports no end");
    }
}

on_both_runtimes! {
    /// A stream dies with its actor.
    async fn a_stream_is_dropped_when_its_actor_dies() {
        use futures::StreamExt;
        let system = System::new();
        let (report, mut probe) = probe();
        let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(0));
        let options = SpawnOptions::new().mailbox(treeline::mailbox::MailboxConfig::bounded(1, treeline::mailbox::Overflow::Wait));
        let drain = system.spawn_with::<Drain>((report.clone(), Some(gate)), options).await.unwrap();
        let endless = Counted { pulled: Default::default(), dropped: report.clone() };
        drain.cast(Feed::Stream(endless.boxed())).await.unwrap();
        drain.kill();
        drain.join().await;
        probe.expect_eventually("stream dropped").await;
    }
}

fn probe_saw(probe: &crate::support::Probe, what: &str) -> bool {
    probe.seen().iter().any(|seen| seen == what)
}
