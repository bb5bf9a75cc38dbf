//! Supervision benchmarks: crash-to-answering-again restart latency, and the
//! cost of a `ChildRef` hop over a plain `ActorRef`.
//!
//! Run: `cargo bench --bench supervision`

#![allow(missing_docs)]

#[path = "support/shared.rs"]
mod support;

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

use treeline::*;

use support::runtime;

struct Worker;

impl Actor for Worker {
    type Args = ();
    async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> {
        Ok(Worker)
    }
}

struct Crash;
impl HandleCast<Crash> for Worker {
    async fn handle_cast(&mut self, _: Crash, _: &mut Context<Self>) -> Result<(), ExitReason> {
        Err(ExitReason::custom("crash"))
    }
}

struct Ping;
impl HandleCall<Ping> for Worker {
    type Reply = u64;
    async fn handle_call(&mut self, _: Ping, _: &mut Context<Self>) -> Reply<u64> {
        Reply::new(1)
    }
}

fn restart(c: &mut Criterion) {
    let rt = runtime();
    let (system, worker) = rt.block_on(async {
        let system = System::new();
        let spec = ChildSpec::<Worker>::worker("worker", ());
        let worker = spec.child_ref();
        system.start(Supervisor::one_for_one().intensity(u32::MAX, Duration::from_secs(1)).child(spec)).await.unwrap();
        (system, worker)
    });
    let mut group = c.benchmark_group("supervision");
    group.throughput(Throughput::Elements(1)).measurement_time(Duration::from_secs(5));
    group.bench_function("restart_crash_to_answer", |b| {
        b.iter_custom(|iters| {
            let worker = worker.clone();
            rt.block_on(async move {
                tokio::spawn(async move {
                    let started = Instant::now();
                    for _ in 0..iters {
                        let before = worker.id();
                        worker.cast(Crash).await.unwrap();
                        loop {
                            if worker.id() != before && worker.call(Ping).await == Ok(1) {
                                break;
                            }
                            tokio::task::yield_now().await;
                        }
                    }
                    started.elapsed()
                })
                .await
                .unwrap()
            })
        })
    });
    group.bench_function("call_through_child_ref", |b| {
        b.iter_custom(|iters| {
            let worker = worker.clone();
            rt.block_on(async move {
                tokio::spawn(async move {
                    let started = Instant::now();
                    for _ in 0..iters {
                        assert_eq!(worker.call(Ping).await, Ok(1));
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

criterion_group!(benches, restart);
criterion_main!(benches);
