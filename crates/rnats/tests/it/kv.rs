//! Key-Value stores (rnats::kv) against real nats-servers: buckets, entries, watchers, keys,
//! TTLs and limit markers, CAS races, a 3-node cluster losing its leader, interop with nats-py.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt};
use rnats::jetstream;
use rnats::jetstream::stream::{Source, StorageType};
use rnats::kv::{self, Entry, Operation, Store, WatchEvent, WatchOptions};

use crate::jetstream::{js_server, within};

fn config(bucket: &str, storage: StorageType) -> kv::Config {
    let mut c = kv::Config::new(bucket);
    c.storage = storage;
    c
}

/// The next entry of a watcher, failing the test after 10 s.
async fn next_entry(watch: &mut kv::Watch) -> Entry {
    within(10, "a watched entry", watch.next())
        .await
        .expect("the watcher ended")
        .unwrap()
}

/// The next event of a watcher, failing the test after 10 s.
async fn next_event(events: &mut kv::WatchEvents) -> WatchEvent {
    within(10, "a watch event", events.next())
        .await
        .expect("the watcher ended")
        .unwrap()
}

/// Every entry before the end-of-initial-data signal.
async fn initial(events: &mut kv::WatchEvents) -> Vec<Entry> {
    let mut out = Vec::new();
    loop {
        match next_event(events).await {
            WatchEvent::Entry(e) => out.push(e),
            WatchEvent::InitialDataDone => return out,
            other => panic!("unexpected {other:?}"),
        }
    }
}

async fn keys_of(store: &Store) -> BTreeSet<String> {
    within(10, "the keys", store.keys().await.unwrap().try_collect())
        .await
        .unwrap()
}

#[tokio::test]
async fn buckets_are_created_bound_updated_listed_and_deleted() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    for storage in [StorageType::File, StorageType::Memory] {
        let name = format!("b_{storage:?}");
        let mut c = config(&name, storage);
        c.history = 5;
        c.max_age = Duration::from_secs(3600);
        c.max_value_size = 1024;
        c.max_bytes = 1 << 20;
        c.compression = true;
        c.description = Some("test bucket".into());
        c.metadata.insert("owner".into(), "tests".into());
        let store = js.create_key_value(c.clone()).await.unwrap();
        assert_eq!(store.bucket(), name);
        // Same config again: fine. Another config: refused.
        js.create_key_value(c.clone()).await.unwrap();
        let mut other = c.clone();
        other.history = 7;
        let err = js.create_key_value(other.clone()).await.unwrap_err();
        assert!(err.is_stream_already_exists(), "{err:?}");

        let status = store.status().await.unwrap();
        assert_eq!(status.bucket(), name);
        assert_eq!(status.history(), 5);
        assert_eq!(status.max_age(), Duration::from_secs(3600));
        assert!(status.is_compressed());
        assert_eq!(status.backing_store(), "JetStream");
        assert_eq!(status.values(), 0);
        assert_eq!(
            status.metadata().get("owner").map(String::as_str),
            Some("tests")
        );
        let stream = status.stream_info();
        assert_eq!(stream.config.name, format!("KV_{name}"));
        assert_eq!(stream.config.subjects, [format!("$KV.{name}.>")]);
        assert!(
            stream.config.allow_direct && stream.config.allow_rollup && stream.config.deny_delete
        );
        assert_eq!(stream.config.storage, storage);
        assert_eq!(stream.config.max_message_size, 1024);
        assert_eq!(status.config().history, 5);
        let info = store.info().await.unwrap();
        assert_eq!(
            (info.history, info.max_value_size, info.compression),
            (5, 1024, true)
        );
        assert_eq!(info.description.as_deref(), Some("test bucket"));

        store.put("k", "v").await.unwrap();
        // A value over max_value_size is the server's error, and the connection stays up.
        let err = store.put("big", vec![0u8; 2000]).await.unwrap_err();
        assert_eq!(err.kind(), rnats::ErrorKind::JetStream, "{err:?}");
        assert!(store.get("big").await.unwrap_err().is_key_not_found());
        let status = store.status().await.unwrap();
        assert_eq!(status.values(), 1);
        assert!(status.bytes() > 0);

        // Update; create_or_update both ways; bind.
        let updated = js.update_key_value(other.clone()).await.unwrap();
        assert_eq!(updated.status().await.unwrap().history(), 7);
        other.history = 3;
        js.create_or_update_key_value(other).await.unwrap();
        let bound = js.key_value(&name).await.unwrap();
        assert_eq!(bound.status().await.unwrap().history(), 3);
        assert_eq!(bound.get("k").await.unwrap(), "v");
        let fresh = js
            .create_or_update_key_value(config(&format!("{name}_new"), storage))
            .await
            .unwrap();
        assert_eq!(fresh.status().await.unwrap().history(), 1);
    }
    // A plain stream is not listed as a bucket.
    js.create_stream(crate::jetstream::memory_stream("PLAIN", &["plain"]))
        .await
        .unwrap();
    let names: BTreeSet<String> = js.key_value_names().try_collect().await.unwrap();
    assert_eq!(
        names,
        BTreeSet::from(["b_File", "b_Memory", "b_File_new", "b_Memory_new"].map(String::from))
    );
    let stores: Vec<kv::Status> = js.key_value_stores().try_collect().await.unwrap();
    assert_eq!(stores.len(), 4);
    assert!(stores.iter().all(|s| s.backing_store() == "JetStream"));

    js.delete_key_value("b_File").await.unwrap();
    let err = js.key_value("b_File").await.unwrap_err();
    assert!(err.is_bucket_not_found(), "{err:?}");
    let err = js.delete_key_value("b_File").await.unwrap_err();
    assert!(err.is_bucket_not_found(), "{err:?}");
    let err = js
        .update_key_value(config("nope", StorageType::Memory))
        .await
        .unwrap_err();
    assert!(err.is_bucket_not_found(), "{err:?}");

    // Bad names and configs: typed errors naming the rule, the connection stays up.
    let err = js
        .create_key_value(config("a.b", StorageType::Memory))
        .await
        .unwrap_err();
    assert!(err.is_invalid_bucket_name(), "{err:?}");
    assert_eq!(
        err.kv_name_error().map(|n| n.rule),
        Some(kv::Rule::InvalidCharacter('.'))
    );
    assert!(err.to_string().contains("'.'"), "{err}");
    let err = js.key_value("").await.unwrap_err();
    assert!(err.is_invalid_bucket_name(), "{err:?}");
    let mut c = config("toolong", StorageType::Memory);
    c.history = 65;
    let err = js.create_key_value(c).await.unwrap_err();
    assert!(
        err.is_invalid_argument() && err.to_string().contains("history"),
        "{err}"
    );
    // A stream that is not a bucket cannot be bound as one.
    let mut s = crate::jetstream::memory_stream("KV_fake", &["fake.>"]);
    s.max_messages_per_subject = -1;
    js.create_stream(s).await.unwrap();
    assert!(js
        .key_value("fake")
        .await
        .unwrap_err()
        .is_invalid_argument());
    js.account_info().await.unwrap();
}

#[tokio::test]
async fn entries_on_file_and_memory() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    for storage in [StorageType::File, StorageType::Memory] {
        let mut c = config(&format!("e_{storage:?}"), storage);
        c.history = 10;
        let store = js.create_key_value(c).await.unwrap();

        let r1 = store.put("user.sue", "blue").await.unwrap();
        let r2 = store.put("user.sue", "green").await.unwrap();
        assert_eq!((r1, r2), (1, 2));
        assert_eq!(store.get("user.sue").await.unwrap(), "green");
        let e = store.entry("user.sue").await.unwrap();
        assert_eq!(
            (e.key.as_str(), e.revision, e.delta, e.operation),
            ("user.sue", 2, 0, Operation::Put)
        );
        assert_eq!(e.bucket, format!("e_{storage:?}"));
        assert!(
            (time::OffsetDateTime::now_utc() - e.created)
                .whole_seconds()
                .abs()
                < 60
        );
        let old = store.get_revision("user.sue", 1).await.unwrap();
        assert_eq!((old.value.as_ref(), old.revision), (&b"blue"[..], 1));

        // Not found: never written, a revision of another key, a revision that is gone.
        let err = store.get("user.bob").await.unwrap_err();
        assert!(err.is_key_not_found() && !err.is_key_deleted(), "{err:?}");
        assert!(store
            .entry("user.bob")
            .await
            .unwrap_err()
            .is_key_not_found());
        let rb = store.put("user.bob", "x").await.unwrap();
        assert!(store
            .get_revision("user.sue", rb)
            .await
            .unwrap_err()
            .is_key_not_found());
        assert!(store
            .get_revision("user.sue", 999)
            .await
            .unwrap_err()
            .is_key_not_found());

        // Create: only when there is no value.
        let err = store.create("user.sue", "red").await.unwrap_err();
        assert!(
            err.is_key_exists() && err.is_wrong_last_sequence(),
            "{err:?}"
        );
        let rc = store.create("user.ann", "1").await.unwrap();
        // Update: compare-and-set on the revision.
        let ru = store.update("user.ann", "2", rc).await.unwrap();
        let err = store.update("user.ann", "3", rc).await.unwrap_err();
        assert!(err.is_key_exists(), "{err:?}");
        assert_eq!(store.get("user.ann").await.unwrap(), "2");
        // update with revision 0 means "no value yet".
        assert!(store
            .update("user.ann", "x", 0)
            .await
            .unwrap_err()
            .is_key_exists());

        // Delete, with and without the revision check.
        let err = store
            .delete_expect_revision("user.ann", rc)
            .await
            .unwrap_err();
        assert!(err.is_key_exists(), "{err:?}");
        store.delete_expect_revision("user.ann", ru).await.unwrap();
        let err = store.get("user.ann").await.unwrap_err();
        assert!(err.is_key_not_found() && err.is_key_deleted(), "{err:?}");
        let del = store.entry("user.ann").await.unwrap();
        assert_eq!(del.operation, Operation::Delete);
        assert!(del.value.is_empty());
        // Create succeeds over a deleted key.
        let rc2 = store.create("user.ann", "again").await.unwrap();
        assert_eq!(store.get("user.ann").await.unwrap(), "again");

        // History keeps everything (deletes included); purge rolls it up.
        let h = store.history("user.ann").await.unwrap();
        let ops: Vec<_> = h.iter().map(|e| (e.revision, e.operation)).collect();
        assert_eq!(
            ops,
            [
                (rc, Operation::Put),
                (ru, Operation::Put),
                (ru + 1, Operation::Delete),
                (rc2, Operation::Put)
            ]
        );
        assert_eq!(h.last().unwrap().delta, 0);
        assert_eq!(h[0].delta, 3);
        store.purge("user.ann").await.unwrap();
        let h = store.history("user.ann").await.unwrap();
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].operation, Operation::Purge);
        assert!(store.get("user.ann").await.unwrap_err().is_key_deleted());
        // Create succeeds over a purged key too.
        store.create("user.ann", "third").await.unwrap();
        assert!(store
            .history("user.nobody")
            .await
            .unwrap_err()
            .is_key_not_found());

        // Keys: deleted ones left out; filtered by the server.
        store.put("order.1", "o").await.unwrap();
        store.put("order.2", "o").await.unwrap();
        store.delete("order.2").await.unwrap();
        assert_eq!(
            keys_of(&store).await,
            BTreeSet::from(["user.sue", "user.bob", "user.ann", "order.1"].map(String::from))
        );
        let users: BTreeSet<String> = store
            .keys_with_filters(["user.*"])
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        assert_eq!(users.len(), 3);
        let some: Vec<String> = store
            .keys_with_filters(["order.>", "user.bob"])
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        assert_eq!(some.len(), 2, "{some:?}");
        let none: Vec<String> = store
            .keys_with_filters(["nothing.*"])
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        assert!(none.is_empty());

        // Invalid keys: typed errors naming the rule; the connection stays up.
        for (key, rule) in [
            ("", kv::Rule::Empty),
            (".a", kv::Rule::LeadingDot),
            ("a.", kv::Rule::TrailingDot),
            ("a..b", kv::Rule::EmptyToken),
            ("a b", kv::Rule::InvalidCharacter(' ')),
            ("a*", kv::Rule::InvalidCharacter('*')),
            ("a>", kv::Rule::InvalidCharacter('>')),
        ] {
            let err = store.put(key, "x").await.unwrap_err();
            assert!(err.is_invalid_key(), "{key:?}: {err:?}");
            assert_eq!(err.kv_name_error().map(|n| n.rule), Some(rule), "{key:?}");
            assert!(store.get(key).await.unwrap_err().is_invalid_key());
        }
        assert!(store.watch("a.>b").await.unwrap_err().is_invalid_key());
        assert!(store
            .keys_with_filters(["*x"])
            .await
            .unwrap_err()
            .is_invalid_key());
        // Validation off: the server decides ("=" and "/" are fine anyway; "a..b" is
        // not a valid subject, so the publish finds no stream).
        let loose = store.clone().validate_keys(false);
        loose.put("odd:key", "1").await.unwrap();
        assert_eq!(loose.get("odd:key").await.unwrap(), "1");
        assert!(store.get("odd:key").await.unwrap_err().is_invalid_key());
        assert!(loose.put("a b", "x").await.unwrap_err().is_invalid_key());
        assert!(loose.put("a*", "x").await.unwrap_err().is_invalid_key());
        assert_eq!(store.get("user.sue").await.unwrap(), "green");
    }
}

#[tokio::test]
async fn watch_options_and_the_end_of_initial_data() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    for storage in [StorageType::File, StorageType::Memory] {
        watch_options_on(&js, storage).await;
    }
}

async fn watch_options_on(js: &jetstream::Context, storage: StorageType) {
    let mut c = config(&format!("w_{storage:?}"), storage);
    c.history = 10;
    let store = js.create_key_value(c).await.unwrap();

    // KV-17: the signal comes on an empty bucket too, and at once for updates only.
    let mut events = store.watch_all().await.unwrap().events();
    assert_eq!(next_event(&mut events).await, WatchEvent::InitialDataDone);
    let mut updates = store
        .watch_with(with_options(|o| o.updates_only = true))
        .await
        .unwrap()
        .events();
    assert_eq!(next_event(&mut updates).await, WatchEvent::InitialDataDone);

    store.put("a", "1").await.unwrap(); // 1
    store.put("b", "1").await.unwrap(); // 2
    store.put("a", "2").await.unwrap(); // 3
    store.delete("b").await.unwrap(); // 4
    store.put("c.x", "1").await.unwrap(); // 5
    store.purge("c.x").await.unwrap(); // 6
    store.put("d", "1").await.unwrap(); // 7

    // The empty-bucket watchers see the changes as they come (the put at 5 may be rolled up
    // by the purge before it is delivered).
    for w in [&mut events, &mut updates] {
        let mut revisions = Vec::new();
        while revisions.last() != Some(&7) {
            let WatchEvent::Entry(e) = next_event(w).await else {
                panic!("a second signal")
            };
            revisions.push(e.revision);
        }
        assert!(
            revisions == [1, 2, 3, 4, 5, 6, 7] || revisions == [1, 2, 3, 4, 6, 7],
            "{revisions:?}"
        );
    }

    let revs = |v: &[Entry]| -> Vec<(String, u64, Operation)> {
        v.iter()
            .map(|e| (e.key.clone(), e.revision, e.operation))
            .collect()
    };
    // Default: each key's last entry, deletes included.
    let mut w = store.watch_all().await.unwrap().events();
    assert_eq!(
        revs(&initial(&mut w).await),
        [
            ("a".into(), 3, Operation::Put),
            ("b".into(), 4, Operation::Delete),
            ("c.x".into(), 6, Operation::Purge),
            ("d".into(), 7, Operation::Put)
        ]
    );
    // Include history.
    let mut w = store
        .watch_with(with_options(|o| o.include_history = true))
        .await
        .unwrap()
        .events();
    let all = initial(&mut w).await;
    // The purge's rollup removed c.x's put.
    assert_eq!(
        all.iter().map(|e| e.revision).collect::<Vec<_>>(),
        [1, 2, 3, 4, 6, 7]
    );
    assert_eq!(all[0].delta, 5);
    assert_eq!(all.last().unwrap().delta, 0);
    // Ignore deletes.
    let mut w = store
        .watch_with(with_options(|o| o.ignore_deletes = true))
        .await
        .unwrap()
        .events();
    assert_eq!(
        revs(&initial(&mut w).await),
        [
            ("a".into(), 3, Operation::Put),
            ("d".into(), 7, Operation::Put)
        ]
    );
    // Ignore deletes where the last entry is a delete: the signal still comes.
    let mut w = store
        .watch_with(with_options(|o| {
            o.ignore_deletes = true;
            o.keys = vec!["b".into()];
        }))
        .await
        .unwrap()
        .events();
    assert!(initial(&mut w).await.is_empty());
    // Metadata only: no values.
    let mut w = store
        .watch_with(with_options(|o| o.meta_only = true))
        .await
        .unwrap()
        .events();
    let meta = initial(&mut w).await;
    assert_eq!(meta.len(), 4);
    assert!(meta.iter().all(|e| e.value.is_empty()));
    // Resume from a revision.
    let mut w = store
        .watch_with(with_options(|o| o.resume_from_revision = Some(4)))
        .await
        .unwrap()
        .events();
    assert_eq!(
        initial(&mut w)
            .await
            .iter()
            .map(|e| e.revision)
            .collect::<Vec<_>>(),
        [4, 6, 7]
    );
    // An empty key is the whole bucket.
    let mut w = store.watch("").await.unwrap().events();
    assert_eq!(initial(&mut w).await.len(), 4);
    // One key, a filter, several filters.
    let mut w = store.watch("a").await.unwrap();
    let e = next_entry(&mut w).await;
    assert_eq!((e.key.as_str(), e.value.as_ref()), ("a", &b"2"[..]));
    assert!(w.initial_data_done());
    let mut w = store.watch("c.*").await.unwrap().events();
    assert_eq!(
        revs(&initial(&mut w).await),
        [("c.x".into(), 6, Operation::Purge)]
    );
    let mut w = store.watch_many(["a", "d"]).await.unwrap().events();
    assert_eq!(
        initial(&mut w)
            .await
            .iter()
            .map(|e| e.revision)
            .collect::<Vec<_>>(),
        [3, 7]
    );
    assert!(store
        .watch_many(Vec::<String>::new())
        .await
        .unwrap_err()
        .is_invalid_argument());
    // A watcher of one key sees only that key's changes.
    let mut only_a = store.watch("a").await.unwrap();
    next_entry(&mut only_a).await;
    store.put("d", "2").await.unwrap();
    let r = store.put("a", "3").await.unwrap();
    let e = next_entry(&mut only_a).await;
    assert_eq!((e.key.as_str(), e.revision), ("a", r));
}

fn with_options(change: impl FnOnce(&mut WatchOptions)) -> WatchOptions {
    let mut o = WatchOptions::default();
    change(&mut o);
    o
}

#[tokio::test]
async fn a_watcher_survives_a_server_restart() {
    let _shared = crate::shared().await;
    let server = rnats_test::NatsServer::start_jetstream();
    let client = rnats::ConnectOptions::new()
        .reconnect_delay_callback(|_| Duration::from_millis(50))
        .connect(server.url())
        .await
        .unwrap();
    let js = jetstream::new(client);
    let store = js
        .create_key_value(config("restart", StorageType::File))
        .await
        .unwrap();
    for i in 0..50 {
        store.put(format!("k{i}"), "v").await.unwrap();
    }
    let mut watch = store.watch_all().await.unwrap();
    for rev in 1..=50 {
        assert_eq!(next_entry(&mut watch).await.revision, rev);
    }
    server.restart();
    // Puts after the restart (retried while the server comes back).
    for i in 50..100u64 {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            match store.put(format!("k{i}"), "v").await {
                Ok(r) => {
                    assert_eq!(r, i + 1);
                    break;
                }
                Err(e) if tokio::time::Instant::now() < deadline => {
                    eprintln!("put after restart: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("{e:?}"),
            }
        }
    }
    // Every update once, in order: nothing missed, nothing repeated.
    for rev in 51..=100 {
        let e = within(30, "an entry after the restart", watch.next())
            .await
            .expect("the watcher ended")
            .unwrap();
        assert_eq!(e.revision, rev);
    }
    assert!(
        watch.resets() >= 1,
        "the watcher's consumer was never recreated"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cas_from_ten_concurrent_writers_has_one_winner_per_round() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    let store = js
        .create_key_value(config("cas", StorageType::File))
        .await
        .unwrap();
    let mut revision = store.put("counter", "0").await.unwrap();
    for round in 0..20 {
        let barrier = Arc::new(tokio::sync::Barrier::new(10));
        let tasks: Vec<_> = (0..10)
            .map(|writer| {
                let store = store.clone();
                let barrier = Arc::clone(&barrier);
                tokio::spawn(async move {
                    barrier.wait().await;
                    store
                        .update("counter", format!("{round}:{writer}"), revision)
                        .await
                })
            })
            .collect();
        let mut winners = Vec::new();
        for (writer, task) in tasks.into_iter().enumerate() {
            match within(10, "a CAS writer", task).await.unwrap() {
                Ok(r) => winners.push((writer, r)),
                Err(e) => assert!(e.is_key_exists(), "round {round}: {e:?}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: {winners:?}");
        let (writer, r) = winners[0];
        assert_eq!(r, revision + 1);
        assert_eq!(
            store.get("counter").await.unwrap(),
            format!("{round}:{writer}")
        );
        revision = r;
    }
}

#[tokio::test]
async fn ttls_and_limit_markers() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    for storage in [StorageType::File, StorageType::Memory] {
        ttls_on(&js, storage).await;
    }
}

async fn ttls_on(js: &jetstream::Context, storage: StorageType) {
    // A bucket whose values live 1 s and whose removals leave 1 s markers.
    let mut c = config(&format!("{}_{storage:?}", "ttl"), storage);
    c.max_age = Duration::from_secs(1);
    c.limit_marker_ttl = Some(Duration::from_secs(1));
    let store = js.create_key_value(c).await.unwrap();
    let status = store.status().await.unwrap();
    assert_eq!(status.limit_marker_ttl(), Some(Duration::from_secs(1)));
    assert_eq!(
        status.config().limit_marker_ttl,
        Some(Duration::from_secs(1))
    );
    assert!(status.stream_info().config.allow_message_ttl);
    let mut watch = store.watch_all().await.unwrap().events();
    assert_eq!(next_event(&mut watch).await, WatchEvent::InitialDataDone);
    store.put("gone", "soon").await.unwrap();
    let WatchEvent::Entry(put) = next_event(&mut watch).await else {
        panic!("signal twice")
    };
    assert_eq!(put.operation, Operation::Put);
    // MaxAge removes it and leaves a marker, seen as a purge.
    let WatchEvent::Entry(marker) = next_event(&mut watch).await else {
        panic!("signal twice")
    };
    assert_eq!(
        (marker.key.as_str(), marker.operation),
        ("gone", Operation::Purge)
    );
    assert!(marker.revision > put.revision);
    assert!(store.get("gone").await.unwrap_err().is_key_not_found());

    // A per-key TTL on create, in a bucket without max_age.
    let mut c = config(&format!("{}_{storage:?}", "keyttl"), storage);
    c.limit_marker_ttl = Some(Duration::from_secs(5));
    let store = js.create_key_value(c).await.unwrap();
    store
        .create_with_ttl("short", "x", Duration::from_secs(1))
        .await
        .unwrap();
    store.put("long", "y").await.unwrap();
    assert_eq!(store.get("short").await.unwrap(), "x");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while store.get("short").await.is_ok() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the TTL never removed the key"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(store.get("short").await.unwrap_err().is_key_not_found());
    assert_eq!(store.get("long").await.unwrap(), "y");
    // A purge marker with a TTL goes away with its whole key.
    store
        .purge_with_ttl("long", Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(
        store.entry("long").await.unwrap().operation,
        Operation::Purge
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match store.entry("long").await {
            Err(e) if e.is_key_not_found() => break,
            _ => {
                assert!(tokio::time::Instant::now() < deadline, "the marker stayed");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    // Per-key TTLs need limit markers on the bucket; sub-second TTLs are refused.
    let plain = js
        .create_key_value(config(&format!("{}_{storage:?}", "plain"), storage))
        .await
        .unwrap();
    let err = plain
        .create_with_ttl("k", "v", Duration::from_secs(1))
        .await
        .unwrap_err();
    crate::jetstream::assert_api_error(&err, 400, 10166);
    assert!(plain
        .create_with_ttl("k", "v", Duration::from_millis(10))
        .await
        .unwrap_err()
        .is_invalid_argument());
    // Limit markers cannot be turned off.
    let err = js
        .update_key_value(config(&format!("{}_{storage:?}", "keyttl"), storage))
        .await
        .unwrap_err();
    assert!(
        err.is_invalid_argument() && err.to_string().contains("limit markers"),
        "{err}"
    );
    // And can be turned on by an update.
    let mut on = config(&format!("{}_{storage:?}", "plain"), storage);
    on.limit_marker_ttl = Some(Duration::from_secs(2));
    let plain = js.update_key_value(on).await.unwrap();
    plain
        .create_with_ttl("k", "v", Duration::from_secs(5))
        .await
        .unwrap();
}

/// Limit markers need API level 1, asked of `$JS.API.INFO` (ADR-8), not read from the
/// connected server's version: a scripted server claims 2.15.1 in INFO but answers the
/// account info with API level 0.
#[tokio::test]
async fn limit_markers_are_refused_when_the_api_level_is_too_old() {
    let _shared = crate::shared().await;
    let (listener, url) = crate::peer_listener().await;
    let peer = tokio::spawn(async move {
        let mut peer = crate::Peer::accept(&listener).await;
        let mut seen = String::new();
        for _ in 0..2 {
            let bytes = peer.read_until(b"PUB $JS.API.INFO ").await;
            seen.push_str(&String::from_utf8_lossy(&bytes));
            let line = String::from_utf8_lossy(&peer.read_until(b"\r\n\r\n").await).into_owned();
            let reply = line.split_whitespace().next().unwrap().to_owned();
            let sid = seen
                .lines()
                .find_map(|l| l.strip_prefix("SUB "))
                .and_then(|l| l.split_whitespace().last())
                .unwrap()
                .to_owned();
            let body = r#"{"type":"io.nats.jetstream.api.v1.account_info_response","memory":0,"storage":0,"streams":0,"consumers":0,"limits":{},"api":{"level":0,"total":0,"errors":0}}"#;
            peer.send(format!("MSG {reply} {sid} {}\r\n{body}\r\n", body.len()).as_bytes())
                .await;
        }
        peer
    });
    let js = jetstream::new(rnats::connect(url.as_str()).await.unwrap());
    let mut c = config("m", StorageType::Memory);
    c.limit_marker_ttl = Some(Duration::from_secs(1));
    let err = within(5, "the refusal", js.create_key_value(c.clone()))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), rnats::ErrorKind::Unsupported, "{err:?}");
    assert!(
        err.to_string()
            .contains("limit markers need JetStream API level 1 (nats-server 2.11), the server's JetStream offers level 0"),
        "{err}"
    );
    let err = within(5, "the refusal", js.update_key_value(c))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), rnats::ErrorKind::Unsupported, "{err:?}");
    let _peer = within(5, "the scripted server", peer).await.unwrap();
}

#[tokio::test]
async fn purge_deletes_removes_old_markers_and_keeps_young_ones() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    for storage in [StorageType::File, StorageType::Memory] {
        purge_deletes_on(&js, storage).await;
    }
}

async fn purge_deletes_on(js: &jetstream::Context, storage: StorageType) {
    let mut c = config(&format!("pd_{storage:?}"), storage);
    c.history = 5;
    let store = js.create_key_value(c).await.unwrap();
    for key in ["a", "b", "c"] {
        store.put(key, "1").await.unwrap();
        store.put(key, "2").await.unwrap();
    }
    store.delete("a").await.unwrap();
    store.purge("b").await.unwrap();
    assert_eq!(store.status().await.unwrap().values(), 2 + 1 + 1 + 2);
    // Young markers stay, the values before them go.
    assert_eq!(
        store
            .purge_deletes(Duration::from_secs(3600))
            .await
            .unwrap(),
        2
    );
    assert_eq!(store.history("a").await.unwrap().len(), 1);
    assert_eq!(store.history("b").await.unwrap().len(), 1);
    assert_eq!(store.history("c").await.unwrap().len(), 2);
    // Zero: every marker goes with its key.
    assert_eq!(store.purge_deletes(Duration::ZERO).await.unwrap(), 2);
    assert!(store.history("a").await.unwrap_err().is_key_not_found());
    assert!(store.history("b").await.unwrap_err().is_key_not_found());
    assert_eq!(store.status().await.unwrap().values(), 2);
    assert_eq!(store.purge_deletes(Duration::ZERO).await.unwrap(), 0);
}

#[tokio::test]
async fn mirrors_read_locally_and_write_to_the_origin_and_sources_map_keys() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    let origin = js
        .create_key_value(config("origin", StorageType::Memory))
        .await
        .unwrap();
    origin.put("k", "from origin").await.unwrap();
    let mut m = config("mirror", StorageType::Memory);
    m.mirror = Some(Source::new("origin"));
    let mirror = js.create_key_value(m).await.unwrap();
    let info = mirror.status().await.unwrap();
    assert!(info.stream_info().config.mirror_direct);
    assert_eq!(
        info.stream_info()
            .config
            .mirror
            .as_ref()
            .map(|m| m.name.as_str()),
        Some("KV_origin")
    );
    // Reads see the origin's keys once mirrored; writes go to the origin.
    let mut w = mirror.watch_all().await.unwrap();
    let e = within(10, "the mirrored entry", async {
        loop {
            let e = next_entry(&mut w).await;
            if e.key == "k" {
                return e;
            }
        }
    })
    .await;
    assert_eq!(e.value, "from origin");
    let r = mirror.put("w", "via mirror").await.unwrap();
    assert_eq!(
        origin.get_revision("w", r).await.unwrap().value,
        "via mirror"
    );
    let e = next_entry(&mut w).await;
    assert_eq!((e.key.as_str(), e.revision), ("w", r));
    assert_eq!(mirror.get("w").await.unwrap(), "via mirror");

    // Sources: the source's keys land under this bucket's.
    let other = js
        .create_key_value(config("other", StorageType::Memory))
        .await
        .unwrap();
    other.put("o", "from other").await.unwrap();
    let mut s = config("agg", StorageType::Memory);
    s.sources = vec![Source::new("origin"), Source::new("KV_other")];
    let agg = js.create_key_value(s).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while agg.get("w").await.is_err() {
        assert!(tokio::time::Instant::now() < deadline, "never sourced");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while agg.get("o").await.is_err() {
        assert!(tokio::time::Instant::now() < deadline, "never sourced");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(agg.get("k").await.unwrap(), "from origin");
    assert_eq!(agg.get("o").await.unwrap(), "from other");
    let keys = keys_of(&agg).await;
    assert_eq!(keys, BTreeSet::from(["k", "o", "w"].map(String::from)));
}

/// 100,000 keys; `keys_with_filters` returns the 10 that match, having received only them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_with_filters_are_filtered_by_the_server() {
    let _alone = crate::alone().await;
    let (server, js) = js_server().await;
    let store = js
        .create_key_value(config("many", StorageType::Memory))
        .await
        .unwrap();
    const N: u64 = 100_000;
    let started = tokio::time::Instant::now();
    let mut acks = VecDeque::new();
    for i in 0..N {
        // g<i % 10000>.<i>: filter "g7.>" matches i = 7, 10007, …, 90007.
        acks.push_back(
            js.publish(format!("$KV.many.g{}.{i}", i % 10_000), "v")
                .await
                .unwrap(),
        );
        if acks.len() >= 4096 {
            within(30, "a put ack", acks.pop_front().unwrap())
                .await
                .unwrap();
        }
    }
    for ack in acks {
        within(30, "a put ack", ack).await.unwrap();
    }
    let wrote = started.elapsed();
    assert_eq!(store.status().await.unwrap().values(), N);

    // A reader of its own, so its byte counters see only the listing.
    let reader = jetstream::new(rnats::connect(server.url()).await.unwrap());
    let rstore = reader.key_value("many").await.unwrap();
    let before = reader.client().statistics().in_bytes;
    let t = tokio::time::Instant::now();
    let keys: BTreeSet<String> = within(30, "the filtered keys", async {
        rstore
            .keys_with_filters(["g7.>"])
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap()
    })
    .await;
    let filtered_time = t.elapsed();
    let filtered_bytes = reader.client().statistics().in_bytes - before;
    let expected: BTreeSet<String> = (0..10).map(|j| format!("g7.{}", 7 + j * 10_000)).collect();
    assert_eq!(keys, expected);

    // What a client-side filter needs: every key's entry.
    let before = reader.client().statistics().in_bytes;
    let t = tokio::time::Instant::now();
    let all: Vec<String> = within(60, "all the keys", async {
        rstore.keys().await.unwrap().try_collect().await.unwrap()
    })
    .await;
    let all_time = t.elapsed();
    let all_bytes = reader.client().statistics().in_bytes - before;
    assert_eq!(all.len() as u64, N);
    let client_side: BTreeSet<String> = all.into_iter().filter(|k| k.starts_with("g7.")).collect();
    assert_eq!(client_side, expected);
    eprintln!(
        "keys_with_filters over {N} keys (written pipelined in {wrote:?}): 10 keys, \
         {filtered_bytes} bytes received in {filtered_time:?}; a client-side filter would \
         have received {all_bytes} bytes in {all_time:?} ({:.0}x more)",
        all_bytes as f64 / filtered_bytes.max(1) as f64
    );
    assert!(
        filtered_bytes * 100 < all_bytes,
        "the filtered listing received {filtered_bytes} bytes, the full one {all_bytes}"
    );
}

/// An R3 bucket in a 3-node cluster: its stream leader is killed while a writer puts and a
/// watcher watches; every acknowledged put is seen by the watcher once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r3_bucket_watcher_sees_every_acked_put_once_when_the_leader_dies() {
    let _alone = crate::alone().await;
    let cluster = crate::jetstream_cluster::start_cluster().await;
    let client = crate::jetstream_cluster::connect_fast(cluster.urls()).await;
    let js = jetstream::ContextBuilder::new()
        .timeout(Duration::from_secs(2))
        .build(client);
    let mut c = config("r3", StorageType::File);
    c.replicas = 3;
    c.history = 5;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let store = loop {
        match js.create_key_value(c.clone()).await {
            Ok(s) => break s,
            Err(e) if tokio::time::Instant::now() < deadline => {
                eprintln!("create bucket: {e}, retrying");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => panic!("{e:?}"),
        }
    };
    let stream = js.get_stream("KV_r3").await.unwrap();
    let leader = crate::jetstream_cluster::stream_leader(&stream).await;
    assert!(!leader.is_empty());
    // The watcher has a client of its own.
    let wclient = crate::jetstream_cluster::connect_fast(cluster.urls()).await;
    let wjs = jetstream::new(wclient.clone());
    let watch = wjs
        .key_value("r3")
        .await
        .unwrap()
        .watch_all()
        .await
        .unwrap();
    let resets = Arc::new(std::sync::atomic::AtomicU64::new(0));
    // The stream leader is moved to the node serving the watcher's (R1) consumer: killing
    // it costs the bucket its leader and the watcher its consumer at once.
    let victim = crate::jetstream_cluster::align_stream_leader_with_consumer(&stream).await;
    assert_eq!(
        crate::jetstream_cluster::stream_leader(&stream).await,
        victim,
        "could not move the stream leader"
    );
    let (seen_tx, mut seen_rx) = tokio::sync::mpsc::unbounded_channel();
    let watcher = tokio::spawn({
        let resets = Arc::clone(&resets);
        async move {
            let mut watch = watch;
            while let Some(e) = watch.next().await {
                let e = e.unwrap();
                resets.store(watch.resets(), std::sync::atomic::Ordering::Relaxed);
                if seen_tx.send((e.revision, e.key, e.value)).is_err() {
                    break;
                }
            }
        }
    });

    const N: usize = 3_000;
    let mut acked = BTreeMap::new();
    let mut failed = 0;
    for i in 0..N {
        if i == 1_000 {
            let cluster = Arc::clone(&cluster);
            let victim = victim.clone();
            tokio::task::spawn_blocking(move || {
                cluster
                    .servers()
                    .iter()
                    .find(|n| n.name() == Some(victim.as_str()))
                    .expect("the victim is a node")
                    .stop();
            })
            .await
            .unwrap();
        }
        // A key per put: no revision is rolled off by the history limit while the watcher
        // recovers, so every acked one must come.
        match store.put(format!("k{i}"), i.to_string()).await {
            Ok(r) => {
                acked.insert(r, i);
            }
            Err(_) => {
                failed += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    let last = *acked
        .keys()
        .next_back()
        .expect("some puts were acknowledged");
    let mut seen: Vec<u64> = Vec::new();
    let mut values = BTreeMap::new();
    while seen.last().copied().unwrap_or(0) < last {
        let (rev, key, value) = within(60, "the watcher to catch up", seen_rx.recv())
            .await
            .expect("the watcher ended");
        values.insert(rev, (key, value));
        seen.push(rev);
    }
    watcher.abort();
    let in_order = seen.windows(2).all(|w| w[0] < w[1]);
    assert!(in_order, "the watcher repeated or reordered an update");
    for (rev, i) in &acked {
        let (key, value) = values
            .get(rev)
            .unwrap_or_else(|| panic!("acked put {i} (revision {rev}) never watched"));
        assert_eq!(
            (key.as_str(), value.as_ref()),
            (format!("k{i}").as_str(), i.to_string().as_bytes())
        );
    }
    eprintln!(
        "R3 bucket, leader {victim} (also serving the watcher's consumer) killed after 1,000 of {N} puts: {} acked, {failed} failed, \
         {} watched in order; the watcher's consumer was recreated {} times",
        acked.len(),
        seen.len(),
        resets.load(std::sync::atomic::Ordering::Relaxed)
    );
    assert!(
        resets.load(std::sync::atomic::Ordering::Relaxed) >= 1,
        "the watcher's consumer was never recreated"
    );
    assert!(acked.len() >= N - 200, "too many puts failed: {failed}");
}

/// Runs tests/data/kv_interop.py with nats-py; returns its JSON output.
async fn nats_py(mode: &str, url: &str, bucket: &str) -> serde_json::Value {
    crate::nats_py_script("kv_interop.py", &[mode, url, bucket]).await
}

/// What rnats reads of a bucket, in the script's shape.
async fn rnats_read(store: &Store) -> serde_json::Value {
    let mut w = store
        .watch_with(with_options(|o| o.include_history = true))
        .await
        .unwrap()
        .events();
    let history: Vec<serde_json::Value> = initial(&mut w)
        .await
        .into_iter()
        .map(|e| {
            let op = match e.operation {
                Operation::Put => "PUT",
                Operation::Delete => "DEL",
                Operation::Purge => "PURGE",
                _ => "?",
            };
            serde_json::json!([e.key, e.revision, op, String::from_utf8_lossy(&e.value)])
        })
        .collect();
    let keys: Vec<String> = keys_of(store).await.into_iter().collect();
    let mut values = serde_json::Map::new();
    for k in &keys {
        let v = store.get(k).await.unwrap();
        values.insert(k.clone(), String::from_utf8_lossy(&v).into());
    }
    serde_json::json!({"history": history, "keys": keys, "values": values})
}

#[tokio::test]
async fn interop_with_nats_py_both_ways() {
    let _shared = crate::shared().await;
    let (server, js) = js_server().await;
    let mut c = config("py_wrote", StorageType::File);
    c.history = 10;
    let py_store = js.create_key_value(c.clone()).await.unwrap();
    c.bucket = "rs_wrote".into();
    let rs_store = js.create_key_value(c).await.unwrap();

    // nats-py writes, rnats reads and watches.
    let py_view = nats_py("write", &server.url(), "py_wrote").await;
    let rs_view = rnats_read(&py_store).await;
    assert_eq!(rs_view, py_view);
    let ops: BTreeSet<&str> = py_view["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e[2].as_str())
        .collect();
    assert_eq!(ops, BTreeSet::from(["PUT", "DEL", "PURGE"]));

    // rnats writes the same changes, nats-py reads and watches.
    rs_store.put("a", "1").await.unwrap();
    rs_store.put("b", "2").await.unwrap();
    rs_store.put("a", "3").await.unwrap();
    rs_store.delete("b").await.unwrap();
    let rev = rs_store.create("c", "4").await.unwrap();
    rs_store.update("c", "5", rev).await.unwrap();
    rs_store.purge("a").await.unwrap();
    rs_store.put("d.x", "6").await.unwrap();
    rs_store.create("b", "7").await.unwrap();
    let rs_view = rnats_read(&rs_store).await;
    let py_view_of_rs = nats_py("read", &server.url(), "rs_wrote").await;
    assert_eq!(py_view_of_rs, rs_view);
    // Both clients made the same bucket from the same changes.
    assert_eq!(rs_view, py_view);
}

/// A hub and a leaf server, each with a JetStream domain of its own (`hub`, `leaf`).
fn hub_and_leaf() -> (rnats_test::NatsServer, rnats_test::NatsServer) {
    let leaf_port = crate::free_port();
    let hub = rnats_test::NatsServer::builder()
        .jetstream(true)
        .config(&format!(
            "jetstream {{ domain: hub }}\nleafnodes {{ listen: \"127.0.0.1:{leaf_port}\" }}\n"
        ))
        .start();
    let leaf = rnats_test::NatsServer::builder()
        .jetstream(true)
        .config(&format!(
            "jetstream {{ domain: leaf }}\nleafnodes {{ remotes: [ {{ url: \"nats-leaf://127.0.0.1:{leaf_port}\" }} ] }}\n"
        ))
        .start();
    (hub, leaf)
}

/// A bucket in the leaf's domain mirroring one in the hub's (ADR-57, `external`): it reads
/// the mirrored keys locally, and its puts go to the origin through the hub's API prefix.
#[tokio::test]
async fn a_mirror_of_a_bucket_in_another_domain() {
    let _shared = crate::shared().await;
    let (hub, leaf) = tokio::task::spawn_blocking(hub_and_leaf).await.unwrap();
    let hub_js = jetstream::new(rnats::connect(hub.url()).await.unwrap());
    let leaf_client = rnats::connect(leaf.url()).await.unwrap();
    let leaf_js = jetstream::new(leaf_client.clone());
    // The leaf reaches the hub's JetStream once the leafnode connection is up.
    let to_hub = jetstream::with_domain(leaf_client.clone(), "hub");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while to_hub.account_info().await.is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the leafnode never connected"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let origin = hub_js
        .create_key_value(config("origin", StorageType::File))
        .await
        .unwrap();
    origin.put("k", "from the hub").await.unwrap();

    let mut m = config("local", StorageType::File);
    let mut source = Source::new("origin");
    source.external = Some(jetstream::stream::External::new("$JS.hub.API"));
    m.mirror = Some(source);
    let mirror = leaf_js.create_key_value(m).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match mirror.get("k").await {
            Ok(v) => {
                assert_eq!(v, "from the hub");
                break;
            }
            Err(e) => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "never mirrored: {e}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    let r = mirror.put("w", "from the leaf").await.unwrap();
    assert_eq!(
        origin.get_revision("w", r).await.unwrap().value,
        "from the leaf"
    );
    let mut watch = mirror.watch("w").await.unwrap();
    let e = next_entry(&mut watch).await;
    assert_eq!((e.key.as_str(), e.revision), ("w", r));

    // A store bound through the hub's domain from the leaf: reads and puts (the put subject
    // carries the domain's API prefix, ADR-19) reach the hub's bucket.
    let remote = to_hub.key_value("origin").await.unwrap();
    let r = remote.put("d", "through the domain").await.unwrap();
    assert_eq!(
        origin.get_revision("d", r).await.unwrap().value,
        "through the domain"
    );
    assert_eq!(remote.get("d").await.unwrap(), "through the domain");
    assert_eq!(remote.entry("k").await.unwrap().value, "from the hub");
}

/// A bucket made before Direct Get (no `allow_direct`): reads go through the stream leader.
#[tokio::test]
async fn a_bucket_without_direct_get_is_read_through_the_leader() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    let mut s = crate::jetstream::memory_stream("KV_legacy", &["$KV.legacy.>"]);
    s.max_messages_per_subject = 5;
    s.allow_rollup = true;
    s.deny_delete = true;
    s.discard = jetstream::stream::DiscardPolicy::New;
    js.create_stream(s).await.unwrap();
    let store = js.key_value("legacy").await.unwrap();
    assert!(
        format!("{store:?}").contains("use_direct: false"),
        "{store:?}"
    );
    let r1 = store.put("k", "1").await.unwrap();
    store.put("k", "2").await.unwrap();
    assert_eq!(store.get("k").await.unwrap(), "2");
    assert_eq!(store.entry("k").await.unwrap().revision, 2);
    assert_eq!(store.get_revision("k", r1).await.unwrap().value, "1");
    assert!(store.get("nope").await.unwrap_err().is_key_not_found());
    store.delete("k").await.unwrap();
    assert!(store.get("k").await.unwrap_err().is_key_deleted());
    assert_eq!(store.history("k").await.unwrap().len(), 3);
}

/// Republish: every stored value is also published to another subject.
#[tokio::test]
async fn values_are_republished() {
    let _shared = crate::shared().await;
    let (server, js) = js_server().await;
    let mut c = config("repub", StorageType::Memory);
    c.republish = Some(jetstream::stream::Republish::new("$KV.repub.>", "seen.>"));
    let store = js.create_key_value(c).await.unwrap();
    assert_eq!(
        store.info().await.unwrap().republish.map(|r| r.destination),
        Some("seen.>".to_string())
    );
    let client = rnats::connect(server.url()).await.unwrap();
    let mut sub = client.subscribe("seen.>").await.unwrap();
    client.flush().await.unwrap();
    let r = store.put("a.b", "v").await.unwrap();
    let msg = crate::next_msg(&mut sub).await;
    assert_eq!(msg.subject.as_str(), "seen.a.b");
    assert_eq!(msg.payload, "v");
    let headers = msg.headers.unwrap();
    assert_eq!(headers.get("Nats-Sequence"), Some(r.to_string().as_str()));
}
