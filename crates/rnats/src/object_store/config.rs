//! Bucket configuration and status.

use std::collections::HashMap;
use std::time::Duration;

use crate::jetstream::stream::{self, Compression, DiscardPolicy, Placement, StorageType};
use crate::Error;

/// The backing stream of bucket `bucket`.
pub(crate) fn stream_name(bucket: &str) -> String {
    format!("OBJ_{bucket}")
}

/// A bucket's configuration, for [`Context::create_object_store`](crate::jetstream::Context::create_object_store).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Config {
    /// The bucket's name (`^[a-zA-Z0-9_-]+$`).
    pub bucket: String,
    /// A description.
    pub description: Option<String>,
    /// How long objects are kept (zero: forever).
    pub max_age: Duration,
    /// The most bytes the bucket may hold (0 or -1: no limit).
    pub max_bytes: i64,
    /// File (the default) or memory storage.
    pub storage: StorageType,
    /// Replicas (1 to 5; 0 means 1).
    pub replicas: usize,
    /// Where the bucket's stream is placed.
    pub placement: Option<Placement>,
    /// S2 compression of the stored data.
    pub compression: bool,
    /// User metadata of the bucket.
    pub metadata: HashMap<String, String>,
}

impl Config {
    /// A configuration with defaults: no limits, file storage, one replica.
    pub fn new(bucket: impl Into<String>) -> Self {
        Self {
            bucket: bucket.into(),
            description: None,
            max_age: Duration::ZERO,
            max_bytes: -1,
            storage: StorageType::File,
            replicas: 1,
            placement: None,
            compression: false,
            metadata: HashMap::new(),
        }
    }

    /// The backing stream's configuration (OS-2).
    pub(crate) fn to_stream_config(&self) -> Result<stream::Config, Error> {
        super::check_bucket(&self.bucket)?;
        let mut config = stream::Config::new(stream_name(&self.bucket));
        config.description = self.description.clone();
        config.subjects = vec![
            format!("$O.{}.C.>", self.bucket),
            format!("$O.{}.M.>", self.bucket),
        ];
        config.max_age = self.max_age;
        config.max_bytes = if self.max_bytes == 0 {
            -1
        } else {
            self.max_bytes
        };
        config.storage = self.storage;
        config.num_replicas = self.replicas.max(1);
        config.placement = self.placement.clone();
        if self.compression {
            config.compression = Compression::S2;
        }
        config.discard = DiscardPolicy::New;
        config.allow_rollup = true;
        config.allow_direct = true;
        config.metadata = self.metadata.clone();
        Ok(config)
    }
}

/// A bucket's status, from [`ObjectStore::status`](super::ObjectStore::status): the backing
/// stream's info read as a bucket (OS-16).
#[derive(Debug, Clone)]
pub struct Status {
    pub(crate) info: stream::Info,
}

impl Status {
    /// The bucket's name.
    pub fn bucket(&self) -> &str {
        self.info
            .config
            .name
            .strip_prefix("OBJ_")
            .unwrap_or(&self.info.config.name)
    }

    /// The bucket's description.
    pub fn description(&self) -> Option<&str> {
        self.info.config.description.as_deref()
    }

    /// How long objects are kept (zero: forever).
    pub fn ttl(&self) -> Duration {
        self.info.config.max_age
    }

    /// The storage type.
    pub fn storage(&self) -> StorageType {
        self.info.config.storage
    }

    /// The number of replicas.
    pub fn replicas(&self) -> usize {
        self.info.config.num_replicas
    }

    /// Whether the bucket is sealed (read-only).
    pub fn sealed(&self) -> bool {
        self.info.config.sealed
    }

    /// Bytes stored: chunks and metas, as the stream counts them.
    pub fn size(&self) -> u64 {
        self.info.state.bytes
    }

    /// Always `"JetStream"`.
    pub fn backing_store(&self) -> &'static str {
        "JetStream"
    }

    /// Whether the stored data is S2-compressed.
    pub fn is_compressed(&self) -> bool {
        self.info.config.compression == Compression::S2
    }

    /// The bucket's metadata.
    pub fn metadata(&self) -> &HashMap<String, String> {
        &self.info.config.metadata
    }

    /// The backing stream's info.
    pub fn stream_info(&self) -> &stream::Info {
        &self.info
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_config_per_os2() {
        let mut c = Config::new("b");
        c.compression = true;
        c.max_age = Duration::from_secs(60);
        c.max_bytes = 0;
        c.replicas = 0;
        let s = c.to_stream_config().unwrap();
        assert_eq!(s.name, "OBJ_b");
        assert_eq!(s.subjects, ["$O.b.C.>", "$O.b.M.>"]);
        assert!(s.allow_rollup && s.allow_direct);
        assert_eq!(s.discard, DiscardPolicy::New);
        assert_eq!(s.compression, Compression::S2);
        assert_eq!(s.max_bytes, -1);
        assert_eq!(s.num_replicas, 1);
        assert_eq!(s.max_age, Duration::from_secs(60));
        assert!(Config::new("a.b").to_stream_config().is_err());
    }
}
