//! What a request path names under the served directory. This runs on the
//! work pool: `canonicalize`, `metadata` and `read_dir` block, and a slow
//! disk must not stall every other connection on the loop.

use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// A file to send.
#[derive(Debug)]
pub(crate) struct FileInfo {
    /// Canonical path, inside the served directory.
    pub(crate) path: PathBuf,
    pub(crate) len: u64,
    pub(crate) modified: Option<SystemTime>,
}

/// One entry of a directory listing.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) name: OsString,
    pub(crate) is_dir: bool,
    pub(crate) len: u64,
    pub(crate) modified: Option<SystemTime>,
}

/// What a path resolved to. Nothing here carries a path back to the
/// client: error responses stay generic.
#[derive(Debug)]
pub(crate) enum Resolved {
    File(FileInfo),
    /// A directory without `index.html`: its entries, directories first,
    /// then by name.
    Listing(Vec<Entry>),
    /// A directory asked for without its trailing `/`: redirect, so that
    /// relative links in its page resolve inside it.
    AddSlash,
    NotFound,
    /// Outside the served directory (through a symlink), unreadable, or
    /// not a regular file or directory (a FIFO would block a pool thread).
    Forbidden,
}

/// Resolves `segments` (already free of `..`) under `root`, which must be
/// canonical. `trailing_slash`: the request path ended with `/`.
pub(crate) fn resolve(root: &Path, segments: &[OsString], trailing_slash: bool) -> Resolved {
    let mut path = root.to_path_buf();
    path.extend(segments);
    let real = match contained(root, &path) {
        Ok(real) => real,
        Err(r) => return r,
    };
    let meta = match fs::metadata(&real) {
        Ok(m) => m,
        Err(e) => return from_error(&e),
    };
    if meta.is_file() {
        // `/file.txt/` names a directory that does not exist.
        if trailing_slash {
            return Resolved::NotFound;
        }
        return file(real, &meta);
    }
    if !meta.is_dir() {
        return Resolved::Forbidden;
    }
    if !trailing_slash {
        return Resolved::AddSlash;
    }
    let index = real.join("index.html");
    // `symlink_metadata`: an index.html that is a symlink out of the
    // directory is refused below, not silently replaced by a listing.
    if fs::symlink_metadata(&index).is_ok() {
        return match contained(root, &index) {
            Ok(index) => match fs::metadata(&index) {
                Ok(m) if m.is_file() => file(index, &m),
                Ok(_) => Resolved::Forbidden,
                Err(e) => from_error(&e),
            },
            Err(r) => r,
        };
    }
    match list(&real) {
        Ok(entries) => Resolved::Listing(entries),
        Err(e) => from_error(&e),
    }
}

/// Canonicalizes `path` and checks it is still under `root`: the check
/// that catches symlinks leading out of the served directory.
fn contained(root: &Path, path: &Path) -> Result<PathBuf, Resolved> {
    match fs::canonicalize(path) {
        Ok(real) if real.starts_with(root) => Ok(real),
        Ok(_) => Err(Resolved::Forbidden),
        Err(e) => Err(from_error(&e)),
    }
}

/// A regular file, if it can be opened (so that an unreadable file is a
/// 403 now rather than a failed stream after the head went out).
fn file(path: PathBuf, meta: &fs::Metadata) -> Resolved {
    match fs::File::open(&path) {
        Ok(_) => Resolved::File(FileInfo {
            path,
            len: meta.len(),
            modified: meta.modified().ok(),
        }),
        Err(e) => from_error(&e),
    }
}

fn from_error(e: &io::Error) -> Resolved {
    match e.kind() {
        io::ErrorKind::PermissionDenied => Resolved::Forbidden,
        _ => Resolved::NotFound,
    }
}

fn list(dir: &Path) -> io::Result<Vec<Entry>> {
    let mut entries = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        // Follow symlinks for what the entry looks like; a dangling one is
        // listed as what it is.
        let meta = match fs::metadata(entry.path()) {
            Ok(m) => m,
            Err(_) => entry.metadata()?,
        };
        entries.push(Entry {
            name: entry.file_name(),
            is_dir: meta.is_dir(),
            len: meta.len(),
            modified: meta.modified().ok(),
        });
    }
    entries.sort_by(|a, b| b.is_dir.cmp(&a.is_dir).then_with(|| a.name.cmp(&b.name)));
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// A fresh directory, removed on drop.
    struct Tmp(PathBuf);

    impl Tmp {
        fn new(tag: &str) -> Tmp {
            let p = std::env::temp_dir().join(format!(
                "eventide-files-{tag}-{}-{:?}",
                std::process::id(),
                std::time::SystemTime::now()
            ));
            fs::create_dir_all(&p).expect("temp dir");
            Tmp(p.canonicalize().expect("canonical"))
        }
    }

    impl Drop for Tmp {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn segs(p: &str) -> Vec<OsString> {
        p.split('/')
            .filter(|s| !s.is_empty())
            .map(OsString::from)
            .collect()
    }

    #[test]
    fn files_dirs_and_redirects() {
        let t = Tmp::new("basic");
        let root = t.0.join("root");
        fs::create_dir_all(root.join("sub/inner")).expect("dirs");
        fs::write(root.join("sub/b.txt"), b"bb").expect("file");
        fs::write(root.join("sub/a.txt"), b"a").expect("file");
        fs::write(root.join("sub/inner/index.html"), b"<p>").expect("file");

        assert!(matches!(
            resolve(&root, &segs("sub/b.txt"), false),
            Resolved::File(FileInfo { len: 2, .. })
        ));
        assert!(matches!(
            resolve(&root, &segs("sub/b.txt"), true),
            Resolved::NotFound
        ));
        assert!(matches!(
            resolve(&root, &segs("sub"), false),
            Resolved::AddSlash
        ));
        assert!(matches!(
            resolve(&root, &segs("nope"), false),
            Resolved::NotFound
        ));
        assert!(matches!(
            resolve(&root, &segs("sub/b.txt/x"), false),
            Resolved::NotFound
        ));
        let Resolved::Listing(entries) = resolve(&root, &segs("sub"), true) else {
            panic!("a listing");
        };
        let names: Vec<_> = entries.iter().map(|e| e.name.clone()).collect();
        assert_eq!(names, ["inner", "a.txt", "b.txt"]);
        let Resolved::File(index) = resolve(&root, &segs("sub/inner"), true) else {
            panic!("the index");
        };
        assert!(index.path.ends_with("inner/index.html"));
    }

    #[test]
    fn symlinks_out_are_forbidden_and_in_are_fine() {
        let t = Tmp::new("links");
        let root = t.0.join("root");
        fs::create_dir_all(&root).expect("dir");
        fs::write(t.0.join("secret.txt"), b"s").expect("file");
        fs::write(root.join("ok.txt"), b"ok").expect("file");
        symlink(t.0.join("secret.txt"), root.join("out")).expect("link");
        symlink(&t.0, root.join("outdir")).expect("link");
        symlink(root.join("ok.txt"), root.join("in")).expect("link");
        assert!(matches!(
            resolve(&root, &segs("out"), false),
            Resolved::Forbidden
        ));
        assert!(matches!(
            resolve(&root, &segs("outdir/secret.txt"), false),
            Resolved::Forbidden
        ));
        assert!(matches!(
            resolve(&root, &segs("in"), false),
            Resolved::File(_)
        ));
    }
}
