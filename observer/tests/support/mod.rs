//! What the observer's tests share: a small System to watch (a supervisor
//! with a worker that can be blocked, so its bounded mailbox fills), and an
//! HTTP client that sets every header itself (a foreign `Host` included).

#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::Request;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::sync::Notify;
use treeline::mailbox::{MailboxConfig, Overflow};
use treeline::supervisor::ChildRef;
use treeline::{Actor, ChildSpec, Context, ExitReason, HandleCall, HandleCast, InitError, Reply, Supervisor, System};

pub struct Billing(Arc<Notify>);

impl Actor for Billing {
    type Args = Arc<Notify>;
    async fn init(gate: Arc<Notify>, _: &mut Context<Self>) -> Result<Self, InitError> {
        Ok(Billing(gate))
    }
}

/// Blocks the handler until the gate opens.
pub struct Block;
pub struct Charge;
pub struct Ping;

impl HandleCast<Block> for Billing {
    async fn handle_cast(&mut self, _: Block, _: &mut Context<Self>) -> Result<(), ExitReason> {
        self.0.notified().await;
        Ok(())
    }
}

impl HandleCast<Charge> for Billing {
    async fn handle_cast(&mut self, _: Charge, _: &mut Context<Self>) -> Result<(), ExitReason> {
        Ok(())
    }
}

impl HandleCall<Ping> for Billing {
    type Reply = ();
    async fn handle_call(&mut self, _: Ping, _: &mut Context<Self>) -> Reply<()> {
        Reply::new(())
    }
}

/// A System whose root supervises `shop` (one_for_one), which supervises
/// `billing` (mailbox of 10) and `ledger`.
pub async fn demo() -> (System, ChildRef<Billing>, Arc<Notify>) {
    let system = System::new();
    let gate = Arc::new(Notify::new());
    let billing =
        ChildSpec::<Billing>::worker("billing", gate.clone()).mailbox(MailboxConfig::bounded(10, Overflow::DropNewest));
    let handle = billing.child_ref();
    let ledger = ChildSpec::<Billing>::worker("ledger", gate.clone());
    let shop = Supervisor::one_for_one().intensity(100, Duration::from_secs(60)).child(billing).child(ledger);
    let root = Supervisor::one_for_one().child(ChildSpec::supervisor("shop", shop));
    system.start(root).await.expect("the tree starts");
    (system, handle, gate)
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: String,
}

/// `method path` with `Host: host` and `extra` headers.
pub async fn request(
    addr: std::net::SocketAddr,
    method: &str,
    host: &str,
    path: &str,
    extra: &[(&str, &str)],
) -> Answer {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let mut builder = Request::builder().method(method).uri(format!("http://{addr}{path}")).header("host", host);
    for (name, value) in extra {
        builder = builder.header(*name, *value);
    }
    let response = client.request(builder.body(Empty::new()).unwrap()).await.expect("the observer answers");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.expect("a body").to_bytes();
    Answer { status, headers, body: String::from_utf8_lossy(&body).into_owned() }
}

/// `GET path` from the loopback Host.
pub async fn get(addr: std::net::SocketAddr, path: &str) -> Answer {
    request(addr, "GET", &addr.to_string(), path, &[]).await
}

/// Bounded waits.
pub async fn within<T>(what: &str, future: impl std::future::Future<Output = T>) -> T {
    match tokio::time::timeout(Duration::from_secs(20), future).await {
        Ok(value) => value,
        Err(_) => panic!("{what}: not within 20 s"),
    }
}
