use treeline::{actor, Actor, Context, InitError};

struct A;
impl Actor for A {
    type Args = ();
    async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> { Ok(A) }
}

#[actor]
impl A {
    #[cast]
    async fn by_ref(&self, _n: u64) {}

    #[cast]
    async fn no_receiver(_n: u64) {}

    #[call]
    async fn context_first(&mut self, _ctx: &mut Context<Self>, n: u64) -> u64 { n }
}

fn main() {}
