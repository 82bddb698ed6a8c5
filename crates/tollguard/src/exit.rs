//! The process exit codes, in one place.

/// How `tollguard` ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitCode {
    /// 0: done, nothing that needs action.
    Success,
    /// 1: done, and there are findings that need action (audit, calls alarms).
    Findings,
    /// 2: bad usage, bad config or unreadable input.
    Error,
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> Self {
        std::process::ExitCode::from(match code {
            ExitCode::Success => 0,
            ExitCode::Findings => 1,
            ExitCode::Error => 2,
        })
    }
}
