use treeline::{actor, Actor, Context, InitError};

struct A;
impl Actor for A {
    type Args = ();
    async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> { Ok(A) }
}

#[actor]
impl A {
    #[call]
    fn get(&mut self) -> u64 { 1 }
}

fn main() {}
