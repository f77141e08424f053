use bytes::{Bytes, BytesMut};

use super::*;
use crate::proto::{Headers, MAX_CHUNK_LINE, MAX_LEADING_EMPTY_LINES, Method, Version};

/// What a parser made of some input: heads, bodies, trailers, and the error
/// that stopped it, if any.
#[derive(Debug, Default, PartialEq)]
struct Outcome {
    heads: Vec<RequestHead>,
    bodies: Vec<Vec<u8>>,
    trailers: Vec<Headers>,
    error: Option<ParseError>,
}

fn feed(parser: &mut RequestParser, buf: &mut BytesMut, out: &mut Outcome) {
    loop {
        match parser.next_event(buf) {
            Ok(Some(Event::Head(h))) => {
                out.heads.push(h);
                out.bodies.push(Vec::new());
            }
            Ok(Some(Event::Data(d))) => out.bodies.last_mut().unwrap().extend_from_slice(&d),
            Ok(Some(Event::End { trailers })) => out.trailers.push(trailers),
            Ok(None) => return,
            Err(e) => {
                out.error = Some(e);
                return;
            }
        }
    }
}

fn parse_with(limits: Limits, input: &[u8]) -> Outcome {
    let mut parser = RequestParser::with_limits(limits);
    let mut out = Outcome::default();
    feed(&mut parser, &mut BytesMut::from(input), &mut out);
    out
}

fn parse(input: &[u8]) -> Outcome {
    parse_with(Limits::default(), input)
}

fn parse_bytewise(input: &[u8]) -> Outcome {
    let mut parser = RequestParser::new();
    let mut buf = BytesMut::new();
    let mut out = Outcome::default();
    for &b in input {
        buf.extend_from_slice(&[b]);
        feed(&mut parser, &mut buf, &mut out);
        if out.error.is_some() {
            break;
        }
    }
    out
}

/// The error `input` is rejected with, checked the same fed byte by byte.
fn error(input: &[u8]) -> ParseError {
    let whole = parse(input);
    assert_eq!(
        whole.error,
        parse_bytewise(input).error,
        "split changed the outcome"
    );
    whole.error.expect("input was accepted")
}

fn error_with(limits: Limits, input: &[u8]) -> ParseError {
    parse_with(limits, input).error.expect("input was accepted")
}

fn request_with(fields: &str) -> Vec<u8> {
    format!("POST / HTTP/1.1\r\nHost: a\r\n{fields}\r\n").into_bytes()
}

#[test]
fn simple_get() {
    let out = parse(b"GET /index.html?x=1 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n");
    assert_eq!(out.error, None);
    let h = &out.heads[0];
    assert_eq!(h.method, Method::GET);
    assert_eq!(h.target.path(), "/index.html");
    assert_eq!(h.version, Version::Http11);
    assert_eq!(h.headers.len(), 2);
    assert_eq!(h.body, BodyKind::Empty);
    assert!(h.keep_alive && !h.expect_continue);
    assert_eq!(out.trailers.len(), 1, "End follows at once");
}

#[test]
fn head_fields_are_zero_copy() {
    let mut buf = BytesMut::from(&b"GET /t HTTP/1.1\r\nHost: h\r\n\r\n"[..]);
    let range = buf.as_ptr() as usize..buf.as_ptr() as usize + buf.len();
    let Ok(Some(Event::Head(h))) = RequestParser::new().next_event(&mut buf) else {
        panic!("no head");
    };
    assert!(range.contains(&(h.headers.get("host").unwrap().as_ptr() as usize)));
    assert!(range.contains(&(h.target.as_bytes().as_ptr() as usize)));
}

#[test]
fn body_data_is_zero_copy() {
    let mut buf = BytesMut::from(&b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"[..]);
    let at = buf.as_ptr() as usize + buf.len() - 3;
    let mut p = RequestParser::new();
    p.next_event(&mut buf).unwrap();
    let Ok(Some(Event::Data(d))) = p.next_event(&mut buf) else {
        panic!()
    };
    assert_eq!(d.as_ptr() as usize, at);
}

#[test]
fn pipelined_requests_and_bodies() {
    let input = b"POST /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc\
GET /b HTTP/1.1\r\n\r\n\
PUT /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nxy\r\n0\r\nX-T: 1\r\n\r\n";
    let out = parse(input);
    assert_eq!(out.error, None);
    let targets: Vec<&str> = out.heads.iter().map(|h| h.target.as_str()).collect();
    assert_eq!(targets, ["/a", "/b", "/c"]);
    assert_eq!(out.bodies, [b"abc".to_vec(), vec![], b"xy".to_vec()]);
    assert_eq!(out.trailers[2].get_str("x-t"), Some("1"));
    assert_eq!(parse_bytewise(input), out);
}

#[test]
fn leading_empty_lines_are_skipped_but_bounded() {
    let out = parse(b"\r\n\nGET / HTTP/1.1\r\n\r\n\r\nGET /2 HTTP/1.1\r\n\r\n");
    assert_eq!(out.error, None);
    assert_eq!(out.heads.len(), 2);
    let mut many = "\r\n".repeat(MAX_LEADING_EMPTY_LINES + 1);
    many.push_str("GET / HTTP/1.1\r\n\r\n");
    assert_eq!(error(many.as_bytes()), ParseError::TooManyEmptyLines);
}

#[test]
fn keep_alive_and_expect() {
    let head = |s: &str| parse(s.as_bytes()).heads.remove(0);
    assert!(head("GET / HTTP/1.1\r\n\r\n").keep_alive);
    assert!(!head("GET / HTTP/1.1\r\nConnection: close\r\n\r\n").keep_alive);
    assert!(!head("GET / HTTP/1.1\r\nConnection: Upgrade, Close\r\n\r\n").keep_alive);
    assert!(!head("GET / HTTP/1.0\r\n\r\n").keep_alive);
    assert!(head("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").keep_alive);
    let h = head("POST / HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n");
    assert!(h.expect_continue);
    assert!(!head("POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n").expect_continue);
}

#[test]
fn content_length_rejections() {
    assert_eq!(
        error(&request_with(
            "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n"
        )),
        ParseError::ContentLengthWithTransferEncoding
    );
    assert_eq!(
        error(&request_with("Content-Length: 3\r\nContent-Length: 4\r\n")),
        ParseError::ConflictingContentLength
    );
    assert_eq!(
        error(&request_with("Content-Length: 3, 4\r\n")),
        ParseError::ConflictingContentLength
    );
    for bad in ["", "x", "+5", "-1", "1.0", "99999999999999999999"] {
        let input = request_with(&format!("Content-Length: {bad}\r\n"));
        assert_eq!(error(&input), ParseError::InvalidContentLength, "{bad:?}");
        assert_eq!(error(&input).status(), 400);
    }
    // Identical repeats are accepted.
    let out = parse(
        &[
            request_with("Content-Length: 1\r\nContent-Length: 1\r\n"),
            b"x".to_vec(),
        ]
        .concat(),
    );
    assert_eq!((out.error, out.bodies[0].as_slice()), (None, &b"x"[..]));
}

#[test]
fn transfer_encoding_rejections() {
    let te = |v: &str| error(&request_with(&format!("Transfer-Encoding: {v}\r\n")));
    assert_eq!(te("chunked, gzip"), ParseError::InvalidTransferEncoding);
    assert_eq!(te("gzip"), ParseError::InvalidTransferEncoding);
    assert_eq!(te("chunked, chunked"), ParseError::InvalidTransferEncoding);
    assert_eq!(te("gzip, chunked"), ParseError::UnsupportedTransferCoding);
    assert_eq!(te("gzip, chunked").status(), 501);
    assert_eq!(
        error(b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"),
        ParseError::TransferEncodingInHttp10
    );
}

#[test]
fn chunked_framing_rejections() {
    let chunked = |body: &[u8]| {
        error(
            &[
                request_with("Transfer-Encoding: chunked\r\n"),
                body.to_vec(),
            ]
            .concat(),
        )
    };
    assert_eq!(chunked(b"zz\r\n"), ParseError::InvalidChunkSize);
    assert_eq!(chunked(b"\r\n"), ParseError::InvalidChunkSize);
    assert_eq!(chunked(b"5x\r\n"), ParseError::InvalidChunkSize);
    assert_eq!(chunked(b" 5\r\n"), ParseError::InvalidChunkSize);
    assert_eq!(
        chunked(b"11111111111111111\r\n"),
        ParseError::ChunkSizeOverflow
    );
    assert_eq!(chunked(b"1\r\nab\r\n"), ParseError::MissingChunkCrlf);
    assert_eq!(chunked(b"1\nab"), ParseError::ChunkedLineEnding);
    assert_eq!(chunked(b"1\r\na\n0\r\n\r\n"), ParseError::ChunkedLineEnding);
    let mut ext = b"1;n=".to_vec();
    ext.extend(std::iter::repeat_n(b'v', MAX_CHUNK_LINE));
    assert_eq!(chunked(&ext), ParseError::ChunkLineTooLong);
    assert_eq!(chunked(b"1;=v\r\n"), ParseError::InvalidChunkExtension);
}

#[test]
fn head_syntax_rejections() {
    // Obsolete line folding.
    assert_eq!(
        error(b"GET / HTTP/1.1\r\nX-A: 1\r\n  continued\r\n\r\n"),
        ParseError::HeaderName
    );
    // Whitespace between the name and the colon.
    assert_eq!(
        error(b"GET / HTTP/1.1\r\nX-A : 1\r\n\r\n"),
        ParseError::HeaderName
    );
    // Invalid characters in a name or the method.
    assert_eq!(
        error(b"GET / HTTP/1.1\r\nX(A): 1\r\n\r\n"),
        ParseError::HeaderName
    );
    assert_eq!(error(b"G@T / HTTP/1.1\r\n\r\n"), ParseError::RequestLine);
    assert_eq!(
        error(b"GET /\x01 HTTP/1.1\r\n\r\n"),
        ParseError::RequestLine
    );
    assert_eq!(error(b"GET  / HTTP/1.1\r\n\r\n"), ParseError::RequestLine);
    assert_eq!(
        error(b"GET / HTTP/1.1\r\nX-A: a\x00b\r\n\r\n"),
        ParseError::HeaderValue
    );
    assert_eq!(error(b"GET / HTTP/1.1\rX\r\n\r\n"), ParseError::NewLine);
    assert_eq!(
        error(b"GET / HTTP/1.1\r\nX-A: 1\rX\r\n\r\n"),
        ParseError::HeaderValue
    );
    // Garbage is rejected at its first byte, before any line ends.
    assert_eq!(error(b"\x16\x03\x01"), ParseError::RequestLine);
    for status_400 in [
        ParseError::HeaderName,
        ParseError::RequestLine,
        ParseError::HeaderValue,
    ] {
        assert_eq!(status_400.status(), 400);
    }
}

#[test]
fn version_rejections() {
    assert_eq!(error(b"GET / HTTP/2.0\r\n\r\n"), ParseError::Version);
    assert_eq!(error(b"GET / HTTP/1.2\r\n\r\n"), ParseError::Version);
    assert_eq!(error(b"GET / HTTP/0.9\r\n\r\n"), ParseError::Version);
    assert_eq!(error(b"GET / XTTP/1.1\r\n\r\n"), ParseError::Version);
    assert_eq!(ParseError::Version.status(), 505);
}

#[test]
fn head_size_limit_is_exact_and_applies_while_partial() {
    let limits = Limits::default();
    let base = b"GET / HTTP/1.1\r\nX-Pad: \r\n\r\n".len();
    let exact = |len: usize| {
        let pad = "p".repeat(len - base);
        format!("GET / HTTP/1.1\r\nX-Pad: {pad}\r\n\r\n").into_bytes()
    };
    assert_eq!(parse(&exact(limits.max_header_bytes)).error, None);
    assert_eq!(
        error(&exact(limits.max_header_bytes + 1)),
        ParseError::HeadTooLarge
    );

    // An endless header is rejected once the limit is buffered, without
    // waiting for its end.
    let mut parser = RequestParser::new();
    let mut buf = BytesMut::from(&b"GET / HTTP/1.1\r\nX-Endless: "[..]);
    let mut result = Ok(None);
    while buf.len() <= limits.max_header_bytes {
        buf.extend_from_slice(&[b'a'; 1000]);
        result = parser.next_event(&mut buf);
        if result.is_err() {
            break;
        }
    }
    assert_eq!(result, Err(ParseError::HeadTooLarge));
    assert!(buf.len() <= limits.max_header_bytes + 1000);
    assert_eq!(ParseError::HeadTooLarge.status(), 431);
}

#[test]
fn too_many_headers() {
    let fields: String = (0..=100).map(|i| format!("X-{i}: v\r\n")).collect();
    assert_eq!(
        error(format!("GET / HTTP/1.1\r\n{fields}\r\n").as_bytes()),
        ParseError::TooManyHeaders
    );
    let fields: String = (0..100).map(|i| format!("X-{i}: v\r\n")).collect();
    assert_eq!(
        parse(format!("GET / HTTP/1.1\r\n{fields}\r\n").as_bytes()).error,
        None
    );
    assert_eq!(ParseError::TooManyHeaders.status(), 431);
}

#[test]
fn target_limit_applies_while_the_line_is_incomplete() {
    let max = Limits::default().max_target_len;
    let ok = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(max - 1));
    assert_eq!(parse(ok.as_bytes()).error, None);
    let long = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(max));
    assert_eq!(error(long.as_bytes()), ParseError::TargetTooLong);
    // No SP, no CRLF yet: still rejected as soon as max + 1 bytes are in.
    let partial = format!("GET /{}", "a".repeat(max));
    assert_eq!(
        parse(partial.as_bytes()).error,
        Some(ParseError::TargetTooLong)
    );
    assert_eq!(ParseError::TargetTooLong.status(), 414);
}

#[test]
fn body_limit() {
    let limits = Limits {
        max_body_bytes: Some(4),
        ..Limits::default()
    };
    assert_eq!(
        error_with(limits, &request_with("Content-Length: 5\r\n")),
        ParseError::BodyTooLarge
    );
    assert_eq!(
        parse_with(
            limits,
            &[request_with("Content-Length: 4\r\n"), b"abcd".to_vec()].concat()
        )
        .error,
        None
    );
    let chunked = [
        request_with("Transfer-Encoding: chunked\r\n"),
        b"3\r\nabc\r\n2\r\n".to_vec(),
    ]
    .concat();
    let out = parse_with(limits, &chunked);
    assert_eq!(out.bodies[0], b"abc", "data before the limit is delivered");
    assert_eq!(out.error, Some(ParseError::BodyTooLarge));
    assert_eq!(ParseError::BodyTooLarge.status(), 413);
}

#[test]
fn errors_are_sticky() {
    let mut p = RequestParser::new();
    let mut buf = BytesMut::from(&b"GET / HTTP/9.9\r\n\r\n"[..]);
    assert_eq!(p.next_event(&mut buf), Err(ParseError::Version));
    let mut good = BytesMut::from(&b"GET / HTTP/1.1\r\n\r\n"[..]);
    assert_eq!(p.next_event(&mut good), Err(ParseError::Version));
    assert_eq!(p.eof(), Err(ParseError::Version));
}

#[test]
fn eof_cleanliness() {
    let mut p = RequestParser::new();
    assert!(p.is_idle());
    assert_eq!(p.eof(), Ok(()));

    let mut p = RequestParser::new();
    let mut buf = BytesMut::from(&b"GET / HTTP/1.1\r\n\r\n\r\n"[..]);
    while p.next_event(&mut buf).unwrap().is_some() {}
    assert!(p.is_idle());
    assert_eq!(p.eof(), Ok(()), "between requests");
    assert_eq!(
        p.next_event(&mut BytesMut::from(&b"GET"[..])),
        Ok(None),
        "closed"
    );

    let mut p = RequestParser::new();
    let mut buf = BytesMut::from(&b"GET / HT"[..]);
    assert_eq!(p.next_event(&mut buf), Ok(None));
    assert!(!p.is_idle());
    assert_eq!(p.eof(), Err(ParseError::UnexpectedEof), "mid-head");

    let mut p = RequestParser::new();
    let mut buf = BytesMut::from(&b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nab"[..]);
    while p.next_event(&mut buf).unwrap().is_some() {}
    assert_eq!(p.eof(), Err(ParseError::UnexpectedEof), "mid-body");
    assert_eq!(p.eof(), Err(ParseError::UnexpectedEof), "sticky");
}

#[test]
fn byte_at_a_time_runs_httparse_a_bounded_number_of_times() {
    let fields: String = (0..90)
        .map(|i| format!("X-Field-{i}: value {i}\r\n"))
        .collect();
    let input = format!("GET / HTTP/1.1\r\n{fields}\r\n");
    let mut p = RequestParser::new();
    let mut buf = BytesMut::new();
    let mut heads = 0;
    for &b in input.as_bytes() {
        buf.extend_from_slice(&[b]);
        if let Some(Event::Head(_)) = p.next_event(&mut buf).unwrap() {
            heads += 1;
        }
    }
    assert_eq!(heads, 1);
    // On the first byte, then only when the empty line arrives.
    assert_eq!(p.httparse_runs, 2);
}

#[test]
fn extension_methods_and_targets() {
    let out = parse(b"PURGE * HTTP/1.1\r\n\r\nOPTIONS http://a.example/x HTTP/1.1\r\n\r\n");
    assert_eq!(out.heads[0].method.as_str(), "PURGE");
    assert_eq!(out.heads[0].target.as_str(), "*");
    assert_eq!(out.heads[1].method, Method::OPTIONS);
    assert_eq!(
        out.heads[1].target.as_bytes(),
        Bytes::from_static(b"http://a.example/x")
    );
}

#[test]
fn fresh_only_between_requests_with_nothing_of_the_next_seen() {
    let mut p = RequestParser::new();
    assert!(p.is_fresh());
    let mut buf = BytesMut::from(&b"GET / HTTP/1.1\r\n\r\n"[..]);
    while p.next_event(&mut buf).unwrap().is_some() {}
    assert!(p.is_fresh(), "a whole request taken");

    // An empty line before the next request counts toward its limit.
    let mut buf = BytesMut::from(&b"\r\n"[..]);
    assert_eq!(p.next_event(&mut buf), Ok(None));
    assert!(p.is_idle() && !p.is_fresh());

    let mut p = RequestParser::new();
    assert_eq!(
        p.next_event(&mut BytesMut::from(&b"GET / HT"[..])),
        Ok(None)
    );
    assert!(!p.is_fresh(), "mid-head");

    let mut p = RequestParser::new();
    let mut buf = BytesMut::from(&b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nab"[..]);
    while p.next_event(&mut buf).unwrap().is_some() {}
    assert!(!p.is_fresh(), "mid-body");

    let mut p = RequestParser::new();
    assert_eq!(p.eof(), Ok(()));
    assert!(!p.is_fresh(), "closed");
}

#[test]
fn first_look_gives_the_line_checks_errors_first() {
    // A whole head in one read skips the line checks when httparse finds it
    // complete; these heads pin that the errors stay those of a head
    // arriving byte by byte, where the checks run first.
    let limits = Limits {
        max_target_len: 4,
        ..Limits::default()
    };
    let cases: [(&[u8], ParseError); 5] = [
        (b"GET /aaaa HTTP/1.1\r\n\r\n", ParseError::TargetTooLong),
        (
            b"GET /aaaa HTTP/1.1\r\nX(A): 1\r\n\r\n",
            ParseError::TargetTooLong,
        ),
        (b"GET /aaaa\x01 HTTP/1.1\r\n\r\n", ParseError::TargetTooLong),
        (
            b"GET /a\x01 HTTP/1.1\r\nX(A): 1\r\n\r\n",
            ParseError::RequestLine,
        ),
        (b"G(T / HTTP/2.0\r\n\r\n", ParseError::RequestLine),
    ];
    for (input, expected) in cases {
        assert_eq!(error_with(limits, input), expected, "{input:?}");
        let mut parser = RequestParser::with_limits(limits);
        let mut buf = BytesMut::new();
        let mut out = Outcome::default();
        for &b in input {
            buf.extend_from_slice(&[b]);
            feed(&mut parser, &mut buf, &mut out);
        }
        assert_eq!(out.error, Some(expected), "{input:?} byte by byte");
    }
    // The target limit is exact on the first look too.
    assert_eq!(parse_with(limits, b"GET /aaa HTTP/1.1\r\n\r\n").error, None);
}
