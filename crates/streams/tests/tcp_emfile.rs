//! Running out of descriptors (EMFILE) neither spins the loop nor kills it:
//! connections that cannot get a descriptor are accepted with the spare one
//! and closed at once, the loop stays idle, and once descriptors are freed
//! new clients are served again.
//!
//! The descriptor limit is lowered in a child process only: the test
//! re-runs this test binary with `EVENTIDE_EMFILE_CHILD` set and `--exact
//! emfile_child`, which runs the server and reports on stdout.

mod util;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use eventide_loop_phases::{Loop, RunMode};
use eventide_reactor::sys::{descriptor_limit, set_descriptor_limit};
use util::echo_server;

const CHILD_ENV: &str = "EVENTIDE_EMFILE_CHILD";
/// Descriptors left to the child's server above those it has open.
const HEADROOM: u64 = 6;

/// Utime + stime of this process, in clock ticks, read from an open
/// `/proc/self/stat` (opening it would need a descriptor, and there are none).
fn cpu_ticks(file: &mut std::fs::File) -> u64 {
    use std::io::Seek;
    let mut stat = String::new();
    file.rewind().unwrap();
    file.read_to_string(&mut stat).unwrap();
    // Fields after the command name (which is in parentheses).
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

/// The descriptor limit that leaves exactly `free` descriptors to open:
/// new descriptors take the lowest free numbers, holes included.
fn limit_leaving(free: u64) -> u64 {
    let open: std::collections::HashSet<u64> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u64>().ok())
        .collect();
    let (mut fd, mut left) = (0, free);
    loop {
        if !open.contains(&fd) {
            if left == 0 {
                return fd;
            }
            left -= 1;
        }
        fd += 1;
    }
}

/// The child: an echo server under a low descriptor limit, reporting its
/// state every 50 ms. A no-op unless run by the parent test.
#[test]
fn emfile_child() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    let mut lp = Loop::new();
    let server = echo_server(&mut lp);
    let mut proc_stat = std::fs::File::open("/proc/self/stat").unwrap();
    let (_, hard) = descriptor_limit().unwrap();
    // (The read of /proc/self/fd itself holds a descriptor, freed after.)
    let limit = limit_leaving(HEADROOM).min(hard);
    set_descriptor_limit(limit).unwrap();
    println!("PORT {}", server.local_addr(&lp).unwrap().port());
    let report = lp.set_interval(Duration::from_millis(50), move |lp| {
        let m = lp.metrics();
        let s = server.stats(lp);
        println!(
            "STAT {} {} {} {} {}",
            m.iterations,
            cpu_ticks(&mut proc_stat),
            s.accepted,
            s.dropped_emfile,
            server.connections(lp)
        );
        std::io::stdout().flush().unwrap();
    });
    // Bounded: the parent kills us long before this.
    lp.set_timeout(Duration::from_secs(20), move |lp| {
        lp.clear_interval(report);
        lp.stop();
    });
    lp.run(RunMode::Default);
}

#[derive(Debug, Clone, Copy)]
struct Stat {
    iterations: u64,
    cpu: u64,
    accepted: u64,
    dropped: u64,
    connections: u64,
}

/// Connects, sends a byte, and says whether it came back.
fn served(port: u16) -> Option<TcpStream> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    s.write_all(b"?").ok()?;
    let mut b = [0u8; 1];
    match s.read(&mut b) {
        Ok(1) => Some(s),
        _ => None,
    }
}

#[test]
fn emfile_does_not_spin_and_recovers() {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "emfile_child",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(CHILD_ENV, "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(15);
    let next = |prefix: &str| -> String {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx.recv_timeout(left).expect("the child reports in time");
            // libtest may print "test emfile_child ... " before it on the line.
            if let Some(at) = line.find(prefix) {
                return line[at + prefix.len()..].to_string();
            }
        }
    };
    // A report made after this call: older lines are skipped.
    let stat = |rx_next: &dyn Fn(&str) -> String| -> Stat {
        while rx.try_recv().is_ok() {}
        let v: Vec<u64> = rx_next("STAT ")
            .split(' ')
            .map(|x| x.parse().unwrap())
            .collect();
        Stat {
            iterations: v[0],
            cpu: v[1],
            accepted: v[2],
            dropped: v[3],
            connections: v[4],
        }
    };
    let port: u16 = next("PORT ").parse().unwrap();

    // Open connections until the server cannot take more.
    let mut kept = Vec::new();
    let mut refused = 0;
    for _ in 0..(HEADROOM as usize + 6) {
        match served(port) {
            Some(s) => kept.push(s),
            None => refused += 1,
        }
    }
    assert!(!kept.is_empty(), "some clients were served");
    assert!(
        refused >= 3,
        "the server ran out of descriptors ({} served)",
        kept.len()
    );

    // Idle at EMFILE: the loop must not spin.
    let a = stat(&next);
    let start = Instant::now();
    std::thread::sleep(Duration::from_millis(300));
    let b = stat(&next);
    let iterations = b.iterations - a.iterations;
    let cpu = b.cpu - a.cpu;
    eprintln!(
        "at EMFILE: {iterations} iterations, {cpu} CPU ticks in {:?}; {a:?} {b:?}",
        start.elapsed()
    );
    assert!(
        iterations < 100,
        "the loop spins: {iterations} iterations in ~300 ms"
    );
    assert!(cpu < 10, "the loop burns CPU: {cpu} ticks in ~300 ms");
    assert!(
        b.dropped >= 3,
        "extra connections were dropped with the spare descriptor"
    );
    assert_eq!(b.connections, kept.len() as u64);

    // Free descriptors: a new client is served again.
    drop(kept.drain(..2));
    let recovered = (0..20).find_map(|_| {
        std::thread::sleep(Duration::from_millis(50));
        served(port)
    });
    assert!(
        recovered.is_some(),
        "served again once descriptors were freed"
    );
    let c = stat(&next);
    assert!(c.accepted > b.accepted);

    child.kill().unwrap();
    child.wait().unwrap();
}
