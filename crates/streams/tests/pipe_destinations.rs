//! `pipe` with several destinations: the source pauses while any
//! destination's `write` returned `false` and resumes only when all of them
//! drained, so the slowest sets the pace and nothing piles up; `unpipe`
//! stops one destination without ending it; a source can be piped again
//! after an unpipe.

mod util;

use bytes::Bytes;
use eventide_loop_phases::{Loop, RunMode};
use eventide_streams::{Readable, StreamOptions, Writable};
use util::{ChunkSource, DelaySink, Log, chunk, concat, ms, record_writable};

fn data(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 % 251) as u8).collect()
}

#[test]
fn the_source_waits_for_the_slowest_destination() {
    let mut lp = Loop::new_manual();
    let input = data(10_000);
    let src = ChunkSource::new(chunk(&input, &[100]), vec![0]);
    let r = Readable::new(&mut lp, src, StreamOptions::default().high_water_mark(256));
    let (fast, fast_seen) = DelaySink::new(vec![0]);
    let (slow, slow_seen) = DelaySink::new(vec![3]);
    let wf = Writable::new(&mut lp, fast, StreamOptions::default().high_water_mark(300));
    let ws = Writable::new(&mut lp, slow, StreamOptions::default().high_water_mark(300));
    let (lf, ls) = (Log::new(), Log::new());
    record_writable(&mut lp, wf, &lf);
    record_writable(&mut lp, ws, &ls);
    r.pipe(&mut lp, wf);
    r.pipe(&mut lp, ws);
    lp.run(RunMode::Default);
    assert_eq!(concat(&fast_seen.borrow().items), input);
    assert_eq!(concat(&slow_seen.borrow().items), input);
    assert!(
        ws.writable_peak_length(&lp) <= 300 + 100,
        "slow: {}",
        ws.writable_peak_length(&lp)
    );
    assert!(wf.writable_peak_length(&lp) <= 300 + 100);
    assert!(r.readable_peak_length(&lp) <= 256 + 100);
    // The whole transfer took as long as the slow sink needs: it set the pace.
    assert!(lp.now() >= ms(3 * 99), "took {:?}", lp.now());
    assert_eq!(lf.get(), ["finish", "close"]);
    assert!(ls.count("drain") > 0, "the slow one said stop");
    assert_eq!(ls.get()[ls.get().len() - 2..], ["finish", "close"]);
}

#[test]
fn unpipe_stops_one_destination_without_ending_it() {
    let mut lp = Loop::new_manual();
    let input = data(1000);
    let src = ChunkSource::new(chunk(&input, &[10]), vec![1]);
    let r = Readable::new(&mut lp, src, StreamOptions::default());
    let (a, a_seen) = DelaySink::new(vec![0]);
    let (b, b_seen) = DelaySink::new(vec![0]);
    let wa = Writable::new(&mut lp, a, StreamOptions::default());
    let wb = Writable::new(&mut lp, b, StreamOptions::default());
    let (la, lb) = (Log::new(), Log::new());
    record_writable(&mut lp, wa, &la);
    record_writable(&mut lp, wb, &lb);
    r.pipe(&mut lp, wa);
    let pb = r.pipe(&mut lp, wb);
    lp.set_timeout(ms(20), move |lp| r.unpipe(lp, pb));
    lp.run(RunMode::Default);
    assert_eq!(concat(&a_seen.borrow().items), input);
    let b_got = concat(&b_seen.borrow().items);
    assert!(
        !b_got.is_empty() && b_got.len() < input.len(),
        "b got {}",
        b_got.len()
    );
    assert_eq!(b_got[..], input[..b_got.len()]);
    assert_eq!(la.get(), ["finish", "close"]);
    assert!(lb.get().is_empty(), "not ended: {:?}", lb.get());
    assert!(!wb.writable_ended(&lp));
}

#[test]
fn a_source_can_be_piped_again_after_unpipe() {
    let mut lp = Loop::new_manual();
    let input = data(1000);
    let src = ChunkSource::new(chunk(&input, &[10]), vec![1]);
    let r = Readable::new(&mut lp, src, StreamOptions::default());
    let (a, a_seen) = DelaySink::new(vec![0]);
    let (b, b_seen) = DelaySink::new(vec![0]);
    let wa = Writable::new(&mut lp, a, StreamOptions::default());
    let wb = Writable::new(&mut lp, b, StreamOptions::default());
    let pa = r.pipe(&mut lp, wa);
    lp.set_timeout(ms(20), move |lp| {
        r.unpipe(lp, pa);
        assert!(r.is_paused(lp), "no destination left: paused");
    });
    lp.set_timeout(ms(30), move |lp| {
        r.pipe(lp, wb);
    });
    lp.run(RunMode::Default);
    let mut all = concat(&a_seen.borrow().items);
    all.extend(concat(&b_seen.borrow().items));
    assert_eq!(all, input, "nothing lost, nothing twice");
    assert!(b_seen.borrow().finished, "the new destination was ended");
}

#[test]
fn piping_into_a_destination_that_needs_drain_waits_for_it() {
    let mut lp = Loop::new_manual();
    let (sink, seen) = DelaySink::new(vec![5]);
    let w = Writable::new(&mut lp, sink, StreamOptions::default().high_water_mark(4));
    assert!(!w.write(&mut lp, Bytes::from_static(b"head")));
    let input = data(100);
    let src = ChunkSource::new(chunk(&input, &[10]), vec![0]);
    let r = Readable::new(&mut lp, src, StreamOptions::default().high_water_mark(16));
    r.pipe(&mut lp, w);
    lp.run(RunMode::Default);
    let mut expect = b"head".to_vec();
    expect.extend(&input);
    assert_eq!(concat(&seen.borrow().items), expect);
    assert!(w.writable_peak_length(&lp) <= 4 + 10);
}

#[test]
fn a_destination_that_errors_is_unpiped_and_the_others_go_on() {
    let mut lp = Loop::new_manual();
    let input = data(500);
    let src = ChunkSource::new(chunk(&input, &[10]), vec![1]);
    let r = Readable::new(&mut lp, src, StreamOptions::default());
    let (a, a_seen) = DelaySink::new(vec![0]);
    let wa = Writable::new(&mut lp, a, StreamOptions::default());
    let n = std::cell::Cell::new(0);
    let wb = Writable::from_fn(&mut lp, StreamOptions::default(), move |_, _: Bytes| {
        n.set(n.get() + 1);
        if n.get() == 5 {
            Err(eventide_streams::StreamError::other("b failed"))
        } else {
            Ok(())
        }
    });
    let lb = Log::new();
    record_writable(&mut lp, wb, &lb);
    r.pipe(&mut lp, wa);
    r.pipe(&mut lp, wb);
    lp.run(RunMode::Default);
    assert_eq!(concat(&a_seen.borrow().items), input);
    assert_eq!(lb.get(), ["error:ERR_STREAM", "close"]);
}
