#[derive(Clone, treeline::Event)]
#[event(topic = orders)]
struct NotAString;

fn main() {}
