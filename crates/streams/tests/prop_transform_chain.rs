//! Through a chain of Transforms on the loop (manual clock): one that
//! splits each chunk into zero or more outputs, one whose callback comes
//! from a timer, and a sink completing after random delays. Bytes out ==
//! bytes in, in order; every buffer stays under its mark plus one chunk;
//! each stage's events happen once, in Node's order. The same in object
//! mode, counting items.

mod util;

use bytes::Bytes;
use eventide_loop_phases::{Loop, RunMode};
use eventide_streams::{
    Pipeline, Readable, Step, StreamOptions, Transform, TransformCtx, Transformer, Writable,
};
use proptest::collection::vec;
use proptest::prelude::*;
use util::{
    ChunkSource, DelaySink, Item, Log, check_event_order, chunk, concat, ms, record_lifecycle,
    shared,
};

/// Cuts each chunk into pieces of the given sizes (cycled): zero outputs for
/// an empty chunk, several for a long one.
struct Splitter(Vec<usize>, usize);
impl Transformer<Bytes, Bytes> for Splitter {
    fn transform(
        &mut self,
        lp: &mut Loop,
        ctx: TransformCtx<Bytes, Bytes>,
        mut chunk: Bytes,
    ) -> Step {
        while !chunk.is_empty() {
            let n = self.0[self.1 % self.0.len()].max(1).min(chunk.len());
            self.1 += 1;
            ctx.push(lp, chunk.split_to(n));
        }
        Step::Done
    }
}

/// Passes each chunk on from a timer, then calls back.
struct Later(Vec<u64>, usize);
impl<T: eventide_streams::Chunk> Transformer<T, T> for Later {
    fn transform(&mut self, lp: &mut Loop, ctx: TransformCtx<T, T>, chunk: T) -> Step {
        let d = self.0[self.1 % self.0.len()];
        self.1 += 1;
        lp.set_timeout(ms(d), move |lp| {
            ctx.push(lp, chunk);
            ctx.done(lp, Ok(()));
        });
        Step::Pending
    }
}

fn lifecycle<R, W>(lp: &mut Loop, s: eventide_streams::Stream<R, W>) -> Log {
    let log = Log::new();
    record_lifecycle(lp, s, &log);
    log
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn chain_is_byte_exact_bounded_and_ordered(
        sizes in vec(1usize..300, 1..6),
        pieces in vec(1usize..120, 1..6),
        total in 0usize..4000,
        src_delays in vec(0u64..3, 1..5),
        later_delays in vec(0u64..3, 1..5),
        sink_delays in vec(0u64..3, 1..5),
        hwms in vec(1usize..500, 4),
    ) {
        let mut lp = Loop::new_manual();
        let input: Vec<u8> = (0..total).map(|i| (i * 31 % 253) as u8).collect();
        let chunks = chunk(&input, &sizes);
        let max_chunk = chunks.iter().map(Bytes::len).max().unwrap_or(0).max(1);
        let r = Readable::new(&mut lp, ChunkSource::new(chunks, src_delays), StreamOptions::default().high_water_mark(hwms[0]));
        let split = Transform::with_transformer(&mut lp, Splitter(pieces, 0), StreamOptions::default().high_water_mark(hwms[1]));
        let later = Transform::with_transformer(&mut lp, Later(later_delays, 0), StreamOptions::default().high_water_mark(hwms[2]));
        let (sink, seen) = DelaySink::new(sink_delays);
        let w = Writable::new(&mut lp, sink, StreamOptions::default().high_water_mark(hwms[3]));
        let logs = [lifecycle(&mut lp, r), lifecycle(&mut lp, split), lifecycle(&mut lp, later), lifecycle(&mut lp, w)];
        r.on_end(&mut lp, logs[0].each("end"));
        split.on_end(&mut lp, logs[1].each("end"));
        split.on_finish(&mut lp, logs[1].each("finish"));
        later.on_end(&mut lp, logs[2].each("end"));
        later.on_finish(&mut lp, logs[2].each("finish"));
        w.on_finish(&mut lp, logs[3].each("finish"));
        let result = shared(Vec::new());
        let res = result.clone();
        Pipeline::new(r).pipe(&mut lp, split).pipe(&mut lp, later)
            .finish(&mut lp, w, move |_, r| res.borrow_mut().push(r.is_ok()));
        lp.run(RunMode::Default);

        prop_assert_eq!(concat(&seen.borrow().items), input);
        prop_assert_eq!(&*result.borrow(), &[true]);
        prop_assert!(r.readable_peak_length(&lp) < hwms[0] + max_chunk);
        prop_assert!(split.writable_peak_length(&lp) < hwms[1] + max_chunk);
        prop_assert!(split.readable_peak_length(&lp) < hwms[1] + max_chunk);
        prop_assert!(later.writable_peak_length(&lp) < hwms[2] + max_chunk);
        prop_assert!(later.readable_peak_length(&lp) < hwms[2] + max_chunk);
        prop_assert!(w.writable_peak_length(&lp) < hwms[3] + max_chunk);
        for (i, l) in logs.iter().enumerate() {
            let l = l.get();
            check_event_order(&l).map_err(TestCaseError::fail)?;
            prop_assert_eq!(l.last().map(String::as_str), Some("close"), "stage {}", i);
            prop_assert!(!l.iter().any(|e| e.starts_with("error")));
        }
    }

    #[test]
    fn object_mode_chain_counts_items(
        n in 0u32..300,
        src_delays in vec(0u64..3, 1..5),
        later_delays in vec(0u64..3, 1..5),
        sink_delays in vec(0u64..3, 1..5),
        hwms in vec(1usize..20, 3),
    ) {
        let mut lp = Loop::new_manual();
        let r = Readable::new(&mut lp, ChunkSource::new((0..n).map(Item), src_delays), StreamOptions::default().high_water_mark(hwms[0]));
        // Zero outputs for multiples of 3, two for the others.
        let fan = Transform::sync(&mut lp, StreamOptions::default(), |lp, ctx, item: Item| {
            if item.0 % 3 != 0 {
                ctx.push(lp, item.clone());
                ctx.push(lp, item);
            }
            Ok(())
        });
        prop_assert_eq!(fan.readable_high_water_mark(&lp), 16, "object mode default");
        let later = Transform::with_transformer(&mut lp, Later(later_delays, 0), StreamOptions::default().high_water_mark(hwms[1]));
        let (sink, seen) = DelaySink::new(sink_delays);
        let w = Writable::new(&mut lp, sink, StreamOptions::default().high_water_mark(hwms[2]));
        let result = shared(Vec::new());
        let res = result.clone();
        Pipeline::new(r).pipe(&mut lp, fan).pipe(&mut lp, later)
            .finish(&mut lp, w, move |_, r| res.borrow_mut().push(r.is_ok()));
        lp.run(RunMode::Default);
        let expect: Vec<u32> = (0..n).filter(|i| i % 3 != 0).flat_map(|i| [i, i]).collect();
        let got: Vec<u32> = seen.borrow().items.iter().map(|i| i.0).collect();
        prop_assert_eq!(got, expect);
        prop_assert_eq!(&*result.borrow(), &[true]);
        prop_assert!(r.readable_peak_length(&lp) <= hwms[0]);
        prop_assert!(fan.readable_peak_length(&lp) <= 16 + 1, "two outputs per input");
        prop_assert!(later.writable_peak_length(&lp) <= hwms[1]);
        prop_assert!(w.writable_peak_length(&lp) <= hwms[2]);
    }
}
