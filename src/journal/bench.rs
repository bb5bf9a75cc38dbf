//! A hook for `benches/durable.rs`: the journal alone, without queues or
//! actors. Hidden from the docs; not part of the API.

use std::path::Path;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::commit::FsyncPolicy;
use super::record::OwnedRecord;
use super::segment::JournalError;
use super::storage::{FileStorage, Storage};
use super::{Journal, Settings};

/// Appends `batches` batches of `batch` records of `payload` bytes to a
/// journal in `dir` (an fsync per batch: each waits for its confirm before
/// the next is submitted) and returns the time taken.
pub fn append_batches(dir: &Path, batch: usize, batches: usize, payload: usize) -> Result<Duration, JournalError> {
    let storage: Arc<dyn Storage> = Arc::new(FileStorage::new(dir).map_err(JournalError::Io)?);
    let settings = Settings { fsync: FsyncPolicy::Always, ..Settings::default() };
    let (journal, _) = Journal::open_with(storage, settings, &mut |_, _| Ok(()))?;
    let (tx, rx) = mpsc::channel();
    let started = Instant::now();
    let mut seq = 0;
    for _ in 0..batches {
        let records = (0..batch)
            .map(|_| {
                seq += 1;
                OwnedRecord { kind: 2, stream: 1, seq, payload: vec![7; payload] }
            })
            .collect();
        let tx = tx.clone();
        journal.submit_with(
            records,
            Box::new(move |result| {
                let _ = tx.send(result.map(|_| ()));
            }),
        );
        rx.recv().expect("the commit thread answers")?;
    }
    Ok(started.elapsed())
}
