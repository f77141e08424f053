//! `starvation`: synchronous work and a recursive nextTick chain keep the
//! loop out of the poll phase; timers fire late and I/O data waits.
//!
//! Throughout the demo a 10 ms interval runs, and a peer thread writes a
//! timestamped line into a 127.0.0.1 connection every 10 ms. At 250 ms a
//! timeout callback spins the CPU for 200 ms; at 600 ms another starts a
//! chain of nextTicks, each spinning 0.1 ms and queuing the next, for 200
//! ms. Both keep the loop in one callback (the chain: in one tick drain),
//! so neither the poll phase, which would read the socket, nor the timers
//! phase comes. Each interval callback measures its gap and its lateness
//! (`metrics().timer_lag.last`); each data callback how long the oldest
//! line sat in the socket; each window its loop utilization
//! (`metrics().utilization_since`).

use std::io::{ErrorKind, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use eventide_loop_phases::{Loop, Metrics, RunMode};
use eventide_streams::net::{Socket, SocketOptions};

use super::{Bytes, Demo, DemoEnv, at, ctx, ms};

pub(crate) const DEMO: Demo = Demo {
    name: "starvation",
    summary: "200 ms of synchronous work, then a recursive nextTick chain: timers and I/O wait",
    watch_for: "\
A 10 ms interval runs, and a peer writes a timestamped line to a 127.0.0.1 socket every 10 ms.
Then a callback spins 200 ms, and later a nextTick chain re-queues itself for 200 ms. Watch
the interval's gaps and lateness, how long data sat in the socket, and loop utilization.
Rule: synchronous work and recursive nextTick starve I/O and timers: poll never comes.",
    run,
};

const INTERVAL: Duration = Duration::from_millis(10);
const PEER_EVERY: Duration = Duration::from_millis(10);
const WORK: Duration = Duration::from_millis(200);
const SPIN_AT: Duration = Duration::from_millis(250);
const CHAIN_AT: Duration = Duration::from_millis(600);
const TICK_WORK: Duration = Duration::from_micros(100);
const END_AT: Duration = Duration::from_millis(950);
/// Lateness worth a line of its own.
const NOTABLE: Duration = Duration::from_millis(20);

/// The three kinds of window the figures are kept for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Window {
    Healthy,
    Spin,
    Chain,
}

impl Window {
    const ALL: [Window; 3] = [Window::Healthy, Window::Spin, Window::Chain];

    fn name(self) -> &'static str {
        match self {
            Window::Healthy => "healthy",
            Window::Spin => "200 ms sync work",
            Window::Chain => "nextTick chain",
        }
    }
}

/// What was measured in one kind of window.
#[derive(Default, Clone, Copy)]
struct Figures {
    fired: u32,
    max_gap: Duration,
    max_lag: Duration,
    lines: u32,
    max_per_chunk: u32,
    max_wait: Duration,
    /// Loop time spent in the window, and of it blocked in poll.
    elapsed: Duration,
    idle: Duration,
}

impl Figures {
    fn utilization(&self) -> f64 {
        if self.elapsed.is_zero() {
            0.0
        } else {
            self.elapsed.saturating_sub(self.idle).as_secs_f64() / self.elapsed.as_secs_f64()
        }
    }
}

/// The demo's state, kept in the loop.
#[derive(Default)]
struct Starve {
    t0: Option<Instant>,
    window: Option<Window>,
    /// The metrics when the current window began.
    since: Option<Metrics>,
    figures: [Figures; 3],
    /// Set when starving work ends: the window closes once the interval and
    /// the socket have both been served again.
    ended: bool,
    interval_served: bool,
    data_served: bool,
    last_fire: Option<Instant>,
    /// A line split across chunks.
    partial: String,
    socket: Option<Socket>,
    interval: Option<eventide_loop_phases::Timer>,
}

fn st(lp: &mut Loop) -> &mut Starve {
    lp.ext::<Starve>()
}

fn since_start(lp: &mut Loop) -> Duration {
    st(lp).t0.map_or(Duration::ZERO, |t| t.elapsed())
}

fn say(lp: &mut Loop, kind: &str, what: &str) {
    let t = since_start(lp);
    println!("  {}  {kind:<9} {what}", at(t));
}

/// Closes the current window's utilization and opens `next`.
fn enter(lp: &mut Loop, next: Window) {
    let now = lp.metrics();
    let s = st(lp);
    if let (Some(w), Some(before)) = (s.window, s.since) {
        let f = &mut s.figures[w as usize];
        f.elapsed += now.elapsed.saturating_sub(before.elapsed);
        f.idle += now.idle.saturating_sub(before.idle);
    }
    s.window = Some(next);
    s.since = Some(now);
    s.ended = false;
    s.interval_served = false;
    s.data_served = false;
}

/// After starving work: back to healthy once both victims were served.
fn served(lp: &mut Loop) {
    let s = st(lp);
    if s.ended && s.interval_served && s.data_served {
        enter(lp, Window::Healthy);
    }
}

fn current(lp: &mut Loop) -> usize {
    st(lp).window.unwrap_or(Window::Healthy) as usize
}

fn spin(d: Duration) {
    let t = Instant::now();
    while t.elapsed() < d {
        std::hint::spin_loop();
    }
}

fn run(env: &mut DemoEnv) -> Result<(), String> {
    let mut lp = env.new_loop();
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(ctx("binding a listener on 127.0.0.1"))?;
    let addr = listener
        .local_addr()
        .map_err(ctx("reading the listener's address"))?;
    let t0 = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let peer = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || peer(listener, t0, &stop))
    };
    let outcome = tour(&mut lp, addr, t0);
    stop.store(true, Ordering::Relaxed);
    let sent = peer.join().map_err(|_| "the peer thread panicked")??;
    outcome?;
    check(&lp.ext::<Starve>().figures, sent)
}

/// The peer: writes `ping N AT\n` every 10 ms, AT in ns since `t0`.
fn peer(listener: TcpListener, t0: Instant, stop: &AtomicBool) -> Result<u32, String> {
    listener
        .set_nonblocking(true)
        .map_err(ctx("making the listener non-blocking"))?;
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut conn = loop {
        match listener.accept() {
            Ok((c, _)) => break c,
            Err(e) if e.kind() == ErrorKind::WouldBlock && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(e) => return Err(format!("the loop never connected to its peer: {e}")),
        }
    };
    conn.set_nonblocking(false)
        .map_err(ctx("making the peer's connection blocking"))?;
    let _ = conn.set_nodelay(true);
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) && t0.elapsed() < END_AT + Duration::from_secs(2) {
        n += 1;
        let line = format!("ping {n} {}\n", t0.elapsed().as_nanos());
        if conn.write_all(line.as_bytes()).is_err() {
            break;
        }
        std::thread::sleep(PEER_EVERY);
    }
    Ok(n)
}

fn tour(lp: &mut Loop, addr: SocketAddr, t0: Instant) -> Result<(), String> {
    st(lp).t0 = Some(t0);
    enter(lp, Window::Healthy);
    let socket = Socket::connect_tcp(lp, addr, SocketOptions::default());
    st(lp).socket = Some(socket);
    socket.on_data(lp, on_data);
    socket.on_error(lp, |lp, e| {
        say(lp, "error", &format!("the peer's socket: {e}"))
    });

    let interval = lp.set_interval(INTERVAL, on_interval);
    st(lp).interval = Some(interval);

    println!(
        "  {:>11}  {:<9} (only what is more than 20 ms late is printed)",
        "since start", "callback"
    );
    lp.set_timeout(SPIN_AT, |lp| {
        enter(lp, Window::Spin);
        say(
            lp,
            "timeout",
            "spins the CPU for 200 ms inside this callback (synchronous work)",
        );
        spin(WORK);
        st(lp).ended = true;
        say(lp, "", "… returns: the loop can go on to poll");
    });
    lp.set_timeout(CHAIN_AT, |lp| {
        enter(lp, Window::Chain);
        say(
            lp,
            "timeout",
            "starts a nextTick chain: each tick spins 0.1 ms, then queues the next",
        );
        let start = Instant::now();
        lp.next_tick(move |lp| chain(lp, start, 1));
    });
    lp.set_timeout(END_AT, |lp| {
        enter(lp, Window::Healthy);
        if let Some(i) = st(lp).interval.take() {
            lp.clear_interval(i);
        }
        if let Some(s) = st(lp).socket.take() {
            s.destroy(lp, None);
        }
    });
    // A guard, should the socket never close.
    let guard = lp.set_timeout(Duration::from_secs(5), |lp| lp.stop());
    lp.unref_handle(guard);
    lp.run(RunMode::Default);
    Ok(())
}

/// One tick of the chain: a little work, then the next tick, for 200 ms.
fn chain(lp: &mut Loop, start: Instant, n: u32) {
    spin(TICK_WORK);
    if start.elapsed() < WORK {
        lp.next_tick(move |lp| chain(lp, start, n + 1));
    } else {
        st(lp).ended = true;
        say(
            lp,
            "nextTick",
            &format!("… the chain ends after {n} ticks: the drain is over, poll can come"),
        );
    }
}

fn on_interval(lp: &mut Loop) {
    let lag = lp.metrics().timer_lag.last;
    let now = Instant::now();
    let w = current(lp);
    let s = st(lp);
    let gap = s.last_fire.map(|t| now - t);
    s.last_fire = Some(now);
    let f = &mut s.figures[w];
    f.fired += 1;
    f.max_lag = f.max_lag.max(lag);
    if let Some(gap) = gap {
        f.max_gap = f.max_gap.max(gap);
    }
    if s.ended {
        s.interval_served = true;
    }
    if lag > NOTABLE {
        let gap = gap.map_or(String::new(), |g| format!(" (gap {})", ms(g)));
        say(
            lp,
            "interval",
            &format!("fired {} late{gap}; it is due every 10 ms", ms(lag)),
        );
    }
    served(lp);
}

fn on_data(lp: &mut Loop, chunk: Bytes) {
    let now = since_start(lp);
    let w = current(lp);
    let s = st(lp);
    s.partial.push_str(&String::from_utf8_lossy(&chunk));
    let mut lines = 0;
    let mut oldest = Duration::ZERO;
    while let Some(end) = s.partial.find('\n') {
        let line: String = s.partial.drain(..=end).collect();
        let sent = line
            .split_whitespace()
            .nth(2)
            .and_then(|n| n.parse::<u64>().ok())
            .map_or(now, Duration::from_nanos);
        oldest = oldest.max(now.saturating_sub(sent));
        lines += 1;
    }
    let f = &mut s.figures[w];
    f.lines += lines;
    f.max_per_chunk = f.max_per_chunk.max(lines);
    f.max_wait = f.max_wait.max(oldest);
    if s.ended {
        s.data_served = true;
    }
    if oldest > NOTABLE {
        say(
            lp,
            "io",
            &format!(
                "{lines} line(s) in one chunk; the oldest sat {} in the socket",
                ms(oldest)
            ),
        );
    }
    served(lp);
}

/// Prints the table and checks that starvation showed.
fn check(figures: &[Figures; 3], sent: u32) -> Result<(), String> {
    println!();
    println!(
        "  {:<17} {:>6} {:>11} {:>11}   {:>6} {:>9} {:>11}   {:>5}",
        "window", "fired", "max gap", "max late", "lines", "per chunk", "max wait", "util."
    );
    for w in Window::ALL {
        let f = &figures[w as usize];
        println!(
            "  {:<17} {:>6} {:>11} {:>11}   {:>6} {:>9} {:>11}   {:>5.2}",
            w.name(),
            f.fired,
            ms(f.max_gap),
            ms(f.max_lag),
            f.lines,
            f.max_per_chunk,
            ms(f.max_wait),
            f.utilization()
        );
    }
    println!(
        "  (fired, gap, late: the 10 ms interval; lines, per chunk, wait: the {sent} lines the peer wrote;"
    );
    println!("  util.: loop utilization, the share of the window not spent blocked in poll)");
    let healthy = figures[Window::Healthy as usize];
    for w in [Window::Spin, Window::Chain] {
        let f = figures[w as usize];
        let starved = f.max_gap >= Duration::from_millis(150)
            && f.max_wait >= Duration::from_millis(150)
            && f.utilization() > 0.9;
        if !starved {
            return Err(format!(
                "{}: the interval's gap ({}), the data's wait ({}) or utilization ({:.2}) does not \
                 show starvation (a loop bug?)",
                w.name(),
                ms(f.max_gap),
                ms(f.max_wait),
                f.utilization()
            ));
        }
    }
    // Only utilization: on a busy machine a healthy loop's thread may still
    // wait for a core, so its gaps and waits are not checked.
    if healthy.utilization() > 0.5 {
        return Err(format!(
            "the healthy windows were busy: utilization {:.2} (is the machine overloaded?)",
            healthy.utilization()
        ));
    }
    println!(
        "  Rule: synchronous work and a recursive nextTick keep the loop in one callback; poll never"
    );
    println!(
        "  comes, so data waits in the socket and timers fire late, while utilization reads 1.00."
    );
    Ok(())
}
