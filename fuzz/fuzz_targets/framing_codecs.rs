//! The framing codecs (length-prefixed and lines): the same frames (or the
//! same error) for any split of the same bytes, and never a buffer past the
//! configured maximum.

#![no_main]

use bytes::BytesMut;
use eventide_streams::codec::{Decoder, LengthPrefixed, Lines};
use libfuzzer_sys::fuzz_target;

fn decode<D: Decoder>(mut codec: D, data: &[u8], split: usize, max: usize) -> Vec<Result<D::Item, String>>
where
    D::Item: std::fmt::Debug,
{
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for piece in data.chunks(split.max(1)) {
        buf.extend_from_slice(piece);
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(frame)) => out.push(Ok(frame)),
                Ok(None) => break,
                Err(e) => {
                    out.push(Err(format!("{e:?}")));
                    return out;
                }
            }
        }
        assert!(buf.len() <= max + 4 + split, "a codec buffered past its maximum");
    }
    loop {
        match codec.decode_eof(&mut buf) {
            Ok(Some(frame)) => out.push(Ok(frame)),
            Ok(None) => break,
            Err(e) => {
                out.push(Err(format!("{e:?}")));
                break;
            }
        }
    }
    out
}

fuzz_target!(|input: &[u8]| {
    let Some((&control, data)) = input.split_first() else { return };
    let split = usize::from(control & 0x1f) + 1;
    let max = 64;
    let a = decode(LengthPrefixed::with_max_frame_len(max), data, data.len(), max);
    let b = decode(LengthPrefixed::with_max_frame_len(max), data, split, max);
    assert_eq!(format!("{a:?}"), format!("{b:?}"));
    let a = decode(Lines::with_max_line_len(max), data, data.len(), max);
    let b = decode(Lines::with_max_line_len(max), data, split, max);
    assert_eq!(format!("{a:?}"), format!("{b:?}"));
});
