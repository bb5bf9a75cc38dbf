#[derive(Clone, treeline::Event)]
#[event(topic = "a.b")]
#[event(topic = "a.c")]
struct Twice;

fn main() {}
