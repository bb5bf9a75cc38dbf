//! Segment files and recovery: the journal directory as an ordered list of
//! segments, each a header followed by records, and the scan that rebuilds
//! the log after a crash.
//!
//! A segment is named `<number:020>.seg` (so names sort in log order) and
//! starts with a 16-byte header: the magic `TRLNJRNL`, the format version
//! (u32 LE) and the CRC-32C of those 12 bytes (u32 LE). Records follow at
//! offset 16; the rest of a preallocated segment is zeros.
//!
//! Recovery reads the segments in order:
//! * In the **last** segment, a torn or corrupt tail is what a crash in the
//!   middle of a write leaves: it is cut back to the last valid record (the
//!   bytes after it are zeroed), and appending resumes there. A last segment
//!   whose header never reached the disk (all zeros, or shorter than a
//!   header) is treated as empty.
//! * In an **earlier** segment, which was complete and synced before the next
//!   one was created, anything but a clean end is corruption: recovery fails
//!   with [`JournalError::Corrupt`] naming the segment and offset, and never
//!   skips the records after the damage.

use std::fmt;
use std::io;

use super::crc32c;
use super::record::{self, FrameError, Loc, OwnedRecord, Record, Tail};
use super::storage::{Storage, StorageFile};

/// Bytes of a segment header.
pub(crate) const SEGMENT_HEADER: usize = 16;
const MAGIC: &[u8; 8] = b"TRLNJRNL";
/// The on-disk format version this code writes and reads.
pub(crate) const FORMAT_VERSION: u32 = 1;
const SUFFIX: &str = ".seg";

/// A journal that cannot be opened or written.
#[derive(Debug)]
#[non_exhaustive]
pub enum JournalError {
    /// The storage failed.
    Io(io::Error),
    /// Damage recovery must not repair: a bad record or header in a segment
    /// that is not the last.
    Corrupt {
        /// The segment file.
        segment: String,
        /// The byte offset of the damage in it.
        offset: u64,
        /// What is wrong.
        why: String,
    },
    /// A segment written by a newer or unknown format.
    UnsupportedVersion {
        /// The segment file.
        segment: String,
        /// The version its header names.
        version: u32,
    },
    /// An earlier write or sync failed; the journal refuses further writes
    /// rather than retry and report durable what may not be.
    Poisoned(String),
    /// A record that cannot be framed (the caller's input).
    Frame(FrameError),
    /// Another journal (in this process or another) has the directory open.
    Locked,
    /// The journal was closed: its System shut down or was dropped.
    Closed,
}

impl fmt::Display for JournalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JournalError::Io(error) => write!(f, "journal I/O error: {error}"),
            JournalError::Corrupt { segment, offset, why } => {
                write!(f, "journal segment {segment} is corrupt at byte {offset}: {why}")
            }
            JournalError::UnsupportedVersion { segment, version } => {
                write!(f, "journal segment {segment} has format version {version}; this build reads {FORMAT_VERSION}")
            }
            JournalError::Poisoned(reason) => write!(f, "journal refuses writes after an I/O error: {reason}"),
            JournalError::Frame(error) => write!(f, "record cannot be written: {error}"),
            JournalError::Locked => f.write_str("the journal directory is in use by another journal"),
            JournalError::Closed => f.write_str("the journal is closed (its System shut down)"),
        }
    }
}

impl std::error::Error for JournalError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            JournalError::Io(error) => Some(error),
            _ => None,
        }
    }
}

impl From<io::Error> for JournalError {
    fn from(error: io::Error) -> Self {
        JournalError::Io(error)
    }
}

/// The file name of segment `number`.
pub(crate) fn segment_name(number: u64) -> String {
    format!("{number:020}{SUFFIX}")
}

/// The number of a segment file name; `None` for other files.
pub(crate) fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(SUFFIX)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The header every segment starts with.
pub(crate) fn segment_header() -> [u8; SEGMENT_HEADER] {
    let mut header = [0u8; SEGMENT_HEADER];
    header[..8].copy_from_slice(MAGIC);
    header[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    let crc = crc32c::crc32c(&header[..12]);
    header[12..16].copy_from_slice(&crc.to_le_bytes());
    header
}

/// What a segment's first bytes say.
enum Header {
    Valid,
    /// Never written (zeros or too short): only acceptable in the last segment.
    Unwritten,
    Bad(String),
    Version(u32),
}

fn check_header(bytes: &[u8]) -> Header {
    if bytes.len() < SEGMENT_HEADER {
        return if bytes.iter().all(|&b| b == 0) { Header::Unwritten } else { Header::Bad("short header".into()) };
    }
    let header = &bytes[..SEGMENT_HEADER];
    if header.iter().all(|&b| b == 0) {
        return Header::Unwritten;
    }
    if &header[..8] != MAGIC {
        return Header::Bad("not a treeline journal segment".into());
    }
    let crc = u32::from_le_bytes([header[12], header[13], header[14], header[15]]);
    if crc32c::crc32c(&header[..12]) != crc {
        return Header::Bad("header checksum mismatch".into());
    }
    match u32::from_le_bytes([header[8], header[9], header[10], header[11]]) {
        FORMAT_VERSION => Header::Valid,
        version => Header::Version(version),
    }
}

/// The log after recovery.
#[derive(Debug, Default)]
pub(crate) struct Recovery {
    /// Every valid record, in log order (filled by [`recover`] only).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) records: Vec<OwnedRecord>,
    /// The segments, in order, with their numbers.
    pub(crate) segments: Vec<(u64, String)>,
    /// Where the next record goes in the last segment (`None`: no segment).
    pub(crate) append_at: Option<u64>,
    /// Bytes cut from a torn or corrupt tail.
    pub(crate) truncated: u64,
}

fn read_all(file: &dyn StorageFile) -> io::Result<Vec<u8>> {
    let len = usize::try_from(file.len()?).map_err(|_| io::Error::other("segment larger than memory"))?;
    let mut bytes = vec![0; len];
    file.read_exact_at(0, &mut bytes)?;
    Ok(bytes)
}

/// Scans every segment of `storage`, repairs a torn tail of the last one,
/// and returns the records. Linear in the size of the log.
#[cfg(test)]
pub(crate) fn recover(storage: &dyn Storage) -> Result<Recovery, JournalError> {
    let mut records = Vec::new();
    let mut recovery = recover_with(storage, &mut |record, _| {
        records.push(record.to_owned_record());
        Ok(())
    })?;
    recovery.records = records;
    Ok(recovery)
}

/// [`recover`], handing each record and where it starts to `visit` instead
/// of collecting them (memory stays bounded by one segment); an error from
/// `visit` ends the scan.
pub(crate) fn recover_with(
    storage: &dyn Storage,
    visit: &mut dyn FnMut(Record<'_>, Loc) -> Result<(), JournalError>,
) -> Result<Recovery, JournalError> {
    let mut segments: Vec<(u64, String)> =
        storage.list()?.into_iter().filter_map(|name| Some((parse_segment_name(&name)?, name))).collect();
    segments.sort();
    let mut recovery = Recovery { segments: segments.clone(), ..Recovery::default() };
    for (index, (number, name)) in segments.iter().enumerate() {
        let last = index + 1 == segments.len();
        let corrupt =
            |offset: usize, why: String| JournalError::Corrupt { segment: name.clone(), offset: offset as u64, why };
        let file = storage.open(name, false).map_err(|error| match error.kind() {
            io::ErrorKind::IsADirectory => corrupt(0, "a directory stands where the segment belongs".into()),
            _ => JournalError::Io(error),
        })?;
        let bytes = read_all(&*file)?;
        match check_header(&bytes) {
            Header::Valid => {}
            Header::Unwritten if last => {
                // Created, but its header never reached the disk: start it afresh.
                file.write_all_at(0, &segment_header())?;
                file.sync_data()?;
                recovery.truncated += bytes.iter().rposition(|&b| b != 0).map_or(0, |last| last as u64 + 1);
                recovery.append_at = Some(SEGMENT_HEADER as u64);
                continue;
            }
            // A header torn while the segment was being created: nothing
            // can follow it (records are written only after the header is
            // synced), so the last segment starts afresh.
            Header::Bad(_) if last && bytes.get(SEGMENT_HEADER..).is_none_or(|rest| rest.iter().all(|&b| b == 0)) => {
                file.set_len(bytes.len().max(SEGMENT_HEADER) as u64)?;
                file.write_all_at(0, &segment_header())?;
                file.sync_data()?;
                recovery.truncated += bytes.len().min(SEGMENT_HEADER) as u64;
                recovery.append_at = Some(SEGMENT_HEADER as u64);
                continue;
            }
            Header::Unwritten => return Err(corrupt(0, "segment header was never written".into())),
            Header::Bad(why) => return Err(corrupt(0, why)),
            Header::Version(version) => {
                return Err(JournalError::UnsupportedVersion { segment: name.clone(), version });
            }
        }
        let body = &bytes[SEGMENT_HEADER..];
        let scan = record::scan(body);
        let end = SEGMENT_HEADER + scan.valid;
        match scan.tail {
            Tail::Clean => {}
            _ if last => {
                // A crash in the middle of a write: cut back to the last
                // valid record, zeroing up to the last nonzero byte (the rest
                // is still preallocated zeros).
                let dirty = bytes.iter().rposition(|&b| b != 0).map_or(end, |last| last + 1).max(end);
                file.write_all_at(end as u64, &vec![0; dirty - end])?;
                file.sync_data()?;
                recovery.truncated += (dirty - end) as u64;
                tracing::warn!(
                    segment = %name,
                    offset = end,
                    bytes = dirty - end,
                    tail = ?scan.tail,
                    "journal recovery cut a torn tail from the last segment"
                );
            }
            Tail::Torn => return Err(corrupt(end, "a record is cut short".into())),
            Tail::Corrupt(why) => return Err(corrupt(end, why.to_string())),
        }
        let mut offset = SEGMENT_HEADER as u64;
        for record in &scan.records {
            visit(*record, Loc { segment: *number, offset })?;
            offset += record.framed_len() as u64;
        }
        if last {
            recovery.append_at = Some(end as u64);
        }
    }
    Ok(recovery)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::journal::faulty::{Crash, FaultyStorage};
    use crate::journal::record::Record;
    use crate::journal::storage::MemStorage;

    /// A minimal writer for the tests: appends to the last segment, rolls to
    /// a new one every `per_segment` records, syncs when told.
    struct TestWriter<'a> {
        storage: &'a dyn Storage,
        number: u64,
        file: Option<Box<dyn StorageFile>>,
        at: u64,
        in_segment: usize,
        per_segment: usize,
    }

    impl<'a> TestWriter<'a> {
        fn new(storage: &'a dyn Storage, per_segment: usize) -> Self {
            TestWriter { storage, number: 0, file: None, at: 0, in_segment: 0, per_segment }
        }

        fn roll(&mut self) -> io::Result<()> {
            if let Some(file) = &self.file {
                file.sync_data()?; // a segment is complete and synced before the next exists
            }
            self.number += 1;
            let file = self.storage.open(&segment_name(self.number), true)?;
            file.set_len(4096)?;
            file.write_all_at(0, &segment_header())?;
            file.sync_data()?;
            self.storage.sync_dir()?;
            self.file = Some(file);
            self.at = SEGMENT_HEADER as u64;
            self.in_segment = 0;
            Ok(())
        }

        fn append(&mut self, seq: u64, payload: &[u8]) -> io::Result<()> {
            if self.file.is_none() || self.in_segment == self.per_segment {
                self.roll()?;
            }
            let mut frame = Vec::new();
            Record { kind: 1, stream: 7, seq, payload }.encode_into(&mut frame).unwrap();
            self.file.as_ref().unwrap().write_all_at(self.at, &frame)?;
            self.at += frame.len() as u64;
            self.in_segment += 1;
            Ok(())
        }

        fn sync(&self) -> io::Result<()> {
            self.file.as_ref().map_or(Ok(()), |file| file.sync_data())
        }
    }

    fn seqs(recovery: &Recovery) -> Vec<u64> {
        recovery.records.iter().map(|r| r.seq).collect()
    }

    #[test]
    fn segment_names_sort_in_log_order_and_parse_back() {
        assert_eq!(segment_name(42), "00000000000000000042.seg");
        assert_eq!(parse_segment_name(&segment_name(u64::MAX)), Some(u64::MAX));
        for other in ["LOCK", "1.seg", "0000000000000000004x.seg", "00000000000000000042.tmp"] {
            assert_eq!(parse_segment_name(other), None, "{other}");
        }
        assert!(segment_name(9) < segment_name(10));
    }

    #[test]
    fn an_empty_directory_recovers_to_an_empty_log() {
        let recovery = recover(&MemStorage::new()).unwrap();
        assert!(recovery.records.is_empty());
        assert_eq!(recovery.append_at, None);
    }

    #[test]
    fn records_come_back_in_order_across_segments() {
        let storage = MemStorage::new();
        let mut writer = TestWriter::new(&storage, 3);
        for seq in 1..=10 {
            writer.append(seq, &seq.to_le_bytes()).unwrap();
        }
        let recovery = recover(&storage).unwrap();
        assert_eq!(seqs(&recovery), (1..=10).collect::<Vec<_>>());
        assert_eq!(recovery.segments.len(), 4);
        assert_eq!(recovery.truncated, 0);
    }

    #[test]
    fn a_torn_tail_is_cut_and_appending_resumes_there() {
        let storage = MemStorage::new();
        let mut writer = TestWriter::new(&storage, 100);
        for seq in 1..=3 {
            writer.append(seq, b"payload").unwrap();
        }
        let file = storage.open(&segment_name(1), false).unwrap();
        // Half a record after the third one.
        let mut frame = Vec::new();
        Record { kind: 1, stream: 7, seq: 4, payload: b"payload" }.encode_into(&mut frame).unwrap();
        file.write_all_at(writer.at, &frame[..frame.len() / 2]).unwrap();
        let recovery = recover(&storage).unwrap();
        assert_eq!(seqs(&recovery), [1, 2, 3]);
        assert_eq!(recovery.append_at, Some(writer.at));
        // Trailing zeros of the torn bytes are indistinguishable from the preallocated space.
        let nonzero = frame[..frame.len() / 2].iter().rposition(|&b| b != 0).unwrap() + 1;
        assert_eq!(recovery.truncated, nonzero as u64);
        // Recovery is idempotent: the repaired log recovers the same way.
        let again = recover(&storage).unwrap();
        assert_eq!((seqs(&again), again.append_at, again.truncated), (vec![1, 2, 3], Some(writer.at), 0));
    }

    /// A directory standing where a segment belongs, in the middle of the
    /// log or as its next segment, is reported, not skipped (the listing
    /// used to show regular files only, so the segment's records vanished).
    #[test]
    fn a_directory_in_place_of_a_segment_is_reported() {
        use crate::journal::storage::tests::TempDir;
        use crate::journal::storage::FileStorage;
        for (replaced, squat) in [(2, false), (4, true)] {
            let dir = TempDir::new();
            let storage = FileStorage::new(dir.path()).unwrap();
            let mut writer = TestWriter::new(&storage, 2);
            for seq in 1..=6 {
                writer.append(seq, b"abc").unwrap();
            }
            writer.sync().unwrap();
            let path = dir.path().join(segment_name(replaced));
            if !squat {
                std::fs::remove_file(&path).unwrap();
            }
            std::fs::create_dir(&path).unwrap();
            match recover(&storage) {
                Err(JournalError::Corrupt { segment, offset: 0, why }) => {
                    assert_eq!(segment, segment_name(replaced));
                    assert!(why.contains("directory"), "{why}");
                }
                other => panic!("segment {replaced}: expected corruption, got {other:?}"),
            }
        }
    }

    #[test]
    fn damage_in_an_earlier_segment_is_an_error_not_a_skip() {
        let storage = FaultyStorage::new();
        let mut writer = TestWriter::new(&storage, 2);
        for seq in 1..=6 {
            writer.append(seq, b"abc").unwrap();
        }
        // A bit of the second record (each is 24 + 3 bytes framed).
        storage.flip(&segment_name(1), SEGMENT_HEADER + 30, 3);
        match recover(&storage) {
            Err(JournalError::Corrupt { segment, offset, .. }) => {
                assert_eq!(segment, segment_name(1));
                assert_eq!(offset, (SEGMENT_HEADER + 27) as u64, "where the bad record starts");
            }
            other => panic!("expected corruption, got {other:?}"),
        }
        // A damaged header is corruption too, and a foreign version is refused.
        let storage = FaultyStorage::new();
        let mut writer = TestWriter::new(&storage, 2);
        for seq in 1..=4 {
            writer.append(seq, b"abc").unwrap();
        }
        storage.flip(&segment_name(1), 2, 0);
        assert!(matches!(recover(&storage), Err(JournalError::Corrupt { offset: 0, .. })));
        let storage = MemStorage::new();
        let file = storage.open(&segment_name(1), true).unwrap();
        let mut header = segment_header();
        header[8] = 9;
        let crc = crc32c::crc32c(&header[..12]);
        header[12..16].copy_from_slice(&crc.to_le_bytes());
        file.write_all_at(0, &header).unwrap();
        assert!(matches!(recover(&storage), Err(JournalError::UnsupportedVersion { version: 9, .. })));
    }

    #[test]
    fn a_last_segment_whose_header_was_lost_starts_afresh() {
        let storage = MemStorage::new();
        let mut writer = TestWriter::new(&storage, 2);
        for seq in 1..=2 {
            writer.append(seq, b"x").unwrap();
        }
        storage.open(&segment_name(2), true).unwrap().set_len(4096).unwrap(); // created, header lost
        let recovery = recover(&storage).unwrap();
        assert_eq!(seqs(&recovery), [1, 2]);
        assert_eq!((recovery.append_at, recovery.truncated), (Some(SEGMENT_HEADER as u64), 0));
        assert!(recover(&storage).is_ok(), "and its header is there now");
    }

    proptest! {
        /// Whatever the crash, every record that was synced comes back, the
        /// log is a prefix of what was written, and nothing is invented.
        #[test]
        fn synced_records_survive_every_crash(
            ops in prop::collection::vec(prop_oneof![3 => Just(None), 1 => Just(Some(()))], 1..60),
            per_segment in 1usize..8,
            crash in prop_oneof![
                Just(Crash::Process),
                Just(Crash::PowerLoss),
                any::<u64>().prop_map(|seed| Crash::PowerLossTorn { seed }),
            ],
        ) {
            let storage = FaultyStorage::new();
            let mut writer = TestWriter::new(&storage, per_segment);
            let mut written = 0u64;
            let mut synced = 0u64;
            for op in ops {
                match op {
                    None => {
                        written += 1;
                        writer.append(written, &written.to_le_bytes()).unwrap();
                    }
                    Some(()) => {
                        writer.sync().unwrap();
                        synced = written;
                    }
                }
            }
            let image = storage.crash(crash);
            let recovery = recover(&image).unwrap();
            let got = seqs(&recovery);
            prop_assert_eq!(&got, &(1..=got.len() as u64).collect::<Vec<_>>(), "a prefix, in order");
            prop_assert!(got.len() as u64 >= synced, "lost synced records: {} < {}", got.len(), synced);
            prop_assert!(got.len() as u64 <= written);
            if crash == Crash::Process {
                prop_assert_eq!(got.len() as u64, written, "kill -9 loses nothing written");
            }
            for record in &recovery.records {
                prop_assert_eq!(&record.payload, &record.seq.to_le_bytes().to_vec());
            }
        }
    }
}
