//! Asterisk's configuration dialect, read the way `main/config.c` reads it: `[section]`
//! headers with `(!)` templates, `(a,b)` inheritance and `(+)` appends; `name = value` and
//! `name => value`; `+=`; `;` comments, nested `;-- … --;` block comments and `\;`;
//! `#include` / `#tryinclude` with globs, relative to the Asterisk configuration directory,
//! followed inline (an include in the middle of a section continues that section).
//!
//! Every value keeps the file and line it came from, also through inheritance, so a finding
//! about a template's weak secret points at the template's line.
//!
//! What cannot be a configuration is an error naming file and line ([`ConfError`]); what
//! Asterisk itself would skip with a warning (a line without `=`, `#exec`, an unterminated
//! block comment) is skipped and reported as a [`Skipped`]. A [`Loader::lenient`] reader
//! (the firewall's: a broken line must not hide the trunks around it) reads on past what
//! cannot be a configuration too, recording each place as a [`Skipped`]; on a file the
//! strict reader accepts, it reads exactly the same sections.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::root::Root;

/// How deep `#include`s may nest before we call it a runaway.
const MAX_INCLUDE_DEPTH: usize = 32;

/// A file that was read, by index into [`Sources`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(u32);

/// A place in a configuration file: which file, which 1-based line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Loc {
    /// The file.
    pub file: FileId,
    /// The 1-based line.
    pub line: u32,
}

/// Every file a [`Loader`] read, by machine path (`/etc/asterisk/sip.conf`).
#[derive(Debug, Default)]
pub struct Sources {
    paths: Vec<PathBuf>,
    ids: HashMap<PathBuf, FileId>,
}

impl Sources {
    /// The id of a machine path, registering it on first sight.
    pub fn id(&mut self, path: &Path) -> FileId {
        if let Some(&id) = self.ids.get(path) {
            return id;
        }
        let id = FileId(self.paths.len() as u32);
        self.paths.push(path.to_path_buf());
        self.ids.insert(path.to_path_buf(), id);
        id
    }

    /// The machine path of a file.
    pub fn path(&self, id: FileId) -> &Path {
        &self.paths[id.0 as usize]
    }

    /// Every file read, in the order first seen.
    pub fn all(&self) -> &[PathBuf] {
        &self.paths
    }
}

/// One `key = value` (or `key => value`) line.
#[derive(Clone, Debug)]
pub struct Entry {
    /// The key as written (compare case-insensitively).
    pub key: String,
    /// The value, trimmed, comments removed.
    pub value: String,
    /// Where it was written (for inherited entries: in the template).
    pub at: Loc,
}

/// One `[name]` section with its entries (inherited ones first, as Asterisk copies them).
#[derive(Clone, Debug)]
pub struct Section {
    /// The name between the brackets.
    pub name: String,
    /// The header line.
    pub at: Loc,
    /// `(!)`: a template, not a real object.
    pub template: bool,
    /// Entries in effect order: for single-valued options the last one wins.
    pub entries: Vec<Entry>,
}

impl Section {
    /// The entry that takes effect for a single-valued option (the last one).
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.entries
            .iter()
            .rev()
            .find(|e| e.key.eq_ignore_ascii_case(key))
    }

    /// The effective value of a single-valued option.
    pub fn value(&self, key: &str) -> Option<&str> {
        self.get(key).map(|e| e.value.as_str())
    }

    /// Every entry of a multi-valued option (`permit`, `exten`, `include`…), in order.
    pub fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a Entry> + 'a {
        self.entries
            .iter()
            .filter(move |e| e.key.eq_ignore_ascii_case(key))
    }

    /// Whether any of the keys is present.
    pub fn has_any(&self, keys: &[&str]) -> bool {
        keys.iter().any(|k| self.get(k).is_some())
    }
}

/// A parsed configuration file with its includes expanded.
#[derive(Clone, Debug, Default)]
pub struct ConfFile {
    /// Where the main file is (machine path).
    pub path: PathBuf,
    /// Every section, templates included, in file order.
    pub sections: Vec<Section>,
}

impl ConfFile {
    /// The real (non-template) sections.
    pub fn objects(&self) -> impl Iterator<Item = &Section> {
        self.sections.iter().filter(|s| !s.template)
    }

    /// The first real section with this name (`general`, `options`…).
    pub fn section(&self, name: &str) -> Option<&Section> {
        self.objects().find(|s| s.name.eq_ignore_ascii_case(name))
    }

    /// The effective value of `key` in section `name`.
    pub fn value(&self, name: &str, key: &str) -> Option<&Entry> {
        self.section(name).and_then(|s| s.get(key))
    }
}

/// A line Asterisk would skip with a warning; reported, not fatal.
#[derive(Clone, Debug)]
pub struct Skipped {
    /// Where.
    pub at: Loc,
    /// Why, in a few words (never the line's text: it may hold a secret).
    pub reason: &'static str,
}

/// A configuration file that cannot be read as one. Every variant names file and line.
#[derive(Debug, thiserror::Error)]
pub enum ConfError {
    /// The file exists but cannot be read.
    #[error("{file}: cannot read: {source}")]
    Unreadable {
        /// Machine path.
        file: String,
        /// Why.
        source: std::io::Error,
    },
    /// Binary data: NUL or other control bytes that no configuration contains.
    #[error("{file}:{line}: binary data (control byte 0x{byte:02x}); not an Asterisk configuration file")]
    Binary {
        /// Machine path.
        file: String,
        /// Line of the first such byte.
        line: u32,
        /// The byte.
        byte: u8,
    },
    /// `[name` without `]`.
    #[error("{file}:{line}: section header has no closing ']'")]
    UnterminatedSection {
        /// Machine path.
        file: String,
        /// Line.
        line: u32,
    },
    /// `[name](opts` without `)`.
    #[error("{file}:{line}: section options have no closing ')'")]
    UnterminatedOptions {
        /// Machine path.
        file: String,
        /// Line.
        line: u32,
    },
    /// A setting before any `[section]` (Asterisk: "No category context").
    #[error("{file}:{line}: setting outside any [section]")]
    NoSection {
        /// Machine path.
        file: String,
        /// Line.
        line: u32,
    },
    /// `[x](tmpl)` with no earlier section `tmpl`.
    #[error("{file}:{line}: inherits from '{name}', which is not defined before it")]
    UnknownTemplate {
        /// Machine path.
        file: String,
        /// Line.
        line: u32,
        /// The missing name.
        name: String,
    },
    /// `[x](+)` with no earlier `[x]`.
    #[error("{file}:{line}: '(+)' appends to '{name}', which is not defined before it")]
    AppendToMissing {
        /// Machine path.
        file: String,
        /// Line.
        line: u32,
        /// The missing name.
        name: String,
    },
    /// `#include` of a file that does not exist (use `#tryinclude` for optional files).
    #[error("{file}:{line}: #include {target}: no such file")]
    MissingInclude {
        /// Machine path.
        file: String,
        /// Line.
        line: u32,
        /// The include's argument.
        target: String,
    },
    /// A file includes itself, directly or through others.
    #[error("{file}:{line}: include cycle: {chain}")]
    IncludeCycle {
        /// Machine path of the include that closes the cycle.
        file: String,
        /// Its line.
        line: u32,
        /// `a.conf:3 -> b.conf:1 -> a.conf`.
        chain: String,
    },
    /// Includes nested deeper than 32 levels.
    #[error("{file}:{line}: includes nested deeper than {MAX_INCLUDE_DEPTH}")]
    TooDeep {
        /// Machine path.
        file: String,
        /// Line.
        line: u32,
    },
}

impl ConfError {
    /// What is wrong, in a few words (for a [`Skipped`] when reading leniently).
    fn reason(&self) -> &'static str {
        match self {
            ConfError::Unreadable { .. } => "included file cannot be read",
            ConfError::Binary { .. } => "binary data (control byte)",
            ConfError::UnterminatedSection { .. } => "section header has no closing ']'",
            ConfError::UnterminatedOptions { .. } => "section options have no closing ')'",
            ConfError::NoSection { .. } => "setting outside any [section]",
            ConfError::UnknownTemplate { .. } => "inherits from a section not defined before it",
            ConfError::AppendToMissing { .. } => "'(+)' appends to a section not defined before it",
            ConfError::MissingInclude { .. } => "#include of a file that does not exist",
            ConfError::IncludeCycle { .. } => "include cycle",
            ConfError::TooDeep { .. } => "includes nested too deep",
        }
    }
}

/// Reads Asterisk configuration files under one configuration directory.
pub struct Loader<'a> {
    root: &'a Root,
    config_dir: PathBuf,
    sources: &'a mut Sources,
    skipped: &'a mut Vec<Skipped>,
    lenient: bool,
}

impl<'a> Loader<'a> {
    /// A loader resolving relative names against `config_dir` (machine path, normally
    /// `/etc/asterisk`).
    pub fn new(
        root: &'a Root,
        config_dir: impl Into<PathBuf>,
        sources: &'a mut Sources,
        skipped: &'a mut Vec<Skipped>,
    ) -> Self {
        Loader {
            root,
            config_dir: config_dir.into(),
            sources,
            skipped,
            lenient: false,
        }
    }

    /// A loader that reads on past what cannot be a configuration: the line (a broken header,
    /// a setting outside any section, binary data) or the include (missing, unreadable, a
    /// cycle, too deep) is skipped and recorded as a [`Skipped`]; a section inheriting from or
    /// appending to an unknown one is read as a plain section. Only a main file that cannot
    /// be read is still an error.
    pub fn lenient(mut self) -> Self {
        self.lenient = true;
        self
    }

    /// `err` when strict; when lenient, records it as skipped at `at` and goes on.
    fn recover(&mut self, err: ConfError, at: Loc) -> Result<(), ConfError> {
        if !self.lenient {
            return Err(err);
        }
        self.skipped.push(Skipped {
            at,
            reason: err.reason(),
        });
        Ok(())
    }

    /// Loads `name` (e.g. `sip.conf`) with its includes; `Ok(None)` when it does not exist
    /// (the module is not configured).
    pub fn load(&mut self, name: &str) -> Result<Option<ConfFile>, ConfError> {
        let path = self.resolve(name);
        if !self.root.exists(&path) {
            return Ok(None);
        }
        let mut state = State::default();
        let mut stack = Vec::new();
        self.load_file(&path, &mut state, &mut stack)?;
        Ok(Some(ConfFile {
            path,
            sections: state.sections,
        }))
    }

    /// Parses text as if it were the file `path` (for tests and generated input).
    pub fn parse_text(&mut self, path: &Path, text: &[u8]) -> Result<ConfFile, ConfError> {
        let mut state = State::default();
        let mut stack = Vec::new();
        self.parse_bytes(path, text, &mut state, &mut stack)?;
        Ok(ConfFile {
            path: path.to_path_buf(),
            sections: state.sections,
        })
    }

    fn resolve(&self, name: &str) -> PathBuf {
        if name.starts_with('/') {
            PathBuf::from(name)
        } else {
            self.config_dir.join(name)
        }
    }

    fn load_file(
        &mut self,
        path: &Path,
        state: &mut State,
        stack: &mut Vec<(PathBuf, u32)>,
    ) -> Result<(), ConfError> {
        let bytes = self
            .root
            .read(path)
            .map_err(|source| ConfError::Unreadable {
                file: path.display().to_string(),
                source,
            })?;
        self.parse_bytes(path, &bytes, state, stack)
    }

    fn parse_bytes(
        &mut self,
        path: &Path,
        bytes: &[u8],
        state: &mut State,
        stack: &mut Vec<(PathBuf, u32)>,
    ) -> Result<(), ConfError> {
        let file = self.sources.id(path);
        let display = || path.display().to_string();
        let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
        let mut depth = 0u32;
        let mut comment_start = 0u32;
        for (idx, raw) in bytes.split(|&b| b == b'\n').enumerate() {
            let line = idx as u32 + 1;
            if let Some(&byte) = raw.iter().find(|&&b| is_binary(b)) {
                let err = ConfError::Binary {
                    file: display(),
                    line,
                    byte,
                };
                self.recover(err, Loc { file, line })?;
                continue;
            }
            let was_in_comment = depth > 0;
            let text = String::from_utf8_lossy(raw);
            let code = strip_comments(&text, &mut depth);
            if !was_in_comment && depth > 0 {
                comment_start = line;
            }
            let code = code.trim();
            if code.is_empty() {
                continue;
            }
            let at = Loc { file, line };
            if code.starts_with('[') {
                self.header(code, at, state, &display)?;
            } else if let Some(directive) = code.strip_prefix('#') {
                self.directive(directive, at, path, state, stack, &display)?;
            } else {
                self.variable(code, at, state, &display)?;
            }
        }
        if depth > 0 {
            self.skipped.push(Skipped {
                at: Loc {
                    file,
                    line: comment_start,
                },
                reason: "block comment ';--' is never closed: the rest of the file is ignored",
            });
        }
        Ok(())
    }

    fn header(
        &mut self,
        code: &str,
        at: Loc,
        state: &mut State,
        display: &dyn Fn() -> String,
    ) -> Result<(), ConfError> {
        let Some(close) = code.find(']') else {
            let err = ConfError::UnterminatedSection {
                file: display(),
                line: at.line,
            };
            return self.recover(err, at);
        };
        let name = code[1..close].trim().to_string();
        let rest = code[close + 1..].trim();
        let mut template = false;
        let mut append = false;
        let mut parents = Vec::new();
        if let Some(opts) = rest.strip_prefix('(') {
            let end = match opts.find(')') {
                Some(end) => end,
                None => {
                    let err = ConfError::UnterminatedOptions {
                        file: display(),
                        line: at.line,
                    };
                    self.recover(err, at)?;
                    0
                }
            };
            for opt in opts[..end].split(',').map(str::trim) {
                match opt {
                    "" => {}
                    "!" => template = true,
                    o if o.starts_with('+') => append = true,
                    o => parents.push(o.to_string()),
                }
            }
        }
        let key = name.to_ascii_lowercase();
        if append {
            if let Some(&idx) = state.by_name.get(&key) {
                state.current = Some(idx);
                return Ok(());
            }
            let err = ConfError::AppendToMissing {
                file: display(),
                line: at.line,
                name: name.clone(),
            };
            self.recover(err, at)?;
        }
        let mut entries = Vec::new();
        for parent in &parents {
            let Some(&idx) = state.by_name.get(&parent.to_ascii_lowercase()) else {
                let err = ConfError::UnknownTemplate {
                    file: display(),
                    line: at.line,
                    name: parent.clone(),
                };
                self.recover(err, at)?;
                continue;
            };
            entries.extend(state.sections[idx].entries.iter().cloned());
        }
        state.sections.push(Section {
            name,
            at,
            template,
            entries,
        });
        let idx = state.sections.len() - 1;
        state.by_name.insert(key, idx);
        state.current = Some(idx);
        Ok(())
    }

    fn directive(
        &mut self,
        directive: &str,
        at: Loc,
        path: &Path,
        state: &mut State,
        stack: &mut Vec<(PathBuf, u32)>,
        display: &dyn Fn() -> String,
    ) -> Result<(), ConfError> {
        let directive = directive.trim_start();
        let (word, arg) = directive
            .split_once(|c: char| c.is_ascii_whitespace())
            .unwrap_or((directive, ""));
        let optional = match word.to_ascii_lowercase().as_str() {
            "include" => false,
            "tryinclude" => true,
            "exec" => {
                self.skipped.push(Skipped {
                    at,
                    reason: "#exec runs a program; not followed by the audit",
                });
                return Ok(());
            }
            _ => {
                self.skipped.push(Skipped {
                    at,
                    reason: "unknown directive",
                });
                return Ok(());
            }
        };
        let target = unquote(arg.trim());
        if target.is_empty() {
            self.skipped.push(Skipped {
                at,
                reason: "#include without a file name",
            });
            return Ok(());
        }
        let pattern = self.resolve(target);
        let matches = self.root.glob(&pattern);
        if matches.is_empty() {
            if optional {
                return Ok(());
            }
            let err = ConfError::MissingInclude {
                file: display(),
                line: at.line,
                target: target.to_string(),
            };
            return self.recover(err, at);
        }
        if stack.len() >= MAX_INCLUDE_DEPTH {
            let err = ConfError::TooDeep {
                file: display(),
                line: at.line,
            };
            return self.recover(err, at);
        }
        for inc in matches {
            if self.root.is_dir(&inc) {
                continue;
            }
            let chain_hit = inc == path || stack.iter().any(|(p, _)| *p == inc);
            if chain_hit {
                let mut chain: Vec<String> = stack
                    .iter()
                    .map(|(p, l)| format!("{}:{l}", p.display()))
                    .skip_while(|s| !s.starts_with(&format!("{}:", inc.display())))
                    .collect();
                chain.push(format!("{}:{}", path.display(), at.line));
                chain.push(inc.display().to_string());
                let err = ConfError::IncludeCycle {
                    file: display(),
                    line: at.line,
                    chain: chain.join(" -> "),
                };
                self.recover(err, at)?;
                continue;
            }
            stack.push((path.to_path_buf(), at.line));
            let result = self.load_file(&inc, state, stack);
            stack.pop();
            if let Err(err) = result {
                // Lenient: only the included file's own unreadability gets here.
                self.recover(err, at)?;
            }
        }
        Ok(())
    }

    fn variable(
        &mut self,
        code: &str,
        at: Loc,
        state: &mut State,
        display: &dyn Fn() -> String,
    ) -> Result<(), ConfError> {
        let Some(current) = state.current else {
            let err = ConfError::NoSection {
                file: display(),
                line: at.line,
            };
            return self.recover(err, at);
        };
        let code = code.strip_prefix('\\').unwrap_or(code);
        let Some(eq) = code.find('=') else {
            self.skipped.push(Skipped {
                at,
                reason: "no '=' on this line; Asterisk ignores it",
            });
            return Ok(());
        };
        let mut key = code[..eq].trim();
        let mut value = &code[eq + 1..];
        if let Some(v) = value.strip_prefix('>') {
            value = v;
        }
        let value = value.trim().to_string();
        let section = &mut state.sections[current];
        if let Some(k) = key.strip_suffix('+') {
            key = k.trim_end();
            if let Some(prev) = section
                .entries
                .iter_mut()
                .rev()
                .find(|e| e.key.eq_ignore_ascii_case(key))
            {
                prev.value.push_str(&value);
                return Ok(());
            }
        }
        section.entries.push(Entry {
            key: key.to_string(),
            value,
            at,
        });
        Ok(())
    }
}

#[derive(Default)]
struct State {
    sections: Vec<Section>,
    /// Lower-cased name → index of the last section with that name.
    by_name: HashMap<String, usize>,
    current: Option<usize>,
}

/// Control bytes that never occur in a text configuration (tab, CR, LF and FF do).
fn is_binary(b: u8) -> bool {
    (b < 0x20 && !matches!(b, b'\t' | b'\r' | b'\x0c')) || b == 0x7f
}

/// Removes `;` comments and `;-- … --;` block comments (nesting), turning `\;` into `;`.
/// `depth` carries the block-comment nesting across lines.
fn strip_comments(line: &str, depth: &mut u32) -> String {
    let b = line.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b';' {
            if *depth == 0 && out.last() == Some(&b'\\') {
                out.pop();
                out.push(b';');
                i += 1;
                continue;
            }
            if b[i + 1..].starts_with(b"--") && !b[i + 1..].starts_with(b"---") {
                *depth += 1;
                i += 3;
                continue;
            }
            if *depth == 0 {
                break;
            }
            i += 1;
            continue;
        }
        if *depth > 0 {
            if b[i..].starts_with(b"--;") {
                *depth -= 1;
                i += 3;
            } else {
                i += 1;
            }
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn unquote(s: &str) -> &str {
    for (open, close) in [('"', '"'), ('<', '>')] {
        if let Some(inner) = s.strip_prefix(open).and_then(|r| r.strip_suffix(close)) {
            return inner;
        }
    }
    s
}

/// Parses `text` strictly as the machine file `path` under `/etc/asterisk` (for the views'
/// tests).
#[cfg(test)]
pub(crate) fn parse_for_test(path: &str, text: &[u8]) -> ConfFile {
    let root = Root::new("/nonexistent");
    let mut sources = Sources::default();
    let mut skipped = Vec::new();
    let mut l = Loader::new(&root, "/etc/asterisk", &mut sources, &mut skipped);
    l.parse_text(Path::new(path), text).unwrap()
}

/// Asterisk's `ast_true()`: yes, true, y, t, 1, on.
pub fn is_true(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "yes" | "true" | "y" | "t" | "1" | "on"
    )
}

/// Asterisk's `ast_false()`: no, false, n, f, 0, off.
pub fn is_false(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "no" | "false" | "n" | "f" | "0" | "off"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<(ConfFile, Vec<Skipped>), ConfError> {
        let root = Root::new("/nonexistent-root");
        let mut sources = Sources::default();
        let mut skipped = Vec::new();
        let mut l = Loader::new(&root, "/etc/asterisk", &mut sources, &mut skipped);
        let c = l.parse_text(Path::new("/etc/asterisk/t.conf"), text.as_bytes())?;
        Ok((c, skipped))
    }

    #[test]
    fn templates_and_inheritance_keep_the_template_line() {
        let (c, _) = parse(
            "[base](!)\nsecret=abc\ncontext=a\n[phones](!,base)\ncontext=b\n[100](phones)\nhost=dynamic\n",
        )
        .unwrap();
        let s = c.section("100").unwrap();
        assert!(c.section("base").is_none(), "templates are not objects");
        assert_eq!(s.value("context"), Some("b"));
        assert_eq!(s.get("secret").unwrap().at.line, 2);
        assert_eq!(s.value("host"), Some("dynamic"));
    }

    #[test]
    fn multiple_inheritance_and_append() {
        let (c, _) = parse("[a](!)\nx=1\n[b](!)\ny=2\n[c](a,b)\nz=3\n[c](+)\nw=4\n").unwrap();
        let s = c.section("c").unwrap();
        let keys: Vec<_> = s.entries.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["x", "y", "z", "w"]);
    }

    #[test]
    fn comments_blocks_and_escapes() {
        let (c, _) = parse(
            "[s]\na=1 ; trailing\n;-- block\nb=2\n;-- nested --;\nstill=comment --;\nc=x\\;y\nd => 5\ne=1\ne+=2\n",
        )
        .unwrap();
        let s = c.section("s").unwrap();
        assert_eq!(s.value("a"), Some("1"));
        assert!(s.get("b").is_none());
        assert!(s.get("still").is_none());
        assert_eq!(s.value("c"), Some("x;y"));
        assert_eq!(s.value("d"), Some("5"));
        assert_eq!(s.value("e"), Some("12"));
    }

    #[test]
    fn duplicate_section_names_are_separate_objects() {
        let (c, _) = parse("[6001]\ntype=endpoint\n[6001]\ntype=auth\n").unwrap();
        assert_eq!(c.objects().count(), 2);
    }

    #[test]
    fn broken_input_names_the_line() {
        let e = parse("[ok]\na=1\n[broken\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "/etc/asterisk/t.conf:3: section header has no closing ']'"
        );
        let e = parse("a=1\n").unwrap_err();
        assert!(e.to_string().contains("t.conf:1: setting outside"), "{e}");
        let e = parse("[x](nope)\n").unwrap_err();
        assert!(
            e.to_string().contains("t.conf:1: inherits from 'nope'"),
            "{e}"
        );
        let e = parse("[x]\na=1\n\x00\x01\x02").unwrap_err();
        assert!(e.to_string().contains("t.conf:3: binary data"), "{e}");
    }

    #[test]
    fn junk_lines_are_skipped_and_reported_without_their_text() {
        let (c, skipped) = parse("[s]\nthis is junk hunter2\na=1\n;-- never closed\n").unwrap();
        assert_eq!(c.section("s").unwrap().value("a"), Some("1"));
        assert_eq!(skipped.len(), 2);
        assert_eq!(skipped[0].at.line, 2);
        assert!(!skipped[0].reason.contains("hunter2"));
        assert_eq!(skipped[1].at.line, 4);
    }

    #[test]
    fn latin1_and_long_lines_are_read_not_rejected() {
        let mut text = b"[s]\ncallerid=\"M\xfcller\" <100>\nlong=".to_vec();
        text.extend(std::iter::repeat_n(b'x', 1 << 20));
        text.extend(b"\nafter=1\n");
        let root = Root::new("/nonexistent-root");
        let mut sources = Sources::default();
        let mut skipped = Vec::new();
        let mut l = Loader::new(&root, "/etc/asterisk", &mut sources, &mut skipped);
        let c = l
            .parse_text(Path::new("/etc/asterisk/t.conf"), &text)
            .unwrap();
        let s = c.section("s").unwrap();
        assert!(s.value("callerid").unwrap().contains('\u{fffd}'));
        assert_eq!(s.value("long").unwrap().len(), 1 << 20);
        assert_eq!(s.get("after").unwrap().at.line, 4);
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A small xorshift generator: deterministic, no dependency.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let alphabet = b"[]()!+,=>;-\\#\n\t abc123\"<>*?_.";
        for _ in 0..2000 {
            let len = (next() % 200) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    let r = next();
                    if r % 50 == 0 {
                        (r >> 8) as u8
                    } else {
                        alphabet[(r >> 16) as usize % alphabet.len()]
                    }
                })
                .collect();
            let root = Root::new("/nonexistent-root");
            let mut sources = Sources::default();
            let mut skipped = Vec::new();
            let mut l = Loader::new(&root, "/etc/asterisk", &mut sources, &mut skipped);
            match l.parse_text(Path::new("/etc/asterisk/t.conf"), &bytes) {
                Ok(_) => {}
                Err(e) => assert!(e.to_string().starts_with("/etc/asterisk/"), "{e}"),
            }
        }
    }

    #[test]
    fn booleans() {
        assert!(is_true("Yes") && is_true("on") && is_true("1"));
        assert!(is_false("NO") && is_false("off") && !is_false("maybe"));
    }

    fn parse_lenient(text: &[u8]) -> (ConfFile, Vec<Skipped>) {
        let root = Root::new("/nonexistent-root");
        let mut sources = Sources::default();
        let mut skipped = Vec::new();
        let mut l = Loader::new(&root, "/etc/asterisk", &mut sources, &mut skipped).lenient();
        let c = l
            .parse_text(Path::new("/etc/asterisk/t.conf"), text)
            .unwrap();
        (c, skipped)
    }

    #[test]
    fn lenient_reads_past_what_strict_refuses() {
        let text = b"a=0\n[ok]\na=1\n[broken\nb=2\n[x](nope)\nc=3\n[y](+)\nd=4\n\x01bin=5\n[z](!\n#include gone.conf\ne=6\n";
        assert!(parse(std::str::from_utf8(text).unwrap()).is_err());
        let (c, skipped) = parse_lenient(text);
        let ok = c.section("ok").unwrap();
        assert_eq!((ok.value("a"), ok.value("b")), (Some("1"), Some("2")));
        assert_eq!(c.section("x").unwrap().value("c"), Some("3"));
        assert_eq!(c.section("y").unwrap().value("d"), Some("4"));
        assert_eq!(c.section("y").unwrap().value("bin"), None);
        assert_eq!(c.section("z").unwrap().value("e"), Some("6"));
        let lines: Vec<u32> = skipped.iter().map(|s| s.at.line).collect();
        assert_eq!(lines, [1, 4, 6, 8, 10, 11, 12]);
    }

    #[test]
    fn lenient_and_strict_read_a_valid_file_the_same() {
        let text = "[base](!)\nsecret=abc\n[100](base)\nhost=dynamic\n;-- a ;-- b --; c --;\n[100](+)\nx+=1\nx+=2\njunk\n";
        let (strict, strict_skipped) = parse(text).unwrap();
        let (lenient, lenient_skipped) = parse_lenient(text.as_bytes());
        // Same names, templates, entries, values and places (each read has its own Sources,
        // so file ids agree too).
        assert_eq!(
            format!("{:?}", strict.sections),
            format!("{:?}", lenient.sections)
        );
        assert_eq!(strict_skipped.len(), lenient_skipped.len());
    }

    #[test]
    fn includes_globs_relative_and_cycles() {
        let dir = tempfile::tempdir().unwrap();
        let etc = dir.path().join("etc/asterisk");
        std::fs::create_dir_all(etc.join("sub")).unwrap();
        std::fs::write(
            etc.join("main.conf"),
            "[a]\nx=1\n#include sub/*.conf\n#tryinclude nope.conf\ny=2\n",
        )
        .unwrap();
        std::fs::write(etc.join("sub/1.conf"), "z=3\n[b]\nw=4\n").unwrap();
        std::fs::write(etc.join("sub/2.conf"), "[c]\n").unwrap();
        let root = Root::new(dir.path());
        let mut sources = Sources::default();
        let mut skipped = Vec::new();
        let mut l = Loader::new(&root, "/etc/asterisk", &mut sources, &mut skipped);
        let c = l.load("main.conf").unwrap().unwrap();
        let a = c.section("a").unwrap();
        assert_eq!(
            a.value("z"),
            Some("3"),
            "include continues the open section"
        );
        let z_file = a.get("z").unwrap().at.file;
        assert_eq!(c.section("c").unwrap().value("y"), Some("2"));
        drop(l);
        assert_eq!(sources.path(z_file), Path::new("/etc/asterisk/sub/1.conf"));

        std::fs::write(etc.join("loop1.conf"), "[a]\n#include loop2.conf\n").unwrap();
        std::fs::write(etc.join("loop2.conf"), "x=1\n#include \"loop1.conf\"\n").unwrap();
        let mut l = Loader::new(&root, "/etc/asterisk", &mut sources, &mut skipped);
        let e = l.load("loop1.conf").unwrap_err().to_string();
        assert!(e.starts_with("/etc/asterisk/loop2.conf:2: include cycle: /etc/asterisk/loop1.conf:2 -> /etc/asterisk/loop2.conf:2 -> /etc/asterisk/loop1.conf"), "{e}");
        std::fs::write(etc.join("miss.conf"), "[a]\n#include gone.conf\n").unwrap();
        let e = l.load("miss.conf").unwrap_err().to_string();
        assert_eq!(
            e,
            "/etc/asterisk/miss.conf:2: #include gone.conf: no such file"
        );

        let mut l = Loader::new(&root, "/etc/asterisk", &mut sources, &mut skipped).lenient();
        let c = l.load("loop1.conf").unwrap().unwrap();
        assert_eq!(c.section("a").unwrap().value("x"), Some("1"));
        assert!(l.load("miss.conf").unwrap().unwrap().section("a").is_some());
        let reasons: Vec<&str> = skipped.iter().map(|s| s.reason).collect();
        assert_eq!(
            reasons,
            ["include cycle", "#include of a file that does not exist"]
        );
    }
}
