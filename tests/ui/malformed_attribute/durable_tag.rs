#[derive(treeline::Durable)]
struct NoTag(u64);

#[derive(treeline::Durable)]
#[durable(tag = "")]
struct EmptyTag(u64);

#[derive(treeline::Durable)]
#[durable(tag = "a", name = "b")]
struct UnknownKey(u64);


#[derive(treeline::Durable)]
#[durable(tag = "v1")]
struct Old(u64);

#[derive(treeline::Durable)]
#[durable(tag = "v", from = Old)]
struct FromWithoutVersion(u64);

#[derive(treeline::Durable)]
#[durable(tag = "v", version = 0)]
struct VersionZero(u64);

fn main() {}
