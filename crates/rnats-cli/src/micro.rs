//! `micro …`: discovering and querying services (ADR-32) through the library's discovery.

use std::time::Duration;

use clap::Subcommand;
use rnats::service::{self, Discover};

use crate::conn::ConnArgs;
use crate::error::{usage, Result};
use crate::output::{Out, Table};
use crate::util::{self, parse_duration};

/// How long to collect answers, and when to stop early.
#[derive(clap::Args)]
pub(crate) struct Window {
    /// How long to wait for answers.
    #[arg(long, value_parser = parse_duration, default_value = "1s")]
    window: Duration,
    /// Stop after this many answers.
    #[arg(long)]
    max: Option<usize>,
}

/// `rnats micro …`
#[derive(Subcommand)]
pub(crate) enum MicroCmd {
    /// List the running service instances.
    Ls {
        /// Only this service.
        name: Option<String>,
        /// Collecting.
        #[command(flatten)]
        window: Window,
    },
    /// Show a service's description and endpoints.
    Info {
        /// The service.
        name: String,
        /// Only this instance.
        id: Option<String>,
        /// Collecting.
        #[command(flatten)]
        window: Window,
    },
    /// Show request counts and timings per endpoint.
    Stats {
        /// The service.
        name: String,
        /// Only this instance.
        id: Option<String>,
        /// Collecting.
        #[command(flatten)]
        window: Window,
    },
    /// Ping service instances.
    Ping {
        /// Only this service.
        name: Option<String>,
        /// Collecting.
        #[command(flatten)]
        window: Window,
    },
}

/// The discovery for the arguments.
fn discovery(client: &rnats::Client, name: Option<&str>, id: Option<&str>, w: &Window) -> Discover {
    let mut d = service::discover(client).window(w.window);
    if let Some(max) = w.max {
        d = d.max(max);
    }
    match (name, id) {
        (Some(n), Some(i)) => d.instance(n, i),
        (Some(n), None) => d.name(n),
        _ => d,
    }
}

/// The error when nobody answered.
fn none_found(name: Option<&str>) -> crate::error::CliError {
    match name {
        Some(n) => usage(
            format!("no instance of service {n:?} answered"),
            "list the running services with `rnats micro ls`",
        ),
        None => usage("no service answered", "start a service, or raise --window"),
    }
}

/// Runs `rnats micro …`.
pub(crate) async fn run(conn: &ConnArgs, out: &Out, cmd: MicroCmd) -> Result<()> {
    let client = conn.connect().await?;
    match cmd {
        MicroCmd::Ls { name, window } => {
            let mut list = discovery(&client, name.as_deref(), None, &window)
                .ping()
                .await?;
            if list.is_empty() && name.is_some() {
                return Err(none_found(name.as_deref()));
            }
            list.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
            if out.json {
                return out.json(&list);
            }
            if list.is_empty() {
                out.note("No services found");
                return Ok(());
            }
            let mut t = Table::new(&["NAME", "VERSION", "ID"]);
            for p in &list {
                t.row(vec![p.name.clone(), p.version.clone(), p.id.clone()]);
            }
            out.table(&t)
        }
        MicroCmd::Ping { name, window } => {
            let started = std::time::Instant::now();
            let list = discovery(&client, name.as_deref(), None, &window)
                .ping()
                .await?;
            if list.is_empty() {
                return Err(none_found(name.as_deref()));
            }
            if out.json {
                return out.json(&list);
            }
            for p in &list {
                out.line(format!(
                    "Pong from {} {} (version {})",
                    p.name, p.id, p.version
                ))?;
            }
            out.note(format!(
                "{} answers in {}",
                list.len(),
                util::duration(started.elapsed())
            ));
            Ok(())
        }
        MicroCmd::Info { name, id, window } => {
            let mut list = discovery(&client, Some(&name), id.as_deref(), &window)
                .info()
                .await?;
            if list.is_empty() {
                return Err(none_found(Some(&name)));
            }
            list.sort_by(|a, b| a.id.cmp(&b.id));
            if out.json {
                return out.json(&list);
            }
            for (n, i) in list.iter().enumerate() {
                if n > 0 {
                    out.line("")?;
                }
                let mut fields = vec![
                    ("", format!("Service {} {}", i.name, i.id)),
                    ("Version", i.version.clone()),
                    ("Description", i.description.clone()),
                ];
                for (k, v) in &i.metadata {
                    fields.push(("Metadata", format!("{k}={v}")));
                }
                out.fields(&fields)?;
                out.line("")?;
                let mut t = Table::new(&["ENDPOINT", "SUBJECT", "QUEUE GROUP"]);
                for e in &i.endpoints {
                    t.row(vec![
                        e.name.clone(),
                        e.subject.clone(),
                        e.queue_group.clone().unwrap_or_default(),
                    ]);
                }
                out.table(&t)?;
            }
            Ok(())
        }
        MicroCmd::Stats { name, id, window } => {
            let mut list = discovery(&client, Some(&name), id.as_deref(), &window)
                .stats()
                .await?;
            if list.is_empty() {
                return Err(none_found(Some(&name)));
            }
            list.sort_by(|a, b| a.id.cmp(&b.id));
            if out.json {
                return out.json(&list);
            }
            let mut t = Table::new(&[
                "ID",
                "ENDPOINT",
                "REQUESTS",
                "ERRORS",
                "AVERAGE TIME",
                "TOTAL TIME",
            ]);
            for s in &list {
                for e in &s.endpoints {
                    t.row(vec![
                        s.id.clone(),
                        e.name.clone(),
                        util::count(e.num_requests),
                        util::count(e.num_errors),
                        util::duration(e.average_processing_time),
                        util::duration(e.processing_time),
                    ]);
                }
            }
            out.table(&t)
        }
    }
}
