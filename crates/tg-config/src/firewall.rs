//! `[firewall]`: the declarative firewall policy (owned by the firewall work; see tg-firewall).

use serde::Deserialize;

use crate::Problem;

/// `[firewall]`. Placeholder until the firewall policy lands.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FirewallConfig {}

impl FirewallConfig {
    pub(crate) fn validate(&self, _text: &str, _problems: &mut Vec<Problem>) {}
}
