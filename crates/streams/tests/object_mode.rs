//! Object mode: items weigh 1, the default high-water mark is 16 items on
//! both sides (configurable), `read` returns one item, and a pipe counts
//! items, not bytes.

mod util;

use eventide_loop_phases::{Loop, RunMode};
use eventide_streams::{Readable, StreamOptions, Writable};
use util::{ChunkSource, DelaySink, Item, Log, check_event_order, record_lifecycle};

#[test]
fn writable_default_mark_is_16_items() {
    let mut lp = Loop::new_manual();
    let (sink, _) = DelaySink::<Item>::new(vec![1]);
    let w = Writable::new(&mut lp, sink, StreamOptions::default());
    assert_eq!(w.writable_high_water_mark(&lp), 16);
    let rets: Vec<bool> = (0..17).map(|i| w.write(&mut lp, Item(i))).collect();
    // Write 1 goes straight to the sink but still counts until acknowledged.
    assert!(rets[..15].iter().all(|r| *r));
    assert!(!rets[15], "16 items: stop");
    assert_eq!(w.writable_length(&lp), 17);
}

#[test]
fn readable_default_mark_is_16_items() {
    let mut lp = Loop::new_manual();
    let r = Readable::from_iter(&mut lp, (0..100).map(Item), StreamOptions::default());
    r.pause(&mut lp);
    assert_eq!(r.read(&mut lp, Some(0)), None);
    assert_eq!(r.readable_length(&lp), 16, "filled to 16 items");
    assert_eq!(
        r.read(&mut lp, Some(5)),
        Some(Item(0)),
        "one item whatever n"
    );
    assert_eq!(r.read(&mut lp, None), Some(Item(1)));
}

#[test]
fn configured_mark_applies() {
    let mut lp = Loop::new_manual();
    let r = Readable::from_iter(
        &mut lp,
        (0..100).map(Item),
        StreamOptions::default().high_water_mark(3),
    );
    r.pause(&mut lp);
    r.read(&mut lp, Some(0));
    assert_eq!(r.readable_length(&lp), 3);
}

#[test]
fn pipe_counts_items() {
    let mut lp = Loop::new_manual();
    let src = ChunkSource::new((0..200).map(Item), vec![0, 0, 1]);
    let r = Readable::new(&mut lp, src, StreamOptions::default());
    let (sink, seen) = DelaySink::<Item>::new(vec![0, 2, 0, 0, 5]);
    let w = Writable::new(&mut lp, sink, StreamOptions::default().high_water_mark(4));
    let (rl, wl) = (Log::new(), Log::new());
    record_lifecycle(&mut lp, r, &rl);
    r.on_end(&mut lp, rl.each("end"));
    record_lifecycle(&mut lp, w, &wl);
    w.on_finish(&mut lp, wl.each("finish"));
    r.pipe(&mut lp, w);
    lp.run(RunMode::Default);
    let items: Vec<u32> = seen.borrow().items.iter().map(|i| i.0).collect();
    assert_eq!(items, (0..200).collect::<Vec<_>>());
    assert!(
        w.writable_peak_length(&lp) <= 4 + 1,
        "peak {}",
        w.writable_peak_length(&lp)
    );
    assert!(r.readable_peak_length(&lp) <= 16 + 1);
    assert_eq!(rl.get(), ["end", "close"]);
    assert_eq!(wl.get(), ["finish", "close"]);
    check_event_order(&rl.get()).unwrap();
}
