//! `eventide`: the command a person runs.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod demos;

/// Eventide: libuv's event loop and Node's streams, in Rust.
#[derive(Parser)]
#[command(name = "eventide", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
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
