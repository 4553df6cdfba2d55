//! The rnats walk-through: connect, subscribe with a handler, publish, receive,
//! request/reply, a queue group, and drain.
//!
//! Run it against a local server with `./scripts/demo.sh`, or by hand:
//! `cargo run -p rnats --example quickstart -- nats://127.0.0.1:4222`.

use std::time::Duration;

use futures_util::StreamExt;

#[tokio::main]
async fn main() -> Result<(), rnats::Error> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "nats://127.0.0.1:4222".to_owned());

    // 1. Connect.
    let client = rnats::ConnectOptions::new()
        .name("rnats-quickstart")
        .connect(url.as_str())
        .await?;
    let info = client.server_info();
    println!(
        "connected to nats-server {} (max payload {} bytes)",
        info.version, info.max_payload
    );

    // 2. Subscribe with a handler: a task that prints every message it gets.
    let mut greetings = client.subscribe("greet.*").await?;
    let handler = tokio::spawn(async move {
        let mut seen = 0;
        while let Some(msg) = greetings.next().await {
            seen += 1;
            println!(
                "  handler got {:?} on {}",
                String::from_utf8_lossy(&msg.payload),
                msg.subject
            );
        }
        seen
    });

    // 3. Publish, with and without headers.
    client.publish("greet.joe", "hello joe").await?;
    let mut headers = rnats::HeaderMap::new();
    headers.insert("Lang", "fr");
    client
        .publish_with_headers("greet.sue", headers, "bonjour sue")
        .await?;
    client.flush().await?;
    println!("published 2 greetings");

    // 4. Request / reply: a responder answering on "time".
    let mut requests = client.subscribe("time").await?;
    let responder = client.clone();
    tokio::spawn(async move {
        while let Some(req) = requests.next().await {
            if let Some(reply) = req.reply {
                responder.publish(reply, "it is 12:00").await.ok();
            }
        }
    });
    let answer = client
        .request_with(
            "time",
            rnats::Request::new()
                .payload("what time is it?")
                .timeout(Duration::from_secs(2)),
        )
        .await?;
    println!(
        "request answered: {:?}",
        String::from_utf8_lossy(&answer.payload)
    );
    match client.request("nobody.home", "").await {
        Err(e) if e.is_no_responders() => println!("request to nobody.home: {e}"),
        other => println!("unexpected: {other:?}"),
    }

    // 5. Queue group: three workers share the messages, each delivered once.
    let mut workers = Vec::new();
    for id in 0..3 {
        let mut sub = client.queue_subscribe("jobs", "workers").await?;
        workers.push(tokio::spawn(async move {
            let mut done = 0u32;
            while sub.next().await.is_some() {
                done += 1;
            }
            (id, done)
        }));
    }
    client.flush().await?;
    for i in 0..30 {
        client.publish("jobs", format!("job {i}")).await?;
    }
    client.flush().await?;

    // 6. Drain: every message already sent is delivered, then the connection closes.
    client.drain().await?;
    for w in workers {
        if let Ok((id, done)) = w.await {
            println!("  worker {id} processed {done} jobs");
        }
    }
    let seen = handler.await.unwrap_or(0);
    println!("handler saw {seen} greetings; drained and closed");
    let stats = client.statistics();
    println!(
        "statistics: {} messages out, {} in",
        stats.out_msgs, stats.in_msgs
    );
    Ok(())
}
