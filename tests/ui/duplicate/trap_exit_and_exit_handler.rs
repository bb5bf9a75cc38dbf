use treeline::signal::Exit;
use treeline::{actor, Actor, Context, InitError};

struct A;
impl Actor for A {
    type Args = ();
    async fn init(_: (), ctx: &mut Context<Self>) -> Result<Self, InitError> {
        ctx.trap_exit(true);
        Ok(A)
    }
}

// The option generates the `Exit` handler: a second one is an error.
#[actor(trap_exit)]
impl A {
    #[info]
    async fn exited(&mut self, _exit: Exit) {}
}

fn main() {}
