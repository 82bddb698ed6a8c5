//! FreePBX's split of `/etc/asterisk`: files it generates from its database and overwrites on
//! every "Apply Config", and the `*_custom*.conf` files it includes for the administrator.
//! A change meant to last goes in the GUI or in a custom file, never in a generated one.

/// Files FreePBX writes from its database and overwrites on every "Apply Config"
/// (`FreePBX/core`: `functions.inc.php`, `drivers/PJSip.class.php`), by machine path. The
/// `*_custom.conf` / `*_custom_post.conf` files beside them are the administrator's.
pub fn is_generated(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    if name.contains("custom") {
        return false;
    }
    name.ends_with("_additional.conf")
        || matches!(
            name,
            "pjsip.endpoint.conf"
                | "pjsip.auth.conf"
                | "pjsip.aor.conf"
                | "pjsip.transports.conf"
                | "pjsip.identify.conf"
                | "pjsip.registration.conf"
                | "sip_registrations.conf"
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_files_and_the_custom_ones_beside_them() {
        for p in [
            "/etc/asterisk/pjsip.endpoint.conf",
            "/etc/asterisk/extensions_additional.conf",
            "sip_registrations.conf",
        ] {
            assert!(is_generated(p), "{p}");
        }
        for p in [
            "/etc/asterisk/pjsip.endpoint_custom.conf",
            "/etc/asterisk/extensions_custom.conf",
            "/etc/asterisk/pjsip.conf",
        ] {
            assert!(!is_generated(p), "{p}");
        }
    }
}
