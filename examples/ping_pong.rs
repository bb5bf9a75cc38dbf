//! A tour of the actor core in one run: a counter with calls and casts, a
//! deferred reply, a monitor that sees a crash, a trapped link, a bounded
//! mailbox shedding load, a timer, and a clean shutdown.
//!
//! Run: `cargo run --release --example ping_pong`

use std::time::Duration;

use treeline::mailbox::{MailboxConfig, Overflow};
use treeline::signal::{Down, Exit};
use treeline::{
    Actor, ActorRef, CallError, Context, ExitReason, HandleCall, HandleCast, HandleInfo, InitError, Reply,
    SpawnOptions, System,
};

// --- a counter: one call type, two cast types -------------------------------

struct Counter {
    count: u64,
}

impl Actor for Counter {
    type Args = u64;

    async fn init(start: u64, _ctx: &mut Context<Self>) -> Result<Self, InitError> {
        Ok(Counter { count: start })
    }

    async fn terminate(&mut self, reason: &ExitReason, _ctx: &mut Context<Self>) {
        println!("  counter: terminate({reason}) at count {}", self.count);
    }
}

struct Add(u64);

impl HandleCast<Add> for Counter {
    async fn handle_cast(&mut self, Add(n): Add, _ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        self.count += n;
        Ok(())
    }
}

struct Crash;

impl HandleCast<Crash> for Counter {
    async fn handle_cast(&mut self, _: Crash, _ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        panic!("counter hit a poison message");
    }
}

struct Get;

impl HandleCall<Get> for Counter {
    type Reply = u64;

    async fn handle_call(&mut self, _: Get, _ctx: &mut Context<Self>) -> Reply<u64> {
        Reply::new(self.count)
    }
}

/// A slow question, answered later from another task while the counter goes on.
struct SlowDouble;

impl HandleCall<SlowDouble> for Counter {
    type Reply = u64;

    async fn handle_call(&mut self, _: SlowDouble, _ctx: &mut Context<Self>) -> Reply<u64> {
        let (reply, token) = Reply::deferred();
        let doubled = self.count * 2;
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            token.send(doubled);
        });
        reply
    }
}

// --- a watcher: monitors, links, timers -------------------------------------

struct Watcher;

impl Actor for Watcher {
    type Args = ();

    async fn init(_: (), ctx: &mut Context<Self>) -> Result<Self, InitError> {
        ctx.trap_exit(true); // linked deaths arrive as `Exit` messages
        ctx.send_after(Duration::from_millis(20), Tick);
        Ok(Watcher)
    }
}

struct Watch(ActorRef<Counter>);

impl HandleCall<Watch> for Watcher {
    type Reply = ();
    async fn handle_call(&mut self, Watch(counter): Watch, ctx: &mut Context<Self>) -> Reply<()> {
        ctx.monitor(&counter);
        ctx.link(&counter);
        Reply::new(())
    }
}

impl HandleInfo<Down> for Watcher {
    async fn handle_info(&mut self, down: Down, _ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        println!("  watcher: Down from {}: {}", down.id, down.reason);
        Ok(())
    }
}

impl HandleInfo<Exit> for Watcher {
    async fn handle_info(&mut self, exit: Exit, _ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        println!("  watcher: Exit from {} (trapped): {}", exit.from, exit.reason);
        Ok(())
    }
}

struct Tick;

impl HandleInfo<Tick> for Watcher {
    async fn handle_info(&mut self, _: Tick, _ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        println!("  watcher: timer fired");
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The demo crashes an actor on purpose: print panics as one line.
    std::panic::set_hook(Box::new(|info| eprintln!("  (a callback panicked: {info})")));
    let system = System::new();

    println!("1. calls and casts, in order per sender");
    let counter = system.spawn::<Counter>(40).await?;
    counter.cast(Add(2)).await?;
    println!("  get -> {}", counter.call(Get).await?);
    println!("  slow double (deferred reply) -> {}", counter.call(SlowDouble).await?);

    println!("2. a monitor and a trapped link see a crash");
    let watcher = system.spawn::<Watcher>(()).await?;
    watcher.call(Watch(counter.clone())).await?; // monitoring and linked once this returns
    counter.cast(Crash).await?;
    let reason = counter.join().await;
    println!("  counter exited: {reason}");
    match counter.call(Get).await {
        Err(CallError::NoProc) => println!("  a call to the dead counter: NoProc, at once"),
        other => println!("  unexpected: {other:?}"),
    }
    tokio::time::sleep(Duration::from_millis(10)).await;

    println!("3. a bounded mailbox sheds load, and every shed message is counted");
    let options = SpawnOptions::new().mailbox(MailboxConfig::bounded(100, Overflow::DropOldest));
    let busy = system.spawn_with::<Counter>(0, options).await?;
    for _ in 0..10_000 {
        busy.try_cast(Add(1))?;
    }
    let kept = busy.call(Get).await?;
    println!("  handled {kept} of 10000 casts; dead letters: {}", system.dead_letters().mailbox_full);

    println!("4. a synchronous stop runs terminate, then shutdown stops the rest");
    busy.stop(ExitReason::Normal).await?;
    system.shutdown().await;
    println!("  actors left: {}", system.actor_count());
    Ok(())
}
