//! Flags shared by the example servers.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use eventide_http_mini::server::ServerOptions;
use eventide_loop_phases::Loop;

/// Server flags: the address, and the limits and timeouts (Node's defaults
/// unless given).
#[derive(Parser, Debug)]
pub(crate) struct Flags {
    /// Port to listen on (0 picks a free one; the bound address is printed).
    #[arg(long, default_value_t = 8080)]
    pub(crate) port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub(crate) host: std::net::IpAddr,
    /// Time from a request's first byte to the end of its head.
    #[arg(long)]
    pub(crate) headers_timeout_ms: Option<u64>,
    /// Time from a request's first byte to the end of its body.
    #[arg(long)]
    pub(crate) request_timeout_ms: Option<u64>,
    /// Idle time after which a keep-alive connection is closed.
    #[arg(long)]
    pub(crate) keep_alive_timeout_ms: Option<u64>,
    /// Largest request head in bytes.
    #[arg(long)]
    pub(crate) max_header_bytes: Option<usize>,
    /// Largest request body in bytes.
    #[arg(long)]
    pub(crate) max_body_bytes: Option<u64>,
}

impl Flags {
    /// The address to bind.
    pub(crate) fn addr(&self) -> SocketAddr {
        SocketAddr::new(self.host, self.port)
    }

    /// The server options these flags describe.
    pub(crate) fn options(&self) -> ServerOptions {
        let mut o = ServerOptions::default();
        let ms = Duration::from_millis;
        if let Some(t) = self.headers_timeout_ms {
            o.headers_timeout = Some(ms(t));
        }
        if let Some(t) = self.request_timeout_ms {
            o.request_timeout = Some(ms(t));
        }
        if let Some(t) = self.keep_alive_timeout_ms {
            o.keep_alive_timeout = Some(ms(t));
        }
        if let Some(n) = self.max_header_bytes {
            o.limits.max_header_bytes = n;
        }
        if let Some(n) = self.max_body_bytes {
            o.limits.max_body_bytes = Some(n);
        }
        o
    }
}

/// SIGINT and SIGTERM stop the loop, so that the process exits normally (and
/// profilers such as callgrind write their output).
pub(crate) fn stop_on_signals(lp: &mut Loop) {
    for signum in [2, 15] {
        if let Ok(h) = lp.signal_start(signum, |lp, _| lp.stop()) {
            lp.unref_handle(h);
        }
    }
}
