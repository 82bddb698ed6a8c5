//! Asterisk's `json` formatter (P5): one object per line with `timestamp` and
//! `logmsg.{level, message, location.{filename, function}}`.
//!
//! JSON escapes every value, so this is the one prefix where field boundaries cannot be forged;
//! the message is then read by the same family detectors as text lines.

use std::borrow::Cow;

use serde::Deserialize;

use crate::custom::Custom;
use crate::envelope::Asterisk;
use crate::verdict::Verdict;
use crate::{asterisk, finish, stamp, Detection, Outcome, Suspicion};

#[derive(Deserialize)]
struct Line<'a> {
    #[serde(borrow, default)]
    timestamp: Option<Cow<'a, str>>,
    #[serde(borrow)]
    logmsg: LogMsg<'a>,
}

#[derive(Deserialize)]
struct LogMsg<'a> {
    #[serde(borrow)]
    level: Cow<'a, str>,
    #[serde(borrow)]
    message: Cow<'a, str>,
    #[serde(borrow)]
    location: Location<'a>,
}

#[derive(Deserialize)]
struct Location<'a> {
    #[serde(borrow)]
    filename: Cow<'a, str>,
    #[serde(borrow, default)]
    function: Option<Cow<'a, str>>,
}

pub(crate) fn detect(line: &[u8], custom: &[Custom]) -> Outcome {
    let Ok(parsed) = serde_json::from_slice::<Line<'_>>(line) else {
        return Outcome::Nothing;
    };
    let message = parsed.logmsg.message.trim_end_matches(['\n', '\r']);
    let a = Asterisk {
        level: parsed.logmsg.level.as_bytes(),
        file: parsed.logmsg.location.filename.as_bytes(),
        function: parsed
            .logmsg
            .location
            .function
            .as_deref()
            .filter(|f| f.starts_with('@'))
            .map(str::as_bytes),
        message: message.trim_start_matches(' ').as_bytes(),
    };
    let stamp = parsed
        .timestamp
        .as_deref()
        .and_then(|t| stamp::parse_exact(t.as_bytes()));
    match asterisk::detect(&a) {
        Verdict::Hit(hit) => Outcome::Found(finish(hit, stamp)),
        Verdict::Suspicious(doubt) => Outcome::Suspicious(Suspicion {
            service: doubt.service,
            kind: doubt.kind,
            stamp,
            candidates: doubt.candidates,
        }),
        Verdict::Nothing => {
            for c in custom {
                if let Some((service, kind, ip)) = c.matches(line, a.message) {
                    return Outcome::Found(Detection {
                        service,
                        kind,
                        ip,
                        stamp,
                        attempt: None,
                    });
                }
            }
            Outcome::Nothing
        }
    }
}
