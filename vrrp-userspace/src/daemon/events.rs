//! What XDP recorded (advert stamps) read for the controller.

use vrrp_common::maps::Counter;

use super::{Daemon, Frames};
use crate::controller::{Heard, kernel::heard_from};

impl<F: Frames> Daemon<F> {
    /// The newest advert stamp of every router the controller watches, read from each
    /// interface's mapping of the stamps (a read that cannot fail).
    ///
    /// While we are master of a router, most reads would find what the last one did: a
    /// master's peers are silent backups, and the controller wants the stamps at each of its
    /// advert timers. XDP counts each valid advert after stamping it, so while that count
    /// (one lookup) is what it was before the last read, the stamps read then are still the
    /// newest and are handed over again (reading 256 routers' per-CPU stamps every interval
    /// was a tenth of a master's samples in `perf` when they were read with a system call;
    /// from the mapping now, one lookup and a few µs of copies are about even). A host of
    /// backups hears adverts all the time: it reads the stamps without asking.
    ///
    /// The list is made at its last size at once (a backup of 1,020 routers hands over 1,020
    /// a tick, some 30 a second), and a stamp becomes a [`Heard`] as it is read.
    pub(super) fn adverts(&mut self) -> Vec<Heard> {
        let mut heard = Vec::with_capacity(self.heard_last);
        let masters = self.ctl.masters_any();
        for (iface, family) in self.ctl.advert_sources() {
            let (iface, family) = (&**iface, *family);
            let Some(i) = self.ifaces.get_mut(iface) else {
                continue;
            };
            let valid = if masters {
                i.dp.counter(Counter::AdvertValid).ok()
            } else {
                None
            };
            let last = &mut i.stamps[family as usize];
            if let (Some(v), Some((seen, stamps))) = (valid, last.as_ref())
                && v == *seen
            {
                heard.extend(stamps.iter().cloned());
                continue;
            }
            let from = heard.len();
            heard.extend(heard_from(iface, family, i.dp.newest_adverts(family)));
            *last = valid.map(|v| (v, heard[from..].to_vec()));
        }
        self.heard_last = heard.len();
        heard
    }
}
