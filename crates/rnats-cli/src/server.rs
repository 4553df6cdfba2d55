//! `server …`: what the connected server says about itself, and round trips.

use std::time::Duration;

use clap::Subcommand;

use crate::conn::ConnArgs;
use crate::error::Result;
use crate::output::Out;
use crate::util;

/// `rnats server …`
#[derive(Subcommand)]
pub(crate) enum ServerCmd {
    /// Show the connected server's INFO.
    Info,
    /// Ping the server and print each round trip.
    Ping {
        /// How many pings.
        #[arg(long, default_value_t = 5)]
        count: u32,
        /// Pause between pings.
        #[arg(long, value_parser = util::parse_duration, default_value = "0s")]
        interval: Duration,
    },
    /// Print the round-trip time to the server.
    Rtt,
}

/// Runs `rnats server …`.
pub(crate) async fn run(conn: &ConnArgs, out: &Out, cmd: ServerCmd) -> Result<()> {
    let client = conn.connect().await?;
    let server = client
        .connected_server()
        .map(|s| s.host_port())
        .unwrap_or_default();
    match cmd {
        ServerCmd::Info => {
            let i = client.server_info();
            if out.json {
                return out.json(&serde_json::json!({
                    "server_id": i.server_id, "server_name": i.server_name, "version": i.version,
                    "go": i.go, "host": i.host, "port": i.port, "max_payload": i.max_payload,
                    "proto": i.proto, "headers": i.headers, "jetstream": i.jetstream,
                    "auth_required": i.auth_required, "tls_required": i.tls_required,
                    "tls_available": i.tls_available, "cluster": i.cluster, "domain": i.domain,
                    "connect_urls": i.connect_urls, "lame_duck_mode": i.lame_duck_mode,
                    "connected_url": server,
                }));
            }
            out.fields(&[
                ("", format!("Server {}", i.server_name)),
                ("ID", i.server_id.clone()),
                ("Version", i.version.clone()),
                ("Go", i.go.clone()),
                ("Connected To", server),
                ("Max Payload", util::bytes(i.max_payload as u64)),
                ("Headers", i.headers.to_string()),
                ("JetStream", i.jetstream.to_string()),
                ("Auth Required", i.auth_required.to_string()),
                ("TLS Required", i.tls_required.to_string()),
                ("Cluster", i.cluster.clone().unwrap_or_default()),
                ("Cluster URLs", i.connect_urls.join(", ")),
            ])
        }
        ServerCmd::Ping { count, interval } => {
            let mut rtts = Vec::new();
            for n in 1..=count.max(1) {
                let rtt = client.rtt().await?;
                rtts.push(rtt);
                if !out.json {
                    out.line(format!("pong {n} from {server}: {}", util::duration(rtt)))?;
                }
                if n < count && !interval.is_zero() {
                    tokio::time::sleep(interval).await;
                }
            }
            let min = rtts.iter().min().copied().unwrap_or_default();
            let max = rtts.iter().max().copied().unwrap_or_default();
            let avg = rtts.iter().sum::<Duration>() / rtts.len().max(1) as u32;
            if out.json {
                return out.json(&serde_json::json!({
                    "server": server, "count": rtts.len(),
                    "min_us": min.as_micros() as u64, "avg_us": avg.as_micros() as u64,
                    "max_us": max.as_micros() as u64,
                }));
            }
            out.line(format!(
                "{} pings: min {}, avg {}, max {}",
                rtts.len(),
                util::duration(min),
                util::duration(avg),
                util::duration(max)
            ))
        }
        ServerCmd::Rtt => {
            let rtt = client.rtt().await?;
            if out.json {
                return out.json(
                    &serde_json::json!({ "server": server, "rtt_us": rtt.as_micros() as u64 }),
                );
            }
            out.line(format!("{server}: {}", util::duration(rtt)))
        }
    }
}
