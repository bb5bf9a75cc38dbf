//! What the criterion benches share: the runtime they run on and a latch.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;

/// A multi-thread runtime with 2 workers, as in `../shared/peers-bench`.
pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

/// Counts down to zero, then wakes the driver.
pub(crate) struct Latch {
    left: AtomicU64,
    done: Notify,
}

impl Latch {
    pub(crate) fn new(n: u64) -> Arc<Latch> {
        Arc::new(Latch { left: AtomicU64::new(n), done: Notify::new() })
    }

    pub(crate) fn count_down(&self) {
        if self.left.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.done.notify_one();
        }
    }

    pub(crate) async fn wait(&self) {
        while self.left.load(Ordering::Acquire) != 0 {
            self.done.notified().await;
        }
    }
}

/// The process's resident memory, from `/proc/self/status` (0 elsewhere).
pub(crate) fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}
