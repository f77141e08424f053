//! `eventide serve` answering curl (and a raw slow client) on 127.0.0.1.

mod e2e_util;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::symlink;
use std::time::{Duration, Instant};

use e2e_util::{Serve, TempDir, curl_i, have_curl, random_bytes};

/// A site: a binary file, a text file, a subdirectory with awkward names,
/// a directory with an index, and a secret outside the served directory.
struct Site {
    tmp: TempDir,
    big: Vec<u8>,
}

impl Site {
    fn new(tag: &str) -> Site {
        let tmp = TempDir::new(tag);
        let big = random_bytes(3 * 1024 * 1024 + 7, 42);
        tmp.write("www/big.bin", &big);
        tmp.write("www/hello.txt", b"hello\n");
        tmp.write("www/sub/b.txt", b"b");
        tmp.write("www/sub/a b&<c>.txt", b"a");
        std::fs::create_dir_all(tmp.path.join("www/sub/zdir")).unwrap();
        tmp.write("www/site/index.html", b"<h1>index</h1>\n");
        tmp.write("secret.txt", b"root:x:0:0:SECRET\n");
        symlink(tmp.path.join("secret.txt"), tmp.path.join("www/leak.txt")).unwrap();
        symlink(&tmp.path, tmp.path.join("www/up")).unwrap();
        Site { tmp, big }
    }

    fn root(&self) -> String {
        self.tmp.path.join("www").display().to_string()
    }

    fn serve(&self, extra: &[&str]) -> Serve {
        let root = self.root();
        let mut args = vec![root.as_str()];
        args.extend_from_slice(extra);
        Serve::start(&args)
    }
}

#[test]
fn a_binary_file_is_byte_exact_with_its_headers() {
    if !have_curl("a_binary_file_is_byte_exact_with_its_headers") {
        return;
    }
    let site = Site::new("file");
    let srv = site.serve(&[]);
    let r = curl_i(&[&srv.url("/big.bin")]);
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), site.big.len());
    assert!(r.body == site.big, "the body differs from the file");
    assert_eq!(
        r.header("content-length"),
        Some(site.big.len().to_string().as_str())
    );
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    assert_eq!(r.header("accept-ranges"), Some("bytes"));
    assert!(
        r.header("last-modified")
            .is_some_and(|v| v.ends_with(" GMT"))
    );

    let r = curl_i(&[&srv.url("/hello.txt")]);
    assert_eq!(r.body, b"hello\n");
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    // One access-log line per request, written when the response finished.
    let line = srv
        .wait_line(Duration::from_secs(5), |l| {
            l.contains("\"GET /hello.txt HTTP/1.1\" 200 6 ")
        })
        .map(|l| l.text);
    assert!(line.is_some_and(|l| l.ends_with("ms")), "{:?}", srv.lines());
}

#[test]
fn ranges_give_exactly_those_bytes() {
    if !have_curl("ranges_give_exactly_those_bytes") {
        return;
    }
    let site = Site::new("range");
    let srv = site.serve(&[]);
    let size = site.big.len();
    let url = srv.url("/big.bin");

    let r = curl_i(&["-r", "100-199", &url]);
    assert_eq!(r.status, 206);
    assert_eq!(r.body, &site.big[100..200]);
    assert_eq!(
        r.header("content-range"),
        Some(format!("bytes 100-199/{size}").as_str())
    );
    assert_eq!(r.header("content-length"), Some("100"));

    let r = curl_i(&["-r", "-10", &url]);
    assert_eq!(r.status, 206);
    assert_eq!(r.body, &site.big[size - 10..]);

    let r = curl_i(&["-r", &format!("{}-", size - 3), &url]);
    assert_eq!(r.body, &site.big[size - 3..]);

    let r = curl_i(&["-r", &format!("{size}-"), &url]);
    assert_eq!(r.status, 416);
    assert_eq!(
        r.header("content-range"),
        Some(format!("bytes */{size}").as_str())
    );

    // Several ranges: the whole file, 200 (documented in --help).
    let r = curl_i(&["-r", "0-1,5-6", &url]);
    assert_eq!(r.status, 200);
    assert!(r.body == site.big);
}

#[test]
fn listing_redirect_index_and_404() {
    if !have_curl("listing_redirect_index_and_404") {
        return;
    }
    let site = Site::new("listing");
    let srv = site.serve(&[]);

    let r = curl_i(&[&srv.url("/sub/")]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    let html = r.text();
    let at = |s: &str| {
        html.find(s)
            .unwrap_or_else(|| panic!("{s:?} not in the listing:\n{html}"))
    };
    // Directories first, then by name; names percent-encoded and escaped.
    let zdir = at("<a href=\"zdir/\">zdir/</a>");
    let awkward = at("<a href=\"a%20b%26%3Cc%3E.txt\">a b&amp;&lt;c&gt;.txt</a>");
    let b = at("<a href=\"b.txt\">b.txt</a>");
    assert!(zdir < awkward && awkward < b, "{html}");
    // The encoded link leads back to the file.
    assert_eq!(curl_i(&[&srv.url("/sub/a%20b%26%3Cc%3E.txt")]).body, b"a");

    let r = curl_i(&[&srv.url("/sub?x=1")]);
    assert_eq!(r.status, 301);
    assert_eq!(r.header("location"), Some("/sub/?x=1"));

    let r = curl_i(&[&srv.url("/site/")]);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"<h1>index</h1>\n");
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));

    let r = curl_i(&[&srv.url("/no/such/file")]);
    assert_eq!(r.status, 404);
    assert!(!r.text().contains(&site.root()), "{}", r.text());
}

#[test]
fn traversal_and_symlinks_out_are_refused_without_leaking() {
    if !have_curl("traversal_and_symlinks_out_are_refused_without_leaking") {
        return;
    }
    let site = Site::new("traversal");
    let srv = site.serve(&[]);
    let tmp = site.tmp.path.display().to_string();
    let as_is: &[&str] = &["--path-as-is"];
    for (flags, path) in [
        (as_is, "/../etc/passwd"),
        (as_is, "/../secret.txt"),
        (as_is, "/%2e%2e/secret.txt"),
        (as_is, "/sub/..%2f..%2fsecret.txt"),
        (as_is, "/%2E%2E%2Fsecret.txt"),
        (&[], "/leak.txt"),
        (&[], "/up/secret.txt"),
        (&[], "/up/"),
    ] {
        let url = srv.url(path);
        let mut args = flags.to_vec();
        args.push(&url);
        let r = curl_i(&args);
        // `..` in any spelling, and symlinks that lead out: 403.
        assert_eq!(r.status, 403, "{path}");
        let body = r.text();
        assert!(
            !body.contains("root:") && !body.contains(&tmp) && !body.contains("SECRET"),
            "{path} leaked {body:?}"
        );
    }
}

#[test]
fn head_and_other_methods() {
    if !have_curl("head_and_other_methods") {
        return;
    }
    let site = Site::new("methods");
    let srv = site.serve(&[]);
    let r = curl_i(&["-I", &srv.url("/big.bin")]);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-length"),
        Some(site.big.len().to_string().as_str())
    );
    assert!(r.body.is_empty());

    for method in ["POST", "PUT", "DELETE"] {
        let r = curl_i(&["-X", method, &srv.url("/hello.txt")]);
        assert_eq!(r.status, 405, "{method}");
        assert_eq!(r.header("allow"), Some("GET, HEAD"), "{method}");
    }
}

#[test]
fn without_a_directory_the_built_in_page() {
    if !have_curl("without_a_directory_the_built_in_page") {
        return;
    }
    let srv = Serve::start(&[]);
    let r = curl_i(&[&srv.url("/")]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(r.text().contains("eventide demo"), "{}", r.text());
    assert_eq!(curl_i(&[&srv.url("/anything")]).status, 404);
}

/// Reads a response from a raw socket slowly (16 KiB per 5 ms, ~3 MiB/s),
/// so the server is still sending when the test signals it.
fn slow_get(addr: std::net::SocketAddr, path: &str) -> (String, Vec<u8>) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut got = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    let mut want = None;
    loop {
        let n = s.read(&mut buf).expect("read the response");
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
        if want.is_none()
            && let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n")
        {
            let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .expect("a content-length");
            want = Some((end + 4, len));
        }
        if let Some((start, len)) = want
            && got.len() >= start + len
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let (start, _) = want.expect("a complete head");
    let head = String::from_utf8_lossy(&got[..start]).into_owned();
    (head, got.split_off(start))
}

#[test]
fn sigterm_lets_a_download_in_flight_finish() {
    let tmp = TempDir::new("sigterm");
    // Larger than what the loopback socket buffers hold at this rate, so
    // the response is still being sent when the signal arrives.
    let big = random_bytes(12 * 1024 * 1024, 7);
    tmp.write("big.bin", &big);
    let mut srv = Serve::start(&[&tmp.path.display().to_string()]);
    let addr = srv.addr;
    let started = Instant::now();
    let client = std::thread::spawn(move || slow_get(addr, "/big.bin"));

    std::thread::sleep(Duration::from_millis(500));
    let signalled = Instant::now();
    srv.sigterm();
    // The listener closes at once: new connections are refused.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match TcpStream::connect(addr) {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => break,
            _ if Instant::now() > deadline => panic!("still accepting 5 s after SIGTERM"),
            _ => std::thread::sleep(Duration::from_millis(20)),
        }
    }

    let (head, body) = client.join().expect("the slow client");
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(body == big, "the download differs ({} bytes)", body.len());
    // It was in flight: its access-log line came after the signal.
    let line = srv
        .wait_line(Duration::from_secs(5), |l| l.contains("/big.bin"))
        .expect("an access-log line");
    assert!(line.at > signalled, "the response finished before SIGTERM");
    let status = srv
        .wait_exit(Duration::from_secs(5))
        .expect("exited within 5 s of the download's end");
    assert!(status.success(), "exit status {status}");
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[test]
fn two_workers_both_serve() {
    let tmp = TempDir::new("workers");
    tmp.write("hello.txt", b"hello\n");
    let srv = Serve::start(&[&tmp.path.display().to_string(), "--workers", "2"]);
    // Printed once the second loop listens too.
    srv.wait_line(Duration::from_secs(10), |l| {
        l.contains("loops share the port")
    })
    .expect("the second loop listening");
    let n = 50;
    for i in 0..n {
        let mut s = TcpStream::connect(srv.addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(
            s,
            "GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut reply = Vec::new();
        s.read_to_end(&mut reply).expect("read the reply");
        let r = e2e_util::Response::parse(&reply);
        assert_eq!(
            (r.status, &r.body[..]),
            (200, &b"hello\n"[..]),
            "request {i}"
        );
    }
    // Each loop tags its access-log lines; the kernel spread the 50
    // connections over both.
    let deadline = Instant::now() + Duration::from_secs(5);
    let (mut l0, mut l1) = (0, 0);
    while Instant::now() < deadline {
        let lines = srv.lines();
        l0 = lines
            .iter()
            .filter(|l| l.text.ends_with("[loop 0]"))
            .count();
        l1 = lines
            .iter()
            .filter(|l| l.text.ends_with("[loop 1]"))
            .count();
        if l0 + l1 == n {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(l0 + l1, n, "{:?}", srv.lines());
    assert!(l0 > 0 && l1 > 0, "loop 0 served {l0}, loop 1 served {l1}");
}
