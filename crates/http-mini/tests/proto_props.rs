//! Property tests of the protocol core:
//! (a) parse(serialize(message)) gives the message back;
//! (b) every split of a pipelined byte string gives the same messages;
//! (c) chunked bodies with random chunking and extensions decode exactly;
//! (d) arbitrary bytes never panic, never buffer past the limits, and give
//!     the same outcome (error included) for every split.

mod proto_util;

use bytes::BytesMut;
use eventide_http_mini::proto::encode::{
    encode_chunk, encode_last_chunk, encode_request_head, encode_response_head,
};
use eventide_http_mini::proto::{BodyKind, Framing, Headers, Limits, Method, Version};
use proptest::prelude::*;
use proto_util::{byte_cuts, fields, request_outcome, response_outcome};

// ---- strategies ----------------------------------------------------------

fn method() -> impl Strategy<Value = Method> {
    prop_oneof![
        Just(Method::GET),
        Just(Method::POST),
        Just(Method::PUT),
        Just(Method::DELETE),
        Just(Method::PATCH),
        Just(Method::OPTIONS),
        "[A-Z][A-Z0-9!#$%&'*+.^_`|~-]{0,9}".prop_map(|s| Method::from_bytes(s.as_bytes()).unwrap()),
    ]
}

fn target() -> impl Strategy<Value = String> {
    prop_oneof![
        "/[A-Za-z0-9._~!$&'()*+,;=:@%/?-]{0,40}",
        Just("*".to_owned()),
        "http://[a-z]{1,10}\\.example/[a-z0-9/]{0,10}",
    ]
}

fn is_framing_name(name: &str) -> bool {
    name.eq_ignore_ascii_case("content-length") || name.eq_ignore_ascii_case("transfer-encoding")
}

/// A field value as httparse returns it: no leading or trailing whitespace.
fn value() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        8 => 0x21u8..=0x7e,
        1 => Just(b' '),
        1 => Just(b'\t'),
        1 => 0x80u8..=0xff,
    ];
    prop::collection::vec(byte, 0..24).prop_map(|mut v| {
        while v.last().is_some_and(|b| *b == b' ' || *b == b'\t') {
            v.pop();
        }
        let lead = v.iter().take_while(|b| **b == b' ' || **b == b'\t').count();
        v.drain(..lead);
        v
    })
}

fn headers(max: usize) -> impl Strategy<Value = Headers> {
    let name =
        "[A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]{0,15}".prop_filter("framing", |n| !is_framing_name(n));
    prop::collection::vec((name, value()), 0..max).prop_map(|fields| {
        let mut h = Headers::new();
        for (n, v) in fields {
            h.try_append(n, v).unwrap();
        }
        h
    })
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..120)
}

/// A request and how its body is framed on the wire.
#[derive(Debug, Clone)]
struct Req {
    method: Method,
    target: String,
    headers: Headers,
    body: Vec<u8>,
    /// `Some(chunk sizes)` for chunked framing.
    chunks: Option<Vec<usize>>,
    trailers: Headers,
}

fn request() -> impl Strategy<Value = Req> {
    (
        method(),
        target(),
        headers(6),
        body(),
        prop::option::of(prop::collection::vec(1usize..40, 1..6)),
        headers(3),
    )
        .prop_map(|(method, target, headers, body, chunks, trailers)| {
            let trailers = if chunks.is_some() {
                trailers
            } else {
                Headers::new()
            };
            Req {
                method,
                target,
                headers,
                body,
                chunks,
                trailers,
            }
        })
}

/// Cuts `body` into pieces of the given sizes, cycling through them.
fn pieces<'a>(body: &'a [u8], sizes: &[usize]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut rest = body;
    let mut i = 0;
    while !rest.is_empty() {
        let n = sizes[i % sizes.len()].min(rest.len());
        out.push(&rest[..n]);
        rest = &rest[n..];
        i += 1;
    }
    out
}

fn framing(body: &[u8], chunks: &Option<Vec<usize>>) -> Framing {
    match chunks {
        Some(_) => Framing::Chunked,
        None => Framing::Length(body.len() as u64),
    }
}

fn write_body(body: &[u8], chunks: &Option<Vec<usize>>, trailers: &Headers, out: &mut BytesMut) {
    match chunks {
        Some(sizes) => {
            for piece in pieces(body, sizes) {
                encode_chunk(piece, out);
            }
            encode_last_chunk(trailers, out).unwrap();
        }
        None => out.extend_from_slice(body),
    }
}

fn serialize(req: &Req, out: &mut BytesMut) {
    let framing = framing(&req.body, &req.chunks);
    encode_request_head(&req.method, &req.target, &req.headers, framing, out).unwrap();
    write_body(&req.body, &req.chunks, &req.trailers, out);
}

/// The header fields the parser must report: the request's, then the
/// framing field the serializer added.
fn expected_fields(headers: &Headers, framing: Framing) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut f = fields(headers);
    match framing {
        Framing::Length(n) => f.push((b"Content-Length".to_vec(), n.to_string().into_bytes())),
        Framing::Chunked => f.push((b"Transfer-Encoding".to_vec(), b"chunked".to_vec())),
        Framing::None => {}
    }
    f
}

fn check_request(req: &Req, got: &proto_util::Message<eventide_http_mini::proto::RequestHead>) {
    let framing = framing(&req.body, &req.chunks);
    assert_eq!(got.head.method, req.method);
    assert_eq!(got.head.target.as_str(), req.target);
    assert_eq!(got.head.version, Version::Http11);
    assert_eq!(
        fields(&got.head.headers),
        expected_fields(&req.headers, framing)
    );
    let kind = match framing {
        Framing::Chunked => BodyKind::Chunked,
        _ => BodyKind::Length(req.body.len() as u64),
    };
    assert_eq!(got.head.body, kind);
    assert_eq!(got.body, req.body);
    assert_eq!(
        got.trailers.as_ref().map(fields),
        Some(fields(&req.trailers))
    );
}

/// Random cut points, sorted.
fn cuts() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(0usize..2000, 0..12).prop_map(|mut v| {
        v.sort_unstable();
        v
    })
}

// ---- (a) round trips -------------------------------------------------------

/// A response, the request method it answers, and its body framing.
#[derive(Debug, Clone)]
struct Res {
    method: Method,
    status: u16,
    reason: Option<String>,
    headers: Headers,
    body: Vec<u8>,
    chunks: Option<Vec<usize>>,
    trailers: Headers,
}

fn response() -> impl Strategy<Value = Res> {
    let status = prop_oneof![
        4 => 200u16..600,
        1 => Just(204u16),
        1 => Just(304u16),
        1 => prop_oneof![Just(100u16), Just(102), Just(103)],
    ];
    (
        prop_oneof![3 => Just(Method::GET), 1 => Just(Method::HEAD), 1 => Just(Method::POST)],
        status,
        prop::option::of("[A-Za-z][ A-Za-z0-9]{0,20}"),
        headers(5),
        body(),
        prop::option::of(prop::collection::vec(1usize..40, 1..6)),
        headers(3),
    )
        .prop_map(
            |(method, status, reason, headers, body, chunks, trailers)| {
                let trailers = if chunks.is_some() {
                    trailers
                } else {
                    Headers::new()
                };
                Res {
                    method,
                    status,
                    reason,
                    headers,
                    body,
                    chunks,
                    trailers,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn request_round_trip(req in request()) {
        let mut wire = BytesMut::new();
        serialize(&req, &mut wire);
        let out = request_outcome(Limits::default(), &wire, &[]);
        prop_assert_eq!(out.error, None);
        prop_assert_eq!(out.messages.len(), 1);
        check_request(&req, &out.messages[0]);
    }

    /// A sequence of responses (with interim 1xx, 204, 304, HEAD) written by
    /// the serializer and read back by a client that knows the methods.
    #[test]
    fn response_round_trip(responses in prop::collection::vec(response(), 1..4)) {
        let mut wire = BytesMut::new();
        let mut methods = Vec::new();
        for r in &responses {
            let framing = framing(&r.body, &r.chunks);
            let send = encode_response_head(
                r.status, r.reason.as_deref(), &r.headers, framing, r.method.is_head(), &mut wire,
            ).unwrap();
            let no_body = r.status < 200 || r.status == 204 || r.status == 304 || r.method.is_head();
            prop_assert_eq!(send, !no_body);
            if send {
                write_body(&r.body, &r.chunks, &r.trailers, &mut wire);
            }
            // An interim response answers the same request as the next one.
            if r.status >= 200 {
                methods.push(r.method.clone());
            }
        }
        // The last request's final response may be missing (last one was
        // interim): give it a method too.
        if responses.last().is_some_and(|r| r.status < 200) {
            methods.push(Method::GET);
        }
        let out = response_outcome(&methods, &wire, &[]);
        prop_assert_eq!(out.error, None);
        prop_assert_eq!(out.messages.len(), responses.len());
        for (r, got) in responses.iter().zip(&out.messages) {
            prop_assert_eq!(got.head.status, r.status);
            let reason = r.reason.clone().unwrap_or_else(|| {
                eventide_http_mini::proto::reason_phrase(r.status).unwrap_or("").to_owned()
            });
            prop_assert_eq!(got.head.reason_str(), reason);
            prop_assert_eq!(got.head.is_interim(), r.status < 200);
            let interim_or_nobody = r.status < 200 || r.status == 204;
            let framing = if interim_or_nobody { Framing::None } else { framing(&r.body, &r.chunks) };
            prop_assert_eq!(fields(&got.head.headers), expected_fields(&r.headers, framing));
            let has_body = !(interim_or_nobody || r.status == 304 || r.method.is_head());
            if has_body {
                prop_assert_eq!(&got.body, &r.body);
                prop_assert_eq!(got.trailers.as_ref().map(fields), Some(fields(&r.trailers)));
            } else {
                prop_assert!(got.body.is_empty());
                prop_assert_eq!(got.head.body, BodyKind::Empty);
                // Interim heads have no End; the others end at once.
                prop_assert_eq!(got.trailers.is_some(), r.status >= 200);
            }
        }
    }
}

// ---- (b) every split of a pipeline ----------------------------------------

fn pipeline() -> impl Strategy<Value = (Vec<Req>, Vec<u8>)> {
    prop::collection::vec((request(), 0usize..3), 1..4).prop_map(|reqs| {
        let mut wire = BytesMut::new();
        for (req, blank_lines) in &reqs {
            for _ in 0..*blank_lines {
                wire.extend_from_slice(b"\r\n");
            }
            serialize(req, &mut wire);
        }
        (reqs.into_iter().map(|(r, _)| r).collect(), wire.to_vec())
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn pipelined_requests_survive_every_split((reqs, wire) in pipeline(), random in cuts()) {
        let limits = Limits::default();
        let whole = request_outcome(limits, &wire, &[]);
        prop_assert_eq!(whole.error, None);
        prop_assert_eq!(whole.messages.len(), reqs.len());
        for (req, got) in reqs.iter().zip(&whole.messages) {
            check_request(req, got);
        }
        for cut in 1..wire.len() {
            prop_assert_eq!(&request_outcome(limits, &wire, &[cut]), &whole, "cut at {}", cut);
        }
        prop_assert_eq!(&request_outcome(limits, &wire, &random), &whole);
        prop_assert_eq!(&request_outcome(limits, &wire, &byte_cuts(wire.len())), &whole);
    }
}

// ---- (c) chunked decoding ---------------------------------------------------

fn bws() -> impl Strategy<Value = &'static str> {
    prop_oneof![4 => Just(""), 1 => Just(" "), 1 => Just("\t"), 1 => Just(" \t")]
}

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,8}"
}

fn quoted() -> impl Strategy<Value = String> {
    let part = prop_oneof![
        4 => "[ !#-\\[\\]-~]".prop_map(|s| s),
        1 => Just("\\\"".to_owned()),
        1 => Just("\\\\".to_owned()),
    ];
    prop::collection::vec(part, 0..6).prop_map(|p| format!("\"{}\"", p.concat()))
}

/// `*( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] )`
fn extensions() -> impl Strategy<Value = String> {
    let value = prop_oneof![token(), quoted()];
    let ext = (
        bws(),
        bws(),
        token(),
        prop::option::of((bws(), bws(), value)),
    );
    prop::collection::vec(ext, 0..3).prop_map(|exts| {
        exts.into_iter()
            .map(|(a, b, name, value)| match value {
                Some((c, d, v)) => format!("{a};{b}{name}{c}={d}{v}"),
                None => format!("{a};{b}{name}"),
            })
            .collect()
    })
}

/// A chunk size as a peer may write it: any case, leading zeros.
fn hex(n: usize, upper: bool, zeros: usize) -> String {
    let digits = if upper {
        format!("{n:X}")
    } else {
        format!("{n:x}")
    };
    format!("{}{digits}", "0".repeat(zeros))
}

fn chunked_body() -> impl Strategy<Value = (Vec<u8>, Vec<u8>, Headers)> {
    let chunk = (1usize..50, any::<bool>(), 0usize..3, extensions());
    (
        body(),
        prop::collection::vec(chunk, 1..6),
        extensions(),
        0usize..3,
        headers(3),
    )
        .prop_map(|(body, chunks, last_ext, last_zeros, trailers)| {
            let mut wire = b"POST /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
            let sizes: Vec<usize> = chunks.iter().map(|c| c.0).collect();
            for (i, piece) in pieces(&body, &sizes).into_iter().enumerate() {
                let (_, upper, zeros, ext) = &chunks[i % chunks.len()];
                wire.extend_from_slice(
                    format!("{}{ext}\r\n", hex(piece.len(), *upper, *zeros)).as_bytes(),
                );
                wire.extend_from_slice(piece);
                wire.extend_from_slice(b"\r\n");
            }
            wire.extend_from_slice(format!("{}0{last_ext}\r\n", "0".repeat(last_zeros)).as_bytes());
            for (n, v) in &trailers {
                wire.extend_from_slice(&[n, b": ", v, b"\r\n"].concat());
            }
            wire.extend_from_slice(b"\r\n");
            (wire, body, trailers)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn chunked_bodies_decode_exactly((wire, body, trailers) in chunked_body(), random in cuts()) {
        for split in [vec![], random, byte_cuts(wire.len())] {
            let out = request_outcome(Limits::default(), &wire, &split);
            prop_assert_eq!(out.error, None);
            prop_assert_eq!(out.messages.len(), 1);
            prop_assert_eq!(&out.messages[0].body, &body);
            prop_assert_eq!(out.messages[0].trailers.as_ref().map(fields), Some(fields(&trailers)));
        }
    }
}

// ---- (d) hostile input ------------------------------------------------------

/// Small limits, so that random input reaches them.
fn small_limits() -> Limits {
    let mut l = Limits::default();
    l.max_header_bytes = 256;
    l.max_headers = 8;
    l.max_target_len = 64;
    l.max_body_bytes = Some(300);
    l
}

/// Bytes built from HTTP fragments and noise, to reach deep parser states.
fn http_noise() -> impl Strategy<Value = Vec<u8>> {
    let fragment = prop_oneof![
        Just(b"GET ".to_vec()),
        Just(b"POST /".to_vec()),
        Just(b" HTTP/1.1".to_vec()),
        Just(b" HTTP/1.0".to_vec()),
        Just(b"HTTP/1.1 200 OK".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b": ".to_vec()),
        Just(b"Content-Length: ".to_vec()),
        Just(b"Transfer-Encoding: chunked".to_vec()),
        Just(b"Connection: close".to_vec()),
        Just(b";a=\"q\"".to_vec()),
        "[0-9a-fA-F]{1,4}".prop_map(String::into_bytes),
        "[ -~]{1,6}".prop_map(String::into_bytes),
        prop::collection::vec(any::<u8>(), 1..4),
    ];
    prop::collection::vec(fragment, 0..40).prop_map(|f| f.concat())
}

#[derive(Debug, Clone)]
enum Mutation {
    Replace(usize, u8),
    Delete(usize),
    Insert(usize, u8),
}

fn mutate(mut wire: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        if wire.is_empty() {
            break;
        }
        match *m {
            Mutation::Replace(at, b) => {
                let at = at % wire.len();
                wire[at] = b;
            }
            Mutation::Delete(at) => {
                wire.remove(at % wire.len());
            }
            Mutation::Insert(at, b) => wire.insert(at % (wire.len() + 1), b),
        }
    }
    wire
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(a, b)| Mutation::Replace(a, b)),
        any::<usize>().prop_map(Mutation::Delete),
        (any::<usize>(), any::<u8>()).prop_map(|(a, b)| Mutation::Insert(a, b)),
    ]
}

/// Any input: no panic, no more than a head buffered (checked inside
/// `request_outcome`), and the same outcome, error included, for every
/// way of splitting it.
fn assert_split_invariant(input: &[u8], random: &[usize]) -> Result<(), TestCaseError> {
    for limits in [Limits::default(), small_limits()] {
        let whole = request_outcome(limits, input, &[]);
        prop_assert_eq!(&request_outcome(limits, input, random), &whole);
        prop_assert_eq!(
            &request_outcome(limits, input, &byte_cuts(input.len())),
            &whole
        );
    }
    let methods = [Method::GET, Method::HEAD, Method::CONNECT, Method::GET];
    let whole = response_outcome(&methods, input, &[]);
    prop_assert_eq!(&response_outcome(&methods, input, random), &whole);
    prop_assert_eq!(
        &response_outcome(&methods, input, &byte_cuts(input.len())),
        &whole
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_bytes_are_handled(input in prop::collection::vec(any::<u8>(), 0..400), random in cuts()) {
        assert_split_invariant(&input, &random)?;
    }

    #[test]
    fn http_like_noise_is_handled(input in http_noise(), random in cuts()) {
        assert_split_invariant(&input, &random)?;
    }

    #[test]
    fn mutated_requests_are_handled(
        (_, wire) in pipeline(),
        mutations in prop::collection::vec(mutation(), 1..4),
        random in cuts(),
    ) {
        assert_split_invariant(&mutate(wire, &mutations), &random)?;
    }
}
