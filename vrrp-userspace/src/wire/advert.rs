//! Whole advert frames: Ethernet (+ VLAN) → IPv4 / IPv6 → VRRP, parsed in the order of RFC 5798
//! §7.1 with the same verdicts as the XDP program, and emitted as vrrpd sends them.
//!
//! [`parse_advert_frame`] applies the checks that need no configuration; [`check_policy`] those
//! that do (VRID configured, version, authentication, v2 interval). Together they are the
//! userspace twin of the kernel program's advert filter, which the differential test holds them
//! to frame by frame.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use vrrp_common::{
    DropReason,
    proto::{AUTH_PASS, ETH_P_IPV4, ETH_P_IPV6, IPPROTO_VRRP, VRRP_TTL, vmac_v4, vmac_v6},
};

use super::{
    checksum, ethernet, ipv4, ipv6,
    vrrp::{self, Packet},
};
use crate::config::{V3Checksum, Version};

/// A valid advert (before the policy checks).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Advert {
    /// The message.
    pub vrrp: vrrp::Repr,
    /// IP source (the sender's primary address).
    pub src: IpAddr,
    /// IP destination (the multicast group, or us for unicast).
    pub dst: IpAddr,
    /// Ethernet source.
    pub src_mac: [u8; 6],
    /// VLAN ids, outer first.
    pub vlans: Vec<u16>,
    /// v3 over IPv4: the checksum variant that verified.
    pub checksum_variant: Option<V3Checksum>,
}

/// Parses an Ethernet frame. `Ok(None)`: not a VRRP frame (not IPv4 protocol 112 or IPv6 next
/// header 112, or too short to tell), which the XDP program passes. `Err`: a VRRP frame to
/// drop, and why.
pub fn parse_advert_frame(frame: &[u8]) -> Result<Option<Advert>, DropReason> {
    let Some((eth, l3)) = ethernet::Repr::parse(frame) else {
        return Ok(None);
    };
    match eth.ethertype {
        ETH_P_IPV4 => parse_v4(frame, &eth, l3),
        ETH_P_IPV6 => parse_v6(frame, &eth, l3),
        _ => Ok(None),
    }
}

fn parse_v4(frame: &[u8], eth: &ethernet::Repr, l3: usize) -> Result<Option<Advert>, DropReason> {
    let Some(ip) = frame.get(l3..).and_then(ipv4::Repr::read) else {
        return Ok(None);
    };
    if ip.protocol != IPPROTO_VRRP {
        return Ok(None);
    }
    let h = &frame[l3..];
    let total = usize::from(u16::from_be_bytes([h[2], h[3]]));
    if h[0] >> 4 != 4
        || ip.header_len < ipv4::HEADER_LEN
        || total < ip.header_len
        || ip.fragment
        || l3 + total > frame.len()
    {
        return Err(DropReason::BadIpHeader);
    }
    let msg = &frame[l3 + ip.header_len..l3 + total];
    let pseudo = checksum::pseudo_v4(ip.src, ip.dst, IPPROTO_VRRP, msg.len() as u16);
    let (repr, variant) = parse_vrrp(
        msg,
        checked_ttl(ip.ttl, ip.dst.is_multicast()),
        false,
        pseudo,
    )?;
    Ok(Some(Advert {
        vrrp: repr,
        src: IpAddr::V4(ip.src),
        dst: IpAddr::V4(ip.dst),
        src_mac: eth.src,
        vlans: eth.vlans.clone(),
        checksum_variant: variant,
    }))
}

fn parse_v6(frame: &[u8], eth: &ethernet::Repr, l3: usize) -> Result<Option<Advert>, DropReason> {
    let Some(ip) = frame.get(l3..).and_then(ipv6::Repr::read) else {
        return Ok(None);
    };
    if ip.next_header != IPPROTO_VRRP {
        return Ok(None);
    }
    if frame[l3] >> 4 != 6 || l3 + ipv6::HEADER_LEN + ip.payload_len > frame.len() {
        return Err(DropReason::BadIpHeader);
    }
    let start = l3 + ipv6::HEADER_LEN;
    let msg = &frame[start..start + ip.payload_len];
    let pseudo = checksum::pseudo_v6(ip.src, ip.dst, IPPROTO_VRRP, msg.len() as u32);
    let (repr, _) = parse_vrrp(
        msg,
        checked_ttl(ip.hop_limit, ip.dst.is_multicast()),
        true,
        pseudo,
    )?;
    Ok(Some(Advert {
        vrrp: repr,
        src: IpAddr::V6(ip.src),
        dst: IpAddr::V6(ip.dst),
        src_mac: eth.src,
        vlans: eth.vlans.clone(),
        checksum_variant: None,
    }))
}

/// The TTL/hop limit the checks see: the packet's for an advert to a multicast group, 255 for
/// one to a unicast address (`unicast_peer`: keepalived checks the TTL only of multicast
/// adverts, and sends IPv6 unicast ones with the kernel's default hop limit).
fn checked_ttl(ttl: u8, multicast: bool) -> u8 {
    if multicast { ttl } else { VRRP_TTL }
}

/// The VRRP checks, in the kernel program's order: length of the fixed part, TTL, version,
/// type, length against the count, checksum, interval.
fn parse_vrrp(
    msg: &[u8],
    ttl: u8,
    ipv6: bool,
    pseudo: u32,
) -> Result<(vrrp::Repr, Option<V3Checksum>), DropReason> {
    let packet = Packet::new_checked(msg)?;
    if ttl != VRRP_TTL {
        return Err(DropReason::BadTtl);
    }
    let repr = vrrp::Repr::parse(&packet, ipv6)?;
    let message = checksum::sum(msg);
    let variant = match repr.version {
        Version::V2 => {
            if !checksum_ok(message) {
                return Err(DropReason::BadChecksum);
            }
            None
        }
        Version::V3 => {
            if checksum_ok(checksum::combine(&[message, pseudo])) {
                (!ipv6).then_some(V3Checksum::PseudoHeader)
            } else if !ipv6 && checksum_ok(message) {
                Some(V3Checksum::MessageOnly)
            } else {
                return Err(DropReason::BadChecksum);
            }
        }
    };
    if repr.interval_cs == 0 {
        return Err(DropReason::BadInterval);
    }
    Ok((repr, variant))
}

/// Whether a sum verifies; under `cfg(fuzzing)` always, so that a fuzzer gets past it.
fn checksum_ok(sum: u32) -> bool {
    cfg!(fuzzing) || checksum::verifies(sum)
}

/// What a router's configuration asks of its adverts (the userspace twin of `RouterConfig`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouterPolicy {
    /// Configured version.
    pub version: Version,
    /// v2: the expected authentication type (0 none, 1 PASS, 2 AH).
    pub auth_type: u8,
    /// v2 PASS: the password, zero-padded.
    pub auth_data: [u8; 8],
    /// v2: the configured interval in centiseconds (adverts with another are dropped).
    pub interval_cs: u32,
    /// The addresses our adverts list, if adverts are to list them too (`ROUTER_CHECK_ADDRS`;
    /// not when `skip_check_adv_addr` lets the master already followed off).
    pub addresses: Option<Vec<IpAddr>>,
}

/// The checks that need the configuration (RFC 3768/5798 §7.1): the VRID is configured
/// (`policy` is `None` if not), the version matches, v2's authentication type and PASS data
/// (compared over all 8 bytes, without an early exit), v2's interval, and the addresses.
pub fn check_policy(advert: &Advert, policy: Option<&RouterPolicy>) -> Result<(), DropReason> {
    let Some(p) = policy else {
        return Err(DropReason::UnknownVrid);
    };
    if advert.vrrp.version != p.version {
        return Err(DropReason::BadVersion);
    }
    if let Some(auth) = advert.vrrp.auth {
        if auth.kind != p.auth_type {
            return Err(DropReason::AuthTypeMismatch);
        }
        if auth.kind == AUTH_PASS {
            let diff = auth
                .data
                .iter()
                .zip(p.auth_data.iter())
                .fold(0u8, |d, (a, b)| d | (a ^ b));
            if diff != 0 {
                return Err(DropReason::BadPassword);
            }
        }
        if advert.vrrp.interval_cs != p.interval_cs {
            return Err(DropReason::BadInterval);
        }
    }
    if let Some(ours) = &p.addresses
        && !lists_ours(&advert.vrrp.addresses, ours)
    {
        return Err(DropReason::AddressList);
    }
    Ok(())
}

/// keepalived 2.2.7's check (`vrrp_check_packet`): as many addresses as ours, and each of
/// ours among them. The program compares a fingerprint of the whole list instead, the same
/// for lists without repeats; for a list of ours that names an address twice it compares the
/// count alone (`ROUTER_ADDRS_COUNT_ONLY`), and so does this twin.
fn lists_ours(theirs: &[IpAddr], ours: &[IpAddr]) -> bool {
    if theirs.len() != ours.len() {
        return false;
    }
    let repeats = ours.iter().enumerate().any(|(i, a)| ours[..i].contains(a));
    repeats || ours.iter().all(|a| theirs.contains(a))
}

/// A complete advert frame as vrrpd sends it to the default groups, 224.0.0.18 or ff02::12:
/// see [`emit_advert_frame_to`].
pub fn emit_advert_frame(repr: &vrrp::Repr, src: IpAddr, v3_checksum: V3Checksum) -> Vec<u8> {
    let group = match src {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from(vrrp_common::proto::VRRP_MCAST_V4)),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(vrrp_common::proto::VRRP_MCAST_V6)),
    };
    emit_advert_frame_to(repr, src, group, v3_checksum)
}

/// The Ethernet address of a multicast group: 01:00:5e and the low 23 bits of an IPv4 group
/// (RFC 1112), 33:33 and the low 32 bits of an IPv6 group (RFC 2464).
pub fn multicast_mac(group: IpAddr) -> [u8; 6] {
    match group {
        IpAddr::V4(g) => {
            let o = g.octets();
            [0x01, 0x00, 0x5e, o[1] & 0x7f, o[2], o[3]]
        }
        IpAddr::V6(g) => {
            let o = g.octets();
            [0x33, 0x33, o[12], o[13], o[14], o[15]]
        }
    }
}

/// A complete advert frame as vrrpd sends it: from the VMAC to the multicast `group`
/// (`vrrp_mcast_group4/6`, of `src`'s family) and its Ethernet address, TTL/hop limit 255, IPv4
/// ToS 0xc0 (CS6) with DF clear, padded to 60 bytes. `src` is the sender's primary address;
/// `v3_checksum` picks the v3/IPv4 variant (the pseudo-header holds `group`). A `group` of the
/// other family than `src` is replaced by that family's default group.
pub fn emit_advert_frame_to(
    repr: &vrrp::Repr,
    src: IpAddr,
    group: IpAddr,
    v3_checksum: V3Checksum,
) -> Vec<u8> {
    let len = repr.buffer_len();
    let group4 = match group {
        IpAddr::V4(g) => g,
        IpAddr::V6(_) => Ipv4Addr::from(vrrp_common::proto::VRRP_MCAST_V4),
    };
    let group6 = match group {
        IpAddr::V6(g) => g,
        IpAddr::V4(_) => Ipv6Addr::from(vrrp_common::proto::VRRP_MCAST_V6),
    };
    let (eth, ip_len) = match src {
        IpAddr::V4(_) => (
            ethernet::Repr {
                dst: multicast_mac(IpAddr::V4(group4)),
                src: vmac_v4(repr.vrid),
                vlans: Vec::new(),
                ethertype: ETH_P_IPV4,
            },
            ipv4::HEADER_LEN,
        ),
        IpAddr::V6(_) => (
            ethernet::Repr {
                dst: multicast_mac(IpAddr::V6(group6)),
                src: vmac_v6(repr.vrid),
                vlans: Vec::new(),
                ethertype: ETH_P_IPV6,
            },
            ipv6::HEADER_LEN,
        ),
    };
    let mut frame = vec![0u8; eth.buffer_len() + ip_len + len];
    eth.emit(&mut frame);
    let l3 = eth.buffer_len();
    let pseudo = match src {
        IpAddr::V4(s) => {
            let dst = group4;
            ipv4::Repr {
                src: s,
                dst,
                protocol: IPPROTO_VRRP,
                ttl: VRRP_TTL,
                tos: 0xc0,
                header_len: ipv4::HEADER_LEN,
                payload_len: len,
                fragment: false,
            }
            .emit(&mut frame[l3..]);
            match (repr.version, v3_checksum) {
                (Version::V3, V3Checksum::PseudoHeader) => {
                    checksum::pseudo_v4(s, dst, IPPROTO_VRRP, len as u16)
                }
                _ => 0,
            }
        }
        IpAddr::V6(s) => {
            let dst = group6;
            ipv6::Repr {
                src: s,
                dst,
                next_header: IPPROTO_VRRP,
                hop_limit: VRRP_TTL,
                payload_len: len,
            }
            .emit(&mut frame[l3..]);
            checksum::pseudo_v6(s, dst, IPPROTO_VRRP, len as u32)
        }
    };
    repr.emit(&mut frame[l3 + ip_len..], pseudo);
    ethernet::pad(&mut frame);
    frame
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_advert_must_list_our_addresses_in_any_order_as_keepalived_asks() {
        let at = |n: u8| IpAddr::V4(Ipv4Addr::new(192, 0, 2, n));
        let advert = |addresses: Vec<IpAddr>| {
            let frame = emit_advert_frame(
                &repr(Version::V3, addresses),
                at(9),
                V3Checksum::PseudoHeader,
            );
            parse_advert_frame(&frame).unwrap().unwrap()
        };
        let policy = |addresses: Option<Vec<IpAddr>>| RouterPolicy {
            version: Version::V3,
            auth_type: 0,
            auth_data: [0; 8],
            interval_cs: 100,
            addresses,
        };
        let ours = policy(Some(vec![at(1), at(2)]));
        assert_eq!(
            check_policy(&advert(vec![at(2), at(1)]), Some(&ours)),
            Ok(())
        );
        for other in [
            vec![at(1)],
            vec![at(1), at(2), at(3)],
            vec![at(1), at(3)],
            vec![at(1), at(1)],
        ] {
            assert_eq!(
                check_policy(&advert(other.clone()), Some(&ours)),
                Err(DropReason::AddressList),
                "{other:?}"
            );
        }
        // Not compared, or a list of ours naming an address twice: the count alone.
        assert_eq!(
            check_policy(&advert(vec![at(3)]), Some(&policy(None))),
            Ok(())
        );
        let twice = policy(Some(vec![at(1), at(1)]));
        assert_eq!(
            check_policy(&advert(vec![at(3), at(4)]), Some(&twice)),
            Ok(())
        );
        assert_eq!(
            check_policy(&advert(vec![at(1)]), Some(&twice)),
            Err(DropReason::AddressList)
        );
    }

    fn repr(version: Version, addresses: Vec<IpAddr>) -> vrrp::Repr {
        vrrp::Repr {
            version,
            vrid: 51,
            priority: 100,
            interval_cs: 100,
            addresses,
            auth: None,
        }
    }

    /// The checksum of the VRRP message of `frame` (after `ip_len` bytes of IP header) with
    /// the pseudo-header `pseudo` verifies.
    fn verifies_with(frame: &[u8], ip_len: usize, pseudo: u32) -> bool {
        let l3 = 14;
        let msg = &frame[l3 + ip_len..];
        let len = match frame[l3] >> 4 {
            4 => usize::from(u16::from_be_bytes([frame[l3 + 2], frame[l3 + 3]])) - ip_len,
            _ => usize::from(u16::from_be_bytes([frame[l3 + 4], frame[l3 + 5]])),
        };
        checksum::verifies(checksum::combine(&[pseudo, checksum::sum(&msg[..len])]))
    }

    #[test]
    fn an_ipv4_advert_goes_to_the_configured_group() {
        let src = Ipv4Addr::new(192, 0, 2, 1);
        let group = Ipv4Addr::new(224, 0, 0, 19);
        let r = repr(Version::V3, vec![IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100))]);
        let frame = emit_advert_frame_to(
            &r,
            IpAddr::V4(src),
            IpAddr::V4(group),
            V3Checksum::PseudoHeader,
        );
        assert_eq!(frame[..6], [0x01, 0x00, 0x5e, 0x00, 0x00, 0x13]);
        assert_eq!(frame[14 + 16..14 + 20], group.octets());
        let len = r.buffer_len() as u16;
        assert!(verifies_with(
            &frame,
            ipv4::HEADER_LEN,
            checksum::pseudo_v4(src, group, IPPROTO_VRRP, len)
        ));
        // Not with the default group in the pseudo-header.
        assert!(!verifies_with(
            &frame,
            ipv4::HEADER_LEN,
            checksum::pseudo_v4(src, Ipv4Addr::new(224, 0, 0, 18), IPPROTO_VRRP, len)
        ));
        let adv = parse_advert_frame(&frame).unwrap().unwrap();
        assert_eq!(adv.dst, IpAddr::V4(group));
        assert_eq!(adv.checksum_variant, Some(V3Checksum::PseudoHeader));
        // The high bit of the second octet is not in the MAC (RFC 1112: low 23 bits).
        assert_eq!(
            multicast_mac("239.129.2.3".parse().unwrap()),
            [0x01, 0x00, 0x5e, 0x01, 0x02, 0x03]
        );
    }

    #[test]
    fn an_ipv6_advert_goes_to_the_configured_group() {
        let src: Ipv6Addr = "fe80::1".parse().unwrap();
        let group: Ipv6Addr = "ff02::1:2:3:4".parse().unwrap();
        let r = repr(Version::V3, vec!["2001:db8::100".parse().unwrap()]);
        let frame = emit_advert_frame_to(
            &r,
            IpAddr::V6(src),
            IpAddr::V6(group),
            V3Checksum::PseudoHeader,
        );
        assert_eq!(frame[..6], [0x33, 0x33, 0x00, 0x03, 0x00, 0x04]);
        assert_eq!(frame[14 + 24..14 + 40], group.octets());
        let len = r.buffer_len() as u32;
        assert!(verifies_with(
            &frame,
            ipv6::HEADER_LEN,
            checksum::pseudo_v6(src, group, IPPROTO_VRRP, len)
        ));
        assert!(!verifies_with(
            &frame,
            ipv6::HEADER_LEN,
            checksum::pseudo_v6(
                src,
                Ipv6Addr::from(vrrp_common::proto::VRRP_MCAST_V6),
                IPPROTO_VRRP,
                len
            )
        ));
        assert_eq!(
            parse_advert_frame(&frame).unwrap().unwrap().dst,
            IpAddr::V6(group)
        );
    }

    #[test]
    fn the_default_groups_are_unchanged() {
        let r = repr(Version::V3, vec![IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100))]);
        let frame = emit_advert_frame(&r, "192.0.2.1".parse().unwrap(), V3Checksum::PseudoHeader);
        assert_eq!(frame[..6], [0x01, 0x00, 0x5e, 0x00, 0x00, 0x12]);
        assert_eq!(frame[14 + 16..14 + 20], [224, 0, 0, 18]);
        let r = repr(Version::V3, vec!["2001:db8::100".parse().unwrap()]);
        let frame = emit_advert_frame(&r, "fe80::1".parse().unwrap(), V3Checksum::PseudoHeader);
        assert_eq!(frame[..6], [0x33, 0x33, 0x00, 0x00, 0x00, 0x12]);
    }
}
