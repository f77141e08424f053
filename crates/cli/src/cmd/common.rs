//! What the server commands share: where to listen, how many loops, and a
//! graceful shutdown on SIGINT / SIGTERM.

use std::cell::Cell;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::sync::mpsc;
use std::time::Duration;

use eventide_loop_phases::{Loop, RunMode, Task};

/// SIGINT and SIGTERM on Linux and the BSDs.
const SIGINT: i32 = 2;
const SIGTERM: i32 = 15;

/// How long a loop waits, after a shutdown signal, for open connections to
/// finish before it stops anyway.
const GRACE: Duration = Duration::from_secs(10);

/// Where and how a server listens.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct ListenArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub(crate) host: IpAddr,
    /// Port to listen on; 0 picks a free one (the address is printed).
    #[arg(long, short, default_value_t = 8080)]
    pub(crate) port: u16,
    /// Loops on as many threads, sharing the port with SO_REUSEPORT (as
    /// Node's cluster does); the kernel spreads connections among them.
    #[arg(long, default_value_t = 1)]
    pub(crate) workers: usize,
}

/// What a worker's setup returns: the bound address, and how to stop
/// accepting and let the connections finish.
pub(crate) struct Started {
    pub(crate) addr: SocketAddr,
    pub(crate) shutdown: Task,
}

/// Runs `setup` on `workers` loops, each on its own thread, and waits for all
/// of them. `setup(lp, addr, reuse_port)` starts the server on one loop.
/// SIGINT and SIGTERM make every loop shut down gracefully.
pub(crate) fn run_workers<F>(args: &ListenArgs, what: &str, setup: F) -> Result<(), String>
where
    F: Fn(&mut Loop, SocketAddr, bool) -> std::io::Result<Started> + Send + Sync + Clone + 'static,
{
    let workers = args.workers.max(1);
    let reuse_port = workers > 1;
    // The first worker binds (port 0 picks one); the others join its port.
    let first = SocketAddr::new(args.host, args.port);
    let (tx, rx) = mpsc::channel::<Result<SocketAddr, String>>();
    let mut threads = Vec::new();
    let setup0 = setup.clone();
    let tx0 = tx.clone();
    threads.push(std::thread::spawn(move || {
        worker(first, reuse_port, setup0, tx0)
    }));
    let addr = rx
        .recv()
        .map_err(|_| "the first worker exited before listening".to_string())??;
    say(format_args!("{what} listening on {addr}"));
    for _ in 1..workers {
        let (setup, tx) = (setup.clone(), tx.clone());
        threads.push(std::thread::spawn(move || {
            worker(addr, reuse_port, setup, tx)
        }));
        rx.recv()
            .map_err(|_| "a worker exited before listening".to_string())??;
    }
    if workers > 1 {
        say(format_args!(
            "{workers} loops share the port (SO_REUSEPORT)"
        ));
    }
    for t in threads {
        t.join()
            .map_err(|_| "a worker thread panicked".to_string())??;
    }
    Ok(())
}

fn worker<F>(
    addr: SocketAddr,
    reuse_port: bool,
    setup: F,
    ready: mpsc::Sender<Result<SocketAddr, String>>,
) -> Result<(), String>
where
    F: Fn(&mut Loop, SocketAddr, bool) -> std::io::Result<Started>,
{
    let mut lp = Loop::try_new().map_err(|e| format!("creating the loop: {e}"))?;
    let started = match setup(&mut lp, addr, reuse_port) {
        Ok(s) => s,
        Err(e) => {
            let msg = format!("cannot listen on {addr}: {e} (is the port taken? try --port 0)");
            let _ = ready.send(Err(msg.clone()));
            return Err(msg);
        }
    };
    let _ = ready.send(Ok(started.addr));
    install_shutdown(&mut lp, started.shutdown)?;
    lp.run(RunMode::Default);
    Ok(())
}

/// On the first SIGINT or SIGTERM: stop accepting and let connections finish,
/// for at most [`GRACE`]; a second signal stops at once.
fn install_shutdown(lp: &mut Loop, shutdown: Task) -> Result<(), String> {
    // Either signal may come first; the shutdown runs once.
    let shutdown = Rc::new(Cell::new(Some(shutdown)));
    for signum in [SIGINT, SIGTERM] {
        let shutdown = Rc::clone(&shutdown);
        let h = lp
            .signal_start(signum, move |lp, _| match shutdown.take() {
                Some(f) => {
                    f(lp);
                    let t = lp.set_timeout(GRACE, |lp| lp.stop());
                    lp.unref_handle(t);
                }
                None => lp.stop(),
            })
            .map_err(|e| format!("installing the signal handler: {e}"))?;
        // The signal handles alone do not keep the loop alive.
        lp.unref_handle(h);
    }
    Ok(())
}

/// Prints a line on stdout for a server: a closed or full stdout (a log
/// reader that went away) must not stop the server, so errors are ignored
/// where `println!` would panic.
pub(crate) fn say(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out
        .write_fmt(line)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
}
