//! `eventide echo`: a TCP echo server. Every connection is piped into
//! itself, so what a client sends comes back, with the stream backpressure
//! (a client that sends faster than it reads is slowed down, not buffered).

use eventide_streams::net::{Server, ServerOptions};

use crate::cmd::common::{ListenArgs, Started, run_workers};

/// Arguments of `eventide echo`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    #[command(flatten)]
    listen: ListenArgs,
    /// Stop accepting past this many open connections.
    #[arg(long)]
    max_connections: Option<usize>,
}

/// Runs `eventide echo`.
pub(crate) fn run(args: Args) -> Result<(), String> {
    let max_connections = args.max_connections;
    run_workers(&args.listen, "echo", move |lp, addr, reuse_port| {
        let options = ServerOptions {
            reuse_port,
            max_connections,
            ..ServerOptions::default()
        };
        let server = Server::listen_tcp(lp, addr, options, |lp, conn| {
            conn.pipe(lp, conn.stream());
        })?;
        let addr = server.local_addr(lp).unwrap_or(addr);
        Ok(Started {
            addr,
            shutdown: Box::new(move |lp| server.close(lp)),
        })
    })
}
