#[derive(treeline::Durable)]
#[durable(tag = "u")]
union Bits {
    int: u32,
    float: f32,
}

fn main() {}
