//! Answers every request with `200` and `hello world\n`.
//!
//! ```sh
//! cargo run --release -p eventide-http-mini --example http_hello -- --port 0
//! ```

mod common;

use bytes::Bytes;
use clap::Parser;
use eventide_http_mini::server::Server;
use eventide_loop_phases::{Loop, RunMode};

fn main() -> std::io::Result<()> {
    let flags = common::Flags::parse();
    let mut lp = Loop::new();
    let server = Server::listen(&mut lp, flags.addr(), flags.options(), |lp, _req, res| {
        let _ = res.set_header(lp, "Content-Type", "text/plain");
        res.end(lp, Some(Bytes::from_static(b"hello world\n")));
    })?;
    common::stop_on_signals(&mut lp);
    println!(
        "listening on http://{}",
        server.local_addr(&lp).expect("bound")
    );
    lp.run(RunMode::Default);
    Ok(())
}
