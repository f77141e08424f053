//! `demux`: how a readiness event finds its callback, and why a stale one never
//! reaches the new owner of a reused descriptor.
//!
//! Four connections to one listener on 127.0.0.1 are watched. Iteration 1 makes
//! two of them readable and prints each event's way through the loop, from the
//! `TraceEvent::Demux` the poll phase emits. Iteration 2 makes two readable
//! again; the first callback closes the other connection and accepts a new one,
//! which the OS gives the same descriptor number: the old event still in the
//! poll batch names (fd, old generation) and is dropped.
//!
//! Tracing: as in `phases`, the demo's hook is installed only when
//! [`DemoEnv::new_loop`] installed none (there is no way to chain to it).

use std::cell::Cell;
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::Duration;

use eventide_loop_phases::{Interest, IoWatch, Loop, Readiness, RunMode, TraceEvent, TraceHook};
use eventide_reactor::sys::FdSource;

use super::{Demo, DemoEnv, ctx};

pub(crate) const DEMO: Demo = Demo {
    name: "demux",
    summary: "readiness → fd → watcher → handle → callback, and a stale event dropped",
    watch_for: "\
Each event the OS reports carries only an id: fd + generation. The loop looks the
watcher up by fd (demultiplexing) and runs its handle's callback, which does the read.
Rule: an event for a closed watcher whose fd was reused is stale, and is dropped.",
    run,
};

const LABELS: [&str; 4] = ["conn A", "conn B", "conn C", "conn D"];

/// The demo's state, kept in the loop so every callback reaches it.
#[derive(Default)]
struct Demux {
    /// Iteration 2: the two connections made readable together. The first of
    /// them whose callback runs closes the other.
    pair: Vec<IoWatch>,
    closed_one: bool,
    /// The closed connection's label and descriptor.
    victim: Option<(&'static str, i32)>,
    /// Holds the connection that will take the closed one's descriptor.
    listener: Option<TcpListener>,
    replacement: Option<IoWatch>,
    /// Whether conn E's callback ran in iteration 2 (it must not: no event
    /// of that iteration is its own).
    replacement_ran: bool,
    /// Set after iteration 2: conn E's callback may run for its own events.
    stale_shown: bool,
    /// With the demo's hook on: set by each `TraceEvent::Demux`, cleared by
    /// the callback that follows it. A callback that finds it clear prints
    /// the mapping itself (a loop that stopped emitting the event).
    demux_seen: Option<Rc<Cell<bool>>>,
}

fn run(env: &mut DemoEnv) -> Result<(), String> {
    let mut lp = env.new_loop();
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(ctx("binding a listener on 127.0.0.1"))?;
    let addr = listener
        .local_addr()
        .map_err(ctx("reading the listener's address"))?;

    let mut clients = Vec::new();
    let mut watches = Vec::new();
    for label in LABELS {
        let client = TcpStream::connect(addr).map_err(ctx("connecting to 127.0.0.1"))?;
        let (server, _) = listener.accept().map_err(ctx("accepting on 127.0.0.1"))?;
        let fd = server.as_raw_fd();
        watches.push(watch(&mut lp, server, label)?);
        println!("  {label}: server side is fd {fd}, watched for READABLE");
        clients.push(client);
    }
    listener
        .set_nonblocking(true)
        .map_err(ctx("making the listener non-blocking"))?;

    let ours = !lp.is_tracing();
    if ours {
        let seen = Rc::new(Cell::new(false));
        lp.ext::<Demux>().demux_seen = Some(Rc::clone(&seen));
        lp.set_trace_hook(Some(demux_printer(seen)));
    } else {
        println!("  (a trace hook is installed already: it prints the demux steps)");
    }

    println!("\n  iteration 1: clients B and D write; A and C stay quiet");
    send(&mut clients, &[1, 3])?;
    run_one_iteration(&mut lp);
    println!("  → A and C had no data: no event, no callback.");
    println!("  The I/O queue said only \"fd N is ready\", no bytes: each callback did its own");
    println!("  read(), until WouldBlock (readiness is edge-triggered).");

    println!("\n  iteration 2: clients A and C write; the first callback closes the other");
    println!("  connection and accepts a new one, all before the other's event is dispatched");
    // Waits in the listener's queue until the callback accepts it, so that no
    // other descriptor is opened between the close and the accept.
    let late_client = TcpStream::connect(addr).map_err(ctx("connecting to 127.0.0.1"))?;
    let state = lp.ext::<Demux>();
    state.listener = Some(listener);
    state.pair = vec![watches[0], watches[2]];
    let stale_before = lp.metrics().stale_events;
    send(&mut clients, &[0, 2])?;
    run_one_iteration(&mut lp);
    let stale = lp.metrics().stale_events - stale_before;
    let state = lp.ext::<Demux>();
    state.stale_shown = true;
    let (vlabel, vfd) = state.victim.unwrap_or(("?", -1));
    let ran = if state.replacement_ran {
        "yes (a bug!)"
    } else {
        "no"
    };
    println!(
        "  → the batch's event for fd {vfd} named {vlabel}'s watcher, an old generation of fd {vfd}:"
    );
    println!(
        "    dropped as stale, metrics().stale_events {stale_before} → {}, conn E's callback ran: {ran}",
        stale_before + stale
    );
    if state.replacement_ran {
        return Err("a stale event reached the new owner of a reused descriptor".into());
    }
    if stale == 0 {
        println!("    (no stale event: the two events came in separate polls this time)");
    }

    println!("\n  iteration 3: conn E's client writes: the same fd, a new generation");
    let mut late = [late_client];
    send_from(&mut late, "conn E")?;
    std::thread::sleep(Duration::from_millis(20));
    run_one_iteration(&mut lp);
    println!("  Rule: a watcher is (fd, generation), so an event for a closed watcher is dropped");
    println!("  even when its fd number already belongs to someone else.");

    if ours {
        lp.set_trace_hook(None);
    }
    if let Some(w) = lp.ext::<Demux>().replacement {
        watches.push(w);
    }
    for w in watches {
        lp.close(w, None);
    }
    lp.run(RunMode::Default);
    drop((clients, late));
    Ok(())
}

/// Runs one iteration, with a guard timer so the demo cannot hang if the OS
/// reports nothing.
fn run_one_iteration(lp: &mut Loop) {
    let guard = lp.set_timeout(Duration::from_secs(2), |_| {
        println!("  (nothing was reported within 2 s)")
    });
    lp.run(RunMode::Once);
    lp.clear_timeout(guard);
}

/// Writes one line from each chosen client, then gives loopback delivery a
/// moment so that all of them are ready before the loop polls.
fn send(clients: &mut [TcpStream], which: &[usize]) -> Result<(), String> {
    for &i in which {
        send_from(&mut clients[i..=i], LABELS[i])?;
    }
    std::thread::sleep(Duration::from_millis(20));
    Ok(())
}

fn send_from(client: &mut [TcpStream], label: &str) -> Result<(), String> {
    for c in client {
        c.write_all(format!("hello from {label}").as_bytes())
            .map_err(ctx("writing on 127.0.0.1"))?;
    }
    Ok(())
}

/// Watches a server-side connection; the callback owns the socket, so closing
/// the watch closes the descriptor.
fn watch(lp: &mut Loop, server: TcpStream, label: &'static str) -> Result<IoWatch, String> {
    server
        .set_nonblocking(true)
        .map_err(ctx("making a connection non-blocking"))?;
    let mut stream = mio::net::TcpStream::from_std(server);
    let fd = stream.as_raw_fd();
    // `io_start` only borrows the source; the raw descriptor lets the callback own it.
    lp.io_start(
        &mut FdSource(fd),
        Interest::READABLE,
        label,
        move |lp, w, r| on_readable(lp, w, r, &mut stream, label),
    )
    .map_err(ctx("watching a connection"))
}

fn on_readable(
    lp: &mut Loop,
    me: IoWatch,
    _ready: Readiness,
    stream: &mut mio::net::TcpStream,
    label: &'static str,
) {
    if let Some(seen) = &lp.ext::<Demux>().demux_seen
        && !seen.replace(false)
    {
        // Workaround: the loop reported no `TraceEvent::Demux` for this event.
        let fd = lp.io_fd(me).unwrap_or(-1);
        println!(
            "   event  fd {fd} → handle {label:?} → its callback  (no Demux trace event: generation unknown)"
        );
    }
    let (bytes, end) = read_all(stream);
    println!(
        "  {:>6}  callback {label}: read() → {} bytes {:?}, then {end}",
        "",
        bytes.len(),
        String::from_utf8_lossy(&bytes)
    );
    if label == "conn E" {
        let state = lp.ext::<Demux>();
        state.replacement_ran |= !state.stale_shown;
        return;
    }
    let state = lp.ext::<Demux>();
    if state.closed_one || !state.pair.contains(&me) {
        return;
    }
    state.closed_one = true;
    let Some(&victim) = state.pair.iter().find(|w| **w != me) else {
        return;
    };
    let listener = state.listener.take();
    let (vlabel, vfd) = (
        lp.handle_label(victim.id()).unwrap_or("?"),
        lp.io_fd(victim).unwrap_or(-1),
    );
    // Closing drops the victim's callback, and with it its socket: fd freed.
    lp.close(victim, None);
    lp.ext::<Demux>().victim = Some((vlabel, vfd));
    println!(
        "  {:>6}    closes {vlabel} (fd {vfd}); its event is still in this poll's batch",
        ""
    );
    let Some(listener) = listener else { return };
    match listener.accept() {
        Ok((conn, _)) => {
            let fd = conn.as_raw_fd();
            let same = if fd == vfd {
                "the same number"
            } else {
                "not reused this time"
            };
            match watch(lp, conn, "conn E") {
                Ok(w) => {
                    lp.ext::<Demux>().replacement = Some(w);
                    println!(
                        "  {:>6}    accepts a new connection: fd {fd} ({same}), watched as \"conn E\"",
                        ""
                    );
                }
                Err(e) => println!("  {:>6}    could not watch the new connection: {e}", ""),
            }
        }
        Err(e) => println!("  {:>6}    no new connection to accept: {e}", ""),
    }
    lp.ext::<Demux>().listener = Some(listener);
}

/// Reads until `WouldBlock` or end of stream; says which ended it.
fn read_all(stream: &mut mio::net::TcpStream) -> (Vec<u8>, String) {
    let mut out = Vec::new();
    let mut buf = [0u8; 256];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return (out, "end of stream".into()),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => return (out, "WouldBlock".into()),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return (out, format!("error {e}")),
        }
    }
}

/// The trace hook: the poll's event count, then each event's demultiplexing.
fn demux_printer(seen: Rc<Cell<bool>>) -> TraceHook {
    Box::new(move |rec| match &rec.event {
        TraceEvent::PollEnd { events, .. } => {
            println!("  poll: the OS reported {events} ready descriptor(s)")
        }
        TraceEvent::Demux {
            fd,
            generation,
            label,
            readiness,
            ..
        } => {
            seen.set(true);
            let what = if readiness.is_readable() {
                "readable"
            } else {
                "ready"
            };
            println!(
                "  {:>6}  fd {fd} {what} → watcher (fd {fd}, gen {generation}) → handle {label:?} → its callback",
                "event"
            )
        }
        _ => {}
    })
}
