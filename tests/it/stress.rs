//! Real threads: many senders, callers and deaths at once, in bounded time.

use std::time::Duration;

use treeline::supervisor::{ChildRef, Restart};

use treeline::*;

use crate::support::until_for;

struct Tally {
    per_sender: Vec<u32>,
}

impl Actor for Tally {
    type Args = usize;
    async fn init(senders: usize, _: &mut Context<Self>) -> Result<Self, InitError> {
        Ok(Tally { per_sender: vec![0; senders] })
    }
}

impl HandleCast<(usize, u32)> for Tally {
    async fn handle_cast(&mut self, (sender, n): (usize, u32), _: &mut Context<Self>) -> Result<(), ExitReason> {
        // Per-sender FIFO: each sender's numbers arrive in order.
        if self.per_sender[sender] != n {
            return Err(ExitReason::custom(format!("sender {sender}: expected {}, got {n}", self.per_sender[sender])));
        }
        self.per_sender[sender] += 1;
        Ok(())
    }
}

struct Totals;
impl HandleCall<Totals> for Tally {
    type Reply = Vec<u32>;
    async fn handle_call(&mut self, _: Totals, _: &mut Context<Self>) -> Reply<Vec<u32>> {
        Reply::new(self.per_sender.clone())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_senders_and_callers_on_several_threads() {
    const SENDERS: usize = 8;
    const EACH: u32 = 20_000;
    let system = System::new();
    let tally = system.spawn::<Tally>(SENDERS).await.unwrap();
    let mut tasks = Vec::new();
    for sender in 0..SENDERS {
        let tally = tally.clone();
        tasks.push(tokio::spawn(async move {
            for n in 0..EACH {
                tally.cast((sender, n)).await.unwrap();
                if n % 1_000 == 0 {
                    tally.call(Totals).await.unwrap();
                }
            }
        }));
    }
    for task in tasks {
        tokio::time::timeout(Duration::from_secs(60), task).await.unwrap().unwrap();
    }
    let totals = tally.call(Totals).await.unwrap();
    assert_eq!(totals, vec![EACH; SENDERS]);
    system.shutdown().await;
}

struct Mortal;
impl Actor for Mortal {
    type Args = ();
    async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> {
        Ok(Mortal)
    }
}
impl HandleCall<u32> for Mortal {
    type Reply = u32;
    async fn handle_call(&mut self, n: u32, _: &mut Context<Self>) -> Reply<u32> {
        Reply::new(n)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_racing_with_deaths_always_get_an_answer() {
    let system = System::new();
    for round in 0..300u32 {
        let actor = system.spawn::<Mortal>(()).await.unwrap();
        let caller = {
            let actor = actor.clone();
            tokio::spawn(async move { actor.call(round).await })
        };
        if round % 2 == 0 {
            actor.kill();
        } else {
            let _ = actor.stop(ExitReason::Normal).await;
        }
        let answer = tokio::time::timeout(Duration::from_secs(10), caller).await.unwrap().unwrap();
        match answer {
            Ok(n) => assert_eq!(n, round),
            Err(CallError::NoProc | CallError::Exit(_)) => {}
            Err(other) => panic!("round {round}: unexpected {other:?}"),
        }
    }
    system.shutdown().await;
    assert_eq!(system.actor_count(), 0);
}

// --- churn under supervision, from several OS threads ---

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Counts the states made by `init` and dropped since.
#[derive(Default)]
struct Census {
    made: AtomicU64,
    dropped: AtomicU64,
}

/// A child whose `init` awaits (so it is dormant with a spawner's waker
/// behind it), and whose state reports its drop.
struct Churn {
    census: Arc<Census>,
}

impl Drop for Churn {
    fn drop(&mut self) {
        self.census.dropped.fetch_add(1, Ordering::SeqCst);
    }
}

impl Actor for Churn {
    type Args = Arc<Census>;
    async fn init(census: Arc<Census>, _: &mut Context<Self>) -> Result<Self, InitError> {
        tokio::task::yield_now().await;
        census.made.fetch_add(1, Ordering::SeqCst);
        Ok(Churn { census })
    }
}

struct Crash;
impl HandleCast<Crash> for Churn {
    async fn handle_cast(&mut self, _: Crash, _: &mut Context<Self>) -> Result<(), ExitReason> {
        Err(ExitReason::custom("crash"))
    }
}

struct Ping;
impl HandleCall<Ping> for Churn {
    type Reply = ();
    async fn handle_call(&mut self, _: Ping, _: &mut Context<Self>) -> Reply<()> {
        tokio::task::yield_now().await;
        Reply::new(())
    }
}

/// A small xorshift: each thread's operations are reproducible from its seed.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// One random operation on a child's current incarnation.
async fn poke(child: &ChildRef<Churn>, dice: u64) {
    let Some(actor) = child.current() else { return };
    match dice % 7 {
        0 => {
            actor.kill();
        }
        1 => {
            actor.exit(ExitReason::custom("exit"));
        }
        2 => {
            actor.request_stop(ExitReason::Shutdown);
        }
        3 => {
            let _ = actor.stop_timeout(ExitReason::custom("stopped"), Duration::from_secs(5)).await;
        }
        4 => {
            let _ = actor.cast(Crash).await;
        }
        _ => match actor.call_timeout(Ping, Duration::from_secs(5)).await {
            Ok(()) | Err(CallError::NoProc | CallError::Exit(_)) => {}
            Err(other) => panic!("a call to a churning child: {other:?}"),
        },
    }
}

/// Runs the churn: `threads` OS threads poke random children `rounds` times
/// each, on a two-worker runtime; a watchdog fails the test on a hang.
fn churn(halt_by_drop: bool) {
    const CHILDREN: usize = 12;
    const THREADS: u64 = 3;
    const ROUNDS: usize = 2_000;
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let census = Arc::new(Census::default());
    let (system, children) = runtime.block_on(async {
        let system = System::new();
        let mut tree = Supervisor::one_for_one().intensity(1_000_000, Duration::from_secs(1));
        let mut children = Vec::new();
        for n in 0..CHILDREN {
            let restart = if n % 3 == 0 { Restart::Transient } else { Restart::Permanent };
            let spec = ChildSpec::<Churn>::worker(format!("c{n}"), census.clone()).restart(restart);
            children.push(spec.child_ref());
            tree = tree.child(spec);
        }
        let strategy = Supervisor::rest_for_one().intensity(1_000_000, Duration::from_secs(1));
        let inner = ChildSpec::<Churn>::worker("inner", census.clone());
        children.push(inner.child_ref());
        tree = tree.child(ChildSpec::supervisor("nested", strategy.child(inner)));
        system.start(tree).await.unwrap();
        (system, children)
    });
    let (done, finished) = std::sync::mpsc::channel::<()>();
    std::thread::scope(|scope| {
        // Dropped on the way out, however the scope ends (a failed assertion
        // included): the watchdog then stands down.
        let done = done;
        // A watchdog: a hung churn never lets the scope end, so a panic here
        // would never be reported; it aborts the test binary instead.
        scope.spawn(move || {
            if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = finished.recv_timeout(Duration::from_secs(120)) {
                eprintln!("the churn hung for 120 s");
                std::process::abort();
            }
        });
        let pokers: Vec<_> = (1..=THREADS)
            .map(|seed| {
                let (handle, children) = (runtime.handle().clone(), &children);
                scope.spawn(move || {
                    let mut dice = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
                    for _ in 0..ROUNDS {
                        let child = &children[next(&mut dice) as usize % children.len()];
                        handle.block_on(poke(child, next(&mut dice)));
                    }
                })
            })
            .collect();
        for poker in pokers {
            poker.join().expect("a poker thread");
        }
        runtime.block_on(async {
            if halt_by_drop {
                drop(system);
            } else {
                tokio::time::timeout(Duration::from_secs(60), system.shutdown()).await.expect("shutdown in time");
                assert_eq!(system.actor_count(), 0);
            }
            // Every state made was dropped: nothing leaked. (Every child is
            // dead first: a restart the halt overtook may still be running
            // its `init`, and its state is made after the others are gone.)
            until_for("every child dead and every state dropped", Duration::from_secs(60), || {
                children.iter().all(|child| child.current().is_none())
                    && census.dropped.load(Ordering::SeqCst) >= census.made.load(Ordering::SeqCst)
            })
            .await;
        });
        let _ = done.send(());
    });
    let (made, dropped) = (census.made.load(Ordering::SeqCst), census.dropped.load(Ordering::SeqCst));
    assert_eq!(made, dropped, "states made vs dropped");
    assert!(made > CHILDREN as u64, "the children were restarted ({made} states)");
}

#[test]
fn supervised_children_whose_init_awaits_survive_churn_from_several_threads() {
    churn(false);
}

#[test]
fn a_system_dropped_after_churn_leaks_no_actor() {
    churn(true);
}
