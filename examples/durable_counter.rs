//! A durable mailbox in under a hundred lines: increments persisted in a
//! journal, delivered at least once, in order, across a crash of the
//! consumer and a restart of the whole program.
//!
//! 1. Ten increments are sent to the durable queue `counter`; each `send`
//!    returns once the increment is on disk.
//! 2. The counter consumes them under a supervisor. It crashes on the first
//!    delivery of increment #3: the supervisor restarts it, and #3 comes
//!    back first, flagged redelivered (attempt 2). Nothing is lost, nothing
//!    is reordered.
//! 3. The program "stops" (the System is dropped) with three more
//!    increments sent and not yet consumed; a new System on the same
//!    journal directory finds them and delivers them.
//!
//! Run: `cargo run --release --example durable_counter`

use treeline::durable::JournalConfig;
use treeline::{Actor, ChildSpec, Context, ExitReason, HandleCast, InitError, Supervisor, System};

/// Adds up the increments it is given (its total is per incarnation: the
/// journal keeps messages, not actor state).
struct Counter {
    total: u64,
    crashed_once: bool,
}

impl Actor for Counter {
    type Args = ();
    async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> {
        Ok(Counter { total: 0, crashed_once: false })
    }
}

impl HandleCast<u64> for Counter {
    async fn handle_cast(&mut self, by: u64, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        let delivery = ctx.delivery().expect("a durable message");
        println!("   #{} (+{by}) attempt {} redelivered {}", delivery.seq, delivery.attempt, delivery.redelivered);
        if delivery.seq == 3 && delivery.attempt == 1 && !self.crashed_once {
            self.crashed_once = true;
            panic!("the counter trips over increment #3");
        }
        self.total += by;
        Ok(()) // returning acks the increment
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    std::panic::set_hook(Box::new(|_| println!("   (panic in the counter: it will be restarted)")));
    let dir = std::env::temp_dir().join(format!("treeline-durable-counter-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);

    println!("1. Ten increments, each on disk when `send` returns:");
    let system = System::with_journal(JournalConfig::dir(&dir))?;
    let increments = system.durable_queue::<u64>("counter").await?;
    for by in 1..=10 {
        increments.cast(by).await?;
    }
    println!("   {} waiting in the journal", increments.stats().pending);

    println!("\n2. The counter consumes them under a supervisor and crashes once:");
    let counter = ChildSpec::<Counter>::worker("counter", ()).consume(increments.clone());
    let tree = system.start(Supervisor::one_for_one().child(counter)).await?;
    increments.drained().await?;
    println!("   all acked; journal: {:?}", system.journal_stats());

    println!("\n3. The consumer stops; three more increments are sent; the program stops:");
    tree.stop(ExitReason::Normal).await?;
    for by in [100, 200, 300] {
        increments.cast(by).await?;
    }
    println!("   {} waiting in the journal", increments.stats().pending);
    system.shutdown().await;
    drop((increments, tree, system));

    let system = System::with_journal(JournalConfig::dir(&dir))?;
    let increments = system.durable_queue::<u64>("counter").await?;
    println!("   a new System on the same directory finds {} waiting:", increments.stats().pending);
    system
        .start(Supervisor::one_for_one().child(ChildSpec::<Counter>::worker("counter", ()).consume(increments.clone())))
        .await?;
    increments.drained().await?;
    println!("   all acked: sequence numbers went on from where they were ({:?})", increments.stats());
    system.shutdown().await;
    drop(system);
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
