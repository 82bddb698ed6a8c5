//! `tollguard firewall status`: each rule of our chains with its packet counter, and each
//! trusted name with the addresses loaded for it (and whether the kernel set holds them).

use std::net::IpAddr;

use ipnet::IpNet;
use tg_nft::{Nft, TABLE};

use crate::render::{TRUSTED_V4, TRUSTED_V6};
use crate::state::StateDir;
use crate::FwError;

/// One rule of a `fw_*` chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleCount {
    /// The chain.
    pub chain: String,
    /// The rule's comment (what it is for).
    pub comment: String,
    /// Packets counted (`None` for a rule without a counter).
    pub packets: Option<u64>,
    /// Bytes counted.
    pub bytes: Option<u64>,
}

/// One trusted name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameState {
    /// The name.
    pub name: String,
    /// Its addresses, each with whether the kernel's trusted set holds it.
    pub addrs: Vec<(IpAddr, bool)>,
}

/// The firewall's state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Status {
    /// False when no `fw_input` chain is loaded.
    pub loaded: bool,
    /// Rules in chain order.
    pub rules: Vec<RuleCount>,
    /// Trusted names.
    pub names: Vec<NameState>,
    /// Elements of the trusted sets.
    pub trusted: Vec<IpNet>,
    /// Seconds until an unconfirmed apply is rolled back.
    pub pending_secs: Option<u64>,
}

/// Reads the live table and the state directory.
pub fn status(nft: &Nft, dir: &StateDir) -> Result<Status, FwError> {
    let mut st = Status::default();
    let json = match nft.run(&["-j", "list", "table", "inet", TABLE], None) {
        Ok(j) => j,
        Err(tg_nft::NftError::Refused { .. }) => String::new(),
        Err(e) => return Err(e.into()),
    };
    let v: serde_json::Value = serde_json::from_str(&json).unwrap_or_default();
    for item in v
        .get("nftables")
        .and_then(|a| a.as_array())
        .into_iter()
        .flatten()
    {
        if let Some(rule) = item.get("rule") {
            let chain = rule.get("chain").and_then(|c| c.as_str()).unwrap_or("");
            if !chain.starts_with("fw_") {
                continue;
            }
            let counter = rule
                .get("expr")
                .and_then(|e| e.as_array())
                .into_iter()
                .flatten()
                .find_map(|e| e.get("counter"));
            st.rules.push(RuleCount {
                chain: chain.to_string(),
                comment: rule
                    .get("comment")
                    .and_then(|c| c.as_str())
                    .unwrap_or("")
                    .to_string(),
                packets: counter
                    .and_then(|c| c.get("packets"))
                    .and_then(|p| p.as_u64()),
                bytes: counter
                    .and_then(|c| c.get("bytes"))
                    .and_then(|p| p.as_u64()),
            });
        }
        if let Some(chain) = item.get("chain") {
            if chain.get("name").and_then(|n| n.as_str()) == Some(crate::render::INPUT_CHAIN) {
                st.loaded = true;
            }
        }
        if let Some(set) = item.get("set") {
            let name = set.get("name").and_then(|n| n.as_str());
            if name == Some(TRUSTED_V4) || name == Some(TRUSTED_V6) {
                for e in set
                    .get("elem")
                    .and_then(|e| e.as_array())
                    .into_iter()
                    .flatten()
                {
                    st.trusted.extend(element_net(e));
                }
            }
        }
    }
    for (name, addrs) in dir.names()? {
        let addrs = addrs
            .into_iter()
            .map(|a| (a, st.trusted.iter().any(|n| n.contains(&a))))
            .collect();
        st.names.push(NameState { name, addrs });
    }
    st.pending_secs = dir.pending()?.map(|(_, deadline)| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        deadline.saturating_sub(now)
    });
    Ok(st)
}

/// One set element of `nft -j` output: `"192.0.2.1"`, `{"prefix":{"addr":…,"len":…}}` or
/// `{"range":[a,b]}` (a range is reported by its first address).
fn element_net(e: &serde_json::Value) -> Option<IpNet> {
    if let Some(s) = e.as_str() {
        return s.parse::<IpAddr>().ok().map(IpNet::from);
    }
    if let Some(p) = e.get("prefix") {
        let addr: IpAddr = p.get("addr")?.as_str()?.parse().ok()?;
        let len = u8::try_from(p.get("len")?.as_u64()?).ok()?;
        return IpNet::new(addr, len).ok();
    }
    if let Some(elem) = e.get("elem") {
        return element_net(elem.get("val")?);
    }
    e.get("range")?
        .as_array()?
        .first()?
        .as_str()?
        .parse::<IpAddr>()
        .ok()
        .map(IpNet::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_elements_of_every_shape() {
        let v: serde_json::Value = serde_json::from_str(
            r#"["192.0.2.1", {"prefix": {"addr": "10.0.0.0", "len": 8}}, {"range": ["2001:db8::1", "2001:db8::9"]}, {"bogus": 1}]"#,
        )
        .unwrap();
        let nets: Vec<IpNet> = v
            .as_array()
            .unwrap()
            .iter()
            .filter_map(element_net)
            .collect();
        assert_eq!(
            nets,
            vec![
                "192.0.2.1/32".parse().unwrap(),
                "10.0.0.0/8".parse().unwrap(),
                "2001:db8::1/128".parse().unwrap()
            ]
        );
    }
}
