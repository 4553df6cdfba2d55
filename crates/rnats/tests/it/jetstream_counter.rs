//! Counters (ADR-49): increments and totals, big totals as decimals, reading a counter and
//! its sources through a sourcing stream, and the typed errors.

use std::time::Duration;

use crate::jetstream::{js_server, memory_stream, with, within};
use crate::jetstream_batch::has_api_level;
use rnats::jetstream::{self, stream};

#[tokio::test]
async fn counters_increment_read_and_source() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    if !has_api_level(&js, jetstream::api_level::V2_12, "counters") {
        return;
    }
    let counters = js
        .create_stream(with(memory_stream("CNT", &["cnt.>"]), |c| {
            c.allow_msg_counter = true;
            c.allow_direct = true;
        }))
        .await
        .unwrap();
    assert!(counters.cached_info().config.allow_msg_counter);

    assert_eq!(
        within(10, "incr", js.increment("cnt.hits", 1))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        within(10, "incr", js.increment("cnt.hits", 41))
            .await
            .unwrap(),
        42
    );
    assert_eq!(
        within(10, "incr", js.increment("cnt.hits", -50))
            .await
            .unwrap(),
        -8
    );
    assert_eq!(
        within(10, "incr", js.increment("cnt.other", 0))
            .await
            .unwrap(),
        0
    );

    let entry = counters.get_counter("cnt.hits").await.unwrap();
    assert_eq!(entry.subject, "cnt.hits");
    assert_eq!(entry.value, "-8");
    assert_eq!(entry.value_i128().unwrap(), -8);
    assert_eq!(entry.increment.as_deref(), Some("-50"));
    assert!(entry.sources.is_empty());
    assert_eq!(entry.sequence, 3);

    // Several at once (wildcards, Direct Get).
    let all = counters.get_counters(&["cnt.>"]).await.unwrap();
    let mut got: Vec<_> = all
        .iter()
        .map(|e| (e.subject.as_str(), e.value.as_str()))
        .collect();
    got.sort();
    assert_eq!(got, [("cnt.hits", "-8"), ("cnt.other", "0")]);

    // Beyond i128: decimals both ways; increment() says the total does not fit.
    let big = "+100000000000000000000000000000000000000000";
    let total = js.increment_decimal("cnt.big", big).await.unwrap();
    assert_eq!(total, &big[1..]);
    let err = js.increment("cnt.big", 1).await.unwrap_err();
    assert!(err.is_invalid_argument(), "{err}");
    let entry = counters.get_counter("cnt.big").await.unwrap();
    assert_eq!(entry.value, "100000000000000000000000000000000000000001");
    assert!(entry.value_i128().is_err());

    // Bad increments are refused before anything is sent.
    for bad in ["", "one", "1.5"] {
        let err = js.increment_decimal("cnt.hits", bad).await.unwrap_err();
        assert!(err.is_invalid_argument(), "{bad:?}: {err}");
    }
    // A plain publish to a counter stream is refused by the server.
    let err = js
        .publish("cnt.hits", "5")
        .await
        .unwrap()
        .await
        .unwrap_err();
    assert!(err.is_counter_rejected(), "{err}");
    // No counter at that subject yet.
    let err = counters.get_counter("cnt.none").await.unwrap_err();
    assert!(err.is_message_not_found(), "{err}");

    // An aggregate counter sourcing CNT: its entries say what each source contributed.
    let mut agg = stream::Config::new("AGG");
    agg.storage = stream::StorageType::Memory;
    agg.allow_msg_counter = true;
    let mut source = stream::Source::new("CNT");
    source.filter_subject = Some("cnt.hits".into());
    agg.sources = vec![source];
    let agg = js.create_stream(agg).await.unwrap();
    js.increment("cnt.hits", 10).await.unwrap(); // CNT's total: 2
    let entry = within(10, "the sourced counter", async {
        loop {
            match agg.get_counter("cnt.hits").await {
                Ok(e) if e.value == "2" => return e,
                _ => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    })
    .await;
    // Keyed by the source (its stream name first), then by the source's subject.
    let (key, from_cnt) = entry.sources.iter().next().expect("one source");
    assert!(key.starts_with("CNT"), "{:?}", entry.sources);
    assert_eq!(from_cnt.get("cnt.hits").map(String::as_str), Some("2"));
}

#[tokio::test]
async fn counters_need_allow_msg_counter() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    if !has_api_level(&js, jetstream::api_level::V2_12, "counters") {
        return;
    }
    js.create_stream(memory_stream("NOCNT", &["nocnt.>"]))
        .await
        .unwrap();
    let err = within(10, "incr", js.increment("nocnt.a", 1))
        .await
        .unwrap_err();
    assert!(err.is_counter_not_enabled(), "{err}");
    assert_eq!(js.stream_info("NOCNT").await.unwrap().state.messages, 0);
}
