//! Internal invariants: finished requests and closed connections leave
//! nothing behind in the client's table.

use std::io::{BufRead, BufReader, Write};
use std::time::Duration;

use bytes::Bytes;
use eventide_loop_phases::{Loop, RunMode};

use super::state::ClientState;
use super::{Agent, AgentOptions, RequestOptions, get, request};
use crate::proto::Method;

/// A keep-alive server answering `n` requests per connection with "ok",
/// reading Content-Length bodies.
fn server() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let conn = conn.unwrap();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut writer = conn;
                loop {
                    let mut len = 0usize;
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if line == "\r\n" {
                            break;
                        }
                        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                            len = v.trim().parse().unwrap();
                        }
                    }
                    let mut body = vec![0; len];
                    std::io::Read::read_exact(&mut reader, &mut body).unwrap();
                    writer
                        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                        .unwrap();
                }
            });
        }
    });
    port
}

fn counts(lp: &Loop) -> (usize, usize) {
    lp.try_ext::<ClientState>()
        .map_or((0, 0), |s| (s.requests.len(), s.conns.len()))
}

#[test]
fn finished_requests_free_their_entries() {
    let port = server();
    let mut lp = Loop::new();
    let agent = Agent::new(AgentOptions::default().max_sockets_per_host(2));
    for i in 0..5 {
        let url = format!("http://127.0.0.1:{port}/{i}").parse().unwrap();
        let opts = RequestOptions::new(Method::POST, url).agent(agent);
        let req = request(&mut lp, opts, |lp, res| {
            let body = res.unwrap().body();
            body.on_data(lp, |_, _| {});
        });
        req.end(&mut lp, Some(Bytes::from_static(b"body")));
    }
    // A failing request frees its entry too.
    get(&mut lp, "http://127.0.0.1:1/", |_, res| {
        assert!(res.is_err())
    });
    lp.run(RunMode::Default);
    let idle = agent.idle(&lp, "127.0.0.1", port);
    assert_eq!(idle, 2);
    assert_eq!(counts(&lp), (0, idle), "requests or connections leaked");

    // Closing the idle connections frees them and empties the pool.
    agent.close_idle(&mut lp);
    lp.run(RunMode::NoWait);
    assert_eq!(counts(&lp), (0, 0));
    assert_eq!(agent.sockets(&lp, "127.0.0.1", port), 0);
}

#[test]
fn abandoned_body_closes_the_connection() {
    let port = server();
    let mut lp = Loop::new();
    let agent = Agent::new(AgentOptions::default());
    let opts = RequestOptions::new(
        Method::GET,
        format!("http://127.0.0.1:{port}/").parse().unwrap(),
    )
    .agent(agent);
    let req = request(&mut lp, opts, |lp, res| {
        // Not interested in the body: destroying it closes the connection.
        res.unwrap().body().destroy(lp, None);
    });
    req.end(&mut lp, None);
    let t = lp.set_timeout(Duration::from_secs(10), |_| panic!("watchdog"));
    lp.unref_handle(t);
    lp.run(RunMode::Default);
    assert_eq!(counts(&lp), (0, 0));
    assert_eq!(agent.created(&lp), 1);
    assert_eq!(agent.sockets(&lp, "127.0.0.1", port), 0);
}
