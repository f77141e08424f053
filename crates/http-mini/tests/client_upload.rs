//! Request bodies: the framing follows from how the body is written, the
//! bytes arrive intact, and `write` applies backpressure.

mod client_util;

use std::cell::{Cell, RefCell};
use std::io::BufReader;
use std::rc::Rc;
use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use client_util::{
    RawServer, collect, fnv1a, pseudo_random, read_request, respond, serve_keep_alive, watchdog,
};
use eventide_http_mini::client::{self, ClientRequest, RequestOptions};
use eventide_http_mini::proto::Method;
use eventide_loop_phases::{Loop, RunMode};
use eventide_streams::{Readable, StreamOptions};
use proptest::prelude::*;

/// Echoes the body back, with how it was framed in `X-Framing` and the
/// Host header in `X-Host`.
fn echo_server() -> RawServer {
    RawServer::start(|_, stream| {
        serve_keep_alive(stream, |req| {
            let headers = vec![
                ("X-Framing".to_string(), req.framing.clone()),
                (
                    "X-Host".to_string(),
                    req.header("host").unwrap_or("-").to_string(),
                ),
            ];
            (200, headers, req.body.clone())
        });
    })
}

/// What came back from the echo server.
type Echo = Rc<RefCell<Option<(String, String, Rc<client_util::Collected>)>>>;

fn send(lp: &mut Loop, method: Method, url: &str) -> (ClientRequest, Echo) {
    let echo: Echo = Rc::new(RefCell::new(None));
    let e = echo.clone();
    let req = client::request(
        lp,
        RequestOptions::new(method, url.parse().unwrap()),
        move |lp, res| {
            let res = res.expect("a response");
            let framing = res.headers().get_str("x-framing").unwrap().to_string();
            let host = res.headers().get_str("x-host").unwrap().to_string();
            *e.borrow_mut() = Some((framing, host, collect(lp, res.body())));
        },
    );
    (req, echo)
}

fn result(echo: &Echo) -> (String, Vec<u8>) {
    let (framing, _, body) = echo.borrow_mut().take().expect("no response");
    assert!(body.ended.get());
    let data = body.data.borrow().clone();
    (framing, data)
}

#[test]
fn writes_before_end_are_sent_chunked() {
    let server = echo_server();
    let mut lp = Loop::new();
    watchdog(&mut lp, Duration::from_secs(20));
    let (req, echo) = send(&mut lp, Method::POST, &server.url("/up"));
    assert!(req.write(&mut lp, Bytes::from_static(b"hello, ")));
    assert!(req.write(&mut lp, Bytes::from_static(b"")));
    assert!(req.write(&mut lp, Bytes::from_static(b"chunked ")));
    req.end(&mut lp, Some(Bytes::from_static(b"world")));
    lp.run(RunMode::Default);
    assert_eq!(
        result(&echo),
        ("chunked".into(), b"hello, chunked world".to_vec())
    );
}

#[test]
fn a_whole_body_in_end_is_sent_with_content_length() {
    let server = echo_server();
    let mut lp = Loop::new();
    watchdog(&mut lp, Duration::from_secs(20));
    let (req, echo) = send(&mut lp, Method::PUT, &server.url("/put"));
    req.end(&mut lp, Some(Bytes::from_static(b"one piece")));
    lp.run(RunMode::Default);
    assert_eq!(result(&echo), ("length:9".into(), b"one piece".to_vec()));
}

#[test]
fn no_body_framing_follows_the_method_and_host_is_added() {
    let server = echo_server();
    let mut lp = Loop::new();
    watchdog(&mut lp, Duration::from_secs(20));
    let (get, get_echo) = send(&mut lp, Method::GET, &server.url("/g"));
    get.end(&mut lp, None);
    let (post, post_echo) = send(&mut lp, Method::POST, &server.url("/p"));
    post.end(&mut lp, Some(Bytes::new()));
    lp.run(RunMode::Default);
    let (_, host, _) = get_echo.borrow().clone().unwrap();
    assert_eq!(host, format!("127.0.0.1:{}", server.port));
    assert_eq!(result(&get_echo), ("none".into(), vec![]));
    assert_eq!(result(&post_echo), ("length:0".into(), vec![]));
}

#[test]
fn a_readable_piped_into_the_request_is_sent_chunked() {
    let server = echo_server();
    let mut lp = Loop::new();
    watchdog(&mut lp, Duration::from_secs(20));
    let (req, echo) = send(&mut lp, Method::POST, &server.url("/pipe"));
    let parts: Vec<Bytes> = (0..50).map(|i| Bytes::from(format!("part {i};"))).collect();
    let expected: Vec<u8> = parts.iter().flat_map(|b| b.to_vec()).collect();
    let src = Readable::from_iter(&mut lp, parts, StreamOptions::default());
    src.pipe(&mut lp, req.writable());
    lp.run(RunMode::Default);
    assert_eq!(result(&echo), ("chunked".into(), expected));
}

/// 16 MiB to a server that starts reading late: `write` says stop, `drain`
/// says go on, the request body buffer stays bounded, and the server gets
/// every byte.
#[test]
fn a_large_upload_respects_backpressure() {
    const SIZE: usize = 16 << 20;
    const CHUNK: usize = 64 << 10;
    let server = RawServer::start(|_, stream| {
        std::thread::sleep(Duration::from_millis(200));
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut writer = stream;
        let req = read_request(&mut reader).unwrap();
        let summary = format!("{} {:x} {}", req.body.len(), fnv1a(&req.body), req.framing);
        respond(&mut writer, 200, &[], summary.as_bytes());
    });
    let data = Rc::new(pseudo_random(SIZE, 7));
    let mut lp = Loop::new();
    watchdog(&mut lp, Duration::from_secs(60));
    let echo = Rc::new(RefCell::new(None));
    let e = echo.clone();
    let req = client::request(
        &mut lp,
        RequestOptions::new(Method::POST, server.url("/big").parse().unwrap()),
        move |lp, res| {
            *e.borrow_mut() = Some(collect(lp, res.expect("a response").body()));
        },
    );
    let (offset, refused, peak) = (
        Rc::new(Cell::new(0)),
        Rc::new(Cell::new(0)),
        Rc::new(Cell::new(0)),
    );
    fn produce(
        lp: &mut Loop,
        req: ClientRequest,
        data: &Rc<Vec<u8>>,
        offset: &Cell<usize>,
        refused: &Cell<u32>,
        peak: &Cell<usize>,
    ) {
        while offset.get() < data.len() {
            let at = offset.get();
            let chunk = Bytes::copy_from_slice(&data[at..at + CHUNK]);
            offset.set(at + CHUNK);
            let more = req.write(lp, chunk);
            peak.set(peak.get().max(req.writable().writable_length(lp)));
            if !more {
                refused.set(refused.get() + 1);
                return;
            }
        }
        req.end(lp, None);
    }
    produce(&mut lp, req, &data, &offset, &refused, &peak);
    let (d, o, r, p) = (data.clone(), offset.clone(), refused.clone(), peak.clone());
    req.on_drain(&mut lp, move |lp| produce(lp, req, &d, &o, &r, &p));
    lp.run(RunMode::Default);
    let body = echo.borrow_mut().take().expect("no response");
    let summary = String::from_utf8(body.data.borrow().clone()).unwrap();
    assert_eq!(summary, format!("{SIZE} {:x} chunked", fnv1a(&data)));
    assert!(refused.get() > 0, "write never returned false");
    // The mark (64 KiB) plus the chunk that crossed it.
    assert!(
        peak.get() <= (64 << 10) + CHUNK,
        "request body buffer peaked at {}",
        peak.get()
    );
}

fn shared_echo() -> &'static RawServer {
    static SERVER: OnceLock<RawServer> = OnceLock::new();
    SERVER.get_or_init(echo_server)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Any body, written in any pieces, comes back byte-exact, framed as
    /// its writing says.
    #[test]
    fn bodies_round_trip_under_any_split(
        body in proptest::collection::vec(any::<u8>(), 0..40_000),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
    ) {
        let server = shared_echo();
        let mut points: Vec<usize> = cuts.iter().map(|c| c.index(body.len() + 1)).collect();
        points.push(0);
        points.push(body.len());
        points.sort_unstable();
        points.dedup();
        let pieces: Vec<Bytes> = points.windows(2).map(|w| Bytes::copy_from_slice(&body[w[0]..w[1]])).collect();

        let mut lp = Loop::new();
        watchdog(&mut lp, Duration::from_secs(20));
        let (req, echo) = send(&mut lp, Method::POST, &server.url("/prop"));
        let expected_framing = match pieces.len() {
            0 => "length:0".to_string(),
            1 => {
                req.end(&mut lp, Some(pieces[0].clone()));
                format!("length:{}", body.len())
            }
            _ => {
                for p in &pieces {
                    req.write(&mut lp, p.clone());
                }
                "chunked".to_string()
            }
        };
        if pieces.len() != 1 {
            req.end(&mut lp, None);
        }
        lp.run(RunMode::Default);
        let (framing, data) = result(&echo);
        prop_assert_eq!(framing, expected_framing);
        prop_assert_eq!(data, body);
    }
}
