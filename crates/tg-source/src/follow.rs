//! Live following of log files: complete lines as they are written, through rotation.
//!
//! A [`Follower`] tails one path. It survives rename-and-create, copytruncate and
//! delete-and-recreate rotation and a file that does not exist yet, without losing or repeating a
//! line: on rotation the old file is drained to its end (and kept open a while for a writer that
//! has not reopened yet) before the new one is read from its start. Its [`Position`] (device,
//! inode, offset of the end of the last complete line, hash of the first line) lets a restarted
//! daemon resume where it stopped, even when the file was rotated meanwhile.
//!
//! A [`Watcher`] turns inotify events on the files' directories into "look again" wake-ups, so
//! there is no polling delay; callers add a slow tick as a safety net.
//!
//! Reading is in big chunks into one buffer per file; lines are handed out as borrowed slices
//! (without the terminator), so following costs no allocation per line. A line longer than
//! [`MAX_LINE`] is skipped and counted; bytes are never required to be UTF-8.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The longest line handed out; longer lines are skipped and counted.
pub const MAX_LINE: usize = 64 * 1024;
/// How much is read per `read` call.
const CHUNK: usize = 256 * 1024;
/// How many bytes of the first line identify a file (see [`Position::head_hash`]).
const HEAD_LEN: usize = 256;
/// How long a rotated-away file is kept open after it last grew, for writers that still hold it.
const RETIRE_AFTER: Duration = Duration::from_secs(10);

/// Where a follower stopped: enough to resume after a restart, even across a rotation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Position {
    /// The followed path.
    pub path: PathBuf,
    /// Device of the file that was being read.
    pub dev: u64,
    /// Inode of the file that was being read.
    pub inode: u64,
    /// Byte offset just past the last complete line handed out.
    pub offset: u64,
    /// Hash of the file's first line (at most 256 bytes); 0 while the file has no complete first
    /// line. Tells a truncated-and-rewritten file from the one we were reading.
    pub head_hash: u64,
}

/// Where to start in a file that exists when following begins and has no saved position.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StartAt {
    /// Only lines written from now on.
    #[default]
    End,
    /// Every line already in the file, then the new ones.
    Start,
}

/// Counters of one follower.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FollowStats {
    /// Complete lines handed out.
    pub lines: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Lines longer than [`MAX_LINE`], skipped.
    pub long_lines: u64,
    /// Times the path was found to be a different file (rename or delete and recreate).
    pub rotations: u64,
    /// Times the file was found truncated or rewritten (copytruncate).
    pub truncations: u64,
}

fn not_a_regular_file() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "not a regular file (a FIFO, socket or device): tollguard follows regular files only",
    )
}

/// One open file being read.
struct Handle {
    file: File,
    dev: u64,
    inode: u64,
    /// Offset just past the last complete line handed out (or skipped).
    offset: u64,
    /// Bytes after `offset` already read: an incomplete last line.
    pending: Vec<u8>,
    /// Skipping the rest of an over-long line until its newline.
    skipping: bool,
    head_hash: Option<u64>,
    last_growth: Instant,
}

impl Handle {
    /// Opens a regular file only. Non-blocking, so a FIFO swapped in at the path after we looked
    /// cannot hold the detection thread in `open` waiting for a writer.
    fn open(path: &Path, offset: u64) -> io::Result<Handle> {
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(not_a_regular_file());
        }
        let offset = offset.min(meta.len());
        file.seek(SeekFrom::Start(offset))?;
        let mut h = Handle {
            file,
            dev: meta.dev(),
            inode: meta.ino(),
            offset,
            pending: Vec::new(),
            skipping: false,
            head_hash: None,
            last_growth: Instant::now(),
        };
        h.head_hash = h.read_head()?;
        Ok(h)
    }

    /// Hash of the first line (or first [`HEAD_LEN`] bytes), `None` while it is incomplete.
    fn read_head(&self) -> io::Result<Option<u64>> {
        let mut head = [0u8; HEAD_LEN];
        let mut n = 0;
        while n < HEAD_LEN {
            let got = self.file.read_at(&mut head[n..], n as u64)?;
            if got == 0 {
                break;
            }
            n += got;
        }
        Ok(match memchr::memchr(b'\n', &head[..n]) {
            Some(end) => Some(fnv1a(&head[..end])),
            None if n == HEAD_LEN => Some(fnv1a(&head)),
            None => None,
        })
    }

    /// The file was truncated or rewritten under us (copytruncate): true when its size is below
    /// what we have read, or its first line changed.
    fn rewritten(&mut self) -> io::Result<bool> {
        let size = self.file.metadata()?.len();
        if size < self.offset + self.pending.len() as u64 {
            return Ok(true);
        }
        let head = self.read_head()?;
        match (self.head_hash, head) {
            (Some(old), Some(new)) => Ok(old != new),
            (None, new) => {
                self.head_hash = new;
                Ok(false)
            }
            (Some(_), None) => Ok(true),
        }
    }

    fn restart_from_zero(&mut self) -> io::Result<()> {
        self.file.seek(SeekFrom::Start(0))?;
        self.offset = 0;
        self.pending.clear();
        self.skipping = false;
        self.head_hash = self.read_head()?;
        Ok(())
    }

    /// Reads to the end of the file, handing out each complete line.
    fn drain(&mut self, stats: &mut FollowStats, sink: &mut dyn FnMut(&[u8])) -> io::Result<()> {
        loop {
            let start = self.pending.len();
            self.pending.resize(start + CHUNK, 0);
            let n = match self.file.read(&mut self.pending[start..]) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => 0,
                Err(e) => {
                    self.pending.truncate(start);
                    return Err(e);
                }
            };
            self.pending.truncate(start + n);
            if n == 0 {
                return Ok(());
            }
            self.last_growth = Instant::now();
            stats.bytes += n as u64;
            let mut consumed = 0;
            for nl in memchr::memchr_iter(b'\n', &self.pending[start..]) {
                let end = start + nl;
                if self.skipping {
                    self.skipping = false;
                } else if end - consumed > MAX_LINE {
                    stats.long_lines += 1;
                } else {
                    let mut line = &self.pending[consumed..end];
                    if let [rest @ .., b'\r'] = line {
                        line = rest;
                    }
                    stats.lines += 1;
                    sink(line);
                }
                consumed = end + 1;
            }
            self.pending.drain(..consumed);
            self.offset += consumed as u64;
            if self.pending.len() > MAX_LINE || (self.skipping && !self.pending.is_empty()) {
                if !self.skipping {
                    stats.long_lines += 1;
                    self.skipping = true;
                }
                self.offset += self.pending.len() as u64;
                self.pending.clear();
            }
            if self.pending.capacity() > 2 * CHUNK + MAX_LINE {
                self.pending.shrink_to(CHUNK);
            }
        }
    }
}

/// Follows one path through rotation; see the module docs.
pub struct Follower {
    path: PathBuf,
    start_at: StartAt,
    saved: Option<Position>,
    /// True until the path has been opened once: only a file that existed when following began
    /// honours `start_at`; one that appears later is new and read from its start.
    first_open: bool,
    current: Option<Handle>,
    retired: Vec<Handle>,
    stats: FollowStats,
    /// The FIFO, socket or device last found at the path (`dev`, `inode`): reported once, then
    /// left alone until something else is there.
    refused: Option<(u64, u64)>,
}

impl Follower {
    /// Follows `path`, resuming at `saved` when it still describes the file (or a rotated copy of
    /// it in the same directory), else starting as `start_at` says.
    pub fn new(path: impl Into<PathBuf>, start_at: StartAt, saved: Option<Position>) -> Follower {
        Follower {
            path: path.into(),
            start_at,
            saved,
            first_open: true,
            current: None,
            retired: Vec::new(),
            stats: FollowStats::default(),
            refused: None,
        }
    }

    /// The followed path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Counters so far.
    pub fn stats(&self) -> FollowStats {
        self.stats
    }

    /// True while the path is open.
    pub fn is_open(&self) -> bool {
        self.current.is_some()
    }

    /// Where reading stands, for saving; `None` before the file was first opened.
    pub fn position(&self) -> Option<Position> {
        match &self.current {
            Some(h) => Some(Position {
                path: self.path.clone(),
                dev: h.dev,
                inode: h.inode,
                offset: h.offset,
                head_hash: h.head_hash.unwrap_or(0),
            }),
            None => self.saved.clone(),
        }
    }

    /// Reads whatever is new — in rotated-away files first, then in the file at the path — and
    /// hands each complete line to `sink`. Returns the number of lines handed out.
    pub fn poll(&mut self, sink: &mut dyn FnMut(&[u8])) -> io::Result<u64> {
        let before = self.stats.lines;
        // Look for a rotation first, so the old file's last lines come before the new file's.
        if self.current.is_none() {
            self.open_current()?;
        } else {
            self.check_rotation()?;
        }
        if let Some(h) = &mut self.current {
            if h.rewritten()? {
                self.stats.truncations += 1;
                // copytruncate: the lines we had not read yet are in the copy, if it is beside.
                if let Some(copy) = find_copy(&self.path, h) {
                    self.retired.push(copy);
                }
                h.restart_from_zero()?;
            }
        }
        let stats = &mut self.stats;
        for old in &mut self.retired {
            // A vanished or unreadable rotated file is nothing to stop for.
            let _ = old.drain(stats, sink);
        }
        self.retired
            .retain(|h| h.last_growth.elapsed() < RETIRE_AFTER);
        if let Some(h) = &mut self.current {
            h.drain(&mut self.stats, sink)?;
        }
        Ok(self.stats.lines - before)
    }

    /// Opens the path if it exists, choosing where to start.
    fn open_current(&mut self) -> io::Result<()> {
        let first_open = std::mem::replace(&mut self.first_open, false);
        let meta = match std::fs::metadata(&self.path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        if !meta.is_file() {
            let seen = (meta.dev(), meta.ino());
            return match self.refused.replace(seen) {
                Some(before) if before == seen => Ok(()),
                _ => Err(not_a_regular_file()),
            };
        }
        self.refused = None;
        let offset = match self.saved.take() {
            Some(pos) if pos.dev == meta.dev() && pos.inode == meta.ino() => {
                let h = Handle::open(&self.path, 0)?;
                if pos.offset <= meta.len() && h.head_hash.unwrap_or(0) == pos.head_hash {
                    pos.offset
                } else {
                    0 // rewritten while we were away
                }
            }
            Some(pos) => {
                // Rotated while we were away: finish the old file first if it is still here.
                if let Some(old) = find_rotated(&pos) {
                    self.retired.push(old);
                }
                0
            }
            None if first_open && self.start_at == StartAt::End => meta.len(),
            None => 0,
        };
        self.current = Some(Handle::open(&self.path, offset)?);
        Ok(())
    }

    /// Moves the open file to `retired` when the path now names another file or nothing.
    fn check_rotation(&mut self) -> io::Result<()> {
        let Some(h) = &self.current else {
            return Ok(());
        };
        let replaced = match std::fs::metadata(&self.path) {
            Ok(m) => m.dev() != h.dev || m.ino() != h.inode,
            Err(e) if e.kind() == io::ErrorKind::NotFound => true,
            Err(e) => return Err(e),
        };
        if replaced {
            if let Some(old) = self.current.take() {
                self.stats.rotations += 1;
                self.retired.push(old);
            }
            self.open_current()?;
        }
        Ok(())
    }
}

/// A file in the same directory with the saved device and inode and the same first line,
/// opened at the saved offset (the file we were reading, renamed by rotation).
fn find_rotated(pos: &Position) -> Option<Handle> {
    let dir = pos.path.parent()?;
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let Ok(meta) = entry.metadata() else { continue };
        if meta.dev() == pos.dev && meta.ino() == pos.inode && meta.len() >= pos.offset {
            let h = Handle::open(&entry.path(), pos.offset).ok()?;
            if h.head_hash.unwrap_or(0) == pos.head_hash {
                return Some(h);
            }
        }
    }
    None
}

/// After a copytruncate: the copy (a file in the same directory whose name starts with the
/// followed file's name, e.g. `messages.1`) with the first line we knew and at least the bytes we
/// had read, opened where we stopped.
fn find_copy(path: &Path, truncated: &Handle) -> Option<Handle> {
    let head = truncated.head_hash?;
    let name = path.file_name()?.to_str()?;
    let dir = parent_dir(path);
    for entry in std::fs::read_dir(&dir).ok()?.flatten() {
        let entry_name = entry.file_name();
        let Some(entry_name) = entry_name.to_str() else {
            continue;
        };
        if entry_name == name || !entry_name.starts_with(name) {
            continue;
        }
        let Ok(meta) = entry.metadata() else { continue };
        if !meta.is_file() || meta.ino() == truncated.inode || meta.len() < truncated.offset {
            continue;
        }
        if let Ok(h) = Handle::open(&entry.path(), truncated.offset) {
            if h.head_hash == Some(head) {
                return Some(h);
            }
        }
    }
    None
}

/// FNV-1a, 64 bit: stable across runs and versions (it is stored).
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// inotify on the directories of followed files: tells which directories saw activity.
///
/// Directory watches see writes to files inside, creations and renames alike, and keep working
/// when a file is replaced, so one watch per directory covers every rotation kind. One thread
/// blocks in [`Watcher::wait`]; others add directories through a [`WatchHandle`].
pub struct Watcher {
    inotify: inotify::Inotify,
    dirs: Arc<Mutex<HashMap<inotify::WatchDescriptor, PathBuf>>>,
    buffer: Vec<u8>,
}

/// Adds directories to a [`Watcher`] from another thread.
#[derive(Clone)]
pub struct WatchHandle {
    watches: inotify::Watches,
    dirs: Arc<Mutex<HashMap<inotify::WatchDescriptor, PathBuf>>>,
}

impl WatchHandle {
    /// Watches a directory (again is harmless). Fails when it does not exist.
    pub fn watch_dir(&mut self, dir: &Path) -> io::Result<()> {
        use inotify::WatchMask as M;
        let mask = M::MODIFY
            | M::CREATE
            | M::MOVED_TO
            | M::MOVED_FROM
            | M::DELETE
            | M::CLOSE_WRITE
            | M::ATTRIB
            | M::DELETE_SELF
            | M::MOVE_SELF;
        let wd = self.watches.add(dir, mask)?;
        lock(&self.dirs).insert(wd, dir.to_path_buf());
        Ok(())
    }

    /// True when `dir` is watched.
    pub fn watches(&self, dir: &Path) -> bool {
        lock(&self.dirs).values().any(|d| d == dir)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic elsewhere while holding this map leaves it consistent (single inserts/removes).
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Watcher {
    /// A watcher with no directories yet.
    pub fn new() -> io::Result<Watcher> {
        Ok(Watcher {
            inotify: inotify::Inotify::init()?,
            dirs: Arc::new(Mutex::new(HashMap::new())),
            buffer: vec![0; 64 * 1024],
        })
    }

    /// A handle for adding directories from other threads.
    pub fn handle(&self) -> WatchHandle {
        WatchHandle {
            watches: self.inotify.watches(),
            dirs: Arc::clone(&self.dirs),
        }
    }

    /// Watches a directory (again is harmless). Fails when it does not exist.
    pub fn watch_dir(&mut self, dir: &Path) -> io::Result<()> {
        self.handle().watch_dir(dir)
    }

    /// Blocks until something happens; returns the directories concerned (each once) and
    /// whether the kernel's queue overflowed (then everything must be looked at).
    pub fn wait(&mut self) -> io::Result<Activity> {
        let events = self.inotify.read_events_blocking(&mut self.buffer)?;
        let mut activity = Activity::default();
        let mut dirs = lock(&self.dirs);
        for ev in events {
            if ev.mask.contains(inotify::EventMask::Q_OVERFLOW) {
                activity.overflow = true;
            }
            if ev.mask.contains(inotify::EventMask::IGNORED) {
                // The directory went away; it is watched again when it comes back.
                if let Some(dir) = dirs.remove(&ev.wd) {
                    activity.gone.push(dir);
                }
                continue;
            }
            if let Some(dir) = dirs.get(&ev.wd) {
                if !activity.dirs.contains(dir) {
                    activity.dirs.push(dir.clone());
                }
                if let Some(name) = ev.name {
                    activity.names.push(name.to_os_string());
                }
            }
        }
        Ok(activity)
    }
}

/// What one [`Watcher::wait`] saw.
#[derive(Clone, Debug, Default)]
pub struct Activity {
    /// Directories where something happened.
    pub dirs: Vec<PathBuf>,
    /// Names of the entries concerned (for diagnostics).
    pub names: Vec<OsString>,
    /// Watched directories that were removed.
    pub gone: Vec<PathBuf>,
    /// Events were lost: look at every file.
    pub overflow: bool,
}

/// The directory a followed path lives in (`.` for a bare name).
pub fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::OpenOptions;
    use std::io::Write;

    fn append(path: &Path, text: &[u8]) {
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        f.write_all(text).unwrap();
    }

    fn poll(f: &mut Follower) -> Vec<String> {
        let mut out = Vec::new();
        f.poll(&mut |l| out.push(String::from_utf8_lossy(l).into_owned()))
            .unwrap();
        out
    }

    /// Makes a FIFO with coreutils' `mkfifo` (the crate has no `unsafe`, so no libc::mkfifo).
    fn mkfifo(p: &Path) {
        let made = std::process::Command::new("mkfifo")
            .args(["-m", "600"])
            .arg(p)
            .status()
            .expect("run mkfifo");
        assert!(made.success(), "mkfifo {}", p.display());
    }

    #[test]
    fn a_fifo_at_the_path_is_reported_once_and_never_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("messages");
        mkfifo(&p);
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let path = p.clone();
        std::thread::spawn(move || {
            let mut f = Follower::new(&path, StartAt::Start, None);
            let first = f.poll(&mut |_| {}).map_err(|e| e.to_string());
            let second = f.poll(&mut |_| {}).map_err(|e| e.to_string());
            let _ = done_tx.send((first, second, f));
        });
        // With a blocking open this would wait for a writer forever.
        let (first, second, mut f) = done_rx
            .recv_timeout(Duration::from_secs(5))
            .expect("poll returned while nobody writes to the FIFO");
        assert!(first.unwrap_err().contains("not a regular file"));
        assert_eq!(second, Ok(0), "reported once");
        // A regular file put there later is followed.
        std::fs::remove_file(&p).unwrap();
        append(&p, b"line\n");
        assert_eq!(poll(&mut f), ["line"]);
        // The handle refuses a FIFO itself, whatever a stat before it said.
        std::fs::remove_file(&p).unwrap();
        mkfifo(&p);
        assert!(Handle::open(&p, 0).is_err());
    }

    #[test]
    fn starts_at_end_by_default_and_at_start_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("messages");
        append(&p, b"old 1\nold 2\n");
        let mut end = Follower::new(&p, StartAt::End, None);
        let mut start = Follower::new(&p, StartAt::Start, None);
        assert!(poll(&mut end).is_empty());
        assert_eq!(poll(&mut start), ["old 1", "old 2"]);
        append(&p, b"new\n");
        assert_eq!(poll(&mut end), ["new"]);
        assert_eq!(poll(&mut start), ["new"]);
    }

    #[test]
    fn partial_last_line_waits_for_its_newline() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("messages");
        append(&p, b"");
        let mut f = Follower::new(&p, StartAt::End, None);
        poll(&mut f);
        append(&p, b"first\nsec");
        assert_eq!(poll(&mut f), ["first"]);
        assert_eq!(f.position().unwrap().offset, 6);
        append(&p, b"ond\r\n");
        assert_eq!(poll(&mut f), ["second"]);
    }

    #[test]
    fn missing_file_appearing_later_is_read_from_its_start() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("later.log");
        let mut f = Follower::new(&p, StartAt::End, None);
        assert!(poll(&mut f).is_empty());
        assert!(!f.is_open());
        append(&p, b"a\nb\n");
        assert_eq!(poll(&mut f), ["a", "b"]);
    }

    #[test]
    fn rename_and_create_loses_and_repeats_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("messages");
        append(&p, b"");
        let mut f = Follower::new(&p, StartAt::End, None);
        poll(&mut f);
        append(&p, b"1\n2\n");
        assert_eq!(poll(&mut f), ["1", "2"]);
        // The writer appends once more before rotation, once to the old file after the rename
        // (it has not reopened yet), and then to the new file.
        append(&p, b"3\n");
        let rotated = dir.path().join("messages.1");
        std::fs::rename(&p, &rotated).unwrap();
        append(&rotated, b"4\n");
        append(&p, b"5\n");
        assert_eq!(poll(&mut f), ["3", "4", "5"]);
        append(&rotated, b"late\n");
        append(&p, b"6\n");
        assert_eq!(poll(&mut f), ["late", "6"]);
        assert_eq!(f.stats().rotations, 1);
    }

    #[test]
    fn delete_and_recreate_reads_new_file_from_start() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("messages");
        append(&p, b"x\n");
        let mut f = Follower::new(&p, StartAt::Start, None);
        assert_eq!(poll(&mut f), ["x"]);
        append(&p, b"y\n");
        std::fs::remove_file(&p).unwrap();
        assert_eq!(poll(&mut f), ["y"]);
        append(&p, b"z\n");
        assert_eq!(poll(&mut f), ["z"]);
    }

    #[test]
    fn copytruncate_restarts_at_zero() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("messages");
        append(&p, b"aaaa 1\naaaa 2\n");
        let mut f = Follower::new(&p, StartAt::Start, None);
        assert_eq!(poll(&mut f).len(), 2);
        std::fs::copy(&p, dir.path().join("messages.1")).unwrap();
        OpenOptions::new()
            .write(true)
            .open(&p)
            .unwrap()
            .set_len(0)
            .unwrap();
        append(&p, b"b\n");
        assert_eq!(poll(&mut f), ["b"]);
        assert_eq!(f.stats().truncations, 1);
    }

    #[test]
    fn copytruncate_reads_unread_lines_from_the_copy() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("messages");
        append(&p, b"head line\nread\n");
        let mut f = Follower::new(&p, StartAt::Start, None);
        assert_eq!(poll(&mut f), ["head line", "read"]);
        append(&p, b"unread 1\nunread 2\n");
        std::fs::copy(&p, dir.path().join("messages.1")).unwrap();
        OpenOptions::new()
            .write(true)
            .open(&p)
            .unwrap()
            .set_len(0)
            .unwrap();
        append(&p, b"after\n");
        assert_eq!(poll(&mut f), ["unread 1", "unread 2", "after"]);
    }

    #[test]
    fn copytruncate_refilled_past_old_offset_is_caught_by_first_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("messages");
        append(&p, b"first old line\n");
        let mut f = Follower::new(&p, StartAt::Start, None);
        assert_eq!(poll(&mut f).len(), 1);
        OpenOptions::new()
            .write(true)
            .open(&p)
            .unwrap()
            .set_len(0)
            .unwrap();
        append(&p, b"new line one, longer than the old\nnew two\n");
        assert_eq!(
            poll(&mut f),
            ["new line one, longer than the old", "new two"]
        );
    }

    #[test]
    fn resumes_from_saved_position_and_reads_lines_written_while_down() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("messages");
        append(&p, b"seen 1\nseen 2\n");
        let mut f = Follower::new(&p, StartAt::Start, None);
        assert_eq!(poll(&mut f).len(), 2);
        let pos = f.position().unwrap();
        drop(f);
        append(&p, b"while down\n");
        let mut f = Follower::new(&p, StartAt::End, Some(pos));
        assert_eq!(poll(&mut f), ["while down"]);
    }

    #[test]
    fn resumes_in_rotated_file_then_reads_new_one() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("messages");
        append(&p, b"seen\n");
        let mut f = Follower::new(&p, StartAt::Start, None);
        poll(&mut f);
        let pos = f.position().unwrap();
        drop(f);
        append(&p, b"unseen old\n");
        std::fs::rename(&p, dir.path().join("messages.1")).unwrap();
        append(&p, b"unseen new\n");
        let mut f = Follower::new(&p, StartAt::End, Some(pos));
        assert_eq!(poll(&mut f), ["unseen old", "unseen new"]);
    }

    #[test]
    fn overlong_lines_are_skipped_and_counted_and_bad_utf8_passes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("messages");
        append(&p, b"");
        let mut f = Follower::new(&p, StartAt::End, None);
        poll(&mut f);
        let mut big = vec![b'x'; MAX_LINE * 3];
        big.push(b'\n');
        append(&p, &big);
        append(&p, b"after \xff\xfe\n");
        let mut got = Vec::new();
        f.poll(&mut |l| got.push(l.to_vec())).unwrap();
        assert!(
            got.len() == 1 && got[0] == b"after \xff\xfe",
            "{} lines",
            got.len()
        );
        assert_eq!(f.stats().long_lines, 1);
        assert_eq!(f.position().unwrap().offset, (MAX_LINE * 3 + 1 + 9) as u64);
    }

    #[test]
    fn watcher_wakes_on_write_create_and_rename() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Watcher::new().unwrap();
        w.watch_dir(dir.path()).unwrap();
        let p = dir.path().join("messages");
        append(&p, b"x\n");
        let a = w.wait().unwrap();
        assert_eq!(a.dirs, vec![dir.path().to_path_buf()]);
        std::fs::rename(&p, dir.path().join("m.1")).unwrap();
        let a = w.wait().unwrap();
        assert!(a.names.iter().any(|n| n == "m.1"), "{a:?}");
    }
}
