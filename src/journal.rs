//! The journal: an append-only, segmented, CRC-checked log that knows
//! nothing about actors (opaque payloads, stream ids, sequence numbers).
//!
//! Status: being built for durable mailboxes (issue 5). What exists: the
//! record framing ([`record`], [`crc32c`]), the storage seam with file,
//! memory and fault-injecting backends ([`storage`], [`faulty`]), segments
//! and crash recovery ([`segment`]), the single writer ([`writer`]) and group
//! commit with the fsync policies ([`commit`]), and [`Journal`], which ties
//! them together (lock, recover, submit); the queue records and the state
//! they fold into ([`queue`]). Still to come: the queue operations on a live
//! journal, reclamation, and the durable mailbox on top.
//! Nothing outside this module uses it yet.

// Wired into durable mailboxes as the rest of the journal lands.
#![cfg_attr(not(test), allow(dead_code))]

pub(crate) mod commit;
pub(crate) mod crc32c;
pub(crate) mod faulty;
pub(crate) mod queue;
pub(crate) mod record;
pub(crate) mod segment;
pub(crate) mod storage;
pub(crate) mod writer;

use std::io;
use std::sync::Arc;

use commit::{Committer, FsyncPolicy};
use record::OwnedRecord;
use segment::{recover, JournalError};
use storage::Storage;
use tokio::sync::oneshot;
use writer::Writer;

/// How a journal writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct JournalConfig {
    /// Bytes preallocated per segment.
    pub(crate) segment_size: u64,
    pub(crate) fsync: FsyncPolicy,
}

impl Default for JournalConfig {
    fn default() -> Self {
        JournalConfig { segment_size: 64 << 20, fsync: FsyncPolicy::Always }
    }
}

/// An open journal: its directory locked, recovered, and ready to append.
pub(crate) struct Journal {
    // Declared first: dropped (and its thread joined) before the lock goes.
    committer: Committer,
    _lock: Box<dyn Send + Sync>,
}

impl Journal {
    /// Locks the directory, recovers it, and returns the journal with every
    /// record found, in log order.
    pub(crate) fn open(
        storage: Arc<dyn Storage>,
        config: JournalConfig,
    ) -> Result<(Journal, Vec<OwnedRecord>), JournalError> {
        let lock = storage.lock().map_err(|error| match error.kind() {
            io::ErrorKind::WouldBlock => JournalError::Locked,
            _ => JournalError::Io(error),
        })?;
        let recovery = recover(&*storage)?;
        let writer = Writer::open(storage.clone(), config.segment_size, &recovery)?;
        let committer = if storage.blocks() {
            Committer::threaded(writer, config.fsync)?
        } else {
            Committer::inline(writer, config.fsync)
        };
        Ok((Journal { committer, _lock: lock }, recovery.records))
    }

    /// Appends `records` after everything submitted before; the receiver
    /// completes when they are written (and synced, under `Always`).
    pub(crate) fn submit(&self, records: Vec<OwnedRecord>) -> oneshot::Receiver<Result<(), JournalError>> {
        self.committer.submit(records)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::storage::tests::TempDir;
    use crate::journal::storage::{FileStorage, MemStorage};

    fn owned(seq: u64) -> OwnedRecord {
        OwnedRecord { kind: 1, stream: 2, seq, payload: vec![seq as u8; 3] }
    }

    #[test]
    fn a_journal_reopens_with_what_it_wrote_and_locks_its_directory() {
        let dir = TempDir::new();
        let storage = || -> Arc<dyn Storage> { Arc::new(FileStorage::new(dir.path()).unwrap()) };
        let (journal, recovered) = Journal::open(storage(), JournalConfig::default()).unwrap();
        assert!(recovered.is_empty());
        assert!(matches!(Journal::open(storage(), JournalConfig::default()), Err(JournalError::Locked)));
        futures::executor::block_on(journal.submit(vec![owned(1), owned(2)])).unwrap().unwrap();
        drop(journal);
        let (_journal, recovered) = Journal::open(storage(), JournalConfig::default()).unwrap();
        assert_eq!(recovered.iter().map(|r| r.seq).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(recovered[1].payload, [2, 2, 2]);
    }

    #[tokio::test(start_paused = true)]
    async fn memory_journals_commit_inline() {
        let storage: Arc<dyn Storage> = Arc::new(MemStorage::new());
        let (journal, _) = Journal::open(storage.clone(), JournalConfig::default()).unwrap();
        journal.submit(vec![owned(1)]).await.unwrap().unwrap();
        drop(journal);
        let (_journal, recovered) = Journal::open(storage, JournalConfig::default()).unwrap();
        assert_eq!(recovered.len(), 1);
    }
}
