//! A framing decoder wrapped as `Transform::decoder` yields the same frames
//! for every split of the same byte string, and the same error for the
//! same bad bytes, through the stream glue (pipe, flowing mode, timers).

mod util;

use bytes::{Bytes, BytesMut};
use eventide_loop_phases::{Loop, RunMode};
use eventide_streams::codec::{Encoder, LengthPrefixed, Lines};
use eventide_streams::{Readable, StreamOptions, Transform};
use proptest::collection::vec;
use proptest::prelude::*;
use util::{ChunkSource, Log, chunk, record_lifecycle, shared};

struct Outcome {
    frames: Vec<Bytes>,
    log: Vec<String>,
}

fn decode_through_stream<F>(
    wire: &[u8],
    sizes: &[usize],
    delays: Vec<u64>,
    hwm: usize,
    make: F,
) -> Outcome
where
    F: FnOnce(&mut Loop, StreamOptions) -> Transform<Bytes>,
{
    let mut lp = Loop::new_manual();
    let src = Readable::new(
        &mut lp,
        ChunkSource::new(chunk(wire, sizes), delays),
        StreamOptions::default(),
    );
    let dec = make(&mut lp, StreamOptions::default().high_water_mark(hwm));
    src.pipe(&mut lp, dec);
    let frames = shared(Vec::new());
    let f = frames.clone();
    dec.on_data(&mut lp, move |_, b| f.borrow_mut().push(b));
    let log = Log::new();
    dec.on_end(&mut lp, log.each("end"));
    record_lifecycle(&mut lp, dec, &log);
    lp.run(RunMode::Default);
    let frames = frames.borrow().clone();
    Outcome {
        frames,
        log: log.get(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn length_prefixed_frames_are_split_invariant(
        payloads in vec(vec(any::<u8>(), 0..300), 0..20),
        sizes in vec(1usize..97, 1..6),
        delays in vec(0u64..3, 1..4),
        hwm in 1usize..5000,
    ) {
        let mut codec = LengthPrefixed::new();
        let mut wire = BytesMut::new();
        for p in &payloads {
            codec.encode(&p[..], &mut wire).unwrap();
        }
        let out = decode_through_stream(&wire, &sizes, delays, hwm, |lp, o| Transform::decoder(lp, LengthPrefixed::new(), o));
        // A byte stream carries no empty chunks: empty frames are not emitted.
        let expect: Vec<Bytes> = payloads.iter().filter(|p| !p.is_empty()).map(|p| Bytes::from(p.clone())).collect();
        prop_assert_eq!(out.frames, expect);
        prop_assert_eq!(out.log, ["end", "close"]);
    }

    #[test]
    fn lines_are_split_invariant_and_a_truncated_frame_is_an_error(
        lines in vec("[a-z ]{0,40}", 0..20),
        tail in "[a-z]{0,5}",
        sizes in vec(1usize..50, 1..6),
        delays in vec(0u64..3, 1..4),
    ) {
        let mut wire = String::new();
        for l in &lines {
            wire.push_str(l);
            wire.push('\n');
        }
        wire.push_str(&tail);
        let whole = decode_through_stream(wire.as_bytes(), &[wire.len().max(1)], vec![0], 1 << 16, |lp, o| Transform::decoder(lp, Lines::new(), o));
        let split = decode_through_stream(wire.as_bytes(), &sizes, delays, 1 << 16, |lp, o| Transform::decoder(lp, Lines::new(), o));
        prop_assert_eq!(&split.frames, &whole.frames);
        prop_assert_eq!(&split.log, &whole.log);
        let expect: Vec<Bytes> = lines.iter().filter(|l| !l.is_empty()).map(|l| Bytes::from(l.clone())).collect();
        prop_assert_eq!(&split.frames[..expect.len()], &expect[..]);
        if tail.is_empty() {
            prop_assert_eq!(split.log, ["end", "close"]);
        } else {
            // Lines ends an unterminated last line as a frame, or reports it:
            // either way the same for every split, and close comes last.
            prop_assert_eq!(split.log.last().map(String::as_str), Some("close"));
        }
    }
}

#[test]
fn garbage_is_an_error_for_that_stream_only() {
    // A length prefix over the bound: the decoder fails, the stream is
    // destroyed with ERR_FRAMING, and frames before it were delivered.
    let mut wire = BytesMut::new();
    LengthPrefixed::new().encode(&b"ok"[..], &mut wire).unwrap();
    wire.extend_from_slice(&u32::MAX.to_be_bytes());
    wire.extend_from_slice(b"junk");
    for sizes in [vec![1], vec![3], vec![100]] {
        let out = decode_through_stream(&wire, &sizes, vec![0], 1 << 16, |lp, o| {
            Transform::decoder(lp, LengthPrefixed::new(), o)
        });
        assert_eq!(out.frames, [Bytes::from_static(b"ok")], "sizes {sizes:?}");
        assert_eq!(out.log, ["error:ERR_FRAMING", "close"]);
    }
}
