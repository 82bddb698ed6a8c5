//! Services around the PBX: sshd, Apache and nginx HTTP auth, vsftpd, proftpd, pure-ftpd and
//! FreePBX's `freepbx_security.log`.

use crate::envelope::When;
use crate::verdict::Verdict;

/// A syslog/journal line from program `tag`.
pub(crate) fn tagged<'a>(_tag: &'a [u8], _body: &'a [u8]) -> (Verdict<'a>, When<'a>) {
    (Verdict::Nothing, When::Unknown)
}

/// A line that opened with a bracketed stamp but is not Asterisk's.
pub(crate) fn bracketed(_rest: &[u8]) -> Verdict<'_> {
    Verdict::Nothing
}

/// A line without a syslog header (nginx's and vsftpd's own logs).
pub(crate) fn untagged(_rest: &[u8]) -> (Verdict<'_>, When<'_>) {
    (Verdict::Nothing, When::Unknown)
}
