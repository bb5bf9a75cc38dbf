//! The journal: an append-only, segmented, CRC-checked log that knows
//! nothing about actors (opaque payloads, stream ids, sequence numbers).
//!
//! Status: being built for durable mailboxes (issue 5). What exists: the
//! record framing ([`record`], [`crc32c`]), the storage seam with file,
//! memory and fault-injecting backends ([`storage`], [`faulty`]), segments
//! and crash recovery ([`segment`]), the single writer ([`writer`]) and group
//! commit with the fsync policies ([`commit`]). Still to come: the journal
//! handle (lock, recover, submit), streams and consumers, reclamation, and
//! the durable mailbox on top.
//! Nothing outside this module uses it yet.

// Wired into durable mailboxes as the rest of the journal lands.
#![cfg_attr(not(test), allow(dead_code))]

pub(crate) mod commit;
pub(crate) mod crc32c;
pub(crate) mod faulty;
pub(crate) mod record;
pub(crate) mod segment;
pub(crate) mod storage;
pub(crate) mod writer;
