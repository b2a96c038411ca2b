//! ARP for Ethernet and IPv4 (RFC 826): requests, replies, gratuitous ARP.
//!
//! ```text
//! | HTYPE=1 (2) | PTYPE=0x0800 (2) | HLEN=6 | PLEN=4 | OPER (2) |
//! | SHA (6) | SPA (4) | THA (6) | TPA (4) |
//! ```

use std::net::Ipv4Addr;

use vrrp_common::proto::ETH_P_ARP;

use super::ethernet;

/// Length of an Ethernet/IPv4 ARP packet.
pub const PACKET_LEN: usize = 28;

/// ARP operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// 1.
    Request,
    /// 2.
    Reply,
    /// Anything else.
    Unknown(u16),
}

impl From<u16> for Operation {
    fn from(n: u16) -> Self {
        match n {
            1 => Operation::Request,
            2 => Operation::Reply,
            n => Operation::Unknown(n),
        }
    }
}

impl From<Operation> for u16 {
    fn from(o: Operation) -> u16 {
        match o {
            Operation::Request => 1,
            Operation::Reply => 2,
            Operation::Unknown(n) => n,
        }
    }
}

/// An Ethernet/IPv4 ARP packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr {
    /// Operation.
    pub op: Operation,
    /// Sender hardware address.
    pub sha: [u8; 6],
    /// Sender protocol address.
    pub spa: Ipv4Addr,
    /// Target hardware address.
    pub tha: [u8; 6],
    /// Target protocol address.
    pub tpa: Ipv4Addr,
}

impl Repr {
    /// Parses an Ethernet/IPv4 ARP packet; `None` if it is short or another kind.
    pub fn parse(buf: &[u8]) -> Option<Repr> {
        let b = buf.get(..PACKET_LEN)?;
        if b[0..6] != [0, 1, 8, 0, 6, 4] {
            return None;
        }
        Some(Repr {
            op: u16::from_be_bytes([b[6], b[7]]).into(),
            sha: b[8..14].try_into().ok()?,
            spa: Ipv4Addr::new(b[14], b[15], b[16], b[17]),
            tha: b[18..24].try_into().ok()?,
            tpa: Ipv4Addr::new(b[24], b[25], b[26], b[27]),
        })
    }

    /// Writes the packet into `buf[..PACKET_LEN]`.
    pub fn emit(&self, buf: &mut [u8]) {
        buf[0..6].copy_from_slice(&[0, 1, 8, 0, 6, 4]);
        buf[6..8].copy_from_slice(&u16::from(self.op).to_be_bytes());
        buf[8..14].copy_from_slice(&self.sha);
        buf[14..18].copy_from_slice(&self.spa.octets());
        buf[18..24].copy_from_slice(&self.tha);
        buf[24..28].copy_from_slice(&self.tpa.octets());
    }

    /// A whole frame carrying this packet from `src` to `dst`, padded to 60 bytes.
    pub fn frame(&self, dst: [u8; 6], src: [u8; 6]) -> Vec<u8> {
        let eth = ethernet::Repr {
            dst,
            src,
            vlans: Vec::new(),
            ethertype: ETH_P_ARP,
        };
        let mut f = vec![0u8; eth.buffer_len() + PACKET_LEN];
        eth.emit(&mut f);
        self.emit(&mut f[eth.buffer_len()..]);
        ethernet::pad(&mut f);
        f
    }
}

/// A gratuitous ARP announcing `vip` at `mac`: a broadcast request with sender and target
/// address both the VIP (RFC 5227 §3 announcement; what keepalived sends).
pub fn garp(mac: [u8; 6], vip: Ipv4Addr) -> Vec<u8> {
    Repr {
        op: Operation::Request,
        sha: mac,
        spa: vip,
        tha: [0; 6],
        tpa: vip,
    }
    .frame([0xff; 6], mac)
}

/// The reply to `request` saying that its target address is at `mac`: what the XDP program
/// writes in place of a request for an active VIP.
pub fn reply_to(request: &Repr, mac: [u8; 6]) -> Repr {
    Repr {
        op: Operation::Reply,
        sha: mac,
        spa: request.tpa,
        tha: request.sha,
        tpa: request.spa,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_each_operation() {
        for op in [Operation::Request, Operation::Reply, Operation::Unknown(9)] {
            let r = Repr {
                op,
                sha: [2, 0, 0, 0, 0, 10],
                spa: Ipv4Addr::new(192, 0, 2, 10),
                tha: [0; 6],
                tpa: Ipv4Addr::new(192, 0, 2, 3),
            };
            let mut buf = [0xa5u8; PACKET_LEN];
            r.emit(&mut buf);
            assert_eq!(Repr::parse(&buf), Some(r));
        }
    }

    #[test]
    fn garp_announces_the_vip_from_the_vmac() {
        let vmac = [0, 0, 0x5e, 0, 1, 50];
        let f = garp(vmac, Ipv4Addr::new(192, 0, 2, 3));
        assert_eq!(f.len(), 60);
        assert_eq!(&f[0..6], &[0xff; 6]);
        assert_eq!(&f[6..12], &vmac);
        let r = Repr::parse(&f[14..]).unwrap();
        assert_eq!(
            (r.op, r.sha, r.spa, r.tpa),
            (Operation::Request, vmac, r.tpa, r.spa)
        );
    }
}
