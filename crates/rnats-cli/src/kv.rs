//! `kv …`: Key-Value buckets.

use std::time::Duration;

use clap::Subcommand;
use futures_util::StreamExt;
use rnats::kv::{self, Entry, Operation, WatchEvent, WatchOptions};

use crate::conn::ConnArgs;
use crate::error::{usage, CliError, Result};
use crate::js::{context_with, to_i64, Storage};
use crate::output::{Out, Table};
use crate::util::{self, parse_duration, parse_size};

/// `rnats kv …`
#[derive(Subcommand)]
pub(crate) enum KvCmd {
    /// List the buckets.
    Ls,
    /// Create a bucket.
    Add {
        /// The bucket's name.
        bucket: String,
        /// Values kept per key.
        #[arg(long, default_value_t = 1)]
        history: i64,
        /// How long values live (0: forever).
        #[arg(long, value_parser = parse_duration)]
        ttl: Option<Duration>,
        /// Most bytes the bucket holds (e.g. 1GB).
        #[arg(long, value_parser = parse_size)]
        max_bytes: Option<u64>,
        /// Largest value accepted (e.g. 1MB).
        #[arg(long, value_parser = parse_size)]
        max_value_size: Option<u64>,
        /// Where values are kept.
        #[arg(long, value_enum)]
        storage: Option<Storage>,
        /// Number of replicas.
        #[arg(long, default_value_t = 1)]
        replicas: usize,
        /// A description.
        #[arg(long)]
        description: Option<String>,
    },
    /// Delete a bucket and its values.
    Rm {
        /// The bucket.
        bucket: String,
    },
    /// Store a value (read from stdin when not given).
    Put {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
        /// The value.
        value: Option<String>,
    },
    /// Print a key's value.
    Get {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
        /// This revision instead of the latest.
        #[arg(long)]
        revision: Option<u64>,
        /// Print only the value.
        #[arg(long)]
        raw: bool,
    },
    /// Delete a key (its history stays).
    Del {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
    },
    /// Delete a key and its history.
    Purge {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
    },
    /// Show every kept revision of a key.
    History {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
    },
    /// Print the values, then every change, as they happen.
    Watch {
        /// The bucket.
        bucket: String,
        /// Only keys matching this filter (wildcards allowed).
        key: Option<String>,
        /// Exit after this many entries.
        #[arg(long)]
        count: Option<u64>,
        /// Only changes from now on.
        #[arg(long)]
        updates_only: bool,
    },
    /// List the keys that hold a value.
    Keys {
        /// The bucket.
        bucket: String,
        /// Only keys matching this filter (wildcards allowed).
        filter: Option<String>,
    },
}

/// Runs `rnats kv …`.
pub(crate) async fn run(conn: &ConnArgs, out: &Out, cmd: KvCmd) -> Result<()> {
    let js = context_with(conn, matches!(cmd, KvCmd::Watch { .. })).await?;
    let bind = |bucket: String| {
        let js = js.clone();
        async move { js.key_value(&bucket).await.map_err(CliError::from) }
    };
    match cmd {
        KvCmd::Ls => {
            let mut list = Vec::new();
            let mut all = js.key_value_stores();
            while let Some(s) = all.next().await {
                list.push(s?);
            }
            list.sort_by(|a, b| a.bucket().cmp(b.bucket()));
            if out.json {
                let v: Vec<_> = list
                    .iter()
                    .map(|s| {
                        serde_json::json!({
                            "bucket": s.bucket(), "values": s.values(), "bytes": s.bytes(),
                            "history": s.history(), "ttl_secs": s.max_age().as_secs_f64(),
                            "storage": s.backing_store(),
                        })
                    })
                    .collect();
                return out.json(&v);
            }
            if list.is_empty() {
                out.note("No Key-Value buckets defined");
                return Ok(());
            }
            let mut t = Table::new(&["BUCKET", "VALUES", "SIZE", "HISTORY", "TTL"]);
            for s in &list {
                t.row(vec![
                    s.bucket().to_owned(),
                    util::count(s.values()),
                    util::bytes(s.bytes()),
                    s.history().to_string(),
                    util::duration_limit(s.max_age()),
                ]);
            }
            out.table(&t)
        }
        KvCmd::Add {
            bucket,
            history,
            ttl,
            max_bytes,
            max_value_size,
            storage,
            replicas,
            description,
        } => {
            let mut config = kv::Config::new(&bucket);
            config.history = history;
            config.replicas = replicas;
            config.description = description;
            if let Some(t) = ttl {
                config.max_age = t;
            }
            if let Some(n) = max_bytes {
                config.max_bytes = to_i64(n, "--max-bytes")?;
            }
            if let Some(n) = max_value_size {
                config.max_value_size = i32::try_from(n)
                    .map_err(|_| usage("--max-value-size is too large", "at most 2GB"))?;
            }
            if let Some(s) = storage {
                config.storage = s.into();
            }
            js.create_key_value(config).await.map_err(|e| {
                CliError::from(e).context(format!("cannot create bucket {bucket:?}"))
            })?;
            if out.json {
                return out.json(&serde_json::json!({ "created": bucket }));
            }
            out.note(format!("Created bucket {bucket:?}"));
            Ok(())
        }
        KvCmd::Rm { bucket } => {
            js.delete_key_value(&bucket)
                .await
                .map_err(|e| CliError::from(e).context(format!("bucket {bucket:?}")))?;
            if out.json {
                return out.json(&serde_json::json!({ "deleted": bucket }));
            }
            out.note(format!("Deleted bucket {bucket:?}"));
            Ok(())
        }
        KvCmd::Put { bucket, key, value } => {
            let value = util::body_or_stdin(value).await?;
            let store = bind(bucket).await?;
            let revision = store.put(&key, value).await.map_err(|e| key_err(e, &key))?;
            if out.json {
                return out.json(&serde_json::json!({ "key": key, "revision": revision }));
            }
            out.line(revision.to_string())
        }
        KvCmd::Get {
            bucket,
            key,
            revision,
            raw,
        } => {
            let store = bind(bucket).await?;
            let entry = match revision {
                Some(r) => store.get_revision(&key, r).await,
                None => store.entry(&key).await,
            }
            .map_err(|e| key_err(e, &key))?;
            if entry.operation != Operation::Put {
                return Err(usage(
                    format!("key {key:?} was deleted at revision {}", entry.revision),
                    "see its earlier values with `rnats kv history BUCKET KEY`",
                ));
            }
            if out.json {
                return out.json(&entry_json(&entry));
            }
            if raw {
                let mut v = entry.value.to_vec();
                v.push(b'\n');
                return out.bytes(&v);
            }
            out.line(format!(
                "{} > {} revision {} created {}\n\n{}",
                entry.bucket,
                entry.key,
                entry.revision,
                util::timestamp(entry.created),
                util::text(&entry.value)
            ))
        }
        KvCmd::Del { bucket, key } => {
            let store = bind(bucket).await?;
            store.delete(&key).await.map_err(|e| key_err(e, &key))?;
            out.note(format!("Deleted key {key:?}"));
            Ok(())
        }
        KvCmd::Purge { bucket, key } => {
            let store = bind(bucket).await?;
            store.purge(&key).await.map_err(|e| key_err(e, &key))?;
            out.note(format!("Purged key {key:?}"));
            Ok(())
        }
        KvCmd::History { bucket, key } => {
            let store = bind(bucket).await?;
            let entries = store.history(&key).await.map_err(|e| key_err(e, &key))?;
            if entries.is_empty() {
                return Err(usage(
                    format!("no history for key {key:?}"),
                    "list the keys with `rnats kv keys BUCKET`",
                ));
            }
            if out.json {
                let v: Vec<_> = entries.iter().map(entry_json).collect();
                return out.json(&v);
            }
            let mut t = Table::new(&["KEY", "REVISION", "OP", "LENGTH", "VALUE", "CREATED"]);
            for e in &entries {
                t.row(vec![
                    e.key.clone(),
                    e.revision.to_string(),
                    op_name(e.operation).into(),
                    util::count(e.value.len() as u64),
                    preview(&e.value),
                    util::timestamp(e.created),
                ]);
            }
            out.table(&t)
        }
        KvCmd::Watch {
            bucket,
            key,
            count,
            updates_only,
        } => {
            let store = bind(bucket).await?;
            let mut options = match &key {
                Some(k) => WatchOptions::keys([k.as_str()]),
                None => WatchOptions::default(),
            };
            options.updates_only = updates_only;
            let mut events = store
                .watch_with(options)
                .await
                .map_err(|e| CliError::from(e).context("cannot watch"))?
                .events();
            let mut n = 0;
            if count == Some(0) {
                return Ok(());
            }
            while let Some(event) = events.next().await {
                match event? {
                    WatchEvent::InitialDataDone => out.note("Watching for updates"),
                    WatchEvent::Entry(e) => {
                        n += 1;
                        if out.json {
                            out.line(entry_json(&e).to_string())?;
                        } else {
                            out.line(format!(
                                "[{}] {} {} > {}: {}",
                                util::timestamp(e.created),
                                op_name(e.operation),
                                e.bucket,
                                e.key,
                                util::text(&e.value)
                            ))?;
                        }
                        if count.is_some_and(|c| n >= c) {
                            break;
                        }
                    }
                    _ => {}
                }
            }
            Ok(())
        }
        KvCmd::Keys { bucket, filter } => {
            let store = bind(bucket).await?;
            let mut keys_stream = match &filter {
                Some(f) => store.keys_with_filters([f.as_str()]).await,
                None => store.keys().await,
            }?;
            let mut keys = Vec::new();
            while let Some(k) = keys_stream.next().await {
                keys.push(k?);
            }
            keys.sort();
            if out.json {
                return out.json(&keys);
            }
            if keys.is_empty() {
                out.note("No keys found");
            }
            for k in keys {
                out.line(k)?;
            }
            Ok(())
        }
    }
}

/// A key-level error with the key in front.
fn key_err(e: rnats::Error, key: &str) -> CliError {
    CliError::from(e).context(format!("key {key:?}"))
}

/// `PUT`, `DEL`, `PURGE`.
fn op_name(op: Operation) -> &'static str {
    match op {
        Operation::Put => "PUT",
        Operation::Delete => "DEL",
        _ => "PURGE",
    }
}

/// At most 40 characters of a value, on one line.
fn preview(value: &[u8]) -> String {
    let text = util::text(value).replace(['\n', '\r'], " ");
    if text.chars().count() > 40 {
        format!("{}…", text.chars().take(39).collect::<String>())
    } else {
        text
    }
}

/// An entry as JSON.
fn entry_json(e: &Entry) -> serde_json::Value {
    let mut obj = serde_json::Map::new();
    obj.insert("bucket".into(), e.bucket.as_str().into());
    obj.insert("key".into(), e.key.as_str().into());
    obj.insert("revision".into(), e.revision.into());
    obj.insert("operation".into(), op_name(e.operation).into());
    obj.insert("created".into(), util::timestamp(e.created).into());
    util::json_payload(&mut obj, &e.value);
    serde_json::Value::Object(obj)
}
