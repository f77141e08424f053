//! The blocking work pool (libuv's threadpool behind `uv_queue_work`,
//! `getaddrinfo` and file operations).
//!
//! A fixed set of threads takes jobs from one FIFO queue. A job's result goes
//! back to the loop that submitted it through that loop's [`Remote`], so it is
//! delivered on the loop thread. The process-wide pool ([`WorkPool::global`])
//! has 4 threads unless `EVENTIDE_THREADPOOL_SIZE` says otherwise (libuv's
//! `UV_THREADPOOL_SIZE`, clamped to 1..=1024 the same way); its threads start
//! on first use.
//!
//! ```
//! use eventide_reactor::{Reactor, WorkPool};
//! use std::time::Duration;
//!
//! let mut reactor: Reactor<()> = Reactor::new()?;
//! let pool = WorkPool::new(2);
//! pool.submit(reactor.remote(), 7, Box::new(|| Box::new(6 * 7)));
//!
//! let mut done = Vec::new();
//! while done.is_empty() {
//!     reactor.poll(Some(Duration::from_secs(5)), &mut Vec::new())?;
//!     reactor.remote().take_completions(&mut done);
//! }
//! let answer = done[0].result.as_ref().unwrap().downcast_ref::<i32>();
//! assert_eq!((done[0].key, answer), (7, Some(&42)));
//! # Ok::<(), std::io::Error>(())
//! ```

use std::any::Any;
use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, OnceLock};
use std::thread;

use parking_lot::{Condvar, Mutex};

use crate::remote::Remote;

/// Work to run on a pool thread; it returns a boxed value for the loop thread.
pub type Work = Box<dyn FnOnce() -> Box<dyn Any + Send> + Send>;

/// Default number of pool threads, as libuv.
pub const DEFAULT_THREADS: usize = 4;
/// Largest accepted `EVENTIDE_THREADPOOL_SIZE`, as libuv's `MAX_THREADPOOL_SIZE`.
pub const MAX_THREADS: usize = 1024;

struct Job {
    key: u64,
    remote: Remote,
    work: Work,
}

struct Queue {
    jobs: VecDeque<Job>,
    shutdown: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    ready: Condvar,
}

/// A pool of threads for blocking work. See the module docs.
pub struct WorkPool {
    shared: Arc<Shared>,
    threads: usize,
    started: OnceLock<Vec<thread::JoinHandle<()>>>,
}

impl std::fmt::Debug for WorkPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkPool")
            .field("threads", &self.threads)
            .field("queued", &self.queued())
            .finish()
    }
}

impl WorkPool {
    /// A pool of `threads` threads (at least one), started on first submit.
    pub fn new(threads: usize) -> Self {
        WorkPool {
            shared: Arc::new(Shared {
                queue: Mutex::new(Queue {
                    jobs: VecDeque::new(),
                    shutdown: false,
                }),
                ready: Condvar::new(),
            }),
            threads: threads.clamp(1, MAX_THREADS),
            started: OnceLock::new(),
        }
    }

    /// The process-wide pool, sized by `EVENTIDE_THREADPOOL_SIZE` (default 4).
    pub fn global() -> &'static WorkPool {
        static GLOBAL: OnceLock<WorkPool> = OnceLock::new();
        GLOBAL.get_or_init(|| {
            WorkPool::new(threads_from_env(
                std::env::var("EVENTIDE_THREADPOOL_SIZE").ok(),
            ))
        })
    }

    /// Number of threads in the pool.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Jobs waiting for a thread.
    pub fn queued(&self) -> usize {
        self.shared.queue.lock().jobs.len()
    }

    /// Queues `work`; when it has run, its result is delivered to `remote` as a
    /// [`crate::Completion`] with `key`. A panic in `work` is caught and
    /// delivered as the completion's `Err`.
    pub fn submit(&self, remote: &Remote, key: u64, work: Work) {
        self.start_threads();
        self.shared.queue.lock().jobs.push_back(Job {
            key,
            remote: remote.clone(),
            work,
        });
        self.shared.ready.notify_one();
    }

    /// Removes a job that no thread has started (libuv's `uv_cancel`). Returns
    /// whether it was removed; a removed job never runs and is not delivered.
    pub fn cancel(&self, remote: &Remote, key: u64) -> bool {
        let mut q = self.shared.queue.lock();
        match q
            .jobs
            .iter()
            .position(|j| j.key == key && j.remote.same_reactor(remote))
        {
            Some(i) => {
                q.jobs.remove(i);
                true
            }
            None => false,
        }
    }

    fn start_threads(&self) {
        self.started.get_or_init(|| {
            (0..self.threads)
                .map(|n| {
                    let shared = Arc::clone(&self.shared);
                    thread::Builder::new()
                        .name(format!("eventide-pool-{n}"))
                        .spawn(move || worker(&shared))
                        .expect("spawning a work-pool thread")
                })
                .collect()
        });
    }
}

impl Drop for WorkPool {
    fn drop(&mut self) {
        self.shared.queue.lock().shutdown = true;
        self.shared.ready.notify_all();
        if let Some(threads) = self.started.take() {
            for t in threads {
                let _ = t.join();
            }
        }
    }
}

fn worker(shared: &Shared) {
    loop {
        let job = {
            let mut q = shared.queue.lock();
            loop {
                if let Some(job) = q.jobs.pop_front() {
                    break job;
                }
                if q.shutdown {
                    return;
                }
                shared.ready.wait(&mut q);
            }
        };
        let result = catch_unwind(AssertUnwindSafe(job.work));
        job.remote.complete(job.key, result);
    }
}

/// Parses `EVENTIDE_THREADPOOL_SIZE` as libuv parses `UV_THREADPOOL_SIZE`:
/// a number clamped to 1..=1024. Absent or unparsable means the default
/// (unlike libuv, whose `atoi` reads an unparsable value as 0, so 1 thread).
fn threads_from_env(value: Option<String>) -> usize {
    value
        .and_then(|v| v.trim().parse::<usize>().ok())
        .map(|n| n.clamp(1, MAX_THREADS))
        .unwrap_or(DEFAULT_THREADS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_size_parsing() {
        assert_eq!(threads_from_env(None), 4);
        assert_eq!(threads_from_env(Some("8".into())), 8);
        assert_eq!(threads_from_env(Some("0".into())), 1);
        assert_eq!(threads_from_env(Some("99999".into())), 1024);
        assert_eq!(threads_from_env(Some("lots".into())), 4);
    }
}
