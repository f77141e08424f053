//! `eventide trace DEMO`: runs a demo with a trace hook on every loop it
//! creates, then prints the loops' timelines (and draws them with `--svg`).
//!
//! The hook is installed through [`DemoEnv::on_new_loop`]; it records every
//! [`TraceRecord`] and chains to a hook already installed, if any. Records
//! are kept in memory up to [`MAX_RECORDS`].

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;

use eventide_loop_phases::{Loop, TraceRecord};

use crate::demos::{self, DemoEnv};

mod svg;
mod timeline;

use timeline::LoopTrace;

/// Records kept over all loops; later ones are counted and dropped, so a
/// demo that runs millions of callbacks cannot exhaust memory (a record is
/// about 80 bytes: 40 MB at most).
const MAX_RECORDS: usize = 500_000;

/// Arguments of `eventide trace`.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
The demo runs as `eventide demo NAME` runs it, and its own output is kept; the timeline
follows it. Every loop the demo creates records each phase entered, each poll (how long
it blocked, and why), and each callback with its duration. The timeline shows, iteration
by iteration, the phases with the callbacks they ran, and the nextTicks and microtasks
drained after each; iterations that ran nothing are collapsed into one line.

Examples:
  eventide trace phases
  eventide trace phases --svg phases.svg     then open phases.svg in a browser
  eventide trace starvation --iterations 200 --svg starvation.svg
  eventide demo --list                       the demos there are to trace")]
pub(crate) struct Args {
    /// The demo to run (see `eventide demo --list`).
    demo: String,
    /// Also draw the timeline into FILE as an SVG picture (lanes per phase,
    /// time on the x axis; open it in a browser).
    #[arg(long, value_name = "FILE")]
    svg: Option<PathBuf>,
    /// Show at most N iterations that ran callbacks (idle ones are collapsed
    /// and not counted); the number left out is printed.
    #[arg(long, value_name = "N", default_value_t = 50)]
    iterations: usize,
}

/// What the hooks recorded: one list of records per loop, in creation order.
#[derive(Default)]
struct Recorded {
    loops: Vec<Vec<TraceRecord>>,
    kept: usize,
    dropped: usize,
}

/// Runs `eventide trace`.
pub(crate) fn run(args: Args) -> Result<(), String> {
    let demo = demos::find(&args.demo)?;
    let recorded = Rc::new(RefCell::new(Recorded::default()));
    let sink = Rc::clone(&recorded);
    let mut env = DemoEnv {
        on_new_loop: Some(Box::new(move |lp: &mut Loop| install(lp, &sink))),
    };

    println!("\n━━━ trace: {} ━━━ {}", demo.name, demo.summary);
    for line in demo.watch_for.lines() {
        println!("  │ {line}");
    }
    println!();
    let outcome = (demo.run)(&mut env);
    drop(env);

    let recorded = std::mem::take(&mut *recorded.borrow_mut());
    let loops: Vec<LoopTrace> = recorded.loops.iter().map(|r| LoopTrace::build(r)).collect();
    println!(
        "\n━━━ timeline of `{}`: {} loop(s), {} trace records ━━━",
        demo.name,
        loops.len(),
        recorded.kept
    );
    println!(
        "  Times are since the loop was created. A phase's time includes its callbacks; a callback's"
    );
    println!(
        "  does not include the nextTicks and microtasks drained after it (indented below it)."
    );
    print!("{}", timeline::render(&loops, args.iterations));
    if recorded.dropped > 0 {
        println!(
            "  ({} records past the first {MAX_RECORDS} were dropped)",
            recorded.dropped
        );
    }
    if let Some(path) = &args.svg {
        let picture = svg::render(demo.name, demo.summary, &loops, args.iterations);
        std::fs::write(path, picture)
            .map_err(|e| format!("cannot write the SVG to {}: {e}", path.display()))?;
        println!("\n  timeline drawn in {}", path.display());
    }
    outcome.map_err(|e| format!("demo `{}` failed: {e}", demo.name))
}

/// Installs the recording hook on a new loop, chained to the loop's hook.
fn install(lp: &mut Loop, sink: &Rc<RefCell<Recorded>>) {
    let index = {
        let mut r = sink.borrow_mut();
        r.loops.push(Vec::new());
        r.loops.len() - 1
    };
    let sink = Rc::clone(sink);
    let mut previous = lp.set_trace_hook(None);
    lp.set_trace_hook(Some(Box::new(move |rec: &TraceRecord| {
        {
            let mut r = sink.borrow_mut();
            if r.kept < MAX_RECORDS {
                r.kept += 1;
                r.loops[index].push(rec.clone());
            } else {
                r.dropped += 1;
            }
        }
        if let Some(hook) = previous.as_mut() {
            hook(rec);
        }
    })));
}
