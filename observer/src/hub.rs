//! The event stream's sampler: one task per observer, running only while at
//! least one stream is open, broadcasting each snapshot (as JSON, with an
//! increasing `seq`) to every stream. A slow client misses snapshots rather
//! than holding the others back.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::broadcast;
use treeline::System;

use crate::api;
use crate::dead_letters::DeadLetterLog;

/// A snapshot ready to send: its seq and its JSON.
pub(crate) type Frame = Arc<(u64, String)>;

pub(crate) struct Hub {
    system: System,
    dead_letters: DeadLetterLog,
    interval: Duration,
    busy: Duration,
    stuck: Duration,
    seq: AtomicU64,
    frames: broadcast::Sender<Frame>,
    watchers: AtomicUsize,
    sampler: Mutex<Option<tokio::task::JoinHandle<()>>>,
    closed: AtomicBool,
}

/// One open stream; its drop lets the sampler stop when it was the last.
pub(crate) struct Watch {
    hub: Arc<Hub>,
    pub(crate) frames: broadcast::Receiver<Frame>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.hub.watchers.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Hub {
    pub(crate) fn new(
        system: System,
        dead_letters: DeadLetterLog,
        interval: Duration,
        busy: Duration,
        stuck: Duration,
    ) -> Arc<Hub> {
        let (frames, _) = broadcast::channel(4);
        Arc::new(Hub {
            system,
            dead_letters,
            interval,
            busy,
            stuck,
            seq: AtomicU64::new(0),
            frames,
            watchers: AtomicUsize::new(0),
            sampler: Mutex::new(None),
            closed: AtomicBool::new(false),
        })
    }

    /// A snapshot now, numbered after every one sent before.
    pub(crate) async fn frame(&self) -> Frame {
        let snapshot = self.system.snapshot().await;
        let seq = self.seq.fetch_add(1, Ordering::AcqRel) + 1;
        let json = api::snapshot(&snapshot, seq, self.dead_letters.latest(), self.busy, self.stuck);
        let text = serde_json::to_string(&json).unwrap_or_else(|error| format!("{{\"error\":\"{error}\"}}"));
        Arc::new((seq, text))
    }

    /// Opens a stream: starts the sampler if it is not running.
    pub(crate) fn watch(self: &Arc<Self>) -> Watch {
        let frames = self.frames.subscribe();
        self.watchers.fetch_add(1, Ordering::AcqRel);
        let mut sampler = self.sampler.lock();
        let running = sampler.as_ref().is_some_and(|task| !task.is_finished());
        if !running && !self.closed.load(Ordering::Acquire) {
            *sampler = Some(tokio::spawn(sample(Arc::downgrade(self))));
        }
        Watch { hub: self.clone(), frames }
    }

    /// Stops the sampler for good (the observer stopped).
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        if let Some(task) = self.sampler.lock().take() {
            task.abort();
        }
    }
}

async fn sample(hub: std::sync::Weak<Hub>) {
    let interval = match hub.upgrade() {
        Some(hub) => hub.interval,
        None => return,
    };
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await; // the first tick is immediate; a new stream got its own frame
    loop {
        tick.tick().await;
        let Some(hub) = hub.upgrade() else { return };
        if hub.watchers.load(Ordering::Acquire) == 0 || hub.closed.load(Ordering::Acquire) {
            // Nobody watches: stop. A new stream starts a new sampler (the
            // lock orders this exit against `watch`).
            let mut sampler = hub.sampler.lock();
            if hub.watchers.load(Ordering::Acquire) == 0 {
                sampler.take();
                return;
            }
            continue;
        }
        let frame = hub.frame().await;
        let _ = hub.frames.send(frame);
    }
}
