//! Answers every accepted request with `200` and a body equal to the request
//! body it decoded (Content-Length or chunked).
//!
//! ```sh
//! cargo run --release -p eventide-http-mini --example http_echo -- --port 0
//! curl -s --data-binary @file http://127.0.0.1:PORT/ | cmp - file
//! ```

mod common;

use clap::Parser;
use eventide_http_mini::server::Server;
use eventide_loop_phases::{Loop, RunMode};

fn main() -> std::io::Result<()> {
    let flags = common::Flags::parse();
    let mut lp = Loop::new();
    let server = Server::listen(&mut lp, flags.addr(), flags.options(), |lp, req, res| {
        // The body streams back as it arrives, with the same backpressure.
        let body = req.body(lp);
        let out = res.writable(lp);
        body.pipe(lp, out);
    })?;
    common::stop_on_signals(&mut lp);
    println!(
        "listening on http://{}",
        server.local_addr(&lp).expect("bound")
    );
    lp.run(RunMode::Default);
    Ok(())
}
