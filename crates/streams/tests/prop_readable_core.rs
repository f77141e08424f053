//! The sans-I/O readable core against a simple model of Node's rules:
//! `push` returns `length < high_water_mark`; `read(n)` returns exactly `n`
//! bytes when that many are buffered, nothing otherwise (what is left once
//! ended), everything for `read()`; a read above the mark raises it to the
//! next power of two; the source is asked only when allowed; `end` is due
//! once, after the last byte; bytes come out once each, in order.

use std::collections::VecDeque;

use bytes::Bytes;
use eventide_streams::core::{PushAfterEof, ReadableState};
use proptest::collection::vec;
use proptest::prelude::*;

mod util;
use util::Item;

#[derive(Debug, Clone)]
enum Op {
    Push(usize),
    Eof,
    Read(Option<usize>),
    /// Flowing mode: take the next chunk.
    Flow,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0usize..200).prop_map(Op::Push),
        1 => Just(Op::Eof),
        5 => prop::option::weighted(0.8, 0usize..700).prop_map(Op::Read),
        2 => Just(Op::Flow),
    ]
}

#[derive(Default)]
struct Model {
    bytes: VecDeque<u8>,
    chunks: VecDeque<usize>,
    hwm: usize,
    ended: bool,
    reading: bool,
    end_emitted: bool,
}

impl Model {
    /// Removes `n` bytes from the front, keeping chunk boundaries.
    fn take(&mut self, mut n: usize) -> Vec<u8> {
        let out: Vec<u8> = self.bytes.drain(..n).collect();
        while n > 0 {
            let front = self.chunks.front_mut().expect("chunk");
            if *front <= n {
                n -= *front;
                self.chunks.pop_front();
            } else {
                *front -= n;
                n = 0;
            }
        }
        while self.chunks.front() == Some(&0) {
            self.chunks.pop_front();
        }
        out
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn read_matches_the_model(hwm in 1usize..400, ops in vec(op(), 0..120)) {
        let mut r = ReadableState::<Bytes>::new(hwm);
        let mut m = Model { hwm, ..Model::default() };
        let mut pushed = Vec::new();
        let mut got = Vec::new();
        let mut counter = 0u8;
        let mut flowing = false;
        for op in ops {
            match op {
                Op::Push(n) => {
                    let data: Vec<u8> = (0..n).map(|_| { counter = counter.wrapping_add(1); counter }).collect();
                    let ret = r.push(Bytes::from(data.clone()));
                    if m.ended {
                        prop_assert_eq!(ret, Err(PushAfterEof));
                        continue;
                    }
                    m.reading = false;
                    m.bytes.extend(&data);
                    if n > 0 {
                        m.chunks.push_back(n);
                    }
                    pushed.extend(data);
                    prop_assert_eq!(ret, Ok(m.bytes.len() < m.hwm), "push returns length < hwm");
                }
                Op::Eof => {
                    let due = r.push_eof();
                    m.reading = false;
                    m.ended = true;
                    prop_assert_eq!(due, m.bytes.is_empty() && !m.end_emitted);
                }
                Op::Flow => {
                    if !flowing {
                        r.resume();
                        flowing = true;
                    }
                    let chunk = r.next_flowing();
                    match m.chunks.front().copied() {
                        Some(n) => {
                            let c = chunk.expect("a buffered chunk flows");
                            prop_assert_eq!(c.len(), n, "flowing mode emits whole chunks");
                            let expect = m.take(n);
                            prop_assert_eq!(&c[..], &expect[..]);
                            got.extend_from_slice(&c);
                        }
                        None => prop_assert!(chunk.is_none()),
                    }
                }
                Op::Read(n) => {
                    if flowing {
                        r.pause();
                        flowing = false;
                    }
                    if let Some(n) = n && n > m.hwm {
                        m.hwm = n.next_power_of_two();
                    }
                    let len = m.bytes.len();
                    let want = match n {
                        Some(0) => 0,
                        None => len,
                        Some(n) if n <= len => n,
                        Some(_) if m.ended => len,
                        Some(_) => 0,
                    };
                    let out = r.read(n);
                    prop_assert_eq!(r.high_water_mark(), m.hwm, "read(n) raises the mark");
                    let expect = if want > 0 { Some(m.take(want)) } else { None };
                    prop_assert_eq!(out.data.as_ref().map(|b| b.to_vec()), expect.clone());
                    if let Some(d) = expect {
                        got.extend(d);
                    }
                    if out.call_source {
                        prop_assert!(!m.ended && !m.reading, "asked the source while ended or reading");
                        m.reading = true;
                    } else if !m.ended && !m.reading && n != Some(0)
                        && (len == 0 || len - want < m.hwm)
                    {
                        prop_assert!(false, "Node asks the source here (len {len}, want {want}, hwm {})", m.hwm);
                    }
                    prop_assert_eq!(r.is_reading(), m.reading);
                    if out.emit_end {
                        prop_assert!(m.ended && m.bytes.is_empty() && !m.end_emitted);
                        prop_assert!(r.mark_end_emitted());
                        m.end_emitted = true;
                    }
                }
            }
            prop_assert_eq!(r.length(), m.bytes.len());
            prop_assert_eq!(r.is_ended(), m.ended);
            // The source is asked only below the mark.
            let before = r.is_reading();
            let asked = r.wants_more();
            if asked {
                prop_assert!(!before && !m.ended && m.bytes.len() < m.hwm);
                m.reading = true;
            }
        }
        // Whatever was read came out in order, once.
        prop_assert_eq!(&got[..], &pushed[..got.len()]);
        // Read the rest.
        r.pause();
        if !m.ended {
            r.push_eof();
        }
        let rest = r.read(None);
        got.extend(rest.data.map(|b| b.to_vec()).unwrap_or_default());
        prop_assert_eq!(got, pushed);
        prop_assert_eq!(r.length(), 0);
        prop_assert!(r.end_due() || r.end_emitted());
    }

    #[test]
    fn object_mode_reads_one_item_and_counts_items(
        hwm in 1usize..40,
        n in 0usize..80,
        reads in vec(prop::option::of(0usize..5), 0..100),
    ) {
        let mut r = ReadableState::<Item>::new(hwm);
        let mut next = 0u32;
        for i in 0..n {
            let ret = r.push(Item(i as u32));
            prop_assert_eq!(ret, Ok(i + 1 < hwm), "each item weighs 1");
        }
        prop_assert_eq!(r.length(), n);
        for want in reads {
            let out = r.read(want);
            if want == Some(0) {
                prop_assert!(out.data.is_none());
                continue;
            }
            match out.data {
                Some(Item(v)) => {
                    prop_assert_eq!(v, next, "one item per read, in order");
                    next += 1;
                }
                None => prop_assert_eq!(next as usize, n),
            }
        }
    }
}

#[test]
fn default_marks_are_nodes() {
    use eventide_streams::Chunk;
    assert_eq!(<Bytes as Chunk>::DEFAULT_HIGH_WATER_MARK, 64 * 1024);
    assert_eq!(<Item as Chunk>::DEFAULT_HIGH_WATER_MARK, 16);
}
