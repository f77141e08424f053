//! For `cargo xtask bench http`'s idle-memory workload: opens N keep-alive
//! connections to an HTTP server, sends one request on each and reads its
//! response, prints `READY`, and keeps them all open and idle until its
//! standard input closes.
//!
//! `idle_clients ADDR N`

use std::io::{BufRead, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().expect("usage: idle_clients ADDR N");
    let n: usize = args
        .next()
        .and_then(|n| n.parse().ok())
        .expect("usage: idle_clients ADDR N");
    let mut conns = Vec::with_capacity(n);
    let mut buf = [0u8; 4096];
    for _ in 0..n {
        let mut s = TcpStream::connect(&addr)?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        s.write_all(b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n")?;
        // The hello response is small: one read holds it whole.
        let got = s.read(&mut buf)?;
        if !buf[..got].starts_with(b"HTTP/1.1 200") {
            eprintln!(
                "idle_clients: unexpected response: {:?}",
                String::from_utf8_lossy(&buf[..got])
            );
            std::process::exit(1);
        }
        conns.push(s);
    }
    println!("READY {}", conns.len());
    std::io::stdout().flush()?;
    // Hold the connections until told to go.
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    Ok(())
}
