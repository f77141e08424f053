//! The `streams` suite: Eventide's streams beside Node's, and its echo server
//! beside Node's and a raw mio one, all driven by the same load generator.
//!
//! - `pipe` and `slow-consumer`: `bench_streams WORKLOAD` and
//!   `node xtask/bench/node/streams.js WORKLOAD`, each workload in a process
//!   of its own (the peak RSS is a process peak), [`RUNS`] times; the median.
//! - `echo-1`, `echo-50`: for each server (`bench_streams echo-server`,
//!   `node streams.js echo-server`, `raw_echo`) and each connection count, the
//!   server is started as a child process pinned to CPU 0, `echo_load` is run
//!   against it pinned to CPU 1 ([`ECHO_RUNS`] times, interleaved with the other
//!   servers' runs; the median), and the server is killed by its pid. Two
//!   figures: throughput (bytes echoed per second after the warm-up), and
//!   bytes echoed per server CPU-second over the whole run (`utime + stime`
//!   from `/proc/PID/stat`), the efficiency figure that the generator, when
//!   it is the bottleneck, does not blur. Without `taskset` (or a second CPU)
//!   nothing is pinned, and a note says so.

use std::path::Path;
use std::process::Command;

use super::proc::{Pin, Server, clone, cpu_seconds, start, target_dir};
use super::{Collected, Figure, Output, collect as run_program, peer};
use crate::cmd::build_release;

/// Runs of each program; the table shows the median.
const RUNS: usize = 3;
/// Runs of each echo server: more, as the spread between runs on two cores
/// is larger than the differences between the servers.
const ECHO_RUNS: usize = 5;
const ECHO_CONNECTIONS: [usize; 2] = [1, 50];
/// Measured seconds per echo run, after the warm-up.
const ECHO_SECONDS: &str = "2.5";
const ECHO_WARMUP: &str = "0.5";
use super::proc::{LOAD_CPU, SERVER_CPU};

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
                 {pinned}; median of {ECHO_RUNS} runs of {ECHO_SECONDS} s after {ECHO_WARMUP} s"
            ),
        ));
    }
    ours.notes.push((
        "all".into(),
        format!("pipe, slow-consumer: median of {RUNS} runs of every program; each workload in a process of its own"),
    ));
    Ok(Collected {
        ours,
        peers: vec![node, raw],
    })
}

/// Builds Eventide's bench programs, the load generator and the raw baseline.
fn build() -> Result<(), String> {
    build_release(
        "eventide-streams",
        &["--example", "bench_streams", "--example", "echo_load"],
    )?;
    build_release("xtask", &["--bin", "raw_echo"])
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
        for _ in 0..ECHO_RUNS {
            for (i, server) in running.iter().enumerate() {
                let Some(s) = server else { continue };
                match load(pin, echo_load, s, n) {
                    Ok(o) => runs[i].push(o),
                    Err(e) => eprintln!("bench: echo_load against {}: {e}", SERVERS[i]),
                }
            }
        }
        // Dropping a server kills it by its pid.
        drop(running);
        for (i, runs) in runs.into_iter().enumerate() {
            if runs.len() < ECHO_RUNS {
                out[i] = None;
            }
            let Some(o) = out[i].as_mut() else { continue };
            let giga = |v: f64| format!("{:.2}", v / 1e9);
            let note = format!(
                "{} GB/s; {} GB/cpu-s",
                Output::spread(&runs, "throughput", giga),
                Output::spread(&runs, "bytes_per_cpu_s", giga)
            );
            let mut median = Output::median(runs);
            median.notes.push((format!("echo-{n}"), note));
            o.extend(median);
        }
    }
    out
}

/// One run of the load generator against `server`; the server's CPU time
/// is read from `/proc` before and after, and the generator's count of bytes
/// echoed is turned into bytes per server CPU-second.
fn load(
    pin: &Pin,
    echo_load: &Path,
    server: &Server,
    connections: usize,
) -> Result<Output, String> {
    let n = connections.to_string();
    let pid = server.child.id();
    let cmd = pin.command(
        LOAD_CPU,
        echo_load.as_os_str(),
        &[
            &server.addr,
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
    let cpu_before = cpu_seconds(pid)?;
    let mut out = run_program(cmd)?.ok_or_else(|| format!("{} is missing", echo_load.display()))?;
    let cpu = cpu_seconds(pid)? - cpu_before;
    let echoed = out
        .figures
        .iter()
        .position(|f| f.metric == "echoed")
        .map(|i| out.figures.remove(i))
        .ok_or("echo_load printed no `echoed` figure")?;
    out.figures.push(Figure {
        metric: "bytes_per_cpu_s".to_string(),
        value: echoed.value / cpu.max(1e-3),
        unit: "B/cpu-s".to_string(),
        ..echoed
    });
    Ok(out)
}
