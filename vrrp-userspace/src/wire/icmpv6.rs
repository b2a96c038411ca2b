//! ICMPv6 neighbour solicitation and advertisement (RFC 4861 §4.3, §4.4), with the
//! link-layer address option: what a VRRP v3 IPv6 master sends unsolicited when it takes over.
//!
//! ```text
//! |     Type      |     Code      |          Checksum             |
//! |R|S|O|                     Reserved (NA; NS: all reserved)     |
//! |                       Target Address (16)                     |
//! | Option type (1 source, 2 target) | Length=1 | Link-layer address (6) |
//! ```

use std::net::Ipv6Addr;

pub use vrrp_common::proto::IPPROTO_ICMPV6;
use vrrp_common::proto::{
    ETH_P_IPV6, ND_NEIGHBOR_ADVERT as NA, ND_NEIGHBOR_SOLICIT as NS, ND_OPT_SOURCE_LLADDR,
    ND_OPT_TARGET_LLADDR,
};

use super::{checksum, ethernet, ipv6};

/// Neighbour discovery message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Repr {
    /// Neighbour solicitation, with the source link-layer address option if known.
    Solicit {
        /// The address asked about.
        target: Ipv6Addr,
        /// The asker's link-layer address.
        source_mac: Option<[u8; 6]>,
    },
    /// Neighbour advertisement.
    Advert {
        /// Router flag.
        router: bool,
        /// Solicited flag.
        solicited: bool,
        /// Override flag.
        override_: bool,
        /// The address announced.
        target: Ipv6Addr,
        /// Its link-layer address.
        target_mac: Option<[u8; 6]>,
    },
}

impl Repr {
    /// Bytes the message takes.
    pub fn buffer_len(&self) -> usize {
        let opt = match self {
            Repr::Solicit { source_mac, .. } => source_mac.is_some(),
            Repr::Advert { target_mac, .. } => target_mac.is_some(),
        };
        24 + if opt { 8 } else { 0 }
    }

    /// Writes the message with its checksum over the IPv6 pseudo-header of `src` → `dst`.
    pub fn emit(&self, buf: &mut [u8], src: Ipv6Addr, dst: Ipv6Addr) {
        let len = self.buffer_len();
        let buf = &mut buf[..len];
        buf.fill(0);
        let (kind, target, opt) = match *self {
            Repr::Solicit { target, source_mac } => {
                (NS, target, source_mac.map(|m| (ND_OPT_SOURCE_LLADDR, m)))
            }
            Repr::Advert {
                router,
                solicited,
                override_,
                target,
                target_mac,
            } => {
                buf[4] = (u8::from(router) << 7)
                    | (u8::from(solicited) << 6)
                    | (u8::from(override_) << 5);
                (NA, target, target_mac.map(|m| (ND_OPT_TARGET_LLADDR, m)))
            }
        };
        buf[0] = kind;
        buf[8..24].copy_from_slice(&target.octets());
        if let Some((t, mac)) = opt {
            buf[24] = t;
            buf[25] = 1;
            buf[26..32].copy_from_slice(&mac);
        }
        let c = checksum::finish(checksum::combine(&[
            checksum::sum(buf),
            checksum::pseudo_v6(src, dst, IPPROTO_ICMPV6, len as u32),
        ]));
        buf[2..4].copy_from_slice(&c.to_be_bytes());
    }

    /// Parses a message whose checksum over the pseudo-header of `src` → `dst` verifies.
    pub fn parse(buf: &[u8], src: Ipv6Addr, dst: Ipv6Addr) -> Option<Repr> {
        if buf.len() < 24
            || !checksum::verifies(checksum::combine(&[
                checksum::sum(buf),
                checksum::pseudo_v6(src, dst, IPPROTO_ICMPV6, buf.len() as u32),
            ]))
        {
            return None;
        }
        let target = Ipv6Addr::from(<[u8; 16]>::try_from(&buf[8..24]).ok()?);
        let opt = |want: u8| {
            let o = buf.get(24..32)?;
            (o[0] == want && o[1] == 1)
                .then(|| <[u8; 6]>::try_from(&o[2..8]).ok())
                .flatten()
        };
        match buf[0] {
            NS => Some(Repr::Solicit {
                target,
                source_mac: opt(ND_OPT_SOURCE_LLADDR),
            }),
            NA => Some(Repr::Advert {
                router: buf[4] & 0x80 != 0,
                solicited: buf[4] & 0x40 != 0,
                override_: buf[4] & 0x20 != 0,
                target,
                target_mac: opt(ND_OPT_TARGET_LLADDR),
            }),
            _ => None,
        }
    }
}

impl Repr {
    /// The message in a whole frame: Ethernet `eth_src` → `eth_dst` (with `vlans`), IPv6
    /// `src` → `dst` with hop limit 255 (RFC 4861 §7.1 requires it).
    pub fn frame(
        &self,
        eth_dst: [u8; 6],
        eth_src: [u8; 6],
        vlans: &[u16],
        src: Ipv6Addr,
        dst: Ipv6Addr,
    ) -> Vec<u8> {
        let eth = ethernet::Repr {
            dst: eth_dst,
            src: eth_src,
            vlans: vlans.to_vec(),
            ethertype: ETH_P_IPV6,
        };
        let l3 = eth.buffer_len();
        let mut f = vec![0u8; l3 + ipv6::HEADER_LEN + self.buffer_len()];
        eth.emit(&mut f);
        ipv6::Repr {
            src,
            dst,
            next_header: IPPROTO_ICMPV6,
            hop_limit: 255,
            payload_len: self.buffer_len(),
        }
        .emit(&mut f[l3..]);
        self.emit(&mut f[l3 + ipv6::HEADER_LEN..], src, dst);
        f
    }
}

/// ff02::1, all nodes.
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

/// The solicited-node multicast group of `addr` (RFC 4291 §2.7.1): ff02::1:ffXX:XXXX.
pub fn solicited_node(addr: Ipv6Addr) -> Ipv6Addr {
    let o = addr.octets();
    Ipv6Addr::from([
        0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, o[13], o[14], o[15],
    ])
}

/// The Ethernet multicast address of an IPv6 multicast group (RFC 2464 §7): 33:33 and its last
/// four bytes.
pub fn multicast_mac(group: Ipv6Addr) -> [u8; 6] {
    let o = group.octets();
    [0x33, 0x33, o[12], o[13], o[14], o[15]]
}

/// An unsolicited neighbour advertisement (Override set, Router as `router`, to all nodes)
/// announcing `target` at `mac`, from `target` itself: what a v3 IPv6 master sends from the
/// VMAC on taking over (RFC 5798 §6.4.1), as keepalived 2.2.7 sends it (source the VIP, seen in
/// a lab capture).
pub fn unsolicited_na(mac: [u8; 6], target: Ipv6Addr, router: bool) -> Vec<u8> {
    Repr::Advert {
        router,
        solicited: false,
        override_: true,
        target,
        target_mac: Some(mac),
    }
    .frame(multicast_mac(ALL_NODES), mac, &[], target, ALL_NODES)
}

/// What the XDP program's neighbour discovery responder does with a frame: the userspace twin
/// of `vrrp-ebpf/src/nd.rs`, which the differential test holds it to. The liveness gate and
/// conflict reports are left out (neither changes a verdict of an open gate).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Responder {
    /// Not a solicitation for an active VIP: the kernel gets it.
    Pass,
    /// A solicitation for an active VIP that is not valid (RFC 4861 §7.1.1): dropped.
    Drop,
    /// The frame it becomes, sent back.
    Reply(Vec<u8>),
}

/// The longest solicitation the responder answers (see `NS_MAX` in the kernel program).
const NS_MAX: usize = 64;

/// Classifies `frame` as the responder does; `active` gives, for a VIP of a router we are
/// master of, its VMAC and whether advertisements carry the Router flag.
pub fn respond(frame: &[u8], active: impl Fn(Ipv6Addr) -> Option<([u8; 6], bool)>) -> Responder {
    let Some((eth, l3)) = ethernet::Repr::parse(frame) else {
        return Responder::Pass;
    };
    let icmp = l3 + ipv6::HEADER_LEN;
    let (Some(ip), Some(fixed)) = (
        frame.get(l3..).and_then(ipv6::Repr::read),
        frame.get(icmp..icmp + 24),
    ) else {
        return Responder::Pass;
    };
    if eth.ethertype != ETH_P_IPV6 || ip.next_header != IPPROTO_ICMPV6 || fixed[0] != NS {
        return Responder::Pass;
    }
    let target = Ipv6Addr::from(<[u8; 16]>::try_from(&fixed[8..24]).unwrap_or_default());
    let Some((vmac, router)) = active(target) else {
        return Responder::Pass;
    };
    let len = ip.payload_len;
    let Some(msg) = frame.get(icmp..icmp + len) else {
        return Responder::Drop;
    };
    if ip.hop_limit != 255
        || !(24..=NS_MAX).contains(&len)
        || len % 8 != 0
        || fixed[1] != 0
        || !checksum::verifies(checksum::combine(&[
            checksum::sum(msg),
            checksum::pseudo_v6(ip.src, ip.dst, IPPROTO_ICMPV6, len as u32),
        ]))
    {
        return Responder::Drop;
    }
    let mut o = 24;
    let mut source_lladdr = false;
    while o < len {
        let l = usize::from(msg[o + 1]) * 8;
        if l == 0 {
            return Responder::Drop;
        }
        source_lladdr |= msg[o] == ND_OPT_SOURCE_LLADDR;
        o += l;
    }
    if o != len {
        return Responder::Drop;
    }
    let unspecified = ip.src.is_unspecified();
    if unspecified && (source_lladdr || ip.dst != solicited_node(target)) {
        return Responder::Drop;
    }
    let (eth_dst, dst) = if unspecified {
        (multicast_mac(ALL_NODES), ALL_NODES)
    } else {
        (eth.src, ip.src)
    };
    let na = Repr::Advert {
        router,
        solicited: !unspecified,
        override_: true,
        target,
        target_mac: Some(vmac),
    };
    // The Ethernet header as it was (VLAN tags included), its addresses swapped for ours.
    let mut out = frame[..l3].to_vec();
    out[..6].copy_from_slice(&eth_dst);
    out[6..12].copy_from_slice(&vmac);
    out.resize(l3 + ipv6::HEADER_LEN + na.buffer_len(), 0);
    ipv6::Repr {
        src: target,
        dst,
        next_header: IPPROTO_ICMPV6,
        hop_limit: 255,
        payload_len: na.buffer_len(),
    }
    .emit(&mut out[l3..]);
    na.emit(&mut out[icmp..], target, dst);
    Responder::Reply(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_solicit_and_advert() {
        let src: Ipv6Addr = "fe80::1".parse().unwrap();
        let dst: Ipv6Addr = "ff02::1".parse().unwrap();
        for r in [
            Repr::Solicit {
                target: "2001:db8::3".parse().unwrap(),
                source_mac: Some([2, 0, 0, 0, 0, 1]),
            },
            Repr::Solicit {
                target: "2001:db8::3".parse().unwrap(),
                source_mac: None,
            },
            Repr::Advert {
                router: true,
                solicited: false,
                override_: true,
                target: "2001:db8::3".parse().unwrap(),
                target_mac: Some([0, 0, 0x5e, 0, 2, 50]),
            },
        ] {
            let mut buf = vec![0xa5u8; r.buffer_len()];
            r.emit(&mut buf, src, dst);
            assert_eq!(Repr::parse(&buf, src, dst), Some(r));
            buf[10] ^= 1;
            assert_eq!(
                Repr::parse(&buf, src, dst),
                None,
                "a bad checksum must not parse"
            );
        }
    }
}
