//! Shared test helpers: the two-runtime test declaration, a probe that
//! actors report to, and bounded waits.
//!
//! Every wait is bounded (in virtual time under paused time, in real time on
//! the multi-thread runtime), and a failed wait names what it waited for and
//! what arrived so far. The bound is generous because on a loaded 2-core
//! machine it is only ever reached by a failure.

/// Declares an async test that runs on both of the runtimes treeline must
/// be right on, as a module holding two tests:
///
/// * `paused`: a current-thread runtime with tokio's paused clock:
///   deterministic, and timers cost no wall time;
/// * `multi_thread`: two worker threads and the real clock: callbacks,
///   signals and wake-ups race for real.
///
/// A test that needs the virtual clock (it waits out windows of seconds or
/// hours) says so by using `#[tokio::test(start_paused = true)]` directly,
/// with a comment saying why.
///
/// `fn name(runtime) { .. }` (not async) declares the same pair for a test
/// that builds its runtimes itself, phase by phase ([`Runtime::block_on`]),
/// as the crash tests do: each phase gets a fresh runtime of the flavour.
macro_rules! on_both_runtimes {
    ($(#[$meta:meta])* fn $name:ident($runtime:ident) $body:block $($rest:tt)*) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[test]
            fn paused() {
                let $runtime = crate::support::Runtime::Paused;
                $body
            }

            #[test]
            fn multi_thread() {
                let $runtime = crate::support::Runtime::MultiThread;
                $body
            }
        }
        on_both_runtimes! { $($rest)* }
    };
    ($(#[$meta:meta])* async fn $name:ident() $body:block $($rest:tt)*) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(start_paused = true)]
            async fn paused() $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn multi_thread() $body
        }
        on_both_runtimes! { $($rest)* }
    };
    () => {};
}

use std::time::Duration;

use tokio::sync::mpsc;

/// "Eventually": the bound on every wait.
pub(crate) const WAIT: Duration = Duration::from_secs(10);
/// "Nothing happens within".
pub(crate) const SHORT: Duration = Duration::from_millis(100);

/// The sending side of a probe, given to actors.
#[derive(Clone, Debug)]
pub(crate) struct Report(mpsc::UnboundedSender<String>);

impl Report {
    pub(crate) fn say(&self, event: impl Into<String>) {
        let _ = self.0.send(event.into());
    }
}

/// What actors reported, in order.
pub(crate) struct Probe {
    rx: mpsc::UnboundedReceiver<String>,
    seen: Vec<String>,
}

pub(crate) fn probe() -> (Report, Probe) {
    let (tx, rx) = mpsc::unbounded_channel();
    (Report(tx), Probe { rx, seen: Vec::new() })
}

impl Probe {
    /// The next report, within [`WAIT`].
    pub(crate) async fn next(&mut self) -> String {
        match tokio::time::timeout(WAIT, self.rx.recv()).await {
            Ok(Some(event)) => {
                self.seen.push(event.clone());
                event
            }
            Ok(None) => panic!("probe closed; seen so far: {:?}", self.seen),
            Err(_) => panic!("no report within {WAIT:?}; seen so far: {:?}", self.seen),
        }
    }

    /// The next `n` reports.
    pub(crate) async fn take(&mut self, n: usize) -> Vec<String> {
        let mut events = Vec::with_capacity(n);
        for _ in 0..n {
            events.push(self.next().await);
        }
        events
    }

    /// Waits for exactly this report next.
    pub(crate) async fn expect(&mut self, expected: &str) {
        let event = self.next().await;
        assert_eq!(event, expected, "seen so far: {:?}", self.seen);
    }

    /// Skips reports until one equals `expected`.
    pub(crate) async fn expect_eventually(&mut self, expected: &str) {
        loop {
            if self.next().await == expected {
                return;
            }
        }
    }

    /// Asserts that nothing is reported within `within`.
    pub(crate) async fn expect_silence(&mut self, within: Duration) {
        if let Ok(Some(event)) = tokio::time::timeout(within, self.rx.recv()).await {
            panic!("unexpected report {event:?}; seen before: {:?}", self.seen);
        }
    }

    /// Everything received so far, including what `drain` and `next` returned.
    pub(crate) fn seen(&self) -> &[String] {
        &self.seen
    }

    /// Reports that already arrived, without waiting.
    pub(crate) fn drain(&mut self) -> Vec<String> {
        let mut events = Vec::new();
        while let Ok(event) = self.rx.try_recv() {
            self.seen.push(event.clone());
            events.push(event);
        }
        events
    }
}

/// The two runtime flavours of `on_both_runtimes!`.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Runtime {
    /// Current thread, paused clock.
    Paused,
    /// Two workers, real clock.
    MultiThread,
}

impl Runtime {
    /// Runs `phase` on a fresh runtime of this flavour, then drops the
    /// runtime without any shutdown (what a process leaves at a kill).
    pub(crate) fn block_on<T>(self, phase: impl std::future::Future<Output = T>) -> T {
        let runtime = match self {
            Runtime::Paused => tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build(),
            Runtime::MultiThread => tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build(),
        };
        runtime.expect("a runtime").block_on(phase)
    }
}

/// True when the test runs on tokio's paused clock (the current-thread
/// flavour of `on_both_runtimes!`), where durations are exact.
pub(crate) fn clock_is_paused() -> bool {
    tokio::runtime::Handle::current().runtime_flavor() == tokio::runtime::RuntimeFlavor::CurrentThread
}

/// How much later than on the paused clock something may happen on the
/// real one, on a loaded machine.
pub(crate) const SLACK: Duration = Duration::from_secs(1);

/// Asserts that `elapsed` is at least `at_least` and less than `before`; on
/// the real clock `before` gets [`SLACK`] (a busy machine delays wake-ups,
/// it never makes them early).
pub(crate) fn assert_elapsed(elapsed: Duration, at_least: Duration, before: Duration) {
    let before = if clock_is_paused() { before } else { before + SLACK };
    assert!(
        elapsed >= at_least && elapsed < before,
        "took {elapsed:?}; expected at least {at_least:?}, less than {before:?}"
    );
}

/// Lets other tasks run for [`SHORT`] (virtual time on the paused clock):
/// to check that something does *not* happen, or to let a spawned task
/// reach a wait that nothing observable marks. Never a substitute for
/// waiting on an event that exists.
pub(crate) async fn settle() {
    tokio::time::sleep(SHORT).await;
}

/// Waits until `ready()` holds, re-checking whenever the runtime has run
/// other tasks (and every millisecond); bounded by [`WAIT`]. For state that has no event to await
/// (a queue length, a counter).
pub(crate) async fn until(what: &str, ready: impl FnMut() -> bool) {
    until_for(what, WAIT, ready).await
}

/// [`until`] with an `async` condition (a management call, say).
pub(crate) async fn until_async<F: std::future::Future<Output = bool>>(what: &str, mut ready: impl FnMut() -> F) {
    within(what, async {
        while !ready().await {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await
}

/// [`until`] bounded by `limit` instead of [`WAIT`] (for churn under load).
pub(crate) async fn until_for(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) {
    let wait = async {
        while !ready() {
            // Not `yield_now` alone: on the paused clock a task that only
            // yields keeps the runtime busy, so time never advances and the
            // bound could never fire.
            tokio::task::yield_now().await;
            if !ready() {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    };
    if tokio::time::timeout(limit, wait).await.is_err() {
        panic!("{what}: not done within {limit:?}");
    }
}

/// Polls `future` once (whatever it does on its first poll, such as
/// sending a request, is done when this returns).
pub(crate) async fn poll_once<F: std::future::Future + Unpin>(mut future: F) -> std::task::Poll<F::Output> {
    std::future::poll_fn(|cx| std::task::Poll::Ready(std::pin::Pin::new(&mut future).poll(cx))).await
}

/// Awaits `future` within [`WAIT`], or fails naming `what`.
pub(crate) async fn within<T>(what: &str, future: impl std::future::Future<Output = T>) -> T {
    match tokio::time::timeout(WAIT, future).await {
        Ok(value) => value,
        Err(_) => panic!("{what}: not done within {WAIT:?}"),
    }
}

/// A fresh, empty directory under the system's temp dir, unique to this
/// process and call.
pub(crate) fn temp_dir(what: &str) -> std::path::PathBuf {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("treeline-{what}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
