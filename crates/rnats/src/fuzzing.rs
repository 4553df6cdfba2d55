//! Internal checks exposed to the fuzz targets in `fuzz/` (cargo feature `fuzzing`, never
//! on by default). Not part of the API: names and signatures change without notice.

/// KV-2: whether `key` is a valid key, a valid watch/keys filter, and what a store with
/// validation turned off accepts (`check_key`, `check_filter`, `check_key_minimal`).
#[cfg(feature = "kv")]
pub fn kv_key(key: &str) -> (bool, bool, bool, bool) {
    (
        crate::kv::keys::check_key(key).is_ok(),
        crate::kv::keys::check_filter(key).is_ok(),
        crate::kv::keys::check_key_minimal(key, false).is_ok(),
        crate::kv::keys::check_key_minimal(key, true).is_ok(),
    )
}

/// KV-1: whether `name` is a valid Key-Value bucket name.
#[cfg(feature = "kv")]
pub fn kv_bucket(name: &str) -> bool {
    crate::kv::keys::check_bucket(name).is_ok()
}

/// OS-3: the meta subject token of an object name.
#[cfg(feature = "object-store")]
pub fn object_name_token(name: &str) -> String {
    crate::object_store::encode_name(name)
}

/// OS-1: whether `name` is a valid object store bucket name.
#[cfg(feature = "object-store")]
pub fn object_bucket(name: &str) -> bool {
    crate::object_store::check_bucket(name).is_ok()
}

/// OS-5: the 32 bytes of a digest string, if it is one.
#[cfg(feature = "object-store")]
pub fn parse_digest(s: &str) -> Option<Vec<u8>> {
    crate::object_store::parse_digest(s)
}

/// OS-5: the digest string of 32 bytes.
#[cfg(feature = "object-store")]
pub fn digest_string(digest: &[u8]) -> String {
    crate::object_store::digest_string(digest)
}

/// An object's meta message, as the store decodes it from the wire (JSON).
#[cfg(feature = "object-store")]
pub fn object_info(json: &[u8]) -> Option<crate::object_store::ObjectInfo> {
    serde_json::from_slice(json).ok()
}
