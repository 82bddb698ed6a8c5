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

/// Shell-style wildcard match of one path component: `*` any run, `?` one byte, `[…]` one byte
/// of a set (`[a-c]`, `[!x]`, `[^x]`; a `[` without `]` is itself).
///
/// One pass with the last `*` as the only backtracking point: time is at most pattern length ×
/// name length whatever the pattern (a recursive matcher takes exponential time on
/// `************X`, which a configuration's `#include` can hold).
pub(crate) fn wildcard_match(pat: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0, 0);
    // Where to resume after the last `*`: the pattern after it, and the name byte it would
    // swallow next.
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        if pat.get(p) == Some(&b'*') {
            p += 1;
            star = Some((p, n));
            continue;
        }
        if let Some(len) = match_one(&pat[p..], name[n]) {
            p += len;
            n += 1;
            continue;
        }
        let Some((after, swallowed)) = star else {
            return false;
        };
        p = after;
        n = swallowed + 1;
        star = Some((after, n));
    }
    pat[p..].iter().all(|&b| b == b'*')
}

/// Whether the pattern's first element (`?`, a `[…]` set or a literal byte; not `*`) matches
/// `c`, and if so how many pattern bytes it spans.
fn match_one(pat: &[u8], c: u8) -> Option<usize> {
    match *pat.first()? {
        b'?' => Some(1),
        b'[' => {
            let Some(close) = pat.iter().skip(1).position(|&b| b == b']').map(|p| p + 1) else {
                return (c == b'[').then_some(1);
            };
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
            (hit != negate).then_some(close + 1)
        }
        b => (b == c).then_some(1),
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

    /// The recursive matcher this module had, kept as the reference: same answers, but
    /// exponential time on runs of `*`.
    fn reference_match(pat: &[u8], name: &[u8]) -> bool {
        match pat.first() {
            None => name.is_empty(),
            Some(b'*') => (0..=name.len()).any(|i| reference_match(&pat[1..], &name[i..])),
            Some(b'?') => !name.is_empty() && reference_match(&pat[1..], &name[1..]),
            Some(b'[') => {
                let Some(close) = pat.iter().skip(1).position(|&b| b == b']').map(|p| p + 1) else {
                    return name.first() == Some(&b'[') && reference_match(&pat[1..], &name[1..]);
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
                hit != negate && reference_match(&pat[close + 1..], &name[1..])
            }
            Some(&b) => name.first() == Some(&b) && reference_match(&pat[1..], &name[1..]),
        }
    }

    #[test]
    fn wildcards_agree_with_the_recursive_definition() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let pat_bytes = b"ab*?[]!^-";
        let name_bytes = b"ab[]-!";
        for _ in 0..20_000 {
            let pat: Vec<u8> = (0..next() % 9)
                .map(|_| pat_bytes[next() as usize % pat_bytes.len()])
                .collect();
            let name: Vec<u8> = (0..next() % 7)
                .map(|_| name_bytes[next() as usize % name_bytes.len()])
                .collect();
            assert_eq!(
                wildcard_match(&pat, &name),
                reference_match(&pat, &name),
                "{:?} on {:?}",
                String::from_utf8_lossy(&pat),
                String::from_utf8_lossy(&name)
            );
        }
    }

    #[test]
    fn runs_of_stars_take_linear_time() {
        // `#include ************X` hung the audit for minutes per directory entry with the
        // recursive matcher (confirmed as a timeout with the `conf` fuzz target:
        // fuzz/corpus/conf/found-include-stars).
        let name = b"extensions_override_freepbx.conf";
        let started = std::time::Instant::now();
        assert!(!wildcard_match(
            &[b'*'; 200].iter().chain(b"X").copied().collect::<Vec<_>>(),
            name
        ));
        assert!(!wildcard_match(b"*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*X", name));
        assert!(wildcard_match(b"************.conf", name));
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
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
