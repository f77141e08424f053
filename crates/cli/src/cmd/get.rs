//! `eventide get URL`: an HTTP client, like curl.
//!
//! The response body is piped into its destination (stdout, or a file) so
//! the stream rules hold end to end: while the destination lags, the body
//! stream pauses, the client stops reading the socket, and TCP slows the
//! server down. Both destinations write on the work pool, because a pipe or
//! a disk can block and the loop must not.

use std::cell::{Cell, RefCell};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use eventide_http_mini::client::{
    self, ClientError, ClientResponse, RequestOptions, TimeoutKind, Url,
};
use eventide_http_mini::proto::{BodyKind, Method};
use eventide_loop_phases::{Loop, RunMode, Timer};
use eventide_streams::fs::{self, ReadOptions, WriteOptions};
use eventide_streams::{Sink, StreamError, StreamOptions, Writable, WriteStatus};

/// The exit status of `--fail` on an HTTP error, as curl's.
const EXIT_HTTP_ERROR: i32 = 22;

/// Bodies above this size (or of unknown size) get a progress bar.
const PROGRESS_ABOVE: u64 = 1024 * 1024;

/// How often the progress bar is redrawn: often enough to look alive,
/// rarely enough to cost nothing.
const PROGRESS_EVERY: Duration = Duration::from_millis(100);

/// `--help` and `-h` both end with these.
macro_rules! examples {
    () => {
        "Examples:\n  \
        eventide get http://127.0.0.1:8080/      body to stdout\n  \
        eventide get -i URL                      status line and headers, then the body\n  \
        eventide get -I URL                      HEAD: the head only\n  \
        eventide get -o big.iso URL              to a file, with a progress bar\n  \
        eventide get -H 'Range: bytes=0-99' URL  any request header (repeat -H for more)\n  \
        eventide get -d @a.json -H 'Content-Type: application/json' URL\n  \
        \x20                                        POST a file, streamed\n  \
        eventide get -f URL || echo $?           22 on a 4xx or 5xx"
    };
}

/// What `--help` adds. (The one-line summary comes from `main.rs`; clap
/// lets the subcommand's doc comment there replace a `long_about` here.)
const LONG_HELP: &str = concat!(
    "The body goes to stdout (binary-safe) or to a file with -o, with backpressure: \
     while the output lags, the body is paused and TCP slows the server down. A \
     progress bar is drawn on stderr when it is a terminal, the body is over 1 MiB or \
     of unknown length, and the body does not go to that same terminal (-s: never).\n\n\
     Exit status: 0 when a response arrived, whatever its status (a 4xx or 5xx body is \
     printed too), as curl does; with --fail, 22 for a status of 400 or above, and the \
     body is not printed. 1 when no complete response arrived: connection refused, a \
     timeout, a connection cut mid-body, an output that cannot be written.\n\n",
    examples!()
);

/// Arguments of `eventide get`.
#[derive(clap::Args, Debug)]
#[command(after_help = examples!(), after_long_help = LONG_HELP)]
pub(crate) struct Args {
    /// The URL to fetch (http:// only).
    url: String,
    /// Write the body to FILE instead of stdout (created or truncated when
    /// the response arrives).
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Print the response head (status line and headers) before the body.
    #[arg(short, long)]
    include: bool,
    /// Send HEAD and print the response head only.
    #[arg(short = 'I', long, conflicts_with_all = ["data", "request"])]
    head: bool,
    /// The request method (default GET, or POST with --data).
    #[arg(short = 'X', long, value_name = "METHOD")]
    request: Option<String>,
    /// A request header, as 'Name: value'; repeat for more.
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    headers: Vec<String>,
    /// Send DATA as the request body, as is (POST unless -X says otherwise);
    /// @FILE streams the file instead.
    #[arg(short, long, visible_alias = "data-binary", value_name = "DATA")]
    data: Option<String>,
    /// Exit with status 22, printing no body, when the status is 400 or
    /// above.
    #[arg(short, long)]
    fail: bool,
    /// Never draw the progress bar.
    #[arg(short, long)]
    silent: bool,
    /// Give up if the connection is not established within this many
    /// milliseconds.
    #[arg(long, value_name = "MS")]
    connect_timeout_ms: Option<u64>,
    /// Give up if the whole exchange, body included, takes longer than this
    /// many milliseconds.
    #[arg(long, value_name = "MS")]
    timeout_ms: Option<u64>,
}

/// What the callbacks share: the options they need and how it went.
struct Ctx {
    url: Url,
    file: Option<PathBuf>,
    include: bool,
    fail: bool,
    show_progress: bool,
    connect_timeout_ms: Option<u64>,
    /// The first error; later ones are consequences of it.
    error: RefCell<Option<String>>,
    /// `--fail` and a status of 400 or above: the status line.
    http_error: RefCell<Option<String>>,
    /// The body was written out completely.
    done: Cell<bool>,
    /// `--timeout-ms` passed.
    timed_out: Cell<bool>,
    progress: RefCell<Option<Progress>>,
}

impl Ctx {
    fn fail(&self, message: String) {
        let mut e = self.error.borrow_mut();
        if e.is_none() {
            *e = Some(message);
        }
    }

    fn clear_progress(&self, lp: &mut Loop) {
        let p = self.progress.borrow_mut().take();
        if let Some(p) = p {
            p.clear(lp);
        }
    }
}

/// Runs `eventide get`.
pub(crate) fn run(args: Args) -> Result<(), String> {
    let url = Url::parse(&args.url).map_err(|e| format!("{}: {e}", args.url))?;
    let options = request_options(&args, &url)?;
    let mut lp = Loop::try_new().map_err(|e| format!("creating the loop: {e}"))?;
    let ctx = Rc::new(Ctx {
        url,
        file: args.output.clone(),
        include: args.include || args.head,
        fail: args.fail,
        show_progress: !args.silent
            && std::io::stderr().is_terminal()
            && (args.output.is_some() || !std::io::stdout().is_terminal()),
        connect_timeout_ms: args.connect_timeout_ms,
        error: RefCell::new(None),
        http_error: RefCell::new(None),
        done: Cell::new(false),
        timed_out: Cell::new(false),
        progress: RefCell::new(None),
    });

    let c = Rc::clone(&ctx);
    let req = client::request(&mut lp, options, move |lp, res| match res {
        Ok(res) => deliver(lp, &c, res),
        Err(e) => c.fail(describe(&e, &c)),
    });
    match args.data.as_deref() {
        None => req.end(&mut lp, None),
        Some(data) => match data.strip_prefix('@') {
            Some(path) => {
                let src = fs::read_stream(&mut lp, path, ReadOptions::default());
                let (c, path) = (Rc::clone(&ctx), path.to_string());
                src.on_error(&mut lp, move |lp, e| {
                    c.fail(format!("cannot read {path} for --data: {e}"));
                    req.abort(lp);
                });
                src.pipe(&mut lp, req.writable());
            }
            None => req.end(&mut lp, Some(Bytes::from(data.to_string()))),
        },
    }
    if let Some(ms) = args.timeout_ms {
        let c = Rc::clone(&ctx);
        let t = lp.set_timeout(Duration::from_millis(ms), move |lp| {
            if !c.done.get() {
                c.timed_out.set(true);
                c.fail(format!(
                    "timed out after {ms} ms (--timeout-ms): the exchange did not finish in \
                     time; raise --timeout-ms or check the server"
                ));
                req.abort(lp);
            }
        });
        // The deadline alone does not keep the loop alive.
        lp.unref_handle(t);
    }

    lp.run(RunMode::Default);
    ctx.clear_progress(&mut lp);

    if let Some(e) = ctx.error.borrow_mut().take() {
        return Err(e);
    }
    if let Some(status) = ctx.http_error.borrow_mut().take() {
        // `run` returns only 0 or 1 to `main`; curl's 22 needs an exit here.
        eprintln!("eventide: the server answered {status} (exit {EXIT_HTTP_ERROR}: --fail)");
        let _ = std::io::stdout().flush();
        std::process::exit(EXIT_HTTP_ERROR);
    }
    if !ctx.done.get() {
        return Err("the exchange stopped before the response was complete".to_string());
    }
    Ok(())
}

/// The request: method, headers, deadlines.
fn request_options(args: &Args, url: &Url) -> Result<RequestOptions, String> {
    let method = match (&args.request, args.head, &args.data) {
        (Some(m), _, _) => Method::from_bytes(m.as_bytes())
            .map_err(|_| format!("invalid method {m:?}: use a token such as GET, PUT, DELETE"))?,
        (None, true, _) => Method::HEAD,
        (None, false, Some(_)) => Method::POST,
        (None, false, None) => Method::GET,
    };
    let mut options = RequestOptions::new(method, url.clone());
    for h in &args.headers {
        let (name, value) = h
            .split_once(':')
            .ok_or_else(|| format!("invalid header {h:?}: write it as -H 'Name: value'"))?;
        options
            .headers
            .try_append(
                Bytes::from(name.trim().to_string()),
                Bytes::from(value.trim().to_string()),
            )
            .map_err(|e| format!("invalid header {h:?}: {e}"))?;
    }
    if !options.headers.contains("user-agent") {
        options.headers.append(
            "User-Agent",
            concat!("eventide/", env!("CARGO_PKG_VERSION")),
        );
    }
    if !options.headers.contains("accept") {
        options.headers.append("Accept", "*/*");
    }
    if let Some(ms) = args.connect_timeout_ms {
        options = options.connect_timeout(Duration::from_millis(ms));
    }
    Ok(options)
}

/// The response head arrived: pipe the body into the output.
fn deliver(lp: &mut Loop, ctx: &Rc<Ctx>, res: ClientResponse) {
    let body = res.body();
    if ctx.fail && res.status() >= 400 {
        *ctx.http_error.borrow_mut() = Some(format!("{} {}", res.status(), res.reason()));
        body.destroy(lp, None);
        return;
    }
    let sink = match &ctx.file {
        Some(path) => fs::write_stream(lp, path.clone(), WriteOptions::default()),
        None => Writable::new(lp, StdoutSink, StreamOptions::default().label("stdout")),
    };
    let dest = ctx.file.as_ref().map(|p| p.display().to_string());
    let c = Rc::clone(ctx);
    sink.on_error(lp, move |lp, e| {
        c.fail(match &dest {
            Some(p) => {
                format!("cannot write to {p}: {e}; check that its directory exists and is writable")
            }
            None => format!("cannot write to stdout: {e}; the reader of the output went away"),
        });
        body.destroy(lp, None);
    });
    if ctx.include {
        sink.write(lp, head_text(&res));
    }

    let total = match res.head().body {
        BodyKind::Length(n) => Some(n),
        BodyKind::Empty => Some(0),
        BodyKind::Chunked | BodyKind::UntilClose => None,
    };
    if ctx.show_progress && total.is_none_or(|n| n > PROGRESS_ABOVE) {
        let c = Rc::clone(ctx);
        let timer = lp.set_interval(PROGRESS_EVERY, move |_| {
            if let Some(p) = c.progress.borrow().as_ref() {
                eprint!("\r{}\x1b[K", p.line());
                let _ = std::io::stderr().flush();
            }
        });
        // The bar alone does not keep the loop alive.
        lp.unref_handle(timer);
        *ctx.progress.borrow_mut() = Some(Progress {
            total,
            got: 0,
            started: Instant::now(),
            timer,
        });
        let c = Rc::clone(ctx);
        body.on_data(lp, move |_, chunk| {
            if let Some(p) = c.progress.borrow_mut().as_mut() {
                p.got += chunk.len() as u64;
            }
        });
    }

    let c = Rc::clone(ctx);
    body.on_error(lp, move |_, e| {
        c.fail(match e {
            StreamError::PrematureClose => "the server closed the connection before the end of \
                 the body; the output is incomplete (retry, or check the server's log)"
                .to_string(),
            e => format!("the body was cut off: {e}; the output is incomplete"),
        });
    });
    let c = Rc::clone(ctx);
    sink.on_finish(lp, move |lp| {
        c.done.set(true);
        c.clear_progress(lp);
    });
    body.pipe(lp, sink);
}

/// The status line and header fields, as received, for `-i`.
fn head_text(res: &ClientResponse) -> Bytes {
    let mut b = BytesMut::with_capacity(256);
    b.put_slice(res.version().as_str().as_bytes());
    b.put_slice(format!(" {} {}\r\n", res.status(), res.reason()).as_bytes());
    for (name, value) in res.headers() {
        b.put_slice(name);
        b.put_slice(b": ");
        b.put_slice(value);
        b.put_slice(b"\r\n");
    }
    b.put_slice(b"\r\n");
    b.freeze()
}

/// A client error as a sentence that says what to do.
fn describe(e: &ClientError, ctx: &Ctx) -> String {
    let at = ctx.url.authority();
    match e {
        // Our own deadline aborted the request: `fail` already said so.
        ClientError::Aborted if ctx.timed_out.get() => String::new(),
        ClientError::Connect(std::io::ErrorKind::ConnectionRefused) => format!(
            "connection refused: is a server listening on {at}? (start one with \
             `eventide serve --port {}`)",
            ctx.url.port()
        ),
        ClientError::Timeout {
            what: TimeoutKind::Connect,
        } => format!(
            "could not connect to {at} within {} ms: is the host up and the port open? (or \
             raise --connect-timeout-ms)",
            ctx.connect_timeout_ms.unwrap_or(0)
        ),
        e => format!("{at}: {e}"),
    }
}

/// Writes to stdout on the work pool, so a full pipe blocks a pool thread,
/// not the loop. The stream hands over one write at a time, so bytes keep
/// their order.
struct StdoutSink;

impl Sink<Bytes> for StdoutSink {
    fn write(&mut self, lp: &mut Loop, stream: Writable<Bytes>, chunk: Bytes) -> WriteStatus {
        self.writev(lp, stream, vec![chunk])
    }

    fn accepts_batches(&self) -> bool {
        true
    }

    fn writev(
        &mut self,
        lp: &mut Loop,
        stream: Writable<Bytes>,
        chunks: Vec<Bytes>,
    ) -> WriteStatus {
        lp.spawn_blocking(
            move || {
                let mut out = std::io::stdout().lock();
                for c in &chunks {
                    out.write_all(c)?;
                }
                out.flush()
            },
            move |lp, result| {
                let result = match result {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(e.into()),
                    Err(e) => Err(StreamError::other(e.to_string())),
                };
                stream.complete_write(lp, result);
            },
        );
        WriteStatus::Pending
    }
}

/// The progress bar on stderr.
struct Progress {
    total: Option<u64>,
    got: u64,
    started: Instant,
    timer: Timer,
}

impl Progress {
    fn line(&self) -> String {
        progress_line(self.got, self.total, self.started.elapsed())
    }

    fn clear(self, lp: &mut Loop) {
        lp.clear_interval(self.timer);
        eprint!("\r\x1b[K");
        let _ = std::io::stderr().flush();
    }
}

/// `  3.0 MiB / 12.0 MiB  25% [#####               ]  6.0 MiB/s`, or without
/// the total, percentage and bar when the length is unknown.
fn progress_line(got: u64, total: Option<u64>, elapsed: Duration) -> String {
    const WIDTH: u64 = 20;
    let secs = elapsed.as_secs_f64();
    let rate = if secs > 0.0 { got as f64 / secs } else { 0.0 };
    let rate = size(rate as u64);
    match total {
        Some(total) if total > 0 => {
            let done = got.min(total);
            let filled = (done * WIDTH / total) as usize;
            format!(
                "{:>10} / {}  {:>3}% [{:<width$}]  {rate}/s",
                size(got),
                size(total),
                done * 100 / total,
                "#".repeat(filled),
                width = WIDTH as usize,
            )
        }
        _ => format!("{:>10}  {rate}/s", size(got)),
    }
}

/// `1536` → `1.5 KiB`.
fn size(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_with_and_without_a_length() {
        let mib = 1024 * 1024;
        let line = progress_line(3 * mib, Some(12 * mib), Duration::from_millis(500));
        assert_eq!(
            line,
            "   3.0 MiB / 12.0 MiB   25% [#####               ]  6.0 MiB/s"
        );
        let line = progress_line(1536, None, Duration::from_secs(1));
        assert_eq!(line, "   1.5 KiB  1.5 KiB/s");
        assert!(progress_line(0, Some(0), Duration::ZERO).contains("0 B"));
    }
}
