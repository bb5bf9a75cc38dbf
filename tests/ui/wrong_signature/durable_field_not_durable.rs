// A field whose type is not `Durable` is reported at that field's type,
// with what to do about it.
use std::net::Ipv4Addr;

#[derive(treeline::Durable)]
#[durable(tag = "net.Seen")]
struct Seen {
    id: u64,
    from: Ipv4Addr,
}

#[derive(treeline::Durable)]
#[durable(tag = "net.Event")]
enum Event {
    Seen { at: Ipv4Addr },
}

fn main() {}
