//! Object Store (rnats::object_store) against real nats-servers: buckets, objects of every
//! edge size, tamper detection, orphaned chunks, links, sealing, watch, the cross-client
//! compatibility suite's steps, interop with nats-py, and a 256 MiB object streamed through a
//! child process whose peak memory is measured.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use base64::Engine;
use futures_util::{StreamExt, TryStreamExt};
use rnats::jetstream::stream::StorageType;
use rnats::jetstream::Context;
use rnats::object_store::{
    self, ObjectInfo, ObjectMeta, ObjectStore, Watch, WatchEvent, WatchOptions, DEFAULT_CHUNK_SIZE,
};
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};

use crate::jetstream::{js_server, within};

/// Deterministic content of `n` bytes (the same as tests/data/object_interop.py's).
fn data(n: usize) -> Vec<u8> {
    (0..n).map(|i| ((i * 31) % 251) as u8).collect()
}

fn digest(bytes: &[u8]) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, bytes);
    format!(
        "SHA-256={}",
        base64::engine::general_purpose::URL_SAFE.encode(d.as_ref())
    )
}

async fn memory_store(js: &Context, bucket: &str) -> ObjectStore {
    let mut c = object_store::Config::new(bucket);
    c.storage = StorageType::Memory;
    within(10, "create bucket", js.create_object_store(c))
        .await
        .unwrap()
}

/// Messages in the bucket's stream (chunks and metas).
async fn messages(js: &Context, bucket: &str) -> u64 {
    js.stream_info(format!("OBJ_{bucket}"))
        .await
        .unwrap()
        .state
        .messages
}

async fn next_event(watch: &mut Watch) -> WatchEvent {
    within(10, "a watch event", watch.next())
        .await
        .expect("the watcher ended")
        .unwrap()
}

#[tokio::test]
async fn buckets_are_created_bound_listed_sealed_and_deleted() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    let mut c = object_store::Config::new("custom");
    c.description = Some("files".into());
    c.max_age = Duration::from_secs(3600);
    c.max_bytes = 10 << 20;
    c.storage = StorageType::Memory;
    c.compression = true;
    c.metadata.insert("owner".into(), "tests".into());
    let store = js.create_object_store(c).await.unwrap();
    assert_eq!(store.bucket(), "custom");
    let status = store.status().await.unwrap();
    assert_eq!(status.bucket(), "custom");
    assert_eq!(status.description(), Some("files"));
    assert_eq!(status.ttl(), Duration::from_secs(3600));
    assert_eq!(status.storage(), StorageType::Memory);
    assert_eq!(status.replicas(), 1);
    assert!(status.is_compressed() && !status.sealed());
    assert_eq!(status.backing_store(), "JetStream");
    assert_eq!(
        status.metadata().get("owner").map(String::as_str),
        Some("tests")
    );
    let info = status.stream_info();
    assert_eq!(info.config.subjects, ["$O.custom.C.>", "$O.custom.M.>"]);
    assert!(info.config.allow_rollup && info.config.allow_direct);

    js.create_object_store(object_store::Config::new("plain"))
        .await
        .unwrap();
    // A KV bucket is not listed.
    js.create_stream(crate::jetstream::memory_stream("OTHER", &["other.>"]))
        .await
        .unwrap();
    let mut names: Vec<String> = within(10, "names", js.object_store_names().try_collect())
        .await
        .unwrap();
    names.sort();
    assert_eq!(names, ["custom", "plain"]);
    let statuses: Vec<object_store::Status> =
        within(10, "statuses", js.object_stores().try_collect())
            .await
            .unwrap();
    assert_eq!(statuses.len(), 2);

    // Bound by name; the object written through one handle is read through the other.
    let bound = js.object_store("custom").await.unwrap();
    store.put_bytes("x", "data").await.unwrap();
    assert_eq!(bound.get_bytes("x").await.unwrap(), "data");

    // Sealed: reads work, writes and deletes are refused.
    let sealed = bound.seal().await.unwrap();
    assert!(sealed.sealed());
    assert!(store.status().await.unwrap().sealed());
    assert_eq!(store.get_bytes("x").await.unwrap(), "data");
    assert!(store.put_bytes("y", "more").await.is_err());
    assert!(store.delete("x").await.is_err());
    assert_eq!(store.get_bytes("x").await.unwrap(), "data");

    js.delete_object_store("plain").await.unwrap();
    let err = js.object_store("plain").await.unwrap_err();
    assert!(err.is_object_bucket_not_found(), "{err:?}");
    let err = js.delete_object_store("plain").await.unwrap_err();
    assert!(err.is_object_bucket_not_found(), "{err:?}");
    let err = js.object_store("bad.name").await.unwrap_err();
    assert_eq!(err.kind(), rnats::ErrorKind::InvalidArgument);
}

#[tokio::test]
async fn objects_of_every_edge_size_round_trip() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    let store = memory_store(&js, "sizes").await;
    let c = DEFAULT_CHUNK_SIZE;
    for (size, chunks) in [(0, 0), (1, 1), (c, 1), (c + 1, 2), (5 * c + 7, 6)] {
        let name = format!("obj-{size}");
        let content = data(size);
        let info = within(20, "put", store.put(name.as_str(), &content[..]))
            .await
            .unwrap();
        assert_eq!((info.size, info.chunks), (size as u64, chunks), "{size}");
        assert_eq!(info.digest.as_deref(), Some(digest(&content).as_str()));
        assert_eq!(info.bucket, "sizes");
        let stored = store.info(&name).await.unwrap();
        assert_eq!(stored.digest, info.digest);
        assert_eq!(stored.nuid, info.nuid);
        assert!(stored.modified > time::OffsetDateTime::UNIX_EPOCH);
        // Streamed out through AsyncRead, in small reads.
        let mut object = within(10, "get", store.get(&name)).await.unwrap();
        let mut out = Vec::new();
        let mut buf = [0u8; 1000];
        loop {
            let n = within(10, "read", object.read(&mut buf)).await.unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        assert!(out == content, "size {size}");
        assert_eq!(
            within(10, "get_bytes", store.get_bytes(&name))
                .await
                .unwrap(),
            content
        );
    }
    // A chunk size of its own.
    let content = data(1000);
    let info = store
        .put(
            ObjectMeta::new("small-chunks").chunk_size(100),
            &content[..],
        )
        .await
        .unwrap();
    assert_eq!(info.chunks, 10);
    assert_eq!(
        info.options.as_ref().and_then(|o| o.max_chunk_size),
        Some(100)
    );
    assert_eq!(store.get_bytes("small-chunks").await.unwrap(), content);
    // Any UTF-8 name, descriptions, headers and metadata kept.
    let mut meta = ObjectMeta::new("dir/ünï cødé.*>.txt").description("odd name");
    meta.headers
        .insert("Content-Type".into(), vec!["text/plain".into()]);
    meta.metadata.insert("k".into(), "v".into());
    store.put_bytes(meta, "hello world").await.unwrap();
    let info = store.info("dir/ünï cødé.*>.txt").await.unwrap();
    assert_eq!(
        info.digest.as_deref(),
        Some("SHA-256=uU0nuZNNPgilLlLX2n2r-sSE7-N6U4DukIj3rOLvzek=")
    );
    assert_eq!(info.description.as_deref(), Some("odd name"));
    assert_eq!(info.headers.unwrap()["Content-Type"], ["text/plain"]);
    assert_eq!(info.metadata.unwrap()["k"], "v");
    // Bad input is an error, never a panic.
    assert!(store.put_bytes("", "x").await.is_err());
    assert!(store
        .get("missing")
        .await
        .unwrap_err()
        .is_object_not_found());
    assert!(store.info("").await.is_err());
}

#[tokio::test]
async fn a_tampered_chunk_is_a_digest_error() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    let store = memory_store(&js, "tamper").await;
    let content = data(3 * 1000);
    let info = store
        .put(ObjectMeta::new("t").chunk_size(1000), &content[..])
        .await
        .unwrap();
    // The last chunk replaced by other bytes of the same size.
    let stream = js.get_stream("OBJ_tamper").await.unwrap();
    let subject = format!("$O.tamper.C.{}", info.nuid);
    let last = stream
        .get_last_raw_message_by_subject(&subject)
        .await
        .unwrap();
    stream.delete_message(last.sequence).await.unwrap();
    let mut forged = last.payload.to_vec();
    forged[0] ^= 0xff;
    js.publish(subject.as_str(), forged)
        .await
        .unwrap()
        .await
        .unwrap();

    let err = within(10, "get_bytes", store.get_bytes("t"))
        .await
        .unwrap_err();
    assert!(err.is_digest_mismatch(), "{err:?}");
    let mut object = store.get("t").await.unwrap();
    let mut out = Vec::new();
    let err = within(10, "read", object.read_to_end(&mut out))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    assert!(rnats::Error::from_io(&err).is_some_and(rnats::Error::is_digest_mismatch));

    // An extra chunk: more bytes than the info says.
    js.publish(subject.as_str(), "extra")
        .await
        .unwrap()
        .await
        .unwrap();
    let err = store.get_bytes("t").await.unwrap_err();
    assert!(err.is_digest_mismatch(), "{err:?}");
    // Chunks gone altogether.
    stream.purge().filter(subject).await.unwrap();
    let err = within(10, "get_bytes", store.get_bytes("t"))
        .await
        .unwrap_err();
    assert!(err.is_digest_mismatch(), "{err:?}");
}

#[tokio::test]
async fn replace_and_delete_leave_no_orphaned_chunks() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    let store = memory_store(&js, "orphans").await;
    let first = store
        .put(ObjectMeta::new("o").chunk_size(100), &data(300)[..])
        .await
        .unwrap();
    assert_eq!(messages(&js, "orphans").await, 3 + 1);
    let second = store
        .put(ObjectMeta::new("o").chunk_size(100), &data(200)[..])
        .await
        .unwrap();
    assert_ne!(first.nuid, second.nuid);
    // The new chunks and one meta: the old chunks and meta are gone.
    assert_eq!(messages(&js, "orphans").await, 2 + 1);
    assert_eq!(store.get_bytes("o").await.unwrap(), data(200));

    store.delete("o").await.unwrap();
    assert_eq!(messages(&js, "orphans").await, 1);
    assert!(store.info("o").await.unwrap_err().is_object_not_found());
    assert!(store.get("o").await.unwrap_err().is_object_not_found());
    let deleted = store.info_with("o", true).await.unwrap();
    assert!(deleted.deleted && deleted.size == 0 && deleted.chunks == 0);
    assert!(deleted.digest.is_none());
    // Deleting again is fine; a name never stored is not found.
    store.delete("o").await.unwrap();
    assert!(store
        .delete("never")
        .await
        .unwrap_err()
        .is_object_not_found());
    // Put over a deleted object.
    store.put_bytes("o", "again").await.unwrap();
    assert_eq!(messages(&js, "orphans").await, 2);
    assert_eq!(store.get_bytes("o").await.unwrap(), "again");
    let listed: Vec<String> = store
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.name)
        .collect();
    assert_eq!(listed, ["o"]);
}

/// A reader that fails after `ok` bytes.
struct Failing {
    ok: usize,
}

impl AsyncRead for Failing {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.ok == 0 {
            return Poll::Ready(Err(std::io::Error::other("disk on fire")));
        }
        let n = self.ok.min(buf.remaining()).min(4096);
        buf.put_slice(&vec![7u8; n]);
        self.ok -= n;
        Poll::Ready(Ok(()))
    }
}

#[tokio::test]
async fn a_failed_put_purges_its_chunks_and_keeps_the_old_object() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    let store = memory_store(&js, "failing").await;
    store.put_bytes("f", "old").await.unwrap();
    let err = store
        .put(ObjectMeta::new("f").chunk_size(1000), Failing { ok: 5500 })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), rnats::ErrorKind::Io, "{err:?}");
    assert_eq!(messages(&js, "failing").await, 2);
    assert_eq!(store.get_bytes("f").await.unwrap(), "old");
}

#[tokio::test]
async fn links_to_objects_and_buckets() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    let store = memory_store(&js, "links").await;
    let other = memory_store(&js, "elsewhere").await;
    let target = store.put_bytes("target", "content").await.unwrap();
    let far = other.put_bytes("far", "far away").await.unwrap();

    let link = store.add_link("link", &target).await.unwrap();
    assert!(link.is_link() && link.digest.is_none() && link.chunks == 0);
    assert!(!link.nuid.is_empty());
    assert_eq!(store.get_bytes("link").await.unwrap(), "content");
    assert_eq!(store.get("link").await.unwrap().info().name, "target");
    // Across buckets.
    store.add_link("far-link", &far).await.unwrap();
    assert_eq!(store.get_bytes("far-link").await.unwrap(), "far away");
    // A link may be replaced by a link; an object may not.
    store.add_link("link", &far).await.unwrap();
    assert_eq!(store.get_bytes("link").await.unwrap(), "far away");
    let err = store.add_link("target", &far).await.unwrap_err();
    assert!(err.is_object_exists(), "{err:?}");
    // No links to links nor to deleted objects.
    let stored_link = store.info("link").await.unwrap();
    assert!(store.add_link("l2", &stored_link).await.is_err());
    other.delete("far").await.unwrap();
    let deleted = other.info_with("far", true).await.unwrap();
    assert!(store.add_link("l3", &deleted).await.is_err());
    // A link to a deleted object is not found.
    assert!(store
        .get("far-link")
        .await
        .unwrap_err()
        .is_object_not_found());

    // A bucket link: stored, listed, but not something to get.
    let bl = store.add_bucket_link("bucket", &other).await.unwrap();
    let l = bl.link().unwrap();
    assert_eq!((l.bucket.as_str(), l.name.as_deref()), ("elsewhere", None));
    let err = store.get("bucket").await.unwrap_err();
    assert_eq!(err.kind(), rnats::ErrorKind::InvalidArgument);
}

#[tokio::test]
async fn update_meta_renames_and_describes() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    let store = memory_store(&js, "meta").await;
    let a = store.put_bytes("a", "aaa").await.unwrap();
    store.put_bytes("b", "bbb").await.unwrap();
    // Description only.
    let info = store
        .update_meta("a", ObjectMeta::new("a").description("first"))
        .await
        .unwrap();
    assert_eq!(info.description.as_deref(), Some("first"));
    assert_eq!((info.nuid.as_str(), info.size), (a.nuid.as_str(), 3));
    // Onto an existing object: refused.
    let err = store.update_meta("a", "b").await.unwrap_err();
    assert!(err.is_object_exists(), "{err:?}");
    // Rename: the old name is gone, the content follows, no meta left behind.
    let before = messages(&js, "meta").await;
    store.update_meta("a", "c").await.unwrap();
    assert_eq!(messages(&js, "meta").await, before);
    assert!(store.info("a").await.unwrap_err().is_object_not_found());
    assert_eq!(store.get_bytes("c").await.unwrap(), "aaa");
    // Missing or deleted objects are not found.
    assert!(store
        .update_meta("zz", "y")
        .await
        .unwrap_err()
        .is_object_not_found());
    store.delete("b").await.unwrap();
    assert!(store
        .update_meta("b", "y")
        .await
        .unwrap_err()
        .is_object_not_found());
    // A rename onto a deleted name is fine.
    store.update_meta("c", "b").await.unwrap();
    assert_eq!(store.get_bytes("b").await.unwrap(), "aaa");
}

#[tokio::test]
async fn watch_with_every_option() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    let store = memory_store(&js, "watched").await;
    // An empty bucket: the marker at once.
    let mut w = store.watch().await.unwrap();
    assert_eq!(next_event(&mut w).await, WatchEvent::InitialDataDone);
    store.put_bytes("x", "1").await.unwrap();
    match next_event(&mut w).await {
        WatchEvent::Info(i) => assert_eq!(i.name, "x"),
        other => panic!("{other:?}"),
    }
    store.put_bytes("x", "2").await.unwrap();
    store.put_bytes("y", "3").await.unwrap();
    store.delete("y").await.unwrap();

    let names = |events: Vec<WatchEvent>| -> Vec<(String, bool)> {
        events
            .into_iter()
            .filter_map(|e| match e {
                WatchEvent::Info(i) => Some((i.name, i.deleted)),
                _ => None,
            })
            .collect()
    };
    async fn initial(w: &mut Watch) -> Vec<WatchEvent> {
        let mut out = Vec::new();
        loop {
            match next_event(w).await {
                WatchEvent::InitialDataDone => return out,
                e => out.push(e),
            }
        }
    }
    let mut latest = store.watch().await.unwrap();
    assert_eq!(
        names(initial(&mut latest).await),
        [("x".into(), false), ("y".into(), true)]
    );
    let mut no_deletes = store
        .watch_with(WatchOptions::new().ignore_deletes(true))
        .await
        .unwrap();
    assert_eq!(names(initial(&mut no_deletes).await), [("x".into(), false)]);
    // History: the rollup keeps one meta per name, so history is the current metas.
    let mut history = store
        .watch_with(WatchOptions::new().include_history(true))
        .await
        .unwrap();
    assert_eq!(names(initial(&mut history).await).len(), 2);
    let mut updates = store
        .watch_with(WatchOptions::new().updates_only(true))
        .await
        .unwrap();
    assert_eq!(next_event(&mut updates).await, WatchEvent::InitialDataDone);
    let z = store.put_bytes("z", "4").await.unwrap();
    match next_event(&mut updates).await {
        WatchEvent::Info(i) => assert_eq!((i.name, i.digest), ("z".into(), z.digest)),
        other => panic!("{other:?}"),
    }
    let all = store.list_with(true).await.unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(store.list().await.unwrap().len(), 2);
}

// ---------------------------------------------------------------------------------------
// The cross-client compatibility suite's object-store steps (spec §3.2): each step's command
// payload, carried out as the compatibility client does, and its reply checked.

/// Serves `body` once over HTTP on 127.0.0.1; returns the URL.
async fn serve_once(body: Vec<u8>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/object", listener.local_addr().unwrap());
    tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        if let Ok((mut s, _)) = listener.accept().await {
            let mut req = [0u8; 1024];
            let _ = s.read(&mut req).await;
            let head = format!(
                "HTTP/1.0 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(head.as_bytes()).await;
            let _ = s.write_all(&body).await;
        }
    });
    url
}

/// A plain HTTP/1.0 GET of `url` (http://127.0.0.1:port/path).
async fn http_get(url: &str) -> Vec<u8> {
    use tokio::io::AsyncWriteExt;
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut s = tokio::net::TcpStream::connect(host).await.unwrap();
    s.write_all(format!("GET /{path} HTTP/1.0\r\nHost: {host}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut all = Vec::new();
    within(10, "the HTTP body", s.read_to_end(&mut all))
        .await
        .unwrap();
    let at = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    all.split_off(at + 4)
}

fn meta_of(config: &serde_json::Value) -> ObjectMeta {
    let mut meta = ObjectMeta::new(config["name"].as_str().unwrap_or_default());
    meta.description = config["description"].as_str().map(str::to_owned);
    meta
}

/// What the compatibility client does for one command; returns its reply payload.
async fn compat_step(js: &Context, cmd: serde_json::Value) -> Vec<u8> {
    let bucket = cmd["bucket"].as_str().unwrap_or_default();
    let object = cmd["object"].as_str().unwrap_or_default();
    let config = &cmd["config"];
    match cmd["test"].as_str().unwrap() {
        "default-bucket" => {
            let name = config["bucket"].as_str().unwrap();
            js.create_object_store(object_store::Config::new(name))
                .await
                .unwrap();
            Vec::new()
        }
        "custom-bucket" => {
            let mut c = object_store::Config::new(config["bucket"].as_str().unwrap());
            c.description = config["description"].as_str().map(str::to_owned);
            c.max_age = Duration::from_nanos(config["max_age"].as_u64().unwrap_or(0));
            c.max_bytes = config["max_bytes"].as_i64().unwrap_or(-1);
            c.storage = match config["storage"].as_str() {
                Some("memory") => StorageType::Memory,
                _ => StorageType::File,
            };
            c.replicas = config["num_replicas"].as_u64().unwrap_or(1) as usize;
            c.compression = config["compression"].as_bool().unwrap_or(false);
            js.create_object_store(c).await.unwrap();
            Vec::new()
        }
        "put-object" => {
            let body = http_get(cmd["url"].as_str().unwrap()).await;
            let store = js.object_store(bucket).await.unwrap();
            store.put(meta_of(config), &body[..]).await.unwrap();
            Vec::new()
        }
        "get-object" | "get-link" => {
            let store = js.object_store(bucket).await.unwrap();
            let mut object = store.get(object).await.unwrap();
            let mut bytes = Vec::new();
            object.read_to_end(&mut bytes).await.unwrap();
            ring::digest::digest(&ring::digest::SHA256, &bytes)
                .as_ref()
                .to_vec()
        }
        "update-metadata" => {
            let store = js.object_store(bucket).await.unwrap();
            store.update_meta(object, meta_of(config)).await.unwrap();
            Vec::new()
        }
        "watch" => {
            let store = js.object_store(bucket).await.unwrap();
            let mut w = store
                .watch_with(WatchOptions::new().include_history(true))
                .await
                .unwrap();
            let mut digests = Vec::new();
            while digests.len() < 2 {
                if let WatchEvent::Info(i) = next_event(&mut w).await {
                    digests.push(i.digest.unwrap_or_default());
                }
                if digests.len() == 1 {
                    // The runner's second put, made while the client watches.
                    let second = cmd["second"].as_str().unwrap_or("second");
                    store.put_bytes(object, second.to_owned()).await.unwrap();
                }
            }
            digests.join(",").into_bytes()
        }
        "watch-updates" => {
            let store = js.object_store(bucket).await.unwrap();
            let mut w = store
                .watch_with(WatchOptions::new().updates_only(true))
                .await
                .unwrap();
            store.put_bytes(object, "updated").await.unwrap();
            loop {
                if let WatchEvent::Info(i) = next_event(&mut w).await {
                    return i.digest.unwrap_or_default().into_bytes();
                }
            }
        }
        "put-link" => {
            let store = js.object_store(bucket).await.unwrap();
            let target = store.info(object).await.unwrap();
            let name = cmd["link_name"].as_str().unwrap();
            store.add_link(name, &target).await.unwrap();
            Vec::new()
        }
        other => panic!("unknown step {other}"),
    }
}

fn cmd(test: &str, extra: serde_json::Value) -> serde_json::Value {
    let mut c = serde_json::json!({"suite": "object-store", "test": test, "command": "command"});
    if let (Some(c), Some(e)) = (c.as_object_mut(), extra.as_object()) {
        c.extend(e.clone());
    }
    c
}

#[tokio::test]
async fn compat_default_bucket() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    let reply = compat_step(
        &js,
        cmd(
            "default-bucket",
            serde_json::json!({"config": {"bucket": "test"}}),
        ),
    )
    .await;
    assert!(reply.is_empty());
    let status = js
        .object_store("test")
        .await
        .unwrap()
        .status()
        .await
        .unwrap();
    assert_eq!(status.storage(), StorageType::File);
    assert!(!status.sealed() && !status.is_compressed());
}

#[tokio::test]
async fn compat_custom_bucket() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    let config = serde_json::json!({"bucket": "custom-bucket", "description": "custom object store",
        "max_age": 10_000_000_000u64, "max_bytes": 100_000_000, "storage": "memory",
        "num_replicas": 1, "compression": true});
    let reply = compat_step(
        &js,
        cmd("custom-bucket", serde_json::json!({"config": config})),
    )
    .await;
    assert!(reply.is_empty());
    let status = js
        .object_store("custom-bucket")
        .await
        .unwrap()
        .status()
        .await
        .unwrap();
    assert_eq!(status.description(), Some("custom object store"));
    assert_eq!(status.ttl(), Duration::from_secs(10));
    assert_eq!(status.stream_info().config.max_bytes, 100_000_000);
    assert_eq!(status.storage(), StorageType::Memory);
    assert!(status.is_compressed());
}

#[tokio::test]
async fn compat_put_object() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    let store = memory_store(&js, "test").await;
    let body = data(300_000);
    let url = serve_once(body.clone()).await;
    let reply = compat_step(
        &js,
        cmd(
            "put-object",
            serde_json::json!({"bucket": "test", "url": url,
                "config": {"name": "somefile", "description": "description"}}),
        ),
    )
    .await;
    assert!(reply.is_empty());
    let info = store.info("somefile").await.unwrap();
    assert_eq!(info.description.as_deref(), Some("description"));
    assert_eq!(info.digest.as_deref(), Some(digest(&body).as_str()));
}

#[tokio::test]
async fn compat_get_object_replies_the_raw_digest() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    let store = memory_store(&js, "test").await;
    let body = data(3 * DEFAULT_CHUNK_SIZE + 5);
    store.put_bytes("file", body.clone()).await.unwrap();
    let reply = compat_step(
        &js,
        cmd(
            "get-object",
            serde_json::json!({"bucket": "test", "object": "file"}),
        ),
    )
    .await;
    assert_eq!(reply.len(), 32);
    assert_eq!(
        reply,
        ring::digest::digest(&ring::digest::SHA256, &body).as_ref()
    );
}

#[tokio::test]
async fn compat_update_metadata() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    let store = memory_store(&js, "test").await;
    store.put_bytes("old", "x").await.unwrap();
    let reply = compat_step(
        &js,
        cmd(
            "update-metadata",
            serde_json::json!({"bucket": "test", "object": "old",
                "config": {"name": "new", "description": "new description"}}),
        ),
    )
    .await;
    assert!(reply.is_empty());
    assert!(store.info("old").await.unwrap_err().is_object_not_found());
    let info = store.info("new").await.unwrap();
    assert_eq!(info.description.as_deref(), Some("new description"));
}

#[tokio::test]
async fn compat_watch() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    let store = memory_store(&js, "test").await;
    let first = store.put_bytes("foo", "first").await.unwrap();
    let reply = compat_step(
        &js,
        cmd(
            "watch",
            serde_json::json!({"bucket": "test", "object": "foo"}),
        ),
    )
    .await;
    let second = store.info("foo").await.unwrap();
    let want = format!("{},{}", first.digest.unwrap(), second.digest.unwrap());
    assert_eq!(String::from_utf8(reply).unwrap(), want);
}

#[tokio::test]
async fn compat_watch_updates() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    let store = memory_store(&js, "test").await;
    store.put_bytes("foo", "initial").await.unwrap();
    let reply = compat_step(
        &js,
        cmd(
            "watch-updates",
            serde_json::json!({"bucket": "test", "object": "foo"}),
        ),
    )
    .await;
    assert_eq!(String::from_utf8(reply).unwrap(), digest(b"updated"));
}

#[tokio::test]
async fn compat_get_link() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    let store = memory_store(&js, "test").await;
    let target = store.put_bytes("target", data(1000)).await.unwrap();
    store.add_link("link", &target).await.unwrap();
    let reply = compat_step(
        &js,
        cmd(
            "get-link",
            serde_json::json!({"bucket": "test", "object": "link"}),
        ),
    )
    .await;
    assert_eq!(
        reply,
        ring::digest::digest(&ring::digest::SHA256, &data(1000)).as_ref()
    );
}

#[tokio::test]
async fn compat_put_link() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    let store = memory_store(&js, "test").await;
    store.put_bytes("target", "x").await.unwrap();
    let reply = compat_step(
        &js,
        cmd(
            "put-link",
            serde_json::json!({"bucket": "test", "object": "target", "link_name": "link-to-target"}),
        ),
    )
    .await;
    assert!(reply.is_empty());
    let link = store.info("link-to-target").await.unwrap();
    let l = link.link().unwrap();
    assert_eq!(
        (l.bucket.as_str(), l.name.as_deref()),
        ("test", Some("target"))
    );
}

// ---------------------------------------------------------------------------------------

/// Runs tests/data/object_interop.py with nats-py; returns its JSON output.
async fn nats_py(mode: &str, url: &str, bucket: &str) -> serde_json::Value {
    crate::nats_py_script("object_interop.py", &[mode, url, bucket]).await
}

/// The objects the script puts (its OBJECTS).
fn interop_objects() -> Vec<(&'static str, usize)> {
    vec![
        ("empty", 0),
        ("one", 1),
        ("chunk", DEFAULT_CHUNK_SIZE),
        ("chunk+1", DEFAULT_CHUNK_SIZE + 1),
        ("multi", 300_000),
        ("ünï/cødé name.txt", 11),
    ]
}

#[tokio::test]
async fn interop_with_nats_py_both_ways() {
    let _shared = crate::shared().await;
    let (server, js) = js_server().await;
    let py_store = memory_store(&js, "py_wrote").await;
    let rs_store = memory_store(&js, "rs_wrote").await;

    // nats-py puts, rnats reads (checking nats-py's digests).
    let py_view = nats_py("write", &server.url(), "py_wrote").await;
    let mut rs_view_of_py = BTreeMap::new();
    for (name, size) in interop_objects() {
        let bytes = within(10, "get", py_store.get_bytes(name)).await.unwrap();
        assert_eq!(bytes, data(size), "{name}");
        let info = py_store.info(name).await.unwrap();
        assert_eq!(
            info.digest.as_deref(),
            Some(digest(&bytes).as_str()),
            "{name}"
        );
        assert_eq!(
            py_view[name]["digest"],
            serde_json::json!(info.digest),
            "{name}"
        );
        rs_view_of_py.insert(name, info);
    }

    // rnats puts the same objects, nats-py reads them (nats-py checks the digests too).
    let mut rs_infos: BTreeMap<&str, ObjectInfo> = BTreeMap::new();
    for (name, size) in interop_objects() {
        rs_infos.insert(name, rs_store.put_bytes(name, data(size)).await.unwrap());
    }
    let py_view_of_rs = nats_py("read", &server.url(), "rs_wrote").await;
    for (name, size) in interop_objects() {
        let seen = &py_view_of_rs[name];
        assert_eq!(seen["size"], size, "{name}");
        assert_eq!(seen["digest"], seen["computed"], "{name}");
        assert_eq!(
            seen["digest"],
            serde_json::json!(rs_infos[name].digest),
            "{name}"
        );
        // Same content, same digest, whichever client wrote it.
        assert_eq!(rs_infos[name].digest, rs_view_of_py[name].digest, "{name}");
    }
}

// ---------------------------------------------------------------------------------------
// 256 MiB streamed in and out, the peak memory measured in a child process of its own (this
// test binary, running only `big_object_child`), so other tests' allocations do not count.

const BIG: u64 = 256 * 1024 * 1024;
const PEAK_LIMIT_KIB: u64 = 32 * 1024;

/// Pseudo-random bytes generated on the fly, hashed as they are handed out.
struct Generator {
    left: u64,
    state: u64,
    hash: ring::digest::Context,
}

impl AsyncRead for Generator {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let n = (buf.remaining() as u64).min(self.left).min(64 * 1024) as usize & !7;
        let n = if n == 0 {
            self.left.min(buf.remaining() as u64) as usize
        } else {
            n
        };
        let mut tmp = [0u8; 64 * 1024];
        for chunk in tmp[..n].chunks_mut(8) {
            self.state ^= self.state << 13;
            self.state ^= self.state >> 7;
            self.state ^= self.state << 17;
            let bytes = self.state.to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
        self.hash.update(&tmp[..n]);
        buf.put_slice(&tmp[..n]);
        self.left -= n as u64;
        Poll::Ready(Ok(()))
    }
}

fn vm_hwm_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test]
#[ignore = "run by big_object_streams_in_bounded_memory in a process of its own"]
async fn big_object_child() {
    let Ok(url) = std::env::var("RNATS_OS_CHILD_URL") else {
        return;
    };
    let js = rnats::jetstream::new(rnats::connect(url).await.unwrap());
    let store = js.object_store("big").await.unwrap();
    let start = vm_hwm_kib();
    let mut generator = Generator {
        left: BIG,
        state: 0x9E37_79B9_7F4A_7C15,
        hash: ring::digest::Context::new(&ring::digest::SHA256),
    };
    let t = std::time::Instant::now();
    let info = within(240, "the 256 MiB put", store.put("big", &mut generator))
        .await
        .unwrap();
    let put_secs = t.elapsed().as_secs_f64();
    assert_eq!(info.size, BIG);
    let want = format!(
        "SHA-256={}",
        base64::engine::general_purpose::URL_SAFE.encode(generator.hash.finish().as_ref())
    );
    assert_eq!(info.digest.as_deref(), Some(want.as_str()));
    let t = std::time::Instant::now();
    let mut object = store.get("big").await.unwrap();
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    let mut hash = ring::digest::Context::new(&ring::digest::SHA256);
    loop {
        let n = within(60, "a read", object.read(&mut buf)).await.unwrap();
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
        total += n as u64;
    }
    let get_secs = t.elapsed().as_secs_f64();
    assert_eq!(total, BIG);
    let got = format!(
        "SHA-256={}",
        base64::engine::general_purpose::URL_SAFE.encode(hash.finish().as_ref())
    );
    assert_eq!(got, want);
    println!(
        "RESULT start_kib={start} peak_kib={} put_s={put_secs:.2} get_s={get_secs:.2}",
        vm_hwm_kib()
    );
}

#[tokio::test]
async fn big_object_streams_in_bounded_memory() {
    let _alone = crate::alone().await;
    let (server, js) = js_server().await;
    memory_store(&js, "big").await;
    let out = within(
        280,
        "the child process",
        tokio::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "object_store::big_object_child",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("RNATS_OS_CHILD_URL", server.url())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // libtest prints the test's name on the same line, before the child's output.
    let line = stdout
        .lines()
        .find_map(|l| l.find("RESULT ").map(|at| &l[at..]))
        .unwrap_or_else(|| panic!("no RESULT line in {stdout}"));
    eprintln!("{line}");
    let peak: u64 = line
        .split_whitespace()
        .find_map(|f| f.strip_prefix("peak_kib="))
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert!(
        peak < PEAK_LIMIT_KIB,
        "peak RSS {peak} KiB over {PEAK_LIMIT_KIB} KiB: {line}"
    );
    // Nothing but the object's chunks and its meta in the stream.
    assert_eq!(
        messages(&js, "big").await,
        BIG / DEFAULT_CHUNK_SIZE as u64 + 1
    );
}
