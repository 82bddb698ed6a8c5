//! Voicemail PINs and call-out (`voicemail.conf`), and whether Asterisk logs what the ban
//! daemon needs (`logger.conf`'s `security` level).

use super::Ctx;
use crate::finding::Finding;
use crate::secrets;
use tg_asterisk::conf::ConfFile;
use tg_asterisk::logger::Logger;

/// Voicemail and logging checks.
pub fn check(ctx: &Ctx, out: &mut Vec<Finding>) {
    if let Some(conf) = ctx.voicemail {
        voicemail(ctx, conf, out);
    }
    logger(ctx, out);
}

fn voicemail(ctx: &Ctx, conf: &ConfFile, out: &mut Vec<Finding>) {
    for key in ["dialout", "callback"] {
        if let Some(e) = conf.value("general", key) {
            dialout(ctx, key, &e.value, e.at, "[general]", out);
        }
    }
    for section in conf.objects().filter(|s| {
        !s.name.eq_ignore_ascii_case("general") && !s.name.eq_ignore_ascii_case("zonemessages")
    }) {
        for mbox in &section.entries {
            let mut fields = mbox.value.split(',');
            let pin = fields.next().unwrap_or("").trim();
            let pin = pin.trim_start_matches(['-', '*']);
            let mailbox = mbox.key.as_str();
            if pin == mailbox {
                let f = Finding::new(
                    "voicemail.pin.equals-mailbox",
                    format!(
                        "Voicemail box {mailbox}@{}: the PIN is the mailbox number",
                        section.name
                    ),
                    format!(
                        "{}: {mailbox} => <6 or more random digits>,...",
                        ctx.show(mbox.at)
                    ),
                );
                out.push(ctx.at(f, mbox.at));
            } else if pin.len() < 4
                || secrets::is_well_known(&pin.to_ascii_lowercase())
                || secrets::is_repeated_or_sequential(pin)
            {
                let f = Finding::new(
                    "voicemail.pin.weak",
                    format!("Voicemail box {mailbox}@{}: the PIN is a sample, short, repeated or sequential", section.name),
                    format!("{}: {mailbox} => <6 or more random digits>,... and minpassword=6 in [general]", ctx.show(mbox.at)),
                );
                out.push(ctx.at(f, mbox.at));
            }
            if let Some(options) = fields.nth(3) {
                for opt in options.split('|') {
                    if let Some((k, v)) = opt.split_once('=') {
                        let k = k.trim().to_ascii_lowercase();
                        if k == "dialout" || k == "callback" {
                            dialout(
                                ctx,
                                &k,
                                v.trim(),
                                mbox.at,
                                &format!("mailbox {mailbox}"),
                                out,
                            );
                        }
                    }
                }
            }
        }
    }
}

fn dialout(
    ctx: &Ctx,
    key: &str,
    context: &str,
    at: tg_asterisk::conf::Loc,
    whose: &str,
    out: &mut Vec<Finding>,
) {
    if !ctx.dials_out(context) {
        return;
    }
    let f = Finding::new(
        "voicemail.dialout",
        format!("Voicemail {key} ({whose}) places calls from '{context}', which reaches trunks"),
        format!(
            "{}: remove {key}=, or point it at a context that only reaches internal extensions",
            ctx.show(at)
        ),
    );
    out.push(ctx.at(f, at));
}

fn logger(ctx: &Ctx, out: &mut Vec<Finding>) {
    let Some(conf) = ctx.logger else { return };
    let logger = Logger::from_conf(conf);
    if logger.channels.iter().any(|c| c.logs("security")) {
        return;
    }
    let place = logger.logfiles.map(|s| s.at);
    let fix = match place {
        Some(at) => format!(
            "{} [logfiles]: security => security (and point the ban daemon at it)",
            ctx.show(at)
        ),
        None => format!(
            "{}: [logfiles] with security => security",
            conf.path.display()
        ),
    };
    let f = Finding::new(
        "logger.no-security",
        "Asterisk does not log security events (no 'security' level in logger.conf [logfiles])",
        fix,
    );
    out.push(match place {
        Some(at) => ctx.at(f, at),
        None => f.at(conf.path.display().to_string(), None),
    });
}
