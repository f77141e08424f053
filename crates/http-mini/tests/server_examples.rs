//! The example servers, run as child processes the way a person runs them
//! (`--port 0`, then the printed address): `http_hello` answers, `http_echo`
//! echoes byte for byte, and the limit and timeout flags take effect.
//! Skipped, with a message, if the example binaries were not built (cargo
//! builds them for `cargo test`).

mod server_util;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use server_util::{Client, get, listening_addr, pattern, post};

/// A running example, killed by pid when dropped.
struct Example {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn example_path(name: &str) -> Option<PathBuf> {
    // target/debug/deps/server_examples-HASH -> target/debug/examples/NAME
    let exe = std::env::current_exe().ok()?;
    let path = exe.parent()?.parent()?.join("examples").join(name);
    path.exists().then_some(path)
}

fn start(name: &str, flags: &[&str]) -> Option<Example> {
    let Some(path) = example_path(name) else {
        eprintln!(
            "SKIPPED: example `{name}` not built (run `cargo test` or `cargo build --examples`)"
        );
        return None;
    };
    let child = Command::new(path)
        .args(["--port", "0"])
        .args(flags)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start example");
    let mut ex = Example {
        child,
        addr: "127.0.0.1:1".parse().unwrap(),
    };
    let stdout = ex.child.stdout.take().unwrap();
    ex.addr = listening_addr(stdout);
    Some(ex)
}

#[test]
fn http_hello_answers() {
    let Some(ex) = start("http_hello", &[]) else {
        return;
    };
    let mut c = Client::connect(ex.addr);
    for _ in 0..3 {
        c.request(&get("/"));
        let r = c.response();
        assert_eq!(r.status(), 200);
        assert_eq!(r.body_str(), "hello world\n");
        assert_eq!(r.header("content-length"), Some("12"));
    }
}

#[test]
fn http_echo_echoes_and_applies_its_flags() {
    let Some(ex) = start(
        "http_echo",
        &[
            "--headers-timeout-ms",
            "300",
            "--max-body-bytes",
            "1000000",
            "--max-header-bytes",
            "2048",
        ],
    ) else {
        return;
    };
    let data = pattern(999_999, 17);
    let mut c = Client::connect(ex.addr);
    c.request(&post("/", &data));
    let r = c.response();
    assert_eq!(r.status(), 200);
    assert!(r.body == data, "echo differs");

    let too_big = pattern(1_000_001, 3);
    let r = server_util::one_shot(ex.addr, &post("/", &too_big));
    assert_eq!(r.status(), 413);

    let big_head = format!(
        "GET / HTTP/1.1\r\nHost: t\r\nX-A: {}\r\n\r\n",
        "a".repeat(3000)
    );
    assert_eq!(
        server_util::one_shot(ex.addr, big_head.as_bytes()).status(),
        431
    );

    // A head that never completes: 408 after about 300 ms.
    let mut slow = Client::connect(ex.addr);
    slow.send(b"GET / HTTP/1.1\r\n");
    slow.expect("GET");
    let started = std::time::Instant::now();
    let r = slow.response();
    assert_eq!(r.status(), 408);
    assert!(started.elapsed() < Duration::from_secs(2));
}
