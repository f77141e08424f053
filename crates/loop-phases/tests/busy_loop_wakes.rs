//! A loop that never blocks and watches no descriptor (an idle handle is
//! active, or immediates keep coming) skips the poll system call, as libuv
//! does when no descriptor is watched. Wakes from other threads must still
//! get through: an async send and a finished job run their callbacks.

mod util;

use std::cell::Cell;
use std::rc::Rc;
use std::thread;
use std::time::{Duration, Instant};

use eventide_loop_phases::{Loop, Phase, RunMode, WorkError};
use util::Counter;

/// Gives up on a test after this long, rather than spinning forever.
const PATIENCE: Duration = Duration::from_secs(10);

#[test]
fn async_send_reaches_a_loop_kept_busy_by_an_idle_handle() {
    let mut lp = Loop::new();
    let calls = Counter::new();
    let c = calls.clone();
    let (h, sender) = lp.async_init(move |lp| {
        assert_eq!(lp.phase(), Phase::Poll);
        c.inc();
    });
    let idle = lp.idle_init();
    let started = Instant::now();
    let seen = calls.clone();
    let spins = Rc::new(Cell::new(0u64));
    let s = Rc::clone(&spins);
    lp.idle_start(idle, move |lp| {
        s.set(s.get() + 1);
        if seen.get() > 0 || started.elapsed() > PATIENCE {
            lp.idle_stop(idle);
            lp.close(h, None);
        }
    });
    let sender = thread::spawn(move || {
        thread::sleep(Duration::from_millis(20));
        sender.send();
    });
    lp.run(RunMode::Default);
    sender.join().unwrap();
    assert_eq!(calls.get(), 1, "the send was not seen");
    assert!(spins.get() > 1, "the idle handle kept the loop busy");
}

#[test]
fn finished_work_reaches_a_loop_kept_busy_by_immediates() {
    fn spin(lp: &mut Loop) {
        if lp.ext::<Done>().0 {
            return;
        }
        if lp.ext::<Started>().0.elapsed() > PATIENCE {
            // Then the loop blocks in poll for the job: not what is tested.
            lp.ext::<GaveUp>().0 = true;
            return;
        }
        lp.set_immediate(spin);
    }
    struct Started(Instant);
    impl Default for Started {
        fn default() -> Self {
            Started(Instant::now())
        }
    }
    #[derive(Default)]
    struct Done(bool);
    #[derive(Default)]
    struct GaveUp(bool);

    let mut lp = Loop::new();
    lp.ext::<Started>();
    lp.spawn_blocking(
        || {
            thread::sleep(Duration::from_millis(20));
            7
        },
        |lp, r: Result<i32, WorkError>| {
            assert_eq!(r.ok(), Some(7));
            lp.ext::<Done>().0 = true;
        },
    );
    lp.set_immediate(spin);
    lp.run(RunMode::Default);
    assert!(lp.ext::<Done>().0, "the job's callback ran");
    assert!(
        !lp.ext::<GaveUp>().0,
        "the finished job was not seen while immediates kept the loop busy"
    );
}
