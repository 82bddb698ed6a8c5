//! A duration field that accepts `"10m"`-style strings or plain seconds.

use serde::{Deserialize, Deserializer};

/// Seconds, written in the config as `"10m"`, `"1h"`, `"7d"` or a plain integer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Secs(pub u64);

impl<'de> Deserialize<'de> for Secs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Int(n) => Ok(Secs(n)),
            Raw::Text(s) => tg_model::parse_duration(&s)
                .map(Secs)
                .map_err(serde::de::Error::custom),
        }
    }
}
