//! The single writer of a journal: appends framed records to the active
//! segment, rolls to a new segment when it is full, and syncs on request.
//!
//! This is the synchronous core; the group-commit loop that batches many
//! senders' records into one write and one sync drives it.
//!
//! The fsync protocol (docs: "fsyncgate"): a failed write or sync poisons the
//! writer. Every later call fails with [`JournalError::Poisoned`]: after a
//! failed fsync the kernel may have dropped the dirty pages, so retrying
//! could report durable what is not.

use std::sync::Arc;

use super::control::{Control, ControlFile, CONTROL};
use super::record::{sync_mark, Loc, Record};
use super::recover::Recovered;
use super::segment::{segment_header, segment_name, Chain, JournalError, SEGMENT_HEADER};
use super::storage::{Storage, StorageFile};

/// Appends records to a journal directory. One per directory.
pub(crate) struct Writer {
    storage: Arc<dyn Storage>,
    /// Bytes preallocated per segment; a segment rolls when the next frame
    /// would not fit (a single larger frame gets a segment of its own).
    segment_size: u64,
    /// The active segment: its number, file and append offset.
    active: Option<(u64, Box<dyn StorageFile>, u64)>,
    /// Highest segment number in use (recovered or created).
    last_number: u64,
    /// Where the records of segment `last_number` end (for its successor's
    /// header) when it is not the active one.
    last_end: u64,
    /// Reclaimed segments and the newest one created, as recovery must know.
    control: ControlFile,
    /// Written since the last sync.
    dirty: bool,
    /// A sync happened in the active segment since the last sync mark: the
    /// next write starts with one.
    mark_due: bool,
    poisoned: Option<String>,
    buf: Vec<u8>,
}

impl Writer {
    /// A writer that resumes where `recovered` says the log ends; creates
    /// the control file if there is none (a new journal, or a damaged one
    /// opened under `Recovery::SkipDamaged`).
    pub(crate) fn open(
        storage: Arc<dyn Storage>,
        segment_size: u64,
        recovered: &Recovered,
    ) -> Result<Writer, JournalError> {
        let active = match recovered.append_at {
            Some((number, at)) => Some((number, storage.open(&segment_name(number), false)?, at)),
            None => None,
        };
        if recovered.control.is_none() {
            // Whatever stands in its place (damage skipped) goes; a new one is made.
            let _ = storage.remove(CONTROL);
        }
        let mut control = ControlFile::open(&*storage, recovered.control)?;
        if recovered.control.is_none() {
            let first = recovered.segments.first().map_or(recovered.last_number + 1, |(number, _)| *number);
            let state = Control { reclaimed: first - 1, head: recovered.last_number, ..Control::default() };
            // Both slots, so no older copy can outrank this one.
            control.write(state)?;
            control.write(state)?;
        }
        Ok(Writer {
            storage,
            segment_size,
            active,
            last_number: recovered.last_number,
            last_end: recovered.last_end,
            control,
            dirty: false,
            mark_due: false,
            poisoned: None,
            buf: Vec::new(),
        })
    }

    fn check(&self) -> Result<(), JournalError> {
        match &self.poisoned {
            Some(reason) => Err(JournalError::Poisoned(reason.clone())),
            None => Ok(()),
        }
    }

    /// Runs `op`; an error poisons the writer.
    fn guard<R>(&mut self, op: impl FnOnce(&mut Self) -> Result<R, JournalError>) -> Result<R, JournalError> {
        self.check()?;
        op(self).inspect_err(|error| {
            self.poisoned = Some(error.to_string());
        })
    }

    /// Appends `records` in order (not yet durable: see [`Writer::sync`]).
    /// Appends `records` contiguously in one segment (rolling first if they
    /// do not fit, unless the segment is empty) and returns where the first
    /// one starts; the others follow it, each `HEADER + payload` bytes long.
    /// A record that cannot be framed fails the whole call before anything
    /// is written.
    #[cfg(test)]
    pub(crate) fn append(&mut self, records: &[Record<'_>]) -> Result<Loc, JournalError> {
        self.append_all(&[records.to_vec()]).pop().expect("one result per submission")
    }

    /// Appends several submissions with as few writes as possible (one per
    /// segment touched): each submission stays contiguous in one segment, as
    /// with `append`, and gets its own result. A submission
    /// that cannot be framed fails alone; a failed write fails every
    /// submission not yet written and poisons the writer.
    pub(crate) fn append_all(&mut self, submissions: &[Vec<Record<'_>>]) -> Vec<Result<Loc, JournalError>> {
        let mut results: Vec<Result<Loc, JournalError>> = Vec::with_capacity(submissions.len());
        if let Err(error) = self.check() {
            return submissions.iter().map(|_| Err(JournalError::Poisoned(error.to_string()))).collect();
        }
        self.buf.clear();
        if std::mem::take(&mut self.mark_due) {
            self.buf.extend_from_slice(&sync_mark());
        }
        // Results from this index on are in `buf`, not yet written.
        let mut unwritten = 0;
        for records in submissions {
            let mark = self.buf.len();
            let framed = records.iter().try_for_each(|record| record.encode_into(&mut self.buf));
            if let Err(error) = framed {
                self.buf.truncate(mark);
                results.push(Err(JournalError::Frame(error)));
                continue;
            }
            let len = (self.buf.len() - mark) as u64;
            let at = self.active.as_ref().map(|(_, _, at)| *at);
            let fits = match at {
                None => false,
                Some(at) => {
                    at + mark as u64 == SEGMENT_HEADER as u64 || at + self.buf.len() as u64 <= self.segment_size
                }
            };
            if !fits {
                // Write what precedes this submission, then start a segment.
                let tail = self.buf.split_off(mark);
                if let Err(error) = self.guard(|writer| writer.flush_buf().and_then(|()| writer.roll())) {
                    fail_from(&mut results, unwritten, &error);
                    results.extend(
                        (results.len()..submissions.len()).map(|_| Err(JournalError::Poisoned(error.to_string()))),
                    );
                    return results;
                }
                unwritten = results.len();
                self.buf = tail;
            }
            let (number, _, at) = self.active.as_ref().expect("a segment after roll");
            let offset = at + (self.buf.len() as u64 - len);
            results.push(Ok(Loc { segment: *number, offset }));
        }
        if let Err(error) = self.guard(|writer| writer.flush_buf()) {
            fail_from(&mut results, unwritten, &error);
        }
        #[cfg(feature = "metrics")]
        ::metrics::counter!("treeline_journal_appends_total").increment(submissions.len() as u64);
        results
    }

    /// Writes `buf` at the end of the active segment.
    fn flush_buf(&mut self) -> Result<(), JournalError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let (_, file, at) = self.active.as_mut().expect("bytes are only framed for an active segment");
        file.write_all_at(*at, &self.buf)?;
        *at += self.buf.len() as u64;
        #[cfg(feature = "metrics")]
        ::metrics::counter!("treeline_journal_bytes_total").increment(self.buf.len() as u64);
        self.buf.clear();
        self.dirty = true;
        Ok(())
    }

    /// Seals the active segment (synced) and starts the next: created at
    /// its full size with its header synced, its directory entry synced, and
    /// only then recorded as the head in the control file.
    fn roll(&mut self) -> Result<(), JournalError> {
        if let Some((_, file, at)) = &self.active {
            if self.dirty {
                file.sync_data()?;
                self.dirty = false;
            }
            self.last_end = *at;
        }
        self.mark_due = false;
        let number = self.last_number + 1;
        // The new segment records where its predecessor's records end: a
        // sealed segment cut short is then found at recovery.
        let chain = Chain { number, previous: self.last_number, previous_end: self.last_end, size: self.segment_size };
        let file = self.storage.open(&segment_name(number), true)?;
        file.set_len(self.segment_size)?;
        file.write_all_at(0, &segment_header(chain))?;
        file.sync_data()?;
        self.storage.sync_dir()?;
        self.control.write(Control { head: number, ..self.control.state() })?;
        self.last_number = number;
        self.active = Some((number, file, SEGMENT_HEADER as u64));
        Ok(())
    }

    /// Deletes the segments numbered up to `through` (which must all be
    /// sealed and hold nothing live): first the control file records them
    /// as reclaimed (synced), then they go, so recovery never takes a
    /// reclaimed segment for a lost one.
    pub(crate) fn reclaim(&mut self, through: u64) -> Result<(), JournalError> {
        let active = self.active.as_ref().map_or(self.last_number + 1, |(number, ..)| *number);
        let through = through.min(active - 1);
        let from = self.control.state().reclaimed + 1;
        if through < from {
            return Ok(());
        }
        self.guard(|writer| writer.control.write(Control { reclaimed: through, ..writer.control.state() }))?;
        for number in from..=through {
            // Whatever stays behind (an error here) is removed by the next
            // recovery: it is below the reclaimed mark.
            let _ = self.storage.remove(&segment_name(number));
        }
        let _ = self.storage.sync_dir();
        Ok(())
    }

    /// Makes everything appended so far durable.
    pub(crate) fn sync(&mut self) -> Result<(), JournalError> {
        self.guard(|writer| {
            if let (true, Some((_, file, _))) = (writer.dirty, &writer.active) {
                #[cfg(feature = "metrics")]
                let began = std::time::Instant::now();
                file.sync_data()?;
                #[cfg(feature = "metrics")]
                ::metrics::histogram!("treeline_journal_fsync_seconds").record(began.elapsed().as_secs_f64());
                writer.dirty = false;
                writer.mark_due = true;
            }
            Ok(())
        })
    }

    /// Ends the log for a clean close: everything synced, then followed by a
    /// sync mark (synced too), so that damage to the last records written
    /// is found as corruption at the next open, not cut as a torn tail.
    pub(crate) fn close(&mut self) -> Result<(), JournalError> {
        self.sync()?;
        if self.mark_due {
            let written = self.append_all(&[]);
            debug_assert!(written.is_empty());
            self.check()?;
            self.sync()?;
        }
        Ok(())
    }

    /// Seals the active segment and starts the next, now.
    pub(crate) fn seal(&mut self) -> Result<(), JournalError> {
        self.guard(|writer| writer.roll())
    }

    /// Whether an I/O error has poisoned the writer.
    #[cfg(test)]
    pub(crate) fn is_poisoned(&self) -> bool {
        self.poisoned.is_some()
    }
}

/// Turns the results from `from` on that claimed a location into `error`.
fn fail_from(results: &mut [Result<Loc, JournalError>], from: usize, error: &JournalError) {
    for result in &mut results[from..] {
        if result.is_ok() {
            *result = Err(match error {
                JournalError::Io(io) => JournalError::Io(std::io::Error::new(io.kind(), io.to_string())),
                other => JournalError::Poisoned(other.to_string()),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::faulty::{Crash, FaultyStorage};
    use crate::journal::recover::recover;
    use crate::journal::storage::MemStorage;

    /// The segment header's size.
    const H: u64 = SEGMENT_HEADER as u64;
    /// A segment size with room for two records (and not three).
    const TWO_RECORDS: u64 = H + 2 * 34 + 16;

    fn record(seq: u64) -> Record<'static> {
        Record { kind: 1, stream: 3, seq, payload: b"0123456789" } // 34 bytes framed
    }

    fn writer(storage: &Arc<dyn Storage>, segment_size: u64) -> Writer {
        let recovery = recover(&**storage).unwrap();
        Writer::open(storage.clone(), segment_size, &recovery).unwrap()
    }

    fn seqs(storage: &dyn Storage) -> Vec<u64> {
        recover(storage).unwrap().records.iter().map(|r| r.seq).collect()
    }

    #[test]
    fn appends_roll_segments_and_recover_in_order() {
        let storage: Arc<dyn Storage> = Arc::new(MemStorage::new());
        let mut w = writer(&storage, TWO_RECORDS); // a header + 2 records of 34 bytes per segment
        let mut locs = Vec::new();
        for seq in 1..=7 {
            locs.push(w.append(&[record(seq)]).unwrap());
        }
        w.sync().unwrap();
        assert_eq!(locs[0], Loc { segment: 1, offset: H });
        assert_eq!(locs[1], Loc { segment: 1, offset: H + 34 });
        assert_eq!(locs[2], Loc { segment: 2, offset: H });
        assert_eq!(seqs(&*storage), (1..=7).collect::<Vec<_>>());
        assert_eq!(recover(&*storage).unwrap().segments.len(), 4);
    }

    #[test]
    fn one_append_is_contiguous_in_one_segment() {
        let storage: Arc<dyn Storage> = Arc::new(MemStorage::new());
        let mut w = writer(&storage, TWO_RECORDS);
        w.append(&[record(1)]).unwrap();
        let loc = w.append(&[record(2), record(3)]).unwrap();
        assert_eq!(loc, Loc { segment: 2, offset: H }, "rolled rather than split");
        w.sync().unwrap();
        assert_eq!(seqs(&*storage), [1, 2, 3]);
    }

    #[test]
    fn a_batch_is_written_per_segment_with_a_result_per_submission() {
        let storage: Arc<dyn Storage> = Arc::new(MemStorage::new());
        let mut w = writer(&storage, TWO_RECORDS); // two 34-byte records per segment
        let bad = Record { kind: 0, stream: 3, seq: 9, payload: b"" };
        let results = w.append_all(&[vec![record(1)], vec![bad], vec![record(2)], vec![record(3), record(4)]]);
        assert_eq!(results[0].as_ref().unwrap(), &Loc { segment: 1, offset: H });
        assert!(matches!(results[1], Err(JournalError::Frame(_))), "a bad submission fails alone");
        assert_eq!(results[2].as_ref().unwrap(), &Loc { segment: 1, offset: H + 34 });
        assert_eq!(results[3].as_ref().unwrap(), &Loc { segment: 2, offset: H }, "kept together in a new segment");
        w.sync().unwrap();
        assert_eq!(seqs(&*storage), [1, 2, 3, 4]);
    }

    #[test]
    fn a_failed_batch_write_fails_every_unwritten_submission() {
        let faulty = FaultyStorage::new();
        let storage: Arc<dyn Storage> = Arc::new(faulty.clone());
        let mut w = writer(&storage, 1_000);
        w.append(&[record(1)]).unwrap();
        faulty.fail_after(0);
        let results = w.append_all(&[vec![record(2)], vec![record(3)]]);
        assert!(results.iter().all(|r| matches!(r, Err(JournalError::Io(_)))), "{results:?}");
        assert!(w.is_poisoned());
    }

    #[test]
    fn a_reopened_writer_resumes_after_the_last_record() {
        let storage: Arc<dyn Storage> = Arc::new(MemStorage::new());
        let mut w = writer(&storage, 1_000);
        w.append(&[record(1), record(2)]).unwrap();
        w.sync().unwrap();
        drop(w);
        let mut w = writer(&storage, 1_000);
        w.append(&[record(3)]).unwrap();
        w.sync().unwrap();
        assert_eq!(seqs(&*storage), [1, 2, 3]);
        assert_eq!(recover(&*storage).unwrap().segments.len(), 1, "appended to the same segment");
    }

    #[test]
    fn an_oversized_record_gets_a_segment_of_its_own() {
        let storage: Arc<dyn Storage> = Arc::new(MemStorage::new());
        let mut w = writer(&storage, 64);
        let big = vec![7u8; 200];
        w.append(&[record(1), Record { kind: 1, stream: 3, seq: 2, payload: &big }, record(3)]).unwrap();
        w.sync().unwrap();
        assert_eq!(seqs(&*storage), [1, 2, 3]);
    }

    #[test]
    fn synced_batches_survive_power_loss_and_unsynced_ones_may_not() {
        let faulty = FaultyStorage::new();
        let storage: Arc<dyn Storage> = Arc::new(faulty.clone());
        let mut w = writer(&storage, 100);
        w.append(&[record(1), record(2), record(3)]).unwrap(); // rolls once: 1 and 2 sealed and synced
        w.sync().unwrap();
        w.append(&[record(4)]).unwrap();
        assert_eq!(seqs(&faulty.crash(Crash::PowerLoss)), [1, 2, 3]);
        assert_eq!(seqs(&faulty.crash(Crash::Process)), [1, 2, 3, 4]);
    }

    #[test]
    fn a_failed_fsync_poisons_the_writer_for_good() {
        let faulty = FaultyStorage::new();
        let storage: Arc<dyn Storage> = Arc::new(faulty.clone());
        let mut w = writer(&storage, 1_000);
        w.append(&[record(1)]).unwrap();
        faulty.fail_next_sync();
        assert!(matches!(w.sync(), Err(JournalError::Io(_))));
        assert!(w.is_poisoned());
        // The storage would now succeed, but the writer never retries.
        assert!(matches!(w.sync(), Err(JournalError::Poisoned(_))));
        assert!(matches!(w.append(&[record(2)]), Err(JournalError::Poisoned(_))));
    }

    #[test]
    fn a_failed_write_poisons_and_a_bad_record_does_not() {
        let faulty = FaultyStorage::new();
        let storage: Arc<dyn Storage> = Arc::new(faulty.clone());
        let mut w = writer(&storage, 1_000);
        let zero_kind = Record { kind: 0, stream: 1, seq: 1, payload: b"" };
        assert!(matches!(w.append(&[zero_kind]), Err(JournalError::Frame(_))));
        assert!(!w.is_poisoned());
        w.append(&[record(1)]).unwrap();
        faulty.fail_after(0);
        assert!(matches!(w.append(&[record(2)]), Err(JournalError::Io(_))));
        assert!(matches!(w.append(&[record(3)]), Err(JournalError::Poisoned(_))));
    }
}
