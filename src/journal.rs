//! The journal under durable queues: an append-only, segmented,
//! CRC-checked log on disk.
//!
//! A System gets one with [`System::with_journal`](crate::System::with_journal)
//! and a `JournalConfig` (in `treeline::durable`). This module holds
//! what that configuration and its errors name: where the bytes go
//! ([`Storage`]: [`FileStorage`], [`MemStorage`], or your own), when they are
//! synced ([`FsyncPolicy`]), what opening does with damage ([`Recovery`],
//! [`RecoveryReport`]), and [`JournalError`].
//!
//! Inside, the journal knows nothing of actors or queues (opaque payloads,
//! stream ids, sequence numbers): the record framing (`record`, `crc32c`),
//! the storage seam (`storage`; the fault-injecting backend `faulty` is
//! [`test_util`](crate#features)'s), segment files (`segment`), the control
//! file that records reclamation and the newest segment (`control`),
//! recovery and its damage policy (`recover`), the single writer (`writer`),
//! group commit under the fsync policy (`commit`), and `Journal`, which ties
//! them together (lock, recover, submit). The durable queue records and the
//! state they fold into live above it, in `src/durable/records.rs`. The byte
//! format is written down in `docs/journal-format.md`.

#[cfg(feature = "test-util")]
pub(crate) mod bench;
pub(crate) mod commit;
pub(crate) mod control;
pub(crate) mod crc32c;
#[cfg(any(test, feature = "test-util"))]
pub(crate) mod faulty;
pub(crate) mod record;
pub(crate) mod recover;
pub(crate) mod segment;
pub(crate) mod storage;
pub(crate) mod writer;

use std::io;
use std::sync::Arc;

pub use commit::FsyncPolicy;
pub use record::FrameError;
pub use recover::{Damage, Recovery, RecoveryReport, TailCut};
pub use segment::JournalError;
pub use storage::{FileStorage, MemStorage, Storage, StorageFile};

use commit::Committer;
use record::{Loc, OwnedRecord, Record};
use recover::{recover_with, Recovered};
use writer::Writer;

/// How a journal writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Settings {
    /// Bytes preallocated per segment.
    pub(crate) segment_size: u64,
    pub(crate) fsync: FsyncPolicy,
    /// What opening does with damage.
    pub(crate) recovery: Recovery,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { segment_size: 64 << 20, fsync: FsyncPolicy::Always, recovery: Recovery::Refuse }
    }
}

/// An open journal: its directory locked, recovered, and ready to append.
pub(crate) struct Journal {
    // Declared first: dropped (and its thread joined) before the lock goes.
    committer: Committer,
    /// The directory lock (held by the commit thread in threaded mode);
    /// released by [`Journal::close`] or the drop.
    lock: parking_lot::Mutex<Option<Box<dyn Send + Sync>>>,
}

impl Journal {
    /// Locks the directory, recovers it, and returns the journal with every
    /// record found, in log order.
    #[cfg(test)]
    pub(crate) fn open(
        storage: Arc<dyn Storage>,
        settings: Settings,
    ) -> Result<(Journal, Vec<OwnedRecord>), JournalError> {
        let mut records = Vec::new();
        let (journal, _) = Journal::open_with(storage, settings, &mut |record, _| {
            records.push(record.to_owned_record());
            Ok(())
        })?;
        Ok((journal, records))
    }

    /// Locks the directory, recovers it handing every record and its place
    /// to `visit` (an error from `visit` fails the open), and returns the
    /// journal ready to append.
    pub(crate) fn open_with(
        storage: Arc<dyn Storage>,
        settings: Settings,
        visit: &mut dyn FnMut(Record<'_>, Loc) -> Result<(), JournalError>,
    ) -> Result<(Journal, Recovered), JournalError> {
        let lock = storage.lock().map_err(|error| match error.kind() {
            io::ErrorKind::WouldBlock => JournalError::Locked,
            _ => JournalError::Io(error),
        })?;
        let recovery = recover_with(&*storage, settings.recovery, visit)?;
        let writer = Writer::open(storage.clone(), settings.segment_size, &recovery)?;
        let (committer, lock) = if storage.blocks() {
            (Committer::threaded(writer, settings.fsync, lock)?, None)
        } else {
            (Committer::inline(writer, settings.fsync), Some(lock))
        };
        Ok((Journal { committer, lock: parking_lot::Mutex::new(lock) }, recovery))
    }

    #[cfg(test)]
    /// Appends `records` after everything submitted before; the receiver
    /// completes when they are written (and synced, under `Always`).
    pub(crate) fn submit(
        &self,
        records: Vec<OwnedRecord>,
    ) -> tokio::sync::oneshot::Receiver<Result<Loc, JournalError>> {
        self.committer.submit(records)
    }

    /// The newest segment a confirmed submission was written to (see
    /// [`Committer::newest_written`]).
    pub(crate) fn newest_written(&self) -> u64 {
        self.committer.newest_written()
    }

    /// Closes the journal: what was submitted is committed, later
    /// submissions fail with [`JournalError::Closed`], and `closed` runs once
    /// the directory is released (a new journal may then open it).
    pub(crate) fn close(&self, closed: commit::Closed) {
        let lock = self.lock.lock().take();
        self.committer.close(Box::new(move || {
            drop(lock);
            closed();
        }));
    }

    /// Seals the active segment: what is submitted next starts a new one.
    pub(crate) fn seal(&self) {
        self.committer.seal()
    }

    /// Deletes the segments numbered up to `through` (sealed, with nothing
    /// live), after what was submitted before; the control file records
    /// them as reclaimed first.
    pub(crate) fn reclaim(&self, through: u64) {
        self.committer.reclaim(through)
    }

    /// Appends `records` after everything submitted before and runs `done`
    /// with where the first one landed (see [`commit::Done`]).
    pub(crate) fn submit_with(&self, records: Vec<OwnedRecord>, done: commit::Done) {
        self.committer.submit_with(records, done)
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
        let (journal, recovered) = Journal::open(storage(), Settings::default()).unwrap();
        assert!(recovered.is_empty());
        assert!(matches!(Journal::open(storage(), Settings::default()), Err(JournalError::Locked)));
        futures::executor::block_on(journal.submit(vec![owned(1), owned(2)])).unwrap().unwrap();
        drop(journal);
        let (_journal, recovered) = Journal::open(storage(), Settings::default()).unwrap();
        assert_eq!(recovered.iter().map(|r| r.seq).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(recovered[1].payload, [2, 2, 2]);
    }

    #[tokio::test(start_paused = true)]
    async fn memory_journals_commit_inline() {
        let storage: Arc<dyn Storage> = Arc::new(MemStorage::new());
        let (journal, _) = Journal::open(storage.clone(), Settings::default()).unwrap();
        journal.submit(vec![owned(1)]).await.unwrap().unwrap();
        drop(journal);
        let (_journal, recovered) = Journal::open(storage, Settings::default()).unwrap();
        assert_eq!(recovered.len(), 1);
    }
}
