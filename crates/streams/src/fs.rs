//! File streams on the work pool (Node's `fs.createReadStream` and
//! `fs.createWriteStream`).
//!
//! Files cannot be polled for readiness, so every open, read and write runs on
//! the blocking work pool and completes back on the loop thread, as libuv's
//! `uv_fs_*` do. The streams keep the same backpressure as sockets: the file is
//! read only while the readable side is below its high-water mark, and
//! `write` returns `false` while the pool is behind.

use std::cell::{Cell, OnceCell};
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;

use bytes::Bytes;
use eventide_loop_phases::{Loop, WorkError};

use crate::error::StreamError;
use crate::stream::{Readable, Sink, Source, Stream, StreamOptions, Writable, WriteStatus};

/// Options of [`read_stream`].
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// First byte to read (default 0).
    pub start: u64,
    /// Last byte to read, inclusive, as Node's `end` (default: to the end).
    pub end: Option<u64>,
    /// Bytes per read and the high-water mark (default 64 KiB, as Node).
    pub high_water_mark: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            start: 0,
            end: None,
            high_water_mark: 64 * 1024,
        }
    }
}

/// Options of [`write_stream`].
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    /// Append to the file instead of truncating it (Node's `flags: 'a'`).
    pub append: bool,
    /// The high-water mark (default 64 KiB).
    pub high_water_mark: Option<usize>,
}

fn work_error(e: WorkError) -> StreamError {
    StreamError::other(e.to_string())
}

struct ReadShared {
    file: OnceCell<Arc<File>>,
    offset: Cell<u64>,
    end: Option<u64>,
    /// A read was asked for before the file was open.
    waiting: Cell<Option<usize>>,
}

struct FileSource {
    shared: Rc<ReadShared>,
}

impl Source<Bytes> for FileSource {
    fn read(&mut self, lp: &mut Loop, stream: Readable<Bytes>, size: usize) {
        match self.shared.file.get() {
            Some(_) => issue_read(lp, stream, &self.shared, size),
            None => self.shared.waiting.set(Some(size)),
        }
    }
}

fn issue_read(lp: &mut Loop, stream: Readable<Bytes>, shared: &Rc<ReadShared>, size: usize) {
    let offset = shared.offset.get();
    let left = shared
        .end
        .map_or(u64::MAX, |end| (end + 1).saturating_sub(offset));
    let want = usize::try_from(left).map_or(size, |l| l.min(size));
    if want == 0 {
        stream.push_eof(lp);
        return;
    }
    let file = Arc::clone(shared.file.get().expect("checked open"));
    let shared = Rc::clone(shared);
    lp.spawn_blocking(
        move || -> io::Result<Vec<u8>> {
            let mut buf = vec![0u8; want];
            let n = file.read_at(&mut buf, offset)?;
            buf.truncate(n);
            Ok(buf)
        },
        move |lp, result| match result {
            Ok(Ok(buf)) if buf.is_empty() => stream.push_eof(lp),
            Ok(Ok(buf)) => {
                shared.offset.set(offset + buf.len() as u64);
                stream.push(lp, Bytes::from(buf));
            }
            Ok(Err(e)) => stream.destroy(lp, Some(e.into())),
            Err(e) => stream.destroy(lp, Some(work_error(e))),
        },
    );
}

/// A readable stream of a file's bytes, read on the work pool.
///
/// An open or read error destroys the stream with it (an `error` event).
///
/// ```
/// use eventide_loop_phases::{Loop, RunMode};
/// use eventide_streams::fs::{ReadOptions, read_stream};
///
/// let path = std::env::temp_dir().join(format!("eventide-doc-{}.txt", std::process::id()));
/// std::fs::write(&path, b"0123456789")?;
/// let mut lp = Loop::new();
/// let opts = ReadOptions { start: 2, end: Some(5), ..ReadOptions::default() };
/// let r = read_stream(&mut lp, &path, opts);
/// let got = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
/// let g = got.clone();
/// r.on_data(&mut lp, move |_, b| g.borrow_mut().extend_from_slice(&b));
/// lp.run(RunMode::Default);
/// assert_eq!(&got.borrow()[..], b"2345"); // bytes 2 to 5, inclusive as in Node
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn read_stream(
    lp: &mut Loop,
    path: impl Into<PathBuf>,
    options: ReadOptions,
) -> Readable<Bytes> {
    let shared = Rc::new(ReadShared {
        file: OnceCell::new(),
        offset: Cell::new(options.start),
        end: options.end,
        waiting: Cell::new(None),
    });
    let stream_options = StreamOptions {
        readable_high_water_mark: Some(options.high_water_mark),
        label: "fs.read",
        ..StreamOptions::default()
    };
    let stream = Readable::new(
        lp,
        FileSource {
            shared: Rc::clone(&shared),
        },
        stream_options,
    );
    let path = path.into();
    lp.spawn_blocking(
        move || File::open(path),
        move |lp, result| match result {
            Ok(Ok(file)) => {
                let _ = shared.file.set(Arc::new(file));
                if let Some(size) = shared.waiting.take() {
                    issue_read(lp, stream, &shared, size);
                }
            }
            Ok(Err(e)) => stream.destroy(lp, Some(e.into())),
            Err(e) => stream.destroy(lp, Some(work_error(e))),
        },
    );
    stream
}

struct WriteShared {
    file: OnceCell<Arc<File>>,
    offset: Cell<u64>,
    /// Writes handed over before the file was open.
    waiting: Cell<Option<Vec<Bytes>>>,
}

struct FileSink {
    shared: Rc<WriteShared>,
}

impl Sink<Bytes> for FileSink {
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
        match self.shared.file.get() {
            Some(_) => issue_write(lp, stream, &self.shared, chunks),
            None => self.shared.waiting.set(Some(chunks)),
        }
        WriteStatus::Pending
    }
}

fn issue_write(
    lp: &mut Loop,
    stream: Writable<Bytes>,
    shared: &Rc<WriteShared>,
    chunks: Vec<Bytes>,
) {
    let file = Arc::clone(shared.file.get().expect("checked open"));
    let offset = shared.offset.get();
    let shared = Rc::clone(shared);
    lp.spawn_blocking(
        move || -> io::Result<u64> {
            let mut at = offset;
            for c in &chunks {
                file.write_all_at(c, at)?;
                at += c.len() as u64;
            }
            Ok(at)
        },
        move |lp, result| match result {
            Ok(Ok(at)) => {
                shared.offset.set(at);
                stream.complete_write(lp, Ok(()));
            }
            Ok(Err(e)) => stream.complete_write(lp, Err(e.into())),
            Err(e) => stream.complete_write(lp, Err(work_error(e))),
        },
    );
}

/// A writable stream into a file (created, and truncated unless
/// `append`), written on the work pool.
///
/// An open or write error destroys the stream with it.
pub fn write_stream(
    lp: &mut Loop,
    path: impl Into<PathBuf>,
    options: WriteOptions,
) -> Writable<Bytes> {
    let shared = Rc::new(WriteShared {
        file: OnceCell::new(),
        offset: Cell::new(0),
        waiting: Cell::new(None),
    });
    let stream_options = StreamOptions {
        writable_high_water_mark: options.high_water_mark,
        label: "fs.write",
        ..StreamOptions::default()
    };
    let stream = Writable::new(
        lp,
        FileSink {
            shared: Rc::clone(&shared),
        },
        stream_options,
    );
    let path = path.into();
    let append = options.append;
    lp.spawn_blocking(
        move || -> io::Result<(File, u64)> {
            let file = OpenOptions::new()
                .write(true)
                .create(true)
                .append(append)
                .truncate(!append)
                .open(path)?;
            let len = if append { file.metadata()?.len() } else { 0 };
            Ok((file, len))
        },
        move |lp, result| match result {
            Ok(Ok((file, len))) => {
                let _ = shared.file.set(Arc::new(file));
                shared.offset.set(len);
                if let Some(chunks) = shared.waiting.take() {
                    issue_write(lp, stream, &shared, chunks);
                }
            }
            Ok(Err(e)) => Stream::destroy(stream, lp, Some(e.into())),
            Err(e) => Stream::destroy(stream, lp, Some(work_error(e))),
        },
    );
    stream
}
