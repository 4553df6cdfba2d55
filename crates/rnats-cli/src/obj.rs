//! `obj …`: Object Store buckets, with progress bars for transfers.

use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use clap::Subcommand;
use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use rnats::object_store::{self, ObjectInfo, ObjectMeta, Status, WatchEvent};
use tokio::io::{AsyncRead, AsyncWriteExt, ReadBuf};

use crate::conn::ConnArgs;
use crate::error::{usage, CliError, Result};
use crate::js::{context_with, to_i64, Storage};
use crate::output::{Out, Table};
use crate::util::{self, parse_duration, parse_size};

/// `rnats obj …`
#[derive(Subcommand)]
pub(crate) enum ObjCmd {
    /// List the buckets, or a bucket's objects.
    Ls {
        /// List this bucket's objects.
        bucket: Option<String>,
    },
    /// Create a bucket.
    Add {
        /// The bucket's name.
        bucket: String,
        /// How long objects live (0: forever).
        #[arg(long, value_parser = parse_duration)]
        ttl: Option<Duration>,
        /// Most bytes the bucket holds (e.g. 10GB).
        #[arg(long, value_parser = parse_size)]
        max_bytes: Option<u64>,
        /// Where objects are kept.
        #[arg(long, value_enum)]
        storage: Option<Storage>,
        /// Number of replicas.
        #[arg(long, default_value_t = 1)]
        replicas: usize,
        /// A description.
        #[arg(long)]
        description: Option<String>,
    },
    /// Delete a bucket, or one object of it.
    Rm {
        /// The bucket.
        bucket: String,
        /// Delete only this object.
        name: Option<String>,
    },
    /// Store a file (`-` for stdin).
    Put {
        /// The bucket.
        bucket: String,
        /// The file.
        file: String,
        /// The object's name (default: the file's name).
        #[arg(long)]
        name: Option<String>,
        /// A description.
        #[arg(long)]
        description: Option<String>,
    },
    /// Fetch an object into a file.
    Get {
        /// The bucket.
        bucket: String,
        /// The object.
        name: String,
        /// Where to write it (`-` for stdout; default: a file named after the object).
        #[arg(short = 'O', long)]
        output: Option<String>,
    },
    /// Show a bucket's or an object's details.
    Info {
        /// The bucket.
        bucket: String,
        /// The object.
        name: Option<String>,
    },
    /// Print the objects, then every change, as they happen.
    Watch {
        /// The bucket.
        bucket: String,
        /// Exit after this many events.
        #[arg(long)]
        count: Option<u64>,
    },
    /// Seal a bucket: no more changes.
    Seal {
        /// The bucket.
        bucket: String,
    },
}

/// Runs `rnats obj …`.
pub(crate) async fn run(conn: &ConnArgs, out: &Out, cmd: ObjCmd) -> Result<()> {
    let js = context_with(conn, matches!(cmd, ObjCmd::Watch { .. })).await?;
    let bind = |bucket: String| {
        let js = js.clone();
        async move { js.object_store(&bucket).await.map_err(CliError::from) }
    };
    match cmd {
        ObjCmd::Ls { bucket: None } => {
            let mut list = Vec::new();
            let mut all = js.object_stores();
            while let Some(s) = all.next().await {
                list.push(s?);
            }
            list.sort_by(|a, b| a.bucket().cmp(b.bucket()));
            if out.json {
                let v: Vec<_> = list.iter().map(status_json).collect();
                return out.json(&v);
            }
            if list.is_empty() {
                out.note("No Object Store buckets defined");
                return Ok(());
            }
            let mut t = Table::new(&["BUCKET", "SIZE", "SEALED", "TTL", "DESCRIPTION"]);
            for s in &list {
                t.row(vec![
                    s.bucket().to_owned(),
                    util::bytes(s.size()),
                    s.sealed().to_string(),
                    util::duration_limit(s.ttl()),
                    s.description().unwrap_or_default().to_owned(),
                ]);
            }
            out.table(&t)
        }
        ObjCmd::Ls {
            bucket: Some(bucket),
        } => {
            let store = bind(bucket.clone()).await?;
            let mut list = store.list().await?;
            list.sort_by(|a, b| a.name.cmp(&b.name));
            if out.json {
                return out.json(&list);
            }
            if list.is_empty() {
                out.note(format!("No objects in {bucket:?}"));
                return Ok(());
            }
            let mut t = Table::new(&["NAME", "SIZE", "CHUNKS", "MODIFIED"]);
            for o in &list {
                t.row(vec![
                    o.name.clone(),
                    util::bytes(o.size),
                    util::count(o.chunks),
                    util::timestamp(o.modified),
                ]);
            }
            out.table(&t)
        }
        ObjCmd::Add {
            bucket,
            ttl,
            max_bytes,
            storage,
            replicas,
            description,
        } => {
            let mut config = object_store::Config::new(&bucket);
            config.replicas = replicas;
            config.description = description;
            if let Some(t) = ttl {
                config.max_age = t;
            }
            if let Some(n) = max_bytes {
                config.max_bytes = to_i64(n, "--max-bytes")?;
            }
            if let Some(s) = storage {
                config.storage = s.into();
            }
            js.create_object_store(config).await.map_err(|e| {
                CliError::from(e).context(format!("cannot create bucket {bucket:?}"))
            })?;
            if out.json {
                return out.json(&serde_json::json!({ "created": bucket }));
            }
            out.note(format!("Created bucket {bucket:?}"));
            Ok(())
        }
        ObjCmd::Rm { bucket, name: None } => {
            js.delete_object_store(&bucket).await?;
            if out.json {
                return out.json(&serde_json::json!({ "deleted": bucket }));
            }
            out.note(format!("Deleted bucket {bucket:?}"));
            Ok(())
        }
        ObjCmd::Rm {
            bucket,
            name: Some(name),
        } => {
            let store = bind(bucket).await?;
            store
                .delete(&name)
                .await
                .map_err(|e| object_err(e, &name))?;
            if out.json {
                return out.json(&serde_json::json!({ "deleted": name }));
            }
            out.note(format!("Deleted object {name:?}"));
            Ok(())
        }
        ObjCmd::Put {
            bucket,
            file,
            name,
            description,
        } => {
            let store = bind(bucket).await?;
            let (reader, size, default_name): (
                Box<dyn AsyncRead + Unpin + Send>,
                Option<u64>,
                Option<String>,
            ) = if file == "-" {
                (Box::new(tokio::io::stdin()), None, None)
            } else {
                let f = tokio::fs::File::open(&file).await.map_err(|e| {
                    usage(
                        format!("cannot open {file:?}: {e}"),
                        "give a readable file, or - for stdin",
                    )
                })?;
                let size = f.metadata().await.ok().map(|m| m.len());
                let base = std::path::Path::new(&file)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned());
                (Box::new(f), size, base)
            };
            let Some(name) = name.or(default_name) else {
                return Err(usage(
                    "no object name",
                    "give one with --name when reading stdin",
                ));
            };
            let mut meta = ObjectMeta::new(&name);
            if let Some(d) = description {
                meta = meta.description(d);
            }
            let bar = progress(size, &format!("put {name}"));
            let info = store
                .put(
                    meta,
                    Progress {
                        inner: reader,
                        bar: bar.clone(),
                    },
                )
                .await
                .map_err(|e| object_err(e, &name))?;
            bar.finish_and_clear();
            if out.json {
                return out.json(&info);
            }
            out.note(format!(
                "Stored {name:?}: {} in {} chunks",
                util::bytes(info.size),
                util::count(info.chunks)
            ));
            Ok(())
        }
        ObjCmd::Get {
            bucket,
            name,
            output,
        } => {
            let store = bind(bucket).await?;
            let mut object = store.get(&name).await.map_err(|e| object_err(e, &name))?;
            let size = object.info().size;
            let target = output.unwrap_or_else(|| {
                std::path::Path::new(&name)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| name.clone())
            });
            let bar = progress(Some(size), &format!("get {name}"));
            let mut reader = Progress {
                inner: &mut object,
                bar: bar.clone(),
            };
            if target == "-" {
                let mut stdout = tokio::io::stdout();
                tokio::io::copy(&mut reader, &mut stdout)
                    .await
                    .map_err(transfer_err)?;
                stdout.flush().await?;
            } else {
                // Into a temporary file first: a failed transfer leaves no half file behind.
                let tmp = format!("{target}.rnats-part");
                let mut f = tokio::fs::File::create(&tmp).await.map_err(|e| {
                    usage(
                        format!("cannot create {tmp:?}: {e}"),
                        "choose another file with -O",
                    )
                })?;
                let copied = tokio::io::copy(&mut reader, &mut f).await;
                let synced = match copied {
                    Ok(_) => f.sync_all().await,
                    Err(e) => Err(e),
                };
                if let Err(e) = synced {
                    let _ = tokio::fs::remove_file(&tmp).await;
                    return Err(transfer_err(e));
                }
                tokio::fs::rename(&tmp, &target).await?;
            }
            bar.finish_and_clear();
            if target != "-" {
                out.note(format!("Wrote {} to {target:?}", util::bytes(size)));
            }
            Ok(())
        }
        ObjCmd::Info { bucket, name: None } => {
            let store = bind(bucket).await?;
            let s = store.status().await?;
            if out.json {
                return out.json(&status_json(&s));
            }
            out.fields(&[
                ("", format!("Bucket {}", s.bucket())),
                (
                    "Description",
                    s.description().unwrap_or_default().to_owned(),
                ),
                ("Size", util::bytes(s.size())),
                ("Sealed", s.sealed().to_string()),
                ("TTL", util::duration_limit(s.ttl())),
                ("Storage", format!("{:?}", s.storage()).to_lowercase()),
                ("Replicas", s.replicas().to_string()),
                ("Backing Store", s.backing_store().to_owned()),
            ])
        }
        ObjCmd::Info {
            bucket,
            name: Some(name),
        } => {
            let store = bind(bucket).await?;
            let i = store.info(&name).await.map_err(|e| object_err(e, &name))?;
            if out.json {
                return out.json(&i);
            }
            print_object_info(out, &i)
        }
        ObjCmd::Watch { bucket, count } => {
            let store = bind(bucket).await?;
            let mut watch = store.watch().await?;
            let mut n = 0;
            if count == Some(0) {
                return Ok(());
            }
            while let Some(event) = watch.next().await {
                match event? {
                    WatchEvent::InitialDataDone => out.note("Watching for updates"),
                    WatchEvent::Info(i) => {
                        n += 1;
                        if out.json {
                            out.line(
                                serde_json::to_string(&i)
                                    .map_err(|e| CliError::new(e.to_string()))?,
                            )?;
                        } else {
                            let op = if i.deleted { "DEL" } else { "PUT" };
                            out.line(format!(
                                "[{}] {op} {} > {}: {}",
                                util::timestamp(i.modified),
                                i.bucket,
                                i.name,
                                util::bytes(i.size)
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
        ObjCmd::Seal { bucket } => {
            let store = bind(bucket.clone()).await?;
            store.seal().await?;
            if out.json {
                return out.json(&serde_json::json!({ "sealed": bucket }));
            }
            out.note(format!("Sealed bucket {bucket:?}"));
            Ok(())
        }
    }
}

/// An object-level error with the name in front.
fn object_err(e: rnats::Error, name: &str) -> CliError {
    CliError::from(e).context(format!("object {name:?}"))
}

/// A failed download: a digest mismatch carries the library's error inside the io error.
fn transfer_err(e: std::io::Error) -> CliError {
    match rnats::Error::from_io(&e) {
        Some(inner) => CliError::from(inner),
        None => CliError::from(e),
    }
}

/// A bucket's status as JSON.
fn status_json(s: &Status) -> serde_json::Value {
    serde_json::json!({
        "bucket": s.bucket(), "description": s.description(), "size": s.size(),
        "sealed": s.sealed(), "ttl_secs": s.ttl().as_secs_f64(), "replicas": s.replicas(),
        "storage": format!("{:?}", s.storage()).to_lowercase(),
    })
}

/// The human view of an object.
fn print_object_info(out: &Out, i: &ObjectInfo) -> Result<()> {
    let mut f: Vec<(&str, String)> = vec![
        ("", format!("Object {} in {}", i.name, i.bucket)),
        ("Size", util::bytes(i.size)),
        ("Chunks", util::count(i.chunks)),
        ("Digest", i.digest.clone().unwrap_or_default()),
        ("Modified", util::timestamp(i.modified)),
    ];
    if let Some(d) = &i.description {
        f.insert(1, ("Description", d.clone()));
    }
    if let Some(link) = i.link() {
        f.push((
            "Link",
            format!("{} {}", link.bucket, link.name.clone().unwrap_or_default()),
        ));
    }
    out.fields(&f)
}

/// A progress bar on stderr (drawn only when stderr is a terminal).
fn progress(size: Option<u64>, what: &str) -> ProgressBar {
    let bar = match size {
        Some(n) => ProgressBar::new(n),
        None => ProgressBar::new_spinner(),
    };
    let template = if size.is_some() {
        "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}"
    } else {
        "{msg} {spinner} {bytes} {bytes_per_sec}"
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_owned());
    bar
}

/// A reader that advances a progress bar.
struct Progress<R> {
    /// The reader.
    inner: R,
    /// The bar.
    bar: ProgressBar,
}

impl<R: AsyncRead + Unpin> AsyncRead for Progress<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &result {
            self.bar.inc((buf.filled().len() - before) as u64);
        }
        result
    }
}
