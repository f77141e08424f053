//! The trace records of one loop, grouped into iterations and phases, and
//! printed as a timeline.
//!
//! The loop reports a flat stream ([`TraceRecord`]): iteration starts, phase
//! entries and exits, polls, and each callback when it returns. This module
//! rebuilds the nesting: an iteration holds its phases, a phase its
//! callbacks, and the nextTicks and microtasks drained after a callback
//! follow it.

use std::fmt::Write as _;
use std::time::Duration;

use eventide_loop_phases::{CallbackKind, Phase, TraceEvent, TraceRecord};

/// Callbacks printed per phase before the rest are summed up in one line.
const CALLS_PER_PHASE: usize = 12;

/// One callback that ran.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub(crate) kind: CallbackKind,
    pub(crate) label: &'static str,
    /// When it started, since the loop was created.
    pub(crate) start: Duration,
    pub(crate) elapsed: Duration,
}

impl Call {
    /// A nextTick or microtask, drained after another callback.
    pub(crate) fn is_tick(&self) -> bool {
        matches!(self.kind, CallbackKind::Tick | CallbackKind::Microtask)
    }

    /// `io fd 5 "udp"`, `timeout`, `nextTick`: the kind, and the label when
    /// it says more than the kind.
    pub(crate) fn describe(&self) -> String {
        let mut s = String::from(self.kind.name());
        if let CallbackKind::Io { fd } = self.kind {
            let _ = write!(s, " fd {fd}");
        }
        if self.label != self.kind.name() {
            let _ = write!(s, " \"{}\"", self.label);
        }
        s
    }
}

/// What the poll phase's wait did.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Poll {
    /// The longest it could wait: `None` until I/O, `Some(0)` not at all.
    pub(crate) timeout: Option<Duration>,
    /// Time spent blocked in the OS poller.
    pub(crate) blocked: Duration,
    /// Readiness events it returned.
    pub(crate) events: usize,
    /// When the wait ended.
    pub(crate) end: Duration,
}

/// One pass through a phase.
#[derive(Debug, Clone)]
pub(crate) struct PhaseRun {
    pub(crate) phase: Phase,
    pub(crate) start: Duration,
    /// Time in the phase, callbacks and poll included.
    pub(crate) elapsed: Duration,
    pub(crate) calls: Vec<Call>,
    pub(crate) poll: Option<Poll>,
    ended: bool,
}

/// One loop iteration; or, with no number, what `run()` did before its
/// first iteration (due timers, ticks queued by the main program).
#[derive(Debug, Clone, Default)]
pub(crate) struct Iteration {
    pub(crate) number: Option<u64>,
    pub(crate) start: Duration,
    pub(crate) end: Duration,
    pub(crate) phases: Vec<PhaseRun>,
    /// Callbacks outside any phase: ticks drained when `run()` starts.
    pub(crate) loose: Vec<Call>,
}

impl Iteration {
    fn new(number: Option<u64>, at: Duration) -> Self {
        Iteration {
            number,
            start: at,
            end: at,
            ..Iteration::default()
        }
    }

    /// Whether any callback ran.
    pub(crate) fn is_busy(&self) -> bool {
        !self.loose.is_empty() || self.phases.iter().any(|p| !p.calls.is_empty())
    }

    pub(crate) fn blocked(&self) -> Duration {
        self.phases
            .iter()
            .filter_map(|p| p.poll.map(|q| q.blocked))
            .sum()
    }

    /// Every callback, in the order they ran.
    pub(crate) fn calls(&self) -> impl Iterator<Item = &Call> {
        self.loose
            .iter()
            .chain(self.phases.iter().flat_map(|p| p.calls.iter()))
    }

    fn has_phase(&self, phase: Phase) -> bool {
        self.phases.iter().any(|p| p.phase == phase)
    }
}

/// The trace of one loop.
#[derive(Debug, Clone, Default)]
pub(crate) struct LoopTrace {
    pub(crate) iterations: Vec<Iteration>,
}

impl LoopTrace {
    /// Rebuilds iterations and phases from the records of one loop.
    pub(crate) fn build(records: &[TraceRecord]) -> LoopTrace {
        let mut its: Vec<Iteration> = Vec::new();
        let mut timeout = None;
        for rec in records {
            let at = rec.at;
            match &rec.event {
                TraceEvent::IterationStart { iteration } => {
                    its.push(Iteration::new(Some(*iteration), at));
                }
                TraceEvent::PhaseStart(phase) => {
                    // `run()` runs due timers before its first iteration;
                    // every iteration also ends with timers. A timers phase
                    // after the one that ended an iteration is a new `run()`.
                    let fresh = match its.last() {
                        None => true,
                        Some(it) => *phase == Phase::Timers && (it.has_phase(Phase::Timers)),
                    };
                    if fresh {
                        its.push(Iteration::new(None, at));
                    }
                    let it = its.last_mut().expect("pushed above");
                    it.phases.push(PhaseRun {
                        phase: *phase,
                        start: at,
                        elapsed: Duration::ZERO,
                        calls: Vec::new(),
                        poll: None,
                        ended: false,
                    });
                }
                TraceEvent::PhaseEnd { phase, elapsed } => {
                    if let Some(p) = its
                        .last_mut()
                        .and_then(|it| it.phases.iter_mut().rev().find(|p| p.phase == *phase))
                    {
                        p.elapsed = *elapsed;
                        p.ended = true;
                    }
                }
                TraceEvent::PollStart { timeout: t } => timeout = Some(*t),
                TraceEvent::PollEnd { blocked, events } => {
                    if let Some(p) = open_phase(&mut its) {
                        p.poll = Some(Poll {
                            timeout: timeout.take().flatten(),
                            blocked: *blocked,
                            events: *events,
                            end: at,
                        });
                    }
                }
                TraceEvent::Demux { .. } => {}
                TraceEvent::Callback {
                    kind,
                    label,
                    elapsed,
                    ..
                } => {
                    let call = Call {
                        kind: *kind,
                        label,
                        start: at.saturating_sub(*elapsed),
                        elapsed: *elapsed,
                    };
                    match open_phase(&mut its) {
                        Some(p) => p.calls.push(call),
                        None => {
                            if its.is_empty() {
                                its.push(Iteration::new(None, call.start));
                            }
                            its.last_mut().expect("pushed above").loose.push(call);
                        }
                    }
                }
            }
            if let Some(it) = its.last_mut() {
                it.end = it.end.max(at);
            }
        }
        // What `run()` does before its first iteration matters only when a
        // callback ran then (due timers, ticks queued by the program).
        its.retain(|it| it.number.is_some() || it.is_busy());
        LoopTrace { iterations: its }
    }

    #[cfg(test)]
    pub(crate) fn busy_iterations(&self) -> usize {
        self.iterations.iter().filter(|it| it.is_busy()).count()
    }
}

/// The phase being run, if a phase has started and not ended.
fn open_phase(its: &mut [Iteration]) -> Option<&mut PhaseRun> {
    its.last_mut()?.phases.last_mut().filter(|p| !p.ended)
}

/// A duration as `12.345 ms`.
pub(crate) fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

/// How many iterations of each loop are shown: the first ones, until
/// `limit` busy iterations have been shown over all loops (idle ones in
/// between are shown collapsed, and do not count).
pub(crate) fn shown(loops: &[LoopTrace], limit: usize) -> Vec<usize> {
    let mut left = limit;
    loops
        .iter()
        .map(|lt| {
            let mut n = 0;
            for it in &lt.iterations {
                if it.is_busy() {
                    if left == 0 {
                        break;
                    }
                    left -= 1;
                }
                n += 1;
            }
            // Trailing idle iterations after the last busy one shown belong
            // to the part shown only if the loop has nothing busy after them.
            if n < lt.iterations.len() {
                while n > 0 && !lt.iterations[n - 1].is_busy() {
                    n -= 1;
                }
            }
            n
        })
        .collect()
}

/// Prints the timeline of every loop: each iteration's phases and
/// callbacks, runs of idle iterations collapsed, and a per-phase summary.
pub(crate) fn render(loops: &[LoopTrace], limit: usize) -> String {
    let counts = shown(loops, limit);
    let mut o = String::new();
    for (i, (lt, &n)) in loops.iter().zip(&counts).enumerate() {
        loop_header(&mut o, i, loops.len(), lt);
        let mut idle: Vec<&Iteration> = Vec::new();
        for it in &lt.iterations[..n] {
            if it.is_busy() {
                flush_idle(&mut o, &mut idle);
                iteration(&mut o, it);
            } else {
                idle.push(it);
            }
        }
        flush_idle(&mut o, &mut idle);
        let rest = &lt.iterations[n..];
        if !rest.is_empty() {
            let busy = rest.iter().filter(|it| it.is_busy()).count();
            let _ = writeln!(
                o,
                "  … {} more iteration(s) not shown ({busy} ran callbacks): raise --iterations (now {limit}) to see them",
                rest.len()
            );
        }
        summary(&mut o, lt);
    }
    o
}

fn loop_header(o: &mut String, i: usize, of: usize, lt: &LoopTrace) {
    let calls: Vec<&Call> = lt.iterations.iter().flat_map(Iteration::calls).collect();
    let busy: Duration = calls
        .iter()
        .filter(|c| !c.is_tick())
        .map(|c| c.elapsed)
        .sum();
    let blocked: Duration = lt.iterations.iter().map(Iteration::blocked).sum();
    let numbered = lt
        .iterations
        .iter()
        .filter(|it| it.number.is_some())
        .count();
    let which = if of > 1 {
        format!("loop {} of {of}", i + 1)
    } else {
        "loop".to_string()
    };
    let _ = writeln!(
        o,
        "\n── {which}: {numbered} iteration(s), {} callbacks ({} in callbacks), {} blocked in poll ──",
        calls.len(),
        ms(busy),
        ms(blocked)
    );
    let _ = writeln!(
        o,
        "    {:<10} {:>11} │ {:<34} {:>11}",
        "phase", "in phase", "callback (its ticks indented)", "ran for"
    );
}

fn flush_idle(o: &mut String, idle: &mut Vec<&Iteration>) {
    match idle.len() {
        0 => {}
        n => {
            let blocked: Duration = idle.iter().map(|it| it.blocked()).sum();
            let first = idle[0].number.unwrap_or(0);
            let last = idle[n - 1].number.unwrap_or(0);
            let range = if n == 1 {
                format!("iteration {first}")
            } else {
                format!("iterations {first}–{last}")
            };
            let _ = writeln!(
                o,
                "  … {n} idle iteration(s) ({range}): no callback ran; {} blocked in poll …",
                ms(blocked)
            );
        }
    }
    idle.clear();
}

fn iteration(o: &mut String, it: &Iteration) {
    let title = match it.number {
        Some(n) => format!("iteration {n}"),
        None => "before iteration 1: run() drains ticks, runs due timers".to_string(),
    };
    let _ = writeln!(
        o,
        "  {title} ─ at +{}, took {}",
        ms(it.start),
        ms(it.end.saturating_sub(it.start))
    );
    if !it.loose.is_empty() {
        rows(o, "(no phase)", None, &[], &it.loose);
    }
    let mut empty: Vec<&'static str> = Vec::new();
    let mut empty_time = Duration::ZERO;
    for p in &it.phases {
        if p.calls.is_empty() && p.poll.is_none() {
            if !empty.contains(&p.phase.name()) {
                empty.push(p.phase.name());
            }
            empty_time += p.elapsed;
            continue;
        }
        let mut head = Vec::new();
        if let Some(q) = p.poll {
            let limit = match q.timeout {
                None => "none: only I/O can wake it".to_string(),
                Some(t) if t.is_zero() => "0: callbacks are waiting".to_string(),
                Some(t) => format!("{}: the next timer", ms(t)),
            };
            head.push(format!(
                "blocked {}, {} event(s); timeout {limit}",
                ms(q.blocked),
                q.events
            ));
        }
        rows(o, p.phase.name(), Some(p.elapsed), &head, &p.calls);
    }
    if !empty.is_empty() {
        let line = format!("nothing to run in {}", empty.join(", "));
        rows(o, "·", Some(empty_time), &[line], &[]);
    }
}

/// One phase's rows: its name and time, then `head` lines, then its
/// callbacks (ticks and microtasks indented under the callback they
/// followed; past [`CALLS_PER_PHASE`], one line for the rest).
fn rows(o: &mut String, name: &str, time: Option<Duration>, head: &[String], calls: &[Call]) {
    let mut lines: Vec<String> = head.to_vec();
    for c in calls.iter().take(CALLS_PER_PHASE) {
        let indent = if c.is_tick() { "  " } else { "" };
        let what = format!("{indent}{}", c.describe());
        lines.push(format!("{what:<34} {:>11}", ms(c.elapsed)));
    }
    if calls.len() > CALLS_PER_PHASE {
        let rest = &calls[CALLS_PER_PHASE..];
        let total: Duration = rest.iter().map(|c| c.elapsed).sum();
        let mut kinds: Vec<(&'static str, usize)> = Vec::new();
        for c in rest {
            match kinds.iter_mut().find(|(k, _)| *k == c.kind.name()) {
                Some((_, n)) => *n += 1,
                None => kinds.push((c.kind.name(), 1)),
            }
        }
        let kinds: Vec<String> = kinds.iter().map(|(k, n)| format!("{k} ×{n}")).collect();
        let what = format!("… {} more: {}", rest.len(), kinds.join(", "));
        lines.push(format!("{what:<34} {:>11}", ms(total)));
    }
    let time = time.map_or(String::new(), ms);
    for (i, line) in lines.iter().enumerate() {
        let (n, t) = if i == 0 {
            (name, time.as_str())
        } else {
            ("", "")
        };
        let _ = writeln!(o, "    {n:<10} {t:>11} │ {line}");
    }
}

/// Callbacks and time per phase over the whole trace.
fn summary(o: &mut String, lt: &LoopTrace) {
    let _ = writeln!(
        o,
        "  {:<18} {:>9} {:>14} {:>14}",
        "per phase, in all", "callbacks", "in callbacks", "in the phase"
    );
    for phase in Phase::ALL {
        let runs = lt
            .iterations
            .iter()
            .flat_map(|it| it.phases.iter())
            .filter(|p| p.phase == phase);
        let (mut n, mut cb, mut total, mut blocked) = (0, Duration::ZERO, Duration::ZERO, None);
        for p in runs {
            total += p.elapsed;
            for c in p.calls.iter().filter(|c| !c.is_tick()) {
                n += 1;
                cb += c.elapsed;
            }
            if let Some(q) = p.poll {
                *blocked.get_or_insert(Duration::ZERO) += q.blocked;
            }
        }
        let extra = blocked.map_or(String::new(), |b| format!("  ({} blocked)", ms(b)));
        let _ = writeln!(
            o,
            "  {:<18} {n:>9} {:>14} {:>14}{extra}",
            phase.name(),
            ms(cb),
            ms(total)
        );
    }
    let ticks: Vec<&Call> = lt
        .iterations
        .iter()
        .flat_map(Iteration::calls)
        .filter(|c| c.is_tick())
        .collect();
    let _ = writeln!(
        o,
        "  {:<18} {:>9} {:>14} {:>14}",
        "nextTick/microtask",
        ticks.len(),
        ms(ticks.iter().map(|c| c.elapsed).sum()),
        "(in the above)"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(at_us: u64, event: TraceEvent) -> TraceRecord {
        TraceRecord {
            at: Duration::from_micros(at_us),
            loop_time: Duration::ZERO,
            event,
        }
    }

    fn call(kind: CallbackKind, phase: Phase, us: u64) -> TraceEvent {
        TraceEvent::Callback {
            phase,
            kind,
            label: kind.name(),
            elapsed: Duration::from_micros(us),
        }
    }

    fn phase(at: u64, p: Phase, took: u64, inner: Vec<TraceRecord>) -> Vec<TraceRecord> {
        let mut v = vec![rec(at, TraceEvent::PhaseStart(p))];
        v.extend(inner);
        v.push(rec(
            at + took,
            TraceEvent::PhaseEnd {
                phase: p,
                elapsed: Duration::from_micros(took),
            },
        ));
        v
    }

    /// `run()`'s first timers, one busy iteration, then two idle ones.
    fn records() -> Vec<TraceRecord> {
        let mut r = phase(
            10,
            Phase::Timers,
            20,
            vec![
                rec(15, call(CallbackKind::Timeout, Phase::Timers, 5)),
                rec(18, call(CallbackKind::Tick, Phase::Timers, 2)),
            ],
        );
        for n in 1..=3u64 {
            let base = n * 1000;
            r.push(rec(base, TraceEvent::IterationStart { iteration: n }));
            let mut poll = vec![
                rec(base + 1, TraceEvent::PollStart { timeout: None }),
                rec(
                    base + 500,
                    TraceEvent::PollEnd {
                        blocked: Duration::from_micros(499),
                        events: 1,
                    },
                ),
            ];
            if n == 1 {
                poll.push(rec(
                    base + 510,
                    call(CallbackKind::Io { fd: 7 }, Phase::Poll, 10),
                ));
            }
            r.extend(phase(base, Phase::Poll, 520, poll));
            r.extend(phase(base + 600, Phase::Timers, 1, vec![]));
        }
        r
    }

    #[test]
    fn records_nest_into_iterations() {
        let lt = LoopTrace::build(&records());
        assert_eq!(lt.iterations.len(), 4);
        let first = &lt.iterations[0];
        assert_eq!(first.number, None);
        assert_eq!(first.phases[0].calls.len(), 2);
        assert_eq!(first.phases[0].calls[0].start, Duration::from_micros(10));
        let one = &lt.iterations[1];
        assert_eq!(one.number, Some(1));
        assert_eq!(one.phases.len(), 2);
        assert_eq!(one.phases[0].calls[0].kind, CallbackKind::Io { fd: 7 });
        assert_eq!(one.blocked(), Duration::from_micros(499));
        assert!(!lt.iterations[2].is_busy());
        assert_eq!(lt.busy_iterations(), 2);
    }

    #[test]
    fn the_text_collapses_idle_iterations_and_obeys_the_limit() {
        let lt = LoopTrace::build(&records());
        let text = render(std::slice::from_ref(&lt), 50);
        assert!(text.contains("io fd 7"), "{text}");
        assert!(
            text.contains("2 idle iteration(s) (iterations 2–3)"),
            "{text}"
        );
        assert!(text.contains("  nextTick"), "{text}");
        let text = render(std::slice::from_ref(&lt), 1);
        assert!(
            text.contains("3 more iteration(s) not shown (1 ran callbacks)"),
            "{text}"
        );
        assert!(!text.contains("io fd 7"), "{text}");
    }
}
