//! What `scan` reads: the files given (or stdin), opened up front and put in reading order, the
//! rotated copies of one log oldest first.

use std::path::{Path, PathBuf};

use tg_source::reader::Input;
use tg_source::reader::SourceError;

/// Every input, opened, grouped by log: each group is one log with its rotated copies, oldest
/// first; groups are read side by side and merged by time.
pub struct Inputs {
    /// Each input with its index in reading order (flattened over the groups).
    pub(crate) groups: Vec<Vec<(usize, Input)>>,
}

/// Why the inputs could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// `-` was given more than once.
    #[error("standard input (-) can be read only once")]
    StdinTwice,
    /// A file could not be opened.
    #[error(transparent)]
    Open(#[from] SourceError),
}

impl Inputs {
    /// Opens every input before reading any, so a typo fails at once and not after an hour.
    pub fn open(files: &[PathBuf]) -> Result<Inputs, InputError> {
        if files.iter().filter(|f| f.as_os_str() == "-").count() > 1 {
            return Err(InputError::StdinTwice);
        }
        let mut index = 0;
        let groups = group_rotated(files)
            .into_iter()
            .map(|group| {
                group
                    .into_iter()
                    .map(|path| {
                        let input = if path.as_os_str() == "-" {
                            Input::stdin()
                        } else {
                            Input::open(&path)
                        };
                        index += 1;
                        Ok((index - 1, input?))
                    })
                    .collect()
            })
            .collect::<Result<_, SourceError>>()?;
        Ok(Inputs { groups })
    }

    /// The inputs in reading order.
    pub fn iter(&self) -> impl Iterator<Item = &Input> {
        self.groups.iter().flatten().map(|(_, input)| input)
    }
}

/// Groups rotated copies of one log (`x.3.gz`, `x.2`, `x.1`, `x`), oldest first; each group
/// where its first member was given. Every other file (and stdin) is a log of its own.
pub fn group_rotated(files: &[PathBuf]) -> Vec<Vec<PathBuf>> {
    fn key(path: &Path) -> Option<(PathBuf, u64)> {
        let name = path.file_name()?.to_str()?;
        let name = name.strip_suffix(".gz").unwrap_or(name);
        let (stem, generation) = match name.rsplit_once('.') {
            Some((stem, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
                (stem, n.parse().ok()?)
            }
            _ => (name, 0),
        };
        Some((path.with_file_name(stem), generation))
    }
    /// A log's stem (`None` for stdin) and its copies with their generation numbers.
    type Group = (Option<PathBuf>, Vec<(u64, PathBuf)>);
    let mut groups: Vec<Group> = Vec::new();
    for f in files {
        let k = if f.as_os_str() == "-" { None } else { key(f) };
        match k {
            Some((stem, generation)) => {
                match groups.iter_mut().find(|(s, _)| s.as_ref() == Some(&stem)) {
                    Some((_, members)) => members.push((generation, f.clone())),
                    None => groups.push((Some(stem), vec![(generation, f.clone())])),
                }
            }
            None => groups.push((None, vec![(0, f.clone())])),
        }
    }
    groups
        .into_iter()
        .map(|(_, mut members)| {
            members.sort_by_key(|m| std::cmp::Reverse(m.0)); // stable: duplicates keep their order
            members.into_iter().map(|(_, p)| p).collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(names: &[&str]) -> Vec<PathBuf> {
        names.iter().map(PathBuf::from).collect()
    }

    #[test]
    fn rotated_copies_are_read_oldest_first() {
        let flat = |files: &[PathBuf]| -> Vec<PathBuf> { group_rotated(files).concat() };
        let got = flat(&paths(&[
            "/var/log/asterisk/messages",
            "/var/log/auth.log",
            "/var/log/asterisk/messages.1",
            "-",
            "/var/log/asterisk/messages.10.gz",
            "/var/log/asterisk/messages.2.gz",
            "/var/log/auth.log.1",
        ]));
        assert_eq!(
            got,
            paths(&[
                "/var/log/asterisk/messages.10.gz",
                "/var/log/asterisk/messages.2.gz",
                "/var/log/asterisk/messages.1",
                "/var/log/asterisk/messages",
                "/var/log/auth.log.1",
                "/var/log/auth.log",
                "-",
            ])
        );
        // Same names in other directories are other logs.
        let got = group_rotated(&paths(&["a/messages", "b/messages.1"]));
        assert_eq!(got, [paths(&["a/messages"]), paths(&["b/messages.1"])]);
        assert_eq!(group_rotated(&paths(&["-", "x.1", "x"])).len(), 2);
    }
}
