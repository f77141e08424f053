//! `eventide echo`: what a client sends comes back, byte for byte, on every
//! connection; SIGTERM shuts it down.

mod e2e_util;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use e2e_util::random_bytes;

const BIN: &str = env!("CARGO_BIN_EXE_eventide");

/// A running `eventide echo`, killed by pid on drop.
struct Echo {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Echo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Echo {
    fn start(extra: &[&str]) -> Echo {
        let mut child = Command::new(BIN)
            .args(["echo", "--port", "0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn eventide echo");
        let mut line = String::new();
        let mut out = BufReader::new(child.stdout.take().expect("piped"));
        out.read_line(&mut line).expect("the address line");
        // Keep reading what it prints after, as a terminal would.
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        let addr = line
            .trim()
            .strip_prefix("echo listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .parse()
            .expect("an address");
        Echo { child, addr }
    }

    fn sigterm_and_wait(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "echo did not exit after SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Sends `data`, half-closes, and reads everything back.
fn round_trip(addr: SocketAddr, data: Vec<u8>) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut reader = s.try_clone().unwrap();
    // Read on another thread: the echo answers while we still write.
    let collector = std::thread::spawn(move || {
        let mut back = Vec::new();
        reader.read_to_end(&mut back).expect("read the echo");
        back
    });
    for piece in data.chunks(7919) {
        s.write_all(piece).expect("write");
    }
    s.shutdown(Shutdown::Write).unwrap();
    collector.join().unwrap()
}

#[test]
fn every_connection_gets_its_bytes_back() {
    let mut echo = Echo::start(&[]);
    let addr = echo.addr;
    let clients: Vec<_> = (0..4u64)
        .map(|i| {
            std::thread::spawn(move || {
                let data = random_bytes(1 << 20, i);
                (round_trip(addr, data.clone()), data)
            })
        })
        .collect();
    for c in clients {
        let (back, sent) = c.join().unwrap();
        assert_eq!(back.len(), sent.len());
        assert!(back == sent, "the echo differs from what was sent");
    }
    assert!(
        echo.sigterm_and_wait().success(),
        "SIGTERM exits with status 0"
    );
}

#[test]
fn several_loops_share_the_port() {
    let mut echo = Echo::start(&["--workers", "2"]);
    for i in 0..20u64 {
        let data = random_bytes(4096, i);
        assert_eq!(round_trip(echo.addr, data.clone()), data);
    }
    assert!(echo.sigterm_and_wait().success());
}
