//! [`Agent`]: the keep-alive connection pool (Node's `http.Agent`).
//!
//! Per `(host, port)` an agent keeps a [`HostPool`]: the number of open
//! connections, the idle ones (most recently used last, and reused first:
//! Node's `scheduling: 'lifo'`, which lets the others time out), and the
//! requests waiting for a connection, oldest first.
//!
//! - A request takes an idle connection if there is one; else it opens a
//!   new one if fewer than [`AgentOptions::max_sockets_per_host`] are open;
//!   else it waits in the FIFO queue.
//! - A connection whose response ended cleanly with keep-alive goes to the
//!   first waiting request, or becomes idle: unreferenced (it never keeps
//!   the loop alive) and closed after [`AgentOptions::keep_alive_idle`].
//! - A connection that closes, errors, or whose response says it cannot be
//!   reused is forgotten, and a waiting request may open a new one.

use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use eventide_loop_phases::Loop;
use eventide_reactor::slab::Key;

use super::conn;
use super::request;
use super::state::{ClientState, conn as conn_entry, req, state};

/// The default for [`AgentOptions::max_sockets_per_host`]. Node's default is
/// unbounded; a finite bound keeps one busy host from using every
/// descriptor.
pub const DEFAULT_MAX_SOCKETS_PER_HOST: usize = 256;

/// The default for [`AgentOptions::max_idle_per_host`] (Node's
/// `maxFreeSockets`).
pub const DEFAULT_MAX_IDLE_PER_HOST: usize = 256;

/// The default for [`AgentOptions::keep_alive_idle`]: 5 s, below the 5 s to
/// 60 s idle timeouts of common servers' defaults (Node's server: 5 s), so
/// the client usually closes first.
pub const DEFAULT_KEEP_ALIVE_IDLE: Duration = Duration::from_secs(5);

/// How an [`Agent`] pools connections. `Default` gives the defaults listed
/// on each field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AgentOptions {
    /// Keep connections open for reuse (default `true`, Node 19+). With
    /// `false`, every request sends `Connection: close` and gets its own
    /// connection.
    pub keep_alive: bool,
    /// The most connections open to one `(host, port)`, busy or idle
    /// (default [`DEFAULT_MAX_SOCKETS_PER_HOST`]); more requests wait in a
    /// FIFO queue. A value of 0 is treated as 1.
    pub max_sockets_per_host: usize,
    /// The most idle connections kept per `(host, port)` (default
    /// [`DEFAULT_MAX_IDLE_PER_HOST`]); a connection freed beyond it is closed.
    pub max_idle_per_host: usize,
    /// How long an idle connection is kept before it is closed (default
    /// [`DEFAULT_KEEP_ALIVE_IDLE`]).
    pub keep_alive_idle: Duration,
    /// Set `TCP_NODELAY` on new connections (default `true`, as Node): a
    /// request head is not held back by Nagle's algorithm.
    pub no_delay: bool,
}

impl Default for AgentOptions {
    fn default() -> Self {
        AgentOptions {
            keep_alive: true,
            max_sockets_per_host: DEFAULT_MAX_SOCKETS_PER_HOST,
            max_idle_per_host: DEFAULT_MAX_IDLE_PER_HOST,
            keep_alive_idle: DEFAULT_KEEP_ALIVE_IDLE,
            no_delay: true,
        }
    }
}

impl AgentOptions {
    /// Sets [`AgentOptions::max_sockets_per_host`].
    pub fn max_sockets_per_host(mut self, n: usize) -> Self {
        self.max_sockets_per_host = n;
        self
    }

    /// Sets [`AgentOptions::keep_alive`].
    pub fn keep_alive(mut self, on: bool) -> Self {
        self.keep_alive = on;
        self
    }

    /// Sets [`AgentOptions::keep_alive_idle`].
    pub fn keep_alive_idle(mut self, idle: Duration) -> Self {
        self.keep_alive_idle = idle;
        self
    }

    /// Sets [`AgentOptions::max_idle_per_host`].
    pub fn max_idle_per_host(mut self, n: usize) -> Self {
        self.max_idle_per_host = n;
        self
    }
}

/// A connection pool: a small `Copy` handle whose pools live in the loop
/// that uses it (Node's `http.Agent`).
///
/// The pools are created on first use, per loop: an agent used from two
/// loops has two independent sets of connections. Requests without an
/// agent use the loop's [`Agent::default_for`].
///
/// # Examples
///
/// Three requests in a row to one keep-alive server share one connection:
///
/// ```
/// use eventide_http_mini::client::{self, Agent, AgentOptions, RequestOptions};
/// use eventide_http_mini::proto::Method;
/// use eventide_loop_phases::{Loop, RunMode};
/// use std::io::{Read, Write};
///
/// // A keep-alive server that answers every request on a connection.
/// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
/// let port = listener.local_addr()?.port();
/// std::thread::spawn(move || {
///     for conn in listener.incoming() {
///         let mut conn = conn.unwrap();
///         let mut buf = Vec::new();
///         let mut byte = [0u8; 1];
///         while conn.read(&mut byte).unwrap_or(0) == 1 {
///             buf.push(byte[0]);
///             if buf.ends_with(b"\r\n\r\n") {
///                 buf.clear();
///                 conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok").unwrap();
///             }
///         }
///     }
/// });
///
/// fn fetch(lp: &mut Loop, agent: Agent, port: u16, left: u32) {
///     let url = format!("http://127.0.0.1:{port}/");
///     let opts = RequestOptions::new(Method::GET, url.parse().unwrap()).agent(agent);
///     let req = client::request(lp, opts, move |lp, res| {
///         let body = res.expect("a response").body();
///         body.on_data(lp, |_, _| {});
///         body.on_end(lp, move |lp| {
///             if left > 1 {
///                 fetch(lp, agent, port, left - 1);
///             }
///         });
///     });
///     req.end(lp, None);
/// }
///
/// let mut lp = Loop::new();
/// let agent = Agent::new(AgentOptions::default());
/// fetch(&mut lp, agent, port, 3);
/// lp.run(RunMode::Default); // returns: an idle pooled socket does not keep the loop alive
/// assert_eq!((agent.created(&lp), agent.reused(&lp)), (1, 2));
/// assert_eq!(agent.idle(&lp, "127.0.0.1", port), 1);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Agent {
    id: u64,
    options: AgentOptions,
}

impl PartialEq for Agent {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl Eq for Agent {}

impl Hash for Agent {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id.hash(state);
    }
}

static NEXT_AGENT_ID: AtomicU64 = AtomicU64::new(1);

impl Agent {
    /// A new agent with its own pools.
    pub fn new(options: AgentOptions) -> Agent {
        Agent {
            id: NEXT_AGENT_ID.fetch_add(1, Ordering::Relaxed),
            options,
        }
    }

    /// The loop's default agent (Node's `http.globalAgent`), with
    /// [`AgentOptions::default`]; created on first use.
    pub fn default_for(lp: &mut Loop) -> Agent {
        *state(lp)
            .default_agent
            .get_or_insert_with(|| Agent::new(AgentOptions::default()))
    }

    /// The agent's options.
    pub fn options(&self) -> &AgentOptions {
        &self.options
    }

    /// Connections open to `host:port` in this loop: busy, idle, and still
    /// connecting.
    pub fn sockets(&self, lp: &Loop, host: &str, port: u16) -> usize {
        self.with_pool(lp, host, port, |p| p.open)
    }

    /// Idle keep-alive connections to `host:port` (Node's `freeSockets`).
    pub fn idle(&self, lp: &Loop, host: &str, port: u16) -> usize {
        self.with_pool(lp, host, port, |p| p.idle.len())
    }

    /// Requests waiting for a connection to `host:port` (Node's `requests`).
    pub fn queued(&self, lp: &Loop, host: &str, port: u16) -> usize {
        self.with_pool(lp, host, port, |p| p.queue.len())
    }

    /// Connections this agent opened in this loop.
    pub fn created(&self, lp: &Loop) -> u64 {
        self.stats(lp).map_or(0, |a| a.created)
    }

    /// Requests that were given an already used connection.
    pub fn reused(&self, lp: &Loop) -> u64 {
        self.stats(lp).map_or(0, |a| a.reused)
    }

    /// Closes every idle connection of this agent in this loop (Node's
    /// `agent.destroy()` for the free sockets). Busy connections finish
    /// their request and are then pooled again.
    pub fn close_idle(&self, lp: &mut Loop) {
        let idle: Vec<Key> = state(lp)
            .agents
            .get(&self.id)
            .map(|a| a.pools.values().flat_map(|p| p.idle.clone()).collect())
            .unwrap_or_default();
        for ck in idle {
            conn::discard_conn(lp, ck);
        }
    }

    fn stats<'a>(&self, lp: &'a Loop) -> Option<&'a AgentState> {
        lp.try_ext::<ClientState>()?.agents.get(&self.id)
    }

    fn with_pool(&self, lp: &Loop, host: &str, port: u16, f: impl Fn(&HostPool) -> usize) -> usize {
        let key = PoolKey {
            host: host.to_ascii_lowercase(),
            port,
        };
        self.stats(lp).and_then(|a| a.pools.get(&key)).map_or(0, f)
    }

    fn max_sockets(&self) -> usize {
        self.options.max_sockets_per_host.max(1)
    }
}

/// The pool a connection belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct PoolKey {
    pub(crate) host: String,
    pub(crate) port: u16,
}

/// An agent's state in one loop.
#[derive(Default)]
pub(crate) struct AgentState {
    pools: HashMap<PoolKey, HostPool>,
    created: u64,
    reused: u64,
}

/// The connections and waiting requests of one `(host, port)`.
#[derive(Default, Debug)]
pub(crate) struct HostPool {
    /// Open connections, busy or idle or connecting.
    open: usize,
    /// Idle connections; the last one is reused first.
    idle: Vec<Key>,
    /// Requests waiting for a connection, oldest first.
    queue: VecDeque<Key>,
}

impl HostPool {
    fn is_unused(&self) -> bool {
        self.open == 0 && self.idle.is_empty() && self.queue.is_empty()
    }
}

fn agent_state(lp: &mut Loop, agent: Agent) -> &mut AgentState {
    state(lp).agents.entry(agent.id).or_default()
}

fn pool<'a>(lp: &'a mut Loop, agent: Agent, key: &PoolKey) -> &'a mut HostPool {
    agent_state(lp, agent).pools.entry(key.clone()).or_default()
}

/// Drops a pool's entry once nothing refers to it, so the map does not
/// grow with every host ever contacted.
fn tidy(lp: &mut Loop, agent: Agent, key: &PoolKey) {
    let a = agent_state(lp, agent);
    if a.pools.get(key).is_some_and(HostPool::is_unused) {
        a.pools.remove(key);
    }
}

/// Gives request `rk` a connection: an idle one (unless `fresh`), a new one
/// if the host has room, or a place in the queue (at the front if `fresh`:
/// a retried request keeps its turn).
pub(crate) fn dispatch(lp: &mut Loop, rk: Key, fresh: bool) {
    let Some(r) = req(lp, rk) else { return };
    let (agent, key) = (r.agent, r.pool.clone());
    if !fresh {
        while let Some(ck) = pool(lp, agent, &key).idle.pop() {
            if conn::take_idle(lp, ck) {
                agent_state(lp, agent).reused += 1;
                request::attach(lp, rk, ck);
                return;
            }
        }
    }
    let p = pool(lp, agent, &key);
    if p.open < agent.max_sockets() {
        open_for(lp, agent, &key, rk);
    } else {
        if fresh {
            p.queue.push_front(rk);
        } else {
            p.queue.push_back(rk);
        }
        if let Some(r) = req(lp, rk) {
            r.queued = true;
        }
    }
}

/// Opens a new connection for `rk` (the caller checked the limit).
fn open_for(lp: &mut Loop, agent: Agent, key: &PoolKey, rk: Key) {
    let connect_timeout = req(lp, rk).and_then(|r| r.connect_timeout);
    pool(lp, agent, key).open += 1;
    agent_state(lp, agent).created += 1;
    let ck = conn::open(lp, agent, key.clone(), connect_timeout);
    request::attach(lp, rk, ck);
}

/// Removes a request from its pool's queue (abort, failure).
pub(crate) fn unqueue(lp: &mut Loop, agent: Agent, key: &PoolKey, rk: Key) {
    if let Some(p) = agent_state(lp, agent).pools.get_mut(key) {
        p.queue.retain(|&k| k != rk);
    }
    tidy(lp, agent, key);
}

/// The next waiting request that still wants a connection.
fn next_waiting(lp: &mut Loop, agent: Agent, key: &PoolKey) -> Option<Key> {
    loop {
        let rk = agent_state(lp, agent)
            .pools
            .get_mut(key)?
            .queue
            .pop_front()?;
        if let Some(r) = req(lp, rk)
            && r.queued
        {
            r.queued = false;
            return Some(rk);
        }
    }
}

/// A connection finished its exchange and may be reused: hand it to the
/// first waiting request, or pool it as idle.
pub(crate) fn release(lp: &mut Loop, ck: Key) {
    let Some(c) = conn_entry(lp, ck) else { return };
    let (agent, key) = (c.agent, c.pool.clone());
    if let Some(rk) = next_waiting(lp, agent, &key) {
        agent_state(lp, agent).reused += 1;
        request::attach(lp, rk, ck);
        return;
    }
    let p = pool(lp, agent, &key);
    if p.idle.len() >= agent.options.max_idle_per_host {
        conn::discard_conn(lp, ck);
        return;
    }
    p.idle.push(ck);
    conn::make_idle(lp, ck, agent.options.keep_alive_idle);
}

/// Bookkeeping for a connection that is gone: it no longer counts against
/// the limit and is no longer idle.
pub(crate) fn forget_conn(lp: &mut Loop, agent: Agent, key: &PoolKey, ck: Key) {
    if let Some(p) = agent_state(lp, agent).pools.get_mut(key) {
        p.open = p.open.saturating_sub(1);
        p.idle.retain(|&k| k != ck);
    }
}

/// Opens connections for waiting requests while the host has room.
pub(crate) fn pump_queue(lp: &mut Loop, agent: Agent, key: &PoolKey) {
    loop {
        let has_room = agent_state(lp, agent)
            .pools
            .get(key)
            .is_some_and(|p| p.open < agent.max_sockets() && !p.queue.is_empty());
        if !has_room {
            break;
        }
        let Some(rk) = next_waiting(lp, agent, key) else {
            break;
        };
        open_for(lp, agent, key, rk);
    }
    tidy(lp, agent, key);
}
