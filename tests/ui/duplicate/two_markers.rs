use treeline::{actor, Actor, Context, Event, InitError};

#[derive(Clone, Event)]
#[event(topic = "t.e")]
struct E;

struct A;
impl Actor for A {
    type Args = ();
    async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> { Ok(A) }
}

#[actor]
impl A {
    #[call]
    #[cast]
    async fn both(&mut self) {}

    #[event]
    async fn first(&mut self, _e: E) {}

    #[event]
    async fn second(&mut self, _e: E) {}
}

fn main() {}
