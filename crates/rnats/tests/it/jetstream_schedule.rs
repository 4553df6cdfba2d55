//! Message schedules (ADR-51): a one-off `@at` schedule fires into its target and is removed,
//! an `@every` schedule fires repeatedly until its subject is purged, schedules read back as
//! published (cron, time zone, TTL, source, rollup, headers), and the typed errors.

use std::time::Duration;

use crate::jetstream::{js_server, memory_stream, with, within};
use crate::jetstream_batch::has_api_level;
use rnats::jetstream::{self, stream::StreamMessage, MessageSchedule, Schedule};

/// The last message on `subject` once there is one (fails the test after 15 s).
async fn wait_last(stream: &jetstream::stream::Stream, subject: &str) -> StreamMessage {
    within(15, subject, async {
        loop {
            if let Ok(m) = stream.get_last_raw_message_by_subject(subject).await {
                return m;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
}

#[tokio::test]
async fn schedules_fire_and_read_back() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    if !has_api_level(&js, jetstream::api_level::V2_12, "message schedules") {
        return;
    }
    let stream = js
        .create_stream(with(memory_stream("SCHED", &["sched.>"]), |c| {
            c.allow_msg_schedules = true;
            c.allow_message_ttl = true;
        }))
        .await
        .unwrap();

    // Once, a second from now: fires into the target, then the schedule is gone.
    let at = time::OffsetDateTime::now_utc() + Duration::from_secs(1);
    let at = at.replace_nanosecond(0).unwrap();
    js.publish_schedule(
        "sched.once",
        MessageSchedule::new(Schedule::At(at), "sched.out.once")
            .payload("hello")
            .header("Kept", "yes"),
    )
    .await
    .unwrap();
    let entry = stream.get_schedule("sched.once").await.unwrap();
    assert_eq!(entry.schedule.schedule, Schedule::At(at));
    assert_eq!(entry.schedule.target, "sched.out.once");
    assert_eq!(entry.schedule.payload, "hello");
    assert_eq!(entry.schedule.headers.get("Kept"), Some("yes"));
    let fired = wait_last(&stream, "sched.out.once").await;
    assert_eq!(fired.payload, "hello");
    assert_eq!(fired.headers.get("Nats-Scheduler"), Some("sched.once"));
    assert_eq!(fired.headers.get("Nats-Schedule-Next"), Some("purge"));
    assert_eq!(fired.headers.get("Kept"), Some("yes"));
    within(10, "the fired schedule's removal", async {
        while stream.get_schedule("sched.once").await.is_ok() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    let err = stream.get_schedule("sched.once").await.unwrap_err();
    assert!(err.is_message_not_found(), "{err}");

    // Every second, sampling the last message of a source subject, with a TTL on what it
    // produces: fires, and stops once its subject is purged.
    js.publish("sched.reading", "21.5")
        .await
        .unwrap()
        .await
        .unwrap();
    js.publish_schedule(
        "sched.every",
        MessageSchedule::new(Schedule::Every(Duration::from_secs(1)), "sched.out.sampled")
            .source("sched.reading")
            .ttl(Duration::from_secs(60)),
    )
    .await
    .unwrap();
    let entry = stream.get_schedule("sched.every").await.unwrap();
    assert_eq!(
        entry.schedule.schedule,
        Schedule::Every(Duration::from_secs(1))
    );
    assert_eq!(entry.schedule.source.as_deref(), Some("sched.reading"));
    assert_eq!(entry.schedule.ttl, Some(Duration::from_secs(60)));
    let sampled = wait_last(&stream, "sched.out.sampled").await;
    assert_eq!(sampled.payload, "21.5");
    assert!(
        sampled.headers.get("Nats-TTL").is_some(),
        "{:?}",
        sampled.headers
    );
    stream.purge().filter("sched.every").await.unwrap();
    assert!(stream
        .get_schedule("sched.every")
        .await
        .unwrap_err()
        .is_message_not_found());

    // Cron with a time zone and rollup: read back as published (not fired in the test).
    js.publish_schedule(
        "sched.cron",
        MessageSchedule::new(Schedule::Cron("0 30 4 * * *".into()), "sched.out.cron")
            .time_zone("Europe/Amsterdam")
            .rollup(true),
    )
    .await
    .unwrap();
    let entry = stream.get_schedule("sched.cron").await.unwrap();
    assert_eq!(
        entry.schedule.schedule,
        Schedule::Cron("0 30 4 * * *".into())
    );
    assert_eq!(
        entry.schedule.time_zone.as_deref(),
        Some("Europe/Amsterdam")
    );
    assert!(entry.schedule.rollup);

    // Not a schedule.
    let err = stream.get_schedule("sched.reading").await.unwrap_err();
    assert!(!err.is_message_not_found(), "{err}");

    // Refused by the server: a pattern it cannot parse, a target outside the stream.
    let err = js
        .publish_schedule(
            "sched.bad",
            MessageSchedule::new(Schedule::Cron("not a schedule".into()), "sched.out.x"),
        )
        .await
        .unwrap_err();
    assert!(err.is_schedule_invalid(), "{err}");
    let err = js
        .publish_schedule(
            "sched.bad",
            MessageSchedule::new(Schedule::Every(Duration::from_secs(5)), "elsewhere.x"),
        )
        .await
        .unwrap_err();
    assert!(err.is_schedule_invalid(), "{err}");
    // Refused before sending: an interval under a second.
    let err = js
        .publish_schedule(
            "sched.bad",
            MessageSchedule::new(Schedule::Every(Duration::from_millis(10)), "sched.out.x"),
        )
        .await
        .unwrap_err();
    assert!(err.is_invalid_argument(), "{err}");
}

#[tokio::test]
async fn schedules_need_allow_msg_schedules() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    if !has_api_level(&js, jetstream::api_level::V2_12, "message schedules") {
        return;
    }
    js.create_stream(memory_stream("NOSCHED", &["nosched.>"]))
        .await
        .unwrap();
    let err = js
        .publish_schedule(
            "nosched.a",
            MessageSchedule::new(Schedule::Every(Duration::from_secs(5)), "nosched.b"),
        )
        .await
        .unwrap_err();
    assert!(err.is_schedules_not_enabled(), "{err}");
}
