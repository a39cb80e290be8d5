//! [`TypedMap<K, V>`]: a [`HashMap`] whose keys and values are Rust types, written in the
//! shared value encoding through [`value::codec`](crate::value::codec).
//!
//! A typed map is a view, not a kind of object: the map in the store is an ordinary hash map,
//! and the same map can be opened raw ([`TypedMap::raw`]), from Python (whose default maps
//! use the same encoding) or from C. With the built-in codecs a `TypedMap<String, i64>` reads
//! what Python wrote as `m["a"] = 1`, and Python reads back what it writes with the types it
//! expects; keys are matched in the form Python stores them (`1.0` and `true` are the key `1`,
//! see [`value::codec`](crate::value::codec)).
//!
//! Invariants:
//! - every key is written in its key form ([`Encode::encode_key_into`]) and every value in
//!   its value form, before any lock is taken; no codec runs under a shard lock except the
//!   crate's own number decoding in [`TypedMap::incr`];
//! - stored bytes that do not decode as `K` or `V` (written by another type or language) are
//!   an error ([`TypedMapError::Key`], [`TypedMapError::Value`]) for that entry, never a
//!   panic; iteration yields the error as an item and goes on;
//! - the map's own guarantees (atomic single-key writes, weakly consistent iteration, batch
//!   semantics) are those of [`HashMap`], unchanged.
//!
//! ```
//! use shmkit::{Store, StoreOptions};
//! let name = format!("doc-typed-map-{}", std::process::id()); // unique to this process
//! let store = Store::create(&name, &StoreOptions::default()).unwrap();
//! let scores = store.typed_map::<String, i64>("scores").unwrap();
//! scores.set("ada", &36).unwrap();
//! assert_eq!(scores.incr("ada", 1).unwrap(), 37);
//! assert_eq!(scores.get("ada").unwrap(), Some(37));
//! assert_eq!(scores.insert("bob", &1).unwrap(), None);
//! assert!(!scores.insert_if_absent("bob", &2).unwrap());
//! assert!(scores.compare_and_set("bob", Some(&1), Some(&5)).unwrap());
//! let mut all: Vec<(String, i64)> = scores.iter().map(Result::unwrap).collect();
//! all.sort();
//! assert_eq!(all, [("ada".to_string(), 37), ("bob".to_string(), 5)]);
//! // Float keys are looked up as Python's dict would: 2.0 is the key 2.
//! let by_number = store.typed_map::<f64, String>("by-number").unwrap();
//! by_number.set(&2.0, "two").unwrap();
//! assert_eq!(store.typed_map::<i64, String>("by-number").unwrap().get(&2).unwrap().as_deref(), Some("two"));
//! Store::remove(&name).unwrap();
//! ```

use super::{HashMap, HashMapOptions, MapError, UpdateAction};
use crate::store::Store;
use crate::value::arith::{AddError, add_to};
use crate::value::codec::{Codec, CodecError, Decode, Encode, Number};
use std::borrow::Borrow;
use std::marker::PhantomData;

/// Why a typed map operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TypedMapError {
    /// The map operation itself failed.
    #[error(transparent)]
    Map(#[from] MapError),
    /// A key could not be encoded, or a stored key does not decode as `K`.
    #[error("key: {0}")]
    Key(#[source] CodecError),
    /// A value could not be encoded, or a stored value does not decode as `V`.
    #[error("value: {0}")]
    Value(#[source] CodecError),
    /// [`TypedMap::incr`] on a value that is not a number, or an int too large to add to a
    /// float; the stored value is unchanged.
    #[error(transparent)]
    Incr(#[from] AddError),
}

/// A hash map with keys of type `K` and values of type `V`; see the module documentation.
/// Cheap to clone (it shares the [`HashMap`] handle).
pub struct TypedMap<K, V> {
    map: HashMap,
    types: PhantomData<fn() -> (K, V)>,
}

impl<K, V> Clone for TypedMap<K, V> {
    fn clone(&self) -> Self {
        TypedMap {
            map: self.map.clone(),
            types: PhantomData,
        }
    }
}

impl<K, V> std::fmt::Debug for TypedMap<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TypedMap")
            .field("map", &self.map)
            .field("key", &std::any::type_name::<K>())
            .field("value", &std::any::type_name::<V>())
            .finish()
    }
}

fn key_bytes<Q: Encode + ?Sized>(key: &Q) -> Result<Vec<u8>, TypedMapError> {
    key.encode_key().map_err(TypedMapError::Key)
}

fn value_bytes<W: Encode + ?Sized>(value: &W) -> Result<Vec<u8>, TypedMapError> {
    value.encode().map_err(TypedMapError::Value)
}

impl<K: Codec, V: Codec> TypedMap<K, V> {
    /// A typed view of `map` (no check: entries of other types are reported when read).
    pub fn new(map: HashMap) -> Self {
        TypedMap {
            map,
            types: PhantomData,
        }
    }

    /// The untyped map: keys and values as their encoded bytes.
    pub fn raw(&self) -> &HashMap {
        &self.map
    }

    /// The untyped map, consuming the view.
    pub fn into_raw(self) -> HashMap {
        self.map
    }

    fn decode_value(bytes: &[u8]) -> Result<V, TypedMapError> {
        V::decode(bytes).map_err(TypedMapError::Value)
    }

    fn decode_opt(bytes: Option<Vec<u8>>) -> Result<Option<V>, TypedMapError> {
        bytes.as_deref().map(Self::decode_value).transpose()
    }

    /// The value of `key`, if present. `key` may be any borrowed form of `K` (`&str` for a
    /// `String` key, `&[u8]` for `Vec<u8>`).
    pub fn get<Q>(&self, key: &Q) -> Result<Option<V>, TypedMapError>
    where
        K: Borrow<Q>,
        Q: Encode + ?Sized,
    {
        Self::decode_opt(self.map.get(&key_bytes(key)?)?)
    }

    /// True if `key` is present.
    pub fn contains_key<Q>(&self, key: &Q) -> Result<bool, TypedMapError>
    where
        K: Borrow<Q>,
        Q: Encode + ?Sized,
    {
        Ok(self.map.contains_key(&key_bytes(key)?)?)
    }

    /// Inserts or overwrites without reading the previous value.
    pub fn set<Q, W>(&self, key: &Q, value: &W) -> Result<(), TypedMapError>
    where
        K: Borrow<Q>,
        V: Borrow<W>,
        Q: Encode + ?Sized,
        W: Encode + ?Sized,
    {
        Ok(self.map.set(&key_bytes(key)?, &value_bytes(value)?)?)
    }

    /// Inserts or overwrites; returns the previous value. The write happens even when the
    /// previous value does not decode as `V`: the result is then [`TypedMapError::Value`].
    pub fn insert<Q, W>(&self, key: &Q, value: &W) -> Result<Option<V>, TypedMapError>
    where
        K: Borrow<Q>,
        V: Borrow<W>,
        Q: Encode + ?Sized,
        W: Encode + ?Sized,
    {
        Self::decode_opt(self.map.insert(&key_bytes(key)?, &value_bytes(value)?)?)
    }

    /// Inserts only if `key` is absent; true if inserted.
    pub fn insert_if_absent<Q, W>(&self, key: &Q, value: &W) -> Result<bool, TypedMapError>
    where
        K: Borrow<Q>,
        V: Borrow<W>,
        Q: Encode + ?Sized,
        W: Encode + ?Sized,
    {
        Ok(self
            .map
            .insert_if_absent(&key_bytes(key)?, &value_bytes(value)?)?)
    }

    /// Removes `key`; returns its value if it was present. The entry is removed even when its
    /// value does not decode as `V` (the result is then [`TypedMapError::Value`]).
    pub fn remove<Q>(&self, key: &Q) -> Result<Option<V>, TypedMapError>
    where
        K: Borrow<Q>,
        Q: Encode + ?Sized,
    {
        Self::decode_opt(self.map.remove(&key_bytes(key)?)?)
    }

    /// Removes `key`; true if it was present.
    pub fn delete<Q>(&self, key: &Q) -> Result<bool, TypedMapError>
    where
        K: Borrow<Q>,
        Q: Encode + ?Sized,
    {
        Ok(self.map.delete(&key_bytes(key)?)?)
    }

    /// One conditional write ([`HashMap::compare_and_set`]): `expected` `None` means "must be
    /// absent", `Some(v)` "must hold v"; `new` `None` removes, `Some(v)` sets. True if the
    /// condition held and the write happened. The comparison is of encoded bytes: a stored
    /// int `1` does not match an expected `1.0f64` (a float), nor `0.0` a stored `-0.0`.
    pub fn compare_and_set<Q>(
        &self,
        key: &Q,
        expected: Option<&V>,
        new: Option<&V>,
    ) -> Result<bool, TypedMapError>
    where
        K: Borrow<Q>,
        Q: Encode + ?Sized,
    {
        let key = key_bytes(key)?;
        let expected = expected.map(value_bytes).transpose()?;
        let new = new.map(value_bytes).transpose()?;
        Ok(self
            .map
            .compare_and_set(&key, expected.as_deref(), new.as_deref())?)
    }

    /// Atomically adds `delta` to the number stored under `key` (a missing key counts as 0)
    /// and returns the sum, with the rules of [`crate::value::arith`] that Python's and C's
    /// `incr` follow. The sum is stored only if it is a `V`: an `i32` counter that would pass
    /// `i32::MAX`, or a float stored where `V` is an integer, is [`TypedMapError::Value`]
    /// and changes nothing (Python would promote to a big int or a float instead). A value
    /// that is not a number is [`TypedMapError::Incr`], also changing nothing.
    pub fn incr<Q>(&self, key: &Q, delta: V) -> Result<V, TypedMapError>
    where
        K: Borrow<Q>,
        Q: Encode + ?Sized,
        V: Number,
    {
        let key = key_bytes(key)?;
        let mut outcome = None;
        delta.with_addend(|addend| {
            self.map.update(&key, |current| {
                let sum = add_to(current, addend)
                    .map_err(TypedMapError::Incr)
                    .and_then(|sum| Ok((Self::decode_value(&sum)?, sum)));
                match sum {
                    Ok((value, bytes)) => {
                        outcome = Some(Ok(value));
                        UpdateAction::Set(bytes)
                    }
                    Err(e) => {
                        outcome = Some(Err(e));
                        UpdateAction::Keep
                    }
                }
            })
        })?;
        outcome.unwrap_or_else(|| {
            Err(TypedMapError::Map(MapError::corrupt(
                self.map.root_offset(),
                "update returned without calling its closure",
            )))
        })
    }

    /// Number of entries (see [`HashMap::len`]).
    pub fn len(&self) -> u64 {
        self.map.len()
    }

    /// True if the map has no entries.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Removes every entry (see [`HashMap::clear`]).
    pub fn clear(&self) -> Result<(), TypedMapError> {
        Ok(self.map.clear()?)
    }

    /// The values of `keys`, in order (`None` for a missing key), read with
    /// [`HashMap::get_many_into`] (prefetched, one buffer). Fails as a whole if any value
    /// does not decode as `V`.
    ///
    /// ```
    /// # use shmkit::{Store, StoreOptions};
    /// # let name = format!("doc-typed-many-{}", std::process::id());
    /// # let store = Store::create(&name, &StoreOptions::default()).unwrap();
    /// let m = store.typed_map::<String, f64>("m").unwrap();
    /// m.set_many([("a", &0.5), ("b", &1.5)]).unwrap();
    /// assert_eq!(m.get_many(["b", "zz", "a"]).unwrap(), [Some(1.5), None, Some(0.5)]);
    /// # Store::remove(&name).unwrap();
    /// ```
    pub fn get_many<'q, Q, I>(&self, keys: I) -> Result<Vec<Option<V>>, TypedMapError>
    where
        K: Borrow<Q>,
        Q: Encode + ?Sized + 'q,
        I: IntoIterator<Item = &'q Q>,
    {
        let keys = keys
            .into_iter()
            .map(key_bytes)
            .collect::<Result<Vec<_>, _>>()?;
        let (mut out, mut spans) = (Vec::new(), Vec::with_capacity(keys.len()));
        self.map.get_many_into(&keys, &mut out, &mut spans)?;
        spans
            .into_iter()
            .map(|span| span.map(|r| Self::decode_value(&out[r])).transpose())
            .collect()
    }

    /// For each of `keys` in order, whether it is present ([`HashMap::contains_many`]).
    pub fn contains_many<'q, Q, I>(&self, keys: I) -> Result<Vec<bool>, TypedMapError>
    where
        K: Borrow<Q>,
        Q: Encode + ?Sized + 'q,
        I: IntoIterator<Item = &'q Q>,
    {
        let keys = keys
            .into_iter()
            .map(key_bytes)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(self.map.contains_many(&keys)?)
    }

    /// Sets every `(key, value)` of `items`, each shard's lock taken once
    /// ([`HashMap::set_many`]: a key given twice ends with its last value; not atomic across
    /// keys). Every item is encoded before anything is written.
    pub fn set_many<'q, Q, W, I>(&self, items: I) -> Result<(), TypedMapError>
    where
        K: Borrow<Q>,
        V: Borrow<W>,
        Q: Encode + ?Sized + 'q,
        W: Encode + ?Sized + 'q,
        I: IntoIterator<Item = (&'q Q, &'q W)>,
    {
        let items = items
            .into_iter()
            .map(|(k, v)| Ok((key_bytes(k)?, value_bytes(v)?)))
            .collect::<Result<Vec<_>, TypedMapError>>()?;
        Ok(self.map.set_many(&items)?)
    }

    /// Removes every key of `keys`, each shard's lock taken once; returns how many were
    /// present ([`HashMap::remove_many`]).
    pub fn remove_many<'q, Q, I>(&self, keys: I) -> Result<u64, TypedMapError>
    where
        K: Borrow<Q>,
        Q: Encode + ?Sized + 'q,
        I: IntoIterator<Item = &'q Q>,
    {
        let keys = keys
            .into_iter()
            .map(key_bytes)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(self.map.remove_many(&keys)?)
    }

    /// Weakly consistent iteration over `(key, value)` ([`HashMap::iter`]). An entry whose
    /// key or value does not decode is an `Err` item ([`TypedMapError::Key`] /
    /// [`TypedMapError::Value`]) and iteration goes on; a damaged shard is an `Err` item
    /// ([`TypedMapError::Map`]) and ends it.
    pub fn iter(&self) -> Iter<'_, K, V> {
        Iter {
            inner: self.map.iter(),
            types: PhantomData,
        }
    }

    /// Weakly consistent iteration over keys (values are not copied).
    pub fn keys(&self) -> Keys<'_, K> {
        Keys {
            inner: self.map.keys(),
            types: PhantomData,
        }
    }

    /// Weakly consistent iteration over values.
    pub fn values(&self) -> Values<'_, V> {
        Values {
            inner: self.map.values(),
            types: PhantomData,
        }
    }
}

/// Iterator over typed `(key, value)` items; see [`TypedMap::iter`].
pub struct Iter<'a, K, V> {
    inner: super::Iter<'a>,
    types: PhantomData<fn() -> (K, V)>,
}

impl<K: Decode, V: Decode> Iterator for Iter<'_, K, V> {
    type Item = Result<(K, V), TypedMapError>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(
            self.inner
                .next()?
                .map_err(TypedMapError::Map)
                .and_then(|(k, v)| {
                    Ok((
                        K::decode_key(&k).map_err(TypedMapError::Key)?,
                        V::decode(&v).map_err(TypedMapError::Value)?,
                    ))
                }),
        )
    }
}

/// Iterator over typed keys; see [`TypedMap::keys`].
pub struct Keys<'a, K> {
    inner: super::Keys<'a>,
    types: PhantomData<fn() -> K>,
}

impl<K: Decode> Iterator for Keys<'_, K> {
    type Item = Result<K, TypedMapError>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(
            self.inner
                .next()?
                .map_err(TypedMapError::Map)
                .and_then(|k| K::decode_key(&k).map_err(TypedMapError::Key)),
        )
    }
}

/// Iterator over typed values; see [`TypedMap::values`].
pub struct Values<'a, V> {
    inner: super::Values<'a>,
    types: PhantomData<fn() -> V>,
}

impl<V: Decode> Iterator for Values<'_, V> {
    type Item = Result<V, TypedMapError>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(
            self.inner
                .next()?
                .map_err(TypedMapError::Map)
                .and_then(|v| V::decode(&v).map_err(TypedMapError::Value)),
        )
    }
}

impl HashMap {
    /// This map as a [`TypedMap<K, V>`] (a view: the same map, shared handle).
    pub fn typed<K: Codec, V: Codec>(&self) -> TypedMap<K, V> {
        TypedMap::new(self.clone())
    }
}

impl Store {
    /// Opens the hash map `name` as a [`TypedMap<K, V>`], creating it (default options) if
    /// missing.
    pub fn typed_map<K: Codec, V: Codec>(&self, name: &str) -> Result<TypedMap<K, V>, MapError> {
        self.hash_map(name).map(TypedMap::new)
    }

    /// Opens the hash map `name` as a [`TypedMap<K, V>`], creating it with `options` if
    /// missing.
    pub fn typed_map_with<K: Codec, V: Codec>(
        &self,
        name: &str,
        options: &HashMapOptions,
    ) -> Result<TypedMap<K, V>, MapError> {
        self.hash_map_with(name, options).map(TypedMap::new)
    }

    /// Opens an existing hash map only, as a [`TypedMap<K, V>`].
    pub fn open_typed_map<K: Codec, V: Codec>(
        &self,
        name: &str,
    ) -> Result<TypedMap<K, V>, MapError> {
        self.open_hash_map(name).map(TypedMap::new)
    }
}
