//! The serde bridge (feature `serde`): any `Serialize + DeserializeOwned`
//! type stored as JSON, through `#[durable(tag = "...", serde)]` on the
//! type or the [`Json`] wrapper on a field.
//!
//! JSON is self-describing and evolves by field name: a field added with
//! `#[serde(default)]` reads from older messages, and older builds skip it
//! in newer ones (serde ignores unknown fields unless told otherwise).

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::codec::{CodecError, Durable};

/// Appends `value` as JSON (what `#[durable(serde)]` generates).
pub fn encode<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<(), CodecError> {
    serde_json::to_writer(out, value).map_err(|error| CodecError::new(format!("JSON: {error}")))
}

/// Reads a value written by [`encode`].
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    serde_json::from_slice(bytes).map_err(|error| CodecError::new(format!("JSON: {error}")))
}

/// A serde type as a `Durable` field (or message) in JSON, inside a type
/// whose other fields use treeline's own encodings.
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use treeline::Durable;
/// use treeline::durable::Json;
///
/// #[derive(Debug, PartialEq, Serialize, Deserialize)]
/// struct Address { street: String, city: String }
///
/// #[derive(Debug, PartialEq, Durable)]
/// #[durable(tag = "shop.Shipped")]
/// struct Shipped { order: u64, to: Json<Address> }
///
/// let shipped = Shipped { order: 7, to: Json(Address { street: "1 Main St".into(), city: "Lyon".into() }) };
/// let mut bytes = Vec::new();
/// shipped.encode(&mut bytes).unwrap();
/// assert_eq!(Shipped::decode(&bytes).unwrap(), shipped);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Json<T>(pub T);

impl<T: Serialize + DeserializeOwned + Send + 'static> Durable for Json<T> {
    const TAG: &'static str = "json";

    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        encode(&self.0, out)
    }

    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        decode(bytes).map(Json)
    }
}
