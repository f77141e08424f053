//! `eventide`: the command a person runs.
//!
//! ```text
//! eventide serve [DIR]        a static file server (a built-in page without DIR)
//! eventide echo               a TCP echo server
//! eventide get URL            fetch a URL, like curl
//! eventide bench URL          a load generator, like wrk
//! eventide trace DEMO         run a demo with the loop's trace on
//! eventide demo [NAME]        the tour of how the event loop works
//! ```

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;
mod demos;

/// Eventide: libuv's event loop and Node's streams, in Rust.
///
/// Every command runs on Eventide's own loop; `eventide trace DEMO` shows that
/// loop at work, phase by phase.
#[derive(Parser)]
#[command(name = "eventide", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve a directory over HTTP (or a built-in page without DIR).
    Serve(cmd::serve::Args),
    /// Run a TCP echo server.
    Echo(cmd::echo::Args),
    /// Fetch a URL and write the body to stdout (or a file).
    Get(cmd::get::Args),
    /// Load-test an HTTP server and report rate, throughput and latency.
    Bench(cmd::bench::Args),
    /// Run a demo with the loop's trace hook on and print its timeline.
    Trace(cmd::trace::Args),
    /// Run one demo of how the event loop works, or all of them in turn.
    ///
    /// Each demo says what to watch for and which rule of the loop it shows.
    Demo {
        /// The demo to run; all of them when omitted.
        name: Option<String>,
        /// List the demos with one line each.
        #[arg(long)]
        list: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => cmd::serve::run(args),
        Command::Echo(args) => cmd::echo::run(args),
        Command::Get(args) => cmd::get::run(args),
        Command::Bench(args) => cmd::bench::run(args),
        Command::Trace(args) => cmd::trace::run(args),
        Command::Demo { list: true, .. } => {
            demos::list();
            Ok(())
        }
        Command::Demo {
            name: Some(name), ..
        } => demos::run_one(&name),
        Command::Demo { name: None, .. } => demos::run_all(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("eventide: {e}");
            ExitCode::FAILURE
        }
    }
}
