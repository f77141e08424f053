//! The HTTP request parser with body decoding, fed the input in pieces whose
//! sizes the input itself chooses. It must never panic, never buffer past
//! its limits, and give the same events for the same bytes however split.

#![no_main]

use bytes::BytesMut;
use eventide_http_mini::proto::{Event, Limits, RequestParser};
use libfuzzer_sys::fuzz_target;

fn run(data: &[u8], split: usize, limits: Limits) -> Vec<String> {
    let mut parser = RequestParser::with_limits(limits);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for piece in data.chunks(split.max(1)) {
        buf.extend_from_slice(piece);
        loop {
            match parser.next_event(&mut buf) {
                Ok(Some(Event::Head(h))) => out.push(format!("head {} {} {:?}", h.method.as_str(), h.target, h.body)),
                Ok(Some(Event::Data(d))) => {
                    // Data splits depend on the pieces: merged below. Bytes are
                    // shown escaped, so that a split inside a UTF-8 sequence
                    // cannot change the text.
                    out.push(format!("data {}", d.escape_ascii()));
                }
                Ok(Some(Event::End { trailers })) => out.push(format!("end {}", trailers.len())),
                Ok(None) => break,
                Err(e) => {
                    out.push(format!("error {e:?}"));
                    return merge_data(out);
                }
            }
            assert!(buf.len() <= limits.max_header_bytes + 64 * 1024 + split, "buffered past the limits");
        }
    }
    merge_data(out)
}

/// Joins consecutive `data` events, whose boundaries depend on the split.
fn merge_data(events: Vec<String>) -> Vec<String> {
    let mut merged: Vec<String> = Vec::new();
    for e in events {
        match (merged.last_mut(), e.strip_prefix("data ")) {
            (Some(last), Some(more)) if last.starts_with("data ") => last.push_str(more),
            _ => merged.push(e),
        }
    }
    merged
}

fuzz_target!(|input: &[u8]| {
    let Some((&split, data)) = input.split_first() else { return };
    let limits = Limits::default();
    let whole = run(data, data.len(), limits);
    let pieces = run(data, usize::from(split % 17) + 1, limits);
    assert_eq!(whole, pieces, "the same bytes split differently gave different events");
});
