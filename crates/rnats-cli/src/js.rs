//! `stream …` and `consumer …`: JetStream management.

use std::time::Duration;

use clap::{Subcommand, ValueEnum};
use futures_util::StreamExt;
use rnats::jetstream::consumer::{self, pull, AckPolicy, DeliverPolicy};
use rnats::jetstream::stream::{self, DiscardPolicy, RetentionPolicy, StorageType, StreamMessage};
use rnats::jetstream::{self, Context};

use crate::conn::ConnArgs;
use crate::error::{usage, CliError, Result};
use crate::output::{Out, Table};
use crate::util::{self, parse_duration, parse_size};

/// `rnats stream …`
#[derive(Subcommand)]
pub(crate) enum StreamCmd {
    /// List the streams.
    Ls,
    /// Show a stream's configuration and state.
    Info {
        /// The stream.
        name: String,
    },
    /// Create a stream.
    Add {
        /// The stream's name.
        name: String,
        /// Its settings.
        #[command(flatten)]
        opts: StreamOpts,
    },
    /// Change a stream's settings (only those given).
    Edit {
        /// The stream.
        name: String,
        /// The settings to change.
        #[command(flatten)]
        opts: StreamOpts,
    },
    /// Delete a stream and its messages.
    Rm {
        /// The stream.
        name: String,
    },
    /// Delete a stream's messages (all, or by subject, up to a sequence, or keeping some).
    Purge {
        /// The stream.
        name: String,
        /// Only messages on this subject.
        #[arg(long)]
        subject: Option<String>,
        /// Only messages before this sequence.
        #[arg(long, conflicts_with = "keep")]
        seq: Option<u64>,
        /// Keep this many of the newest messages.
        #[arg(long)]
        keep: Option<u64>,
    },
    /// Get one message by sequence, or the last on a subject.
    Get {
        /// The stream.
        name: String,
        /// The message's sequence.
        #[arg(required_unless_present = "last_for")]
        seq: Option<u64>,
        /// The last message on this subject instead.
        #[arg(long, conflicts_with = "seq", value_name = "SUBJECT")]
        last_for: Option<String>,
        /// Print only the payload.
        #[arg(long)]
        raw: bool,
    },
    /// Print a stream's messages in order.
    View {
        /// The stream.
        name: String,
        /// Only messages on this subject (wildcards allowed).
        #[arg(long)]
        subject: Option<String>,
        /// Start at this sequence.
        #[arg(long, default_value_t = 1)]
        start: u64,
        /// Print at most this many.
        #[arg(long, default_value_t = 100)]
        count: u64,
        /// Print only the payloads.
        #[arg(long)]
        raw: bool,
    },
}

/// Storage for `--storage`.
#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum Storage {
    /// On disk.
    File,
    /// In memory.
    Memory,
}

impl From<Storage> for StorageType {
    fn from(s: Storage) -> Self {
        match s {
            Storage::File => StorageType::File,
            Storage::Memory => StorageType::Memory,
        }
    }
}

/// Retention for `--retention`.
#[derive(Clone, Copy, ValueEnum)]
enum Retention {
    /// Keep messages up to the limits.
    Limits,
    /// Keep messages while a consumer has not acknowledged them.
    Interest,
    /// Delete each message once acknowledged.
    Workqueue,
}

/// Discard policy for `--discard`.
#[derive(Clone, Copy, ValueEnum)]
enum Discard {
    /// Drop the oldest messages at a limit.
    Old,
    /// Refuse new messages at a limit.
    New,
}

/// Stream settings; on `edit`, only those given change.
#[derive(clap::Args)]
pub(crate) struct StreamOpts {
    /// Subjects the stream stores (comma-separated or repeated).
    #[arg(long, value_delimiter = ',')]
    subjects: Vec<String>,
    /// Where messages are kept.
    #[arg(long, value_enum)]
    storage: Option<Storage>,
    /// When messages are deleted.
    #[arg(long, value_enum)]
    retention: Option<Retention>,
    /// What happens at a limit.
    #[arg(long, value_enum)]
    discard: Option<Discard>,
    /// Most messages kept (-1: unlimited).
    #[arg(long, allow_hyphen_values = true)]
    max_msgs: Option<i64>,
    /// Most messages kept per subject (-1: unlimited).
    #[arg(long, allow_hyphen_values = true)]
    max_msgs_per_subject: Option<i64>,
    /// Most bytes kept (e.g. 1GB).
    #[arg(long, value_parser = parse_size)]
    max_bytes: Option<u64>,
    /// Oldest message kept (e.g. 24h; 0: unlimited).
    #[arg(long, value_parser = parse_duration)]
    max_age: Option<Duration>,
    /// Largest message accepted (e.g. 1MB).
    #[arg(long, value_parser = parse_size)]
    max_msg_size: Option<u64>,
    /// Number of replicas.
    #[arg(long)]
    replicas: Option<usize>,
    /// Window for duplicate detection by Nats-Msg-Id.
    #[arg(long, value_parser = parse_duration)]
    dupe_window: Option<Duration>,
    /// A description.
    #[arg(long)]
    description: Option<String>,
    /// Allow Direct Get (true or false).
    #[arg(long)]
    allow_direct: Option<bool>,
    /// Allow rollups by the Nats-Rollup header (true or false).
    #[arg(long)]
    allow_rollup: Option<bool>,
    /// Refuse deleting messages (true or false).
    #[arg(long)]
    deny_delete: Option<bool>,
    /// Refuse purges (true or false).
    #[arg(long)]
    deny_purge: Option<bool>,
}

impl StreamOpts {
    /// Applies the settings given.
    fn apply(&self, c: &mut stream::Config) -> Result<()> {
        if !self.subjects.is_empty() {
            c.subjects = self.subjects.clone();
        }
        if let Some(s) = self.storage {
            c.storage = s.into();
        }
        if let Some(r) = self.retention {
            c.retention = match r {
                Retention::Limits => RetentionPolicy::Limits,
                Retention::Interest => RetentionPolicy::Interest,
                Retention::Workqueue => RetentionPolicy::WorkQueue,
            };
        }
        if let Some(d) = self.discard {
            c.discard = match d {
                Discard::Old => DiscardPolicy::Old,
                Discard::New => DiscardPolicy::New,
            };
        }
        if let Some(n) = self.max_msgs {
            c.max_messages = n;
        }
        if let Some(n) = self.max_msgs_per_subject {
            c.max_messages_per_subject = n;
        }
        if let Some(n) = self.max_bytes {
            c.max_bytes = to_i64(n, "--max-bytes")?;
        }
        if let Some(d) = self.max_age {
            c.max_age = d;
        }
        if let Some(n) = self.max_msg_size {
            c.max_message_size = i32::try_from(n)
                .map_err(|_| usage("--max-msg-size is too large", "at most 2GB"))?;
        }
        if let Some(n) = self.replicas {
            c.num_replicas = n;
        }
        if let Some(d) = self.dupe_window {
            c.duplicate_window = d;
        }
        if let Some(d) = &self.description {
            c.description = Some(d.clone());
        }
        if let Some(b) = self.allow_direct {
            c.allow_direct = b;
        }
        if let Some(b) = self.allow_rollup {
            c.allow_rollup = b;
        }
        if let Some(b) = self.deny_delete {
            c.deny_delete = b;
        }
        if let Some(b) = self.deny_purge {
            c.deny_purge = b;
        }
        Ok(())
    }
}

/// A size flag as JetStream's i64.
pub(crate) fn to_i64(n: u64, flag: &str) -> Result<i64> {
    i64::try_from(n).map_err(|_| usage(format!("{flag} is too large"), "give a smaller size"))
}

/// The JetStream context of a new connection.
pub(crate) async fn context(conn: &ConnArgs) -> Result<Context> {
    context_with(conn, false).await
}

/// The JetStream context of a new connection; `long`: for a command that runs until stopped
/// (a watcher), reconnecting forever.
pub(crate) async fn context_with(conn: &ConnArgs, long: bool) -> Result<Context> {
    let client = if long {
        conn.connect_long().await?
    } else {
        conn.connect().await?
    };
    Ok(jetstream::ContextBuilder::new()
        .timeout(conn.timeout)
        .build(client))
}

/// Runs `rnats stream …`.
pub(crate) async fn stream(conn: &ConnArgs, out: &Out, cmd: StreamCmd) -> Result<()> {
    let js = context(conn).await?;
    match cmd {
        StreamCmd::Ls => {
            let mut infos = Vec::new();
            let mut pages = js.streams();
            while let Some(info) = pages.next().await {
                infos.push(info?);
            }
            infos.sort_by(|a, b| a.config.name.cmp(&b.config.name));
            if out.json {
                return out.json(&infos);
            }
            if infos.is_empty() {
                out.note("No streams defined");
                return Ok(());
            }
            let mut t = Table::new(&[
                "NAME",
                "SUBJECTS",
                "STORAGE",
                "MESSAGES",
                "BYTES",
                "CONSUMERS",
                "LAST MESSAGE",
            ]);
            for i in &infos {
                t.row(vec![
                    i.config.name.clone(),
                    i.config.subjects.join(", "),
                    storage_name(i.config.storage).into(),
                    util::count(i.state.messages),
                    util::bytes(i.state.bytes),
                    util::count(i.state.consumer_count as u64),
                    if i.state.messages == 0 {
                        "never".into()
                    } else {
                        util::age(i.state.last_ts)
                    },
                ]);
            }
            out.table(&t)
        }
        StreamCmd::Info { name } => {
            let info = js
                .stream_info(&name)
                .await
                .map_err(|e| stream_err(e, &name))?;
            if out.json {
                return out.json(&info);
            }
            print_stream_info(out, &info)
        }
        StreamCmd::Add { name, opts } => {
            let mut config = stream::Config::new(&name);
            opts.apply(&mut config)?;
            let mut created = js
                .create_stream(config)
                .await
                .map_err(|e| CliError::from(e).context(format!("cannot create stream {name:?}")))?;
            let info = created.info().await?.clone();
            if out.json {
                return out.json(&info);
            }
            out.note(format!("Created stream {name:?}"));
            print_stream_info(out, &info)
        }
        StreamCmd::Edit { name, opts } => {
            let mut config = js
                .stream_info(&name)
                .await
                .map_err(|e| stream_err(e, &name))?
                .config;
            opts.apply(&mut config)?;
            let info = js
                .update_stream(config)
                .await
                .map_err(|e| CliError::from(e).context(format!("cannot update stream {name:?}")))?;
            if out.json {
                return out.json(&info);
            }
            out.note(format!("Updated stream {name:?}"));
            print_stream_info(out, &info)
        }
        StreamCmd::Rm { name } => {
            js.delete_stream(&name)
                .await
                .map_err(|e| stream_err(e, &name))?;
            if out.json {
                return out.json(&serde_json::json!({ "deleted": name }));
            }
            out.note(format!("Deleted stream {name:?}"));
            Ok(())
        }
        StreamCmd::Purge {
            name,
            subject,
            seq,
            keep,
        } => {
            let s = js
                .get_stream(&name)
                .await
                .map_err(|e| stream_err(e, &name))?;
            let mut purge = s.purge();
            if let Some(f) = subject {
                purge = purge.filter(f);
            }
            if let Some(n) = seq {
                purge = purge.sequence(n);
            }
            if let Some(n) = keep {
                purge = purge.keep(n);
            }
            let done = purge.await?;
            if out.json {
                return out.json(&serde_json::json!({ "purged": done.purged }));
            }
            out.note(format!(
                "Purged {} messages from {name:?}",
                util::count(done.purged)
            ));
            Ok(())
        }
        StreamCmd::Get {
            name,
            seq,
            last_for,
            raw,
        } => {
            let s = js.get_stream_no_info(&name);
            let msg = match (seq, last_for) {
                (_, Some(subject)) => s.get_last_raw_message_by_subject(&subject).await,
                (Some(seq), None) => s.get_raw_message(seq).await,
                (None, None) => {
                    return Err(usage("no sequence given", "give SEQ or --last-for SUBJECT"))
                }
            }
            .map_err(|e| stream_err(e, &name))?;
            print_stream_message(out, &name, &msg, raw)
        }
        StreamCmd::View {
            name,
            subject,
            start,
            count,
            raw,
        } => {
            let s = js.get_stream_no_info(&name);
            let filter = subject.unwrap_or_else(|| ">".into());
            let mut seq = start.max(1);
            let mut shown = 0;
            while shown < count {
                let msg = match s.get_next_raw_message_by_subject(&filter, seq).await {
                    Ok(m) => m,
                    Err(e) if e.is_message_not_found() => break,
                    Err(e) => return Err(stream_err(e, &name)),
                };
                seq = msg.sequence + 1;
                shown += 1;
                print_stream_message(out, &name, &msg, raw)?;
            }
            if shown == 0 && !out.json {
                out.note(format!("No messages in {name:?} from sequence {start}"));
            }
            Ok(())
        }
    }
}

/// A stream-level error with the stream's name in front.
fn stream_err(e: rnats::Error, name: &str) -> CliError {
    CliError::from(e).context(format!("stream {name:?}"))
}

/// `file` or `memory`.
fn storage_name(s: StorageType) -> &'static str {
    match s {
        StorageType::Memory => "memory",
        _ => "file",
    }
}

/// The human view of a stream.
fn print_stream_info(out: &Out, i: &stream::Info) -> Result<()> {
    let c = &i.config;
    let s = &i.state;
    let mut f: Vec<(&str, String)> = vec![
        ("", format!("Stream {}", c.name)),
        ("Subjects", c.subjects.join(", ")),
        ("Storage", storage_name(c.storage).into()),
        ("Replicas", c.num_replicas.to_string()),
        ("Retention", format!("{:?}", c.retention).to_lowercase()),
        ("Discard", format!("{:?}", c.discard).to_lowercase()),
        ("Max Messages", util::limit(c.max_messages, util::count)),
        (
            "Max Per Subject",
            util::limit(c.max_messages_per_subject, util::count),
        ),
        ("Max Bytes", util::limit(c.max_bytes, util::bytes)),
        ("Max Age", util::duration_limit(c.max_age)),
        (
            "Max Msg Size",
            util::limit(i64::from(c.max_message_size), util::bytes),
        ),
        ("Dupe Window", util::duration(c.duplicate_window)),
        ("Direct Get", c.allow_direct.to_string()),
        ("", "State".into()),
        ("Messages", util::count(s.messages)),
        ("Bytes", util::bytes(s.bytes)),
        ("First Sequence", util::count(s.first_sequence)),
        ("Last Sequence", util::count(s.last_sequence)),
        ("Subjects", util::count(s.num_subjects)),
        ("Deleted", util::count(s.num_deleted)),
        ("Consumers", util::count(s.consumer_count as u64)),
    ];
    if let Some(d) = &c.description {
        f.insert(2, ("Description", d.clone()));
    }
    if let Some(cl) = i.cluster.as_ref().filter(|cl| cl.name.is_some()) {
        f.push(("Cluster", cl.name.clone().unwrap_or_default()));
        f.push(("Leader", cl.leader.clone().unwrap_or_default()));
    }
    out.fields(&f)
}

/// One stored message.
fn print_stream_message(out: &Out, stream: &str, m: &StreamMessage, raw: bool) -> Result<()> {
    if out.json {
        let mut obj = serde_json::Map::new();
        obj.insert("stream".into(), stream.into());
        obj.insert("seq".into(), m.sequence.into());
        obj.insert("subject".into(), m.subject.as_str().into());
        obj.insert("time".into(), util::timestamp(m.time).into());
        if !m.headers.is_empty() {
            obj.insert("headers".into(), util::json_headers(Some(&m.headers)));
        }
        util::json_payload(&mut obj, &m.payload);
        return out.line(serde_json::Value::Object(obj).to_string());
    }
    if raw {
        let mut b = m.payload.to_vec();
        b.push(b'\n');
        return out.bytes(&b);
    }
    let mut text = format!(
        "[{stream}#{}] {} on {:?}\n",
        m.sequence,
        util::timestamp(m.time),
        m.subject.as_str()
    );
    for (k, v) in m.headers.iter() {
        text.push_str(&format!("{k}: {v}\n"));
    }
    if !m.headers.is_empty() {
        text.push('\n');
    }
    text.push_str(&util::text(&m.payload));
    text.push_str("\n\n");
    out.bytes(text.as_bytes())
}

/// `rnats consumer …`
#[derive(Subcommand)]
pub(crate) enum ConsumerCmd {
    /// List a stream's consumers.
    Ls {
        /// The stream.
        stream: String,
    },
    /// Show a consumer's configuration and state.
    Info {
        /// The stream.
        stream: String,
        /// The consumer.
        name: String,
    },
    /// Create a durable pull consumer.
    Add {
        /// The stream.
        stream: String,
        /// The consumer's name.
        name: String,
        /// Only messages on these subjects (comma-separated or repeated).
        #[arg(long, value_delimiter = ',')]
        filter: Vec<String>,
        /// Where delivery starts.
        #[arg(long, value_enum, default_value = "all")]
        deliver: Deliver,
        /// Start at this sequence (with --deliver seq).
        #[arg(long, required_if_eq("deliver", "seq"))]
        start_seq: Option<u64>,
        /// How messages are acknowledged.
        #[arg(long, value_enum, default_value = "explicit")]
        ack: Ack,
        /// How long the server waits for an ack before redelivering.
        #[arg(long, value_parser = parse_duration)]
        ack_wait: Option<Duration>,
        /// Most deliveries of one message (-1: unlimited).
        #[arg(long, allow_hyphen_values = true)]
        max_deliver: Option<i64>,
        /// Most messages delivered and not yet acknowledged.
        #[arg(long)]
        max_ack_pending: Option<i64>,
        /// A description.
        #[arg(long)]
        description: Option<String>,
    },
    /// Delete a consumer.
    Rm {
        /// The stream.
        stream: String,
        /// The consumer.
        name: String,
    },
    /// Fetch messages from a pull consumer and acknowledge them.
    Next {
        /// The stream.
        stream: String,
        /// The consumer.
        name: String,
        /// How many messages.
        #[arg(long, default_value_t = 1)]
        count: usize,
        /// Do not acknowledge them.
        #[arg(long)]
        no_ack: bool,
        /// How long to wait for messages.
        #[arg(long, value_parser = parse_duration, default_value = "5s")]
        wait: Duration,
        /// Print only the payloads.
        #[arg(long)]
        raw: bool,
    },
}

/// `--deliver`
#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum Deliver {
    /// Every message.
    All,
    /// The last message, then new ones.
    Last,
    /// Only new messages.
    New,
    /// The last message of each subject, then new ones.
    LastPerSubject,
    /// From --start-seq.
    Seq,
}

/// `--ack`
#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum Ack {
    /// Each message is acknowledged.
    Explicit,
    /// No acks.
    None,
    /// An ack covers every message before it.
    All,
}

/// Runs `rnats consumer …`.
pub(crate) async fn consumer(conn: &ConnArgs, out: &Out, cmd: ConsumerCmd) -> Result<()> {
    let js = context(conn).await?;
    match cmd {
        ConsumerCmd::Ls { stream } => {
            let s = js
                .get_stream(&stream)
                .await
                .map_err(|e| stream_err(e, &stream))?;
            let mut infos = Vec::new();
            let mut pages = s.consumers();
            while let Some(info) = pages.next().await {
                infos.push(info?);
            }
            infos.sort_by(|a, b| a.name.cmp(&b.name));
            if out.json {
                return out.json(&infos);
            }
            if infos.is_empty() {
                out.note(format!("No consumers on {stream:?}"));
                return Ok(());
            }
            let mut t = Table::new(&[
                "NAME",
                "FILTER",
                "DELIVERED",
                "ACK PENDING",
                "PENDING",
                "REDELIVERED",
            ]);
            for i in &infos {
                t.row(vec![
                    i.name.clone(),
                    filters(&i.config),
                    util::count(i.delivered.stream_sequence),
                    util::count(i.num_ack_pending),
                    util::count(i.num_pending),
                    util::count(i.num_redelivered),
                ]);
            }
            out.table(&t)
        }
        ConsumerCmd::Info { stream, name } => {
            let s = js.get_stream_no_info(&stream);
            let info = s
                .consumer_info(&name)
                .await
                .map_err(|e| consumer_err(e, &stream, &name))?;
            if out.json {
                return out.json(&info);
            }
            print_consumer_info(out, &info)
        }
        ConsumerCmd::Add {
            stream,
            name,
            filter,
            deliver,
            start_seq,
            ack,
            ack_wait,
            max_deliver,
            max_ack_pending,
            description,
        } => {
            let s = js
                .get_stream(&stream)
                .await
                .map_err(|e| stream_err(e, &stream))?;
            let mut config = pull::Config::durable(&name);
            match filter.len() {
                0 => {}
                1 => config.filter_subject = filter[0].clone(),
                _ => config.filter_subjects = filter,
            }
            config.deliver_policy = match deliver {
                Deliver::All => DeliverPolicy::All,
                Deliver::Last => DeliverPolicy::Last,
                Deliver::New => DeliverPolicy::New,
                Deliver::LastPerSubject => DeliverPolicy::LastPerSubject,
                Deliver::Seq => DeliverPolicy::ByStartSequence,
            };
            config.opt_start_seq = start_seq;
            config.ack_policy = match ack {
                Ack::Explicit => AckPolicy::Explicit,
                Ack::None => AckPolicy::None,
                Ack::All => AckPolicy::All,
            };
            if let Some(d) = ack_wait {
                config.ack_wait = d;
            }
            if let Some(n) = max_deliver {
                config.max_deliver = n;
            }
            if let Some(n) = max_ack_pending {
                config.max_ack_pending = n;
            }
            config.description = description;
            let mut c = s.create_consumer(config).await.map_err(|e| {
                CliError::from(e).context(format!("cannot create consumer {name:?} on {stream:?}"))
            })?;
            let info = c.info().await?.clone();
            if out.json {
                return out.json(&info);
            }
            out.note(format!("Created consumer {name:?} on {stream:?}"));
            print_consumer_info(out, &info)
        }
        ConsumerCmd::Rm { stream, name } => {
            js.delete_consumer_from_stream(&name, &stream)
                .await
                .map_err(|e| consumer_err(e, &stream, &name))?;
            if out.json {
                return out.json(&serde_json::json!({ "deleted": name, "stream": stream }));
            }
            out.note(format!("Deleted consumer {name:?} from {stream:?}"));
            Ok(())
        }
        ConsumerCmd::Next {
            stream,
            name,
            count,
            no_ack,
            wait,
            raw,
        } => {
            let c: consumer::PullConsumer = js
                .get_consumer_from_stream(&name, &stream)
                .await
                .map_err(|e| consumer_err(e, &stream, &name))?;
            let mut batch = c
                .batch()
                .max_messages(count.max(1))
                .expires(wait)
                .messages()
                .await?;
            let mut got = 0;
            while let Some(msg) = batch.next().await {
                let msg = msg?;
                got += 1;
                let meta = msg.info().ok().map(|i| i.stream_sequence);
                print_js_message(out, &msg, meta, raw)?;
                if !no_ack {
                    msg.double_ack().await?;
                }
            }
            if got == 0 {
                return Err(usage(
                    format!(
                        "no message from consumer {name:?} within {}",
                        util::duration(wait)
                    ),
                    "publish to the stream's subjects, or wait longer with --wait",
                ));
            }
            Ok(())
        }
    }
}

/// A consumer-level error with both names in front.
fn consumer_err(e: rnats::Error, stream: &str, name: &str) -> CliError {
    CliError::from(e).context(format!("consumer {name:?} on {stream:?}"))
}

/// The consumer's filter subjects, comma-separated.
fn filters(c: &consumer::Config) -> String {
    if !c.filter_subject.is_empty() {
        c.filter_subject.clone()
    } else {
        c.filter_subjects.join(", ")
    }
}

/// The human view of a consumer.
fn print_consumer_info(out: &Out, i: &consumer::Info) -> Result<()> {
    let c = &i.config;
    let mut f: Vec<(&str, String)> = vec![
        (
            "",
            format!("Consumer {} on stream {}", i.name, i.stream_name),
        ),
        ("Description", c.description.clone().unwrap_or_default()),
        ("Filter", filters(c)),
        ("Deliver", format!("{:?}", c.deliver_policy)),
        ("Ack Policy", format!("{:?}", c.ack_policy)),
        ("Ack Wait", util::duration(c.ack_wait)),
        ("Max Deliver", util::limit(c.max_deliver, util::count)),
        (
            "Max Ack Pending",
            util::limit(c.max_ack_pending, util::count),
        ),
        ("", "State".into()),
        (
            "Last Delivered",
            format!(
                "stream sequence {}",
                util::count(i.delivered.stream_sequence)
            ),
        ),
        (
            "Ack Floor",
            format!(
                "stream sequence {}",
                util::count(i.ack_floor.stream_sequence)
            ),
        ),
        ("Ack Pending", util::count(i.num_ack_pending)),
        ("Redelivered", util::count(i.num_redelivered)),
        ("Waiting Pulls", util::count(i.num_waiting)),
        ("Pending", util::count(i.num_pending)),
    ];
    if let Some(d) = &c.description {
        f.insert(1, ("Description", d.clone()));
    }
    out.fields(&f)
}

/// A message from a consumer.
fn print_js_message(out: &Out, m: &jetstream::Message, seq: Option<u64>, raw: bool) -> Result<()> {
    if out.json {
        let mut obj = serde_json::Map::new();
        obj.insert("subject".into(), m.subject.as_str().into());
        if let Some(seq) = seq {
            obj.insert("seq".into(), seq.into());
        }
        if m.headers.as_ref().is_some_and(|h| !h.is_empty()) {
            obj.insert("headers".into(), util::json_headers(m.headers.as_ref()));
        }
        util::json_payload(&mut obj, &m.payload);
        return out.line(serde_json::Value::Object(obj).to_string());
    }
    if raw {
        let mut b = m.payload.to_vec();
        b.push(b'\n');
        return out.bytes(&b);
    }
    let mut text = match seq {
        Some(seq) => format!("[#{seq}] Received on {:?}\n", m.subject.as_str()),
        None => format!("Received on {:?}\n", m.subject.as_str()),
    };
    if let Some(h) = &m.headers {
        for (k, v) in h.iter() {
            text.push_str(&format!("{k}: {v}\n"));
        }
        if !h.is_empty() {
            text.push('\n');
        }
    }
    text.push_str(&util::text(&m.payload));
    text.push_str("\n\n");
    out.bytes(text.as_bytes())
}
