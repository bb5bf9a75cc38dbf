#[derive(Clone, treeline::Event)]
struct NoTopic;

fn main() {}
