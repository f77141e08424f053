//! Framing codecs give the same frames for every split of the same bytes, and
//! never buffer past their bound, whatever the input.

use bytes::{Bytes, BytesMut};
use eventide_streams::codec::{CodecError, Decoder, Encoder, LengthPrefixed, Lines};
use proptest::collection::vec;
use proptest::prelude::*;

/// What a decoder made of a byte stream: the frames it yielded, then the
/// error that stopped it, if any.
#[derive(Debug, PartialEq)]
struct Outcome {
    frames: Vec<Bytes>,
    error: Option<CodecError>,
}

/// Feeds `chunks` in order through `decode`, then calls `decode_eof`.
///
/// Checks after every `Ok(None)` that the buffered incomplete frame is at
/// most `max_buffered` bytes. Stops at the first error.
fn drive<D: Decoder<Item = Bytes>>(
    codec: &mut D,
    chunks: &[&[u8]],
    max_buffered: usize,
) -> Outcome {
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => break,
                Err(error) => {
                    return Outcome {
                        frames,
                        error: Some(error),
                    };
                }
            }
        }
        assert!(
            buf.len() <= max_buffered,
            "{} bytes buffered, bound is {max_buffered}",
            buf.len()
        );
    }
    loop {
        match codec.decode_eof(&mut buf) {
            Ok(Some(frame)) => frames.push(frame),
            Ok(None) => {
                assert!(buf.is_empty(), "decode_eof left {} bytes", buf.len());
                return Outcome {
                    frames,
                    error: None,
                };
            }
            Err(error) => {
                return Outcome {
                    frames,
                    error: Some(error),
                };
            }
        }
    }
}

/// Cuts `bytes` at the given points (any order, any value; clamped).
fn split_at_points<'a>(bytes: &'a [u8], points: &[usize]) -> Vec<&'a [u8]> {
    let mut cuts: Vec<usize> = points.iter().map(|&p| p % (bytes.len() + 1)).collect();
    cuts.sort_unstable();
    let mut chunks = Vec::with_capacity(cuts.len() + 1);
    let mut from = 0;
    for cut in cuts {
        chunks.push(&bytes[from..cut]);
        from = cut;
    }
    chunks.push(&bytes[from..]);
    chunks
}

/// Every way the tests cut `bytes`: whole, at each single point, byte at a
/// time, and at the random `points`.
fn splits<'a>(bytes: &'a [u8], points: &[usize]) -> Vec<Vec<&'a [u8]>> {
    let mut all = vec![vec![bytes]];
    for at in 0..=bytes.len() {
        all.push(vec![&bytes[..at], &bytes[at..]]);
    }
    all.push(bytes.chunks(1).collect());
    all.push(split_at_points(bytes, points));
    all
}

/// Same frames, and the same kind of error. A `Lines` error's `len` is a lower
/// bound that depends on how much was buffered, so only the variant and `max`
/// are compared for `FrameTooLong`.
fn same_outcome(a: &Outcome, b: &Outcome) -> bool {
    let same_error = match (a.error, b.error) {
        (
            Some(CodecError::FrameTooLong { max: x, .. }),
            Some(CodecError::FrameTooLong { max: y, .. }),
        ) => x == y,
        (x, y) => x == y,
    };
    a.frames == b.frames && same_error
}

fn payloads() -> impl Strategy<Value = Vec<Vec<u8>>> {
    // Short payloads, zero-length ones included, so that many frames meet
    // many split points.
    vec(vec(any::<u8>(), 0..24), 0..12)
}

/// Line contents: no '\n', no trailing '\r', with '\r' and non-ASCII mixed in.
fn line_contents() -> impl Strategy<Value = Vec<Vec<u8>>> {
    let byte = prop_oneof![
        Just(b'\r'),
        Just(b'a'),
        Just(0xff_u8),
        any::<u8>().prop_filter("no newline", |&b| b != b'\n'),
    ];
    vec(
        vec(byte, 0..16).prop_map(|mut line| {
            if line.last() == Some(&b'\r') {
                line.push(b'z');
            }
            line
        }),
        0..12,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn length_prefixed_round_trips_under_every_split(
        payloads in payloads(),
        points in vec(any::<usize>(), 0..16),
    ) {
        let mut wire = BytesMut::new();
        for payload in &payloads {
            LengthPrefixed::new().encode(&payload[..], &mut wire).unwrap();
        }
        let max = LengthPrefixed::DEFAULT_MAX_FRAME_LEN;
        for chunks in splits(&wire, &points) {
            let outcome = drive(&mut LengthPrefixed::new(), &chunks, LengthPrefixed::PREFIX_LEN + max);
            prop_assert_eq!(outcome.error, None);
            prop_assert_eq!(&outcome.frames, &payloads);
        }
    }

    #[test]
    fn lines_round_trip_under_every_split(
        lines in line_contents(),
        crlf in vec(any::<bool>(), 12),
        drop_last_newline in any::<bool>(),
        points in vec(any::<usize>(), 0..16),
    ) {
        // The encoder writes "\n"; mix in "\r\n" by hand, which decodes the same.
        let mut wire = BytesMut::new();
        for (line, &crlf) in lines.iter().zip(&crlf) {
            Lines::new().encode(&line[..], &mut wire).unwrap();
            if crlf {
                wire.truncate(wire.len() - 1);
                wire.extend_from_slice(b"\r\n");
            }
        }
        // An unterminated non-empty last line is still a line at end of stream.
        if drop_last_newline && lines.last().is_some_and(|l| !l.is_empty()) {
            wire.truncate(wire.len() - 1);
            if wire.last() == Some(&b'\r') {
                wire.truncate(wire.len() - 1);
            }
        }
        for chunks in splits(&wire, &points) {
            let outcome = drive(&mut Lines::new(), &chunks, Lines::DEFAULT_MAX_LINE_LEN + 1);
            prop_assert_eq!(outcome.error, None);
            prop_assert_eq!(&outcome.frames, &lines);
        }
    }

    #[test]
    fn frames_at_the_bound_round_trip_and_over_it_fail_under_every_split(
        max in 0usize..8,
        lens in vec(0usize..10, 1..6),
        points in vec(any::<usize>(), 0..8),
    ) {
        // Hand-built so frames over the bound reach the decoder.
        let mut lp_wire = Vec::new();
        let mut line_wire = Vec::new();
        for &len in &lens {
            lp_wire.extend_from_slice(&u32::try_from(len).unwrap().to_be_bytes());
            lp_wire.extend(std::iter::repeat_n(b'x', len));
            line_wire.extend(std::iter::repeat_n(b'x', len));
            line_wire.extend_from_slice(b"\r\n");
        }
        let first_over = lens.iter().position(|&len| len > max);
        let expected: Vec<Bytes> = lens[..first_over.unwrap_or(lens.len())]
            .iter()
            .map(|&len| Bytes::from(vec![b'x'; len]))
            .collect();

        for chunks in splits(&lp_wire, &points) {
            let outcome = drive(&mut LengthPrefixed::with_max_frame_len(max), &chunks, 4 + max);
            prop_assert_eq!(&outcome.frames, &expected);
            let error = first_over.map(|i| CodecError::FrameTooLong { len: lens[i] as u64, max });
            prop_assert_eq!(outcome.error, error);
        }
        for chunks in splits(&line_wire, &points) {
            let outcome = drive(&mut Lines::with_max_line_len(max), &chunks, max + 1);
            prop_assert_eq!(&outcome.frames, &expected);
            match first_over {
                Some(i) => match outcome.error {
                    Some(CodecError::FrameTooLong { len, max: m }) => {
                        prop_assert_eq!(m, max);
                        // A lower bound on the line, and over the maximum.
                        prop_assert!(len as usize > max && len as usize <= lens[i]);
                    }
                    other => prop_assert!(false, "expected FrameTooLong, got {:?}", other),
                },
                None => prop_assert_eq!(outcome.error, None),
            }
        }
    }

    #[test]
    fn length_prefixed_garbage_is_split_invariant_and_bounded(
        max in 0usize..64,
        garbage in vec(
            prop_oneof![Just(0u8), Just(1u8), Just(0xff_u8), any::<u8>()],
            0..96,
        ),
        points in vec(any::<usize>(), 0..16),
    ) {
        let whole = drive(&mut LengthPrefixed::with_max_frame_len(max), &[&garbage], usize::MAX);
        for chunks in splits(&garbage, &points) {
            // The incomplete frame left after `Ok(None)` is shorter than
            // prefix + max (a partial header, or a header and part of at most
            // `max` bytes); `drive` asserts it.
            let outcome = drive(
                &mut LengthPrefixed::with_max_frame_len(max),
                &chunks,
                LengthPrefixed::PREFIX_LEN + max - 1,
            );
            prop_assert_eq!(&outcome, &whole);
        }
    }

    #[test]
    fn lines_garbage_is_split_invariant_and_bounded(
        max in 0usize..24,
        garbage in vec(
            prop_oneof![Just(b'\n'), Just(b'\r'), Just(b'a'), any::<u8>()],
            0..96,
        ),
        points in vec(any::<usize>(), 0..16),
    ) {
        let whole = drive(&mut Lines::with_max_line_len(max), &[&garbage], usize::MAX);
        for chunks in splits(&garbage, &points) {
            let outcome = drive(&mut Lines::with_max_line_len(max), &chunks, max + 1);
            prop_assert!(same_outcome(&outcome, &whole), "{:?} != {:?}", outcome, whole);
            for line in &outcome.frames {
                prop_assert!(line.len() <= max);
                prop_assert!(!line.contains(&b'\n'));
            }
        }
    }
}
