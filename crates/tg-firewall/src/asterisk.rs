//! Trusted hosts and the RTP range read from the PBX's own configuration: a small, tolerant
//! reader of Asterisk's `.conf` syntax (sections, `key = value`, `;` comments, `#include`).
//!
//! It reads only what the firewall needs: `pjsip.conf` AOR contacts, `identify` matches and
//! registration/outbound-proxy URIs; `sip.conf` `host=` peers and `register =>` lines;
//! `rtp.conf` `rtpstart`/`rtpend`. Lines it does not understand are skipped, never an error.
//! (The full parser, with templates and every option, lives in tg-audit.)

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use tg_config::firewall::PortRange;
use tg_config::trusted::{classify, TrustedEntry};

/// A host the PBX's configuration names as a SIP peer, with where it was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DerivedHost {
    /// An address, CIDR or host name.
    pub entry: TrustedEntry,
    /// The file it came from.
    pub file: PathBuf,
    /// Its 1-based line.
    pub line: usize,
}

/// One `key = value` of a section, with its position.
#[derive(Clone, Debug)]
struct Item {
    key: String,
    value: String,
    file: PathBuf,
    line: usize,
}

/// A section: its name and items (inherited template items first).
#[derive(Clone, Debug, Default)]
struct Section {
    name: String,
    template: bool,
    items: Vec<Item>,
}

impl Section {
    fn get(&self, key: &str) -> Option<&str> {
        self.items
            .iter()
            .rev()
            .find(|i| i.key == key)
            .map(|i| i.value.as_str())
    }
    fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a Item> + 'a {
        self.items.iter().filter(move |i| i.key == key)
    }
}

/// Lines longer than this are skipped (hostile or broken files).
const MAX_LINE: usize = 8192;
/// `#include` nesting limit.
const MAX_DEPTH: usize = 8;

/// Reads a config file and its `#include`s into sections. A missing file is no sections.
fn read_sections(path: &Path) -> Vec<Section> {
    let mut sections = Vec::new();
    let mut templates: HashMap<String, Vec<Item>> = HashMap::new();
    read_into(path, 0, &mut sections, &mut templates);
    sections
}

fn read_into(
    path: &Path,
    depth: usize,
    sections: &mut Vec<Section>,
    templates: &mut HashMap<String, Vec<Item>>,
) {
    if depth > MAX_DEPTH {
        return;
    }
    let Ok(bytes) = std::fs::read(path) else {
        return;
    };
    let text = String::from_utf8_lossy(&bytes);
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut in_block_comment = false;
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        if raw.len() > MAX_LINE {
            continue;
        }
        let line = strip_comment(raw, &mut in_block_comment);
        let line = line.trim().trim_start_matches('\u{feff}');
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix('#') {
            let (directive, arg) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            if directive == "include" || directive == "tryinclude" {
                let arg = arg
                    .trim()
                    .trim_matches(|c| c == '"' || c == '<' || c == '>');
                if !arg.is_empty() && !arg.contains('*') {
                    let target = if Path::new(arg).is_absolute() {
                        PathBuf::from(arg)
                    } else {
                        dir.join(arg)
                    };
                    read_into(&target, depth + 1, sections, templates);
                }
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix('[') {
            let Some((name, after)) = rest.split_once(']') else {
                continue;
            };
            let mut section = Section {
                name: name.trim().to_string(),
                ..Section::default()
            };
            if let Some(opts) = after
                .trim()
                .strip_prefix('(')
                .and_then(|o| o.strip_suffix(')'))
            {
                for opt in opts.split(',').map(str::trim) {
                    match opt {
                        "!" => section.template = true,
                        "+" | "" => {}
                        parent => {
                            if let Some(items) = templates.get(parent) {
                                section.items.extend(items.iter().cloned());
                            }
                        }
                    }
                }
            }
            sections.push(section);
            continue;
        }
        let Some(section) = sections.last_mut() else {
            continue;
        };
        let (key, value) = match line.split_once("=>").filter(|(k, _)| !k.contains('=')) {
            Some(kv) => kv,
            None => match line.split_once('=') {
                Some(kv) => kv,
                None => continue,
            },
        };
        section.items.push(Item {
            key: key.trim().trim_end_matches('+').trim().to_ascii_lowercase(),
            value: value.trim().to_string(),
            file: path.to_path_buf(),
            line: line_no,
        });
        if section.template {
            templates.insert(section.name.clone(), section.items.clone());
        }
    }
}

/// Removes `;` comments (`\;` is a literal semicolon) and `;-- … --;` block comments.
fn strip_comment(line: &str, in_block: &mut bool) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    loop {
        if *in_block {
            match rest.find("--;") {
                Some(end) => {
                    rest = &rest[end + 3..];
                    *in_block = false;
                }
                None => return out,
            }
        }
        match rest.find(';') {
            None => {
                out.push_str(rest);
                return out;
            }
            Some(i) if i > 0 && rest.as_bytes()[i - 1] == b'\\' => {
                out.push_str(&rest[..i - 1]);
                out.push(';');
                rest = &rest[i + 1..];
            }
            Some(i) => {
                out.push_str(&rest[..i]);
                if rest[i..].starts_with(";--") && !rest[i..].starts_with(";---") {
                    *in_block = true;
                    rest = &rest[i + 3..];
                } else {
                    return out;
                }
            }
        }
    }
}

/// The host of a SIP URI or host spec: `sip:user@host:5060;transport=udp`, `[2001:db8::1]:5060`,
/// `host`. `None` when what is left is neither an address nor a host name.
pub fn host_of(spec: &str) -> Option<TrustedEntry> {
    let mut s = spec.trim().trim_start_matches('<');
    for scheme in ["sips:", "sip:", "SIP:", "SIPS:"] {
        if let Some(rest) = s.strip_prefix(scheme) {
            s = rest;
        }
    }
    let s = s.split([';', '>', '/', '?', ',', ' ']).next().unwrap_or("");
    let s = s.rsplit_once('@').map_or(s, |(_, host)| host);
    let host = if let Some(rest) = s.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else if s.matches(':').count() > 1 {
        s // a bare IPv6 address (or an IPv6 CIDR in `match=`)
    } else {
        s.split(':').next().unwrap_or("")
    };
    let host = host.trim();
    if host.is_empty() || host.eq_ignore_ascii_case("dynamic") {
        return None;
    }
    classify(host).ok()
}

/// The trusted hosts `pjsip.conf` (and its includes) name: AOR `contact`s, `identify` `match`es,
/// registration `server_uri`/`outbound_proxy`, endpoint `outbound_proxy`.
pub fn pjsip_hosts(path: &Path) -> Vec<DerivedHost> {
    let mut out = Vec::new();
    for s in read_sections(path).iter().filter(|s| !s.template) {
        let keys: &[&str] = match s.get("type") {
            Some("aor") => &["contact", "outbound_proxy"],
            Some("identify") => &["match"],
            Some("registration") => &["server_uri", "outbound_proxy"],
            Some("endpoint") => &["outbound_proxy"],
            _ => continue,
        };
        for key in keys {
            for item in s.all(key) {
                for part in item.value.split(',') {
                    // `match=` also takes CIDRs, which `host_of` would cut at the slash.
                    let entry = classify(part.trim()).ok().or_else(|| host_of(part));
                    if let Some(entry) = entry {
                        out.push(DerivedHost {
                            entry,
                            file: item.file.clone(),
                            line: item.line,
                        });
                    }
                }
            }
        }
    }
    out
}

/// The trusted hosts `sip.conf` names: peers' `host=` (not `dynamic`), `outboundproxy=` and
/// `register =>` servers.
pub fn sip_hosts(path: &Path) -> Vec<DerivedHost> {
    let mut out = Vec::new();
    for s in read_sections(path).iter().filter(|s| !s.template) {
        for item in s.items.iter() {
            let host = match item.key.as_str() {
                "host" | "outboundproxy" => host_of(&item.value),
                "register" => register_host(&item.value),
                _ => None,
            };
            if let Some(entry) = host {
                out.push(DerivedHost {
                    entry,
                    file: item.file.clone(),
                    line: item.line,
                });
            }
        }
    }
    out
}

/// The server of `register => [transport://]user[:secret[:authuser]]@host[:port][/exten][~expiry]`.
fn register_host(value: &str) -> Option<TrustedEntry> {
    let v = value.split_once("://").map_or(value, |(_, rest)| rest);
    let (_, host) = v.rsplit_once('@')?;
    let host = host.split(['/', '~']).next().unwrap_or("");
    host_of(host)
}

/// `rtpstart`/`rtpend` from `rtp.conf`; `None` when the file or either key is missing or bad.
pub fn rtp_range(path: &Path) -> Option<PortRange> {
    let sections = read_sections(path);
    let general = sections
        .iter()
        .rev()
        .find(|s| s.name.eq_ignore_ascii_case("general"))?;
    let lo: u16 = general.get("rtpstart")?.parse().ok()?;
    let hi: u16 = general.get("rtpend")?.parse().ok()?;
    (lo > 0 && lo <= hi).then_some(PortRange { lo, hi })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn names(hosts: &[DerivedHost]) -> Vec<String> {
        hosts
            .iter()
            .map(|h| match &h.entry {
                TrustedEntry::Net(n) => n.to_string(),
                TrustedEntry::Name(n) => n.clone(),
            })
            .collect()
    }

    #[test]
    fn pjsip_trunks_identify_and_registrations() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "pjsip.identify.conf",
            "[prov-id]\ntype=identify\nendpoint=prov\nmatch=203.0.113.0/24,sip2.provider.example\n",
        );
        let p = write(
            dir.path(),
            "pjsip.conf",
            "; the trunk\n[prov](!)\ntype=aor\n\n[prov-aor](prov)\ncontact=sip:sip.provider.example:5060 ; main\n\
             [reg]\ntype=registration\nserver_uri=sip:reg.provider.example\\;transport=udp\noutbound_proxy=sip:[2001:db8::5]:5060\\;lr\n\
             [6001]\ntype=aor\nmax_contacts=1\n\
             [6001]\ntype=endpoint\ncontext=from-internal\n\
             ;--\n[hidden]\ntype=aor\ncontact=sip:hidden.example\n--;\n\
             #include pjsip.identify.conf\n\
             [junk\nthis is = = not valid\n\u{0}\u{1}=\n",
        );
        let hosts = pjsip_hosts(&p);
        assert_eq!(
            names(&hosts),
            vec![
                "sip.provider.example",
                "reg.provider.example",
                "2001:db8::5/128",
                "203.0.113.0/24",
                "sip2.provider.example"
            ]
        );
        assert_eq!(hosts[0].line, 6);
        assert!(hosts[3].file.ends_with("pjsip.identify.conf"));
    }

    #[test]
    fn sip_conf_peers_and_register_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "sip.conf",
            "[general]\nregister => tls://user:secret:auth@itsp.example:5061/1234~3600\nregister=>1000@198.51.100.9\n\
             [trunk]\ntype=peer\nhost=trunk.example\n[phone]\ntype=friend\nhost=dynamic\n[v6]\nhost=[2001:db8::9]\n",
        );
        assert_eq!(
            names(&sip_hosts(&p)),
            vec![
                "itsp.example",
                "198.51.100.9/32",
                "trunk.example",
                "2001:db8::9/128"
            ]
        );
    }

    #[test]
    fn rtp_conf_range_or_none() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "rtp.conf",
            "[general]\nrtpstart = 16384 ; low\nrtpend=32767\n",
        );
        assert_eq!(
            rtp_range(&p),
            Some(PortRange {
                lo: 16384,
                hi: 32767
            })
        );
        let bad = write(dir.path(), "bad.conf", "[general]\nrtpstart=9\nrtpend=x\n");
        assert_eq!(rtp_range(&bad), None);
        assert_eq!(rtp_range(&dir.path().join("missing.conf")), None);
    }

    #[test]
    fn hostile_bytes_and_includes_loops_do_not_panic() {
        let dir = tempfile::tempdir().unwrap();
        let mut junk = vec![0xff, 0xfe, b'\n', b'['];
        junk.extend(std::iter::repeat_n(b'a', 100_000));
        junk.extend(b"\n[x]\ntype=aor\ncontact=sip:ok.example\n#include pjsip.conf\n");
        let p = dir.path().join("pjsip.conf");
        std::fs::write(&p, &junk).unwrap();
        let hosts = pjsip_hosts(&p);
        assert!(hosts
            .iter()
            .all(|h| h.entry == TrustedEntry::Name("ok.example".into())));
        assert!(!hosts.is_empty());
    }
}
