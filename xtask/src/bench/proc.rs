//! Child processes for the benchmarks: servers that print
//! `listening on ADDR`, pinned to a CPU where `taskset` exists, killed by
//! their pid when dropped.

use std::io::{BufRead, BufReader, ErrorKind};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};

use crate::cmd::root;

/// The CPU servers run on, and the one load generators run on.
pub(super) const SERVER_CPU: usize = 0;
pub(super) const LOAD_CPU: usize = 1;

/// Cargo's target directory (`CARGO_TARGET_DIR`, relative to the root, or
/// `target`).
pub(super) fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root().join(dir),
        None => root().join("target"),
    }
}

/// Whether commands are pinned to CPUs with `taskset`.
pub(super) struct Pin(pub(super) bool);

impl Pin {
    pub(super) fn detect() -> Pin {
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
    pub(super) fn command(&self, cpu: usize, program: &std::ffi::OsStr, args: &[&str]) -> Command {
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
pub(super) struct Server {
    pub(super) child: Child,
    /// Kept open, so that the server never writes into a closed pipe.
    _stdout: BufReader<ChildStdout>,
    pub(super) addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a server that prints `listening on ADDR` first. `Ok(None)` if the
/// program does not exist.
pub(super) fn start(mut cmd: Command) -> Result<Option<Server>, String> {
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

/// A copy of a command: its program, arguments and directory.
pub(super) fn clone(cmd: &Command) -> Command {
    let mut c = Command::new(cmd.get_program());
    c.args(cmd.get_args());
    if let Some(dir) = cmd.get_current_dir() {
        c.current_dir(dir);
    }
    c
}

/// `utime + stime` of a process, in seconds (`/proc/PID/stat`, clock ticks
/// of 1/100 s on Linux).
pub(super) fn cpu_seconds(pid: u32) -> Result<f64, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| format!("reading /proc/{pid}/stat: {e}"))?;
    // The command name may hold spaces: fields count from after its ')'.
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    Ok((ticks(11) + ticks(12)) / 100.0)
}
