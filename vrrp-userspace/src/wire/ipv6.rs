//! IPv6 fixed headers (RFC 8200 §3).
//!
//! ```text
//! |Version| Traffic Class |           Flow Label                  |
//! |         Payload Length        |  Next Header  |   Hop Limit   |
//! |                         Source Address (16)                   |
//! |                      Destination Address (16)                 |
//! ```

use std::net::Ipv6Addr;

/// Length of the fixed header.
pub const HEADER_LEN: usize = 40;

/// An IPv6 fixed header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Repr {
    /// Source address.
    pub src: Ipv6Addr,
    /// Destination address.
    pub dst: Ipv6Addr,
    /// Next header.
    pub next_header: u8,
    /// Hop limit.
    pub hop_limit: u8,
    /// Payload length.
    pub payload_len: usize,
}

impl Repr {
    /// Emits the header (traffic class CS6, as VRRP control traffic, flow label 0).
    pub fn emit(&self, buf: &mut [u8]) {
        buf[0..4].copy_from_slice(&[0x6c, 0, 0, 0]);
        buf[4..6].copy_from_slice(&(self.payload_len as u16).to_be_bytes());
        buf[6] = self.next_header;
        buf[7] = self.hop_limit;
        buf[8..24].copy_from_slice(&self.src.octets());
        buf[24..40].copy_from_slice(&self.dst.octets());
    }

    /// Reads a header whose 40 bytes are present.
    pub fn read(buf: &[u8]) -> Option<Repr> {
        let h = buf.get(..HEADER_LEN)?;
        Some(Repr {
            src: Ipv6Addr::from(<[u8; 16]>::try_from(&h[8..24]).ok()?),
            dst: Ipv6Addr::from(<[u8; 16]>::try_from(&h[24..40]).ok()?),
            next_header: h[6],
            hop_limit: h[7],
            payload_len: usize::from(u16::from_be_bytes([h[4], h[5]])),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let r = Repr {
            src: "fe80::1".parse().unwrap(),
            dst: "ff02::12".parse().unwrap(),
            next_header: 112,
            hop_limit: 255,
            payload_len: 24,
        };
        let mut buf = [0xa5u8; 40];
        r.emit(&mut buf);
        assert_eq!(Repr::read(&buf), Some(r));
        assert_eq!(buf[0] >> 4, 6);
    }
}
