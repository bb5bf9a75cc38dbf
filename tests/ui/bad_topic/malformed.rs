// Every error is reported, each at its own literal.
#[derive(Clone, treeline::Event)]
#[event(topic = "orders..placed")]
struct EmptyToken;

#[derive(Clone, treeline::Event)]
#[event(topic = "orders placed")]
struct Space;

#[derive(Clone, treeline::Event)]
#[event(topic = "$SYS.orders")]
struct Reserved;

#[derive(Clone, treeline::Event)]
#[event(topic = "")]
struct Empty;

fn main() {}
