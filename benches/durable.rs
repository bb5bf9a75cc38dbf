//! Durable mailboxes on a real journal directory (ext4 here), fsync
//! `Always` unless noted:
//!
//! * `journal_append/batch_N`: the journal alone, N records (64-byte
//!   payloads) per fsync (the disk floor measured with a plain
//!   write + fdatasync loop on this machine: ~57k/s at 8 per fsync,
//!   ~300-350k/s at 64, 0.5-1.3M/s at 512).
//! * `durable_throughput/pipelined_1_sender`: persist + handle + ack, one
//!   sender keeping up to 1,024 sends in flight.
//! * `durable_throughput/64_senders`: 64 senders, each awaiting its confirm
//!   before its next send.
//! * Printed, not timed by criterion: recovery time per GiB of log, and the
//!   resident memory of a backlog of 1M messages with no consumer.

#[path = "support/shared.rs"]
mod shared;

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use futures::stream::{FuturesUnordered, StreamExt};
use shared::{rss_bytes, runtime, Latch};
use treeline::durable::{DurableError, DurableQueue, JournalConfig};
use treeline::journal::FsyncPolicy;
use treeline::{Actor, Context, ExitReason, HandleCast, InitError, System};

/// A fresh directory for one measurement (removed when dropped).
struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let dir = std::env::temp_dir().join(format!("treeline-bench-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Dir(dir)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn journal_append(c: &mut Criterion) {
    let mut group = c.benchmark_group("journal_append");
    group.sample_size(10);
    for batch in [1usize, 8, 64, 512] {
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_function(format!("batch_{batch}"), |b| {
            b.iter_custom(|iters| {
                let dir = Dir::new("append");
                treeline::test_util::journal_append_batches(&dir.0, batch, iters as usize, 64).unwrap()
            })
        });
    }
    group.finish();
}

/// Counts what it handles down on a latch.
struct Sink(Arc<Latch>);

impl Actor for Sink {
    type Args = (DurableQueue<u64>, Arc<Latch>);

    async fn init((queue, latch): Self::Args, ctx: &mut Context<Self>) -> Result<Self, InitError> {
        ctx.consume(&queue).map_err(|e| InitError::Stop(ExitReason::error(e)))?;
        Ok(Sink(latch))
    }
}

impl HandleCast<u64> for Sink {
    async fn handle_cast(&mut self, _: u64, _: &mut Context<Self>) -> Result<(), ExitReason> {
        self.0.count_down();
        Ok(())
    }
}

/// Sends `n` messages with `senders` senders (each keeping `depth` sends in
/// flight) and waits until the consumer handled them all.
async fn persist_handle_ack(n: u64, senders: u64, depth: usize) -> Duration {
    let dir = Dir::new("throughput");
    let system = System::with_journal(JournalConfig::dir(&dir.0)).unwrap();
    let queue = system.durable_queue::<u64>("bench").await.unwrap();
    let latch = Latch::new(n);
    system.spawn::<Sink>((queue.clone(), latch.clone())).await.unwrap();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for sender in 0..senders {
        let queue = queue.clone();
        tasks.push(tokio::spawn(async move {
            let mut in_flight =
                FuturesUnordered::<Pin<Box<dyn Future<Output = Result<u64, DurableError>> + Send>>>::new();
            for i in 0..n / senders {
                if in_flight.len() >= depth {
                    in_flight.next().await.unwrap().unwrap();
                }
                let queue = queue.clone();
                in_flight.push(Box::pin(async move { queue.cast(sender << 32 | i).await }));
            }
            while let Some(sent) = in_flight.next().await {
                sent.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    latch.wait().await;
    let elapsed = started.elapsed();
    system.shutdown().await;
    elapsed
}

fn durable_throughput(c: &mut Criterion) {
    const N: u64 = 64 * 1_000;
    let rt = runtime();
    let mut group = c.benchmark_group("durable_throughput");
    group.sample_size(10);
    group.throughput(Throughput::Elements(N));
    group.bench_function("pipelined_1_sender", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| rt.block_on(persist_handle_ack(N, 1, 1_024))).sum())
    });
    group.bench_function("64_senders", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| rt.block_on(persist_handle_ack(N, 64, 1))).sum())
    });
    group.finish();
}

/// The realistic event, derived.
#[derive(Clone, Debug, PartialEq, treeline::Durable)]
#[durable(tag = "bench.OrderPlaced")]
struct OrderPlaced {
    id: u64,
    lines: Vec<Line>,
    note: Option<String>,
    kind: OrderKind,
}

#[derive(Clone, Debug, PartialEq, treeline::Durable, serde::Serialize, serde::Deserialize)]
#[durable(tag = "bench.Line")]
struct Line {
    sku: String,
    qty: u32,
    cents: u64,
}

#[derive(Clone, Debug, PartialEq, treeline::Durable, serde::Serialize, serde::Deserialize)]
#[durable(tag = "bench.OrderKind")]
enum OrderKind {
    Retail,
    Wholesale { account: u64 },
}

/// The same event through the serde bridge (JSON).
#[derive(Clone, Debug, PartialEq, treeline::Durable, serde::Serialize, serde::Deserialize)]
#[durable(tag = "bench.OrderPlacedJson", serde)]
struct OrderPlacedJson {
    id: u64,
    lines: Vec<Line>,
    note: Option<String>,
    kind: OrderKind,
}

/// One encode and one decode of a message, per codec: a `u64` (the type
/// the throughput rows use), the realistic event derived, and through serde.
fn durable_codec(c: &mut Criterion) {
    use treeline::Durable;

    fn round_trip<M: Durable>(msg: &M, out: &mut Vec<u8>) -> M {
        out.clear();
        msg.encode(out).unwrap();
        M::decode(out).unwrap()
    }
    let lines: Vec<Line> =
        (0..3).map(|n| Line { sku: format!("sku-{n:04}"), qty: n + 1, cents: 1_250 * u64::from(n + 1) }).collect();
    let derived = OrderPlaced {
        id: 7,
        lines: lines.clone(),
        note: Some("leave at the door".into()),
        kind: OrderKind::Wholesale { account: 42 },
    };
    let json = OrderPlacedJson {
        id: 7,
        lines,
        note: Some("leave at the door".into()),
        kind: OrderKind::Wholesale { account: 42 },
    };
    let mut group = c.benchmark_group("durable_codec");
    let mut out = Vec::with_capacity(1024);
    group.bench_function("u64", |b| b.iter(|| round_trip(std::hint::black_box(&7u64), &mut out)));
    group.bench_function("order_placed_derived", |b| b.iter(|| round_trip(std::hint::black_box(&derived), &mut out)));
    group.bench_function("order_placed_serde_json", |b| b.iter(|| round_trip(std::hint::black_box(&json), &mut out)));
    group.finish();
    for (name, bytes) in [("derived", encoded(&derived)), ("serde_json", encoded(&json))] {
        eprintln!("durable_codec: the realistic event is {bytes} bytes {name}");
    }
}

fn encoded<M: treeline::Durable>(msg: &M) -> usize {
    let mut out = Vec::new();
    msg.encode(&mut out).unwrap();
    out.len()
}

/// Not a criterion timing: a backlog of 1M 64-byte messages with no
/// consumer (resident memory before and after), then the time to reopen
/// that journal (recovery), per GiB of log.
fn backlog_memory_and_recovery(_: &mut Criterion) {
    const N: u64 = 1_000_000;
    let rt = runtime();
    let dir = Dir::new("backlog");
    let config = || JournalConfig::dir(&dir.0).fsync(FsyncPolicy::Interval(Duration::from_millis(5)));
    let (before, after, log_bytes) = rt.block_on(async {
        let system = System::with_journal(config()).unwrap();
        let queue = system.durable_queue::<Vec<u8>>("backlog").await.unwrap();
        let before = rss_bytes();
        let mut in_flight = FuturesUnordered::<Pin<Box<dyn Future<Output = Result<u64, DurableError>>>>>::new();
        for _ in 0..N {
            if in_flight.len() >= 4_096 {
                in_flight.next().await.unwrap().unwrap();
            }
            let queue = queue.clone();
            in_flight.push(Box::pin(async move { queue.cast(vec![7u8; 64]).await }));
        }
        while let Some(sent) = in_flight.next().await {
            sent.unwrap();
        }
        let after = rss_bytes();
        assert_eq!(queue.stats().pending, N);
        let stats = system.journal_stats().unwrap();
        (before, after, stats.segments as u64 * stats.segment_size)
    });
    println!(
        "backlog of {N} durable messages (64 B each, no consumer): resident memory +{} MiB ({} B per message)",
        after.saturating_sub(before) >> 20,
        after.saturating_sub(before) / N
    );
    let started = Instant::now();
    let reopened = System::with_journal(config()).unwrap();
    let took = started.elapsed();
    let pending = rt.block_on(reopened.durable_queue::<Vec<u8>>("backlog")).unwrap().stats().pending;
    assert_eq!(pending, N);
    let gib = log_bytes as f64 / f64::from(1u32 << 30);
    println!(
        "recovery: {pending} pending messages, {:.0} MiB of segments, in {took:.2?} ({:.2} s per GiB)",
        log_bytes as f64 / f64::from(1u32 << 20),
        took.as_secs_f64() / gib
    );
}

criterion_group!(benches, journal_append, durable_throughput, durable_codec, backlog_memory_and_recovery);
criterion_main!(benches);
