//! [`CommonConfig`]: the settings pull and push consumers share, held once by
//! [`pull::Config`](super::pull::Config) and [`push::Config`](super::push::Config).

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::{AckPolicy, Config, DeliverPolicy, ReplayPolicy};

/// The settings every consumer has, pull or push: its name, where it starts, which messages
/// it takes, how they are acknowledged, and its storage.
///
/// [`pull::Config`](super::pull::Config) and [`push::Config`](super::push::Config) hold one
/// as their `common` field and dereference to it, so `config.ack_policy = ...` reads as if
/// the field were their own.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct CommonConfig {
    /// A durable consumer's name (kept when inactive).
    pub durable_name: Option<String>,
    /// The consumer's name (durable or not).
    pub name: Option<String>,
    /// A description.
    pub description: Option<String>,
    /// Where to start.
    pub deliver_policy: DeliverPolicy,
    /// The start sequence for [`DeliverPolicy::ByStartSequence`].
    pub opt_start_seq: Option<u64>,
    /// The start time for [`DeliverPolicy::ByStartTime`].
    pub opt_start_time: Option<OffsetDateTime>,
    /// How messages are acknowledged (default explicit).
    pub ack_policy: AckPolicy,
    /// How long the server waits for an acknowledgement (zero: 30 s).
    pub ack_wait: Duration,
    /// How many times a message is delivered at most (0 or -1: unlimited).
    pub max_deliver: i64,
    /// Only messages of subjects matching this filter.
    pub filter_subject: String,
    /// Only messages of subjects matching any of these filters.
    pub filter_subjects: Vec<String>,
    /// Delivery rate.
    pub replay_policy: ReplayPolicy,
    /// Percentage of acknowledgements sampled (`"50%"`).
    pub sample_freq: Option<String>,
    /// How many messages may be unacknowledged at once (0: the server's 1000).
    pub max_ack_pending: i64,
    /// Deliver only headers.
    pub headers_only: bool,
    /// An inactive consumer is deleted after this long (zero: server default).
    pub inactive_threshold: Duration,
    /// Redelivery delays.
    pub backoff: Vec<Duration>,
    /// Replicas (0: as the stream).
    pub num_replicas: usize,
    /// Keep the state in memory.
    pub mem_storage: bool,
    /// User metadata.
    pub metadata: HashMap<String, String>,
    /// Paused until then (server 2.11+).
    pub pause_until: Option<OffsetDateTime>,
    /// Fields this version of rnats does not model.
    pub extra: Map<String, Value>,
}

impl CommonConfig {
    /// The general configuration with these settings, and every pull- or push-only field at
    /// its default (for the caller to fill in with `..`).
    pub(super) fn into_config(self) -> Config {
        Config {
            durable_name: self.durable_name,
            name: self.name,
            description: self.description,
            deliver_policy: self.deliver_policy,
            opt_start_seq: self.opt_start_seq,
            opt_start_time: self.opt_start_time,
            ack_policy: self.ack_policy,
            ack_wait: self.ack_wait,
            max_deliver: self.max_deliver,
            filter_subject: self.filter_subject,
            filter_subjects: self.filter_subjects,
            replay_policy: self.replay_policy,
            sample_freq: self.sample_freq,
            max_ack_pending: self.max_ack_pending,
            headers_only: self.headers_only,
            inactive_threshold: self.inactive_threshold,
            backoff: self.backoff,
            num_replicas: self.num_replicas,
            mem_storage: self.mem_storage,
            metadata: self.metadata,
            pause_until: self.pause_until,
            extra: self.extra,
            ..Default::default()
        }
    }

    /// The shared settings of a general configuration; its pull- and push-only fields are
    /// dropped (take them out first).
    pub(super) fn from_config(c: Config) -> Self {
        Self {
            durable_name: c.durable_name,
            name: c.name,
            description: c.description,
            deliver_policy: c.deliver_policy,
            opt_start_seq: c.opt_start_seq,
            opt_start_time: c.opt_start_time,
            ack_policy: c.ack_policy,
            ack_wait: c.ack_wait,
            max_deliver: c.max_deliver,
            filter_subject: c.filter_subject,
            filter_subjects: c.filter_subjects,
            replay_policy: c.replay_policy,
            sample_freq: c.sample_freq,
            max_ack_pending: c.max_ack_pending,
            headers_only: c.headers_only,
            inactive_threshold: c.inactive_threshold,
            backoff: c.backoff,
            num_replicas: c.num_replicas,
            mem_storage: c.mem_storage,
            metadata: c.metadata,
            pause_until: c.pause_until,
            extra: c.extra,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::{pull, push, FromConsumer, IntoConsumerConfig, PriorityPolicy};
    use super::*;

    /// Every shared field set to something other than its default.
    fn common() -> CommonConfig {
        CommonConfig {
            durable_name: Some("d".into()),
            name: Some("d".into()),
            description: Some("about".into()),
            deliver_policy: DeliverPolicy::ByStartSequence,
            opt_start_seq: Some(7),
            opt_start_time: Some(OffsetDateTime::UNIX_EPOCH),
            ack_policy: AckPolicy::All,
            ack_wait: Duration::from_secs(3),
            max_deliver: 4,
            filter_subject: "a.>".into(),
            filter_subjects: vec!["b".into(), "c".into()],
            replay_policy: ReplayPolicy::Original,
            sample_freq: Some("50%".into()),
            max_ack_pending: 9,
            headers_only: true,
            inactive_threshold: Duration::from_secs(60),
            backoff: vec![Duration::from_secs(1)],
            num_replicas: 3,
            mem_storage: true,
            metadata: [("k".to_string(), "v".to_string())].into(),
            pause_until: Some(OffsetDateTime::UNIX_EPOCH),
            extra: [("new".to_string(), Value::Bool(true))]
                .into_iter()
                .collect(),
        }
    }

    #[test]
    fn a_pull_config_round_trips_through_the_general_one() {
        let config = pull::Config {
            common: common(),
            max_waiting: 1,
            max_batch: 2,
            max_expires: Duration::from_secs(3),
            max_bytes: 4,
            priority_groups: vec!["g".into()],
            priority_policy: PriorityPolicy::Overflow,
            priority_timeout: Duration::from_secs(5),
        };
        let general = config.clone().into_consumer_config();
        assert_eq!(general.deliver_subject, None);
        assert_eq!(general.max_batch, 2);
        assert_eq!(general.ack_policy, AckPolicy::All);
        assert_eq!(
            pull::Config::try_from_consumer_config(general).unwrap(),
            config
        );
        assert!(push::Config::try_from_consumer_config(config.into_consumer_config()).is_err());
    }

    #[test]
    fn a_push_config_round_trips_through_the_general_one() {
        let config = push::Config {
            common: common(),
            deliver_subject: "deliver".into(),
            deliver_group: Some("q".into()),
            rate_limit_bps: 1,
            idle_heartbeat: Duration::from_secs(2),
            flow_control: true,
        };
        let general = config.clone().into_consumer_config();
        assert_eq!(general.deliver_subject.as_deref(), Some("deliver"));
        assert_eq!(general.max_deliver, 4);
        assert_eq!(
            push::Config::try_from_consumer_config(general).unwrap(),
            config
        );
        assert!(pull::Config::try_from_consumer_config(config.into_consumer_config()).is_err());
    }
}
