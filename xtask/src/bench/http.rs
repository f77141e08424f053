//! The `http` suite: Eventide's server (`http_hello`) beside Node's `http`
//! and the raw mio responder (`raw_http`), all answering `hello world\n`, all
//! loaded by the same generator: `wrk` when installed, else `eventide bench`.
//!
//! - `hello-50`, `hello-pipelined-16`, `hello-1000`: keep-alive load at 50
//!   connections, 50 connections with 16 requests pipelined per write, and
//!   1,000 connections. The figure that counts is requests per *server
//!   CPU-second* (`utime + stime` from `/proc/PID/stat` across the run): on
//!   two cores the load generator is often the bottleneck, and requests per
//!   second then hide the server's cost. Also requests per second, p50/p99
//!   latency, socket errors, peak RSS. Servers run pinned to CPU 0, the
//!   generator to CPU 1; [`RUNS`] runs interleaved across servers; medians.
//! - `idle-10k`: 10,000 idle keep-alive connections (`idle_clients`): the
//!   server's resident memory growth divided by the connections.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::proc::{LOAD_CPU, Pin, SERVER_CPU, Server, clone, cpu_seconds, start, target_dir};
use super::{Collected, Figure, Output};
use crate::cmd::{build_release, root};

const RUNS: usize = 5;
const SECONDS: u64 = 4;
const IDLE_CONNECTIONS: usize = 10_000;

/// A load workload: connections and requests pipelined per write.
struct Load {
    name: &'static str,
    connections: usize,
    pipeline: usize,
}

const LOADS: [Load; 3] = [
    Load {
        name: "hello-50",
        connections: 50,
        pipeline: 1,
    },
    Load {
        name: "hello-pipelined-16",
        connections: 50,
        pipeline: 16,
    },
    Load {
        name: "hello-1000",
        connections: 1000,
        pipeline: 1,
    },
];

const SERVERS: [&str; 3] = ["Eventide", "Node", "raw mio"];

pub(super) fn collect() -> Result<Collected, String> {
    build()?;
    let release = target_dir().join("release");
    let pin = Pin::detect();
    let generator = Generator::detect(&release);
    eprintln!("bench: load generator: {}", generator.name());
    let servers = [
        pin.command(
            SERVER_CPU,
            release.join("examples/http_hello").as_os_str(),
            &["--port", "0", "--keep-alive-timeout-ms", "120000"],
        ),
        pin.command(SERVER_CPU, "node".as_ref(), &["xtask/bench/node/http.js"]),
        pin.command(SERVER_CPU, release.join("raw_http").as_os_str(), &["0"]),
    ];
    let mut outs: [Option<Output>; 3] = [
        Some(Output::default()),
        Some(Output::default()),
        Some(Output::default()),
    ];
    for load in &LOADS {
        let running: Vec<Option<Server>> = servers
            .iter()
            .enumerate()
            .map(|(i, cmd)| launch(SERVERS[i], cmd))
            .collect();
        let mut runs: [Vec<Output>; 3] = Default::default();
        for _ in 0..RUNS {
            for (i, s) in running.iter().enumerate() {
                let Some(s) = s else { continue };
                match measure(&pin, &generator, s, load) {
                    Ok(o) => runs[i].push(o),
                    Err(e) => eprintln!("bench: {} under {}: {e}", SERVERS[i], load.name),
                }
            }
        }
        drop(running);
        for (i, runs) in runs.into_iter().enumerate() {
            match outs[i].as_mut() {
                Some(o) if runs.len() == RUNS => {
                    let spread =
                        Output::spread(&runs, "req_per_cpu_s", |v| format!("{:.0}k", v / 1e3));
                    o.extend(Output::median(runs));
                    o.notes.push((load.name.to_string(), spread));
                }
                _ => outs[i] = None,
            }
        }
    }
    let idle = release.join("idle_clients");
    for (i, cmd) in servers.iter().enumerate() {
        let Some(o) = outs[i].as_mut() else { continue };
        match launch(SERVERS[i], cmd).map(|s| idle_memory(&s, &idle)) {
            Some(Ok(f)) => o.figures.push(f),
            Some(Err(e)) => eprintln!("bench: {}'s idle memory: {e}", SERVERS[i]),
            None => {}
        }
    }
    let [ours, node, raw] = outs;
    Ok(Collected {
        ours: ours.ok_or("Eventide's http server could not be measured")?,
        peers: vec![node, raw],
    })
}

fn build() -> Result<(), String> {
    build_release("eventide-http-mini", &["--example", "http_hello"])?;
    build_release("xtask", &["--bin", "raw_http", "--bin", "idle_clients"])?;
    build_release("eventide-cli", &[])
}

fn launch(name: &str, cmd: &Command) -> Option<Server> {
    match start(clone(cmd)) {
        Ok(Some(s)) => Some(s),
        Ok(None) => {
            eprintln!(
                "bench: {} not found, {name} skipped",
                cmd.get_program().to_string_lossy()
            );
            None
        }
        Err(e) => {
            eprintln!("bench: {name}: {e}");
            None
        }
    }
}

/// The load generator.
enum Generator {
    Wrk,
    Eventide(PathBuf),
}

impl Generator {
    fn detect(release: &Path) -> Generator {
        let wrk = Command::new("wrk")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok();
        if wrk {
            Generator::Wrk
        } else {
            Generator::Eventide(release.join("eventide"))
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Generator::Wrk => "wrk -t1",
            Generator::Eventide(_) => "eventide bench (wrk not found)",
        }
    }
}

/// What one run measured.
#[derive(Default)]
struct Run {
    requests: f64,
    seconds: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: f64,
}

/// One run of `load` against `server`; the server's CPU time is read from
/// `/proc` before and after.
fn measure(
    pin: &Pin,
    generator: &Generator,
    server: &Server,
    load: &Load,
) -> Result<Output, String> {
    let pid = server.child.id();
    let cpu_before = cpu_seconds(pid)?;
    let run = match generator {
        Generator::Wrk => wrk(pin, &server.addr, load)?,
        Generator::Eventide(bin) => eventide_bench(pin, bin, &server.addr, load)?,
    };
    let cpu = cpu_seconds(pid)? - cpu_before;
    let rss = peak_rss_mib(pid).unwrap_or(0.0);
    let figure = |metric: &str, value: f64, unit: &str, higher: bool| Figure {
        workload: load.name.to_string(),
        metric: metric.to_string(),
        value,
        unit: unit.to_string(),
        higher_is_better: higher,
    };
    let mut out = Output::default();
    out.figures.push(figure(
        "req_per_cpu_s",
        run.requests / cpu.max(1e-3),
        "req/cpu-s",
        true,
    ));
    out.figures
        .push(figure("rate", run.requests / run.seconds, "req/s", true));
    if load.pipeline > 1 && matches!(generator, Generator::Wrk) {
        // wrk records one latency per pipelined batch and prints 0 for the
        // upper percentiles (75% and above read `0.00us`): no figure beats a
        // wrong one.
        out.notes.push((
            load.name.to_string(),
            "no p50/p99: wrk's latency histogram is wrong under pipelining".to_string(),
        ));
    } else {
        out.figures.push(figure("p50", run.p50_ms, "ms", false));
        out.figures.push(figure("p99", run.p99_ms, "ms", false));
    }
    out.figures
        .push(figure("errors", run.errors, "errors", false));
    out.figures.push(figure("peak_rss", rss, "MiB", false));
    Ok(out)
}

/// Descriptors for 1,000 connections on both sides.
fn with_fd_limit(cmd: Command) -> Command {
    let mut sh = Command::new("sh");
    sh.arg("-c")
        .arg("ulimit -n 20000 2>/dev/null; exec \"$0\" \"$@\"")
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .current_dir(root());
    sh
}

fn wrk(pin: &Pin, addr: &str, load: &Load) -> Result<Run, String> {
    let c = load.connections.to_string();
    let d = format!("{SECONDS}s");
    let url = format!("http://{addr}/");
    let mut args = vec!["-t1", "-c", &c, "-d", &d, "--latency", "--timeout", "10s"];
    let n = load.pipeline.to_string();
    if load.pipeline > 1 {
        args.extend(["-s", "xtask/bench/wrk/pipeline.lua"]);
    }
    args.push(&url);
    if load.pipeline > 1 {
        args.extend(["--", &n]);
    }
    let cmd = with_fd_limit(pin.command(LOAD_CPU, "wrk".as_ref(), &args));
    let text = output(cmd)?;
    let mut run = Run {
        seconds: SECONDS as f64,
        ..Run::default()
    };
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            [n, "requests", "in", secs, ..] => {
                run.requests = n.parse().unwrap_or(0.0);
                run.seconds = secs
                    .trim_end_matches(['s', ','])
                    .parse()
                    .unwrap_or(SECONDS as f64);
            }
            ["50%", v] => run.p50_ms = millis(v),
            ["99%", v] => run.p99_ms = millis(v),
            ["Socket", "errors:", rest @ ..] => {
                run.errors += rest
                    .iter()
                    .filter_map(|w| w.trim_end_matches(',').parse::<f64>().ok())
                    .sum::<f64>();
            }
            ["Non-2xx", "or", "3xx", "responses:", n] => {
                run.errors += n.parse::<f64>().unwrap_or(0.0)
            }
            _ => {}
        }
    }
    if run.requests == 0.0 {
        return Err(format!("wrk reported no requests:\n{text}"));
    }
    Ok(run)
}

/// wrk prints latencies as `123.45us`, `1.23ms` or `1.02s`.
fn millis(v: &str) -> f64 {
    let (num, scale) = if let Some(n) = v.strip_suffix("us") {
        (n, 1e-3)
    } else if let Some(n) = v.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1e3)
    } else {
        (v, 1.0)
    };
    num.parse::<f64>().unwrap_or(0.0) * scale
}

fn eventide_bench(pin: &Pin, bin: &Path, addr: &str, load: &Load) -> Result<Run, String> {
    let c = load.connections.to_string();
    let p = load.pipeline.to_string();
    let d = format!("{SECONDS}s");
    let url = format!("http://{addr}/");
    let cmd = with_fd_limit(pin.command(
        LOAD_CPU,
        bin.as_os_str(),
        &[
            "bench",
            &url,
            "-c",
            &c,
            "-d",
            &d,
            "--pipeline",
            &p,
            "--json",
        ],
    ));
    let text = output(cmd)?;
    let num = |key: &str| -> f64 {
        let at = text.find(&format!("\"{key}\"")).map(|i| i + key.len() + 2);
        at.and_then(|i| {
            let rest = text[i..].trim_start_matches([':', ' ']);
            let end = rest.find([',', '}', ' ', '\n']).unwrap_or(rest.len());
            rest[..end].parse().ok()
        })
        .unwrap_or(0.0)
    };
    Ok(Run {
        requests: num("requests"),
        seconds: num("seconds").max(1e-3),
        p50_ms: num("p50_ms"),
        p99_ms: num("p99_ms"),
        errors: num("errors"),
    })
}

fn output(mut cmd: Command) -> Result<String, String> {
    let shown = format!("{cmd:?}").replace('"', "");
    eprintln!("$ {shown}");
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("could not run `{shown}`: {e}"))?;
    if !out.status.success() {
        return Err(format!("`{shown}` failed: {}", out.status));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn status_kib(pid: u32, field: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn peak_rss_mib(pid: u32) -> Option<f64> {
    status_kib(pid, "VmHWM:").map(|k| k / 1024.0)
}

/// Resident memory per idle keep-alive connection: RSS before and after
/// `idle_clients` opened [`IDLE_CONNECTIONS`] connections and each made one
/// request.
fn idle_memory(server: &Server, idle_clients: &Path) -> Result<Figure, String> {
    let pid = server.child.id();
    // A first connection, so that per-process buffers are in the baseline.
    let warm = std::net::TcpStream::connect(&server.addr).map_err(|e| e.to_string())?;
    drop(warm);
    std::thread::sleep(Duration::from_millis(200));
    let before = status_kib(pid, "VmRSS:").ok_or("no VmRSS")?;
    let n = IDLE_CONNECTIONS.to_string();
    let cmd = with_fd_limit({
        let mut c = Command::new(idle_clients);
        c.args([server.addr.as_str(), n.as_str()]);
        c
    });
    let mut cmd = cmd;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("starting idle_clients: {e}"))?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped"))
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    let result = if line.starts_with("READY") {
        std::thread::sleep(Duration::from_millis(300));
        let after = status_kib(pid, "VmRSS:").ok_or("no VmRSS")?;
        Ok(Figure {
            workload: "idle-10k".into(),
            metric: "bytes_per_conn".into(),
            value: ((after - before).max(0.0) * 1024.0) / IDLE_CONNECTIONS as f64,
            unit: "B".into(),
            higher_is_better: false,
        })
    } else {
        Err(format!("idle_clients did not get ready: {line:?}"))
    };
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(b"done\n");
    }
    let _ = child.wait();
    result
}
