//! Golden journals: a journal written by an earlier build, committed under
//! `tests/fixtures/journals/`, must be read by every later build: queue and
//! subscription definitions, pending messages (acked ones never come back),
//! a derived realistic event with an enum, a serde type that gained a field,
//! and a v1 event read as v2 through its upcaster.
//!
//! `write_golden` is what wrote the fixture (run with
//! `TREELINE_WRITE_GOLDEN=tests/fixtures/journals/<name>` to write one).
//! It also runs on every test run, into a temporary directory, read back by
//! the same checks, so the writer cannot rot.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use treeline::durable::{DurableQueue, DurableSubscription, JournalConfig, StartFrom};
use treeline::{Actor, Context, Durable, Event, ExitReason, HandleCast, HandleEvent, InitError, System};

use crate::support::{probe, Report};

// --- the types, as the build that wrote the fixture had them ---

#[derive(Clone, Debug, PartialEq, Event, Durable)]
#[event(topic = "golden.orders.placed")]
#[durable(tag = "golden.OrderPlaced")]
struct OrderPlaced {
    id: u64,
    lines: Vec<Line>,
    note: Option<String>,
    kind: OrderKind,
}

#[derive(Clone, Debug, PartialEq, Durable)]
#[durable(tag = "golden.Line")]
struct Line {
    sku: String,
    qty: u32,
    cents: u64,
}

#[derive(Clone, Debug, PartialEq, Durable)]
#[durable(tag = "golden.OrderKind")]
enum OrderKind {
    Retail,
    Wholesale { account: u64 },
}

/// Version 1 of the price event: what the fixture holds.
#[derive(Clone, Debug, PartialEq, Durable)]
#[durable(tag = "golden.Price")]
struct PriceV1 {
    sku: String,
    cents: u64,
}

/// Version 2, read from version 1 through the upcaster.
#[derive(Clone, Debug, PartialEq, Durable)]
#[durable(tag = "golden.Price", version = 2, from = PriceV1)]
struct Price {
    sku: String,
    cents: u64,
    currency: String,
}

impl From<PriceV1> for Price {
    fn from(old: PriceV1) -> Self {
        Price { sku: old.sku, cents: old.cents, currency: "EUR".into() }
    }
}

/// The serde type as written.
#[derive(Clone, Debug, Serialize, Deserialize, Durable)]
#[durable(tag = "golden.Note", serde)]
struct NoteV1 {
    text: String,
}

/// The serde type as read: a field added with a default.
#[derive(Clone, Debug, Serialize, Deserialize, Durable)]
#[durable(tag = "golden.Note", serde)]
struct Note {
    text: String,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

fn order(id: u64) -> OrderPlaced {
    OrderPlaced {
        id,
        lines: vec![Line { sku: format!("sku-{id}"), qty: id as u32, cents: 100 * id }],
        note: id.is_multiple_of(2).then(|| format!("note {id}")),
        kind: if id == 3 { OrderKind::Wholesale { account: 42 } } else { OrderKind::Retail },
    }
}

// --- writing ---

/// Handles the first message of a queue and dies on the next, so the
/// journal holds an ack and a delivered, unacked message.
struct AckFirst;

impl Actor for AckFirst {
    type Args = DurableQueue<OrderPlaced>;
    async fn init(queue: Self::Args, ctx: &mut Context<Self>) -> Result<Self, InitError> {
        ctx.consume(&queue).map_err(|error| InitError::Stop(ExitReason::error(error)))?;
        Ok(AckFirst)
    }
}

impl HandleCast<OrderPlaced> for AckFirst {
    async fn handle_cast(&mut self, order: OrderPlaced, _: &mut Context<Self>) -> Result<(), ExitReason> {
        match order.id {
            1 => Ok(()),
            _ => Err(ExitReason::custom("stop holding it")),
        }
    }
}

async fn write_golden(dir: &Path) {
    let system = System::with_journal(JournalConfig::dir(dir).segment_size(4096)).unwrap();
    let orders = system.durable_queue::<OrderPlaced>("golden.orders").await.unwrap();
    let billing: DurableSubscription<OrderPlaced> =
        system.durable_subscription("golden.billing", StartFrom::New).await.unwrap();
    let prices = system.durable_queue::<PriceV1>("golden.prices").await.unwrap();
    let notes = system.durable_queue::<NoteV1>("golden.notes").await.unwrap();
    for id in 1..=3 {
        orders.cast(order(id)).await.unwrap();
    }
    let first = system.spawn::<AckFirst>(orders.clone()).await.unwrap();
    first.join().await;
    for id in 4..=5 {
        system.publish_durable(order(id)).await.unwrap();
    }
    prices.cast(PriceV1 { sku: "tea".into(), cents: 450 }).await.unwrap();
    notes.cast(NoteV1 { text: "hello".into() }).await.unwrap();
    let ids = system.durable_queue::<PriceV1>("golden.ids").await.unwrap();
    ids.cast_with_id("price-1", PriceV1 { sku: "mug".into(), cents: 900 }).await.unwrap();
    drop(billing);
    system.shutdown().await;
}

// --- reading ---

/// Reports every message of a queue or subscription it consumes.
struct Collector<M> {
    report: Report,
    _message: PhantomData<fn() -> M>,
}

enum Source<M: Durable> {
    Queue(DurableQueue<M>),
    Subscription(DurableSubscription<M>),
}

impl<M: Durable + Event + Debug> Actor for Collector<M> {
    type Args = (Report, Source<M>);
    async fn init((report, source): Self::Args, ctx: &mut Context<Self>) -> Result<Self, InitError> {
        let attached = match &source {
            Source::Queue(queue) => ctx.consume(queue),
            Source::Subscription(subscription) => ctx.consume_events(subscription),
        };
        attached.map_err(|error| InitError::Stop(ExitReason::error(error)))?;
        Ok(Collector { report, _message: PhantomData })
    }
}

impl<M: Durable + Event + Debug> HandleCast<M> for Collector<M> {
    async fn handle_cast(&mut self, msg: M, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        let seq = ctx.delivery().map_or(0, |delivery| delivery.seq);
        self.report.say(format!("#{seq} {msg:?}"));
        Ok(())
    }
}

impl<M: Durable + Event + Debug + Clone> HandleEvent<M> for Collector<M> {
    async fn handle_event(&mut self, msg: M, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        self.handle_cast(msg, ctx).await
    }
}

/// Events only so that one collector type serves every source.
impl Event for Price {
    const TOPIC: &'static str = "golden.prices";
}

impl Event for Note {
    const TOPIC: &'static str = "golden.notes";
}

/// Opens a copy of the journal in `dir` and checks everything it holds.
async fn read_golden(dir: &Path) {
    let copy = crate::support::temp_dir("golden-copy");
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name() != "LOCK" {
            std::fs::copy(entry.path(), copy.join(entry.file_name())).unwrap();
        }
    }
    // A window long enough that the fixture's message ids are still known.
    let forever = std::time::Duration::from_secs(100 * 365 * 24 * 3600);
    let system = System::with_journal(JournalConfig::dir(&copy).dedupe_window(forever)).unwrap();
    let (report, mut probe) = probe();
    let orders = system.durable_queue::<OrderPlaced>("golden.orders").await.unwrap();
    system.spawn::<Collector<OrderPlaced>>((report.clone(), Source::Queue(orders))).await.unwrap();
    probe.expect(&format!("#2 {:?}", order(2))).await;
    probe.expect(&format!("#3 {:?}", order(3))).await;

    let billing = system.durable_subscription::<OrderPlaced>("golden.billing", StartFrom::New).await.unwrap();
    system.spawn::<Collector<OrderPlaced>>((report.clone(), Source::Subscription(billing))).await.unwrap();
    probe.expect(&format!("#1 {:?}", order(4))).await;
    probe.expect(&format!("#2 {:?}", order(5))).await;

    let prices = system.durable_queue::<Price>("golden.prices").await.unwrap();
    system.spawn::<Collector<Price>>((report.clone(), Source::Queue(prices))).await.unwrap();
    probe.expect(r#"#1 Price { sku: "tea", cents: 450, currency: "EUR" }"#).await;

    let notes = system.durable_queue::<Note>("golden.notes").await.unwrap();
    system.spawn::<Collector<Note>>((report.clone(), Source::Queue(notes))).await.unwrap();
    probe.expect(r#"#1 Note { text: "hello", tags: {} }"#).await;

    // Journals from the idempotent producers on hold a message stored under
    // an id: the retry finds it; earlier ones have no such queue.
    let ids = system.durable_queue::<Price>("golden.ids").await.unwrap();
    if ids.stats().next_seq > 1 {
        let retry = ids.cast_with_id("price-1", Price { sku: "mug".into(), cents: 900, currency: "EUR".into() });
        assert_eq!(retry.await.unwrap(), 1, "the id is still known");
        system.spawn::<Collector<Price>>((report, Source::Queue(ids))).await.unwrap();
        probe.expect(r#"#1 Price { sku: "mug", cents: 900, currency: "EUR" }"#).await;
    }
    system.shutdown().await;
    let _ = std::fs::remove_dir_all(&copy);
}

/// Every committed golden journal (one directory each).
fn fixtures() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/journals");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|error| panic!("{}: {error}", root.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_dir())
        .collect();
    dirs.sort();
    dirs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn golden_journals_of_earlier_builds_are_read() {
    if let Ok(dir) = std::env::var("TREELINE_WRITE_GOLDEN") {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        assert!(!dir.exists(), "{} exists: a golden journal is written once", dir.display());
        write_golden(&dir).await;
        std::fs::remove_file(dir.join("LOCK")).unwrap();
    }
    let fixtures = fixtures();
    assert!(!fixtures.is_empty(), "no golden journal under tests/fixtures/journals");
    for dir in fixtures {
        read_golden(&dir).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journal_written_by_this_build_reads_as_the_golden_ones_do() {
    let dir = crate::support::temp_dir("golden-fresh");
    write_golden(&dir).await;
    read_golden(&dir).await;
    let _ = std::fs::remove_dir_all(&dir);
}
