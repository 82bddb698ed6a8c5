//! Reading the configuration and the secret files it names, safely for a program that runs as
//! root (OpenSSH's `StrictModes`, applied to tollguard's own files).
//!
//! Whoever can write the config decides what root deletes, which paths it follows and whom it
//! bans; whoever can write a secret file decides what tollguard logs in with. So when tollguard
//! runs as root, each such file (after symlinks) must be owned by root and writable by nobody
//! else, and so must the directory holding it, unless that directory is sticky (`/tmp`: others
//! cannot replace a root-owned file there). Secret files must not be readable by others either.
//! A file that fails is refused with a message that says how to fix it. Run as another user
//! (`tollguard scan` of one's own files), the files are that user's business: no check.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// What a file is used for: secrets are held to a stricter mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// The configuration itself.
    Config,
    /// A file holding a secret (`*_file` keys).
    Secret,
}

/// The longest configuration or secret file read (a config is a few KiB).
const MAX_LEN: u64 = 4 << 20;

/// Reads `path` whole as UTF-8 after checking its owner and mode (see the module docs).
// geteuid: the owner and mode are checked only when running as root.
#[allow(unsafe_code)]
pub(crate) fn read_checked(path: &Path, purpose: Purpose) -> Result<String, String> {
    let mut file = File::open(path).map_err(|e| format!("cannot read: {e}"))?;
    let meta = file.metadata().map_err(|e| format!("cannot read: {e}"))?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    // SAFETY: geteuid has no preconditions and touches no memory.
    if unsafe { libc::geteuid() } == 0 {
        check_owner_and_mode(path, &meta, purpose)?;
    }
    if meta.len() > MAX_LEN {
        return Err(format!("larger than {} MiB", MAX_LEN >> 20));
    }
    let mut text = String::new();
    file.read_to_string(&mut text)
        .map_err(|e| format!("cannot read: {e}"))?;
    Ok(text)
}

fn check_owner_and_mode(
    path: &Path,
    meta: &std::fs::Metadata,
    purpose: Purpose,
) -> Result<(), String> {
    let shown = path.display();
    if meta.uid() != 0 {
        return Err(format!(
            "owned by uid {}, not root: whoever owns it could make tollguard, running as root, \
             delete files or follow any path (fix: chown root:root {shown})",
            meta.uid()
        ));
    }
    let forbidden = match purpose {
        Purpose::Config => 0o022,
        Purpose::Secret => 0o027,
    };
    if meta.mode() & forbidden != 0 {
        let what = match purpose {
            Purpose::Config => "writable by group or others",
            Purpose::Secret => "a secret file readable by others or writable by group",
        };
        let fix = match purpose {
            Purpose::Config => "chmod go-w",
            Purpose::Secret => "chmod 600",
        };
        return Err(format!(
            "{what} (mode {:04o}): refused while running as root (fix: {fix} {shown})",
            meta.mode() & 0o7777
        ));
    }
    let dir = parent(path);
    let dmeta = std::fs::metadata(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let sticky = dmeta.mode() & 0o1000 != 0;
    if !sticky && (dmeta.uid() != 0 || dmeta.mode() & 0o022 != 0) {
        return Err(format!(
            "its directory {} is {} (mode {:04o}): whoever can write there can replace the file \
             (fix: chown root:root {0} && chmod go-w {0})",
            dir.display(),
            if dmeta.uid() != 0 {
                "not owned by root"
            } else {
                "writable by group or others"
            },
            dmeta.mode() & 0o7777
        ));
    }
    Ok(())
}

/// The directory holding the file `path` names (after symlinks).
fn parent(path: &Path) -> PathBuf {
    let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    match real.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn chmod(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    // geteuid: this test is for root.
    #[allow(unsafe_code)]
    fn as_root_only_root_owned_files_writable_by_nobody_else_are_read() {
        // SAFETY: as above.
        assert_eq!(
            unsafe { libc::geteuid() },
            0,
            "this test checks the rules for root: run it as root"
        );
        let dir = tempfile::tempdir().unwrap();
        chmod(dir.path(), 0o755);
        let conf = dir.path().join("tollguard.toml");
        std::fs::write(&conf, "[daemon]\n").unwrap();
        chmod(&conf, 0o644);
        assert_eq!(read_checked(&conf, Purpose::Config).unwrap(), "[daemon]\n");
        chmod(&conf, 0o664);
        let e = read_checked(&conf, Purpose::Config).unwrap_err();
        assert!(
            e.contains("writable by group or others") && e.contains("chmod go-w"),
            "{e}"
        );
        chmod(&conf, 0o644);
        std::os::unix::fs::chown(&conf, Some(65534), None).unwrap();
        let e = read_checked(&conf, Purpose::Config).unwrap_err();
        assert!(
            e.contains("not root") && e.contains("chown root:root"),
            "{e}"
        );
        std::os::unix::fs::chown(&conf, Some(0), None).unwrap();
        // A secret must not be readable by others.
        let secret = dir.path().join("ami.secret");
        std::fs::write(&secret, "s3cret\n").unwrap();
        chmod(&secret, 0o644);
        let e = read_checked(&secret, Purpose::Secret).unwrap_err();
        assert!(e.contains("chmod 600") && !e.contains("s3cret"), "{e}");
        chmod(&secret, 0o600);
        assert_eq!(read_checked(&secret, Purpose::Secret).unwrap(), "s3cret\n");
        // A directory others may write to lets them swap the file; a sticky one does not.
        chmod(dir.path(), 0o777);
        let e = read_checked(&conf, Purpose::Config).unwrap_err();
        assert!(e.contains("its directory"), "{e}");
        chmod(dir.path(), 0o1777);
        assert!(read_checked(&conf, Purpose::Config).is_ok());
        chmod(dir.path(), 0o755);
        // A symlink is judged by what it points at.
        let link = dir.path().join("link.toml");
        std::os::unix::fs::symlink(&conf, &link).unwrap();
        assert!(read_checked(&link, Purpose::Config).is_ok());
        chmod(&conf, 0o666);
        assert!(read_checked(&link, Purpose::Config).is_err());
        // Not a regular file.
        assert!(read_checked(dir.path(), Purpose::Config).is_err());
    }
}
