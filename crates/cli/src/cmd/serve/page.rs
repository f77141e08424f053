//! The page `eventide serve` shows without a directory: what Eventide is
//! and how to run the demos. Built from the demo table, so it cannot drift.

use std::fmt::Write as _;

use super::path::html_escape;
use crate::demos::DEMOS;

/// The built-in page's HTML.
pub(crate) fn render() -> String {
    let mut demos = String::new();
    for d in DEMOS {
        let _ = writeln!(
            demos,
            "<li><code>eventide demo {}</code>: {}</li>",
            html_escape(d.name),
            html_escape(d.summary)
        );
    }
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width">
<title>Eventide</title>
<style>body{{font-family:system-ui,sans-serif;max-width:46em;margin:2em auto;padding:0 1em;line-height:1.5}}
code,pre{{background:#f4f4f4;border-radius:3px;padding:.1em .3em}}pre{{padding:.6em}}</style>
</head>
<body>
<h1>Eventide {version}</h1>
<p>This page comes from <code>eventide serve</code>, an HTTP server running on
Eventide: libuv's event loop and Node's streams, written in Rust. One thread
runs a loop of phases (timers, pending callbacks, idle and prepare, poll for
I/O, check, close callbacks); sockets, files and this server are streams with
Node's backpressure rules on top of it.</p>
<h2>Try it</h2>
<pre>eventide serve DIR            # serve a directory (this page without DIR)
eventide get http://127.0.0.1:8080/ -i   # fetch, like curl
eventide demo --list           # the tour of how the event loop works
eventide trace DEMO            # a demo with the loop's trace on</pre>
<h2>The demos</h2>
<ul>
{demos}</ul>
<p>Run them all in turn with <code>eventide demo</code>, or <code>cargo xtask demo</code>
from the source tree.</p>
</body>
</html>
"#,
        version = env!("CARGO_PKG_VERSION"),
    )
}
