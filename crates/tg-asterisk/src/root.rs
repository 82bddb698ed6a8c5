//! The audited machine's file system, seen through `--root DIR`: every path the auditor
//! names is the path *on the audited machine* (`/etc/asterisk/sip.conf`); only this module
//! knows that it really lives under `DIR`.

use std::io;
use std::path::{Component, Path, PathBuf};

/// The largest file the auditor reads. Configuration files are kilobytes; anything this big
/// is not one, and reading it whole would only waste memory.
pub const MAX_FILE_BYTES: u64 = 32 * 1024 * 1024;

/// The audited machine's `/`.
#[derive(Clone, Debug)]
pub struct Root {
    dir: PathBuf,
}

impl Root {
    /// A root at `dir` (`/` audits this machine).
    pub fn new(dir: impl Into<PathBuf>) -> Root {
        Root { dir: dir.into() }
    }

    /// The directory standing for `/`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether this is the running machine's own `/` (only then may programs be run).
    pub fn is_host(&self) -> bool {
        self.dir == Path::new("/")
    }

    /// Where the machine path `machine` (absolute, e.g. `/etc/ssh/sshd_config`) really is.
    /// `..` components cannot climb above the root.
    pub fn real(&self, machine: &Path) -> PathBuf {
        let mut out = self.dir.clone();
        let mut depth = 0usize;
        for c in machine.components() {
            match c {
                Component::Normal(part) => {
                    out.push(part);
                    depth += 1;
                }
                Component::ParentDir if depth > 0 => {
                    out.pop();
                    depth -= 1;
                }
                _ => {}
            }
        }
        out
    }

    /// Reads a whole file by machine path, refusing files over [`MAX_FILE_BYTES`].
    pub fn read(&self, machine: &Path) -> io::Result<Vec<u8>> {
        let real = self.real(machine);
        let meta = std::fs::metadata(&real)?;
        if meta.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "is a directory",
            ));
        }
        if meta.len() > MAX_FILE_BYTES {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("larger than {MAX_FILE_BYTES} bytes"),
            ));
        }
        std::fs::read(real)
    }

    /// Reads a file as text (invalid UTF-8 replaced); `None` when it does not exist or
    /// cannot be read. For host files whose absence is itself the answer.
    pub fn read_text_opt(&self, machine: &Path) -> Option<String> {
        self.read(machine)
            .ok()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    }

    /// Whether the machine path exists (a file, directory or dangling link).
    pub fn exists(&self, machine: &Path) -> bool {
        std::fs::symlink_metadata(self.real(machine)).is_ok()
    }

    /// Whether the machine path is a directory.
    pub fn is_dir(&self, machine: &Path) -> bool {
        self.real(machine).is_dir()
    }

    /// The names in a directory (sorted), empty when it cannot be read.
    pub fn list(&self, machine: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.real(machine))
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .filter_map(|e| e.file_name().into_string().ok())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    /// Expands `*`, `?` and `[…]` wildcards in any component of an absolute machine path,
    /// like `glob(3)` as Asterisk and sshd use it. Results are sorted; a pattern without
    /// wildcards yields itself if it exists.
    pub fn glob(&self, pattern: &Path) -> Vec<PathBuf> {
        let mut found = vec![PathBuf::from("/")];
        for c in pattern.components() {
            let Component::Normal(part) = c else { continue };
            let part = part.to_string_lossy();
            let mut next = Vec::new();
            for base in &found {
                if has_wildcard(&part) {
                    for name in self.list(base) {
                        if name.starts_with('.') && !part.starts_with('.') {
                            continue;
                        }
                        if wildcard_match(part.as_bytes(), name.as_bytes()) {
                            next.push(base.join(name));
                        }
                    }
                } else {
                    next.push(base.join(part.as_ref()));
                }
            }
            found = next;
        }
        found.retain(|p| self.exists(p));
        found.sort();
        found
    }
}

fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// Shell-style wildcard match of one path component.
pub(crate) fn wildcard_match(pat: &[u8], name: &[u8]) -> bool {
    match pat.first() {
        None => name.is_empty(),
        Some(b'*') => (0..=name.len()).any(|i| wildcard_match(&pat[1..], &name[i..])),
        Some(b'?') => !name.is_empty() && wildcard_match(&pat[1..], &name[1..]),
        Some(b'[') => {
            let Some(close) = pat.iter().skip(1).position(|&b| b == b']').map(|p| p + 1) else {
                return name.first() == Some(&b'[') && wildcard_match(&pat[1..], &name[1..]);
            };
            let Some(&c) = name.first() else { return false };
            let set = &pat[1..close];
            let (negate, set) = match set.first() {
                Some(b'!') | Some(b'^') => (true, &set[1..]),
                _ => (false, set),
            };
            let mut hit = false;
            let mut i = 0;
            while i < set.len() {
                if i + 2 < set.len() && set[i + 1] == b'-' {
                    hit |= set[i] <= c && c <= set[i + 2];
                    i += 3;
                } else {
                    hit |= set[i] == c;
                    i += 1;
                }
            }
            hit != negate && wildcard_match(&pat[close + 1..], &name[1..])
        }
        Some(&b) => name.first() == Some(&b) && wildcard_match(&pat[1..], &name[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_paths_stay_under_the_root() {
        let r = Root::new("/tmp/x");
        assert_eq!(
            r.real(Path::new("/etc/asterisk/sip.conf")),
            Path::new("/tmp/x/etc/asterisk/sip.conf")
        );
        assert_eq!(
            r.real(Path::new("/../../etc/passwd")),
            Path::new("/tmp/x/etc/passwd")
        );
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match(b"*.conf", b"sip.conf"));
        assert!(!wildcard_match(b"*.conf", b"sip.conf.bak"));
        assert!(wildcard_match(b"sip_?.conf", b"sip_a.conf"));
        assert!(wildcard_match(b"[a-c]x", b"bx"));
        assert!(!wildcard_match(b"[!a-c]x", b"bx"));
    }

    #[test]
    fn glob_expands_in_sorted_order() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("etc/a")).unwrap();
        for n in ["b.conf", "a.conf", "c.txt"] {
            std::fs::write(dir.path().join("etc/a").join(n), "").unwrap();
        }
        let r = Root::new(dir.path());
        let got = r.glob(Path::new("/etc/a/*.conf"));
        assert_eq!(
            got,
            vec![
                PathBuf::from("/etc/a/a.conf"),
                PathBuf::from("/etc/a/b.conf")
            ]
        );
    }
}
