//! The offline engine of `tollguard scan`: logs read to their end through detectors and jails,
//! on the logs' own clocks.
//!
//! `tg_source::reader` cuts each input into chunks of whole lines, a pool of worker threads
//! runs [`step::detect`] over them, and the calling thread takes the findings back in input
//! order and feeds them to one `tg_jail::JailSet` (one `LogClock` per file, anchored at the
//! file's modification time). The rotated copies of one log are read one after the other, on
//! the calling thread; several different logs are read side by side, each on its own thread,
//! and their findings merged by time, so the jails see what the daemon would have seen live.
//! Only findings cross threads, never lines, so memory stays at a few chunk buffers per log plus
//! per-offender counts.

use std::collections::VecDeque;
use std::io;
use std::sync::mpsc;
use std::time::{SystemTime, UNIX_EPOCH};

use tg_detect::{Detection, Detectors, Suspicion};
use tg_jail::{JailSet, LogClock};
use tg_source::reader::{self, ChunkError, ChunkInfo, ChunkReader, Input, Line};

use crate::inputs::Inputs;
use crate::report::{Event, FileReport, Item, Summary, Tally, Timed, Totals};
use crate::step::{self, LineCounts, NoEvidence, Seen};

/// Chunk size for one log: larger than the reader's default so that the per-chunk hand-offs
/// between threads (a wake-up each) vanish next to the work; one per worker exists.
const SCAN_CHUNK: usize = 1024 * 1024;

/// How to replay.
pub struct Replay<'a> {
    /// The detectors (built-in and custom).
    pub detectors: &'a Detectors,
    /// Detector threads per log.
    pub workers: usize,
    /// Called (from reading threads) after each chunk is consumed; `Input::consumed` says how
    /// far each input is.
    pub on_chunk: &'a (dyn Fn() + Sync),
}

impl Replay<'_> {
    /// Reads every input to its end through the detectors into `jails`, handing each finding to
    /// `on_event` (on this thread, in the order the jails see them) once the jails have seen
    /// it. An error from `on_event` stops the replay and is returned; a file that cannot be read
    /// to its end is not an error but a line in [`Summary::read_errors`].
    pub fn run(
        &self,
        inputs: Inputs,
        jails: JailSet,
        on_event: &mut dyn FnMut(&Event) -> io::Result<()>,
    ) -> io::Result<Summary> {
        let names = inputs
            .iter()
            .map(|i| i.path.display().to_string())
            .collect();
        let mut tally = Tally::new(jails, names);
        if inputs.groups.len() == 1 {
            self.in_file_order(&mut tally, inputs, on_event)?;
        } else {
            self.merged(&mut tally, inputs, on_event)?;
        }
        Ok(tally.summary(self.workers))
    }

    /// One log (with its rotated copies): files go to the jails one after the other, on this
    /// thread.
    fn in_file_order(
        &self,
        tally: &mut Tally,
        inputs: Inputs,
        on_event: &mut dyn FnMut(&Event) -> io::Result<()>,
    ) -> io::Result<()> {
        for (index, input) in inputs.groups.into_iter().flatten() {
            let report = self.read_file(index, input, SCAN_CHUNK, |batch| {
                batch
                    .into_iter()
                    .try_for_each(|t| tally.observe(t, &mut *on_event))
            })?;
            tally.file_done(report);
        }
        Ok(())
    }

    /// Several logs (say `messages` and `auth.log`): each is read on its own threads, and their
    /// findings reach the jails merged by time, as the daemon would have seen them live.
    fn merged(
        &self,
        tally: &mut Tally,
        inputs: Inputs,
        on_event: &mut dyn FnMut(&Event) -> io::Result<()>,
    ) -> io::Result<()> {
        enum Message {
            Findings(Vec<Timed>),
            FileDone(FileReport),
        }
        std::thread::scope(|threads| {
            let mut streams = Vec::new();
            for group in inputs.groups {
                // A few batches of slack per log: enough to keep readers busy, and memory bounded.
                let (tx, rx) = mpsc::sync_channel::<Message>(4);
                threads.spawn(move || {
                    for (index, input) in group {
                        // Smaller chunks: several logs are in flight at once.
                        let report = self.read_file(index, input, reader::CHUNK_SIZE, |batch| {
                            tx.send(Message::Findings(batch))
                                .map_err(|_| io::Error::other("scan stopped"))
                        });
                        // An error here means the merging side has stopped: so do we.
                        let Ok(report) = report else { return };
                        if tx.send(Message::FileDone(report)).is_err() {
                            return;
                        }
                    }
                });
                streams.push((rx, VecDeque::new(), true));
            }
            loop {
                // Every live log must show its next finding before the earliest can be chosen.
                for (rx, head, live) in streams.iter_mut() {
                    while *live && head.is_empty() {
                        match rx.recv() {
                            Ok(Message::Findings(batch)) => head.extend(batch),
                            Ok(Message::FileDone(report)) => tally.file_done(report),
                            Err(_) => *live = false,
                        }
                    }
                }
                // The earliest head goes first (ties: the log given first).
                let next = streams
                    .iter_mut()
                    .map(|(_, head, _)| head)
                    .filter(|head| !head.is_empty())
                    .min_by_key(|head| head.front().map(Timed::time_ms));
                let Some(head) = next else { break };
                if let Some(t) = head.pop_front() {
                    tally.observe(t, &mut *on_event)?;
                }
            }
            Ok(())
        })
    }

    /// Reads one input to its end (or to the point where it fails), putting each finding on the
    /// file's own clock, and hands the findings to `emit` chunk by chunk, in file order.
    fn read_file(
        &self,
        index: usize,
        input: Input,
        chunk_size: usize,
        mut emit: impl FnMut(Vec<Timed>) -> io::Result<()>,
    ) -> io::Result<FileReport> {
        let name = input.path.display().to_string();
        let mut clock = LogClock::new(input.modified_ms.unwrap_or_else(now_ms));
        let mut counts = Totals::default();
        let mut line_base = 0u64;
        let mut reader = ChunkReader::with_limits(input.reader, chunk_size, reader::MAX_LINE);
        let max_line = reader.max_line();
        let detectors = self.detectors;
        let result = reader::for_each_chunk(
            &mut reader,
            self.workers,
            |chunk| detect_chunk(detectors, chunk, max_line),
            |info: ChunkInfo, r: ChunkResult| -> io::Result<()> {
                line_base += info.overlong_before;
                counts.lines += info.overlong_before + r.counts.lines;
                counts.skipped += info.overlong_before + r.overlong;
                counts.invalid_utf8 += r.invalid_utf8;
                counts.suspicious += r.counts.suspicious;
                counts.findings += r
                    .hits
                    .iter()
                    .filter(|h| matches!(h.what, What::Found(_)))
                    .count() as u64;
                let batch: Vec<Timed> = r
                    .hits
                    .into_iter()
                    .map(|hit| Timed {
                        file: index,
                        line: line_base + u64::from(hit.index) + 1,
                        item: match hit.what {
                            What::Found(d) => Item::Finding(step::finding(d, &mut clock)),
                            What::Ambiguous(suspicion) => {
                                // Its time, without counting it among the untimed findings.
                                let untimed = clock.untimed;
                                let time_ms = clock.resolve(suspicion.stamp);
                                clock.untimed = untimed;
                                Item::Ambiguous { time_ms, suspicion }
                            }
                        },
                    })
                    .collect();
                line_base += r.counts.lines;
                if info.dropped_partial {
                    // The line cut short by the failure: counted, never examined.
                    line_base += 1;
                    counts.lines += 1;
                    counts.skipped += 1;
                }
                (self.on_chunk)();
                if batch.is_empty() {
                    Ok(())
                } else {
                    emit(batch)
                }
            },
        );
        counts.untimed = clock.untimed;
        let error = match result {
            Ok(()) => None,
            Err(ChunkError::Consume(e)) => return Err(e),
            Err(ChunkError::Read(e)) => Some(format!(
                "{name}: read error after line {line_base}: {e} (the lines before it were scanned)"
            )),
        };
        Ok(FileReport {
            index,
            gzip: input.gzip,
            counts,
            error,
        })
    }
}

/// One detected (or ambiguous) line, as a worker hands it back.
struct Hit {
    /// 0-based line index within its chunk.
    index: u32,
    what: What,
}

enum What {
    Found(Detection),
    Ambiguous(Suspicion),
}

/// A worker's verdict on one chunk.
#[derive(Default)]
struct ChunkResult {
    /// Every line of the chunk, overlong ones included.
    counts: LineCounts,
    overlong: u64,
    invalid_utf8: u64,
    hits: Vec<Hit>,
}

fn detect_chunk(detectors: &Detectors, chunk: &[u8], max_line: usize) -> ChunkResult {
    let mut r = ChunkResult::default();
    // One pass over the whole chunk tells whether per-line UTF-8 checks are needed at all
    // (ASCII first: it is the common case and the cheapest test).
    let all_utf8 = chunk.is_ascii() || std::str::from_utf8(chunk).is_ok();
    for (i, line) in reader::lines(chunk, max_line).enumerate() {
        let text = match line {
            Line::Text(t) => t,
            Line::Overlong => {
                r.counts.lines += 1;
                r.overlong += 1;
                continue;
            }
        };
        // Invalid UTF-8 is counted but still examined: attackers control some of the bytes,
        // and a stray \xff in a user name must not hide the attempt.
        if !all_utf8 && std::str::from_utf8(text).is_err() {
            r.invalid_utf8 += 1;
        }
        // Offline, from perhaps another machine: no evidence beyond the line.
        let what = match step::detect(detectors, text, &mut r.counts, &mut NoEvidence) {
            Seen::Nothing => continue,
            Seen::Found(d) => What::Found(d),
            Seen::Ambiguous(s) => What::Ambiguous(s),
        };
        r.hits.push(Hit {
            index: u32::try_from(i).unwrap_or(u32::MAX),
            what,
        });
    }
    r
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
