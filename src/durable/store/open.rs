//! Opening: recovery folds the journal into queues (refusing or skipping
//! damage as the policy says), and after skipped damage a checkpoint restates
//! the survivors so that the next open is clean.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::durable::records::{create_payload, keep_payload, QueueError, Queues, CREATE, KEEP};
use crate::durable::slots::Slots;
use crate::journal::record::{Loc, OwnedRecord, HEADER};
use crate::journal::recover::{Damage, Recovery, RecoveryReport};
use crate::journal::segment::{segment_name, JournalError};
use crate::journal::storage::{Storage, StorageFile};
use crate::journal::{Journal, Settings};

use super::*;

/// A record the queue protocol does not allow, where it is.
pub(super) fn refused_record(loc: Loc, error: &QueueError) -> Damage {
    Damage {
        file: segment_name(loc.segment),
        offset: loc.offset,
        why: format!("a record the queues cannot use: {error}"),
        records_at_stake: Some(1),
    }
}

/// Writes the whole state of `queues` (every queue's `CREATE` and every
/// pending message as a `KEEP`) into a fresh segment, then reclaims every
/// segment before it: after a recovery that skipped damage, the journal
/// holds only what survived, and the next open finds it clean.
pub(super) fn checkpoint(
    journal: &Journal,
    storage: &dyn Storage,
    queues: &Queues,
    through: u64,
) -> Result<(), JournalError> {
    /// Bytes restated per submission.
    pub(super) const CHUNK: usize = 4 << 20;
    journal.seal();
    let (tx, rx) = std::sync::mpsc::channel();
    let mut submitted = 0;
    let mut submit = |records: Vec<OwnedRecord>| {
        let tx = tx.clone();
        submitted += 1;
        journal.submit_with(
            records,
            Box::new(move |result| {
                let _ = tx.send(result);
            }),
        );
    };
    let mut readers: HashMap<u64, Box<dyn StorageFile>> = HashMap::new();
    let mut chunk = Vec::new();
    let mut bytes = 0;
    for (&id, queue) in &queues.queues {
        let name = queue.name.as_deref().unwrap_or_default();
        let payload = create_payload(name, &queue.tag, &queue.role);
        chunk.push(OwnedRecord { kind: CREATE, stream: id.stream(), seq: queue.next_seq.get(), payload });
        for (&seq, pending) in &queue.pending {
            let reader = match readers.entry(pending.record.segment) {
                std::collections::hash_map::Entry::Occupied(file) => file.into_mut(),
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(storage.open(&segment_name(pending.record.segment), false)?)
                }
            };
            let mut message = vec![0; pending.len as usize];
            reader.read_exact_at(pending.at, &mut message)?;
            bytes += message.len();
            chunk.push(OwnedRecord {
                kind: KEEP,
                stream: id.stream(),
                seq: seq.get(),
                payload: keep_payload(pending.attempts, &message),
            });
            if bytes >= CHUNK {
                submit(std::mem::take(&mut chunk));
                bytes = 0;
            }
        }
    }
    if !chunk.is_empty() {
        submit(chunk);
    }
    for _ in 0..submitted {
        rx.recv().map_err(|_| JournalError::Closed)??;
    }
    journal.reclaim(through);
    Ok(())
}

impl Store {
    /// [`open_with_window`](Self::open_with_window) with the default window.
    #[cfg(test)]
    pub(crate) fn open(storage: Arc<dyn Storage>, settings: Settings) -> Result<Arc<Store>, JournalError> {
        Store::open_after(storage, settings, DEFAULT_DEDUPE_WINDOW, None)
    }

    /// Opens (locks and recovers) the journal and rebuilds every queue,
    /// remembering producers' message ids for `dedupe_window` milliseconds.
    pub(crate) fn open_with_window(
        storage: Arc<dyn Storage>,
        settings: Settings,
        dedupe_window: u64,
    ) -> Result<Arc<Store>, JournalError> {
        Store::open_after(storage, settings, dedupe_window, None)
    }

    /// [`open_with_window`](Self::open_with_window); `prior` is the report of an open that skipped
    /// damage and restated what survived (this open then reads the result).
    pub(super) fn open_after(
        storage: Arc<dyn Storage>,
        settings: Settings,
        dedupe_window: u64,
        prior: Option<RecoveryReport>,
    ) -> Result<Arc<Store>, JournalError> {
        let mut queues = Queues::default();
        let skip = settings.recovery == Recovery::SkipDamaged;
        let mut refused = Vec::new();
        let (journal, recovery) = Journal::open_with(
            storage.clone(),
            settings,
            &mut |record, loc| match queues.apply(record.kind, record.stream, record.seq, record.payload, loc) {
                Ok(()) => Ok(()),
                Err(error) if skip => {
                    refused.push(refused_record(loc, &error));
                    Ok(())
                }
                Err(error) => Err(refused_record(loc, &error).into()),
            },
        )?;
        let mut report = recovery.report.clone();
        for damage in refused {
            report.skip(damage);
        }
        while let Err((error, loc)) = queues.finish() {
            let QueueError::UnknownStream(stream) = error else { unreachable!("finish reports unknown streams") };
            let damage = Damage {
                file: loc.map_or_else(String::new, |loc| segment_name(loc.segment)),
                offset: loc.map_or(0, |loc| loc.offset),
                why: error.to_string(),
                records_at_stake: None,
            };
            if !skip {
                return Err(damage.into());
            }
            report.skip(damage);
            queues.queues.remove(&QueueId(stream));
        }
        if !report.skipped.is_empty() {
            checkpoint(&journal, &*storage, &queues, recovery.last_number)?;
            drop(journal); // releases the directory once the reclamation is done
            return Store::open_after(storage, settings, dedupe_window, Some(report));
        }
        if let Some(prior) = prior {
            report = RecoveryReport { tail_cut: prior.tail_cut.or(report.tail_cut), skipped: prior.skipped };
        }
        let mut segments: BTreeMap<u64, Live> =
            recovery.segments.iter().map(|(number, _)| (*number, Live::default())).collect();
        let newest = recovery.segments.last().map_or(0, |(number, _)| *number);
        let mut state = State {
            queues: HashMap::new(),
            names: HashMap::new(),
            next_stream: Some(QueueId::FIRST),
            segments: BTreeMap::new(),
            newest,
            compacting: false,
            closed: false,
            readers: HashMap::new(),
            next_ticket: 0,
            dedupe_window,
        };
        let now = unix_millis();
        for (id, recovered) in queues.queues {
            let name: Arc<str> = recovered.name.unwrap_or_default().into();
            let mut slots = Slots::default();
            for (&seq, pending) in &recovered.pending {
                let live = segments.entry(pending.record.segment).or_default();
                live.records += 1;
                live.bytes += u64::from(pending.len) + HEADER as u64;
                let slot = Slot {
                    segment: pending.record.segment,
                    at: offset(pending.at),
                    len: pending.len,
                    attempts: pending.attempts,
                    status: Status::Waiting,
                };
                slots.push(seq, slot);
            }
            if let Some(loc) = recovered.created_at {
                segments.entry(loc.segment).or_default().records += 1;
            }
            state.names.insert(name.clone(), id);
            // Past every id in use; none left if a queue holds the largest.
            state.next_stream = match (state.next_stream, id.next()) {
                (Some(next), Some(after)) => Some(next.max(after)),
                _ => None,
            };
            let mut ids = recovered.ids;
            ids.retain(|(_, _, at, _)| at.saturating_add(dedupe_window) > now);
            ids.sort_by_key(|(_, _, at, _)| *at);
            let mut queue = QueueState::new(name, recovered.tag, recovered.role);
            for (key, seq, at, segment) in ids {
                let live = segments.entry(segment).or_default();
                live.id_newest = live.id_newest.max(at);
                let key: Box<str> = key.into();
                queue.ids.insert(key.clone(), Remembered { seq, at });
                queue.id_order.push_back((at, key));
            }
            queue.next_seq = recovered.next_seq;
            queue.pending = recovered.pending.len() as u64;
            queue.slots = slots;
            queue.created_at = recovered.created_at;
            state.queues.insert(id, queue);
        }
        state.segments = segments;
        let store = Arc::new_cyclic(|me| Store {
            journal,
            storage,
            report,
            segment_size: settings.segment_size,
            state: Mutex::new(state),
            sequencer: Mutex::default(),
            me: me.clone(),
            dead_letters: OnceLock::new(),
        });
        store.run(|_, _| ()); // reclaim what recovery found reclaimable
        Ok(store)
    }
}
