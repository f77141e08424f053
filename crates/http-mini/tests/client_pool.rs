//! `max_sockets_per_host`: requests beyond it wait in a FIFO queue and get
//! connections as they free up.

mod client_util;

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use client_util::{RawServer, collect, serve_keep_alive, watchdog};
use eventide_http_mini::client::{self, Agent, AgentOptions, RequestOptions};
use eventide_http_mini::proto::Method;
use eventide_loop_phases::{Loop, RunMode};

/// A keep-alive server that records the order requests arrive in and the
/// most connections busy at once, and answers each after `delay`.
struct Recording {
    server: RawServer,
    arrivals: Arc<Mutex<Vec<String>>>,
    max_busy: Arc<AtomicUsize>,
}

fn recording_server(delay: Duration) -> Recording {
    let arrivals = Arc::new(Mutex::new(Vec::new()));
    let (busy, max_busy) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (a, b, m) = (arrivals.clone(), busy, max_busy.clone());
    let server = RawServer::start(move |_, stream| {
        let now = b.fetch_add(1, Ordering::SeqCst) + 1;
        m.fetch_max(now, Ordering::SeqCst);
        serve_keep_alive(stream, |req| {
            a.lock().unwrap().push(req.target.clone());
            std::thread::sleep(delay);
            (200, vec![], req.target.clone().into_bytes())
        });
        b.fetch_sub(1, Ordering::SeqCst);
    });
    Recording {
        server,
        arrivals,
        max_busy,
    }
}

/// Paths and bodies, in the order the responses ended.
type Done = Rc<RefCell<Vec<(String, Vec<u8>)>>>;

/// Issues `n` GETs at once; returns the order responses completed in.
fn concurrent(lp: &mut Loop, agent: Agent, base: &str, n: usize) -> Done {
    let done = Rc::new(RefCell::new(Vec::new()));
    for i in 0..n {
        let path = format!("/{i}");
        let url = format!("{base}{path}").parse().unwrap();
        let d = done.clone();
        let req = client::request(
            lp,
            RequestOptions::new(Method::GET, url).agent(agent),
            move |lp, res| {
                let res = res.expect("a response");
                assert_eq!(res.status(), 200);
                let body = collect(lp, res.body());
                let b = body.clone();
                res.body().on_end(lp, move |_| {
                    d.borrow_mut().push((path.clone(), b.data.borrow().clone()))
                });
            },
        );
        req.end(lp, None);
    }
    done
}

#[test]
fn requests_beyond_the_limit_wait_and_all_complete() {
    let rec = recording_server(Duration::from_millis(20));
    let mut lp = Loop::new();
    watchdog(&mut lp, Duration::from_secs(20));
    let agent = Agent::new(AgentOptions::default().max_sockets_per_host(2));
    let port = rec.server.port;
    let done = concurrent(&mut lp, agent, &rec.server.url(""), 6);
    // Two connections opened, four requests queued.
    assert_eq!(agent.sockets(&lp, "127.0.0.1", port), 2);
    assert_eq!(agent.queued(&lp, "127.0.0.1", port), 4);
    lp.run(RunMode::Default);

    let done = done.borrow();
    assert_eq!(done.len(), 6);
    for (path, body) in done.iter() {
        assert_eq!(
            path.as_bytes(),
            &body[..],
            "a response went to the wrong request"
        );
    }
    assert_eq!(rec.server.connections(), 2);
    assert!(rec.max_busy.load(Ordering::SeqCst) <= 2);
    assert_eq!((agent.created(&lp), agent.reused(&lp)), (2, 4));
    assert_eq!(agent.queued(&lp, "127.0.0.1", port), 0);
    // The queued requests were sent in the order they were made: the last
    // four arrivals are /2../5 in order up to the swap of neighbours that
    // two parallel connections allow.
    let arrivals = rec.arrivals.lock().unwrap().clone();
    let index: Vec<usize> = arrivals.iter().map(|p| p[1..].parse().unwrap()).collect();
    for (pos, &i) in index.iter().enumerate() {
        assert!(i.abs_diff(pos) <= 1, "arrival order {index:?} is not FIFO");
    }
}

#[test]
fn one_socket_serves_the_queue_in_fifo_order() {
    let rec = recording_server(Duration::from_millis(2));
    let mut lp = Loop::new();
    watchdog(&mut lp, Duration::from_secs(20));
    let agent = Agent::new(AgentOptions::default().max_sockets_per_host(1));
    let done = concurrent(&mut lp, agent, &rec.server.url(""), 8);
    assert_eq!(agent.queued(&lp, "127.0.0.1", rec.server.port), 7);
    lp.run(RunMode::Default);
    let order: Vec<String> = done.borrow().iter().map(|(p, _)| p.clone()).collect();
    let expected: Vec<String> = (0..8).map(|i| format!("/{i}")).collect();
    assert_eq!(order, expected);
    assert_eq!(*rec.arrivals.lock().unwrap(), expected);
    assert_eq!(rec.server.connections(), 1);
    assert_eq!((agent.created(&lp), agent.reused(&lp)), (1, 7));
}
