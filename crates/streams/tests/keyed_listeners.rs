//! Listeners given as a plain function and a key (`on_*_keyed`): called with
//! that key, in order with closure listeners, once per event as closures are,
//! and removed by `off` like them.

use bytes::Bytes;
use eventide_loop_phases::{Loop, RunMode};
use eventide_reactor::slab::Key;
use eventide_streams::{StreamOptions, Transform};

/// What the listeners saw, in the loop's storage.
#[derive(Default)]
struct Seen(Vec<String>);

fn log(lp: &mut Loop, line: String) {
    lp.ext::<Seen>().0.push(line);
}

fn on_data(lp: &mut Loop, key: Key, chunk: Bytes) {
    log(lp, format!("data {} {:?}", key.index(), chunk));
}

fn on_end(lp: &mut Loop, key: Key) {
    log(lp, format!("end {}", key.index()));
}

fn on_drain(lp: &mut Loop, key: Key) {
    log(lp, format!("drain {}", key.index()));
}

fn on_close(lp: &mut Loop, key: Key) {
    log(lp, format!("close {}", key.index()));
}

fn seen(lp: &mut Loop) -> Vec<String> {
    std::mem::take(&mut lp.ext::<Seen>().0)
}

#[test]
fn keyed_listeners_get_their_key_in_event_order() {
    let mut lp = Loop::new_manual();
    let t: Transform<Bytes> =
        Transform::pass_through(&mut lp, StreamOptions::default().high_water_mark(2));
    let key = Key::from_parts(7, 1);
    t.on_data_keyed(&mut lp, key, on_data);
    t.on_data(&mut lp, |lp, chunk| log(lp, format!("closure {chunk:?}")));
    t.on_drain_keyed(&mut lp, key, on_drain);
    t.on_end_keyed(&mut lp, key, on_end);
    t.on_close_keyed(&mut lp, key, on_close);

    assert!(!t.write(&mut lp, Bytes::from_static(b"abc")), "3 >= 2");
    lp.run(RunMode::Default);
    t.end(&mut lp, None);
    lp.run(RunMode::Default);
    assert_eq!(
        seen(&mut lp),
        [
            "data 7 b\"abc\"",
            "closure b\"abc\"",
            "drain 7",
            "end 7",
            "close 7"
        ]
    );
}

#[test]
fn keyed_listeners_are_removed_by_off() {
    let mut lp = Loop::new_manual();
    let t: Transform<Bytes> = Transform::pass_through(&mut lp, StreamOptions::default());
    let (a, b) = (Key::from_parts(1, 0), Key::from_parts(2, 0));
    let first = t.on_data_keyed(&mut lp, a, on_data);
    t.on_data_keyed(&mut lp, b, on_data);
    let end = t.on_end_keyed(&mut lp, a, on_end);
    t.on_close_keyed(&mut lp, b, on_close);

    t.write(&mut lp, Bytes::from_static(b"x"));
    lp.run(RunMode::Default);
    t.off(&mut lp, first);
    t.off(&mut lp, end);
    t.write(&mut lp, Bytes::from_static(b"y"));
    t.end(&mut lp, None);
    lp.run(RunMode::Default);
    assert_eq!(
        seen(&mut lp),
        ["data 1 b\"x\"", "data 2 b\"x\"", "data 2 b\"y\"", "close 2"]
    );
}
