//! `Durable` for the standard types. Every encoding is little-endian with
//! fixed widths, and decoding rejects trailing bytes; the layouts are in
//! `docs/journal-format.md` ("Message encodings").

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::{BuildHasher, Hash};
use std::time::Duration;

use super::fields;
use super::{CodecError, Durable};

/// Bytes of exactly `N`, for the fixed-size types.
fn exactly<const N: usize>(bytes: &[u8], ty: &str) -> Result<[u8; N], CodecError> {
    bytes.try_into().map_err(|_| CodecError::new(format!("{ty} needs {N} bytes, got {}", bytes.len())))
}

macro_rules! durable_number {
    ($($ty:ty),*) => {$(
        impl Durable for $ty {
            const TAG: &'static str = stringify!($ty);
            #[doc(hidden)]
            const FIXED_SIZE: Option<usize> = Some(size_of::<$ty>());

            fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
                out.extend_from_slice(&self.to_le_bytes());
                Ok(())
            }

            fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
                Ok(<$ty>::from_le_bytes(exactly(bytes, stringify!($ty))?))
            }
        }
    )*};
}

durable_number!(u16, u32, u64, u128, i8, i16, i32, i64, i128, f32, f64);

/// A byte; a `Vec<u8>` is stored as the bytes themselves, copied at once.
impl Durable for u8 {
    const TAG: &'static str = "u8";
    #[doc(hidden)]
    const FIXED_SIZE: Option<usize> = Some(1);

    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        out.push(*self);
        Ok(())
    }

    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        Ok(u8::from_le_bytes(exactly(bytes, "u8")?))
    }

    fn encode_all(items: &[u8], out: &mut Vec<u8>) -> Result<(), CodecError> {
        out.extend_from_slice(items);
        Ok(())
    }

    fn decode_all(bytes: &[u8]) -> Result<Vec<u8>, CodecError> {
        Ok(bytes.to_vec())
    }
}

/// `usize` and `isize` are stored as 64 bits, whatever the platform.
macro_rules! durable_size {
    ($($ty:ty => $wide:ty),*) => {$(
        impl Durable for $ty {
            const TAG: &'static str = stringify!($ty);
            #[doc(hidden)]
            const FIXED_SIZE: Option<usize> = Some(8);

            fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
                out.extend_from_slice(&(*self as $wide).to_le_bytes());
                Ok(())
            }

            fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
                let wide = <$wide>::from_le_bytes(exactly(bytes, stringify!($ty))?);
                <$ty>::try_from(wide).map_err(|_| CodecError::new(format!("{wide} does not fit in {}", stringify!($ty))))
            }
        }
    )*};
}

durable_size!(usize => u64, isize => i64);

impl Durable for bool {
    const TAG: &'static str = "bool";
    #[doc(hidden)]
    const FIXED_SIZE: Option<usize> = Some(1);

    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        out.push(u8::from(*self));
        Ok(())
    }

    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        match exactly::<1>(bytes, "bool")? {
            [0] => Ok(false),
            [1] => Ok(true),
            [other] => Err(CodecError::new(format!("{other} is not a bool (0 or 1)"))),
        }
    }
}

impl Durable for char {
    const TAG: &'static str = "char";
    #[doc(hidden)]
    const FIXED_SIZE: Option<usize> = Some(4);

    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        out.extend_from_slice(&u32::from(*self).to_le_bytes());
        Ok(())
    }

    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        let scalar = u32::from_le_bytes(exactly(bytes, "char")?);
        char::from_u32(scalar).ok_or_else(|| CodecError::new(format!("{scalar:#x} is not a char")))
    }
}

impl Durable for () {
    const TAG: &'static str = "()";

    fn encode(&self, _: &mut Vec<u8>) -> Result<(), CodecError> {
        Ok(())
    }

    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        fields::end(bytes)
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

impl Durable for Duration {
    const TAG: &'static str = "Duration";
    #[doc(hidden)]
    const FIXED_SIZE: Option<usize> = Some(12);

    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        out.extend_from_slice(&self.as_secs().to_le_bytes());
        out.extend_from_slice(&self.subsec_nanos().to_le_bytes());
        Ok(())
    }

    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        let bytes: [u8; 12] = exactly(bytes, "Duration")?;
        let (secs, nanos) = bytes.split_at(8);
        let secs = u64::from_le_bytes(secs.try_into().expect("8 bytes"));
        let nanos = u32::from_le_bytes(nanos.try_into().expect("4 bytes"));
        if nanos >= 1_000_000_000 {
            return Err(CodecError::new(format!("{nanos} nanoseconds is not below a second")));
        }
        Ok(Duration::new(secs, nanos))
    }
}

impl<T: Durable> Durable for Box<T> {
    const TAG: &'static str = T::TAG;
    const VERSION: u16 = T::VERSION;
    #[doc(hidden)]
    const FIXED_SIZE: Option<usize> = T::FIXED_SIZE;

    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        (**self).encode(out)
    }

    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        T::decode(bytes).map(Box::new)
    }

    fn decode_version(version: u16, bytes: &[u8]) -> Result<Self, CodecError> {
        T::decode_version(version, bytes).map(Box::new)
    }
}

impl<T: Durable> Durable for Option<T> {
    const TAG: &'static str = "Option";

    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        match self {
            None => out.push(0),
            Some(value) => {
                out.push(1);
                value.encode(out)?;
            }
        }
        Ok(())
    }

    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        match bytes.split_first() {
            Some((0, rest)) => fields::end(rest).map(|()| None),
            Some((1, rest)) => T::decode(rest).map(Some),
            Some((other, _)) => Err(CodecError::new(format!("{other} is not an Option's tag (0 or 1)"))),
            None => Err(CodecError::new("an empty Option")),
        }
    }
}

/// A sequence: elements back to back when their type has a fixed size,
/// else each as a field (its `u32` length, then its bytes).
pub(super) fn encode_seq<'a, T: Durable + 'a>(
    items: impl IntoIterator<Item = &'a T>,
    out: &mut Vec<u8>,
) -> Result<(), CodecError> {
    for item in items {
        match T::FIXED_SIZE {
            Some(size) if size > 0 => item.encode(out)?,
            _ => fields::put(out, item)?,
        }
    }
    Ok(())
}

/// Reads a sequence written by [`encode_seq`], handing each element over.
pub(super) fn decode_seq<T: Durable>(mut bytes: &[u8], mut each: impl FnMut(T)) -> Result<(), CodecError> {
    match T::FIXED_SIZE {
        Some(size) if size > 0 => {
            if !bytes.len().is_multiple_of(size) {
                return Err(CodecError::new(format!(
                    "{} bytes is not a whole number of {size}-byte elements",
                    bytes.len()
                )));
            }
            for (index, chunk) in bytes.chunks_exact(size).enumerate() {
                each(T::decode(chunk).map_err(|error| error.within(&format!("element {index}")))?);
            }
        }
        _ => {
            let mut index = 0usize;
            while !bytes.is_empty() {
                each(fields::take_named(&mut bytes, || format!("element {index}"))?);
                index += 1;
            }
        }
    }
    Ok(())
}

impl<T: Durable> Durable for Vec<T> {
    const TAG: &'static str = "Vec";

    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        T::encode_all(self, out)
    }

    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        T::decode_all(bytes)
    }
}

impl<T: Durable, const N: usize> Durable for [T; N] {
    const TAG: &'static str = "array";
    #[doc(hidden)]
    const FIXED_SIZE: Option<usize> = match T::FIXED_SIZE {
        Some(size) if size > 0 => Some(size * N),
        _ => None,
    };

    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        encode_seq(self, out)
    }

    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        let items = Vec::<T>::decode(bytes)?;
        let count = items.len();
        items.try_into().map_err(|_| CodecError::new(format!("an array of {N} elements, got {count}")))
    }
}

impl<T: Durable + Ord> Durable for BTreeSet<T> {
    const TAG: &'static str = "BTreeSet";

    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        encode_seq(self, out)
    }

    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        let mut set = BTreeSet::new();
        decode_seq(bytes, |item| {
            set.insert(item);
        })?;
        Ok(set)
    }
}

impl<T: Durable + Eq + Hash, S: BuildHasher + Default + Send + 'static> Durable for HashSet<T, S> {
    const TAG: &'static str = "HashSet";

    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        encode_seq(self, out)
    }

    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        let mut set = HashSet::default();
        decode_seq(bytes, |item| {
            set.insert(item);
        })?;
        Ok(set)
    }
}

/// A map: each entry as two fields, its key and its value.
fn encode_map<'a, K: Durable + 'a, V: Durable + 'a>(
    entries: impl IntoIterator<Item = (&'a K, &'a V)>,
    out: &mut Vec<u8>,
) -> Result<(), CodecError> {
    for (key, value) in entries {
        fields::put(out, key)?;
        fields::put(out, value)?;
    }
    Ok(())
}

fn decode_map<K: Durable, V: Durable>(mut bytes: &[u8], mut each: impl FnMut(K, V)) -> Result<(), CodecError> {
    let mut index = 0usize;
    while !bytes.is_empty() {
        let key = fields::take_named(&mut bytes, || format!("key {index}"))?;
        let value = fields::take_named(&mut bytes, || format!("value {index}"))?;
        each(key, value);
        index += 1;
    }
    Ok(())
}

impl<K: Durable + Ord, V: Durable> Durable for BTreeMap<K, V> {
    const TAG: &'static str = "BTreeMap";

    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        encode_map(self, out)
    }

    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        let mut map = BTreeMap::new();
        decode_map(bytes, |key, value| {
            map.insert(key, value);
        })?;
        Ok(map)
    }
}

impl<K: Durable + Eq + Hash, V: Durable, S: BuildHasher + Default + Send + 'static> Durable for HashMap<K, V, S> {
    const TAG: &'static str = "HashMap";

    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        encode_map(self, out)
    }

    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        let mut map = HashMap::default();
        decode_map(bytes, |key, value| {
            map.insert(key, value);
        })?;
        Ok(map)
    }
}

/// Tuples: each element as a field, in order.
macro_rules! durable_tuple {
    ($($name:ident $index:tt),+) => {
        impl<$($name: Durable),+> Durable for ($($name,)+) {
            const TAG: &'static str = "tuple";

            fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
                $( fields::put(out, &self.$index)?; )+
                Ok(())
            }

            fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
                let mut rest = bytes;
                let value = ($( fields::take::<$name>(&mut rest, stringify!($index))?, )+);
                fields::end(rest)?;
                Ok(value)
            }
        }
    };
}

durable_tuple!(A 0);
durable_tuple!(A 0, B 1);
durable_tuple!(A 0, B 1, C 2);
durable_tuple!(A 0, B 1, C 2, D 3);
durable_tuple!(A 0, B 1, C 2, D 3, E 4);
durable_tuple!(A 0, B 1, C 2, D 3, E 4, F 5);
durable_tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6);
durable_tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);

#[cfg(test)]
mod tests {
    use std::fmt::Debug;

    use super::*;

    fn round_trip<T: Durable + PartialEq + Debug>(value: T) -> Vec<u8> {
        let mut bytes = Vec::new();
        value.encode(&mut bytes).unwrap();
        assert_eq!(T::decode(&bytes).unwrap(), value);
        bytes
    }

    fn trailing_byte_is_refused<T: Durable + Debug>(value: T) {
        let mut bytes = Vec::new();
        value.encode(&mut bytes).unwrap();
        bytes.push(0);
        assert!(T::decode(&bytes).is_err(), "{value:?} with a trailing byte decoded");
    }

    #[test]
    fn numbers_and_scalars_round_trip_in_their_documented_layouts() {
        assert_eq!(round_trip(0x0102_0304u32), [4, 3, 2, 1]);
        assert_eq!(round_trip(-2i16), [0xfe, 0xff]);
        assert_eq!(round_trip(1.5f64), 1.5f64.to_bits().to_le_bytes());
        assert_eq!(round_trip(f32::NEG_INFINITY), f32::NEG_INFINITY.to_bits().to_le_bytes());
        assert!(f64::decode(&f64::NAN.to_le_bytes()).unwrap().is_nan());
        assert_eq!(round_trip(7usize), 7u64.to_le_bytes());
        assert_eq!(round_trip(-7isize), (-7i64).to_le_bytes());
        assert_eq!(round_trip(true), [1]);
        assert_eq!(round_trip(false), [0]);
        assert_eq!(round_trip('é'), 0xe9u32.to_le_bytes());
        assert_eq!(round_trip(()), [0u8; 0]);
        assert_eq!(round_trip(Duration::new(3, 5)), [3, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0]);
        assert_eq!(round_trip(String::from("hé")), "hé".as_bytes());
        round_trip(u128::MAX);
        round_trip(i8::MIN);
    }

    #[test]
    fn bad_scalars_are_refused() {
        assert!(bool::decode(&[2]).is_err());
        assert!(char::decode(&0xd800u32.to_le_bytes()).is_err(), "a surrogate");
        assert!(Duration::decode(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0xca, 0x9a, 0x3b]).is_err(), "a billion nanos");
        assert!(String::decode(&[0xff]).is_err());
        assert!(u64::decode(&[1, 2]).is_err());
        if usize::BITS < 64 {
            assert!(usize::decode(&u64::MAX.to_le_bytes()).is_err());
        }
        for value in [1u32.to_le_bytes().to_vec(), vec![1]] {
            assert!(<()>::decode(&value).is_err());
        }
    }

    #[test]
    fn containers_round_trip_in_their_documented_layouts() {
        assert_eq!(round_trip(vec![1u8, 2, 3]), [1, 2, 3], "bytes as they are");
        assert_eq!(round_trip(vec![1u16, 2]), [1, 0, 2, 0], "fixed-size elements back to back");
        assert_eq!(round_trip(vec![String::from("ab")]), [2, 0, 0, 0, b'a', b'b'], "others as fields");
        assert_eq!(round_trip(Vec::<String>::new()), [0u8; 0]);
        assert_eq!(round_trip(vec![(), ()]), [0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(round_trip(Some(5u8)), [1, 5]);
        assert_eq!(round_trip(None::<u8>), [0]);
        assert_eq!(round_trip(Some(None::<u8>)), [1, 0]);
        assert_eq!(round_trip(Box::new(9u8)), [9]);
        assert_eq!(round_trip([1u8, 2]), [1, 2]);
        round_trip([String::from("a"), String::from("b")]);
        assert_eq!(round_trip((1u8, String::from("x"))), [1, 0, 0, 0, 1, 1, 0, 0, 0, b'x']);
        round_trip((1u8, 2u16, 3u32, 4u64, 5i8, 6i16, 7i32, String::new()));
        let map: BTreeMap<String, u32> = [("a".into(), 1), ("b".into(), 2)].into();
        assert_eq!(
            round_trip(map),
            [1, 0, 0, 0, b'a', 4, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, b'b', 4, 0, 0, 0, 2, 0, 0, 0]
        );
        round_trip(HashMap::<u64, Vec<String>>::from([(1, vec!["x".into()]), (2, vec![])]));
        round_trip(BTreeSet::from([3u8, 1, 2]));
        round_trip(HashSet::<String>::from(["a".into(), "b".into()]));
        round_trip(vec![vec![1u32], vec![], vec![2, 3]]);
        round_trip(vec![Some(Duration::from_millis(5)), None]);
    }

    #[test]
    fn damaged_containers_are_refused_with_where() {
        assert!(Vec::<u16>::decode(&[1, 0, 2]).is_err(), "half an element");
        assert!(<[u8; 2]>::decode(&[1, 2, 3]).is_err(), "the wrong count");
        assert!(Option::<u8>::decode(&[2, 5]).is_err());
        assert!(Option::<u8>::decode(&[]).is_err());
        let error = Vec::<bool>::decode(&[1, 7]).unwrap_err();
        assert_eq!(error.why(), "element 1: 7 is not a bool (0 or 1)");
        let error = Vec::<String>::decode(&[5, 0, 0, 0, b'a']).unwrap_err();
        assert_eq!(error.why(), "field `element 0` is cut short");
        trailing_byte_is_refused(None::<u8>);
        trailing_byte_is_refused((1u8, 2u8));
        trailing_byte_is_refused(5u32);
        trailing_byte_is_refused(true);
        trailing_byte_is_refused(Duration::ZERO);
        trailing_byte_is_refused(vec![String::from("a")]);
        trailing_byte_is_refused(BTreeMap::from([(1u8, 2u8)]));
    }
}
