//! `eventide serve [DIR]`: a static file server, like `python -m http.server`.
//!
//! The loop thread only routes: every file-system call (`canonicalize`,
//! `metadata`, `read_dir`, reads) runs on the work pool, and a file's bytes
//! are piped from [`fs::read_stream`] into the response, so a slow client
//! slows the reads down instead of filling memory.

mod files;
mod listing;
mod mime;
mod page;
mod path;
mod range;

use std::cell::Cell;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use bytes::Bytes;
use eventide_http_mini::proto::Method;
use eventide_http_mini::proto::encode::http_date;
use eventide_http_mini::server::{Request, Response, Server, ServerOptions};
use eventide_loop_phases::Loop;
use eventide_streams::fs::{self, ReadOptions};

use crate::cmd::common::{ListenArgs, Started, run_workers, say};
use files::{FileInfo, Resolved};
use range::Plan;

/// `--help` and `-h` both end with these.
macro_rules! examples {
    () => {
        "Examples:\n  \
        eventide serve .                     the current directory on 127.0.0.1:8080\n  \
        eventide serve site --port 0         a free port (the address is printed)\n  \
        eventide serve site --host 0.0.0.0   on every interface\n  \
        eventide serve site --workers 4 -q   4 loops on 4 threads, no access log\n  \
        eventide serve                       the built-in page about Eventide\n  \
        curl -r 0-99 http://127.0.0.1:8080/big.bin   the first 100 bytes (206)"
    };
}

/// What `--help` adds. (The one-line summary comes from `main.rs`; clap
/// lets the subcommand's doc comment there replace a `long_about` here.)
const LONG_HELP: &str = concat!(
    "Like `python -m http.server`. Files are read on the work pool and streamed with \
     backpressure, with Content-Type by extension and Last-Modified. A directory \
     serves its index.html, else a listing (directories first); /dir redirects to \
     /dir/.\n\n\
     Ranges: one range (bytes=a-b, a-, -n) gets 206 with exactly those bytes; a range \
     past the end gets 416; several ranges get the whole file with 200 (allowed by \
     RFC 9110, and simpler than multipart/byteranges).\n\n\
     Safety: paths are percent-decoded once; a `..` segment in any spelling, or a \
     path that leaves DIR through a symlink, gets 403; error bodies never name \
     files. Only GET and HEAD are answered (else 405).\n\n\
     One access-log line per request goes to stdout when its response finishes \
     (-q: none). SIGINT or SIGTERM stops accepting and lets requests in flight \
     finish, for at most 10 s; a second signal stops at once.\n\n",
    examples!()
);

/// Arguments of `eventide serve`.
#[derive(clap::Args, Debug)]
#[command(after_help = examples!(), after_long_help = LONG_HELP)]
pub(crate) struct Args {
    /// Directory to serve; without it, a built-in page about Eventide.
    dir: Option<PathBuf>,
    #[command(flatten)]
    listen: ListenArgs,
    /// Stop accepting past this many open connections (per loop); the rest
    /// wait in the kernel's backlog.
    #[arg(long)]
    max_connections: Option<usize>,
    /// No access log.
    #[arg(long, short)]
    quiet: bool,
}

/// What every request handler on one loop shares.
struct Site {
    /// The canonical directory served, or `None` for the built-in page.
    root: Option<Arc<PathBuf>>,
    /// The built-in page, rendered once.
    page: Bytes,
    log: bool,
    /// This loop's number, logged when there are several.
    worker: Option<usize>,
}

/// Runs `eventide serve`.
pub(crate) fn run(args: Args) -> Result<(), String> {
    let root = match &args.dir {
        Some(dir) => {
            let real = dir.canonicalize().map_err(|e| {
                format!(
                    "cannot serve {}: {e}; give an existing directory",
                    dir.display()
                )
            })?;
            if !real.is_dir() {
                return Err(format!(
                    "cannot serve {}: not a directory; give a directory (its files are served \
                     under /)",
                    dir.display()
                ));
            }
            say(format_args!("serving {}", real.display()));
            Some(Arc::new(real))
        }
        None => {
            say(format_args!(
                "serving the built-in page (give a DIR to serve files)"
            ));
            None
        }
    };
    let (max_connections, log) = (args.max_connections, !args.quiet);
    let several = args.listen.workers > 1;
    let next_worker = Arc::new(AtomicUsize::new(0));
    run_workers(
        &args.listen,
        "eventide serve",
        move |lp, addr, reuse_port| {
            let worker = next_worker.fetch_add(1, Ordering::Relaxed);
            let site = Rc::new(Site {
                root: root.clone(),
                page: Bytes::from(page::render()),
                log,
                worker: several.then_some(worker),
            });
            let options = ServerOptions {
                reuse_port,
                max_connections,
                ..ServerOptions::default()
            };
            let server = Server::listen(lp, addr, options, move |lp, req, res| {
                handle(lp, &site, &req, res);
            })?;
            let addr = server.local_addr(lp).unwrap_or(addr);
            Ok(Started {
                addr,
                shutdown: Box::new(move |lp| server.close(lp, None)),
            })
        },
    )
}

/// One access-log line, printed when the response finished or the
/// connection closed before that.
struct LogLine {
    request: String,
    started: Instant,
    worker: Option<usize>,
    head: bool,
    status: Cell<u16>,
    /// Body bytes the response carries (0 for HEAD).
    bytes: Cell<u64>,
}

impl LogLine {
    /// The request's line, registered to print on `finish` or `close`.
    /// The peer address is not in it: http-mini's `Request` does not expose
    /// it.
    fn start(lp: &mut Loop, site: &Site, req: &Request, res: Response) -> Rc<LogLine> {
        let line = Rc::new(LogLine {
            request: format!("{} {} {}", req.method(), req.target(), req.version()),
            started: Instant::now(),
            worker: site.worker,
            head: req.method().is_head(),
            status: Cell::new(0),
            bytes: Cell::new(0),
        });
        if site.log {
            let l = Rc::clone(&line);
            res.on_finish(lp, move |_| l.print(None));
            let l = Rc::clone(&line);
            res.on_close(lp, move |_| l.print(Some("(connection closed early)")));
        }
        line
    }

    fn set(&self, status: u16, bytes: u64) {
        self.status.set(status);
        self.bytes.set(if self.head { 0 } else { bytes });
    }

    fn print(&self, note: Option<&str>) {
        let ms = self.started.elapsed().as_secs_f64() * 1000.0;
        let bytes = match note {
            Some(_) => "-".to_string(),
            None => self.bytes.get().to_string(),
        };
        let mut out = format!(
            "\"{}\" {} {bytes} {ms:.1}ms",
            self.request,
            self.status.get()
        );
        if let Some(note) = note {
            out.push(' ');
            out.push_str(note);
        }
        if let Some(w) = self.worker {
            out.push_str(&format!(" [loop {w}]"));
        }
        say(format_args!("{out}"));
    }
}

fn handle(lp: &mut Loop, site: &Site, req: &Request, res: Response) {
    let log = LogLine::start(lp, site, req, res);
    let head = req.method().is_head();
    if !head && *req.method() != Method::GET {
        let _ = res.set_header(lp, "Allow", "GET, HEAD");
        return text(
            lp,
            res,
            &log,
            405,
            "Method Not Allowed: this server answers GET and HEAD.",
        );
    }
    let segments = match path::segments(req.path()) {
        Ok(s) => s,
        Err(path::Refused::Malformed) => {
            return text(lp, res, &log, 400, "Bad Request: malformed path.");
        }
        Err(path::Refused::Traversal) => return forbidden(lp, res, &log),
    };
    let Some(root) = site.root.clone() else {
        if !segments.is_empty() {
            return not_found(lp, res, &log);
        }
        log.set(200, site.page.len() as u64);
        let _ = res.set_header(lp, "Content-Type", "text/html; charset=utf-8");
        return res.end(lp, Some(site.page.clone()));
    };
    let ask = Ask {
        head,
        path: req.path().to_string(),
        query: req.query().map(str::to_string),
        range: req.headers().get_str("range").map(str::to_string),
        if_modified_since: req
            .headers()
            .get_str("if-modified-since")
            .map(str::to_string),
    };
    let trailing_slash = ask.path.ends_with('/');
    lp.spawn_blocking(
        move || files::resolve(&root, &segments, trailing_slash),
        move |lp, resolved| match resolved {
            Ok(Resolved::File(file)) => send_file(lp, res, &log, &ask, file),
            Ok(Resolved::Listing(entries)) => {
                let html = listing::render(&ask.path, &entries);
                log.set(200, html.len() as u64);
                let _ = res.set_header(lp, "Content-Type", "text/html; charset=utf-8");
                res.end(lp, Some(Bytes::from(html)));
            }
            Ok(Resolved::AddSlash) => {
                let location = match &ask.query {
                    Some(q) => format!("{}/?{q}", ask.path),
                    None => format!("{}/", ask.path),
                };
                let _ = res.set_header(lp, "Location", location.clone());
                text(
                    lp,
                    res,
                    &log,
                    301,
                    "Moved Permanently: a directory's URL ends with /.",
                );
            }
            Ok(Resolved::NotFound) => not_found(lp, res, &log),
            Ok(Resolved::Forbidden) => forbidden(lp, res, &log),
            Err(_) => text(lp, res, &log, 500, "Internal Server Error."),
        },
    );
}

/// The parts of a request a file response needs, owned, for after the
/// work pool answered.
struct Ask {
    head: bool,
    path: String,
    query: Option<String>,
    range: Option<String>,
    if_modified_since: Option<String>,
}

fn send_file(lp: &mut Loop, res: Response, log: &Rc<LogLine>, ask: &Ask, file: FileInfo) {
    let size = file.len;
    let last_modified = file
        .modified
        .map(|t| String::from_utf8_lossy(&http_date(t)).into_owned());
    if let Some(lm) = &last_modified {
        let _ = res.set_header(lp, "Last-Modified", lm.clone());
        // The exact date we sent before: unchanged since (to the second).
        // Any other date is answered in full, which is always correct.
        if ask.if_modified_since.as_deref().map(str::trim) == Some(lm.as_str()) {
            log.set(304, 0);
            res.set_status(lp, 304);
            // The length a 200 would have (RFC 9110 §8.6); no body follows.
            let _ = res.set_header(lp, "Content-Length", size.to_string());
            return res.end(lp, None);
        }
    }
    let _ = res.set_header(lp, "Accept-Ranges", "bytes");
    // Range is defined for GET only (RFC 9110 §14.2).
    let plan = if ask.head {
        Plan::Full
    } else {
        range::plan(ask.range.as_deref(), size)
    };
    let (status, start, len) = match plan {
        Plan::Full => (200, 0, size),
        Plan::Part { start, end } => {
            let _ = res.set_header(lp, "Content-Range", format!("bytes {start}-{end}/{size}"));
            (206, start, end - start + 1)
        }
        Plan::Unsatisfiable => {
            let _ = res.set_header(lp, "Content-Range", format!("bytes */{size}"));
            return text(lp, res, log, 416, "Range Not Satisfiable.");
        }
    };
    res.set_status(lp, status);
    let _ = res.set_header(lp, "Content-Type", mime::content_type(&file.path));
    let _ = res.set_header(lp, "Content-Length", len.to_string());
    log.set(status, len);
    if ask.head || len == 0 {
        return res.end(lp, None);
    }
    let options = ReadOptions {
        start,
        end: Some(start + len - 1),
        ..ReadOptions::default()
    };
    let src = fs::read_stream(lp, file.path, options);
    let dst = res.writable(lp);
    src.pipe(lp, dst);
    // A client that goes away: stop reading and release the file.
    res.on_close(lp, move |lp| src.destroy(lp, None));
    let log = Rc::clone(log);
    src.on_error(lp, move |lp, _| {
        if res.headers_sent(lp) {
            // The head promised more bytes than can come: ending short makes
            // the server close the connection, so the client sees the cut.
            dst.destroy(lp, None);
            res.end(lp, None);
        } else {
            dst.destroy(lp, None);
            text(
                lp,
                res,
                &log,
                500,
                "Internal Server Error: the file could not be read.",
            );
        }
    });
}

/// A short plain-text response. Bodies never name file-system paths.
fn text(lp: &mut Loop, res: Response, log: &LogLine, status: u16, body: &str) {
    let body = format!("{status} {body}\n");
    log.set(status, body.len() as u64);
    res.set_status(lp, status);
    let _ = res.set_header(lp, "Content-Type", "text/plain; charset=utf-8");
    let _ = res.set_header(lp, "Content-Length", body.len().to_string());
    let _ = res.set_header(lp, "X-Content-Type-Options", "nosniff");
    res.end(lp, Some(Bytes::from(body)));
}

fn not_found(lp: &mut Loop, res: Response, log: &LogLine) {
    text(lp, res, log, 404, "Not Found.");
}

fn forbidden(lp: &mut Loop, res: Response, log: &LogLine) {
    text(lp, res, log, 403, "Forbidden.");
}
