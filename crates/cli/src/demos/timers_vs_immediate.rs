//! `timers-vs-immediate`: `set_immediate` against `set_timeout(0)`.
//!
//! Inside an I/O callback the order is fixed: the check phase (immediates)
//! comes right after poll, the timers phase only at the end of the
//! iteration. Ten rounds on a Unix datagram pair show it.
//!
//! From the main program, before `run`, the order depends on time: a zero
//! delay is 1 ms (Node's rule), and `run` starts with a timers phase. If 1 ms
//! has passed since `set_timeout` when that phase comes, the timeout runs
//! first; otherwise the immediate does (check comes before the next timers
//! phase). The demo controls the start delay by spinning before `run`, and
//! prints the delay each trial measured.

use std::cell::RefCell;
use std::io::ErrorKind;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixDatagram;
use std::rc::Rc;
use std::time::{Duration, Instant};

use eventide_loop_phases::{Interest, Loop, RunMode};

use super::{Demo, DemoEnv, ctx, ms};

pub(crate) const DEMO: Demo = Demo {
    name: "timers-vs-immediate",
    summary: "set_immediate vs set_timeout(0): fixed inside I/O, a race from the main program",
    watch_for: "\
Part 1 queues both inside an I/O callback, 10 times. Part 2 queues both from the main
program, then starts run() after a controlled delay, and prints which ran first.
Rule: after I/O, check (immediates) comes before the next timers phase; from the main
program the timeout wins only if its 1 ms minimum delay passed before run() began.",
    run,
};

const ROUNDS: usize = 10;
/// Busy-waits before `run()`, one per trial.
const DELAYS_US: [u64; 4] = [0, 300, 2_000, 5_000];

fn run(env: &mut DemoEnv) -> Result<(), String> {
    println!("  Part 1: both queued inside an I/O callback (poll phase), {ROUNDS} rounds");
    let firsts = in_io_callback(env)?;
    let immediate = firsts.iter().filter(|f| **f == "immediate").count();
    let marks: String = firsts
        .iter()
        .map(|f| if *f == "immediate" { "I" } else { "T" })
        .collect::<Vec<_>>()
        .join(" ");
    println!("    first to run, by round   {marks}   (I immediate, T timeout)");
    println!(
        "    immediate first {immediate} of {ROUNDS}: check runs right after poll; timers only at the iteration's end"
    );
    if immediate != ROUNDS {
        return Err(format!(
            "inside an I/O callback a timeout ran before an immediate ({} of {ROUNDS} rounds): a loop bug",
            ROUNDS - immediate
        ));
    }

    println!();
    println!("  Part 2: both queued from the main program, then run() after a busy-wait");
    println!(
        "    {:>5}  {:>12}  {:>17}  {:<10} why",
        "trial", "busy-wait", "run() began after", "first"
    );
    let mut seen = Vec::new();
    for (i, &us) in DELAYS_US.iter().enumerate() {
        // A trial meant to start at once is tried again if the machine
        // stalled past the 1 ms mark (it would then show the other outcome).
        let mut attempt = top_level(env, Duration::from_micros(us))?;
        for _ in 0..3 {
            if us > 0 || attempt.0 < Duration::from_micros(900) {
                break;
            }
            attempt = top_level(env, Duration::from_micros(us))?;
        }
        let (began, first) = attempt;
        let why = if began >= Duration::from_millis(1) {
            "≥ 1 ms: the timer was due at run()'s first timers phase"
        } else {
            "< 1 ms: not due yet; check came before the next timers phase"
        };
        let wait = if us == 0 {
            "none".to_string()
        } else {
            ms(Duration::from_micros(us))
        };
        println!(
            "    {:>5}  {wait:>12}  {:>17}  {first:<10} {why}",
            i + 1,
            ms(began)
        );
        seen.push(first);
    }
    if !seen.contains(&"immediate") || !seen.contains(&"timeout") {
        println!(
            "    (only one outcome this time: the machine was too busy to start run() within 1 ms)"
        );
    }
    println!(
        "  Rule: after I/O an immediate always runs before a zero timeout; from the main program the"
    );
    println!(
        "  timeout runs first only if its 1 ms minimum delay passed before run() reached timers."
    );
    Ok(())
}

/// Part 1: `ROUNDS` datagrams; each callback queues a zero timeout and an
/// immediate, and the later of the two sends the next datagram.
fn in_io_callback(env: &mut DemoEnv) -> Result<Vec<&'static str>, String> {
    let mut lp = env.new_loop();
    let (tx, rx) = UnixDatagram::pair().map_err(ctx("creating a Unix datagram pair"))?;
    rx.set_nonblocking(true)
        .map_err(ctx("making the datagram socket non-blocking"))?;
    let tx = Rc::new(tx);
    let firsts: Rc<RefCell<Vec<&'static str>>> = Rc::new(RefCell::new(Vec::new()));
    let fd = rx.as_raw_fd();
    let (log, sender) = (Rc::clone(&firsts), Rc::clone(&tx));
    let watch = lp
        .poll_fd(fd, Interest::READABLE, move |lp, watch, _| {
            let mut buf = [0u8; 16];
            loop {
                match rx.recv(&mut buf) {
                    Ok(_) => {}
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            // The round's order: the first of the two callbacks writes it.
            let order: Rc<RefCell<Vec<&'static str>>> = Rc::new(RefCell::new(Vec::new()));
            let (a, b) = (Rc::clone(&order), Rc::clone(&order));
            let (log_a, sender_a) = (Rc::clone(&log), Rc::clone(&sender));
            let (log_b, sender_b) = (Rc::clone(&log), Rc::clone(&sender));
            lp.set_timeout(Duration::ZERO, move |lp| {
                a.borrow_mut().push("timeout");
                finish_round(lp, &a, &log_a, &sender_a, watch);
            });
            lp.set_immediate(move |lp| {
                b.borrow_mut().push("immediate");
                finish_round(lp, &b, &log_b, &sender_b, watch);
            });
        })
        .map_err(ctx("watching the datagram socket"))?;
    tx.send(b"round").map_err(ctx("sending a datagram"))?;
    let guard = lp.set_timeout(Duration::from_secs(3), move |lp| {
        lp.close(watch, None);
    });
    lp.unref_handle(guard);
    lp.run(RunMode::Default);
    let firsts = firsts.borrow().clone();
    if firsts.len() != ROUNDS {
        return Err(format!(
            "only {} of {ROUNDS} rounds ran within 3 s",
            firsts.len()
        ));
    }
    Ok(firsts)
}

/// Called by both callbacks of a round; the second one records the round
/// and starts the next (or closes the watch after the last).
fn finish_round(
    lp: &mut Loop,
    order: &Rc<RefCell<Vec<&'static str>>>,
    log: &Rc<RefCell<Vec<&'static str>>>,
    sender: &Rc<UnixDatagram>,
    watch: eventide_loop_phases::IoWatch,
) {
    let order = order.borrow();
    if order.len() < 2 {
        return;
    }
    log.borrow_mut().push(order[0]);
    if log.borrow().len() < ROUNDS {
        let _ = sender.send(b"round");
    } else {
        lp.close(watch, None);
    }
}

/// Part 2, one trial: both queued before `run`, which starts after `delay`
/// of busy-waiting. Returns how long after `set_timeout` `run` began, and
/// which callback ran first.
fn top_level(env: &mut DemoEnv, delay: Duration) -> Result<(Duration, &'static str), String> {
    let mut lp = env.new_loop();
    // Each callback's name, and the loop time it saw (for the timeout: the
    // time of the timers phase it ran in).
    let order: Rc<RefCell<Vec<(&'static str, Duration)>>> = Rc::new(RefCell::new(Vec::new()));
    let (a, b) = (Rc::clone(&order), Rc::clone(&order));
    let armed = Instant::now();
    lp.set_timeout(Duration::ZERO, move |lp| {
        a.borrow_mut().push(("timeout", lp.now()))
    });
    // The loop read its clock inside `set_timeout`, just before this.
    let armed_loop = lp.hrtime();
    lp.set_immediate(move |lp| b.borrow_mut().push(("immediate", lp.now())));
    while armed.elapsed() < delay {
        std::hint::spin_loop();
    }
    let began = armed.elapsed();
    lp.run(RunMode::Default);
    let Some((first, seen_at)) = order.borrow().first().copied() else {
        return Err("neither callback ran".to_string());
    };
    // What would contradict the rule. (A thread preempted between `began`
    // and `run()` may start later than measured, so `began` alone cannot
    // rule out a timeout first.)
    let timers_after = seen_at.saturating_sub(armed_loop);
    if first == "timeout" && timers_after < Duration::from_micros(950) {
        return Err(format!(
            "the timeout ran first, in a timers phase only {} after set_timeout: it was not due",
            ms(timers_after)
        ));
    }
    if first == "immediate" && began >= Duration::from_micros(1_050) {
        return Err(format!(
            "the immediate ran first although run() began {} after set_timeout: the timeout was due",
            ms(began)
        ));
    }
    Ok((began, first))
}
