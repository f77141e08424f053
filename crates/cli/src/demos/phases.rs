//! `phases`: one busy iteration, printed phase by phase.
//!
//! Every kind of callback the loop has is armed before `run`, so that a single
//! pass goes through all seven phases with something to do in each. The trace
//! hook prints each phase as it is entered; the callbacks print themselves,
//! indented below it, and each queues nextTicks and microtasks to show where
//! those drain.
//!
//! # Tracing
//!
//! `Loop::set_trace_hook` replaces the hook and there is no getter, so this
//! demo cannot chain to a hook [`DemoEnv::new_loop`] installed (for
//! `eventide trace`). It installs its phase printer only when the loop has no
//! hook; otherwise the installed hook prints the phases and this demo adds only
//! its callback lines. Either way the callbacks, and so the order checked at
//! the end, are the same.

use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use eventide_loop_phases::{Interest, Loop, Phase, RunMode, TraceEvent, TraceHook};
use eventide_reactor::sys::FdSource;
use mio::net::UdpSocket;

use super::{Demo, DemoEnv, at, ctx, ms};

pub(crate) const DEMO: Demo = Demo {
    name: "phases",
    summary: "one busy iteration, phase by phase, with nextTicks and microtasks in between",
    watch_for: "\
Phases print as the loop enters them; each callback is indented below its phase.
Rule: libuv's order, timers → pending → idle → prepare → poll → check → close, and
after EVERY callback the nextTick queue drains first, then the microtask queue.",
    run,
};

/// The demo's state, kept in the loop (`Loop::ext`) so callbacks reach it
/// through the `&mut Loop` they receive.
#[derive(Default)]
struct Tour {
    /// When `run` was called: the origin of the time column.
    t0: Option<Instant>,
    /// Every callback that ran: the phase it ran in and its kind.
    seen: Vec<(Phase, &'static str)>,
}

/// What the callbacks below must print, in this order, for the rule to hold.
const EXPECTED: &[(Phase, &str)] = &[
    (Phase::Timers, "timeout"),
    (Phase::Timers, "nextTick"),
    (Phase::Timers, "microtask"),
    (Phase::Pending, "pending"),
    (Phase::Idle, "idle"),
    (Phase::Prepare, "prepare"),
    (Phase::Poll, "io"),
    (Phase::Poll, "nextTick"),
    (Phase::Poll, "nextTick"),
    (Phase::Check, "check"),
    (Phase::Check, "immediate"),
    (Phase::Check, "microtask"),
    (Phase::Close, "close"),
];

/// Prints one callback line: time since `run`, indented by depth (1: a phase's
/// callback, 2: a nextTick or microtask it queued).
fn say(lp: &mut Loop, depth: usize, kind: &'static str, what: &str) {
    let phase = lp.phase();
    let tour = lp.ext::<Tour>();
    tour.seen.push((phase, kind));
    let since = tour.t0.map_or(Duration::ZERO, |t0| t0.elapsed());
    let pad = 2 * depth;
    println!("  {}  {:pad$}{kind:<10} {what}", at(since), "");
}

fn run(env: &mut DemoEnv) -> Result<(), String> {
    let mut lp = env.new_loop();

    // Real I/O for the poll phase: a datagram already waiting on 127.0.0.1.
    let any: SocketAddr = ([127, 0, 0, 1], 0).into();
    let rx = UdpSocket::bind(any).map_err(ctx("binding a UDP socket on 127.0.0.1"))?;
    let tx = UdpSocket::bind(any).map_err(ctx("binding a UDP socket on 127.0.0.1"))?;
    let rx_addr = rx
        .local_addr()
        .map_err(ctx("reading the UDP socket's address"))?;
    // The callback owns the socket, so closing the watch drops it. `io_start`
    // only borrows its source, hence the raw descriptor here.
    let fd = rx.as_raw_fd();
    lp.io_start(
        &mut FdSource(fd),
        Interest::READABLE,
        "udp",
        move |lp, watch, _| {
            let mut buf = [0u8; 64];
            let got = match rx.recv(&mut buf) {
                Ok(n) => format!("{n} bytes {:?}", String::from_utf8_lossy(&buf[..n])),
                Err(e) => format!("error: {e}"),
            };
            say(
                lp,
                1,
                "io",
                &format!("udp fd {fd} readable → recv() = {got}; queues a nextTick"),
            );
            lp.next_tick(|lp| {
                say(
                    lp,
                    2,
                    "nextTick",
                    "right after the I/O callback; queues one more nextTick",
                );
                lp.next_tick(|lp| {
                    say(
                        lp,
                        2,
                        "nextTick",
                        "queued by a nextTick: runs in the same drain",
                    )
                });
            });
            lp.close(
                watch,
                Some(Box::new(|lp| {
                    say(
                        lp,
                        1,
                        "close",
                        "the udp watch's close callback (closed in poll)",
                    )
                })),
            );
        },
    )
    .map_err(ctx("watching the UDP socket"))?;
    tx.send_to(b"hello", rx_addr)
        .map_err(ctx("sending a datagram on 127.0.0.1"))?;

    lp.set_timeout(Duration::from_millis(1), |lp| {
        say(
            lp,
            1,
            "timeout",
            "setTimeout 1 ms; queues a microtask, a nextTick, a pending cb",
        );
        lp.queue_microtask(|lp| {
            say(
                lp,
                2,
                "microtask",
                "queued 1st, runs once no nextTick is left",
            )
        });
        lp.next_tick(|lp| {
            say(
                lp,
                2,
                "nextTick",
                "queued 2nd, runs 1st: ticks before microtasks",
            )
        });
        lp.queue_pending(|lp| {
            say(
                lp,
                1,
                "pending",
                "deferred to the pending phase (queue_pending)",
            )
        });
    });
    let idle = lp.idle_init();
    lp.idle_start(idle, move |lp| {
        say(
            lp,
            1,
            "idle",
            "idle handle: while one is active, poll won't block",
        );
        lp.close(idle, None);
    });
    let prepare = lp.prepare_init();
    lp.prepare_start(prepare, move |lp| {
        say(
            lp,
            1,
            "prepare",
            "last callback before poll; queues an immediate",
        );
        lp.set_immediate(|lp| {
            say(
                lp,
                1,
                "immediate",
                "setImmediate, after check handles; queues a microtask",
            );
            lp.queue_microtask(|lp| {
                say(lp, 2, "microtask", "drains before the close phase begins")
            });
        });
        lp.close(prepare, None);
    });
    let check = lp.check_init();
    lp.check_start(check, move |lp| {
        say(lp, 1, "check", "check handle: runs right after poll");
        lp.close(check, None);
    });
    // The timer must be due when `run` starts, so that it opens the pass.
    std::thread::sleep(Duration::from_millis(3));

    let ours = !lp.is_tracing();
    let t0 = Instant::now();
    lp.ext::<Tour>().t0 = Some(t0);
    if ours {
        lp.set_trace_hook(Some(phase_printer(t0)));
    } else {
        println!(
            "  (a trace hook is installed already: it prints the phases; the callbacks print below)"
        );
    }
    println!(
        "  {:>11}  phase → callback → nextTick / microtask",
        "since run()"
    );
    println!("  {:>11}  {}", "─".repeat(11), "─".repeat(66));
    lp.run(RunMode::Default);
    if ours {
        lp.set_trace_hook(None);
    }
    summarize(&lp.ext::<Tour>().seen)
}

/// The trace hook: a line per phase entered, the poll's figures, and the
/// demultiplexing of each readiness event.
fn phase_printer(t0: Instant) -> TraceHook {
    let mut iteration = 0;
    let mut timeout = None;
    Box::new(move |rec| match &rec.event {
        TraceEvent::IterationStart { iteration: n } => {
            iteration = *n;
            println!("  {:>11}  ── iteration {n} ──", "");
        }
        // Printed at PollEnd, with what the poller did.
        TraceEvent::PhaseStart(Phase::Poll) => {}
        TraceEvent::PhaseStart(p) => {
            let note = match (p, iteration) {
                (Phase::Timers, 0) => "run() runs due timers once before the first iteration",
                (Phase::Timers, _) => "since libuv 1.48 timers also end each iteration",
                _ => "",
            };
            let line = format!("  {}  {:<12} {note}", at(t0.elapsed()), p.name());
            println!("{}", line.trim_end());
        }
        TraceEvent::PollStart { timeout: t } => timeout = Some(*t),
        TraceEvent::PollEnd { blocked, events } => {
            let limit = match timeout.flatten() {
                None => "none (wait for I/O)".to_string(),
                Some(t) if t.is_zero() => "0 (callbacks are waiting)".to_string(),
                Some(t) => ms(t),
            };
            println!(
                "  {}  {:<12} timeout {limit}, blocked {}, {events} event(s)",
                at(t0.elapsed()),
                "poll",
                ms(*blocked)
            );
        }
        TraceEvent::Demux {
            fd,
            generation,
            label,
            ..
        } => println!(
            "  {}    {:<10} fd {fd} → watcher (fd {fd}, gen {generation}) → handle {label:?} → callback",
            at(t0.elapsed()),
            "demux"
        ),
        _ => {}
    })
}

/// Checks the order the callbacks ran in against the rule, and states it.
fn summarize(seen: &[(Phase, &'static str)]) -> Result<(), String> {
    let mut phases: Vec<&str> = Vec::new();
    for (p, _) in seen {
        if phases.last() != Some(&p.name()) {
            phases.push(p.name());
        }
    }
    println!();
    println!("  observed  {}", phases.join(" → "));
    if seen != EXPECTED {
        return Err(format!(
            "the callbacks ran in an unexpected order (a loop bug?): {seen:?}"
        ));
    }
    println!("  rule      phases run in libuv's order; after every callback the nextTick queue");
    println!("            drains, then the microtask queue, before the next callback: ✓");
    Ok(())
}
