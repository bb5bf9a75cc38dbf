// #[derive(Durable)]: named, tuple and unit structs, enums, generic types
// and serde types round-trip; damaged bytes give a typed error naming the
// field; an older version is read through its upcaster.
use std::collections::BTreeMap;

use treeline::durable::CodecErrorKind;
use treeline::Durable;

#[derive(Debug, PartialEq, Durable)]
#[durable(tag = "t.Named")]
struct Named {
    id: u64,
    note: String,
    raw: Vec<u8>,
}

#[derive(Debug, PartialEq, Durable)]
#[durable(tag = "t.Tuple")]
struct Tuple(u32, String);

#[derive(Debug, PartialEq, Durable)]
#[durable(tag = "t.Unit")]
struct Unit;

mod reexported {
    pub use treeline as runtime;
}

#[derive(Debug, PartialEq, Durable)]
#[durable(tag = "t.Elsewhere", crate = "reexported::runtime")]
struct Elsewhere(u8);

/// A generic struct: the derive asks `T: Durable` of its parameter.
#[derive(Debug, PartialEq, Durable)]
#[durable(tag = "t.Envelope")]
struct Envelope<T> {
    id: u64,
    body: T,
}

/// The realistic event: nested types, `Vec`, `Option`, an enum.
#[derive(Debug, PartialEq, Durable)]
#[durable(tag = "shop.OrderPlaced")]
struct OrderPlaced {
    id: u64,
    lines: Vec<Line>,
    note: Option<String>,
    kind: OrderKind,
}

#[derive(Debug, PartialEq, Durable)]
#[durable(tag = "shop.Line")]
struct Line {
    sku: String,
    qty: u32,
    cents: u64,
}

#[derive(Debug, PartialEq, Durable)]
#[durable(tag = "shop.OrderKind")]
enum OrderKind {
    Retail,
    Wholesale { account: u64 },
    Gift(String, bool),
}

#[derive(Debug, PartialEq, Durable)]
#[durable(tag = "t.Price")] // version 1
struct PriceV1 {
    cents: u64,
}

#[derive(Debug, PartialEq, Durable)]
#[durable(tag = "t.Price", version = 2, from = PriceV1)]
struct PriceV2 {
    cents: u64,
    currency: String,
}

impl From<PriceV1> for PriceV2 {
    fn from(old: PriceV1) -> Self {
        PriceV2 { cents: old.cents, currency: "EUR".into() }
    }
}

#[derive(Debug, PartialEq, Durable)]
#[durable(tag = "t.Price", version = 3, from = PriceV2)]
struct Price {
    cents: u64,
    currency: String,
    tax: Option<u64>,
}

impl From<PriceV2> for Price {
    fn from(old: PriceV2) -> Self {
        Price { cents: old.cents, currency: old.currency, tax: None }
    }
}

#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize, Durable)]
#[durable(tag = "t.Serde", serde)]
struct ViaSerde {
    id: u64,
    tags: BTreeMap<String, String>,
}

/// Recursive types: the derive bounds no field type that contains the
/// type itself.
#[derive(Debug, PartialEq, Durable)]
#[durable(tag = "t.Tree")]
struct Tree {
    label: String,
    children: Vec<Tree>,
}

#[derive(Debug, PartialEq, Durable)]
#[durable(tag = "t.Expr")]
enum Expr {
    Lit(i64),
    Add(Box<Expr>, Box<Expr>),
}

fn round_trip<T: Durable + PartialEq + std::fmt::Debug>(value: T) -> Vec<u8> {
    let mut bytes = Vec::new();
    value.encode(&mut bytes).unwrap();
    assert_eq!(T::decode(&bytes).unwrap(), value);
    bytes
}

fn main() {
    round_trip(Named { id: 7, note: "hi".into(), raw: vec![1, 2] });
    round_trip(Tuple(3, "x".into()));
    round_trip(Unit);
    round_trip(Elsewhere(9));
    round_trip(Envelope { id: 1, body: "inside".to_owned() });
    round_trip(Envelope { id: 2, body: Tuple(5, "y".into()) });
    round_trip(OrderPlaced {
        id: 1,
        lines: vec![Line { sku: "tea".into(), qty: 2, cents: 450 }],
        note: Some("ring twice".into()),
        kind: OrderKind::Wholesale { account: 9 },
    });
    round_trip(OrderKind::Retail);
    round_trip(Tree { label: "root".into(), children: vec![Tree { label: "leaf".into(), children: vec![] }] });
    round_trip(Expr::Add(Box::new(Expr::Lit(1)), Box::new(Expr::Lit(2))));
    round_trip(OrderKind::Gift("to Ann".into(), true));
    round_trip(ViaSerde { id: 4, tags: [("a".into(), "b".into())].into() });
    assert_eq!(Named::TAG, "t.Named");
    assert_eq!((Named::VERSION, Price::VERSION), (1, 3));

    let mut bytes = Vec::new();
    Tuple(3, "x".into()).encode(&mut bytes).unwrap();
    bytes.push(0);
    assert_eq!(Tuple::decode(&bytes).unwrap_err().why(), "1 bytes after the last field");
    assert_eq!(Tuple::decode(&bytes[..10]).unwrap_err().why(), "field `1` is cut short");
    let retail = round_trip(OrderKind::Retail);
    assert_eq!(retail, b"\x06Retail", "an enum stores its variant's name");
    assert_eq!(OrderKind::decode(b"\x04Nope").unwrap_err().why(), "`OrderKind` has no variant `Nope`");

    // v1 and v2 bytes read as v3 through the chain; v4 is a typed error.
    let v1 = round_trip(PriceV1 { cents: 100 });
    assert_eq!(Price::decode_version(1, &v1).unwrap(), Price { cents: 100, currency: "EUR".into(), tax: None });
    let v2 = round_trip(PriceV2 { cents: 5, currency: "USD".into() });
    assert_eq!(Price::decode_version(2, &v2).unwrap(), Price { cents: 5, currency: "USD".into(), tax: None });
    let newer = Price::decode_version(4, &v2).unwrap_err();
    assert_eq!(newer.kind(), &CodecErrorKind::NewerVersion { found: 4, known: 3 });
    let older = PriceV2::decode_version(0, &v1).unwrap_err();
    assert!(matches!(older.kind(), CodecErrorKind::OlderVersion { found: 0, known: 1 }), "{older:?}");
}
