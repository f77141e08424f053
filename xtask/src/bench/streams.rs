//! The `streams` suite: Eventide's streams beside Node's, and its echo server
//! beside Node's and a raw mio one, all driven by the same load generator.
//!
//! - `pipe` and `slow-consumer`: `bench_streams WORKLOAD` and
//!   `node xtask/bench/node/streams.js WORKLOAD`, each workload in a process
//!   of its own (the peak RSS is a process peak), [`RUNS`] times; the median.
//! - `echo-1`, `echo-50`: for each server (`bench_streams echo-server`,
//!   `node streams.js echo-server`, `raw_echo`) and each connection count, the
//!   server is started as a child process pinned to CPU 0, `echo_load` is run
//!   against it pinned to CPU 1 ([`RUNS`] times, interleaved with the other
//!   servers' runs; the median), and the server is killed by its pid. Without
//!   `taskset` (or a second CPU) nothing is pinned, and a note says so.

use std::io::{BufRead, BufReader, ErrorKind};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};

use super::{Collected, Output, collect as run_program, peer};
use crate::cmd::{cargo, root, run as run_cmd};

/// Runs of each program; the table shows the median.
const RUNS: usize = 3;
const ECHO_CONNECTIONS: [usize; 2] = [1, 50];
/// Measured seconds per echo run, after the warm-up.
const ECHO_SECONDS: &str = "2.5";
const ECHO_WARMUP: &str = "0.5";
const SERVER_CPU: usize = 0;
const LOAD_CPU: usize = 1;

pub(super) fn collect() -> Result<Collected, String> {
    build()?;
    let bin = target_dir().join("release");
    let bench_streams = bin.join("examples/bench_streams");
    let echo_load = bin.join("examples/echo_load");
    let raw_echo = bin.join("raw_echo");
    let pin = Pin::detect();

    let mut ours = Output::default();
    let mut node = Some(Output::default());
    for workload in ["pipe", "slow-consumer"] {
        let runs = (0..RUNS)
            .map(|_| {
                let cmd = pin.command(SERVER_CPU, bench_streams.as_os_str(), &[workload]);
                run_program(cmd)?.ok_or_else(|| format!("{} is missing", bench_streams.display()))
            })
            .collect::<Result<Vec<_>, String>>()?;
        ours.extend(Output::median(runs));
        if let Some(n) = node.as_mut() {
            let runs: Option<Vec<Output>> = (0..RUNS)
                .map(|_| {
                    let cmd = pin.command(
                        SERVER_CPU,
                        "node".as_ref(),
                        &["xtask/bench/node/streams.js", workload],
                    );
                    peer("Node", cmd)
                })
                .collect();
            match runs {
                Some(runs) => n.extend(Output::median(runs)),
                None => node = None,
            }
        }
    }

    let servers = [
        pin.command(SERVER_CPU, bench_streams.as_os_str(), &["echo-server"]),
        pin.command(
            SERVER_CPU,
            "node".as_ref(),
            &["xtask/bench/node/streams.js", "echo-server"],
        ),
        pin.command(SERVER_CPU, raw_echo.as_os_str(), &[]),
    ];
    let [ours_echo, node_echo, raw] = echo(&servers, &pin, &echo_load);
    ours.extend(ours_echo.ok_or("Eventide's echo server could not be measured")?);
    let node = match (node, node_echo) {
        (Some(mut n), Some(e)) => {
            n.extend(e);
            Some(n)
        }
        (n, e) => n.or(e),
    };

    let pinned = if pin.0 {
        format!("server pinned to CPU {SERVER_CPU}, echo_load to CPU {LOAD_CPU} (taskset)")
    } else {
        "nothing pinned (no taskset, or one CPU)".to_string()
    };
    for n in ECHO_CONNECTIONS {
        ours.notes.push((
            format!("echo-{n}"),
            format!(
                "{n} connection(s), 64 KiB chunks, window 128 KiB each, echo checked; \
                 {pinned}; median of {RUNS} runs of {ECHO_SECONDS} s after {ECHO_WARMUP} s"
            ),
        ));
    }
    ours.notes.push((
        "all".into(),
        format!("median of {RUNS} runs of every program; each workload in a process of its own"),
    ));
    Ok(Collected {
        ours,
        peers: vec![node, raw],
    })
}

/// Builds Eventide's bench programs, the load generator and the raw baseline.
fn build() -> Result<(), String> {
    let mut examples = cargo();
    examples.args([
        "build",
        "--release",
        "--quiet",
        "-p",
        "eventide-streams",
        "--example",
        "bench_streams",
        "--example",
        "echo_load",
    ]);
    run_cmd(examples)?;
    let mut raw = cargo();
    raw.args([
        "build",
        "--release",
        "--quiet",
        "-p",
        "xtask",
        "--bin",
        "raw_echo",
    ]);
    run_cmd(raw)
}

/// Cargo's target directory (`CARGO_TARGET_DIR`, relative to the root, or
/// `target`).
fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root().join(dir),
        None => root().join("target"),
    }
}

/// Whether commands are pinned to CPUs with `taskset`.
struct Pin(bool);

impl Pin {
    fn detect() -> Pin {
        let two_cpus = std::thread::available_parallelism().is_ok_and(|n| n.get() > LOAD_CPU);
        let taskset = Command::new("taskset")
            .args(["-c", "0", "true"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !(two_cpus && taskset) {
            eprintln!(
                "bench: no taskset or a single CPU: servers and load generator are not pinned"
            );
        }
        Pin(two_cpus && taskset)
    }

    /// `program args`, pinned to `cpu` if pinning works, from the root.
    fn command(&self, cpu: usize, program: &std::ffi::OsStr, args: &[&str]) -> Command {
        let mut cmd = if self.0 {
            let mut c = Command::new("taskset");
            c.arg("-c").arg(cpu.to_string()).arg(program);
            c
        } else {
            Command::new(program)
        };
        cmd.args(args).current_dir(root());
        cmd
    }
}

/// A server child process; killed (by its pid) and reaped when dropped.
struct Server {
    child: Child,
    /// Kept open, so that the server never writes into a closed pipe.
    _stdout: BufReader<ChildStdout>,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a server that prints `listening on ADDR` first. `Ok(None)` if the
/// program does not exist.
fn start(mut cmd: Command) -> Result<Option<Server>, String> {
    let shown = format!("{cmd:?}").replace('"', "");
    eprintln!("\n$ {shown} &");
    let mut child = match cmd.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn() {
        Ok(c) => c,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("could not start `{shown}`: {e}")),
    };
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
    let mut line = String::new();
    let read = stdout.read_line(&mut line);
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .map(|a| a.trim_start_matches("http://").to_string());
    let server = Server {
        child,
        _stdout: stdout,
        addr: addr.unwrap_or_default(),
    };
    match read {
        Ok(_) if !server.addr.is_empty() => Ok(Some(server)),
        // Dropping `server` kills it.
        _ => Err(format!(
            "`{shown}` did not print `listening on ADDR` (it printed {:?})",
            line.trim()
        )),
    }
}

/// The servers of [`collect`]'s echo workload, in order.
const SERVERS: [&str; 3] = ["Eventide", "Node", "raw mio"];

/// The echo figures of each server, at each connection count: `None` (with a
/// message) for a server that could not run.
///
/// For each connection count, fresh servers are started together (idle, they
/// cost nothing) and the runs are interleaved (Eventide, Node, raw, Eventide,
/// ...), so that other load on the machine falls on all of them alike.
fn echo(servers: &[Command; 3], pin: &Pin, echo_load: &Path) -> [Option<Output>; 3] {
    let mut out: [Option<Output>; 3] = [
        Some(Output::default()),
        Some(Output::default()),
        Some(Output::default()),
    ];
    for n in ECHO_CONNECTIONS {
        let mut running: Vec<Option<Server>> = Vec::new();
        for (i, cmd) in servers.iter().enumerate() {
            let name = SERVERS[i];
            if out[i].is_none() {
                running.push(None);
                continue;
            }
            running.push(match start(clone(cmd)) {
                Ok(Some(s)) => Some(s),
                Ok(None) => {
                    eprintln!(
                        "bench: {} not found, {name}'s echo skipped",
                        cmd.get_program().to_string_lossy()
                    );
                    None
                }
                Err(e) => {
                    eprintln!("bench: {name}'s echo server: {e}");
                    None
                }
            });
        }
        let mut runs: [Vec<Output>; 3] = Default::default();
        for _ in 0..RUNS {
            for (i, server) in running.iter().enumerate() {
                let Some(s) = server else { continue };
                match load(pin, echo_load, &s.addr, n) {
                    Ok(o) => runs[i].push(o),
                    Err(e) => eprintln!("bench: echo_load against {}: {e}", SERVERS[i]),
                }
            }
        }
        // Dropping a server kills it by its pid.
        drop(running);
        for (i, runs) in runs.into_iter().enumerate() {
            if runs.len() < RUNS {
                out[i] = None;
            }
            let Some(o) = out[i].as_mut() else { continue };
            let values: Vec<String> = runs
                .iter()
                .flat_map(|r| &r.figures)
                .map(|f| format!("{:.2}", f.value / 1e9))
                .collect();
            let mut median = Output::median(runs);
            median.notes.push((
                format!("echo-{n}"),
                format!("runs {} GB/s", values.join(", ")),
            ));
            o.extend(median);
        }
    }
    out
}

/// One run of the load generator against `addr`.
fn load(pin: &Pin, echo_load: &Path, addr: &str, connections: usize) -> Result<Output, String> {
    let n = connections.to_string();
    let cmd = pin.command(
        LOAD_CPU,
        echo_load.as_os_str(),
        &[
            addr,
            "--connections",
            n.as_str(),
            "--seconds",
            ECHO_SECONDS,
            "--warmup",
            ECHO_WARMUP,
            "--chunk",
            "64KiB",
        ],
    );
    run_program(cmd)?.ok_or_else(|| format!("{} is missing", echo_load.display()))
}

/// A copy of a command: its program, arguments and directory.
fn clone(cmd: &Command) -> Command {
    let mut c = Command::new(cmd.get_program());
    c.args(cmd.get_args());
    if let Some(dir) = cmd.get_current_dir() {
        c.current_dir(dir);
    }
    c
}
