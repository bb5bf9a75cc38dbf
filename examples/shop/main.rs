//! An Event-Storming order flow on treeline's registry.
//!
//! `Orders` publishes `OrderPlaced` and never learns who consumes it.
//! Billing, Inventory, Email and an Analytics projection subscribe by topic,
//! from their child specs, under one supervision tree. The demo then:
//!
//! 1. places a few orders, which every subscriber sees;
//! 2. places a poison order: Inventory panics, its supervisor restarts it, and
//!    the new incarnation is registered and subscribed again by its child spec;
//! 3. runs a flash sale: Email is slow and has a bounded `DropOldest` mailbox,
//!    so it sheds confirmation mails, each a dead letter that an auditor sees,
//!    while the publisher and the other subscribers are not slowed down;
//! 4. prints every projection and the final tree, and shuts down.
//!
//! Its crash demo, `examples/shop_crash.rs`, shows that Billing is durable:
//! a node process killed with SIGKILL in the middle of a stream of orders
//! loses none of them. The domain both use is in `examples/shop/domain.rs`.
//!
//! Billing consumes a durable subscription (`System::durable_subscription`),
//! and Orders publishes with `publish_durable`: an order is persisted for
//! Billing before it is confirmed. The other subscribers are plain
//! (at-most-once), as a mail or a projection can afford to be.
//!
//! Run: `cargo run --release --example shop`
//!
//! With `-- --observer`, it also serves the live observer (treeline-observer)
//! on loopback, prints its URL, and after the story keeps placing orders
//! (now and then a poison one) until ctrl-c, so that there is something to
//! watch: the tree, mailboxes filling, restarts, dead letters, and the
//! metrics at `/metrics`. The page's "Exit" button makes an actor exit, to
//! watch its supervisor restart it.

use std::time::{Duration, Instant};

use treeline::dead_letter::DeadLetter;
use treeline::durable::{JournalConfig, StartFrom};
use treeline::mailbox::{MailboxConfig, Overflow};
use treeline::topic::Topic;
use treeline::{ChildSpec, Event, Supervisor, System};

mod domain;

use domain::*;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Crash reports and supervisor reports are `tracing` events: a
    // subscriber prints them (one line each, indented under the narration).
    tracing_subscriber::fmt().without_time().with_target(false).with_writer(|| Indented(std::io::stdout())).init();
    let observe = std::env::args().any(|arg| arg == "--observer");
    // A Prometheus recorder for the observer's `/metrics` (installed before
    // the System, as the metrics facade wants).
    let prometheus = if observe {
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        metrics::set_global_recorder(recorder)?;
        Some(handle)
    } else {
        None
    };

    // The node's journal: durable subscriptions and their events live here.
    let journal = scratch_dir("journal");
    let system = System::with_journal(JournalConfig::dir(&journal))?;
    let billing_events = system.durable_subscription::<OrderPlaced>("billing", StartFrom::New).await?;
    let observer = match prometheus {
        Some(handle) => {
            let observer = treeline_observer::Observer::builder()
                .generate_token()
                .allow_destructive_actions(true)
                .prometheus(handle)
                .serve(&system)
                .await?;
            println!("observer: {}  (metrics: http://{}/metrics)\n", observer.url(), observer.local_addr());
            Some(observer)
        }
        None => None,
    };

    // The tree. Every subscription and name lives in a child spec, so a
    // restarted child is registered and subscribed again without user code.
    let incarnations = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let counter = incarnations.clone();
    let inventory = ChildSpec::<Inventory>::from_fn("inventory", move || {
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1
    })
    .name(INVENTORY)
    .subscribe::<OrderPlaced>();
    let inventory_ref = inventory.child_ref();
    let billing = ChildSpec::<Billing>::worker("billing", Tell::Nobody).consume_events(billing_events.clone());
    let billing_ref = billing.child_ref();
    let email = ChildSpec::<Email>::worker("email", ())
        .subscribe::<OrderPlaced>()
        .mailbox(MailboxConfig::bounded(16, Overflow::DropOldest));
    let email_ref = email.child_ref();
    let analytics = ChildSpec::<Analytics>::worker("analytics", ()).subscribe_to::<OrderPlaced>("orders.>");
    let analytics_ref = analytics.child_ref();
    let auditor = ChildSpec::<Auditor>::worker("auditor", ()).subscribe::<DeadLetter>();
    let auditor_ref = auditor.child_ref();

    let consumers = Supervisor::one_for_one()
        .intensity(3, Duration::from_secs(5))
        .child(billing)
        .child(inventory)
        .child(email)
        .child(analytics);
    let shop = Supervisor::one_for_all()
        .child(auditor)
        .child(ChildSpec::<Orders>::worker("orders", ()).name(ORDERS))
        .child(ChildSpec::supervisor("consumers", consumers));

    println!("treeline shop: an order flow on topics\n");
    println!("1. The tree starts; subscribers register for `{}` from their child specs:", OrderPlaced::TOPIC);
    let tree = system.start(shop).await?;
    println!("\n{}", tree.snapshot().await?);
    let topic = Topic::new(OrderPlaced::TOPIC)?;
    let subscribers: Vec<String> =
        system.registry().subscribers::<OrderPlaced>(&topic).iter().map(|s| s.pid.to_string()).collect();
    println!("   subscribers of {topic}: {}", subscribers.join(", "));

    // Orders is found by name; the caller never learns who consumes.
    let orders = system.whereis(&ORDERS).ok_or("orders is not registered")?;

    println!("\n2. Three orders; each reaches every subscriber:");
    for i in 0..3 {
        let (id, reached) = orders
            .call(PlaceOrder { customer: CUSTOMERS[i], sku: SKUS[i], quantity: 1 + i as i64, cents: 1_500 })
            .await?;
        println!("   order #{id} for {} placed, delivered to {reached} subscribers", CUSTOMERS[i]);
    }
    let (incarnation, reserved) = inventory_ref.stock().await?;
    println!("   inventory (incarnation {incarnation}) reserved {reserved:?}");

    println!("\n3. A poison order (quantity -1): inventory panics, its supervisor restarts it,");
    println!("   and the child spec registers and subscribes the new incarnation:");
    let before = system.whereis(&INVENTORY).map(|a| a.id());
    let (id, _) = orders.call(PlaceOrder { customer: "mallory", sku: "mug", quantity: -1, cents: 0 }).await?;
    println!("   order #{id} placed");
    inventory_ref.restarted(before.expect("inventory runs")).await;
    let after = system.whereis(&INVENTORY).map(|a| a.id());
    println!("   whereis(\"inventory\"): {} before, {} now", show(before), show(after));
    let (id, reached) = orders.call(PlaceOrder { customer: "ada", sku: "kettle", quantity: 2, cents: 3_000 }).await?;
    println!("   order #{id} placed, delivered to {reached} subscribers");
    let (incarnation, reserved) = inventory_ref.stock().await?;
    println!("   inventory (incarnation {incarnation}, fresh state) reserved {reserved:?}");

    println!("\n4. A flash sale: 500 orders at once. Email sends one mail per 2 ms and has a");
    println!("   bounded mailbox (16, DropOldest): it sheds, and every shed event is a dead letter:");
    let started = Instant::now();
    for n in 0..500 {
        let order = PlaceOrder { customer: CUSTOMERS[n % 4], sku: SKUS[n % 3], quantity: 1, cents: 999 };
        orders.call(order).await?;
    }
    println!("   500 orders published in {:.1} ms; the publisher never waited for email", ms(started.elapsed()));

    println!("\n5. The projections (each query queues behind the events already delivered;");
    println!("   billing takes its durable events one at a time, so first wait until it has them all):");
    billing_events.drained().await?;
    let (charged, cents) = billing_ref.call(Report).await?;
    println!("   billing:   {charged} orders charged, {:.2} EUR", cents as f64 / 100.0);
    let (incarnation, reserved) = inventory_ref.stock().await?;
    println!("   inventory: incarnation {incarnation}, reserved {reserved:?}");
    let sent = email_ref.call(Report).await?;
    println!("   email:     {sent} mails sent (best effort)");
    let analytics = analytics_ref.call(Report).await?;
    println!(
        "   analytics: {} orders, {:.2} EUR, by customer {:?}",
        analytics.orders,
        analytics.revenue_cents as f64 / 100.0,
        analytics.by_customer
    );
    let (dead, by_target) = auditor_ref.call(Report).await?;
    println!("   auditor:   {dead} dead letters, by actor {by_target:?}");
    let stats = system.dead_letters();
    let shed = email_ref.current().map(|email| email.dead_letters()).unwrap_or_default();
    println!(
        "   system:    {} dead letters ({} mailbox full, {} actor stopped); email shed {shed}",
        stats.total(),
        stats.mailbox_full,
        stats.actor_stopped
    );
    println!("   accounted: {sent} sent + {shed} shed = {} = the {charged} orders billing charged", sent + shed);

    println!("\n6. The final tree:\n\n{}", tree.snapshot().await?);
    if let Some(observer) = observer {
        println!("7. Orders keep coming until ctrl-c; watch them at {}", observer.url());
        let traffic = async {
            let mut n = 0usize;
            loop {
                n += 1;
                let quantity = if n.is_multiple_of(397) { -1 } else { 1 + (n % 3) as i64 };
                let order = PlaceOrder { customer: CUSTOMERS[n % 4], sku: SKUS[n % 3], quantity, cents: 1_250 };
                if let Some(orders) = system.whereis(&ORDERS) {
                    let _ = orders.call(order).await;
                }
                // Bursts now and then, so that email's mailbox fills.
                let pause = if n % 200 < 40 { 1 } else { 40 };
                tokio::time::sleep(Duration::from_millis(pause)).await;
            }
        };
        tokio::select! {
            () = traffic => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        observer.stop().await;
    }
    system.shutdown().await;
    println!("shut down; actors left: {}", system.actor_count());
    drop(system);
    let _ = std::fs::remove_dir_all(&journal);
    println!("\nThe durable half of the story (a node killed with SIGKILL mid-stream, no order");
    println!("lost): cargo run --release --example shop_crash");
    Ok(())
}

/// Prints each report indented under the narration.
struct Indented(std::io::Stdout);

impl std::io::Write for Indented {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write_all(b"    ")?;
        self.0.write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}
