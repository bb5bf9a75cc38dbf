#[derive(treeline::Durable)]
#[durable(tag = "e/1")]
enum Choice {
    A,
    B(u64),
}

fn main() {}
