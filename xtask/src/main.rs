//! `cargo xtask`: Eventide's task runner.
//!
//! ```text
//! cargo xtask demo [NAME | --list]   run the demo tour, one demo, or list them
//! cargo xtask ci                     fmt check, clippy -D warnings, every test, docs
//! cargo xtask bench [NAME] [--json FILE]   benchmarks with peers side by side
//! cargo xtask fuzz TARGET --seconds N      one fuzz target (cargo fuzz)
//! cargo xtask soak --seconds N [--release] `eventide serve` under a hostile mixed load
//! ```

use std::process::ExitCode;

mod bench;
mod ci;
mod cmd;
mod demo;
mod fuzz;
mod soak;

const USAGE: &str = "\
usage: cargo xtask <task> [args]

tasks:
  demo [NAME | --list]        run every demo in turn, one demo by name, or list them
  ci                          what CI runs: fmt check, clippy -D warnings, all tests, docs
  bench [NAME] [--json FILE]  run benchmarks (loop, streams, http) and print a table
  fuzz TARGET [--seconds N]   run a libFuzzer target of fuzz/ (installs cargo-fuzz); --list
  soak [--seconds N] [--release] [--clients K]
                              `eventide serve` under a mixed, hostile load for N s (60);
                              fails on any lost or wrong answer, a leak, or an unclean exit
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (task, rest) = match args.split_first() {
        Some((t, rest)) => (t.as_str(), rest),
        None => {
            eprint!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let result = match task {
        "demo" => demo::run(rest),
        "ci" => ci::run(rest),
        "bench" => bench::run(rest),
        "fuzz" => fuzz::run(rest),
        "soak" => soak::run(rest),
        "-h" | "--help" | "help" => {
            print!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown task `{other}`\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}
