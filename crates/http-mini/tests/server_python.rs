//! The server against Python's `http.client` (a client this project did not
//! write): connection reuse for several requests, a chunked upload
//! (`encode_chunked=True`), `Expect: 100-continue`, and `HEAD`. The script
//! is `tests/server_python_client.py`. Skipped, with a message, where
//! `python3` is not installed.

mod server_util;

use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use server_util::{have_tool, run_client, run_with_limit, serve, test_options};

#[test]
fn python_http_client() {
    if !have_tool("python3") {
        return;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/server_python_client.py");
    let (mut lp, server, _) = serve(test_options(), |lp, req, res| {
        if req.path() == "/echo" {
            server_util::echo_handler(lp, req, res);
        } else {
            res.end(lp, Some(Bytes::from(format!("hello {}", req.path()))));
        }
    });
    let (out, stats) = run_client(&mut lp, server, move |addr| {
        let mut cmd = Command::new("python3");
        cmd.arg(script).arg(addr.port().to_string());
        run_with_limit(cmd, Duration::from_secs(15))
    });
    assert!(
        out.status.is_some_and(|s| s.success()),
        "python3 failed ({:?}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        out.stderr
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "OK");
    // One connection for the first eight requests, one for the last.
    assert_eq!(stats.connections, 2);
    assert_eq!(stats.requests, 9);
}
