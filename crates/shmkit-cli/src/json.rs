//! JSON output (`--json`, `dump`'s JSON lines) is `serde_json`'s; this module only adds the
//! two builders the commands use to write objects field by field in a fixed order.
//!
//! Invariants: output is valid JSON (serde_json escapes strings and writes non-finite floats
//! as `null`; callers that must keep them use a tagged object); object keys keep insertion
//! order (the `preserve_order` feature).
//!
//! ```text
//! obj([("key", Json::from("a\"b")), ("n", Json::from(3u64))])  =>  {"key":"a\"b","n":3}
//! ```

pub use serde_json::Value as Json;

/// An object from `(key, value)` pairs, in their order.
pub fn obj<K: Into<String>>(pairs: impl IntoIterator<Item = (K, Json)>) -> Json {
    Json::Object(pairs.into_iter().map(|(k, v)| (k.into(), v)).collect())
}

/// Appends a field to an object (no-op for other values).
pub fn push(target: &mut Json, key: impl Into<String>, value: Json) {
    if let Json::Object(fields) = target {
        fields.insert(key.into(), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_keep_their_order_and_strings_are_escaped() {
        let mut j = obj([("z", Json::from("a\"b\n")), ("a", Json::from(3u64))]);
        push(&mut j, "m", Json::from(f64::NAN));
        assert_eq!(j.to_string(), r#"{"z":"a\"b\n","a":3,"m":null}"#);
        assert_eq!(
            obj([("x", Json::from(1e300))]).to_string(),
            r#"{"x":1e+300}"#
        );
    }
}
