// #[derive(Event)] attaches the topic; generics and the `crate` override work.
use treeline::Event;

#[derive(Clone, Event)]
#[event(topic = "orders.placed")]
struct OrderPlaced {
    id: u64,
}

#[derive(Clone, Event)]
#[event(topic = "metrics.gauge")]
struct Gauge<T: Clone + Send + 'static>(T);

mod reexported {
    pub use treeline as runtime;
}

#[derive(Clone, Event)]
#[event(topic = "orders.shipped", crate = "reexported::runtime")]
struct OrderShipped;

fn main() {
    assert_eq!(OrderPlaced::TOPIC, "orders.placed");
    assert_eq!(<Gauge<u8> as Event>::TOPIC, "metrics.gauge");
    assert_eq!(OrderShipped::TOPIC, "orders.shipped");
    let _ = (OrderPlaced { id: 1 }.id, Gauge(1u8).0);
}
