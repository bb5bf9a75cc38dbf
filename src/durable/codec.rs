//! How a durable message becomes bytes in the journal and back: the
//! [`Durable`] trait, its errors, the framing of a stored message (its
//! schema version, then its bytes), and the upcasting of older versions.
//! The encodings of the standard types are in `codec/std_types.rs`, and
//! every byte of them in `docs/journal-format.md`.

use std::fmt;

mod std_types;

/// A message type that can travel through a durable queue: it is written to
/// the journal as bytes and read back, possibly by a later build of the
/// program.
///
/// [`TAG`](Durable::TAG) names the type on disk. It is stored with the queue
/// when the queue is created, and opening the queue later with a type of
/// another tag fails with [`DurableError::TypeMismatch`], so a durable name
/// is never reused for bytes of another shape. Keep it stable across
/// releases.
///
/// [`VERSION`](Durable::VERSION) is the version of the type's shape, stored
/// with every message. When the shape changes, raise it and keep the old
/// shape as a type of its own: [`decode_version`](Durable::decode_version)
/// decodes a message of an older version through it and converts it (an
/// upcaster), so handlers only ever see the current type. The derive does
/// this with `#[durable(tag = "...", version = 2, from = OrderPlacedV1)]`.
/// A message of a newer version than the build knows is a typed error
/// ([`CodecErrorKind::NewerVersion`]), never a guess.
///
/// A message that fails to encode is refused by
/// [`DurableQueue::cast`](crate::durable::DurableQueue::cast) and never
/// persisted; a persisted message that fails to decode is dead-lettered
/// with the error, never dropped silently.
///
/// Implemented for the standard types (integers, floats, `bool`, `char`,
/// `String`, `Option`, `Vec`, `Box`, tuples, arrays, maps, sets,
/// `Duration`, `()`), and by `#[derive(Durable)]` for structs and enums.
///
/// # Example
///
/// By hand (the derive writes the same for you):
///
/// ```
/// use treeline::Durable;
/// use treeline::durable::{fields, CodecError};
///
/// struct Charge { order: u64, cents: u64 }
///
/// impl Durable for Charge {
///     const TAG: &'static str = "billing.Charge";
///
///     fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
///         fields::put(out, &self.order)?;
///         fields::put(out, &self.cents)
///     }
///
///     fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
///         let mut rest = bytes;
///         let charge = Charge { order: fields::take(&mut rest, "order")?, cents: fields::take(&mut rest, "cents")? };
///         fields::end(rest)?;
///         Ok(charge)
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
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be stored in a durable queue: it does not implement `Durable`",
    label = "not `Durable`",
    note = "derive it with `#[derive(Durable)]` and `#[durable(tag = \"...\")]`, or with `#[durable(tag = \"...\", serde)]` for a serde type (feature `serde`)"
)]
pub trait Durable: Send + Sized + 'static {
    /// The type's stable name on disk.
    const TAG: &'static str;

    /// The version of the type's shape, stored with every message (1 for a
    /// type that never changed).
    const VERSION: u16 = 1;

    /// Appends the message's bytes to `out`.
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError>;

    /// Rebuilds a message from the bytes [`encode`](Durable::encode) wrote.
    fn decode(bytes: &[u8]) -> Result<Self, CodecError>;

    /// Rebuilds a message stored by version `version` of this type. The
    /// default knows only [`VERSION`](Durable::VERSION); a type whose shape
    /// changed decodes older versions here, with [`upcast`] for a chain of
    /// versions.
    fn decode_version(version: u16, bytes: &[u8]) -> Result<Self, CodecError> {
        match version.cmp(&Self::VERSION) {
            std::cmp::Ordering::Equal => Self::decode(bytes),
            std::cmp::Ordering::Greater => Err(CodecError::newer::<Self>(version)),
            std::cmp::Ordering::Less => Err(CodecError::older::<Self>(version)),
        }
    }

    /// The size of every encoding of this type, when it is fixed (then a
    /// `Vec` of it is stored without a length per element).
    #[doc(hidden)]
    const FIXED_SIZE: Option<usize> = None;

    /// Appends a `Vec<Self>`'s elements (`u8` copies them at once).
    #[doc(hidden)]
    fn encode_all(items: &[Self], out: &mut Vec<u8>) -> Result<(), CodecError> {
        std_types::encode_seq(items, out)
    }

    /// Reads a `Vec<Self>` written by `encode_all`.
    #[doc(hidden)]
    fn decode_all(bytes: &[u8]) -> Result<Vec<Self>, CodecError> {
        let mut items = Vec::new();
        std_types::decode_seq(bytes, |item| items.push(item))?;
        Ok(items)
    }
}

/// Decodes a message of an older version of `T` through its previous
/// shape `Prev`, and converts it: one link of an upcaster chain (v1 -> v2
/// -> v3, each shape naming the one before it).
///
/// ```
/// use treeline::Durable;
/// use treeline::durable::{upcast, CodecErrorKind};
///
/// #[derive(Durable)]
/// #[durable(tag = "shop.Order")] // version 1
/// struct OrderV1 { id: u64 }
///
/// #[derive(Debug, PartialEq, Durable)]
/// #[durable(tag = "shop.Order", version = 2, from = OrderV1)]
/// struct Order { id: u64, note: Option<String> }
///
/// impl From<OrderV1> for Order {
///     fn from(old: OrderV1) -> Self { Order { id: old.id, note: None } }
/// }
///
/// let mut v1 = Vec::new();
/// OrderV1 { id: 7 }.encode(&mut v1).unwrap();
/// assert_eq!(Order::decode_version(1, &v1), Ok(Order { id: 7, note: None }));
/// let newer = Order::decode_version(3, &v1).unwrap_err();
/// assert_eq!(newer.kind(), &CodecErrorKind::NewerVersion { found: 3, known: 2 });
/// # let _ = upcast::<OrderV1, Order>;
/// ```
pub fn upcast<Prev, T>(version: u16, bytes: &[u8]) -> Result<T, CodecError>
where
    Prev: Durable,
    T: Durable + From<Prev>,
{
    const { assert!(Prev::VERSION < T::VERSION, "an upcaster's previous shape must have a lower VERSION") };
    match version.cmp(&T::VERSION) {
        std::cmp::Ordering::Equal => T::decode(bytes),
        std::cmp::Ordering::Greater => Err(CodecError::newer::<T>(version)),
        std::cmp::Ordering::Less => Prev::decode_version(version, bytes).map(T::from),
    }
}

/// A message that could not be encoded or decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodecError {
    kind: CodecErrorKind,
    why: String,
}

/// What kind of [`CodecError`] it is.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CodecErrorKind {
    /// The value cannot be encoded, or the bytes do not decode as the type.
    Invalid,
    /// Stored by a newer version of the type than this build knows (a
    /// rollback; deploy the newer build to read it).
    NewerVersion {
        /// The version stored with the message.
        found: u16,
        /// The newest version this build knows.
        known: u16,
    },
    /// Stored by an older version that this build has no upcaster for.
    OlderVersion {
        /// The version stored with the message.
        found: u16,
        /// The oldest version this build reads.
        known: u16,
    },
}

impl CodecError {
    /// An error with a description of what went wrong
    /// ([`CodecErrorKind::Invalid`]).
    ///
    /// ```
    /// let error = treeline::durable::CodecError::new("truncated");
    /// assert_eq!(error.to_string(), "cannot encode or decode a durable message: truncated");
    /// ```
    pub fn new(why: impl Into<String>) -> Self {
        CodecError { kind: CodecErrorKind::Invalid, why: why.into() }
    }

    /// What kind of error it is.
    pub fn kind(&self) -> &CodecErrorKind {
        &self.kind
    }

    /// The description.
    pub fn why(&self) -> &str {
        &self.why
    }

    /// The same error, its description prefixed by where it happened.
    pub(crate) fn within(self, place: &str) -> Self {
        CodecError { kind: self.kind, why: format!("{place}: {}", self.why) }
    }

    fn newer<T: Durable>(found: u16) -> Self {
        CodecError {
            kind: CodecErrorKind::NewerVersion { found, known: T::VERSION },
            why: format!("`{}` version {found} is newer than this build's {}", T::TAG, T::VERSION),
        }
    }

    fn older<T: Durable>(found: u16) -> Self {
        CodecError {
            kind: CodecErrorKind::OlderVersion { found, known: T::VERSION },
            why: format!("`{}` version {found} has no upcaster to version {}", T::TAG, T::VERSION),
        }
    }
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot encode or decode a durable message: {}", self.why)
    }
}

impl std::error::Error for CodecError {}

/// A stored message: its type's `u16` version, then its bytes.
pub(crate) fn encode_message<M: Durable>(msg: &M) -> Result<Vec<u8>, CodecError> {
    let mut bytes = Vec::with_capacity(64);
    bytes.extend_from_slice(&M::VERSION.to_le_bytes());
    msg.encode(&mut bytes)?;
    Ok(bytes)
}

/// A stored message's version and bytes (see [`encode_message`]).
pub(crate) fn split_message(payload: &[u8]) -> Option<(u16, &[u8])> {
    let (version, bytes) = payload.split_first_chunk::<2>()?;
    Some((u16::from_le_bytes(*version), bytes))
}

/// Reads a stored message (see [`encode_message`]), upcasting it.
pub(crate) fn decode_message<M: Durable>(payload: &[u8]) -> Result<M, CodecError> {
    let (version, bytes) =
        split_message(payload).ok_or_else(|| CodecError::new("a stored message without its version"))?;
    M::decode_version(version, bytes)
}

/// The field codec `#[derive(Durable)]` generates calls to, public for
/// hand-written impls: each field is its `u32` little-endian length, then
/// its own encoding; an enum's variant is its `u8`-length-prefixed name.
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
        take_named(rest, || name.to_owned())
    }

    /// [`take`], with the name made only for an error.
    pub(crate) fn take_named<T: Durable>(rest: &mut &[u8], name: impl Fn() -> String) -> Result<T, CodecError> {
        let short = || CodecError::new(format!("field `{}` is cut short", name()));
        let (len, tail) = rest.split_first_chunk::<4>().ok_or_else(short)?;
        let len = usize::try_from(u32::from_le_bytes(*len)).map_err(|_| short())?;
        let field = tail.get(..len).ok_or_else(short)?;
        *rest = &tail[len..];
        T::decode(field).map_err(|error| error.within(&format!("field `{}`", name())))
    }

    /// Appends an enum's variant name.
    pub fn put_variant(out: &mut Vec<u8>, name: &str) -> Result<(), CodecError> {
        let len = u8::try_from(name.len()).map_err(|_| CodecError::new("a variant name longer than 255 bytes"))?;
        out.push(len);
        out.extend_from_slice(name.as_bytes());
        Ok(())
    }

    /// Reads an enum's variant name (of type `ty`, in errors).
    pub fn take_variant<'a>(rest: &mut &'a [u8], ty: &str) -> Result<&'a str, CodecError> {
        let short = || CodecError::new(format!("the variant of `{ty}` is cut short"));
        let (&len, tail) = rest.split_first().ok_or_else(short)?;
        let name = tail.get(..usize::from(len)).ok_or_else(short)?;
        *rest = &tail[usize::from(len)..];
        std::str::from_utf8(name).map_err(|_| CodecError::new(format!("the variant of `{ty}` is not UTF-8")))
    }

    /// The error for a variant name the type does not have.
    pub fn unknown_variant(ty: &str, name: &str) -> CodecError {
        CodecError::new(format!("`{ty}` has no variant `{name}`"))
    }

    /// Checks that nothing follows the last field.
    pub fn end(rest: &[u8]) -> Result<(), CodecError> {
        match rest.len() {
            0 => Ok(()),
            n => Err(CodecError::new(format!("{n} bytes after the last field"))),
        }
    }
}
