//! Property: any sequence of pipelined requests (GET, HEAD, POST with a
//! Content-Length or chunked body), written to one real connection in any
//! split, is answered in order, each response matching its request byte
//! for byte, as read by the crate's own `ResponseParser`.

mod server_util;

use std::io::Write;
use std::time::Duration;

use eventide_http_mini::server::ServerOptions;
use proptest::prelude::*;
use server_util::{Client, run_client, serve, test_options};

#[derive(Debug, Clone)]
enum Req {
    Get,
    Head,
    PostLength(Vec<u8>),
    /// The body, and where it is cut into chunks.
    PostChunked(Vec<u8>, Vec<usize>),
}

impl Req {
    fn method(&self) -> &'static str {
        match self {
            Req::Get => "GET",
            Req::Head => "HEAD",
            _ => "POST",
        }
    }

    fn body(&self) -> &[u8] {
        match self {
            Req::Get | Req::Head => b"",
            Req::PostLength(b) | Req::PostChunked(b, _) => b,
        }
    }

    fn encode(&self, i: usize, out: &mut Vec<u8>) {
        let m = self.method();
        out.extend_from_slice(format!("{m} /r{i} HTTP/1.1\r\nHost: t\r\n").as_bytes());
        match self {
            Req::Get | Req::Head => out.extend_from_slice(b"\r\n"),
            Req::PostLength(b) => {
                out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", b.len()).as_bytes());
                out.extend_from_slice(b);
            }
            Req::PostChunked(b, cuts) => {
                out.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
                let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (b.len() + 1)).collect();
                cuts.push(0);
                cuts.push(b.len());
                cuts.sort_unstable();
                cuts.dedup();
                for w in cuts.windows(2) {
                    let piece = &b[w[0]..w[1]];
                    out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
                    out.extend_from_slice(piece);
                    out.extend_from_slice(b"\r\n");
                }
                out.extend_from_slice(b"0\r\n\r\n");
            }
        }
    }
}

fn body_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => proptest::collection::vec(any::<u8>(), 0..300),
        1 => (0usize..150_000, any::<u64>()).prop_map(|(n, seed)| server_util::pattern(n, seed)),
    ]
}

fn req_strategy() -> impl Strategy<Value = Req> {
    prop_oneof![
        Just(Req::Get),
        Just(Req::Head),
        body_strategy().prop_map(Req::PostLength),
        (
            body_strategy(),
            proptest::collection::vec(any::<usize>(), 0..6)
        )
            .prop_map(|(b, c)| Req::PostChunked(b, c)),
    ]
}

/// The echo server, streaming (chunked) or buffered (Content-Length) by
/// request, and naming the request in a header.
fn handler(
    lp: &mut eventide_loop_phases::Loop,
    req: eventide_http_mini::server::Request,
    res: eventide_http_mini::server::Response,
) {
    let _ = res.set_header(lp, "X-Path", req.path().to_owned());
    let n: usize = req.path()[2..].parse().unwrap();
    if n % 2 == 0 {
        server_util::echo_handler(lp, req, res);
    } else {
        server_util::buffered_echo_handler(lp, req, res);
    }
}

/// How the connection is run: small marks make backpressure, held output
/// and paused parsing come into play; a half-close sends the client's FIN
/// right after its last request.
#[derive(Debug, Clone, Copy)]
struct Setup {
    high_water_mark: usize,
    max_pipelined: usize,
    half_close: bool,
}

fn setup_strategy() -> impl Strategy<Value = Setup> {
    (1usize..70_000, 1usize..10, any::<bool>()).prop_map(|(h, p, half_close)| Setup {
        high_water_mark: h,
        max_pipelined: p,
        half_close,
    })
}

fn check(reqs: Vec<Req>, cuts: Vec<usize>, setup: Setup) -> Result<(), TestCaseError> {
    let mut wire = Vec::new();
    for (i, r) in reqs.iter().enumerate() {
        r.encode(i, &mut wire);
    }
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (wire.len() + 1)).collect();
    cuts.push(0);
    cuts.push(wire.len());
    cuts.sort_unstable();
    cuts.dedup();

    let options = ServerOptions {
        high_water_mark: setup.high_water_mark,
        max_pipelined: setup.max_pipelined,
        ..test_options()
    };
    let (mut lp, server, _) = serve(options, handler);
    let expected = reqs.clone();
    let (result, stats) = run_client(&mut lp, server, move |addr| {
        let mut c = Client::connect(addr);
        for r in &expected {
            c.expect(r.method());
        }
        // Write from another thread, so that reading responses never waits
        // for the writes (or the other way round).
        let mut w = c.stream.try_clone().unwrap();
        let writer = std::thread::spawn(move || {
            for win in cuts.windows(2) {
                w.write_all(&wire[win[0]..win[1]]).unwrap();
                if win[1] % 3 == 0 {
                    std::thread::sleep(Duration::from_micros(200));
                }
            }
            if setup.half_close {
                w.shutdown(std::net::Shutdown::Write).unwrap();
            }
        });
        let mut out = Vec::new();
        for (i, r) in expected.iter().enumerate() {
            let resp = match c.try_response() {
                Ok(resp) => resp,
                Err(e) => return Err(format!("response {i}: {e}")),
            };
            let path = format!("/r{i}");
            if resp.status() != 200 || resp.header("x-path") != Some(path.as_str()) {
                return Err(format!("response {i}: {:?}", resp.head));
            }
            let want: &[u8] = if matches!(r, Req::Head) {
                b""
            } else {
                r.body()
            };
            if resp.body != want {
                return Err(format!(
                    "response {i}: body of {} bytes, want {}",
                    resp.body.len(),
                    want.len()
                ));
            }
            out.push(resp);
        }
        writer.join().unwrap();
        if setup.half_close {
            // Everything answered, the server closes too.
            if let server_util::Closed::No(_) = c.wait_closed(Duration::from_secs(5)) {
                return Err("not closed after the client's FIN".into());
            }
        }
        Ok(out.len())
    });
    prop_assert_eq!(result, Ok(reqs.len()));
    prop_assert_eq!(stats.requests, reqs.len() as u64);
    prop_assert_eq!(stats.connections, 1);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn pipelined_requests_answered_in_order_byte_exact(
        reqs in proptest::collection::vec(req_strategy(), 1..12),
        cuts in proptest::collection::vec(any::<usize>(), 0..20),
        setup in setup_strategy(),
    ) {
        check(reqs, cuts, setup)?;
    }
}

/// Bytes cut one by one (the worst split) for a small mixed sequence.
#[test]
fn byte_by_byte() {
    let reqs = vec![
        Req::PostChunked(b"hello chunked world".to_vec(), vec![3, 9]),
        Req::Head,
        Req::PostLength(b"length body".to_vec()),
        Req::Get,
    ];
    let mut wire = Vec::new();
    for (i, r) in reqs.iter().enumerate() {
        r.encode(i, &mut wire);
    }
    let setup = Setup {
        high_water_mark: 1,
        max_pipelined: 1,
        half_close: true,
    };
    check(reqs, (0..wire.len()).collect(), setup).unwrap();
}
