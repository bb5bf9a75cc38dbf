//! Real threads: registrations, publishes and deaths at once, in bounded time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use treeline::*;

#[derive(Clone)]
struct Tick;
impl Event for Tick {
    const TOPIC: &'static str = "stress.tick";
}

struct Churn(Arc<AtomicU64>);

impl Actor for Churn {
    type Args = (Arc<AtomicU64>, u64);
    async fn init((counter, n): Self::Args, ctx: &mut Context<Self>) -> Result<Self, InitError> {
        ctx.subscribe::<Tick>()?;
        ctx.subscribe_to::<Tick>("stress.*")?;
        ctx.register(Name::owned(format!("churn-{n}")))?;
        Ok(Churn(counter))
    }
}

impl HandleEvent<Tick> for Churn {
    async fn handle_event(&mut self, _: Tick, _: &mut Context<Self>) -> Result<(), ExitReason> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrations_publishes_and_deaths_race_safely() {
    let system = System::new();
    let handled = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    // Spawners: actors come and go, registering a name and two subscriptions each.
    for worker in 0..4u64 {
        let system = system.clone();
        let handled = handled.clone();
        tasks.push(tokio::spawn(async move {
            for round in 0..200u64 {
                let n = worker * 1_000 + round;
                let actor = system.spawn::<Churn>((handled.clone(), n)).await.unwrap();
                if round % 3 == 0 {
                    actor.kill();
                } else {
                    actor.stop(ExitReason::Normal).await.unwrap();
                }
            }
        }));
    }
    // Publishers.
    for _ in 0..2 {
        let system = system.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..2_000 {
                system.publish(Tick).await.unwrap();
                tokio::task::yield_now().await;
            }
        }));
    }
    for task in tasks {
        tokio::time::timeout(Duration::from_secs(60), task).await.expect("bounded").unwrap();
    }
    system.shutdown().await;
    // Every death released everything.
    let stats = system.registry().stats();
    assert_eq!((stats.names, stats.subscriptions), (0, 0));
    assert_eq!(system.actor_count(), 0);
}
