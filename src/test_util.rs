//! Support for testing code built on treeline (feature `test-util`).
//!
//! [`FaultyStorage`] is a journal storage that loses what a power cut would
//! lose (unsynced writes, torn at any byte) and fails on request: the crash
//! tests of the journal run on it, and so can an application's. Give it to a
//! [`JournalConfig`](crate::durable::JournalConfig) with
//! [`storage`](crate::durable::JournalConfig::storage).

pub use crate::journal::faulty::{Crash, FaultyStorage};

/// The journal alone, without queues or actors, for `benches/durable.rs`.
#[doc(hidden)]
pub use crate::journal::bench::append_batches as journal_append_batches;
