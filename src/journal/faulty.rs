//! A storage backend for crash tests: it keeps, per file, what a process
//! crash would leave (the live image) and what a power loss would leave (the
//! durable image), and injects I/O errors on request.
//!
//! kill -9 cannot show a missing fsync (the page cache survives the process),
//! so this is how the journal's fsync protocol is tested.
//!
//! * A write or `set_len` changes the live image and is *pending* until the
//!   file's `sync_data`, which makes the live image durable.
//! * Creating or removing a file changes the live directory; only
//!   `sync_dir` makes the directory durable. After a power loss, a file whose
//!   creation was not made durable is gone, whatever was synced into it.
//! * [`Crash::PowerLossTorn`] keeps the durable image plus a random subset of
//!   the pending writes, each possibly cut at a 512-byte boundary: torn and
//!   reordered writes.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::sync::Arc;

use parking_lot::Mutex;

use super::storage::{Storage, StorageFile};

/// What survives a simulated crash of a [`FaultyStorage`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Crash {
    /// The process died (kill -9): everything written survives.
    Process,
    /// The machine lost power: only what was synced survives.
    PowerLoss,
    /// Power loss where some unsynced writes reached the disk, in any order,
    /// possibly torn at 512-byte sectors (chosen by `seed`).
    PowerLossTorn {
        /// Picks which writes survive and where they tear.
        seed: u64,
    },
}

#[derive(Clone, Debug, Default)]
struct FileImage {
    live: Vec<u8>,
    durable: Vec<u8>,
    /// Writes since the last sync, in order: (offset, bytes). An unsynced
    /// `set_len` is not replayed at a torn power loss: the durable length
    /// stands, extended by whatever pending writes survive.
    pending: Vec<(usize, Vec<u8>)>,
}

#[derive(Debug, Default)]
struct State {
    files: BTreeMap<String, FileImage>,
    /// Names whose existence is durable.
    durable_dir: BTreeSet<String>,
    /// Operations (writes, syncs) left before every operation fails; `None`: no limit.
    ops_left: Option<u64>,
    /// The next `sync_data` fails.
    fail_next_sync: bool,
    locked: bool,
}

/// A journal directory in memory for crash tests: it keeps, per file, what a
/// process crash would leave (the live image) and what a power loss would
/// leave (the durable image: only what `sync_data` made durable, in files
/// whose creation `sync_dir` made durable), and injects I/O errors on
/// request. Clones share one directory; [`crash`](FaultyStorage::crash)
/// returns what a crash leaves as a new, unlocked directory.
///
/// kill -9 cannot show a missing fsync (the page cache survives the
/// process); this is how the journal's fsync protocol is tested.
///
/// ```
/// use treeline::System;
/// use treeline::durable::JournalConfig;
/// use treeline::test_util::{Crash, FaultyStorage};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let storage = FaultyStorage::new();
/// let system = System::with_journal(JournalConfig::storage(storage.clone())).unwrap();
/// let queue = system.durable_queue::<String>("mail").await.unwrap();
/// queue.cast("hello".to_owned()).await.unwrap(); // confirmed: synced
///
/// // The machine loses power; a new System opens what the disk kept.
/// let after = System::with_journal(JournalConfig::storage(storage.crash(Crash::PowerLoss))).unwrap();
/// let queue = after.durable_queue::<String>("mail").await.unwrap();
/// assert_eq!(queue.stats().pending, 1);
/// # }
/// ```
#[derive(Clone, Debug, Default)]
pub struct FaultyStorage {
    state: Arc<Mutex<State>>,
}

fn injected(what: &str) -> io::Error {
    io::Error::other(format!("injected fault: {what}"))
}

impl State {
    /// Counts one write or sync against the countdown.
    fn spend(&mut self) -> io::Result<()> {
        match &mut self.ops_left {
            Some(0) => Err(io::Error::new(io::ErrorKind::StorageFull, "injected fault: no space left on device")),
            Some(left) => {
                *left -= 1;
                Ok(())
            }
            None => Ok(()),
        }
    }
}

impl FaultyStorage {
    /// An empty directory.
    pub fn new() -> FaultyStorage {
        FaultyStorage::default()
    }

    /// After `ops` more writes or syncs, every write and sync fails with
    /// `StorageFull` (a full disk).
    pub fn fail_after(&self, ops: u64) {
        self.state.lock().ops_left = Some(ops);
    }

    /// The next `sync_data` fails (and makes nothing durable).
    pub fn fail_next_sync(&self) {
        self.state.lock().fail_next_sync = true;
    }

    /// Flips one bit of the live and durable images (media corruption).
    pub fn flip(&self, name: &str, offset: usize, bit: u8) {
        let mut state = self.state.lock();
        if let Some(file) = state.files.get_mut(name) {
            for image in [&mut file.live, &mut file.durable] {
                if let Some(byte) = image.get_mut(offset) {
                    *byte ^= 1 << (bit % 8);
                }
            }
        }
    }

    /// The directory as the crash leaves it, as a new storage (unlocked, no
    /// faults armed); this one is unchanged.
    pub fn crash(&self, crash: Crash) -> FaultyStorage {
        let state = self.state.lock();
        let mut rng = match crash {
            Crash::PowerLossTorn { seed } => seed | 1,
            _ => 1,
        };
        let mut next = move || {
            // xorshift64: deterministic per seed, no dependency.
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let mut files = BTreeMap::new();
        for (name, file) in &state.files {
            let image = match crash {
                Crash::Process => file.live.clone(),
                Crash::PowerLoss | Crash::PowerLossTorn { .. } if !state.durable_dir.contains(name) => continue,
                Crash::PowerLoss => file.durable.clone(),
                Crash::PowerLossTorn { .. } => {
                    let mut image = file.durable.clone();
                    for (offset, bytes) in &file.pending {
                        if next().is_multiple_of(2) {
                            continue; // this write never reached the disk
                        }
                        let kept = if bytes.len() > 512 && next().is_multiple_of(2) {
                            (next() as usize % (bytes.len() / 512)) * 512
                        } else {
                            bytes.len()
                        };
                        let end = offset + kept;
                        if image.len() < end {
                            image.resize(end, 0);
                        }
                        image[*offset..end].copy_from_slice(&bytes[..kept]);
                    }
                    image
                }
            };
            files.insert(name.clone(), FileImage { live: image.clone(), durable: image, pending: Vec::new() });
        }
        let durable_dir = files.keys().cloned().collect();
        FaultyStorage { state: Arc::new(Mutex::new(State { files, durable_dir, ..State::default() })) }
    }

    /// The live bytes of `name` (for assertions).
    pub fn live(&self, name: &str) -> Option<Vec<u8>> {
        self.state.lock().files.get(name).map(|file| file.live.clone())
    }
}

impl Storage for FaultyStorage {
    fn list(&self) -> io::Result<Vec<String>> {
        Ok(self.state.lock().files.keys().cloned().collect())
    }

    fn open(&self, name: &str, create: bool) -> io::Result<Box<dyn StorageFile>> {
        let mut state = self.state.lock();
        if !state.files.contains_key(name) {
            if !create {
                return Err(io::Error::new(io::ErrorKind::NotFound, format!("no file {name}")));
            }
            state.spend()?;
            state.files.insert(name.to_owned(), FileImage::default());
        }
        Ok(Box::new(FaultyFile { state: self.state.clone(), name: name.to_owned() }))
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        let mut state = self.state.lock();
        state.spend()?;
        state.files.remove(name).map(drop).ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, name.to_owned()))
    }

    fn sync_dir(&self) -> io::Result<()> {
        let mut state = self.state.lock();
        state.spend()?;
        state.durable_dir = state.files.keys().cloned().collect();
        Ok(())
    }

    fn lock(&self) -> io::Result<Box<dyn Send + Sync>> {
        let mut state = self.state.lock();
        if state.locked {
            return Err(io::Error::new(io::ErrorKind::WouldBlock, "journal directory is locked"));
        }
        state.locked = true;
        Ok(Box::new(FaultyLock(self.state.clone())))
    }

    fn blocks(&self) -> bool {
        false
    }
}

struct FaultyLock(Arc<Mutex<State>>);

impl Drop for FaultyLock {
    fn drop(&mut self) {
        self.0.lock().locked = false;
    }
}

struct FaultyFile {
    state: Arc<Mutex<State>>,
    name: String,
}

impl FaultyFile {
    fn with<R>(&self, spend: bool, f: impl FnOnce(&mut FileImage) -> io::Result<R>) -> io::Result<R> {
        let mut state = self.state.lock();
        if spend {
            state.spend()?;
        }
        let file = state.files.get_mut(&self.name).ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "removed"))?;
        f(file)
    }
}

impl StorageFile for FaultyFile {
    fn len(&self) -> io::Result<u64> {
        self.with(false, |file| Ok(file.live.len() as u64))
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.with(false, |file| {
            let start = usize::try_from(offset).map_err(|_| io::ErrorKind::UnexpectedEof)?;
            let end = start.checked_add(buf.len()).ok_or(io::ErrorKind::UnexpectedEof)?;
            buf.copy_from_slice(file.live.get(start..end).ok_or(io::ErrorKind::UnexpectedEof)?);
            Ok(())
        })
    }

    fn write_all_at(&self, offset: u64, bytes: &[u8]) -> io::Result<()> {
        self.with(true, |file| {
            let start = usize::try_from(offset).map_err(|_| io::ErrorKind::InvalidInput)?;
            let end = start.checked_add(bytes.len()).ok_or(io::ErrorKind::InvalidInput)?;
            if file.live.len() < end {
                file.live.resize(end, 0);
            }
            file.live[start..end].copy_from_slice(bytes);
            file.pending.push((start, bytes.to_vec()));
            Ok(())
        })
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.with(true, |file| {
            let len = usize::try_from(len).map_err(|_| io::ErrorKind::InvalidInput)?;
            file.live.resize(len, 0);
            Ok(())
        })
    }

    fn sync_data(&self) -> io::Result<()> {
        let mut state = self.state.lock();
        if std::mem::take(&mut state.fail_next_sync) {
            return Err(injected("fsync failed"));
        }
        state.spend()?;
        let file = state.files.get_mut(&self.name).ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "removed"))?;
        file.durable = file.live.clone();
        file.pending.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faulty_storage_conforms() {
        crate::journal::storage::tests::conformance(&FaultyStorage::new());
    }

    #[test]
    fn synced_data_survives_power_loss_and_unsynced_only_a_process_crash() {
        let storage = FaultyStorage::new();
        let file = storage.open("seg", true).unwrap();
        storage.sync_dir().unwrap();
        file.write_all_at(0, b"synced").unwrap();
        file.sync_data().unwrap();
        file.write_all_at(6, b"+lost").unwrap();
        assert_eq!(storage.crash(Crash::Process).live("seg").unwrap(), b"synced+lost");
        assert_eq!(storage.crash(Crash::PowerLoss).live("seg").unwrap(), b"synced");
    }

    #[test]
    fn a_file_whose_creation_was_not_synced_is_lost_at_power_loss() {
        let storage = FaultyStorage::new();
        let file = storage.open("new", true).unwrap();
        file.write_all_at(0, b"data").unwrap();
        file.sync_data().unwrap(); // the data, but not the directory entry
        assert_eq!(storage.crash(Crash::PowerLoss).list().unwrap(), Vec::<String>::new());
        assert_eq!(storage.crash(Crash::Process).list().unwrap(), ["new"]);
        storage.sync_dir().unwrap();
        assert_eq!(storage.crash(Crash::PowerLoss).live("new").unwrap(), b"data");
    }

    #[test]
    fn torn_power_loss_keeps_the_durable_image_plus_parts_of_pending_writes() {
        let storage = FaultyStorage::new();
        let file = storage.open("seg", true).unwrap();
        storage.sync_dir().unwrap();
        file.write_all_at(0, &[1; 100]).unwrap();
        file.sync_data().unwrap();
        let pending: Vec<u8> = (0..2_000u32).map(|i| (i % 251) as u8 + 2).collect();
        file.write_all_at(100, &pending).unwrap();
        let mut outcomes = BTreeSet::new();
        for seed in 0..64 {
            let image = storage.crash(Crash::PowerLossTorn { seed }).live("seg").unwrap();
            assert_eq!(&image[..100], &[1; 100][..], "the synced part always survives");
            let kept = image.len() - 100;
            assert_eq!(&image[100..], &pending[..kept], "a pending write survives as a prefix");
            assert!(kept.is_multiple_of(512) || kept == pending.len());
            outcomes.insert(kept);
        }
        assert!(outcomes.len() > 2, "seeds choose different outcomes: {outcomes:?}");
    }

    #[test]
    fn faults_are_errors_not_panics() {
        let storage = FaultyStorage::new();
        let file = storage.open("seg", true).unwrap();
        storage.fail_next_sync();
        file.write_all_at(0, b"x").unwrap();
        assert!(file.sync_data().is_err());
        assert_eq!(storage.crash(Crash::PowerLoss).live("seg"), None, "nothing was made durable");
        storage.fail_after(1);
        file.write_all_at(1, b"y").unwrap();
        assert!(file.write_all_at(2, b"z").is_err());
        assert!(file.sync_data().is_err());
        assert!(storage.sync_dir().is_err());
        assert_eq!(storage.live("seg").unwrap(), b"xy");
    }

    #[test]
    fn a_flipped_bit_reads_back_flipped() {
        let storage = FaultyStorage::new();
        let file = storage.open("seg", true).unwrap();
        file.write_all_at(0, &[0b1010]).unwrap();
        storage.flip("seg", 0, 0);
        let mut byte = [0];
        file.read_exact_at(0, &mut byte).unwrap();
        assert_eq!(byte, [0b1011]);
    }
}
