//! `cargo xtask bench [NAME] [--json FILE]`: benchmark programs that print
//! figures, run side by side with their peers, in one table. Not run by CI.
//!
//! Every bench program, Eventide's or a peer's, prints one line per figure:
//!
//! ```text
//! BENCH <workload> <metric> <value> <unit> <higher|lower>
//! NOTE <workload> <text>
//! ```
//!
//! where `higher` means higher is better. Other stdout lines are passed on;
//! stderr is not captured. A suite is Eventide's programs plus the peers that
//! run the same workloads, one column (and ratio) per peer: adding `http` is
//! one more entry in [`SUITES`], with a function that runs the programs.

use std::fmt::Write as _;
use std::io::ErrorKind;
use std::process::{Command, Stdio};

use crate::cmd::{build_release, root};

mod http;
mod libuv;
mod proc;
mod streams;

struct Suite {
    name: &'static str,
    /// Column titles of the peers, in order.
    peers: &'static [&'static str],
    /// Runs Eventide's programs and the peers'.
    collect: fn() -> Result<Collected, String>,
}

/// What a suite's programs printed.
struct Collected {
    ours: Output,
    /// One per peer of the suite, in order; `None` if the peer could not run.
    peers: Vec<Option<Output>>,
}

const SUITES: &[Suite] = &[
    Suite {
        name: "loop",
        peers: &["Node", "libuv"],
        collect: collect_loop,
    },
    Suite {
        name: "streams",
        peers: &["Node", "raw mio"],
        collect: streams::collect,
    },
    Suite {
        name: "http",
        peers: &["Node", "raw mio"],
        collect: http::collect,
    },
];

/// Runs of each loop bench program; the table shows each figure's median.
const LOOP_RUNS: usize = 3;

/// `bench_loop`, `node xtask/bench/node/loop.js` and `loop_libuv` (built from
/// `xtask/bench/libuv/loop.c`), [`LOOP_RUNS`] times each, interleaved so that
/// other load on the machine falls on all of them alike; the medians.
fn collect_loop() -> Result<Collected, String> {
    build_release("eventide-loop-phases", &["--example", "bench_loop"])?;
    let bench_loop = proc::target_dir().join("release/examples/bench_loop");
    let libuv = libuv::build_loop()
        .map_err(|why| eprintln!("bench: peer libuv skipped: {why}"))
        .ok();
    let mut ours = Vec::new();
    let mut node: Option<Vec<Output>> = Some(Vec::new());
    let mut uv: Option<Vec<Output>> = libuv.as_ref().map(|_| Vec::new());
    for _ in 0..LOOP_RUNS {
        let out = collect(Command::new(&bench_loop))?
            .ok_or_else(|| format!("{} is missing", bench_loop.display()))?;
        ours.push(out);
        if let Some(runs) = node.as_mut() {
            let mut cmd = Command::new("node");
            cmd.arg("xtask/bench/node/loop.js").current_dir(root());
            match peer("Node", cmd) {
                Some(out) => runs.push(out),
                None => node = None,
            }
        }
        if let (Some(runs), Some(path)) = (uv.as_mut(), libuv.as_ref()) {
            match peer("libuv", Command::new(path)) {
                Some(out) => runs.push(out),
                None => uv = None,
            }
        }
    }
    let mut ours = Output::median(ours);
    ours.notes.push((
        "all".into(),
        format!("median of {LOOP_RUNS} runs of each program, interleaved"),
    ));
    Ok(Collected {
        ours,
        peers: vec![node.map(Output::median), uv.map(Output::median)],
    })
}

/// Runs a peer's program; a peer that is missing or fails leaves its column
/// empty, with a message.
fn peer(name: &str, cmd: Command) -> Option<Output> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    match collect(cmd) {
        Ok(Some(out)) => Some(out),
        Ok(None) => {
            eprintln!("bench: {program} not found on PATH, peer {name} skipped");
            None
        }
        Err(e) => {
            eprintln!("bench: peer {name} failed, its column stays empty: {e}");
            None
        }
    }
}

/// One `BENCH` line.
#[derive(Debug, Clone, PartialEq)]
struct Figure {
    workload: String,
    metric: String,
    value: f64,
    unit: String,
    higher_is_better: bool,
}

/// What one program printed.
#[derive(Debug, Default)]
struct Output {
    figures: Vec<Figure>,
    notes: Vec<(String, String)>,
}

/// A table row: Eventide's figure and each peer's (`None`: not measured).
struct Row {
    suite: &'static str,
    ours: Figure,
    peers: Vec<(&'static str, Option<Figure>)>,
}

impl Row {
    /// Ratio that is > 1 when Eventide is better; `None` if the peer has no
    /// figure, or in other units.
    fn ratio(&self, peer: &Option<Figure>) -> Option<f64> {
        let p = peer.as_ref()?;
        if p.unit != self.ours.unit || self.ours.value <= 0.0 || p.value <= 0.0 {
            return None;
        }
        Some(if self.ours.higher_is_better {
            self.ours.value / p.value
        } else {
            p.value / self.ours.value
        })
    }
}

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let mut name = None;
    let mut json = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--json" => {
                json = Some(it.next().ok_or("--json needs a FILE")?.clone());
            }
            flag if flag.starts_with('-') => return Err(usage(&format!("unknown flag `{flag}`"))),
            n if name.is_none() => name = Some(n.to_string()),
            extra => return Err(usage(&format!("unexpected argument `{extra}`"))),
        }
    }
    let suites: Vec<&Suite> = match &name {
        None => SUITES.iter().collect(),
        Some(n) => vec![
            SUITES
                .iter()
                .find(|s| s.name == n)
                .ok_or_else(|| usage(&format!("no bench suite `{n}`")))?,
        ],
    };

    let mut rows = Vec::new();
    for suite in suites {
        let suite_rows = run_suite(suite)?;
        rows.extend(suite_rows);
    }
    if let Some(path) = json {
        std::fs::write(&path, to_json(&rows)).map_err(|e| format!("writing {path}: {e}"))?;
        eprintln!("bench: wrote {} rows to {path}", rows.len());
    }
    Ok(())
}

fn usage(problem: &str) -> String {
    let names: Vec<&str> = SUITES.iter().map(|s| s.name).collect();
    format!(
        "{problem}\nusage: cargo xtask bench [NAME] [--json FILE]   (NAME: {})",
        names.join(", ")
    )
}

/// Runs one suite's programs, prints its table, and returns its rows.
fn run_suite(suite: &Suite) -> Result<Vec<Row>, String> {
    let Collected { ours, peers } = (suite.collect)()?;
    if ours.figures.is_empty() {
        return Err(format!("the `{}` bench printed no BENCH line", suite.name));
    }
    let peer_outputs: Vec<(&'static str, Option<Output>)> =
        suite.peers.iter().copied().zip(peers).collect();

    let rows: Vec<Row> = ours
        .figures
        .iter()
        .map(|f| Row {
            suite: suite.name,
            ours: f.clone(),
            peers: peer_outputs
                .iter()
                .map(|(name, out)| {
                    let same = out.as_ref().and_then(|o| {
                        o.figures
                            .iter()
                            .find(|p| p.workload == f.workload && p.metric == f.metric)
                            .cloned()
                    });
                    (*name, same)
                })
                .collect(),
        })
        .collect();
    print_table(suite, &rows, &ours, &peer_outputs);
    Ok(rows)
}

/// Runs a bench program, echoing it first; parses its stdout. `Ok(None)` if
/// the program does not exist.
fn collect(mut cmd: Command) -> Result<Option<Output>, String> {
    let shown = format!("{cmd:?}").replace('"', "");
    eprintln!("\n$ {shown}");
    let out = match cmd.stdout(Stdio::piped()).stderr(Stdio::inherit()).output() {
        Ok(out) => out,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("could not start `{shown}`: {e}")),
    };
    if !out.status.success() {
        return Err(format!("`{shown}` failed ({})", out.status));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut parsed = Output::default();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("BENCH ") {
            parsed
                .figures
                .push(parse_figure(rest).map_err(|e| format!("`{shown}`: {e}: {line}"))?);
        } else if let Some(rest) = line.strip_prefix("NOTE ") {
            let (w, t) = rest.split_once(' ').unwrap_or((rest, ""));
            parsed.notes.push((w.to_string(), t.to_string()));
        } else {
            println!("{line}");
        }
    }
    Ok(Some(parsed))
}

fn parse_figure(rest: &str) -> Result<Figure, String> {
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let [workload, metric, value, unit, better] = fields[..] else {
        return Err("expected `BENCH <workload> <metric> <value> <unit> <higher|lower>`".into());
    };
    let value = value
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or("the value is not a number")?;
    let higher_is_better = match better {
        "higher" => true,
        "lower" => false,
        _ => return Err("the last field must be `higher` or `lower`".into()),
    };
    Ok(Figure {
        workload: workload.into(),
        metric: metric.into(),
        value,
        unit: unit.into(),
        higher_is_better,
    })
}

impl Output {
    /// Adds another program's figures and notes (a note only once).
    fn extend(&mut self, other: Output) {
        self.figures.extend(other.figures);
        for n in other.notes {
            if !self.notes.contains(&n) {
                self.notes.push(n);
            }
        }
    }

    /// The runs behind a median, for a note: `spread(runs, "req_per_cpu_s",
    /// |v| format!("{:.0}k", v / 1e3))` is `req_per_cpu_s runs 101k, 98k, 104k`.
    fn spread(runs: &[Output], metric: &str, show: impl Fn(f64) -> String) -> String {
        let values: Vec<String> = runs
            .iter()
            .flat_map(|o| &o.figures)
            .filter(|f| f.metric == metric)
            .map(|f| show(f.value))
            .collect();
        format!("{metric} runs {}", values.join(", "))
    }

    /// The runs of one program as one output: each figure's median (the
    /// upper one of an even count), in the order the figures first came.
    fn median(runs: Vec<Output>) -> Output {
        let mut out = Output::default();
        let mut values: Vec<Vec<f64>> = Vec::new();
        for run in runs {
            for f in run.figures {
                match out
                    .figures
                    .iter()
                    .position(|g| g.workload == f.workload && g.metric == f.metric)
                {
                    Some(i) => values[i].push(f.value),
                    None => {
                        values.push(vec![f.value]);
                        out.figures.push(f);
                    }
                }
            }
            out.extend(Output {
                figures: Vec::new(),
                notes: run.notes,
            });
        }
        for (f, mut v) in out.figures.iter_mut().zip(values) {
            v.sort_by(f64::total_cmp);
            f.value = v[v.len() / 2];
        }
        out
    }
}

/// `1234567.0` as `1,234,567`; small values keep one decimal.
fn number(v: f64) -> String {
    // Below this, one decimal cannot round up to 1000.0.
    if v.abs() < 999.95 {
        return format!("{v:.1}");
    }
    let digits = format!("{:.0}", v.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if v < 0.0 { format!("-{out}") } else { out }
}

fn print_table(
    suite: &Suite,
    rows: &[Row],
    ours: &Output,
    peers: &[(&'static str, Option<Output>)],
) {
    let names: Vec<&str> = suite.peers.to_vec();
    let vs = if names.is_empty() {
        String::new()
    } else {
        format!(" vs {}", names.join(", "))
    };
    println!("\nbench {}: Eventide{vs}", suite.name);
    if !names.is_empty() {
        println!(
            "ratio > 1 means Eventide is better: Eventide/peer where higher is better, peer/Eventide where lower is"
        );
    }
    let mut header = vec![
        "workload".to_string(),
        "metric".into(),
        "better".into(),
        "Eventide".into(),
    ];
    for n in &names {
        header.push((*n).into());
        header.push(if names.len() == 1 {
            "ratio".into()
        } else {
            format!("ratio vs {n}")
        });
    }
    let mut cells = vec![header];
    for r in rows {
        let mut line = vec![
            r.ours.workload.clone(),
            r.ours.metric.clone(),
            if r.ours.higher_is_better {
                "higher"
            } else {
                "lower"
            }
            .into(),
            format!("{} {}", number(r.ours.value), r.ours.unit),
        ];
        for (_, p) in &r.peers {
            line.push(match p {
                Some(p) => format!("{} {}", number(p.value), p.unit),
                None => "-".into(),
            });
            line.push(r.ratio(p).map_or("-".into(), |x| format!("{x:.2}x")));
        }
        cells.push(line);
    }
    let widths: Vec<usize> = (0..cells[0].len())
        .map(|c| {
            cells
                .iter()
                .map(|l| l[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for (i, line) in cells.iter().enumerate() {
        let mut out = String::new();
        for (c, cell) in line.iter().enumerate() {
            let w = widths[c];
            // Text columns left-aligned, figures right-aligned.
            if c < 3 {
                let _ = write!(out, "{cell:<w$}  ");
            } else {
                let _ = write!(out, "{cell:>w$}  ");
            }
        }
        println!("{}", out.trim_end());
        if i == 0 {
            let total = widths.iter().sum::<usize>() + 2 * (widths.len() - 1);
            println!("{}", "─".repeat(total));
        }
    }
    for (w, t) in &ours.notes {
        println!("note (Eventide, {w}): {t}");
    }
    for (name, out) in peers {
        for (w, t) in out.iter().flat_map(|o| &o.notes) {
            println!("note ({name}, {w}): {t}");
        }
    }
}

/// The rows as JSON: an array of objects, one per Eventide figure, hand-written
/// so that xtask needs no dependency.
fn to_json(rows: &[Row]) -> String {
    let mut out = String::from("[\n");
    for (i, r) in rows.iter().enumerate() {
        let f = &r.ours;
        let better = if f.higher_is_better {
            "higher"
        } else {
            "lower"
        };
        let _ = write!(
            out,
            "  {{\"suite\": {}, \"workload\": {}, \"metric\": {}, \"unit\": {}, \"better\": {}, \"eventide\": {}, \"peers\": [",
            string(r.suite),
            string(&f.workload),
            string(&f.metric),
            string(&f.unit),
            string(better),
            json_number(Some(f.value)),
        );
        for (j, (name, p)) in r.peers.iter().enumerate() {
            let _ = write!(
                out,
                "{}{{\"name\": {}, \"value\": {}, \"unit\": {}, \"ratio\": {}}}",
                if j == 0 { "" } else { ", " },
                string(name),
                json_number(p.as_ref().map(|p| p.value)),
                p.as_ref().map_or("null".into(), |p| string(&p.unit)),
                json_number(r.ratio(p)),
            );
        }
        out.push_str(if i + 1 < rows.len() { "]},\n" } else { "]}\n" });
    }
    out.push_str("]\n");
    out
}

fn json_number(v: Option<f64>) -> String {
    match v {
        // Rust prints finite floats without an exponent: valid JSON.
        Some(v) if v.is_finite() => format!("{v}"),
        _ => "null".into(),
    }
}

fn string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bench_lines() {
        let f = parse_figure("immediates rate 4123456 ops/s higher").unwrap();
        assert_eq!((f.value, f.higher_is_better), (4123456.0, true));
        assert!(parse_figure("immediates rate fast ops/s higher").is_err());
        assert!(parse_figure("immediates rate 1 ops/s better").is_err());
        assert!(parse_figure("immediates rate 1").is_err());
    }

    #[test]
    fn ratio_is_above_one_when_eventide_is_better() {
        let fig = |v, higher| Figure {
            workload: "w".into(),
            metric: "m".into(),
            value: v,
            unit: "u".into(),
            higher_is_better: higher,
        };
        for higher in [true, false] {
            let (good, bad) = if higher { (4.0, 2.0) } else { (2.0, 4.0) };
            let row = Row {
                suite: "loop",
                ours: fig(good, higher),
                peers: vec![("Node", Some(fig(bad, higher)))],
            };
            assert_eq!(row.ratio(&row.peers[0].1), Some(2.0));
            assert_eq!(row.ratio(&None), None);
        }
    }

    #[test]
    fn median_of_runs() {
        let run = |v: &str| Output {
            figures: vec![
                parse_figure(&format!("pipe throughput {v} GB/s higher")).unwrap(),
                parse_figure("pipe peak_rss 2 MiB lower").unwrap(),
            ],
            notes: vec![("pipe".into(), "a note".into())],
        };
        let m = Output::median(vec![run("3"), run("1"), run("2")]);
        assert_eq!(m.figures.len(), 2);
        assert_eq!((m.figures[0].value, m.figures[1].value), (2.0, 2.0));
        assert_eq!(m.notes.len(), 1);
    }

    #[test]
    fn numbers_and_json_strings() {
        assert_eq!(number(1234567.4), "1,234,567");
        assert_eq!(number(999.96), "1,000");
        assert_eq!(number(12.34), "12.3");
        assert_eq!(string("a\"b\\c\n"), "\"a\\\"b\\\\c\\u000a\"");
        assert_eq!(json_number(Some(f64::NAN)), "null");
    }
}
