//! The journal: an append-only, segmented, CRC-checked log that knows
//! nothing about actors (opaque payloads, stream ids, sequence numbers).
//!
//! Status: being built for durable mailboxes (issue 5). What exists so far is
//! the bottom layer, the record framing ([`record`]) and its checksum
//! ([`crc32c`]); segments, the group-commit writer, the storage backends and
//! recovery build on it. Nothing outside this module uses it yet.

// Wired into durable mailboxes as the rest of the journal lands.
#![cfg_attr(not(test), allow(dead_code))]

pub(crate) mod crc32c;
pub(crate) mod faulty;
pub(crate) mod record;
pub(crate) mod segment;
pub(crate) mod storage;
