//! Text that a caller chose (a call record's numbers and channels, an AMI account or message)
//! made safe to keep and show. The CDR report cleans record fields when it builds the report,
//! the live guard before it logs AMI text; both use this one function.

/// Text from a record made safe to show: lossy UTF-8, control/bidi characters escaped, capped
/// at 80 characters.
pub fn clean(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::with_capacity(text.len().min(80));
    for c in text.chars().take(80) {
        if c.is_control()
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')
        {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}
