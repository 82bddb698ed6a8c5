//! Makes attacker-written text safe to print on a terminal.
//!
//! Log lines carry text that attackers choose (SIP From/To, user agents, user names). Printed
//! raw, control characters in it could rewrite the administrator's terminal, and bidi or
//! zero-width characters could disguise what is shown. Everything that is not plainly printable
//! is escaped as `\u{…}` (or `\xNN` for bytes that are not UTF-8).

/// Escapes control, bidi-override and zero-width characters.
#[allow(dead_code)] // used by the commands that print log text
pub fn sanitize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if is_dangerous(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

/// Lossily decodes bytes, escaping invalid UTF-8 as `\xNN`, then [`sanitize`]s.
#[allow(dead_code)] // used by the commands that print log text
pub fn sanitize_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.push_str(&sanitize(chunk.valid()));
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

fn is_dangerous(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_terminal_controls_and_bidi() {
        assert_eq!(sanitize("ok 100"), "ok 100");
        assert_eq!(sanitize("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(sanitize("x\u{202e}y"), "x\\u{202e}y");
        assert_eq!(sanitize_bytes(b"a\xffb\n"), "a\\xffb\\u{a}");
    }
}
