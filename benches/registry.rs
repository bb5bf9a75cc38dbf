//! Registry benchmarks: fan-out through topics, publish latency by
//! subscriber count, name lookup.
//!
//! Run: `cargo bench --bench registry`

#![allow(missing_docs)]

#[path = "support/shared.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use treeline::*;

use support::{runtime, Latch};

#[derive(Clone)]
struct Tick(u64);
impl Event for Tick {
    const TOPIC: &'static str = "bench.tick";
}

/// A 256-byte event, to compare a clone per subscriber with an `Arc`.
#[derive(Clone)]
struct Bulky([u64; 32]);
impl Event for Bulky {
    const TOPIC: &'static str = "bench.bulky";
}

#[derive(Clone)]
struct Shared(Arc<[u64; 32]>);
impl Event for Shared {
    const TOPIC: &'static str = "bench.shared";
}

struct Subscriber {
    left: u64,
    done: Arc<Latch>,
}

impl Actor for Subscriber {
    type Args = (u64, Arc<Latch>);
    async fn init((left, done): Self::Args, ctx: &mut Context<Self>) -> Result<Self, InitError> {
        ctx.subscribe::<Tick>()?;
        ctx.subscribe::<Bulky>()?;
        ctx.subscribe::<Shared>()?;
        Ok(Subscriber { left, done })
    }
}

impl Subscriber {
    fn count(&mut self) {
        self.left -= 1;
        if self.left == 0 {
            self.done.count_down();
        }
    }
}

impl HandleEvent<Tick> for Subscriber {
    async fn handle_event(&mut self, t: Tick, _: &mut Context<Self>) -> Result<(), ExitReason> {
        std::hint::black_box(t.0);
        self.count();
        Ok(())
    }
}

impl HandleEvent<Bulky> for Subscriber {
    async fn handle_event(&mut self, b: Bulky, _: &mut Context<Self>) -> Result<(), ExitReason> {
        std::hint::black_box(b.0[0]);
        self.count();
        Ok(())
    }
}

impl HandleEvent<Shared> for Subscriber {
    async fn handle_event(&mut self, s: Shared, _: &mut Context<Self>) -> Result<(), ExitReason> {
        std::hint::black_box(s.0[0]);
        self.count();
        Ok(())
    }
}

/// 1,000 subscribers x 1,000 events, each subscriber counting to 1,000.
fn fan_out(c: &mut Criterion) {
    const SUBSCRIBERS: u64 = 1_000;
    const EVENTS: u64 = 1_000;
    let rt = runtime();
    let mut group = c.benchmark_group("fan_out");
    group
        .throughput(Throughput::Elements(SUBSCRIBERS * EVENTS))
        .sample_size(10)
        .measurement_time(Duration::from_secs(5));
    for kind in ["small", "bulky_clone", "bulky_arc"] {
        group.bench_function(BenchmarkId::new("1k_x_1k", kind), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async move {
                    tokio::spawn(async move {
                        let mut total = Duration::ZERO;
                        for _ in 0..iters {
                            let system = System::new();
                            let done = Latch::new(SUBSCRIBERS);
                            for _ in 0..SUBSCRIBERS {
                                system.spawn::<Subscriber>((EVENTS, done.clone())).await.unwrap();
                            }
                            let bulky = [7u64; 32];
                            let shared = Arc::new(bulky);
                            let started = Instant::now();
                            for n in 0..EVENTS {
                                let delivered = match kind {
                                    "small" => system.publish(Tick(n)).await,
                                    "bulky_clone" => system.publish(Bulky(bulky)).await,
                                    _ => system.publish(Shared(shared.clone())).await,
                                };
                                assert_eq!(delivered, Ok(SUBSCRIBERS as usize));
                            }
                            done.wait().await;
                            total += started.elapsed();
                            system.shutdown().await;
                        }
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

/// The cost of one publish (queueing only) by subscriber count.
fn publish_latency(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("publish");
    for subscribers in [0u64, 1, 10, 1_000] {
        let system = rt.block_on(async {
            let system = System::new();
            for _ in 0..subscribers {
                system.spawn::<Subscriber>((u64::MAX, Latch::new(1))).await.unwrap();
            }
            system
        });
        group.throughput(Throughput::Elements(1));
        group.bench_function(BenchmarkId::new("subscribers", subscribers), |b| {
            b.iter_custom(|iters| {
                let system = system.clone();
                rt.block_on(async move {
                    tokio::spawn(async move {
                        let started = Instant::now();
                        for n in 0..iters {
                            let _ = system.registry().try_publish(Tick(n));
                        }
                        let elapsed = started.elapsed();
                        tokio::time::sleep(Duration::from_millis(5)).await; // let subscribers drain
                        elapsed
                    })
                    .await
                    .unwrap()
                })
            })
        });
        rt.block_on(system.shutdown());
    }
    group.finish();
}

struct Named;
impl Actor for Named {
    type Args = ();
    async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> {
        Ok(Named)
    }
}

fn lookup(c: &mut Criterion) {
    let rt = runtime();
    let system = rt.block_on(async {
        let system = System::new();
        for n in 0..10_000 {
            let options = SpawnOptions::new().name(Name::<Named>::owned(format!("named-{n}")));
            system.spawn_with::<Named>((), options).await.unwrap();
        }
        system
    });
    let name: Name<Named> = Name::owned("named-4242");
    c.bench_function("registry/whereis_among_10k", |b| b.iter(|| system.whereis(&name).unwrap()));
    rt.block_on(system.shutdown());
}

criterion_group!(benches, fan_out, publish_latency, lookup);
criterion_main!(benches);
