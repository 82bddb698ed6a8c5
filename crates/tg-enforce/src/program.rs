//! Finding and running the firewall programs: system directories only, argv only, no shell.

use std::path::PathBuf;
use std::process::Command;

use crate::EnforceError;

/// A program found in the system directories.
#[derive(Clone, Debug)]
pub(crate) struct Program {
    path: PathBuf,
}

impl Program {
    /// Finds `name` (from Debian `package`) in the system directories, never via `PATH`.
    pub(crate) fn locate(
        name: &'static str,
        package: &'static str,
    ) -> Result<Program, EnforceError> {
        tg_nft::system_program(name)
            .map(|path| Program { path })
            .ok_or(EnforceError::NotFound {
                program: name,
                package,
            })
    }

    /// Runs it with `args` and optional stdin; returns the exit-0 stdout, or the refusal.
    pub(crate) fn run(&self, args: &[&str], stdin: Option<&str>) -> Result<String, EnforceError> {
        let out = self.output(args, stdin)?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(self.refused(args, &out.stderr))
        }
    }

    /// Runs it and returns the raw output, whatever the exit status.
    pub(crate) fn output(
        &self,
        args: &[&str],
        stdin: Option<&str>,
    ) -> Result<std::process::Output, EnforceError> {
        let mut cmd = Command::new(&self.path);
        cmd.args(args);
        tg_nft::program_output(cmd, stdin).map_err(|source| EnforceError::Io {
            path: self.path.clone(),
            source,
        })
    }

    pub(crate) fn refused(&self, args: &[&str], stderr: &[u8]) -> EnforceError {
        EnforceError::Refused {
            path: self.path.clone(),
            args: args.join(" "),
            stderr: String::from_utf8_lossy(stderr).trim().to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_system_programs_and_reports_missing_ones() {
        let sh = Program::locate("sh", "dash").unwrap();
        assert!(sh.path.starts_with("/usr/bin") || sh.path.starts_with("/bin"));
        let err = Program::locate("no-such-tollguard-tool", "nothing").unwrap_err();
        assert!(
            err.to_string().contains("install the nothing package"),
            "{err}"
        );
    }

    #[test]
    fn stdin_reaches_the_program_and_failures_carry_stderr() {
        let cat = Program::locate("cat", "coreutils").unwrap();
        assert_eq!(cat.run(&[], Some("a batch\n")).unwrap(), "a batch\n");
        let ls = Program::locate("ls", "coreutils").unwrap();
        let err = ls.run(&["/nonexistent-tollguard"], None).unwrap_err();
        assert!(err.to_string().contains("nonexistent-tollguard"), "{err}");
    }
}
