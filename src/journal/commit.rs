//! Group commit: many senders, one writer, one sync per batch.
//!
//! Senders submit owned records with a completion; the committer drains
//! everything queued (up to a byte cap), writes it with one pass of the
//! [`Writer`], applies the [`FsyncPolicy`] once, and completes every sender
//! of the batch. Batch size adapts by itself: what arrives during one sync is
//! the next batch (Ra's WAL, Postgres's group commit).
//!
//! On real files the committer is a dedicated thread fed by a
//! crossbeam channel, so an fsync never blocks a tokio worker. On memory and
//! fault-injecting storage it runs inline in the submitting task, so tests on
//! tokio's paused clock stay deterministic (a thread the runtime cannot see
//! would let virtual time leap ahead while a confirm is pending).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use parking_lot::Mutex;

use super::record::{Loc, OwnedRecord, Record};
use super::segment::JournalError;
use super::writer::Writer;

/// When appended records are made durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// Every batch is synced before its senders are told it is written: a
    /// confirm means durable (survives power loss).
    Always,
    /// Synced at least this often; a confirm means written (survives a
    /// process crash, and a power loss only up to the last sync).
    Interval(Duration),
    /// Never synced except when a segment is sealed: survives a process
    /// crash, not a power loss.
    OsBuffered,
}

/// What runs when a submission's fate is known: with where its first record
/// landed, or the error. It runs on the commit thread (or inline in the
/// submitter), so it must be short and must not wait for the journal.
pub(crate) type Done = Box<dyn FnOnce(Result<Loc, JournalError>) + Send>;

struct Submission {
    records: Vec<OwnedRecord>,
    done: Done,
}

/// What runs once a closed journal released its directory.
pub(crate) type Closed = Box<dyn FnOnce() + Send>;

/// What the commit thread is asked to do.
enum Command {
    Submit(Submission),
    /// Reclaim the segments up to this number (see [`Writer::reclaim`]).
    Reclaim(u64),
    /// Seal the active segment and start the next.
    Seal,
    /// Commit what came before, sync, release the directory, then run this.
    Close(Closed),
}

/// Copies an error for every sender of a failed batch.
fn duplicate(error: &JournalError) -> JournalError {
    match error {
        JournalError::Io(io) => JournalError::Io(std::io::Error::new(io.kind(), io.to_string())),
        JournalError::Frame(frame) => JournalError::Frame(*frame),
        JournalError::Closed => JournalError::Closed,
        other => JournalError::Poisoned(other.to_string()),
    }
}

/// Writes one batch and applies the policy; tells every sender.
/// Writes a batch, syncs it as the policy says, and returns each
/// submission's callback with its result, to be run by the caller once it
/// holds no lock (a callback may submit again).
fn commit(writer: &mut Writer, policy: FsyncPolicy, batch: Vec<Submission>) -> Vec<(Done, Result<Loc, JournalError>)> {
    let records: Vec<Vec<Record<'_>>> =
        batch.iter().map(|submission| submission.records.iter().map(OwnedRecord::as_record).collect()).collect();
    let outcomes = writer.append_all(&records);
    let synced = match policy {
        FsyncPolicy::Always if outcomes.iter().any(Result::is_ok) => writer.sync(),
        _ => Ok(()),
    };
    batch
        .into_iter()
        .zip(outcomes)
        .map(|(submission, outcome)| {
            let result = match (outcome, &synced) {
                (Err(error), _) => Err(duplicate(&error)),
                (Ok(_), Err(error)) => Err(duplicate(error)),
                (Ok(loc), Ok(())) => Ok(loc),
            };
            (submission.done, result)
        })
        .collect()
}

/// Runs the callbacks in log order, noting the newest segment written first.
fn finish(done: Vec<(Done, Result<Loc, JournalError>)>, newest: &AtomicU64) {
    for (done, result) in done {
        if let Ok(loc) = &result {
            newest.fetch_max(loc.segment, Ordering::AcqRel);
        }
        done(result);
    }
}

enum Mode {
    /// A committer thread; the handle is joined when the committer drops.
    Thread { tx: Option<Sender<Command>>, thread: Option<thread::JoinHandle<()>> },
    /// Committed in the submitting task.
    Inline { writer: Mutex<Writer>, queue: Mutex<Inbox>, policy: FsyncPolicy },
}

/// The append side of a journal.
/// Inline mode's queue: submissions made while another submitter (or a
/// callback) is committing.
#[derive(Default)]
struct Inbox {
    waiting: Vec<Submission>,
    busy: bool,
    closed: bool,
}

pub(crate) struct Committer {
    mode: Mode,
    /// The newest segment a confirmed submission was written to.
    newest: Arc<AtomicU64>,
}

/// Bytes a committer thread gathers into one batch at most.
const MAX_BATCH_BYTES: usize = 4 << 20;

impl Committer {
    /// A committer thread that owns `writer`.
    /// A committer with its own thread; `guard` (the directory lock) lives
    /// as long as the thread, which may outlive the committer by a batch
    /// when the last handle is dropped by a callback on that thread.
    pub(crate) fn threaded(
        writer: Writer,
        policy: FsyncPolicy,
        guard: Box<dyn Send + Sync>,
    ) -> std::io::Result<Committer> {
        let (tx, rx) = crossbeam_channel::unbounded();
        let newest = Arc::new(AtomicU64::new(0));
        let noted = newest.clone();
        let thread = thread::Builder::new().name("treeline-journal".into()).spawn(move || {
            let closers = run(writer, policy, rx, &noted);
            drop(guard);
            for closed in closers {
                closed();
            }
        })?;
        Ok(Committer { mode: Mode::Thread { tx: Some(tx), thread: Some(thread) }, newest })
    }

    /// A committer that writes in the submitting task.
    pub(crate) fn inline(writer: Writer, policy: FsyncPolicy) -> Committer {
        let mode = Mode::Inline { writer: Mutex::new(writer), queue: Mutex::default(), policy };
        Committer { mode, newest: Arc::new(AtomicU64::new(0)) }
    }

    /// The newest segment a confirmed submission was written to: every
    /// callback for records in older segments has run.
    pub(crate) fn newest_written(&self) -> u64 {
        self.newest.load(Ordering::Acquire)
    }

    /// Appends `records` after everything submitted before, then runs `done`.
    pub(crate) fn submit_with(&self, records: Vec<OwnedRecord>, done: Done) {
        let submission = Submission { records, done };
        match &self.mode {
            Mode::Thread { tx: Some(tx), .. } => {
                if let Err(crossbeam_channel::SendError(Command::Submit(submission))) =
                    tx.send(Command::Submit(submission))
                {
                    (submission.done)(Err(JournalError::Closed));
                }
            }
            Mode::Thread { tx: None, .. } => {
                (submission.done)(Err(JournalError::Closed));
            }
            Mode::Inline { writer, queue, policy } => {
                {
                    let mut inbox = queue.lock();
                    if inbox.closed {
                        drop(inbox);
                        (submission.done)(Err(JournalError::Closed));
                        return;
                    }
                    inbox.waiting.push(submission);
                    if inbox.busy {
                        return; // the busy submitter commits it after its own
                    }
                    inbox.busy = true;
                }
                // Whoever finds the inbox idle commits for everyone, in
                // order, and runs the callbacks in that order too; a callback
                // that submits again only queues (no re-entrant lock).
                loop {
                    let batch = {
                        let mut inbox = queue.lock();
                        if inbox.waiting.is_empty() {
                            inbox.busy = false;
                            return;
                        }
                        std::mem::take(&mut inbox.waiting)
                    };
                    let done = commit(&mut writer.lock(), *policy, batch);
                    finish(done, &self.newest);
                }
            }
        }
    }

    /// Deletes the segments up to `through` after what was submitted before
    /// (see [`Writer::reclaim`]); an error poisons the writer, and the
    /// submissions after it learn of it.
    pub(crate) fn reclaim(&self, through: u64) {
        match &self.mode {
            Mode::Thread { tx: Some(tx), .. } => {
                let _ = tx.send(Command::Reclaim(through));
            }
            Mode::Thread { tx: None, .. } => {}
            Mode::Inline { writer, .. } => {
                let _ = writer.lock().reclaim(through);
            }
        }
    }

    /// Seals the active segment after what was submitted before: what is
    /// submitted next goes into a new segment.
    pub(crate) fn seal(&self) {
        match &self.mode {
            Mode::Thread { tx: Some(tx), .. } => {
                let _ = tx.send(Command::Seal);
            }
            Mode::Thread { tx: None, .. } => {}
            Mode::Inline { writer, .. } => {
                let _ = writer.lock().seal();
            }
        }
    }

    /// Closes the journal: what was submitted before is committed and synced
    /// (as the policy says), later submissions fail with
    /// [`JournalError::Closed`], and `closed` runs once the commit thread
    /// let go of the directory (inline: at once; the caller then drops the
    /// lock it holds).
    pub(crate) fn close(&self, closed: Closed) {
        match &self.mode {
            Mode::Thread { tx: Some(tx), .. } => {
                if let Err(crossbeam_channel::SendError(Command::Close(closed))) = tx.send(Command::Close(closed)) {
                    closed(); // the thread is gone already
                }
            }
            Mode::Thread { tx: None, .. } => closed(),
            Mode::Inline { writer, queue, policy } => {
                queue.lock().closed = true;
                if *policy != FsyncPolicy::OsBuffered {
                    let _ = writer.lock().close();
                }
                closed();
            }
        }
    }

    /// [`submit_with`](Self::submit_with), answering on a channel.
    #[cfg(test)]
    pub(crate) fn submit(
        &self,
        records: Vec<OwnedRecord>,
    ) -> tokio::sync::oneshot::Receiver<Result<Loc, JournalError>> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.submit_with(
            records,
            Box::new(move |result| {
                let _ = tx.send(result);
            }),
        );
        rx
    }
}

impl Drop for Committer {
    fn drop(&mut self) {
        if let Mode::Thread { tx, thread } = &mut self.mode {
            drop(tx.take()); // the thread finishes what is queued, then exits
            if let Some(thread) = thread.take() {
                // Dropped by a callback on the commit thread itself: it
                // exits on its own once the queue is drained.
                if thread.thread().id() != thread::current().id() {
                    let _ = thread.join();
                }
            }
        }
    }
}

/// The committer thread; returns what to run once the directory is
/// released (the close requests it received).
fn run(mut writer: Writer, policy: FsyncPolicy, rx: Receiver<Command>, newest: &AtomicU64) -> Vec<Closed> {
    let mut closers = Vec::new();
    let mut last_sync = Instant::now();
    loop {
        let command = match policy {
            FsyncPolicy::Interval(every) => match rx.recv_timeout(every.saturating_sub(last_sync.elapsed())) {
                Ok(command) => command,
                Err(RecvTimeoutError::Timeout) => {
                    let _ = writer.sync(); // an error poisons the writer; senders learn it next time
                    last_sync = Instant::now();
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            },
            _ => match rx.recv() {
                Ok(command) => command,
                Err(_) => break,
            },
        };
        let first = match command {
            Command::Submit(submission) => submission,
            Command::Reclaim(through) => {
                let _ = writer.reclaim(through);
                continue;
            }
            Command::Seal => {
                let _ = writer.seal();
                continue;
            }
            Command::Close(closed) => {
                closers.push(closed);
                break;
            }
        };
        let mut bytes = first.records.iter().map(|r| r.payload.len()).sum::<usize>();
        let mut batch = vec![first];
        // A reclamation that arrives while the batch forms runs after it.
        let mut reclaim = 0;
        while bytes < MAX_BATCH_BYTES && closers.is_empty() {
            match rx.try_recv() {
                Ok(Command::Submit(next)) => {
                    bytes += next.records.iter().map(|r| r.payload.len()).sum::<usize>();
                    batch.push(next);
                }
                Ok(Command::Close(closed)) => closers.push(closed),
                Ok(Command::Reclaim(through)) => reclaim = reclaim.max(through),
                Ok(Command::Seal) => {
                    // The batch so far goes before the seal; the rest after.
                    if !batch.is_empty() {
                        finish(commit(&mut writer, policy, std::mem::take(&mut batch)), newest);
                    }
                    let _ = writer.seal();
                }
                Err(_) => break,
            }
        }
        if !batch.is_empty() {
            finish(commit(&mut writer, policy, batch), newest);
        }
        if reclaim > 0 {
            let _ = writer.reclaim(std::mem::take(&mut reclaim));
        }
        if !closers.is_empty() {
            break;
        }
        if let FsyncPolicy::Interval(every) = policy {
            if last_sync.elapsed() >= every {
                let _ = writer.sync();
                last_sync = Instant::now();
            }
        }
    }
    // Closing: make what was written durable unless the policy says never.
    if policy != FsyncPolicy::OsBuffered {
        let _ = writer.close();
    }
    // Whatever was submitted after the close fails.
    while let Ok(command) = rx.try_recv() {
        match command {
            Command::Submit(late) => (late.done)(Err(JournalError::Closed)),
            Command::Reclaim(_) | Command::Seal => {}
            Command::Close(closed) => closers.push(closed),
        }
    }
    closers
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::journal::faulty::{Crash, FaultyStorage};
    use crate::journal::recover::recover;
    use crate::journal::storage::tests::TempDir;
    use crate::journal::storage::{FileStorage, MemStorage, Storage};

    fn owned(seq: u64) -> OwnedRecord {
        OwnedRecord { kind: 1, stream: 1, seq, payload: seq.to_le_bytes().to_vec() }
    }

    fn writer(storage: &Arc<dyn Storage>) -> Writer {
        Writer::open(storage.clone(), 64 << 10, &recover(&**storage).unwrap()).unwrap()
    }

    fn seqs(storage: &dyn Storage) -> Vec<u64> {
        recover(storage).unwrap().records.iter().map(|r| r.seq).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn inline_commits_are_durable_when_confirmed() {
        let faulty = FaultyStorage::new();
        let storage: Arc<dyn Storage> = Arc::new(faulty.clone());
        let committer = Committer::inline(writer(&storage), FsyncPolicy::Always);
        committer.submit(vec![owned(1), owned(2)]).await.unwrap().unwrap();
        committer.submit(vec![owned(3)]).await.unwrap().unwrap();
        assert_eq!(seqs(&faulty.crash(Crash::PowerLoss)), [1, 2, 3]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_sync_fails_the_batch_and_every_later_one() {
        let faulty = FaultyStorage::new();
        let storage: Arc<dyn Storage> = Arc::new(faulty.clone());
        let committer = Committer::inline(writer(&storage), FsyncPolicy::Always);
        committer.submit(vec![owned(1)]).await.unwrap().unwrap();
        faulty.fail_next_sync();
        assert!(matches!(committer.submit(vec![owned(2)]).await.unwrap(), Err(JournalError::Io(_))));
        assert!(matches!(committer.submit(vec![owned(3)]).await.unwrap(), Err(JournalError::Poisoned(_))));
    }

    #[test]
    fn the_commit_thread_serves_concurrent_senders_each_in_its_order() {
        let dir = TempDir::new();
        let storage: Arc<dyn Storage> = Arc::new(FileStorage::new(dir.path()).unwrap());
        let committer = Arc::new(Committer::threaded(writer(&storage), FsyncPolicy::Always, Box::new(())).unwrap());
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().unwrap();
        runtime.block_on(async {
            let mut senders = Vec::new();
            for sender in 0..16u64 {
                let committer = committer.clone();
                senders.push(tokio::spawn(async move {
                    for n in 0..50 {
                        committer.submit(vec![owned(sender * 1_000 + n)]).await.unwrap().unwrap();
                    }
                }));
            }
            for sender in senders {
                sender.await.unwrap();
            }
        });
        drop(committer);
        let mut got = seqs(&*storage);
        assert_eq!(got.len(), 800);
        // Each sender's records are in its own order.
        for sender in 0..16u64 {
            let mine: Vec<u64> = got.iter().copied().filter(|s| s / 1_000 == sender).collect();
            assert_eq!(mine, (0..50).map(|n| sender * 1_000 + n).collect::<Vec<_>>());
        }
        got.sort_unstable();
        got.dedup();
        assert_eq!(got.len(), 800);
    }

    #[test]
    fn os_buffered_and_interval_confirm_written_records() {
        for policy in [FsyncPolicy::OsBuffered, FsyncPolicy::Interval(Duration::from_millis(5))] {
            let storage: Arc<dyn Storage> = Arc::new(MemStorage::new());
            let committer = Committer::threaded(writer(&storage), policy, Box::new(())).unwrap();
            let confirm = committer.submit(vec![owned(1), owned(2)]);
            futures::executor::block_on(confirm).unwrap().unwrap();
            drop(committer);
            assert_eq!(seqs(&*storage), [1, 2], "{policy:?}");
        }
    }
}
