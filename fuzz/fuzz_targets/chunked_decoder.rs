//! The chunked body decoder: the input follows a fixed chunked request head,
//! so every byte exercises chunk sizes, extensions, data, CRLFs and trailers.

#![no_main]

use bytes::BytesMut;
use eventide_http_mini::proto::{Event, RequestParser};
use libfuzzer_sys::fuzz_target;

const HEAD: &[u8] = b"POST /upload HTTP/1.1\r\nHost: fuzz\r\nTransfer-Encoding: chunked\r\n\r\n";

fn decode(body: &[u8], split: usize) -> Result<(Vec<u8>, usize), String> {
    let mut parser = RequestParser::new();
    let mut buf = BytesMut::from(HEAD);
    let mut out = Vec::new();
    let mut ended = 0;
    let mut feed = body.chunks(split.max(1));
    loop {
        match parser.next_event(&mut buf) {
            Ok(Some(Event::Head(_))) => {}
            Ok(Some(Event::Data(d))) => out.extend_from_slice(&d),
            Ok(Some(Event::End { trailers })) => {
                ended += 1 + trailers.len();
                // Whatever follows is the next request, not this body.
                return Ok((out, ended));
            }
            Ok(None) => match feed.next() {
                Some(piece) => buf.extend_from_slice(piece),
                None => return Ok((out, ended)),
            },
            Err(e) => return Err(format!("{e:?}")),
        }
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((&split, body)) = input.split_first() else { return };
    let whole = decode(body, body.len());
    let pieces = decode(body, usize::from(split % 13) + 1);
    assert_eq!(whole, pieces, "the chunked decoder depends on how bytes arrive");
});
