//! IPv4 headers (RFC 791), options allowed; lengths come from the header, never the frame.
//!
//! ```text
//! |Version|  IHL  |Type of Service|          Total Length         |
//! |         Identification        |Flags|      Fragment Offset    |
//! |  Time to Live |    Protocol   |         Header Checksum       |
//! |                       Source Address                          |
//! |                    Destination Address                        |
//! |                    Options                    |    Padding    |
//! ```

use std::net::Ipv4Addr;

use super::checksum;

/// Length of a header without options.
pub const HEADER_LEN: usize = 20;

/// An IPv4 header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Repr {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// Protocol of the payload.
    pub protocol: u8,
    /// Time to live.
    pub ttl: u8,
    /// Type of service / DSCP+ECN byte.
    pub tos: u8,
    /// Header length in bytes (20 plus options).
    pub header_len: usize,
    /// Payload length: total length minus the header.
    pub payload_len: usize,
    /// Whether this is a fragment (MF set or a non-zero offset).
    pub fragment: bool,
}

impl Repr {
    /// Emits a 20-byte header with a correct checksum, DF clear (as keepalived sends adverts).
    pub fn emit(&self, buf: &mut [u8]) {
        let total = (HEADER_LEN + self.payload_len) as u16;
        buf[0] = 0x45;
        buf[1] = self.tos;
        buf[2..4].copy_from_slice(&total.to_be_bytes());
        buf[4..8].copy_from_slice(&[0, 0, 0, 0]);
        buf[8] = self.ttl;
        buf[9] = self.protocol;
        buf[10..12].copy_from_slice(&[0, 0]);
        buf[12..16].copy_from_slice(&self.src.octets());
        buf[16..20].copy_from_slice(&self.dst.octets());
        let c = checksum::finish(checksum::sum(&buf[..HEADER_LEN]));
        buf[10..12].copy_from_slice(&c.to_be_bytes());
    }

    /// Reads the fields of a header whose first 20 bytes are present (no validation beyond
    /// that: the caller decides what is malformed).
    pub fn read(buf: &[u8]) -> Option<Repr> {
        let h = buf.get(..HEADER_LEN)?;
        let header_len = usize::from(h[0] & 0x0f) * 4;
        let total = usize::from(u16::from_be_bytes([h[2], h[3]]));
        Some(Repr {
            src: Ipv4Addr::new(h[12], h[13], h[14], h[15]),
            dst: Ipv4Addr::new(h[16], h[17], h[18], h[19]),
            protocol: h[9],
            ttl: h[8],
            tos: h[1],
            header_len,
            payload_len: total.saturating_sub(header_len),
            fragment: u16::from_be_bytes([h[6], h[7]]) & 0x3fff != 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emit_then_read_with_a_valid_checksum() {
        let r = Repr {
            src: Ipv4Addr::new(192, 0, 2, 4),
            dst: Ipv4Addr::new(224, 0, 0, 18),
            protocol: 112,
            ttl: 255,
            tos: 0xc0,
            header_len: 20,
            payload_len: 20,
            fragment: false,
        };
        let mut buf = [0xa5u8; 20];
        r.emit(&mut buf);
        assert_eq!(Repr::read(&buf), Some(r));
        assert!(checksum::verifies(checksum::sum(&buf)));
    }
}
