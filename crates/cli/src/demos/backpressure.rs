//! `backpressure`: a fast producer writes into a slow consumer, twice.
//!
//! The consumer is a [`Writable`] whose sink takes 5 ms per 4 KiB chunk (a
//! timer completes each write); its high-water mark is 16 KiB. Run 1's
//! producer stops when `write` returns `false` and goes on at `drain`: the
//! buffered size never passes the mark plus one chunk. Run 2's producer
//! ignores `write`'s answer and writes all 64 KiB at once: the whole data
//! ends up buffered. Both take as long, since the consumer sets the pace.

use std::time::{Duration, Instant};

use eventide_loop_phases::{Loop, RunMode};
use eventide_streams::{Sink, StreamOptions, Writable, WriteStatus};

use super::{Bytes, Demo, DemoEnv, at, kib, ms};

pub(crate) const DEMO: Demo = Demo {
    name: "backpressure",
    summary: "a fast producer into a slow consumer: write() → false at the mark, drain → go on",
    watch_for: "\
The consumer takes 5 ms per 4 KiB chunk; its high-water mark is 16 KiB. Run 1 stops when
write() returns false and goes on at drain; run 2 ignores write()'s answer (Node's classic
mistake). Watch the buffered size: bounded in run 1, the whole 64 KiB in run 2.
Rule: write() says when to stop (false at the high-water mark); drain says when to go on.",
    run,
};

const CHUNK: usize = 4 * 1024;
const CHUNKS: usize = 16;
const HIGH_WATER_MARK: usize = 16 * 1024;
const PER_CHUNK: Duration = Duration::from_millis(5);

/// The slow consumer: each write completes from a timer, `PER_CHUNK` later.
struct SlowSink;

impl Sink<Bytes> for SlowSink {
    fn write(&mut self, lp: &mut Loop, w: Writable<Bytes>, _chunk: Bytes) -> WriteStatus {
        lp.set_timeout(PER_CHUNK, move |lp| {
            lp.ext::<Producer>().consumed += 1;
            w.complete_write(lp, Ok(()));
        });
        WriteStatus::Pending
    }
}

/// One run's state, kept in the loop so every callback reaches it.
#[derive(Default)]
struct Producer {
    t0: Option<Instant>,
    sent: usize,
    consumed: usize,
    /// Chunks the consumer had taken at the last drain.
    consumed_at_drain: usize,
    drains: usize,
    finished_at: Option<Duration>,
    /// `writable_peak_length`, read at `finish`.
    peak: usize,
}

/// What one run measured.
struct Outcome {
    peak: usize,
    drains: usize,
    took: Duration,
    consumed: usize,
}

fn since(lp: &mut Loop) -> Duration {
    lp.ext::<Producer>()
        .t0
        .map_or(Duration::ZERO, |t| t.elapsed())
}

/// One block per 4 KiB buffered.
fn bar(len: usize) -> String {
    "█".repeat(len.div_ceil(CHUNK))
}

fn run(env: &mut DemoEnv) -> Result<(), String> {
    let chunk = Bytes::from(vec![b'x'; CHUNK]);

    println!("  run 1: a producer that stops at false and goes on at drain");
    println!(
        "  {:>11}  {:<24} {:>7}  {:>9}",
        "since start", "producer", "write()", "buffered"
    );
    let polite = run_with(env, &chunk, true)?;

    println!("\n  run 2: a producer that ignores write()'s answer");
    let rude = run_with(env, &chunk, false)?;

    let total = CHUNK * CHUNKS;
    println!();
    println!(
        "  {:<28} {:>13}  {:>6}  {:>6}  {:>10}",
        "producer", "peak buffered", "data", "drains", "took"
    );
    for (name, o) in [
        ("run 1: stops at false", &polite),
        ("run 2: ignores write()", &rude),
    ] {
        println!(
            "  {name:<28} {:>13}  {:>6}  {:>6}  {:>10}",
            kib(o.peak),
            kib(total),
            o.drains,
            ms(o.took)
        );
    }
    for o in [&polite, &rude] {
        if o.consumed != CHUNKS {
            return Err(format!(
                "the consumer took {} of {CHUNKS} chunks",
                o.consumed
            ));
        }
    }
    if polite.peak > HIGH_WATER_MARK + CHUNK || polite.drains == 0 {
        return Err(format!(
            "run 1 buffered up to {} with {} drains: backpressure did not hold",
            kib(polite.peak),
            polite.drains
        ));
    }
    if rude.peak != total {
        return Err(format!(
            "run 2 buffered up to {}, not the whole {}",
            kib(rude.peak),
            kib(total)
        ));
    }
    println!("  Both took as long: the consumer sets the pace. Ignoring false buys only memory.");
    println!("  Rule: write() says when to stop (false at the high-water mark, here buffered ≤");
    println!("  mark + one chunk), and drain says when to go on.");
    Ok(())
}

/// Writes `CHUNKS` chunks into a fresh slow consumer; `polite` producers wait
/// for `drain` after a `false`.
fn run_with(env: &mut DemoEnv, chunk: &Bytes, polite: bool) -> Result<Outcome, String> {
    let mut lp = env.new_loop();
    let w = Writable::new(
        &mut lp,
        SlowSink,
        StreamOptions::default()
            .high_water_mark(HIGH_WATER_MARK)
            .label("slow consumer"),
    );
    lp.ext::<Producer>().t0 = Some(Instant::now());
    w.on_finish(&mut lp, move |lp| {
        let t = since(lp);
        // Read now: once closed (right after `finish`), the id is stale.
        let peak = w.writable_peak_length(lp);
        let p = lp.ext::<Producer>();
        p.finished_at = Some(t);
        p.peak = peak;
        println!(
            "  {}  finish: the consumer took all {}",
            at(t),
            kib(CHUNK * CHUNKS)
        );
    });
    if polite {
        let c = chunk.clone();
        w.on_drain(&mut lp, move |lp| {
            let t = since(lp);
            let p = lp.ext::<Producer>();
            p.drains += 1;
            let took = p.consumed - p.consumed_at_drain;
            p.consumed_at_drain = p.consumed;
            println!(
                "  {}  {:<24} {:>7}  {:>9}  ← the consumer took {took} chunks: go on",
                at(t),
                "drain",
                "",
                kib(w.writable_length(lp)),
            );
            produce_politely(lp, w, &c);
        });
        produce_politely(&mut lp, w, chunk);
    } else {
        produce_rudely(&mut lp, w, chunk);
    }
    lp.run(RunMode::Default);
    let p = lp.ext::<Producer>();
    Ok(Outcome {
        peak: p.peak,
        drains: p.drains,
        took: p.finished_at.unwrap_or_default(),
        consumed: p.consumed,
    })
}

/// Writes until `write` says stop, or everything was written (then `end`).
fn produce_politely(lp: &mut Loop, w: Writable<Bytes>, chunk: &Bytes) {
    loop {
        let p = lp.ext::<Producer>();
        if p.sent == CHUNKS {
            w.end(lp, None);
            return;
        }
        p.sent += 1;
        let n = p.sent;
        let ok = w.write(lp, chunk.clone());
        let len = w.writable_length(lp);
        let what = if n == 1 {
            format!("write chunk {n:>2} ({})", kib(CHUNK))
        } else {
            format!("write chunk {n:>2}")
        };
        let note = if ok {
            String::new()
        } else {
            "  ← the mark: stop, wait for drain".to_string()
        };
        let t = since(lp);
        println!(
            "  {}  {what:<24} {ok:>7}  {:>9}  {}{note}",
            at(t),
            kib(len),
            bar(len)
        );
        if !ok {
            return;
        }
    }
}

/// Writes everything at once, whatever `write` answers; four writes a line.
fn produce_rudely(lp: &mut Loop, w: Writable<Bytes>, chunk: &Bytes) {
    let mut answers = Vec::new();
    for n in 1..=CHUNKS {
        answers.push(w.write(lp, chunk.clone()));
        if n % 4 == 0 {
            let len = w.writable_length(lp);
            let said: Vec<String> = answers.drain(..).map(|a| a.to_string()).collect();
            let t = since(lp);
            println!(
                "  {}  write chunks {:>2}–{n:<2} → {:<23} buffered {:>6}  {}",
                at(t),
                n - 3,
                said.join(" "),
                kib(len),
                bar(len)
            );
        }
    }
    w.end(lp, None);
}
