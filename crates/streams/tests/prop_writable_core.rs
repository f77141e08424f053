//! The sans-I/O writable core against Node's rules, for any chunk sizes, any
//! high-water mark and any interleaving of writes and sink completions:
//! bytes out == bytes in, in order; `write` returns `false` exactly when the
//! length after adding reaches the mark; `drain` is due exactly when the
//! buffer empties after a `false`; a producer that obeys `write` keeps the
//! length under the mark plus one chunk.

use bytes::Bytes;
use eventide_streams::core::{Refused, WritableState, WriteAction};
use proptest::collection::vec;
use proptest::prelude::*;

/// One step of the scenario.
#[derive(Debug, Clone)]
enum Op {
    /// The producer writes the next chunk (if it may).
    Write,
    /// The sink completes the write in flight (if any).
    Complete,
    Cork,
    Uncork,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => Just(Op::Write),
        4 => Just(Op::Complete),
        1 => Just(Op::Cork),
        1 => Just(Op::Uncork),
    ]
}

/// The model of the writable side that Node documents.
#[derive(Default)]
struct Model {
    length: usize,
    need_drain: bool,
    ending: bool,
}

struct Run {
    w: WritableState<Bytes>,
    model: Model,
    hwm: usize,
    max_batch: usize,
    in_flight: Option<Vec<Bytes>>,
    final_in_flight: bool,
    out: Vec<u8>,
    drains: usize,
    falses: usize,
}

impl Run {
    /// What the glue does after every call: hand the sink the next action.
    fn pump(&mut self) -> Result<(), TestCaseError> {
        if self.in_flight.is_some() || self.final_in_flight {
            prop_assert!(
                self.w.next_action(self.max_batch).is_none(),
                "one write at a time"
            );
            return Ok(());
        }
        match self.w.next_action(self.max_batch) {
            Some(WriteAction::One(chunk)) => {
                self.in_flight = Some(vec![chunk]);
            }
            Some(WriteAction::Write(batch)) => {
                prop_assert!(batch.len() >= 2, "a batch of one comes as One");
                prop_assert!(batch.len() <= self.max_batch);
                prop_assert!(
                    self.w.corked() == 0 || self.w.is_ending(),
                    "wrote while corked"
                );
                self.in_flight = Some(batch);
            }
            Some(WriteAction::Final) => {
                prop_assert!(self.model.ending && self.model.length == 0);
                self.final_in_flight = true;
            }
            None => {}
        }
        Ok(())
    }

    fn complete(&mut self) -> Result<(), TestCaseError> {
        if let Some(batch) = self.in_flight.take() {
            let weight: usize = batch.iter().map(Bytes::len).sum();
            for b in &batch {
                self.out.extend_from_slice(b);
            }
            self.model.length -= weight;
            // The glue emits `drain` on the next tick, checking again with
            // `take_drain`; here nothing happens in between.
            let drain = self.w.complete() && self.w.take_drain();
            let expect = self.model.need_drain && self.model.length == 0 && !self.model.ending;
            prop_assert_eq!(drain, expect, "drain due exactly when Node says");
            if drain {
                self.model.need_drain = false;
                self.drains += 1;
            }
            prop_assert_eq!(self.w.length(), self.model.length);
        } else if self.final_in_flight {
            self.final_in_flight = false;
            self.w.complete_final();
        }
        self.pump()
    }
}

fn scenario(
    sizes: Vec<usize>,
    hwm: usize,
    ops: Vec<Op>,
    batches: bool,
    obey: bool,
) -> Result<(), TestCaseError> {
    let mut r = Run {
        w: WritableState::new(hwm),
        model: Model::default(),
        hwm,
        max_batch: if batches { usize::MAX } else { 1 },
        in_flight: None,
        final_in_flight: false,
        out: Vec::new(),
        drains: 0,
        falses: 0,
    };
    let input: Vec<Bytes> = sizes
        .iter()
        .enumerate()
        .map(|(i, n)| Bytes::from((0..*n).map(|j| (i * 31 + j) as u8).collect::<Vec<u8>>()))
        .collect();
    let mut next = 0;
    let mut may_write = true;
    let mut ops = ops.into_iter();
    loop {
        let op = match ops.next() {
            Some(op) => op,
            // Out of random steps: uncork and finish the work deterministically.
            None => {
                while r.w.corked() > 0 {
                    r.w.uncork();
                }
                r.pump()?;
                if next < input.len() && (may_write || !obey) {
                    Op::Write
                } else if r.in_flight.is_some() {
                    Op::Complete
                } else {
                    prop_assert!(next >= input.len(), "producer stuck waiting for drain");
                    break;
                }
            }
        };
        match op {
            Op::Write if next < input.len() && (may_write || !obey) => {
                let chunk = input[next].clone();
                next += 1;
                let len = chunk.len();
                let ret = r.w.write(chunk);
                r.model.length += len;
                let expect = r.model.length < r.hwm;
                prop_assert_eq!(ret, Ok(expect), "write returns length < hwm");
                if !expect {
                    r.model.need_drain = true;
                    r.falses += 1;
                }
                prop_assert_eq!(r.w.need_drain(), r.model.need_drain);
                prop_assert_eq!(r.w.length(), r.model.length);
                if obey {
                    // The producer wrote only while the length was below the mark.
                    prop_assert!(
                        r.w.length() < r.hwm + len,
                        "length {} hwm {}",
                        r.w.length(),
                        r.hwm
                    );
                }
                may_write = expect;
                r.pump()?;
            }
            Op::Write => {}
            Op::Complete => {
                let was_need_drain = r.model.need_drain;
                r.complete()?;
                if was_need_drain && !r.model.need_drain {
                    may_write = true;
                }
                // A drain-free producer would wait forever: it resumes when
                // the buffer is empty (Node's drain) or was never full.
                if !r.model.need_drain {
                    may_write = true;
                }
            }
            Op::Cork => r.w.cork(),
            Op::Uncork => {
                r.w.uncork();
                r.pump()?;
            }
        }
        prop_assert!(r.w.length() <= r.w.peak_length());
    }
    // end() then drive to the final step.
    prop_assert_eq!(r.w.end(), Ok(()));
    r.model.ending = true;
    prop_assert_eq!(r.w.write(Bytes::from_static(b"x")), Err(Refused::AfterEnd));
    prop_assert_eq!(r.w.end(), Err(Refused::AfterEnd));
    r.pump()?;
    let mut guard = 0;
    while !r.w.is_finished() {
        r.complete()?;
        guard += 1;
        prop_assert!(guard < 10_000, "stuck before finish");
    }
    prop_assert_eq!(
        r.out,
        input.iter().flat_map(|b| b.to_vec()).collect::<Vec<u8>>()
    );
    prop_assert!(r.drains <= r.falses);
    if obey {
        let max_chunk = sizes.iter().copied().max().unwrap_or(0);
        prop_assert!(r.w.peak_length() < hwm + max_chunk.max(1));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn obeying_producer_is_bounded_and_byte_exact(
        sizes in vec(0usize..300, 0..60),
        hwm in 1usize..600,
        ops in vec(op(), 0..200),
        batches in any::<bool>(),
    ) {
        scenario(sizes, hwm, ops, batches, true)?;
    }

    #[test]
    fn ignoring_producer_is_still_byte_exact(
        sizes in vec(0usize..300, 0..60),
        hwm in 1usize..600,
        ops in vec(op(), 0..200),
        batches in any::<bool>(),
    ) {
        scenario(sizes, hwm, ops, batches, false)?;
    }
}

#[test]
fn destroy_drops_buffered_and_refuses_writes() {
    let mut w = WritableState::<Bytes>::new(4);
    assert_eq!(w.write(Bytes::from_static(b"ab")), Ok(true));
    assert_eq!(w.write(Bytes::from_static(b"cd")), Ok(false));
    let first = w.next_action(1);
    assert!(matches!(first, Some(WriteAction::One(ref b)) if b == "ab"));
    let dropped = w.destroy();
    assert_eq!(dropped, vec![Bytes::from_static(b"cd")]);
    assert_eq!(w.write(Bytes::from_static(b"x")), Err(Refused::Destroyed));
    assert_eq!(w.end(), Err(Refused::Destroyed));
    assert!(w.next_action(1).is_none());
    assert!(!w.complete(), "no drain after destroy");
}

#[test]
fn zero_length_chunks_count_nothing() {
    let mut w = WritableState::<Bytes>::new(1);
    assert_eq!(w.write(Bytes::new()), Ok(true));
    assert_eq!(w.write(Bytes::from_static(b"a")), Ok(false));
}

#[test]
fn a_drain_is_not_emitted_when_the_buffer_refilled_before_the_tick() {
    let mut w = WritableState::<Bytes>::new(4);
    assert_eq!(w.write(Bytes::from_static(b"abcd")), Ok(false));
    assert!(matches!(w.next_action(1), Some(WriteAction::One(_))));
    assert!(
        w.complete(),
        "the buffer emptied after a false: drain is due"
    );
    // Before the drain's tick, the producer writes again and fills it.
    assert_eq!(w.write(Bytes::from_static(b"efgh")), Ok(false));
    assert!(
        !w.take_drain(),
        "a stale drain would let it write past the mark"
    );
    assert!(matches!(w.next_action(1), Some(WriteAction::One(_))));
    assert!(w.complete());
    assert!(w.take_drain());
    assert!(!w.take_drain(), "once");
}
