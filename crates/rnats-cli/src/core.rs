//! `pub`, `sub`, `req`, `reply`: core NATS.

use std::time::Instant;

use bytes::Bytes;
use futures_util::StreamExt;
use rnats::{HeaderMap, Message, Publish, Request};

use crate::conn::ConnArgs;
use crate::error::{usage, CliError, Result};
use crate::output::Out;
use crate::util;

/// `rnats pub SUBJECT [BODY]`
#[derive(clap::Args)]
pub(crate) struct PubArgs {
    /// The subject to publish to.
    subject: String,
    /// The body (a template: {{Count}}, {{Time}}, {{TimeStamp}}, {{Unix}}, {{UnixNano}}, {{ID}},
    /// {{Random MIN MAX}}); read from stdin when absent and stdin is not a terminal.
    body: Option<String>,
    /// How many messages to publish.
    #[arg(long, default_value_t = 1)]
    count: u64,
    /// A header NAME:VALUE (repeatable).
    #[arg(short = 'H', long = "header", value_name = "NAME:VALUE")]
    headers: Vec<String>,
    /// A reply subject to send with the messages.
    #[arg(long)]
    reply: Option<String>,
    /// Pause between messages.
    #[arg(long, value_parser = util::parse_duration, value_name = "DURATION")]
    sleep: Option<std::time::Duration>,
    /// Say nothing on stderr.
    #[arg(short, long)]
    quiet: bool,
}

/// Publishes the messages and waits until the server has them.
pub(crate) async fn publish(conn: &ConnArgs, out: &Out, args: PubArgs) -> Result<()> {
    let template = util::body_or_stdin(args.body).await?;
    let headers = util::headers(&args.headers)?;
    let client = conn.connect().await?;
    let mut bytes = 0usize;
    for n in 1..=args.count {
        let body = util::render(&template, n, None);
        bytes += body.len();
        let mut msg = Publish::new().payload(body);
        if let Some(h) = &headers {
            msg = msg.headers(h.clone());
        }
        if let Some(r) = &args.reply {
            msg = msg.reply(r.clone());
        }
        client.publish_with(&args.subject, msg).await.map_err(|e| {
            CliError::from(e).context(format!("cannot publish to {:?}", args.subject))
        })?;
        if let Some(pause) = args.sleep {
            client.flush().await?;
            tokio::time::sleep(pause).await;
        }
    }
    client.flush().await?;
    if out.json {
        out.json(&serde_json::json!({
            "subject": args.subject, "messages": args.count, "bytes": bytes,
        }))?;
    } else if !args.quiet {
        if args.count == 1 {
            out.note(format!("Published {bytes} bytes to {:?}", args.subject));
        } else {
            out.note(format!(
                "Published {} messages ({}) to {:?}",
                util::count(args.count),
                util::bytes(bytes as u64),
                args.subject
            ));
        }
    }
    client.drain().await.ok();
    Ok(())
}

/// `rnats sub SUBJECT`
#[derive(clap::Args)]
pub(crate) struct SubArgs {
    /// The subject to subscribe to (wildcards allowed).
    subject: String,
    /// Join this queue group.
    #[arg(short, long, value_name = "GROUP")]
    queue: Option<String>,
    /// Exit after this many messages.
    #[arg(long)]
    count: Option<u64>,
    /// Print only the payloads, one per line.
    #[arg(long, conflicts_with = "headers_only")]
    raw: bool,
    /// Print only the headers.
    #[arg(long)]
    headers_only: bool,
}

/// Subscribes and prints messages until `--count` or interrupted.
pub(crate) async fn subscribe(conn: &ConnArgs, out: &Out, args: SubArgs) -> Result<()> {
    let client = conn.connect_long().await?;
    let sub = match &args.queue {
        Some(q) => client.queue_subscribe(&args.subject, q).await,
        None => client.subscribe(&args.subject).await,
    }
    .map_err(|e| CliError::from(e).context(format!("cannot subscribe to {:?}", args.subject)))?;
    // The server has the subscription once the flush returns: say so for scripts that wait.
    client.flush().await?;
    match &args.queue {
        Some(q) => out.note(format!(
            "Subscribing on {:?} in queue group {q:?}",
            args.subject
        )),
        None => out.note(format!("Subscribing on {:?}", args.subject)),
    }
    if args.count == Some(0) {
        return Ok(());
    }
    let mut sub = sub;
    let mut n = 0u64;
    while let Some(msg) = sub.next().await {
        n += 1;
        print_message(out, &msg, n, args.raw, args.headers_only)?;
        if args.count.is_some_and(|c| n >= c) {
            client.close().await.ok();
            return Ok(());
        }
    }
    Err(
        CliError::new("the subscription ended: the connection is closed")
            .hint("the server went away; run the command again"),
    )
}

/// Prints a received message in the chosen format.
fn print_message(out: &Out, msg: &Message, n: u64, raw: bool, headers_only: bool) -> Result<()> {
    if out.json {
        let mut obj = serde_json::Map::new();
        obj.insert("subject".into(), msg.subject.as_str().into());
        if let Some(r) = &msg.reply {
            obj.insert("reply".into(), r.as_str().into());
        }
        if msg.headers.as_ref().is_some_and(|h| !h.is_empty()) {
            obj.insert("headers".into(), util::json_headers(msg.headers.as_ref()));
        }
        if !headers_only {
            util::json_payload(&mut obj, &msg.payload);
        }
        let line = serde_json::Value::Object(obj).to_string();
        return out.line(line);
    }
    if raw {
        let mut bytes = msg.payload.to_vec();
        bytes.push(b'\n');
        return out.bytes(&bytes);
    }
    let mut text = match &msg.reply {
        Some(r) => format!(
            "[#{n}] Received on {:?} with reply {:?}\n",
            msg.subject.as_str(),
            r.as_str()
        ),
        None => format!("[#{n}] Received on {:?}\n", msg.subject.as_str()),
    };
    text.push_str(&header_lines(msg.headers.as_ref()));
    if !headers_only {
        if msg.headers.as_ref().is_some_and(|h| !h.is_empty()) {
            text.push('\n');
        }
        text.push_str(&util::text(&msg.payload));
        text.push('\n');
    }
    text.push('\n');
    out.bytes(text.as_bytes())
}

/// `Name: value` lines.
fn header_lines(headers: Option<&HeaderMap>) -> String {
    let mut text = String::new();
    if let Some(h) = headers {
        for (k, v) in h.iter() {
            text.push_str(&format!("{k}: {v}\n"));
        }
    }
    text
}

/// `rnats req SUBJECT [BODY]`
#[derive(clap::Args)]
pub(crate) struct ReqArgs {
    /// The subject to send the request to.
    subject: String,
    /// The body (a template as for `pub`); read from stdin when absent and stdin is not a
    /// terminal.
    body: Option<String>,
    /// A header NAME:VALUE (repeatable).
    #[arg(short = 'H', long = "header", value_name = "NAME:VALUE")]
    headers: Vec<String>,
    /// How many requests to send, one after the other.
    #[arg(long, default_value_t = 1)]
    count: u64,
    /// Print only the reply's payload.
    #[arg(long)]
    raw: bool,
}

/// Sends requests and prints the replies.
pub(crate) async fn request(conn: &ConnArgs, out: &Out, args: ReqArgs) -> Result<()> {
    let template = util::body_or_stdin(args.body).await?;
    let headers = util::headers(&args.headers)?;
    let client = conn.connect().await?;
    for n in 1..=args.count {
        let mut req = Request::new()
            .payload(util::render(&template, n, None))
            .timeout(conn.timeout);
        if let Some(h) = &headers {
            req = req.headers(h.clone());
        }
        let started = Instant::now();
        let reply = client
            .request_with(&args.subject, req)
            .await
            .map_err(|e| CliError::from(e).context(format!("request to {:?}", args.subject)))?;
        let rtt = started.elapsed();
        if out.json {
            let mut obj = serde_json::Map::new();
            obj.insert("subject".into(), reply.subject.as_str().into());
            if reply.headers.as_ref().is_some_and(|h| !h.is_empty()) {
                obj.insert("headers".into(), util::json_headers(reply.headers.as_ref()));
            }
            util::json_payload(&mut obj, &reply.payload);
            obj.insert("rtt_us".into(), (rtt.as_micros() as u64).into());
            out.line(serde_json::Value::Object(obj).to_string())?;
            continue;
        }
        if !args.raw {
            out.note(format!("Received with rtt {}", util::duration(rtt)));
            let lines = header_lines(reply.headers.as_ref());
            if !lines.is_empty() {
                out.bytes(format!("{lines}\n").as_bytes())?;
            }
        }
        let mut bytes = reply.payload.to_vec();
        bytes.push(b'\n');
        out.bytes(&bytes)?;
    }
    client.close().await.ok();
    Ok(())
}

/// `rnats reply SUBJECT [BODY]`
#[derive(clap::Args)]
pub(crate) struct ReplyArgs {
    /// The subject to answer on.
    subject: String,
    /// The answer (a template as for `pub`, plus {{Request}}); without it and without
    /// --command, requests are echoed back.
    body: Option<String>,
    /// Run this shell command per request: the request's payload on its stdin, its stdout is
    /// the answer.
    #[arg(long, conflicts_with = "body")]
    command: Option<String>,
    /// Join this queue group.
    #[arg(short, long, value_name = "GROUP", default_value = "rnats")]
    queue: String,
    /// Exit after answering this many requests.
    #[arg(long)]
    count: Option<u64>,
    /// A header NAME:VALUE to add to each answer (repeatable).
    #[arg(short = 'H', long = "header", value_name = "NAME:VALUE")]
    headers: Vec<String>,
}

/// Answers requests until `--count` or interrupted.
pub(crate) async fn reply(conn: &ConnArgs, out: &Out, args: ReplyArgs) -> Result<()> {
    let headers = util::headers(&args.headers)?;
    let client = conn.connect_long().await?;
    let mut sub = client
        .queue_subscribe(&args.subject, &args.queue)
        .await
        .map_err(|e| {
            CliError::from(e).context(format!("cannot subscribe to {:?}", args.subject))
        })?;
    client.flush().await?;
    out.note(format!(
        "Listening on {:?} in group {:?}",
        args.subject, args.queue
    ));
    let mut n = 0u64;
    while let Some(msg) = sub.next().await {
        let Some(reply_to) = msg.reply.clone() else {
            continue;
        };
        n += 1;
        let answer: Bytes = match (&args.command, &args.body) {
            (Some(cmd), _) => match run_command(cmd, &msg).await {
                Ok(answer) => answer.into(),
                Err(e) => {
                    // One failing request does not stop the replier; the requester times out.
                    crate::error::report(&e);
                    continue;
                }
            },
            (None, Some(body)) => util::render(body.as_bytes(), n, Some(&msg.payload)).into(),
            (None, None) => msg.payload.clone(),
        };
        if !out.json {
            out.note(format!(
                "[#{n}] Answered a request on {:?}",
                msg.subject.as_str()
            ));
        }
        let mut publish = Publish::new().payload(answer);
        if let Some(h) = &headers {
            publish = publish.headers(h.clone());
        }
        client.publish_with(reply_to.as_str(), publish).await?;
        if args.count.is_some_and(|c| n >= c) {
            break;
        }
    }
    client.drain().await.ok();
    Ok(())
}

/// Runs `cmd` with `sh -c`, the request's payload on stdin; its stdout is the answer.
async fn run_command(cmd: &str, msg: &Message) -> Result<Vec<u8>> {
    use std::process::Stdio;
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .env("NATS_REQUEST_SUBJECT", msg.subject.as_str())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| usage(format!("cannot run {cmd:?}: {e}"), "check the --command"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A command that does not read its stdin closes it early: not an error.
        let _ = stdin.write_all(&msg.payload).await;
    }
    let output = child
        .wait_with_output()
        .await
        .map_err(|e| CliError::new(format!("command {cmd:?} failed: {e}")))?;
    if !output.status.success() {
        return Err(usage(
            format!("command {cmd:?} exited with {}", output.status),
            "the command must exit 0; its stdout is the answer",
        ));
    }
    Ok(output.stdout)
}
