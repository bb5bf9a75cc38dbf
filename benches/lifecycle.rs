//! Lifecycle benchmarks: spawn, stop (of an idle and of a running actor), and
//! memory per idle actor.
//!
//! Run: `cargo bench --bench lifecycle`

#![allow(missing_docs)]

#[path = "support/shared.rs"]
mod support;

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use treeline::*;

use support::{rss_bytes, runtime};

struct Idle;

impl Actor for Idle {
    type Args = ();
    async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> {
        Ok(Idle)
    }
}

struct Wake;
impl HandleCast<Wake> for Idle {
    async fn handle_cast(&mut self, _: Wake, _: &mut Context<Self>) -> Result<(), ExitReason> {
        Ok(())
    }
}

const BATCH: u64 = 10_000;

/// Runs `body` on a runtime worker (the driver is an ordinary task).
fn on_worker<T: Send + 'static>(
    rt: &tokio::runtime::Runtime,
    body: impl std::future::Future<Output = T> + Send + 'static,
) -> T {
    rt.block_on(async move { tokio::spawn(body).await.unwrap() })
}

fn spawn_and_stop(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("lifecycle");
    group.throughput(Throughput::Elements(BATCH)).sample_size(20).measurement_time(Duration::from_secs(5));
    group.bench_function("spawn_10k", |b| {
        b.iter_custom(|iters| {
            on_worker(&rt, async move {
                let system = System::new();
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let started = Instant::now();
                    let mut actors = Vec::with_capacity(BATCH as usize);
                    for _ in 0..BATCH {
                        actors.push(system.spawn::<Idle>(()).await.unwrap());
                    }
                    total += started.elapsed();
                    for actor in &actors {
                        actor.stop(ExitReason::Normal).await.unwrap();
                    }
                }
                total
            })
        })
    });
    group.bench_function("stop_10k_idle", |b| {
        b.iter_batched(
            || on_worker(&rt, spawn_many(false)),
            |(system, actors)| on_worker(&rt, stop_all(system, actors)),
            BatchSize::PerIteration,
        )
    });
    group.bench_function("stop_10k_running", |b| {
        b.iter_batched(
            || on_worker(&rt, spawn_many(true)),
            |(system, actors)| on_worker(&rt, stop_all(system, actors)),
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

async fn spawn_many(running: bool) -> (System, Vec<ActorRef<Idle>>) {
    let system = System::new();
    let mut actors = Vec::with_capacity(BATCH as usize);
    for _ in 0..BATCH {
        let actor = system.spawn::<Idle>(()).await.unwrap();
        if running {
            actor.cast(Wake).await.unwrap();
        }
        actors.push(actor);
    }
    (system, actors)
}

async fn stop_all(system: System, actors: Vec<ActorRef<Idle>>) {
    for actor in &actors {
        actor.stop(ExitReason::Normal).await.unwrap();
    }
    drop(system);
}

/// Not a timing: prints the resident memory per idle actor, for a freshly
/// spawned actor (no task yet) and for one that handled a message.
fn memory_per_idle_actor(_: &mut Criterion) {
    const N: usize = 100_000;
    let rt = runtime();
    for running in [false, true] {
        let (before, after) = on_worker(&rt, async move {
            let system = System::new();
            let mut actors = Vec::with_capacity(N);
            let before = rss_bytes();
            for _ in 0..N {
                let actor = system.spawn::<Idle>(()).await.unwrap();
                if running {
                    actor.cast(Wake).await.unwrap();
                }
                actors.push(actor);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            let after = rss_bytes();
            system.shutdown().await;
            (before, after)
        });
        let label = if running { "after its first message" } else { "freshly spawned (dormant)" };
        println!("memory per idle actor, {label}: {} bytes", after.saturating_sub(before) / N as u64);
    }
}

criterion_group!(benches, memory_per_idle_actor, spawn_and_stop);
criterion_main!(benches);
