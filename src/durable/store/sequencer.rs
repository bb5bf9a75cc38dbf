//! The sequencer: appends leave in the order their operations changed the
//! state, whatever order the threads that made them unlock in.

use std::collections::BTreeMap;

use crate::journal::commit::Done;
use crate::journal::record::OwnedRecord;

use super::*;

/// Orders the appends of operations by ticket (taken under the state lock).
#[derive(Default)]
pub(super) struct Sequencer {
    pub(super) ready: BTreeMap<u64, Vec<(Vec<OwnedRecord>, Done)>>,
    /// The last ticket submitted.
    pub(super) submitted: u64,
    pub(super) draining: bool,
}

impl Store {
    /// Submits the appends of operation `ticket` once those of every earlier
    /// ticket are submitted. Whoever finds the next ticket ready submits
    /// everything ready, in order, holding no lock (a journal callback may
    /// run inline and come back here: it then only queues).
    pub(super) fn sequence(&self, ticket: u64, batch: Vec<(Vec<OwnedRecord>, Done)>) {
        let first = {
            let mut sequencer = self.sequencer.lock();
            if sequencer.draining {
                sequencer.ready.insert(ticket, batch);
                return;
            }
            if ticket != sequencer.submitted + 1 {
                sequencer.ready.insert(ticket, batch);
                if !sequencer.ready.contains_key(&(sequencer.submitted + 1)) {
                    return; // whoever holds the next ticket will drain
                }
                sequencer.draining = true;
                None
            } else {
                // The common case: next in line, nobody draining.
                sequencer.submitted = ticket;
                sequencer.draining = true;
                Some(batch)
            }
        };
        for (records, done) in first.into_iter().flatten() {
            self.journal.submit_with(records, done);
        }
        loop {
            let next = {
                let mut sequencer = self.sequencer.lock();
                let expected = sequencer.submitted + 1;
                match sequencer.ready.remove(&expected) {
                    Some(batch) => {
                        sequencer.submitted = expected;
                        batch
                    }
                    None => {
                        sequencer.draining = false;
                        return;
                    }
                }
            };
            for (records, done) in next {
                self.journal.submit_with(records, done);
            }
        }
    }

    /// The callback of appends nobody waits for (the journal notes the
    /// segment itself; a closure that captures nothing is not allocated).
    pub(super) fn note_done(&self) -> Done {
        Box::new(|_| {})
    }
}
