//! The soak's load: the site it serves, the kinds of request, and the tally
//! that classifies every answer.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::client::{Conn, Fail, Pace, Resp};

/// A kept-alive connection idle longer than this is replaced before use:
/// the server closes idle ones after 5 s, and a request racing that close
/// would be lost by the client's timing, not the server's fault.
const KEPT_IDLE_MAX: Duration = Duration::from_secs(3);
/// The slow reader's pace: 10 KiB every 100 ms (~100 KiB/s)...
const SLOW_PER_TICK: usize = 10 * 1024;
const SLOW_TICK: Duration = Duration::from_millis(100);
/// ...for this long, then the rest at full speed.
const SLOW_FOR: Duration = Duration::from_secs(3);

/// Requests that are not HTTP; each must get `400` and a close.
const GARBAGE: [&[u8]; 8] = [
    b"GET / HTTP/1.1\r\nHost: soak\r\nNo colon here\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: soak\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
    b"\x00\x01\x02garbage\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: soak\r\nContent-Length: abc\r\n\r\n",
    b"G@T / HTTP/1.1\r\n\r\n",
    b"GET / HTTP/1.1\r\nHo st: soak\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: soak\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
];

/// A file of the served directory and its exact bytes.
pub(crate) struct File {
    pub(crate) url: String,
    pub(crate) data: Vec<u8>,
}

/// The served directory's files.
pub(crate) struct Site {
    pub(crate) files: Vec<File>,
    /// The 1 MiB file the slow reader reads.
    pub(crate) big: usize,
}

impl Site {
    /// Writes files of known content and various sizes (1 byte to 1 MiB)
    /// under `dir`, some in subdirectories.
    pub(crate) fn create(dir: &Path) -> std::io::Result<Site> {
        let mut files = Vec::new();
        let sizes = [
            1, 2, 100, 1000, 4095, 4096, 4097, 16_384, 65_535, 65_536, 65_537, 100_000, 262_144,
            500_000, 1_048_576,
        ];
        for size in sizes {
            files.push((format!("f{size}.bin"), size));
        }
        for (name, size) in [
            ("sub/s1.txt", 1),
            ("sub/s7777.txt", 7777),
            ("sub/s131072.txt", 131_072),
            ("sub/deeper/d3000.bin", 3000),
            ("sub/deeper/d1048575.bin", 1_048_575),
        ] {
            files.push((name.to_string(), size));
        }
        let mut site = Site {
            files: Vec::new(),
            big: 0,
        };
        for (i, (name, size)) in files.into_iter().enumerate() {
            let data = pattern(size, i as u64 + 1);
            let path = dir.join(&name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&path, &data)?;
            if size == 1_048_576 {
                site.big = site.files.len();
            }
            site.files.push(File {
                url: format!("/{name}"),
                data,
            });
        }
        Ok(site)
    }
}

/// Deterministic bytes (xorshift), different for every seed.
fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// A small deterministic generator per client thread.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x2545_F491_4F6C_DD1D) | 1)
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }

    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }
}

/// The kinds of request, each counted on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    KeptGet,
    FreshGet,
    Pipelined,
    Head,
    Range,
    Listing,
    ChunkedPost,
    SlowReader,
    ByteAtATime,
    Garbage,
    Reset,
}

impl Kind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::KeptGet => "keep-alive GET",
            Kind::FreshGet => "new-connection GET",
            Kind::Pipelined => "pipelined GET",
            Kind::Head => "HEAD",
            Kind::Range => "Range GET",
            Kind::Listing => "directory listing",
            Kind::ChunkedPost => "chunked POST (405)",
            Kind::SlowReader => "slow reader (1 MiB)",
            Kind::ByteAtATime => "byte-at-a-time head",
            Kind::Garbage => "garbage (400)",
            Kind::Reset => "reset mid-request",
        }
    }

    /// Every kind, in table order.
    pub(crate) const ALL: [Kind; 11] = [
        Kind::KeptGet,
        Kind::FreshGet,
        Kind::Pipelined,
        Kind::Head,
        Kind::Range,
        Kind::Listing,
        Kind::ChunkedPost,
        Kind::SlowReader,
        Kind::ByteAtATime,
        Kind::Garbage,
        Kind::Reset,
    ];

    /// The mix of the general client threads: kind and weight.
    const MIX: [(Kind, usize); 10] = [
        (Kind::KeptGet, 30),
        (Kind::FreshGet, 10),
        (Kind::Pipelined, 8),
        (Kind::Head, 8),
        (Kind::Range, 12),
        (Kind::Listing, 3),
        (Kind::ChunkedPost, 6),
        (Kind::ByteAtATime, 2),
        (Kind::Garbage, 5),
        (Kind::Reset, 4),
    ];
}

/// Counts of one kind.
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct Counts {
    /// Requests sent (for resets: requests cut off).
    pub(crate) sent: u64,
    /// Answered exactly as expected (for resets: cut off as intended).
    pub(crate) exact: u64,
    /// Answered, but not with the expected bytes.
    pub(crate) mismatch: u64,
    /// Not answered: timeout, early close, reset, malformed response.
    pub(crate) error: u64,
}

/// Every request's outcome, by kind, with a few examples of each failure.
#[derive(Default)]
pub(crate) struct Tally {
    pub(crate) counts: BTreeMap<Kind, Counts>,
    /// Failure classes (`kind: class`) and how often.
    pub(crate) classes: BTreeMap<String, u64>,
    pub(crate) samples: Vec<String>,
}

impl Tally {
    fn record(&mut self, kind: Kind, outcome: &Outcome) {
        let c = self.counts.entry(kind).or_default();
        c.sent += 1;
        let (class, detail) = match outcome {
            Outcome::Exact => {
                c.exact += 1;
                return;
            }
            Outcome::Mismatch(m) => {
                c.mismatch += 1;
                ("mismatch", m.clone())
            }
            Outcome::Error(f) => {
                c.error += 1;
                (f.class(), f.to_string())
            }
        };
        *self
            .classes
            .entry(format!("{}: {class}", kind.name()))
            .or_default() += 1;
        if self.samples.len() < 20 {
            self.samples.push(format!("{}: {detail}", kind.name()));
        }
    }
}

/// How one request ended.
pub(crate) enum Outcome {
    Exact,
    Mismatch(String),
    Error(Fail),
}

impl From<Fail> for Outcome {
    fn from(f: Fail) -> Self {
        Outcome::Error(f)
    }
}

/// What the client threads share.
pub(crate) struct Shared {
    pub(crate) addr: SocketAddr,
    pub(crate) site: Site,
    pub(crate) stop: AtomicBool,
    pub(crate) sent: AtomicU64,
    pub(crate) tally: Mutex<Tally>,
    /// The first answer to a chunked POST and to the listing of `/sub/`:
    /// every later one must be the same.
    post_answer: Mutex<Option<String>>,
    listing_answer: Mutex<Option<String>>,
}

impl Shared {
    pub(crate) fn new(addr: SocketAddr, site: Site) -> Shared {
        Shared {
            addr,
            site,
            stop: AtomicBool::new(false),
            sent: AtomicU64::new(0),
            tally: Mutex::new(Tally::default()),
            post_answer: Mutex::new(None),
            listing_answer: Mutex::new(None),
        }
    }

    fn record(&self, kind: Kind, outcome: Outcome) {
        self.sent.fetch_add(1, Ordering::Relaxed);
        if !matches!(outcome, Outcome::Exact) {
            // Counted; and a server that is gone is not hammered in a loop.
            std::thread::sleep(Duration::from_millis(10));
        }
        self.tally
            .lock()
            .expect("tally lock")
            .record(kind, &outcome);
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

/// The first answer recorded in `slot`, or this one if first; whether `got`
/// matches it.
fn same_as_first(slot: &Mutex<Option<String>>, got: &Resp, what: &str) -> Outcome {
    let got = got.normalized();
    let mut first = slot.lock().expect("answer lock");
    match first.as_ref() {
        None => {
            *first = Some(got);
            Outcome::Exact
        }
        Some(f) if *f == got => Outcome::Exact,
        Some(f) => Outcome::Mismatch(format!(
            "{what} answered differently:\nfirst:\n{f}\nnow:\n{got}"
        )),
    }
}

/// One request on a connection, and what it must get.
enum Req {
    Get(usize),
    Head(usize),
    Range(usize, RangeSpec),
}

#[derive(Clone, Copy)]
enum RangeSpec {
    /// `bytes=a-b`
    Closed(usize, usize),
    /// `bytes=a-`
    From(usize),
    /// `bytes=-n`
    Suffix(usize),
}

impl RangeSpec {
    fn random(rng: &mut Rng, len: usize) -> RangeSpec {
        match rng.below(3) {
            0 => {
                let a = rng.below(len);
                let b = rng.range(a, len - 1);
                RangeSpec::Closed(a, b)
            }
            1 => RangeSpec::From(rng.below(len)),
            _ => RangeSpec::Suffix(rng.range(1, len)),
        }
    }

    /// The first and last byte it selects of `len`.
    fn bounds(self, len: usize) -> (usize, usize) {
        match self {
            RangeSpec::Closed(a, b) => (a, b),
            RangeSpec::From(a) => (a, len - 1),
            RangeSpec::Suffix(n) => (len - n, len - 1),
        }
    }

    fn header(self) -> String {
        match self {
            RangeSpec::Closed(a, b) => format!("bytes={a}-{b}"),
            RangeSpec::From(a) => format!("bytes={a}-"),
            RangeSpec::Suffix(n) => format!("bytes=-{n}"),
        }
    }
}

impl Req {
    fn bytes(&self, site: &Site, close: bool) -> Vec<u8> {
        let conn = if close { "Connection: close\r\n" } else { "" };
        let (method, file, extra) = match self {
            Req::Get(f) => ("GET", *f, String::new()),
            Req::Head(f) => ("HEAD", *f, String::new()),
            Req::Range(f, r) => ("GET", *f, format!("Range: {}\r\n", r.header())),
        };
        format!(
            "{method} {} HTTP/1.1\r\nHost: soak\r\n{extra}{conn}\r\n",
            site.files[file].url
        )
        .into_bytes()
    }

    fn is_head(&self) -> bool {
        matches!(self, Req::Head(_))
    }

    /// Compares the response with the file's exact bytes.
    fn check(&self, site: &Site, r: &Resp) -> Outcome {
        let (file, status, want, total) = match *self {
            Req::Get(f) => (f, 200, &site.files[f].data[..], None),
            Req::Head(f) => (f, 200, &[][..], None),
            Req::Range(f, spec) => {
                let data = &site.files[f].data;
                let (a, b) = spec.bounds(data.len());
                (f, 206, &data[a..=b], Some((a, b, data.len())))
            }
        };
        let url = &site.files[file].url;
        if r.status != status {
            return Outcome::Mismatch(format!("{url}: status {} (expected {status})", r.status));
        }
        let len = site.files[file].data.len();
        let want_len = if self.is_head() { len } else { want.len() };
        if r.header("content-length") != Some(&want_len.to_string()) {
            return Outcome::Mismatch(format!(
                "{url}: Content-Length {:?} (expected {want_len})",
                r.header("content-length")
            ));
        }
        if let Some((a, b, total)) = total {
            let want_range = format!("bytes {a}-{b}/{total}");
            if r.header("content-range") != Some(want_range.as_str()) {
                return Outcome::Mismatch(format!(
                    "{url}: Content-Range {:?} (expected {want_range})",
                    r.header("content-range")
                ));
            }
        }
        if r.body != want {
            return Outcome::Mismatch(format!(
                "{url}: body of {} bytes differs from the expected {} bytes",
                r.body.len(),
                want.len()
            ));
        }
        Outcome::Exact
    }
}

/// A general client thread: picks a kind by weight, runs it, records it,
/// until told to stop.
pub(crate) fn worker(shared: &Shared, seed: u64) {
    let mut rng = Rng::new(seed);
    let mut kept: Option<Conn> = None;
    let total: usize = Kind::MIX.iter().map(|(_, w)| w).sum();
    while !shared.stopped() {
        let mut pick = rng.below(total);
        let kind = Kind::MIX
            .iter()
            .find(|(_, w)| {
                if pick < *w {
                    true
                } else {
                    pick -= w;
                    false
                }
            })
            .map_or(Kind::KeptGet, |(k, _)| *k);
        match kind {
            Kind::KeptGet => kept_get(shared, &mut rng, &mut kept),
            Kind::FreshGet => fresh_get(shared, &mut rng),
            Kind::Pipelined => pipelined(shared, &mut rng),
            Kind::Head => {
                let f = rng.below(shared.site.files.len());
                one_on_new(shared, Kind::Head, Req::Head(f));
            }
            Kind::Range => {
                let f = rng.below(shared.site.files.len());
                let spec = RangeSpec::random(&mut rng, shared.site.files[f].data.len());
                one_on_new(shared, Kind::Range, Req::Range(f, spec));
            }
            Kind::Listing => listing(shared),
            Kind::ChunkedPost => chunked_post(shared, &mut rng),
            Kind::ByteAtATime => byte_at_a_time(shared, &mut rng),
            Kind::Garbage => garbage(shared, &mut rng),
            Kind::Reset => reset(shared, &mut rng),
            Kind::SlowReader => {}
        }
    }
}

fn kept_get(shared: &Shared, rng: &mut Rng, kept: &mut Option<Conn>) {
    if kept
        .as_ref()
        .is_some_and(|c| c.last_used.elapsed() > KEPT_IDLE_MAX)
    {
        *kept = None;
    }
    let conn = match kept.take() {
        Some(c) => c,
        None => match Conn::connect(shared.addr) {
            Ok(c) => c,
            Err(f) => return shared.record(Kind::KeptGet, f.into()),
        },
    };
    let mut conn = conn;
    let req = Req::Get(rng.below(shared.site.files.len()));
    let outcome = conn
        .send(&req.bytes(&shared.site, false))
        .and_then(|()| conn.response(false));
    match outcome {
        Ok(r) => {
            let o = req.check(&shared.site, &r);
            if matches!(o, Outcome::Exact) && !r.says_close() {
                *kept = Some(conn);
            }
            shared.record(Kind::KeptGet, o);
        }
        Err(f) => shared.record(Kind::KeptGet, f.into()),
    }
}

/// A request with `Connection: close` on a new connection: answered, then
/// closed by the server.
fn fresh_get(shared: &Shared, rng: &mut Rng) {
    let req = Req::Get(rng.below(shared.site.files.len()));
    let outcome = (|| {
        let mut c = Conn::connect(shared.addr)?;
        c.send(&req.bytes(&shared.site, true))?;
        let r = c.response(false)?;
        let o = req.check(&shared.site, &r);
        if !matches!(o, Outcome::Exact) {
            return Ok(o);
        }
        if !r.says_close() {
            return Ok(Outcome::Mismatch(
                "no `Connection: close` in the answer to one".into(),
            ));
        }
        Ok(match c.closed_within(Duration::from_secs(5))? {
            true => Outcome::Exact,
            false => Outcome::Mismatch("the server kept a `Connection: close` connection".into()),
        })
    })();
    shared.record(Kind::FreshGet, outcome.unwrap_or_else(Outcome::Error));
}

/// One request on a new connection (dropped after).
fn one_on_new(shared: &Shared, kind: Kind, req: Req) {
    let outcome = (|| {
        let mut c = Conn::connect(shared.addr)?;
        c.send(&req.bytes(&shared.site, false))?;
        let r = c.response(req.is_head())?;
        Ok(req.check(&shared.site, &r))
    })();
    shared.record(kind, outcome.unwrap_or_else(Outcome::Error));
}

/// 4–16 requests (GET, some Range and HEAD) in one write; the answers must
/// come in order, each exact.
fn pipelined(shared: &Shared, rng: &mut Rng) {
    let n = rng.range(4, 16);
    let files = shared.site.files.len();
    let reqs: Vec<Req> = (0..n)
        .map(|_| {
            let f = rng.below(files);
            match rng.below(6) {
                0 => Req::Head(f),
                1 => Req::Range(f, RangeSpec::random(rng, shared.site.files[f].data.len())),
                _ => Req::Get(f),
            }
        })
        .collect();
    let mut conn = match Conn::connect(shared.addr) {
        Ok(c) => c,
        Err(f) => {
            for _ in 0..n {
                shared.record(Kind::Pipelined, Outcome::Error(f.clone()));
            }
            return;
        }
    };
    let raw: Vec<u8> = reqs
        .iter()
        .flat_map(|r| r.bytes(&shared.site, false))
        .collect();
    if let Err(f) = conn.send(&raw) {
        for _ in 0..n {
            shared.record(Kind::Pipelined, Outcome::Error(f.clone()));
        }
        return;
    }
    let mut failed: Option<Fail> = None;
    for req in &reqs {
        let outcome = match &failed {
            Some(f) => Outcome::Error(f.clone()),
            None => match conn.response(req.is_head()) {
                Ok(r) => req.check(&shared.site, &r),
                Err(f) => {
                    failed = Some(f.clone());
                    Outcome::Error(f)
                }
            },
        };
        shared.record(Kind::Pipelined, outcome);
    }
}

/// `GET /sub/`: the same listing every time.
fn listing(shared: &Shared) {
    let outcome = (|| {
        let mut c = Conn::connect(shared.addr)?;
        c.send(b"GET /sub/ HTTP/1.1\r\nHost: soak\r\n\r\n")?;
        let r = c.response(false)?;
        if r.status != 200 {
            return Ok(Outcome::Mismatch(format!("listing: status {}", r.status)));
        }
        Ok(same_as_first(&shared.listing_answer, &r, "GET /sub/"))
    })();
    shared.record(Kind::Listing, outcome.unwrap_or_else(Outcome::Error));
}

/// A POST with a chunked body (the server answers 405 for POST): the same
/// answer every time, and the connection then behaves: closed if the answer
/// said so, else it serves the next GET exactly.
fn chunked_post(shared: &Shared, rng: &mut Rng) {
    let f = rng.below(shared.site.files.len());
    let mut raw = format!(
        "POST {} HTTP/1.1\r\nHost: soak\r\nTransfer-Encoding: chunked\r\n\r\n",
        shared.site.files[f].url
    )
    .into_bytes();
    let mut left = rng.below(256 * 1024);
    while left > 0 {
        let n = rng.range(1, 32 * 1024).min(left);
        raw.extend_from_slice(format!("{n:x}\r\n").as_bytes());
        raw.extend(std::iter::repeat_n(b'u', n));
        raw.extend_from_slice(b"\r\n");
        left -= n;
    }
    raw.extend_from_slice(b"0\r\n\r\n");
    let outcome = (|| {
        let mut c = Conn::connect(shared.addr)?;
        c.send(&raw)?;
        let r = c.response(false)?;
        let o = same_as_first(&shared.post_answer, &r, "a chunked POST");
        if !matches!(o, Outcome::Exact) {
            return Ok(o);
        }
        if r.says_close() {
            return Ok(match c.closed_within(Duration::from_secs(5))? {
                true => Outcome::Exact,
                false => Outcome::Mismatch("kept open after `Connection: close`".into()),
            });
        }
        let next = Req::Get(rng.below(shared.site.files.len()));
        c.send(&next.bytes(&shared.site, false))?;
        let r = c.response(false)?;
        Ok(match next.check(&shared.site, &r) {
            Outcome::Exact => Outcome::Exact,
            Outcome::Mismatch(m) => Outcome::Mismatch(format!("the GET after a POST: {m}")),
            e => e,
        })
    })();
    shared.record(Kind::ChunkedPost, outcome.unwrap_or_else(Outcome::Error));
}

/// A GET whose head is sent one byte at a time, 2–8 ms apart (well within
/// the server's headers timeout): answered exactly.
fn byte_at_a_time(shared: &Shared, rng: &mut Rng) {
    let req = Req::Get(rng.below(shared.site.files.len()));
    let raw = req.bytes(&shared.site, false);
    let outcome = (|| {
        let mut c = Conn::connect(shared.addr)?;
        for b in &raw {
            c.send(std::slice::from_ref(b))?;
            std::thread::sleep(Duration::from_millis(rng.range(2, 8) as u64));
        }
        let r = c.response(false)?;
        Ok(req.check(&shared.site, &r))
    })();
    shared.record(Kind::ByteAtATime, outcome.unwrap_or_else(Outcome::Error));
}

/// Bytes that are not a request: `400`, `Connection: close`, then a close.
fn garbage(shared: &Shared, rng: &mut Rng) {
    let raw = GARBAGE[rng.below(GARBAGE.len())];
    let outcome = (|| {
        let mut c = Conn::connect(shared.addr)?;
        c.send(raw)?;
        let r = c.response(false)?;
        if r.status != 400 || !r.says_close() {
            return Ok(Outcome::Mismatch(format!(
                "{:?}: status {} close {} (expected 400 and close)",
                String::from_utf8_lossy(raw),
                r.status,
                r.says_close()
            )));
        }
        Ok(match c.closed_within(Duration::from_secs(5))? {
            true => Outcome::Exact,
            false => Outcome::Mismatch("kept open after a 400".into()),
        })
    })();
    shared.record(Kind::Garbage, outcome.unwrap_or_else(Outcome::Error));
}

/// Half a request (half a head, or a head and half a body), then a reset.
fn reset(shared: &Shared, rng: &mut Rng) {
    let outcome = (|| {
        let c = Conn::connect(shared.addr)?;
        let mut c = c;
        let half: Vec<u8> = if rng.below(2) == 0 {
            b"GET /f100.bin HTTP/1.1\r\nHost: soak\r\nX-Cut: sh".to_vec()
        } else {
            let mut v =
                b"POST /f100.bin HTTP/1.1\r\nHost: soak\r\nContent-Length: 100000\r\n\r\n".to_vec();
            v.extend(std::iter::repeat_n(b'r', rng.range(1, 50_000)));
            v
        };
        c.send(&half)?;
        socket2::SockRef::from(&c.stream)
            .set_linger(Some(Duration::ZERO))
            .map_err(|e| Fail::Io(e.to_string()))?;
        drop(c);
        Ok(Outcome::Exact)
    })();
    shared.record(Kind::Reset, outcome.unwrap_or_else(Outcome::Error));
}

/// The slow-reader thread: reads the 1 MiB file at ~100 KiB/s for 3 s, then
/// at full speed; the body must be exact. The server must hold the rest
/// with bounded memory meanwhile.
pub(crate) fn slow_reader(shared: &Shared) {
    while !shared.stopped() {
        let req = Req::Get(shared.site.big);
        let outcome = (|| {
            let mut c = Conn::connect(shared.addr)?;
            c.send(&req.bytes(&shared.site, false))?;
            c.pace = Some(Pace {
                until: Instant::now() + SLOW_FOR,
                per_tick: SLOW_PER_TICK,
                tick: SLOW_TICK,
            });
            let r = c.response(false)?;
            Ok(req.check(&shared.site, &r))
        })();
        shared.record(Kind::SlowReader, outcome.unwrap_or_else(Outcome::Error));
    }
}

/// One GET on a new connection, checked: the final check after the load.
pub(crate) fn final_get(shared: &Shared) -> Result<(), String> {
    let req = Req::Get(shared.site.big);
    let r = Conn::connect(shared.addr)
        .and_then(|mut c| {
            c.send(&req.bytes(&shared.site, true))?;
            c.response(false)
        })
        .map_err(|f| format!("the final GET failed: {f}"))?;
    match req.check(&shared.site, &r) {
        Outcome::Exact => Ok(()),
        Outcome::Mismatch(m) => Err(format!("the final GET differs: {m}")),
        Outcome::Error(f) => Err(format!("the final GET failed: {f}")),
    }
}
