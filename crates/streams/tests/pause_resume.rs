//! Flowing and paused mode: `on_data` starts the flow, `pause` stops `data`
//! and lets the buffer fill only to the mark (the source is not asked
//! beyond it), `resume` goes on; every byte arrives once, in order, then
//! `end` once.

mod util;

use std::cell::Cell;
use std::rc::Rc;

use bytes::Bytes;
use eventide_loop_phases::{Loop, RunMode};
use eventide_streams::{Readable, Source, StreamOptions};
use util::{Log, check_event_order, chunk, record_readable, shared};

/// Pushes `n` chunks of 10 bytes, synchronously, one per request; counts requests.
struct Counted {
    left: u32,
    asked: Rc<Cell<u32>>,
}

impl Source<Bytes> for Counted {
    fn read(&mut self, lp: &mut Loop, s: Readable<Bytes>, _: usize) {
        self.asked.set(self.asked.get() + 1);
        if self.left == 0 {
            s.push_eof(lp);
        } else {
            self.left -= 1;
            s.push(lp, Bytes::from(vec![self.left as u8; 10]));
        }
    }
}

#[test]
fn pause_bounds_the_buffer_and_resume_continues() {
    let mut lp = Loop::new_manual();
    let asked = Rc::new(Cell::new(0));
    let src = Counted {
        left: 50,
        asked: asked.clone(),
    };
    let r = Readable::new(&mut lp, src, StreamOptions::default().high_water_mark(35));
    assert_eq!(r.readable_flowing(&lp), None);
    let log = Log::new();
    let got = record_readable(&mut lp, r, &log);
    assert_eq!(r.readable_flowing(&lp), Some(true));
    // Pause after the third chunk.
    let seen = Rc::new(Cell::new(0));
    let s = seen.clone();
    r.on_data(&mut lp, move |lp, _| {
        s.set(s.get() + 1);
        if s.get() == 3 {
            r.pause(lp);
        }
    });
    lp.run(RunMode::Default);
    assert!(r.is_paused(&lp));
    assert_eq!(seen.get(), 3, "no data while paused");
    assert!(
        r.readable_length(&lp) <= 35 + 10,
        "at most the mark plus one chunk"
    );
    let asked_while_paused = asked.get();
    lp.run(RunMode::Default);
    assert_eq!(asked.get(), asked_while_paused, "not asked beyond the mark");
    r.resume(&mut lp);
    lp.run(RunMode::Default);
    assert_eq!(seen.get(), 50);
    assert_eq!(got.borrow().len(), 500);
    let expect: Vec<u8> = (0..50u8).rev().flat_map(|i| [i; 10]).collect();
    assert_eq!(*got.borrow(), expect);
    assert_eq!(log.count("end"), 1);
    check_event_order(&log.get()).unwrap();
    assert!(r.readable_peak_length(&lp) <= 35 + 10);
}

#[test]
fn data_flows_from_the_next_tick_not_synchronously() {
    let mut lp = Loop::new_manual();
    let r = Readable::from_iter(&mut lp, chunk(b"abc", &[1]), StreamOptions::default());
    let got = shared(Vec::new());
    let g = got.clone();
    r.on_data(&mut lp, move |_, b: Bytes| {
        g.borrow_mut().extend_from_slice(&b)
    });
    assert!(got.borrow().is_empty());
    lp.run(RunMode::Default);
    assert_eq!(*got.borrow(), b"abc");
}

#[test]
fn on_data_on_an_explicitly_paused_stream_stays_paused() {
    let mut lp = Loop::new_manual();
    let r = Readable::from_iter(&mut lp, chunk(b"abc", &[1]), StreamOptions::default());
    r.pause(&mut lp);
    let got = shared(Vec::new());
    let g = got.clone();
    r.on_data(&mut lp, move |_, b: Bytes| {
        g.borrow_mut().extend_from_slice(&b)
    });
    lp.run(RunMode::Default);
    assert!(got.borrow().is_empty(), "Node: flowing stays false");
    r.resume(&mut lp);
    lp.run(RunMode::Default);
    assert_eq!(*got.borrow(), b"abc");
}

#[test]
fn end_comes_once_after_the_last_chunk_even_with_empty_pushes() {
    struct WithEmpty(u8);
    impl Source<Bytes> for WithEmpty {
        fn read(&mut self, lp: &mut Loop, s: Readable<Bytes>, _: usize) {
            self.0 += 1;
            match self.0 {
                1 | 3 => {
                    s.push(lp, Bytes::new());
                }
                2 => {
                    s.push(lp, Bytes::from_static(b"x"));
                }
                4 => {
                    s.push(lp, Bytes::new());
                    s.push_eof(lp);
                }
                _ => panic!("asked after the end"),
            }
        }
    }
    let mut lp = Loop::new_manual();
    let r = Readable::new(&mut lp, WithEmpty(0), StreamOptions::default());
    let log = Log::new();
    let got = record_readable(&mut lp, r, &log);
    lp.run(RunMode::Default);
    assert_eq!(*got.borrow(), b"x");
    assert_eq!(log.get(), ["data", "end", "close"], "no empty data events");

    // Paused mode: read() sees the end too.
    let r = Readable::new(&mut lp, WithEmpty(0), StreamOptions::default());
    let log = Log::new();
    r.on_end(&mut lp, log.each("end"));
    let got = shared(Vec::new());
    let g = got.clone();
    r.on_readable(&mut lp, move |lp| {
        while let Some(b) = r.read(lp, None) {
            g.borrow_mut().extend_from_slice(&b);
        }
    });
    lp.run(RunMode::Default);
    assert_eq!(*got.borrow(), b"x");
    assert_eq!(log.get(), ["end"]);
}

#[test]
fn a_zero_high_water_mark_still_flows_one_chunk_at_a_time() {
    let mut lp = Loop::new_manual();
    let r = Readable::from_iter(
        &mut lp,
        chunk(b"012", &[1]),
        StreamOptions::default().high_water_mark(0),
    );
    let log = Log::new();
    let got = record_readable(&mut lp, r, &log);
    lp.run(RunMode::Default);
    assert_eq!(
        *got.borrow(),
        b"012",
        "Node: flowing asks the source when empty"
    );
    assert_eq!(log.get(), ["data", "data", "data", "end", "close"]);
    assert!(r.readable_peak_length(&lp) <= 1);
}
