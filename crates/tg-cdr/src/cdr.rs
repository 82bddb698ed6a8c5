//! Asterisk `cdr_csv` files (`Master.csv`), plain or gzip, read one record at a time.
//!
//! The layout (from `cdr/cdr_csv.c`): 16 fixed columns `accountcode, src, dst, dcontext, clid,
//! channel, dstchannel, lastapp, lastdata, start, answer, end, duration, billsec, disposition,
//! amaflags`, then `uniqueid` (`loguniqueid`), `userfield` (`loguserfield`) and `peeraccount,
//! linkedid, sequence` (`newcdrcolumns`). Strings are quoted with `""` for a quote; integers are
//! bare; a zero time (an unanswered call's `answer`) is an empty bare field. The analysis only
//! needs the first 16 columns, so any record of 16 to 22 columns is accepted whatever options
//! wrote it.
//!
//! Why a hand parser rather than the `csv` crate: the format is a small, fixed dialect; the
//! reader must cap line length (Asterisk itself drops records over 1 KiB, a hostile file could
//! hold one gigabyte-long line), number physical lines for the skip report, and reuse one buffer
//! so that ten million records cost no allocation each. That is ~100 lines here, tested below.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use tg_model::civil::{parse_date_time, parse_time_of_day};

/// Longest line accepted; longer ones are skipped (Asterisk never writes more than 1 KiB).
pub const MAX_LINE: usize = 64 * 1024;

/// How many skipped lines are remembered with their reason (all are counted).
pub const MAX_SKIPS_KEPT: usize = 50;

/// The file could not be read at all (as opposed to a bad record, which is skipped).
#[derive(Debug, thiserror::Error)]
pub enum CdrError {
    /// Opening or reading failed.
    #[error("{path}: line {line}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The line being read (0 when opening).
        line: u64,
        /// What went wrong.
        source: io::Error,
    },
}

/// How a call ended (`disposition`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// `ANSWERED`.
    Answered,
    /// `NO ANSWER`.
    NoAnswer,
    /// `BUSY`.
    Busy,
    /// `FAILED`, `CONGESTION`, `CANCEL`, `UNKNOWN` or anything else.
    Failed,
}

/// One call record, borrowing the reader's buffer.
#[derive(Clone, Copy, Debug)]
pub struct Cdr<'a> {
    /// The physical line, 1-based.
    pub line: u64,
    /// `accountcode`.
    pub accountcode: &'a [u8],
    /// `src`: the caller's number.
    pub src: &'a [u8],
    /// `dst`: the dialled extension or number.
    pub dst: &'a [u8],
    /// `dcontext`: the dialplan context the call ran in.
    pub dcontext: &'a [u8],
    /// `channel`: the calling channel (`PJSIP/1001-0000002a`).
    pub channel: &'a [u8],
    /// `dstchannel`: the called channel (often the trunk).
    pub dstchannel: &'a [u8],
    /// `lastapp` (`Dial`).
    pub lastapp: &'a [u8],
    /// `lastdata` (the dial string).
    pub lastdata: &'a [u8],
    /// Start, seconds on the CDR's clock.
    pub start: i64,
    /// Answer time, if answered.
    pub answer: Option<i64>,
    /// End time.
    pub end: i64,
    /// `duration` in seconds.
    pub duration: u32,
    /// `billsec` in seconds.
    pub billsec: u32,
    /// `disposition`.
    pub disposition: Disposition,
}

/// A line that was not a record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skip {
    /// 1-based line.
    pub line: u64,
    /// Why.
    pub reason: String,
}

/// Skipped lines: all counted, the first [`MAX_SKIPS_KEPT`] kept.
#[derive(Clone, Debug, Default)]
pub struct Skips {
    /// How many lines were skipped.
    pub count: u64,
    /// The first few, with reasons.
    pub first: Vec<Skip>,
}

impl Skips {
    fn push(&mut self, line: u64, reason: impl Into<String>) {
        self.count += 1;
        if self.first.len() < MAX_SKIPS_KEPT {
            self.first.push(Skip {
                line,
                reason: reason.into(),
            });
        }
    }
}

/// Opens a CDR file (`-` for stdin), transparently gunzipping (by magic bytes, not name).
pub fn open(path: &Path) -> Result<Box<dyn BufRead + Send>, CdrError> {
    let err = |source| CdrError::Io {
        path: path.to_path_buf(),
        line: 0,
        source,
    };
    let raw: Box<dyn Read + Send> = if path == Path::new("-") {
        Box::new(io::stdin())
    } else {
        Box::new(File::open(path).map_err(err)?)
    };
    let mut reader = BufReader::with_capacity(256 * 1024, raw);
    let head = reader.fill_buf().map_err(err)?;
    if head.starts_with(&[0x1f, 0x8b]) {
        let gz = flate2::bufread::MultiGzDecoder::new(reader);
        Ok(Box::new(BufReader::with_capacity(256 * 1024, gz)))
    } else {
        Ok(Box::new(reader))
    }
}

/// Reads records one at a time, skipping (and counting) the malformed ones.
pub struct CdrReader<R> {
    input: R,
    path: PathBuf,
    line_no: u64,
    raw: Vec<u8>,
    unquoted: Vec<u8>,
    fields: Vec<(usize, usize)>,
    dates: DateCache,
    /// What was skipped so far.
    pub skips: Skips,
}

/// Remembers the last date parsed: consecutive records share their day.
#[derive(Default)]
struct DateCache {
    text: [u8; 10],
    day: Option<i64>,
}

impl DateCache {
    fn time(&mut self, b: &[u8]) -> Option<i64> {
        if b.len() != 19 {
            return None;
        }
        match self.day {
            Some(day) if b[..10] == self.text => Some(day * 86_400 + parse_time_of_day(&b[10..])?),
            _ => {
                let t = parse_date_time(b)?;
                self.text.copy_from_slice(&b[..10]);
                self.day = Some(t.div_euclid(86_400));
                Some(t)
            }
        }
    }
}

impl<R: BufRead> CdrReader<R> {
    /// A reader over `input`; `path` is used in error messages.
    pub fn new(input: R, path: &Path) -> Self {
        CdrReader {
            input,
            path: path.to_path_buf(),
            line_no: 0,
            raw: Vec::with_capacity(1024),
            unquoted: Vec::with_capacity(1024),
            fields: Vec::with_capacity(24),
            dates: DateCache::default(),
            skips: Skips::default(),
        }
    }

    /// Lines read so far.
    pub fn lines(&self) -> u64 {
        self.line_no
    }

    /// The next good record, or `None` at the end of the input.
    pub fn next_record(&mut self) -> Result<Option<Cdr<'_>>, CdrError> {
        loop {
            // Fast path: a whole line already in the input buffer is split in place, without
            // first copying it out.
            let fast = {
                let buf = match self.input.fill_buf() {
                    Ok(b) => b,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(io_error(&self.path, self.line_no + 1, e)),
                };
                if buf.is_empty() {
                    return Ok(None);
                }
                match memchr::memchr(b'\n', buf) {
                    Some(i) if i < MAX_LINE => {
                        let line = trim_eol(&buf[..=i]);
                        let split = (!line.is_empty())
                            .then(|| split_fields(line, &mut self.unquoted, &mut self.fields));
                        Some((i + 1, split))
                    }
                    _ => None,
                }
            };
            let split = match fast {
                Some((used, split)) => {
                    self.input.consume(used);
                    self.line_no += 1;
                    match split {
                        Some(split) => split,
                        None => continue,
                    }
                }
                None => {
                    let too_long = match self.read_line() {
                        Ok(None) => return Ok(None),
                        Ok(Some(too_long)) => too_long,
                        Err(source) => return Err(io_error(&self.path, self.line_no + 1, source)),
                    };
                    self.line_no += 1;
                    if too_long {
                        self.skips
                            .push(self.line_no, format!("longer than {MAX_LINE} bytes"));
                        continue;
                    }
                    let trimmed = trim_eol(&self.raw);
                    if trimmed.is_empty() {
                        continue;
                    }
                    split_fields(trimmed, &mut self.unquoted, &mut self.fields)
                }
            };
            if let Err(reason) = split {
                self.skips.push(self.line_no, reason);
                continue;
            }
            match parse_meta(&self.unquoted, &self.fields, &mut self.dates) {
                Ok(meta) => {
                    let f = |i: usize| &self.unquoted[self.fields[i].0..self.fields[i].1];
                    return Ok(Some(Cdr {
                        line: self.line_no,
                        accountcode: f(0),
                        src: f(1),
                        dst: f(2),
                        dcontext: f(3),
                        channel: f(5),
                        dstchannel: f(6),
                        lastapp: f(7),
                        lastdata: f(8),
                        start: meta.start,
                        answer: meta.answer,
                        end: meta.end,
                        duration: meta.duration,
                        billsec: meta.billsec,
                        disposition: meta.disposition,
                    }));
                }
                Err(reason) => self.skips.push(self.line_no, reason),
            }
        }
    }

    /// Reads one physical line into `raw`; `Some(true)` when it was over [`MAX_LINE`] (its
    /// content then is discarded), `None` at end of input.
    fn read_line(&mut self) -> io::Result<Option<bool>> {
        self.raw.clear();
        let mut too_long = false;
        let mut any = false;
        loop {
            let buf = match self.input.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if buf.is_empty() {
                return Ok(if any { Some(too_long) } else { None });
            }
            any = true;
            let (chunk, done) = match memchr::memchr(b'\n', buf) {
                Some(i) => (&buf[..=i], true),
                None => (buf, false),
            };
            let n = chunk.len();
            if !too_long {
                if self.raw.len() + n > MAX_LINE {
                    too_long = true;
                    self.raw.clear();
                } else {
                    self.raw.extend_from_slice(chunk);
                }
            }
            self.input.consume(n);
            if done {
                return Ok(Some(too_long));
            }
        }
    }
}

/// Records copied out of the reader, so that reading and analysing can run on two threads.
#[derive(Default)]
pub struct Batch {
    text: Vec<u8>,
    records: Vec<BatchRecord>,
}

#[derive(Clone, Copy)]
struct BatchRecord {
    line: u64,
    fields: [(u32, u32); 8],
    start: i64,
    answer: Option<i64>,
    end: i64,
    duration: u32,
    billsec: u32,
    disposition: Disposition,
}

impl Batch {
    /// Empties the batch, keeping its memory.
    pub fn clear(&mut self) {
        self.text.clear();
        self.records.clear();
    }

    /// Records held.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Copies a record in.
    pub fn push(&mut self, c: &Cdr<'_>) {
        let mut fields = [(0u32, 0u32); 8];
        let parts = [
            c.accountcode,
            c.src,
            c.dst,
            c.dcontext,
            c.channel,
            c.dstchannel,
            c.lastapp,
            c.lastdata,
        ];
        for (slot, part) in fields.iter_mut().zip(parts) {
            let start = self.text.len() as u32;
            self.text.extend_from_slice(part);
            *slot = (start, self.text.len() as u32);
        }
        self.records.push(BatchRecord {
            line: c.line,
            fields,
            start: c.start,
            answer: c.answer,
            end: c.end,
            duration: c.duration,
            billsec: c.billsec,
            disposition: c.disposition,
        });
    }

    /// The records, borrowed.
    pub fn iter(&self) -> impl Iterator<Item = Cdr<'_>> {
        self.records.iter().map(|r| {
            let f = |i: usize| &self.text[r.fields[i].0 as usize..r.fields[i].1 as usize];
            Cdr {
                line: r.line,
                accountcode: f(0),
                src: f(1),
                dst: f(2),
                dcontext: f(3),
                channel: f(4),
                dstchannel: f(5),
                lastapp: f(6),
                lastdata: f(7),
                start: r.start,
                answer: r.answer,
                end: r.end,
                duration: r.duration,
                billsec: r.billsec,
                disposition: r.disposition,
            }
        })
    }
}

fn io_error(path: &Path, line: u64, source: io::Error) -> CdrError {
    CdrError::Io {
        path: path.to_path_buf(),
        line,
        source,
    }
}

fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Splits one line into fields, unquoting into `out`; `fields` gets `(start, end)` in `out`.
fn split_fields(
    line: &[u8],
    out: &mut Vec<u8>,
    fields: &mut Vec<(usize, usize)>,
) -> Result<(), String> {
    out.clear();
    fields.clear();
    let mut i = 0;
    loop {
        if fields.len() >= 64 {
            return Err("more than 64 columns".into());
        }
        let start = out.len();
        if line.get(i) == Some(&b'"') {
            i += 1;
            loop {
                let rest = &line[i..];
                let Some(q) = memchr::memchr(b'"', rest) else {
                    return Err(format!("unterminated quote in column {}", fields.len() + 1));
                };
                out.extend_from_slice(&rest[..q]);
                i += q + 1;
                if line.get(i) == Some(&b'"') {
                    out.push(b'"');
                    i += 1;
                } else {
                    break;
                }
            }
            fields.push((start, out.len()));
            match line.get(i) {
                None => return Ok(()),
                Some(b',') => i += 1,
                Some(_) => {
                    return Err(format!(
                        "text after a closing quote in column {}",
                        fields.len()
                    ))
                }
            }
        } else {
            let rest = &line[i..];
            let end = memchr::memchr(b',', rest).unwrap_or(rest.len());
            let field = &rest[..end];
            if field.contains(&b'"') {
                return Err(format!("stray quote in column {}", fields.len() + 1));
            }
            out.extend_from_slice(field);
            fields.push((start, out.len()));
            i += end;
            if i >= line.len() {
                return Ok(());
            }
            i += 1;
        }
    }
}

fn number(bytes: &[u8]) -> Option<u32> {
    if bytes.is_empty() || bytes.len() > 9 {
        return None;
    }
    bytes.iter().try_fold(0u32, |n, &b| {
        b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0'))
    })
}

/// The parsed, non-text part of a record.
struct Meta {
    start: i64,
    answer: Option<i64>,
    end: i64,
    duration: u32,
    billsec: u32,
    disposition: Disposition,
}

fn parse_meta(
    text: &[u8],
    fields: &[(usize, usize)],
    dates: &mut DateCache,
) -> Result<Meta, String> {
    if !(16..=22).contains(&fields.len()) {
        return Err(format!(
            "{} columns (cdr_csv writes 16 to 21)",
            fields.len()
        ));
    }
    let f = |i: usize| &text[fields[i].0..fields[i].1];
    let start = dates.time(f(9)).ok_or("bad start time")?;
    let answer = match f(10) {
        b"" => None,
        t => Some(dates.time(t).ok_or("bad answer time")?),
    };
    let end = dates.time(f(11)).ok_or("bad end time")?;
    let duration = number(f(12)).ok_or("bad duration")?;
    let billsec = number(f(13)).ok_or("bad billsec")?;
    let disposition = match f(14) {
        b"ANSWERED" => Disposition::Answered,
        b"NO ANSWER" => Disposition::NoAnswer,
        b"BUSY" => Disposition::Busy,
        _ => Disposition::Failed,
    };
    Ok(Meta {
        start,
        answer,
        end,
        duration,
        billsec,
        disposition,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    type Row = (String, String, u32, Option<i64>);

    fn read_all(text: &[u8]) -> (Vec<Row>, Skips) {
        let mut r = CdrReader::new(text, Path::new("t.csv"));
        let mut out = Vec::new();
        while let Some(c) = r.next_record().unwrap() {
            out.push((
                String::from_utf8_lossy(c.src).into_owned(),
                String::from_utf8_lossy(c.dst).into_owned(),
                c.billsec,
                c.answer,
            ));
        }
        (out, r.skips)
    }

    const BASE: &str = r#""","1001","011442079460000","from-internal","""Alice"" <1001>","PJSIP/1001-00000001","PJSIP/trunk-00000002","Dial","PJSIP/011442079460000@trunk,60","2024-05-01 10:00:00","2024-05-01 10:00:05","2024-05-01 10:02:05",125,120,"ANSWERED","DOCUMENTATION""#;

    #[test]
    fn reads_every_layout() {
        let mut text = String::new();
        text.push_str(BASE);
        text.push('\n');
        text.push_str(BASE);
        text.push_str(",\"1714557600.1\"\n"); // loguniqueid
        text.push_str(BASE);
        text.push_str(",\"1714557600.1\",\"\"\n"); // + loguserfield
        text.push_str(BASE);
        text.push_str(",\"1714557600.1\",\"\",\"\",\"1714557600.1\",7\r\n"); // + newcdrcolumns
        let (recs, skips) = read_all(text.as_bytes());
        assert_eq!(skips.count, 0, "{:?}", skips.first);
        assert_eq!(recs.len(), 4);
        assert!(recs.iter().all(|r| r.0 == "1001" && r.2 == 120));
    }

    #[test]
    fn unanswered_call_has_empty_bare_answer() {
        let line = r#""","1001","2000","from-internal","","PJSIP/1001-1","","Dial","PJSIP/2000","2024-05-01 10:00:00",,"2024-05-01 10:00:20",20,0,"NO ANSWER","DOCUMENTATION""#;
        let (recs, skips) = read_all(line.as_bytes());
        assert_eq!(skips.count, 0, "{:?}", skips.first);
        assert_eq!(recs[0].3, None);
    }

    #[test]
    fn doubled_quotes_unquote() {
        let mut out = Vec::new();
        let mut fields = Vec::new();
        split_fields(br#""a""b",1,,"""""#, &mut out, &mut fields).unwrap();
        let got: Vec<_> = fields.iter().map(|&(s, e)| &out[s..e]).collect();
        assert_eq!(got, vec![&b"a\"b"[..], b"1", b"", b"\""]);
    }

    #[test]
    fn malformed_lines_are_skipped_with_line_numbers() {
        let mut text = Vec::new();
        text.extend_from_slice(b"garbage\n");
        text.extend_from_slice(BASE.as_bytes());
        text.push(b'\n');
        text.extend_from_slice(b"\"unterminated,1,2\n");
        text.extend_from_slice(
            &BASE
                .as_bytes()
                .replace_range_hack("2024-05-01 10:00:00", "2024-05-01 99:00:00"),
        );
        text.push(b'\n');
        text.extend(std::iter::repeat_n(b'x', MAX_LINE + 10));
        text.push(b'\n');
        text.extend_from_slice(b"\xff\xfe\x00binary\n\n");
        text.extend_from_slice(BASE.as_bytes()); // last line without newline
        let (recs, skips) = read_all(&text);
        assert_eq!(recs.len(), 2);
        let lines: Vec<u64> = skips.first.iter().map(|s| s.line).collect();
        assert_eq!(lines, vec![1, 3, 4, 5, 6]);
        assert_eq!(skips.count, 5);
        assert!(skips.first[2].reason.contains("start"), "{:?}", skips.first);
    }

    trait ReplaceHack {
        fn replace_range_hack(&self, from: &str, to: &str) -> Vec<u8>;
    }
    impl ReplaceHack for [u8] {
        fn replace_range_hack(&self, from: &str, to: &str) -> Vec<u8> {
            String::from_utf8_lossy(self)
                .replacen(from, to, 1)
                .into_bytes()
        }
    }

    #[test]
    fn reads_gzip_by_magic() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("Master.csv.1");
        let mut gz = flate2::write::GzEncoder::new(
            File::create(&path).unwrap(),
            flate2::Compression::fast(),
        );
        for _ in 0..3 {
            writeln!(gz, "{BASE}").unwrap();
        }
        gz.finish().unwrap();
        let mut r = CdrReader::new(open(&path).unwrap(), &path);
        let mut n = 0;
        while r.next_record().unwrap().is_some() {
            n += 1;
        }
        assert_eq!(n, 3);
        let missing = open(&dir.path().join("nope")).err().unwrap();
        assert!(missing.to_string().contains("nope"), "{missing}");
    }
}
