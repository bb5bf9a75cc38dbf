//! Message-path benchmarks: Counting (casts), call round trip, ThreadRing,
//! bounded-mailbox casts. Multi-thread tokio runtime with 2 workers, the
//! driver an ordinary task, as in `../shared/peers-bench`.
//!
//! Run: `cargo bench --bench messaging`

#![allow(missing_docs)]

#[path = "support/shared.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use treeline::mailbox::{MailboxConfig, Overflow};
use treeline::*;

use support::{runtime, Latch};

// --- Counting ---

struct Counter {
    left: u64,
    done: Arc<Latch>,
}

impl Actor for Counter {
    type Args = (u64, Arc<Latch>);
    async fn init((left, done): Self::Args, _: &mut Context<Self>) -> Result<Self, InitError> {
        Ok(Counter { left, done })
    }
}

impl HandleCast<u64> for Counter {
    async fn handle_cast(&mut self, _: u64, _: &mut Context<Self>) -> Result<(), ExitReason> {
        self.left -= 1;
        if self.left == 0 {
            self.done.count_down();
        }
        Ok(())
    }
}

fn counting(c: &mut Criterion) {
    const N: u64 = 1_000_000;
    let rt = runtime();
    let mut group = c.benchmark_group("counting");
    group.throughput(Throughput::Elements(N)).sample_size(10).measurement_time(Duration::from_secs(5));
    for (label, mailbox) in
        [("unbounded", MailboxConfig::unbounded()), ("bounded_wait_1024", MailboxConfig::bounded(1024, Overflow::Wait))]
    {
        group.bench_function(BenchmarkId::new("casts_1M", label), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    tokio::spawn(async move {
                        let system = System::new();
                        let mut total = Duration::ZERO;
                        for _ in 0..iters {
                            let done = Latch::new(1);
                            let options = SpawnOptions::new().mailbox(mailbox);
                            let counter = system.spawn_with::<Counter>((N, done.clone()), options).await.unwrap();
                            let started = Instant::now();
                            for i in 0..N {
                                counter.cast(i).await.unwrap();
                            }
                            done.wait().await;
                            total += started.elapsed();
                        }
                        system.shutdown().await;
                        total
                    })
                    .await
                    .unwrap()
                })
            })
        });
    }
    group.finish();
}

// --- call round trip ---

struct Echo;

impl Actor for Echo {
    type Args = ();
    async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> {
        Ok(Echo)
    }
}

impl HandleCall<u64> for Echo {
    type Reply = u64;
    async fn handle_call(&mut self, n: u64, _: &mut Context<Self>) -> Reply<u64> {
        Reply::new(n + 1)
    }
}

fn call_round_trip(c: &mut Criterion) {
    let rt = runtime();
    let (system, echo) = rt.block_on(async {
        let system = System::new();
        let echo = system.spawn::<Echo>(()).await.unwrap();
        (system, echo)
    });
    let mut group = c.benchmark_group("call");
    group.throughput(Throughput::Elements(1)).measurement_time(Duration::from_secs(5));
    group.bench_function("round_trip", |b| {
        b.iter_custom(|iters| {
            let echo = echo.clone();
            rt.block_on(async move {
                tokio::spawn(async move {
                    let started = Instant::now();
                    for i in 0..iters {
                        assert_eq!(echo.call(i).await, Ok(i + 1));
                    }
                    started.elapsed()
                })
                .await
                .unwrap()
            })
        })
    });
    group.finish();
    rt.block_on(system.shutdown());
}

// --- ThreadRing ---

struct Node {
    next: Option<ActorRef<Node>>,
    done: Arc<Latch>,
}

impl Actor for Node {
    type Args = Arc<Latch>;
    async fn init(done: Arc<Latch>, _: &mut Context<Self>) -> Result<Self, InitError> {
        Ok(Node { next: None, done })
    }
}

struct Next(ActorRef<Node>);
impl HandleCast<Next> for Node {
    async fn handle_cast(&mut self, Next(next): Next, _: &mut Context<Self>) -> Result<(), ExitReason> {
        self.next = Some(next);
        Ok(())
    }
}

struct Token(u64);
impl HandleCast<Token> for Node {
    async fn handle_cast(&mut self, Token(hops): Token, _: &mut Context<Self>) -> Result<(), ExitReason> {
        match (&self.next, hops) {
            (_, 0) => self.done.count_down(),
            (Some(next), _) => {
                let _ = next.cast(Token(hops - 1)).await;
            }
            (None, _) => {}
        }
        Ok(())
    }
}

fn thread_ring(c: &mut Criterion) {
    const ACTORS: usize = 1_000;
    const HOPS: u64 = 1_000_000;
    let rt = runtime();
    let mut group = c.benchmark_group("thread_ring");
    group.throughput(Throughput::Elements(HOPS)).sample_size(10).measurement_time(Duration::from_secs(5));
    group.bench_function("1k_actors_1M_hops", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                tokio::spawn(async move {
                    let system = System::new();
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let done = Latch::new(1);
                        let mut ring = Vec::with_capacity(ACTORS);
                        for _ in 0..ACTORS {
                            ring.push(system.spawn::<Node>(done.clone()).await.unwrap());
                        }
                        for (i, node) in ring.iter().enumerate() {
                            node.cast(Next(ring[(i + 1) % ACTORS].clone())).await.unwrap();
                        }
                        let started = Instant::now();
                        ring[0].cast(Token(HOPS)).await.unwrap();
                        done.wait().await;
                        total += started.elapsed();
                        for node in &ring {
                            node.request_stop(ExitReason::Normal);
                        }
                    }
                    system.shutdown().await;
                    total
                })
                .await
                .unwrap()
            })
        })
    });
    group.finish();
}

criterion_group!(benches, counting, call_round_trip, thread_ring);
criterion_main!(benches);
