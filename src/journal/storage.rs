//! Where the journal's bytes live: a directory of files, behind a trait so
//! tests can use memory or inject faults.
//!
//! The journal needs little from a file system: list, open or create, read
//! and write at an offset, set the length (to preallocate and to truncate a
//! torn tail), `fdatasync` a file, fsync the directory (so a created or
//! removed segment survives a power loss), and an exclusive lock so that two
//! Systems never open one journal.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

/// A journal directory.
pub trait Storage: Send + Sync + 'static {
    /// The names of the entries in the directory (files, and anything else
    /// found there), sorted.
    fn list(&self) -> io::Result<Vec<String>>;
    /// Opens `name`, creating it (empty) if `create` and it is missing.
    fn open(&self, name: &str, create: bool) -> io::Result<Box<dyn StorageFile>>;
    /// Removes `name`: a file, or an empty directory (what damage can leave
    /// where a file belongs).
    fn remove(&self, name: &str) -> io::Result<()>;
    /// Makes creations and removals durable.
    fn sync_dir(&self) -> io::Result<()>;
    /// Takes the directory's exclusive lock, held until the returned guard
    /// drops; `WouldBlock` if someone else holds it.
    fn lock(&self) -> io::Result<Box<dyn Send + Sync>>;
    /// Whether I/O may block for long (real devices): then the journal
    /// writes on its own thread, else in the submitting task.
    fn blocks(&self) -> bool {
        true
    }
}

/// One file of a journal directory.
#[allow(clippy::len_without_is_empty)] // a file's length is an I/O result, not a collection size
pub trait StorageFile: Send + Sync {
    /// The file's length in bytes.
    fn len(&self) -> io::Result<u64>;
    /// Reads exactly `buf.len()` bytes at `offset` (`UnexpectedEof` past the end).
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()>;
    /// Writes all of `data` at `offset`, growing the file if needed.
    fn write_all_at(&self, offset: u64, data: &[u8]) -> io::Result<()>;
    /// Grows (with zeros) or shrinks the file.
    fn set_len(&self, len: u64) -> io::Result<()>;
    /// Makes the data written so far durable (`fdatasync`).
    fn sync_data(&self) -> io::Result<()>;
}

// ---------------------------------------------------------------- files --

/// A real directory.
#[derive(Debug)]
pub struct FileStorage {
    dir: PathBuf,
}

impl FileStorage {
    /// Uses `dir`, creating it if missing.
    pub fn new(dir: impl AsRef<Path>) -> io::Result<FileStorage> {
        let dir = dir.as_ref().to_path_buf();
        fs::create_dir_all(&dir)?;
        Ok(FileStorage { dir })
    }
}

/// The lock file's name inside a journal directory.
const LOCK_FILE: &str = "LOCK";

impl Storage for FileStorage {
    fn list(&self) -> io::Result<Vec<String>> {
        // Every entry, not only regular files: a directory (or anything
        // else) standing where a segment belongs must not be skipped as if
        // the segment had never existed.
        let mut names = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            if let Some(name) = entry?.file_name().to_str() {
                if name != LOCK_FILE {
                    names.push(name.to_owned());
                }
            }
        }
        names.sort();
        Ok(names)
    }

    fn open(&self, name: &str, create: bool) -> io::Result<Box<dyn StorageFile>> {
        let file = fs::OpenOptions::new().read(true).write(true).create(create).open(self.dir.join(name))?;
        Ok(Box::new(file))
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        let path = self.dir.join(name);
        match fs::remove_file(&path) {
            Err(error) if path.is_dir() => fs::remove_dir(&path).map_err(|_| error),
            other => other,
        }
    }

    fn sync_dir(&self) -> io::Result<()> {
        fs::File::open(&self.dir)?.sync_all()
    }

    fn lock(&self) -> io::Result<Box<dyn Send + Sync>> {
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(self.dir.join(LOCK_FILE))?;
        // flock: released by the kernel when the process dies, even by kill -9.
        file.try_lock().map_err(|error| match error {
            fs::TryLockError::WouldBlock => io::Error::new(io::ErrorKind::WouldBlock, "journal directory is locked"),
            fs::TryLockError::Error(error) => error,
        })?;
        Ok(Box::new(file))
    }
}

impl StorageFile for fs::File {
    fn len(&self) -> io::Result<u64> {
        Ok(self.metadata()?.len())
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        std::os::unix::fs::FileExt::read_exact_at(self, buf, offset)
    }

    /// Writes all of `data` at `offset`, growing the file if needed.
    fn write_all_at(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        std::os::unix::fs::FileExt::write_all_at(self, data, offset)
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        fs::File::set_len(self, len)
    }

    fn sync_data(&self) -> io::Result<()> {
        fs::File::sync_data(self)
    }
}

// --------------------------------------------------------------- memory --

type MemFile = Arc<Mutex<Vec<u8>>>;

/// A directory in memory, shared by its clones: what a test reopens after a
/// simulated process crash. Everything is durable at once.
#[derive(Clone, Debug, Default)]
pub struct MemStorage {
    files: Arc<Mutex<BTreeMap<String, MemFile>>>,
    locked: Arc<Mutex<bool>>,
}

impl MemStorage {
    /// An empty directory.
    pub fn new() -> MemStorage {
        MemStorage::default()
    }
}

fn not_found(name: &str) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("no file {name}"))
}

impl Storage for MemStorage {
    fn list(&self) -> io::Result<Vec<String>> {
        Ok(self.files.lock().keys().cloned().collect())
    }

    fn open(&self, name: &str, create: bool) -> io::Result<Box<dyn StorageFile>> {
        let mut files = self.files.lock();
        let file = match files.get(name) {
            Some(file) => file.clone(),
            None if create => files.entry(name.to_owned()).or_default().clone(),
            None => return Err(not_found(name)),
        };
        Ok(Box::new(file))
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        self.files.lock().remove(name).map(drop).ok_or_else(|| not_found(name))
    }

    fn sync_dir(&self) -> io::Result<()> {
        Ok(())
    }

    fn lock(&self) -> io::Result<Box<dyn Send + Sync>> {
        let mut locked = self.locked.lock();
        if *locked {
            return Err(io::Error::new(io::ErrorKind::WouldBlock, "journal directory is locked"));
        }
        *locked = true;
        Ok(Box::new(MemLock(self.locked.clone())))
    }

    fn blocks(&self) -> bool {
        false
    }
}

struct MemLock(Arc<Mutex<bool>>);

impl Drop for MemLock {
    fn drop(&mut self) {
        *self.0.lock() = false;
    }
}

impl StorageFile for MemFile {
    fn len(&self) -> io::Result<u64> {
        Ok(self.lock().len() as u64)
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let data = self.lock();
        let start = usize::try_from(offset).map_err(|_| io::ErrorKind::UnexpectedEof)?;
        let bytes =
            start.checked_add(buf.len()).and_then(|end| data.get(start..end)).ok_or(io::ErrorKind::UnexpectedEof)?;
        buf.copy_from_slice(bytes);
        Ok(())
    }

    /// Writes all of `data` at `offset`, growing the file if needed.
    fn write_all_at(&self, offset: u64, bytes: &[u8]) -> io::Result<()> {
        let mut data = self.lock();
        let start = usize::try_from(offset).map_err(|_| io::ErrorKind::InvalidInput)?;
        let end = start.checked_add(bytes.len()).ok_or(io::ErrorKind::InvalidInput)?;
        if data.len() < end {
            data.resize(end, 0);
        }
        data[start..end].copy_from_slice(bytes);
        Ok(())
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        let len = usize::try_from(len).map_err(|_| io::ErrorKind::InvalidInput)?;
        self.lock().resize(len, 0);
        Ok(())
    }

    fn sync_data(&self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    /// A fresh directory under the system's temp dir, removed on drop.
    pub(crate) struct TempDir(PathBuf);

    impl TempDir {
        pub(crate) fn new() -> TempDir {
            static NEXT: AtomicU32 = AtomicU32::new(0);
            let unique = format!("treeline-test-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
            let dir = std::env::temp_dir().join(unique);
            let _ = fs::remove_dir_all(&dir);
            TempDir(dir)
        }

        pub(crate) fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    /// What every backend must do.
    pub(crate) fn conformance(storage: &dyn Storage) {
        assert!(storage.list().unwrap().is_empty());
        assert_eq!(storage.open("a", false).err().map(|e| e.kind()), Some(io::ErrorKind::NotFound));
        let a = storage.open("a", true).unwrap();
        assert_eq!(a.len().unwrap(), 0);
        a.write_all_at(0, b"hello").unwrap();
        a.write_all_at(8, b"!").unwrap(); // past the end: the gap reads as zeros
        let mut buf = [0xFFu8; 9];
        a.read_exact_at(0, &mut buf).unwrap();
        assert_eq!(&buf, b"hello\0\0\0!");
        assert_eq!(a.read_exact_at(5, &mut [0; 5]).err().map(|e| e.kind()), Some(io::ErrorKind::UnexpectedEof));
        a.set_len(64).unwrap(); // preallocate
        assert_eq!(a.len().unwrap(), 64);
        a.set_len(5).unwrap(); // truncate
        a.sync_data().unwrap();
        let again = storage.open("a", false).unwrap();
        assert_eq!(again.len().unwrap(), 5);
        storage.open("b", true).unwrap();
        storage.sync_dir().unwrap();
        assert_eq!(storage.list().unwrap(), ["a", "b"]);
        storage.remove("a").unwrap();
        assert_eq!(storage.list().unwrap(), ["b"]);
        assert!(storage.remove("a").is_err());
        // One holder of the lock at a time; released on drop.
        let guard = storage.lock().unwrap();
        assert_eq!(storage.lock().err().map(|e| e.kind()), Some(io::ErrorKind::WouldBlock));
        drop(guard);
        storage.lock().unwrap();
    }

    #[test]
    fn file_storage_conforms() {
        let dir = TempDir::new();
        conformance(&FileStorage::new(&dir.0).unwrap());
    }

    #[test]
    fn mem_storage_conforms_and_clones_share_the_directory() {
        let storage = MemStorage::new();
        conformance(&storage);
        let clone = storage.clone();
        clone.open("c", true).unwrap().write_all_at(0, b"x").unwrap();
        assert_eq!(storage.list().unwrap(), ["b", "c"]);
    }

    #[test]
    fn a_second_file_storage_on_one_directory_cannot_lock_it() {
        let dir = TempDir::new();
        let first = FileStorage::new(&dir.0).unwrap();
        let second = FileStorage::new(&dir.0).unwrap();
        let _held = first.lock().unwrap();
        assert_eq!(second.lock().err().map(|e| e.kind()), Some(io::ErrorKind::WouldBlock));
    }
}
