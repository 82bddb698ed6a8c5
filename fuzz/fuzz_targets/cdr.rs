//! Fuzzes the call-record reader: a `Master.csv` (any bytes) read record by record with
//! `tg_cdr::cdr::CdrReader`, the way `tollguard calls report` reads a hostile file.
//!
//! The first input byte picks the size of a `BufReader` (1 to 256 bytes) the file is also read
//! through. Checked: no panic; the small buffer (lines split across reads: the slow path) gives
//! the same records and the same skipped lines as reading it whole (the in-place fast path);
//! line numbers increase and stay within the file; records plus skips never exceed the lines
//! read; at most `MAX_SKIPS_KEPT` skips are kept; a record copied into a `Batch` reads back
//! unchanged.
//!
//! Run: `scripts/fuzz cdr` (or `cargo fuzz run cdr`).

#![no_main]

use std::io::{BufRead, BufReader};
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use tg_cdr::cdr::{Batch, Cdr, CdrReader, Disposition, MAX_SKIPS_KEPT};

type Owned = (
    u64,
    [Vec<u8>; 8],
    i64,
    Option<i64>,
    i64,
    u32,
    u32,
    Disposition,
);

fn owned(c: &Cdr<'_>) -> Owned {
    (
        c.line,
        [
            c.accountcode.to_vec(),
            c.src.to_vec(),
            c.dst.to_vec(),
            c.dcontext.to_vec(),
            c.channel.to_vec(),
            c.dstchannel.to_vec(),
            c.lastapp.to_vec(),
            c.lastdata.to_vec(),
        ],
        c.start,
        c.answer,
        c.end,
        c.duration,
        c.billsec,
        c.disposition,
    )
}

fn read_all<R: BufRead>(input: R) -> (Vec<Owned>, u64, Vec<(u64, String)>, u64) {
    let mut r = CdrReader::new(input, Path::new("Master.csv"));
    let mut batch = Batch::default();
    let mut out = Vec::new();
    while let Some(c) = r.next_record().expect("reading memory cannot fail") {
        batch.push(&c);
        out.push(owned(&c));
    }
    let back: Vec<Owned> = batch.iter().map(|c| owned(&c)).collect();
    assert_eq!(back, out, "a record changed in the batch");
    let skips = r
        .skips
        .first
        .iter()
        .map(|s| (s.line, s.reason.clone()))
        .collect();
    (out, r.skips.count, skips, r.lines())
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, file)) = data.split_first() else {
        return;
    };
    let whole = read_all(file);
    let split = read_all(BufReader::with_capacity(usize::from(first) + 1, file));
    assert_eq!(whole, split, "the read buffer's size changed what was read");
    let (records, skipped, kept, lines) = whole;
    let physical = file.split(|&b| b == b'\n').count() as u64;
    assert!(lines <= physical, "{lines} lines read of {physical}");
    assert!(records.len() as u64 + skipped <= lines);
    assert!(kept.len() <= MAX_SKIPS_KEPT && kept.len() as u64 <= skipped);
    let mut numbers: Vec<u64> = records.iter().map(|r| r.0).collect();
    numbers.extend(kept.iter().map(|k| k.0));
    numbers.sort_unstable();
    assert!(
        numbers.windows(2).all(|w| w[0] < w[1]),
        "a line counted twice"
    );
    assert!(numbers.iter().all(|&n| (1..=lines).contains(&n)));
    for r in &records {
        assert!(r.5 <= 999_999_999 && r.6 <= 999_999_999);
    }
});
