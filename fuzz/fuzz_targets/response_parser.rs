//! The HTTP response parser, as the client uses it: each response answers a
//! GET or a HEAD (chosen by the input), read until EOF. It must never panic
//! and must not depend on how the bytes are split.

#![no_main]

use bytes::BytesMut;
use eventide_http_mini::proto::{Event, Method, ResponseEvent, ResponseParser};
use libfuzzer_sys::fuzz_target;

fn run(data: &[u8], split: usize, methods: u8) -> Vec<String> {
    let mut parser = ResponseParser::new();
    for i in 0..4 {
        let m = if methods & (1 << i) != 0 { Method::HEAD } else { Method::GET };
        parser.expect_response(&m);
    }
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let push = |e: ResponseEvent, out: &mut Vec<String>| match e {
        Event::Head(h) => out.push(format!("head {} {:?}", h.status, h.body)),
        Event::Data(d) => match out.last_mut() {
            Some(last) if last.starts_with("data ") => last.push_str(&d.escape_ascii().to_string()),
            _ => out.push(format!("data {}", d.escape_ascii())),
        },
        Event::End { trailers } => out.push(format!("end {}", trailers.len())),
    };
    for piece in data.chunks(split.max(1)) {
        buf.extend_from_slice(piece);
        loop {
            match parser.next_event(&mut buf) {
                Ok(Some(e)) => push(e, &mut out),
                Ok(None) => break,
                Err(e) => {
                    out.push(format!("error {e:?}"));
                    return out;
                }
            }
        }
    }
    match parser.eof() {
        Ok(Some(e)) => push(e, &mut out),
        Ok(None) => {}
        Err(e) => out.push(format!("eof error {e:?}")),
    }
    out
}

fuzz_target!(|input: &[u8]| {
    let Some((&control, data)) = input.split_first() else { return };
    let whole = run(data, data.len(), control >> 4);
    let pieces = run(data, usize::from(control & 0x0f) + 1, control >> 4);
    assert_eq!(whole, pieces, "the same bytes split differently gave different events");
});
