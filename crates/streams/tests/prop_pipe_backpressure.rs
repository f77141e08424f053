//! Through `pipe` on the loop (manual clock), for any chunking, any marks
//! and any consumer speed: bytes out == bytes in, in order; each buffer
//! stays under its mark plus one chunk; `end`, `finish` and `close` happen
//! once each, in Node's order, and no `data` after `end`.

mod util;

use bytes::Bytes;
use eventide_loop_phases::{Loop, RunMode};
use eventide_streams::{Readable, StreamOptions, Transform, Writable};
use proptest::collection::vec;
use proptest::prelude::*;
use util::{
    ChunkSource, DelaySink, Log, check_event_order, chunk, concat, record_readable, record_writable,
};

/// One scenario: the input, the speeds and the marks.
#[derive(Debug)]
struct Case {
    sizes: Vec<usize>,
    total: usize,
    src_delays: Vec<u64>,
    sink_delays: Vec<u64>,
    src_hwm: usize,
    dst_hwm: usize,
    batches: bool,
    /// The mark of a pass-through transform in the middle, if any.
    through: Option<usize>,
}

fn run_pipe(case: Case) -> Result<(), TestCaseError> {
    let Case {
        sizes,
        total,
        src_delays,
        sink_delays,
        src_hwm,
        dst_hwm,
        batches,
        through,
    } = case;
    let mut lp = Loop::new_manual();
    let input: Vec<u8> = (0..total).map(|i| (i * 131 % 256) as u8).collect();
    let chunks = chunk(&input, &sizes);
    let max_chunk = chunks.iter().map(Bytes::len).max().unwrap_or(0);
    let r = Readable::new(
        &mut lp,
        ChunkSource::new(chunks, src_delays),
        StreamOptions::default().high_water_mark(src_hwm),
    );
    let (mut sink, seen) = DelaySink::new(sink_delays);
    sink.batches = batches;
    let w = Writable::new(
        &mut lp,
        sink,
        StreamOptions::default().high_water_mark(dst_hwm),
    );
    let (rlog, wlog) = (Log::new(), Log::new());
    let _ = record_readable(&mut lp, r, &rlog);
    record_writable(&mut lp, w, &wlog);
    let mid = through.map(|hwm| {
        let t = Transform::<Bytes>::pass_through(
            &mut lp,
            StreamOptions::default().high_water_mark(hwm),
        );
        let tlog = Log::new();
        let _ = record_readable(&mut lp, t, &tlog);
        t.on_finish(&mut lp, tlog.each("finish"));
        r.pipe(&mut lp, t);
        t.pipe(&mut lp, w);
        (t, tlog, hwm)
    });
    if mid.is_none() {
        r.pipe(&mut lp, w);
    }
    lp.run(RunMode::Default);

    prop_assert_eq!(concat(&seen.borrow().items), input, "byte-exact, in order");
    prop_assert!(seen.borrow().finished);
    let bound = |hwm: usize| hwm + max_chunk.max(1);
    prop_assert!(
        r.readable_peak_length(&lp) < bound(src_hwm) || total == 0,
        "source buffer {} hwm {}",
        r.readable_peak_length(&lp),
        src_hwm
    );
    prop_assert!(
        w.writable_peak_length(&lp) < bound(dst_hwm),
        "sink buffer {} hwm {}",
        w.writable_peak_length(&lp),
        dst_hwm
    );
    let rl = rlog.get();
    check_event_order(&rl).map_err(TestCaseError::fail)?;
    prop_assert_eq!(&rl[rl.len() - 2..], ["end", "close"]);
    let wl = wlog.get();
    check_event_order(&wl).map_err(TestCaseError::fail)?;
    prop_assert_eq!(&wl[wl.len() - 2..], ["finish", "close"]);
    prop_assert!(
        wl.iter()
            .all(|e| ["drain", "finish", "close"].contains(&e.as_str()))
    );
    if let Some((t, tlog, hwm)) = mid {
        prop_assert!(t.writable_peak_length(&lp) < bound(hwm));
        prop_assert!(t.readable_peak_length(&lp) < bound(hwm));
        let tl = tlog.get();
        check_event_order(&tl).map_err(TestCaseError::fail)?;
        prop_assert_eq!(
            tl.iter().filter(|e| *e == "end" || *e == "finish").count(),
            2
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn pipe_is_byte_exact_bounded_and_ordered(
        sizes in vec(1usize..400, 1..8),
        total in 0usize..6000,
        src_delays in vec(0u64..4, 1..6),
        sink_delays in vec(0u64..4, 1..6),
        src_hwm in 1usize..800,
        dst_hwm in 1usize..800,
        batches in any::<bool>(),
        through in prop::option::of(1usize..800),
    ) {
        run_pipe(Case { sizes, total, src_delays, sink_delays, src_hwm, dst_hwm, batches, through })?;
    }
}
