//! The frames the daemon sends, built with `wire`: adverts, gratuitous ARPs and unsolicited
//! neighbour advertisements from the VMAC.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::{
    config::{Auth, Instance, V3Checksum, Version},
    daemon::Frames,
    units::Priority,
    wire::{self, vrrp},
};

/// [`Frames`] built with `wire`.
pub struct WireFrames;

/// The advert an instance sends with `priority`.
pub fn advert_repr(inst: &Instance, priority: Priority) -> vrrp::Repr {
    vrrp::Repr {
        version: inst.version,
        vrid: inst.vrid.get(),
        priority: priority.get(),
        interval_cs: inst.advert_interval.get(),
        addresses: inst.vips.iter().map(|v| v.address).collect(),
        auth: (inst.version == Version::V2).then_some(match inst.auth {
            Auth::Pass { password } => vrrp::Auth {
                kind: 1,
                data: password,
            },
            Auth::None | Auth::Ah => vrrp::Auth {
                kind: 0,
                data: [0; 8],
            },
        }),
    }
}

impl Frames for WireFrames {
    fn advert(inst: &Instance, primary: impl Into<IpAddr>, priority: Priority) -> Vec<u8> {
        let primary = primary.into();
        wire::emit_advert_frame_to(
            &advert_repr(inst, priority),
            primary,
            inst.mcast_group(primary),
            inst.v3_checksum,
        )
    }

    fn advert_message(inst: &Instance, src: IpAddr, dst: IpAddr, priority: Priority) -> Vec<u8> {
        let repr = advert_repr(inst, priority);
        let len = repr.buffer_len();
        let pseudo = match (src, dst, inst.version, inst.v3_checksum) {
            (IpAddr::V6(src), IpAddr::V6(dst), ..) => {
                wire::checksum::pseudo_v6(src, dst, vrrp_common::proto::IPPROTO_VRRP, len as u32)
            }
            (IpAddr::V4(src), IpAddr::V4(dst), Version::V3, V3Checksum::PseudoHeader) => {
                wire::checksum::pseudo_v4(src, dst, vrrp_common::proto::IPPROTO_VRRP, len as u16)
            }
            _ => 0,
        };
        let mut msg = vec![0u8; len];
        repr.emit(&mut msg, pseudo);
        msg
    }

    fn garp(vrid: u8, vip: Ipv4Addr) -> Vec<u8> {
        wire::arp::garp(vrrp_common::proto::vmac_v4(vrid), vip)
    }

    fn unsolicited_na(vmac: [u8; 6], vip: Ipv6Addr, router: bool) -> Vec<u8> {
        wire::icmpv6::unsolicited_na(vmac, vip, router)
    }
}
