//! A three-level supervision tree: a crash and its restart, a rest_for_one
//! cascade, an intensity breach that escalates one level up, and the tree
//! snapshot before and after.
//!
//! Run: `cargo run --release --example supervision_tree`

use std::time::Duration;

use treeline::supervisor::Restart;
use treeline::{Actor, ChildSpec, Context, ExitReason, HandleCall, HandleCast, InitError, Reply, Supervisor, System};

/// A worker that counts what it handled and crashes on request.
struct Worker {
    name: &'static str,
    handled: u64,
}

impl Actor for Worker {
    type Args = &'static str;

    async fn init(name: &'static str, _ctx: &mut Context<Self>) -> Result<Self, InitError> {
        println!("    {name}: init");
        Ok(Worker { name, handled: 0 })
    }

    async fn terminate(&mut self, reason: &ExitReason, _ctx: &mut Context<Self>) {
        println!("    {}: terminate({reason})", self.name);
    }
}

struct Work;

impl HandleCall<Work> for Worker {
    type Reply = u64;

    async fn handle_call(&mut self, _: Work, _ctx: &mut Context<Self>) -> Reply<u64> {
        self.handled += 1;
        Reply::new(self.handled)
    }
}

/// A poison message: the handler fails.
struct Poison;

impl HandleCast<Poison> for Worker {
    async fn handle_cast(&mut self, _: Poison, _ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        Err(ExitReason::custom(format!("{} choked on a poison message", self.name)))
    }
}

fn worker(name: &'static str) -> ChildSpec<Worker> {
    ChildSpec::<Worker>::worker(name, name)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let system = System::new();

    // shop (one_for_one)
    // ├─ orders (worker)
    // └─ fulfilment (rest_for_one, at most 2 restarts in 10 s)
    //    ├─ inventory (worker)
    //    ├─ shipping (worker)
    //    └─ carriers (one_for_one)
    //       └─ dhl (worker)
    let shipping = worker("shipping");
    let shipping_ref = shipping.child_ref();
    let inventory = worker("inventory");
    let inventory_ref = inventory.child_ref();
    let carriers = Supervisor::one_for_one().child(worker("dhl"));
    let fulfilment = Supervisor::rest_for_one()
        .intensity(2, Duration::from_secs(10))
        .child(inventory)
        .child(shipping)
        .child(ChildSpec::supervisor("carriers", carriers));
    let fulfilment = ChildSpec::supervisor("fulfilment", fulfilment).restart(Restart::Permanent);
    let fulfilment_ref = fulfilment.child_ref();
    let shop =
        Supervisor::one_for_one().intensity(3, Duration::from_secs(10)).child(worker("orders")).child(fulfilment);

    println!("1. starting the tree (children start in order):");
    let tree = system.start(shop).await?;
    println!("\n{}", tree.snapshot().await?);

    println!("2. shipping crashes: rest_for_one restarts shipping and what started after it");
    shipping_ref.call(Work).await?;
    // Read the incarnation before crashing it, then await the next one (a
    // restart can be over before the cast returns).
    let before = shipping_ref.id().expect("shipping runs");
    shipping_ref.cast(Poison).await?;
    shipping_ref.restarted(before).await;
    println!("  shipping answers again: handled {}", shipping_ref.call(Work).await?);

    println!("\n3. inventory crashes twice: with shipping's crash that is 3 restarts in 10 s, more than");
    println!("   fulfilment's intensity of 2. Fulfilment stops its children and exits with `shutdown`;");
    println!("   the shop, one level up, restarts it (escalation)");
    let first_fulfilment = fulfilment_ref.id();
    for _ in 0..2 {
        let before = inventory_ref.id().expect("inventory runs");
        inventory_ref.cast(Poison).await?;
        inventory_ref.restarted(before).await;
    }
    let fulfilment_now = fulfilment_ref.id();
    println!("  fulfilment was {first_fulfilment:?}, now runs as {fulfilment_now:?}");
    println!("  inventory answers again: handled {}", inventory_ref.call(Work).await?);
    println!("\n{}", tree.snapshot().await?);

    println!("4. shutdown: the whole tree stops, newest first");
    system.shutdown().await;
    println!("  actors left: {}", system.actor_count());
    Ok(())
}
