//! Stream throughput and memory, for `cargo xtask bench streams` (which builds
//! it with `--release` and runs `xtask/bench/node/streams.js` beside it).
//!
//! ```text
//! cargo run --release --example bench_streams -p eventide-streams [WORKLOAD [MIB]]
//! cargo run --release --example bench_streams -p eventide-streams echo-server [PORT]
//! ```
//!
//! Workloads (both, in this order, without an argument; `cargo xtask bench`
//! runs each in a process of its own, so that the peak RSS is its own):
//!
//! - `pipe`: 1 GiB in 64 KiB chunks from a [`Readable`] whose source pushes
//!   clones of one pre-made `Bytes` (no per-chunk allocation of data), through
//!   [`Transform::pass_through`], into a [`Writable`] that discards. All
//!   high-water marks 64 KiB. Throughput (GB/s, 10^9 bytes), the peak bytes
//!   buffered by any of the three streams, peak RSS. `pipe MIB` moves MIB
//!   MiB instead (a few under `valgrind --tool=callgrind`, to count
//!   instructions per chunk).
//! - `slow-consumer`: 32 MiB in 64 KiB chunks, each freshly allocated and
//!   filled (so that unbounded buffering would show in the RSS), piped into a
//!   `Writable` that takes 1 ms per chunk (a timer completes each write).
//!   Peak bytes buffered, peak RSS and its growth during the workload, wall
//!   time: memory is bounded by the high-water marks, not the data size.
//! - `echo-server [PORT]`: not a workload but a server for the echo workload
//!   of `cargo xtask bench streams`: every connection is piped into itself.
//!   Prints `listening on ADDR` and runs until killed.
//!
//! Output: `BENCH <workload> <metric> <value> <unit> <higher|lower>` and
//! `NOTE <workload> <text>` lines, as every bench program.

use std::cell::Cell;
use std::io::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use eventide_loop_phases::{Loop, RunMode};
use eventide_streams::net::{Server, ServerOptions};
use eventide_streams::{
    Pipeline, Readable, Sink, Source, StreamError, StreamOptions, Transform, Writable, WriteStatus,
};

const CHUNK: usize = 64 * 1024;
const HIGH_WATER_MARK: usize = 64 * 1024;
const PIPE_BYTES: usize = 1 << 30;
const SLOW_BYTES: usize = 32 << 20;
const SLOW_PER_CHUNK: Duration = Duration::from_millis(1);

/// A workload: prints its `BENCH` lines, or says why it could not. The
/// argument is the optional size in MiB given after the workload's name.
type Workload = fn(Option<usize>) -> Result<(), String>;

const WORKLOADS: [(&str, Workload); 2] = [("pipe", pipe), ("slow-consumer", slow_consumer)];

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let only = args.next();
    if only.as_deref() == Some("echo-server") {
        let port = args.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        return match echo_server(port) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("bench_streams: echo-server: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let size_mib = match args.next().map(|a| a.parse::<usize>()) {
        None => None,
        Some(Ok(n)) if n > 0 => Some(n),
        Some(_) => {
            eprintln!("bench_streams: the size after the workload is a number of MiB, above 0");
            return ExitCode::from(2);
        }
    };
    let chosen: Vec<_> = WORKLOADS
        .iter()
        .filter(|(name, _)| only.as_deref().is_none_or(|o| o == *name))
        .collect();
    if chosen.is_empty() {
        let names: Vec<&str> = WORKLOADS.iter().map(|w| w.0).collect();
        eprintln!(
            "bench_streams: no workload `{}`; choose one of: {}, or echo-server [PORT]",
            only.unwrap_or_default(),
            names.join(", ")
        );
        return ExitCode::from(2);
    }
    for (name, f) in chosen {
        if let Err(e) = f(size_mib) {
            eprintln!("bench_streams: {name}: {e}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

fn bench(workload: &str, metric: &str, value: f64, unit: &str, higher_is_better: bool) {
    let better = if higher_is_better { "higher" } else { "lower" };
    let digits = if value >= 1000.0 { 0 } else { 2 };
    println!("BENCH {workload} {metric} {value:.digits$} {unit} {better}");
}

/// Every stream of a workload: high-water marks of 64 KiB, and no
/// auto-destroy, so that their peak lengths can be read after the run.
fn options(label: &'static str) -> StreamOptions {
    StreamOptions {
        auto_destroy: false,
        ..StreamOptions::default()
            .high_water_mark(HIGH_WATER_MARK)
            .label(label)
    }
}

/// Pushes `left` chunks: clones of one buffer, or fresh ones.
struct Chunks {
    left: usize,
    chunk: Bytes,
    fresh: bool,
}

impl Source<Bytes> for Chunks {
    fn read(&mut self, lp: &mut Loop, stream: Readable<Bytes>, _size: usize) {
        loop {
            if self.left == 0 {
                stream.push_eof(lp);
                return;
            }
            self.left -= 1;
            let chunk = if self.fresh {
                // Filled, not zeroed: calloc'd pages would not count in the RSS.
                Bytes::from(vec![1u8; CHUNK])
            } else {
                self.chunk.clone()
            };
            if !stream.push(lp, chunk) {
                return;
            }
        }
    }
}

/// Bytes that reached the end of a pipeline.
#[derive(Default)]
struct Received(usize);

/// How a pipeline ended.
#[derive(Default)]
struct Outcome(Option<Result<(), StreamError>>);

fn pipe(size_mib: Option<usize>) -> Result<(), String> {
    let bytes = size_mib.map_or(PIPE_BYTES, |n| n << 20);
    let peak_reset = reset_peak_rss();
    let mut lp = Loop::try_new().map_err(|e| e.to_string())?;
    let src = Readable::new(
        &mut lp,
        Chunks {
            left: bytes / CHUNK,
            chunk: Bytes::from(vec![1u8; CHUNK]),
            fresh: false,
        },
        options("source"),
    );
    let through = Transform::<Bytes>::pass_through(&mut lp, options("pass-through"));
    // Counted in the closure, as Node's sink counts in a closure variable.
    let received = Rc::new(Cell::new(0));
    let count = received.clone();
    let sink = Writable::from_fn(&mut lp, options("discard"), move |_, b: Bytes| {
        count.set(count.get() + b.len());
        Ok(())
    });
    let t0 = Instant::now();
    Pipeline::new(src)
        .pipe(&mut lp, through)
        .finish(&mut lp, sink, |lp, r| lp.ext::<Outcome>().0 = Some(r));
    lp.run(RunMode::Default);
    let took = t0.elapsed();
    lp.ext::<Received>().0 = received.get();
    check(&mut lp, bytes)?;
    let peak = [
        src.readable_peak_length(&lp),
        through.writable_peak_length(&lp),
        through.readable_peak_length(&lp),
        sink.writable_peak_length(&lp),
    ]
    .into_iter()
    .max()
    .unwrap_or(0);
    bench(
        "pipe",
        "throughput",
        bytes as f64 / took.as_secs_f64() / 1e9,
        "GB/s",
        true,
    );
    bench("pipe", "peak_buffered", peak as f64 / 1024.0, "KiB", false);
    bench("pipe", "peak_rss", mib(peak_rss()?), "MiB", false);
    println!(
        "NOTE pipe {} MiB, 64 KiB chunks, Readable -> PassThrough -> discarding Writable, hwm 64 KiB",
        bytes >> 20
    );
    if !peak_reset {
        println!("NOTE pipe peak_rss is the process peak (could not reset VmHWM)");
    }
    Ok(())
}

/// Takes `SLOW_PER_CHUNK` per chunk: a timer completes each write.
struct Slow;

impl Sink<Bytes> for Slow {
    fn write(&mut self, lp: &mut Loop, w: Writable<Bytes>, chunk: Bytes) -> WriteStatus {
        lp.ext::<Received>().0 += chunk.len();
        lp.set_timeout(SLOW_PER_CHUNK, move |lp| w.complete_write(lp, Ok(())));
        WriteStatus::Pending
    }
}

fn slow_consumer(_size_mib: Option<usize>) -> Result<(), String> {
    let peak_reset = reset_peak_rss();
    let rss0 = current_rss()?;
    let mut lp = Loop::try_new().map_err(|e| e.to_string())?;
    let src = Readable::new(
        &mut lp,
        Chunks {
            left: SLOW_BYTES / CHUNK,
            chunk: Bytes::new(),
            fresh: true,
        },
        options("source"),
    );
    let slow = Writable::new(&mut lp, Slow, options("slow"));
    let t0 = Instant::now();
    Pipeline::new(src).finish(&mut lp, slow, |lp, r| lp.ext::<Outcome>().0 = Some(r));
    lp.run(RunMode::Default);
    let took = t0.elapsed();
    check(&mut lp, SLOW_BYTES)?;
    let peak = src
        .readable_peak_length(&lp)
        .max(slow.writable_peak_length(&lp));
    let rss = peak_rss()?;
    bench(
        "slow-consumer",
        "peak_buffered",
        peak as f64 / 1024.0,
        "KiB",
        false,
    );
    bench("slow-consumer", "peak_rss", mib(rss), "MiB", false);
    bench(
        "slow-consumer",
        "rss_growth",
        mib(rss.saturating_sub(rss0)),
        "MiB",
        false,
    );
    bench(
        "slow-consumer",
        "wall",
        took.as_secs_f64() * 1e3,
        "ms",
        false,
    );
    println!(
        "NOTE slow-consumer 32 MiB in 512 fresh 64 KiB chunks into a Writable taking 1 ms (a timer) per chunk"
    );
    println!(
        "NOTE slow-consumer rss_growth = peak RSS - RSS before the workload; wall = 512 timer hops"
    );
    if !peak_reset {
        println!("NOTE slow-consumer peak_rss is the process peak (could not reset VmHWM)");
    }
    Ok(())
}

/// The pipeline succeeded and every byte arrived.
fn check(lp: &mut Loop, expected: usize) -> Result<(), String> {
    match lp.ext::<Outcome>().0.take() {
        Some(Ok(())) => {}
        Some(Err(e)) => return Err(format!("the pipeline failed: {e}")),
        None => return Err("the pipeline never finished".into()),
    }
    let got = lp.ext::<Received>().0;
    if got != expected {
        return Err(format!("{got} of {expected} bytes arrived"));
    }
    Ok(())
}

/// An echo server: every connection piped into itself, until killed.
fn echo_server(port: u16) -> Result<(), String> {
    let mut lp = Loop::try_new().map_err(|e| e.to_string())?;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let server = Server::listen_tcp(&mut lp, addr, ServerOptions::default(), |lp, conn| {
        // A load generator that goes away resets its connections: not an error here.
        conn.on_error(lp, |_, _| {});
        conn.pipe(lp, conn.stream());
    })
    .map_err(|e| format!("listening on {addr}: {e}"))?;
    let addr = server.local_addr(&lp).ok_or("the server has no address")?;
    println!("listening on {addr}");
    std::io::stdout().flush().map_err(|e| e.to_string())?;
    lp.run(RunMode::Default);
    Ok(())
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// A `/proc/self/status` field in kB, as bytes.
fn status_field(name: &str) -> Result<u64, String> {
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| format!("reading /proc/self/status (Linux only): {e}"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kib| kib * 1024)
        .ok_or_else(|| format!("no {name} line in /proc/self/status"))
}

/// Peak resident set size (`VmHWM`), in bytes.
fn peak_rss() -> Result<u64, String> {
    status_field("VmHWM:")
}

/// Resident set size now (`VmRSS`), in bytes.
fn current_rss() -> Result<u64, String> {
    status_field("VmRSS:")
}

/// Resets `VmHWM` to the current RSS (Linux 4.0 and later), so that the peak
/// measured next is the workload's. Returns whether it worked.
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}
