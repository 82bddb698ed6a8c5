//! Trusted hosts and the RTP range read from the PBX's own configuration, through the one
//! reader of Asterisk's dialect (`tg_asterisk`), so the firewall reads a file exactly as the
//! audit does: `pjsip.conf` AOR contacts, `identify` matches and registration/outbound-proxy
//! URIs; `sip.conf` `host=` peers and `register =>` lines; `rtp.conf` `rtpstart`/`rtpend`.
//!
//! The glue here: files are read leniently (a line that cannot be a configuration is skipped,
//! never an error; a missing or unreadable file is nothing), includes are resolved against
//! the file's own directory, and hosts become [`TrustedEntry`]s.

use std::path::{Path, PathBuf};

use tg_asterisk::conf::{ConfFile, Loader, Sources};
use tg_asterisk::{pjsip, rtp, sip, Root, TrunkHost};
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

/// Reads a config file of this machine with its `#include`s, leniently; `None` when it is
/// missing or cannot be read.
fn read(path: &Path) -> Option<(ConfFile, Sources)> {
    let path = std::path::absolute(path).ok()?;
    let root = Root::new("/");
    let mut sources = Sources::default();
    let mut skipped = Vec::new();
    let conf = Loader::new(&root, path.parent()?, &mut sources, &mut skipped)
        .lenient()
        .load(path.to_str()?)
        .ok()??;
    Some((conf, sources))
}

/// A host text as a trusted entry: an address, a network or a host name.
fn trusted(host: &str) -> Option<TrustedEntry> {
    classify(host).ok()
}

/// The hosts a trunk view finds in `path`, with their file and line.
fn derived(
    path: &Path,
    view: impl FnOnce(&ConfFile) -> Vec<TrunkHost<TrustedEntry>>,
) -> Vec<DerivedHost> {
    let Some((conf, sources)) = read(path) else {
        return Vec::new();
    };
    view(&conf)
        .into_iter()
        .map(|h| DerivedHost {
            entry: h.host,
            file: sources.path(h.at.file).to_path_buf(),
            line: h.at.line as usize,
        })
        .collect()
}

/// The trusted hosts `pjsip.conf` (and its includes) name: AOR `contact`s, `identify` `match`es,
/// registration `server_uri`/`outbound_proxy`, endpoint `outbound_proxy`.
pub fn pjsip_hosts(path: &Path) -> Vec<DerivedHost> {
    derived(path, |conf| pjsip::trunk_hosts(conf, trusted))
}

/// The trusted hosts `sip.conf` names: peers' `host=` (not `dynamic`), `outboundproxy=` and
/// `register =>` servers.
pub fn sip_hosts(path: &Path) -> Vec<DerivedHost> {
    derived(path, |conf| sip::trunk_hosts(conf, trusted))
}

/// `rtpstart`/`rtpend` from `rtp.conf`; `None` when the file or either key is missing or bad.
pub fn rtp_range(path: &Path) -> Option<PortRange> {
    let (conf, _) = read(path)?;
    let ports = rtp::ports(&conf)?;
    Some(PortRange {
        lo: *ports.start(),
        hi: *ports.end(),
    })
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

    #[test]
    fn a_nested_block_comment_hides_a_trunk_from_the_firewall_as_from_the_audit() {
        // Issue #11: the firewall's own reader ended a block comment at the first `--;`, so it
        // trusted `hidden.example`, which Asterisk and the audit read as commented out.
        let dir = tempfile::tempdir().unwrap();
        let etc = dir.path().join("etc/asterisk");
        std::fs::create_dir_all(&etc).unwrap();
        let p = write(
            &etc,
            "pjsip.conf",
            "[prov]\ntype=aor\ncontact=sip:trunk.example\n\
             ;-- outer ;-- inner --; still comment\n\
             [hidden]\ntype=aor\ncontact=sip:hidden.example\n\
             --;\n[prov-id]\ntype=identify\nmatch=203.0.113.9\n",
        );
        let firewall = pjsip_hosts(&p);
        assert_eq!(names(&firewall), vec!["trunk.example", "203.0.113.9/32"]);

        // What `tollguard audit --root` reads: the same sections, the same hosts, same lines.
        let audit = tg_asterisk::Pbx::load(&tg_asterisk::Root::new(dir.path())).unwrap();
        let conf = audit.file("pjsip.conf").unwrap();
        assert!(conf.sections.iter().all(|s| s.name != "hidden"));
        let hosts = tg_asterisk::pjsip::trunk_hosts(conf, trusted);
        let lines: Vec<usize> = firewall.iter().map(|h| h.line).collect();
        assert_eq!(
            hosts.iter().map(|h| h.host.clone()).collect::<Vec<_>>(),
            firewall.iter().map(|h| h.entry.clone()).collect::<Vec<_>>()
        );
        assert_eq!(
            hosts.iter().map(|h| h.at.line as usize).collect::<Vec<_>>(),
            lines
        );
    }
}
