//! The figures at the end of a run, for a person or as one JSON object.

use std::fmt::Write as _;
use std::time::Duration;

use super::worker::{ErrorKind, Tally};

/// What was run, for the report's first line.
pub(crate) struct Setup<'a> {
    pub(crate) url: &'a str,
    pub(crate) connections: usize,
    pub(crate) threads: usize,
    pub(crate) pipeline: usize,
    pub(crate) duration: Duration,
}

/// A duration with three significant figures: `812 µs`, `1.23 ms`, `2.05 s`.
pub(crate) fn duration(d: Duration) -> String {
    nanos(d.as_nanos() as f64)
}

fn nanos(ns: f64) -> String {
    let (v, unit) = if ns < 1e3 {
        (ns, "ns")
    } else if ns < 1e6 {
        (ns / 1e3, "µs")
    } else if ns < 1e9 {
        (ns / 1e6, "ms")
    } else {
        (ns / 1e9, "s")
    };
    let decimals = if v < 10.0 {
        2
    } else if v < 100.0 {
        1
    } else {
        0
    };
    format!("{v:.decimals$} {unit}")
}

/// `1234567` as `1,234,567`.
pub(crate) fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// Bytes per second as `4.93 MiB/s`.
fn rate_bytes(bps: f64) -> String {
    const UNITS: [&str; 4] = ["B/s", "KiB/s", "MiB/s", "GiB/s"];
    let mut v = bps;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.2} {}", UNITS[unit])
}

fn per_second(n: u64, elapsed: Duration) -> f64 {
    if elapsed.is_zero() {
        0.0
    } else {
        n as f64 / elapsed.as_secs_f64()
    }
}

/// The report for a person.
pub(crate) fn human(setup: &Setup<'_>, t: &Tally) -> String {
    let mut o = String::new();
    let responses = t.responses();
    let secs = t.elapsed.as_secs_f64();
    let loops = if setup.threads == 1 { "loop" } else { "loops" };
    let _ = writeln!(
        o,
        "bench {} for {}: {} connections on {} {loops}, {} request(s) in flight each",
        setup.url,
        duration(setup.duration),
        setup.connections,
        setup.threads,
        setup.pipeline
    );
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "  requests     {} in {secs:.2} s   {} req/s",
        grouped(responses),
        grouped(per_second(responses, t.elapsed).round() as u64)
    );
    let _ = writeln!(
        o,
        "  throughput   {}  ({} bytes of responses, heads and bodies)",
        rate_bytes(per_second(t.bytes, t.elapsed)),
        grouped(t.bytes)
    );
    let h = &t.latency;
    let q = |q: f64| nanos(h.quantile(q) as f64);
    if responses == 0 {
        let _ = writeln!(o, "  latency      – (no response)");
    } else {
        let _ = writeln!(
            o,
            "  latency      p50 {}   p90 {}   p99 {}   p99.9 {}",
            q(0.5),
            q(0.9),
            q(0.99),
            q(0.999)
        );
        let _ = writeln!(
            o,
            "               mean {}   max {}   (request sent → response ended)",
            nanos(h.mean() as f64),
            nanos(h.max() as f64)
        );
    }
    let classes: Vec<String> = (1..=5)
        .filter(|&c| t.status[c] > 0 || c == 2)
        .map(|c| format!("{c}xx {}", grouped(t.status[c])))
        .chain((t.status[0] > 0).then(|| format!("other {}", grouped(t.status[0]))))
        .collect();
    let _ = writeln!(o, "  responses    {}", classes.join("   "));
    let reopened = t.opened.saturating_sub(setup.connections as u64);
    let _ = writeln!(
        o,
        "  connections  {} kept open, reopened {} time(s) after an error or a close",
        setup.connections,
        grouped(reopened)
    );
    let non_2xx = non_2xx(t);
    let mut errors: Vec<String> = ErrorKind::ALL
        .iter()
        .filter(|k| t.errors[**k as usize] > 0)
        .map(|k| {
            let why = t.first_error[*k as usize].as_deref().unwrap_or("");
            format!("{} {} ({why})", k.name(), grouped(t.errors[*k as usize]))
        })
        .collect();
    if non_2xx > 0 {
        errors.push(format!("non-2xx {}", grouped(non_2xx)));
    }
    if errors.is_empty() {
        let _ = writeln!(o, "  errors       none");
    } else {
        let _ = writeln!(o, "  errors       {}", errors.join("\n               "));
    }
    o
}

fn non_2xx(t: &Tally) -> u64 {
    t.responses() - t.status[2]
}

/// Escapes a string for a JSON string literal.
fn json_str(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for ch in s.chars() {
        match ch {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// The report as one JSON object; latencies in microseconds.
pub(crate) fn json(setup: &Setup<'_>, t: &Tally) -> String {
    let h = &t.latency;
    let us = |ns: u64| format!("{:.1}", ns as f64 / 1e3);
    let responses = t.responses();
    let mut o = String::from("{");
    let _ = write!(
        o,
        "\"url\":{},\"connections\":{},\"threads\":{},\"pipeline\":{},\"duration_s\":{:.3},",
        json_str(setup.url),
        setup.connections,
        setup.threads,
        setup.pipeline,
        t.elapsed.as_secs_f64()
    );
    let _ = write!(
        o,
        "\"requests\":{responses},\"requests_per_sec\":{:.1},\"bytes\":{},\"bytes_per_sec\":{:.1},",
        per_second(responses, t.elapsed),
        t.bytes,
        per_second(t.bytes, t.elapsed)
    );
    let _ = write!(
        o,
        "\"latency_us\":{{\"mean\":{},\"p50\":{},\"p90\":{},\"p99\":{},\"p99_9\":{},\"max\":{}}},",
        us(h.mean()),
        us(h.quantile(0.5)),
        us(h.quantile(0.9)),
        us(h.quantile(0.99)),
        us(h.quantile(0.999)),
        us(h.max())
    );
    let _ = write!(
        o,
        "\"status\":{{\"1xx\":{},\"2xx\":{},\"3xx\":{},\"4xx\":{},\"5xx\":{},\"other\":{}}},",
        t.status[1], t.status[2], t.status[3], t.status[4], t.status[5], t.status[0]
    );
    o.push_str("\"errors\":{");
    for k in ErrorKind::ALL {
        let _ = write!(o, "\"{}\":{},", k.name(), t.errors[k as usize]);
    }
    let _ = write!(o, "\"non_2xx\":{}}},", non_2xx(t));
    let _ = write!(
        o,
        "\"connections_opened\":{},\"reconnects\":{}}}",
        t.opened,
        t.opened.saturating_sub(setup.connections as u64)
    );
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(1234567), "1,234,567");
        assert_eq!(grouped(123), "123");
        assert_eq!(duration(Duration::from_micros(812)), "812 µs");
        assert_eq!(duration(Duration::from_micros(1234)), "1.23 ms");
        assert_eq!(duration(Duration::from_millis(2050)), "2.05 s");
        assert_eq!(rate_bytes(5.0 * 1024.0 * 1024.0), "5.00 MiB/s");
        assert_eq!(json_str("a\"b\\\n\u{1}"), "\"a\\\"b\\\\\\n\\u0001\"");
    }

    #[test]
    fn json_has_every_field() {
        let mut t = Tally::default();
        t.latency.record(1_500_000);
        t.status[2] = 1;
        t.elapsed = Duration::from_secs(1);
        t.opened = 1;
        let setup = Setup {
            url: "http://127.0.0.1:1/",
            connections: 1,
            threads: 1,
            pipeline: 1,
            duration: Duration::from_secs(1),
        };
        let j = json(&setup, &t);
        assert!(j.starts_with('{') && j.ends_with('}'), "{j}");
        for key in [
            "\"requests\":1,",
            "\"p99\":",
            "\"non_2xx\":0",
            "\"reconnects\":0",
        ] {
            assert!(j.contains(key), "{key} in {j}");
        }
    }
}
