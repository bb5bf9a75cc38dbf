//! Record framing: how one journal record is laid out in a segment, and how
//! a segment's bytes are read back.
//!
//! ```text
//! offset  size  field
//!      0     4  len     payload length, u32 little-endian
//!      4     4  crc     CRC-32C of bytes 8 .. 24 + len (kind .. end of payload)
//!      8     1  kind    what the record means to the layer above; never 0
//!      9     3  zero    reserved, must be 0
//!     12     4  stream  stream id, u32 little-endian
//!     16     8  seq     sequence number, u64 little-endian
//!     24   len  payload opaque bytes
//! ```
//!
//! Segments are preallocated with zeros, so a zero `kind` marks the end of
//! the data written so far; the reader tells a clean end (an all-zero header)
//! from a torn one (a frame cut short) and from corruption (a checksum that
//! does not match, a nonzero reserved byte, an impossible length). What to do
//! with each is the recovery layer's decision, not this one's.

use std::fmt;

use super::crc32c;

/// Bytes before the payload.
pub(crate) const HEADER: usize = 24;

/// The kind of the journal's own sync mark, which the layers above never
/// see: the writer puts one (stream 0, seq 0, no payload) before the first
/// record written after a sync, so a valid mark after a bad record in the
/// last segment proves the bad record was synced (corruption, not a torn
/// write). Kind 255 is the journal's own; the layers above use 1..=254.
pub(crate) const SYNC: u8 = 255;

/// The sync mark, framed.
pub(crate) fn sync_mark() -> [u8; HEADER] {
    let mut frame = [0u8; HEADER];
    frame[8] = SYNC;
    let crc = crc32c::crc32c(&frame[8..]);
    frame[4..8].copy_from_slice(&crc.to_le_bytes());
    frame
}

/// The largest payload a record may carry (16 MiB); a larger length in a
/// header is corruption.
pub(crate) const MAX_PAYLOAD: usize = 16 << 20;

/// One record, borrowing its payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Record<'a> {
    pub(crate) kind: u8,
    pub(crate) stream: u32,
    pub(crate) seq: u64,
    pub(crate) payload: &'a [u8],
}

/// Where a record starts: its segment's number and its byte offset there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Loc {
    pub(crate) segment: u64,
    pub(crate) offset: u64,
}

/// A record with its payload owned: as senders submit it, and as recovery
/// returns it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct OwnedRecord {
    pub(crate) kind: u8,
    pub(crate) stream: u32,
    pub(crate) seq: u64,
    pub(crate) payload: Vec<u8>,
}

impl Record<'_> {
    /// A copy that owns its payload.
    #[cfg(test)]
    pub(crate) fn to_owned_record(self) -> OwnedRecord {
        OwnedRecord { kind: self.kind, stream: self.stream, seq: self.seq, payload: self.payload.to_vec() }
    }
}

impl OwnedRecord {
    pub(crate) fn as_record(&self) -> Record<'_> {
        Record { kind: self.kind, stream: self.stream, seq: self.seq, payload: &self.payload }
    }
}

/// A record that cannot be framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameError {
    /// Kind 0 is reserved for "no record here".
    ZeroKind,
    /// The payload is longer than the 16 MiB a record may carry.
    TooLong(usize),
    /// The stream's sequence numbers are used up (only a crafted journal
    /// gets there: 2^64 - 1 messages).
    SeqExhausted,
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::ZeroKind => f.write_str("record kind 0 is reserved"),
            FrameError::TooLong(len) => write!(f, "payload of {len} bytes exceeds {MAX_PAYLOAD}"),
            FrameError::SeqExhausted => f.write_str("the stream's sequence numbers are used up"),
        }
    }
}

impl Record<'_> {
    /// The size of the framed record.
    pub(crate) fn framed_len(&self) -> usize {
        HEADER + self.payload.len()
    }

    /// Appends the framed record to `out`.
    pub(crate) fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), FrameError> {
        if self.kind == 0 {
            return Err(FrameError::ZeroKind);
        }
        if self.payload.len() > MAX_PAYLOAD {
            return Err(FrameError::TooLong(self.payload.len()));
        }
        let start = out.len();
        out.reserve(self.framed_len());
        // Bounded by MAX_PAYLOAD above, so the cast cannot truncate.
        out.extend_from_slice(&(self.payload.len() as u32).to_le_bytes());
        out.extend_from_slice(&[0; 4]); // the checksum, filled in below
        out.extend_from_slice(&[self.kind, 0, 0, 0]);
        out.extend_from_slice(&self.stream.to_le_bytes());
        out.extend_from_slice(&self.seq.to_le_bytes());
        out.extend_from_slice(self.payload);
        let crc = crc32c::crc32c(&out[start + 8..]);
        out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
        Ok(())
    }
}

/// Why bytes are not a valid record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Corruption {
    /// The checksum does not match the bytes.
    Checksum,
    /// A zero kind with a nonzero header: not a clean end.
    ZeroKind,
    /// A reserved byte is not zero.
    Reserved,
    /// The length exceeds [`MAX_PAYLOAD`].
    TooLong,
}

impl fmt::Display for Corruption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Corruption::Checksum => "checksum mismatch",
            Corruption::ZeroKind => "zero kind in a nonzero header",
            Corruption::Reserved => "nonzero reserved bytes",
            Corruption::TooLong => "impossible record length",
        })
    }
}

/// What the bytes at the start of a buffer are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Decoded<'a> {
    /// A valid record, `len` bytes long framed.
    Record(Record<'a>, usize),
    /// No record: the buffer is empty or starts with zeros up to a header's
    /// length (or to its end).
    End,
    /// A record cut short: its header or payload runs past the buffer.
    Torn,
    /// Bytes that are not a record.
    Corrupt(Corruption),
}

/// Reads the record at the start of `buf`. Never panics, whatever the bytes.
pub(crate) fn decode(buf: &[u8]) -> Decoded<'_> {
    if buf.len() < HEADER {
        return if buf.iter().all(|&b| b == 0) { Decoded::End } else { Decoded::Torn };
    }
    let header = &buf[..HEADER];
    let kind = header[8];
    if kind == 0 {
        return if header.iter().all(|&b| b == 0) { Decoded::End } else { Decoded::Corrupt(Corruption::ZeroKind) };
    }
    if header[9..12] != [0, 0, 0] {
        return Decoded::Corrupt(Corruption::Reserved);
    }
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
    if len > MAX_PAYLOAD {
        return Decoded::Corrupt(Corruption::TooLong);
    }
    let Some(frame) = buf.get(..HEADER + len) else { return Decoded::Torn };
    let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    if crc32c::crc32c(&frame[8..]) != crc {
        return Decoded::Corrupt(Corruption::Checksum);
    }
    let stream = u32::from_le_bytes([header[12], header[13], header[14], header[15]]);
    let seq = u64::from_le_bytes([
        header[16], header[17], header[18], header[19], header[20], header[21], header[22], header[23],
    ]);
    Decoded::Record(Record { kind, stream, seq, payload: &frame[HEADER..] }, frame.len())
}

/// How the valid records of a buffer end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tail {
    /// Cleanly: the rest is zeros, or nothing.
    Clean,
    /// With a record cut short at `valid`.
    Torn,
    /// With bytes at `valid` that are not a record.
    Corrupt(Corruption),
}

/// The records of a buffer, up to the first thing that is not one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Scan<'a> {
    pub(crate) records: Vec<Record<'a>>,
    /// Bytes covered by `records`: where the next record would go.
    pub(crate) valid: usize,
    pub(crate) tail: Tail,
}

/// Reads records from the start of `buf` until the data ends or stops
/// making sense. Never panics.
pub(crate) fn scan(buf: &[u8]) -> Scan<'_> {
    let mut records = Vec::new();
    let mut valid = 0;
    loop {
        let tail = match decode(&buf[valid..]) {
            Decoded::Record(record, len) => {
                records.push(record);
                valid += len;
                continue;
            }
            // A zero header followed by more data is not a clean end.
            Decoded::End if buf[valid..].iter().all(|&b| b == 0) => Tail::Clean,
            Decoded::End => Tail::Corrupt(Corruption::ZeroKind),
            Decoded::Torn => Tail::Torn,
            Decoded::Corrupt(why) => Tail::Corrupt(why),
        };
        return Scan { records, valid, tail };
    }
}

/// Searches `buf` from `from` on for the next offset where a valid record
/// starts (after damage, to find what follows it). Each candidate's checksum
/// costs its length against `budget`; when the budget is spent the search
/// gives up (`None`), so crafted bytes cannot make it quadratic.
pub(crate) fn resync(buf: &[u8], from: usize, budget: &mut usize) -> Option<usize> {
    let mut at = from;
    while at + HEADER <= buf.len() {
        let header = &buf[at..at + HEADER];
        if header[8] != 0 && header[9..12] == [0, 0, 0] {
            let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
            if len <= MAX_PAYLOAD && at + HEADER + len <= buf.len() {
                if *budget < HEADER + len {
                    *budget = 0;
                    return None;
                }
                *budget -= HEADER + len;
                if let Decoded::Record(..) = decode(&buf[at..]) {
                    return Some(at);
                }
            }
        }
        at += 1;
    }
    None
}

/// Counts the records found in `buf[from..]` by reading on after each valid
/// one and resyncing after anything else (sync marks not counted), and
/// whether there is a sync mark among them. `None` for the count when the
/// budget ran out (it is then at least what was counted).
pub(crate) fn salvage(buf: &[u8], from: usize, mut budget: usize) -> Salvage {
    let mut found = Salvage { records: Some(0), first: None, synced: false };
    let mut at = from;
    loop {
        let Some(next) = resync(buf, at, &mut budget) else {
            if budget == 0 {
                found.records = None;
            }
            return found;
        };
        found.first.get_or_insert(next);
        at = next;
        while let Decoded::Record(record, len) = decode(&buf[at..]) {
            if record.kind == SYNC {
                found.synced = true;
            } else {
                found.records = found.records.map(|n| n + 1);
            }
            at += len;
        }
    }
}

/// What [`salvage`] found after damage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Salvage {
    /// Valid records (not counting sync marks); `None` if too costly to count.
    pub(crate) records: Option<u64>,
    /// Where the first valid record after the damage starts.
    pub(crate) first: Option<usize>,
    /// Whether a sync mark is among them.
    pub(crate) synced: bool,
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn encode(records: &[(u8, u32, u64, Vec<u8>)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (kind, stream, seq, payload) in records {
            Record { kind: *kind, stream: *stream, seq: *seq, payload }.encode_into(&mut out).unwrap();
        }
        out
    }

    fn owned(records: &[Record<'_>]) -> Vec<(u8, u32, u64, Vec<u8>)> {
        records.iter().map(|r| (r.kind, r.stream, r.seq, r.payload.to_vec())).collect()
    }

    fn records() -> impl Strategy<Value = Vec<(u8, u32, u64, Vec<u8>)>> {
        prop::collection::vec((1u8.., any::<u32>(), any::<u64>(), prop::collection::vec(any::<u8>(), 0..40)), 0..6)
    }

    #[test]
    fn the_layout_is_as_documented() {
        let mut out = Vec::new();
        Record { kind: 3, stream: 0x0102_0304, seq: 0x0A0B_0C0D_0E0F_1011, payload: b"hi" }
            .encode_into(&mut out)
            .unwrap();
        assert_eq!(out.len(), HEADER + 2);
        assert_eq!(&out[0..4], &2u32.to_le_bytes());
        assert_eq!(&out[4..8], &crc32c::crc32c(&out[8..]).to_le_bytes());
        assert_eq!(&out[8..12], &[3, 0, 0, 0]);
        assert_eq!(&out[12..16], &[4, 3, 2, 1]);
        assert_eq!(&out[16..24], &[0x11, 0x10, 0x0F, 0x0E, 0x0D, 0x0C, 0x0B, 0x0A]);
        assert_eq!(&out[24..], b"hi");
    }

    #[test]
    fn unframeable_records_are_errors() {
        let mut out = Vec::new();
        let zero = Record { kind: 0, stream: 1, seq: 1, payload: b"" };
        assert_eq!(zero.encode_into(&mut out), Err(FrameError::ZeroKind));
        let big = vec![0u8; MAX_PAYLOAD + 1];
        let too_long = Record { kind: 1, stream: 1, seq: 1, payload: &big };
        assert_eq!(too_long.encode_into(&mut out), Err(FrameError::TooLong(MAX_PAYLOAD + 1)));
        assert!(out.is_empty(), "nothing written on error");
    }

    #[test]
    fn preallocated_zeros_are_a_clean_end_and_a_zero_header_before_data_is_not() {
        let mut buf = encode(&[(1, 7, 1, b"a".to_vec())]);
        let valid = buf.len();
        buf.resize(valid + 100, 0);
        let scan = scan(&buf);
        assert_eq!((scan.records.len(), scan.valid, scan.tail), (1, valid, Tail::Clean));
        buf[valid + 60] = 1; // a stray byte after a gap of zeros
        assert_eq!(super::scan(&buf).tail, Tail::Corrupt(Corruption::ZeroKind));
    }

    proptest! {
        #[test]
        fn records_round_trip(records in records()) {
            let buf = encode(&records);
            let scan = scan(&buf);
            prop_assert_eq!(owned(&scan.records), records);
            prop_assert_eq!(scan.valid, buf.len());
            prop_assert_eq!(scan.tail, Tail::Clean);
        }

        #[test]
        fn a_cut_anywhere_yields_a_prefix(records in records(), cut in any::<prop::sample::Index>()) {
            let buf = encode(&records);
            let cut = cut.index(buf.len() + 1);
            let scan = scan(&buf[..cut]);
            let n = scan.records.len();
            prop_assert_eq!(owned(&scan.records), &records[..n]);
            // The records that fit entirely are all recovered.
            let fitting = records.iter().scan(0, |end, r| { *end += HEADER + r.3.len(); Some(*end) })
                .take_while(|&end| end <= cut).count();
            prop_assert_eq!(n, fitting);
            prop_assert!(scan.valid <= cut);
            // A cut tail reads as clean only if what is left of it is zeros
            // (indistinguishable from preallocated space, and nothing valid).
            if scan.tail == Tail::Clean {
                prop_assert!(buf[scan.valid..cut].iter().all(|&b| b == 0));
            }
        }

        #[test]
        fn a_flipped_bit_is_caught_and_never_invents_a_record(
            records in records().prop_filter("non-empty", |r| !r.is_empty()),
            at in any::<prop::sample::Index>(),
            bit in 0u8..8,
        ) {
            let mut buf = encode(&records);
            let at = at.index(buf.len());
            buf[at] ^= 1 << bit;
            let scan = scan(&buf);
            let n = scan.records.len();
            // Every record before the damaged one survives; the damaged one
            // and everything after it are not returned.
            prop_assert_eq!(owned(&scan.records), &records[..n]);
            prop_assert!(scan.valid <= at);
            prop_assert_ne!(scan.tail, Tail::Clean);
        }

        #[test]
        fn garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            let scan = scan(&bytes);
            prop_assert!(scan.valid <= bytes.len());
        }
    }
}
