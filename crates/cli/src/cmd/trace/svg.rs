//! The timeline as a picture: an SVG drawn by hand.
//!
//! ```text
//!            │ ┊1        ┊2
//!   timers   │ ▆         ┊            ▆      one lane per phase: a light band
//!   pending  │ ┊ ▆       ┊                   while the loop is in the phase,
//!   ...      │ ┊         ┊                   a coloured box per callback
//!   poll     │ ┊   ▆▆ ╱╱╱╱╱╱╱╱╱╱╱╱ ▆          (hatched: blocked in the poller)
//!   ...      │ ┊         ┊
//!   ticks    │ ▪   ▪     ┊             ▪     nextTicks and microtasks
//!            └─┴────┴────┴────┴────           time since the loop was created
//! ```
//!
//! Time runs left to right over the iterations shown (the same ones as the
//! text); a callback too short to see is drawn [`MIN_WIDTH`] wide. Each box
//! has a `<title>`, shown as a tooltip by browsers. One panel per loop.

use std::fmt::Write as _;
use std::time::Duration;

use eventide_loop_phases::{CallbackKind, Phase};

use super::timeline::{Call, Iteration, LoopTrace, ms, shown};

const WIDTH: f64 = 1200.0;
/// Room for the lane names.
const LEFT: f64 = 150.0;
const RIGHT: f64 = 24.0;
const LANE: f64 = 30.0;
/// The seven phases, then nextTicks and microtasks.
const LANES: usize = 8;
/// Panel title above the lanes; axis and labels below them.
const PANEL_TOP: f64 = 34.0;
const PANEL_BOTTOM: f64 = 46.0;
const PANEL: f64 = PANEL_TOP + LANES as f64 * LANE + PANEL_BOTTOM;
const HEADER: f64 = 64.0;
const LEGEND: f64 = 64.0;
/// The narrowest box drawn for a callback, in pixels.
const MIN_WIDTH: f64 = 2.0;
/// At most this many loops are drawn.
const MAX_PANELS: usize = 6;
const FONT: &str = "system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', Arial, sans-serif";

/// Colours by kind of callback: (legend name, fill).
const PALETTE: [(&str, &str); 9] = [
    ("timer", "#e4572e"),
    ("pending", "#9b5de5"),
    ("idle · prepare · check", "#5fa83b"),
    ("I/O", "#2e86de"),
    ("immediate", "#0fa3a3"),
    ("close", "#8d6e63"),
    ("nextTick", "#f2a900"),
    ("microtask", "#f06595"),
    ("other", "#607d8b"),
];

fn colour(kind: CallbackKind) -> &'static str {
    let i = match kind {
        CallbackKind::Timeout | CallbackKind::Interval => 0,
        CallbackKind::Pending => 1,
        CallbackKind::Idle | CallbackKind::Prepare | CallbackKind::Check => 2,
        CallbackKind::Io { .. } => 3,
        CallbackKind::Immediate => 4,
        CallbackKind::Close => 5,
        CallbackKind::Tick => 6,
        CallbackKind::Microtask => 7,
        _ => 8,
    };
    PALETTE[i].1
}

/// Escapes text for XML character data and attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            c => o.push(c),
        }
    }
    o
}

/// Maps loop time to x.
struct Scale {
    t0: f64,
    t1: f64,
}

impl Scale {
    fn x(&self, t: Duration) -> f64 {
        let span = (self.t1 - self.t0).max(1e-9);
        LEFT + (t.as_secs_f64() - self.t0) / span * (WIDTH - LEFT - RIGHT)
    }
}

/// The lane of a phase; nextTicks and microtasks (and callbacks run outside
/// any phase) go to the last lane.
fn lane_of(phase: Option<Phase>, call: Option<&Call>) -> usize {
    match (phase, call) {
        (_, Some(c)) if c.is_tick() => LANES - 1,
        (Some(p), _) => Phase::ALL.iter().position(|q| *q == p).unwrap_or(LANES - 1),
        (None, _) => LANES - 1,
    }
}

/// Draws the loops' timelines, with the same iterations as the text.
pub(crate) fn render(demo: &str, summary: &str, loops: &[LoopTrace], limit: usize) -> String {
    let counts = shown(loops, limit);
    let panels: Vec<(usize, &LoopTrace, usize)> = loops
        .iter()
        .zip(&counts)
        .enumerate()
        .filter(|(_, (_, n))| **n > 0)
        .map(|(i, (lt, n))| (i, lt, *n))
        .take(MAX_PANELS)
        .collect();
    let height = HEADER + panels.len().max(1) as f64 * PANEL + LEGEND;
    let mut o = String::new();
    let _ = writeln!(
        o,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="{FONT}" font-size="12">"#
    );
    o.push_str(concat!(
        "<defs><pattern id=\"blocked\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\">",
        "<rect width=\"6\" height=\"6\" fill=\"#eef1f5\"/><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#9aa6b2\" stroke-width=\"2\"/>",
        "</pattern></defs>\n"
    ));
    let _ = writeln!(
        o,
        r##"<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>"##
    );
    let _ = writeln!(
        o,
        r##"<text x="20" y="28" font-size="18" font-weight="600" fill="#1f2933">eventide trace {}</text>"##,
        esc(demo)
    );
    let _ = writeln!(
        o,
        r##"<text x="20" y="48" font-size="12" fill="#52606d">{} · time on the x axis, one lane per phase; hover a box for details</text>"##,
        esc(summary)
    );
    if panels.is_empty() {
        let _ = writeln!(
            o,
            r##"<text x="20" y="{}" font-size="14" fill="#52606d">the demo's loops ran no iteration</text>"##,
            HEADER + 30.0
        );
    }
    for (k, (i, lt, n)) in panels.iter().enumerate() {
        let top = HEADER + k as f64 * PANEL;
        panel(&mut o, top, *i, loops.len(), lt, &lt.iterations[..*n]);
    }
    legend(&mut o, HEADER + panels.len().max(1) as f64 * PANEL + 8.0);
    o.push_str("</svg>\n");
    o
}

fn panel(o: &mut String, top: f64, index: usize, of: usize, lt: &LoopTrace, its: &[Iteration]) {
    let start = its.first().map_or(Duration::ZERO, |it| it.start);
    let end = its.iter().map(|it| it.end).max().unwrap_or(start);
    let pad = (end.saturating_sub(start)).as_secs_f64() * 0.01;
    let scale = Scale {
        t0: start.as_secs_f64() - pad,
        t1: end.as_secs_f64().max(start.as_secs_f64() + 1e-6) + pad,
    };
    let calls = its.iter().flat_map(Iteration::calls).count();
    let blocked: Duration = its.iter().map(Iteration::blocked).sum();
    let numbered: Vec<u64> = its.iter().filter_map(|it| it.number).collect();
    let range = match (numbered.first(), numbered.last()) {
        (Some(a), Some(b)) if a != b => format!("iterations {a}–{b}"),
        (Some(a), _) => format!("iteration {a}"),
        _ => "before the first iteration".to_string(),
    };
    let total = lt
        .iterations
        .iter()
        .filter(|it| it.number.is_some())
        .count();
    let which = if of > 1 {
        format!("loop {} of {of}", index + 1)
    } else {
        "loop".to_string()
    };
    let _ = writeln!(
        o,
        r##"<text x="20" y="{:.1}" font-size="14" font-weight="600" fill="#1f2933">{which}: {range} of {total} · {calls} callbacks · {} blocked in poll</text>"##,
        top + 20.0,
        esc(&ms(blocked))
    );
    let lanes_top = top + PANEL_TOP;
    let lanes_bottom = lanes_top + LANES as f64 * LANE;
    // Lane backgrounds and names.
    for l in 0..LANES {
        let y = lanes_top + l as f64 * LANE;
        let fill = if l % 2 == 0 { "#f7f9fb" } else { "#eef2f6" };
        let name = if l < Phase::ALL.len() {
            Phase::ALL[l].name()
        } else {
            "nextTick · microtask"
        };
        let _ = writeln!(
            o,
            r##"<rect x="{LEFT}" y="{y:.1}" width="{:.1}" height="{LANE}" fill="{fill}"/><text x="{:.1}" y="{:.1}" text-anchor="end" font-size="13" fill="#323f4b">{name}</text>"##,
            WIDTH - LEFT - RIGHT,
            LEFT - 10.0,
            y + LANE / 2.0 + 4.5
        );
    }
    axis(o, &scale, lanes_bottom);
    // Phase bands and poll waits, under the callbacks.
    for it in its {
        for p in &it.phases {
            let l = lane_of(Some(p.phase), None);
            let y = lanes_top + l as f64 * LANE + 3.0;
            let x0 = scale.x(p.start);
            let w = (scale.x(p.start + p.elapsed) - x0).max(1.0);
            let _ = writeln!(
                o,
                r##"<rect x="{x0:.2}" y="{y:.1}" width="{w:.2}" height="{:.1}" fill="#cfd8e3"><title>{} phase: {}</title></rect>"##,
                LANE - 6.0,
                p.phase.name(),
                esc(&ms(p.elapsed))
            );
            if let Some(q) = p.poll.filter(|q| !q.blocked.is_zero()) {
                let x0 = scale.x(q.end.saturating_sub(q.blocked));
                let w = (scale.x(q.end) - x0).max(1.0);
                let limit = q.timeout.map_or("none (waits for I/O)".to_string(), ms);
                let _ = writeln!(
                    o,
                    r##"<rect x="{x0:.2}" y="{y:.1}" width="{w:.2}" height="{:.1}" fill="url(#blocked)" stroke="#9aa6b2" stroke-width="0.5"><title>blocked in poll {}: timeout {}, {} event(s)</title></rect>"##,
                    LANE - 6.0,
                    esc(&ms(q.blocked)),
                    esc(&limit),
                    q.events
                );
                let text = format!("blocked {}", ms(q.blocked));
                if w > text.len() as f64 * 6.5 + 8.0 {
                    let _ = writeln!(
                        o,
                        r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="11" fill="#323f4b" paint-order="stroke" stroke="#eef1f5" stroke-width="3">{}</text>"##,
                        x0 + w / 2.0,
                        y + LANE / 2.0 + 1.0,
                        esc(&text)
                    );
                }
            }
        }
    }
    // Iteration boundaries.
    let mut last_label = f64::NEG_INFINITY;
    for it in its {
        let x = scale.x(it.start);
        let label = it.number.map_or("run()".to_string(), |n| format!("#{n}"));
        let _ = writeln!(
            o,
            r##"<line x1="{x:.2}" y1="{:.1}" x2="{x:.2}" y2="{lanes_bottom:.1}" stroke="#7b8794" stroke-width="0.8" stroke-dasharray="3,3"/>"##,
            lanes_top - 4.0
        );
        if x - last_label >= 26.0 {
            let _ = writeln!(
                o,
                r##"<text x="{:.1}" y="{:.1}" font-size="10" fill="#52606d">{label}</text>"##,
                x + 2.0,
                lanes_top - 6.0
            );
            last_label = x;
        }
    }
    // Callbacks.
    for it in its {
        let place = it.loose.iter().map(|c| (None, c, it)).chain(
            it.phases
                .iter()
                .flat_map(|p| p.calls.iter().map(move |c| (Some(p.phase), c, it))),
        );
        for (phase, c, it) in place {
            let l = lane_of(phase, Some(c));
            let y = lanes_top + l as f64 * LANE + 6.0;
            let x0 = scale.x(c.start);
            let w = (scale.x(c.start + c.elapsed) - x0).max(MIN_WIDTH);
            let h = LANE - 12.0;
            let where_ = match (phase, it.number) {
                (Some(p), Some(n)) => format!("{} phase, iteration {n}", p.name()),
                (Some(p), None) => format!("{} phase, before the first iteration", p.name()),
                (None, _) => "outside any phase".to_string(),
            };
            let _ = writeln!(
                o,
                r##"<rect x="{x0:.2}" y="{y:.1}" width="{w:.2}" height="{h:.1}" rx="2" fill="{}"><title>{}: ran {} at +{} ({where_})</title></rect>"##,
                colour(c.kind),
                esc(&c.describe()),
                esc(&ms(c.elapsed)),
                esc(&ms(c.start))
            );
            let label = c.kind.name();
            if w > label.len() as f64 * 6.2 + 6.0 {
                let _ = writeln!(
                    o,
                    r##"<text x="{:.1}" y="{:.1}" font-size="10.5" fill="#ffffff">{label}</text>"##,
                    x0 + 3.0,
                    y + h / 2.0 + 3.8
                );
            }
        }
    }
}

/// Picks a round tick step (1, 2 or 5 × 10^k seconds) for about eight ticks.
fn tick_step(span: f64) -> f64 {
    let rough = span / 8.0;
    let magnitude = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= rough)
        .unwrap_or(10.0 * magnitude);
    step.max(1e-9)
}

fn axis(o: &mut String, scale: &Scale, y: f64) {
    let _ = writeln!(
        o,
        r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#52606d" stroke-width="1"/>"##,
        WIDTH - RIGHT
    );
    let step = tick_step(scale.t1 - scale.t0);
    let step_ms = step * 1e3;
    let decimals = (-step_ms.log10().floor()).max(0.0) as usize;
    let mut t = (scale.t0.max(0.0) / step).ceil() * step;
    while t <= scale.t1 + step * 1e-6 {
        let x = scale.x(Duration::from_secs_f64(t.max(0.0)));
        let _ = writeln!(
            o,
            r##"<line x1="{x:.2}" y1="{y:.1}" x2="{x:.2}" y2="{:.1}" stroke="#52606d" stroke-width="1"/><text x="{x:.2}" y="{:.1}" text-anchor="middle" font-size="11" fill="#323f4b">+{:.decimals$} ms</text>"##,
            y + 5.0,
            y + 18.0,
            t * 1e3
        );
        t += step;
    }
    let _ = writeln!(
        o,
        r##"<text x="{:.1}" y="{:.1}" text-anchor="end" font-size="11" fill="#7b8794">time since the loop was created</text>"##,
        WIDTH - RIGHT,
        y + 34.0
    );
}

fn legend(o: &mut String, y: f64) {
    let mut x = 20.0;
    for (name, fill) in PALETTE {
        let _ = writeln!(
            o,
            r##"<rect x="{x:.1}" y="{y:.1}" width="14" height="14" rx="2" fill="{fill}"/><text x="{:.1}" y="{:.1}" font-size="12" fill="#323f4b">{}</text>"##,
            x + 19.0,
            y + 11.5,
            esc(name)
        );
        x += 19.0 + name.chars().count() as f64 * 7.0 + 22.0;
    }
    let y = y + 24.0;
    let _ = writeln!(
        o,
        r##"<rect x="20" y="{y:.1}" width="28" height="14" fill="#cfd8e3"/><text x="54" y="{:.1}" font-size="12" fill="#323f4b">in the phase</text>"##,
        y + 11.5
    );
    let _ = writeln!(
        o,
        r##"<rect x="160" y="{y:.1}" width="28" height="14" fill="url(#blocked)" stroke="#9aa6b2" stroke-width="0.5"/><text x="194" y="{:.1}" font-size="12" fill="#323f4b">blocked in the OS poller (epoll/kqueue)</text>"##,
        y + 11.5
    );
    let _ = writeln!(
        o,
        r##"<line x1="460" y1="{:.1}" x2="460" y2="{:.1}" stroke="#7b8794" stroke-width="0.8" stroke-dasharray="3,3"/><text x="468" y="{:.1}" font-size="12" fill="#323f4b">#n: iteration n starts (run(): before the first)</text>"##,
        y - 1.0,
        y + 15.0,
        y + 11.5
    );
    let _ = writeln!(
        o,
        r##"<text x="760" y="{:.1}" font-size="12" fill="#52606d">boxes narrower than {MIN_WIDTH} px are drawn {MIN_WIDTH} px wide</text>"##,
        y + 11.5
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(esc(r#"<a & "b">'"#), "&lt;a &amp; &quot;b&quot;&gt;&apos;");
    }

    #[test]
    fn ticks_are_round() {
        assert!((tick_step(0.001) - 0.0002).abs() < 1e-12);
        assert!((tick_step(1.0) - 0.2).abs() < 1e-12);
        assert!((tick_step(0.05) - 0.01).abs() < 1e-12);
    }
}
