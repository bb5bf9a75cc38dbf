//! Real threads: many senders, callers and deaths at once, in bounded time.

use std::time::Duration;

use treeline::*;

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
