//! Shared test helpers: a probe that actors report to, and bounded waits.
//!
//! Every wait is bounded (in virtual time under `start_paused`), and a failed
//! wait names what it waited for and what arrived so far.

use std::time::Duration;

use tokio::sync::mpsc;

/// "Eventually": the bound on every wait.
pub(crate) const WAIT: Duration = Duration::from_secs(2);
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

/// Awaits `future` within [`WAIT`], or fails naming `what`.
pub(crate) async fn within<T>(what: &str, future: impl std::future::Future<Output = T>) -> T {
    match tokio::time::timeout(WAIT, future).await {
        Ok(value) => value,
        Err(_) => panic!("{what}: not done within {WAIT:?}"),
    }
}
