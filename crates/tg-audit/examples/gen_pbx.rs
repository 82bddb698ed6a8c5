//! Writes a synthetic FreePBX-style PBX with N extensions under a directory, for the scale
//! benchmark (`bench/audit_scale.sh`) and the scale test (`tests/scale.rs`).
//!
//! `cargo run --release -p tg-audit --example gen_pbx -- DIR N`
//!
//! Every extension is a PJSIP endpoint with an auth and an aor, a voicemail box, and a line in
//! the dialplan. One extension in 100 gets its own number as password and one mailbox in 50
//! its own number as PIN, so the audit has work to report: N/100 `pjsip.secret.equals-user`,
//! N/100 `pjsip.device.numeric-name`, N/50 `voicemail.pin.equals-mailbox`.

use std::fmt::Write as _;
use std::path::Path;

/// Writes the tree; returns the number of files written.
pub fn generate(dir: &Path, extensions: usize) -> std::io::Result<usize> {
    let etc = dir.join("etc/asterisk");
    std::fs::create_dir_all(&etc)?;
    let mut files = 0;
    let mut write = |name: &str, text: &str| -> std::io::Result<()> {
        files += 1;
        std::fs::write(etc.join(name), text)
    };

    write(
        "pjsip.conf",
        "#include pjsip_custom.conf\n#include pjsip.transports.conf\n#include pjsip.endpoint.conf\n\
         #include pjsip.aor.conf\n#include pjsip.auth.conf\n#include pjsip.identify.conf\n",
    )?;
    write("pjsip_custom.conf", "")?;
    write(
        "pjsip.transports.conf",
        "[0.0.0.0-udp]\ntype=transport\nprotocol=udp\nbind=0.0.0.0:5060\n",
    )?;
    write(
        "pjsip.identify.conf",
        "[itsp]\ntype=identify\nendpoint=itsp\nmatch=203.0.113.5\n",
    )?;
    let mut endpoints = String::from("[itsp]\ntype=endpoint\ncontext=from-pstn\n\n");
    let mut auths = String::new();
    let mut aors = String::new();
    let mut mailboxes = String::from("[general]\nminpassword=6\n\n[default]\n");
    let mut dialplan = String::from("[from-internal-additional]\ninclude => outbound-allroutes\n");
    for i in 0..extensions {
        let ext = 10_000 + i;
        let _ = write!(
            endpoints,
            "[{ext}]\ntype=endpoint\naors={ext}\nauth={ext}-auth\ncontext=from-internal\n\
             deny=0.0.0.0/0.0.0.0\npermit=192.0.2.0/255.255.255.0\nallow=ulaw,alaw\n\
             callerid=Extension {ext} <{ext}>\nmailboxes={ext}@default\n\n"
        );
        let password = if i % 100 == 0 {
            ext.to_string()
        } else {
            format!(
                "{:032x}",
                (ext as u128).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c834)
            )
        };
        let _ = write!(
            auths,
            "[{ext}-auth]\ntype=auth\nauth_type=userpass\nusername={ext}\npassword={password}\n\n"
        );
        let _ = write!(
            aors,
            "[{ext}]\ntype=aor\nmax_contacts=1\nremove_existing=yes\n\n"
        );
        let pin = if i % 50 == 0 {
            ext.to_string()
        } else {
            format!("{:08}", (ext as u64 * 2_654_435_761) % 100_000_000)
        };
        let _ = writeln!(
            mailboxes,
            "{ext} => {pin},Extension {ext},,,attach=no|saycid=no"
        );
        let _ = writeln!(dialplan, "exten => {ext},1,Dial(PJSIP/{ext},30)");
    }
    write("pjsip.endpoint.conf", &endpoints)?;
    write("pjsip.auth.conf", &auths)?;
    write("pjsip.aor.conf", &aors)?;
    write("voicemail.conf", &mailboxes)?;
    dialplan.push_str(
        "\n[from-internal]\ninclude => from-internal-additional\n\n[outbound-allroutes]\n\
         exten => _0[1-9]XXXXXXXX,1,Macro(dialout-trunk,1,${EXTEN},,off)\n\n\
         [from-pstn]\nexten => _X.,1,Goto(from-internal,${EXTEN},1)\n",
    );
    write("extensions_additional.conf", &dialplan)?;
    write("extensions.conf", "#include extensions_additional.conf\n")?;
    write(
        "logger.conf",
        "[logfiles]\nmessages => notice,warning,error\nsecurity => security\n",
    )?;
    write(
        "manager.conf",
        "[general]\nenabled=yes\nbindaddr=127.0.0.1\n",
    )?;
    Ok(files)
}

#[allow(dead_code)] // the scale test includes this file as a module and calls only `generate`
fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(dir), Some(n)) = (args.next(), args.next()) else {
        eprintln!("usage: gen_pbx DIR EXTENSIONS");
        std::process::exit(2);
    };
    let Ok(n) = n.parse::<usize>() else {
        eprintln!("gen_pbx: EXTENSIONS must be a number, not {n:?}");
        std::process::exit(2);
    };
    let files = generate(Path::new(&dir), n)?;
    println!("{dir}: {n} extensions in {files} files");
    Ok(())
}
