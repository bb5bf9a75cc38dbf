//! The shop's crash demo: Billing is durable. A node process places orders,
//! each persisted for Billing's durable subscription before it is
//! confirmed, while its Billing charges them; it is killed with SIGKILL in
//! the middle of the stream, and its journal is reopened here: every order
//! that was confirmed and not yet charged is charged after the restart, and
//! none is lost (one in flight at the kill may be charged twice, which
//! `Delivery::seq` lets a handler dedupe).
//!
//! The domain is the shop demo's (`examples/shop/domain.rs`).
//!
//! Run: `cargo run --release --example shop_crash`

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use tokio::sync::mpsc;
use treeline::durable::{DurableSubscription, JournalConfig, StartFrom};
use treeline::{ChildSpec, Supervisor, System};

#[path = "shop/domain.rs"]
mod domain;

use domain::*;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if let [_, mode, dir] = args.as_slice() {
        if mode == "--node" {
            return node(Path::new(dir)).await;
        }
    }
    kill_and_reopen().await
}

/// Part 7: a node process takes orders while its Billing charges them; it is
/// killed with SIGKILL mid-stream, and its journal is reopened here.
async fn kill_and_reopen() -> Result<(), Box<dyn std::error::Error>> {
    println!("Billing is durable. A separate node process places orders (each persisted for");
    println!("   billing before it is confirmed) while its billing charges them; after 150 ms it is");
    println!("   killed with SIGKILL, mid-stream, and its journal is reopened here:");
    let dir = scratch_dir("node");
    let mut node = Command::new(std::env::current_exe()?).arg("--node").arg(&dir).stdout(Stdio::piped()).spawn()?;
    let stdout = node.stdout.take().ok_or("no pipe")?;
    let reader = std::thread::spawn(move || {
        let (mut placed, mut charged) = (Vec::new(), BTreeSet::new());
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let mut words = line.split(' ');
            match (words.next(), words.next().and_then(|id| id.parse::<u64>().ok())) {
                (Some("placed"), Some(id)) => placed.push(id),
                (Some("charged"), Some(id)) => {
                    charged.insert(id);
                }
                _ => {}
            }
        }
        (placed, charged)
    });
    std::thread::sleep(Duration::from_millis(150));
    node.kill()?; // SIGKILL: no shutdown, no terminate, nothing flushed
    node.wait()?;
    let (placed, charged_before) = reader.join().map_err(|_| "reader panicked")?;
    println!("   before the kill: {} orders confirmed, {} charged", placed.len(), charged_before.len());

    let system = System::with_journal(JournalConfig::dir(&dir))?;
    let billing_events = system.durable_subscription::<OrderPlaced>("billing", StartFrom::New).await?;
    println!("   reopened: {} orders wait in billing's subscription", billing_events.stats().pending);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let billing = ChildSpec::<Billing>::worker("billing", Tell::Channel(tx)).consume_events(billing_events.clone());
    system.start(Supervisor::one_for_one().child(billing)).await?;
    billing_events.drained().await?;
    let mut charged_after = BTreeMap::new();
    while let Ok((id, attempt)) = rx.try_recv() {
        charged_after.insert(id, attempt);
    }
    let redelivered = charged_after.values().filter(|&&attempt| attempt > 1).count();
    let lost: Vec<u64> =
        placed.iter().copied().filter(|id| !charged_before.contains(id) && !charged_after.contains_key(id)).collect();
    println!("   after the restart billing charged {} more, {redelivered} of them redelivered", charged_after.len());
    println!("   (in flight at the kill, so possibly charged before: Delivery::seq lets a handler dedupe)");
    println!("   confirmed orders lost: {}", lost.len());
    system.shutdown().await;
    drop(system);
    let _ = std::fs::remove_dir_all(&dir);
    if !lost.is_empty() {
        return Err(format!("lost orders {lost:?}").into());
    }
    Ok(())
}

/// The node process of part 7: Billing consumes its durable subscription
/// and prints each charge; orders are placed as fast as the journal
/// confirms them, and printed once confirmed. It runs until killed.
async fn node(dir: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let system = System::with_journal(JournalConfig::dir(dir))?;
    let billing_events: DurableSubscription<OrderPlaced> =
        system.durable_subscription("billing", StartFrom::New).await?;
    let billing = ChildSpec::<Billing>::worker("billing", Tell::Stdout).consume_events(billing_events);
    system.start(Supervisor::one_for_one().child(billing)).await?;
    for id in 1.. {
        let n = id as usize;
        let order =
            OrderPlaced { id, customer: CUSTOMERS[n % 4].into(), sku: SKUS[n % 3].into(), quantity: 1, cents: 500 };
        system.publish_durable(order).await?;
        println!("placed {id}");
    }
    Ok(())
}
