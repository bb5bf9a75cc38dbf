// #[derive(Durable)]: named, tuple and unit structs round-trip; damaged
// bytes give a typed error naming the field.
use treeline::Durable;

#[derive(Debug, PartialEq, Durable)]
#[durable(tag = "t.Named/1")]
struct Named {
    id: u64,
    note: String,
    raw: Vec<u8>,
}

#[derive(Debug, PartialEq, Durable)]
#[durable(tag = "t.Tuple/1")]
struct Tuple(u32, String);

#[derive(Debug, PartialEq, Durable)]
#[durable(tag = "t.Unit/1")]
struct Unit;

mod reexported {
    pub use treeline as runtime;
}

#[derive(Debug, PartialEq, Durable)]
#[durable(tag = "t.Elsewhere/1", crate = "reexported::runtime")]
struct Elsewhere(u8);

/// A generic struct: the derive asks `T: Durable` of its parameter.
#[derive(Debug, PartialEq, Durable)]
#[durable(tag = "t.Envelope/1")]
struct Envelope<T> {
    id: u64,
    body: T,
}

fn round_trip<T: Durable + PartialEq + std::fmt::Debug>(value: T) {
    let mut bytes = Vec::new();
    value.encode(&mut bytes).unwrap();
    assert_eq!(T::decode(&bytes).unwrap(), value);
}

fn main() {
    round_trip(Named { id: 7, note: "hi".into(), raw: vec![1, 2] });
    round_trip(Tuple(3, "x".into()));
    round_trip(Unit);
    round_trip(Elsewhere(9));
    round_trip(Envelope { id: 1, body: "inside".to_owned() });
    round_trip(Envelope { id: 2, body: Tuple(5, "y".into()) });
    assert_eq!(Named::TAG, "t.Named/1");
    let mut bytes = Vec::new();
    Tuple(3, "x".into()).encode(&mut bytes).unwrap();
    bytes.push(0);
    assert_eq!(Tuple::decode(&bytes).unwrap_err().why(), "1 bytes after the last field");
    assert_eq!(Tuple::decode(&bytes[..10]).unwrap_err().why(), "field `1` is cut short");
}
