use treeline::*;

struct Counter {
    n: u64,
}

impl Actor for Counter {
    type Args = u64;
    async fn init(n: u64, _: &mut Context<Self>) -> Result<Self, InitError> {
        Ok(Counter { n })
    }
}

struct Inc;
impl HandleCast<Inc> for Counter {
    async fn handle_cast(&mut self, _: Inc, _: &mut Context<Self>) -> Result<(), ExitReason> {
        self.n += 1;
        Ok(())
    }
}

struct Get;
impl HandleCall<Get> for Counter {
    type Reply = u64;
    async fn handle_call(&mut self, _: Get, _: &mut Context<Self>) -> Reply<u64> {
        Reply::new(self.n)
    }
}

struct Boom;
impl HandleCast<Boom> for Counter {
    async fn handle_cast(&mut self, _: Boom, _: &mut Context<Self>) -> Result<(), ExitReason> {
        panic!("boom");
    }
}

#[tokio::test]
async fn smoke() {
    let system = System::new();
    let c = system.spawn::<Counter>(5).await.unwrap();
    c.cast(Inc).await.unwrap();
    c.cast(Inc).await.unwrap();
    assert_eq!(c.call(Get).await.unwrap(), 7);
    c.cast(Boom).await.unwrap();
    let reason = c.join().await;
    assert!(reason.is_panic(), "{reason:?}");
    assert_eq!(c.call(Get).await, Err(CallError::NoProc));
    let d = system.spawn::<Counter>(1).await.unwrap();
    system.shutdown().await;
    assert!(!d.is_alive());
    assert_eq!(d.exit_reason(), Some(ExitReason::Shutdown));
}
