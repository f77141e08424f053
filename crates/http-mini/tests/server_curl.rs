//! The server against curl, a client this project did not write: keep-alive
//! across two URLs on one command line (one connect), a chunked upload, an
//! upload with `Expect: 100-continue`, and `HEAD` with `-I`. Bodies compare
//! byte for byte. Skipped, with a message, where curl is not installed.

mod server_util;

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use eventide_http_mini::server::{Request, Response};
use eventide_loop_phases::Loop;
use server_util::{
    Output, TempFile, have_tool, pattern, run_client, run_with_limit, serve, test_options,
};

/// `/echo` sends the request body back (streamed); anything else answers
/// `hello <path>`.
fn handler(lp: &mut Loop, req: Request, res: Response) {
    if req.path() == "/echo" {
        server_util::echo_handler(lp, req, res);
    } else {
        res.end(lp, Some(Bytes::from(format!("hello {}", req.path()))));
    }
}

fn curl(args: &[&str]) -> Output {
    let mut cmd = Command::new("curl");
    cmd.args(["--silent", "--show-error", "--max-time", "10"])
        .args(args);
    let out = run_with_limit(cmd, Duration::from_secs(15));
    assert!(
        out.status.is_some_and(|s| s.success()),
        "curl {args:?} failed: {:?}\n{}",
        out.status,
        out.stderr
    );
    out
}

fn url(addr: SocketAddr, path: &str) -> String {
    format!("http://{addr}{path}")
}

#[test]
fn curl_keep_alive_two_urls_one_connection() {
    if !have_tool("curl") {
        return;
    }
    let (mut lp, server, _) = serve(test_options(), handler);
    let (out, stats) = run_client(&mut lp, server, |addr| {
        curl(&[
            "-w",
            "[%{num_connects}]",
            &url(addr, "/a"),
            &url(addr, "/b"),
        ])
    });
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "hello /a[1]hello /b[0]"
    );
    assert_eq!(stats.connections, 1);
    assert_eq!(stats.requests, 2);
}

#[test]
fn curl_chunked_upload_echoed_byte_exact() {
    if !have_tool("curl") {
        return;
    }
    let data = pattern(3 * 1024 * 1024 + 17, 11);
    let file = TempFile::with_contents("curl-chunked.bin", &data);
    let path = file.0.to_str().unwrap().to_owned();
    let (mut lp, server, _) = serve(test_options(), handler);
    let (out, stats) = run_client(&mut lp, server, move |addr| {
        curl(&[
            "-H",
            "Transfer-Encoding: chunked",
            "--data-binary",
            &format!("@{path}"),
            &url(addr, "/echo"),
        ])
    });
    assert!(
        out.stdout == data,
        "echoed {} of {} bytes, or different",
        out.stdout.len(),
        data.len()
    );
    assert_eq!(stats.requests, 1);
}

#[test]
fn curl_expect_100_continue_large_body() {
    if !have_tool("curl") {
        return;
    }
    let data = pattern(5 * 1024 * 1024, 13);
    let file = TempFile::with_contents("curl-expect.bin", &data);
    let path = file.0.to_str().unwrap().to_owned();
    let (mut lp, server, _) = serve(test_options(), handler);
    let (out, _) = run_client(&mut lp, server, move |addr| {
        curl(&[
            "-v",
            "-H",
            "Expect: 100-continue",
            // Without the 100, curl would send the body after 5 s anyway:
            // finishing within 10 s with the 100 in the trace proves it.
            "--expect100-timeout",
            "5",
            "--data-binary",
            &format!("@{path}"),
            &url(addr, "/echo"),
        ])
    });
    assert!(
        out.stderr.contains("> Expect: 100-continue"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("< HTTP/1.1 100 Continue"),
        "{}",
        out.stderr
    );
    assert!(
        out.stdout == data,
        "echoed {} of {} bytes, or different",
        out.stdout.len(),
        data.len()
    );
}

#[test]
fn curl_head() {
    if !have_tool("curl") {
        return;
    }
    let (mut lp, server, _) = serve(test_options(), handler);
    let (out, _) = run_client(&mut lp, server, |addr| curl(&["-I", &url(addr, "/head")]));
    let text = String::from_utf8_lossy(&out.stdout).to_ascii_lowercase();
    assert!(text.starts_with("http/1.1 200 ok\r\n"), "{text}");
    // The length of `hello /head`.
    assert!(text.contains("\r\ncontent-length: 11\r\n"), "{text}");
    assert!(
        text.ends_with("\r\n\r\n"),
        "no body after the head: {text:?}"
    );
}
