//! What the kernel answers the driver, as the controller's inputs: XDP's advert stamps and
//! events, a failed effect's kind, the adverts the kernel dropped. Pure functions; the driver
//! (`daemon`) calls them with what it read.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use vrrp_common::maps::{AdvertStamp, Family};

use super::{Failure, Heard, Input, Owner};
use crate::{
    config::V3Checksum,
    fsm::{Advert, Nanos},
    units::{Centis, Priority},
};

/// The sender address of an advert stamp of a router of `family`.
fn stamp_src(family: Family, src: &[u8; 16]) -> IpAddr {
    match family {
        Family::Ipv4 => IpAddr::V4(Ipv4Addr::new(src[0], src[1], src[2], src[3])),
        Family::Ipv6 => IpAddr::V6(Ipv6Addr::from(*src)),
    }
}

/// An XDP event on interface `iface` as the controller's input, if it reports another MAC
/// claiming one of our VIPs.
pub fn address_conflict(iface: &str, e: &vrrp_common::maps::Event) -> Option<Input> {
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
pub fn heard_from(
    iface: &str,
    family: Family,
    stamps: impl IntoIterator<Item = Option<AdvertStamp>>,
) -> impl Iterator<Item = Heard> {
    let iface: std::sync::Arc<str> = iface.into();
    stamps
        .into_iter()
        .enumerate()
        .filter_map(move |(vrid, stamp)| {
            let s = stamp?;
            Some(Heard {
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
            })
        })
}

/// A send the kernel refused for now: its queue is full (ENOBUFS, EAGAIN), not the socket or
/// the interface broken.
fn refused_for_now(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        let errno = c
            .downcast_ref::<nix::errno::Errno>()
            .map(|e| *e as i32)
            .or_else(|| c.downcast_ref::<std::io::Error>()?.raw_os_error());
        matches!(errno, Some(libc::ENOBUFS | libc::EAGAIN))
    })
}

/// How often the adverts the kernel dropped are said ([`Drops`]).
const DROPS_SAID_EVERY: Nanos = 10_000_000_000;

/// Adverts the kernel dropped on an interface for a full queue (ENOBUFS, a `sendmmsg` that
/// sent fewer): lost as on a busy wire, not a failure; counted, and said at most every
/// `DROPS_SAID_EVERY`.
#[derive(Debug, Default)]
pub struct Drops {
    total: u64,
    said_at: Nanos,
}

impl Drops {
    /// Counts `dropped` more at `now`: the total since start, when it is time to say it.
    pub fn count(&mut self, dropped: usize, now: Nanos) -> Option<u64> {
        if dropped == 0 {
            return None;
        }
        self.total += dropped as u64;
        if now < self.said_at + DROPS_SAID_EVERY {
            return None;
        }
        self.said_at = now;
        Some(self.total)
    }
}

/// A failed effect as the controller's input: a send (`sends`) the kernel refused for now is
/// [`Failure::transient`] (the controller tolerates a few in a row), anything else puts its
/// owner in FAULT.
pub fn failure(owner: Owner, sends: bool, e: &anyhow::Error, error: String) -> Failure {
    if sends && refused_for_now(e) {
        Failure::transient(owner, error)
    } else {
        Failure::new(owner, error)
    }
}

#[cfg(test)]
mod tests {
    use vrrp_common::maps::{Event, EventKind, ROUTERS_PER_FAMILY};

    use super::*;

    fn stamp(src: [u8; 16], priority: u32, csum_variant: u16) -> AdvertStamp {
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

    fn owner() -> Owner {
        Owner::Instance("VI_1".into())
    }

    #[test]
    fn dropped_adverts_are_counted_and_said_at_most_every_10_s() {
        const S: Nanos = 1_000_000_000;
        let mut d = Drops::default();
        assert_eq!(d.count(0, 20 * S), None);
        assert_eq!(d.count(2, 20 * S), Some(2));
        assert_eq!(d.count(3, 21 * S), None);
        assert_eq!(d.count(0, 31 * S), None);
        assert_eq!(d.count(1, 29 * S), None);
        // The total since start, once the 10 s are up.
        assert_eq!(d.count(1, 30 * S), Some(7));
        assert_eq!(d.count(1, 35 * S), None);
    }

    #[test]
    fn a_full_queue_is_transient_for_sends_only() {
        let eagain = anyhow::Error::new(nix::errno::Errno::EAGAIN).context("advert not sent");
        let enobufs = anyhow::Error::new(std::io::Error::from_raw_os_error(libc::ENOBUFS))
            .context("eth0: 2 advert(s) not sent");
        for e in [&eagain, &enobufs] {
            let f = failure(owner(), true, e, format!("{e:#}"));
            assert!(f.transient, "{e:#}");
            assert_eq!(f.owner, owner());
            assert_eq!(f.error, format!("{e:#}"));
            // A VIP or a map write refused is never "for now".
            assert!(!failure(owner(), false, e, String::new()).transient);
        }
    }

    #[test]
    fn other_send_errors_are_faults() {
        for e in [
            anyhow::Error::new(nix::errno::Errno::ENETDOWN),
            anyhow::Error::new(std::io::Error::from_raw_os_error(libc::EPERM)),
            anyhow::anyhow!("no interface eth9"),
        ] {
            assert!(
                !failure(owner(), true, &e, String::new()).transient,
                "{e:#}"
            );
        }
    }
}
