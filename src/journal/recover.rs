//! Recovery: the scan that rebuilds the log when a journal opens, and what
//! it does with damage.
//!
//! A crash can leave exactly two kinds of imperfection, and recovery repairs
//! both without asking: a torn tail in the last segment (the records written
//! after the last sync; a sync mark after them would prove otherwise), and a
//! segment whose creation did not complete (its header never reached the
//! disk). Everything else is damage: a missing or cut-short segment, a bad
//! header, a bad record followed by synced ones, a damaged `CONTROL` file.
//! What happens then is the user's [`Recovery`] policy: refuse to open
//! (the default), or skip the damage and say exactly what was skipped.
//!
//! The checks, in order:
//! 1. `CONTROL` says which segments were reclaimed and which is the newest
//!    whose creation completed: segments below the first live one or after
//!    the last present one that should be there are missing.
//! 2. Segment numbers are consecutive; each header names its own number and
//!    where its predecessor's records end, and the file is as long as it was
//!    preallocated.
//! 3. Each segment's records are read until a clean end; anything else is
//!    a torn tail (last segment, nothing synced after it) or damage.

use std::io;

use super::control::{self, Control, CONTROL};
use super::record::{self, Loc, Record, Tail, SYNC};
use super::segment::{check_header, parse_segment_name, segment_name, Header, JournalError, SEGMENT_HEADER};
use super::storage::{Storage, StorageFile};

/// What opening a journal does with damage it finds (RocksDB's WAL recovery
/// modes are the model): [`Refuse`](Recovery::Refuse) by default, or
/// [`SkipDamaged`](Recovery::SkipDamaged) when told to.
///
/// A torn tail (the records a crash interrupted before they were synced,
/// never a confirmed message under `FsyncPolicy::Always`) is not damage:
/// both policies cut it and report it in [`RecoveryReport::tail_cut`].
///
/// ```
/// use treeline::System;
/// use treeline::durable::JournalConfig;
/// use treeline::journal::{MemStorage, Recovery};
///
/// // After a refusal names the damage, an operator may choose to open anyway:
/// let config = JournalConfig::storage(MemStorage::new()).recovery(Recovery::SkipDamaged);
/// let system = System::with_journal(config).unwrap();
/// let report = system.journal_recovery().unwrap();
/// assert!(report.skipped.is_empty(), "a fresh journal has nothing to skip");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Recovery {
    /// Refuse to open a damaged journal: the error is
    /// [`JournalError::Corrupt`], naming the file, the offset and how many
    /// records are at stake. Nothing is changed on disk.
    #[default]
    Refuse,
    /// Open anyway: every damaged region is skipped (the records after it
    /// in the same segment are read again from the next valid one), every
    /// record the queues cannot use is dropped, each is listed in
    /// [`RecoveryReport::skipped`] and logged as a `tracing` error, and the
    /// surviving state is restated into a fresh segment so that the next
    /// open finds a clean journal. Skipping can lose messages (their
    /// records were in the damage) or deliver acked ones again (their acks
    /// were).
    SkipDamaged,
}

/// What recovery found when the journal opened; see
/// [`System::journal_recovery`](crate::System::journal_recovery).
///
/// ```
/// use treeline::System;
/// use treeline::durable::JournalConfig;
/// use treeline::journal::{MemStorage, Recovery};
///
/// let config = JournalConfig::storage(MemStorage::new()).recovery(Recovery::SkipDamaged);
/// let system = System::with_journal(config).unwrap();
/// let report = system.journal_recovery().unwrap();
/// if let Some(cut) = &report.tail_cut {
///     eprintln!("cut {} bytes ({} records) of a torn write in {}", cut.bytes, cut.records, cut.segment);
/// }
/// for damage in &report.skipped {
///     eprintln!("skipped {} at {}: {} ({:?} records)", damage.file, damage.offset, damage.why, damage.records_at_stake);
/// }
/// assert!(report.tail_cut.is_none() && report.skipped.is_empty());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecoveryReport {
    /// The torn tail cut from the last segment, if there was one.
    pub tail_cut: Option<TailCut>,
    /// The damage skipped under [`Recovery::SkipDamaged`] (always empty
    /// under [`Recovery::Refuse`], which fails instead).
    pub skipped: Vec<Damage>,
}

/// The torn tail recovery cut from the last segment: bytes written after the
/// last sync that a crash left incomplete.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TailCut {
    /// The segment file.
    pub segment: String,
    /// Where the cut starts.
    pub offset: u64,
    /// Bytes zeroed.
    pub bytes: u64,
    /// Complete records that were in the cut (written after the bad one in
    /// the same unsynced write).
    pub records: u64,
}

/// One piece of damage: where it is, what it is, and how many records it
/// puts at stake.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Damage {
    /// The file: a segment, or `CONTROL`; for a missing segment, its name.
    pub file: String,
    /// The byte offset of the damage in it.
    pub offset: u64,
    /// What is wrong.
    pub why: String,
    /// Records found after the damage that could not be read in log order
    /// (`None`: they cannot be counted, as in a missing file).
    pub records_at_stake: Option<u64>,
}

impl RecoveryReport {
    /// Notes `damage` as skipped, and logs it at `error`.
    pub(crate) fn skip(&mut self, damage: Damage) {
        tracing::error!(
            file = %damage.file,
            offset = damage.offset,
            records_at_stake = ?damage.records_at_stake,
            "journal recovery skipped damage: {}",
            damage.why
        );
        self.skipped.push(damage);
    }
}

impl From<Damage> for JournalError {
    fn from(damage: Damage) -> JournalError {
        JournalError::corrupt(damage.file, damage.offset, damage.why, damage.records_at_stake)
    }
}

impl Damage {
    fn new(file: &str, offset: usize, why: impl Into<String>, records_at_stake: Option<u64>) -> Damage {
        Damage { file: file.to_owned(), offset: offset as u64, why: why.into(), records_at_stake }
    }

    /// Segments `from..to` are missing.
    fn missing(from: u64, to: u64, why: &str) -> Damage {
        let which =
            if to == from + 1 { format!("segment {from} is") } else { format!("segments {from}..={} are", to - 1) };
        Damage::new(&segment_name(from), 0, format!("{which} missing: {why}"), None)
    }
}

/// The log after recovery, for the writer and the layers above.
#[derive(Debug, Default)]
pub(crate) struct Recovered {
    /// Every valid record, in log order (filled by [`recover`] only).
    #[cfg(test)]
    pub(crate) records: Vec<super::record::OwnedRecord>,
    /// The segments read, in order, with their numbers.
    pub(crate) segments: Vec<(u64, String)>,
    /// Where appending resumes: the last segment's number and the offset
    /// after its last record. `None`: the next append starts a new segment.
    pub(crate) append_at: Option<(u64, u64)>,
    /// The highest segment number in use; a new segment gets the next one.
    pub(crate) last_number: u64,
    /// Where the records of segment `last_number` end.
    pub(crate) last_end: u64,
    /// The control file's state, if it could be read.
    pub(crate) control: Option<Control>,
    pub(crate) report: RecoveryReport,
}

/// Applies the policy to each piece of damage found.
struct Judge<'a> {
    policy: Recovery,
    report: &'a mut RecoveryReport,
}

impl Judge<'_> {
    /// `Err` under [`Recovery::Refuse`]; noted (and logged) otherwise.
    fn damage(&mut self, damage: Damage) -> Result<(), JournalError> {
        match self.policy {
            Recovery::Refuse => Err(damage.into()),
            Recovery::SkipDamaged => {
                self.report.skip(damage);
                Ok(())
            }
        }
    }
}

fn read_all(file: &dyn StorageFile) -> io::Result<Vec<u8>> {
    let len = usize::try_from(file.len()?).map_err(|_| io::Error::other("segment larger than memory"))?;
    let mut bytes = vec![0; len];
    file.read_exact_at(0, &mut bytes)?;
    Ok(bytes)
}

/// How much checksumming a search for records after damage may cost, for a
/// segment of `len` bytes: linear in the input, whatever it holds.
fn budget(len: usize) -> usize {
    len.saturating_mul(4).saturating_add(1 << 20)
}

/// Scans every segment of `storage` (see the module docs), handing each
/// record and where it starts to `visit`; an error from `visit` ends the
/// scan. Memory is bounded by one segment; time is linear in the log.
pub(crate) fn recover_with(
    storage: &dyn Storage,
    policy: Recovery,
    visit: &mut dyn FnMut(Record<'_>, Loc) -> Result<(), JournalError>,
) -> Result<Recovered, JournalError> {
    let mut out = Recovered::default();
    let mut report = RecoveryReport::default();
    let mut judge = Judge { policy, report: &mut report };
    let names = storage.list()?;
    let control = match control::read(storage) {
        Err(error @ JournalError::Corrupt { .. }) => {
            let JournalError::Corrupt { segment, offset, why, .. } = error else { unreachable!() };
            judge.damage(Damage { file: segment, offset, why, records_at_stake: None })?;
            None
        }
        other => other?,
    };
    out.control = control;
    let mut segments: Vec<(u64, String)> =
        names.iter().filter_map(|name| Some((parse_segment_name(name)?, name.clone()))).collect();
    segments.sort();
    let reclaimed = control.map_or(0, |control| control.reclaimed);
    // Finish a reclamation a crash interrupted: everything up to `reclaimed`
    // was dead before it was marked so.
    // (One that cannot be removed, such as a non-empty directory, stays
    // and is ignored.)
    let live = segments.partition_point(|(number, _)| *number <= reclaimed);
    if live > 0 {
        for (_, name) in segments.drain(..live) {
            let _ = storage.remove(&name);
        }
        storage.sync_dir()?;
    }
    out.last_number = reclaimed;
    let first = segments.first().map(|(number, _)| *number);
    let last = segments.last().map(|(number, _)| *number);
    match control {
        None if names.iter().any(|name| name == CONTROL) => {} // damaged: reported above
        None if first.is_some() => judge.damage(Damage::new(
            CONTROL,
            0,
            "the control file is missing (it records which segments were reclaimed)",
            None,
        ))?,
        None => {}
        Some(control) => {
            let expected = reclaimed + 1;
            match first {
                Some(first) if first > expected => judge.damage(Damage::missing(
                    expected,
                    first,
                    &format!("only segments up to {reclaimed} were reclaimed"),
                ))?,
                None if control.head >= expected => {
                    judge.damage(Damage::missing(expected, control.head + 1, "the journal has no segment left"))?
                }
                _ => {}
            }
            if let Some(last) = last.filter(|&last| last < control.head) {
                judge.damage(Damage::missing(
                    last + 1,
                    control.head + 1,
                    &format!("the log reached segment {}", control.head),
                ))?;
            }
        }
    }
    let head = control.map(|control| control.head);
    // The segment before this one: its number, name, and where its records
    // end (`None` if damage in it was skipped).
    let mut before: Option<(u64, String, Option<u64>)> = None;
    let count = segments.len();
    for (index, (number, name)) in segments.into_iter().enumerate() {
        let last = index + 1 == count;
        if let Some((previous, ..)) = &before {
            if number != previous + 1 {
                judge.damage(Damage::missing(previous + 1, number, "the log has a gap"))?;
                before = None;
            }
        }
        let file = match storage.open(&name, false) {
            Ok(file) => file,
            Err(error) if error.kind() == io::ErrorKind::IsADirectory => {
                judge.damage(Damage::new(&name, 0, "a directory stands where the segment belongs", None))?;
                out.last_number = number;
                before = None;
                continue;
            }
            Err(error) => return Err(JournalError::Io(error)),
        };
        let bytes = read_all(&*file)?;
        let chain = match check_header(&bytes) {
            Header::Valid(chain) => chain,
            Header::Version(version) => return Err(JournalError::UnsupportedVersion { segment: name, version }),
            Header::Unwritten | Header::Bad(_)
                if last
                    && head.is_none_or(|head| number > head)
                    && bytes.get(SEGMENT_HEADER..).is_none_or(|rest| rest.iter().all(|&b| b == 0)) =>
            {
                // A segment whose creation a crash interrupted: nothing was
                // written to it (records follow a synced header and a
                // CONTROL update). It goes; the writer makes it again.
                drop(file);
                storage.remove(&name)?;
                storage.sync_dir()?;
                break;
            }
            Header::Unwritten | Header::Bad(_) => {
                let why = match check_header(&bytes) {
                    Header::Bad(why) => format!("bad segment header: {why}"),
                    _ => "the segment header is missing".to_owned(),
                };
                let stake = record::salvage(&bytes, 0, budget(bytes.len())).records;
                judge.damage(Damage::new(&name, 0, why, stake))?;
                out.last_number = number;
                before = None;
                continue;
            }
        };
        out.last_number = number;
        if chain.number != number {
            let stake = record::salvage(&bytes, SEGMENT_HEADER, budget(bytes.len())).records;
            judge.damage(Damage::new(&name, 0, format!("the header belongs to segment {}", chain.number), stake))?;
            before = None;
            continue;
        }
        if let Some((previous, previous_name, Some(previous_end))) = &before {
            if chain.previous != *previous {
                judge.damage(Damage::new(
                    &name,
                    0,
                    format!("the header says it follows segment {}", chain.previous),
                    None,
                ))?;
            } else if chain.previous_end != *previous_end {
                judge.damage(Damage::new(
                    previous_name,
                    *previous_end as usize,
                    format!(
                        "the sealed segment's records end at {previous_end}, but were written up to {} (cut short)",
                        chain.previous_end
                    ),
                    None,
                ))?;
            }
        }
        if (bytes.len() as u64) < chain.size {
            judge.damage(Damage::new(
                &name,
                bytes.len(),
                format!("the file is {} bytes, but was created with {} (cut short)", bytes.len(), chain.size),
                None,
            ))?;
        }
        let (end, intact) = read_records(&bytes, &name, number, last, &*file, &mut judge, visit)?;
        out.segments.push((number, name.clone()));
        out.last_end = end as u64;
        if last {
            out.append_at = Some((number, end as u64));
        }
        before = Some((number, name, intact.then_some(end as u64)));
    }
    if let Some(cut) = &report.tail_cut {
        tracing::warn!(
            segment = %cut.segment,
            offset = cut.offset,
            bytes = cut.bytes,
            records = cut.records,
            "journal recovery cut a torn tail from the last segment"
        );
    }
    if !report.skipped.is_empty() {
        out.append_at = None; // the restated state goes into a fresh segment
    }
    out.report = report;
    Ok(out)
}

/// Reads the records of one segment from its header on, handing them to
/// `visit`; returns where they end and whether they were read without
/// skipping damage.
fn read_records(
    bytes: &[u8],
    name: &str,
    number: u64,
    last: bool,
    file: &dyn StorageFile,
    judge: &mut Judge<'_>,
    visit: &mut dyn FnMut(Record<'_>, Loc) -> Result<(), JournalError>,
) -> Result<(usize, bool), JournalError> {
    let mut at = SEGMENT_HEADER;
    let mut intact = true;
    loop {
        let scan = record::scan(&bytes[at..]);
        for record in &scan.records {
            if record.kind != SYNC {
                visit(*record, Loc { segment: number, offset: at as u64 })?;
            }
            at += record.framed_len();
        }
        let what = match scan.tail {
            Tail::Clean => return Ok((at, intact)),
            Tail::Torn => "a record is cut short".to_owned(),
            Tail::Corrupt(why) => why.to_string(),
        };
        let found = record::salvage(bytes, at + 1, budget(bytes.len()));
        if last && !found.synced && found.records.is_some() {
            // A crash in the middle of a write: cut back to the last valid
            // record, zeroing up to the last nonzero byte (the rest is still
            // preallocated zeros).
            let dirty = bytes.iter().rposition(|&b| b != 0).map_or(at, |last| last + 1).max(at);
            file.write_all_at(at as u64, &vec![0; dirty - at])?;
            file.sync_data()?;
            judge.report.tail_cut = Some(TailCut {
                segment: name.to_owned(),
                offset: at as u64,
                bytes: (dirty - at) as u64,
                records: found.records.unwrap_or(0),
            });
            return Ok((at, intact));
        }
        let why = if last { format!("{what}, and records synced after it follow") } else { what };
        judge.damage(Damage::new(name, at, why, found.records))?;
        intact = false;
        match found.first {
            Some(next) => at = next,
            None => return Ok((at, intact)),
        }
    }
}

/// [`recover_with`], collecting the records.
#[cfg(test)]
pub(crate) fn recover(storage: &dyn Storage) -> Result<Recovered, JournalError> {
    recover_policy(storage, Recovery::Refuse)
}

/// [`recover`] under `policy`.
#[cfg(test)]
pub(crate) fn recover_policy(storage: &dyn Storage, policy: Recovery) -> Result<Recovered, JournalError> {
    let mut records = Vec::new();
    let mut recovered = recover_with(storage, policy, &mut |record, _| {
        records.push(record.to_owned_record());
        Ok(())
    })?;
    recovered.records = records;
    Ok(recovered)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use proptest::prelude::*;

    use super::*;
    use crate::journal::faulty::{Crash, FaultyStorage};
    use crate::journal::record::HEADER;
    use crate::journal::segment::{segment_header, Chain};
    use crate::journal::storage::MemStorage;
    use crate::journal::writer::Writer;

    /// The real writer, rolling to a new segment every `per_segment`
    /// records.
    struct TestWriter {
        writer: Writer,
        in_segment: usize,
        per_segment: usize,
    }

    impl TestWriter {
        fn new(storage: &(impl Storage + Clone), per_segment: usize) -> Self {
            Self::on(Arc::new(storage.clone()), per_segment)
        }

        fn on(storage: Arc<dyn Storage>, per_segment: usize) -> Self {
            let recovered = recover(&*storage).unwrap();
            TestWriter { writer: Writer::open(storage, 4096, &recovered).unwrap(), in_segment: 0, per_segment }
        }

        fn append(&mut self, seq: u64, payload: &[u8]) {
            if self.in_segment == self.per_segment {
                self.writer.seal().unwrap();
                self.in_segment = 0;
            }
            self.writer.append(&[Record { kind: 1, stream: 7, seq, payload }]).unwrap();
            self.in_segment += 1;
        }

        fn sync(&mut self) {
            self.writer.sync().unwrap();
        }
    }

    fn seqs(recovered: &Recovered) -> Vec<u64> {
        recovered.records.iter().map(|r| r.seq).collect()
    }

    /// A log of `records` records of 3 bytes, `per_segment` to a segment, synced.
    fn log(records: u64, per_segment: usize) -> FaultyStorage {
        let storage = FaultyStorage::new();
        let mut writer = TestWriter::new(&storage, per_segment);
        for seq in 1..=records {
            writer.append(seq, b"abc");
        }
        writer.sync();
        storage
    }

    /// The damage `recover` refuses to open past.
    fn refused(storage: &dyn Storage) -> (String, u64, String, Option<u64>) {
        match recover(storage) {
            Err(JournalError::Corrupt { segment, offset, why, records_at_stake }) => {
                (segment, offset, why, records_at_stake)
            }
            other => panic!("expected damage, got {other:?}"),
        }
    }

    const FRAME: usize = HEADER + 3;

    #[test]
    fn an_empty_directory_recovers_to_an_empty_log() {
        let recovered = recover(&MemStorage::new()).unwrap();
        assert!(recovered.records.is_empty());
        assert_eq!(recovered.append_at, None);
    }

    #[test]
    fn records_come_back_in_order_across_segments() {
        let storage = log(10, 3);
        let recovered = recover(&storage).unwrap();
        assert_eq!(seqs(&recovered), (1..=10).collect::<Vec<_>>());
        assert_eq!(recovered.segments.len(), 4);
        assert_eq!(recovered.report, RecoveryReport::default());
    }

    #[test]
    fn a_torn_tail_is_cut_reported_and_appending_resumes_there() {
        let storage = log(3, 100);
        let end = SEGMENT_HEADER + 3 * FRAME;
        // Half a record after the third one.
        let mut frame = Vec::new();
        Record { kind: 1, stream: 7, seq: 4, payload: b"payload" }.encode_into(&mut frame).unwrap();
        storage.open(&segment_name(1), false).unwrap().write_all_at(end as u64, &frame[..frame.len() / 2]).unwrap();
        let recovered = recover(&storage).unwrap();
        assert_eq!(seqs(&recovered), [1, 2, 3]);
        assert_eq!(recovered.append_at, Some((1, end as u64)));
        // Trailing zeros of the torn bytes are indistinguishable from the preallocated space.
        let nonzero = frame[..frame.len() / 2].iter().rposition(|&b| b != 0).unwrap() + 1;
        let cut = recovered.report.tail_cut.expect("the cut is reported");
        assert_eq!((cut.offset, cut.bytes, cut.records), (end as u64, nonzero as u64, 0));
        // Recovery is idempotent: the repaired log recovers the same way.
        let again = recover(&storage).unwrap();
        assert_eq!(
            (seqs(&again), again.append_at, again.report.tail_cut),
            (vec![1, 2, 3], Some((1, end as u64)), None)
        );
    }

    /// A bad record followed by a sync mark was synced: corruption, not a
    /// torn write, even in the last segment. Without a mark after it, the
    /// records after it were one unsynced write and are cut with it.
    #[test]
    fn a_bad_record_before_a_sync_mark_is_corruption_not_a_torn_tail() {
        let storage = FaultyStorage::new();
        let mut writer = TestWriter::new(&storage, 100);
        writer.append(1, b"abc");
        writer.append(2, b"abc");
        writer.sync();
        writer.append(3, b"abc"); // preceded by a sync mark
        writer.sync();
        let second = SEGMENT_HEADER + FRAME;
        storage.flip(&segment_name(1), second + HEADER + 1, 0);
        let (segment, offset, why, stake) = refused(&storage);
        assert_eq!((segment, offset, stake), (segment_name(1), second as u64, Some(1)), "{why}");
        // The same flip in the last write (no mark after it) is a torn tail.
        let storage = FaultyStorage::new();
        let mut writer = TestWriter::new(&storage, 100);
        writer.writer.append(&[1, 2, 3].map(|seq| Record { kind: 1, stream: 7, seq, payload: b"abc" })).unwrap();
        writer.sync();
        storage.flip(&segment_name(1), second + HEADER + 1, 0);
        let recovered = recover(&storage).unwrap();
        assert_eq!(seqs(&recovered), [1]);
        let cut = recovered.report.tail_cut.unwrap();
        assert_eq!((cut.offset, cut.records), (second as u64, 1), "record 3 went with the torn one");
    }

    /// A clean close ends the log with a sync mark: damage to the last
    /// records written is then corruption, not a torn tail.
    #[test]
    fn after_a_clean_close_damage_to_the_last_record_is_corruption() {
        let storage = FaultyStorage::new();
        let mut writer = TestWriter::new(&storage, 100);
        writer.writer.append(&[1, 2].map(|seq| Record { kind: 1, stream: 7, seq, payload: b"abc" })).unwrap();
        writer.writer.close().unwrap();
        let second = SEGMENT_HEADER + FRAME;
        storage.flip(&segment_name(1), second + HEADER + 1, 0);
        let (segment, offset, _, stake) = refused(&storage);
        assert_eq!((segment, offset, stake), (segment_name(1), second as u64, Some(0)));
    }

    /// Each header names its predecessor and where its records end, and
    /// CONTROL names the reclaimed prefix and the newest segment: a segment
    /// deleted anywhere, a sealed segment cut short at a record boundary
    /// (which reads as a clean end), and a segment file copied over another
    /// are all damage, never a skip.
    #[test]
    fn the_chain_of_segments_finds_what_is_missing() {
        for (deleted, reported) in [(2, 2), (1, 1), (4, 4)] {
            let storage = log(8, 2);
            storage.remove(&segment_name(deleted)).unwrap();
            let (segment, offset, why, stake) = refused(&storage);
            assert_eq!((segment, offset, stake), (segment_name(reported), 0, None), "{why}");
            assert!(why.contains(&format!("segment {deleted} is missing")), "{why}");
        }
        // Segment 2 cut after its first record (a record boundary).
        let storage = log(8, 2);
        let cut = SEGMENT_HEADER + FRAME;
        storage.open(&segment_name(2), false).unwrap().write_all_at(cut as u64, &[0; FRAME]).unwrap();
        let (segment, offset, why, _) = refused(&storage);
        assert_eq!((segment, offset), (segment_name(2), cut as u64), "{why}");
        assert!(why.contains("cut short"), "{why}");
        // Any segment's file truncated, the last one too.
        for truncated in [2, 4] {
            let storage = log(8, 2);
            storage.open(&segment_name(truncated), false).unwrap().set_len(cut as u64).unwrap();
            let (segment, offset, why, _) = refused(&storage);
            assert_eq!((segment, offset), (segment_name(truncated), cut as u64), "{why}");
        }
        // Segment 3's file copied over segment 2.
        let storage = log(8, 2);
        let copy = storage.live(&segment_name(3)).unwrap();
        storage.open(&segment_name(2), false).unwrap().write_all_at(0, &copy).unwrap();
        let (segment, offset, why, stake) = refused(&storage);
        assert_eq!((segment, offset, stake), (segment_name(2), 0, Some(2)), "{why}");
        assert!(why.contains("belongs to segment 3"), "{why}");
        // CONTROL deleted.
        let storage = log(8, 2);
        storage.remove(CONTROL).unwrap();
        assert_eq!(refused(&storage).0, CONTROL);
        // The intact log reads back whole.
        assert_eq!(seqs(&recover(&log(8, 2)).unwrap()), (1..=8).collect::<Vec<_>>());
    }

    #[test]
    fn reclaimed_segments_are_history_not_damage() {
        let storage = log(8, 2);
        let shared: Arc<dyn Storage> = Arc::new(storage.clone());
        let mut writer = Writer::open(shared, 4096, &recover(&storage).unwrap()).unwrap();
        writer.reclaim(2).unwrap();
        let recovered = recover(&storage).unwrap();
        assert_eq!(seqs(&recovered), [5, 6, 7, 8]);
        // A crash between the control write and the deletion leaves a
        // reclaimed segment behind: the next recovery deletes it.
        writer.reclaim(3).unwrap();
        let copy = log(8, 2).live(&segment_name(3)).unwrap();
        storage.open(&segment_name(3), true).unwrap().write_all_at(0, &copy).unwrap();
        assert_eq!(seqs(&recover(&storage).unwrap()), [7, 8]);
        assert!(!storage.list().unwrap().contains(&segment_name(3)));
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
            let storage: Arc<dyn Storage> = Arc::new(FileStorage::new(dir.path()).unwrap());
            let mut writer = TestWriter::on(storage.clone(), 2);
            for seq in 1..=6 {
                writer.append(seq, b"abc");
            }
            writer.sync();
            let path = dir.path().join(segment_name(replaced));
            if !squat {
                std::fs::remove_file(&path).unwrap();
            }
            std::fs::create_dir(&path).unwrap();
            drop(writer);
            let (segment, offset, why, _) = refused(&*storage);
            assert_eq!((segment, offset), (segment_name(replaced), 0), "{why}");
            assert!(why.contains("directory"), "{why}");
        }
    }

    #[test]
    fn damage_in_an_earlier_segment_is_an_error_not_a_skip() {
        let storage = log(6, 2);
        // A bit of the second record.
        storage.flip(&segment_name(1), SEGMENT_HEADER + FRAME + 3, 3);
        let (segment, offset, _, stake) = refused(&storage);
        assert_eq!((segment, offset, stake), (segment_name(1), (SEGMENT_HEADER + FRAME) as u64, Some(0)));
        // A damaged header is corruption too, and a foreign version is refused.
        let storage = log(4, 2);
        storage.flip(&segment_name(1), 2, 0);
        assert_eq!(refused(&storage).1, 0);
        let storage = log(1, 2);
        let file = storage.open(&segment_name(1), false).unwrap();
        let mut header = segment_header(Chain { number: 1, ..Chain::default() });
        header[8] = 9; // a well-formed header of another version
        let crc = crate::journal::crc32c::crc32c(&header[..48]);
        header[48..52].copy_from_slice(&crc.to_le_bytes());
        file.write_all_at(0, &header).unwrap();
        assert!(matches!(recover(&storage), Err(JournalError::UnsupportedVersion { version: 9, .. })));
        // A format 1 segment (a 16-byte header) is refused by its version.
        let mut old = [0u8; 16];
        old[..8].copy_from_slice(b"TRLNJRNL");
        old[8..12].copy_from_slice(&1u32.to_le_bytes());
        let crc = crate::journal::crc32c::crc32c(&old[..12]);
        old[12..16].copy_from_slice(&crc.to_le_bytes());
        file.write_all_at(0, &[old.as_slice(), &[0; SEGMENT_HEADER - 16]].concat()).unwrap();
        assert!(matches!(recover(&storage), Err(JournalError::UnsupportedVersion { version: 1, .. })));
    }

    /// A crash while a segment was being created leaves it without a header
    /// (or without its full length): it is made again. The same state in a
    /// segment CONTROL says was complete is damage.
    #[test]
    fn a_segment_whose_creation_was_interrupted_is_made_again() {
        let storage = log(2, 2);
        storage.open(&segment_name(2), true).unwrap().set_len(4096).unwrap(); // created, header lost
        let recovered = recover(&storage).unwrap();
        assert_eq!(seqs(&recovered), [1, 2]);
        assert_eq!((recovered.append_at, recovered.last_number), (None, 1));
        let mut writer = TestWriter::new(&storage, 0); // seals segment 1: record 3 goes into a new segment 2
        writer.append(3, b"abc");
        writer.sync();
        let recovered = recover(&storage).unwrap();
        assert_eq!((seqs(&recovered), recovered.segments.len()), (vec![1, 2, 3], 2));
        // Segment 2 is complete (CONTROL's head): its header zeroed is damage.
        storage.open(&segment_name(2), false).unwrap().write_all_at(0, &[0; SEGMENT_HEADER]).unwrap();
        assert_eq!(refused(&storage).0, segment_name(2));
    }

    #[test]
    fn skip_damaged_opens_past_each_kind_of_damage_and_says_what_it_skipped() {
        // A bad record in a sealed segment: the records after it are read.
        let storage = log(6, 3);
        storage.flip(&segment_name(1), SEGMENT_HEADER + FRAME + 3, 3);
        let recovered = recover_policy(&storage, Recovery::SkipDamaged).unwrap();
        assert_eq!(seqs(&recovered), [1, 3, 4, 5, 6]);
        assert_eq!(recovered.report.skipped.len(), 1);
        assert_eq!(recovered.append_at, None, "a fresh segment takes the restated state");
        // A missing segment.
        let storage = log(6, 2);
        storage.remove(&segment_name(2)).unwrap();
        let recovered = recover_policy(&storage, Recovery::SkipDamaged).unwrap();
        assert_eq!(seqs(&recovered), [1, 2, 5, 6]);
        assert_eq!(recovered.report.skipped[0].file, segment_name(2));
        // A control file of garbage.
        let storage = log(6, 2);
        storage.open(CONTROL, false).unwrap().write_all_at(0, &[0xAB; 8192]).unwrap();
        let recovered = recover_policy(&storage, Recovery::SkipDamaged).unwrap();
        assert_eq!(seqs(&recovered), (1..=6).collect::<Vec<_>>());
        assert_eq!(recovered.report.skipped[0].file, CONTROL);
    }

    /// Applies one random mutation to the directory: what a fuzzer would
    /// try, biased towards bytes that still parse (valid headers, copies).
    fn mutate(storage: &FaultyStorage, kind: usize, a: u64, b: u64) {
        let names = storage.list().unwrap();
        if names.is_empty() {
            return;
        }
        let name = &names[a as usize % names.len()];
        let Some(bytes) = storage.live(name) else { return };
        let at = |n: u64| (n as usize) % bytes.len().max(1);
        let file = storage.open(name, false).unwrap();
        match kind {
            0 => storage.flip(name, at(b), (b % 8) as u8),
            1 => file.set_len(at(b) as u64).unwrap(),
            2 => storage.remove(name).unwrap(),
            3 => {
                let noise: Vec<u8> = (0..(b % 64) as usize).map(|i| (b >> (i % 8)) as u8 ^ i as u8).collect();
                file.write_all_at(at(b) as u64, &noise).unwrap();
            }
            4 => {
                let other = &names[b as usize % names.len()];
                let copy = storage.live(other).unwrap();
                file.set_len(0).unwrap();
                file.write_all_at(0, &copy).unwrap();
            }
            5 => {
                let header =
                    segment_header(Chain { number: b % 7, previous: a % 7, previous_end: b % 300, size: b % 5000 });
                let stray = storage.open(&segment_name(1 + b % 6), true).unwrap();
                stray.write_all_at(0, &header).unwrap();
            }
            6 => file.write_all_at(at(b) as u64, &vec![0; (a % 200) as usize]).unwrap(),
            _ => {
                let mut frame = Vec::new();
                let record =
                    Record { kind: (a % 256).max(1) as u8, stream: (b % 4) as u32, seq: b % 40, payload: b"fuzz" };
                record.encode_into(&mut frame).unwrap();
                file.write_all_at(at(b) as u64, &frame).unwrap();
            }
        }
    }

    proptest! {
        /// Recovery of whatever a directory holds (a log, then random
        /// mutations) never panics, and never hands up a record that was not
        /// written: under either policy it returns the log's own records
        /// (or crafted ones whose payload says so), refuses with a typed
        /// error, or (skipping) opens.
        #[test]
        fn recovery_of_any_directory_never_panics_nor_invents(
            records in 1u64..30,
            per_segment in 1usize..6,
            mutations in prop::collection::vec((0usize..8, any::<u64>(), any::<u64>()), 1..5),
            skip in any::<bool>(),
        ) {
            let storage = FaultyStorage::new();
            let mut writer = TestWriter::new(&storage, per_segment);
            for seq in 1..=records {
                writer.append(seq, &seq.to_le_bytes());
            }
            writer.sync();
            drop(writer);
            for (kind, a, b) in mutations {
                mutate(&storage, kind, a, b);
            }
            let policy = if skip { Recovery::SkipDamaged } else { Recovery::Refuse };
            match recover_policy(&storage, policy) {
                Ok(recovered) => {
                    for record in &recovered.records {
                        let ours = record.payload == record.seq.to_le_bytes() && (1..=records).contains(&record.seq);
                        prop_assert!(ours || record.payload == b"fuzz", "invented {record:?}");
                    }
                    // What recovery left opens again, without new damage.
                    let again = recover_policy(&storage, policy);
                    prop_assert!(again.is_ok(), "{again:?}");
                }
                Err(JournalError::Corrupt { .. } | JournalError::UnsupportedVersion { .. }) => {
                    prop_assert!(!skip || storage.list().unwrap().iter().any(|n| n == CONTROL), "skip refused");
                }
                Err(other) => prop_assert!(false, "untyped failure: {other}"),
            }
        }
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
                        writer.append(written, &written.to_le_bytes());
                    }
                    Some(()) => {
                        writer.sync();
                        synced = written;
                    }
                }
            }
            let image = storage.crash(crash);
            let recovered = recover(&image).unwrap();
            let got = seqs(&recovered);
            prop_assert_eq!(&got, &(1..=got.len() as u64).collect::<Vec<_>>(), "a prefix, in order");
            prop_assert!(got.len() as u64 >= synced, "lost synced records: {} < {}", got.len(), synced);
            prop_assert!(got.len() as u64 <= written);
            if crash == Crash::Process {
                prop_assert_eq!(got.len() as u64, written, "kill -9 loses nothing written");
            }
            for record in &recovered.records {
                prop_assert_eq!(&record.payload, &record.seq.to_le_bytes().to_vec());
            }
            // The recovered journal opens again, the same way.
            let again = recover(&image).unwrap();
            prop_assert_eq!(seqs(&again), got);
        }
    }
}
