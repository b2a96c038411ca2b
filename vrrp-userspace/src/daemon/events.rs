//! What XDP recorded (advert stamps) read for the controller.

use super::{Daemon, Frames};
use crate::controller::{Failure, Heard, Owner, kernel::heard_from};

impl<F: Frames> Daemon<F> {
    /// The newest advert stamp of every router the controller watches; an interface whose
    /// stamps cannot be read is a failure of its instances.
    pub(super) fn adverts(&self) -> (Vec<Heard>, Vec<Failure>) {
        let (mut heard, mut failures) = (Vec::new(), Vec::new());
        for (iface, family) in self.ctl.advert_sources() {
            let Some(i) = self.ifaces.get(&iface) else {
                continue;
            };
            match i.dp.newest_adverts(family) {
                Ok(stamps) => heard.extend(heard_from(&iface, family, stamps)),
                Err(e) => failures.push(Failure::new(
                    Owner::Iface(iface.clone()),
                    format!("{iface}: advert stamps not read: {e:#}"),
                )),
            }
        }
        (heard, failures)
    }
}
