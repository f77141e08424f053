//! The article's case: chunks from the network hold several frames. A data
//! handler that parses one frame and re-schedules the rest with a zero
//! timer processes a newer chunk's frames before an older chunk's: the
//! frames come out of order. A Transform whose callback comes from that same
//! zero timer keeps them in order, because the next chunk is not handed to
//! it before it called back.

mod util;

use bytes::{Buf, Bytes, BytesMut};
use eventide_loop_phases::{Loop, RunMode};
use eventide_streams::{
    Readable, Source, Step, StreamOptions, Transform, TransformCtx, Transformer,
};
use util::{Log, shared};

/// Frames `1`..=`5`, length-prefixed (4-byte big-endian), in two network
/// chunks: frames 1..=3, then 4..=5.
fn network_chunks() -> [Bytes; 2] {
    let frame = |b: &mut BytesMut, n: u8| {
        b.extend_from_slice(&1u32.to_be_bytes());
        b.extend_from_slice(&[b'0' + n]);
    };
    let mut a = BytesMut::new();
    let mut b = BytesMut::new();
    (1..=3).for_each(|n| frame(&mut a, n));
    (4..=5).for_each(|n| frame(&mut b, n));
    [a.freeze(), b.freeze()]
}

/// A socket stand-in: data arrives from outside (two I/O callbacks of one
/// poll, here two immediates of one check phase).
struct External;
impl Source<Bytes> for External {
    fn read(&mut self, _: &mut Loop, _: Readable<Bytes>, _: usize) {}
}

fn socket_like(lp: &mut Loop) -> Readable<Bytes> {
    let r = Readable::new(lp, External, StreamOptions::default());
    let [a, b] = network_chunks();
    lp.set_immediate(move |lp| {
        r.push(lp, a);
    });
    lp.set_immediate(move |lp| {
        r.push(lp, b);
        r.push_eof(lp);
    });
    r
}

/// Takes one frame off the front.
fn one_frame(buf: &mut Bytes) -> String {
    let len = buf.get_u32() as usize;
    let f = buf.split_to(len);
    String::from_utf8(f.to_vec()).unwrap()
}

#[test]
fn zero_timer_in_a_data_handler_reorders_frames() {
    let mut lp = Loop::new_manual();
    let r = socket_like(&mut lp);
    let log = Log::new();
    fn process(lp: &mut Loop, mut data: Bytes, log: Log) {
        log.push(one_frame(&mut data));
        if !data.is_empty() {
            lp.set_timeout(std::time::Duration::ZERO, move |lp| process(lp, data, log));
        }
    }
    let l = log.clone();
    r.on_data(&mut lp, move |lp, chunk| process(lp, chunk, l.clone()));
    lp.run(RunMode::Default);
    assert_eq!(
        log.get(),
        ["1", "4", "2", "5", "3"],
        "the article's reordering"
    );
}

/// The article's `Cleanser`: pushes one frame, continues from a zero timer,
/// and calls back only when the chunk is used up.
struct Cleanser;

fn cleanse(lp: &mut Loop, ctx: TransformCtx<Bytes, Bytes>, mut data: Bytes) {
    let frame = one_frame(&mut data);
    ctx.push(lp, Bytes::from(frame));
    if data.is_empty() {
        ctx.done(lp, Ok(()));
    } else {
        lp.set_timeout(std::time::Duration::ZERO, move |lp| cleanse(lp, ctx, data));
    }
}

impl Transformer<Bytes, Bytes> for Cleanser {
    fn transform(&mut self, lp: &mut Loop, ctx: TransformCtx<Bytes, Bytes>, chunk: Bytes) -> Step {
        cleanse(lp, ctx, chunk);
        Step::Pending
    }
}

#[test]
fn transform_with_a_zero_timer_callback_keeps_frames_in_order() {
    let mut lp = Loop::new_manual();
    let r = socket_like(&mut lp);
    let t = Transform::with_transformer(&mut lp, Cleanser, StreamOptions::default());
    r.pipe(&mut lp, t);
    let got = shared(Vec::new());
    let g = got.clone();
    t.on_data(&mut lp, move |_, f: Bytes| {
        g.borrow_mut().push(String::from_utf8(f.to_vec()).unwrap())
    });
    let log = Log::new();
    t.on_end(&mut lp, log.each("end"));
    t.on_finish(&mut lp, log.each("finish"));
    t.on_close(&mut lp, log.each("close"));
    lp.run(RunMode::Default);
    assert_eq!(*got.borrow(), ["1", "2", "3", "4", "5"]);
    assert_eq!(
        log.get(),
        ["end", "finish", "close"],
        "Node's order for a transform"
    );
}

#[test]
fn the_next_chunk_waits_for_the_callback() {
    // Records when each chunk is handed over and when its callback runs.
    struct Slow(util::Shared<Vec<String>>);
    impl Transformer<Bytes, Bytes> for Slow {
        fn transform(
            &mut self,
            lp: &mut Loop,
            ctx: TransformCtx<Bytes, Bytes>,
            chunk: Bytes,
        ) -> Step {
            let name = String::from_utf8(chunk.to_vec()).unwrap();
            self.0.borrow_mut().push(format!("in {name}"));
            let log = self.0.clone();
            lp.set_timeout(util::ms(5), move |lp| {
                log.borrow_mut().push(format!("done {name}"));
                ctx.push(lp, chunk);
                ctx.done(lp, Ok(()));
            });
            Step::Pending
        }
    }
    let mut lp = Loop::new_manual();
    let log = shared(Vec::new());
    let t = Transform::with_transformer(&mut lp, Slow(log.clone()), StreamOptions::default());
    t.on_data(&mut lp, |_, _| {});
    for s in ["a", "b", "c"] {
        t.write(&mut lp, Bytes::from(s));
    }
    t.end(&mut lp, None);
    lp.run(RunMode::Default);
    assert_eq!(
        *log.borrow(),
        ["in a", "done a", "in b", "done b", "in c", "done c"]
    );
}

#[test]
fn zero_or_more_outputs_per_input_and_a_flush() {
    /// Splits on spaces, holding the last partial word until the next chunk
    /// or the flush.
    struct Words(BytesMut);
    impl Transformer<Bytes, Bytes> for Words {
        fn transform(
            &mut self,
            lp: &mut Loop,
            ctx: TransformCtx<Bytes, Bytes>,
            chunk: Bytes,
        ) -> Step {
            self.0.extend_from_slice(&chunk);
            while let Some(i) = self.0.iter().position(|b| *b == b' ') {
                let w = self.0.split_to(i + 1);
                ctx.push(lp, w.freeze().slice(..i));
            }
            Step::Done
        }
        fn flush(
            &mut self,
            lp: &mut Loop,
            ctx: TransformCtx<Bytes, Bytes>,
        ) -> Result<(), eventide_streams::StreamError> {
            if !self.0.is_empty() {
                ctx.push(lp, self.0.split().freeze());
            }
            Ok(())
        }
    }
    let mut lp = Loop::new_manual();
    let t = Transform::with_transformer(&mut lp, Words(BytesMut::new()), StreamOptions::default());
    let got = shared(Vec::new());
    let g = got.clone();
    t.on_data(&mut lp, move |_, w: Bytes| {
        g.borrow_mut().push(String::from_utf8(w.to_vec()).unwrap())
    });
    for s in ["he", "llo wor", "ld ", "", "and more wor", "ds"] {
        t.write(&mut lp, Bytes::from(s));
    }
    t.end(&mut lp, None);
    lp.run(RunMode::Default);
    assert_eq!(*got.borrow(), ["hello", "world", "and", "more", "words"]);
}

#[test]
fn an_unread_transform_holds_its_callback_at_the_mark() {
    let mut lp = Loop::new_manual();
    let calls = shared(0usize);
    let c = calls.clone();
    let t = Transform::sync(
        &mut lp,
        StreamOptions::default().high_water_mark(4),
        move |lp, ctx, b: Bytes| {
            *c.borrow_mut() += 1;
            ctx.push(lp, b);
            Ok(())
        },
    );
    let mut rets = Vec::new();
    for _ in 0..20 {
        rets.push(t.write(&mut lp, Bytes::from_static(b"xx")));
    }
    lp.run(RunMode::Default);
    // Nobody reads: the transform ran until its readable side was full, then
    // held its callback, so the writable side filled up too.
    assert_eq!(t.readable_length(&lp), 4);
    assert_eq!(*calls.borrow(), 2);
    assert!(rets.iter().filter(|r| !**r).count() > 0);
    let got = shared(0usize);
    let g = got.clone();
    t.on_data(&mut lp, move |_, b: Bytes| *g.borrow_mut() += b.len());
    lp.run(RunMode::Default);
    assert_eq!(*got.borrow(), 40, "everything once read");
}
