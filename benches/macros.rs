//! The macro form costs what the hand-written form costs: the same Counting
//! (1M casts to one actor) and call round trip, once with hand-written
//! `HandleCast`/`HandleCall` impls and once with `#[actor]` methods called
//! through the generated `*Api` trait.

#[path = "support/shared.rs"]
mod shared;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use shared::{runtime, Latch};
use treeline::{actor, Actor, ActorRef, Context, ExitReason, HandleCall, HandleCast, InitError, Reply, System};

/// Counts casts down; answers calls with n + 1.
struct Plain {
    left: u64,
    done: Arc<Latch>,
}

/// The same actor written with `#[actor]`.
struct Macro {
    left: u64,
    done: Arc<Latch>,
}

impl Actor for Plain {
    type Args = (u64, Arc<Latch>);
    async fn init((left, done): Self::Args, _: &mut Context<Self>) -> Result<Self, InitError> {
        Ok(Plain { left, done })
    }
}

impl Actor for Macro {
    type Args = (u64, Arc<Latch>);
    async fn init((left, done): Self::Args, _: &mut Context<Self>) -> Result<Self, InitError> {
        Ok(Macro { left, done })
    }
}

impl HandleCast<u64> for Plain {
    async fn handle_cast(&mut self, _: u64, _: &mut Context<Self>) -> Result<(), ExitReason> {
        self.left -= 1;
        if self.left == 0 {
            self.done.count_down();
        }
        Ok(())
    }
}

impl HandleCall<u64> for Plain {
    type Reply = u64;
    async fn handle_call(&mut self, n: u64, _: &mut Context<Self>) -> Reply<u64> {
        Reply::new(n + 1)
    }
}

#[actor]
impl Macro {
    #[cast]
    async fn tick(&mut self, _n: u64) {
        self.left -= 1;
        if self.left == 0 {
            self.done.count_down();
        }
    }

    #[call]
    async fn echo(&mut self, n: u64) -> u64 {
        n + 1
    }
}

/// Time for 1M casts handled, per iteration.
async fn counting<A, F, Fut>(iters: u64, cast: F) -> Duration
where
    A: Actor<Args = (u64, Arc<Latch>)>,
    F: Fn(&ActorRef<A>, u64) -> Fut,
    Fut: Future<Output = ()>,
{
    const N: u64 = 1_000_000;
    let system = System::new();
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let done = Latch::new(1);
        let actor = system.spawn::<A>((N, done.clone())).await.unwrap();
        let started = Instant::now();
        for i in 0..N {
            cast(&actor, i).await;
        }
        done.wait().await;
        total += started.elapsed();
    }
    system.shutdown().await;
    total
}

async fn round_trips<A, F, Fut>(iters: u64, call: F) -> Duration
where
    A: Actor<Args = (u64, Arc<Latch>)>,
    F: Fn(&ActorRef<A>, u64) -> Fut,
    Fut: Future<Output = u64>,
{
    let system = System::new();
    let actor = system.spawn::<A>((0, Latch::new(1))).await.unwrap();
    let started = Instant::now();
    for i in 0..iters {
        assert_eq!(call(&actor, i).await, i + 1);
    }
    let elapsed = started.elapsed();
    system.shutdown().await;
    elapsed
}

/// Runs `future` on a worker of `rt` (as the other benches do).
fn on_worker<T: Send + 'static>(rt: &tokio::runtime::Runtime, future: impl Future<Output = T> + Send + 'static) -> T {
    rt.block_on(async move { tokio::spawn(future).await.unwrap() })
}

fn macro_vs_hand_written(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("counting_1M");
    group.throughput(Throughput::Elements(1_000_000)).sample_size(10).measurement_time(Duration::from_secs(5));
    group.bench_function("hand_written", |b| {
        b.iter_custom(|iters| {
            on_worker(
                &rt,
                counting::<Plain, _, _>(iters, |a, i| {
                    let a = a.clone();
                    async move { a.cast(i).await.unwrap() }
                }),
            )
        })
    });
    group.bench_function("actor_macro", |b| {
        b.iter_custom(|iters| {
            on_worker(
                &rt,
                counting::<Macro, _, _>(iters, |a, i| {
                    let a = a.clone();
                    async move { a.tick(i).await.unwrap() }
                }),
            )
        })
    });
    group.finish();
    let mut group = c.benchmark_group("call_round_trip");
    group.throughput(Throughput::Elements(1)).measurement_time(Duration::from_secs(5));
    group.bench_function("hand_written", |b| {
        b.iter_custom(|iters| {
            on_worker(
                &rt,
                round_trips::<Plain, _, _>(iters, |a, i| {
                    let a = a.clone();
                    async move { a.call(i).await.unwrap() }
                }),
            )
        })
    });
    group.bench_function("actor_macro", |b| {
        b.iter_custom(|iters| {
            on_worker(
                &rt,
                round_trips::<Macro, _, _>(iters, |a, i| {
                    let a = a.clone();
                    async move { a.echo(i).await.unwrap() }
                }),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, macro_vs_hand_written);
criterion_main!(benches);
