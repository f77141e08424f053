use bytes::BytesMut;

use super::*;
use crate::proto::Headers;

#[derive(Debug, Default, PartialEq)]
struct Outcome {
    heads: Vec<ResponseHead>,
    bodies: Vec<Vec<u8>>,
    ends: usize,
    error: Option<ParseError>,
}

fn feed(parser: &mut ResponseParser, buf: &mut BytesMut, out: &mut Outcome) {
    loop {
        match parser.next_event(buf) {
            Ok(Some(Event::Head(h))) => {
                out.heads.push(h);
                out.bodies.push(Vec::new());
            }
            Ok(Some(Event::Data(d))) => out.bodies.last_mut().unwrap().extend_from_slice(&d),
            Ok(Some(Event::End { .. })) => out.ends += 1,
            Ok(None) => return,
            Err(e) => {
                out.error = Some(e);
                return;
            }
        }
    }
}

/// Parses `input` as the responses to `methods`, whole and byte by byte.
fn parse(methods: &[Method], input: &[u8]) -> Outcome {
    let run = |bytewise: bool| {
        let mut p = ResponseParser::new();
        for m in methods {
            p.expect_response(m);
        }
        let mut out = Outcome::default();
        if bytewise {
            let mut buf = BytesMut::new();
            for &b in input {
                buf.extend_from_slice(&[b]);
                feed(&mut p, &mut buf, &mut out);
            }
        } else {
            feed(&mut p, &mut BytesMut::from(input), &mut out);
        }
        out
    };
    let whole = run(false);
    assert_eq!(whole, run(true), "split changed the outcome");
    whole
}

fn error(input: &[u8]) -> ParseError {
    parse(&[Method::GET], input)
        .error
        .expect("input was accepted")
}

#[test]
fn content_length_and_chunked() {
    let out = parse(
        &[Method::GET, Method::GET],
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc\
HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nxy\r\n0\r\n\r\n",
    );
    assert_eq!(out.error, None);
    assert_eq!(out.heads[0].body, BodyKind::Length(3));
    assert_eq!(out.heads[1].reason_str(), "Created");
    assert_eq!(out.bodies, [b"abc".to_vec(), b"xy".to_vec()]);
    assert_eq!(out.ends, 2);
    assert!(out.heads.iter().all(|h| h.keep_alive));
}

#[test]
fn head_204_and_304_have_no_body() {
    let input = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n\
HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n\
HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n\
HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    let out = parse(
        &[Method::HEAD, Method::GET, Method::GET, Method::GET],
        input,
    );
    assert_eq!(out.error, None);
    let bodies: Vec<BodyKind> = out.heads.iter().map(|h| h.body).collect();
    assert_eq!(
        bodies,
        [
            BodyKind::Empty,
            BodyKind::Empty,
            BodyKind::Empty,
            BodyKind::Length(2)
        ]
    );
    assert_eq!(out.bodies[3], b"ok");
    assert_eq!(out.ends, 4);
}

#[test]
fn head_response_with_chunked_header_has_no_body() {
    let out = parse(
        &[Method::HEAD],
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
    );
    assert_eq!((out.error, out.ends), (None, 1));
    assert_eq!(out.heads[0].body, BodyKind::Empty);
}

#[test]
fn interim_responses_precede_the_final_one() {
    let input = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n\
HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx";
    let out = parse(&[Method::POST], input);
    assert_eq!(out.error, None);
    let interim: Vec<bool> = out.heads.iter().map(ResponseHead::is_interim).collect();
    assert_eq!(interim, [true, true, false]);
    assert_eq!(out.ends, 1, "interim heads have no End");
    assert_eq!(out.bodies[2], b"x");
}

#[test]
fn switching_protocols_stops_parsing() {
    let mut p = ResponseParser::new();
    p.expect_response(&Method::GET);
    let mut buf = BytesMut::from(
        &b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello"[..],
    );
    let Ok(Some(Event::Head(h))) = p.next_event(&mut buf) else {
        panic!()
    };
    assert!(!h.is_interim() && !h.keep_alive);
    assert!(matches!(
        p.next_event(&mut buf),
        Ok(Some(Event::End { .. }))
    ));
    assert!(p.is_upgraded());
    assert_eq!(p.next_event(&mut buf), Ok(None));
    assert_eq!(
        &buf[..],
        b"\x81\x05hello",
        "the new protocol's bytes are left alone"
    );
}

#[test]
fn connect_2xx_is_a_tunnel() {
    let mut p = ResponseParser::new();
    p.expect_response(&Method::CONNECT);
    let mut buf = BytesMut::from(&b"HTTP/1.1 200 Connection Established\r\n\r\nTLS..."[..]);
    assert!(matches!(p.next_event(&mut buf), Ok(Some(Event::Head(_)))));
    assert!(matches!(
        p.next_event(&mut buf),
        Ok(Some(Event::End { .. }))
    ));
    assert!(p.is_upgraded());
    assert_eq!(&buf[..], b"TLS...");
}

#[test]
fn until_close() {
    let mut p = ResponseParser::new();
    p.expect_response(&Method::GET);
    let mut buf = BytesMut::from(&b"HTTP/1.1 200 OK\r\n\r\nabc"[..]);
    let Ok(Some(Event::Head(h))) = p.next_event(&mut buf) else {
        panic!()
    };
    assert_eq!(h.body, BodyKind::UntilClose);
    assert!(!h.keep_alive);
    assert!(matches!(p.next_event(&mut buf), Ok(Some(Event::Data(_)))));
    buf.extend_from_slice(b"def");
    assert!(matches!(p.next_event(&mut buf), Ok(Some(Event::Data(_)))));
    assert_eq!(p.next_event(&mut buf), Ok(None));
    assert_eq!(
        p.eof(),
        Ok(Some(Event::End {
            trailers: Headers::new()
        }))
    );
    assert_eq!(p.eof(), Ok(None));
}

#[test]
fn until_close_respects_the_body_limit() {
    let limits = Limits {
        max_body_bytes: Some(2),
        ..Limits::default()
    };
    let mut p = ResponseParser::with_limits(limits);
    p.expect_response(&Method::GET);
    let mut buf = BytesMut::from(&b"HTTP/1.1 200 OK\r\n\r\nabc"[..]);
    assert!(matches!(p.next_event(&mut buf), Ok(Some(Event::Head(_)))));
    assert_eq!(p.next_event(&mut buf), Ok(Some(Event::Data("ab".into()))));
    assert_eq!(p.next_event(&mut buf), Err(ParseError::BodyTooLarge));
}

#[test]
fn eof_rules() {
    let mut p = ResponseParser::new();
    p.expect_response(&Method::GET);
    assert_eq!(p.eof(), Ok(None), "clean before any byte");
    assert_eq!(p.pending_responses(), 1);

    let mut p = ResponseParser::new();
    p.expect_response(&Method::GET);
    let mut buf = BytesMut::from(&b"HTTP/1.1 200 OK\r\nContent-Len"[..]);
    assert_eq!(p.next_event(&mut buf), Ok(None));
    assert_eq!(p.eof(), Err(ParseError::UnexpectedEof), "mid-head");

    for body in [
        &b"Content-Length: 4\r\n\r\nab"[..],
        b"Transfer-Encoding: chunked\r\n\r\n2\r\nab\r\n",
    ] {
        let mut p = ResponseParser::new();
        p.expect_response(&Method::GET);
        let mut buf = BytesMut::from(&[&b"HTTP/1.1 200 OK\r\n"[..], body].concat()[..]);
        while p.next_event(&mut buf).unwrap().is_some() {}
        assert_eq!(p.eof(), Err(ParseError::UnexpectedEof), "mid-body");
        assert_eq!(
            p.next_event(&mut buf),
            Err(ParseError::UnexpectedEof),
            "sticky"
        );
    }
}

#[test]
fn unsolicited_bytes_are_an_error() {
    let mut p = ResponseParser::new();
    let mut buf = BytesMut::from(&b"HTTP/1.1 200 OK\r\n\r\n"[..]);
    assert_eq!(p.next_event(&mut buf), Err(ParseError::UnsolicitedResponse));
    // Empty lines alone are not a response.
    let mut p = ResponseParser::new();
    assert_eq!(p.next_event(&mut BytesMut::from(&b"\r\n"[..])), Ok(None));
}

#[test]
fn framing_rejections() {
    assert_eq!(
        error(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"),
        ParseError::ContentLengthWithTransferEncoding
    );
    assert_eq!(
        error(
            b"HTTP/1.1 304 Not Modified\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"
        ),
        ParseError::ContentLengthWithTransferEncoding
    );
    assert_eq!(
        error(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
        ParseError::ConflictingContentLength
    );
    assert_eq!(
        error(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"),
        ParseError::InvalidTransferEncoding
    );
    assert_eq!(
        error(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
        ParseError::UnsupportedTransferCoding
    );
    assert_eq!(
        error(b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
        ParseError::TransferEncodingInHttp10
    );
    assert_eq!(
        error(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab"),
        ParseError::MissingChunkCrlf
    );
}

#[test]
fn status_line_rejections() {
    assert_eq!(error(b"HTTP/1.1 20 OK\r\n\r\n"), ParseError::StatusLine);
    assert_eq!(error(b"HTTP/1.1 099 Low\r\n\r\n"), ParseError::StatusLine);
    assert_eq!(
        error(b"HTTP/1.1 200 O\x01K\r\n\r\n"),
        ParseError::StatusLine
    );
    assert_eq!(error(b"HTTP/2 200 OK\r\n\r\n"), ParseError::Version);
    assert_eq!(
        error(b"HTTP/1.1 200 OK\r\nX-A : 1\r\n\r\n"),
        ParseError::HeaderName
    );
    assert_eq!(
        error(b"HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\n\r\n"),
        ParseError::HeaderName
    );
}

#[test]
fn keep_alive_rules() {
    let head = |s: &[u8]| parse(&[Method::GET], s).heads.remove(0);
    assert!(head(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").keep_alive);
    assert!(!head(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n").keep_alive);
    assert!(!head(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").keep_alive);
    assert!(
        head(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n").keep_alive
    );
}

#[test]
fn content_length_body_limit() {
    let limits = Limits {
        max_body_bytes: Some(10),
        ..Limits::default()
    };
    let mut p = ResponseParser::with_limits(limits);
    p.expect_response(&Method::GET);
    let mut buf = BytesMut::from(&b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n"[..]);
    assert_eq!(p.next_event(&mut buf), Err(ParseError::BodyTooLarge));
}
