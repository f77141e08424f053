//! `transform-order`: the article's case, where re-scheduling parsing with a
//! zero timer reorders data, and a Transform keeps it in order.
//!
//! Fourteen length-prefixed frames (4-byte big-endian length, then a payload
//! that names the frame: `#07....`) are cut into five chunks so that most
//! chunks hold several frames and four frames span two chunks. A client on
//! 127.0.0.1 writes one chunk per loop iteration (an immediate chain), so each
//! arrives as its own `data` event, microseconds apart: faster than a zero
//! timer (1 ms) fires.
//!
//! - Run 1: the server socket's `data` handler is the article's
//!   `getDataWithTimeout`: it processes one frame and re-schedules the rest of
//!   its chunk with `set_timeout(0)` (it keeps an incomplete last frame for
//!   the next chunk, so that frames spanning chunks stay whole). The next
//!   chunk's `data` comes before that timer: its first frame goes out first.
//! - Run 2: the same parsing as a Transform (`Cleanser`) that returns
//!   `Step::Pending` and calls `ctx.done` from its last zero timer. The stream
//!   hands it the next chunk only then, so frames come out in order.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use eventide_loop_phases::{Loop, RunMode};
use eventide_streams::net::{Server, ServerOptions, Socket, SocketOptions};
use eventide_streams::{Step, StreamOptions, Transform, TransformCtx, Transformer};

use super::{Bytes, Demo, DemoEnv, at, ctx};

pub(crate) const DEMO: Demo = Demo {
    name: "transform-order",
    summary: "parsing re-scheduled with a zero timer reorders frames; a Transform keeps order",
    watch_for: "\
14 length-prefixed frames cross TCP on 127.0.0.1 in 5 chunks, one chunk per iteration.
Run 1 parses one frame per data event and the rest of its chunk from a zero timer (the
article's getDataWithTimeout): the next chunk's data runs first. Rule: a Transform's
callback gates the next chunk, so the same zero-timer parsing keeps frames in order.",
    run,
};

/// Payload lengths of frames 1..=14; with the 4-byte prefix, 161 bytes.
const PAYLOADS: [usize; 14] = [8, 5, 12, 6, 9, 4, 10, 7, 5, 11, 6, 8, 9, 5];
/// Where the wire is cut into chunks: inside frames 4, 7, 9 and 12.
const CUTS: [usize; 4] = [40, 72, 100, 131];
const PREFIX: usize = 4;

/// Frame `n` on the wire: length, then `#nn` padded with dots.
fn frame(n: usize, len: usize) -> Vec<u8> {
    let mut payload = format!("#{n:02}").into_bytes();
    payload.resize(len, b'.');
    let mut out = (len as u32).to_be_bytes().to_vec();
    out.extend_from_slice(&payload);
    out
}

/// The frame number a payload names.
fn number(payload: &[u8]) -> u32 {
    std::str::from_utf8(&payload[1..3.min(payload.len())])
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Bytes at the front of `buf` that form whole frames.
fn whole_frames_len(buf: &[u8]) -> usize {
    let mut at = 0;
    while let Some(head) = buf.get(at..at + PREFIX) {
        let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
        if buf.len() < at + PREFIX + len {
            break;
        }
        at += PREFIX + len;
    }
    at
}

/// Splits the first frame off `buf` (which holds at least one whole frame)
/// and returns its number.
fn take_frame(buf: &mut Vec<u8>) -> u32 {
    let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
    let n = number(&buf[PREFIX..PREFIX + len]);
    buf.drain(..PREFIX + len);
    n
}

/// The wire, cut into chunks.
fn chunks() -> Vec<Vec<u8>> {
    let wire: Vec<u8> = PAYLOADS
        .iter()
        .enumerate()
        .flat_map(|(i, &len)| frame(i + 1, len))
        .collect();
    let mut out = Vec::new();
    let mut from = 0;
    for cut in CUTS.into_iter().chain([wire.len()]) {
        out.push(wire[from..cut].to_vec());
        from = cut;
    }
    out
}

/// What each chunk holds: `…4 5 6 7…` (a frame that started before, whole
/// ones, one that goes on in the next chunk).
fn describe(chunks: &[Vec<u8>]) -> Vec<String> {
    let mut ends = Vec::new();
    let mut at = 0;
    for &len in &PAYLOADS {
        ends.push((at, at + PREFIX + len));
        at += PREFIX + len;
    }
    let mut from = 0;
    chunks
        .iter()
        .map(|c| {
            let to = from + c.len();
            let mut s = String::new();
            for (i, &(start, end)) in ends.iter().enumerate() {
                if end <= from || start >= to {
                    continue;
                }
                let head = if start < from { "…" } else { "" };
                let tail = if end > to { "…" } else { "" };
                let _ = write!(s, " {head}{}{tail}", i + 1);
            }
            from = to;
            s
        })
        .collect()
}

/// One line of a run's log.
struct Step1 {
    at: Duration,
    phase: &'static str,
    what: String,
    frames: Vec<u32>,
}

/// One run's state, kept in the loop so every callback reaches it.
#[derive(Default)]
struct Rx {
    t0: Option<Instant>,
    /// Connected (client) and accepted (server): sending starts at 2.
    ready: u8,
    /// Run 1: an incomplete frame kept for the next chunk. Run 2: the
    /// transform's input buffer.
    buf: Vec<u8>,
    data_events: usize,
    /// When each socket `data` event came (run 2 shows how long it waited).
    arrived: Vec<Duration>,
    transform_calls: usize,
    out: Vec<u32>,
    log: Vec<Step1>,
}

fn since(lp: &mut Loop) -> Duration {
    lp.ext::<Rx>().t0.map_or(Duration::ZERO, |t| t.elapsed())
}

/// Records that frame `n` came out, in the log's current line.
fn emit(lp: &mut Loop, n: u32) {
    let rx = lp.ext::<Rx>();
    rx.out.push(n);
    if let Some(line) = rx.log.last_mut() {
        line.frames.push(n);
    }
}

fn log(lp: &mut Loop, what: String) {
    let (at, phase) = (since(lp), lp.phase().name());
    lp.ext::<Rx>().log.push(Step1 {
        at,
        phase,
        what,
        frames: Vec::new(),
    });
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    ZeroTimer,
    Transform,
}

fn run(env: &mut DemoEnv) -> Result<(), String> {
    let chunks = chunks();
    let total: usize = chunks.iter().map(Vec::len).sum();
    println!(
        "  the wire: {} frames (4-byte BE length + payload \"#nn...\"), {total} B in {} chunks",
        PAYLOADS.len(),
        chunks.len()
    );
    for (i, (c, what)) in chunks.iter().zip(describe(&chunks)).enumerate() {
        println!("    chunk {}  {:>3} B  frames{what}", i + 1, c.len());
    }

    println!(
        "\n  run 1: socket.on_data → process one frame, set_timeout(0) for the rest of its chunk"
    );
    let first = run_once(env, &chunks, Mode::ZeroTimer)?;
    print_log(&first.log, true);
    let reordered = first.out.windows(2).any(|w| w[0] > w[1]);
    println!(
        "  {:>11}  frames out: {}   {}",
        "",
        sequence(&first.out),
        if reordered {
            "✗ OUT OF ORDER"
        } else {
            "in order?!"
        }
    );

    println!(
        "\n  run 2: socket.pipe(Cleanser): a Transform, Step::Pending, ctx.done from the timer"
    );
    let second = run_once(env, &chunks, Mode::Transform)?;
    print_log(&second.log, false);
    let in_order: Vec<u32> = (1..=PAYLOADS.len() as u32).collect();
    let ok = second.out == in_order;
    println!(
        "  {:>11}  frames out: {}   {}",
        "",
        sequence(&second.out),
        if ok {
            "✓ in order"
        } else {
            "✗ not in order"
        }
    );

    let mut sorted = first.out.clone();
    sorted.sort_unstable();
    if sorted != in_order {
        return Err(format!("run 1 lost or broke frames: {:?}", first.out));
    }
    if !reordered {
        return Err(
            "run 1 came out in order: each chunk arrived only after the previous chunk's \
             timers ran (a loop stalled for over 1 ms?); run the demo again"
                .into(),
        );
    }
    if !ok {
        return Err(format!(
            "the Transform let frames out of order: {:?}",
            second.out
        ));
    }
    println!("\n  In run 1 each chunk's rest waits for a timer while the next chunk's data event");
    println!("  runs first. In run 2 the next chunk waits in the Transform's writable buffer.");
    println!(
        "  Rule: a Transform's callback (ctx.done) gates the next chunk, so re-scheduled work"
    );
    println!("  keeps the data in order; a zero timer alone does not.");
    Ok(())
}

fn sequence(out: &[u32]) -> String {
    out.iter().map(u32::to_string).collect::<Vec<_>>().join(" ")
}

/// Prints a run's log; `mark` flags frames that overtook an earlier one.
fn print_log(log: &[Step1], mark: bool) {
    let mut done: Vec<u32> = Vec::new();
    for line in log {
        let frames = sequence(&line.frames);
        let mut note = String::new();
        for &n in &line.frames {
            let missing = (1..n).find(|m| !done.contains(m));
            if let (true, Some(m), true) = (mark, missing, note.is_empty()) {
                note = format!("  ← ahead of frame {m}");
            }
            done.push(n);
        }
        let arrow = if frames.is_empty() { "" } else { "→ frame " };
        println!(
            "  {}  {:<7} {:<44} {arrow}{frames}{note}",
            at(line.at),
            line.phase,
            line.what
        );
    }
}

/// One run over a fresh loop, server and client.
fn run_once(env: &mut DemoEnv, chunks: &[Vec<u8>], mode: Mode) -> Result<Rx, String> {
    let mut lp = env.new_loop();
    let any: SocketAddr = ([127, 0, 0, 1], 0).into();
    let chunks: Vec<Bytes> = chunks.iter().map(|c| Bytes::from(c.clone())).collect();
    let to_send = chunks.clone();
    let server = Server::listen_tcp(&mut lp, any, ServerOptions::default(), move |lp, conn| {
        receive(lp, conn, mode);
        ready(lp, &to_send);
    })
    .map_err(ctx("listening on 127.0.0.1"))?;
    let addr = server.local_addr(&lp).ok_or("the server has no address")?;
    let client = Socket::connect_tcp(&mut lp, addr, SocketOptions::default());
    lp.ext::<Client>().0 = Some(client);
    client.on_connect(&mut lp, move |lp| ready(lp, &chunks));
    // The server never writes; reading lets the client see its end and close.
    client.resume(&mut lp);
    client.on_error(&mut lp, |_, e| println!("  client error: {e}"));
    lp.ext::<Listener>().0 = Some(server);
    lp.run(RunMode::Default);
    Ok(std::mem::take(lp.ext::<Rx>()))
}

#[derive(Default)]
struct Client(Option<Socket>);

#[derive(Default)]
struct Listener(Option<Server>);

/// Counts the two sides ready; once both are, sends one chunk per iteration.
fn ready(lp: &mut Loop, chunks: &[Bytes]) {
    let rx = lp.ext::<Rx>();
    rx.ready += 1;
    if rx.ready < 2 {
        return;
    }
    rx.t0 = Some(Instant::now());
    // One connection is all this demo needs.
    if let Some(s) = lp.ext::<Listener>().0.take() {
        s.close(lp);
    }
    let Some(client) = lp.ext::<Client>().0 else {
        return;
    };
    // From an immediate, as every later chunk: each is written in a check
    // phase and read in the next iteration's poll, on its own.
    let chunks = chunks.to_vec();
    lp.set_immediate(move |lp| send(lp, client, chunks, 0));
}

/// Writes chunk `i`, and the next one from an immediate: one per iteration.
fn send(lp: &mut Loop, client: Socket, chunks: Vec<Bytes>, i: usize) {
    client.write(lp, chunks[i].clone());
    if i + 1 < chunks.len() {
        lp.set_immediate(move |lp| send(lp, client, chunks, i + 1));
    } else {
        client.end(lp, None);
    }
}

/// The server side of the connection, in the run's mode.
fn receive(lp: &mut Loop, conn: Socket, mode: Mode) {
    conn.on_error(lp, |_, e| println!("  server socket error: {e}"));
    match mode {
        Mode::ZeroTimer => {
            conn.on_data(lp, get_data_with_timeout_on_data);
        }
        Mode::Transform => {
            conn.on_data(lp, |lp, _| {
                let t = since(lp);
                lp.ext::<Rx>().arrived.push(t);
            });
            let cleanser = Transform::with_transformer(
                lp,
                Cleanser,
                StreamOptions::default().label("cleanser"),
            );
            cleanser.on_data(lp, |lp, frame: Bytes| emit(lp, number(&frame)));
            cleanser.on_error(lp, |_, e| println!("  cleanser error: {e}"));
            conn.pipe(lp, cleanser);
        }
    }
}

/// Run 1, the `data` handler: keeps an incomplete last frame for the next
/// chunk, and hands the whole frames to the article's function.
fn get_data_with_timeout_on_data(lp: &mut Loop, chunk: Bytes) {
    let rx = lp.ext::<Rx>();
    rx.data_events += 1;
    let k = rx.data_events;
    let mut data = std::mem::take(&mut rx.buf);
    data.extend_from_slice(&chunk);
    let whole = whole_frames_len(&data);
    rx.buf = data.split_off(whole);
    if whole == 0 {
        log(
            lp,
            format!("data {k} ({} B): no whole frame yet", chunk.len()),
        );
        return;
    }
    log(lp, format!("data {k} ({} B)", chunk.len()));
    get_data_with_timeout(lp, data, k);
}

/// The article's `getDataWithTimeout`: process one frame; if data is left,
/// `setTimeout(getDataWithTimeout, 0, data)`.
fn get_data_with_timeout(lp: &mut Loop, mut data: Vec<u8>, k: usize) {
    let n = take_frame(&mut data);
    emit(lp, n);
    if !data.is_empty() {
        lp.set_timeout(Duration::ZERO, move |lp| {
            log(lp, format!("timeout: the rest of data {k}"));
            get_data_with_timeout(lp, data, k);
        });
    }
}

/// Run 2: the article's `Cleanser`, the same parsing as a Transform.
struct Cleanser;

impl Transformer<Bytes, Bytes> for Cleanser {
    fn transform(&mut self, lp: &mut Loop, ctx: TransformCtx<Bytes, Bytes>, chunk: Bytes) -> Step {
        let rx = lp.ext::<Rx>();
        rx.transform_calls += 1;
        let k = rx.transform_calls;
        let arrived = rx.arrived.get(k - 1).copied();
        rx.buf.extend_from_slice(&chunk);
        let waited = match arrived {
            Some(a) => format!(", came at {}", at(a).trim()),
            None => String::new(),
        };
        log(
            lp,
            format!("transform(data {k}, {} B{waited})", chunk.len()),
        );
        if whole_frames_len(&lp.ext::<Rx>().buf) == 0 {
            return Step::Done;
        }
        if cleanse(lp, ctx) {
            Step::Pending // ctx.done comes from the last timer
        } else {
            Step::Done
        }
    }
}

/// Pushes one frame; if another whole frame is buffered, re-schedules itself
/// with a zero timer and returns `true`. The last one calls `ctx.done`.
fn cleanse(lp: &mut Loop, ctx: TransformCtx<Bytes, Bytes>) -> bool {
    let rx = lp.ext::<Rx>();
    let len = u32::from_be_bytes([rx.buf[0], rx.buf[1], rx.buf[2], rx.buf[3]]) as usize;
    let frame: Vec<u8> = rx.buf.drain(..PREFIX + len).skip(PREFIX).collect();
    ctx.push(lp, Bytes::from(frame));
    if whole_frames_len(&lp.ext::<Rx>().buf) == 0 {
        return false;
    }
    lp.set_timeout(Duration::ZERO, move |lp| {
        log(lp, "timeout: the rest of the chunk".into());
        if !cleanse(lp, ctx) {
            ctx.done(lp, Ok(()));
        }
    });
    true
}
