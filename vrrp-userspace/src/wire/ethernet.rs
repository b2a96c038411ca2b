//! Ethernet II frames, with up to two VLAN tags (802.1ad outer, 802.1Q inner).
//!
//! ```text
//! | destination (6) | source (6) | [0x88a8|0x8100, TCI (2)]{0,2} | EtherType (2) | payload |
//! ```

use vrrp_common::proto::{ETH_P_8021AD, ETH_P_8021Q};

/// Length of the untagged header.
pub const HEADER_LEN: usize = 14;

/// An Ethernet header as it is on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Repr {
    /// Destination MAC.
    pub dst: [u8; 6],
    /// Source MAC.
    pub src: [u8; 6],
    /// VLAN ids, outer first (at most two).
    pub vlans: Vec<u16>,
    /// The EtherType of the payload.
    pub ethertype: u16,
}

impl Repr {
    /// Parses the header; `None` when the frame ends inside it. Returns the header and the
    /// offset of the payload. A third tag is not parsed: its EtherType (a VLAN TPID) is
    /// returned as the payload's, as the XDP program sees it.
    pub fn parse(frame: &[u8]) -> Option<(Repr, usize)> {
        if frame.len() < HEADER_LEN {
            return None;
        }
        let dst = frame[0..6].try_into().ok()?;
        let src = frame[6..12].try_into().ok()?;
        let mut off = 12;
        let mut ethertype = u16::from_be_bytes([frame[12], frame[13]]);
        let mut vlans = Vec::new();
        while vlans.len() < 2 && (ethertype == ETH_P_8021Q || ethertype == ETH_P_8021AD) {
            let tci = frame.get(off + 2..off + 4)?;
            vlans.push(u16::from_be_bytes([tci[0], tci[1]]) & 0x0fff);
            off += 4;
            let t = frame.get(off..off + 2)?;
            ethertype = u16::from_be_bytes([t[0], t[1]]);
        }
        Some((
            Repr {
                dst,
                src,
                vlans,
                ethertype,
            },
            off + 2,
        ))
    }

    /// Bytes the header takes.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + 4 * self.vlans.len()
    }

    /// Writes the header into `buf[..self.buffer_len()]`.
    pub fn emit(&self, buf: &mut [u8]) {
        buf[0..6].copy_from_slice(&self.dst);
        buf[6..12].copy_from_slice(&self.src);
        let mut off = 12;
        for (i, vlan) in self.vlans.iter().enumerate() {
            let tpid = if i == 0 && self.vlans.len() == 2 {
                ETH_P_8021AD
            } else {
                ETH_P_8021Q
            };
            buf[off..off + 2].copy_from_slice(&tpid.to_be_bytes());
            buf[off + 2..off + 4].copy_from_slice(&(vlan & 0x0fff).to_be_bytes());
            off += 4;
        }
        buf[off..off + 2].copy_from_slice(&self.ethertype.to_be_bytes());
    }
}

/// Pads a frame to Ethernet's 60-byte minimum (without FCS), as a NIC does.
pub fn pad(frame: &mut Vec<u8>) {
    if frame.len() < 60 {
        frame.resize(60, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_untagged_and_double_tagged() {
        for vlans in [vec![], vec![7], vec![100, 200]] {
            let r = Repr {
                dst: [1, 0, 0x5e, 0, 0, 0x12],
                src: [0, 0, 0x5e, 0, 1, 50],
                vlans,
                ethertype: 0x0800,
            };
            let mut buf = vec![0xa5; r.buffer_len()];
            r.emit(&mut buf);
            assert_eq!(Repr::parse(&buf), Some((r.clone(), r.buffer_len())));
        }
    }

    #[test]
    fn short_frame_is_none() {
        assert_eq!(Repr::parse(&[0; 13]), None);
    }
}
