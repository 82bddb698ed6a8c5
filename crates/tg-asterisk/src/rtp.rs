//! RTP (`rtp.conf`): the UDP ports media uses.

use std::ops::RangeInclusive;

use crate::conf::ConfFile;

/// `[general]`'s `rtpstart`..=`rtpend`; `None` when either is missing or not a port, or the
/// range is empty.
pub fn ports(conf: &ConfFile) -> Option<RangeInclusive<u16>> {
    let lo: u16 = conf.value("general", "rtpstart")?.value.parse().ok()?;
    let hi: u16 = conf.value("general", "rtpend")?.value.parse().ok()?;
    (lo > 0 && lo <= hi).then_some(lo..=hi)
}
