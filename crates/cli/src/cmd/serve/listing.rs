//! The HTML page of a directory without `index.html`.

use std::fmt::Write as _;
use std::os::unix::ffi::OsStrExt;

use eventide_http_mini::proto::encode::http_date;

use super::files::Entry;
use super::path::{html_escape, percent_decode, percent_encode};

/// Renders the listing of the directory at `url_path` (as requested, ending
/// in `/`). Links are relative, so the page works under any prefix; names
/// are percent-encoded in `href`s and HTML-escaped in text.
pub(crate) fn render(url_path: &str, entries: &[Entry]) -> String {
    let shown = percent_decode(url_path).map_or_else(
        || url_path.to_string(),
        |b| String::from_utf8_lossy(&b).into_owned(),
    );
    let title = html_escape(&format!("Index of {shown}"));
    let mut html = String::with_capacity(512 + entries.len() * 160);
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width\">\n<title>{title}</title>\n\
         <style>body{{font-family:system-ui,sans-serif;margin:2em}}\
         td{{padding:.15em 1.5em .15em 0}}td.n{{text-align:right}}\
         a{{text-decoration:none}}</style>\n</head>\n<body>\n<h1>{title}</h1>\n\
         <table>\n<tr><th align=\"left\">Name</th><th>Size</th><th align=\"left\">Modified</th></tr>\n"
    );
    if url_path != "/" {
        html.push_str("<tr><td><a href=\"../\">../</a></td><td></td><td></td></tr>\n");
    }
    for e in entries {
        let bytes = e.name.as_bytes();
        let slash = if e.is_dir { "/" } else { "" };
        let href = percent_encode(bytes);
        let text = html_escape(&String::from_utf8_lossy(bytes));
        let size = if e.is_dir {
            "-".to_string()
        } else {
            human(e.len)
        };
        let modified = e.modified.map_or_else(String::new, |t| {
            String::from_utf8_lossy(&http_date(t)).into_owned()
        });
        let _ = writeln!(
            html,
            "<tr><td><a href=\"{href}{slash}\">{text}{slash}</a></td>\
             <td class=\"n\">{size}</td><td>{modified}</td></tr>"
        );
    }
    html.push_str("</table>\n<hr>\n<p><small>eventide serve</small></p>\n</body>\n</html>\n");
    html
}

/// `1234` → `1.2 KiB`; exact bytes below 1 KiB.
pub(crate) fn human(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    fn entry(name: &str, is_dir: bool) -> Entry {
        Entry {
            name: OsString::from(name),
            is_dir,
            len: 2048,
            modified: None,
        }
    }

    #[test]
    fn links_are_encoded_and_text_escaped() {
        let html = render(
            "/a%20b/",
            &[entry("d<ir>", true), entry("x&\"y\" #1?.txt", false)],
        );
        assert!(html.contains("<title>Index of /a b/</title>"), "{html}");
        assert!(html.contains("<a href=\"../\">"));
        assert!(
            html.contains("<a href=\"d%3Cir%3E/\">d&lt;ir&gt;/</a>"),
            "{html}"
        );
        assert!(
            html.contains("<a href=\"x%26%22y%22%20%231%3F.txt\">x&amp;&quot;y&quot; #1?.txt</a>"),
            "{html}"
        );
        assert!(html.contains("2.0 KiB"));
        assert!(!render("/", &[]).contains("href=\"../\""));
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human(0), "0 B");
        assert_eq!(human(1023), "1023 B");
        assert_eq!(human(1536), "1.5 KiB");
        assert_eq!(human(3 * 1024 * 1024), "3.0 MiB");
    }
}
