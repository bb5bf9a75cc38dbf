use treeline::{actor, Actor, Context, InitError};

struct B;
impl Actor for B {
    type Args = ();
    async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> { Ok(B) }
}

#[actor(flavor = "fast")]
impl B {}

fn main() {}
