//! Offline input for `scan`: files (plain or gzip, told apart by their magic bytes) and stdin,
//! read as complete lines in large reusable buffers.
//!
//! The unit of work is a *chunk*: a buffer holding only whole lines. [`ChunkReader`] fills a
//! caller-supplied buffer up to its size, cuts it after the last newline and carries the partial
//! line over to the next chunk, so a line is never split between chunks. [`lines`] walks a chunk.
//! [`for_each_chunk`] hands chunks to a small pool of worker threads and gives their results back
//! in input order, so a sequential consumer (the jails) sees lines exactly as they were written.
//!
//! Line policy, the same everywhere:
//! - a line ends at `\n`; a `\r` before it is dropped (CRLF logs);
//! - the last line counts even without a final newline;
//! - a line longer than the limit ([`MAX_LINE`] by default) is skipped whole and counted — the
//!   reader never buffers more than the limit of it, however long it is. A prefix of a line is
//!   never handed on: text cut at an arbitrary point could make a detector read a forged tail;
//! - bytes are bytes: invalid UTF-8 is handed on like anything else;
//! - when the input fails (a truncated or corrupt gzip stream), the complete lines before the
//!   failure are delivered first, the partial line at the failure is dropped and counted, and then
//!   the error is returned.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::UNIX_EPOCH;

use flate2::read::MultiGzDecoder;

/// Lines longer than this many bytes (without the newline) are skipped.
pub const MAX_LINE: usize = 64 * 1024;

/// The default chunk size: large enough that per-chunk costs vanish, small enough to stay in L2.
pub const CHUNK_SIZE: usize = 256 * 1024;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// An input that could not be opened or read.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// Opening (or peeking at) the file failed.
    #[error("{}: cannot open: {source}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// Reading failed part-way (for gzip: truncated or corrupt data).
    #[error("{}: read error after line {line}: {source}", path.display())]
    Read {
        /// The file (`-` for stdin).
        path: PathBuf,
        /// The last line read completely before the failure.
        line: u64,
        /// Why.
        source: io::Error,
    },
}

/// An opened input: the byte stream (already decompressed) and what is known about the file.
pub struct Input {
    /// The name to show: the path as given, or `-` for stdin.
    pub path: PathBuf,
    /// Decompressed bytes.
    pub reader: Box<dyn Read + Send>,
    /// True when the data is gzip (detected by its magic bytes, whatever the name).
    pub gzip: bool,
    /// The file's modification time (Unix ms); `None` for stdin.
    pub modified_ms: Option<i64>,
    /// The size on disk in bytes; `None` for stdin and non-regular files.
    pub size: Option<u64>,
    /// Raw (still compressed) bytes read so far, for progress display.
    pub consumed: Arc<AtomicU64>,
}

impl Input {
    /// Opens a file, decompressing it when it starts with the gzip magic bytes.
    pub fn open(path: &Path) -> Result<Input, SourceError> {
        let open_err = |source| SourceError::Open {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(open_err)?;
        let meta = file.metadata().map_err(open_err)?;
        if meta.is_dir() {
            return Err(open_err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "is a directory",
            )));
        }
        let modified_ms = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let size = meta.is_file().then_some(meta.len());
        let mut input = Input::from_reader(path.to_path_buf(), file).map_err(open_err)?;
        input.modified_ms = modified_ms;
        input.size = size;
        Ok(input)
    }

    /// Standard input (plain or gzip).
    pub fn stdin() -> Result<Input, SourceError> {
        Input::from_reader(PathBuf::from("-"), io::stdin()).map_err(|source| SourceError::Open {
            path: PathBuf::from("-"),
            source,
        })
    }

    /// Any byte stream, decompressed when it starts with the gzip magic bytes.
    pub fn from_reader(path: PathBuf, raw: impl Read + Send + 'static) -> io::Result<Input> {
        let consumed = Arc::new(AtomicU64::new(0));
        let mut counted = Counted {
            inner: raw,
            consumed: Arc::clone(&consumed),
        };
        let mut magic = [0u8; 2];
        let mut got = 0;
        while got < magic.len() {
            match counted.read(&mut magic[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        let gzip = got == 2 && magic == GZIP_MAGIC;
        // The peeked bytes go back in front of the rest of the stream.
        let whole = io::Cursor::new(magic[..got].to_vec()).chain(counted);
        let reader: Box<dyn Read + Send> = if gzip {
            // Multi-member: `cat a.gz b.gz` and some rotators produce several gzip members.
            Box::new(MultiGzDecoder::new(io::BufReader::with_capacity(
                CHUNK_SIZE, whole,
            )))
        } else {
            Box::new(whole)
        };
        Ok(Input {
            path,
            reader,
            gzip,
            modified_ms: None,
            size: None,
            consumed,
        })
    }
}

/// Counts the raw bytes that pass through, for progress.
struct Counted<R> {
    inner: R,
    consumed: Arc<AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.consumed.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// What is known about one chunk besides its bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChunkInfo {
    /// Over-long lines the reader dropped just before this chunk's first line (they count in
    /// the line numbering).
    pub overlong_before: u64,
    /// True when the input failed right after this chunk and the partial line there was dropped.
    pub dropped_partial: bool,
}

/// Reads a byte stream as chunks of complete lines.
pub struct ChunkReader<R> {
    inner: R,
    chunk_size: usize,
    max_line: usize,
    carry: Vec<u8>,
    skipping: bool,
    pending_overlong: u64,
    pending_error: Option<io::Error>,
    done: bool,
}

impl<R: Read> ChunkReader<R> {
    /// A reader with the default limits ([`CHUNK_SIZE`], [`MAX_LINE`]).
    pub fn new(inner: R) -> Self {
        ChunkReader::with_limits(inner, CHUNK_SIZE, MAX_LINE)
    }

    /// A reader with explicit limits; `chunk_size` is raised to at least twice `max_line + 1` so
    /// every acceptable line fits in a chunk with room to spare.
    pub fn with_limits(inner: R, chunk_size: usize, max_line: usize) -> Self {
        let max_line = max_line.max(1);
        ChunkReader {
            inner,
            chunk_size: chunk_size.max(2 * (max_line + 1)),
            max_line,
            carry: Vec::new(),
            skipping: false,
            pending_overlong: 0,
            pending_error: None,
            done: false,
        }
    }

    /// The line-length limit in force.
    pub fn max_line(&self) -> usize {
        self.max_line
    }

    /// Refills `buf` with the next complete lines. `Ok(None)` at the end; a chunk may be empty
    /// (when only over-long lines were read). After a read failure the lines before it come
    /// first, then the error.
    pub fn next_chunk(&mut self, buf: &mut Vec<u8>) -> io::Result<Option<ChunkInfo>> {
        if let Some(e) = self.pending_error.take() {
            self.done = true;
            return Err(e);
        }
        if self.done {
            return Ok(None);
        }
        // Over-long lines dropped at the end of the previous chunk come before this one's lines.
        let mut info = ChunkInfo {
            overlong_before: std::mem::take(&mut self.pending_overlong),
            dropped_partial: false,
        };
        buf.resize(self.chunk_size, 0);
        let mut filled = self.carry.len();
        buf[..filled].copy_from_slice(&self.carry);
        self.carry.clear();
        let mut ended = false;
        loop {
            if filled == buf.len() {
                match memchr::memrchr(b'\n', &buf[..filled]) {
                    Some(_) => break,
                    None => {
                        // The whole buffer is one unfinished line, far beyond the limit; no
                        // line of this chunk precedes it.
                        self.skipping = true;
                        info.overlong_before += 1;
                        filled = 0;
                    }
                }
            }
            let n = match self.inner.read(&mut buf[filled..]) {
                Ok(0) => {
                    ended = true;
                    break;
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.pending_error = Some(e);
                    break;
                }
            };
            if self.skipping {
                // Still inside the over-long line until its newline: discard up to there.
                if let Some(i) = memchr::memchr(b'\n', &buf[filled..filled + n]) {
                    buf.copy_within(filled + i + 1..filled + n, filled);
                    filled += n - i - 1;
                    self.skipping = false;
                }
            } else {
                filled += n;
            }
        }
        if ended {
            // A final line without a newline is complete.
            buf.truncate(filled);
            self.done = true;
        } else {
            let end = memchr::memrchr(b'\n', &buf[..filled]).map_or(0, |i| i + 1);
            let tail = filled - end;
            if self.pending_error.is_some() {
                info.dropped_partial = tail > 0 && !self.skipping;
            } else if tail > self.max_line {
                // Dropped after this chunk's lines: it counts before the next chunk's.
                self.skipping = true;
                self.pending_overlong += 1;
            } else {
                self.carry.extend_from_slice(&buf[end..filled]);
            }
            buf.truncate(end);
        }
        Ok(Some(info))
    }
}

/// One line of a chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Line<'a> {
    /// A line, without its `\n` or `\r\n`.
    Text(&'a [u8]),
    /// A line longer than the limit: skipped, only counted.
    Overlong,
}

/// The lines of a chunk filled by [`ChunkReader`] (every line, including an empty one, counts).
pub fn lines(chunk: &[u8], max_line: usize) -> Lines<'_> {
    Lines {
        chunk,
        newlines: memchr::memchr_iter(b'\n', chunk),
        start: 0,
        max_line,
    }
}

/// Iterator returned by [`lines`]. One SIMD newline scan runs across the whole chunk (cheaper
/// than a fresh search per line: log lines are short).
pub struct Lines<'a> {
    chunk: &'a [u8],
    newlines: memchr::Memchr<'a>,
    start: usize,
    max_line: usize,
}

impl<'a> Iterator for Lines<'a> {
    type Item = Line<'a>;

    fn next(&mut self) -> Option<Line<'a>> {
        let end = match self.newlines.next() {
            Some(i) => i,
            None if self.start < self.chunk.len() => self.chunk.len(),
            None => return None,
        };
        let line = &self.chunk[self.start..end];
        self.start = end + 1;
        if line.len() > self.max_line {
            return Some(Line::Overlong);
        }
        Some(Line::Text(line.strip_suffix(b"\r").unwrap_or(line)))
    }
}

/// Reads lines one at a time from one reusable buffer (for callers that do not need threads).
pub struct LineReader<R> {
    chunks: ChunkReader<R>,
    buf: Vec<u8>,
    pos: usize,
    line_number: u64,
    overlong: u64,
    dropped_partial: u64,
}

impl<R: Read> LineReader<R> {
    /// A line reader with the default limits.
    pub fn new(inner: R) -> Self {
        LineReader::with_reader(ChunkReader::new(inner))
    }

    /// A line reader over a configured [`ChunkReader`].
    pub fn with_reader(chunks: ChunkReader<R>) -> Self {
        LineReader {
            chunks,
            buf: Vec::new(),
            pos: 0,
            line_number: 0,
            overlong: 0,
            dropped_partial: 0,
        }
    }

    /// The next line that is not over-long, without its terminator; `Ok(None)` at the end.
    pub fn next_line(&mut self) -> io::Result<Option<&[u8]>> {
        loop {
            if self.pos >= self.buf.len() {
                match self.chunks.next_chunk(&mut self.buf)? {
                    None => return Ok(None),
                    Some(info) => {
                        self.pos = 0;
                        self.line_number += info.overlong_before;
                        self.overlong += info.overlong_before;
                        self.dropped_partial += u64::from(info.dropped_partial);
                        continue;
                    }
                }
            }
            let rest = &self.buf[self.pos..];
            let len = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
            let start = self.pos;
            self.pos += len + 1;
            self.line_number += 1;
            if len > self.chunks.max_line() {
                self.overlong += 1;
                continue;
            }
            let line = &self.buf[start..start + len];
            return Ok(Some(line.strip_suffix(b"\r").unwrap_or(line)));
        }
    }

    /// The 1-based number of the line last returned (over-long lines count).
    pub fn line_number(&self) -> u64 {
        self.line_number
    }

    /// Over-long lines skipped so far.
    pub fn overlong(&self) -> u64 {
        self.overlong
    }

    /// Partial lines dropped because the input failed in the middle of them.
    pub fn dropped_partial(&self) -> u64 {
        self.dropped_partial
    }
}

/// Runs `work` over every chunk of `reader` on a pool of `workers` threads, and `consume` on
/// the calling thread with the results strictly in input order.
///
/// Each worker reads its own next chunk (taking turns on the reader) into its own buffer and
/// works on it right away, while the data is still in that core's cache; the calling thread only
/// puts the results back in order. Reading, working and consuming overlap.
///
/// Memory stays bounded: one chunk buffer per worker, and at most `2 × workers` results waiting
/// (workers block when the consumer falls behind), so results should be small (the findings, not
/// the lines). A read error is returned after every chunk before it was consumed; an error from
/// `consume` stops everything and is returned as is.
pub fn for_each_chunk<R, T, W, C, E>(
    reader: &mut ChunkReader<R>,
    workers: usize,
    work: W,
    mut consume: C,
) -> Result<(), ChunkError<E>>
where
    R: Read + Send,
    T: Send,
    W: Fn(&[u8]) -> T + Sync,
    C: FnMut(ChunkInfo, T) -> Result<(), E>,
{
    /// The reader and what the workers learn from it, behind one lock.
    struct Shared<'r, R> {
        reader: &'r mut ChunkReader<R>,
        next_seq: u64,
        stopped: bool,
        error: Option<io::Error>,
    }
    let workers = workers.max(1);
    let shared = Mutex::new(Shared {
        reader,
        next_seq: 0,
        stopped: false,
        error: None,
    });
    std::thread::scope(|scope| {
        let (done_tx, done_rx) = mpsc::sync_channel::<(u64, ChunkInfo, T)>(2 * workers);
        for _ in 0..workers {
            let done_tx = done_tx.clone();
            let (shared, work) = (&shared, &work);
            scope.spawn(move || {
                let mut buf = Vec::new();
                loop {
                    let (seq, info) = {
                        let Ok(mut s) = shared.lock() else { return };
                        if s.stopped {
                            return;
                        }
                        match s.reader.next_chunk(&mut buf) {
                            Ok(Some(info)) => {
                                s.next_seq += 1;
                                (s.next_seq - 1, info)
                            }
                            Ok(None) => {
                                s.stopped = true;
                                return;
                            }
                            Err(e) => {
                                s.stopped = true;
                                s.error = Some(e);
                                return;
                            }
                        }
                    };
                    let out = work(&buf);
                    if done_tx.send((seq, info, out)).is_err() {
                        return; // the consumer has stopped
                    }
                }
            });
        }
        drop(done_tx);

        let mut pending = std::collections::BTreeMap::new();
        let mut next = 0u64;
        // Ends when every worker is gone: the input ended or failed.
        while let Ok((seq, info, out)) = done_rx.recv() {
            pending.insert(seq, (info, out));
            while let Some((info, out)) = pending.remove(&next) {
                next += 1;
                if let Err(e) = consume(info, out) {
                    if let Ok(mut s) = shared.lock() {
                        s.stopped = true;
                    }
                    // Dropping the receiver wakes any worker waiting to hand in a result.
                    drop(done_rx);
                    return Err(ChunkError::Consume(e));
                }
            }
        }
        Ok(())
    })?;
    match shared.into_inner().ok().and_then(|s| s.error) {
        Some(e) => Err(ChunkError::Read(e)),
        None => Ok(()),
    }
}

/// Why [`for_each_chunk`] stopped early.
#[derive(Debug)]
pub enum ChunkError<E> {
    /// The input failed (after every chunk before the failure was consumed).
    Read(io::Error),
    /// The consumer refused a chunk's result.
    Consume(E),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads everything through a `LineReader` with tiny limits, returning the lines as strings.
    fn read_all(data: &[u8], chunk: usize, max: usize) -> (Vec<String>, u64, Vec<u64>) {
        let mut r = LineReader::with_reader(ChunkReader::with_limits(data, chunk, max));
        let mut out = Vec::new();
        let mut numbers = Vec::new();
        while let Some(l) = r.next_line().unwrap() {
            out.push(String::from_utf8_lossy(l).into_owned());
            numbers.push(r.line_number());
        }
        (out, r.overlong(), numbers)
    }

    /// A reader that hands out at most `step` bytes per call, to cross every buffer boundary.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }
    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.step.min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    #[test]
    fn splits_lines_across_every_buffer_boundary() {
        let text: String = (0..200)
            .map(|i| format!("line {i} {}\n", "x".repeat(i % 13)))
            .collect();
        let want: Vec<String> = text.lines().map(str::to_string).collect();
        for chunk in [16, 17, 31, 64, 1000] {
            for step in [1, 3, 7, 64, 4096] {
                let mut r = LineReader::with_reader(ChunkReader::with_limits(
                    Trickle {
                        data: text.as_bytes(),
                        step,
                    },
                    chunk,
                    30,
                ));
                let mut got = Vec::new();
                while let Some(l) = r.next_line().unwrap() {
                    got.push(String::from_utf8(l.to_vec()).unwrap());
                }
                assert_eq!(got, want, "chunk {chunk} step {step}");
                assert_eq!(r.overlong(), 0);
            }
        }
    }

    /// The line policy written the slow, obvious way: the model the fast readers must match.
    fn reference(data: &[u8], max: usize) -> Vec<Option<Vec<u8>>> {
        let mut parts: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
        if parts.last().is_some_and(|l| l.is_empty()) {
            parts.pop(); // after a final newline there is no further line
        }
        parts
            .into_iter()
            .map(|l| (l.len() <= max).then(|| l.strip_suffix(b"\r").unwrap_or(l).to_vec()))
            .collect()
    }

    #[test]
    fn random_inputs_match_the_reference_through_both_readers() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut rand = move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        for case in 0..300 {
            let max = 1 + rand(40);
            let mut data = Vec::new();
            for _ in 0..rand(60) {
                let len = match rand(10) {
                    0 => max + rand(200), // over the limit, sometimes far beyond
                    1 => max,
                    _ => rand(max + 1),
                };
                data.extend((0..len).map(|_| b"ab\r\xffz"[rand(5)]));
                if rand(8) != 0 {
                    data.push(b'\n');
                }
            }
            let want = reference(&data, max);
            let chunk = rand(300);
            let step = 1 + rand(50);

            let mut r = LineReader::with_reader(ChunkReader::with_limits(
                Trickle { data: &data, step },
                chunk,
                max,
            ));
            let mut got = Vec::new();
            while let Some(l) = r.next_line().unwrap() {
                let l = l.to_vec();
                got.push((r.line_number(), l));
            }
            let expected: Vec<(u64, Vec<u8>)> = want
                .iter()
                .enumerate()
                .filter_map(|(i, l)| l.clone().map(|l| (i as u64 + 1, l)))
                .collect();
            assert_eq!(
                got, expected,
                "case {case}: LineReader, chunk {chunk}, step {step}"
            );
            let overlong = want.iter().filter(|l| l.is_none()).count() as u64;
            assert_eq!(r.overlong(), overlong, "case {case}");

            let mut reader = ChunkReader::with_limits(Trickle { data: &data, step }, chunk, max);
            let mut seen: Vec<Option<Vec<u8>>> = Vec::new();
            for_each_chunk(
                &mut reader,
                1 + case % 3,
                |c| {
                    lines(c, max)
                        .map(|l| match l {
                            Line::Text(t) => Some(t.to_vec()),
                            Line::Overlong => None,
                        })
                        .collect::<Vec<_>>()
                },
                |info, ls| {
                    seen.extend((0..info.overlong_before).map(|_| None));
                    seen.extend(ls);
                    Ok::<(), ()>(())
                },
            )
            .unwrap();
            assert_eq!(
                seen, want,
                "case {case}: for_each_chunk, chunk {chunk}, step {step}"
            );
        }
    }

    #[test]
    fn crlf_and_missing_final_newline() {
        let (lines, _, numbers) = read_all(b"a\r\nb\r\n\r\nlast", 64, 16);
        assert_eq!(lines, ["a", "b", "", "last"]);
        assert_eq!(numbers, [1, 2, 3, 4]);
    }

    #[test]
    fn chunk_lines_keep_empty_lines_and_a_final_unterminated_one() {
        fn all(chunk: &[u8]) -> Vec<Line<'_>> {
            lines(chunk, 4).collect()
        }
        assert_eq!(all(b""), []);
        assert_eq!(all(b"\n"), [Line::Text(b"")]);
        assert_eq!(
            all(b"a\r\n\nb"),
            [Line::Text(b"a"), Line::Text(b""), Line::Text(b"b")]
        );
        assert_eq!(all(b"abcd\nabcde\n"), [Line::Text(b"abcd"), Line::Overlong]);
    }

    #[test]
    fn empty_input_has_no_lines() {
        assert_eq!(read_all(b"", 64, 16).0, Vec::<String>::new());
        assert_eq!(read_all(b"\n", 64, 16).0, vec![String::new()]);
    }

    #[test]
    fn overlong_lines_are_skipped_counted_and_numbered() {
        // Short line, a line far beyond the chunk size, one just over the limit, then normal ones.
        let mut data = b"first\n".to_vec();
        data.extend(std::iter::repeat_n(b'A', 10_000));
        data.extend(b"\n");
        data.extend(std::iter::repeat_n(b'B', 17));
        data.extend(b"\nsecond\nexactly-16-bytes\nthird");
        for step in [1, 5, 100, 100_000] {
            let mut r = LineReader::with_reader(ChunkReader::with_limits(
                Trickle { data: &data, step },
                40,
                16,
            ));
            let mut got = Vec::new();
            while let Some(l) = r.next_line().unwrap() {
                got.push((String::from_utf8(l.to_vec()).unwrap(), r.line_number()));
            }
            let want = [
                ("first", 1),
                ("second", 4),
                ("exactly-16-bytes", 5),
                ("third", 6),
            ];
            let want: Vec<(String, u64)> = want.iter().map(|(s, n)| (s.to_string(), *n)).collect();
            assert_eq!(got, want, "step {step}");
            assert_eq!(r.overlong(), 2, "step {step}");
        }
    }

    #[test]
    fn overlong_last_line_without_newline_is_counted() {
        let mut data = b"ok\n".to_vec();
        data.extend(std::iter::repeat_n(b'Z', 500));
        let (lines, overlong, _) = read_all(&data, 40, 16);
        assert_eq!(lines, ["ok"]);
        assert_eq!(overlong, 1);
    }

    #[test]
    fn memory_stays_bounded_on_a_huge_line() {
        let huge = vec![b'Q'; 3 * 1024 * 1024];
        let mut r = ChunkReader::with_limits(&huge[..], 4096, 1024);
        let mut buf = Vec::new();
        while r.next_chunk(&mut buf).unwrap().is_some() {
            assert!(buf.capacity() <= 4096, "buffer grew to {}", buf.capacity());
            assert!(r.carry.capacity() <= 4096);
        }
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn gzip_is_detected_by_magic_not_name() {
        let text = b"one\ntwo\n".to_vec();
        let input = Input::from_reader(
            PathBuf::from("plain-name.log"),
            io::Cursor::new(gzip(&text)),
        )
        .unwrap();
        assert!(input.gzip);
        let mut r = LineReader::new(input.reader);
        assert_eq!(r.next_line().unwrap(), Some(&b"one"[..]));
        assert_eq!(r.next_line().unwrap(), Some(&b"two"[..]));
        assert_eq!(r.next_line().unwrap(), None);

        let input = Input::from_reader(PathBuf::from("x.gz"), io::Cursor::new(text)).unwrap();
        assert!(!input.gzip, "a plain file named .gz is read as plain text");
        // A one-byte input is shorter than the magic and still read.
        let mut one =
            Input::from_reader(PathBuf::from("-"), io::Cursor::new(b"\x1f".to_vec())).unwrap();
        let mut all = Vec::new();
        one.reader.read_to_end(&mut all).unwrap();
        assert_eq!(all, b"\x1f");
    }

    #[test]
    fn truncated_gzip_delivers_lines_before_the_damage_then_fails() {
        let text: String = (0..20_000).map(|i| format!("line number {i}\n")).collect();
        let gz = gzip(text.as_bytes());
        let cut = gz[..gz.len() / 2].to_vec();
        let input = Input::from_reader(PathBuf::from("cut.gz"), io::Cursor::new(cut)).unwrap();
        let mut r = LineReader::new(input.reader);
        let mut n = 0u64;
        let err = loop {
            match r.next_line() {
                Ok(Some(l)) => {
                    assert_eq!(l, format!("line number {n}").as_bytes());
                    n += 1;
                }
                Ok(None) => panic!("truncated gzip read as complete"),
                Err(e) => break e,
            }
        };
        assert!(n > 1000, "only {n} lines before the damage");
        assert!(n < 20_000);
        assert_eq!(r.dropped_partial(), 1);
        assert!(!err.to_string().is_empty());
    }

    #[test]
    fn for_each_chunk_keeps_input_order_and_counts_every_line() {
        let text: String = (0..50_000).map(|i| format!("{i}\n")).collect();
        for workers in [1, 2, 3] {
            let mut reader = ChunkReader::with_limits(text.as_bytes(), 1024, 64);
            let mut seen = Vec::new();
            for_each_chunk(
                &mut reader,
                workers,
                |chunk| {
                    lines(chunk, 64)
                        .map(|l| match l {
                            Line::Text(t) => {
                                std::str::from_utf8(t).unwrap().parse::<u64>().unwrap()
                            }
                            Line::Overlong => u64::MAX,
                        })
                        .collect::<Vec<_>>()
                },
                |_, nums: Vec<u64>| {
                    seen.extend(nums);
                    Ok::<(), ()>(())
                },
            )
            .unwrap();
            assert_eq!(seen, (0..50_000).collect::<Vec<_>>(), "workers {workers}");
        }
    }

    #[test]
    fn for_each_chunk_reports_read_errors_after_the_good_chunks() {
        struct Failing(usize);
        impl Read for Failing {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0 == 0 {
                    return Err(io::Error::new(io::ErrorKind::InvalidData, "corrupt"));
                }
                let n = buf.len().min(self.0).min(7);
                for b in &mut buf[..n] {
                    *b = b'\n';
                }
                self.0 -= n;
                Ok(n)
            }
        }
        let mut reader = ChunkReader::with_limits(Failing(5000), 256, 64);
        let mut lines_seen = 0;
        let result = for_each_chunk(
            &mut reader,
            2,
            |chunk| lines(chunk, 64).count(),
            |_, n| {
                lines_seen += n;
                Ok::<(), ()>(())
            },
        );
        assert!(matches!(result, Err(ChunkError::Read(_))));
        assert_eq!(lines_seen, 5000);
    }

    #[test]
    fn consume_error_stops_early() {
        let text = "a\n".repeat(100_000);
        let mut reader = ChunkReader::with_limits(text.as_bytes(), 256, 64);
        let mut calls = 0;
        let result = for_each_chunk(
            &mut reader,
            2,
            |chunk| chunk.len(),
            |_, _| {
                calls += 1;
                if calls == 3 {
                    Err("stop")
                } else {
                    Ok(())
                }
            },
        );
        assert!(matches!(result, Err(ChunkError::Consume("stop"))));
        assert_eq!(calls, 3);
    }
}
