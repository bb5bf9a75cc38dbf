//! Segment files: the journal directory's ordered list of logs, each a
//! header followed by records, and the errors of opening and writing them.
//!
//! A segment is named `<number:020>.seg` (so names sort in log order) and
//! starts with a 64-byte header that says where it sits in the log: its own
//! number, its predecessor's number and where the predecessor's records end,
//! and the size it was preallocated to. Records follow at offset 64; the
//! rest of a preallocated segment is zeros. Recovery (`recover`) checks each
//! header against the segment before it and against the `CONTROL` file.

use std::fmt;
use std::io;

use super::crc32c;
use super::record::FrameError;

/// Bytes of a segment header.
pub(crate) const SEGMENT_HEADER: usize = 64;
const MAGIC: &[u8; 8] = b"TRLNJRNL";
/// The on-disk format version this code writes and reads.
pub(crate) const FORMAT_VERSION: u32 = 3;
const SUFFIX: &str = ".seg";

/// A journal that cannot be opened or written.
#[derive(Debug)]
#[non_exhaustive]
pub enum JournalError {
    /// The storage failed.
    Io(io::Error),
    /// Damage that recovery refuses to open past (see
    /// [`Recovery`](crate::journal::Recovery)): a bad record or header, a segment
    /// that is missing or cut short, a damaged control file, or a record
    /// the queue protocol does not allow.
    #[non_exhaustive]
    Corrupt {
        /// The file: a segment, or `CONTROL`. For a missing segment, the
        /// name it would have.
        segment: String,
        /// The byte offset of the damage in it.
        offset: u64,
        /// What is wrong.
        why: String,
        /// How many records recovery would skip to open past the damage
        /// (records found after it that cannot be read in log order);
        /// `None` when they cannot be counted (a missing file).
        records_at_stake: Option<u64>,
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
            JournalError::Corrupt { segment, offset, why, records_at_stake } => {
                write!(f, "journal file {segment} is damaged at byte {offset}: {why}")?;
                match records_at_stake {
                    Some(records) => write!(f, " ({records} record(s) at stake)"),
                    None => f.write_str(" (records at stake unknown)"),
                }
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

impl JournalError {
    pub(crate) fn corrupt(
        file: impl Into<String>,
        offset: u64,
        why: impl Into<String>,
        records_at_stake: Option<u64>,
    ) -> JournalError {
        JournalError::Corrupt { segment: file.into(), offset, why: why.into(), records_at_stake }
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

/// Where a segment sits in the log, as its header records it: its own
/// number, its predecessor's number and the offset where that
/// predecessor's records end (0 and 0 for the first segment ever written),
/// and the size it was preallocated to. Recovery checks each segment against
/// the one before it, so a segment deleted from the middle of the log, or a
/// sealed one cut short (even at a record boundary, which would otherwise
/// read as a clean end), is found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Chain {
    pub(crate) number: u64,
    pub(crate) previous: u64,
    pub(crate) previous_end: u64,
    /// The file's length at creation: a shorter file was cut.
    pub(crate) size: u64,
}

/// The header every segment starts with.
pub(crate) fn segment_header(chain: Chain) -> [u8; SEGMENT_HEADER] {
    let mut header = [0u8; SEGMENT_HEADER];
    header[..8].copy_from_slice(MAGIC);
    header[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    header[16..24].copy_from_slice(&chain.number.to_le_bytes());
    header[24..32].copy_from_slice(&chain.previous.to_le_bytes());
    header[32..40].copy_from_slice(&chain.previous_end.to_le_bytes());
    header[40..48].copy_from_slice(&chain.size.to_le_bytes());
    let crc = crc32c::crc32c(&header[..48]);
    header[48..52].copy_from_slice(&crc.to_le_bytes());
    header
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

/// What a segment's first bytes say.
pub(crate) enum Header {
    Valid(Chain),
    /// Never written (zeros or too short).
    Unwritten,
    Bad(String),
    Version(u32),
}

pub(crate) fn check_header(bytes: &[u8]) -> Header {
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
    let version = u32::from_le_bytes([header[8], header[9], header[10], header[11]]);
    let crc_at = |at: usize| u32::from_le_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]]);
    let this_format = crc32c::crc32c(&header[..48]) == crc_at(48);
    // Format 1 had a 16-byte header with its checksum at byte 12. Another
    // version counts only with an intact checksum: a flipped version bit is
    // damage, not a newer format.
    let format_1 = crc32c::crc32c(&header[..12]) == crc_at(12);
    match (version, this_format) {
        (FORMAT_VERSION, true) => {}
        (FORMAT_VERSION, false) => return Header::Bad("header checksum mismatch".into()),
        (_, true) => return Header::Version(version),
        (_, false) if format_1 => return Header::Version(version),
        (_, false) => return Header::Bad("header checksum mismatch".into()),
    }
    if header[12..16] != [0; 4] || header[52..] != [0; SEGMENT_HEADER - 52] {
        return Header::Bad("reserved header bytes are not zero".into());
    }
    Header::Valid(Chain {
        number: u64_at(header, 16),
        previous: u64_at(header, 24),
        previous_end: u64_at(header, 32),
        size: u64_at(header, 40),
    })
}
