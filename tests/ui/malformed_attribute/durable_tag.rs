#[derive(treeline::Durable)]
struct NoTag(u64);

#[derive(treeline::Durable)]
#[durable(tag = "")]
struct EmptyTag(u64);

#[derive(treeline::Durable)]
#[durable(tag = "a", name = "b")]
struct UnknownKey(u64);

fn main() {}
