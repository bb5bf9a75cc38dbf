use proptest::prelude::*;

use super::*;
use crate::durable::records::{create_payload, keep_payload, QueueId, Role, ACK, CREATE, ENQUEUE};
use crate::journal::record::{FrameError, OwnedRecord, HEADER};
use crate::journal::recover::Recovery;
use crate::journal::segment::{segment_name, JournalError};
use crate::journal::storage::MemStorage;
use crate::journal::Settings;

/// Writes `records` as a journal would, then opens a store on it.
fn reopen_with(records: Vec<OwnedRecord>) -> Result<Arc<Store>, JournalError> {
    reopen_under(records, Recovery::Refuse)
}

/// Small segments: a store test opens many journals.
fn small() -> Settings {
    Settings { segment_size: 4096, ..Settings::default() }
}

fn reopen_under(records: Vec<OwnedRecord>, recovery: Recovery) -> Result<Arc<Store>, JournalError> {
    let storage: Arc<dyn Storage> = Arc::new(MemStorage::new());
    {
        let (journal, _) = Journal::open(storage.clone(), small()).unwrap();
        futures::executor::block_on(journal.submit(records)).unwrap().unwrap();
    }
    Store::open(storage, Settings { recovery, ..small() })
}

fn any_record() -> impl Strategy<Value = OwnedRecord> {
    let kind = prop_oneof![1u8..=6, Just(7u8), Just(200u8)];
    let seq = prop_oneof![0u64..6, Just(1_000_000_000), Just(u64::MAX - 1), Just(u64::MAX), any::<u64>()];
    let payload = prop_oneof![
        Just(create_payload("q", "T", &Role::Mailbox)),
        Just(create_payload("q", "U", &Role::Log(2))),
        Just(create_payload("r", "T", &Role::Subscription("a.*".into()))),
        Just(keep_payload(3, b"kept")),
        prop::collection::vec(any::<u8>(), 0..12),
    ];
    (kind, 1u32..4, seq, payload).prop_map(|(kind, stream, seq, payload)| OwnedRecord { kind, stream, seq, payload })
}

proptest! {
    /// Any sequence of well-framed records (valid checksums, so only
    /// the queue protocol stands between them and the state) opens or
    /// is refused with a typed error naming a place; never a panic, an
    /// overflow, or memory in proportion to a seq. Skipping always opens,
    /// and what it restated opens again cleanly.
    #[test]
    fn crafted_logs_open_or_are_refused_never_panic(records in prop::collection::vec(any_record(), 0..12)) {
        match reopen_with(records.clone()) {
            Ok(_) => {}
            Err(JournalError::Corrupt { segment, .. }) => prop_assert!(!segment.is_empty()),
            Err(other) => prop_assert!(false, "untyped: {other}"),
        }
        let skipped = reopen_under(records, Recovery::SkipDamaged);
        prop_assert!(skipped.is_ok(), "{:?}", skipped.err());
    }
}

/// After skipping damage, the survivors are restated and the journal
/// reopens clean under the default policy, with the same messages.
#[test]
fn skipping_restates_the_survivors_into_a_clean_journal() {
    let storage: Arc<dyn Storage> = Arc::new(MemStorage::new());
    {
        let (journal, _) = Journal::open(storage.clone(), small()).unwrap();
        let crafted = OwnedRecord { kind: ENQUEUE, stream: 1, seq: 0, payload: b"bad".to_vec() };
        let records = vec![create(), enqueue(1), crafted, enqueue(2)];
        futures::executor::block_on(journal.submit(records)).unwrap().unwrap();
    }
    assert!(Store::open(storage.clone(), small()).is_err());
    let skip = Settings { recovery: Recovery::SkipDamaged, ..small() };
    let store = Store::open(storage.clone(), skip).unwrap();
    let report = store.recovery_report();
    assert_eq!(report.skipped.len(), 1);
    assert!(report.skipped[0].why.contains("out of range"), "{:?}", report.skipped);
    assert_eq!(store.stats(QueueId(1)).pending, 2);
    drop(store);
    let clean = Store::open(storage, small()).unwrap();
    assert_eq!((clean.stats(QueueId(1)).pending, clean.recovery_report().skipped.len()), (2, 0));
    assert_eq!(clean.journal_stats().segments, 1, "the damaged segment was reclaimed");
}

fn create() -> OwnedRecord {
    OwnedRecord { kind: CREATE, stream: 1, seq: 1, payload: create_payload("q", "T", &Role::Mailbox) }
}

fn enqueue(seq: u64) -> OwnedRecord {
    OwnedRecord { kind: ENQUEUE, stream: 1, seq, payload: b"m".to_vec() }
}

/// Crafted records with valid checksums are typed errors that say where
/// the record is; none panics (an overflow used to, in debug builds).
#[test]
fn crafted_records_are_typed_errors_with_their_location() {
    for seq in [0, u64::MAX] {
        match reopen_with(vec![create(), enqueue(seq)]) {
            Err(JournalError::Corrupt { segment, offset, why, .. }) => {
                assert_eq!(segment, segment_name(1));
                let create_len = (HEADER + create().payload.len()) as u64;
                assert_eq!(offset, crate::journal::segment::SEGMENT_HEADER as u64 + create_len, "{why}");
                assert!(why.contains("out of range"), "{why}");
            }
            other => panic!("seq {seq}: expected corruption, got {:?}", other.map(|_| ())),
        }
    }
    let ack = OwnedRecord { kind: ACK, stream: 7, seq: 3, payload: Vec::new() };
    match reopen_with(vec![create(), ack]) {
        Err(JournalError::Corrupt { segment, offset, why, .. }) => {
            assert_eq!(segment, segment_name(1), "reported where the record is: {why}");
            assert!(offset > 0);
        }
        other => panic!("expected corruption, got {:?}", other.map(|_| ())),
    }
}

/// The largest seq a log may hold leaves no next one: the next enqueue
/// is refused with a typed error instead of overflowing.
#[tokio::test(start_paused = true)]
async fn a_queue_whose_seqs_are_used_up_refuses_enqueues() {
    let store = reopen_with(vec![create(), enqueue(u64::MAX - 1)]).unwrap();
    let refused = store.enqueue(QueueId(1), b"late".to_vec(), None).await.unwrap();
    assert!(matches!(refused, Err(JournalError::Frame(FrameError::SeqExhausted))), "{refused:?}");
}

/// A journal whose queue holds the largest id hands out no other: a new
/// queue is refused with its own error, and never given an id in use.
#[tokio::test(start_paused = true)]
async fn a_journal_whose_queue_ids_are_used_up_refuses_new_queues() {
    let last =
        OwnedRecord { kind: CREATE, stream: u32::MAX, seq: 1, payload: create_payload("last", "T", &Role::Mailbox) };
    let store = reopen_with(vec![last]).unwrap();
    let refused = store.open_queue("another", "T", Role::Mailbox, Start::New).await;
    assert!(
        matches!(&refused, Err(crate::durable::DurableError::QueueIdsExhausted { queue }) if queue == "another"),
        "{:?}",
        refused.map(|_| ())
    );
    let existing = store.open_queue("last", "T", Role::Mailbox, Start::New).await.unwrap();
    assert_eq!(existing, QueueId(u32::MAX));
    store.enqueue(existing, b"still works".to_vec(), None).await.unwrap().unwrap();
}
