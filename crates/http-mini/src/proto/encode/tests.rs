use bytes::BytesMut;

use super::*;

fn headers(fields: &[(&'static str, &'static str)]) -> Headers {
    let mut h = Headers::new();
    for &(n, v) in fields {
        h.append(n, v);
    }
    h
}

fn response(status: u16, framing: Framing, head: bool) -> (String, bool) {
    let mut out = BytesMut::new();
    let body =
        encode_response_head(status, None, &Headers::new(), framing, head, &mut out).unwrap();
    (String::from_utf8(out.to_vec()).unwrap(), body)
}

#[test]
fn request_heads() {
    let mut out = BytesMut::from(&b"prefix"[..]);
    let h = headers(&[("Host", "a"), ("X-Two", "b c")]);
    encode_request_head(&Method::GET, "/p?q=1", &h, Framing::None, &mut out).unwrap();
    assert_eq!(
        &out[..],
        b"prefixGET /p?q=1 HTTP/1.1\r\nHost: a\r\nX-Two: b c\r\n\r\n"
    );

    let mut out = BytesMut::new();
    encode_request_head(
        &Method::PUT,
        "/",
        &Headers::new(),
        Framing::Chunked,
        &mut out,
    )
    .unwrap();
    assert_eq!(
        &out[..],
        b"PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
}

#[test]
fn response_framing_rules() {
    assert_eq!(
        response(200, Framing::Length(0), false),
        ("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".into(), true)
    );
    assert_eq!(
        response(200, Framing::Length(u64::MAX), false).0,
        "HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551615\r\n\r\n"
    );
    assert_eq!(
        response(200, Framing::None, false),
        ("HTTP/1.1 200 OK\r\n\r\n".into(), true)
    );
    // 1xx and 204: never a framing field, never a body.
    assert_eq!(
        response(100, Framing::Length(5), false),
        ("HTTP/1.1 100 Continue\r\n\r\n".into(), false)
    );
    assert_eq!(
        response(101, Framing::Chunked, false),
        ("HTTP/1.1 101 Switching Protocols\r\n\r\n".into(), false)
    );
    assert_eq!(
        response(204, Framing::Length(5), false),
        ("HTTP/1.1 204 No Content\r\n\r\n".into(), false)
    );
    // 304 and HEAD: framing as for GET, no body.
    assert_eq!(
        response(304, Framing::Length(5), false),
        (
            "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n".into(),
            false
        )
    );
    assert_eq!(
        response(200, Framing::Chunked, true),
        (
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".into(),
            false
        )
    );
    // Unregistered status: empty reason, SP kept.
    assert_eq!(
        response(599, Framing::None, false).0,
        "HTTP/1.1 599 \r\n\r\n"
    );
}

#[test]
fn custom_reason() {
    let mut out = BytesMut::new();
    encode_response_head(
        404,
        Some("Nope"),
        &Headers::new(),
        Framing::None,
        false,
        &mut out,
    )
    .unwrap();
    assert_eq!(&out[..], b"HTTP/1.1 404 Nope\r\n\r\n");
    // A reason of its own also for 200 (whose usual line is written whole).
    let mut out = BytesMut::new();
    encode_response_head(
        200,
        Some("Fine"),
        &Headers::new(),
        Framing::Length(2),
        false,
        &mut out,
    )
    .unwrap();
    assert_eq!(&out[..], b"HTTP/1.1 200 Fine\r\nContent-Length: 2\r\n\r\n");
}

#[test]
fn refuses_injection_and_writes_nothing() {
    let cases: [(Headers, EncodeError); 5] = [
        (
            headers(&[("X-A", "1\r\nX-Injected: 1")]),
            EncodeError::InvalidHeaderValue,
        ),
        (headers(&[("X-A", "1\n")]), EncodeError::InvalidHeaderValue),
        (headers(&[("X-A", "\0")]), EncodeError::InvalidHeaderValue),
        (
            headers(&[("X-A\r\nX-B", "1")]),
            EncodeError::InvalidHeaderName,
        ),
        (headers(&[("", "1")]), EncodeError::InvalidHeaderName),
    ];
    for (h, err) in cases {
        let mut out = BytesMut::from(&b"keep"[..]);
        assert_eq!(
            encode_response_head(200, None, &h, Framing::None, false, &mut out),
            Err(err)
        );
        assert_eq!(
            encode_request_head(&Method::GET, "/", &h, Framing::None, &mut out),
            Err(err)
        );
        assert_eq!(encode_last_chunk(&h, &mut out), Err(err));
        assert_eq!(&out[..], b"keep");
    }
}

#[test]
fn refuses_framing_fields() {
    for name in ["Content-Length", "transfer-encoding"] {
        let h = headers(&[("Host", "a"), (name, "5")]);
        let mut out = BytesMut::new();
        assert_eq!(
            encode_request_head(&Method::GET, "/", &h, Framing::None, &mut out),
            Err(EncodeError::FramingHeader)
        );
        assert!(out.is_empty());
    }
}

#[test]
fn refuses_bad_line_parts() {
    let mut out = BytesMut::new();
    for target in ["", "/a b", "/a\r\nX: 1", "/\t"] {
        assert_eq!(
            encode_request_head(
                &Method::GET,
                target,
                &Headers::new(),
                Framing::None,
                &mut out
            ),
            Err(EncodeError::InvalidTarget),
            "{target:?}"
        );
    }
    for status in [0, 99, 1000] {
        assert_eq!(
            encode_response_head(
                status,
                None,
                &Headers::new(),
                Framing::None,
                false,
                &mut out
            ),
            Err(EncodeError::InvalidStatus)
        );
    }
    assert_eq!(
        encode_response_head(
            200,
            Some("OK\r\nX: 1"),
            &Headers::new(),
            Framing::None,
            false,
            &mut out
        ),
        Err(EncodeError::InvalidReason)
    );
    assert!(out.is_empty());
}

#[test]
fn chunks() {
    let mut out = BytesMut::new();
    encode_chunk(b"", &mut out);
    assert!(out.is_empty(), "an empty chunk would end the body");
    encode_chunk(b"abc", &mut out);
    encode_chunk(&[0u8; 255], &mut out);
    assert_eq!(&out[..8], b"3\r\nabc\r\n");
    assert_eq!(&out[8..13], b"ff\r\n\0");
    encode_chunk_header(0, &mut out);
    let len = out.len();
    encode_chunk_header(usize::MAX, &mut out);
    assert_eq!(&out[len..], b"ffffffffffffffff\r\n");
}
