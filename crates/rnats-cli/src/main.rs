//! `rnats`: a command-line NATS client built only on the public API of the `rnats` library.
//!
//! Every command connects with the shared connection flags (or a named context), does one
//! thing, and exits: 0 on success (also when stdout is a closed pipe), 1 on an error, which is
//! printed to stderr as one line with a hint. `--json` turns tables into JSON for scripts.

mod bench;
mod conn;
mod context;
mod core;
mod error;
mod js;
mod kv;
mod micro;
mod obj;
mod output;
mod server;
mod util;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::error::CliError;

/// A fast NATS client: publish, subscribe, request, reply, JetStream, Key-Value, Object
/// Store, services and benchmarks.
#[derive(Parser)]
#[command(
    name = "rnats",
    version,
    propagate_version = true,
    max_term_width = 100
)]
struct Cli {
    /// How to connect (shared by every command).
    #[command(flatten)]
    conn: conn::ConnArgs,
    /// Print JSON instead of human tables.
    #[arg(long, global = true, help_heading = "Output")]
    json: bool,
    /// The command to run.
    #[command(subcommand)]
    command: Command,
}

/// The top-level commands.
#[derive(Subcommand)]
enum Command {
    /// Publish messages to a subject.
    Pub(core::PubArgs),
    /// Subscribe to a subject and print what arrives.
    Sub(core::SubArgs),
    /// Send a request and print the reply.
    Req(core::ReqArgs),
    /// Answer requests on a subject with a body or a command's output.
    Reply(core::ReplyArgs),
    /// Measure throughput and latency.
    #[command(subcommand)]
    Bench(bench::BenchCmd),
    /// Manage JetStream streams.
    #[command(subcommand)]
    Stream(js::StreamCmd),
    /// Manage JetStream consumers.
    #[command(subcommand)]
    Consumer(js::ConsumerCmd),
    /// Use Key-Value buckets.
    #[command(subcommand)]
    Kv(kv::KvCmd),
    /// Use Object Store buckets.
    #[command(subcommand)]
    Obj(obj::ObjCmd),
    /// Discover and query services (nats.micro).
    #[command(subcommand)]
    Micro(micro::MicroCmd),
    /// Inspect the server.
    #[command(subcommand)]
    Server(server::ServerCmd),
    /// Manage named connection contexts.
    #[command(subcommand)]
    Context(context::ContextCmd),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return error::report(&CliError::new(format!("cannot start the runtime: {e}"))),
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => error::report(&e),
    }
}

/// Reports a command-line error as one line with a hint (the usage, or clap's tip) and exits 2;
/// `--help` and `--version` print as usual.
fn usage_error(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            // Printing help can only fail on a closed pipe: nothing to report then.
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
        _ => {}
    }
    let text = e.render().to_string();
    let mut lines = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .peekable();
    let mut msg = lines
        .next()
        .unwrap_or("invalid arguments")
        .trim_start_matches("error: ")
        .to_owned();
    // "the following required arguments were not provided:" lists them on the next lines.
    if msg.ends_with(':') {
        while let Some(l) = lines.next_if(|l| l.starts_with('<') || l.starts_with('-')) {
            msg = format!("{msg} {l}");
        }
    }
    let rest: Vec<&str> = lines.collect();
    let hint = rest
        .iter()
        .find_map(|l| l.strip_prefix("tip: "))
        .or_else(|| rest.iter().find(|l| l.starts_with("Usage: ")).copied())
        .unwrap_or("see `rnats --help`");
    eprintln!("error: {msg} (hint: {hint})");
    ExitCode::from(2)
}

/// Runs the chosen command.
async fn run(cli: Cli) -> Result<(), CliError> {
    let out = output::Out::new(cli.json);
    let conn = cli.conn;
    match cli.command {
        Command::Pub(args) => core::publish(&conn, &out, args).await,
        Command::Sub(args) => core::subscribe(&conn, &out, args).await,
        Command::Req(args) => core::request(&conn, &out, args).await,
        Command::Reply(args) => core::reply(&conn, &out, args).await,
        Command::Bench(cmd) => bench::run(&conn, &out, cmd).await,
        Command::Stream(cmd) => js::stream(&conn, &out, cmd).await,
        Command::Consumer(cmd) => js::consumer(&conn, &out, cmd).await,
        Command::Kv(cmd) => kv::run(&conn, &out, cmd).await,
        Command::Obj(cmd) => obj::run(&conn, &out, cmd).await,
        Command::Micro(cmd) => micro::run(&conn, &out, cmd).await,
        Command::Server(cmd) => server::run(&conn, &out, cmd).await,
        Command::Context(cmd) => context::run(&conn, &out, cmd),
    }
}
