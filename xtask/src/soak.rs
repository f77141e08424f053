//! `cargo xtask soak --seconds N [--release] [--clients K]`: the static file
//! server under a hostile mixed load for N seconds, then checks that nothing
//! was lost, mixed up or leaked.
//!
//! # What runs
//!
//! `eventide serve DIR --port 0 --quiet` (built with `cargo build -p
//! eventide-cli`, debug unless `--release`, so that CI reuses its test
//! build) on a temporary directory of files with known bytes, 1 byte to
//! 1 MiB, some in subdirectories. K client threads (default 6) then pick,
//! by weight, among: keep-alive GETs, new-connection GETs with `Connection:
//! close`, pipelined GETs (4–16 in one write, some Range and HEAD, answers
//! matched in order), HEADs, Range GETs (closed, open and suffix ranges,
//! exact slices and `Content-Range`), the listing of a subdirectory,
//! uploads with chunked bodies (POST, answered 405: the first answer is
//! recorded and every later one must be the same, `Date` aside, and the
//! connection must then serve a GET), heads sent a byte at a time (well
//! within the headers timeout, answered exactly), garbage (400 and close)
//! and resets (half a request, then RST). One more thread reads the 1 MiB
//! file at ~100 KiB/s for 3 s, then at full speed, again and again. The
//! client is a separate small HTTP reader (`soak/client.rs`), not the
//! server's own parser.
//!
//! # Checks (any failure exits non-zero, naming the check)
//!
//! - **mismatches = 0**: every answer is compared byte for byte with what
//!   its request must get; a response sent to the wrong request differs
//!   (every file's bytes are unique).
//! - **errors = 0**: no timeout, early close, reset or malformed answer to
//!   a request that deserved an answer.
//! - **every kind ran** at least once.
//! - **memory**: the server's `VmRSS` at the end is at most
//!   `max(warm-up + 16 MiB, 1.5 × warm-up)`, warm-up being the RSS at 20% of
//!   the run. Both parts: 16 MiB absorbs allocator noise and the per-
//!   connection buffers of the clients at the moment of sampling when the
//!   warm-up RSS is small (a debug server starts near 10 MiB); 1.5× is the
//!   bound once it is large. A leak of one buffer per request (tens of
//!   thousands of requests) exceeds both.
//! - **descriptors**: `/proc/PID/fd` after the clients closed is the count
//!   at the start ± 2 (timing: a lingering close, the work pool's reads),
//!   waited for up to 10 s.
//! - **a final GET** on a new connection is exact.
//! - **SIGTERM** shuts the server down with exit status 0 within 15 s.

mod client;
mod load;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::cmd::{cargo, root, run as run_cmd};
use load::{Counts, Kind, Shared, Site};

const MIB: u64 = 1024 * 1024;
/// Allowed RSS growth from warm-up to the end, absolute...
const RSS_HEADROOM: u64 = 16 * MIB;
/// ...or relative, whichever is larger.
const RSS_RATIO: f64 = 1.5;
/// Descriptors at the end may differ from the start by this much.
const FD_SLACK: usize = 2;
/// How long the server may take to exit after SIGTERM (its grace is 10 s).
const EXIT_WITHIN: Duration = Duration::from_secs(15);

struct Options {
    seconds: u64,
    release: bool,
    clients: usize,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        seconds: 60,
        release: false,
        clients: 6,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seconds" => {
                o.seconds = it
                    .next()
                    .and_then(|s| s.parse().ok())
                    .filter(|&s| s > 0)
                    .ok_or("--seconds takes a whole number of seconds, at least 1")?;
            }
            "--clients" => {
                o.clients = it
                    .next()
                    .and_then(|s| s.parse().ok())
                    .filter(|&n| n > 0)
                    .ok_or("--clients takes a number of client threads, at least 1")?;
            }
            "--release" => o.release = true,
            other => {
                return Err(format!(
                    "unexpected argument `{other}`\n\
                     usage: cargo xtask soak [--seconds N] [--release] [--clients K]"
                ));
            }
        }
    }
    Ok(o)
}

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let o = parse(args)?;
    let profile = if o.release { "release" } else { "debug" };
    let mut build = cargo();
    build.args(["build", "-p", "eventide-cli"]);
    if o.release {
        build.arg("--release");
    }
    run_cmd(build)?;
    let bin = target_dir().join(profile).join("eventide");

    let dir = TempDir::new()?;
    let site = Site::create(&dir.0).map_err(|e| format!("writing the soak files: {e}"))?;
    let mut server = ServerProcess::start(&bin, &dir.0)?;
    let fds_start = server.fds()?;
    let rss_start = server.rss()?;
    let shared = Arc::new(Shared::new(server.addr, site));
    eprintln!(
        "\nsoak: {} s, {} client threads + 1 slow reader, against {} (pid {}, {profile})",
        o.seconds,
        o.clients,
        server.addr,
        server.pid()
    );

    let mut threads = Vec::new();
    for i in 0..o.clients {
        let s = shared.clone();
        threads.push(std::thread::spawn(move || load::worker(&s, i as u64 + 1)));
    }
    let s = shared.clone();
    threads.push(std::thread::spawn(move || load::slow_reader(&s)));

    // Watch the server while the load runs.
    let started = Instant::now();
    let run_for = Duration::from_secs(o.seconds);
    let warm_at = run_for / 5;
    let mut rss_warm = None;
    let mut rss_peak = rss_start;
    let mut next_report = Duration::from_secs(10);
    let mut died = None;
    while started.elapsed() < run_for {
        std::thread::sleep(Duration::from_millis(250));
        if let Some(status) = server.exited() {
            died = Some(status);
            break;
        }
        let rss = server.rss()?;
        rss_peak = rss_peak.max(rss);
        if rss_warm.is_none() && started.elapsed() >= warm_at {
            rss_warm = Some(rss);
        }
        if started.elapsed() >= next_report {
            next_report += Duration::from_secs(10);
            eprintln!(
                "soak: {:>4} s  {:>8} requests  RSS {:.1} MiB",
                started.elapsed().as_secs(),
                shared.sent.load(Ordering::Relaxed),
                rss as f64 / MIB as f64
            );
        }
    }
    shared.stop.store(true, Ordering::SeqCst);
    for t in threads {
        t.join().map_err(|_| "a client thread panicked")?;
    }
    if let Some(status) = died {
        return Err(format!(
            "check `server alive` failed: the server exited ({status})"
        ));
    }

    let mut failed: Vec<String> = Vec::new();
    let tally = std::mem::take(&mut *shared.tally.lock().expect("tally lock"));
    print_table(&tally.counts);
    let total = tally
        .counts
        .values()
        .fold(Counts::default(), |a, c| Counts {
            sent: a.sent + c.sent,
            exact: a.exact + c.exact,
            mismatch: a.mismatch + c.mismatch,
            error: a.error + c.error,
        });
    if !tally.classes.is_empty() {
        eprintln!("failures by kind and class:");
        for (class, n) in &tally.classes {
            eprintln!("  {n:>6}  {class}");
        }
        eprintln!("first failures:");
        for s in &tally.samples {
            eprintln!("  {s}");
        }
    }
    if total.mismatch > 0 {
        failed.push(format!("mismatches = 0 ({} mismatched)", total.mismatch));
    }
    if total.error > 0 {
        failed.push(format!("errors = 0 ({} errors)", total.error));
    }
    let missing: Vec<&str> = Kind::ALL
        .iter()
        .filter(|k| tally.counts.get(k).is_none_or(|c| c.sent == 0))
        .map(|k| k.name())
        .collect();
    if !missing.is_empty() {
        failed.push(format!("every kind ran (none of: {})", missing.join(", ")));
    }

    // Descriptors: the clients are gone; the server's count comes back.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut fds_end = server.fds()?;
    while fds_end > fds_start + FD_SLACK && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        fds_end = server.fds()?;
    }
    let fds_ok = fds_end.abs_diff(fds_start) <= FD_SLACK;
    eprintln!(
        "server descriptors: {fds_start} at the start, {fds_end} at the end (allowed ± {FD_SLACK})"
    );
    if !fds_ok {
        failed.push(format!(
            "descriptors back to the start ± {FD_SLACK} ({fds_start} -> {fds_end})"
        ));
    }

    let rss_end = server.rss()?;
    let rss_warm = rss_warm.unwrap_or(rss_start);
    let bound = (rss_warm + RSS_HEADROOM).max((rss_warm as f64 * RSS_RATIO) as u64);
    let mib = |b: u64| b as f64 / MIB as f64;
    eprintln!(
        "server RSS: start {:.1} MiB, warm-up (at {} s) {:.1} MiB, peak {:.1} MiB, end {:.1} MiB \
         (bound {:.1} MiB)",
        mib(rss_start),
        warm_at.as_secs(),
        mib(rss_warm),
        mib(rss_peak),
        mib(rss_end),
        mib(bound)
    );
    if rss_end > bound {
        failed.push(format!(
            "memory (end RSS {:.1} MiB over the bound {:.1} MiB)",
            mib(rss_end),
            mib(bound)
        ));
    }

    match load::final_get(&shared) {
        Ok(()) => eprintln!("final GET: exact"),
        Err(e) => failed.push(format!("final GET ({e})")),
    }

    match server.terminate() {
        Ok(took) => eprintln!("SIGTERM: exit status 0 after {took:?}"),
        Err(e) => failed.push(format!("SIGTERM shutdown ({e})")),
    }

    if failed.is_empty() {
        eprintln!(
            "soak: passed: {} requests, {} exact, 0 mismatches, 0 errors",
            total.sent, total.exact
        );
        Ok(())
    } else {
        Err(format!(
            "soak failed these checks:\n  {}",
            failed.join("\n  ")
        ))
    }
}

fn print_table(counts: &std::collections::BTreeMap<Kind, Counts>) {
    eprintln!(
        "\n{:<22} {:>9} {:>9} {:>9} {:>7}",
        "kind", "sent", "exact", "mismatch", "error"
    );
    let mut total = Counts::default();
    for kind in Kind::ALL {
        let c = counts.get(&kind).copied().unwrap_or_default();
        eprintln!(
            "{:<22} {:>9} {:>9} {:>9} {:>7}",
            kind.name(),
            c.sent,
            c.exact,
            c.mismatch,
            c.error
        );
        total.sent += c.sent;
        total.exact += c.exact;
        total.mismatch += c.mismatch;
        total.error += c.error;
    }
    eprintln!(
        "{:<22} {:>9} {:>9} {:>9} {:>7}\n",
        "total", total.sent, total.exact, total.mismatch, total.error
    );
}

/// Cargo's target directory (`CARGO_TARGET_DIR`, relative to the root, or
/// `target`).
fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root().join(dir),
        None => root().join("target"),
    }
}

/// The served directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Result<TempDir, String> {
        let dir = std::env::temp_dir().join(format!("eventide-soak-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        Ok(TempDir(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `eventide serve`, killed by its pid if still running when dropped.
struct ServerProcess {
    child: Child,
    addr: SocketAddr,
}

impl ServerProcess {
    fn start(bin: &Path, dir: &Path) -> Result<ServerProcess, String> {
        let mut child = Command::new(bin)
            .arg("serve")
            .arg(dir)
            .args(["--port", "0", "--quiet"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("starting {}: {e}", bin.display()))?;
        let stdout = child.stdout.take().expect("piped stdout");
        let mut server = ServerProcess {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        };
        // Read lines until the address; keep draining stdout after it.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.split("listening on ").nth(1) {
                    let addr = addr.trim().trim_start_matches("http://").to_string();
                    let _ = tx.send(addr);
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(20))
            .map_err(|_| "the server did not print `listening on ADDR` within 20 s".to_string())?;
        server.addr = addr
            .parse()
            .map_err(|_| format!("the server printed an address that does not parse: {addr:?}"))?;
        if server.addr.port() == 0 {
            return Err(format!(
                "the server printed `listening on {addr}`: port 0 is not the bound port"
            ));
        }
        Ok(server)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// `VmRSS` in bytes.
    fn rss(&self) -> Result<u64, String> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .map_err(|e| format!("reading the server's /proc status: {e}"))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kib| kib * 1024)
            .ok_or_else(|| "no VmRSS in the server's /proc status".to_string())
    }

    /// Open descriptors.
    fn fds(&self) -> Result<usize, String> {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .map(|d| d.count())
            .map_err(|e| format!("listing the server's /proc fd: {e}"))
    }

    /// SIGTERM, then waits for a clean exit; returns how long it took.
    fn terminate(&mut self) -> Result<Duration, String> {
        let sent = Instant::now();
        let kill = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .map_err(|e| format!("running kill: {e}"))?;
        if !kill.success() {
            return Err(format!("kill -TERM failed ({kill})"));
        }
        while sent.elapsed() < EXIT_WITHIN {
            if let Some(status) = self.exited() {
                return match status.code() {
                    Some(0) => Ok(sent.elapsed()),
                    _ => Err(format!("the server exited with {status}")),
                };
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!(
            "the server still runs {EXIT_WITHIN:?} after SIGTERM"
        ))
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if self.exited().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
