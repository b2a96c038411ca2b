//! What XDP recorded (advert stamps, ring-buffer events) as the controller's inputs.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use vrrp_common::maps::Family;

use super::{Daemon, Frames};
use crate::{
    config::V3Checksum,
    controller::{Failure, Heard, Input, Owner},
    fsm::Advert,
    units::{Centis, Priority},
};

/// The sender address of an advert stamp of a router of `family`.
fn stamp_src(family: Family, src: &[u8; 16]) -> IpAddr {
    match family {
        Family::Ipv4 => IpAddr::V4(Ipv4Addr::new(src[0], src[1], src[2], src[3])),
        Family::Ipv6 => IpAddr::V6(Ipv6Addr::from(*src)),
    }
}

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
                Ok(stamps) => {
                    for (vrid, stamp) in stamps.into_iter().enumerate() {
                        let Some(s) = stamp else { continue };
                        heard.push(Heard {
                            iface: iface.clone(),
                            family,
                            vrid: vrid as u8,
                            advert: Advert {
                                src: stamp_src(family, &s.src),
                                priority: Priority(s.priority as u8),
                                interval: Centis(s.interval_cs),
                                received_at: s.time_ns,
                            },
                            checksum: if s.csum_variant == 0 {
                                V3Checksum::PseudoHeader
                            } else {
                                V3Checksum::MessageOnly
                            },
                        });
                    }
                }
                Err(e) => failures.push(Failure::new(
                    Owner::Iface(iface.clone()),
                    format!("{iface}: advert stamps not read: {e:#}"),
                )),
            }
        }
        (heard, failures)
    }
}

/// An XDP event on interface `iface` as the controller's input, if it reports another MAC
/// claiming one of our VIPs.
pub(super) fn address_conflict(iface: &str, e: &vrrp_common::maps::Event) -> Option<Input> {
    use vrrp_common::maps::{EventKind, ROUTERS_PER_FAMILY};
    if EventKind::from_u32(e.kind) != Some(EventKind::AddressConflict) {
        return None;
    }
    let family = if e.router >= ROUTERS_PER_FAMILY {
        Family::Ipv6
    } else {
        Family::Ipv4
    };
    let vrid = (e.router % ROUTERS_PER_FAMILY) as u8;
    // The VIP claimed: IPv4 in the first four bytes (also an IPv4 VIP of an IPv6 router).
    let address = if e.src[4..].iter().all(|b| *b == 0) {
        IpAddr::V4(Ipv4Addr::new(e.src[0], e.src[1], e.src[2], e.src[3]))
    } else {
        IpAddr::V6(Ipv6Addr::from(e.src))
    };
    Some(Input::AddressConflict {
        iface: iface.to_string(),
        family,
        vrid,
        address,
        mac: e.mac,
    })
}
