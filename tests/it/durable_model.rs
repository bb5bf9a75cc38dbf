//! A model-based property test of durable mailboxes: random sends, acks,
//! handler failures (with supervised restarts) and crashes of the whole
//! process (kill -9, power loss, torn power loss) with a reopen, checked
//! step by step against a plain queue model. Small segments and padded
//! messages make segments roll and get reclaimed along the way (copy-forward
//! is checked in `durable.rs`).
//!
//! With `FsyncPolicy::Always` on a non-blocking storage every append is
//! synced before the operation returns, so the model is exact: after any
//! crash the queue holds exactly the unacked messages, in order, each with
//! its attempt count.

use std::collections::VecDeque;
use std::sync::Arc;

use proptest::prelude::*;
use tokio::sync::{mpsc, Mutex};
use treeline::durable::{CodecError, Consume, DurableQueue, JournalConfig};
use treeline::test_util::{Crash, FaultyStorage};
use treeline::{Actor, ChildSpec, Context, Durable, ExitReason, HandleCast, InitError, Supervisor, System};

use crate::support::{probe, until, Probe, Report};

#[derive(Clone, Debug)]
enum Op {
    Send,
    Ack,
    Fail,
    Crash(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => Just(Op::Send),
        4 => Just(Op::Ack),
        1 => Just(Op::Fail),
        1 => (0u8..3).prop_map(Op::Crash),
    ]
}

/// A message padded to 300 bytes, so that 4 KiB segments fill, roll and get
/// reclaimed (and copied forward when an old message pins one).
struct Padded(u64);

impl Durable for Padded {
    const TAG: &'static str = "model.Padded";

    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        out.extend_from_slice(&self.0.to_le_bytes());
        out.resize(out.len() + 292, 0xA5);
        Ok(())
    }

    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        if bytes.len() != 300 || bytes[8..].iter().any(|&b| b != 0xA5) {
            return Err(CodecError::new("damaged"));
        }
        u64::decode(&bytes[..8]).map(Padded)
    }
}

/// Reports each delivery, then does what the test tells it: `true` returns
/// (ack), `false` panics; a closed channel (its node was abandoned at a
/// crash) hangs for ever.
struct Controlled {
    report: Report,
    verdicts: Arc<Mutex<mpsc::UnboundedReceiver<bool>>>,
}

impl Actor for Controlled {
    type Args = (Report, Arc<Mutex<mpsc::UnboundedReceiver<bool>>>);

    async fn init((report, verdicts): Self::Args, _: &mut Context<Self>) -> Result<Self, InitError> {
        Ok(Controlled { report, verdicts })
    }
}

impl HandleCast<Padded> for Controlled {
    async fn handle_cast(&mut self, Padded(id): Padded, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        let d = ctx.delivery().expect("durable");
        self.report.say(format!("{id},{},{},{}", d.seq, d.attempt, d.redelivered));
        match self.verdicts.lock().await.recv().await {
            Some(true) => Ok(()),
            Some(false) => panic!("told to fail"),
            None => std::future::pending().await,
        }
    }
}

/// One incarnation of the program.
struct Node {
    _system: System,
    queue: DurableQueue<Padded>,
    probe: Probe,
    verdicts: mpsc::UnboundedSender<bool>,
}

async fn start(storage: &FaultyStorage) -> Node {
    let system = System::with_journal(JournalConfig::storage(storage.clone()).segment_size(4096)).unwrap();
    let queue = system.durable_queue::<Padded>("model").await.unwrap();
    let (report, probe) = probe();
    let (verdicts, rx) = mpsc::unbounded_channel();
    let child = ChildSpec::<Controlled>::worker("c", (report, Arc::new(Mutex::new(rx)))).consume(queue.clone());
    let tree = Supervisor::one_for_one().intensity(1_000, std::time::Duration::from_secs(1));
    system.start(tree.child(child)).await.unwrap();
    Node { _system: system, queue, probe, verdicts }
}

/// The model: unacked ids in order, each with its attempts, and whether the
/// front is in the consumer's hands.
#[derive(Default)]
struct Model {
    pending: VecDeque<(u64, u32)>,
    front_delivered: bool,
    next: u64,
}

/// Reads the delivery the idle consumer must get next and checks it.
async fn settle(node: &mut Node, model: &mut Model) {
    if model.front_delivered {
        return;
    }
    if let Some((id, attempts)) = model.pending.front_mut() {
        *attempts += 1;
        let expected = format!("{id},{id},{attempts},{}", *attempts > 1);
        assert_eq!(node.probe.next().await, expected);
        model.front_delivered = true;
    }
    let pending = model.pending.len() as u64;
    until("the queue agrees with the model", || node.queue.stats().pending == pending).await;
}

async fn run(ops: Vec<Op>) {
    let mut storage = FaultyStorage::new();
    let mut node = start(&storage).await;
    let mut model = Model { next: 1, ..Model::default() };
    let mut abandoned = Vec::new();
    for op in ops {
        match op {
            Op::Send => {
                let seq = node.queue.cast(Padded(model.next)).await.unwrap();
                assert_eq!(seq, model.next, "sequence numbers follow sends");
                model.pending.push_back((model.next, 0));
                model.next += 1;
            }
            Op::Ack | Op::Fail if model.pending.is_empty() => {}
            Op::Ack => {
                node.verdicts.send(true).unwrap();
                model.pending.pop_front();
                model.front_delivered = false;
            }
            Op::Fail => {
                node.verdicts.send(false).unwrap();
                model.front_delivered = false; // redelivered to the restarted consumer
                                               // ... unless that was its last allowed attempt: then it is
                                               // dead-lettered (the consumer's default delivery limit).
                let limit = Consume::DEFAULT_DELIVERY_LIMIT;
                if model.pending.front().is_some_and(|&(_, attempts)| attempts >= limit) {
                    model.pending.pop_front();
                }
            }
            Op::Crash(mode) => {
                let crash = match mode {
                    0 => Crash::Process,
                    1 => Crash::PowerLoss,
                    seed => Crash::PowerLossTorn { seed: u64::from(seed) },
                };
                storage = storage.crash(crash);
                abandoned.push(node); // its actors hang; its storage is not ours any more
                node = start(&storage).await;
                model.front_delivered = false;
                assert_eq!(node.queue.stats().next_seq, model.next, "no seq reused after a crash");
            }
        }
        settle(&mut node, &mut model).await;
    }
    let stats = node.queue.stats();
    assert_eq!(stats.pending, model.pending.len() as u64);
    // Reclamation kept up: what is live fits in a few segments.
    let journal = node._system.journal_stats().unwrap();
    let live_bytes = (model.pending.len() as u64 + 1) * 340;
    assert!(journal.segments as u64 <= 3 + live_bytes / 1024, "{journal:?} for {} pending", model.pending.len());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn durable_queues_match_the_model_across_crashes(ops in prop::collection::vec(op(), 0..60)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap();
        runtime.block_on(run(ops));
    }
}
