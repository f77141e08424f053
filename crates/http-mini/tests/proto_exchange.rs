//! A client and a server talking through the protocol core only: each side
//! serializes with `encode` and parses the other's bytes, as the glue will.

mod proto_util;

use bytes::BytesMut;
use eventide_http_mini::proto::encode::{
    encode_chunk, encode_last_chunk, encode_request_head, encode_response_head,
};
use eventide_http_mini::proto::{
    BodyKind, Event, Framing, Headers, Method, RequestParser, ResponseParser,
};
use proto_util::{byte_cuts, run_split};

fn host() -> Headers {
    let mut h = Headers::new();
    h.append("Host", "example.test");
    h
}

#[test]
fn expect_continue_then_chunked_upload() {
    let mut to_server = BytesMut::new();
    let mut to_client = BytesMut::new();
    let mut server = RequestParser::new();
    let mut client = ResponseParser::new();

    // The client sends the head only and waits for 100 Continue.
    let mut headers = host();
    headers.append("Expect", "100-continue");
    encode_request_head(
        &Method::PUT,
        "/file",
        &headers,
        Framing::Chunked,
        &mut to_server,
    )
    .unwrap();
    client.expect_response(&Method::PUT);

    let Some(Event::Head(req)) = server.next_event(&mut to_server).unwrap() else {
        panic!()
    };
    assert!(req.expect_continue);
    assert_eq!(req.body, BodyKind::Chunked);
    assert_eq!(server.next_event(&mut to_server).unwrap(), None);

    let send = encode_response_head(
        100,
        None,
        &Headers::new(),
        Framing::None,
        false,
        &mut to_client,
    )
    .unwrap();
    assert!(!send);
    let Some(Event::Head(interim)) = client.next_event(&mut to_client).unwrap() else {
        panic!()
    };
    assert!(interim.is_interim());
    assert_eq!(
        client.pending_responses(),
        1,
        "still waiting for the final response"
    );

    // Now the body, in chunks, with a trailer.
    encode_chunk(b"hello ", &mut to_server);
    encode_chunk(b"world", &mut to_server);
    let mut trailers = Headers::new();
    trailers.append("X-Checksum", "42");
    encode_last_chunk(&trailers, &mut to_server).unwrap();
    let mut body = Vec::new();
    let got_trailers = loop {
        match server.next_event(&mut to_server).unwrap() {
            Some(Event::Data(d)) => body.extend_from_slice(&d),
            Some(Event::End { trailers }) => break trailers,
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(body, b"hello world");
    assert_eq!(got_trailers.get_str("x-checksum"), Some("42"));

    encode_response_head(
        201,
        None,
        &host(),
        Framing::Length(2),
        false,
        &mut to_client,
    )
    .unwrap();
    to_client.extend_from_slice(b"ok");
    let Some(Event::Head(res)) = client.next_event(&mut to_client).unwrap() else {
        panic!()
    };
    assert_eq!((res.status, res.body), (201, BodyKind::Length(2)));
    assert_eq!(
        client.next_event(&mut to_client).unwrap(),
        Some(Event::Data("ok".into()))
    );
    assert!(matches!(
        client.next_event(&mut to_client).unwrap(),
        Some(Event::End { .. })
    ));
    assert_eq!(client.pending_responses(), 0);
}

#[test]
fn pipelined_keep_alive_then_close() {
    let methods = [Method::GET, Method::HEAD, Method::GET];
    let mut to_server = BytesMut::new();
    for m in &methods {
        encode_request_head(m, "/page", &host(), Framing::None, &mut to_server).unwrap();
    }
    let mut close = host();
    close.append("Connection", "close");
    encode_request_head(&Method::GET, "/last", &close, Framing::None, &mut to_server).unwrap();

    // The server answers every request it parses, in order.
    let requests = run_split(
        &mut RequestParser::new(),
        &to_server,
        &byte_cuts(to_server.len()),
        true,
    );
    assert_eq!(requests.error, None);
    assert_eq!(requests.messages.len(), 4);
    let mut to_client = BytesMut::new();
    for m in &requests.messages {
        let head = &m.head;
        assert!(m.body.is_empty());
        if head.keep_alive {
            let send = encode_response_head(
                200,
                None,
                &Headers::new(),
                Framing::Length(4),
                head.method.is_head(),
                &mut to_client,
            )
            .unwrap();
            if send {
                to_client.extend_from_slice(b"page");
            }
        } else {
            // Last response: no length, delimited by closing the connection.
            let mut h = Headers::new();
            h.append("Connection", "close");
            assert!(
                encode_response_head(200, None, &h, Framing::None, false, &mut to_client).unwrap()
            );
            to_client.extend_from_slice(b"bye");
        }
    }

    let mut client = ResponseParser::new();
    for m in methods.iter().chain([&Method::GET]) {
        client.expect_response(m);
    }
    let responses = run_split(&mut client, &to_client, &byte_cuts(to_client.len()), false);
    assert_eq!(responses.error, None);
    let bodies: Vec<&[u8]> = responses.messages.iter().map(|m| &m.body[..]).collect();
    assert_eq!(bodies, [&b"page"[..], b"", b"page", b"bye"]);
    let last = responses.messages.last().unwrap();
    assert_eq!(last.head.body, BodyKind::UntilClose);
    assert!(last.trailers.is_none(), "ends only at close");
    assert!(matches!(client.eof().unwrap(), Some(Event::End { .. })));
}
