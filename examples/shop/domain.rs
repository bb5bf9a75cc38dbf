//! The shop's domain, shared by the demo (`examples/shop/main.rs`) and its
//! crash demo (`examples/shop_crash.rs`): the domain event, the bounded
//! contexts as actors, and small helpers. The crash demo uses only Billing.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::mpsc;
use treeline::dead_letter::DeadLetter;
use treeline::{actor, Actor, Context, Durable, Event, ExitReason, HandleCall, HandleEvent, InitError, Name, Reply};

// ---------------------------------------------------------------- events --

/// The domain event: an order was placed. Stored in the journal for
/// Billing's durable subscription: `#[derive(Durable)]` writes its codec,
/// under a tag that stays the same across releases.
#[derive(Clone, Debug, Event, Durable)]
#[event(topic = "orders.placed")]
#[durable(tag = "shop.OrderPlaced")]
pub(crate) struct OrderPlaced {
    pub(crate) id: u64,
    pub(crate) customer: String,
    pub(crate) sku: String,
    pub(crate) quantity: i64,
    pub(crate) cents: u64,
}

// ---------------------------------------------------------------- orders --

/// Takes orders and publishes them. Registered under a name so anyone can
/// find it.
pub(crate) struct Orders {
    pub(crate) next_id: u64,
}

pub(crate) const ORDERS: Name<Orders> = Name::new("orders");

impl Actor for Orders {
    type Args = ();
    async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> {
        Ok(Orders { next_id: 1 })
    }
}

/// A command: place an order. Replies with the order id and how many
/// subscribers the event reached.
pub(crate) struct PlaceOrder {
    pub(crate) customer: &'static str,
    pub(crate) sku: &'static str,
    pub(crate) quantity: i64,
    pub(crate) cents: u64,
}

impl HandleCall<PlaceOrder> for Orders {
    type Reply = (u64, usize);
    async fn handle_call(&mut self, order: PlaceOrder, ctx: &mut Context<Self>) -> Reply<(u64, usize)> {
        let id = self.next_id;
        self.next_id += 1;
        let event = OrderPlaced {
            id,
            customer: order.customer.into(),
            sku: order.sku.into(),
            quantity: order.quantity,
            cents: order.cents,
        };
        // Persisted for Billing's durable subscription before it returns,
        // then published to the plain subscribers.
        match ctx.publish_durable(event).await {
            Ok(reach) => Reply::new((id, reach.durable + reach.plain)),
            Err(error) => Reply::stop(ExitReason::custom(format!("publish failed: {error}")), (id, 0)),
        }
    }
}

// --------------------------------------------------------------- billing --

/// Charges every order, at least once: it consumes a durable subscription,
/// and an order is acked when `handle_event` returns.
pub(crate) struct Billing {
    pub(crate) charged: u64,
    pub(crate) cents: u64,
    pub(crate) tell: Tell,
}

/// Who hears about each charge (order id, delivery attempt).
#[derive(Clone)]
pub(crate) enum Tell {
    Nobody,
    /// The node process prints it for the parent to read.
    Stdout,
    Channel(mpsc::UnboundedSender<(u64, u32)>),
}

impl Actor for Billing {
    type Args = Tell;
    async fn init(tell: Tell, _: &mut Context<Self>) -> Result<Self, InitError> {
        Ok(Billing { charged: 0, cents: 0, tell })
    }
}

impl HandleEvent<OrderPlaced> for Billing {
    async fn handle_event(&mut self, order: OrderPlaced, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        self.charged += 1;
        self.cents += order.cents;
        let attempt = ctx.delivery().map_or(1, |delivery| delivery.attempt);
        match &self.tell {
            Tell::Nobody => {}
            Tell::Stdout => println!("charged {} {attempt}", order.id),
            Tell::Channel(tx) => {
                let _ = tx.send((order.id, attempt));
            }
        }
        Ok(())
    }
}

// ------------------------------------------------------------- inventory --

/// Reserves stock. Panics on an order with a negative quantity: the poison.
pub(crate) struct Inventory {
    pub(crate) incarnation: u32,
    pub(crate) reserved: BTreeMap<String, i64>,
}

pub(crate) const INVENTORY: Name<Inventory> = Name::new("inventory");

impl Actor for Inventory {
    type Args = u32;
    async fn init(incarnation: u32, _: &mut Context<Self>) -> Result<Self, InitError> {
        Ok(Inventory { incarnation, reserved: BTreeMap::new() })
    }

    async fn terminate(&mut self, reason: &ExitReason, _: &mut Context<Self>) {
        println!("    inventory: terminate({reason})");
    }
}

// Inventory is written with `#[actor]`: its handlers are plain methods, and
// callers get `inventory.stock()` (the other actors use the traits by hand;
// both forms compile to the same code).
#[actor(vis = "pub(crate)")]
impl Inventory {
    #[event]
    async fn on_order(&mut self, order: OrderPlaced) {
        let Ok(quantity) = u32::try_from(order.quantity) else {
            panic!("order #{}: cannot reserve {} x {}", order.id, order.quantity, order.sku);
        };
        *self.reserved.entry(order.sku).or_default() += i64::from(quantity);
    }

    /// The incarnation and what it reserved.
    #[call]
    async fn stock(&mut self) -> (u32, BTreeMap<String, i64>) {
        (self.incarnation, self.reserved.clone())
    }
}

// ----------------------------------------------------------------- email --

/// Sends confirmation mails, slowly. Best effort: its bounded `DropOldest`
/// mailbox sheds load when a burst outruns it.
pub(crate) struct Email {
    pub(crate) sent: u64,
}

impl Actor for Email {
    type Args = ();
    async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> {
        Ok(Email { sent: 0 })
    }
}

impl HandleEvent<OrderPlaced> for Email {
    async fn handle_event(&mut self, _: OrderPlaced, _: &mut Context<Self>) -> Result<(), ExitReason> {
        tokio::time::sleep(Duration::from_millis(2)).await; // talking to an SMTP server
        self.sent += 1;
        Ok(())
    }
}

// ------------------------------------------------------------- analytics --

/// A read-model projection of everything under `orders.>`.
#[derive(Clone, Debug, Default)]
pub(crate) struct Analytics {
    pub(crate) orders: u64,
    pub(crate) revenue_cents: u64,
    pub(crate) by_customer: BTreeMap<String, u64>,
}

impl Actor for Analytics {
    type Args = ();
    async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> {
        Ok(Analytics::default())
    }
}

impl HandleEvent<OrderPlaced> for Analytics {
    async fn handle_event(&mut self, order: OrderPlaced, _: &mut Context<Self>) -> Result<(), ExitReason> {
        self.orders += 1;
        self.revenue_cents += order.cents;
        *self.by_customer.entry(order.customer).or_default() += 1;
        Ok(())
    }
}

// ------------------------------------------------------ dead-letter audit --

/// Watches the dead-letter topic: every message dropped anywhere.
#[derive(Default)]
pub(crate) struct Auditor {
    pub(crate) total: u64,
    pub(crate) by_target: BTreeMap<String, u64>,
}

impl Actor for Auditor {
    type Args = ();
    async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> {
        Ok(Auditor::default())
    }
}

impl HandleEvent<DeadLetter> for Auditor {
    async fn handle_event(&mut self, letter: DeadLetter, _: &mut Context<Self>) -> Result<(), ExitReason> {
        if self.total < 3 {
            println!(
                "    auditor: dead letter: {} {} to {} ({})",
                letter.kind, letter.message_type, letter.to, letter.reason
            );
        }
        self.total += 1;
        *self.by_target.entry(letter.to.to_string()).or_default() += 1;
        Ok(())
    }
}

// --------------------------------------------------------------- queries --

/// Asks any projection for its state.
pub(crate) struct Report;

impl HandleCall<Report> for Billing {
    type Reply = (u64, u64);
    async fn handle_call(&mut self, _: Report, _: &mut Context<Self>) -> Reply<(u64, u64)> {
        Reply::new((self.charged, self.cents))
    }
}

impl HandleCall<Report> for Email {
    type Reply = u64;
    async fn handle_call(&mut self, _: Report, _: &mut Context<Self>) -> Reply<u64> {
        Reply::new(self.sent)
    }
}

impl HandleCall<Report> for Analytics {
    type Reply = Analytics;
    async fn handle_call(&mut self, _: Report, _: &mut Context<Self>) -> Reply<Analytics> {
        Reply::new(self.clone())
    }
}

impl HandleCall<Report> for Auditor {
    type Reply = (u64, BTreeMap<String, u64>);
    async fn handle_call(&mut self, _: Report, _: &mut Context<Self>) -> Reply<Self::Reply> {
        Reply::new((self.total, self.by_target.clone()))
    }
}

// ------------------------------------------------------------------ main --

pub(crate) const CUSTOMERS: [&str; 4] = ["ada", "grace", "edsger", "barbara"];
pub(crate) const SKUS: [&str; 3] = ["kettle", "teapot", "mug"];

/// A fresh directory under the system's temp dir.
pub(crate) fn scratch_dir(what: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("treeline-shop-{what}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

pub(crate) fn show(id: Option<treeline::ActorId>) -> String {
    id.map_or_else(|| "none".to_string(), |id| id.to_string())
}

pub(crate) fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1_000.0
}
