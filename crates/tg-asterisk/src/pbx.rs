//! The PBX's configuration as a whole: `asterisk.conf` first (its `astetcdir` may move the
//! configuration directory), then every file tollguard reads from that directory, with their
//! includes, into one [`Sources`] so that every [`Loc`](crate::conf::Loc) names its file.

use std::path::PathBuf;

use crate::conf::{ConfError, ConfFile, Loader, Skipped, Sources};
use crate::Root;

/// The files read, relative to the configuration directory, in the order they are read.
pub const FILES: [&str; 11] = [
    "sip.conf",
    "pjsip.conf",
    "iax.conf",
    "manager.conf",
    "http.conf",
    "ari.conf",
    "voicemail.conf",
    "extensions.conf",
    "logger.conf",
    "asterisk.conf",
    "rtp.conf",
];

/// Every configuration file of one PBX, read strictly.
#[derive(Debug)]
pub struct Pbx {
    /// Every file read (includes too), in the order first seen; `asterisk.conf` first.
    pub sources: Sources,
    /// Lines Asterisk would skip with a warning.
    pub skipped: Vec<Skipped>,
    /// The configuration directory (machine path): `astetcdir`, else `/etc/asterisk`.
    pub config_dir: PathBuf,
    files: Vec<Option<ConfFile>>,
}

impl Pbx {
    /// Reads `asterisk.conf` from `/etc/asterisk`, then each of [`FILES`] from the
    /// configuration directory it names. A file that does not exist is not configured.
    pub fn load(root: &Root) -> Result<Pbx, ConfError> {
        let mut sources = Sources::default();
        let mut skipped = Vec::new();
        let default_dir = PathBuf::from("/etc/asterisk");
        let asterisk_conf =
            Loader::new(root, &default_dir, &mut sources, &mut skipped).load("asterisk.conf")?;
        let config_dir = asterisk_conf
            .as_ref()
            .and_then(|c| c.value("directories", "astetcdir"))
            .map(|e| PathBuf::from(&e.value))
            .filter(|p| p.is_absolute())
            .unwrap_or(default_dir);

        let mut files: Vec<Option<ConfFile>> = Vec::new();
        for name in FILES {
            if name == "asterisk.conf" {
                files.push(asterisk_conf.clone());
                continue;
            }
            files.push(Loader::new(root, &config_dir, &mut sources, &mut skipped).load(name)?);
        }
        Ok(Pbx {
            sources,
            skipped,
            config_dir,
            files,
        })
    }

    /// One of [`FILES`] (`"sip.conf"`), when it exists.
    pub fn file(&self, name: &str) -> Option<&ConfFile> {
        FILES
            .iter()
            .position(|f| *f == name)
            .and_then(|i| self.files[i].as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn astetcdir_moves_the_configuration_directory() {
        let dir = tempfile::tempdir().unwrap();
        let etc = dir.path().join("etc/asterisk");
        let pbx = dir.path().join("opt/pbx");
        std::fs::create_dir_all(&etc).unwrap();
        std::fs::create_dir_all(&pbx).unwrap();
        std::fs::write(
            etc.join("asterisk.conf"),
            "[directories]\nastetcdir => /opt/pbx\n",
        )
        .unwrap();
        std::fs::write(etc.join("sip.conf"), "[general]\n").unwrap();
        std::fs::write(pbx.join("sip.conf"), "[general]\ncontext=moved\n").unwrap();
        let got = Pbx::load(&Root::new(dir.path())).unwrap();
        assert_eq!(got.config_dir, Path::new("/opt/pbx"));
        let sip = got.file("sip.conf").unwrap();
        assert_eq!(sip.value("general", "context").unwrap().value, "moved");
        assert!(got.file("pjsip.conf").is_none());
        assert_eq!(
            got.sources.all(),
            [
                PathBuf::from("/etc/asterisk/asterisk.conf"),
                PathBuf::from("/opt/pbx/sip.conf")
            ]
        );
    }
}
