//! `eventide bench`: an HTTP load generator, like wrk, on Eventide's own
//! loop, sockets and HTTP parser.
//!
//! Each of `--threads` loops opens its share of the `-c` keep-alive
//! connections and keeps `--pipeline` GET requests in flight on each until
//! the deadline (see [`worker`] for the hot path). The main thread prints
//! the progress line, then merges the loops' tallies into the report.

use std::io::{IsTerminal, Write as _};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use eventide_http_mini::client::Url;
use eventide_http_mini::proto::encode::encode_request_head;
use eventide_http_mini::proto::{Framing, Headers, Method};

mod hist;
mod report;
mod worker;

use report::{Setup, grouped};
use worker::{Plan, Tally};

/// How often the progress line is redrawn.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// Arguments of `eventide bench`.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Opens CONNECTIONS keep-alive connections and keeps PIPELINE GET requests in flight on
each for DURATION, on Eventide's own loop (or THREADS loops), sockets and HTTP parser.
Latency runs from the moment a request is written to the end of its response, kept in
a histogram precise to 1%. A connection that fails, times out or is closed by the
server is reopened, and the error counted by kind. A live progress line goes to stderr
when it is a terminal; the exit status is 1 if no request got a 2xx response.

Examples:
  eventide serve --port 8080 &
  eventide bench http://127.0.0.1:8080/ -c 50 -d 10s
  eventide bench http://127.0.0.1:8080/ -c 8 -d 5s --pipeline 16
  eventide bench http://127.0.0.1:8080/ -d 2s --json | jq .requests_per_sec")]
pub(crate) struct Args {
    /// The URL to request, http:// only (e.g. http://127.0.0.1:8080/).
    url: String,
    /// Connections to keep open, spread over the loops.
    #[arg(short = 'c', long, default_value_t = 50)]
    connections: usize,
    /// How long to run: 10s, 500ms, 1m, 1.5s.
    #[arg(short = 'd', long, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    /// Requests in flight per connection (HTTP/1.1 pipelining); 1 waits for
    /// each response before sending the next request.
    #[arg(long, default_value_t = 1)]
    pipeline: usize,
    /// Loops, each on its own thread; use as many as the client may have cores.
    #[arg(short = 't', long, default_value_t = 1)]
    threads: usize,
    /// A request with no response after this long counts as a timeout, and
    /// its connection is reopened; also the connect timeout.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    timeout: Duration,
    /// An extra request header, as `Name: value` (repeatable).
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    headers: Vec<String>,
    /// Print one JSON object (latencies in µs) instead of the report.
    #[arg(long)]
    json: bool,
}

/// Parses `10s`, `500ms`, `1m`, `1.5s`, `250us`, `1h`; a bare number is seconds.
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{s}` is not a duration: write it as 10s, 500ms or 1m"))?;
    let scale = match unit.trim() {
        "" | "s" => 1.0,
        "ms" => 1e-3,
        "us" | "µs" => 1e-6,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        other => {
            return Err(format!(
                "unknown unit `{other}` in `{s}`: use ms, s, m or h (e.g. 500ms, 10s, 1m)"
            ));
        }
    };
    let secs = value * scale;
    if !secs.is_finite() || secs <= 0.0 || secs > 1e7 {
        return Err(format!(
            "`{s}` is not a usable duration: it must be above zero"
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Runs `eventide bench`.
pub(crate) fn run(args: Args) -> Result<(), String> {
    if args.connections == 0 || args.pipeline == 0 || args.threads == 0 {
        return Err("-c, --pipeline and --threads must each be at least 1".into());
    }
    if args.threads > args.connections {
        return Err(format!(
            "--threads {} is more than -c {}: every loop needs a connection; lower --threads",
            args.threads, args.connections
        ));
    }
    let url = Url::parse(&args.url).map_err(|e| format!("bad URL `{}`: {e}", args.url))?;
    let addr = reachable(&url, args.timeout)?;
    let request = encode(&url, &args.headers)?;

    let mut batch = BytesMut::with_capacity(request.len() * args.pipeline);
    for _ in 0..args.pipeline {
        batch.extend_from_slice(&request);
    }
    let batch = batch.freeze();

    let (tx, rx) = mpsc::channel::<Result<Tally, String>>();
    let mut progress = Vec::new();
    let mut threads = Vec::new();
    for t in 0..args.threads {
        // Connections spread evenly: the first loops take the remainder.
        let share =
            args.connections / args.threads + usize::from(t < args.connections % args.threads);
        let counter = Arc::new(AtomicU64::new(0));
        progress.push(Arc::clone(&counter));
        let plan = Plan {
            addr,
            connections: share,
            pipeline: args.pipeline,
            duration: args.duration,
            timeout: args.timeout,
            batch: batch.clone(),
            request_len: request.len(),
            progress: counter,
        };
        let tx = tx.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("bench-{t}"))
            .spawn(move || {
                let _ = tx.send(worker::run(plan));
            })
            .map_err(|e| format!("starting a loop thread: {e}"))?;
        threads.push(spawned);
    }
    drop(tx);

    let live = !args.json && std::io::stderr().is_terminal();
    let started = Instant::now();
    let mut last = (started, 0u64);
    let mut total = Tally::default();
    let mut done = 0;
    let mut failure = None;
    while done < args.threads {
        match rx.recv_timeout(PROGRESS_EVERY) {
            Ok(Ok(t)) => {
                total.merge(&t);
                done += 1;
            }
            Ok(Err(e)) => {
                failure.get_or_insert(e);
                done += 1;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if live {
                    let now = Instant::now();
                    let n: u64 = progress.iter().map(|c| c.load(Ordering::Relaxed)).sum();
                    let rate = (n - last.1) as f64 / (now - last.0).as_secs_f64();
                    last = (now, n);
                    eprint!(
                        "\r\x1b[K  {:>6.1} s   {:>12} requests   {:>10} req/s",
                        (now - started).as_secs_f64(),
                        grouped(n),
                        grouped(rate.round() as u64)
                    );
                    let _ = std::io::stderr().flush();
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                failure.get_or_insert_with(|| "a loop thread panicked".to_string());
                break;
            }
        }
    }
    if live {
        eprint!("\r\x1b[K");
    }
    for t in threads {
        let _ = t.join();
    }
    if let Some(e) = failure {
        return Err(e);
    }

    let setup = Setup {
        url: &args.url,
        connections: args.connections,
        threads: args.threads,
        pipeline: args.pipeline,
        duration: args.duration,
    };
    if args.json {
        println!("{}", report::json(&setup, &total));
    } else {
        print!("{}", report::human(&setup, &total));
    }
    if total.status[2] == 0 {
        let why = total
            .first_error
            .iter()
            .flatten()
            .next()
            .map_or(String::new(), |e| format!(" (first error: {e})"));
        return Err(format!(
            "no request got a 2xx response{why}; check the URL with `eventide get {}`",
            args.url
        ));
    }
    Ok(())
}

/// Resolves the URL's host and returns the first address that accepts a
/// connection, so that a server that is not running is one clear error
/// rather than a report full of connect errors.
fn reachable(url: &Url, timeout: Duration) -> Result<SocketAddr, String> {
    let target = url.authority();
    let addrs: Vec<SocketAddr> = (url.host(), url.port())
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {target}: {e}"))?
        .collect();
    let mut last = None;
    for addr in &addrs {
        match TcpStream::connect_timeout(addr, timeout) {
            Ok(_) => return Ok(*addr),
            Err(e) => last = Some(e),
        }
    }
    let why = last.map_or("it has no address".to_string(), |e| e.to_string());
    Err(format!(
        "cannot connect to {target}: {why}; is the server running? (try `eventide serve --port {}`)",
        url.port()
    ))
}

/// Encodes the GET request once: `Host`, a `User-Agent` and the `-H` headers.
fn encode(url: &Url, extra: &[String]) -> Result<bytes::Bytes, String> {
    let mut headers = Headers::new();
    headers.append("Host", url.host_header());
    headers.append("User-Agent", "eventide-bench");
    for h in extra {
        let (name, value) = h
            .split_once(':')
            .ok_or_else(|| format!("header `{h}` has no `:`; write it as -H 'Name: value'"))?;
        headers
            .try_append(name.trim().to_string(), value.trim().to_string())
            .map_err(|e| format!("header `{h}`: {e}"))?;
    }
    let mut out = BytesMut::new();
    encode_request_head(
        &Method::GET,
        url.path_and_query(),
        &headers,
        Framing::None,
        &mut out,
    )
    .map_err(|e| format!("cannot encode the request: {e}"))?;
    Ok(out.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("0s").is_err());
        assert!(
            parse_duration("10 parsecs")
                .unwrap_err()
                .contains("unknown unit")
        );
        assert!(parse_duration("fast").unwrap_err().contains("10s"));
    }

    #[test]
    fn the_request_is_a_plain_get() {
        let url = Url::parse("http://127.0.0.1:8080/a?b=1").unwrap();
        let req = encode(&url, &["X-Test: yes".into()]).unwrap();
        assert_eq!(
            &req[..],
            &b"GET /a?b=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: eventide-bench\r\nX-Test: yes\r\n\r\n"[..]
        );
        assert!(encode(&url, &["nocolon".into()]).is_err());
    }
}
