//! Loop throughput, for `cargo xtask bench loop` (which builds it with
//! `--release` and runs `xtask/bench/node/loop.js` beside it).
//!
//! ```text
//! cargo run --release --example bench_loop -p eventide-loop-phases [WORKLOAD [COUNT]]
//! ```
//!
//! `COUNT` replaces the workload's size (timers, immediates, ticks; for
//! `iterations`, a number of iterations instead of one second), so that a
//! profiler such as `valgrind --tool=callgrind` gets a short, repeatable run.
//!
//! Workloads (all of them, in this order, without an argument):
//!
//! - `timers`: 1,000,000 `set_timeout`s, timer `i` with a delay of `i % 1000`
//!   ms (0 becomes 1 ms, Node's rule), so they spread over one second; run
//!   until all fired. Set-up time, wall time, process CPU time, peak RSS. It
//!   runs first so that the peak RSS is its own (the peak is also reset
//!   through `/proc/self/clear_refs` where the kernel allows it).
//! - `immediates`: a chain of 10,000,000 `set_immediate`s, each queued by the
//!   previous one (so one per loop iteration, as in Node).
//! - `ticks`: a chain of 10,000,000 `next_tick`s from inside one callback.
//! - `iterations`: an idle handle counts loop iterations for one second (the
//!   loop does nothing else; poll does not block while an idle handle is
//!   active, and with no descriptor watched it makes no system call).
//!
//! Output: one line per figure, the same for every bench program:
//! `BENCH <workload> <metric> <value> <unit> <higher|lower>` (which is better),
//! and `NOTE <workload> <text>` lines for what a figure means.
//!
//! Counters live in `Loop::ext` and callbacks are plain `fn`s, whose boxes do
//! not allocate: what a careful user would write. Every immediate and tick goes
//! through the public API.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use eventide_loop_phases::{Loop, RunMode};

const IMMEDIATES: u64 = 10_000_000;
const TICKS: u64 = 10_000_000;
const TIMERS: u64 = 1_000_000;
const ITERATIONS_FOR: Duration = Duration::from_secs(1);

/// A workload: prints its `BENCH` lines, or says why it could not. The
/// argument is `COUNT`, if given.
type Workload = fn(Option<u64>) -> Result<(), String>;

const WORKLOADS: [(&str, Workload); 4] = [
    ("timers", timers),
    ("immediates", immediates),
    ("ticks", ticks),
    ("iterations", iterations),
];

fn main() -> ExitCode {
    let only = std::env::args().nth(1);
    let count = match std::env::args().nth(2).map(|c| c.parse::<u64>()) {
        None => None,
        Some(Ok(n)) if n > 0 => Some(n),
        Some(_) => {
            eprintln!("bench_loop: COUNT must be a positive integer");
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
            "bench_loop: no workload `{}`; choose one of: {}",
            only.unwrap_or_default(),
            names.join(", ")
        );
        return ExitCode::from(2);
    }
    for (name, f) in chosen {
        if let Err(e) = f(count) {
            eprintln!("bench_loop: {name}: {e}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

fn bench(workload: &str, metric: &str, value: f64, unit: &str, higher_is_better: bool) {
    let better = if higher_is_better { "higher" } else { "lower" };
    let digits = if value >= 1000.0 { 0 } else { 1 };
    println!("BENCH {workload} {metric} {value:.digits$} {unit} {better}");
}

fn rate(n: u64, elapsed: Duration) -> f64 {
    n as f64 / elapsed.as_secs_f64()
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// A chain: how many links ran, of how many, and when the first and last ran.
#[derive(Default)]
struct Chain {
    n: u64,
    total: u64,
    start: Option<Instant>,
    end: Option<Instant>,
}

impl Chain {
    /// Counts one link; returns whether the chain goes on.
    fn link(lp: &mut Loop) -> bool {
        let c = lp.ext::<Chain>();
        c.n += 1;
        if c.n < c.total {
            return true;
        }
        c.end = Some(Instant::now());
        false
    }

    fn finish(lp: &mut Loop, total: u64) -> Result<Duration, String> {
        let c = lp.ext::<Chain>();
        match (c.start, c.end) {
            (Some(s), Some(e)) if c.n == total => Ok(e - s),
            _ => Err(format!("the chain ran {} of {total} links", c.n)),
        }
    }
}

fn immediates(count: Option<u64>) -> Result<(), String> {
    fn step(lp: &mut Loop) {
        if Chain::link(lp) {
            lp.set_immediate(step);
        }
    }
    let total = count.unwrap_or(IMMEDIATES);
    let mut lp = Loop::try_new().map_err(|e| e.to_string())?;
    lp.ext::<Chain>().total = total;
    lp.ext::<Chain>().start = Some(Instant::now());
    lp.set_immediate(step);
    lp.run(RunMode::Default);
    let took = Chain::finish(&mut lp, total)?;
    bench("immediates", "rate", rate(total, took), "ops/s", true);
    Ok(())
}

fn ticks(count: Option<u64>) -> Result<(), String> {
    fn tick(lp: &mut Loop) {
        if Chain::link(lp) {
            lp.next_tick(tick);
        }
    }
    let total = count.unwrap_or(TICKS);
    let mut lp = Loop::try_new().map_err(|e| e.to_string())?;
    lp.ext::<Chain>().total = total;
    lp.set_immediate(|lp| {
        lp.ext::<Chain>().start = Some(Instant::now());
        lp.next_tick(tick);
    });
    lp.run(RunMode::Default);
    let took = Chain::finish(&mut lp, total)?;
    bench("ticks", "rate", rate(total, took), "ops/s", true);
    Ok(())
}

fn timers(count: Option<u64>) -> Result<(), String> {
    #[derive(Default)]
    struct Fired(u64);
    fn fired(lp: &mut Loop) {
        lp.ext::<Fired>().0 += 1;
    }
    let peak_reset = reset_peak_rss();
    let cpu0 = cpu_time()?;
    let t0 = Instant::now();
    let total = count.unwrap_or(TIMERS);
    let mut lp = Loop::try_new().map_err(|e| e.to_string())?;
    for i in 0..total {
        lp.set_timeout(Duration::from_millis(i % 1000), fired);
    }
    let setup = t0.elapsed();
    lp.run(RunMode::Default);
    let wall = t0.elapsed();
    let cpu = cpu_time()?.saturating_sub(cpu0);
    let n = lp.ext::<Fired>().0;
    if n != total {
        return Err(format!("{n} of {total} timers fired"));
    }
    let peak = peak_rss()?;
    drop(lp);
    bench("timers", "setup", millis(setup), "ms", false);
    bench("timers", "wall", millis(wall), "ms", false);
    bench("timers", "cpu", millis(cpu), "ms", false);
    bench(
        "timers",
        "peak_rss",
        peak as f64 / (1024.0 * 1024.0),
        "MiB",
        false,
    );
    println!("NOTE timers 1M timers, delay i%1000 ms (0 -> 1 ms); wall >= 999 ms by design");
    println!("NOTE timers cpu = utime+stime from /proc/self/stat, 10 ms resolution");
    if !peak_reset {
        println!("NOTE timers peak_rss is the process peak (could not reset VmHWM)");
    }
    Ok(())
}

fn iterations(count: Option<u64>) -> Result<(), String> {
    let mut lp = Loop::try_new().map_err(|e| e.to_string())?;
    let idle = lp.idle_init();
    let start = Instant::now();
    let until = start + ITERATIONS_FOR;
    lp.idle_start(idle, move |lp| {
        let c = lp.ext::<Chain>();
        c.n += 1;
        // Reading the clock every time would cost more than the iteration.
        let done = match count {
            Some(limit) => c.n == limit,
            None => c.n % 1024 == 0 && Instant::now() >= until,
        };
        if done {
            lp.idle_stop(idle);
        }
    });
    lp.run(RunMode::Default);
    let took = start.elapsed();
    let n = lp.ext::<Chain>().n;
    bench("iterations", "rate", rate(n, took), "iter/s", true);
    println!(
        "NOTE iterations an idle handle counts empty iterations for 1 s (no descriptor is watched: no poll system call, as in libuv)"
    );
    Ok(())
}

/// Process CPU time (user + system) from `/proc/self/stat`, in clock ticks of
/// 10 ms (`USER_HZ` is 100 on every Linux ABI).
fn cpu_time() -> Result<Duration, String> {
    let stat = std::fs::read_to_string("/proc/self/stat")
        .map_err(|e| format!("reading /proc/self/stat (Linux only): {e}"))?;
    // The command name (field 2) may hold spaces: fields are counted after its ')'.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let field = |i: usize| -> Result<u64, String> {
        rest.split_whitespace()
            .nth(i)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| format!("unexpected /proc/self/stat: {stat}"))
    };
    // After ')': state is field 3, so utime (14) and stime (15) are at 11 and 12.
    let ticks = field(11)? + field(12)?;
    Ok(Duration::from_millis(ticks * 10))
}

/// Peak resident set size (`VmHWM`), in bytes.
fn peak_rss() -> Result<u64, String> {
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| format!("reading /proc/self/status (Linux only): {e}"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kib| kib * 1024)
        .ok_or_else(|| "no VmHWM line in /proc/self/status".into())
}

/// Resets `VmHWM` to the current RSS (Linux 4.0 and later), so that the peak
/// measured next is the workload's. Returns whether it worked.
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}
