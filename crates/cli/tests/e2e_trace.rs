//! `eventide trace DEMO`: the timeline printed after the demo, and the SVG
//! drawn with `--svg`, checked to be well-formed XML.

mod e2e_util;

use std::process::{Command, Output};
use std::time::Duration;

use e2e_util::{BIN, TempDir, run};

const LIMIT: Duration = Duration::from_secs(60);

fn trace(args: &[&str]) -> Output {
    run(Command::new(BIN).arg("trace").args(args), LIMIT)
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A minimal well-formedness check: tags balance, attributes are quoted,
/// `&` starts a known entity, and there is one root element. Returns the
/// element names in document order.
fn well_formed(xml: &str) -> Result<Vec<String>, String> {
    let mut stack: Vec<String> = Vec::new();
    let mut names = Vec::new();
    let mut roots = 0;
    let mut rest = xml;
    let check_text = |text: &str| -> Result<(), String> {
        let mut t = text;
        while let Some(i) = t.find('&') {
            let end = t[i..].find(';').ok_or("an unterminated entity")?;
            let entity = &t[i + 1..i + end];
            let known = ["amp", "lt", "gt", "quot", "apos"].contains(&entity)
                || (entity.starts_with('#') && entity.len() > 1);
            if !known {
                return Err(format!("unknown entity &{entity};"));
            }
            t = &t[i + end + 1..];
        }
        Ok(())
    };
    while let Some(open) = rest.find('<') {
        let text = &rest[..open];
        if stack.is_empty() && !text.trim().is_empty() {
            return Err(format!("text outside the root: {text:?}"));
        }
        check_text(text)?;
        rest = &rest[open..];
        if let Some(after) = rest.strip_prefix("<!--") {
            let end = after.find("-->").ok_or("an unterminated comment")?;
            rest = &after[end + 3..];
            continue;
        }
        if let Some(after) = rest.strip_prefix("<?") {
            let end = after.find("?>").ok_or("an unterminated declaration")?;
            rest = &after[end + 2..];
            continue;
        }
        // The end of the tag: the first `>` outside quotes.
        let mut quote = None;
        let mut end = None;
        for (i, c) in rest.char_indices().skip(1) {
            match (quote, c) {
                (None, '"' | '\'') => quote = Some(c),
                (Some(q), c) if c == q => quote = None,
                (Some(_), '<') => return Err("a < inside an attribute value".into()),
                (None, '>') => {
                    end = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let end = end.ok_or("an unterminated tag")?;
        let tag = &rest[1..end];
        rest = &rest[end + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            let name = name.trim();
            match stack.pop() {
                Some(open) if open == name => {}
                other => return Err(format!("</{name}> closes {other:?}")),
            }
            continue;
        }
        let self_closing = tag.ends_with('/');
        let body = tag.trim_end_matches('/');
        let name: String = body.chars().take_while(|c| !c.is_whitespace()).collect();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_alphanumeric() || ":-_".contains(c))
        {
            return Err(format!("a bad element name in <{tag}>"));
        }
        // Attributes: name="value" pairs, every value quoted.
        let mut attrs = body[name.len()..].trim();
        while !attrs.is_empty() {
            let eq = attrs
                .find('=')
                .ok_or_else(|| format!("an attribute without a value in <{tag}>"))?;
            let value = attrs[eq + 1..].trim_start();
            let q = value.chars().next().filter(|c| *c == '"' || *c == '\'');
            let q = q.ok_or_else(|| format!("an unquoted attribute in <{tag}>"))?;
            let close = value[1..].find(q).ok_or("an unterminated attribute")?;
            check_text(&value[1..1 + close])?;
            attrs = value[close + 2..].trim_start();
        }
        if stack.is_empty() {
            roots += 1;
        }
        names.push(name.clone());
        if !self_closing {
            stack.push(name);
        }
    }
    if !rest.trim().is_empty() {
        return Err(format!("text after the root: {rest:?}"));
    }
    if let Some(open) = stack.pop() {
        return Err(format!("<{open}> is never closed"));
    }
    if roots != 1 {
        return Err(format!("{roots} root elements"));
    }
    Ok(names)
}

#[test]
fn the_checker_rejects_what_is_not_xml() {
    assert!(well_formed("<svg><rect/><g><text>a &amp; b</text></g></svg>").is_ok());
    assert!(well_formed("<svg><g></svg>").is_err());
    assert!(well_formed("<svg><text>a & b</text></svg>").is_err());
    assert!(well_formed("<svg width=1></svg>").is_err());
    assert!(well_formed("<svg></svg><svg></svg>").is_err());
    assert!(well_formed("<svg><text>a</b></svg>").is_err());
}

#[test]
fn phases_prints_a_timeline_and_draws_a_valid_svg() {
    let tmp = TempDir::new("trace");
    let file = tmp.path.join("phases.svg");
    let out = trace(&["phases", "--svg", file.to_str().expect("a UTF-8 path")]);
    let text = stdout(&out);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The demo's own output is kept, then the timeline follows.
    assert!(text.contains("observed  timers → pending"), "{text}");
    let timeline = &text[text.find("timeline of `phases`").expect("a timeline")..];
    for needle in [
        "iteration 1",
        "timers",
        "pending",
        "idle",
        "prepare",
        "poll",
        "check",
        "close",
        "blocked",
        "io fd",
        "  nextTick",
        "  microtask",
        "immediate",
        "per phase, in all",
    ] {
        assert!(timeline.contains(needle), "no {needle:?} in:\n{timeline}");
    }

    let svg = std::fs::read_to_string(&file).expect("the SVG was written");
    assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(200)]);
    let names = well_formed(&svg).unwrap_or_else(|e| panic!("not well-formed XML: {e}"));
    let rects = names.iter().filter(|n| *n == "rect").count();
    // 13 callbacks, 8 lane backgrounds, phase bands, legend swatches.
    assert!(rects >= 13 + 8, "{rects} rects");
    for lane in [
        ">timers<",
        ">pending<",
        ">idle<",
        ">prepare<",
        ">poll<",
        ">check<",
        ">close<",
        ">nextTick · microtask<",
    ] {
        assert!(svg.contains(lane), "no lane {lane}");
    }
    assert!(
        svg.contains("<title>io fd"),
        "no tooltip for the I/O callback"
    );
}

#[test]
fn idle_iterations_collapse_and_the_limit_is_said() {
    let out = trace(&["http"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    let timeline = &text[text.find("timeline of `http`").expect("a timeline")..];
    // The client waits in one poll with no timeout: only I/O wakes it.
    assert!(
        timeline.contains("timeout none: only I/O can wake it"),
        "{timeline}"
    );

    let out = trace(&["starvation", "--iterations", "3"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("not shown") && text.contains("raise --iterations (now 3)"),
        "{text}"
    );
}

#[test]
fn an_unknown_demo_lists_the_demos() {
    let out = trace(&["no-such-demo"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no demo named `no-such-demo`"), "{err}");
    assert!(
        err.contains("starvation") && err.contains("timers-vs-immediate"),
        "{err}"
    );
}
