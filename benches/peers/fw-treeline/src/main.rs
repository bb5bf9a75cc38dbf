//! treeline: the workloads implemented so far (actor core).
//!
//! * mailbox: treeline's default (unbounded). tell = `cast().await`, ask = `call().await`
//!   (which includes treeline's default 5 s call timeout).
//! * spawn: `System::spawn` (init runs before spawn returns); stop = `request_stop(Normal)`
//!   (terminate runs, as a gen_server stop).
//! * restart: treeline's `Supervisor` (one_for_one, intensity raised); the client holds a
//!   `ChildRef` (a handle that follows restarts) and retries `call(Ping)` until the new
//!   incarnation answers.
//! * fanout: treeline's registry as the pub/sub dispatcher: every subscriber calls
//!   `ctx.subscribe::<Tick>()` in `init`; the driver calls `system.publish(Tick)` per event
//!   (the registry routes by topic; no Vec of addresses in the benchmark).

use common::*;
use std::sync::Arc;
use std::time::Instant;
use treeline::*;

const FW: &str = "treeline";

fn main() {
    let targets: Vec<(&str, &str)> =
        ALL_WORKLOADS.iter().map(|w| (FW, *w)).collect();
    main_with(&targets, |_fw, wl| {
        let wl = wl.to_string();
        tokio_run(async move {
            match wl.as_str() {
                COUNTING => counting().await,
                PINGPONG => pingpong().await,
                SPAWN => spawn_stop().await,
                THREADRING => threadring().await,
                RESTART => restart().await,
                FANOUT => fanout().await,
                _ => Err(format!("{wl} not implemented yet")),
            }
        })
    });
}

// ---------------------------------------------------------------- counting
struct Counter {
    count: u64,
    n: u64,
    done: Arc<Latch>,
}
impl Actor for Counter {
    type Args = (u64, Arc<Latch>);
    async fn init((n, done): Self::Args, _: &mut Context<Self>) -> Result<Self, InitError> {
        Ok(Counter { count: 0, n, done })
    }
}
impl HandleCast<u64> for Counter {
    async fn handle_cast(&mut self, _: u64, _: &mut Context<Self>) -> Result<(), ExitReason> {
        self.count += 1;
        if self.count == self.n {
            self.done.count_down();
        }
        Ok(())
    }
}

async fn counting() -> Result<(), String> {
    let n = scaled(COUNTING_N);
    let done = Latch::new(1);
    let system = System::new();
    let a = system.spawn::<Counter>((n, done.clone())).await.map_err(|e| e.to_string())?;
    let t0 = Instant::now();
    for i in 0..n {
        a.cast(i).await.map_err(|e| e.to_string())?;
    }
    done.wait().await;
    emit_throughput(FW, COUNTING, n, t0.elapsed(), "msgs/s");
    Ok(())
}

// ---------------------------------------------------------------- pingpong
struct Echo;
impl Actor for Echo {
    type Args = ();
    async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> {
        Ok(Echo)
    }
}
struct Ping(u64);
impl HandleCall<Ping> for Echo {
    type Reply = u64;
    async fn handle_call(&mut self, Ping(v): Ping, _: &mut Context<Self>) -> Reply<u64> {
        Reply::new(v + 1)
    }
}

async fn pingpong() -> Result<(), String> {
    let n = scaled(PINGPONG_N);
    let system = System::new();
    let a = system.spawn::<Echo>(()).await.map_err(|e| e.to_string())?;
    let mut samples = Vec::with_capacity(n as usize);
    for i in 0..(PINGPONG_WARMUP + n) {
        let t0 = Instant::now();
        let v = a.call(Ping(i)).await.map_err(|e| e.to_string())?;
        let el = t0.elapsed();
        check(v == i + 1, "bad reply")?;
        if i >= PINGPONG_WARMUP {
            samples.push(el.as_nanos() as u64);
        }
    }
    emit_latency(FW, PINGPONG, &mut samples);
    Ok(())
}

// ---------------------------------------------------------------- spawn/stop
struct Idle {
    stopped: Arc<Latch>,
}
impl Actor for Idle {
    type Args = (Arc<Latch>, Arc<Latch>);
    async fn init((started, stopped): Self::Args, _: &mut Context<Self>) -> Result<Self, InitError> {
        started.count_down();
        Ok(Idle { stopped })
    }
    async fn terminate(&mut self, _: &ExitReason, _: &mut Context<Self>) {
        self.stopped.count_down();
    }
}

async fn spawn_stop() -> Result<(), String> {
    let n = scaled(SPAWN_N);
    let started = Latch::new(n);
    let stopped = Latch::new(n);
    let system = System::new();
    let rss0 = rss_bytes();
    let t0 = Instant::now();
    let mut refs = Vec::with_capacity(n as usize);
    for _ in 0..n {
        refs.push(system.spawn::<Idle>((started.clone(), stopped.clone())).await.map_err(|e| e.to_string())?);
    }
    started.wait().await;
    let spawn_t = t0.elapsed();
    let rss1 = rss_bytes();
    let t1 = Instant::now();
    if std::env::var("TL_REQUEST_STOP").is_ok() {
        for a in &refs {
            check(a.request_stop(ExitReason::Normal), "stop of a dead actor")?;
        }
    } else {
        for a in &refs {
            a.stop(ExitReason::Normal).await.map_err(|e| e.to_string())?;
        }
    }
    stopped.wait().await;
    let stop_t = t1.elapsed();
    emit_spawn(FW, n, spawn_t, stop_t, rss0, rss1);
    Ok(())
}

// ---------------------------------------------------------------- threadring
struct Node {
    next: Option<ActorRef<Node>>,
    done: Arc<Latch>,
}
impl Actor for Node {
    type Args = Arc<Latch>;
    async fn init(done: Arc<Latch>, _: &mut Context<Self>) -> Result<Self, InitError> {
        Ok(Node { next: None, done })
    }
}
struct SetNext(ActorRef<Node>);
struct Token(u64);
impl HandleCast<SetNext> for Node {
    async fn handle_cast(&mut self, SetNext(n): SetNext, _: &mut Context<Self>) -> Result<(), ExitReason> {
        self.next = Some(n);
        Ok(())
    }
}
impl HandleCast<Token> for Node {
    async fn handle_cast(&mut self, Token(h): Token, _: &mut Context<Self>) -> Result<(), ExitReason> {
        if h == 0 {
            self.done.count_down();
        } else if let Some(next) = &self.next {
            let _ = next.cast(Token(h - 1)).await;
        }
        Ok(())
    }
}

async fn threadring() -> Result<(), String> {
    let n = scaled(RING_ACTORS);
    let hops = scaled(RING_HOPS);
    let done = Latch::new(1);
    let system = System::new();
    let mut refs = Vec::with_capacity(n as usize);
    for _ in 0..n {
        refs.push(system.spawn::<Node>(done.clone()).await.map_err(|e| e.to_string())?);
    }
    for i in 0..n as usize {
        refs[i].cast(SetNext(refs[(i + 1) % n as usize].clone())).await.map_err(|e| e.to_string())?;
    }
    let t0 = Instant::now();
    refs[0].cast(Token(hops)).await.map_err(|e| e.to_string())?;
    done.wait().await;
    emit_throughput(FW, THREADRING, hops, t0.elapsed(), "hops/s");
    Ok(())
}

// ---------------------------------------------------------------- restart
struct Worker;
impl Actor for Worker {
    type Args = Arc<std::sync::atomic::AtomicU64>;
    async fn init(starts: Self::Args, _: &mut Context<Self>) -> Result<Self, InitError> {
        starts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(Worker)
    }
}
struct Crash;
impl HandleCast<Crash> for Worker {
    async fn handle_cast(&mut self, _: Crash, _: &mut Context<Self>) -> Result<(), ExitReason> {
        panic!("boom")
    }
}
struct WPing;
impl HandleCall<WPing> for Worker {
    type Reply = u64;
    async fn handle_call(&mut self, _: WPing, _: &mut Context<Self>) -> Reply<u64> {
        Reply::new(1)
    }
}

async fn restart() -> Result<(), String> {
    quiet_panics();
    let starts = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let system = System::new();
    let spec = ChildSpec::<Worker>::worker("worker", starts.clone());
    let worker = spec.child_ref();
    let tree = Supervisor::one_for_one().intensity(u32::MAX, std::time::Duration::from_secs(1)).child(spec);
    system.start(tree).await.map_err(|e| e.to_string())?;
    let n = scaled(RESTART_N);
    let mut samples = Vec::with_capacity(n as usize);
    for i in 0..(RESTART_WARMUP + n) {
        let before = worker.id();
        let t0 = Instant::now();
        worker.cast(Crash).await.map_err(|e| e.to_string())?;
        loop {
            if worker.id() != before {
                if let Ok(1) = worker.call(WPing).await {
                    break;
                }
            }
            tokio::task::yield_now().await;
        }
        if i >= RESTART_WARMUP {
            samples.push(t0.elapsed().as_nanos() as u64);
        }
    }
    let r = starts.load(std::sync::atomic::Ordering::Relaxed).saturating_sub(1);
    check(r == RESTART_WARMUP + n, format!("restarts {r} != {}", RESTART_WARMUP + n))?;
    emit_latency(FW, RESTART, &mut samples);
    Ok(())
}

// ---------------------------------------------------------------- fanout
#[derive(Clone)]
struct Tick;
impl Event for Tick {
    const TOPIC: &'static str = "bench.fanout";
}
struct FanSub {
    count: u64,
    events: u64,
    done: Arc<Latch>,
    total: Arc<std::sync::atomic::AtomicU64>,
}
impl Actor for FanSub {
    type Args = (u64, Arc<Latch>, Arc<std::sync::atomic::AtomicU64>);
    async fn init((events, done, total): Self::Args, ctx: &mut Context<Self>) -> Result<Self, InitError> {
        ctx.subscribe::<Tick>()?;
        Ok(FanSub { count: 0, events, done, total })
    }
}
impl HandleEvent<Tick> for FanSub {
    async fn handle_event(&mut self, _: Tick, _: &mut Context<Self>) -> Result<(), ExitReason> {
        self.count += 1;
        if self.count == self.events {
            self.total.fetch_add(self.count, std::sync::atomic::Ordering::Relaxed);
            self.done.count_down();
        }
        Ok(())
    }
}

async fn fanout() -> Result<(), String> {
    let subs = scaled(FANOUT_SUBSCRIBERS);
    let events = scaled(FANOUT_EVENTS);
    let done = Latch::new(subs);
    let total = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let system = System::new();
    for _ in 0..subs {
        system.spawn::<FanSub>((events, done.clone(), total.clone())).await.map_err(|e| e.to_string())?;
    }
    let t0 = Instant::now();
    for _ in 0..events {
        system.publish(Tick).await.map_err(|e| e.to_string())?;
    }
    done.wait().await;
    let el = t0.elapsed();
    let tot = total.load(std::sync::atomic::Ordering::Relaxed);
    check(tot == subs * events, format!("delivered {tot} of {}", subs * events))?;
    emit_throughput(FW, FANOUT, subs * events, el, "deliveries/s");
    Ok(())
}
