//! The one place that names the core HashMap API this crate binds.
//!
//! TEMPORARY: the core `shmkit::HashMap` (crates/shmkit/src/collections/hash_map) is not on
//! this branch yet, so this module holds an in-process stand-in with the same signatures
//! (docs: notes on the HashMap contract). It lets the Python layer (conversion, errors, dict
//! behaviour) be built and tested; cross-process tests need the real map. When the core map is
//! merged, this file shrinks to re-exports and `open`.

use shmkit::{AllocError, DirectoryError, ObjectKind, Store};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// What `update` does with the current value.
pub enum UpdateAction {
    Keep,
    Set(Vec<u8>),
    Remove,
}

#[derive(Debug)]
#[non_exhaustive]
pub enum MapError {
    Directory(DirectoryError),
    Alloc(AllocError),
    KeyTooLarge { len: u64, max: u64 },
    ValueTooLarge { len: u64, max: u64 },
    NotAnInteger { len: u64 },
    Corrupt { offset: u64, reason: String },
}

impl From<DirectoryError> for MapError {
    fn from(e: DirectoryError) -> MapError {
        MapError::Directory(e)
    }
}

impl std::fmt::Display for MapError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MapError::Directory(e) => write!(f, "{e}"),
            MapError::Alloc(e) => write!(f, "{e}"),
            MapError::KeyTooLarge { len, max } => write!(f, "key of {len} bytes exceeds {max}"),
            MapError::ValueTooLarge { len, max } => write!(f, "value of {len} bytes exceeds {max}"),
            MapError::NotAnInteger { len } => write!(f, "value of {len} bytes is not 8 bytes"),
            MapError::Corrupt { offset, reason } => write!(f, "corrupt at {offset}: {reason}"),
        }
    }
}

#[derive(Debug, Default)]
pub struct MapReport {
    pub problems: Vec<shmkit::Problem>,
    pub entries: u64,
    pub repaired: Vec<String>,
}

impl MapReport {
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }
}

#[derive(Debug, Default)]
pub struct MapStats {
    pub entries: u64,
    pub shards: u32,
    pub buckets: u64,
    pub load_factor: f64,
    pub bytes_used: u64,
    pub resizes: u64,
    pub resizing_shards: u32,
}

type Data = Arc<Mutex<BTreeMap<Vec<u8>, Vec<u8>>>>;

static MAPS: Mutex<Vec<(std::path::PathBuf, String, Data)>> = Mutex::new(Vec::new());

#[derive(Clone)]
pub struct HashMap {
    store: Store,
    name: String,
    data: Data,
}

/// Opens (and with `create`, creates) the hash map `name` of `store`.
pub fn open(store: &Store, name: &str, create: bool) -> Result<HashMap, MapError> {
    if create {
        store.object_or_create(name, ObjectKind::HashMap, |s| s.alloc(8))?;
    } else {
        store.object(name, ObjectKind::HashMap)?;
    }
    let mut maps = MAPS.lock().unwrap_or_else(|p| p.into_inner());
    let path = store.path().to_path_buf();
    let data = match maps.iter().find(|(p, n, _)| *p == path && n == name) {
        Some((_, _, d)) => d.clone(),
        None => {
            let d = Data::default();
            maps.push((path, name.to_string(), d.clone()));
            d
        }
    };
    Ok(HashMap {
        store: store.clone(),
        name: name.to_string(),
        data,
    })
}

impl HashMap {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<Vec<u8>, Vec<u8>>> {
        self.data.lock().unwrap_or_else(|p| p.into_inner())
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn store(&self) -> &Store {
        &self.store
    }
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, MapError> {
        Ok(self.lock().get(key).cloned())
    }
    pub fn get_into(&self, key: &[u8], buf: &mut Vec<u8>) -> Result<bool, MapError> {
        buf.clear();
        match self.lock().get(key) {
            Some(v) => {
                buf.extend_from_slice(v);
                Ok(true)
            }
            None => Ok(false),
        }
    }
    pub fn contains_key(&self, key: &[u8]) -> Result<bool, MapError> {
        Ok(self.lock().contains_key(key))
    }
    pub fn insert(&self, key: &[u8], value: &[u8]) -> Result<Option<Vec<u8>>, MapError> {
        Ok(self.lock().insert(key.to_vec(), value.to_vec()))
    }
    pub fn set(&self, key: &[u8], value: &[u8]) -> Result<(), MapError> {
        self.lock().insert(key.to_vec(), value.to_vec());
        Ok(())
    }
    pub fn insert_if_absent(&self, key: &[u8], value: &[u8]) -> Result<bool, MapError> {
        let mut m = self.lock();
        if m.contains_key(key) {
            return Ok(false);
        }
        m.insert(key.to_vec(), value.to_vec());
        Ok(true)
    }
    pub fn remove(&self, key: &[u8]) -> Result<Option<Vec<u8>>, MapError> {
        Ok(self.lock().remove(key))
    }
    pub fn delete(&self, key: &[u8]) -> Result<bool, MapError> {
        Ok(self.lock().remove(key).is_some())
    }
    pub fn compare_and_set(
        &self,
        key: &[u8],
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<bool, MapError> {
        let mut m = self.lock();
        if m.get(key).map(Vec::as_slice) != expected {
            return Ok(false);
        }
        match new {
            Some(v) => m.insert(key.to_vec(), v.to_vec()),
            None => m.remove(key),
        };
        Ok(true)
    }
    pub fn update(
        &self,
        key: &[u8],
        f: impl FnOnce(Option<&[u8]>) -> UpdateAction,
    ) -> Result<Option<Vec<u8>>, MapError> {
        let mut m = self.lock();
        match f(m.get(key).map(Vec::as_slice)) {
            UpdateAction::Keep => {}
            UpdateAction::Set(v) => {
                m.insert(key.to_vec(), v);
            }
            UpdateAction::Remove => {
                m.remove(key);
            }
        }
        Ok(m.get(key).cloned())
    }
    pub fn incr_i64(&self, key: &[u8], delta: i64) -> Result<i64, MapError> {
        let mut m = self.lock();
        let cur =
            match m.get(key) {
                None => 0,
                Some(v) => i64::from_le_bytes(v.as_slice().try_into().map_err(|_| {
                    MapError::NotAnInteger {
                        len: v.len() as u64,
                    }
                })?),
            };
        let new = cur.wrapping_add(delta);
        m.insert(key.to_vec(), new.to_le_bytes().to_vec());
        Ok(new)
    }
    pub fn incr_f64(&self, key: &[u8], delta: f64) -> Result<f64, MapError> {
        let mut m = self.lock();
        let cur =
            match m.get(key) {
                None => 0.0,
                Some(v) => f64::from_le_bytes(v.as_slice().try_into().map_err(|_| {
                    MapError::NotAnInteger {
                        len: v.len() as u64,
                    }
                })?),
            };
        let new = cur + delta;
        m.insert(key.to_vec(), new.to_le_bytes().to_vec());
        Ok(new)
    }
    pub fn len(&self) -> u64 {
        self.lock().len() as u64
    }
    pub fn clear(&self) -> Result<(), MapError> {
        self.lock().clear();
        Ok(())
    }
    pub fn iter(&self) -> impl Iterator<Item = Result<(Vec<u8>, Vec<u8>), MapError>> + '_ {
        let items: Vec<_> = self
            .lock()
            .iter()
            .map(|(k, v)| Ok((k.clone(), v.clone())))
            .collect();
        items.into_iter()
    }
    pub fn keys(&self) -> impl Iterator<Item = Result<Vec<u8>, MapError>> + '_ {
        let items: Vec<_> = self.lock().keys().map(|k| Ok(k.clone())).collect();
        items.into_iter()
    }
    pub fn values(&self) -> impl Iterator<Item = Result<Vec<u8>, MapError>> + '_ {
        let items: Vec<_> = self.lock().values().map(|v| Ok(v.clone())).collect();
        items.into_iter()
    }
    pub fn stats(&self) -> Result<MapStats, MapError> {
        Ok(MapStats {
            entries: self.len(),
            shards: 1,
            ..MapStats::default()
        })
    }
    pub fn verify(&self) -> Result<MapReport, MapError> {
        Ok(MapReport {
            entries: self.len(),
            ..MapReport::default()
        })
    }
    pub fn repair(&self) -> Result<MapReport, MapError> {
        self.verify()
    }
}
