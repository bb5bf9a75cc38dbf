//! Reopen memory follows the live messages, not the span of their seqs: a
//! journal written byte by byte from `docs/journal-format.md` (which this
//! test also checks as a spec), holding a thousand 1 KiB messages and one
//! more with a seq 10^9 further on, opens within a few MiB. Before, the
//! store kept a slot per seq from the oldest pending message to the next
//! seq: 10^9 slots, about 20 GB. Then journals with random seqs anywhere
//! in the range: reopen memory stays within the one segment recovery reads
//! plus a constant per message.
//!
//! Its own test binary, for its counting global allocator (the one place
//! outside `src/` that needs `unsafe`: a `GlobalAlloc` impl).

#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System as Heap};
use std::sync::atomic::{AtomicUsize, Ordering};

use treeline::durable::JournalConfig;
use treeline::journal::{MemStorage, Storage};
use treeline::System;

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(live, Ordering::Relaxed);
        // SAFETY: the caller's layout, passed on.
        unsafe { Heap.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: allocated by `alloc` above with this layout.
        unsafe { Heap.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), bit by bit.
fn crc32c(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0x82F6_3B78 } else { crc >> 1 };
        }
    }
    !crc
}

fn record(out: &mut Vec<u8>, kind: u8, stream: u32, seq: u64, payload: &[u8]) {
    let mut body = vec![kind, 0, 0, 0];
    body.extend_from_slice(&stream.to_le_bytes());
    body.extend_from_slice(&seq.to_le_bytes());
    body.extend_from_slice(payload);
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32c(&body).to_le_bytes());
    out.extend_from_slice(&body);
}

fn text(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(&(text.len() as u16).to_le_bytes());
    out.extend_from_slice(text.as_bytes());
}

const SEGMENT_SIZE: u64 = 4 << 20;
const MESSAGES: u64 = 1_000;
const MESSAGE: usize = 1024;
const GAP: u64 = 1_000_000_000;

/// The journal, as the format document describes it: `records` after the
/// queue's `CREATE`.
fn crafted_journal() -> MemStorage {
    let mut records = Vec::new();
    for seq in 1..=MESSAGES {
        records.push((seq, vec![seq as u8; MESSAGE]));
    }
    records.push((GAP, vec![7; MESSAGE]));
    journal_of(&records)
}

fn journal_of(messages: &[(u64, Vec<u8>)]) -> MemStorage {
    let storage = MemStorage::new();
    let mut slot = Vec::new();
    slot.extend_from_slice(b"TRLNCTRL");
    slot.extend_from_slice(&3u32.to_le_bytes());
    slot.extend_from_slice(&[0; 4]);
    for word in [1u64, 0, 1] {
        slot.extend_from_slice(&word.to_le_bytes()); // generation, reclaimed, head
    }
    let crc = crc32c(&slot);
    slot.extend_from_slice(&crc.to_le_bytes());
    slot.resize(64, 0);
    let control = storage.open("CONTROL", true).unwrap();
    control.set_len(8192).unwrap();
    control.write_all_at(1 << 12, &slot).unwrap(); // generation 1: slot 1

    let mut segment = Vec::new();
    segment.extend_from_slice(b"TRLNJRNL");
    segment.extend_from_slice(&3u32.to_le_bytes());
    segment.extend_from_slice(&[0; 4]);
    for word in [1u64, 0, 0, SEGMENT_SIZE] {
        segment.extend_from_slice(&word.to_le_bytes()); // number, previous, previous_end, size
    }
    let crc = crc32c(&segment);
    segment.extend_from_slice(&crc.to_le_bytes());
    segment.resize(64, 0);
    let mut create = Vec::new();
    text(&mut create, "q");
    text(&mut create, "Vec");
    record(&mut segment, 1, 1, 1, &create);
    for (seq, message) in messages {
        record(&mut segment, 2, 1, *seq, message);
    }
    let file = storage.open("00000000000000000001.seg", true).unwrap();
    file.set_len(SEGMENT_SIZE).unwrap();
    file.write_all_at(0, &segment).unwrap();
    storage
}

/// Peak bytes allocated (over what was live before) while `storage` opens.
fn reopen_peak(storage: &MemStorage) -> (usize, Option<(u64, u64)>) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let stats = runtime.block_on(async {
        let system = System::with_journal(JournalConfig::storage(storage.clone())).ok()?;
        let stats = system.durable_queue::<Vec<u8>>("q").await.ok()?.stats();
        Some((stats.pending, stats.next_seq))
    });
    (PEAK.load(Ordering::Relaxed) - before, stats)
}

/// One test (the allocator's counters are process-wide, so nothing runs
/// beside it): the crafted gap, then random seqs.
#[test]
fn reopen_memory_follows_live_messages_not_the_seq_span() {
    the_crafted_gap_costs_nothing();
    random_seqs_cost_memory_in_proportion_to_the_input();
}

/// Seqs anywhere in the range (ascending, so the log is valid): reopen
/// memory stays within the segment read plus a constant per message,
/// whatever the span.
fn random_seqs_cost_memory_in_proportion_to_the_input() {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..20 {
        let count = 1 + next() % 200;
        let mut seqs: Vec<u64> = (0..count).map(|_| 1 + next() % (u64::MAX - 2)).collect();
        seqs.sort_unstable();
        seqs.dedup();
        let messages: Vec<(u64, Vec<u8>)> = seqs.iter().map(|&seq| (seq, vec![1; (next() % 64) as usize])).collect();
        let (peak, stats) = reopen_peak(&journal_of(&messages));
        assert_eq!(stats.map(|(pending, _)| pending), Some(messages.len() as u64));
        let bound = SEGMENT_SIZE as usize + 1024 * messages.len() + (256 << 10);
        assert!(peak < bound, "{} messages reopened with a peak of {peak} bytes (bound {bound})", messages.len());
    }
}

fn the_crafted_gap_costs_nothing() {
    let storage = crafted_journal();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let (system, stats) = runtime.block_on(async {
        let system = System::with_journal(JournalConfig::storage(storage.clone())).expect("the crafted journal opens");
        let queue = system.durable_queue::<Vec<u8>>("q").await.unwrap();
        let stats = queue.stats();
        (system, stats)
    });
    let peak = PEAK.load(Ordering::Relaxed) - before;
    assert_eq!((stats.pending, stats.next_seq), (MESSAGES + 1, GAP + 1));
    let live = (MESSAGES + 1) as usize * MESSAGE;
    // Recovery reads one segment at a time (4 MiB here) and keeps an index
    // entry per pending message; nothing per seq of the gap.
    let bound = SEGMENT_SIZE as usize + 2 * live;
    eprintln!("reopen peaked at {peak} bytes (bound {bound})");
    assert!(peak < bound, "reopen peaked at {peak} bytes over {before} (bound {bound})");
    drop(system);
}
