//! How a durable message becomes bytes in the journal and back.

use std::fmt;

/// A message type that can travel through a durable queue: it is written to
/// the journal as bytes and read back, possibly by a later run of the
/// program.
///
/// [`TAG`](Durable::TAG) names the type on disk. It is stored with the queue
/// when the queue is created, and opening the queue later with a type of
/// another tag fails with [`DurableError::TypeMismatch`], so a durable name
/// is never reused for bytes of another shape. Keep it stable across
/// releases (change it when the encoding changes incompatibly).
///
/// A message that fails to encode is refused by
/// [`DurableQueue::cast`](crate::durable::DurableQueue::cast) and never persisted; a
/// persisted message that fails to decode (say, written by an older release)
/// is dead-lettered with the error, never dropped silently.
///
/// # Example
///
/// ```
/// use treeline::Durable;
/// use treeline::durable::CodecError;
///
/// struct Charge { order: u64, cents: u64 }
///
/// impl Durable for Charge {
///     const TAG: &'static str = "billing.Charge/1";
///
///     fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
///         out.extend_from_slice(&self.order.to_le_bytes());
///         out.extend_from_slice(&self.cents.to_le_bytes());
///         Ok(())
///     }
///
///     fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
///         let field = |at: usize| -> Result<u64, CodecError> {
///             let chunk = bytes.get(at..at + 8).ok_or_else(|| CodecError::new("charge too short"))?;
///             Ok(u64::from_le_bytes(chunk.try_into().expect("8 bytes")))
///         };
///         Ok(Charge { order: field(0)?, cents: field(8)? })
///     }
/// }
///
/// let mut bytes = Vec::new();
/// Charge { order: 7, cents: 250 }.encode(&mut bytes).unwrap();
/// let back = Charge::decode(&bytes).unwrap();
/// assert_eq!((back.order, back.cents), (7, 250));
/// assert!(Charge::decode(&bytes[..3]).is_err());
/// ```
///
/// [`DurableError::TypeMismatch`]: crate::durable::DurableError::TypeMismatch
pub trait Durable: Send + Sized + 'static {
    /// The type's stable name on disk.
    const TAG: &'static str;

    /// Appends the message's bytes to `out`.
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError>;

    /// Rebuilds a message from the bytes [`encode`](Durable::encode) wrote.
    fn decode(bytes: &[u8]) -> Result<Self, CodecError>;
}

/// A message that could not be encoded or decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodecError(String);

impl CodecError {
    /// An error with a description of what went wrong.
    ///
    /// ```
    /// let error = treeline::durable::CodecError::new("truncated");
    /// assert_eq!(error.to_string(), "cannot encode or decode a durable message: truncated");
    /// ```
    pub fn new(why: impl Into<String>) -> Self {
        CodecError(why.into())
    }

    /// The description.
    pub fn why(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot encode or decode a durable message: {}", self.0)
    }
}

impl std::error::Error for CodecError {}

/// The field codec `#[derive(Durable)]` generates calls to: each field is
/// its `u32` little-endian length, then its own encoding.
#[doc(hidden)]
pub mod fields {
    use super::{CodecError, Durable};

    /// Appends one field.
    pub fn put<T: Durable>(out: &mut Vec<u8>, field: &T) -> Result<(), CodecError> {
        let start = out.len();
        out.extend_from_slice(&[0; 4]);
        field.encode(out)?;
        let len = u32::try_from(out.len() - start - 4).map_err(|_| CodecError::new("a field longer than 4 GiB"))?;
        out[start..start + 4].copy_from_slice(&len.to_le_bytes());
        Ok(())
    }

    /// Reads the next field, named `name` in errors.
    pub fn take<T: Durable>(rest: &mut &[u8], name: &str) -> Result<T, CodecError> {
        let short = || CodecError::new(format!("field `{name}` is cut short"));
        let (len, tail) = rest.split_first_chunk::<4>().ok_or_else(short)?;
        let len = usize::try_from(u32::from_le_bytes(*len)).map_err(|_| short())?;
        let field = tail.get(..len).ok_or_else(short)?;
        *rest = &tail[len..];
        T::decode(field).map_err(|error| CodecError::new(format!("field `{name}`: {}", error.why())))
    }

    /// Checks that nothing follows the last field.
    pub fn end(rest: &[u8]) -> Result<(), CodecError> {
        match rest.len() {
            0 => Ok(()),
            n => Err(CodecError::new(format!("{n} bytes after the last field"))),
        }
    }
}

impl Durable for String {
    const TAG: &'static str = "String";

    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        out.extend_from_slice(self.as_bytes());
        Ok(())
    }

    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        String::from_utf8(bytes.to_vec()).map_err(|error| CodecError::new(error.to_string()))
    }
}

impl Durable for Vec<u8> {
    const TAG: &'static str = "Vec<u8>";

    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        out.extend_from_slice(self);
        Ok(())
    }

    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        Ok(bytes.to_vec())
    }
}

macro_rules! durable_int {
    ($($int:ty),*) => {$(
        impl Durable for $int {
            const TAG: &'static str = stringify!($int);

            fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
                out.extend_from_slice(&self.to_le_bytes());
                Ok(())
            }

            fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
                let bytes = bytes.try_into().map_err(|_| {
                    CodecError::new(format!("{} needs {} bytes, got {}", stringify!($int), size_of::<$int>(), bytes.len()))
                })?;
                Ok(<$int>::from_le_bytes(bytes))
            }
        }
    )*};
}

durable_int!(u8, u16, u32, u64, u128, i8, i16, i32, i64, i128);

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T: Durable + PartialEq + fmt::Debug>(value: T) {
        let mut bytes = Vec::new();
        value.encode(&mut bytes).unwrap();
        assert_eq!(T::decode(&bytes).unwrap(), value);
    }

    #[test]
    fn built_in_types_round_trip_and_reject_bad_bytes() {
        round_trip(String::from("order 7"));
        round_trip(vec![1u8, 2, 3]);
        round_trip(u64::MAX);
        round_trip(-5i32);
        assert!(u64::decode(&[1, 2]).is_err());
        assert!(String::decode(&[0xff]).is_err());
    }
}
