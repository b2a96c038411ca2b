//! What XDP recorded (advert stamps, ring-buffer events) as the controller's inputs.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use vrrp_common::maps::{AdvertStamp, Family};

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

/// The newest advert stamps XDP recorded for the routers of `family` on `iface` (indexed by
/// VRID; `None`: nothing heard) as the controller reads them.
pub(super) fn heard_from(
    iface: &str,
    family: Family,
    stamps: Vec<Option<AdvertStamp>>,
) -> impl Iterator<Item = Heard> + '_ {
    stamps
        .into_iter()
        .enumerate()
        .filter_map(move |(vrid, stamp)| {
            let s = stamp?;
            Some(Heard {
                iface: iface.to_string(),
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
            })
        })
}

#[cfg(test)]
mod tests {
    use vrrp_common::maps::{Event, EventKind, ROUTERS_PER_FAMILY};

    use super::*;

    fn stamp(src: [u8; 16], priority: u32, csum_variant: u32) -> AdvertStamp {
        AdvertStamp {
            time_ns: 5_000,
            priority,
            interval_cs: 100,
            src,
            csum_variant,
            ..AdvertStamp::default()
        }
    }

    #[test]
    fn stamps_become_heard_adverts_by_vrid() {
        let mut v4 = [0; 16];
        v4[..4].copy_from_slice(&[192, 0, 2, 7]);
        let heard: Vec<Heard> = heard_from(
            "eth0",
            Family::Ipv4,
            vec![None, None, Some(stamp(v4, 150, 1))],
        )
        .collect();
        assert_eq!(
            heard,
            vec![Heard {
                iface: "eth0".into(),
                family: Family::Ipv4,
                vrid: 2,
                advert: Advert {
                    src: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)),
                    priority: Priority(150),
                    interval: Centis(100),
                    received_at: 5_000,
                },
                checksum: V3Checksum::MessageOnly,
            }]
        );
        let v6: Ipv6Addr = "fe80::7".parse().unwrap();
        let heard: Vec<Heard> =
            heard_from("eth1", Family::Ipv6, vec![Some(stamp(v6.octets(), 0, 0))]).collect();
        assert_eq!(heard.len(), 1);
        assert_eq!(heard[0].vrid, 0);
        assert_eq!(heard[0].advert.src, IpAddr::V6(v6));
        assert_eq!(heard[0].advert.priority, Priority(0));
        assert_eq!(heard[0].checksum, V3Checksum::PseudoHeader);
    }

    fn conflict(router: u32, src: [u8; 16]) -> Event {
        Event {
            kind: EventKind::AddressConflict as u32,
            router,
            src,
            mac: [2, 0, 0, 0, 0, 9],
            ..Event::default()
        }
    }

    #[test]
    fn address_conflicts_name_router_family_and_vip() {
        let mut v4 = [0; 16];
        v4[..4].copy_from_slice(&[192, 0, 2, 100]);
        let Some(Input::AddressConflict {
            iface,
            family,
            vrid,
            address,
            mac,
        }) = address_conflict("eth0", &conflict(51, v4))
        else {
            panic!("not a conflict");
        };
        assert_eq!(
            (iface.as_str(), family, vrid, address, mac),
            (
                "eth0",
                Family::Ipv4,
                51,
                IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100)),
                [2, 0, 0, 0, 0, 9]
            )
        );
        // An IPv6 router's IPv6 VIP, and its excluded IPv4 VIP (first four bytes only).
        let v6: Ipv6Addr = "2001:db8::64".parse().unwrap();
        let of = |e: &Event| match address_conflict("eth0", e) {
            Some(Input::AddressConflict {
                family,
                vrid,
                address,
                ..
            }) => (family, vrid, address),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            of(&conflict(ROUTERS_PER_FAMILY + 51, v6.octets())),
            (Family::Ipv6, 51, IpAddr::V6(v6))
        );
        assert_eq!(
            of(&conflict(ROUTERS_PER_FAMILY + 51, v4)),
            (Family::Ipv6, 51, IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100)))
        );
    }

    #[test]
    fn other_events_only_wake_the_loop() {
        for kind in [
            EventKind::PriorityZero,
            EventKind::Superior,
            EventKind::NewMaster,
            EventKind::ChecksumMismatch,
        ] {
            let e = Event {
                kind: kind as u32,
                ..conflict(1, [1; 16])
            };
            assert!(address_conflict("eth0", &e).is_none(), "{kind:?}");
        }
        let unknown = Event {
            kind: 99,
            ..conflict(1, [1; 16])
        };
        assert!(address_conflict("eth0", &unknown).is_none());
    }
}
