//! Property test: any schedule of timeouts, intervals, refreshes,
//! cancellations and clock advances (started before the loop runs or from
//! inside timer callbacks) fires exactly as a reference model says: timers
//! in `(due, start order)` order, collected before a pass runs (libuv 1.48),
//! intervals re-armed from their callback's start, one pass per iteration
//! (a timer made due by a callback of a pass waits for the next pass, even
//! when a clock advance makes it due at once). Every callback also
//! checks on its own that it is not early and was not cancelled.

mod util;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use eventide_loop_phases::{Loop, RunMode, Timer};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Act {
    Start(usize),
    Clear(usize),
    Refresh(usize),
    /// Moves the manual clock (a slow callback), in ms.
    Advance(u64),
}

#[derive(Clone, Debug)]
struct Spec {
    delay_us: u64,
    repeat: bool,
    /// An interval clears itself after this many callbacks.
    max_fires: u32,
    actions: Vec<Act>,
}

#[derive(Clone, Debug)]
struct Plan {
    specs: Vec<Spec>,
    /// Specs `0..initial` start before the loop runs.
    initial: usize,
    /// Then these run, before the loop.
    pre: Vec<Act>,
}

/// Node's delay rule in whole ms: rounded up, 0 becomes 1.
fn delay_ms(us: u64) -> u64 {
    us.div_ceil(1000).max(1)
}

fn act(n: usize) -> impl Strategy<Value = Act> {
    prop_oneof![
        3 => (0..n).prop_map(Act::Start),
        2 => (0..n).prop_map(Act::Clear),
        2 => (0..n).prop_map(Act::Refresh),
        1 => (0u64..4).prop_map(Act::Advance),
    ]
}

fn plan() -> impl Strategy<Value = Plan> {
    (1usize..10).prop_flat_map(|n| {
        let spec = (
            prop_oneof![Just(0u64), 0u64..12_000, (1u64..12).prop_map(|m| m * 1000)],
            any::<bool>(),
            1u32..4,
            proptest::collection::vec(act(n), 0..3),
        )
            .prop_map(|(delay_us, repeat, max_fires, actions)| Spec {
                delay_us,
                repeat,
                max_fires,
                actions,
            });
        (
            proptest::collection::vec(spec, n),
            1..=n,
            proptest::collection::vec(act(n), 0..4),
        )
            .prop_map(|(specs, initial, pre)| Plan {
                specs,
                initial,
                pre,
            })
    })
}

// ----- the reference model ----------------------------------------------------

#[derive(Clone, Default)]
struct MTimer {
    started: bool,
    live: bool,
    due: u64,
    /// 0 while not queued.
    seq: u64,
    fires: u32,
}

struct Model<'a> {
    specs: &'a [Spec],
    now: u64,
    seq: u64,
    t: Vec<MTimer>,
    /// `(timer, loop time in ms, iteration)` per callback.
    log: Vec<(usize, u64, u64)>,
}

impl Model<'_> {
    fn arm(&mut self, i: usize) {
        self.seq += 1;
        self.t[i].seq = self.seq;
        self.t[i].due = self.now + delay_ms(self.specs[i].delay_us);
    }

    fn apply(&mut self, a: &Act) {
        match *a {
            Act::Start(i) => {
                if !self.t[i].started {
                    self.t[i].started = true;
                    self.t[i].live = true;
                    self.arm(i);
                }
            }
            Act::Clear(i) => {
                self.t[i].live = false;
                self.t[i].seq = 0;
            }
            Act::Refresh(i) => {
                if self.t[i].live {
                    self.arm(i);
                }
            }
            Act::Advance(ms) => self.now += ms,
        }
    }

    /// `run(Default)`: a timers pass before the first iteration, then one per
    /// iteration, each after the clock jumped to the earliest due timer. The
    /// first due timer of a pass always fires (nothing runs before it to
    /// cancel it), so every iteration fires at least one timer.
    fn run(&mut self) {
        self.pass(0);
        let mut iteration = 0;
        loop {
            let next = self
                .t
                .iter()
                .filter(|t| t.live && t.seq != 0)
                .map(|t| t.due)
                .min();
            let Some(next) = next else { break };
            self.now = self.now.max(next); // the manual clock jumps to it
            iteration += 1;
            self.pass(iteration);
        }
    }

    /// One timers pass: collect everything due, then run it in `(due, seq)`
    /// order, skipping timers an earlier callback cleared or refreshed.
    fn pass(&mut self, iteration: u64) {
        let mut ready: Vec<(u64, u64, usize)> = self
            .t
            .iter()
            .enumerate()
            .filter(|(_, t)| t.live && t.seq != 0 && t.due <= self.now)
            .map(|(i, t)| (t.due, t.seq, i))
            .collect();
        ready.sort();
        for (_, seq, i) in ready {
            if !(self.t[i].live && self.t[i].seq == seq) {
                continue;
            }
            self.t[i].seq = 0;
            let started = self.now;
            self.log.push((i, self.now, iteration));
            self.t[i].fires += 1;
            let spec = &self.specs[i];
            if !spec.repeat {
                self.t[i].live = false;
            }
            for a in &spec.actions {
                self.apply(a);
            }
            if spec.repeat && self.t[i].live {
                if self.t[i].fires >= spec.max_fires {
                    self.apply(&Act::Clear(i));
                } else if self.t[i].seq == 0 {
                    self.seq += 1;
                    self.t[i].seq = self.seq;
                    self.t[i].due = started + delay_ms(spec.delay_us);
                }
            }
        }
    }
}

fn model(plan: &Plan) -> Vec<(usize, u64, u64)> {
    let mut m = Model {
        specs: &plan.specs,
        now: 0,
        seq: 0,
        t: vec![MTimer::default(); plan.specs.len()],
        log: Vec::new(),
    };
    for i in 0..plan.initial {
        m.apply(&Act::Start(i));
    }
    for a in &plan.pre {
        m.apply(a);
    }
    m.run();
    m.log
}

// ----- the loop -----------------------------------------------------------------

#[derive(Default)]
struct State {
    handles: Vec<Option<Timer>>,
    started: Vec<bool>,
    cancelled: Vec<bool>,
    fires: Vec<u32>,
    /// When each timer is due, as the test computes it (ms).
    due: Vec<u64>,
    log: Vec<(usize, u64, u64)>,
}

type Shared = (Rc<RefCell<State>>, Rc<Vec<Spec>>);

fn now_ms(lp: &Loop) -> u64 {
    let now = lp.now();
    assert_eq!(
        now.as_nanos() % 1_000_000,
        0,
        "the manual clock moves in whole ms here"
    );
    now.as_millis() as u64
}

fn start(lp: &mut Loop, sh: &Shared, i: usize) {
    let (st, specs) = sh;
    if st.borrow().started[i] {
        return;
    }
    let spec = &specs[i];
    let delay = Duration::from_micros(spec.delay_us);
    let s2 = (Rc::clone(st), Rc::clone(specs));
    let t = if spec.repeat {
        lp.set_interval(delay, move |lp| fire(lp, &s2, i))
    } else {
        lp.set_timeout(delay, move |lp| fire(lp, &s2, i))
    };
    let mut s = st.borrow_mut();
    s.started[i] = true;
    s.handles[i] = Some(t);
    s.due[i] = now_ms(lp) + delay_ms(spec.delay_us);
}

fn apply(lp: &mut Loop, sh: &Shared, a: &Act) {
    let (st, specs) = sh;
    match *a {
        Act::Start(i) => start(lp, sh, i),
        Act::Clear(i) => {
            let h = st.borrow().handles[i];
            if let Some(h) = h
                && lp.clear_timeout(h)
            {
                st.borrow_mut().cancelled[i] = true;
            }
        }
        Act::Refresh(i) => {
            let h = st.borrow().handles[i];
            if let Some(h) = h
                && lp.refresh(h)
            {
                st.borrow_mut().due[i] = now_ms(lp) + delay_ms(specs[i].delay_us);
            }
        }
        Act::Advance(ms) => lp.advance(Duration::from_millis(ms)),
    }
}

fn fire(lp: &mut Loop, sh: &Shared, i: usize) {
    let (st, specs) = sh;
    let spec = &specs[i];
    let now = now_ms(lp);
    {
        let mut s = st.borrow_mut();
        assert!(!s.cancelled[i], "timer {i} fired after it was cancelled");
        assert!(
            now >= s.due[i],
            "timer {i} fired early: now {now}, due {}",
            s.due[i]
        );
        s.log.push((i, now, lp.metrics().iterations));
        s.fires[i] += 1;
        if spec.repeat {
            s.due[i] = now + delay_ms(spec.delay_us); // re-armed from the start
        }
    }
    for a in &spec.actions {
        apply(lp, sh, a);
    }
    let (fires, h) = {
        let s = st.borrow();
        (s.fires[i], s.handles[i].unwrap())
    };
    if spec.repeat && fires >= spec.max_fires && lp.clear_interval(h) {
        st.borrow_mut().cancelled[i] = true;
    }
}

fn run_loop(plan: &Plan) -> (Vec<(usize, u64, u64)>, Loop) {
    let n = plan.specs.len();
    let st = Rc::new(RefCell::new(State {
        handles: vec![None; n],
        started: vec![false; n],
        cancelled: vec![false; n],
        fires: vec![0; n],
        due: vec![0; n],
        log: Vec::new(),
    }));
    let sh: Shared = (st, Rc::new(plan.specs.clone()));
    let mut lp = Loop::new_manual();
    for i in 0..plan.initial {
        start(&mut lp, &sh, i);
    }
    for a in &plan.pre {
        apply(&mut lp, &sh, a);
    }
    assert!(!lp.run(RunMode::Default));
    let log = std::mem::take(&mut sh.0.borrow_mut().log);
    (log, lp)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn timers_fire_as_the_sorted_model_says(plan in plan()) {
        let expected = model(&plan);
        let (got, lp) = run_loop(&plan);
        prop_assert_eq!(&got, &expected);
        prop_assert_eq!(lp.active_timers(), 0);
        prop_assert_eq!(lp.active_handles(), 0);
    }
}

/// A hand-written case, so the model itself is checked once against values
/// worked out by hand: equal dues in start order, a refresh from a callback,
/// an interval re-armed from its start, a cancelled timer.
#[test]
fn model_matches_a_worked_example() {
    let spec = |delay_us, repeat, max_fires, actions| Spec {
        delay_us,
        repeat,
        max_fires,
        actions,
    };
    let plan = Plan {
        specs: vec![
            spec(5_000, false, 1, vec![Act::Refresh(1), Act::Start(3)]),
            spec(5_000, false, 1, vec![]),
            spec(4_000, true, 3, vec![Act::Advance(1)]),
            spec(0, false, 1, vec![Act::Clear(2)]),
        ],
        initial: 3,
        pre: vec![],
    };
    // 2 fires at 4 and takes 1 ms; re-armed from its start: due at 8.
    // 0 fires at 5 (its pass) and refreshes 1 (due at 5 too, so skipped in
    // this pass, now due at 10) and starts 3 (0 ms: due at 6).
    // 3 fires at 6 and clears 2 before its second callback; 1 fires at 10.
    let expected = vec![(2, 4, 1), (0, 5, 2), (3, 6, 3), (1, 10, 4)];
    assert_eq!(model(&plan), expected);
    assert_eq!(run_loop(&plan).0, expected);
}
