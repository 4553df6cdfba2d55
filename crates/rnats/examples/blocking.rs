//! The blocking client in a program without an async runtime (no tokio in `main`): connect,
//! a responder on a thread of its own, publish, a subscription as an iterator, a request,
//! request-many, drain.
//!
//! `cargo run -p rnats --features blocking --example blocking -- nats://127.0.0.1:4222`

use std::time::Duration;

fn main() -> Result<(), rnats::Error> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "nats://127.0.0.1:4222".to_owned());
    let client = rnats::blocking::connect(url.as_str())?;

    // A responder on a plain thread: its subscription is an iterator.
    let requests = client.subscribe("demo.time")?;
    let responder = client.clone();
    std::thread::spawn(move || {
        for request in requests {
            if let Some(reply) = request.reply {
                let _ = responder.publish(reply, "12:00");
            }
        }
    });

    let mut greetings = client.subscribe("demo.greet")?;
    client.publish("demo.greet", "hello")?;
    client.flush()?;
    if let Some(msg) = greetings.next_timeout(Duration::from_secs(2))? {
        println!("received {:?} on {}", msg.payload, msg.subject);
    }

    let answer = client.request("demo.time", "")?;
    println!("the time is {:?}", answer.payload);

    let replies = client.request_many("demo.time", "", |r| {
        r.timeout(Duration::from_secs(1))
            .stall(Duration::from_millis(100))
    })?;
    println!("{} responder(s) answered", replies.count());

    client.drain()
}
