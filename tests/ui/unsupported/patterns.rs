use treeline::{actor, Actor, Context, InitError};

struct A;
impl Actor for A {
    type Args = ();
    async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> { Ok(A) }
}

#[actor]
impl A {
    #[cast]
    async fn tuple(&mut self, (_a, _b): (u8, u8)) {}

    #[call]
    async fn generic<T: Send + 'static>(&mut self, _t: T) -> u8 { 0 }

    #[event]
    async fn two_events(&mut self, _a: u8, _b: u8) {}
}

fn main() {}
