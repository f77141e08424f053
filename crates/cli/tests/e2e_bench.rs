//! `eventide bench` against `eventide serve` on 127.0.0.1: short, bounded
//! runs (1 s, 4 connections) that must report a rate and no error.

mod e2e_util;

use std::net::TcpListener;
use std::process::{Command, Output};
use std::time::Duration;

use e2e_util::{BIN, Serve, run};

/// A bench run: 1 s plus start-up and report, far below this.
const LIMIT: Duration = Duration::from_secs(30);

fn bench(args: &[&str]) -> Output {
    run(Command::new(BIN).arg("bench").args(args), LIMIT)
}

/// The number after `"key":` in a flat-enough JSON text.
fn number(json: &str, key: &str) -> f64 {
    let pattern = format!("\"{key}\":");
    let start = json
        .find(&pattern)
        .unwrap_or_else(|| panic!("no {key} in {json}"))
        + pattern.len();
    let rest = &json[start..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    rest[..end]
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("{key} is not a number in {json}"))
}

/// Runs a 1 s JSON bench against a fresh server and checks the figures.
fn rate_without_errors(extra: &[&str]) -> String {
    let srv = Serve::start(&[]);
    let url = srv.url("/");
    let mut args = vec![url.as_str(), "-d", "1s", "-c", "4", "--json"];
    args.extend_from_slice(extra);
    let out = bench(&args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "bench {args:?} failed: {}{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json = stdout.trim();
    assert!(json.starts_with('{') && json.ends_with('}'), "{json}");
    assert!(number(json, "requests") > 0.0, "{json}");
    assert!(number(json, "requests_per_sec") > 0.0, "{json}");
    assert!(number(json, "bytes_per_sec") > 0.0, "{json}");
    assert!(number(json, "p99") >= number(json, "p50"), "{json}");
    for kind in ["connect", "read", "timeout", "parse", "closed", "non_2xx"] {
        assert_eq!(number(json, kind), 0.0, "{kind} errors in {json}");
    }
    assert_eq!(number(json, "reconnects"), 0.0, "{json}");
    json.to_string()
}

#[test]
fn one_request_in_flight_per_connection() {
    let json = rate_without_errors(&[]);
    assert_eq!(number(&json, "pipeline"), 1.0);
}

#[test]
fn four_pipelined_requests_per_connection() {
    let json = rate_without_errors(&["--pipeline", "4"]);
    assert_eq!(number(&json, "pipeline"), 4.0);
}

#[test]
fn two_loops_share_the_connections() {
    let json = rate_without_errors(&["--threads", "2"]);
    assert_eq!(number(&json, "threads"), 2.0);
}

#[test]
fn the_report_names_rate_latency_and_errors() {
    let srv = Serve::start(&[]);
    let url = srv.url("/");
    let out = bench(&[&url, "-d", "500ms", "-c", "2"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    for needle in [
        "req/s",
        "throughput",
        "p50",
        "p99.9",
        "max",
        "2xx",
        "errors       none",
    ] {
        assert!(text.contains(needle), "no {needle:?} in:\n{text}");
    }
}

#[test]
fn no_server_is_one_clear_error() {
    // A port that was free a moment ago: nothing listens on it.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let url = format!("http://127.0.0.1:{port}/");
    let out = bench(&[&url, "-d", "1s"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot connect"), "{err}");
    assert!(err.contains("is the server running?"), "{err}");
}

#[test]
fn bad_arguments_say_what_to_write() {
    let out = bench(&["http://127.0.0.1:1/", "-d", "10 parsecs"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown unit"));
    let out = bench(&["https://127.0.0.1/"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("https is not supported"));
}
