//! The process table: every live actor of a System, by id.
//!
//! Sharded by id so that spawns and exits on different threads rarely meet
//! on one lock (consecutive ids land on different shards). Used for lookups
//! by id, for shutdown (which must reach every actor) and for introspection.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};

use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::actor::ShutdownPolicy;
use crate::addr::{ActorId, Pid};

const SHARDS: usize = 16;

/// How the System stops a top-level actor at shutdown; `None` for actors
/// spawned by other actors.
pub(crate) type TopLevel = Option<ShutdownPolicy>;

struct Entry {
    pid: Pid,
    top_level: TopLevel,
}

/// Ids are dense integers; a multiplicative hash spreads them.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(byte)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u64(&mut self, id: u64) {
        self.0 = id.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type Shard = Mutex<HashMap<u64, Entry, BuildHasherDefault<IdHasher>>>;

pub(crate) struct ProcessTable {
    shards: Box<[Shard]>,
    len: AtomicUsize,
    emptied: Notify,
}

impl ProcessTable {
    pub(crate) fn new() -> Self {
        ProcessTable {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::default())).collect(),
            len: AtomicUsize::new(0),
            emptied: Notify::new(),
        }
    }

    fn shard(&self, id: ActorId) -> &Shard {
        &self.shards[(id.0 as usize) % SHARDS]
    }

    pub(crate) fn insert(&self, pid: Pid, top_level: TopLevel) {
        let id = pid.id();
        self.shard(id).lock().insert(id.0, Entry { pid, top_level });
        self.len.fetch_add(1, Ordering::AcqRel);
    }

    pub(crate) fn remove(&self, id: ActorId) {
        if self.shard(id).lock().remove(&id.0).is_some() && self.len.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.emptied.notify_waiters();
        }
    }

    pub(crate) fn get(&self, id: ActorId) -> Option<Pid> {
        self.shard(id).lock().get(&id.0).map(|entry| entry.pid.clone())
    }

    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::Acquire)
    }

    /// Top-level actors, newest first, with their shutdown policy.
    pub(crate) fn top_level_newest_first(&self) -> Vec<(Pid, ShutdownPolicy)> {
        let mut found: Vec<(Pid, ShutdownPolicy)> = Vec::new();
        for shard in self.shards.iter() {
            let shard = shard.lock();
            found.extend(shard.values().filter_map(|entry| entry.top_level.map(|policy| (entry.pid.clone(), policy))));
        }
        found.sort_by_key(|(pid, _)| std::cmp::Reverse(pid.id()));
        found
    }

    /// Every live actor, oldest first.
    pub(crate) fn all(&self) -> Vec<Pid> {
        let mut found: Vec<Pid> = Vec::new();
        for shard in self.shards.iter() {
            found.extend(shard.lock().values().map(|entry| entry.pid.clone()));
        }
        found.sort_by_key(Pid::id);
        found
    }

    /// Waits until no actor is left.
    pub(crate) async fn wait_empty(&self) {
        loop {
            let emptied = self.emptied.notified();
            if self.len() == 0 {
                return;
            }
            emptied.await;
        }
    }
}
