//! Inputs the fuzzer found (`fuzz/regressions/framing_codecs/`), kept as
//! regression tests: each must decode to the same frames, or the same error,
//! however its bytes are split, as the fuzz target checks.

use bytes::BytesMut;
use eventide_streams::codec::{Decoder, LengthPrefixed, Lines};

fn decode<D: Decoder>(mut codec: D, data: &[u8], split: usize) -> String
where
    D::Item: std::fmt::Debug,
{
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for piece in data.chunks(split.max(1)) {
        buf.extend_from_slice(piece);
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(frame)) => out.push(format!("{frame:?}")),
                Ok(None) => break,
                Err(e) => return format!("{out:?} then {e:?}"),
            }
        }
    }
    match codec.decode_eof(&mut buf) {
        Ok(last) => format!("{out:?} then eof {last:?}"),
        Err(e) => format!("{out:?} then eof {e:?}"),
    }
}

#[test]
fn fuzzer_findings_decode_the_same_for_every_split() {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/regressions/framing_codecs"
    );
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).expect("the regression inputs are committed") {
        let input = std::fs::read(entry.unwrap().path()).unwrap();
        // The fuzz target's first byte picks the split; the rest is data.
        let data = &input[1..];
        for max in [64, 8] {
            let whole_lp = decode(LengthPrefixed::with_max_frame_len(max), data, data.len());
            let whole_lines = decode(Lines::with_max_line_len(max), data, data.len());
            for split in 1..=33 {
                assert_eq!(
                    decode(LengthPrefixed::with_max_frame_len(max), data, split),
                    whole_lp
                );
                assert_eq!(
                    decode(Lines::with_max_line_len(max), data, split),
                    whole_lines
                );
            }
        }
        seen += 1;
    }
    assert!(seen > 0, "no regression input found in {dir}");
}
