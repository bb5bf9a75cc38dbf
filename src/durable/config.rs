//! Where a System's journal lives and how it writes.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use super::store::{Store, DEFAULT_DEDUPE_WINDOW};
use crate::journal::commit::FsyncPolicy;
use crate::journal::recover::Recovery;
use crate::journal::segment::JournalError;
use crate::journal::storage::{FileStorage, Storage};
use crate::journal::Settings;

/// Where a System's journal lives and how it writes; open it with
/// [`System::with_journal`](crate::System::with_journal).
///
/// A journal directory belongs to one System at a time: a second open, in
/// this process or another, fails with [`JournalError::Locked`].
///
/// ```
/// use std::time::Duration;
/// use treeline::durable::JournalConfig;
/// use treeline::journal::{FsyncPolicy, MemStorage};
///
/// // A directory (created if missing); every confirm is an fsync (the default).
/// let on_disk = JournalConfig::dir("/var/lib/shop/journal");
/// // Memory (tests), syncing at most every 10 ms, 8 MiB segments.
/// let in_memory = JournalConfig::storage(MemStorage::new())
///     .fsync(FsyncPolicy::Interval(Duration::from_millis(10)))
///     .segment_size(8 << 20);
/// # let _ = (on_disk, in_memory);
/// ```
#[derive(Clone)]
pub struct JournalConfig {
    source: Source,
    settings: Settings,
    /// Milliseconds.
    dedupe_window: u64,
}

#[derive(Clone)]
enum Source {
    Dir(PathBuf),
    Storage(Arc<dyn Storage>),
}

impl fmt::Debug for JournalConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = match &self.source {
            Source::Dir(dir) => format!("{}", dir.display()),
            Source::Storage(_) => "custom storage".to_owned(),
        };
        f.debug_struct("JournalConfig")
            .field("source", &source)
            .field("fsync", &self.settings.fsync)
            .field("segment_size", &self.settings.segment_size)
            .field("recovery", &self.settings.recovery)
            .finish()
    }
}

/// Bounds of [`JournalConfig::segment_size`].
const MIN_SEGMENT: u64 = 4 << 10;
const MAX_SEGMENT: u64 = 1 << 31;

impl JournalConfig {
    /// A journal in the directory `dir` (created if missing).
    pub fn dir(dir: impl Into<PathBuf>) -> Self {
        JournalConfig {
            source: Source::Dir(dir.into()),
            settings: Settings::default(),
            dedupe_window: DEFAULT_DEDUPE_WINDOW,
        }
    }

    /// A journal on `storage`: [`MemStorage`](crate::journal::MemStorage),
    /// `treeline::test_util::FaultyStorage` (feature `test-util`) or your own
    /// backend.
    pub fn storage(storage: impl Storage) -> Self {
        JournalConfig {
            source: Source::Storage(Arc::new(storage)),
            settings: Settings::default(),
            dedupe_window: DEFAULT_DEDUPE_WINDOW,
        }
    }

    /// When writes are made durable (default [`FsyncPolicy::Always`]).
    pub fn fsync(mut self, policy: FsyncPolicy) -> Self {
        self.settings.fsync = policy;
        self
    }

    /// Bytes preallocated per segment file (default 64 MiB, clamped to
    /// 4 KiB..=2 GiB). Space is reclaimed a whole segment at a time.
    pub fn segment_size(mut self, bytes: u64) -> Self {
        self.settings.segment_size = bytes.clamp(MIN_SEGMENT, MAX_SEGMENT);
        self
    }

    /// What opening does with a damaged journal (default
    /// [`Recovery::Refuse`]: fail with [`JournalError::Corrupt`] naming the
    /// damage). [`Recovery::SkipDamaged`] opens anyway and reports what it
    /// skipped in [`System::journal_recovery`](crate::System::journal_recovery).
    ///
    /// ```
    /// use treeline::durable::JournalConfig;
    /// use treeline::journal::Recovery;
    ///
    /// let config = JournalConfig::dir("/var/lib/shop/journal").recovery(Recovery::SkipDamaged);
    /// # let _ = config;
    /// ```
    pub fn recovery(mut self, policy: Recovery) -> Self {
        self.settings.recovery = policy;
        self
    }

    /// How long producers' message ids are remembered
    /// ([`DurableQueue::cast_with_id`](crate::durable::DurableQueue::cast_with_id),
    /// [`System::publish_durable_with_id`](crate::System::publish_durable_with_id)):
    /// a repeated id within this window stores nothing (default 2 minutes,
    /// as JetStream's duplicate window). The ids are kept in the journal,
    /// so the window holds across restarts; a segment holding ids stays on
    /// disk until the window is past them.
    ///
    /// ```
    /// use std::time::Duration;
    /// use treeline::durable::JournalConfig;
    ///
    /// let config = JournalConfig::dir("/var/lib/shop/journal").dedupe_window(Duration::from_secs(600));
    /// # let _ = config;
    /// ```
    pub fn dedupe_window(mut self, window: std::time::Duration) -> Self {
        self.dedupe_window = u64::try_from(window.as_millis()).unwrap_or(u64::MAX);
        self
    }

    pub(crate) fn open(&self) -> Result<Arc<Store>, JournalError> {
        let storage: Arc<dyn Storage> = match &self.source {
            Source::Dir(dir) => Arc::new(FileStorage::new(dir).map_err(JournalError::Io)?),
            Source::Storage(storage) => storage.clone(),
        };
        Store::open_with_window(storage, self.settings, self.dedupe_window)
    }
}
