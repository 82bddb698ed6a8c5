//! A generator of realistic `cdr_csv` records for tests and benchmarks: a small US office
//! (extensions, working hours, a lunch dip, quiet weekends, a handful of regular international
//! contacts) over a number of days, with injectable fraud campaigns such as the article's
//! 11,000 international calls in 46 hours, at night, to premium ranges.
//!
//! Deterministic for a given seed (a SplitMix64 generator; no dependency). Records are written
//! in the order Asterisk appends them: by end time.

use std::io::{self, Write};

use tg_model::civil::{days_from_civil, format_time, weekday};

/// The office's regular international contacts: country and three E.164 numbers (no `+`).
pub const REGULAR_CONTACTS: [(&str, [&str; 3]); 5] = [
    ("GB", ["442079460101", "442079460102", "442079460777"]),
    ("DE", ["4930901820", "4930901821", "4930901899"]),
    ("MX", ["525555123401", "525555123402", "525555123403"]),
    ("CA", ["14165550101", "14165550102", "14165550103"]),
    ("FR", ["33142685300", "33142685301", "33142685302"]),
];

/// US area codes used for national calls (all US, none Canadian or Caribbean).
const US_AREA_CODES: [u32; 10] = [212, 312, 415, 617, 713, 305, 206, 404, 503, 702];

/// A fraud campaign to inject.
#[derive(Clone, Debug)]
pub struct Campaign {
    /// Start, seconds on the CDR clock.
    pub start: i64,
    /// How long it lasts.
    pub hours: u32,
    /// How many calls.
    pub calls: u32,
    /// The device the attacker uses (`PJSIP/1005`, a compromised extension).
    pub device: String,
    /// Number prefixes (E.164 without `+`) the calls go to; each call picks one and appends
    /// random digits up to `length`.
    pub ranges: Vec<(String, usize)>,
}

impl Campaign {
    /// The article's case: 11,000 international calls in 46 hours, starting at night, to
    /// premium ranges (UK 909, Latvia 90, Austria 900) and Cuba, from extension 1005.
    pub fn article(start: i64) -> Campaign {
        Campaign {
            start,
            hours: 46,
            calls: 11_000,
            device: "PJSIP/1005".into(),
            ranges: vec![
                ("449098790".into(), 12),
                ("3719000".into(), 11),
                ("43900123".into(), 13),
                ("5372".into(), 10),
            ],
        }
    }

    /// The countries the campaign's ranges belong to.
    pub const ARTICLE_COUNTRIES: [&'static str; 4] = ["GB", "LV", "AT", "CU"];
}

/// What to generate.
#[derive(Clone, Debug)]
pub struct GenConfig {
    /// First day (day number).
    pub first_day: i64,
    /// Days.
    pub days: u32,
    /// Extensions (1001, 1002, …).
    pub extensions: u32,
    /// Average calls an extension makes or receives per working day.
    pub calls_per_ext_day: f64,
    /// PRNG seed.
    pub seed: u64,
    /// Fraud to inject.
    pub campaigns: Vec<Campaign>,
}

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig {
            first_day: days_from_civil(2025, 1, 6), // a Monday
            days: 180,
            extensions: 12,
            calls_per_ext_day: 12.0,
            seed: 42,
            campaigns: Vec::new(),
        }
    }
}

/// SplitMix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn exp(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.unit()).ln()
    }
}

struct Call {
    start: i64,
    ring: u32,
    talk: Option<u32>,
    src: String,
    dst: String,
    dcontext: &'static str,
    channel: String,
    dstchannel: String,
    lastdata: String,
    busy: bool,
}

/// Writes the records; returns how many.
pub fn generate(cfg: &GenConfig, out: &mut impl Write) -> io::Result<u64> {
    let mut rng = Rng(cfg.seed);
    let mut seq: u32 = 0;
    let mut written = 0u64;
    let mut line = String::with_capacity(512);
    // Each extension's regular countries: one or two, every country covered by someone.
    let contacts: Vec<Vec<usize>> = (0..cfg.extensions as usize)
        .map(|e| {
            let a = e % REGULAR_CONTACTS.len();
            if e % 3 == 0 {
                vec![a, (a + 1) % REGULAR_CONTACTS.len()]
            } else {
                vec![a]
            }
        })
        .collect();
    for d in 0..i64::from(cfg.days) {
        let day = cfg.first_day + d;
        let wd = weekday(day);
        let mut calls: Vec<Call> = Vec::new();
        for e in 0..cfg.extensions {
            let ext = 1001 + e;
            let mean = match wd {
                0..=4 => cfg.calls_per_ext_day,
                5 => cfg.calls_per_ext_day * 0.08,
                _ => 0.0,
            };
            // Poisson-ish: mean ± 40%.
            let n = (mean * (0.6 + 0.8 * rng.unit())).round() as u32;
            for _ in 0..n {
                let start = day * 86_400 + working_second(&mut rng, wd);
                let r = rng.below(100);
                let intl_ok = wd <= 4 && {
                    let h = start.rem_euclid(86_400) / 3600;
                    (8..18).contains(&h)
                };
                let call = if r < 35 {
                    let peer = 1001 + rng.below(u64::from(cfg.extensions)) as u32;
                    internal_call(&mut rng, &mut seq, start, ext, peer)
                } else if r < 60 {
                    inbound_call(&mut rng, &mut seq, start, ext)
                } else if r < 92 || !intl_ok {
                    let npa = US_AREA_CODES[rng.below(10) as usize];
                    let nxx = 200 + rng.below(700) as u32;
                    let nxx = if nxx == 555 { 556 } else { nxx };
                    let number = format!("{npa}{nxx}{:04}", rng.below(10_000));
                    outbound_call(
                        &mut rng,
                        &mut seq,
                        start,
                        ext,
                        &number,
                        &format!("PJSIP/{ext}"),
                    )
                } else {
                    let list = &contacts[e as usize];
                    let (_, numbers) =
                        REGULAR_CONTACTS[list[rng.below(list.len() as u64) as usize]];
                    let number = format!("011{}", numbers[rng.below(3) as usize]);
                    outbound_call(
                        &mut rng,
                        &mut seq,
                        start,
                        ext,
                        &number,
                        &format!("PJSIP/{ext}"),
                    )
                };
                calls.push(call);
            }
        }
        for c in &cfg.campaigns {
            let per_call = f64::from(c.hours) * 3600.0 / f64::from(c.calls.max(1));
            for i in 0..c.calls {
                let start = c.start + (f64::from(i) * per_call) as i64;
                if start.div_euclid(86_400) != day {
                    continue;
                }
                let (prefix, len) = &c.ranges[rng.below(c.ranges.len() as u64) as usize];
                let mut number = prefix.clone();
                while number.len() < *len {
                    number.push(char::from(b'0' + rng.below(10) as u8));
                }
                let ext: u32 = c
                    .device
                    .rsplit('/')
                    .next()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(1005);
                let mut call = outbound_call(
                    &mut rng,
                    &mut seq,
                    start,
                    ext,
                    &format!("011{number}"),
                    &c.device,
                );
                call.talk = if rng.below(10) < 8 {
                    Some(60 + rng.below(600) as u32)
                } else {
                    None
                };
                calls.push(call);
            }
        }
        calls.sort_by_key(|c| c.start + i64::from(c.ring) + i64::from(c.talk.unwrap_or(0)));
        for c in &calls {
            line.clear();
            format_record(c, &mut line);
            out.write_all(line.as_bytes())?;
            written += 1;
        }
    }
    Ok(written)
}

/// A second of the day someone is at work: 08–18 with a lunch dip; Saturday mornings.
fn working_second(rng: &mut Rng, wd: usize) -> i64 {
    loop {
        let (from, to) = if wd == 5 { (9, 12) } else { (8, 18) };
        let s = (from * 3600 + rng.below((to - from) * 3600)) as i64;
        let h = s / 3600;
        if h == 12 && rng.below(3) != 0 {
            continue;
        }
        return s;
    }
}

fn talk(rng: &mut Rng) -> Option<u32> {
    (rng.below(100) >= 20).then(|| 5 + rng.exp(170.0).min(3600.0) as u32)
}

fn internal_call(rng: &mut Rng, seq: &mut u32, start: i64, ext: u32, peer: u32) -> Call {
    *seq = seq.wrapping_add(2);
    Call {
        start,
        ring: 2 + rng.below(15) as u32,
        talk: talk(rng),
        src: ext.to_string(),
        dst: peer.to_string(),
        dcontext: "from-internal",
        channel: format!("PJSIP/{ext}-{:08x}", *seq),
        dstchannel: format!("PJSIP/{peer}-{:08x}", *seq + 1),
        lastdata: format!("PJSIP/{peer},20,Ttr"),
        busy: rng.below(20) == 0,
    }
}

fn inbound_call(rng: &mut Rng, seq: &mut u32, start: i64, ext: u32) -> Call {
    *seq = seq.wrapping_add(2);
    let npa = US_AREA_CODES[rng.below(10) as usize];
    Call {
        start,
        ring: 3 + rng.below(20) as u32,
        talk: talk(rng),
        src: format!("{npa}{}{:06}", 2 + rng.below(8), rng.below(1_000_000)),
        dst: ext.to_string(),
        dcontext: "from-trunk",
        channel: format!("PJSIP/trunk-{:08x}", *seq),
        dstchannel: format!("PJSIP/{ext}-{:08x}", *seq + 1),
        lastdata: format!("PJSIP/{ext},20,Ttr"),
        busy: false,
    }
}

fn outbound_call(
    rng: &mut Rng,
    seq: &mut u32,
    start: i64,
    ext: u32,
    number: &str,
    device: &str,
) -> Call {
    *seq = seq.wrapping_add(2);
    Call {
        start,
        ring: 4 + rng.below(20) as u32,
        talk: talk(rng),
        src: ext.to_string(),
        dst: number.to_string(),
        dcontext: "from-internal",
        channel: format!("{device}-{:08x}", *seq),
        dstchannel: format!("PJSIP/trunk-{:08x}", *seq + 1),
        lastdata: format!("PJSIP/{number}@trunk,300,Tt"),
        busy: rng.below(25) == 0,
    }
}

/// One `cdr_csv` line, with `loguniqueid` and `loguserfield` as in the shipped sample config.
fn format_record(c: &Call, out: &mut String) {
    use std::fmt::Write as _;
    let answer = c.talk.map(|_| c.start + i64::from(c.ring));
    let end = c.start + i64::from(c.ring) + i64::from(c.talk.unwrap_or(0));
    let billsec = c.talk.unwrap_or(0);
    let disposition = match (c.talk, c.busy) {
        (Some(_), _) => "ANSWERED",
        (None, true) => "BUSY",
        (None, false) => "NO ANSWER",
    };
    let answer_field = answer.map_or(String::new(), |a| format!("\"{}\"", format_time(a)));
    let _ = writeln!(
        out,
        "\"\",\"{src}\",\"{dst}\",\"{ctx}\",\"\"\"{src}\"\" <{src}>\",\"{ch}\",\"{dch}\",\"Dial\",\"{data}\",\"{start}\",{answer_field},\"{end}\",{dur},{billsec},\"{disposition}\",\"DOCUMENTATION\",\"{uid}.{seq}\",\"\"",
        src = c.src,
        dst = c.dst,
        ctx = c.dcontext,
        ch = c.channel,
        dch = c.dstchannel,
        data = c.lastdata,
        start = format_time(c.start),
        end = format_time(end),
        dur = end - c.start,
        uid = c.start,
        seq = c.channel.len(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_parseable() {
        let cfg = GenConfig {
            days: 7,
            ..GenConfig::default()
        };
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let n = generate(&cfg, &mut a).unwrap();
        generate(&cfg, &mut b).unwrap();
        assert_eq!(a, b);
        assert!(n > 300, "{n}");
        let mut r = tg_cdr::cdr::CdrReader::new(&a[..], std::path::Path::new("g"));
        let mut count = 0;
        let mut last_end = i64::MIN;
        while let Some(c) = r.next_record().unwrap() {
            assert!(c.end >= last_end, "line {}", c.line);
            last_end = c.end;
            count += 1;
        }
        assert_eq!(r.skips.count, 0, "{:?}", r.skips.first);
        assert_eq!(count, n);
    }
}
