//! `echo`: a TCP echo server and its client on one loop, on 127.0.0.1.
//!
//! The server pipes every connection into itself (`conn.pipe(conn)`). The
//! client sends three lines one at a time, each after the echo of the one
//! before, then 1 MiB in 64 KiB writes (stopping at `false`, going on at
//! `drain`), and ends its side right after the last write. What comes back is
//! counted and checksummed. Then the half-close plays out: the server sees
//! `end`, its writable side ends once the echo is written (the pipe ends it),
//! the client sees `end`, and both sockets close.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use eventide_loop_phases::{Loop, RunMode};
use eventide_streams::net::{Server, ServerOptions, Socket, SocketOptions};

use super::{Bytes, Demo, DemoEnv, at, ctx};

pub(crate) const DEMO: Demo = Demo {
    name: "echo",
    summary: "a TCP echo server (conn.pipe(conn)) and a client: lines, 1 MiB, half-close",
    watch_for: "\
The client sends lines, then 1 MiB, then end(): a half-close (FIN), while still reading.
Watch the server see `end`, finish writing the echo, end its own side, and the client
then see `end`. Rule: end() closes only the writing half; the other side keeps flowing
until it ends too, and `close` comes last on each socket.",
    run,
};

const LINES: [&str; 3] = ["hello\n", "from the event loop\n", "bye\n"];
const BULK: usize = 1024 * 1024;
const WRITE: usize = 64 * 1024;

/// FNV-1a, 64 bits: a checksum that any byte out of place changes.
#[derive(Clone, Copy)]
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn add(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// The demo's state, kept in the loop so every callback reaches it.
#[derive(Default)]
struct Echo {
    t0: Option<Instant>,
    client: Option<Socket>,
    /// The line whose echo is awaited; `LINES.len()` once the bulk started.
    line: usize,
    line_buf: Vec<u8>,
    /// Bulk chunks written so far.
    written: usize,
    bulk: Vec<Bytes>,
    sent_sum: Fnv,
    got: usize,
    got_chunks: usize,
    got_sum: Fnv,
    /// Stream events, in the order they came: `client end`, `server close`...
    events: Vec<String>,
}

fn say(lp: &mut Loop, who: &str, what: &str) {
    let t = lp.ext::<Echo>().t0.map_or(Duration::ZERO, |t| t.elapsed());
    let line = format!("  {}  {who:<6}  {what}", at(t));
    println!("{}", line.trim_end());
}

/// Prints a stream event and records it for the order check.
fn event(lp: &mut Loop, who: &str, name: &str, what: &str) {
    lp.ext::<Echo>().events.push(format!("{who} {name}"));
    say(lp, who, &format!("{name:<7} {what}"));
}

/// `1048576` as `1,048,576`.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// 1 MiB of varied bytes (xorshift), in 64 KiB chunks.
fn bulk() -> Vec<Bytes> {
    let mut x: u32 = 0x9e37_79b9;
    let data: Vec<u8> = (0..BULK)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    data.chunks(WRITE)
        .map(|c| Bytes::from(c.to_vec()))
        .collect()
}

fn run(env: &mut DemoEnv) -> Result<(), String> {
    let mut lp = env.new_loop();
    let bulk = bulk();
    let mut sent_sum = Fnv::default();
    bulk.iter().for_each(|c| sent_sum.add(c));
    let state = lp.ext::<Echo>();
    state.bulk = bulk;
    state.sent_sum = sent_sum;
    state.t0 = Some(Instant::now());

    let any: SocketAddr = ([127, 0, 0, 1], 0).into();
    let server = Server::listen_tcp(&mut lp, any, ServerOptions::default(), |lp, conn| {
        let peer = conn.peer_addr(lp).map_or("?".into(), |a| a.to_string());
        say(
            lp,
            "server",
            &format!("connection from {peer}: conn.pipe(conn)"),
        );
        conn.pipe(lp, conn.stream());
        conn.on_end(lp, move |lp| {
            let (read, written) = conn.bytes(lp);
            let what = format!(
                "the client sends no more: read {}, echoed {} so far",
                grouped(read),
                grouped(written)
            );
            event(lp, "server", "end", &what);
        });
        conn.on_finish(lp, move |lp| {
            let (_, written) = conn.bytes(lp);
            let what = format!(
                "echoed all {}; the pipe ended the server's side: FIN",
                grouped(written)
            );
            event(lp, "server", "finish", &what);
        });
        conn.on_close(lp, |lp| event(lp, "server", "close", ""));
        conn.on_error(lp, |lp, e| say(lp, "server", &format!("error: {e}")));
    })
    .map_err(ctx("listening on 127.0.0.1"))?;
    let addr = server.local_addr(&lp).ok_or("the server has no address")?;
    say(
        &mut lp,
        "server",
        &format!("listening on {addr}, every connection piped into itself"),
    );

    let client = Socket::connect_tcp(&mut lp, addr, SocketOptions::default());
    lp.ext::<Echo>().client = Some(client);
    client.on_connect(&mut lp, move |lp| {
        // One connection is all this demo needs.
        server.close(lp);
        say(lp, "client", "connected");
        send_line(lp, client);
    });
    client.on_data(&mut lp, move |lp, chunk| on_echo(lp, client, chunk));
    client.on_drain(&mut lp, move |lp| send_bulk(lp, client));
    client.on_finish(&mut lp, |lp| {
        event(
            lp,
            "client",
            "finish",
            "everything written, then FIN: half-closed",
        )
    });
    client.on_end(&mut lp, |lp| {
        let e = lp.ext::<Echo>();
        let what = format!(
            "the server is done too: got {} B of 1 MiB back in {} chunks",
            grouped(e.got as u64),
            e.got_chunks
        );
        event(lp, "client", "end", &what);
    });
    client.on_close(&mut lp, |lp| event(lp, "client", "close", ""));
    client.on_error(&mut lp, |lp, e| say(lp, "client", &format!("error: {e}")));
    lp.run(RunMode::Default);

    let e = lp.ext::<Echo>();
    let (sent, got) = (e.sent_sum.0, e.got_sum.0);
    println!();
    println!(
        "  1 MiB  sent {:>9} B in {:>2} writes, checksum {sent:016x}",
        grouped(BULK as u64),
        e.written,
    );
    println!(
        "         got  {:>9} B in {:>2} chunks, checksum {got:016x}  {}",
        grouped(e.got as u64),
        e.got_chunks,
        if e.got == BULK && got == sent {
            "✓"
        } else {
            "✗"
        }
    );
    println!("  events {}", e.events.join(" → "));
    if e.line < LINES.len() {
        return Err(format!(
            "only {} of {} lines came back",
            e.line,
            LINES.len()
        ));
    }
    if e.got != BULK || got != sent {
        return Err(format!(
            "the echo differs: {} B back of {BULK}, checksum {got:016x} vs {sent:016x}",
            e.got
        ));
    }
    check_order(&e.events)?;
    println!("  Rule: end() half-closes; the peer reads to its end, ends its own side, and each");
    println!("  socket emits close last, after both its end and its finish.");
    Ok(())
}

/// The half-close order, and `close` last on each socket.
fn check_order(events: &[String]) -> Result<(), String> {
    let pos = |name: &str| events.iter().position(|e| e == name);
    let chain = [
        "client finish",
        "server end",
        "server finish",
        "client end",
        "client close",
    ];
    let mut last = None;
    for name in chain {
        let Some(p) = pos(name) else {
            return Err(format!("no `{name}` event; events: {events:?}"));
        };
        if last.is_some_and(|l| p < l) {
            return Err(format!("`{name}` came out of order: {events:?}"));
        }
        last = Some(p);
    }
    let server_close = pos("server close").ok_or("no `server close` event")?;
    if pos("server end").is_some_and(|p| p > server_close)
        || pos("server finish").is_some_and(|p| p > server_close)
    {
        return Err(format!(
            "the server closed before its end/finish: {events:?}"
        ));
    }
    Ok(())
}

/// Sends the next line, or starts the bulk after the last one.
fn send_line(lp: &mut Loop, client: Socket) {
    let line = lp.ext::<Echo>().line;
    match LINES.get(line) {
        Some(text) => {
            client.write(lp, Bytes::from_static(text.as_bytes()));
        }
        None => {
            say(
                lp,
                "client",
                "sending 1 MiB in 64 KiB writes, stopping at false, going on at drain",
            );
            send_bulk(lp, client);
        }
    }
}

/// Writes bulk chunks until `write` says stop; `end` after the last one.
fn send_bulk(lp: &mut Loop, client: Socket) {
    loop {
        let e = lp.ext::<Echo>();
        let Some(chunk) = e.bulk.get(e.written).cloned() else {
            return;
        };
        e.written += 1;
        let last = e.written == e.bulk.len();
        let more = client.write(lp, chunk);
        if last {
            say(
                lp,
                "client",
                "end(): no more to send, still reading the echo",
            );
            client.end(lp, None);
            return;
        }
        if !more {
            return;
        }
    }
}

fn on_echo(lp: &mut Loop, client: Socket, chunk: Bytes) {
    let e = lp.ext::<Echo>();
    if e.line >= LINES.len() {
        e.got += chunk.len();
        e.got_chunks += 1;
        e.got_sum.add(&chunk);
        return;
    }
    e.line_buf.extend_from_slice(&chunk);
    let Some(end) = e.line_buf.iter().position(|&b| b == b'\n') else {
        return;
    };
    let echoed: Vec<u8> = e.line_buf.drain(..=end).collect();
    let sent = LINES[e.line];
    e.line += 1;
    let same = if echoed == sent.as_bytes() {
        "✓"
    } else {
        "✗"
    };
    say(
        lp,
        "client",
        &format!(
            "sent {sent:?} → echoed {:?} {same}",
            String::from_utf8_lossy(&echoed)
        ),
    );
    send_line(lp, client);
}
