//! `Connection::handle_input` after a completed handshake, with live subscriptions, fed
//! arbitrary server bytes in reads of varying size: no panic anywhere in the state machine.
#![no_main]

use std::time::{Duration, Instant};

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use rnats_proto::{ConnectInfo, Connection, ConnectionConfig};

fn connected(now: Instant) -> Connection {
    let mut c = Connection::new(ConnectionConfig::default());
    let mut buf = BytesMut::from(
        &b"INFO {\"server_id\":\"S\",\"max_payload\":1048576,\"proto\":1,\"headers\":true}\r\n"[..],
    );
    c.handle_input(&mut buf, now).expect("INFO parses");
    c.send_connect(&ConnectInfo::default())
        .expect("CONNECT follows INFO");
    buf.extend_from_slice(b"PONG\r\n");
    c.handle_input(&mut buf, now).expect("PONG parses");
    let _ = c.subscribe(">", None);
    if let Ok(sid) = c.subscribe("a.*", Some("q")) {
        c.unsubscribe_after(sid, 2);
    }
    let _ = c.flush();
    c
}

fuzz_target!(|data: &[u8]| {
    let Some((&step, input)) = data.split_first() else {
        return;
    };
    let step = usize::from(step).max(1);
    let mut now = Instant::now();
    let mut conn = connected(now);
    let mut buf = BytesMut::new();
    let mut out = BytesMut::new();
    for chunk in input.chunks(step) {
        buf.extend_from_slice(chunk);
        let result = conn.handle_input(&mut buf, now);
        out.clear();
        conn.poll_transmit(&mut out);
        while conn.poll_event().is_some() {}
        now += Duration::from_secs(30);
        conn.handle_timeout(now);
        let _ = conn.publish("p", Some("r"), None, chunk);
        if result.is_err() {
            // A driver drops the transport here; the connection must survive a reconnect.
            conn.handle_disconnect(&out, 0);
            conn.handle_transport_open();
            return;
        }
    }
});
