#[derive(Clone, treeline::Event)]
#[event(topic = "orders.placed", subject = "x")]
struct UnknownKey;

fn main() {}
