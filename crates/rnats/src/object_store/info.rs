//! What is stored about an object: its meta message (OS-6).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::Error;
use crate::ErrorKind;

/// What a caller says about an object it puts: its name and optional descriptive fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ObjectMeta {
    /// The object's name: any non-empty UTF-8 text.
    pub name: String,
    /// A description.
    pub description: Option<String>,
    /// Headers (a name to its values).
    pub headers: HashMap<String, Vec<String>>,
    /// User metadata.
    pub metadata: HashMap<String, String>,
    /// The chunk size for this object (default [`DEFAULT_CHUNK_SIZE`](super::DEFAULT_CHUNK_SIZE)).
    pub max_chunk_size: Option<usize>,
}

impl ObjectMeta {
    /// Meta with only a name.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Default::default()
        }
    }

    /// Sets the description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Sets the chunk size for this object.
    pub fn chunk_size(mut self, size: usize) -> Self {
        self.max_chunk_size = Some(size);
        self
    }
}

impl From<&str> for ObjectMeta {
    fn from(name: &str) -> Self {
        ObjectMeta::new(name)
    }
}

impl From<String> for ObjectMeta {
    fn from(name: String) -> Self {
        ObjectMeta::new(name)
    }
}

/// A link: to an object (`name` set) or to a whole bucket (`name` absent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ObjectLink {
    /// The bucket linked to.
    pub bucket: String,
    /// The object linked to; absent for a link to a bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// Options stored with an object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ObjectOptions {
    /// Set when the object is a link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<ObjectLink>,
    /// The chunk size the object was put with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_chunk_size: Option<u64>,
}

/// What is stored about an object: its meta message, as every client writes it (OS-6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ObjectInfo {
    /// The object's name.
    pub name: String,
    /// Its description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Its headers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<HashMap<String, Vec<String>>>,
    /// Its user metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<HashMap<String, String>>,
    /// Its options: a link, the chunk size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<ObjectOptions>,
    /// The bucket.
    #[serde(default)]
    pub bucket: String,
    /// The NUID naming its chunk subject.
    #[serde(default)]
    pub nuid: String,
    /// Its size in bytes.
    #[serde(default)]
    pub size: u64,
    /// How many chunks it was stored in.
    #[serde(default)]
    pub chunks: u64,
    /// `SHA-256=` and the base64 URL encoding of its SHA-256 (absent for deletes and links).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Whether it is deleted.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
    /// When it was last modified: the meta message's time, never the stored `mtime`
    /// (ADR-20). For an info just written, the time of writing.
    #[serde(skip, default = "epoch")]
    pub modified: OffsetDateTime,
}

fn epoch() -> OffsetDateTime {
    OffsetDateTime::UNIX_EPOCH
}

impl ObjectInfo {
    /// The link, when this object is one.
    pub fn link(&self) -> Option<&ObjectLink> {
        self.options.as_ref()?.link.as_ref()
    }

    /// Whether this object is a link (to an object or a bucket).
    pub fn is_link(&self) -> bool {
        self.link().is_some()
    }

    /// The meta message's payload. `mtime` is written as Go's zero time, as nats.go does:
    /// readers ignore it, and those that require the field find it.
    pub(crate) fn to_payload(&self) -> Result<Vec<u8>, Error> {
        let mut value = serde_json::to_value(self).map_err(|e| {
            Error::with_source(ErrorKind::InvalidArgument, "object info to JSON", e)
        })?;
        if let Some(map) = value.as_object_mut() {
            map.insert("mtime".into(), "0001-01-01T00:00:00Z".into());
        }
        serde_json::to_vec(&value)
            .map_err(|e| Error::with_source(ErrorKind::InvalidArgument, "object info to JSON", e))
    }

    /// Reads a meta message; `modified` is its time.
    pub(crate) fn from_payload(payload: &[u8], modified: OffsetDateTime) -> Result<Self, Error> {
        let mut info: ObjectInfo = serde_json::from_slice(payload).map_err(|e| {
            Error::with_source(
                ErrorKind::Protocol,
                "an object meta message is not valid JSON",
                e,
            )
        })?;
        info.modified = modified;
        Ok(info)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_nats_go_writes() {
        let go = br#"{"name":"a","description":"d","bucket":"b","nuid":"N","size":3,"mtime":"0001-01-01T00:00:00Z","chunks":1,"digest":"SHA-256=x","options":{"max_chunk_size":131072}}"#;
        let t = OffsetDateTime::now_utc();
        let info = ObjectInfo::from_payload(go, t).unwrap();
        assert_eq!(info.name, "a");
        assert_eq!(info.size, 3);
        assert_eq!(info.modified, t);
        assert!(!info.deleted && !info.is_link());
        let link = br#"{"name":"l","bucket":"b","nuid":"M","size":0,"chunks":0,"mtime":"2020-01-01T00:00:00Z","options":{"link":{"bucket":"o","name":"a"}}}"#;
        let info = ObjectInfo::from_payload(link, t).unwrap();
        assert_eq!(info.link().and_then(|l| l.name.as_deref()), Some("a"));
        assert!(ObjectInfo::from_payload(b"nope", t).is_err());
    }

    #[test]
    fn writes_an_ignored_mtime_and_omits_empty_fields() {
        let info =
            ObjectInfo::from_payload(br#"{"name":"a","bucket":"b","nuid":"N"}"#, epoch()).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&info.to_payload().unwrap()).unwrap();
        assert_eq!(v["mtime"], "0001-01-01T00:00:00Z");
        assert!(v.get("deleted").is_none() && v.get("digest").is_none());
        assert_eq!(v["size"], 0);
    }
}
