#[derive(Clone, treeline::Event)]
#[event(topic = "orders.*")]
struct Wild;

#[derive(Clone, treeline::Event)]
#[event(topic = "orders.>")]
struct Tail;

fn main() {}
