//! The frames the daemon sends, built with `wire`: adverts and gratuitous ARPs from the VMAC.
//!
//! FIXME(wire): these builders are interim, until `wire`'s emitters land; they are replaced by
//! calls to `wire` then.

use std::net::Ipv4Addr;

use crate::{
    config::{Auth, Instance, V3Checksum, Version},
    daemon::Frames,
    units::Priority,
};

/// [`Frames`] built with `wire`.
pub struct WireFrames;

fn sum(bytes: &[u8]) -> u32 {
    bytes
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum()
}

fn fold(mut s: u32) -> u16 {
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

impl Frames for WireFrames {
    fn advert(inst: &Instance, primary: Ipv4Addr, priority: Priority) -> Vec<u8> {
        let vrid = inst.vrid.get();
        let v4: Vec<Ipv4Addr> = inst
            .vips
            .iter()
            .filter_map(|v| match v.address {
                std::net::IpAddr::V4(a) => Some(a),
                std::net::IpAddr::V6(_) => None,
            })
            .collect();
        let mut vrrp = Vec::new();
        match inst.version {
            Version::V2 => {
                vrrp.extend_from_slice(&[0x21, vrid, priority.get(), v4.len() as u8]);
                let (auth_type, auth) = match inst.auth {
                    Auth::Pass { password } => (1, password),
                    Auth::None | Auth::Ah => (0, [0; 8]),
                };
                vrrp.push(auth_type);
                vrrp.push((inst.advert_interval.get() / 100).max(1) as u8);
                vrrp.extend_from_slice(&[0, 0]);
                for a in &v4 {
                    vrrp.extend_from_slice(&a.octets());
                }
                vrrp.extend_from_slice(&auth);
            }
            Version::V3 => {
                let int = inst.advert_interval.get() as u16 & 0x0fff;
                vrrp.extend_from_slice(&[0x31, vrid, priority.get(), v4.len() as u8]);
                vrrp.extend_from_slice(&int.to_be_bytes());
                vrrp.extend_from_slice(&[0, 0]);
                for a in &v4 {
                    vrrp.extend_from_slice(&a.octets());
                }
            }
        }
        let mut s = sum(&vrrp);
        if inst.version == Version::V3 && inst.v3_checksum == V3Checksum::PseudoHeader {
            s += sum(&primary.octets()) + sum(&[224, 0, 0, 18]) + 112 + vrrp.len() as u32;
        }
        let ck = fold(s);
        vrrp[6..8].copy_from_slice(&ck.to_be_bytes());

        let tot = (20 + vrrp.len()) as u16;
        let mut ip = vec![0x45, 0xc0];
        ip.extend_from_slice(&tot.to_be_bytes());
        ip.extend_from_slice(&[0, 0, 0, 0, 255, 112, 0, 0]);
        ip.extend_from_slice(&primary.octets());
        ip.extend_from_slice(&[224, 0, 0, 18]);
        let ipck = fold(sum(&ip));
        ip[10..12].copy_from_slice(&ipck.to_be_bytes());

        let mut f = vec![0x01, 0x00, 0x5e, 0x00, 0x00, 0x12];
        f.extend_from_slice(&vrrp_common::proto::vmac_v4(vrid));
        f.extend_from_slice(&[0x08, 0x00]);
        f.extend_from_slice(&ip);
        f.extend_from_slice(&vrrp);
        f.resize(f.len().max(60), 0);
        f
    }

    fn garp(vrid: u8, vip: Ipv4Addr) -> Vec<u8> {
        let vmac = vrrp_common::proto::vmac_v4(vrid);
        let mut f = vec![0xff; 6];
        f.extend_from_slice(&vmac);
        f.extend_from_slice(&[0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1]);
        f.extend_from_slice(&vmac);
        f.extend_from_slice(&vip.octets());
        f.extend_from_slice(&[0xff; 6]);
        f.extend_from_slice(&vip.octets());
        f.resize(60, 0);
        f
    }
}
