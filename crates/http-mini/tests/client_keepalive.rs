//! Connection reuse: keep-alive connections are pooled and reused, and the
//! ones that must not be reused are not.

mod client_util;

use std::cell::RefCell;
use std::io::{BufReader, Write};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use client_util::{
    RawServer, collect, read_request, respond, serve_keep_alive, wait_for_eof, wait_until, watchdog,
};
use eventide_http_mini::client::{self, Agent, AgentOptions, RequestOptions};
use eventide_http_mini::proto::Method;
use eventide_loop_phases::{Loop, RunMode};

/// An HTTP/1.1 keep-alive server answering every request with its target.
fn echo_target_server() -> RawServer {
    RawServer::start(|_, stream| {
        serve_keep_alive(stream, |req| (200, vec![], req.target.clone().into_bytes()));
    })
}

/// Statuses and bodies, in the order the responses ended.
type Responses = Rc<RefCell<Vec<(u16, Vec<u8>)>>>;

/// Issues GETs to `paths` one after another (each after the previous body
/// ended), recording each status and body.
fn sequential(lp: &mut Loop, agent: Agent, base: String, paths: Vec<&'static str>, out: Responses) {
    let Some((first, rest)) = paths.split_first() else {
        return;
    };
    let rest = rest.to_vec();
    let url = format!("{base}{first}").parse().unwrap();
    let req = client::request(
        lp,
        RequestOptions::new(Method::GET, url).agent(agent),
        move |lp, res| {
            let res = res.expect("a response");
            let status = res.status();
            let body = res.body();
            let data = Rc::new(RefCell::new(Vec::new()));
            let d = data.clone();
            body.on_data(lp, move |_, c| d.borrow_mut().extend_from_slice(&c));
            body.on_end(lp, move |lp| {
                out.borrow_mut().push((status, data.borrow().clone()));
                sequential(lp, agent, base.clone(), rest.clone(), out.clone());
            });
        },
    );
    req.end(lp, None);
}

#[test]
fn sequential_requests_share_one_connection() {
    let server = echo_target_server();
    let mut lp = Loop::new();
    watchdog(&mut lp, Duration::from_secs(20));
    let agent = Agent::new(AgentOptions::default());
    let out = Rc::new(RefCell::new(Vec::new()));
    sequential(
        &mut lp,
        agent,
        server.url(""),
        vec!["/1", "/2", "/3", "/4", "/5"],
        out.clone(),
    );
    // The loop ends although the pooled connection is still open: an idle
    // connection is unreferenced.
    lp.run(RunMode::Default);
    let bodies: Vec<Vec<u8>> = out.borrow().iter().map(|(_, b)| b.clone()).collect();
    assert_eq!(
        bodies,
        ["/1", "/2", "/3", "/4", "/5"].map(|p| p.as_bytes().to_vec())
    );
    assert_eq!(server.connections(), 1);
    assert_eq!((agent.created(&lp), agent.reused(&lp)), (1, 4));
    assert_eq!(agent.sockets(&lp, "127.0.0.1", server.port), 1);
    assert_eq!(agent.idle(&lp, "127.0.0.1", server.port), 1);
}

/// A response with `Connection: close` ends the connection's use, and an
/// agent without keep-alive asks for that itself.
#[test]
fn connection_close_is_not_reused() {
    let server = RawServer::start(|_, stream| {
        serve_keep_alive(stream, |req| {
            (
                200,
                vec![("Connection".into(), "close".into())],
                req.target.clone().into_bytes(),
            )
        });
    });
    let mut lp = Loop::new();
    watchdog(&mut lp, Duration::from_secs(20));
    let agent = Agent::new(AgentOptions::default());
    let out = Rc::new(RefCell::new(Vec::new()));
    sequential(
        &mut lp,
        agent,
        server.url(""),
        vec!["/a", "/b", "/c"],
        out.clone(),
    );
    lp.run(RunMode::Default);
    assert_eq!(out.borrow().len(), 3);
    assert_eq!(server.connections(), 3);
    assert_eq!((agent.created(&lp), agent.reused(&lp)), (3, 0));
    assert_eq!(agent.sockets(&lp, "127.0.0.1", server.port), 0);

    // keep_alive: false sends `Connection: close` to a keep-alive server.
    let server = RawServer::start(|_, stream| {
        serve_keep_alive(stream, |req| {
            (
                200,
                vec![],
                req.header("connection").unwrap_or("-").as_bytes().to_vec(),
            )
        });
    });
    let agent = Agent::new(AgentOptions::default().keep_alive(false));
    let out = Rc::new(RefCell::new(Vec::new()));
    sequential(
        &mut lp,
        agent,
        server.url(""),
        vec!["/a", "/b"],
        out.clone(),
    );
    lp.run(RunMode::Default);
    assert_eq!(
        *out.borrow(),
        vec![(200, b"close".to_vec()), (200, b"close".to_vec())]
    );
    assert_eq!(server.connections(), 2);
    assert_eq!(agent.reused(&lp), 0);
}

/// An idle pooled connection is closed after `keep_alive_idle`.
#[test]
fn idle_connection_closes_after_keep_alive_idle() {
    let saw_eof = Arc::new(AtomicBool::new(false));
    let eof = saw_eof.clone();
    let server = RawServer::start(move |_, stream| {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut writer = stream;
        let req = read_request(&mut reader).unwrap();
        respond(&mut writer, 200, &[], req.target.as_bytes());
        if wait_for_eof(&mut writer, Duration::from_secs(10)) {
            eof.store(true, Ordering::SeqCst);
        }
    });
    let mut lp = Loop::new();
    watchdog(&mut lp, Duration::from_secs(20));
    let agent = Agent::new(AgentOptions::default().keep_alive_idle(Duration::from_millis(50)));
    let out = Rc::new(RefCell::new(Vec::new()));
    sequential(&mut lp, agent, server.url(""), vec!["/x"], out.clone());
    // Keep the loop running past the idle timeout.
    let idle_seen = Rc::new(RefCell::new(None));
    let seen = idle_seen.clone();
    let port = server.port;
    lp.set_timeout(Duration::from_millis(400), move |lp| {
        *seen.borrow_mut() = Some((
            agent.idle(lp, "127.0.0.1", port),
            agent.sockets(lp, "127.0.0.1", port),
        ));
    });
    lp.run(RunMode::Default);
    assert_eq!(out.borrow().len(), 1);
    assert_eq!(*idle_seen.borrow(), Some((0, 0)));
    assert!(
        wait_until(Duration::from_secs(5), || saw_eof.load(Ordering::SeqCst)),
        "the server never saw the close"
    );
}

/// A server that closes an idle keep-alive connection: the client notices
/// and the next request opens a new connection.
#[test]
fn connection_closed_by_the_server_while_idle_leaves_the_pool() {
    let server = RawServer::start(|_, stream| {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut writer = stream;
        let req = read_request(&mut reader).unwrap();
        respond(&mut writer, 200, &[], req.target.as_bytes());
        // Keep-alive by the headers, but closed right after.
    });
    let mut lp = Loop::new();
    watchdog(&mut lp, Duration::from_secs(20));
    let agent = Agent::new(AgentOptions::default());
    let out = Rc::new(RefCell::new(Vec::new()));
    sequential(&mut lp, agent, server.url(""), vec!["/first"], out.clone());
    lp.run(RunMode::Default);
    let port = server.port;
    // The loop ended with the connection idle; let the server's FIN arrive.
    std::thread::sleep(Duration::from_millis(50));
    let (o, base) = (out.clone(), server.url(""));
    lp.set_timeout(Duration::from_millis(50), move |lp| {
        assert_eq!(
            agent.idle(lp, "127.0.0.1", port),
            0,
            "the closed connection is still pooled"
        );
        sequential(lp, agent, base, vec!["/second"], o);
    });
    lp.run(RunMode::Default);
    assert_eq!(
        *out.borrow(),
        vec![(200, b"/first".to_vec()), (200, b"/second".to_vec())]
    );
    assert_eq!((agent.created(&lp), agent.reused(&lp)), (2, 0));
    assert_eq!(server.connections(), 2);
}

/// A body with neither Content-Length nor chunked ends when the server
/// closes; that connection is not reused.
#[test]
fn until_close_body_ends_at_eof() {
    let server = RawServer::start(|_, mut stream| {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        read_request(&mut reader).unwrap();
        stream
            .write_all(b"HTTP/1.1 200 OK\r\n\r\nread until close")
            .unwrap();
    });
    let mut lp = Loop::new();
    watchdog(&mut lp, Duration::from_secs(20));
    let agent = Agent::new(AgentOptions::default());
    let got = Rc::new(RefCell::new(None));
    let g = got.clone();
    let url = server.url("/").parse().unwrap();
    let req = client::request(
        &mut lp,
        RequestOptions::new(Method::GET, url).agent(agent),
        move |lp, res| {
            let res = res.expect("a response");
            assert!(!res.head().keep_alive);
            *g.borrow_mut() = Some(collect(lp, res.body()));
        },
    );
    req.end(&mut lp, None);
    lp.run(RunMode::Default);
    let body = got.borrow_mut().take().unwrap();
    assert!(body.ended.get());
    assert_eq!(&body.data.borrow()[..], b"read until close");
    assert_eq!(agent.sockets(&lp, "127.0.0.1", server.port), 0);
}
