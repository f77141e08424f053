//! Failures: each is reported to its own request only, with an error that
//! says what happened; a stale keep-alive connection is retried.

mod client_util;

use std::cell::RefCell;
use std::io::{BufReader, Write};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use client_util::{
    RawServer, collect, free_port, read_request, respond, serve_keep_alive, wait_for_eof,
    wait_until, watchdog,
};
use eventide_http_mini::client::{
    self, Agent, AgentOptions, ClientError, ClientResponse, RequestOptions, TimeoutKind, UrlError,
};
use eventide_http_mini::proto::{EncodeError, Method, ParseError};
use eventide_loop_phases::{Loop, RunMode};
use eventide_streams::StreamError;

type Outcome = Rc<RefCell<Option<Result<ClientResponse, ClientError>>>>;

fn outcome() -> (
    Outcome,
    impl FnOnce(&mut Loop, Result<ClientResponse, ClientError>) + 'static,
) {
    let out: Outcome = Rc::new(RefCell::new(None));
    let o = out.clone();
    (out, move |_: &mut Loop, r| {
        assert!(o.borrow().is_none(), "on_response ran twice");
        *o.borrow_mut() = Some(r);
    })
}

fn error_of(out: &Outcome) -> ClientError {
    match out.borrow_mut().take() {
        Some(Err(e)) => e,
        Some(Ok(r)) => panic!("expected an error, got status {}", r.status()),
        None => panic!("on_response never ran"),
    }
}

#[test]
fn connection_refused() {
    let port = free_port();
    let mut lp = Loop::new();
    watchdog(&mut lp, Duration::from_secs(20));
    let (out, cb) = outcome();
    client::get(&mut lp, format!("http://127.0.0.1:{port}/").as_str(), cb);
    lp.run(RunMode::Default);
    let err = error_of(&out);
    assert_eq!(
        err,
        ClientError::Connect(std::io::ErrorKind::ConnectionRefused)
    );
    assert!(err.to_string().contains("server is running"), "{err}");
}

#[test]
fn invalid_url_and_framing_headers_are_reported_asynchronously() {
    let mut lp = Loop::new();
    watchdog(&mut lp, Duration::from_secs(20));
    let (https, cb) = outcome();
    client::get(&mut lp, "https://127.0.0.1/", cb);
    let (framing, cb) = outcome();
    let url = "http://127.0.0.1:9/".parse().unwrap();
    let opts = RequestOptions::new(Method::POST, url).header("Content-Length", "3");
    let req = client::request(&mut lp, opts, cb);
    assert!(
        https.borrow().is_none() && framing.borrow().is_none(),
        "reported synchronously"
    );
    req.end(&mut lp, Some(Bytes::from_static(b"abc")));
    lp.run(RunMode::Default);
    let e = error_of(&https);
    assert_eq!(e, ClientError::InvalidUrl(UrlError::HttpsNotSupported));
    assert!(e.to_string().contains("https is not supported"));
    assert_eq!(
        error_of(&framing),
        ClientError::Encode(EncodeError::FramingHeader)
    );
}

/// `/hang` never answers and times out; `/ok` on the same agent and host
/// answers meanwhile and afterwards.
#[test]
fn a_response_timeout_fails_only_that_request() {
    let hang_closed = Arc::new(AtomicBool::new(false));
    let closed = hang_closed.clone();
    let server = RawServer::start(move |_, stream| {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut writer = stream;
        while let Some(req) = read_request(&mut reader) {
            if req.target == "/hang" {
                if wait_for_eof(&mut writer, Duration::from_secs(10)) {
                    closed.store(true, Ordering::SeqCst);
                }
                return;
            }
            respond(&mut writer, 200, &[], b"ok");
        }
    });
    let mut lp = Loop::new();
    watchdog(&mut lp, Duration::from_secs(20));
    let agent = Agent::new(AgentOptions::default());
    let (hang, cb) = outcome();
    let url = server.url("/hang").parse().unwrap();
    let opts = RequestOptions::new(Method::GET, url)
        .agent(agent)
        .response_timeout(Duration::from_millis(150));
    client::request(&mut lp, opts, cb).end(&mut lp, None);
    let (ok, cb) = outcome();
    let opts = RequestOptions::new(Method::GET, server.url("/ok").parse().unwrap()).agent(agent);
    client::request(&mut lp, opts, cb).end(&mut lp, None);
    let (after, cb_after) = outcome();
    let base = server.url("/ok");
    lp.set_timeout(Duration::from_millis(300), move |lp| {
        let opts = RequestOptions::new(Method::GET, base.parse().unwrap()).agent(agent);
        client::request(lp, opts, cb_after).end(lp, None);
    });
    lp.run(RunMode::Default);
    assert_eq!(
        error_of(&hang),
        ClientError::Timeout {
            what: TimeoutKind::Response
        }
    );
    assert_eq!(ok.borrow_mut().take().unwrap().unwrap().status(), 200);
    assert_eq!(after.borrow_mut().take().unwrap().unwrap().status(), 200);
    assert!(
        wait_until(Duration::from_secs(5), || hang_closed
            .load(Ordering::SeqCst)),
        "the timed-out connection was not closed"
    );
}

/// The server reads the second request on a kept-alive connection and
/// closes without answering (it had decided to close the idle connection):
/// the GET is sent again on a new connection and succeeds.
#[test]
fn a_stale_keep_alive_connection_is_retried_once() {
    let arrivals = Arc::new(std::sync::Mutex::new(Vec::new()));
    let a = arrivals.clone();
    let server = RawServer::start(move |index, stream| {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut writer = stream;
        while let Some(req) = read_request(&mut reader) {
            a.lock().unwrap().push((index, req.target.clone()));
            if index == 0 && req.target != "/first" {
                return; // close without a response byte
            }
            respond(&mut writer, 200, &[], req.target.as_bytes());
        }
    });
    let mut lp = Loop::new();
    watchdog(&mut lp, Duration::from_secs(20));
    let agent = Agent::new(AgentOptions::default());
    let second: Rc<RefCell<Option<Rc<client_util::Collected>>>> = Rc::new(RefCell::new(None));
    let s = second.clone();
    let (base, first_url) = (server.url("/second"), server.url("/first"));
    let opts = RequestOptions::new(Method::GET, first_url.parse().unwrap()).agent(agent);
    client::request(&mut lp, opts, move |lp, res| {
        let body = res.expect("first response").body();
        body.on_data(lp, |_, _| {});
        body.on_end(lp, move |lp| {
            // Sent on the pooled connection, which the server then closes.
            let opts = RequestOptions::new(Method::GET, base.parse().unwrap()).agent(agent);
            let s = s.clone();
            client::request(lp, opts, move |lp, res| {
                *s.borrow_mut() = Some(collect(
                    lp,
                    res.expect("the retried request succeeds").body(),
                ));
            })
            .end(lp, None);
        });
    })
    .end(&mut lp, None);
    lp.run(RunMode::Default);
    let body = second.borrow_mut().take().unwrap();
    assert_eq!(&body.data.borrow()[..], b"/second");
    assert_eq!(
        *arrivals.lock().unwrap(),
        vec![
            (0, "/first".to_string()),
            (0, "/second".to_string()),
            (1, "/second".to_string())
        ]
    );
    assert_eq!((agent.created(&lp), agent.reused(&lp)), (2, 1));
}

/// The same stale connection, but the request is a POST: it is not safe to
/// send twice, so it fails with `ConnectionClosed`.
#[test]
fn a_post_on_a_stale_connection_is_not_retried() {
    let server = RawServer::start(move |index, stream| {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut writer = stream;
        let mut n = 0;
        while let Some(req) = read_request(&mut reader) {
            n += 1;
            if index == 0 && n == 2 {
                return;
            }
            respond(&mut writer, 200, &[], req.target.as_bytes());
        }
    });
    let mut lp = Loop::new();
    watchdog(&mut lp, Duration::from_secs(20));
    let agent = Agent::new(AgentOptions::default());
    let (post, cb) = outcome();
    let url = server.url("/post");
    let opts = RequestOptions::new(Method::GET, server.url("/first").parse().unwrap()).agent(agent);
    let cb = RefCell::new(Some(cb));
    client::request(&mut lp, opts, move |lp, res| {
        let body = res.expect("first response").body();
        body.on_data(lp, |_, _| {});
        body.on_end(lp, move |lp| {
            let opts = RequestOptions::new(Method::POST, url.parse().unwrap()).agent(agent);
            let cb = cb.borrow_mut().take().unwrap();
            client::request(lp, opts, cb).end(lp, Some(Bytes::from_static(b"once")));
        });
    })
    .end(&mut lp, None);
    lp.run(RunMode::Default);
    assert_eq!(error_of(&post), ClientError::ConnectionClosed);
    assert_eq!(server.connections(), 1);
}

/// A malformed response fails its request with a parse error; a request
/// to a healthy server in the same loop is not affected.
#[test]
fn a_malformed_response_fails_only_its_request() {
    let bad = RawServer::start(|_, stream| {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut writer = stream;
        read_request(&mut reader).unwrap();
        let _ = writer.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: nope\r\n\r\n");
        wait_for_eof(&mut writer, Duration::from_secs(5));
    });
    let good =
        RawServer::start(|_, stream| serve_keep_alive(stream, |_| (200, vec![], b"fine".to_vec())));
    let mut lp = Loop::new();
    watchdog(&mut lp, Duration::from_secs(20));
    let (bad_out, cb) = outcome();
    client::get(&mut lp, bad.url("/").as_str(), cb);
    let (good_out, cb) = outcome();
    client::get(&mut lp, good.url("/").as_str(), cb);
    lp.run(RunMode::Default);
    let e = error_of(&bad_out);
    assert_eq!(e, ClientError::Parse(ParseError::InvalidContentLength));
    assert!(e.to_string().contains("Content-Length"), "{e}");
    assert_eq!(good_out.borrow_mut().take().unwrap().unwrap().status(), 200);
}

#[test]
fn abort_before_the_response() {
    let server = RawServer::start(|_, mut stream| {
        wait_for_eof(&mut stream, Duration::from_secs(10));
    });
    let mut lp = Loop::new();
    watchdog(&mut lp, Duration::from_secs(20));
    let (out, cb) = outcome();
    let req = client::get(&mut lp, server.url("/slow").as_str(), cb);
    lp.set_timeout(Duration::from_millis(50), move |lp| req.abort(lp));
    lp.run(RunMode::Default);
    assert_eq!(error_of(&out), ClientError::Aborted);
    assert!(!req.is_pending(&lp));
}

/// The server closes in the middle of a Content-Length body: the head was
/// delivered, so the error goes to the body stream.
#[test]
fn a_truncated_body_errors_the_body_stream() {
    let server = RawServer::start(|_, stream| {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut writer = stream;
        read_request(&mut reader).unwrap();
        let _ = writer.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten..");
    });
    let mut lp = Loop::new();
    watchdog(&mut lp, Duration::from_secs(20));
    let got = Rc::new(RefCell::new(None));
    let g = got.clone();
    client::get(&mut lp, server.url("/").as_str(), move |lp, res| {
        *g.borrow_mut() = Some(collect(lp, res.expect("the head arrived").body()));
    });
    lp.run(RunMode::Default);
    let body = got.borrow_mut().take().unwrap();
    assert!(!body.ended.get());
    assert_eq!(&body.data.borrow()[..], b"only ten..");
    assert_eq!(
        body.error.borrow().clone(),
        Some(StreamError::PrematureClose.to_string())
    );
    assert!(body.closed.get());
}

/// `100 Continue` is skipped (and reported to `on_information`).
#[test]
fn interim_responses_are_skipped() {
    let server = RawServer::start(|_, stream| {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut writer = stream;
        read_request(&mut reader).unwrap();
        let _ = writer.write_all(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n",
        );
        respond(&mut writer, 200, &[], b"final");
    });
    let mut lp = Loop::new();
    watchdog(&mut lp, Duration::from_secs(20));
    let infos = Rc::new(RefCell::new(Vec::new()));
    let (out, cb) = outcome();
    let req = client::request(
        &mut lp,
        RequestOptions::new(Method::GET, server.url("/").parse().unwrap()),
        cb,
    );
    let i = infos.clone();
    req.on_information(&mut lp, move |_, head| i.borrow_mut().push(head.status));
    req.end(&mut lp, None);
    lp.run(RunMode::Default);
    assert_eq!(*infos.borrow(), vec![100, 103]);
    assert_eq!(out.borrow_mut().take().unwrap().unwrap().status(), 200);
}

/// A listener whose accept queue is full drops new SYNs, so a connect
/// hangs: the connect timeout fires. Skipped if the kernel accepts anyway.
#[test]
fn connect_timeout() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut held = Vec::new();
    let filling = std::time::Instant::now();
    let full = loop {
        match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(100)) {
            Ok(s) => held.push(s),
            Err(_) => break true,
        }
        if held.len() > 4096 {
            break false;
        }
    };
    eprintln!(
        "filled the accept queue with {} connections in {:?}",
        held.len(),
        filling.elapsed()
    );
    if !full {
        eprintln!("skipped: could not fill the accept queue to make a connect hang");
        return;
    }
    let mut lp = Loop::new();
    watchdog(&mut lp, Duration::from_secs(20));
    let (out, cb) = outcome();
    let opts = RequestOptions::new(Method::GET, format!("http://{addr}/").parse().unwrap())
        .connect_timeout(Duration::from_millis(200));
    client::request(&mut lp, opts, cb).end(&mut lp, None);
    lp.run(RunMode::Default);
    let e = error_of(&out);
    assert_eq!(
        e,
        ClientError::Timeout {
            what: TimeoutKind::Connect
        }
    );
    assert!(e.to_string().contains("connect_timeout"), "{e}");
    drop((held, listener));
}
