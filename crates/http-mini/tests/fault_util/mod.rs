//! Helpers shared by the `fault_*` tests, on top of `server_util`.
//!
//! Every fault test runs three actors at once: the server (in the test's
//! loop, on the test thread), a faulty peer, and an [`Honest`] client that
//! keeps sending requests on its own thread and checks every response byte
//! for byte. The honest client panics on the first response that is late,
//! missing or wrong, so "no accepted request is lost" is checked on every
//! request, not sampled.
//!
//! The loop thread and the client threads share what the test observes
//! through atomics: [`publish_connections`] copies the server's open
//! connection count out of the loop every 2 ms, and [`wait_until`] polls a
//! condition against a deadline (never a bare sleep).

#![allow(dead_code, unreachable_pub)]

use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use eventide_http_mini::server::{Request, Response, Server};
use eventide_loop_phases::Loop;

use crate::server_util::{Client, buffered_echo_handler, get, one_shot, pattern, post};

/// The prefix of the paths the honest client asks for.
pub const HONEST: &str = "/honest/";

/// Whether `req` is the honest client's.
pub fn is_honest(req: &Request) -> bool {
    req.path().starts_with(HONEST)
}

/// The honest client's handler: `POST /honest/echo` echoes the body back
/// (Content-Length), any other path answers `ok PATH`.
pub fn honest_handler(lp: &mut Loop, req: Request, res: Response) {
    if req.path() == "/honest/echo" {
        buffered_echo_handler(lp, req, res);
    } else {
        let body = format!("ok {}", req.path());
        res.end(lp, Some(Bytes::from(body)));
    }
}

/// How the honest client connects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// One kept-alive connection only (so the server's connection count
    /// stays exactly 1 on its account, for baseline checks).
    Kept,
    /// The kept-alive connection plus a new connection per round.
    KeptAndFresh,
}

/// A client that keeps being served while a fault goes on.
pub struct Honest {
    stop: Arc<AtomicBool>,
    answered: Arc<AtomicU64>,
    handle: Option<JoinHandle<u64>>,
}

impl Honest {
    /// Starts the client; its kept-alive connection is open (and has been
    /// answered once) when this returns.
    pub fn start(addr: SocketAddr, mode: Mode) -> Honest {
        let stop = Arc::new(AtomicBool::new(false));
        let answered = Arc::new(AtomicU64::new(0));
        let (s, a) = (stop.clone(), answered.clone());
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let handle = std::thread::spawn(move || {
            let mut kept = Client::connect(addr);
            let mut sent = 0u64;
            let mut ready = Some(ready_tx);
            let mut i = 0u64;
            while !s.load(Ordering::SeqCst) || i == 0 {
                let path = format!("{HONEST}k{i}");
                kept.request(&get(&path));
                sent += 1;
                let r = kept.response();
                assert_eq!(r.status(), 200, "honest GET {path}");
                assert_eq!(r.body_str(), format!("ok {path}"), "honest GET {path}");
                a.fetch_add(1, Ordering::SeqCst);
                if let Some(tx) = ready.take() {
                    let _ = tx.send(());
                }
                if i % 4 == 3 {
                    let len = (1000 + i as usize * 3_371) % 48_000;
                    let data = pattern(len, i + 1);
                    kept.request(&post("/honest/echo", &data));
                    sent += 1;
                    let r = kept.response();
                    assert_eq!(r.status(), 200, "honest POST #{i}");
                    assert!(r.body == data, "honest POST #{i}: echo differs");
                    a.fetch_add(1, Ordering::SeqCst);
                }
                if mode == Mode::KeptAndFresh {
                    let path = format!("{HONEST}n{i}");
                    let r = one_shot(addr, &get(&path));
                    sent += 1;
                    assert_eq!(r.status(), 200, "honest fresh GET {path}");
                    assert_eq!(r.body_str(), format!("ok {path}"));
                    a.fetch_add(1, Ordering::SeqCst);
                }
                i += 1;
                // Pacing only (a few hundred requests a second), so the
                // client does not take a whole CPU from the server.
                std::thread::sleep(Duration::from_millis(3));
            }
            assert_eq!(sent, a.load(Ordering::SeqCst));
            sent
        });
        let mut honest = Honest {
            stop,
            answered,
            handle: Some(handle),
        };
        if ready_rx.recv_timeout(Duration::from_secs(10)).is_err() {
            honest.join(); // the client's own panic, if it failed
            panic!("the honest client's first request was not answered");
        }
        honest
    }

    /// Requests answered exactly so far.
    pub fn answered(&self) -> u64 {
        self.answered.load(Ordering::SeqCst)
    }

    /// Waits until `n` more requests were answered (exactly) from now: the
    /// server keeps serving the honest client.
    pub fn wait_progress(&self, n: u64, within: Duration) {
        let from = self.answered();
        let finished = || self.handle.as_ref().is_none_or(|h| h.is_finished());
        wait_until("the honest client to make progress", within, || {
            self.answered() >= from + n || finished()
        });
        assert!(
            !finished(),
            "the honest client stopped (its panic follows when joined)"
        );
    }

    /// Stops the client and returns how many requests it sent, every one
    /// answered exactly (a wrong or missing answer fails the test with the
    /// client's message).
    pub fn stop(mut self) -> u64 {
        self.stop.store(true, Ordering::SeqCst);
        self.join()
    }

    fn join(&mut self) -> u64 {
        match self.handle.take().map(JoinHandle::join) {
            Some(Ok(n)) => n,
            Some(Err(p)) => std::panic::resume_unwind(p),
            None => 0,
        }
    }
}

impl Drop for Honest {
    fn drop(&mut self) {
        // A test failing midway must not leave the client running.
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Copies `server.connections()` out of the loop every 2 ms.
pub fn publish_connections(lp: &mut Loop, server: Server) -> Arc<AtomicUsize> {
    let open = Arc::new(AtomicUsize::new(0));
    let o = open.clone();
    let t = lp.set_interval(Duration::from_millis(2), move |lp| {
        o.store(server.connections(lp), Ordering::SeqCst);
    });
    lp.unref_handle(t);
    open
}

/// Polls `cond` every 2 ms; panics naming `what` if it does not hold
/// within `within`. Returns how long it took.
pub fn wait_until(what: &str, within: Duration, mut cond: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    loop {
        if cond() {
            return started.elapsed();
        }
        if started.elapsed() >= within {
            panic!("timed out after {within:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Waits until the published connection count is `n`.
pub fn wait_connections(open: &AtomicUsize, n: usize, within: Duration) {
    let what = format!("the server's open connections to be {n}");
    wait_until(&what, within, || open.load(Ordering::SeqCst) == n);
}

/// Closes `stream` with a reset (RST) instead of a FIN: `SO_LINGER` of zero,
/// then close.
pub fn reset(stream: TcpStream) {
    socket2::SockRef::from(&stream)
        .set_linger(Some(Duration::ZERO))
        .expect("SO_LINGER");
    drop(stream);
}

/// A counter shared between the loop thread (handlers) and the client.
pub fn counter() -> Arc<AtomicU64> {
    Arc::new(AtomicU64::new(0))
}

/// This process's resident set size in bytes (`VmRSS`).
pub fn rss_bytes(pid: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc status");
    kib * 1024
}
