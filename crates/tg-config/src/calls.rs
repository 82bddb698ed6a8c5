//! `[calls]` and `[alerts]`: call-record analysis, the live call guard, alert delivery
//! (owned by the calls work; see tg-calls).

use serde::Deserialize;

use crate::Problem;

/// `[calls]`. Placeholder until the calls work lands.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallsConfig {}

/// `[alerts]`. Placeholder until the calls work lands.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsConfig {}

impl CallsConfig {
    pub(crate) fn validate(&self, _text: &str, _problems: &mut Vec<Problem>) {}
}
