//! A TCP echo load generator, for `cargo xtask bench streams`: the same one
//! against Eventide's, Node's and the raw mio echo servers, so that the
//! comparison is fair.
//!
//! ```text
//! echo_load ADDR [--connections N] [--seconds S] [--warmup S] [--chunk 64KiB] [--window 128KiB]
//! ```
//!
//! One thread, one mio poll, `N` connections (`TCP_NODELAY`). Each keeps the
//! server busy with a bounded window: it writes a 64 KiB pattern as a
//! continuous stream while fewer than `--window` bytes are unanswered, and
//! reads the echo back, checking every byte against the pattern. Bytes echoed
//! after the warm-up, over the measured seconds, give:
//!
//! ```text
//! BENCH echo-{N} throughput <bytes/s> B/s higher
//! BENCH echo-{N} echoed <bytes> B higher
//! ```
//!
//! The second line counts every byte echoed, warm-up included, for whoever
//! divides it by the server's CPU time over the whole run (the bench does).
//!
//! Pin it to a CPU of its own (`taskset -c 1`), away from the server's.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

struct Args {
    addr: SocketAddr,
    connections: usize,
    seconds: f64,
    warmup: f64,
    chunk: usize,
    window: usize,
}

struct Conn {
    stream: TcpStream,
    sent: u64,
    received: u64,
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1).collect()) {
        Ok(a) => a,
        Err(e) => {
            eprintln!(
                "echo_load: {e}\nusage: echo_load ADDR [--connections N] [--seconds S] [--warmup S] [--chunk 64KiB] [--window 128KiB]"
            );
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("echo_load: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `64KiB`, `1MiB`, `4096`.
fn size(s: &str) -> Result<usize, String> {
    let lower = s.to_ascii_lowercase();
    let (digits, mul) = if let Some(d) = lower.strip_suffix("kib") {
        (d, 1024)
    } else if let Some(d) = lower.strip_suffix("mib") {
        (d, 1024 * 1024)
    } else {
        (lower.as_str(), 1)
    };
    digits
        .parse::<usize>()
        .ok()
        .filter(|n| *n > 0)
        .map(|n| n * mul)
        .ok_or_else(|| format!("bad size `{s}`"))
}

fn parse(argv: Vec<String>) -> Result<Args, String> {
    let mut it = argv.into_iter();
    let addr = it
        .next()
        .ok_or("missing ADDR")?
        .parse()
        .map_err(|e| format!("ADDR: {e}"))?;
    let mut args = Args {
        addr,
        connections: 1,
        seconds: 3.0,
        warmup: 0.5,
        chunk: 64 * 1024,
        window: 0,
    };
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = |v: &str| v.parse::<f64>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--connections" => {
                args.connections = value.parse().map_err(|e| format!("{flag}: {e}"))?
            }
            "--seconds" => args.seconds = number(&value)?,
            "--warmup" => args.warmup = number(&value)?,
            "--chunk" => args.chunk = size(&value)?,
            "--window" => args.window = size(&value)?,
            other => return Err(format!("unknown flag `{other}`")),
        }
    }
    if args.window == 0 {
        args.window = 2 * args.chunk;
    }
    Ok(args)
}

fn run(args: &Args) -> Result<(), String> {
    let pattern: Vec<u8> = (0..args.chunk).map(|i| (i * 31 % 251) as u8).collect();
    let mut poll = Poll::new().map_err(|e| e.to_string())?;
    let mut conns = Vec::with_capacity(args.connections);
    for i in 0..args.connections {
        let std = std::net::TcpStream::connect(args.addr)
            .map_err(|e| format!("connecting to {}: {e}", args.addr))?;
        std.set_nodelay(true).map_err(|e| e.to_string())?;
        std.set_nonblocking(true).map_err(|e| e.to_string())?;
        let mut stream = TcpStream::from_std(std);
        poll.registry()
            .register(
                &mut stream,
                Token(i),
                Interest::READABLE | Interest::WRITABLE,
            )
            .map_err(|e| e.to_string())?;
        conns.push(Conn {
            stream,
            sent: 0,
            received: 0,
        });
    }
    let mut events = Events::with_capacity(1024);
    let mut scratch = vec![0u8; 256 * 1024];
    let start = Instant::now();
    let measure_from = start + Duration::from_secs_f64(args.warmup);
    let until = measure_from + Duration::from_secs_f64(args.seconds);
    let mut at_measure_start: Option<u64> = None;
    // Every connection starts writing without waiting for an event.
    for c in &mut conns {
        pump(c, &pattern, &mut scratch, args.window).map_err(|e| e.to_string())?;
    }
    loop {
        let now = Instant::now();
        if now >= until {
            break;
        }
        if at_measure_start.is_none() && now >= measure_from {
            at_measure_start = Some(conns.iter().map(|c| c.received).sum());
        }
        let wait = if at_measure_start.is_none() {
            measure_from - now
        } else {
            until - now
        };
        poll.poll(&mut events, Some(wait))
            .map_err(|e| e.to_string())?;
        for ev in &events {
            let c = &mut conns[ev.token().0];
            pump(c, &pattern, &mut scratch, args.window)
                .map_err(|e| format!("connection {}: {e}", ev.token().0))?;
        }
    }
    let measured = Instant::now() - measure_from;
    let total: u64 = conns.iter().map(|c| c.received).sum();
    let echoed = total - at_measure_start.unwrap_or(0);
    if echoed == 0 {
        return Err("nothing was echoed".into());
    }
    println!(
        "BENCH echo-{} throughput {:.0} B/s higher",
        args.connections,
        echoed as f64 / measured.as_secs_f64()
    );
    println!("BENCH echo-{} echoed {total} B higher", args.connections);
    Ok(())
}

/// Reads what was echoed (checking it) and writes while the window allows,
/// until the socket would block both ways.
fn pump(c: &mut Conn, pattern: &[u8], scratch: &mut [u8], window: usize) -> io::Result<()> {
    let chunk = pattern.len() as u64;
    loop {
        let mut progress = false;
        match c.stream.read(scratch) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                check(&scratch[..n], pattern, c.received)?;
                c.received += n as u64;
                progress = true;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => progress = true,
            Err(e) => return Err(e),
        }
        let room = window as u64 - (c.sent - c.received);
        if room > 0 {
            let off = (c.sent % chunk) as usize;
            let len = (pattern.len() - off).min(room as usize);
            match c.stream.write(&pattern[off..off + len]) {
                Ok(n) => {
                    c.sent += n as u64;
                    progress = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => progress = true,
                Err(e) => return Err(e),
            }
        }
        if !progress {
            return Ok(());
        }
    }
}

/// The echo at stream offset `at` must be the pattern's bytes there.
fn check(got: &[u8], pattern: &[u8], at: u64) -> io::Result<()> {
    let mut off = (at % pattern.len() as u64) as usize;
    let mut rest = got;
    while !rest.is_empty() {
        let n = rest.len().min(pattern.len() - off);
        if rest[..n] != pattern[off..off + n] {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("the echo differs from what was sent, near byte {at}"),
            ));
        }
        rest = &rest[n..];
        off = 0;
    }
    Ok(())
}
