//! `eventide get` against `eventide serve` (and a silent listener) on
//! 127.0.0.1. No curl needed.

mod e2e_util;

use std::time::{Duration, Instant};

use e2e_util::{Response, Serve, TempDir, get, random_bytes, read};

struct Site {
    tmp: TempDir,
    big: Vec<u8>,
    srv: Serve,
}

fn site(tag: &str) -> Site {
    let tmp = TempDir::new(tag);
    let big = random_bytes(3 * 1024 * 1024 + 5, 9);
    tmp.write("www/big.bin", &big);
    tmp.write("www/hello.txt", b"hello\n");
    let srv = Serve::start(&[&tmp.path.join("www").display().to_string()]);
    Site { tmp, big, srv }
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn body_to_stdout_is_byte_exact() {
    let s = site("stdout");
    let out = get(&[&s.srv.url("/big.bin")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(out.stdout.len(), s.big.len());
    assert!(out.stdout == s.big, "stdout differs from the file");
    // stderr is not a terminal here: no progress bar, nothing at all.
    assert!(out.stderr.is_empty(), "{}", stderr(&out));
}

#[test]
fn body_to_a_file_is_byte_exact() {
    let s = site("file");
    let dest = s.tmp.path.join("out/copy.bin");
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    let out = get(&["-o", &dest.display().to_string(), &s.srv.url("/big.bin")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    assert!(read(&dest) == s.big, "the file differs");

    // A directory that does not exist: an error that says what to do.
    let bad = s.tmp.path.join("missing/dir/x.bin");
    let out = get(&["-o", &bad.display().to_string(), &s.srv.url("/hello.txt")]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("directory exists"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn include_shows_the_head_first() {
    let s = site("include");
    let out = get(&["-i", &s.srv.url("/hello.txt")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    let r = Response::parse(&out.stdout);
    assert_eq!(r.header("content-length"), Some("6"));
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(r.body, b"hello\n");

    // -I: HEAD, the head only.
    let out = get(&["-I", &s.srv.url("/big.bin")]);
    let r = Response::parse(&out.stdout);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-length"),
        Some(s.big.len().to_string().as_str())
    );
    assert!(r.body.is_empty());
}

#[test]
fn request_headers_are_sent() {
    let s = site("headers");
    let out = get(&["-H", "Range: bytes=10-19", &s.srv.url("/big.bin")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(out.stdout, &s.big[10..20]);

    let out = get(&["-H", "no colon", &s.srv.url("/")]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("'Name: value'"), "{}", stderr(&out));
}

#[test]
fn http_errors_exit_0_or_22_with_fail() {
    let s = site("fail");
    let out = get(&[&s.srv.url("/missing")]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(out.stdout, b"404 Not Found.\n");

    let out = get(&["-f", &s.srv.url("/missing")]);
    assert_eq!(out.status.code(), Some(22));
    assert!(out.stdout.is_empty());
    assert!(stderr(&out).contains("404 Not Found"), "{}", stderr(&out));
}

#[test]
fn connection_refused_says_what_to_do() {
    // A port nobody listens on: bind one, then let it go.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let out = get(&[&format!("http://127.0.0.1:{port}/")]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("connection refused") && err.contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn timeout_ms_bounds_a_silent_server() {
    // Accepts, then never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let hold = std::thread::spawn(move || listener.accept().map(|(s, _)| s));
    let started = Instant::now();
    let out = get(&["--timeout-ms", "300", &format!("http://{addr}/")]);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("timed out after 300 ms"),
        "{}",
        stderr(&out)
    );
    drop(hold.join());
}

#[test]
fn bad_urls_are_explained() {
    let out = get(&["https://127.0.0.1/"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("https is not supported"),
        "{}",
        stderr(&out)
    );
}
