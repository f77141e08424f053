//! `http`: the article's client. A request goes out, and the loop sits in
//! the poll phase until the response is readable.
//!
//! A server on 127.0.0.1 answers after 50 ms (a timer in its handler). It
//! runs on its own thread with its own loop, as a remote server would: a
//! `Loop` is not `Send`, so that loop is made on its thread with
//! `Loop::try_new` and is not traced (it stands for the other machine). The
//! client's loop, made with [`DemoEnv::new_loop`], has this demo's trace
//! hook chained in front of any installed one: it prints each poll that
//! waited or returned events, and each event's demultiplexing, among the
//! client's own callbacks (request written, response, body, end).

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use eventide_http_mini::client;
use eventide_http_mini::server::{Server, ServerOptions};
use eventide_loop_phases::{Loop, RunMode, TraceEvent, TraceHook, TraceRecord};

use super::{Bytes, Demo, DemoEnv, at, ms};

pub(crate) const DEMO: Demo = Demo {
    name: "http",
    summary: "an HTTP GET: the loop blocks in poll until the response is readable",
    watch_for: "\
A server on 127.0.0.1 answers after 50 ms. The client sends a GET; watch the client's loop
block in the poll phase for those 50 ms, wake with one readable event, and only then run the
callback that reads and parses. Rule: the loop waits in poll; the I/O queue only says data is ready.",
    run,
};

/// How long the server's handler waits before answering.
const DELAY: Duration = Duration::from_millis(50);
const BODY: &[u8] = b"hello after 50 ms\n";

/// What the client side saw, in order of the printed lines.
#[derive(Default)]
struct Seen {
    t0: Option<Instant>,
    /// The longest poll wait, and whether it ended with events.
    longest: Duration,
    longest_had_events: bool,
    /// A poll that waited most of the delay ended, and a readable event was
    /// demultiplexed right after it.
    woke_readable: bool,
    /// Set by the long poll's end, cleared by the next demux.
    after_long_poll: bool,
    written: bool,
    status: Option<u16>,
    body: Vec<u8>,
    ended: bool,
    /// The response callback ran after the long poll woke.
    response_after_wake: bool,
}

type Shared = Rc<RefCell<Seen>>;

fn say(seen: &Shared, who: &str, what: &str) {
    let t = seen.borrow().t0.map_or(Duration::ZERO, |t| t.elapsed());
    println!("  {}  {who:<9} {what}", at(t));
}

fn run(env: &mut DemoEnv) -> Result<(), String> {
    let (addr, server) = start_server()?;
    let outcome = client_side(env, addr);
    let served = server
        .join()
        .map_err(|_| "the server thread panicked".to_string())?;
    let seen = outcome?;
    served?;
    let seen = seen.borrow();
    if seen.status != Some(200) || !seen.ended || seen.body != BODY {
        return Err(format!(
            "the response did not arrive whole: status {:?}, {} body bytes, ended {}",
            seen.status,
            seen.body.len(),
            seen.ended
        ));
    }
    if seen.longest < DELAY * 7 / 10 || !seen.woke_readable || !seen.response_after_wake {
        return Err(format!(
            "the loop did not wait in poll for the response: longest wait {}, woke readable {}",
            ms(seen.longest),
            seen.woke_readable
        ));
    }
    println!();
    println!(
        "  While the server took {} to answer, the client's loop sat in one poll for {}: no",
        ms(DELAY),
        ms(seen.longest)
    );
    println!(
        "  callback ran, nothing spun. The OS woke it with only \"fd N is readable\"; the loop"
    );
    println!(
        "  found the socket's watcher by fd, and the callback read the bytes and parsed them."
    );
    println!(
        "  Rule: the loop waits in poll; the I/O queue only says data is ready, it carries none."
    );
    Ok(())
}

/// Starts the server on its own thread; returns its address.
fn start_server() -> Result<(SocketAddr, std::thread::JoinHandle<Result<(), String>>), String> {
    let (tx, rx) = mpsc::channel::<Result<SocketAddr, String>>();
    let handle = std::thread::spawn(move || {
        let mut lp = match Loop::try_new() {
            Ok(lp) => lp,
            Err(e) => {
                let msg = format!("creating the server's loop: {e}");
                let _ = tx.send(Err(msg.clone()));
                return Err(msg);
            }
        };
        let options = ServerOptions {
            keep_alive_timeout: Some(Duration::from_millis(200)),
            ..ServerOptions::default()
        };
        let me: Rc<RefCell<Option<Server>>> = Rc::new(RefCell::new(None));
        let closer = Rc::clone(&me);
        let any: SocketAddr = ([127, 0, 0, 1], 0).into();
        let listened = Server::listen(&mut lp, any, options, move |lp, _req, res| {
            // One request is all this demo serves.
            if let Some(s) = closer.borrow_mut().take() {
                s.close(lp, None);
            }
            lp.set_timeout(DELAY, move |lp| {
                let _ = res.set_header(lp, "Content-Type", "text/plain");
                res.end(lp, Some(Bytes::from_static(BODY)));
            });
        });
        let server = match listened {
            Ok(s) => s,
            Err(e) => {
                let msg = format!("listening on 127.0.0.1: {e}");
                let _ = tx.send(Err(msg.clone()));
                return Err(msg);
            }
        };
        let addr = server.local_addr(&lp).unwrap_or(any);
        *me.borrow_mut() = Some(server);
        let _ = tx.send(Ok(addr));
        // Should the client never come.
        let guard = lp.set_timeout(Duration::from_secs(5), |lp| lp.stop());
        lp.unref_handle(guard);
        lp.run(RunMode::Default);
        Ok(())
    });
    let addr = rx
        .recv()
        .map_err(|_| "the server thread ended before listening".to_string())??;
    Ok((addr, handle))
}

fn client_side(env: &mut DemoEnv, addr: SocketAddr) -> Result<Shared, String> {
    let mut lp = env.new_loop();
    let seen: Shared = Rc::new(RefCell::new(Seen::default()));
    seen.borrow_mut().t0 = Some(Instant::now());
    let previous = lp.set_trace_hook(None);
    lp.set_trace_hook(Some(poll_printer(Rc::clone(&seen), previous)));

    let url = format!("http://{addr}/slow");
    println!(
        "  {:>11}  {:<9} what happened (the server is on another thread and loop)",
        "client", "where"
    );
    say(
        &seen,
        "main",
        &format!("client::get(\"{url}\"): queued; nothing happens before run()"),
    );
    let s = Rc::clone(&seen);
    let req = client::get(&mut lp, url.as_str(), move |lp, res| {
        let res = match res {
            Ok(r) => r,
            Err(e) => {
                say(&s, "response", &format!("error: {e}"));
                return;
            }
        };
        {
            let mut seen = s.borrow_mut();
            seen.status = Some(res.status());
            seen.response_after_wake = seen.woke_readable;
        }
        let length = res
            .headers()
            .get_str("content-length")
            .unwrap_or("?")
            .to_string();
        say(
            &s,
            "response",
            &format!(
                "{} {}, Content-Length {length}: the response callback runs",
                res.status(),
                res.reason()
            ),
        );
        let body = res.body();
        let (d, e) = (Rc::clone(&s), Rc::clone(&s));
        body.on_data(lp, move |_, chunk| {
            d.borrow_mut().body.extend_from_slice(&chunk);
            say(
                &d,
                "body",
                &format!(
                    "{} bytes {:?}",
                    chunk.len(),
                    String::from_utf8_lossy(&chunk)
                ),
            );
        });
        body.on_end(lp, move |_| {
            e.borrow_mut().ended = true;
            say(&e, "end", "the body is complete");
        });
    });
    let s = Rc::clone(&seen);
    req.on_finish(&mut lp, move |_| {
        s.borrow_mut().written = true;
        say(
            &s,
            "request",
            "written to the socket (on_finish): now the client can only wait",
        );
    });
    // Should the server never answer, a watchdog thread stops the loop. A
    // guard timer would do, but it would bound the poll's timeout, and this
    // demo shows a poll with none: only I/O can wake it.
    let (stopper, wake) = lp.async_init(|lp| lp.stop());
    lp.unref_handle(stopper);
    let (done, waiting) = mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = waiting.recv_timeout(Duration::from_secs(3)) {
            wake.send();
        }
    });
    lp.run(RunMode::Default);
    drop(done);
    let _ = watchdog.join();
    lp.close(stopper, None);
    lp.run(RunMode::NoWait);
    Ok(seen)
}

/// The demo's trace hook, chained in front of `previous`: prints each poll
/// that waited or returned events, and each event's demultiplexing.
fn poll_printer(seen: Shared, mut previous: Option<TraceHook>) -> TraceHook {
    let mut timeout = None;
    Box::new(move |rec: &TraceRecord| {
        match &rec.event {
            TraceEvent::PollStart { timeout: t } => timeout = Some(*t),
            TraceEvent::PollEnd { blocked, events } => {
                let long = *blocked >= DELAY / 2;
                {
                    let mut s = seen.borrow_mut();
                    if *blocked > s.longest {
                        s.longest = *blocked;
                        s.longest_had_events = *events > 0;
                    }
                    s.after_long_poll = long && *events > 0;
                }
                if *blocked >= Duration::from_millis(1) || *events > 0 {
                    let limit = match timeout.take().flatten() {
                        None => "no timeout: nothing but I/O can wake it".to_string(),
                        Some(t) if t.is_zero() => "timeout 0".to_string(),
                        Some(t) => format!("timeout {}", ms(t)),
                    };
                    say(
                        &seen,
                        "poll",
                        &format!(
                            "blocked {} in epoll/kqueue ({limit}) → {events} event(s)",
                            ms(*blocked)
                        ),
                    );
                }
            }
            TraceEvent::Demux {
                fd,
                label,
                readiness,
                ..
            } => {
                let what = match (readiness.is_readable(), readiness.is_writable()) {
                    (true, true) => "readable (and writable)",
                    (true, false) => "readable",
                    (false, true) => "writable",
                    _ => "ready",
                };
                let does = if readiness.is_readable() {
                    "its callback reads the bytes"
                } else {
                    "its callback runs"
                };
                {
                    let mut s = seen.borrow_mut();
                    if s.after_long_poll && readiness.is_readable() {
                        s.woke_readable = true;
                    }
                    s.after_long_poll = false;
                }
                say(
                    &seen,
                    "",
                    &format!("  fd {fd} {what} → watcher → handle {label:?} → {does}"),
                );
            }
            _ => {}
        }
        if let Some(hook) = previous.as_mut() {
            hook(rec);
        }
    })
}
