//! What the audit says: findings, their categories and severities, and the registry of
//! rules (one per stable check id) that the SARIF output and the tests enumerate.

use serde::Serialize;

/// How bad. Ordered: `Info < Low < Medium < High < Critical`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing.
    Info,
    /// Fix when convenient.
    Low,
    /// Makes an attack easier.
    Medium,
    /// An attacker can likely exploit this.
    High,
    /// Free calls for anyone who tries.
    Critical,
}

impl Severity {
    /// The lowercase name used in every output.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// Points taken off the score of 100 per finding of this severity.
    pub fn penalty(self) -> u32 {
        match self {
            Severity::Info => 0,
            Severity::Low => 1,
            Severity::Medium => 4,
            Severity::High => 10,
            Severity::Critical => 25,
        }
    }
}

/// The categories of the JSON contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    /// Guessable passwords.
    WeakSecret,
    /// Accounts reachable from any address.
    NoAcl,
    /// Unauthenticated calls that reach a dialing context.
    GuestCalls,
    /// The manager interface exposed or over-privileged.
    AmiExposed,
    /// Asterisk's HTTP server (ARI, AMI over HTTP, WebSockets) exposed.
    HttpExposed,
    /// International or premium destinations reachable.
    InternationalDialing,
    /// Untrusted text reaching `Dial()` or a shell.
    DialplanInjection,
    /// Dial tone for whoever knows (or needs no) passcode.
    Disa,
    /// Voicemail PINs and call-out from voicemail.
    Voicemail,
    /// Known vulnerable or unsupported Asterisk.
    VulnerableVersion,
    /// Logging that hides attacks from the ban daemon.
    Logging,
    /// Host firewall, exposed sockets, ban daemon.
    Firewall,
    /// sshd.
    Ssh,
    /// The web server in front of FreePBX.
    Web,
    /// Files that known rootkits leave.
    Rootkit,
    /// Anything else.
    Other,
}

impl Category {
    /// The kebab-case name used in every output.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::WeakSecret => "weak-secret",
            Category::NoAcl => "no-acl",
            Category::GuestCalls => "guest-calls",
            Category::AmiExposed => "ami-exposed",
            Category::HttpExposed => "http-exposed",
            Category::InternationalDialing => "international-dialing",
            Category::DialplanInjection => "dialplan-injection",
            Category::Disa => "disa",
            Category::Voicemail => "voicemail",
            Category::VulnerableVersion => "vulnerable-version",
            Category::Logging => "logging",
            Category::Firewall => "firewall",
            Category::Ssh => "ssh",
            Category::Web => "web",
            Category::Rootkit => "rootkit",
            Category::Other => "other",
        }
    }
}

/// One thing wrong, with where, why and the fix.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The stable check id (`sip.allowguest`).
    pub id: &'static str,
    /// The category.
    pub category: Category,
    /// How bad, for this occurrence.
    pub severity: Severity,
    /// The machine path of the file that caused it, if a file did.
    pub file: Option<String>,
    /// The 1-based line in `file`, if known.
    pub line: Option<u32>,
    /// What is wrong, naming the object (never a secret).
    pub title: String,
    /// Which attack this enables, in one sentence.
    pub why: String,
    /// What to write instead (a config line, or an action).
    pub fix: String,
}

/// A check's registry entry.
#[derive(Clone, Copy, Debug)]
pub struct Rule {
    /// The stable id.
    pub id: &'static str,
    /// Its category.
    pub category: Category,
    /// The usual severity (an occurrence may be rated differently).
    pub severity: Severity,
    /// Which attack it is about, in one sentence.
    pub why: &'static str,
}

macro_rules! rules {
    ($( $id:literal, $cat:ident, $sev:ident, $why:literal; )*) => {
        /// Every check, by stable id.
        pub static RULES: &[Rule] = &[
            $( Rule { id: $id, category: Category::$cat, severity: Severity::$sev, why: $why }, )*
        ];
    };
}

rules! {
    "sip.secret.empty", WeakSecret, Critical, "A peer without a secret registers and calls for anyone who knows its name.";
    "sip.secret.equals-user", WeakSecret, Critical, "Scanners such as SIPVicious' svcrack try the user name, short numbers, digit runs and well-known defaults first, then place calls through the account they crack.";
    "sip.secret.contains-user", WeakSecret, High, "Scanners such as SIPVicious' svcrack try the user name, short numbers, digit runs and well-known defaults first, then place calls through the account they crack.";
    "sip.secret.well-known", WeakSecret, Critical, "Scanners such as SIPVicious' svcrack try the user name, short numbers, digit runs and well-known defaults first, then place calls through the account they crack.";
    "sip.secret.repeated-or-sequential", WeakSecret, High, "Scanners such as SIPVicious' svcrack try the user name, short numbers, digit runs and well-known defaults first, then place calls through the account they crack.";
    "sip.secret.all-digits", WeakSecret, High, "Scanners such as SIPVicious' svcrack try the user name, short numbers, digit runs and well-known defaults first, then place calls through the account they crack.";
    "sip.secret.short", WeakSecret, Medium, "Short secrets fall to online brute force in days; scanners run for months.";
    "sip.device.numeric-name", WeakSecret, Medium, "Scanners enumerate numeric names (svwar's default range is 100-999) and then guess their weak secrets.";
    "sip.peer.no-acl", NoAcl, High, "Without permit/deny the account accepts registrations and calls from any address on the internet, so a cracked or leaked secret is enough.";
    "sip.allowguest", GuestCalls, Critical, "With allowguest on, an INVITE from an unknown caller is accepted without authentication and lands in the general context, which here can dial out.";
    "sip.insecure-invite", GuestCalls, Critical, "insecure=invite accepts INVITEs without authentication; without permit/deny anyone who knows the peer can call out through its context.";
    "sip.autocreatepeer", GuestCalls, Critical, "autocreatepeer lets any user agent register and call without a configured account.";
    "sip.alwaysauthreject.off", Other, Medium, "Without alwaysauthreject, Asterisk answers 'no such peer' differently from 'wrong password', so scanners learn which accounts exist before cracking them.";
    "pjsip.secret.empty", WeakSecret, Critical, "Scanners such as SIPVicious' svcrack try the user name, short numbers, digit runs and well-known defaults first, then place calls through the account they crack.";
    "pjsip.secret.equals-user", WeakSecret, Critical, "Scanners such as SIPVicious' svcrack try the user name, short numbers, digit runs and well-known defaults first, then place calls through the account they crack.";
    "pjsip.secret.contains-user", WeakSecret, High, "Scanners such as SIPVicious' svcrack try the user name, short numbers, digit runs and well-known defaults first, then place calls through the account they crack.";
    "pjsip.secret.well-known", WeakSecret, Critical, "Scanners such as SIPVicious' svcrack try the user name, short numbers, digit runs and well-known defaults first, then place calls through the account they crack.";
    "pjsip.secret.repeated-or-sequential", WeakSecret, High, "Scanners such as SIPVicious' svcrack try the user name, short numbers, digit runs and well-known defaults first, then place calls through the account they crack.";
    "pjsip.secret.all-digits", WeakSecret, High, "Scanners such as SIPVicious' svcrack try the user name, short numbers, digit runs and well-known defaults first, then place calls through the account they crack.";
    "pjsip.secret.short", WeakSecret, Medium, "Short secrets fall to online brute force in days; scanners run for months.";
    "pjsip.device.numeric-name", WeakSecret, Medium, "Scanners enumerate numeric names (svwar's default range is 100-999) and then guess their weak secrets.";
    "pjsip.endpoint.no-auth", GuestCalls, Critical, "An endpoint without auth= is matched by name and never challenged, so anyone who sends its name calls from its context.";
    "pjsip.anonymous", GuestCalls, Critical, "The 'anonymous' endpoint takes every call that matches no other endpoint, unauthenticated, into its context.";
    "pjsip.endpoint.no-acl", NoAcl, High, "Without acl/permit/deny the endpoint accepts requests from any address on the internet, so a cracked or leaked secret is enough.";
    "iax.secret.equals-user", WeakSecret, Critical, "Scanners such as SIPVicious' svcrack try the user name, short numbers, digit runs and well-known defaults first, then place calls through the account they crack.";
    "iax.secret.contains-user", WeakSecret, High, "Scanners such as SIPVicious' svcrack try the user name, short numbers, digit runs and well-known defaults first, then place calls through the account they crack.";
    "iax.secret.well-known", WeakSecret, Critical, "Scanners such as SIPVicious' svcrack try the user name, short numbers, digit runs and well-known defaults first, then place calls through the account they crack.";
    "iax.secret.repeated-or-sequential", WeakSecret, High, "Scanners such as SIPVicious' svcrack try the user name, short numbers, digit runs and well-known defaults first, then place calls through the account they crack.";
    "iax.secret.all-digits", WeakSecret, High, "Scanners such as SIPVicious' svcrack try the user name, short numbers, digit runs and well-known defaults first, then place calls through the account they crack.";
    "iax.secret.short", WeakSecret, Medium, "Short secrets fall to online brute force in days; scanners run for months.";
    "iax.guest", GuestCalls, Critical, "An IAX user without a secret (the sample's [guest]) accepts calls from anyone into its context, which here can dial out.";
    "iax.user.no-acl", NoAcl, High, "Without permit/deny the IAX account accepts calls from any address on the internet, so a cracked or leaked secret is enough.";
    "iax.authdebug.off", Logging, Medium, "With authdebug off, failed IAX logins are not logged, so the ban daemon never sees the brute force against the exposed IAX port.";
    "ami.bind.public", AmiExposed, Critical, "The manager interface on a public address lets anyone on the internet try passwords for an account that can originate calls and run commands.";
    "ami.user.no-permit", AmiExposed, High, "A manager user without permit/deny can log in from any address once its password is known or guessed.";
    "ami.user.dangerous-write", AmiExposed, High, "The write classes system, command, originate and all let a manager user run shell commands (Originate can start System()).";
    "ami.secret.equals-user", WeakSecret, Critical, "A guessed manager password gives Originate and often System access: calls and shell commands on the PBX.";
    "ami.secret.contains-user", WeakSecret, High, "A guessed manager password gives Originate and often System access: calls and shell commands on the PBX.";
    "ami.secret.well-known", WeakSecret, Critical, "A guessed manager password gives Originate and often System access: calls and shell commands on the PBX.";
    "ami.secret.repeated-or-sequential", WeakSecret, High, "A guessed manager password gives Originate and often System access: calls and shell commands on the PBX.";
    "ami.secret.all-digits", WeakSecret, High, "A guessed manager password gives Originate and often System access: calls and shell commands on the PBX.";
    "ami.secret.short", WeakSecret, Medium, "A guessed manager password gives Originate and often System access: calls and shell commands on the PBX.";
    "http.bind.public", HttpExposed, High, "Asterisk's HTTP server carries ARI, AMI-over-HTTP and WebSockets; bound beyond loopback it lets the internet reach them.";
    "ari.secret.equals-user", WeakSecret, Critical, "A guessed ARI password lets the caller originate calls and control channels through the REST interface.";
    "ari.secret.contains-user", WeakSecret, High, "A guessed ARI password lets the caller originate calls and control channels through the REST interface.";
    "ari.secret.well-known", WeakSecret, Critical, "A guessed ARI password lets the caller originate calls and control channels through the REST interface.";
    "ari.secret.repeated-or-sequential", WeakSecret, High, "A guessed ARI password lets the caller originate calls and control channels through the REST interface.";
    "ari.secret.all-digits", WeakSecret, High, "A guessed ARI password lets the caller originate calls and control channels through the REST interface.";
    "ari.secret.short", WeakSecret, Medium, "A guessed ARI password lets the caller originate calls and control channels through the REST interface.";
    "ari.allowed-origins.any", HttpExposed, Medium, "allowed_origins=* lets any web page a logged-in operator visits drive ARI from the browser.";
    "asterisk.live-dangerously", Other, High, "live_dangerously lets AMI and ARI users call SHELL() and write FILE(), turning a manager login into shell access.";
    "asterisk.execincludes", Other, Medium, "execincludes enables #exec, so whoever can write a config file runs programs as Asterisk.";
    "dialplan.international.unauthenticated", InternationalDialing, Critical, "Callers who never authenticate reach a pattern that dials international or premium numbers: the classic toll-fraud payout.";
    "dialplan.international.every-extension", InternationalDialing, Medium, "Every phone can dial international numbers, so one cracked extension is enough for toll fraud; keep international in a context only some devices or a PIN reach.";
    "dialplan.exten-injection", DialplanInjection, High, "A caller who sends an extension like '500&SIP/itsp/0044…' makes Dial() call a second, attacker-chosen destination (AST-2010-002).";
    "dialplan.shell-injection", DialplanInjection, High, "Caller ID and extension text are chosen by the caller; passed to System() or SHELL() they run commands on the PBX.";
    "dialplan.disa.no-password", Disa, Critical, "DISA with no-password gives any caller who reaches it a dial tone to the world.";
    "dialplan.disa.weak-password", Disa, High, "A short or trivial DISA passcode is guessed by war-dialling, which then gives a dial tone to the world.";
    "voicemail.pin.equals-mailbox", Voicemail, High, "A PIN equal to the mailbox number is the first thing tried; the mailbox then reveals messages and its call-out options.";
    "voicemail.pin.weak", Voicemail, Medium, "Sample, short, repeated or sequential PINs are guessed in a few calls.";
    "voicemail.dialout", Voicemail, High, "dialout/callback lets whoever guesses a voicemail PIN place calls from that context, which here reaches trunks.";
    "logger.no-security", Logging, Medium, "Without a 'security' channel Asterisk does not write the failed-authentication events that the ban daemon bans on.";
    "version.advisory", VulnerableVersion, High, "A published Asterisk advisory applies to this version; attackers scan for exactly these.";
    "version.eol", VulnerableVersion, High, "The release series no longer gets security fixes, so every advisory published after its end of life stays open.";
    "version.unknown", Other, Low, "Without the Asterisk version the audit cannot tell which advisories apply.";
    "host.firewall.absent", Firewall, High, "Without a firewall every listening service is one password away from the internet's scanners.";
    "host.port.exposed", Firewall, High, "A service listens on a public address and the firewall does not restrict who may reach it.";
    "host.ban-daemon.absent", Firewall, Medium, "Without a ban daemon (tollguard or fail2ban), a scanner may guess passwords for as long as it likes.";
    "ssh.permit-root-login", Ssh, High, "Root login over SSH with a password is the first target of every SSH brute-forcer; one guess gives the whole PBX.";
    "ssh.password-authentication", Ssh, Medium, "Password logins over SSH can be brute-forced; keys cannot.";
    "web.freepbx-dir.unprotected", Web, High, "FreePBX's admin, maint, meetme and panel pages reachable from anywhere have been the way in for web-shell campaigns against PBXes.";
    "rootkit.indicator", Rootkit, Critical, "A file that a known rootkit leaves behind exists: the machine may already be owned, and every secret on it is burnt.";
    "config.ignored-line", Other, Low, "Asterisk ignores this line with a warning, so the setting you meant is not in effect.";
}

/// The registry entry for an id. Panics on an unknown id: ids are compile-time constants of
/// this crate, so an unknown one is a bug caught by the tests.
pub fn rule(id: &'static str) -> &'static Rule {
    RULES
        .iter()
        .find(|r| r.id == id)
        .unwrap_or_else(|| panic!("unregistered check id {id}"))
}

impl Finding {
    /// A finding of rule `id` with the rule's severity and why.
    pub fn new(id: &'static str, title: impl Into<String>, fix: impl Into<String>) -> Finding {
        let r = rule(id);
        Finding {
            id: r.id,
            category: r.category,
            severity: r.severity,
            file: None,
            line: None,
            title: title.into(),
            why: r.why.to_string(),
            fix: fix.into(),
        }
    }

    /// Sets the place.
    pub fn at(mut self, file: impl Into<String>, line: Option<u32>) -> Finding {
        self.file = Some(file.into());
        self.line = line;
        self
    }

    /// Overrides the severity for this occurrence.
    pub fn severity(mut self, s: Severity) -> Finding {
        self.severity = s;
        self
    }

    /// Overrides the why for this occurrence.
    pub fn why(mut self, why: impl Into<String>) -> Finding {
        self.why = why.into();
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique() {
        let mut ids: Vec<_> = RULES.iter().map(|r| r.id).collect();
        ids.sort();
        let n = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), n);
    }

    #[test]
    fn names_match_the_json_contract() {
        assert_eq!(
            serde_json::to_string(&Category::InternationalDialing).unwrap(),
            "\"international-dialing\""
        );
        assert_eq!(
            serde_json::to_string(&Severity::Critical).unwrap(),
            "\"critical\""
        );
        assert_eq!(Category::WeakSecret.as_str(), "weak-secret");
    }
}
