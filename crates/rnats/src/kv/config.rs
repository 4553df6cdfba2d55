//! A bucket's configuration and status, and how they map to the backing stream (ADR-8
//! §Buckets, ADR-48, ADR-57).

use std::collections::HashMap;
use std::time::Duration;

use crate::jetstream::stream::{
    self, Compression, DiscardPolicy, Placement, Republish, Source, StorageType, SubjectTransform,
};
use crate::{Error, ErrorKind};

use super::keys::check_bucket;

/// Most values kept per key.
pub const MAX_HISTORY: i64 = 64;

/// The backing stream of bucket `bucket`.
pub(crate) fn stream_name(bucket: &str) -> String {
    format!("KV_{bucket}")
}

/// The subject prefix of bucket `bucket`'s keys, with the trailing dot.
pub(crate) fn subject_prefix(bucket: &str) -> String {
    format!("$KV.{bucket}.")
}

/// A bucket's configuration, for [`Context::create_key_value`] and relatives.
///
/// ```
/// use std::time::Duration;
/// use rnats::kv;
/// let mut config = kv::Config::new("profiles");
/// config.history = 5;
/// config.max_age = Duration::from_secs(3600);
/// config.storage = rnats::jetstream::stream::StorageType::Memory;
/// ```
///
/// [`Context::create_key_value`]: crate::jetstream::Context::create_key_value
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct Config {
    /// The bucket's name (`^[a-zA-Z0-9_-]+$`).
    pub bucket: String,
    /// A description.
    pub description: Option<String>,
    /// Values kept per key, 1 to 64 (0 means 1).
    pub history: i64,
    /// How long a value lives (zero: for ever).
    pub max_age: Duration,
    /// Largest value accepted, in bytes (0 or -1: no limit).
    pub max_value_size: i32,
    /// Largest size of the bucket, in bytes (0 or -1: no limit).
    pub max_bytes: i64,
    /// File (default) or memory.
    pub storage: StorageType,
    /// Replicas, 1 to 5 (0 means 1).
    pub replicas: usize,
    /// S2 compression of the stored values.
    pub compression: bool,
    /// Where the replicas are placed.
    pub placement: Option<Placement>,
    /// Stored values are republished.
    pub republish: Option<Republish>,
    /// This bucket mirrors another (the name may be given with or without `KV_`; `external`
    /// for a bucket in another domain or account). Writes then go to the origin.
    pub mirror: Option<Source>,
    /// Buckets whose values are copied into this one (names with or without `KV_`). Without
    /// explicit `subject_transforms`, the source's keys are mapped onto this bucket's.
    pub sources: Vec<Source>,
    /// User metadata.
    pub metadata: HashMap<String, String>,
    /// Limit markers (ADR-48): when `max_age` removes a key's last value, the server leaves
    /// a marker (seen as a purge) that lives this long (at least 1 s). Also lets
    /// [`Store::create_with_ttl`](super::Store::create_with_ttl) and
    /// [`Store::purge_with_ttl`](super::Store::purge_with_ttl) give a key or a purge marker
    /// a TTL of its own. Needs JetStream API level 1 (nats-server 2.11); cannot be turned
    /// off once on.
    pub limit_marker_ttl: Option<Duration>,
}

impl Config {
    /// A bucket named `bucket`: history 1, no TTL or limits, file storage, one replica.
    pub fn new(bucket: impl Into<String>) -> Self {
        Self {
            bucket: bucket.into(),
            history: 1,
            replicas: 1,
            ..Default::default()
        }
    }

    /// The backing stream's configuration (KV-3…KV-5, KV-21).
    pub(crate) fn to_stream_config(&self) -> Result<stream::Config, Error> {
        check_bucket(&self.bucket)?;
        let history = if self.history == 0 { 1 } else { self.history };
        if !(1..=MAX_HISTORY).contains(&history) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "bucket {:?}: history must be 1 to {MAX_HISTORY}, not {}",
                    self.bucket, self.history
                ),
            ));
        }
        let mut config = stream::Config::new(stream_name(&self.bucket));
        config.description = self.description.clone();
        config.max_messages_per_subject = history;
        config.max_bytes = if self.max_bytes == 0 {
            -1
        } else {
            self.max_bytes
        };
        config.max_age = self.max_age;
        config.max_message_size = if self.max_value_size == 0 {
            -1
        } else {
            self.max_value_size
        };
        config.storage = self.storage;
        config.num_replicas = self.replicas.max(1);
        if self.compression {
            config.compression = Compression::S2;
        }
        config.allow_rollup = true;
        config.deny_delete = true;
        config.allow_direct = true;
        config.discard = DiscardPolicy::New;
        if !self.max_age.is_zero() {
            config.duplicate_window = self.max_age.min(Duration::from_secs(120));
        }
        config.placement = self.placement.clone();
        config.republish = self.republish.clone();
        config.metadata = self.metadata.clone();
        if let Some(ttl) = self.limit_marker_ttl {
            if ttl < Duration::from_secs(1) {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!(
                        "bucket {:?}: the limit marker TTL must be at least 1s, not {ttl:?}",
                        self.bucket
                    ),
                ));
            }
            config.allow_message_ttl = true;
            config.subject_delete_marker_ttl = Some(ttl);
        }
        if let Some(mirror) = &self.mirror {
            let mut mirror = mirror.clone();
            let origin = mirror
                .name
                .strip_prefix("KV_")
                .unwrap_or(&mirror.name)
                .to_owned();
            check_bucket(&origin)?;
            mirror.name = stream_name(&origin);
            config.mirror = Some(mirror);
            config.mirror_direct = true;
        } else {
            for source in &self.sources {
                let mut source = source.clone();
                let origin = source
                    .name
                    .strip_prefix("KV_")
                    .unwrap_or(&source.name)
                    .to_owned();
                check_bucket(&origin)?;
                source.name = stream_name(&origin);
                let same_bucket_elsewhere = source.external.is_some() && origin == self.bucket;
                if source.subject_transforms.is_empty() && !same_bucket_elsewhere {
                    source.subject_transforms = vec![SubjectTransform::new(
                        format!("$KV.{origin}.>"),
                        format!("$KV.{}.>", self.bucket),
                    )];
                }
                config.sources.push(source);
            }
            config.subjects = vec![format!("$KV.{}.>", self.bucket)];
        }
        Ok(config)
    }

    /// The bucket configuration a backing stream's configuration stands for.
    pub(crate) fn from_stream(config: &stream::Config) -> Self {
        let bucket = config
            .name
            .strip_prefix("KV_")
            .unwrap_or(&config.name)
            .to_owned();
        Self {
            bucket,
            description: config.description.clone(),
            history: config.max_messages_per_subject,
            max_age: config.max_age,
            max_value_size: config.max_message_size,
            max_bytes: config.max_bytes,
            storage: config.storage,
            replicas: config.num_replicas,
            compression: config.compression == Compression::S2,
            placement: config.placement.clone(),
            republish: config.republish.clone(),
            mirror: config.mirror.clone(),
            sources: config.sources.clone(),
            metadata: config.metadata.clone(),
            limit_marker_ttl: config
                .subject_delete_marker_ttl
                .filter(|_| config.allow_message_ttl),
        }
    }
}

/// A bucket's status, from [`Store::status`](super::Store::status) or
/// [`Context::key_value_stores`](crate::jetstream::Context::key_value_stores): the backing
/// stream's info read as a bucket.
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
            .strip_prefix("KV_")
            .unwrap_or(&self.info.config.name)
    }

    /// How many values (every revision kept, deletes and purges included) the bucket holds.
    pub fn values(&self) -> u64 {
        self.info.state.messages
    }

    /// How many bytes the bucket holds.
    pub fn bytes(&self) -> u64 {
        self.info.state.bytes
    }

    /// Values kept per key.
    pub fn history(&self) -> i64 {
        self.info.config.max_messages_per_subject
    }

    /// How long a value lives (zero: for ever).
    pub fn max_age(&self) -> Duration {
        self.info.config.max_age
    }

    /// How long limit markers live, when the bucket leaves them.
    pub fn limit_marker_ttl(&self) -> Option<Duration> {
        self.info
            .config
            .subject_delete_marker_ttl
            .filter(|_| self.info.config.allow_message_ttl)
    }

    /// Whether values are stored S2-compressed.
    pub fn is_compressed(&self) -> bool {
        self.info.config.compression == Compression::S2
    }

    /// The kind of store behind the bucket: `"JetStream"`.
    pub fn backing_store(&self) -> &'static str {
        "JetStream"
    }

    /// The user metadata (the server adds `_nats.*` entries of its own).
    pub fn metadata(&self) -> &HashMap<String, String> {
        &self.info.config.metadata
    }

    /// The bucket's configuration.
    pub fn config(&self) -> Config {
        Config::from_stream(&self.info.config)
    }

    /// The backing stream's info.
    pub fn stream_info(&self) -> &stream::Info {
        &self.info
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jetstream::stream::External;

    #[test]
    fn the_stream_follows_adr_8() {
        let mut kv = Config::new("b");
        kv.history = 5;
        kv.max_age = Duration::from_secs(3600);
        kv.compression = true;
        let s = kv.to_stream_config().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.name, "KV_b");
        assert_eq!(s.subjects, ["$KV.b.>"]);
        assert_eq!(s.max_messages_per_subject, 5);
        assert!(s.allow_rollup && s.deny_delete && s.allow_direct);
        assert_eq!(s.discard, DiscardPolicy::New);
        assert_eq!(s.duplicate_window, Duration::from_secs(120));
        assert_eq!(s.compression, Compression::S2);
        assert_eq!((s.max_bytes, s.max_message_size), (-1, -1));
        kv.max_age = Duration::from_secs(30);
        kv.placement = Some(Placement {
            cluster: Some("east".into()),
            tags: vec!["ssd".into()],
            preferred: None,
        });
        kv.republish = Some(Republish::new("$KV.b.>", "out.>"));
        kv.metadata.insert("team".into(), "a".into());
        kv.replicas = 3;
        kv.storage = StorageType::Memory;
        let s = kv.to_stream_config().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.duplicate_window, Duration::from_secs(30));
        assert_eq!(s.placement, kv.placement);
        assert_eq!(s.republish, kv.republish);
        assert_eq!(s.metadata.get("team").map(String::as_str), Some("a"));
        assert_eq!((s.num_replicas, s.storage), (3, StorageType::Memory));
        let back = Config::from_stream(&s);
        assert_eq!(back.history, 5);
        assert_eq!(back, {
            let mut expected = kv.clone();
            expected.max_value_size = -1;
            expected.max_bytes = -1;
            expected
        });
    }

    #[test]
    fn history_and_marker_limits() {
        let mut kv = Config::new("b");
        kv.history = 65;
        assert!(kv
            .to_stream_config()
            .is_err_and(|e| e.is_invalid_argument()));
        kv.history = 0;
        assert!(kv.to_stream_config().is_ok());
        kv.limit_marker_ttl = Some(Duration::from_millis(500));
        assert!(kv.to_stream_config().is_err());
        kv.limit_marker_ttl = Some(Duration::from_secs(1));
        let s = kv.to_stream_config().unwrap_or_else(|e| panic!("{e}"));
        assert!(s.allow_message_ttl);
        assert_eq!(s.subject_delete_marker_ttl, Some(Duration::from_secs(1)));
    }

    #[test]
    fn mirrors_and_sources_follow_adr_57() {
        let mut kv = Config::new("m");
        kv.mirror = Some(Source::new("origin"));
        let s = kv.to_stream_config().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.mirror.map(|m| m.name).as_deref(), Some("KV_origin"));
        assert!(s.mirror_direct && s.subjects.is_empty());

        let mut kv = Config::new("agg");
        let mut remote = Source::new("agg");
        remote.external = Some(External {
            api_prefix: "$JS.hub.API".into(),
            delivery_prefix: None,
        });
        let mut explicit = Source::new("KV_c");
        explicit.subject_transforms = vec![SubjectTransform::new("$KV.c.x.>", "$KV.agg.y.>")];
        kv.sources = vec![Source::new("a"), remote, explicit];
        let s = kv.to_stream_config().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.subjects, ["$KV.agg.>"]);
        assert_eq!(s.sources[0].name, "KV_a");
        assert_eq!(
            s.sources[0].subject_transforms,
            [SubjectTransform::new("$KV.a.>", "$KV.agg.>")]
        );
        // The same bucket in another domain: its keys are already this bucket's.
        assert!(s.sources[1].subject_transforms.is_empty());
        assert_eq!(
            s.sources[2].subject_transforms,
            [SubjectTransform::new("$KV.c.x.>", "$KV.agg.y.>")]
        );
    }
}
