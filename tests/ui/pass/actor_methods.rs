// #[actor]: calls, casts (with the context, and returning a Result), events.
use treeline::{actor, Actor, Context, Event, ExitReason, InitError, System};

#[derive(Clone, Event)]
#[event(topic = "orders.placed")]
struct OrderPlaced {
    cents: u64,
}

struct Account {
    balance: u64,
}

impl Actor for Account {
    type Args = u64;
    async fn init(balance: u64, _: &mut Context<Self>) -> Result<Self, InitError> {
        Ok(Account { balance })
    }
}

#[actor]
impl Account {
    #[call]
    async fn balance(&mut self) -> u64 {
        self.balance
    }

    #[call]
    async fn add_and_get(&mut self, a: u64, b: u64, _ctx: &mut Context<Self>) -> u64 {
        self.balance += a + b;
        self.balance
    }

    #[cast]
    async fn deposit(&mut self, amount: u64) {
        self.balance += amount;
    }

    #[cast]
    async fn close(&mut self, reason: String) -> Result<(), ExitReason> {
        Err(ExitReason::custom(reason))
    }

    #[event]
    async fn on_order(&mut self, order: OrderPlaced, _ctx: &mut Context<Self>) {
        self.balance -= order.cents;
    }

    // Not a handler: left alone.
    #[allow(dead_code)]
    fn helper(&self) -> u64 {
        self.balance
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let system = System::new();
        let account = system.spawn::<Account>(10).await.unwrap();
        account.deposit(5).await.unwrap();
        account.notify(OrderPlaced { cents: 3 }).await.unwrap();
        assert_eq!(account.add_and_get(1, 2).await.unwrap(), 15);
        assert_eq!(account.balance().await.unwrap(), 15);
        account.close("done".to_owned()).await.unwrap();
        assert_eq!(account.join().await.to_string(), "done");
        assert_eq!(account.try_cast(AccountDeposit { amount: 1 }).is_err(), true, "the generated message is public");
    });
}
